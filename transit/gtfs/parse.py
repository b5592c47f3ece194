"""Parse and validate a whole GTFS feed into a `GtfsFeed`.

What real feeds do and what happens here:
- optional files and columns may be missing (defaults apply); required ones raise `GtfsError`;
- untimed intermediate stops get times interpolated by distance (shape_dist_traveled when every
  stop has it, straight-line distance between the stops otherwise);
- times may pass 24:00:00 (trips after midnight belong to the previous service day);
- frequencies.txt: each template trip is expanded into one trip per headway from start_time up
  to, not including, end_time (ids `<trip_id>@HHMMSS`);
- trips with fewer than two stops are skipped with a warning; a reference to a missing shape
  falls back to stop-to-stop lines (a warning);
- anything else that is wrong (a missing required value, a bad number, time or date, a
  reference to a stop, route or trip that does not exist, times going backwards) raises
  `GtfsError` naming the file, row and column.
"""

from __future__ import annotations

import logging
import math
import zoneinfo
from collections.abc import Callable
from dataclasses import replace

from .reader import FeedSource, GtfsError
from .tables import (
    Agency,
    Calendar,
    CalendarDate,
    Frequency,
    GtfsFeed,
    Route,
    Shape,
    Stop,
    StopTime,
    Trip,
    format_time,
    parse_date,
    parse_time,
)

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]  # (file, rows read so far)
_MAX_WARNINGS_PER_KIND = 5


class _Rows:
    """Field access for one row that raises GtfsError naming file, row and column."""

    __slots__ = ("file", "row", "values")

    def __init__(self, file: str):
        self.file = file
        self.row = 0
        self.values: dict[str, str] = {}

    def error(self, column: str | None, message: str) -> GtfsError:
        return GtfsError(message, file=self.file, row=self.row, column=column)

    def req(self, column: str) -> str:
        value = self.values.get(column, "")
        if not value:
            raise self.error(column, "required value is missing")
        return value

    def opt(self, column: str, default: str = "") -> str:
        return self.values.get(column, "") or default

    def int(self, column: str, default: int | None = None, *, required: bool = False) -> int | None:
        value = self.req(column) if required else self.values.get(column, "")
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            try:
                f = float(value)  # "3.0" happens
            except ValueError:
                raise self.error(column, f"not an integer: {value!r}") from None
            if not f.is_integer():
                raise self.error(column, f"not an integer: {value!r}") from None
            return int(f)

    def float(self, column: str, *, required: bool = False, lo: float | None = None, hi: float | None = None):
        value = self.req(column) if required else self.values.get(column, "")
        if not value:
            return None
        try:
            f = float(value)
        except ValueError:
            raise self.error(column, f"not a number: {value!r}") from None
        if not math.isfinite(f) or (lo is not None and f < lo) or (hi is not None and f > hi):
            raise self.error(column, f"out of range: {value!r}")
        return f

    def time(self, column: str, *, required: bool = False) -> int | None:
        value = self.req(column) if required else self.values.get(column, "")
        if not value:
            return None
        try:
            return parse_time(value)
        except ValueError as exc:
            raise self.error(column, str(exc)) from None

    def date(self, column: str):
        value = self.req(column)
        try:
            return parse_date(value)
        except ValueError as exc:
            raise self.error(column, str(exc)) from None

    def flag(self, column: str, allowed: tuple[int, ...] = (0, 1), default: int = 0) -> int:
        v = self.int(column, default)
        if v not in allowed:
            raise self.error(column, f"must be one of {', '.join(map(str, allowed))}, not {v}")
        return v


def _iter(source: FeedSource, name: str, progress: Progress | None):
    r = _Rows(name)
    n = 0
    for line, values in source.rows(name):
        r.row, r.values = line, values
        n += 1
        if progress and n % 20000 == 0:
            progress(name, n)
        yield r
    if progress:
        progress(name, n)


class _Warnings:
    def __init__(self, out: list[str]):
        self.out = out
        self.counts: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        n = self.counts[kind] = self.counts.get(kind, 0) + 1
        if n <= _MAX_WARNINGS_PER_KIND:
            self.out.append(message)
            logger.warning("%s", message)

    def close(self) -> None:
        for kind, n in self.counts.items():
            if n > _MAX_WARNINGS_PER_KIND:
                self.out.append(f"... and {n - _MAX_WARNINGS_PER_KIND} more: {kind}")


def _require(source: FeedSource, name: str) -> None:
    if not source.has(name):
        raise GtfsError("required file is missing", file=name)


def parse_feed(source: FeedSource, *, progress: Progress | None = None) -> GtfsFeed:
    """The whole feed, validated and normalised. Raises GtfsError on the first real problem."""
    for name in ("agency.txt", "routes.txt", "trips.txt", "stop_times.txt", "stops.txt"):
        _require(source, name)
    if not source.has("calendar.txt") and not source.has("calendar_dates.txt"):
        raise GtfsError("calendar.txt or calendar_dates.txt is required", file="calendar.txt")
    feed = GtfsFeed()
    warn = _Warnings(feed.warnings)

    # -- agency.txt
    for r in _iter(source, "agency.txt", progress):
        tz = r.req("agency_timezone")
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise r.error("agency_timezone", f"unknown time zone {tz!r}") from None
        feed.agencies.append(
            Agency(agency_id=r.opt("agency_id"), name=r.req("agency_name"), url=r.opt("agency_url"),
                   timezone=tz, lang=r.opt("agency_lang"))
        )
    if not feed.agencies:
        raise GtfsError("no agency", file="agency.txt")
    agency_ids = {a.agency_id for a in feed.agencies}
    if len({a.timezone for a in feed.agencies}) > 1:
        warn.add("agency time zones differ", "agency.txt: agencies have different time zones; using the first")

    # -- stops.txt
    stops: dict[str, Stop] = {}
    for r in _iter(source, "stops.txt", progress):
        stop_id = r.req("stop_id")
        if stop_id in stops:
            raise r.error("stop_id", f"duplicate stop_id {stop_id!r}")
        location_type = r.flag("location_type", (0, 1, 2, 3, 4))
        needs_position = location_type <= 2
        stops[stop_id] = Stop(
            stop_id=stop_id,
            name=r.opt("stop_name"),
            lat=r.float("stop_lat", required=needs_position, lo=-90, hi=90),
            lon=r.float("stop_lon", required=needs_position, lo=-180, hi=180),
            code=r.opt("stop_code"),
            location_type=location_type,
            parent_station=r.opt("parent_station"),
        )
    feed.stops = list(stops.values())

    # -- routes.txt
    routes: dict[str, Route] = {}
    for r in _iter(source, "routes.txt", progress):
        route_id = r.req("route_id")
        if route_id in routes:
            raise r.error("route_id", f"duplicate route_id {route_id!r}")
        agency_id = r.opt("agency_id")
        if agency_id and agency_id not in agency_ids:
            raise r.error("agency_id", f"no agency {agency_id!r} in agency.txt")
        if not agency_id:
            if len(feed.agencies) > 1:
                warn.add("route without agency", f"routes.txt row {r.row}: no agency_id among several agencies; using the first")
            agency_id = feed.agencies[0].agency_id
        route_type = r.int("route_type", required=True)
        if route_type < 0:
            raise r.error("route_type", f"not a route type: {route_type}")
        short, long = r.opt("route_short_name"), r.opt("route_long_name")
        if not short and not long:
            warn.add("route without name", f"routes.txt row {r.row}: route {route_id!r} has no name")
        routes[route_id] = Route(
            route_id=route_id, route_type=route_type, agency_id=agency_id, short_name=short, long_name=long,
            color=r.opt("route_color").lstrip("#").upper(), text_color=r.opt("route_text_color").lstrip("#").upper(),
        )
    feed.routes = list(routes.values())

    # -- shapes.txt (optional)
    shape_points: dict[str, list[tuple[int, float, float]]] = {}
    if source.has("shapes.txt"):
        for r in _iter(source, "shapes.txt", progress):
            shape_points.setdefault(r.req("shape_id"), []).append(
                (
                    r.int("shape_pt_sequence", required=True),
                    r.float("shape_pt_lat", required=True, lo=-90, hi=90),
                    r.float("shape_pt_lon", required=True, lo=-180, hi=180),
                )
            )
    for shape_id, pts in shape_points.items():
        pts.sort(key=lambda p: p[0])
        if len(pts) < 2:
            warn.add("shape with one point", f"shapes.txt: shape {shape_id!r} has fewer than two points; ignored")
            continue
        feed.shapes.append(Shape(shape_id, tuple((lat, lon) for _, lat, lon in pts)))
    shapes = {s.shape_id for s in feed.shapes}

    # -- calendar.txt, calendar_dates.txt
    services: set[str] = set()
    if source.has("calendar.txt"):
        days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        for r in _iter(source, "calendar.txt", progress):
            service_id = r.req("service_id")
            if service_id in services:
                raise r.error("service_id", f"duplicate service_id {service_id!r}")
            for d in days:
                r.req(d)
            start, end = r.date("start_date"), r.date("end_date")
            if end < start:
                raise r.error("end_date", "end_date is before start_date")
            services.add(service_id)
            feed.calendars.append(Calendar(service_id, tuple(bool(r.flag(d)) for d in days), start, end))
    if source.has("calendar_dates.txt"):
        seen_dates = set()
        for r in _iter(source, "calendar_dates.txt", progress):
            service_id, date = r.req("service_id"), r.date("date")
            r.req("exception_type")
            exception = r.flag("exception_type", (1, 2))
            if (service_id, date) in seen_dates:
                warn.add("duplicate calendar date", f"calendar_dates.txt row {r.row}: duplicate {service_id} {date}")
                continue
            seen_dates.add((service_id, date))
            services.add(service_id)
            feed.calendar_dates.append(CalendarDate(service_id, date, exception))

    # -- trips.txt
    trip_rows: dict[str, tuple[int, dict]] = {}
    for r in _iter(source, "trips.txt", progress):
        trip_id = r.req("trip_id")
        if trip_id in trip_rows:
            raise r.error("trip_id", f"duplicate trip_id {trip_id!r}")
        route_id = r.req("route_id")
        if route_id not in routes:
            raise r.error("route_id", f"no route {route_id!r} in routes.txt")
        service_id = r.req("service_id")
        if service_id not in services:
            warn.add("unknown service", f"trips.txt row {r.row}: service {service_id!r} is in no calendar; the trip never runs")
        shape_id = r.opt("shape_id")
        if shape_id and shape_id not in shapes:
            warn.add("unknown shape", f"trips.txt row {r.row}: no shape {shape_id!r}; using stop-to-stop lines")
            shape_id = ""
        direction = r.values.get("direction_id", "")
        trip_rows[trip_id] = (
            r.row,
            dict(
                trip_id=trip_id, route_id=route_id, service_id=service_id, shape_id=shape_id,
                headsign=r.opt("trip_headsign"), short_name=r.opt("trip_short_name"),
                direction_id=r.flag("direction_id") if direction else None, block_id=r.opt("block_id"),
            ),
        )

    # -- stop_times.txt
    # per trip: (stop_sequence, row, stop_id, arrival, departure, timepoint, pickup, drop_off, dist)
    raw: dict[str, list[tuple]] = {}
    for r in _iter(source, "stop_times.txt", progress):
        trip_id = r.req("trip_id")
        if trip_id not in trip_rows:
            raise r.error("trip_id", f"no trip {trip_id!r} in trips.txt")
        stop_id = r.req("stop_id")
        if stop_id not in stops:
            raise r.error("stop_id", f"no stop {stop_id!r} in stops.txt")
        arrival, departure = r.time("arrival_time"), r.time("departure_time")
        if arrival is None:
            arrival = departure
        if departure is None:
            departure = arrival
        if arrival is not None and departure < arrival:
            raise r.error("departure_time", "departure_time is before arrival_time")
        timepoint = r.flag("timepoint", default=1 if arrival is not None else 0)
        if timepoint and arrival is None:
            raise r.error("arrival_time", "a timepoint needs a time")
        seq = r.int("stop_sequence", required=True)
        if seq < 0:
            raise r.error("stop_sequence", "must not be negative")
        raw.setdefault(trip_id, []).append(
            (seq, r.row, stop_id, arrival, departure, bool(timepoint) and arrival is not None,
             r.flag("pickup_type", (0, 1, 2, 3)), r.flag("drop_off_type", (0, 1, 2, 3)),
             r.float("shape_dist_traveled", lo=0))
        )

    trips: dict[str, Trip] = {}
    for trip_id, (row, fields) in trip_rows.items():
        times = raw.get(trip_id)
        if not times or len(times) < 2:
            warn.add("trip with fewer than two stops",
                     f"trips.txt row {row}: trip {trip_id!r} has {len(times or [])} stop(s); skipped")
            continue
        times.sort(key=lambda t: t[0])
        trips[trip_id] = Trip(stop_times=_stop_times(times, stops), **fields)

    # -- frequencies.txt (optional): expand templates into trips
    if source.has("frequencies.txt"):
        per_template: dict[str, list[Frequency]] = {}
        for r in _iter(source, "frequencies.txt", progress):
            trip_id = r.req("trip_id")
            if trip_id not in trip_rows:
                raise r.error("trip_id", f"no trip {trip_id!r} in trips.txt")
            start, end = r.time("start_time", required=True), r.time("end_time", required=True)
            headway = r.int("headway_secs", required=True)
            if headway <= 0:
                raise r.error("headway_secs", "must be positive")
            if end <= start:
                raise r.error("end_time", "end_time must be after start_time")
            f = Frequency(trip_id, start, end, headway, bool(r.flag("exact_times")))
            feed.frequencies.append(f)
            per_template.setdefault(trip_id, []).append(f)
        for trip_id, freqs in per_template.items():
            template = trips.pop(trip_id, None)
            if template is None:
                continue  # skipped above (fewer than two stops)
            for f in freqs:
                t = f.start_time
                while t < f.end_time:  # end_time is exclusive
                    new_id = f"{trip_id}@{format_time(t).replace(':', '')}"
                    shift = t - template.start
                    trips[new_id] = replace(
                        template, trip_id=new_id, frequency_template=trip_id, block_id="",
                        stop_times=tuple(replace(st, arrival=st.arrival + shift, departure=st.departure + shift)
                                         for st in template.stop_times),
                    )
                    t += f.headway_secs
    feed.trips = list(trips.values())
    warn.close()
    return feed


def _distance(a: Stop, b: Stop) -> float:
    """Metres between two stops (equirectangular; fine at stop spacing)."""
    if a.lat is None or b.lat is None:
        return 0.0
    x = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    y = math.radians(b.lat - a.lat)
    return 6_371_000 * math.hypot(x, y)


def _stop_times(times: list[tuple], stops: dict[str, Stop]) -> tuple[StopTime, ...]:
    """StopTimes of one trip sorted by sequence, with blank times interpolated by distance."""
    for (seq_a, *_), (seq_b, row_b, *_) in zip(times, times[1:]):
        if seq_a == seq_b:
            raise GtfsError(f"duplicate stop_sequence {seq_b} in the trip", file="stop_times.txt", row=row_b,
                            column="stop_sequence")
    for i in (0, -1):
        if times[i][3] is None:
            raise GtfsError("the first and last stop of a trip must have times", file="stop_times.txt",
                            row=times[i][1], column="arrival_time")
    use_shape_dist = all(t[8] is not None for t in times)
    cumulative = [0.0]
    for a, b in zip(times, times[1:]):
        step = (b[8] - a[8]) if use_shape_dist else _distance(stops[a[2]], stops[b[2]])
        cumulative.append(cumulative[-1] + max(step, 0.0))
    out = []
    last_timed = 0
    prev_departure = None
    for i, (seq, row, stop_id, arrival, departure, timepoint, pickup, drop_off, dist) in enumerate(times):
        if arrival is None:
            nxt = next(j for j in range(i + 1, len(times)) if times[j][3] is not None)
            t0, t1 = times[last_timed][4], times[nxt][3]
            span = cumulative[nxt] - cumulative[last_timed]
            frac = (cumulative[i] - cumulative[last_timed]) / span if span > 0 else (i - last_timed) / (nxt - last_timed)
            arrival = departure = round(t0 + (t1 - t0) * frac)
        else:
            last_timed = i
        if prev_departure is not None and arrival < prev_departure:
            raise GtfsError("times go backwards along the trip", file="stop_times.txt", row=row, column="arrival_time")
        prev_departure = departure
        out.append(StopTime(stop_id, seq, arrival, departure, timepoint, pickup, drop_off, dist))
    return tuple(out)
