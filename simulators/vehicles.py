"""A vehicle working its block: drive each trip along its shape, stop, dwell, lay over, break down.

Driving: the driver aims to reach the next stop at its scheduled time (paced by the timetable),
never faster than the vehicle type's top speed times the road's factor (time-of-day congestion,
incidents within their radius, and a random factor per segment). A late vehicle drives as fast as
the road allows; at timepoints an early one waits. Buses stop only when someone wants to get on
or off; trams and trains stop everywhere. Dwell time grows with boardings and alightings, and a
late vehicle finds more riders waiting, which makes it later still: delays propagate and bunching
emerges on frequent lines. Pure Python; every random draw comes from the world's generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .demand import Demand, Rider
from .geo import haversine_m
from .network import CHAIN_RADIUS_M, BlockPlan, TripPlan
from .traffic import ROAD_EXPOSURE, Traffic

VMAX = {"bus": 19.5, "tram": 19.5, "rail": 33.0, "subway": 25.0, "ferry": 10.0, "cable": 6.0, "other": 16.0}  # m/s
ACCEL = {"rail": 0.7, "subway": 0.9, "ferry": 0.3, "cable": 0.5}  # m/s², default 1.0
BRAKE = {"rail": 0.9, "subway": 1.0, "ferry": 0.4, "cable": 0.6}  # m/s², default 1.3
DOOR_S = {"bus": 4.0, "tram": 6.0, "rail": 20.0, "subway": 15.0, "ferry": 45.0}  # open + close, default 5
BOARD_S = {"bus": 1.8, "tram": 0.6, "rail": 0.2, "subway": 0.15, "ferry": 0.5}  # per rider, default 1.5
ALIGHT_S = {"bus": 1.0, "tram": 0.4, "rail": 0.15, "subway": 0.1, "ferry": 0.4}  # per rider, default 1.0
STOP_EVERYWHERE = frozenset({"tram", "rail", "subway", "ferry", "cable"})
MIN_CRUISE = 3.0  # m/s: a driver does not crawl to keep to a slow timetable, he waits at a timepoint
RECOVERY = 1.4  # a late vehicle runs at most this much faster than the timetable's pace (lights, traffic)
HOLD_EARLY_S = 60.0  # more than this early at a timepoint: wait
PULL_OUT_S = 120.0  # a vehicle appears at its first stop this long before its first departure
DEADHEAD_LEAD_S = 300.0

IN_SERVICE, BROKEN_DOWN, OUT_OF_SERVICE = "in_service", "broken_down", "out_of_service"
LAYOVER, DEADHEAD = "layover", "deadhead"  # reported states (see report_status), not kept in `status`


class World(Protocol):
    """What a vehicle sees of the simulation."""

    rng: object
    demand: Demand
    traffic: Traffic
    road: dict[str, float]  # congestion factor per vehicle type, this tick
    breakdown_rate: float  # per vehicle and hour in service
    boarded: dict[str, int]  # riders boarded per vehicle

    def emit_tap(self, t: float, rider: Rider, stop_id: str, vehicle: "Vehicle") -> None: ...
    def record_call(self, vehicle: "Vehicle", index: int, t: float, boarded: int, alighted: int, dwell: float) -> None: ...
    def replace(self, vehicle: "Vehicle", t: float) -> None: ...


@dataclass(slots=True, eq=False)
class Vehicle:
    vehicle_id: str
    block: BlockPlan
    origin: float  # POSIX seconds where the block's service day counts from
    trip_index: int = 0
    phase: str = "waiting"  # waiting / driving / dwelling / broken / deadhead / done
    dist: float = 0.0
    speed: float = 0.0
    next: int = 0  # index of the next stop to reach
    last: int | None = None  # index of the last stop reached (served or passed)
    dwell_left: float = 0.0
    depart_at: float = 0.0
    until: float = 0.0  # end of a breakdown / deadhead
    will_stop: bool | None = None
    seg_factor: float = 1.0
    seg_limit: float = 99.0  # m/s this segment allows, from its scheduled running time
    onboard: int = 0
    left_behind: int = 0  # riders at the last stop served who found the vehicle full
    alight: list[int] = field(default_factory=list)
    status: str = IN_SERVICE
    replaced: bool = False

    @property
    def trip(self) -> TripPlan:
        return self.block.trips[min(self.trip_index, len(self.block.trips) - 1)]

    @property
    def capacity(self) -> int:
        return self.block.route.capacity

    @property
    def vehicle_type(self) -> str:
        return self.block.route.vehicle_type

    # -- placing ----------------------------------------------------------------------------------

    def start_trip(self, w: World, index: int, t: float) -> None:
        """Begin trip `index` of the block at its first stop (boarding, then waiting to depart)."""
        self.trip_index = index
        trip = self.trip
        self.dist = trip.dists[0]
        self.alight = [0] * len(trip.stop_ids)
        self.onboard = 0
        self.status = IN_SERVICE
        self.next = 0
        self.last = None
        self._arrive(w, t)

    def place(self, w: World, t: float) -> None:
        """Put the vehicle where its schedule says it is at `t` (the simulation's start)."""
        trips = self.block.trips
        for k, trip in enumerate(trips):
            if t < self.origin + trip.end:
                break
        else:
            k = len(trips) - 1
        trip = trips[k]
        if t <= self.origin + trip.pace[0]:  # before the trip: at its first stop
            self.start_trip(w, k, t)
            return
        self.trip_index = k
        self.alight = [0] * len(trip.stop_ids)
        pace = trip.pace
        i = max(j for j in range(len(pace) - 1) if self.origin + pace[j] <= t)
        span = pace[i + 1] - pace[i]
        frac = (t - self.origin - pace[i]) / span if span > 0 else 1.0
        self.dist = trip.dists[i] + frac * (trip.dists[i + 1] - trip.dists[i])
        self.last, self.next = i, i + 1
        self.speed = min(VMAX.get(self.vehicle_type, 16.0), (trip.dists[i + 1] - trip.dists[i]) / max(span, 1.0))
        self.phase = "driving"
        self._new_segment(w)
        n = len(trip.stop_ids)
        self.onboard = w.demand.initial_load(trip, i, self.capacity, t)
        for _ in range(self.onboard):
            self.alight[w.rng.randint(i + 1, n - 1)] += 1

    # -- stepping ---------------------------------------------------------------------------------

    def advance(self, w: World, t: float, dt: float) -> None:
        """Move the vehicle on by `dt` simulated seconds from `t` (dt of a second or so)."""
        end = t + dt
        guard = 0
        while t < end - 1e-9 and guard < 50:
            guard += 1
            phase = self.phase
            if phase == "driving":
                if w.breakdown_rate > 0 and w.rng.random() < w.breakdown_rate * (end - t) / 3600:
                    self._break_down(w, t)
                    continue
                t = self._drive(w, t, end)
            elif phase == "dwelling":
                used = min(self.dwell_left, end - t)
                self.dwell_left -= used
                t += used
                if self.dwell_left <= 1e-9:
                    self._after_dwell(w, t)
            elif phase == "waiting":
                self._board(w, self.last if self.last is not None else 0, t)
                if t >= self.depart_at:
                    self._depart(w)
                else:
                    t = min(end, self.depart_at)
            elif phase == "broken":
                if t >= self.until:
                    self.phase, self.status, self.speed = "done", OUT_OF_SERVICE, 0.0  # towed away
                    self.onboard = 0
                t = end
            elif phase == "deadhead":
                if t >= self.until:
                    self.start_trip(w, self.trip_index + 1, t)
                else:
                    t = min(end, self.until)
            else:
                t = end

    def _drive(self, w: World, t: float, end: float) -> float:
        trip = self.trip
        dt = end - t
        vt = self.vehicle_type
        target_d = trip.dists[self.next]
        remaining = target_d - self.dist
        top = VMAX.get(vt, 16.0)
        factor = w.road.get(vt, 1.0) * self.seg_factor
        if w.traffic.active and vt in ROAD_EXPOSURE:
            lat, lon = trip.shape.at(self.dist)
            inc = w.traffic.factor_at(lat, lon, t)
            if inc < 1.0:
                factor *= 1.0 - (1.0 - inc) * ROAD_EXPOSURE[vt]
        vmax = min(top, top * factor, self.seg_limit * factor)
        avail = self.origin + trip.pace[self.next] - t
        desired = remaining / avail * 1.1 if avail > 2 else vmax
        target = min(max(desired, MIN_CRUISE), vmax)
        brake = BRAKE.get(vt, 1.3)
        v = self.speed
        if self.will_stop is None and remaining <= v * v / (2 * brake) + 2 * v + 10:
            self.will_stop = self._wants_stop(w, t)
        if self.will_stop and remaining <= v * v / (2 * brake) + v * dt * 0.5 + 0.5:
            # braking onto the stop
            if remaining <= 0.5:
                self.dist, self.speed = target_d, 0.0
                self._arrive(w, t)
                return t
            decel = v * v / (2 * remaining)
            nv = max(v - decel * dt, 0.0)
            move = (v + nv) / 2 * dt
            if move >= remaining - 0.3 or nv < 0.3:
                used = min(dt, remaining / max((v + nv) / 2, 0.3))
                self.dist, self.speed = target_d, 0.0
                self._arrive(w, t + used)
                return t + used
            self.speed, self.dist = nv, self.dist + move
            return end
        accel = ACCEL.get(vt, 1.0)
        nv = min(target, v + accel * dt) if v < target else max(target, v - brake * dt)
        move = (v + nv) / 2 * dt
        self.speed = nv
        if self.will_stop and move >= remaining:
            used = min(dt, remaining / max((v + nv) / 2, 0.3))
            self.dist, self.speed = target_d, 0.0
            self._arrive(w, t + used)
            return t + used
        self.dist += move
        # stops passed without stopping (nobody to pick up or set down)
        n = len(trip.stop_ids)
        while self.next < n - 1 and self.dist >= trip.dists[self.next]:
            if self.will_stop is None:
                self.will_stop = self._wants_stop(w, t)
            if self.will_stop:  # noticed late: stop here
                self.dist, self.speed = trip.dists[self.next], 0.0
                self._arrive(w, end)
                return end
            w.record_call(self, self.next, end, 0, 0, 0.0)
            self.left_behind = 0
            self.last = self.next
            self.next += 1
            self.will_stop = None
            self._new_segment(w)
        if self.next == n - 1 and self.dist >= trip.dists[self.next]:
            self.dist, self.speed = trip.dists[self.next], 0.0
            self._arrive(w, end)
        return end

    def _wants_stop(self, w: World, t: float) -> bool:
        trip = self.trip
        i = self.next
        if i == len(trip.stop_ids) - 1 or self.vehicle_type in STOP_EVERYWHERE or self.alight[i] > 0:
            return True
        if trip.pickup[i] and self.onboard < self.capacity and w.demand.waiting(
            (trip.stop_ids[i], trip.route.route_id, trip.direction), t
        ):
            return True
        return trip.timepoint[i] and self.origin + trip.dep[i] - t > HOLD_EARLY_S

    def _board(self, w: World, i: int, t: float) -> int:
        trip = self.trip
        if i >= len(trip.stop_ids) - 1 or not trip.pickup[i] or self.status != IN_SERVICE:
            return 0
        key = (trip.stop_ids[i], trip.route.route_id, trip.direction)
        space = self.capacity - self.onboard
        riders = w.demand.board(key, t, space) if space > 0 else []
        n = len(trip.stop_ids)
        per = BOARD_S.get(self.vehicle_type, 1.5)
        for k, rider in enumerate(riders):
            mean = max(1.5, min(10.0, 0.3 * (n - 1 - i)))  # stops ridden
            dest = i + 1 + min(int(w.rng.expovariate(1 / mean)), n - 2 - i)
            self.alight[dest] += 1
            if not rider.tapped:
                w.emit_tap(t + k * per, rider, trip.stop_ids[i], self)
        self.onboard += len(riders)
        w.boarded[self.vehicle_id] += len(riders)
        if self.onboard >= self.capacity:  # full: whoever still waits is left behind
            left = w.demand.count_waiting(key, t)
            if left > self.left_behind:
                self.left_behind = left
                w.record_left_behind(self, i, left)
        return len(riders)

    def _arrive(self, w: World, t: float) -> None:
        trip = self.trip
        i = self.next
        self.last = i
        self.left_behind = 0
        self.speed = 0.0
        self.will_stop = None
        vt = self.vehicle_type
        alighting = self.alight[i] if i < len(trip.stop_ids) - 1 else self.onboard
        self.alight[i] = 0
        self.onboard -= alighting
        boarded = self._board(w, i, t)
        dwell = DOOR_S.get(vt, 5.0) + BOARD_S.get(vt, 1.5) * boarded + ALIGHT_S.get(vt, 1.0) * alighting
        dwell += w.rng.uniform(0.0, 2.0)
        self.dwell_left = dwell
        self.phase = "dwelling"
        w.record_call(self, i, t, boarded, alighting, dwell)

    def _after_dwell(self, w: World, t: float) -> None:
        trip = self.trip
        i = self.last
        if i >= len(trip.stop_ids) - 1:
            self._finish_trip(w, t)
            return
        scheduled = self.origin + trip.dep[i]
        if i == 0:
            self.depart_at = scheduled
        elif trip.timepoint[i] and scheduled - t > HOLD_EARLY_S:
            self.depart_at = scheduled - 30
        else:
            self.depart_at = t
        if self.depart_at > t:
            self.phase = "waiting"
        else:
            self._depart(w)

    def _depart(self, w: World) -> None:
        self.phase = "driving"
        self.next = (self.last or 0) + 1
        self.will_stop = None
        self._new_segment(w)

    def _new_segment(self, w: World) -> None:
        """Entering the segment to stop `next`: its own traffic, and the speed it allows."""
        self.seg_factor = w.rng.uniform(0.85, 1.1)
        trip, i = self.trip, self.next
        if 0 < i < len(trip.dists):
            length = trip.dists[i] - trip.dists[i - 1]
            scheduled = trip.pace[i] - trip.pace[i - 1]
            self.seg_limit = max(MIN_CRUISE + 3.0, RECOVERY * length / max(scheduled, 5.0))
        else:
            self.seg_limit = 99.0

    def _finish_trip(self, w: World, t: float) -> None:
        self.onboard = 0
        k = self.trip_index + 1
        if k >= len(self.block.trips):
            self.phase, self.status = "done", OUT_OF_SERVICE
            return
        here, nxt = self.trip, self.block.trips[k]
        if haversine_m(here.positions[-1], nxt.positions[0]) <= CHAIN_RADIUS_M * 1.5:
            self.start_trip(w, k, t)
        else:  # an empty run to the next trip's first stop: shown where it left until it gets there
            self.phase, self.status = "deadhead", DEADHEAD
            self.until = max(t, self.origin + nxt.start - DEADHEAD_LEAD_S)
            self.speed = 0.0

    def _break_down(self, w: World, t: float) -> None:
        self.phase, self.status, self.speed = "broken", BROKEN_DOWN, 0.0
        self.until = t + w.rng.uniform(20, 45) * 60  # towed away then
        w.replace(self, t)

    # -- reporting --------------------------------------------------------------------------------

    def departure(self) -> float:
        """When the current trip leaves its first stop (scheduled), POSIX seconds."""
        return self.origin + self.trip.dep[0]

    def report_status(self, t: float) -> str:
        """What the vehicle says it is doing at `t`: `layover` at the first stop of its trip before
        the scheduled departure (once the departure is due and it has not left, it is in service and
        late), `deadhead` driving empty to its next trip, else its status."""
        if (self.status == IN_SERVICE and self.last == 0 and self.phase in ("dwelling", "waiting")
                and t < self.departure()):
            return LAYOVER
        return self.status

    def position(self) -> tuple[float, float]:
        return self.trip.shape.at(self.dist)

    def bearing(self) -> float:
        return self.trip.shape.bearing_at(self.dist)
