"""The reference data the stream processors of one process share: the timetable and the incidents.

`ReferenceFollower` reads `stop_schedule` and `traffic_incidents` from their beginning with a
consumer group of its own on every start, into a `ReferenceData` the processors share; they wait
(a TransientError: the Worker retries the batch) until it has caught up.
"""

from __future__ import annotations

import logging
import threading
import uuid

from streamcity.kernel.bus import Bus, Decoded
from streamcity.kernel.runtime import settle_heap
from streamcity.kernel.schemas import STOP_SCHEDULE, TRAFFIC_INCIDENTS, StopSchedule

from .schedule import Incidents, Schedule

logger = logging.getLogger(__name__)


class ReferenceData:
    """The schedule and the incidents, shared by the processors of one process."""

    def __init__(self):
        self.schedule = Schedule()
        self.incidents = Incidents()
        self.ready = threading.Event()


class ReferenceFollower:
    """Worker handler: stop_schedule and traffic_incidents -> ReferenceData, from the beginning."""

    topics = (STOP_SCHEDULE, TRAFFIC_INCIDENTS)

    def __init__(self, bus: Bus, data: ReferenceData):
        self.bus = bus
        self.data = data
        # A group of its own on every start: the whole compacted schedule is read again.
        self.group_id = f"streamcity-reference-{uuid.uuid4().hex[:12]}"
        self._targets: dict[tuple[str, int], int] | None = None
        self._seen: dict[tuple[str, int], int] = {}
        self.schedule_rows = 0
        self.incidents_seen = 0

    def _start(self) -> None:
        if self._targets is None:
            try:
                ends = {t.name: self.bus.end_offsets(t.name) for t in self.topics}
            except Exception as exc:  # e.g. a topic whose leader is not elected yet: try again next poll
                logger.warning("reference data: cannot read the end offsets yet (%s); retrying", exc)
                return
            self._targets = {(name, p): end for name, offsets in ends.items() for p, end in offsets.items() if end > 0}
            self._check()

    def _check(self) -> None:
        if self._targets is None or self.data.ready.is_set():
            return
        if all(self._seen.get(tp, 0) >= end for tp, end in self._targets.items()):
            logger.info("reference data loaded: %d scheduled stops, %d incident updates", self.schedule_rows, self.incidents_seen)
            settle_heap()  # the timetable stays: out of the garbage collector's scans
            self.data.ready.set()

    def __call__(self, batch: list[Decoded]) -> None:
        self._start()
        for d in batch:
            if isinstance(d.event, StopSchedule):
                self.data.schedule.apply(d.event)
                self.schedule_rows += 1
            else:
                self.data.incidents.apply(d.event)
                self.incidents_seen += 1
            tp = (d.record.topic, d.record.partition)
            self._seen[tp] = max(self._seen.get(tp, 0), d.record.offset + 1)
        self._check()

    def tick(self) -> None:
        self._start()

    def status(self) -> str:
        state = "ready" if self.data.ready.is_set() else "loading"
        return f"{self.schedule_rows} scheduled stops, {self.incidents_seen} incident updates ({state})"


def shared_reference(ctx) -> ReferenceData:
    """The ReferenceData of the processors being built in `ctx` (a kernel registry Context): made
    by the first processor that asks, with the Worker that loads it, which the others wait for."""

    def make() -> ReferenceData:
        from streamcity.kernel.bus import Worker

        data = ReferenceData()
        follower = ReferenceFollower(ctx.bus, data)
        ctx.workers.append(Worker(ctx.bus, name="reference", group_id=follower.group_id, topics=follower.topics,
                                  handle=follower, tick=follower.tick))
        ctx.reference = data
        return data

    return ctx.share("reference", make)
