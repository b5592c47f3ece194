"""Is the twin's picture true? A feed's peak hour, simulated at high speed on the in-process bus.

    .venv/bin/python -m benchmarks.truthful [FEED_DIR_OR_ZIP ...] [--minutes 60] [--start 07:30]

Runs the simulator on each feed (default: the built-in city and every feed in ../shared/gtfs/) with
no random breakdowns, incidents or surges, and one injected surge (3x the usual demand at the
station where most riders tap, from `surge_after` minutes in). Its events go through the
live-vehicles, vehicle-alerts, bunching and surge processors as in production (the same Workers,
decode and event-time buffers), and what they say is compared with what the simulator knows:

- vehicles running, and the share early (more than the punctuality setting's early seconds), on
  time, late and laying over, over the live table sampled every simulated minute;
- every vehicle the simulator has laying over is `layover` in the live table, and never early;
- alerts by kind per hour; delay alerts per trip run; surges other than the injected one; the
  injected surge's alert and how long after the surge began it opened;
- every reported position inside the feed's extent (its stops and shapes).

`run_feed()` returns the figures; tests/benchmarks/test_truthful.py asserts on them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUESTED_DATE = dt.date(2026, 11, 25)  # a Wednesday: each feed runs its nearest timetable day (service_day)


@dataclass
class FeedFigures:
    name: str
    timetable_date: dt.date
    reason: str
    minutes: int
    first_minute_vehicles: int = 0
    vehicle_samples: list[int] = field(default_factory=list)
    states: Counter = field(default_factory=Counter)  # early / on_time / late / layover / unknown / other
    layover_truth: int = 0  # samples of vehicles the simulator had laying over
    layover_missed: int = 0  # ...not `layover` in the live table
    layover_early: int = 0  # ...with a negative deviation
    alerts: Counter = field(default_factory=Counter)  # kind -> alerts opened
    delayed_trips: set = field(default_factory=set)
    delay_samples: list = field(default_factory=list)  # (vehicle, trip, stop_sequence, delay, at) when opened
    trips: set = field(default_factory=set)
    surge_station: str | None = None
    surge_start: dt.datetime | None = None
    surge_detected: dt.datetime | None = None
    surge_expected: float | None = None
    surge_count: int | None = None
    false_surges: list = field(default_factory=list)
    positions: int = 0
    outside: list = field(default_factory=list)
    cpu_seconds: float = 0.0
    surge_usual: float = 0.0  # taps usual at the surge station per 5-minute window when the run starts

    @property
    def in_service_samples(self) -> int:
        return self.states["early"] + self.states["on_time"] + self.states["late"]

    def share(self, state: str) -> float:
        total = self.in_service_samples + self.states["layover"]
        return 100.0 * self.states[state] / total if total else 0.0

    @property
    def early_of_in_service(self) -> float:
        n = self.in_service_samples
        return 100.0 * self.states["early"] / n if n else 0.0

    @property
    def delayed_trip_share(self) -> float:
        return 100.0 * len(self.delayed_trips) / len(self.trips) if self.trips else 0.0

    @property
    def surge_delay_s(self) -> float | None:
        if self.surge_detected is None or self.surge_start is None:
            return None
        return (self.surge_detected - self.surge_start).total_seconds()

    def line(self) -> str:
        hours = self.minutes / 60
        kinds = ", ".join(f"{k} {n / hours:.0f}/h" for k, n in sorted(self.alerts.items())) or "none"
        mean = sum(self.vehicle_samples) / len(self.vehicle_samples) if self.vehicle_samples else 0
        surge = (f"surge at {self.surge_station} alerted after {self.surge_delay_s:.0f} s "
                 f"({self.surge_count} taps, usually {self.surge_expected})" if self.surge_delay_s is not None
                 else f"surge at {self.surge_station} NOT alerted")
        surge += f" [{self.surge_usual:.1f} taps usual per window there]"
        return (f"{self.name}: timetable {self.timetable_date} ({self.reason}); vehicles {self.first_minute_vehicles} "
                f"at 1 min, {mean:.0f} mean; early {self.share('early'):.1f} % / on time {self.share('on_time'):.1f} % "
                f"/ late {self.share('late'):.1f} % / layover {self.share('layover'):.1f} % "
                f"(early of in service {self.early_of_in_service:.2f} %); layover missed {self.layover_missed} "
                f"of {self.layover_truth}; delay alerts on {len(self.delayed_trips)} of {len(self.trips)} trips "
                f"({self.delayed_trip_share:.1f} %); alerts {kinds}; {surge}; false surges {len(self.false_surges)}; "
                f"positions outside the extent {len(self.outside)} of {self.positions}; cpu {self.cpu_seconds:.1f} s")


def shared_feeds() -> list[Path]:
    """The real feeds in ../shared/gtfs/ beside the repository (each a folder with files or a gtfs.zip)."""
    base = ROOT.parent / "shared" / "gtfs"
    out = []
    for folder in sorted(p for p in base.glob("*") if p.is_dir()):
        if (folder / "gtfs.zip").is_file():
            out.append(folder / "gtfs.zip")
        elif (folder / "stop_times.txt").is_file():
            out.append(folder)
    return out


def load_network(path: Path | None):
    """The network of a feed at `path` (None: the built-in city), read without a database."""
    from simulators.city import generate_city
    from simulators.network import Network
    from transit.gtfs.parse import parse_feed
    from transit.gtfs.reader import FeedSource

    if path is None:
        return Network(generate_city(), name="builtin")
    with FeedSource(path) as src:
        feed = parse_feed(src)
    return Network(feed, name=path.parent.name if path.suffix == ".zip" else path.name)


def extent(network, margin_deg: float = 0.01) -> tuple[float, float, float, float]:
    """(south, west, north, east) of the feed's stops and shapes, plus a margin."""
    lats = [s.lat for s in network.stops.values() if s.lat is not None]
    lons = [s.lon for s in network.stops.values() if s.lon is not None]
    for shape in network.feed.shapes:
        for lat, lon in shape.points:
            lats.append(lat)
            lons.append(lon)
    return min(lats) - margin_deg, min(lons) - margin_deg, max(lats) + margin_deg, max(lons) + margin_deg


def busiest_station(sim) -> str:
    """The station where the most riders tap at its validators, else where the most board."""
    per_station: dict[tuple[bool, str], float] = defaultdict(float)
    for (stop_id, at_stop), rate in sim.demand.normal_per_hour.items():
        per_station[(at_stop, sim.network.station_of(stop_id))] += rate
    (_, station), _ = max(per_station.items(), key=lambda kv: (kv[0][0], kv[1]))
    return station


def station_usual_per_window(sim, station: str, window_s: float = 300.0) -> float:
    """Taps usual at `station` (all its stops) per window now, from the demand model."""
    rate = sum(r for (stop_id, _), r in sim.demand.normal_per_hour.items() if sim.network.station_of(stop_id) == station)
    return rate * window_s / 3600


def run_feed(network, *, date: dt.date = REQUESTED_DATE, start: dt.time = dt.time(7, 30), minutes: int = 60,
             surge_after: int = 30, surge_factor: float = 3.0, step_s: float = 10.0, seed: int = 7,
             punctuality=None) -> FeedFigures:
    """The feed's figures (see the module)."""
    from alerts.detection.config import DetectionConfig
    from alerts.detection.processors import BunchingProcessor, SurgeProcessor, VehicleAlertProcessor
    from simulators.engine import Simulation, SurgeSpec
    from streamcity.kernel.bus import Worker, topic_specs
    from streamcity.kernel.bus.memory import MemoryBus
    from streamcity.kernel.schemas import ALERT_TOPICS, LIVE_VEHICLES, decode
    from transit.processors import LiveVehicleProcessor
    from transit.timetable import Punctuality, ReferenceData

    cpu0 = time.process_time()
    punctuality = punctuality or Punctuality()
    options = dict(seed=seed, start=start, date=date, speed=1.0, breakdown_rate=0.0, incident_rate=0.0,
                   surge_rate=0.0)
    sim = Simulation(network, **options)
    station = busiest_station(sim)
    state = sim.service_state()
    fig = FeedFigures(network.name, state["timetable_date"], state["reason"], minutes)
    fig.surge_station = station
    fig.surge_usual = station_usual_per_window(sim, station)
    surge_at = (dt.datetime.combine(sim.local_now.date(), start, tzinfo=sim.tz)
                + dt.timedelta(minutes=surge_after))
    sim.add_surge(SurgeSpec(fig.surge_station, surge_at.time(), surge_factor, minutes=15))
    fig.surge_start = surge_at.astimezone(dt.timezone.utc)

    bus = MemoryBus(partitions=2, retention=50_000_000)
    bus.ensure_topics(topic_specs(2))
    ref = ReferenceData()
    ref.ready.set()
    cfg = DetectionConfig(idle_partition_seconds=0.0, early_seconds=punctuality.early_seconds,
                          late_seconds=punctuality.late_seconds)
    live = LiveVehicleProcessor(bus, ref, catch_up=False)
    vehicle_alerts = VehicleAlertProcessor(bus, cfg, reference=ref)
    bunching = BunchingProcessor(bus, cfg, reference=ref)
    surges = SurgeProcessor(bus, cfg, reference=ref)
    workers = []
    for handler in (live, vehicle_alerts, bunching, surges):
        worker = Worker(bus, name=handler.name, group_id=handler.group_id, topics=handler.topics, handle=handler,
                        tick=handler.tick, retain=getattr(handler, "retained", None), batch_size=20_000,
                        poll_timeout=0.0)
        workers.append((worker, bus.consumer(worker.group_id, [t.name for t in handler.topics])))
    schemas = {t.name: t.schema for t in (LIVE_VEHICLES, *ALERT_TOPICS)}
    observer = bus.consumer("truthful-observer", list(schemas))
    south, west, north, east = extent(network)
    table: dict[str, object] = {}
    opened: set[str] = set()

    steps = int(minutes * 60 / step_s)
    for k in range(steps):
        tick = sim.tick(step_s)
        for e in tick.schedule:
            ref.schedule.apply(e)
        sim.publish(bus, tick)
        for worker, consumer in workers:
            while worker.step(consumer):
                pass
        truth = {}
        for e in tick.vehicles:
            fig.positions += 1
            if not (south <= e.latitude <= north and west <= e.longitude <= east):
                fig.outside.append((e.vehicle_id, e.latitude, e.longitude))
            truth[e.vehicle_id] = e.status
            if e.status == "in_service" and e.trip_id:
                fig.trips.add(e.trip_id)
        while records := observer.consume(100_000, 0.0):
            for r in records:
                event = decode(schemas[r.topic], r.value)
                if r.topic == LIVE_VEHICLES.name:
                    table[event.vehicle_id] = event
                elif event.alert_key not in opened and event.state == "open":
                    opened.add(event.alert_key)
                    kind = event.kind if event.kind != "bunching" else event.condition
                    fig.alerts[kind] += 1
                    if kind == "delay":
                        fig.delayed_trips.add(event.trip_id)
                        fig.delay_samples.append((event.vehicle_id, event.trip_id, event.stop_sequence,
                                                  event.delay_seconds, event.detected_at))
                    elif kind == "surge":
                        if event.stop_id == fig.surge_station and event.window_end > fig.surge_start:
                            if fig.surge_detected is None:
                                fig.surge_detected = event.detected_at
                                fig.surge_expected, fig.surge_count = event.expected, event.tap_count
                        else:
                            fig.false_surges.append((event.stop_id, event.detected_at, event.tap_count,
                                                     event.expected))
        if (k + 1) % int(60 / step_s):
            continue
        now = sim.now
        running = [v for v in table.values() if v.timestamp >= now - dt.timedelta(seconds=step_s)
                   and v.status not in ("out_of_service",)]
        fig.vehicle_samples.append(len(running))
        if len(fig.vehicle_samples) == 1:
            fig.first_minute_vehicles = len(running)
        for v in running:
            if v.status == "in_service":
                fig.states[punctuality.classify(v.delay_seconds)] += 1
            elif v.status == "layover":
                fig.states["layover"] += 1
            else:
                fig.states[v.status] += 1
            if truth.get(v.vehicle_id) == "layover":
                fig.layover_truth += 1
                fig.layover_missed += v.status != "layover"
                fig.layover_early += (v.delay_seconds or 0) < 0
    for _, consumer in workers:
        consumer.close()
    observer.close()
    fig.cpu_seconds = time.process_time() - cpu0
    return fig


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcity.settings")
    import django

    django.setup()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("feeds", nargs="*", type=Path, help="feed folders or zips (default: builtin + ../shared/gtfs)")
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--start", default="07:30")
    args = parser.parse_args()
    hh, mm = args.start.split(":")
    paths = args.feeds or [None, *shared_feeds()]
    for path in paths:
        fig = run_feed(load_network(path), start=dt.time(int(hh), int(mm)), minutes=args.minutes)
        print(fig.line(), flush=True)


if __name__ == "__main__":
    main()
