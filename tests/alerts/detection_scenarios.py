"""Scripted city scenarios for the detection tests: a schedule, vehicles driving it, taps.

Route R1 has stops S1..S8 along a straight street (about 560 m apart), 120 s apart on the
timetable; trip Tn leaves S1 at T0 + (n - 1) * 600 s (a 10-minute headway).
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from dataclasses import dataclass

from alerts.detection.config import DetectionConfig
from alerts.detection.processors import BunchingProcessor, SurgeProcessor, VehicleAlertProcessor
from streamcity.kernel.bus import Decoded, Record
from streamcity.kernel.schemas import (
    ALERT_TOPICS,
    RIDER_TAPPED_ON,
    STOP_SCHEDULE,
    TOPICS,
    TRAFFIC_INCIDENTS,
    VEHICLE_LOCATIONS,
    AlertEvent,
    Event,
    RiderTappedOn,
    StopSchedule,
    TrafficIncident,
    VehicleLocation,
    encode,
    event_key,
)
from transit.timetable import ReferenceData

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)
STOPS = 12
LEG = 120  # scheduled seconds between two stops
HEADWAY = 600
DWELL = 20
REPORT_EVERY = 10
PARTITIONS = 3
END = 7200  # every vehicle reports until then (a vehicle that stops earlier goes silent)
ROUTES = {"R1": 0, "D": 1, "K": 2, "B": 3, "Q": 4}  # route -> lane (longitude offset)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def stop_lat(seq: int) -> float:
    return 52.0 + 0.005 * (seq - 1)


def lon(route: str) -> float:
    return 4.9 + 0.02 * ROUTES[route]


def stop_id(route: str, seq: int) -> str:
    return f"{route}S{seq}"


def schedule(route: str = "R1", trips: int = 12) -> list[StopSchedule]:
    """Trip <route>-T<n> leaves stop 1 at T0 + (n - 1) * HEADWAY."""
    out = []
    for n in range(1, trips + 1):
        for seq in range(1, STOPS + 1):
            out.append(StopSchedule(trip_id=f"{route}-T{n}", stop_sequence=seq, stop_id=stop_id(route, seq), route_id=route,
                                    scheduled_arrival=at((n - 1) * HEADWAY + (seq - 1) * LEG), service_date=T0.date()))
    return out


def full_schedule() -> list[StopSchedule]:
    return [s for route in ROUTES for s in schedule(route)]


def drive(vehicle: str, route: str, trip: int, arrivals: list[float], *, until: float = END,
          hold: tuple[float, float] | None = None, status_from: dict[float, str] | None = None,
          silent_after: float | None = None) -> list[VehicleLocation]:
    """Reports every REPORT_EVERY s of a vehicle that reaches stop k at `arrivals[k-1]`, dwells
    DWELL s, then drives on (standing still during `hold`). `status_from` changes its status."""
    t = arrivals[0] - 30
    out = []
    status = "in_service"
    while t <= until:
        if silent_after is not None and t > silent_after:
            break
        for since, s in sorted((status_from or {}).items()):
            if t >= since:
                status = s
        k = max([i + 1 for i, a in enumerate(arrivals) if a <= t], default=None)
        if k is None:
            lat, speed = stop_lat(1) - 0.001, 0.0
        elif k == len(arrivals) or t - arrivals[k - 1] < DWELL:
            lat, speed = stop_lat(k), 0.0
        else:
            frac = (t - arrivals[k - 1] - DWELL) / (arrivals[k] - arrivals[k - 1] - DWELL)
            lat, speed = stop_lat(k) + 0.005 * frac, 8.0
            if hold and hold[0] <= t < hold[1]:
                lat, speed = stop_lat(k) + 0.0025, 0.0
        if status != "in_service":
            speed = 0.0
        out.append(VehicleLocation(
            vehicle_id=vehicle, vehicle_type="bus", route_id=route, trip_id=f"{route}-T{trip}",
            latitude=round(lat, 6), longitude=lon(route), speed=speed, status=status, stop_sequence=k,
            next_stop_id=stop_id(route, (k or 0) + 1) if (k or 0) < STOPS else None, timestamp=at(t),
        ))
        t += REPORT_EVERY
    return out


def on_time(trip: int, late: float = 0.0) -> list[float]:
    return [(trip - 1) * HEADWAY + (k - 1) * LEG + late for k in range(1, STOPS + 1)]


def taps(stop: str, start: float, count: int, span: float) -> list[RiderTappedOn]:
    rng = random.Random(f"{stop}-{start}-{count}")
    return [RiderTappedOn(event_id=f"tap-{stop}-{start:.0f}x{count}-{i}", rider_id=f"r{rng.getrandbits(32):x}", stop_id=stop,
                          latitude=52.0, longitude=4.9, timestamp=at(start + rng.random() * span))
            for i in range(count)]


def incident(seconds: float, route: str, between: int, status: str = "active") -> TrafficIncident:
    return TrafficIncident(incident_id=f"I-{route}-{between}", type="accident", latitude=stop_lat(between) + 0.0025,
                           longitude=lon(route), radius=150, severity=3, status=status, timestamp=at(seconds))


def background() -> list[VehicleLocation]:
    """On-time vehicles B1..B6 on route R1 (trips 1..6): they keep event time moving."""
    return [e for n in range(1, 7) for e in drive(f"B{n}", "R1", n, on_time(n))]


# -- the scenarios of issue 4 -------------------------------------------------------------------

def delayed() -> list[Event]:
    """D-V1 on trip D-T3 is held 8 minutes behind an incident between stops 3 and 4, then
    catches up 60 s a stop (legs of 60 s instead of 120 s)."""
    late = [0, 0, 0, 480, 420, 360, 300, 240, 180, 120, 60, 0]
    arrivals = [a + d for a, d in zip(on_time(3), late)]
    hold = (arrivals[2] + DWELL + 30, arrivals[2] + DWELL + 30 + 480)
    return [incident(hold[0] - 60, "D", 3), incident(hold[1] + 10, "D", 3, "cleared"),
            *drive("D-V1", "D", 3, arrivals, hold=hold)]


def broken_down() -> list[Event]:
    """K-V1 on trip K-T2 reports broken_down after stop 5 for 15 minutes, then is withdrawn."""
    arrivals = on_time(2)
    failed = arrivals[4] + 60
    return drive("K-V1", "K", 2, arrivals, status_from={failed: "broken_down", failed + 900: "out_of_service"})


def bunched() -> list[Event]:
    """B-V1 on trip B-T2 runs 8 minutes late; B-V2 on trip B-T3, on time, catches up with it
    (2 minutes behind where the timetable has 10)."""
    return [*drive("B-V1", "B", 2, on_time(2, late=480)), *drive("B-V2", "B", 3, on_time(3))]


def silenced() -> list[Event]:
    """Q-V1 on trip Q-T2 stops reporting after T0 + 1500 s (mid-trip, in service)."""
    return drive("Q-V1", "Q", 2, on_time(2), silent_after=1500)


def surge() -> list[Event]:
    """80 taps at R1S5 in the window 08:25-08:30; 10 per window at other stops (threshold 60)."""
    out = taps("R1S5", 1500, 80, 300)
    for stop in ("R1S2", "R1S5", "R1S9"):
        for w in range(0, END - 300, 300):
            out += taps(stop, w, 10, 300)
    return out


def city() -> list[Event]:
    return [*background(), *delayed(), *broken_down(), *bunched(), *silenced(), *surge()]


TOPIC_OF = {VehicleLocation: VEHICLE_LOCATIONS, RiderTappedOn: RIDER_TAPPED_ON, StopSchedule: STOP_SCHEDULE,
            TrafficIncident: TRAFFIC_INCIDENTS}


@dataclass
class Stream:
    """Events in arrival order, turned into the records a Worker would hand over."""

    events: list[Event]

    def by_time(self) -> Stream:
        return Stream(sorted(self.events, key=lambda e: e.timestamp))

    def shuffled(self, within: float, seed: int = 1) -> Stream:
        """Arrival order perturbed: each event arrives up to `within` seconds (event time) late."""
        rng = random.Random(seed)
        return Stream(sorted(self.events, key=lambda e: e.timestamp.timestamp() + rng.random() * within))

    def records(self) -> list[Decoded]:
        offsets: dict[tuple[str, int], int] = {}
        out = []
        for e in self.events:
            topic = TOPIC_OF[type(e)]
            key = event_key(topic, e)
            p = zlib.crc32(key.encode()) % PARTITIONS
            off = offsets.get((topic.name, p), 0)
            offsets[(topic.name, p)] = off + 1
            out.append(Decoded(Record(topic.name, p, off, key, encode(e)), e))
        return out

    def produce(self, bus) -> None:
        for e in self.events:
            topic = TOPIC_OF[type(e)]
            bus.produce(topic.name, event_key(topic, e), encode(e))
        bus.flush()



CONFIG = DetectionConfig(grace_seconds=30, idle_partition_seconds=0, replay_seconds=900, surge_window_seconds=300,
                         surge_threshold=60)


def reference(events: list[Event] = ()) -> ReferenceData:
    ref = ReferenceData()
    for s in full_schedule():
        ref.schedule.apply(s)
    for e in events:
        if isinstance(e, TrafficIncident):
            ref.incidents.apply(e)
    ref.ready.set()
    return ref


def processors(bus, ref: ReferenceData, config: DetectionConfig = CONFIG) -> list:
    clock = lambda: 0.0  # noqa: E731 - wall time stands still: no partition ever counts as idle
    return [SurgeProcessor(bus, config, clock=clock),
            VehicleAlertProcessor(bus, config, reference=ref, clock=clock),
            BunchingProcessor(bus, config, reference=ref, clock=clock)]


def feed(handlers: list, records: list[Decoded], batch: int = 97) -> None:
    """Hand `records` to every handler whose topics they belong to, in batches, as a Worker would."""
    for h in handlers:
        names = {t.name for t in h.topics}
        mine = [d for d in records if d.record.topic in names]
        for i in range(0, len(mine), batch):
            h(mine[i:i + batch])
        h.tick()


def alerts_on(bus, group: str = "reader") -> list[AlertEvent]:
    """Every alert record on the bus, decoded, in order per topic."""
    from streamcity.kernel.schemas import decode

    with bus.consumer(group, [t.name for t in ALERT_TOPICS]) as c:
        out = []
        while batch := c.consume(10_000, 0.05):
            out += [decode(TOPICS[r.topic].schema, r.value) for r in batch]
    return out


def final_states(alerts: list[AlertEvent]) -> dict[str, AlertEvent]:
    """What an idempotent consumer keeps: the latest update (by event time) of each key."""
    out: dict[str, AlertEvent] = {}
    for a in alerts:
        if a.alert_key not in out or a.timestamp >= out[a.alert_key].timestamp:
            out[a.alert_key] = a
    return out
