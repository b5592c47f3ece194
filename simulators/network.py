"""The network as the simulator sees it: trips on their shapes, stops placed along them, blocks.

Built once from a `GtfsFeed` (plain dataclasses from the database or straight from files), then
used by the tick loop without any database access. Pure Python.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from transit.gtfs.tables import GtfsFeed

from .geo import EARTH_RADIUS_M, Polyline, haversine_m

logger = logging.getLogger(__name__)

# Seats plus standing room, by vehicle type.
CAPACITY = {"bus": 80, "tram": 180, "rail": 600, "subway": 800, "ferry": 300, "cable": 60, "other": 60}

# Chaining trips into blocks when the feed has no block_id: the same route, the next trip leaving
# from (near) where the last one ended, after a layover within these bounds.
MIN_LAYOVER_S = {"rail": 300, "subway": 240}
DEFAULT_MIN_LAYOVER_S = 180
MAX_LAYOVER_S = 45 * 60
CHAIN_RADIUS_M = 400.0


@dataclass(frozen=True, slots=True)
class RouteInfo:
    route_id: str
    label: str  # short name, else long name, else id
    vehicle_type: str
    capacity: int
    color: str = ""


@dataclass(slots=True)
class TripPlan:
    """One trip: its stops as distances along its path, and its schedule (seconds of the service day)."""

    trip_id: str
    route: RouteInfo
    service_id: str
    direction: str  # direction_id, else the last stop: riders wait per route and direction
    block_id: str
    shape: Polyline
    stop_ids: tuple[str, ...]
    stop_seqs: tuple[int, ...]
    dists: tuple[float, ...]  # metres along `shape`, non-decreasing
    arr: tuple[int, ...]
    dep: tuple[int, ...]
    pace: tuple[float, ...]  # arrival times smoothed over runs of equal (minute-rounded) times
    timepoint: tuple[bool, ...]
    pickup: tuple[bool, ...]  # riders may board here
    positions: tuple[tuple[float, float], ...] = ()  # stop coordinates

    @property
    def start(self) -> int:
        return self.dep[0]

    @property
    def end(self) -> int:
        return self.arr[-1]

    def __hash__(self):
        return hash(self.trip_id)


@dataclass(slots=True)
class BlockPlan:
    """What one vehicle does on one service day: trips in order."""

    vehicle_id: str
    trips: list[TripPlan]

    @property
    def route(self) -> RouteInfo:
        return self.trips[0].route

    @property
    def start(self) -> int:
        return self.trips[0].start

    @property
    def end(self) -> int:
        return self.trips[-1].end


def service_day_origin(date: dt.date, tz: zoneinfo.ZoneInfo) -> float:
    """POSIX seconds of "noon minus 12 h" of `date` in `tz`: where GTFS times count from."""
    noon = dt.datetime.combine(date, dt.time(12), tzinfo=tz)
    return noon.timestamp() - 12 * 3600


def _flat(lat0: float):
    kx = math.cos(math.radians(lat0)) * math.pi / 180 * EARTH_RADIUS_M
    ky = math.pi / 180 * EARTH_RADIUS_M
    return kx, ky


def place_stops(shape: Polyline, stops: Sequence[tuple[float, float]]) -> tuple[float, ...]:
    """Distance along `shape` of each stop, in order, never going back.

    Each stop is projected on the nearest segment at or after the previous stop's; the search
    takes the first good match (within 60 m) so that a route passing the same place twice (a
    loop) places the stop on the pass it is served on.
    """
    kx, ky = _flat(shape.points[0][0])
    xs = [lon * kx for _, lon in shape.points]
    ys = [lat * ky for lat, _ in shape.points]
    cum = shape.cumulative
    out = []
    seg = 0
    floor = 0.0
    n = len(xs) - 1
    for lat, lon in stops:
        px, py = lon * kx, lat * ky
        best_d, best_pos, best_seg = math.inf, floor, seg
        found_at = None
        for i in range(seg, n):
            ax, ay, bx, by = xs[i], ys[i], xs[i + 1], ys[i + 1]
            dx, dy = bx - ax, by - ay
            l2 = dx * dx + dy * dy
            u = 0.0 if l2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / l2))
            d = math.hypot(px - ax - u * dx, py - ay - u * dy)
            pos = cum[i] + u * (cum[i + 1] - cum[i])
            if d < best_d and pos >= floor:
                best_d, best_pos, best_seg = d, pos, i
                if d < 60 and found_at is None:
                    found_at = cum[i]
            if found_at is not None and cum[i] - found_at > 1500:
                break  # took the first pass that comes close; do not jump to a later one
        out.append(best_pos)
        seg, floor = best_seg, best_pos
    return tuple(out)


def smooth_times(times: Sequence[int], dists: Sequence[float]) -> tuple[float, ...]:
    """Times with runs of equal values spread by distance up to the next different time.

    Feeds rounded to the minute give several stops the same time; a vehicle cannot be at all of
    them at once, so its pace aims at these spread times instead.
    """
    out = [float(t) for t in times]
    n = len(times)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and times[j + 1] == times[i]:
            j += 1
        if j > i and j + 1 < n:
            t0, t1 = times[i], times[j + 1]
            d0, d1 = dists[i], dists[j + 1]
            for k in range(i + 1, j + 1):
                frac = (dists[k] - d0) / (d1 - d0) if d1 > d0 else (k - i) / (j + 1 - i)
                out[k] = t0 + (t1 - t0) * frac
        i = j + 1
    return tuple(out)


def chain(
    items: Sequence,
    *,
    start: Callable,
    end: Callable,
    group: Callable,
    first_pos: Callable,
    last_pos: Callable,
    min_layover: Callable,
) -> list[list[int]]:
    """Greedy vehicle blocks: indices of `items` (trips) grouped into runs one vehicle can work.

    In start order, a trip goes to the vehicle of the same group waiting at a terminal within
    CHAIN_RADIUS_M of its first stop that has had at least the minimum layover, and among those
    the one that arrived last (the shortest layover: spare vehicles pull in after the peak); with
    no such vehicle within MAX_LAYOVER_S, it takes a new one.
    """
    order = sorted(range(len(items)), key=lambda i: (start(items[i]), i))
    blocks: list[list[int]] = []
    free: dict[object, list[tuple[int, int]]] = defaultdict(list)  # group -> [(free_at, block index)]
    for i in order:
        item = items[i]
        s = start(item)
        best = None
        for k, (free_at, b) in enumerate(free[group(item)]):
            last = items[blocks[b][-1]]
            if free_at + min_layover(last) <= s <= free_at + MAX_LAYOVER_S and haversine_m(last_pos(last), first_pos(item)) <= CHAIN_RADIUS_M:
                if best is None or free_at > free[group(item)][best][0]:
                    best = k
        if best is None:
            blocks.append([i])
            b = len(blocks) - 1
        else:
            _, b = free[group(item)].pop(best)
            blocks[b].append(i)
        free[group(item)].append((end(item), b))
    return blocks


class Network:
    """Every trip of a feed as a TripPlan, and per service day its trips and blocks."""

    def __init__(self, feed: GtfsFeed, *, name: str = "feed"):
        self.name = name
        self.feed = feed
        self.tz = zoneinfo.ZoneInfo(feed.timezone)
        self.routes = {r.route_id: RouteInfo(r.route_id, r.label, r.vehicle_type, CAPACITY.get(r.vehicle_type, 60), r.color)
                       for r in feed.routes}
        self.stops = {s.stop_id: s for s in feed.stops}
        shapes = {s.shape_id: s for s in feed.shapes}
        self._polylines: dict[str, Polyline] = {}
        placed: dict[tuple, tuple[float, ...]] = {}
        self.trips: list[TripPlan] = []
        for t in feed.trips:
            stop_ids = tuple(st.stop_id for st in t.stop_times)
            positions = tuple((self.stops[s].lat, self.stops[s].lon) for s in stop_ids)
            if t.shape_id:
                shape = self._polylines.get(t.shape_id)
                if shape is None:
                    shape = self._polylines[t.shape_id] = Polyline(shapes[t.shape_id].points)
                key = (t.shape_id, stop_ids)
            else:  # no shape: straight lines from stop to stop
                key = ("", stop_ids)
                shape = self._polylines.get(f"stops:{stop_ids}")
                if shape is None:
                    pts = list(positions) if len(set(positions)) > 1 else [positions[0], (positions[0][0] + 1e-5, positions[0][1])]
                    shape = self._polylines[f"stops:{stop_ids}"] = Polyline(pts)
            dists = placed.get(key)
            if dists is None:
                dists = placed[key] = place_stops(shape, positions)
            arr = tuple(st.arrival for st in t.stop_times)
            route = self.routes[t.route_id]
            self.trips.append(
                TripPlan(
                    trip_id=t.trip_id, route=route, service_id=t.service_id,
                    direction=str(t.direction_id) if t.direction_id is not None else stop_ids[-1],
                    block_id=t.block_id, shape=shape, stop_ids=stop_ids,
                    stop_seqs=tuple(st.stop_sequence for st in t.stop_times), dists=dists, arr=arr,
                    dep=tuple(st.departure for st in t.stop_times), pace=smooth_times(arr, dists),
                    timepoint=tuple(st.timepoint for st in t.stop_times),
                    pickup=tuple(st.pickup_type != 1 for st in t.stop_times), positions=positions,
                )
            )
        self._by_service: dict[str, list[TripPlan]] = defaultdict(list)
        for tp in self.trips:
            self._by_service[tp.service_id].append(tp)
        self._days: dict[dt.date, list[TripPlan]] = {}
        self._blocks: dict[dt.date, list[BlockPlan]] = {}
        window = feed.service_window()
        self.window = window
        self._exception_dates = {d.date for d in feed.calendar_dates}
        self._exceptions: dict[dt.date, list] | None = None

    # -- calendar ---------------------------------------------------------------------------------

    def timetable_date(self, date: dt.date) -> dt.date:
        """The feed date whose timetable runs on `date` (see service_day)."""
        return self.service_day(date)[0]

    def service_day(self, date: dt.date) -> tuple[dt.date, str]:
        """(the feed date whose timetable runs on `date`, why): `date` itself if the feed runs
        service that day ("requested"); else the nearest date with service and the same weekday
        ("same weekday"; an ordinary day rather than a holiday exception when both are as near);
        else the nearest date with any service at all ("nearest with service"); a feed with no
        service on any day gives `date` ("no service")."""
        window = self.window
        if window is None:
            return date, "requested"
        if self._has_service(date):
            return date, "requested"
        lo, hi = window
        anchor = min(max(date, lo), hi)
        offset = (date.weekday() - anchor.weekday()) % 7
        candidates = []
        for base in (anchor + dt.timedelta(days=offset), anchor + dt.timedelta(days=offset - 7)):
            for k in range(0, 60):
                for d in (base + dt.timedelta(days=7 * k), base - dt.timedelta(days=7 * k)):
                    if lo <= d <= hi and self._has_service(d):
                        candidates.append((d in self._exception_dates, abs((d - anchor).days), d))
        if candidates:
            return min(candidates)[2], "same weekday"
        for k in range((hi - lo).days + 1):
            for d in (anchor - dt.timedelta(days=k), anchor + dt.timedelta(days=k)):
                if lo <= d <= hi and self._has_service(d):
                    return d, "nearest with service"
        return date, "no service"

    def _has_service(self, date: dt.date) -> bool:
        """Whether any trip runs on `date` (a service of the calendar with trips in the feed)."""
        return any(self._by_service.get(s) for s in self._services_on(date))

    def _services_on(self, date: dt.date) -> set[str]:
        """feed.services_on(date), with the calendar exceptions looked up by date (a feed may have
        tens of thousands, and the service-day choice asks about hundreds of dates)."""
        if self._exceptions is None:
            self._exceptions = defaultdict(list)
            for d in self.feed.calendar_dates:
                self._exceptions[d.date].append(d)
        running = {c.service_id for c in self.feed.calendars
                   if c.start_date <= date <= c.end_date and c.days[date.weekday()]}
        for d in self._exceptions.get(date, ()):
            if d.exception_type == 1:
                running.add(d.service_id)
            elif d.exception_type == 2:
                running.discard(d.service_id)
        return running

    def trips_on(self, date: dt.date) -> list[TripPlan]:
        """The trips running on timetable date `date`, by start time."""
        trips = self._days.get(date)
        if trips is None:
            running = self._services_on(date)
            trips = sorted((t for s in sorted(running) for t in self._by_service.get(s, ())), key=lambda t: (t.start, t.trip_id))
            self._days[date] = trips
        return trips

    def blocks_on(self, date: dt.date) -> list[BlockPlan]:
        """The vehicle blocks of timetable date `date`: the feed's block_id where it has one,
        greedy chaining per route otherwise. Vehicle ids are `<route label>-<nn>` by start time."""
        blocks = self._blocks.get(date)
        if blocks is not None:
            return blocks
        trips = self.trips_on(date)
        by_block: dict[str, list[TripPlan]] = defaultdict(list)
        loose = []
        for t in trips:
            (by_block[t.block_id] if t.block_id else loose).append(t)
        groups = list(by_block.values())
        for idx in chain(
            loose, start=lambda t: t.start, end=lambda t: t.end, group=lambda t: t.route.route_id,
            first_pos=lambda t: t.positions[0], last_pos=lambda t: t.positions[-1],
            min_layover=lambda t: MIN_LAYOVER_S.get(t.route.vehicle_type, DEFAULT_MIN_LAYOVER_S),
        ):
            groups.append([loose[i] for i in idx])
        groups.sort(key=lambda g: (g[0].start, g[0].trip_id))
        counters: dict[str, int] = defaultdict(int)
        blocks = []
        for g in groups:
            g.sort(key=lambda t: t.start)
            label = g[0].route.label
            counters[label] += 1
            blocks.append(BlockPlan(f"{label}-{counters[label]:02d}", g))
        self._blocks[date] = blocks
        return blocks

    def station_of(self, stop_id: str) -> str:
        """The station a stop belongs to: its parent station when the feed has it, else the stop."""
        stop = self.stops.get(stop_id)
        parent = stop.parent_station if stop is not None else ""
        return parent if parent and parent in self.stops else stop_id

    def bounds(self) -> tuple[float, float, float, float]:
        lats = [s.lat for s in self.stops.values() if s.lat is not None]
        lons = [s.lon for s in self.stops.values() if s.lon is not None]
        return min(lats), min(lons), max(lats), max(lons)

