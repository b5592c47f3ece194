"""The roles StreamCity runs, built once here for every command that runs them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from django.conf import settings

from simulators.engine import Simulation
from simulators.runner import SimulatorRunner
from streamcity.bus import Bus, Worker, topic_specs
from streamcity.runtime import Role
from transit.processors import LiveVehicleProcessor
from transit.streams import bridge_worker, vehicle_frames, vehicle_publisher
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
VEHICLE_STAGES = ("live-vehicles", "vehicle-alerts", "bunching")  # vehicle_locations: one group, in this order


def vehicle_group(names: Iterable[str]) -> tuple[str, str]:
    """The Worker name and consumer group id of the vehicle stages `names` run together: one
    stage keeps its own group; several share one named after them (two processes running
    different stages never split one group's partitions between them)."""
    chosen = set(names)
    names = [n for n in VEHICLE_STAGES if n in chosen]
    if len(names) == 1:
        return names[0], f"streamcity-{names[0]}"
    return "vehicles", "streamcity-" + "+".join(names)


def processors(bus: Bus, *, only: Iterable[str] | None = None,
               catch_up: bool = True) -> tuple[list[Role], list[Worker]]:
    """The built-in stream processors (all of PROCESSORS, or `only` those), plus the reference
    reader (stop_schedule, traffic_incidents) that the vehicle processors share.

    The vehicle stages (live-vehicles, vehicle-alerts, bunching) run in one Worker and consumer
    group (alerts.detection.stages.Stages): each report is consumed and decoded once. `catch_up`:
    see transit.processors.LiveVehicleProcessor."""
    from alerts.detection.processors import (
        BunchingProcessor, ReferenceData, ReferenceFollower, SurgeProcessor, VehicleAlertProcessor,
        detection_config,
    )
    from alerts.detection.stages import Stages

    names = list(PROCESSORS if only is None else only)
    unknown = set(names) - set(PROCESSORS)
    if unknown:
        raise ValueError(f"unknown processors: {', '.join(sorted(unknown))} (known: {', '.join(PROCESSORS)})")
    config = detection_config()
    reference = ReferenceData()
    workers: list[Worker] = []
    stages = []
    if names:  # the vehicle stages need the timetable; the surges, the stops it serves
        follower = ReferenceFollower(bus, reference)
        workers.append(Worker(bus, name="reference", group_id=follower.group_id, topics=follower.topics,
                              handle=follower, tick=follower.tick))
    if "live-vehicles" in names:
        stages.append(LiveVehicleProcessor(bus, reference, catch_up=catch_up))
    for name, cls in (("vehicle-alerts", VehicleAlertProcessor), ("bunching", BunchingProcessor)):
        if name in names:
            stages.append(cls(bus, config, reference=reference))
    if {"vehicle-alerts", "bunching"} <= set(names):
        stages[-1].share_clock(stages[-2])  # bunching takes vehicle-alerts' event-time order: one buffer for both
    if stages:
        name, group_id = vehicle_group(s.name for s in stages)
        h = Stages(bus, stages, name=name, group_id=group_id, reference=reference)
        workers.append(Worker(bus, name=h.name, group_id=h.group_id, topics=h.topics, handle=h, tick=h.tick,
                              retain=h.retained if h.retains else None))
    if "surges" in names:
        h = SurgeProcessor(bus, config, reference=reference)  # it uses it, when loaded, to refuse unknown stops
        workers.append(Worker(bus, name=h.name, group_id=h.group_id, topics=h.topics, handle=h,
                              tick=h.tick, retain=h.retained))
    return [Role(f"processor:{w.name}", w.run) for w in workers], workers


def consumers(bus: Bus, *, loop: asyncio.AbstractEventLoop | None = None) -> tuple[list[Role], list[Worker]]:
    """The bridge (live_vehicles -> rows + map frames), the alert consumer (alert topics and
    incidents -> Alert rows + the ops feed) and the notifier. `loop` owns the channel layer."""
    interval = settings.STREAMCITY_FRAME_INTERVAL
    frames = vehicle_frames()
    bridge = bridge_worker(bus, frames)
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
        dead = w.dead_lettered + getattr(w.handle, "dead_lettered", 0)  # Stages dead-letter refused records themselves
        line = f"{w.name} {w.processed} read, {dead} dead-lettered"
        status = getattr(w.handle, "status", None)  # a handler may add its own figures (late events...)
        parts.append(f"{line}, {status()}" if callable(status) else line)
    return " | ".join(parts)
