"""The simulation: a network's service days, the vehicles working them, riders and traffic, a clock.

`Simulation.tick(wall_seconds)` advances simulated time by `wall_seconds * speed` in steps of at
most a second and returns the events of that stretch: one VehicleLocation per vehicle in service,
the tap-ons, incidents that started or cleared, and the stop schedule of any service day that
became due (at the start, and before each new day). Pure Python, deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

from streamcity.kernel.schemas import (
    RIDER_TAPPED_ON,
    STOP_SCHEDULE,
    TRAFFIC_INCIDENTS,
    VEHICLE_LOCATIONS,
    RiderTappedOn,
    StopSchedule,
    TrafficIncident,
    VehicleLocation,
    encode,
    event_key,
)

from .demand import Demand, Rider
from .network import BlockPlan, Network, TripPlan, service_day_origin
from .traffic import ROAD_EXPOSURE, Incident, Traffic, congestion
from .vehicles import PULL_OUT_S, Vehicle

logger = logging.getLogger(__name__)

SUBSTEP_S = 1.0
PREPARE_AHEAD_S = 3 * 3600  # load the next service day this long before its midnight
UTC = dt.timezone.utc


@dataclass(frozen=True)
class SurgeSpec:
    """`STOP_ID@HH:MM[xFACTOR]`: riders arrive FACTOR times as fast at the stop for 15 minutes."""

    stop_id: str
    at: dt.time
    factor: float = 8.0
    minutes: float = 15.0

    @classmethod
    def parse(cls, text: str) -> SurgeSpec:
        try:
            stop_id, rest = text.rsplit("@", 1)
            when, _, factor = rest.partition("x")
            hh, mm = when.split(":")
            return cls(stop_id, dt.time(int(hh), int(mm)), float(factor) if factor else 8.0)
        except ValueError:
            raise ValueError(f"not STOP_ID@HH:MM[xFACTOR]: {text!r}") from None


@dataclass
class Call:
    """A vehicle at a stop (recorded when `record_calls` is on; for tests and analysis)."""

    vehicle_id: str
    trip_id: str
    stop_id: str
    stop_sequence: int
    t: float
    scheduled: float
    boarded: int
    alighted: int
    dwell: float  # 0 when passed without stopping
    onboard: int


@dataclass
class Tick:
    vehicles: list[VehicleLocation] = field(default_factory=list)
    taps: list[RiderTappedOn] = field(default_factory=list)
    incidents: list[TrafficIncident] = field(default_factory=list)
    schedule: list[StopSchedule] = field(default_factory=list)
    # simulated time (ms) each schedule row became due, one per row: its Kafka record timestamp
    schedule_at: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.vehicles) + len(self.taps) + len(self.incidents) + len(self.schedule)


@dataclass
class _Day:
    date: dt.date  # the calendar date simulated
    timetable: dt.date  # the feed date whose timetable runs that day
    origin: float
    blocks: list[BlockPlan]
    trips: list[TripPlan]


@dataclass
class SimClock:
    """Simulated time: `start` plus wall seconds elapsed times `speed`."""

    start: dt.datetime
    speed: float = 1.0
    elapsed_s: float = 0.0

    @property
    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.elapsed_s)


def _ts(t: float) -> dt.datetime:
    """An event timestamp: UTC, milliseconds."""
    return dt.datetime.fromtimestamp(round(t, 3), UTC)


class Simulation:
    def __init__(
        self,
        network: Network,
        *,
        seed: int = 7,
        start: dt.datetime | dt.time | None = None,
        date: dt.date | None = None,
        speed: float = 1.0,
        vehicles: int | None = None,
        breakdown_rate: float = 0.0,
        incident_rate: float = 0.0,
        surges: list[SurgeSpec] = (),
        surge_rate: float = 0.0,
        demand_scale: float = 1.0,
        record_calls: bool = False,
    ):
        self.network = network
        self.tz = network.tz
        self.seed = seed
        self.cap = vehicles
        self.breakdown_rate = breakdown_rate
        now = dt.datetime.now(self.tz)
        if start is None:
            start = now
        if isinstance(start, dt.time):
            start = dt.datetime.combine(date or now.date(), start, tzinfo=self.tz)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=self.tz)
        elif date is not None:
            start = start.astimezone(self.tz)
        if date is not None:
            start = dt.datetime.combine(date, start.astimezone(self.tz).time(), tzinfo=self.tz)
        self.t = start.timestamp()
        self.clock = SimClock(start.astimezone(UTC), speed)
        self.run_id = f"{seed}-{int(self.t)}"
        self.rng = random.Random(f"vehicles-{seed}")
        routes_at_stop: dict[str, set] = defaultdict(set)
        for trip in network.trips:
            for s in trip.stop_ids:
                routes_at_stop[s].add(trip.route.route_id)
        self.demand = Demand(random.Random(f"demand-{seed}"), routes_at_stop={k: len(v) for k, v in routes_at_stop.items()},
                             run_id=self.run_id, scale=demand_scale, surge_rate=surge_rate)
        self.traffic = Traffic(random.Random(f"traffic-{seed}"), rate_per_hour=incident_rate, run_id=self.run_id)
        self.road: dict[str, float] = {}
        self.days: dict[dt.date, _Day] = {}
        self.vehicles: list[Vehicle] = []
        self._pending: list[tuple[float, int, Vehicle]] = []  # (appear at, n, vehicle)
        self._n = 0
        self._schedule_due: list[tuple[float, int, list[StopSchedule]]] = []
        self._schedule_until: dict[str, float] = {}  # trip_id -> end of its latest instance published
        self._taps: list[RiderTappedOn] = []
        self._incident_events: list[TrafficIncident] = []
        self._tap_n = 0
        self.calls: list[Call] | None = [] if record_calls else None
        self.skipped_blocks = 0
        self.boarded: dict[str, int] = defaultdict(int)
        # (vehicle, trip, stop_sequence) -> riders left behind there, the vehicle full (with record_calls)
        self.left_behind: dict[tuple[str, str, int], int] = {}
        self.breakdowns = 0
        self.notes: list[str] = []
        self.service_days: dict[dt.date, tuple[dt.date, str]] = {}  # date -> (its timetable's date, why)
        self._notes_by_date: dict[dt.date, str] = {}

        local = start.astimezone(self.tz)
        self._set_road(self.t)
        for d in (local.date() - dt.timedelta(days=1), local.date()):
            self._load_day(d)
        self._start_vehicles()
        self.demand.seed_queues(self.t, *self._local_hour(self.t))
        for spec in surges:
            self.add_surge(spec)

    # -- days -------------------------------------------------------------------------------------

    def _local_hour(self, t: float) -> tuple[float, bool]:
        local = dt.datetime.fromtimestamp(t, self.tz)
        return local.hour + local.minute / 60 + local.second / 3600, local.weekday() >= 5

    def _load_day(self, date: dt.date) -> None:
        timetable, why = self.network.service_day(date)
        self.service_days[date] = (timetable, why)
        if why == "requested":
            logger.info("service day %s (%s) of %s: its own timetable", date, f"{date:%a}", self.network.name)
        if timetable != date or why == "no service":
            if why == "no service":
                note = f"{date} ({date:%a}): the feed {self.network.name} has no service on any day"
            else:
                note = (f"{date} ({date:%a}) has no service in the feed: running the timetable of "
                        f"{timetable} ({timetable:%a}, {why})")
            if note not in self.notes:
                self.notes.append(note)
                self._notes_by_date[date] = note
                logger.warning("%s", note)
        origin = service_day_origin(date, self.tz)
        day = _Day(date, timetable, origin, self.network.blocks_on(timetable), self.network.trips_on(timetable))
        self.days[date] = day
        self.demand.add_trips([t for t in day.trips if origin + t.end > self.t], origin)
        # the stop schedule of that day's trips still to run; a trip id whose previous day's run
        # is not over yet is published when that run ends (the topic keeps one row per key)
        now_batch, later = [], defaultdict(list)
        for trip in day.trips:
            end = origin + trip.end
            if end <= self.t:
                continue
            events = self._schedule_events(trip, day)
            busy_until = self._schedule_until.get(trip.trip_id, 0.0)
            if busy_until > self.t:
                later[busy_until + 60].extend(events)
            else:
                now_batch.extend(events)
            self._schedule_until[trip.trip_id] = end
        if now_batch:
            self._push_schedule(self.t, now_batch)
        for due, events in later.items():
            self._push_schedule(due, events)
        # vehicles that appear later
        for block in day.blocks:
            appear = origin + block.start - PULL_OUT_S
            if appear > self.t:
                v = Vehicle(block.vehicle_id, block, origin)
                self._n += 1
                heapq.heappush(self._pending, (appear, self._n, v))

    def _push_schedule(self, due: float, events: list[StopSchedule]) -> None:
        self._n += 1
        heapq.heappush(self._schedule_due, (due, self._n, events))

    @staticmethod
    def _schedule_events(trip: TripPlan, day: _Day) -> list[StopSchedule]:
        return [
            StopSchedule(trip_id=trip.trip_id, stop_sequence=seq, stop_id=stop, route_id=trip.route.route_id,
                         scheduled_arrival=_ts(day.origin + arr), service_date=day.date,
                         scheduled_departure=_ts(day.origin + dep) if dep != arr else None,
                         direction_id=int(trip.direction) if trip.direction in ("0", "1") else None, timepoint=exact)
            for seq, stop, arr, dep, exact in zip(trip.stop_seqs, trip.stop_ids, trip.arr, trip.dep, trip.timepoint)
        ]

    def _start_vehicles(self) -> None:
        """The vehicles in service at the start, placed where their schedules say (at most `cap`)."""
        candidates = []
        for day in self.days.values():
            for block in day.blocks:
                appear, end = day.origin + block.start - PULL_OUT_S, day.origin + block.end
                if appear <= self.t < end:
                    on_trip = any(day.origin + t.start <= self.t < day.origin + t.end for t in block.trips)
                    candidates.append((not on_trip, block.vehicle_id, day, block))
        pick = random.Random(f"fleet-{self.seed}")
        pick.shuffle(candidates)
        candidates.sort(key=lambda c: c[0])  # vehicles on a trip first (stable: shuffled within)
        if self.cap is not None:
            self.skipped_blocks += max(0, len(candidates) - self.cap)
            candidates = candidates[: self.cap]
        candidates.sort(key=lambda c: (c[2].date, c[1]))
        for _, _, day, block in candidates:
            v = Vehicle(self._unique_id(block.vehicle_id), block, day.origin)
            v.place(self, self.t)
            self.vehicles.append(v)

    def _unique_id(self, vehicle_id: str) -> str:
        taken = {v.vehicle_id for v in self.vehicles}
        while vehicle_id in taken:
            vehicle_id += "'"
        return vehicle_id

    # -- hooks the vehicles call (see vehicles.World) ---------------------------------------------

    def emit_tap(self, t: float, rider: Rider, stop_id: str, vehicle: Vehicle) -> None:
        self._taps.append(self._tap_event(t, rider.rider_id, stop_id, vehicle.vehicle_id, vehicle.block.route.route_id))

    def _tap_event(self, t: float, rider_id: str, stop_id: str, vehicle_id: str | None, route_id: str | None):
        self._tap_n += 1
        stop = self.network.stops[stop_id]
        return RiderTappedOn(event_id=f"{self.run_id}-tap{self._tap_n}", rider_id=rider_id, stop_id=stop_id,
                             vehicle_id=vehicle_id, route_id=route_id, latitude=stop.lat, longitude=stop.lon,
                             timestamp=_ts(t), station_id=self.network.station_of(stop_id),
                             expected_per_hour=self.demand.expected_per_hour(stop_id, at_stop=vehicle_id is None))

    def record_call(self, vehicle: Vehicle, index: int, t: float, boarded: int, alighted: int, dwell: float) -> None:
        if self.calls is not None:
            trip = vehicle.trip
            self.calls.append(Call(vehicle.vehicle_id, trip.trip_id, trip.stop_ids[index], trip.stop_seqs[index], t,
                                   vehicle.origin + trip.arr[index], boarded, alighted, dwell, vehicle.onboard))

    def record_left_behind(self, vehicle: Vehicle, index: int, riders: int) -> None:
        if self.calls is not None:
            trip = vehicle.trip
            key = (vehicle.vehicle_id, trip.trip_id, trip.stop_seqs[index])
            self.left_behind[key] = max(self.left_behind.get(key, 0), riders)

    def replace(self, vehicle: Vehicle, t: float) -> None:
        """A breakdown: a spare vehicle takes over the block from its next trip."""
        self.breakdowns += 1
        k = vehicle.trip_index + 1
        if k >= len(vehicle.block.trips):
            return
        spare = Vehicle(vehicle.vehicle_id + "R", vehicle.block, vehicle.origin, trip_index=k)
        appear = max(t + 15 * 60, vehicle.origin + vehicle.block.trips[k].start - PULL_OUT_S)
        self._n += 1
        heapq.heappush(self._pending, (appear, self._n, spare))
        spare.replaced = True

    # -- scripted events --------------------------------------------------------------------------

    def add_surge(self, spec: SurgeSpec) -> None:
        """A surge at the next `spec.at` (local time) from now."""
        if spec.stop_id not in self.network.stops:
            raise ValueError(f"no stop {spec.stop_id!r} in the network")
        local = dt.datetime.fromtimestamp(self.t, self.tz)
        at = dt.datetime.combine(local.date(), spec.at, tzinfo=self.tz)
        if at.timestamp() < self.t - spec.minutes * 60:
            at += dt.timedelta(days=1)
        # a station surges on every platform (a stop without platforms on its own)
        stops = [s for s in self.network.stops if s != spec.stop_id and self.network.station_of(s) == spec.stop_id]
        for stop_id in stops or [spec.stop_id]:
            self.demand.add_surge(stop_id, at.timestamp(), spec.factor, spec.minutes * 60)

    def add_incident(self, *, type: str, lat: float, lon: float, radius: float, severity: int,
                     minutes: float) -> Incident:
        inc = self.traffic.add(type=type, lat=lat, lon=lon, radius=radius, severity=severity, start=self.t,
                               duration_s=minutes * 60)
        self._incident_events.append(self._incident_event(inc, self.t))
        return inc

    @staticmethod
    def _incident_event(inc: Incident, t: float) -> TrafficIncident:
        return TrafficIncident(incident_id=inc.incident_id, type=inc.type, latitude=round(inc.lat, 6),
                               longitude=round(inc.lon, 6), radius=round(inc.radius, 1), severity=inc.severity,
                               description=inc.description, status=inc.status, timestamp=_ts(t))

    def _incident_place(self) -> tuple[float, float] | None:
        road = [v for v in self.vehicles if v.vehicle_type in ROAD_EXPOSURE and v.phase == "driving"]
        if not road:
            return None
        v = self.traffic.rng.choice(road)
        trip = v.trip
        d = self.traffic.rng.uniform(v.dist, trip.dists[-1])  # ahead of a vehicle, on its path
        return trip.shape.at(d)

    # -- running ----------------------------------------------------------------------------------

    def _set_road(self, t: float) -> None:
        hour, weekend = self._local_hour(t)
        c = congestion(hour, weekend)
        self.road = {vt: 1.0 - (1.0 - c) * exp for vt, exp in ROAD_EXPOSURE.items()}

    def service_state(self) -> dict:
        """What runs now: the simulated date, the feed date whose timetable runs (and why that one:
        "requested", "same weekday", "nearest with service" or "no service"), the vehicles on duty,
        and, when none is, when the next one starts (local time; None when nothing is due)."""
        local = self.local_now
        timetable, why = self.service_days.get(local.date(), (local.date(), "requested"))
        starts = None
        if not self.vehicles and self._pending:
            starts = dt.datetime.fromtimestamp(self._pending[0][0] + PULL_OUT_S, self.tz)
        return {"date": local.date(), "timetable_date": timetable, "reason": why, "vehicles": len(self.vehicles),
                "service_starts": starts, "note": self.timetable_note()}

    def idle_note(self) -> str | None:
        """When nothing is scheduled at the simulated time: that, and when service starts."""
        state = self.service_state()
        if state["vehicles"]:
            return None
        if state["service_starts"] is None:
            return "nothing scheduled now, and no service due in the days loaded"
        return f"nothing scheduled now: service starts {state['service_starts']:%a %Y-%m-%d %H:%M}"

    def timetable_note(self) -> str | None:
        """Which timetable runs today, when today is outside the feed's calendar."""
        return self._notes_by_date.get(self.local_now.date())

    @property
    def now(self) -> dt.datetime:
        return _ts(self.t)

    @property
    def local_now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, self.tz)

    def tick(self, wall_seconds: float) -> Tick:
        """Advance by `wall_seconds` of wall time (times the speed) and return what happened."""
        step = wall_seconds * self.clock.speed
        t0, t1 = self.t, self.t + step
        out = Tick()
        # the next service day, ahead of its midnight
        next_date = dt.datetime.fromtimestamp(t1 + PREPARE_AHEAD_S, self.tz).date()
        if next_date not in self.days:
            self._load_day(next_date)
            for old in [d for d in self.days if d < next_date - dt.timedelta(days=2)]:
                del self.days[old]
        while self._schedule_due and self._schedule_due[0][0] <= t1:
            due, _, rows = heapq.heappop(self._schedule_due)
            out.schedule.extend(rows)
            out.schedule_at.extend([int(round(max(due, t0) * 1000))] * len(rows))
        self._set_road(t0)
        hour, weekend = self._local_hour(t0)
        station_taps = self.demand.arrivals(t0, t1, hour, weekend)
        for inc in self.traffic.random_incidents(t0, t1, self._incident_place):
            self._incident_events.append(self._incident_event(inc, inc.start))
        n = max(1, math.ceil(step / SUBSTEP_S - 1e-9))
        h = step / n
        for k in range(n):
            ts = t0 + k * h
            while self._pending and self._pending[0][0] <= ts + h:
                appear, _, v = heapq.heappop(self._pending)
                if self.cap is not None and not v.replaced and len(self.vehicles) >= self.cap:
                    self.skipped_blocks += 1
                    continue
                v.vehicle_id = self._unique_id(v.vehicle_id)
                v.start_trip(self, v.trip_index, max(appear, ts))
                self.vehicles.append(v)
            for v in self.vehicles:
                v.advance(self, ts, h)
        self.t = t1
        self.clock.elapsed_s += step
        for inc in self.traffic.clear_due(t1):
            self._incident_events.append(self._incident_event(inc, inc.end))
        now = _ts(t1)
        for v in self.vehicles:
            out.vehicles.append(self._report(v, now))
        self.vehicles = [v for v in self.vehicles if v.phase != "done"]
        out.taps = sorted([self._tap_event(tap.t, tap.rider_id, tap.stop_id, None, None) for tap in station_taps] + self._taps,
                          key=lambda e: e.timestamp)
        self._taps = []
        out.incidents, self._incident_events = self._incident_events, []
        return out

    def _report(self, v: Vehicle, now: dt.datetime) -> VehicleLocation:
        trip = v.trip
        lat, lon = v.position()
        in_trip = v.status == "in_service" or v.phase == "broken"
        status = v.report_status(self.t)
        return VehicleLocation(
            vehicle_id=v.vehicle_id,
            vehicle_type=v.vehicle_type,
            route_id=trip.route.route_id,
            trip_id=trip.trip_id if in_trip else None,
            latitude=round(lat, 6),
            longitude=round(lon, 6),
            bearing=round(v.bearing(), 1),
            speed=round(v.speed, 2),
            passenger_count=v.onboard,
            capacity=v.capacity,
            status=status,
            stop_sequence=trip.stop_seqs[v.last] if in_trip and v.last is not None else None,
            next_stop_id=trip.stop_ids[v.next] if in_trip and v.phase != "broken" and v.next < len(trip.stop_ids) else None,
            timestamp=now,
            left_behind=v.left_behind if in_trip else 0,
        )

    # -- publishing -------------------------------------------------------------------------------

    @staticmethod
    def publish(bus, tick: Tick, *, now_ms: int | None = None) -> int:
        """Produce a tick's events to their topics; returns how many.

        A schedule row's Kafka timestamp is the simulated time it became due: at or before the first
        report of its trip (whose event time is later), after the last report of the previous run of
        that trip id. ksqlDB's stream-table join takes records in timestamp order, so reports find the
        row of their own run (docs/ksqldb.md). It is never later than the wall clock (`now_ms`): Kafka
        4 brokers refuse timestamps over an hour ahead, and simulated time may run ahead."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        for e, at in zip(tick.schedule, tick.schedule_at, strict=True):
            bus.produce(STOP_SCHEDULE.name, event_key(STOP_SCHEDULE, e), encode(e), timestamp_ms=min(at, now_ms))
        for e in tick.incidents:
            bus.produce(TRAFFIC_INCIDENTS.name, e.incident_id, encode(e))
        for e in tick.taps:
            bus.produce(RIDER_TAPPED_ON.name, e.stop_id, encode(e))
        for e in tick.vehicles:
            bus.produce(VEHICLE_LOCATIONS.name, e.vehicle_id, encode(e))
        return len(tick)
