"""GTFS-Realtime messages -> the events StreamCity's pipeline runs on. Plain Python, no Django.

`map_feeds()` takes the latest VehiclePositions, TripUpdates and Alerts messages of one agency and
its static feed and returns what the simulator would have sent for that moment:

- one `VehicleLocation` per vehicle with a position: vehicle, trip and route, position, bearing,
  speed, occupancy (as passengers of the vehicle type's capacity), stop progress (from the
  position's current stop and status, else the trip's predictions, else the nearest stretch of
  the trip) and `reported_delay_seconds`, the delay the agency predicts at the next stop;
- for a trip the TripUpdates name but no position does (a feed of TripUpdates only), a vehicle
  placed between the two stops the predictions put it between at the feed's time;
- the trips the reports run (their stop_schedule is published before them);
- one `ServiceAlert` per alert entity.

Ids that do not match the static feed are handled as GTFS-Realtime defines them and counted: a trip
not in the timetable, an ADDED (or NEW, DUPLICATED...) or CANCELED trip, a vehicle without a trip:
the vehicle is still reported (its position is real) but without a trip_id, so that nothing
downstream takes it for a scheduled run. A feed none of whose ids are in the static feed is refused
(`ForeignFeedError`): it is most likely another agency's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from google.transit import gtfs_realtime_pb2 as rt

from streamcity.kernel.schemas import (
    TEXT_LIMIT, ActivePeriod, InformedEntity, ServiceAlert, StopSchedule, VehicleLocation,
)

from .static import CAPACITY, StaticIndex, TripInfo, service_date_of, service_day_origin

UTC = dt.timezone.utc
TD = rt.TripDescriptor
VP = rt.VehiclePosition
STU = rt.TripUpdate.StopTimeUpdate

# GTFS-RT occupancy status -> share of capacity on board (and back, feed.occupancy_status: the
# bands there contain these values, so a status read, published and read again is the same).
OCCUPANCY_SHARE = {
    VP.EMPTY: 0.0,
    VP.MANY_SEATS_AVAILABLE: 0.25,
    VP.FEW_SEATS_AVAILABLE: 0.6,
    VP.STANDING_ROOM_ONLY: 0.8,
    VP.CRUSHED_STANDING_ROOM_ONLY: 0.95,
    VP.FULL: 1.0,
    VP.NOT_ACCEPTING_PASSENGERS: 1.0,
}

# Why a vehicle or trip update was not matched to a scheduled trip (keys of Mapped.unmatched).
NOT_IN_TIMETABLE = "trip not in timetable"
ADDED = "added trip"
CANCELED = "canceled trip"
UNSCHEDULED = "unscheduled run"
NO_TRIP = "no trip"
UNKNOWN_ROUTE = "unknown route"
NO_POSITION = "no position"
BAD_POSITION = "invalid position"

_UNSCHEDULED_RELATIONSHIPS = {TD.ADDED, TD.NEW, TD.DUPLICATED, TD.REPLACEMENT}
_GONE_RELATIONSHIPS = {TD.CANCELED, TD.DELETED}


class ForeignFeedError(ValueError):
    """None of a feed's ids are in the static feed: most likely another agency's feed."""


@dataclass
class Mapped:
    reports: dict[str, VehicleLocation] = field(default_factory=dict)
    trips: dict[str, tuple[TripInfo, dt.date]] = field(default_factory=dict)  # trip_id -> (trip, service date)
    alerts: dict[str, ServiceAlert] = field(default_factory=dict)  # alert_key -> alert
    matched: int = 0  # vehicles on a scheduled trip of the static feed
    estimated: int = 0  # of the reports: placed from TripUpdates (no position in the feed)
    canceled_trips: int = 0  # CANCELED trip updates (GTFS-RT: the trip will not run)
    unmatched: Counter = field(default_factory=Counter)
    feed_time: dt.datetime | None = None


def _ts(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, UTC)


def _text(translated: rt.TranslatedString, lang: str) -> tuple[str, str]:
    """(text, language) of the translation in `lang` (or its first)."""
    best = None
    for t in translated.translation:
        if best is None:
            best = t
        if lang and t.language and t.language.lower().split("-")[0] == lang.lower().split("-")[0]:
            best = t
            break
    return (best.text, best.language) if best is not None else ("", "")


@dataclass
class _Predictions:
    """A trip's predicted times per stop index (POSIX seconds), from its stop time updates."""

    trip: TripInfo
    arr: list[float]
    dep: list[float]
    delay_at: list[int | None]  # the delay the agency predicts at each stop (None: no prediction)
    skipped: set[int]
    timestamp: int


def _predictions(tu: rt.TripUpdate, trip: TripInfo, origin: dt.datetime, default_ts: int) -> _Predictions:
    """Predicted arrival/departure at every stop of `trip`: each stop time update's time (or
    scheduled time + delay), a delay propagating downstream until the next update (GTFS-RT's
    rule); stops before the first update keep their scheduled times."""
    base = origin.timestamp()
    n = len(trip.seqs)
    updates: dict[int, rt.TripUpdate.StopTimeUpdate] = {}
    last = -1
    for u in tu.stop_time_update:
        i = trip.index_of(u.stop_sequence) if u.HasField("stop_sequence") else None
        if i is None and u.stop_id:
            i = trip.index_of_stop(u.stop_id, last)
        if i is not None:
            updates[i] = u
            last = i
    arr, dep, delay_at, skipped = [], [], [], set()
    delay: int | None = None
    for i in range(n):
        sched_arr, sched_dep = base + trip.arr[i], base + trip.dep[i]
        u = updates.get(i)
        if u is not None:
            if u.schedule_relationship == STU.SKIPPED:
                skipped.add(i)
            elif u.schedule_relationship == STU.NO_DATA:
                delay = None
            else:
                a = _event_time(u.arrival, sched_arr) if u.HasField("arrival") else None
                d = _event_time(u.departure, sched_dep) if u.HasField("departure") else None
                if a is not None:
                    delay = round(a - sched_arr)
                elif d is not None:
                    delay = round(d - sched_dep)
        shift = delay or 0
        a_i, d_i = sched_arr + shift, sched_dep + shift
        if u is not None and u.schedule_relationship == STU.SCHEDULED:
            if u.HasField("arrival"):
                a_i = _event_time(u.arrival, sched_arr)
            if u.HasField("departure"):
                d_i = _event_time(u.departure, sched_dep)
        d_i = max(d_i, a_i)
        arr.append(a_i)
        dep.append(d_i)
        delay_at.append(delay)
    return _Predictions(trip, arr, dep, delay_at, skipped, tu.timestamp or default_ts)


def _event_time(e: rt.TripUpdate.StopTimeEvent, scheduled: float) -> float:
    if e.HasField("time") and e.time:
        return float(e.time)
    return scheduled + e.delay


class Mapper:
    """Maps one agency's feeds against its static feed (kept between polls: nothing else)."""

    def __init__(self, index: StaticIndex):
        self.index = index

    def map(self, *, vehicle_positions: rt.FeedMessage | None = None, trip_updates: rt.FeedMessage | None = None,
            alerts: rt.FeedMessage | None = None, estimate: bool = True) -> Mapped:
        out = Mapped()
        index = self.index
        headers = [m.header.timestamp for m in (vehicle_positions, trip_updates, alerts) if m is not None]
        feed_ts = max(headers, default=0)
        out.feed_time = _ts(feed_ts) if feed_ts else None

        predictions: dict[str, _Predictions] = {}
        added: list[rt.FeedEntity] = []
        if trip_updates is not None:
            self._check_ids(trip_updates, "trip_update")
            for e in trip_updates.entity:
                if e.is_deleted or not e.HasField("trip_update"):
                    continue
                tu = e.trip_update
                rel = tu.trip.schedule_relationship
                if rel in _GONE_RELATIONSHIPS:
                    out.canceled_trips += 1
                    continue
                if rel in _UNSCHEDULED_RELATIONSHIPS:
                    added.append(e)
                    continue
                trip = index.trip(tu.trip.trip_id, tu.trip.start_time)
                if trip is None:
                    continue  # counted below, when no vehicle runs it either
                at = _ts(tu.timestamp or trip_updates.header.timestamp or feed_ts)
                date = service_date_of(index, trip, at, tu.trip.start_date)
                predictions[trip.trip_id] = _predictions(tu, trip, service_day_origin(date, index.tz),
                                                         tu.timestamp or trip_updates.header.timestamp)
                out.trips.setdefault(trip.trip_id, (trip, date))

        seen_trips: set[str] = set()
        if vehicle_positions is not None:
            self._check_ids(vehicle_positions, "vehicle")
            for e in vehicle_positions.entity:
                if e.is_deleted or not e.HasField("vehicle"):
                    continue
                report = self._vehicle(e, vehicle_positions.header.timestamp, predictions, out)
                if report is not None:
                    out.reports[report.vehicle_id] = report
                    if report.trip_id:
                        seen_trips.add(report.trip_id)

        if trip_updates is not None:
            for e in trip_updates.entity:
                if e.is_deleted or not e.HasField("trip_update"):
                    continue
                tu = e.trip_update
                if tu.trip.schedule_relationship in _GONE_RELATIONSHIPS | _UNSCHEDULED_RELATIONSHIPS:
                    continue
                trip = index.trip(tu.trip.trip_id, tu.trip.start_time)
                if trip is None:
                    out.unmatched[NOT_IN_TIMETABLE if tu.trip.trip_id else NO_TRIP] += 1
                    continue
                if trip.trip_id in seen_trips or not estimate:
                    continue
                report = self._estimated(tu, predictions[trip.trip_id], out)
                if report is not None and report.vehicle_id not in out.reports:
                    out.reports[report.vehicle_id] = report
                    out.matched += 1
                    out.estimated += 1
            for e in added:
                out.unmatched[ADDED] += 1
                if estimate:
                    report = self._estimated_added(e.trip_update, trip_updates.header.timestamp)
                    if report is not None and report.vehicle_id not in out.reports:
                        out.reports[report.vehicle_id] = report
                        out.estimated += 1

        # only the trips some report runs get their stop_schedule published
        running = {r.trip_id for r in out.reports.values()}
        out.trips = {t: v for t, v in out.trips.items() if t in running}
        if alerts is not None:
            self._check_ids(alerts, "alert")
            for e in alerts.entity:
                if not e.is_deleted and e.HasField("alert"):
                    alert = self._alert(e, alerts.header.timestamp or feed_ts)
                    out.alerts[alert.alert_key] = alert
        return out

    # -- the other agency's feed -------------------------------------------------------------
    def _check_ids(self, msg: rt.FeedMessage, kind: str) -> None:
        index = self.index
        named = known = placed = near = 0
        for e in msg.entity:
            if e.is_deleted or not e.HasField(kind):
                continue
            if kind == "alert":
                for s in e.alert.informed_entity:
                    ids = [(s.agency_id, index.agency_ids), (s.route_id, index.route_types),
                           (s.stop_id, index.stops), (s.trip.trip_id, index.trips)]
                    if any(v for v, _ in ids):
                        named += 1
                        known += any(v in table or (table is index.trips and index.trip(v, s.trip.start_time))
                                     for v, table in ids if v)
                continue
            if kind == "vehicle" and e.vehicle.HasField("position"):
                placed += 1
                near += index.near(e.vehicle.position.latitude, e.vehicle.position.longitude)
            trip = e.vehicle.trip if kind == "vehicle" else e.trip_update.trip
            if trip.schedule_relationship in _UNSCHEDULED_RELATIONSHIPS:
                continue
            if trip.trip_id or trip.route_id:
                named += 1
                known += bool(index.trip(trip.trip_id, trip.start_time) or trip.route_id in index.route_types)
        if placed and not near:
            raise ForeignFeedError(
                f"none of the {placed} vehicle positions of this feed is within 50 km of static feed "
                f"{index.name!r}'s stops: another agency's feed?"
            )
        if named and not known:
            raise ForeignFeedError(
                f"none of the {named} trip/route/stop ids of this {kind} feed are in static feed "
                f"{index.name!r}: another agency's feed?"
            )

    # -- vehicles ------------------------------------------------------------------------------
    def _vehicle(self, e: rt.FeedEntity, header_ts: int, predictions: dict[str, _Predictions],
                 out: Mapped) -> VehicleLocation | None:
        index = self.index
        v = e.vehicle
        vehicle_id = v.vehicle.id or e.id
        if not v.HasField("position"):
            out.unmatched[NO_POSITION] += 1
            return None
        p = v.position
        if not (-90 <= p.latitude <= 90 and -180 <= p.longitude <= 180) or (p.latitude == 0 and p.longitude == 0):
            out.unmatched[BAD_POSITION] += 1
            return None
        td = v.trip if v.HasField("trip") else None
        trip = None
        route_id = None
        if td is None or not (td.trip_id or td.route_id):
            out.unmatched[NO_TRIP] += 1
        elif td.schedule_relationship in _GONE_RELATIONSHIPS:
            out.unmatched[CANCELED] += 1
        elif td.schedule_relationship in _UNSCHEDULED_RELATIONSHIPS:
            out.unmatched[ADDED] += 1
        elif not td.trip_id:
            out.unmatched[NO_TRIP] += 1  # a route only (frequency shuttles): on the map, no schedule
        else:
            trip = index.trip(td.trip_id, td.start_time)
            if trip is None:
                # a frequency-based run the timetable has no instance of (UNSCHEDULED, or another start_time)
                unscheduled = td.schedule_relationship == TD.UNSCHEDULED or td.trip_id in index.templates
                out.unmatched[UNSCHEDULED if unscheduled else NOT_IN_TIMETABLE] += 1
        if trip is not None:
            route_id = trip.route_id
            out.matched += 1
        elif td is not None and (td.route_id or td.trip_id in index.templates):
            if td.route_id in index.route_types:
                route_id = td.route_id
            elif not td.route_id:
                route_id = index.templates[td.trip_id]
            else:
                out.unmatched[UNKNOWN_ROUTE] += 1
        seconds = v.timestamp or header_ts
        if not seconds:
            out.unmatched[NO_POSITION] += 1
            return None
        ts = _ts(seconds)
        vehicle_type = index.vehicle_type(route_id)
        capacity = passengers = 0
        if v.HasField("occupancy_percentage") or (v.HasField("occupancy_status") and v.occupancy_status in OCCUPANCY_SHARE):
            capacity = CAPACITY.get(vehicle_type, 60)
            share = (v.occupancy_percentage / 100 if v.HasField("occupancy_percentage")
                     else OCCUPANCY_SHARE[v.occupancy_status])
            passengers = round(capacity * share)
        stop_sequence = next_stop_id = None
        delay = None
        if trip is not None:
            pred = predictions.get(trip.trip_id)
            if trip.trip_id not in out.trips:
                date = service_date_of(index, trip, ts, td.start_date)
                out.trips[trip.trip_id] = (trip, date)
            served = self._served(v, trip, pred, seconds, p.latitude, p.longitude)
            stop_sequence = trip.seqs[served] if served >= 0 else None
            nxt = served + 1
            if nxt < len(trip.seqs):
                next_stop_id = trip.stop_ids[nxt]
                if pred is not None:
                    delay = pred.delay_at[nxt]
        return VehicleLocation(
            vehicle_id=vehicle_id[:128], vehicle_type=vehicle_type, route_id=route_id,
            trip_id=trip.trip_id if trip else None, latitude=p.latitude, longitude=p.longitude,
            bearing=p.bearing % 360 if p.HasField("bearing") else 0.0,
            speed=max(p.speed, 0.0) if p.HasField("speed") else 0.0,
            passenger_count=passengers, capacity=capacity, stop_sequence=stop_sequence, next_stop_id=next_stop_id,
            timestamp=ts, reported_delay_seconds=delay,
        )

    def _served(self, v: rt.VehiclePosition, trip: TripInfo, pred: _Predictions | None, seconds: int,
                lat: float, lon: float) -> int:
        """Index of the last stop served (-1: before the first)."""
        i = None
        if v.HasField("current_stop_sequence"):
            i = trip.index_of(v.current_stop_sequence)
        if i is None and v.stop_id:
            i = trip.index_of_stop(v.stop_id)
        if i is not None:
            return i if v.current_status == VP.STOPPED_AT else i - 1
        if pred is not None:
            for j in range(len(trip.seqs)):
                if j not in pred.skipped and pred.dep[j] > seconds:
                    return j if pred.arr[j] <= seconds else j - 1
            return len(trip.seqs) - 1
        return self._nearest_stretch(trip, lat, lon)

    def _nearest_stretch(self, trip: TripInfo, lat: float, lon: float) -> int:
        """The stop starting the stretch of the trip nearest (lat, lon) (flat-earth projection)."""
        import math

        kx = math.cos(math.radians(lat))
        best, best_d = -1, math.inf
        pts = [self.index.stops.get(s) for s in trip.stop_ids]
        for i in range(len(pts) - 1):
            a, b = pts[i], pts[i + 1]
            if a is None or b is None:
                continue
            ax, ay, bx, by = (a[1] - lon) * kx, a[0] - lat, (b[1] - lon) * kx, b[0] - lat
            dx, dy = bx - ax, by - ay
            t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / (dx * dx + dy * dy)))
            d = (ax + t * dx) ** 2 + (ay + t * dy) ** 2
            if d < best_d:
                best, best_d = i if t < 1.0 else i + 1, d
        return best

    def _estimated(self, tu: rt.TripUpdate, pred: _Predictions, out: Mapped) -> VehicleLocation | None:
        """A vehicle for a trip the TripUpdates predict and no position names, where the
        predictions put it at their time; None when the trip is not running then."""
        trip = pred.trip
        stops = [(trip.stop_ids[i], pred.arr[i], pred.dep[i]) for i in range(len(trip.seqs)) if i not in pred.skipped]
        where = self._place(stops, pred.timestamp)
        if where is None:
            return None
        k, lat, lon, bearing = where
        kept = [i for i in range(len(trip.seqs)) if i not in pred.skipped]
        served = kept[k] if k >= 0 else -1
        nxt = served + 1
        route_id = trip.route_id
        vehicle_type = self.index.vehicle_type(route_id)
        return VehicleLocation(
            vehicle_id=(tu.vehicle.id or trip.trip_id)[:128], vehicle_type=vehicle_type, route_id=route_id,
            trip_id=trip.trip_id, latitude=lat, longitude=lon, bearing=bearing,
            stop_sequence=trip.seqs[served] if served >= 0 else None,
            next_stop_id=trip.stop_ids[nxt] if nxt < len(trip.seqs) else None,
            timestamp=_ts(pred.timestamp), reported_delay_seconds=pred.delay_at[nxt] if nxt < len(trip.seqs) else None,
        )

    def _estimated_added(self, tu: rt.TripUpdate, header_ts: int) -> VehicleLocation | None:
        """An ADDED trip placed from its own stop time updates (stop ids and times)."""
        stops = []
        for u in tu.stop_time_update:
            a = u.arrival.time if u.HasField("arrival") else 0
            d = u.departure.time if u.HasField("departure") else 0
            if u.stop_id and (a or d):
                stops.append((u.stop_id, float(a or d), float(max(a, d))))
        seconds = tu.timestamp or header_ts
        where = self._place(stops, seconds)
        if where is None:
            return None
        _, lat, lon, bearing = where
        route_id = tu.trip.route_id if tu.trip.route_id in self.index.route_types else None
        return VehicleLocation(
            vehicle_id=(tu.vehicle.id or tu.trip.trip_id or "added")[:128],
            vehicle_type=self.index.vehicle_type(route_id), route_id=route_id, latitude=lat, longitude=lon,
            bearing=bearing, timestamp=_ts(seconds),
        )

    def _place(self, stops: list[tuple[str, float, float]], at: float) -> tuple[int, float, float, float] | None:
        """(index of the last stop served, lat, lon, bearing) at `at` along `stops` (stop_id,
        arrival, departure); None before the first departure or after the last arrival."""
        import math

        if len(stops) < 2 or at < stops[0][2] or at > stops[-1][1]:
            return None
        pos = self.index.stops
        for i in range(len(stops) - 1):
            (s0, _, d0), (s1, a1, _) = stops[i], stops[i + 1]
            if at < a1:
                p0, p1 = pos.get(s0), pos.get(s1)
                if p0 is None or p1 is None:
                    return None
                f = 0.0 if at <= d0 or a1 <= d0 else (at - d0) / (a1 - d0)
                lat, lon = p0[0] + f * (p1[0] - p0[0]), p0[1] + f * (p1[1] - p0[1])
                dx = (p1[1] - p0[1]) * math.cos(math.radians(p0[0]))
                bearing = math.degrees(math.atan2(dx, p1[0] - p0[0])) % 360
                return i, lat, lon, bearing
        last = pos.get(stops[-1][0])
        return (len(stops) - 1, last[0], last[1], 0.0) if last else None

    # -- alerts --------------------------------------------------------------------------------
    def _alert(self, e: rt.FeedEntity, header_ts: int) -> ServiceAlert:
        index = self.index
        a = e.alert
        header, lang = _text(a.header_text, index.lang)
        description, dlang = _text(a.description_text, index.lang)
        url, _ = _text(a.url, index.lang)
        entities = []
        for s in a.informed_entity:
            has_trip = s.HasField("trip")
            trip = index.trip(s.trip.trip_id, s.trip.start_time) if has_trip else None
            route_id = s.route_id or (s.trip.route_id if has_trip else "") or (trip.route_id if trip else "")
            entities.append(InformedEntity(
                agency_id=s.agency_id or None, route_id=route_id or None,
                route_type=s.route_type if s.HasField("route_type") else None,
                direction_id=s.direction_id if s.HasField("direction_id") else None,
                trip_id=(trip.trip_id if trip else s.trip.trip_id) if has_trip and s.trip.trip_id else None,
                stop_id=s.stop_id or None,
            ))
        periods = tuple(ActivePeriod(p.start if p.HasField("start") else None, p.end if p.HasField("end") else None)
                        for p in a.active_period)
        first = {f: next((getattr(x, f) for x in entities if getattr(x, f)), None) for f in ("route_id", "trip_id", "stop_id")}
        where = index.stops.get(first["stop_id"] or "")
        level = a.severity_level if a.HasField("severity_level") else rt.Alert.UNKNOWN_SEVERITY
        severity = {rt.Alert.INFO: 2, rt.Alert.WARNING: 3, rt.Alert.SEVERE: 4}.get(level) or (
            4 if a.effect == rt.Alert.NO_SERVICE else 3 if a.effect == rt.Alert.SIGNIFICANT_DELAYS else 2)
        starts = [p.start for p in periods if p.start]
        ts = _ts(header_ts)
        return ServiceAlert(
            alert_key=f"service:{index.name}:{e.id}"[:128], feed=index.name, severity=severity,
            route_id=first["route_id"], trip_id=first["trip_id"], stop_id=first["stop_id"],
            latitude=where[0] if where else None, longitude=where[1] if where else None,
            summary=(header or description or f"service alert {e.id}")[:500],
            detected_at=min(_ts(min(starts)), ts) if starts else ts, timestamp=ts,
            cause=rt.Alert.Cause.Name(a.cause) if a.HasField("cause") else "UNKNOWN_CAUSE",
            effect=rt.Alert.Effect.Name(a.effect) if a.HasField("effect") else "UNKNOWN_EFFECT",
            # the schema's bounds: texts cut at TEXT_LIMIT, at most 64 periods and 512 entities
            header=header[:TEXT_LIMIT], description=description[:TEXT_LIMIT], url=url[:TEXT_LIMIT],
            language=(lang or dlang or index.lang or "")[:35],
            active_periods=tuple(periods)[:64], informed_entities=tuple(entities)[:512],
        )


def schedule_rows(trip: TripInfo, date: dt.date, index: StaticIndex) -> list[StopSchedule]:
    """The stop_schedule records of one run of `trip` (what the simulator publishes for its trips)."""
    origin = service_day_origin(date, index.tz)
    return [
        StopSchedule(trip_id=trip.trip_id, stop_sequence=seq, stop_id=stop, route_id=trip.route_id,
                     scheduled_arrival=origin + dt.timedelta(seconds=arr), service_date=date)
        for seq, stop, arr in zip(trip.seqs, trip.stop_ids, trip.arr)
    ]
