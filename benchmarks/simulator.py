"""Simulator throughput, printed (not a test): events generated and encoded per second of CPU.

    .venv/bin/python -m benchmarks.simulator [SIM_MINUTES]

Runs the built-in city and (when present) the Cairns feed from 08:00 on a weekday with every
scheduled vehicle, as fast as it can, ticking 1 simulated second at a time, and encodes every
event as the publisher does. Prints events per second and how much faster than real time it ran.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

from simulators.city import generate_city
from simulators.engine import Simulation
from simulators.network import Network
from streamcity.kernel.schemas import encode
from transit.gtfs.parse import parse_feed
from transit.gtfs.reader import FeedSource



def cairns_path() -> Path | None:
    """../shared/gtfs/cairns beside the repository, if it is there."""
    candidate = Path(__file__).resolve().parents[2] / "shared" / "gtfs" / "cairns"
    return candidate if (candidate / "stop_times.txt").is_file() else None


def bench(name: str, network: Network, date: dt.date, minutes: int) -> None:
    sim = Simulation(network, seed=7, start=dt.time(8), date=date, breakdown_rate=0.02, incident_rate=2, surge_rate=0.5)
    vehicles = len(sim.vehicles)
    sim.tick(1.0)  # the stop schedule burst, measured apart
    events = taps = 0
    started = time.perf_counter()
    for _ in range(minutes * 60):
        tick = sim.tick(1.0)
        for e in (*tick.vehicles, *tick.taps, *tick.incidents, *tick.schedule):
            encode(e)
        events += len(tick)
        taps += len(tick.taps)
    cpu = time.perf_counter() - started
    print(f"{name}: {vehicles} vehicles at 08:00, {minutes} simulated minutes in {cpu:.2f}s: "
          f"{events / cpu:,.0f} events/s ({taps} taps), {minutes * 60 / cpu:.0f}x real time; "
          f"at --speed 1 it produces {events / (minutes * 60):.0f} events/s")


def main() -> None:
    minutes = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    bench("built-in city", Network(generate_city()), dt.date(2026, 11, 25), minutes)
    path = cairns_path()
    if path is not None:
        with FeedSource(path) as src:
            bench("cairns", Network(parse_feed(src)), dt.date(2014, 6, 4), minutes)


if __name__ == "__main__":
    main()
