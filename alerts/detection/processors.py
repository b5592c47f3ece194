"""The built-in anomaly processors: Worker handlers that feed the detection rules.

Each handler decodes nothing itself (the Worker does): it notes every record in an
`EventTimeBuffer`, runs the rules over the events the watermark releases (in event-time order,
timers in between) and produces the alerts, keyed by alert key. `tick()` lets time pass when no
record comes; `retained()` tells the Worker how far back a restart must re-read so that windows,
silences and episodes are rebuilt (see ReplayIndex).

The timetable and incidents come from transit's `ReferenceData` (transit.timetable.reference),
loaded by its follower; the handlers wait (a TransientError: the Worker retries the batch) until
it has caught up.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Hashable

from streamcity.kernel.bus import Bus, Decoded, TransientError
from streamcity.kernel.schemas import (
    ALERT_TOPICS,
    RIDER_TAPPED_ON,
    VEHICLE_LOCATIONS,
    AlertEvent,
    RiderTappedOn,
    VehicleLocation,
    encode,
)
from transit.timetable import ReferenceData, StopProgress

from .breakdown import BreakdownDetector
from .bunching import BunchingDetector
from .clock import EventTimeBuffer, ReplayIndex
from .config import DetectionConfig
from .delay import DelayDetector
from .silent import SilentDetector
from .surge import SurgeDetector

logger = logging.getLogger(__name__)

ALERT_TOPIC_BY_KIND = {t.schema.kind: t.name for t in ALERT_TOPICS}


def detection_config() -> DetectionConfig:
    """The thresholds from the settings (STREAMCITY_* variables, see settings.py)."""
    from django.conf import settings

    return DetectionConfig(
        grace_seconds=settings.STREAMCITY_DETECTION_GRACE_SECONDS,
        idle_partition_seconds=settings.STREAMCITY_IDLE_PARTITION_SECONDS,
        replay_seconds=settings.STREAMCITY_DETECTION_REPLAY_SECONDS,
        surge_window_seconds=settings.STREAMCITY_SURGE_WINDOW_SECONDS,
        surge_threshold=settings.STREAMCITY_SURGE_THRESHOLD,
        surge_multiple=settings.STREAMCITY_SURGE_MULTIPLE,
        surge_sigmas=settings.STREAMCITY_SURGE_SIGMAS,
        surge_floor=settings.STREAMCITY_SURGE_FLOOR,
        early_seconds=settings.STREAMCITY_EARLY_SECONDS,
        late_seconds=settings.STREAMCITY_LATE_SECONDS,
        stalled_seconds=settings.STREAMCITY_STALLED_SECONDS,
        silent_seconds=settings.STREAMCITY_SILENT_SECONDS,
        bunching_low=settings.STREAMCITY_BUNCHING_LOW,
        bunching_high=settings.STREAMCITY_BUNCHING_HIGH,
    )


class EventTimeProcessor:
    """Base of the alert processors: event-time order, grace period, timers, restart span."""

    name = "processor"
    group_id = "streamcity-processor"
    topics: tuple = ()
    needs_reference = False

    def __init__(self, bus: Bus, config: DetectionConfig, *, reference: ReferenceData | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.bus = bus
        self.cfg = config
        self.reference = reference
        self.clock = clock
        self.buffer = EventTimeBuffer(grace=dt.timedelta(seconds=config.grace_seconds),
                                      idle_seconds=config.idle_partition_seconds)
        self.replay = ReplayIndex(dt.timedelta(seconds=max(config.replay_seconds, config.grace_seconds)))
        self.alerts: Counter[str] = Counter()
        self.redelivered = 0
        self._next: dict[Hashable, int] = {}  # per partition: the offset after the last one taken
        self._first: dict[Hashable, tuple[int, dt.datetime]] = {}  # per partition: first offset and time seen
        self._tps: dict[tuple[str, int], tuple[str, int]] = {}  # one (topic, partition) tuple per partition
        self._chain: list[EventTimeProcessor] = [self]  # the processors this one's buffer feeds
        self.leader: EventTimeProcessor | None = None

    def share_clock(self, leader: EventTimeProcessor) -> None:
        """Take the events from `leader`'s buffer, in the same event-time order, instead of holding
        them again (same topics, order and dedupe): one buffer and replay index for both. Each
        keeps its rules, state, timers and alerts; `leader` feeds it, its own calls do nothing."""
        if leader.topics != self.topics or type(leader).order is not type(self).order \
                or type(leader).dedupe is not type(self).dedupe:
            raise ValueError(f"{self.name} cannot share the clock of {leader.name}")
        self.leader = leader
        self.buffer, self.replay, self._next, self._first = leader.buffer, leader.replay, leader._next, leader._first
        leader._chain.append(self)

    # -- the Worker's hooks ---------------------------------------------------------------
    def __call__(self, batch: list[Decoded]) -> None:
        if self.needs_reference and not self.reference.ready.is_set():
            raise TransientError("waiting for stop_schedule and traffic_incidents to load")
        if self.leader is not None:
            return  # the leader offers and releases for both
        now = self.clock()
        nxt, first, tps = self._next, self._first, self._tps
        note, offer, order, dedupe = self.replay.note, self.buffer.offer, self.order, self.dedupe
        # A batch comes in runs of one partition: its bookkeeping is looked up once per run.
        topic = partition = tp = None
        expect, fresh = -1, False
        try:
            for d in batch:
                r = d.record
                if r.partition != partition or r.topic != topic:
                    if tp is not None:
                        nxt[tp] = expect
                    topic, partition = r.topic, r.partition
                    key = (topic, partition)
                    tp = tps.get(key)
                    if tp is None:
                        tp = tps[key] = key
                    expect, fresh = nxt.get(tp, -1), tp not in first
                offset = r.offset
                if offset < expect:
                    self.redelivered += 1  # already taken (the Worker retried a batch one record at a time)
                    continue
                expect = offset + 1
                e = d.event
                ts = e.timestamp
                if fresh:
                    first[tp], fresh = (offset, ts), False
                note(tp, ts, offset)
                offer(tp, ts, e, order(e), dedupe(e), now)
        finally:
            if tp is not None:
                nxt[tp] = expect
        self._release(now)

    def tick(self) -> None:
        if self.needs_reference and not self.reference.ready.is_set():
            return
        if self.leader is None:
            self._release(self.clock())

    def finish(self) -> None:
        """The end of a bounded input (the benchmark's replay): every event still held is
        released and judged now, and the timers advance to the latest event time, as they would
        once later events moved the watermark (EventTimeBuffer.drain)."""
        if self.needs_reference and not self.reference.ready.is_set():
            return
        if self.leader is None:
            self._release(self.clock(), final=True)

    def retained(self) -> dict[tuple[str, int], int]:
        return self.replay.retained(self.buffer.watermark)

    # -- the rules: overridden ---------------------------------------------------------------
    def order(self, event) -> str:
        raise NotImplementedError

    def dedupe(self, event) -> Hashable:
        raise NotImplementedError

    def apply(self, event, source: Hashable) -> list[AlertEvent]:
        raise NotImplementedError

    def advance(self, now: dt.datetime) -> list[AlertEvent]:
        return []

    # -- plumbing ---------------------------------------------------------------------------
    def _release(self, now: float, *, final: bool = False) -> None:
        released = self.buffer.drain() if final else self.buffer.release_held(now)
        watermark = self.buffer.watermark
        # Event by event, each processor of the chain in turn (bunching after vehicle-alerts: it
        # takes the stop progress vehicle-alerts has just observed, see _VehicleProcessor).
        chain = [(p, p.apply, p.advance if type(p).advance is not EventTimeProcessor.advance else None, [])
                 for p in self._chain]
        for held in released:
            for _, apply, advance, out in chain:
                if advance is not None and (timers := advance(held.ts)):
                    out += timers
                if alerts := apply(held.item, held.source):
                    out += alerts
        for p, _, advance, out in chain:
            if watermark is not None and advance is not None:
                out += advance(watermark)
            for alert in out:
                p.alerts[f"{alert.kind}:{alert.state}"] += 1
                p.bus.produce(ALERT_TOPIC_BY_KIND[alert.kind], alert.alert_key, encode(alert))

    def resumed_at(self, source: Hashable) -> dt.datetime | None:
        """When this processor started reading `source` mid-stream (a restart), the event time of
        the first record it read; None when it read the partition from its first offset."""
        first = self._first.get(source)
        return first[1] if first and first[0] > 0 else None

    @property
    def late(self) -> int:
        return self.buffer.late

    def status(self) -> str:
        wm = self.buffer.watermark
        opened = sum(n for k, n in self.alerts.items() if k.endswith(":open"))
        cleared = sum(n for k, n in self.alerts.items() if k.endswith(":cleared"))
        return (f"event time {wm:%H:%M:%S} " if wm else "event time - ") + (
            f"held {len(self.buffer)}, late {self.buffer.late} dropped, {opened} open/update, {cleared} cleared"
        )


class SurgeProcessor(EventTimeProcessor):
    """rider_tapped_on -> surge_alerts."""

    name = "surges"
    group_id = "streamcity-surges"
    topics = (RIDER_TAPPED_ON,)

    def __init__(self, bus: Bus, config: DetectionConfig, **kwargs):
        super().__init__(bus, config, **kwargs)
        self.surges = SurgeDetector(window_seconds=config.surge_window_seconds, threshold=config.surge_threshold,
                                    multiple=config.surge_multiple, sigmas=config.surge_sigmas,
                                    floor=config.surge_floor, learn_windows=config.surge_learn_windows)

    def order(self, e: RiderTappedOn) -> str:
        return e.event_id

    def reject_reason(self, e: RiderTappedOn) -> str | None:
        """A tap at a stop that no scheduled trip serves (judged once the schedule is loaded)."""
        ref = self.reference
        if ref is None or not ref.ready.is_set() or ref.schedule.has_stop(e.stop_id) or not len(ref.schedule):
            return None
        return f"unknown stop_id {e.stop_id!r}: no scheduled trip serves it"

    def dedupe(self, e: RiderTappedOn) -> Hashable:
        return e.event_id

    def apply(self, e: RiderTappedOn, source: Hashable) -> list[AlertEvent]:
        resumed = self.resumed_at(source)
        partial_before = resumed + dt.timedelta(seconds=self.cfg.grace_seconds) if resumed else None
        return self.surges.apply(e, partial_before=partial_before)

    def advance(self, now: dt.datetime) -> list[AlertEvent]:
        return self.surges.advance(now)


class _VehicleProcessor(EventTimeProcessor):
    topics = (VEHICLE_LOCATIONS,)
    needs_reference = True

    def __init__(self, bus: Bus, config: DetectionConfig, *, reference: ReferenceData, **kwargs):
        super().__init__(bus, config, reference=reference, **kwargs)
        self.progress = StopProgress()

    def share_clock(self, leader: EventTimeProcessor) -> None:
        """As EventTimeProcessor.share_clock; a vehicle processor also takes `leader`'s stop
        progress: the same events in the same order give the same progress, observed once."""
        super().share_clock(leader)
        if isinstance(leader, _VehicleProcessor):
            self.progress = leader.progress

    def order(self, e: VehicleLocation) -> str:
        return e.vehicle_id

    def dedupe(self, e: VehicleLocation) -> Hashable:
        return (e.vehicle_id, e.timestamp)


class VehicleAlertProcessor(_VehicleProcessor):
    """vehicle_locations -> delay_alerts, breakdown_alerts, silent_vehicle_alerts.

    Every rule here looks at one vehicle at a time, so this processor scales out with the
    partitions of vehicle_locations (silence is judged against the watermark of the member's
    own partitions)."""

    name = "vehicle-alerts"
    group_id = "streamcity-vehicle-alerts"

    def __init__(self, bus: Bus, config: DetectionConfig, *, reference: ReferenceData, **kwargs):
        super().__init__(bus, config, reference=reference, **kwargs)
        self.delays = DelayDetector(config, reference.schedule)
        self.breakdowns = BreakdownDetector(config, reference.schedule, reference.incidents)
        self.silence = SilentDetector(silent_seconds=config.silent_seconds)

    def apply(self, e: VehicleLocation, source: Hashable) -> list[AlertEvent]:
        progress, _ = self.progress.observe(e)
        return [*self.delays.apply(e, progress), *self.breakdowns.apply(e, progress), *self.silence.apply(e)]

    def advance(self, now: dt.datetime) -> list[AlertEvent]:
        return self.silence.advance(now)


class BunchingProcessor(_VehicleProcessor):
    """vehicle_locations -> bunching_alerts.

    Compares vehicles of one route with each other, which live in any partition: run it as a
    single member (one `runprocessors` process runs it; more would each see part of a route)."""

    name = "bunching"
    group_id = "streamcity-bunching"

    def __init__(self, bus: Bus, config: DetectionConfig, *, reference: ReferenceData, **kwargs):
        super().__init__(bus, config, reference=reference, **kwargs)
        self.bunching = BunchingDetector(config, reference.schedule)

    def apply(self, e: VehicleLocation, source: Hashable) -> list[AlertEvent]:
        _, arrived = self.progress.observe(e)
        return self.bunching.apply(e, arrived)
