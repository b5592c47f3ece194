"""The roles transit runs (found by the kernel's registry): the live-vehicle table, and the bridge
from `live_vehicles` to VehicleState rows and map frames."""

from __future__ import annotations

from django.conf import settings

from streamcity.kernel.registry import Context, registry
from streamcity.kernel.runtime import Role

from .processors import LiveVehicleProcessor
from .streams import bridge_worker, vehicle_frames, vehicle_publisher
from .timetable import shared_reference

VEHICLE_PIPELINE = "vehicles"  # the stages on vehicle_locations: one consumer group, one decode per report


@registry.processor("live-vehicles", order=0, stage_of=VEHICLE_PIPELINE)
def live_vehicles(ctx: Context) -> LiveVehicleProcessor:
    return LiveVehicleProcessor(ctx.bus, shared_reference(ctx), catch_up=ctx.catch_up)


@registry.consumer("bridge", order=0)
def bridge(bus, loop):
    frames = vehicle_frames()
    worker = bridge_worker(bus, frames)
    publisher = vehicle_publisher(frames, interval=settings.STREAMCITY_FRAME_INTERVAL, loop=loop)
    return [Role("bridge", worker.run), Role("frames", publisher.run)], [worker]


@registry.processor("stop-events", order=5, stage_of=VEHICLE_PIPELINE)
def stop_events(ctx: Context):
    from .history.stops import StopEventStage

    return StopEventStage(ctx.bus, shared_reference(ctx))


@registry.consumer("history", order=20)
def history(bus, loop):
    from streamcity.kernel.bus import Worker

    from .history.sink import HistorySink

    sink = HistorySink()
    worker = Worker(bus, name="history", group_id=sink.group_id, topics=sink.topics, handle=sink, batch_size=2000,
                    tick=sink.tick)
    return [Role("history", worker.run)], [worker]
