"""Rider demand: people arrive at stops, wait for their route and direction, and board.

Arrivals at each (stop, route, direction) follow a Poisson process whose rate grows with the
service offered there (calls per hour), the stop's importance (a hub served by many routes,
stops early in a trip) and a time-of-day profile with morning and evening peaks. Surges (scripted
or random) multiply the rate at one stop for a while.

Where the tap-on happens depends on the mode: at rail, tram, metro and ferry stops riders tap at
the stop's validators when they arrive; on buses they tap on board, when they board — so the loads
vehicles report are always consistent with the taps. Riders who wait too long give up. Pure Python.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict, deque
from dataclasses import dataclass, field

from .network import TripPlan

# Riders per scheduled call at a stop, by vehicle type (before weights and profile).
RIDERS_PER_CALL = {"bus": 1.2, "tram": 2.0, "rail": 12.0, "subway": 14.0, "ferry": 8.0, "cable": 2.0, "other": 1.0}
STATION_TYPES = frozenset({"tram", "rail", "subway", "ferry", "cable"})
PATIENCE_S = 40 * 60
_WINDOW_S = 3600  # calls per hour are counted over this window around now

# How much busier than the service level alone the hour is (index: local hour), weekday / weekend.
PEAKINESS_WEEKDAY = [0.5, 0.4, 0.4, 0.4, 0.5, 0.7, 1.0, 1.45, 1.5, 1.1, 0.9, 0.9,
                     1.0, 1.0, 1.0, 1.15, 1.35, 1.4, 1.1, 0.9, 0.8, 0.7, 0.6, 0.55]
PEAKINESS_WEEKEND = [0.6, 0.5, 0.5, 0.4, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.05,
                     1.1, 1.1, 1.1, 1.05, 1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65]

Key = tuple[str, str, str]  # stop_id, route_id, direction


@dataclass(slots=True)
class Rider:
    rider_id: str
    arrived: float  # POSIX seconds
    tapped: bool  # tapped on at the stop already (stations) or before the simulation began


@dataclass(slots=True)
class Surge:
    stop_id: str
    start: float
    end: float
    factor: float


@dataclass(slots=True)
class Tap:
    """A tap-on to publish: at a stop (vehicle None) or on board."""

    t: float
    rider_id: str
    stop_id: str
    vehicle_id: str | None
    route_id: str | None


@dataclass(slots=True)
class _Source:
    stop_id: str
    route_id: str
    station: bool
    weight: float  # hub and position-in-trip weight
    per_call: float
    calls: list[float] = field(default_factory=list)  # scheduled departures here, POSIX seconds, sorted
    rate: float = 0.0  # riders per second, refreshed every simulated minute
    normal: float = 0.0  # the same without surges: what is usual here at this time


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Demand:
    def __init__(self, rng: random.Random, *, routes_at_stop: dict[str, int], run_id: str = "sim",
                 scale: float = 1.0, surge_rate: float = 0.0):
        self.rng = rng
        self.run_id = run_id
        self.scale = scale
        self.surge_rate = surge_rate
        self.routes_at_stop = routes_at_stop
        self.sources: dict[Key, _Source] = {}
        self.queues: dict[Key, deque[Rider]] = defaultdict(deque)
        self.surges: list[Surge] = []
        self._minute = None
        self._local_hour = 0.0
        self._weekend = False
        self.taps = 0
        self.abandoned = 0
        # riders per hour usual at a stop now (surges left out), (stop_id, tapped at the stop) -> rate
        self.normal_per_hour: dict[tuple[str, bool], float] = {}

    # -- set-up ---------------------------------------------------------------------------------

    def add_trips(self, trips: list[TripPlan], origin: float) -> None:
        """Register the calls of a service day's trips (`origin`: that day's time origin)."""
        touched = set()
        for trip in trips:
            n = len(trip.stop_ids)
            per_call = RIDERS_PER_CALL.get(trip.route.vehicle_type, 1.0)
            station = trip.route.vehicle_type in STATION_TYPES
            for i in range(n - 1):  # nobody boards at the last stop
                if not trip.pickup[i]:
                    continue
                key = (trip.stop_ids[i], trip.route.route_id, trip.direction)
                # more riders board early in a trip than near its end; hubs are busier
                hub = 1 + 0.15 * min(self.routes_at_stop.get(trip.stop_ids[i], 1) - 1, 6)
                weight = (1.5 - 1.2 * i / max(n - 1, 1)) * hub
                src = self.sources.get(key)
                if src is None:
                    src = self.sources[key] = _Source(trip.stop_ids[i], trip.route.route_id, station, weight, per_call)
                else:
                    src.weight = max(src.weight, weight)
                src.calls.append(origin + trip.dep[i])
                touched.add(key)
        for key in touched:
            self.sources[key].calls.sort()
        self._minute = None

    def add_surge(self, stop_id: str, start: float, factor: float, duration_s: float = 15 * 60) -> Surge:
        s = Surge(stop_id, start, start + duration_s, factor)
        self.surges.append(s)
        return s

    def seed_queues(self, t: float, local_hour: float, weekend: bool) -> None:
        """Riders already waiting when the simulation starts (at stations they tapped on before)."""
        self._refresh(t, local_hour, weekend)
        for key, src in self.sources.items():
            if src.rate <= 0:
                continue
            calls = self._calls_per_hour(src, t)
            wait = min(1800.0, 1800.0 / max(calls, 1.0))  # about half a headway
            for _ in range(poisson(self.rng, src.rate * wait)):
                self.queues[key].append(Rider(self._rider_id(), t - self.rng.uniform(0, wait), src.station))

    # -- running --------------------------------------------------------------------------------

    def _rider_id(self) -> str:
        return f"r{self.rng.getrandbits(48):012x}"

    @staticmethod
    def _calls_per_hour(src: _Source, t: float) -> float:
        lo = bisect.bisect_left(src.calls, t - _WINDOW_S / 2)
        hi = bisect.bisect_right(src.calls, t + _WINDOW_S / 2)
        return (hi - lo) * 3600 / _WINDOW_S

    def _surge_factor(self, stop_id: str, t: float) -> float:
        f = 1.0
        for s in self.surges:
            if s.stop_id == stop_id and s.start <= t < s.end:
                f *= s.factor
        return f

    def _refresh(self, t: float, local_hour: float, weekend: bool) -> None:
        minute = int(t // 60)
        if minute == self._minute:
            return
        self._minute = minute
        self._local_hour, self._weekend = local_hour, weekend
        table = PEAKINESS_WEEKEND if weekend else PEAKINESS_WEEKDAY
        h = int(local_hour) % 24
        peak = table[h] + (table[(h + 1) % 24] - table[h]) * (local_hour - int(local_hour))
        surging = {s.stop_id for s in self.surges if s.start <= t + 60 and s.end > t}
        normal: dict[tuple[str, bool], float] = defaultdict(float)
        for src in self.sources.values():
            calls = self._calls_per_hour(src, t)
            rate = calls * src.per_call * src.weight * peak * self.scale / 3600
            src.normal = rate
            normal[(src.stop_id, src.station)] += rate * 3600
            if src.stop_id in surging:
                rate *= self._surge_factor(src.stop_id, t)
            src.rate = rate
        self.normal_per_hour = normal

    def expected_per_hour(self, stop_id: str, *, at_stop: bool) -> float:
        """Taps per hour usual at `stop_id` now (surges left out): riders arriving at the stop's
        validators (`at_stop`, stations) or boarding the vehicles that call there (buses)."""
        return round(self.normal_per_hour.get((stop_id, at_stop), 0.0), 3)

    def arrivals(self, t0: float, t1: float, local_hour: float, weekend: bool) -> list[Tap]:
        """Riders arriving in [t0, t1); returns the tap-ons made at stations."""
        if self.surge_rate > 0 and self.rng.random() < self.surge_rate * (t1 - t0) / 3600:
            self._random_surge(t0)
        self._refresh(t0, local_hour, weekend)
        taps = []
        span = t1 - t0
        for key, src in self.sources.items():
            if src.rate <= 0:
                continue
            n = poisson(self.rng, src.rate * span)
            if not n:
                continue
            q = self.queues[key]
            for t in sorted(t0 + self.rng.random() * span for _ in range(n)):
                rider = Rider(self._rider_id(), t, src.station)
                q.append(rider)
                if src.station:
                    taps.append(Tap(t, rider.rider_id, src.stop_id, None, None))
        self.taps += len(taps)
        return taps

    def _random_surge(self, t: float) -> None:
        busy = [s for s in self.sources.values() if s.rate > 0]
        if not busy:
            return
        src = self.rng.choices(busy, [s.weight * s.per_call for s in busy])[0]
        self.add_surge(src.stop_id, t, self.rng.uniform(4, 10), self.rng.uniform(10, 20) * 60)

    def board(self, key: Key, t: float, space: int) -> list[Rider]:
        """Up to `space` riders waiting at `key`, first come first served; the impatient have left."""
        q = self.queues.get(key)
        if not q:
            return []
        while q and t - q[0].arrived > PATIENCE_S:
            q.popleft()
            self.abandoned += 1
        out = []
        while q and len(out) < space and q[0].arrived <= t:  # riders of later in this tick are not there yet
            out.append(q.popleft())
        return out

    def count_waiting(self, key: Key, t: float) -> int:
        """How many riders wait at `key` at time `t` (those who have not given up yet)."""
        q = self.queues.get(key)
        if not q:
            return 0
        n = 0
        for rider in q:
            if rider.arrived > t:
                break
            if t - rider.arrived <= PATIENCE_S:
                n += 1
        return n

    def waiting(self, key: Key, t: float) -> bool:
        """Is anyone waiting at `key` at time `t`?"""
        q = self.queues.get(key)
        return bool(q) and q[0].arrived <= t

    def initial_load(self, trip: TripPlan, index: int, capacity: int, t: float) -> int:
        """Riders on board a vehicle placed mid-trip when the simulation starts."""
        src = self.sources.get((trip.stop_ids[0], trip.route.route_id, trip.direction))
        per_call = src.rate * 3600 / max(self._calls_per_hour(src, t), 1.0) if src else 0.5
        return min(capacity, poisson(self.rng, per_call * min(index + 1, 8) * 0.6))
