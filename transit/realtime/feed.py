"""GTFS-Realtime out: the twin's live state as VehiclePositions, TripUpdates and Alerts (2.0, FULL_DATASET).

Built from the live table (VehicleState rows heard of within STREAMCITY_VEHICLE_STALE_SECONDS, as
/api/vehicles/) and the open alerts. The header's timestamp is the twin's clock (the newest
report), so a replayed or simulated day publishes consistent times.

- VehiclePositions: trip descriptor (a frequency-based trip as its template trip_id + start_time),
  vehicle descriptor, position, stop progress (IN_TRANSIT_TO the next stop; STOPPED_AT the last
  one at the end of the trip), timestamp, occupancy status from the vehicle's load.
- TripUpdates: for each vehicle on a scheduled trip with a known deviation, the predicted arrival
  and departure at each remaining stop: scheduled time + the current deviation (the stop popups'
  prediction), never before the feed's time, never decreasing along the trip.
- Alerts: service alerts (from an agency's feed) as they came; delays and breakdowns as
  SIGNIFICANT_DELAYS on their trip and route. Informed entities are only ids of the static feed;
  an alert left without any is not published. Internal kinds (surges, bunching, silent vehicles,
  traffic incidents without a route) are not passenger information and stay out.

`FeedCache` builds each (feed, kind) at most once per frame interval, whatever the number of clients.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Max
from django.utils import timezone
from google.transit import gtfs_realtime_pb2 as rt

from transit.models import Agency, Feed, Route, StopTime, Trip, VehicleState

from .mapper import OCCUPANCY_SHARE
from .static import StaticIndex, TripInfo, service_day_origin

KINDS = ("vehicle-positions", "trip-updates", "alerts")
VP = rt.VehiclePosition

# load (passengers / capacity) -> occupancy status: each band holds the share mapper.OCCUPANCY_SHARE
# gives that status, so a feed read and published again keeps its statuses.
_BANDS = ((0.0, VP.EMPTY), (0.5, VP.MANY_SEATS_AVAILABLE), (0.7, VP.FEW_SEATS_AVAILABLE),
          (0.9, VP.STANDING_ROOM_ONLY), (1.0, VP.CRUSHED_STANDING_ROOM_ONLY))
assert all(OCCUPANCY_SHARE[s] <= limit or limit == 0.0 for limit, s in _BANDS)


def occupancy_status(passengers: int, capacity: int) -> int | None:
    if capacity <= 0:
        return None
    load = passengers / capacity
    if load <= 0:
        return VP.EMPTY
    for limit, status in _BANDS[1:]:
        if load < limit:
            return status
    return VP.FULL


@dataclass
class Network:
    """What building needs of the static feeds: each trip's stops and times (loaded on demand and
    kept until a feed changes), the routes, time zones and languages."""

    version: str
    feeds: dict[str, StaticIndex]  # by name: tz, lang, routes, stops (trips filled on demand)
    trip_feed: dict[str, str]  # trip_id -> feed name (loaded on demand)
    lock: threading.Lock

    def trips(self, trip_ids: set[str]) -> dict[str, tuple[str, TripInfo]]:
        """(feed name, TripInfo) of each of `trip_ids` the static feeds know."""
        out: dict[str, tuple[str, TripInfo]] = {}
        missing = set()
        for t in trip_ids:
            name = self.trip_feed.get(t)
            if name is None:
                missing.add(t)
            elif name:
                out[t] = (name, self.feeds[name].trips[t])
        if missing:
            with self.lock:
                self._load(missing)
            for t in missing:
                name = self.trip_feed.get(t)
                if name:
                    out[t] = (name, self.feeds[name].trips[t])
        return out

    def _load(self, trip_ids: set[str]) -> None:
        ids = list(trip_ids)
        for chunk in (ids[i:i + 2000] for i in range(0, len(ids), 2000)):
            rows = Trip.objects.filter(trip_id__in=chunk).values_list(
                "pk", "trip_id", "feed__name", "route__route_id", "service_id", "direction_id", "frequency_template")
            trips = {r[0]: r[1:] for r in rows}
            times: dict[int, list] = {pk: [] for pk in trips}
            for trip, seq, stop, arr, dep in StopTime.objects.filter(trip__in=list(trips)).order_by(
                    "trip", "stop_sequence").values_list("trip", "stop_sequence", "stop__stop_id", "arrival_time",
                                                         "departure_time").iterator(chunk_size=20000):
                times[trip].append((seq, stop, arr, dep))
            for pk, (trip_id, feed, route, service, direction, template) in trips.items():
                st = times[pk]
                if trip_id in self.trip_feed and self.trip_feed[trip_id]:
                    continue  # the same trip_id in two feeds: the first one loaded answers
                self.feeds[feed].trips[trip_id] = TripInfo(
                    trip_id, route, service, direction, template, tuple(s[0] for s in st), tuple(s[1] for s in st),
                    tuple(s[2] for s in st), tuple(s[3] for s in st))
                self.trip_feed[trip_id] = feed
        for t in trip_ids:
            self.trip_feed.setdefault(t, "")  # unknown: not looked up again until a feed changes


_network: Network | None = None
_network_lock = threading.Lock()


def _network_version() -> str:
    return ";".join(f"{n}:{f}:{a.isoformat()}" for n, f, a in Feed.objects.values_list("name", "fingerprint",
                                                                                        "imported_at"))


def network() -> Network:
    global _network
    version = _network_version()
    with _network_lock:
        if _network is None or _network.version != version:
            feeds = {}
            for f in Feed.objects.all():
                lang = next((a for a in Agency.objects.filter(feed=f).values_list("lang", flat=True) if a), "")
                index = StaticIndex(name=f.name, timezone=f.timezone or "UTC", lang=lang)
                index.route_types = {r: t for r, t in Route.objects.filter(feed=f).values_list("route_id",
                                                                                              "vehicle_type")}
                index.stops = {s: (lat, lon) for s, lat, lon in f.stops.values_list("stop_id", "latitude",
                                                                                    "longitude")}
                feeds[f.name] = index
            _network = Network(version, feeds, {}, threading.Lock())
        return _network


def _vehicles(feed: str | None):
    since = timezone.now() - dt.timedelta(seconds=settings.STREAMCITY_VEHICLE_STALE_SECONDS)
    rows = VehicleState.objects.filter(updated_at__gte=since)
    if feed:
        routes = list(Route.objects.filter(feed__name=feed).values_list("route_id", flat=True))
        rows = rows.filter(route_id__in=routes)
    return list(rows.values_list("vehicle_id", "route_id", "trip_id", "latitude", "longitude", "bearing", "speed",
                                 "passenger_count", "capacity", "stop_sequence", "next_stop_id", "delay_seconds",
                                 "timestamp"))


class _Days:
    """service_date_of for one build, its time-zone arithmetic done once per feed and day (it was
    half of a 9,000-vehicle build), the start_date strings too."""

    def __init__(self, net: Network):
        self.net = net
        self._origins: dict[tuple[str, dt.date], int] = {}
        self._local: dict[tuple[str, int], dt.date] = {}
        self._text: dict[dt.date, str] = {}

    def origin(self, feed: str, date: dt.date) -> int:
        key = (feed, date)
        o = self._origins.get(key)
        if o is None:
            o = self._origins[key] = int(service_day_origin(date, self.net.feeds[feed].tz).timestamp())
        return o

    def date_of(self, feed: str, trip: TripInfo, ts: dt.datetime) -> tuple[dt.date, int]:
        """(service date, its origin in POSIX seconds) of the run of `trip` seen at `ts`."""
        t = ts.timestamp()
        key = (feed, int(t // 900))  # a zone's offset changes on the quarter hour at most
        local = self._local.get(key)
        if local is None:
            local = self._local[key] = ts.astimezone(self.net.feeds[feed].tz).date()
        best = None
        for d in (local - dt.timedelta(days=1), local):
            o = self.origin(feed, d)
            start, end = o + trip.dep[0], o + trip.arr[-1]
            gap = 0 if start <= t <= end else min(abs(t - start), abs(t - end))
            if best is None or gap < best[0]:
                best = (gap, d, o)
        return best[1], best[2]

    def text(self, date: dt.date) -> str:
        s = self._text.get(date)
        if s is None:
            s = self._text[date] = date.strftime("%Y%m%d")
        return s


def _header(msg: rt.FeedMessage, now: int) -> None:
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = rt.FeedHeader.FULL_DATASET
    msg.header.timestamp = now


def _trip_descriptor(td: rt.TripDescriptor, trip: TripInfo, start_date: str) -> None:
    if trip.template:
        td.trip_id = trip.template
        td.start_time = trip.start_time
    else:
        td.trip_id = trip.trip_id
    td.start_date = start_date
    td.route_id = trip.route_id
    if trip.direction_id is not None:
        td.direction_id = trip.direction_id
    td.schedule_relationship = rt.TripDescriptor.SCHEDULED


def _start_feed(feed: str | None):
    """The vehicles' rows, their trips, a message with its header (stamped with the newest report), the days."""
    net = network()
    rows = _vehicles(feed)
    trips = net.trips({r[2] for r in rows if r[2]})
    msg = rt.FeedMessage()
    _header(msg, max((int(r[12].timestamp()) for r in rows), default=int(time.time())))
    return rows, trips, msg, _Days(net)


def build_vehicle_positions(feed: str | None = None) -> rt.FeedMessage:
    rows, trips, msg, days = _start_feed(feed)
    for (vehicle_id, route_id, trip_id, lat, lon, bearing, speed, passengers, capacity, seq, next_stop, _,
         ts) in rows:
        e = msg.entity.add()
        e.id = vehicle_id
        v = e.vehicle
        found = trips.get(trip_id) if trip_id else None
        if found is not None:
            name, trip = found
            date, _ = days.date_of(name, trip, ts)
            _trip_descriptor(v.trip, trip, days.text(date))
            served = trip.index_of(seq) if seq is not None else None
            i = trip.index_of_stop(next_stop, -1 if served is None else served) if next_stop else None
            if i is not None:
                v.current_stop_sequence = trip.seqs[i]
                v.stop_id = trip.stop_ids[i]
                v.current_status = VP.IN_TRANSIT_TO
            elif seq is not None and trip.index_of(seq) is not None:
                v.current_stop_sequence = seq
                v.stop_id = trip.stop_ids[trip.index_of(seq)]
                v.current_status = VP.STOPPED_AT
        elif route_id:
            v.trip.route_id = route_id
        v.vehicle.id = vehicle_id
        v.position.latitude = lat
        v.position.longitude = lon
        v.position.bearing = bearing
        v.position.speed = speed
        v.timestamp = int(ts.timestamp())
        status = occupancy_status(passengers, capacity)
        if status is not None:
            v.occupancy_status = status
    return msg


def build_trip_updates(feed: str | None = None) -> rt.FeedMessage:
    rows, trips, msg, days = _start_feed(feed)
    for vehicle_id, _, trip_id, *_, seq, next_stop, delay, ts in rows:
        found = trips.get(trip_id) if trip_id else None
        if found is None or delay is None:
            continue
        name, trip = found
        served = trip.index_of(seq) if seq is not None else -1
        if served is None or served + 1 >= len(trip.seqs):
            continue  # not on this trip's stops, or at its last stop: nothing left to predict
        date, origin = days.date_of(name, trip, ts)
        e = msg.entity.add()
        e.id = vehicle_id
        tu = e.trip_update
        _trip_descriptor(tu.trip, trip, days.text(date))
        tu.vehicle.id = vehicle_id
        tu.timestamp = int(ts.timestamp())
        tu.delay = delay
        floor = msg.header.timestamp  # no prediction before the feed's own time
        add = tu.stop_time_update.add
        shift = origin + delay
        seqs, stop_ids, arrs, deps = trip.seqs, trip.stop_ids, trip.arr, trip.dep
        for i in range(served + 1, len(seqs)):
            arr = arrs[i] + shift
            if arr < floor:
                arr = floor
            dep = deps[i] + shift
            if dep < arr:
                dep = arr
            floor = dep
            u = add(stop_sequence=seqs[i], stop_id=stop_ids[i])
            u.arrival.time = arr
            u.departure.time = dep
    return msg


SERVICE_KINDS = ("service", "delay", "breakdown")


# Where the open alerts come from: the alerts app registers its selector here when it is ready
# (alerts.apps), so transit, a layer below alerts, never imports it. It is called with the kinds
# to publish and returns alert rows (kind, alert_key, payload, summary, route_id, trip_id,
# detected_at, last_event_at), most severe first.
alert_source = None


def build_alerts(feed: str | None = None) -> rt.FeedMessage:
    net = network()
    rows = list(alert_source(SERVICE_KINDS)) if alert_source is not None else []
    trips = net.trips({a.trip_id for a in rows if a.trip_id})
    feeds = [net.feeds[feed]] if feed and feed in net.feeds else list(net.feeds.values())
    msg = rt.FeedMessage()
    newest = VehicleState.objects.aggregate(t=Max("timestamp"))["t"]
    now = int(max([newest.timestamp()] if newest else [time.time()]))
    now = max([now] + [int(a.last_event_at.timestamp()) for a in rows])
    _header(msg, now)
    for a in rows:
        p = a.payload or {}
        if a.kind == "service":
            if feed and p.get("feed") != feed:
                continue
            index = net.feeds.get(p.get("feed", ""))
            if index is None:
                continue
            selectors = p.get("informed_entities") or []
            cause, effect = p.get("cause", "UNKNOWN_CAUSE"), p.get("effect", "UNKNOWN_EFFECT")
            header, description, url = p.get("header") or a.summary, p.get("description", ""), p.get("url", "")
            periods = [tuple(x) for x in p.get("active_periods") or []]
            lang = p.get("language") or index.lang
        else:
            found = trips.get(a.trip_id or "")
            index = net.feeds[found[0]] if found else next((f for f in feeds if a.route_id in f.route_types), None)
            if index is None or (feed and index.name != feed):
                continue
            selectors = [{"route_id": a.route_id, "trip_id": a.trip_id if found else None}]
            cause = "TECHNICAL_PROBLEM" if a.kind == "breakdown" else "UNKNOWN_CAUSE"
            effect = "SIGNIFICANT_DELAYS"
            header, description, url = a.summary, "", ""
            periods = [(int(a.detected_at.timestamp()), None)]
            lang = index.lang
        e = rt.FeedEntity(id=a.alert_key)
        alert = e.alert
        for s in selectors:
            _informed(alert, s, index, trips)
        if not alert.informed_entity:
            continue
        for start, end in periods:
            ap = alert.active_period.add()
            if start:
                ap.start = start
            if end:
                ap.end = end
        alert.cause = rt.Alert.Cause.Value(cause) if cause in rt.Alert.Cause.keys() else rt.Alert.UNKNOWN_CAUSE
        alert.effect = rt.Alert.Effect.Value(effect) if effect in rt.Alert.Effect.keys() else rt.Alert.UNKNOWN_EFFECT
        for field, text in (("header_text", header), ("description_text", description), ("url", url)):
            if text:
                t = getattr(alert, field).translation.add()
                t.text = text
                if lang:
                    t.language = lang
        msg.entity.append(e)
    return msg


def _informed(alert: rt.Alert, s: dict, index: StaticIndex, trips: dict) -> None:
    """One informed entity of the ids in `s` the static feed knows (none when it knows none)."""
    sel = rt.EntitySelector()
    if s.get("agency_id"):
        sel.agency_id = s["agency_id"]
    if s.get("route_id") in index.route_types:
        sel.route_id = s["route_id"]
    if s.get("route_type") is not None:
        sel.route_type = s["route_type"]
    if s.get("stop_id") in index.stops:
        sel.stop_id = s["stop_id"]
    trip = s.get("trip_id")
    found = trips.get(trip) if trip else None
    if found is not None and found[0] == index.name:
        info = found[1]
        sel.trip.trip_id = info.template or info.trip_id
        if info.template:
            sel.trip.start_time = info.start_time
    if s.get("direction_id") is not None and sel.route_id:
        sel.direction_id = s["direction_id"]
    if sel.ListFields():
        alert.informed_entity.append(sel)


BUILDERS = {"vehicle-positions": build_vehicle_positions, "trip-updates": build_trip_updates,
            "alerts": build_alerts}


@dataclass
class Built:
    body: bytes
    gzipped: bytes
    etag: str
    modified: float  # wall time its content last changed (Last-Modified)
    built_at: float  # monotonic
    message: rt.FeedMessage
    json: str | None = None


class UnknownFeed(LookupError):
    """No imported feed of that name."""


class FeedCache:
    """The latest build of each (feed, kind), rebuilt at most once per `interval` seconds (and, for a
    fleet so large that a build takes longer, at most a third of the time building).

    `get()` builds if due (one caller builds, callers meanwhile get the previous build; only the
    first build is waited for). The async view reads `current()` without blocking and has a stale
    build rebuilt in a thread while it answers with it (stale-while-revalidate): no request queues
    behind a build."""

    def __init__(self, interval: float | None = None, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.builds = 0
        self._built: dict[tuple[str | None, str], Built] = {}
        self._locks: dict[tuple[str | None, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._build_seconds: dict[tuple[str | None, str], float] = {}

    def _fresh(self, key, built: Built | None) -> bool:
        interval = settings.STREAMCITY_FRAME_INTERVAL if self.interval is None else self.interval
        interval = max(interval, 3 * self._build_seconds.get(key, 0.0))
        return built is not None and self.clock() - built.built_at < interval

    def forget(self, kind: str, feed: str | None = None) -> None:
        self._built.pop((feed, kind), None)

    def current(self, kind: str, feed: str | None = None) -> tuple[Built | None, bool]:
        """(the latest build or None, whether it is due for a rebuild that nobody is doing)."""
        key = (feed, kind)
        built = self._built.get(key)
        lock = self._locks.get(key)
        return built, not self._fresh(key, built) and not (lock is not None and lock.locked())

    def get(self, kind: str, feed: str | None = None) -> Built:
        key = (feed, kind)
        built = self._built.get(key)
        if self._fresh(key, built):
            return built
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        if not lock.acquire(blocking=built is None):
            return built  # another caller is building: the previous build meanwhile
        try:
            built = self._built.get(key)
            if self._fresh(key, built):
                return built  # built while this caller waited for the first build
            started = time.perf_counter()
            if feed is not None and feed not in network().feeds:
                raise UnknownFeed(feed)
            msg = BUILDERS[kind](feed)
            body = msg.SerializeToString()
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            if built is not None and built.etag == etag:
                built.built_at = self.clock()
            else:
                built = self._built[key] = Built(body, gzip.compress(body, 5), etag, time.time(), self.clock(), msg)
                self.builds += 1
            self._build_seconds[key] = time.perf_counter() - started
            return built
        finally:
            lock.release()
            close_old_connections()  # builds run in worker threads, outside Django's request cycle


cache = FeedCache()
