"""Throughput of the detection processors on the in-process bus, for a synthetic city.

    .venv/bin/python -m benchmarks.detection [--vehicles 600] [--minutes 30]

Produces vehicle reports (every 10 s per vehicle, on scheduled trips of 20 routes) and tap-ons to
an in-process bus, then drains them through each processor's Worker (decode, event-time buffer,
rules, alert records) in this thread, and prints events per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time


def synthetic(vehicles: int, minutes: int, seed: int = 7):
    from streamcity.kernel.schemas import RiderTappedOn, StopSchedule, VehicleLocation

    rng = random.Random(seed)
    t0 = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)
    stops, leg, routes = 30, 90, 20
    schedule, reports, taps = [], [], []
    for v in range(vehicles):
        route, trip = f"R{v % routes}", f"T{v}"
        start = (v // routes) * 300.0
        lateness = rng.choice([0, 0, 0, 60, 240, 600])
        for seq in range(1, stops + 1):
            schedule.append(StopSchedule(trip_id=trip, stop_sequence=seq, stop_id=f"{route}-S{seq}", route_id=route,
                                         scheduled_arrival=t0 + dt.timedelta(seconds=start + (seq - 1) * leg),
                                         service_date=t0.date()))
        for k in range(minutes * 6):
            t = k * 10.0
            served = min(stops, max(0, int((t - start - lateness) // leg) + 1)) or None
            reports.append(VehicleLocation(
                vehicle_id=f"V{v}", vehicle_type="bus", route_id=route, trip_id=trip,
                latitude=52.0 + 0.001 * (served or 0), longitude=4.9 + 0.01 * (v % routes),
                speed=8.0 if served and served < stops else 0.0, stop_sequence=served,
                next_stop_id=f"{route}-S{(served or 0) + 1}" if (served or 0) < stops else None,
                timestamp=t0 + dt.timedelta(seconds=t + rng.random()),
            ))
    for i in range(vehicles * minutes * 2):
        stop = f"R{rng.randrange(routes)}-S{rng.randrange(1, stops + 1)}"
        taps.append(RiderTappedOn(event_id=f"e{i}", rider_id=f"r{i}", stop_id=stop, latitude=52.0, longitude=4.9,
                                  timestamp=t0 + dt.timedelta(seconds=rng.random() * minutes * 60)))
    reports.sort(key=lambda e: e.timestamp)
    taps.sort(key=lambda e: e.timestamp)
    return schedule, reports, taps


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcity.settings")
    import django

    django.setup()
    from alerts.detection.config import DetectionConfig
    from alerts.detection.processors import BunchingProcessor, SurgeProcessor, VehicleAlertProcessor
    from streamcity.kernel.bus import Worker, topic_specs
    from streamcity.kernel.bus.memory import MemoryBus
    from streamcity.kernel.schemas import RIDER_TAPPED_ON, STOP_SCHEDULE, VEHICLE_LOCATIONS, encode, event_key
    from transit.timetable import ReferenceData

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, default=600)
    parser.add_argument("--minutes", type=int, default=30)
    args = parser.parse_args()

    schedule, reports, taps = synthetic(args.vehicles, args.minutes)
    bus = MemoryBus(partitions=6, retention=10_000_000)
    bus.ensure_topics(topic_specs(6))
    for topic, events in ((STOP_SCHEDULE, schedule), (VEHICLE_LOCATIONS, reports), (RIDER_TAPPED_ON, taps)):
        for e in events:
            bus.produce(topic.name, event_key(topic, e), encode(e))
    ref = ReferenceData()
    for s in schedule:
        ref.schedule.apply(s)
    ref.ready.set()
    config = DetectionConfig(idle_partition_seconds=0.0)
    print(f"{len(reports)} vehicle reports ({args.vehicles} vehicles, {args.minutes} min), {len(taps)} tap-ons")
    for handler, count in ((SurgeProcessor(bus, config), len(taps)),
                           (VehicleAlertProcessor(bus, config, reference=ref), len(reports)),
                           (BunchingProcessor(bus, config, reference=ref), len(reports))):
        worker = Worker(bus, name=handler.name, group_id=handler.group_id, topics=handler.topics, handle=handler,
                        tick=handler.tick, retain=handler.retained, batch_size=1000, poll_timeout=0.0)
        consumer = bus.consumer(worker.group_id, [t.name for t in handler.topics])
        started = time.perf_counter()
        while worker.processed < count:
            worker.step(consumer)
        elapsed = time.perf_counter() - started
        consumer.close()
        alerts = sum(handler.alerts.values())
        print(f"{handler.name:15s} {count / elapsed:10,.0f} events/s  ({count} in {elapsed:.2f} s, {alerts} alert records, "
              f"late {handler.late})")


if __name__ == "__main__":
    main()
