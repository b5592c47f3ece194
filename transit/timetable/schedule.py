"""Reference data the rules look things up in: the stop schedule, traffic incidents, stop progress.

`Schedule` indexes `stop_schedule` records by trip and stop sequence. `deviation()` is the one
definition of schedule deviation, used by the delay rule and by the `live_vehicles` processor.
`StopProgress` follows a vehicle's reported stop progress and knows when it was first seen past
a stop (an "arrival"), which the deviation at that stop is measured from.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import threading
from dataclasses import dataclass, field

from streamcity.kernel.schemas import StopSchedule, TrafficIncident, VehicleLocation

MOVING_SPEED = 0.5  # m/s: faster than this, a vehicle is moving


@dataclass(frozen=True, slots=True)
class ScheduledStop:
    stop_sequence: int
    stop_id: str
    route_id: str | None
    arrival: dt.datetime
    departure: dt.datetime | None = None  # None: departs when it arrives (the schedule says no dwell)
    timepoint: bool = True  # False: approximate times (GTFS timepoint=0)
    direction_id: int | None = None

    @property
    def leaves(self) -> dt.datetime:
        return self.departure or self.arrival


class Schedule:
    """Scheduled arrivals by trip and stop sequence. Fed from another thread; reads are safe."""

    def __init__(self):
        self._trips: dict[str, dict[int, ScheduledStop]] = {}
        self._orders: dict[str, list[int]] = {}
        self._stops: set[str] = set()
        self._around: dict[str, dict[int | None, tuple[ScheduledStop | None, ScheduledStop | None]]] = {}
        self._lock = threading.Lock()
        self._count = 0
        self.version = 0  # moved by every apply(): what was looked up before may be out of date

    def __len__(self) -> int:
        return self._count  # kept by apply(): processors ask for every event (summing was O(trips))

    def apply(self, s: StopSchedule) -> None:
        with self._lock:
            stops = self._trips.setdefault(s.trip_id, {})
            self._count += s.stop_sequence not in stops
            stops[s.stop_sequence] = ScheduledStop(s.stop_sequence, s.stop_id, s.route_id, s.scheduled_arrival,
                                                   s.scheduled_departure, s.timepoint, s.direction_id)
            self._orders.pop(s.trip_id, None)
            self._around.pop(s.trip_id, None)
            self._stops.add(s.stop_id)
            self.version += 1

    def _order(self, trip_id: str) -> list[int]:
        order = self._orders.get(trip_id)
        if order is None:
            with self._lock:
                order = self._orders[trip_id] = sorted(self._trips.get(trip_id, ()))
        return order

    def has_trip(self, trip_id: str | None) -> bool:
        return trip_id is not None and trip_id in self._trips

    def has_stop(self, stop_id: str | None) -> bool:
        """Whether any scheduled trip serves `stop_id`."""
        return stop_id is not None and stop_id in self._stops

    def stop(self, trip_id: str | None, stop_sequence: int | None) -> ScheduledStop | None:
        if trip_id is None or stop_sequence is None:
            return None
        return self._trips.get(trip_id, {}).get(stop_sequence)

    def next_stop(self, trip_id: str | None, stop_sequence: int | None) -> ScheduledStop | None:
        """The stop after `stop_sequence` on the trip (the first stop when it is None)."""
        if trip_id is None:
            return None
        order = self._order(trip_id)
        i = 0 if stop_sequence is None else bisect.bisect_right(order, stop_sequence)
        return self._trips[trip_id][order[i]] if i < len(order) else None

    def around(self, trip_id: str | None,
               stop_sequence: int | None) -> tuple[ScheduledStop | None, ScheduledStop | None] | None:
        """(stop(trip_id, stop_sequence), next_stop(trip_id, stop_sequence)), kept per trip and stop
        (the rules ask for every report); None when the trip has no schedule."""
        cached = self._around.get(trip_id)  # type: ignore[arg-type]
        if cached is not None:
            hit = cached.get(stop_sequence)
            if hit is not None:
                return hit
        if trip_id is None or trip_id not in self._trips:
            return None
        answer = (self.stop(trip_id, stop_sequence), self.next_stop(trip_id, stop_sequence))
        with self._lock:  # apply() drops a trip's answers under the same lock
            if trip_id in self._trips:
                self._around.setdefault(trip_id, {})[stop_sequence] = answer
        return answer

    def is_first(self, trip_id: str | None, stop_sequence: int | None) -> bool:
        """Whether `stop_sequence` is the first stop of the trip (where it lays over before leaving)."""
        if trip_id is None or stop_sequence is None:
            return False
        order = self._order(trip_id)
        return bool(order) and stop_sequence <= order[0]

    def is_last(self, trip_id: str | None, stop_sequence: int | None) -> bool:
        if trip_id is None or stop_sequence is None:
            return False
        order = self._order(trip_id)
        return bool(order) and stop_sequence >= order[-1]


def deviation(now: dt.datetime, last: ScheduledStop | None, nxt: ScheduledStop | None,
              arrived_at: dt.datetime | None) -> int | None:
    """Schedule deviation in seconds (positive: late) of a vehicle that has served `last` and not `nxt`.

    Measured at the last stop served from when the vehicle was first seen past it (`arrived_at`);
    without that (just after a start) it is bounded from what is certain: it arrived no later than
    `now`. Between stops a vehicle already past the next stop's scheduled time is at least that
    late, so a vehicle held up between two stops becomes late before it reaches the next one.
    """
    # In whole seconds, floored, from each timedelta's days and seconds: floor(total_seconds())
    # exactly, without the float (floor is monotonic, so the floor of the worst is the worst floor).
    # A comparison settles the common cases (on time: before the next stop's scheduled time).
    worst = None
    if last is not None:
        if arrived_at is not None:
            d = arrived_at - last.arrival
            worst = d.days * 86400 + d.seconds
        elif now < last.arrival:
            d = now - last.arrival
            worst = d.days * 86400 + d.seconds
        else:
            worst = 0
    if nxt is not None:
        if now > nxt.arrival:  # past the next stop's scheduled time
            d = now - nxt.arrival
            behind = d.days * 86400 + d.seconds
            if worst is None or behind > worst:
                worst = behind
        elif worst is None:  # before the first stop: waiting at the terminal is not being early
            worst = 0
    return worst


def deviation_from_departure(now: dt.datetime, last: ScheduledStop, nxt: ScheduledStop | None,
                             departed_at: dt.datetime | None, waiting: bool) -> int:
    """Schedule deviation in seconds of a vehicle at or just past stop `last` (not its trip's last
    stop), measured from its departure there: a vehicle waiting at a stop (laying over at the start
    of its trip, or holding at a timepoint because it got there early) is not early, and it is late
    only once its scheduled departure has passed. `waiting`: it has not left yet; left at
    `departed_at`: that against the scheduled departure (leaving early is early). Between `last`
    and the next stop, past the next stop's scheduled time is at least that late."""
    leaves = last.leaves
    if waiting:
        worst = max(0, _seconds(now - leaves))
    elif departed_at is not None:
        worst = _seconds(departed_at - leaves)
    else:  # seen only after it left: when is not known, so not early
        worst = 0
    if worst < 0 and not last.timepoint:
        worst = 0  # against an approximate time (a timepoint=0 stop) nobody is early
    if nxt is not None and now > nxt.arrival:
        worst = max(worst, _seconds(now - nxt.arrival))
    return worst


def _seconds(d: dt.timedelta) -> int:
    return d.days * 86400 + d.seconds


def laying_over(e: VehicleLocation, progress: Progress, schedule: Schedule) -> bool:
    """Whether an in-service report is of a vehicle laying over: standing at the first stop of its
    trip, not moved since it got there, before the scheduled departure (for producers that do not
    report `layover` themselves)."""
    if e.status == "layover":
        return True
    if e.status != "in_service" or e.speed > MOVING_SPEED or progress.departed_at is not None:
        return False
    if not schedule.is_first(e.trip_id, e.stop_sequence):
        return False
    first = schedule.stop(e.trip_id, e.stop_sequence)
    return first is not None and e.timestamp < first.leaves


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(a)))


@dataclass(slots=True)
class _Incident:
    latitude: float
    longitude: float
    radius: float
    start: dt.datetime
    end: dt.datetime | None


class Incidents:
    """Traffic incidents and when each was active (event time)."""

    def __init__(self):
        self._by_id: dict[str, _Incident] = {}

    def apply(self, e: TrafficIncident) -> None:
        inc = self._by_id.get(e.incident_id)
        if inc is None:
            inc = self._by_id[e.incident_id] = _Incident(e.latitude, e.longitude, e.radius, e.timestamp, None)
        inc.latitude, inc.longitude, inc.radius = e.latitude, e.longitude, e.radius
        if e.status == "cleared":
            inc.end = e.timestamp
        else:
            inc.start, inc.end = min(inc.start, e.timestamp), None

    def active_near(self, latitude: float, longitude: float, at: dt.datetime, *, margin_m: float) -> bool:
        for inc in list(self._by_id.values()):
            if inc.start <= at and (inc.end is None or at < inc.end):
                if distance_m(latitude, longitude, inc.latitude, inc.longitude) <= inc.radius + margin_m:
                    return True
        return False


@dataclass(slots=True)
class Progress:
    trip_id: str | None
    stop_sequence: int | None
    arrived_at: dt.datetime | None  # first seen past stop_sequence; None when not seen happen
    latitude: float | None = None  # where that was
    longitude: float | None = None
    # The stops around it (Schedule.around) as of a Schedule.version, kept by delay.measure: the
    # vehicle's own object is at hand where the schedule's dictionaries are not (in cache).
    around: tuple | None = field(default=None, compare=False, repr=False)
    version: int = field(default=-1, compare=False, repr=False)
    # When it was first seen moving on from stop_sequence (its departure there), None until then.
    departed_at: dt.datetime | None = None
    stood: bool = False  # seen standing at stop_sequence (so its first move is its departure)


class StopProgress:
    """Each vehicle's last stop served, and when it was first seen past it."""

    def __init__(self):
        self._by_vehicle: dict[str, Progress] = {}
        self._last_event: VehicleLocation | None = None  # the last event observed, and its answer
        self._last_answer: tuple[Progress, bool] = (None, False)  # type: ignore[assignment]

    def observe(self, e: VehicleLocation) -> tuple[Progress, bool]:
        """The vehicle's progress after `e`, and whether `e` is the first report past a new stop.
        Observing the same event again (another rule sharing this progress) gives the same answer."""
        if e is self._last_event:
            return self._last_answer
        self._last_event = e
        p = self._by_vehicle.get(e.vehicle_id)
        if p is None:  # first sight: when it reached its current stop is unknown
            p = self._by_vehicle[e.vehicle_id] = Progress(e.trip_id, e.stop_sequence, None)
            p.stood = e.speed <= MOVING_SPEED
            answer = self._last_answer = (p, False)
            return answer
        if p.trip_id == e.trip_id and p.stop_sequence == e.stop_sequence:
            if e.speed <= MOVING_SPEED:
                p.stood = True
            elif p.departed_at is None and p.stood and e.status == "in_service":
                p.departed_at = e.timestamp  # seen standing there, now moving: its departure
            answer = self._last_answer = (p, False)
            return answer
        arrived = e.stop_sequence is not None
        p = self._by_vehicle[e.vehicle_id] = Progress(
            e.trip_id, e.stop_sequence, e.timestamp if arrived else None,
            e.latitude if arrived else None, e.longitude if arrived else None,
        )
        if arrived and e.speed > MOVING_SPEED and e.status == "in_service":
            p.departed_at = e.timestamp  # passed it without stopping
        p.stood = e.speed <= MOVING_SPEED
        answer = self._last_answer = (p, arrived)
        return answer


def measure(e: VehicleLocation, progress: Progress, schedule: Schedule) -> int | None:
    """The schedule deviation of `e` in seconds, or None when its trip has no schedule.
    `progress`: the vehicle's after `e` (StopProgress.observe), which keeps the stops around it.
    A report carrying the operator's own prediction (GTFS-Realtime TripUpdates) is taken at its word."""
    if e.reported_delay_seconds is not None:
        return e.reported_delay_seconds
    version = schedule.version
    if progress.version == version:
        around = progress.around
    else:
        around = schedule.around(e.trip_id, e.stop_sequence)
        if progress.trip_id == e.trip_id and progress.stop_sequence == e.stop_sequence:
            progress.around, progress.version = around, version
    if around is None:
        return None
    last, nxt = around
    if last is not None and nxt is not None and (
            progress.arrived_at is not None or progress.departed_at is not None
            or schedule.is_first(e.trip_id, e.stop_sequence)):
        # seen getting there, or at the start of its trip: from its departure (see deviation_from_departure)
        waiting = e.status == "layover" or (progress.departed_at is None and e.speed <= MOVING_SPEED)
        return deviation_from_departure(e.timestamp, last, nxt, progress.departed_at, waiting)
    return deviation(e.timestamp, last, nxt, progress.arrived_at)
