"""The roles StreamCity runs, built once here for every command that runs them."""

from __future__ import annotations

import asyncio
import datetime as dt

from django.conf import settings

from simulators.engine import Simulation
from simulators.runner import SimulatorRunner
from streamcity.bus import Bus, Worker, topic_specs
from streamcity.runtime import Role
from streamcity.schemas import LIVE_VEHICLES, VEHICLE_LOCATIONS
from transit.processors import LiveVehicleProcessor
from transit.streams import VehicleBridge, vehicle_frames, vehicle_publisher
from alerts.notifications import Notifier
from alerts.streams import TOPICS as ALERT_STREAM_TOPICS
from alerts.streams import AlertSink, alert_feed, alert_publisher


def ensure_topics(bus: Bus) -> None:
    bus.ensure_topics(topic_specs())


def simulator(bus: Bus, *, vehicles: int, seed: int, speed: float, tick: float,
              start: dt.datetime | None = None, duration: float | None = None) -> tuple[Role, SimulatorRunner]:
    runner = SimulatorRunner(bus, Simulation(vehicles=vehicles, seed=seed, speed=speed, start=start), tick=tick, duration=duration)
    return Role("simulator", runner.run), runner


def processors(bus: Bus) -> tuple[list[Role], list[Worker]]:
    handler = LiveVehicleProcessor(bus)
    worker = Worker(bus, name="live-vehicles", group_id=handler.group_id, topics=[VEHICLE_LOCATIONS], handle=handler)
    return [Role("processor:live-vehicles", worker.run)], [worker]


def consumers(bus: Bus, *, loop: asyncio.AbstractEventLoop | None = None) -> tuple[list[Role], list[Worker]]:
    """The bridge (live_vehicles -> rows + map frames), the alert consumer (alert topics and
    incidents -> Alert rows + the ops feed) and the notifier. `loop` owns the channel layer."""
    interval = settings.STREAMCITY_FRAME_INTERVAL
    frames = vehicle_frames()
    bridge_handler = VehicleBridge(frames)
    bridge = Worker(bus, name="bridge", group_id=bridge_handler.group_id, topics=[LIVE_VEHICLES], handle=bridge_handler)
    feed = alert_feed()
    sink = AlertSink(feed)
    alerts = Worker(bus, name="alerts", group_id=sink.group_id, topics=ALERT_STREAM_TOPICS, handle=sink, batch_size=500)
    notifier = Notifier()
    roles = [
        Role("bridge", bridge.run),
        Role("frames", vehicle_publisher(frames, interval=interval, loop=loop).run),
        Role("alerts", alerts.run),
        Role("alert-feed", alert_publisher(feed, interval=interval, loop=loop).run),
        Role("notifier", notifier.run),
    ]
    return roles, [bridge, alerts]


def add_simulator_arguments(parser) -> None:
    parser.add_argument("--vehicles", type=int, default=60, help="fleet size (default 60)")
    parser.add_argument("--seed", type=int, default=7, help="random seed: same seed, same events")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    parser.add_argument("--tick", type=float, default=1.0, help="wall seconds between two reports of a vehicle")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many wall seconds")


def simulator_from_options(bus: Bus, options: dict) -> tuple[Role, SimulatorRunner]:
    return simulator(
        bus, vehicles=options["vehicles"], seed=options["seed"], speed=options["speed"],
        tick=options["tick"], duration=options["duration"],
    )


def worker_status(workers: list[Worker]) -> str:
    return " | ".join(f"{w.name} {w.processed} read, {w.dead_lettered} dead-lettered" for w in workers)
