"""The roles StreamCity runs, built once here for every command that runs them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

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


def simulator(bus: Bus, simulation: Simulation, *, tick: float = 1.0,
              duration: float | None = None) -> tuple[Role, SimulatorRunner]:
    runner = SimulatorRunner(bus, simulation, tick=tick, duration=duration)
    return Role("simulator", runner.run), runner


PROCESSORS = ("live-vehicles", "surges", "vehicle-alerts", "bunching")


def processors(bus: Bus, *, only: Iterable[str] | None = None) -> tuple[list[Role], list[Worker]]:
    """The built-in stream processors (all of PROCESSORS, or `only` those), plus the reference
    reader (stop_schedule, traffic_incidents) that the vehicle processors share."""
    from alerts.detection.processors import (
        BunchingProcessor, ReferenceData, ReferenceFollower, SurgeProcessor, VehicleAlertProcessor,
        detection_config,
    )

    names = list(PROCESSORS if only is None else only)
    unknown = set(names) - set(PROCESSORS)
    if unknown:
        raise ValueError(f"unknown processors: {', '.join(sorted(unknown))} (known: {', '.join(PROCESSORS)})")
    config = detection_config()
    reference = ReferenceData()
    workers: list[Worker] = []
    if set(names) & {"live-vehicles", "vehicle-alerts", "bunching"}:
        follower = ReferenceFollower(bus, reference)
        workers.append(Worker(bus, name="reference", group_id=follower.group_id, topics=follower.topics,
                              handle=follower, tick=follower.tick))
    if "live-vehicles" in names:
        handler = LiveVehicleProcessor(bus, reference)
        workers.append(Worker(bus, name="live-vehicles", group_id=handler.group_id, topics=[VEHICLE_LOCATIONS],
                              handle=handler))
    for name, cls in (("surges", SurgeProcessor), ("vehicle-alerts", VehicleAlertProcessor), ("bunching", BunchingProcessor)):
        if name in names:
            h = cls(bus, config, reference=reference)  # surges use it, when loaded, to refuse unknown stops
            workers.append(Worker(bus, name=h.name, group_id=h.group_id, topics=h.topics, handle=h,
                                  tick=h.tick, retain=h.retained))
    return [Role(f"processor:{w.name}", w.run) for w in workers], workers


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
    from simulators.options import add_arguments

    add_arguments(parser)


def simulator_from_options(bus: Bus, options: dict) -> tuple[Role, SimulatorRunner]:
    """The simulator as the command line asks (imports the built-in city or a --gtfs feed if needed)."""
    from simulators.options import simulation_from_options

    return simulator(bus, simulation_from_options(options), tick=options["tick"], duration=options["duration"])


def worker_status(workers: list[Worker]) -> str:
    parts = []
    for w in workers:
        line = f"{w.name} {w.processed} read, {w.dead_lettered} dead-lettered"
        status = getattr(w.handle, "status", None)  # a handler may add its own figures (late events...)
        parts.append(f"{line}, {status()}" if callable(status) else line)
    return " | ".join(parts)
