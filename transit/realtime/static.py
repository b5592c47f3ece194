"""The imported static feed as GTFS-Realtime ids are matched against it (plain Python, no ORM).

`StaticIndex.from_feed(GtfsFeed)` keeps what matching and building need: each trip's route and
stop times, each route's vehicle type, stop positions, agency ids, the time zone and language.
"""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from transit.gtfs.tables import GtfsFeed, format_time

# Seats plus standing room by vehicle type: the capacity a GTFS-RT occupancy status is a share of.
CAPACITY = {"bus": 80, "tram": 180, "rail": 600, "subway": 800, "ferry": 300, "cable": 60, "other": 60}


@dataclass(frozen=True, slots=True)
class TripInfo:
    trip_id: str
    route_id: str
    service_id: str
    direction_id: int | None
    template: str  # frequencies.txt template trip_id, "" for a scheduled trip
    seqs: tuple[int, ...]  # stop_sequence, increasing
    stop_ids: tuple[str, ...]
    arr: tuple[int, ...]  # seconds of the service day
    dep: tuple[int, ...]

    def index_of(self, stop_sequence: int) -> int | None:
        i = bisect.bisect_left(self.seqs, stop_sequence)
        return i if i < len(self.seqs) and self.seqs[i] == stop_sequence else None

    def index_of_stop(self, stop_id: str, after: int = -1) -> int | None:
        for i in range(after + 1, len(self.stop_ids)):
            if self.stop_ids[i] == stop_id:
                return i
        return None

    @property
    def start_time(self) -> str:
        """GTFS-RT start_time: the first departure, "HH:MM:SS" (may pass 24 h)."""
        return format_time(self.dep[0])


@dataclass
class StaticIndex:
    name: str
    timezone: str
    lang: str
    trips: dict[str, TripInfo] = field(default_factory=dict)
    route_types: dict[str, str] = field(default_factory=dict)  # route_id -> vehicle type
    route_agency: dict[str, str] = field(default_factory=dict)
    stops: dict[str, tuple[float, float]] = field(default_factory=dict)
    agency_ids: set[str] = field(default_factory=set)
    templates: dict[str, str] = field(default_factory=dict)  # frequencies.txt template trip_id -> route_id
    _feed: GtfsFeed | None = None
    _services: dict[dt.date, set[str]] = field(default_factory=dict)
    _box: tuple[float, float, float, float] | None = None

    @classmethod
    def from_feed(cls, name: str, feed: GtfsFeed) -> StaticIndex:
        lang = next((a.lang for a in feed.agencies if a.lang), "")
        index = cls(name=name, timezone=feed.timezone or "UTC", lang=lang, _feed=feed)
        for a in feed.agencies:
            if a.agency_id:
                index.agency_ids.add(a.agency_id)
        for r in feed.routes:
            index.route_types[r.route_id] = r.vehicle_type
            index.route_agency[r.route_id] = r.agency_id
        for s in feed.stops:
            if s.lat is not None and s.lon is not None:
                index.stops[s.stop_id] = (s.lat, s.lon)
        for t in feed.trips:
            if t.frequency_template:
                index.templates[t.frequency_template] = t.route_id
            st = t.stop_times
            index.trips[t.trip_id] = TripInfo(
                t.trip_id, t.route_id, t.service_id, t.direction_id, t.frequency_template,
                tuple(s.stop_sequence for s in st), tuple(s.stop_id for s in st),
                tuple(s.arrival for s in st), tuple(s.departure for s in st),
            )
        return index

    def near(self, lat: float, lon: float, margin_deg: float = 0.5) -> bool:
        """Whether (lat, lon) lies within the stops' bounding box widened by `margin_deg` (~50 km)."""
        box = self._box
        if box is None:
            points = list(self.stops.values())
            if not points:
                return True
            box = self._box = (min(p[0] for p in points), min(p[1] for p in points),
                               max(p[0] for p in points), max(p[1] for p in points))
        s, w, n, e = box
        return s - margin_deg <= lat <= n + margin_deg and w - margin_deg <= lon <= e + margin_deg

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def services_on(self, date: dt.date) -> set[str]:
        services = self._services.get(date)
        if services is None:
            services = self._services[date] = self._feed.services_on(date) if self._feed else set()
        return services

    def trip(self, trip_id: str | None, start_time: str | None = None) -> TripInfo | None:
        """The trip a GTFS-RT trip descriptor names: its trip_id, or for a frequency-based trip the
        instance expanded at import from the template trip_id and start_time."""
        if not trip_id:
            return None
        info = self.trips.get(trip_id)
        if info is not None:
            return info
        if start_time:
            return self.trips.get(f"{trip_id}@{start_time.replace(':', '')}")
        return None

    def vehicle_type(self, route_id: str | None) -> str:
        return self.route_types.get(route_id or "", "bus")


def service_day_origin(date: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """GTFS times count from "noon minus 12 h" of the service day (local midnight except on DST days)."""
    noon = dt.datetime.combine(date, dt.time(12), tzinfo=tz).astimezone(dt.timezone.utc)
    return noon - dt.timedelta(hours=12)


def service_date_of(index: StaticIndex, trip: TripInfo, at: dt.datetime, start_date: str = "") -> dt.date:
    """The service day a run of `trip` seen at `at` belongs to: the descriptor's start_date when
    given, else the day (of the local day and the one before) whose run is nearest `at`."""
    if start_date:
        try:
            return dt.date(int(start_date[:4]), int(start_date[4:6]), int(start_date[6:8]))
        except ValueError:
            pass
    tz = index.tz
    local = at.astimezone(tz).date()
    best, best_gap = local, None
    for d in (local - dt.timedelta(days=1), local):
        origin = service_day_origin(d, tz)
        start = origin + dt.timedelta(seconds=trip.dep[0])
        end = origin + dt.timedelta(seconds=trip.arr[-1])
        gap = 0 if start <= at <= end else min(abs((at - start).total_seconds()), abs((at - end).total_seconds()))
        if best_gap is None or gap < best_gap or (gap == best_gap and trip.service_id in index.services_on(d)):
            best, best_gap = d, gap
    return best
