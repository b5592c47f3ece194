"""The benchmark's load: the city's vehicle reports at 1 Hz each and T tap-ons per second.

The fleet is split into SLICES slices reporting in turn, so the load is steady (no burst once a
second). Event time is the wall clock at production: a client that receives a vehicle computes its
end-to-end latency as its receive time minus the vehicle's `timestamp`.

On Kafka the load runs as a process of its own (so that it does not take the GIL from the pipeline):

    python -m benchmarks.load --bootstrap HOST:PORT --prefix bench-x- --vehicles 9000 \
        --taps 5000 --seconds 60 --start EPOCH

It prints one JSON line at the end: what it produced and how far behind its pace it ever fell.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass

from streamcity.kernel.schemas import RIDER_TAPPED_ON, VEHICLE_LOCATIONS, encode

from .city import City

SLICES = 20  # the fleet reports in 20 slices, one every 50 ms


@dataclass
class LoadStats:
    vehicles_produced: int = 0
    taps_produced: int = 0
    seconds: float = 0.0
    behind_max_s: float = 0.0  # how late a slice ever was against its pace (the load's own lag)

    @property
    def events_per_s(self) -> float:
        return (self.vehicles_produced + self.taps_produced) / self.seconds if self.seconds else 0.0


def run(bus, city: City, *, taps_per_s: float, seconds: float, stop: threading.Event | None = None,
        stats: LoadStats | None = None) -> LoadStats:
    """Produce the load for `seconds` (or until `stop` is set); return what was produced."""
    stats = stats or LoadStats()
    slices = [city.fleet[k::SLICES] for k in range(SLICES)]
    step = 1.0 / SLICES
    vehicles_topic, taps_topic = VEHICLE_LOCATIONS.name, RIDER_TAPPED_ON.name
    produce = bus.produce
    t0 = time.time()
    k = 0
    while k * step < seconds and not (stop is not None and stop.is_set()):
        due = t0 + k * step
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        else:
            stats.behind_max_s = max(stats.behind_max_s, -wait)
        now = time.time()
        stamp = dt.datetime.fromtimestamp(now // 0.001 / 1000, dt.timezone.utc)  # milliseconds, as on the wire
        for v in slices[k % SLICES]:
            produce(vehicles_topic, v.vehicle_id, encode(city.report(v, now, stamp)))
        stats.vehicles_produced += len(slices[k % SLICES])
        taps = int(taps_per_s * (k + 1) * step) - int(taps_per_s * k * step)
        for _ in range(taps):
            tap = city.tap(stamp)
            produce(taps_topic, tap.stop_id, encode(tap))
        stats.taps_produced += taps
        k += 1
        stats.seconds = time.time() - t0
    bus.flush()
    stats.seconds = time.time() - t0
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True, help="topic prefix of this run")
    parser.add_argument("--vehicles", type=int, required=True)
    parser.add_argument("--taps", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--start", type=float, required=True, help="the city's timetable start (epoch seconds)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    from streamcity.kernel.bus.kafka import KafkaBus

    bus = KafkaBus({"bootstrap.servers": args.bootstrap, "client.id": "streamcity-benchmark-load"},
                   topic_prefix=args.prefix)
    city = City(vehicles=args.vehicles, start=args.start, seed=args.seed)
    stop = threading.Event()
    stdin_closed = threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True)
    stdin_closed.start()  # the host closes our stdin to stop us early
    stats = run(bus, city, taps_per_s=args.taps, seconds=args.seconds, stop=stop)
    bus.close()
    print(json.dumps({**asdict(stats), "delivery": bus.delivery_stats}), flush=True)


if __name__ == "__main__":
    main()
