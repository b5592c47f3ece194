"""The roles alerts runs (found by the kernel's registry): the detection processors, and the
consumers that turn alert topics into Alert rows, the ops feed and notifications."""

from __future__ import annotations

from django.conf import settings

from streamcity.kernel.bus import Worker
from streamcity.kernel.registry import Context, registry
from streamcity.kernel.runtime import Role
from transit.roles import VEHICLE_PIPELINE
from transit.timetable import shared_reference

from .detection.processors import BunchingProcessor, SurgeProcessor, VehicleAlertProcessor, detection_config
from .notifications import Notifier
from .streams import TOPICS as ALERT_STREAM_TOPICS
from .streams import AlertSink, alert_feed, alert_publisher


def _config(ctx: Context):
    return ctx.share("detection-config", detection_config)


@registry.processor("vehicle-alerts", order=10, stage_of=VEHICLE_PIPELINE)
def vehicle_alerts(ctx: Context) -> VehicleAlertProcessor:
    return VehicleAlertProcessor(ctx.bus, _config(ctx), reference=shared_reference(ctx))


@registry.processor("bunching", order=20, stage_of=VEHICLE_PIPELINE)
def bunching(ctx: Context) -> BunchingProcessor:
    stage = BunchingProcessor(ctx.bus, _config(ctx), reference=shared_reference(ctx))
    if "vehicle-alerts" in ctx.built:  # its event-time order is vehicle-alerts': one buffer for both
        stage.share_clock(ctx.built["vehicle-alerts"])
    return stage


@registry.processor("surges", order=30)
def surges(ctx: Context) -> Worker:
    # the reference data, when loaded, lets it refuse taps at stops no trip serves
    h = SurgeProcessor(ctx.bus, _config(ctx), reference=shared_reference(ctx))
    return Worker(ctx.bus, name=h.name, group_id=h.group_id, topics=h.topics, handle=h, tick=h.tick, retain=h.retained)


@registry.consumer("alerts", order=10)
def alert_consumers(bus, loop):
    interval = settings.STREAMCITY_FRAME_INTERVAL
    feed = alert_feed()
    sink = AlertSink(feed)
    worker = Worker(bus, name="alerts", group_id=sink.group_id, topics=ALERT_STREAM_TOPICS, handle=sink, batch_size=500,
                    tick=sink.tick)
    return [
        Role("alerts", worker.run),
        Role("alert-feed", alert_publisher(feed, interval=interval, loop=loop).run),
        Role("notifier", Notifier().run),
    ], [worker]
