"""Several processors of one topic in one consumer group: each record consumed and decoded once.

`Stages` is a Worker handler that hands every decoded batch to each of its stages (handlers of
the same topic, e.g. live-vehicles, vehicle-alerts and bunching on `vehicle_locations`), as a
Kafka Streams sub-topology shares its source. The stages stay separate classes with their own
state; what they share is the consumer, the decode and the committed position:

- `tick()` ticks every stage; `retained()` is, per partition, the lowest offset any stage still
  needs, so a commit never passes what one of them must re-read after a restart.
- A stage may refuse single records (`reject_reason(event) -> str | None`, e.g. live-vehicles
  refuses a trip the schedule does not know). A refused record is dead-lettered once, with the
  reason and the stages that still handled it, and is withheld from the refusing stage only:
  the other stages see it as they did in a consumer group of their own.
- A transient failure (the reference data is not loaded yet) is raised before any stage has
  taken the batch, so the Worker's retry hands the same records to every stage again.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

from streamcity.kernel.bus import Bus, Decoded, TransientError, dead_letter

logger = logging.getLogger(__name__)


class Stages:
    """Worker handler: one batch of one topic's records -> every stage, in order."""

    def __init__(self, bus: Bus, stages: Sequence, *, name: str, group_id: str, reference=None):
        if not stages:
            raise ValueError("Stages needs at least one stage")
        topics = {tuple(t.name for t in s.topics) for s in stages}
        if len(topics) != 1:
            raise ValueError(f"the stages of one consumer group read the same topics, not {sorted(topics)}")
        self.bus = bus
        self.stages = list(stages)
        self.name = name
        self.group_id = group_id
        self.topics = tuple(stages[0].topics)
        self.reference = reference  # ReferenceData the stages wait for, if any
        self._judges = [(s, s.reject_reason) for s in self.stages if hasattr(s, "reject_reason")]
        self._ticks = [s.tick for s in self.stages if hasattr(s, "tick")]
        self._retainers = [s for s in self.stages if hasattr(s, "retained")]
        self._judged: dict[Hashable, int] = {}  # per partition: the offset after the last record judged
        self.dead_lettered = 0

    @property
    def retains(self) -> bool:
        """Whether a stage holds the commits back (then pass `retain=self.retained` to the Worker)."""
        return bool(self._retainers)

    def __call__(self, batch: list[Decoded]) -> None:
        if self.reference is not None and not self.reference.ready.is_set():
            raise TransientError("waiting for stop_schedule and traffic_incidents to load")
        refused = self._judge(batch) if self._judges else {}
        failure: Exception | None = None
        for stage in self.stages:
            mine = batch if not refused.get(stage.name) else [d for d in batch if id(d) not in refused[stage.name]]
            try:
                if mine:
                    stage(mine)
            except TransientError:
                raise
            except Exception as exc:  # the others still take the batch; the Worker then retries record by record
                logger.warning("%s: stage %s failed on a batch of %d: %s", self.name, stage.name, len(mine), exc)
                failure = failure or exc
        if failure is not None:
            raise failure

    def _judge(self, batch: list[Decoded]) -> dict[str, set[int]]:
        """The records each judging stage refuses (by id); dead-letters each refused record once."""
        refused: dict[str, set[int]] = {}
        judged = self._judged
        judges = self._judges
        for d in batch:
            reasons = None  # a list once a stage refuses (most records: none does)
            for stage, judge in judges:
                reason = judge(d.event)
                if reason:
                    refused.setdefault(stage.name, set()).add(id(d))
                    reasons = reasons or []
                    reasons.append(f"{stage.name}: {reason}" if len(self.stages) > 1 else reason)
            if reasons is None:
                continue
            r = d.record
            tp = (r.topic, r.partition)
            if r.offset < judged.get(tp, -1):
                continue  # dead-lettered already (the Worker retried the batch)
            judged[tp] = r.offset + 1
            takers = [s.name for s in self.stages if id(d) not in refused.get(s.name, ())]
            reason = "; ".join(reasons) + (f" (still handled by {', '.join(takers)})" if takers else "")
            self.dead_lettered += 1
            dead_letter(self.bus, r, reason, source=self.group_id)
        return refused

    def tick(self) -> None:
        if self.reference is not None and not self.reference.ready.is_set():
            return
        for tick in self._ticks:
            tick()

    def finish(self) -> None:
        """The end of a bounded input: each stage that holds events releases and judges them
        (EventTimeProcessor.finish)."""
        if self.reference is not None and not self.reference.ready.is_set():
            return
        for stage in self.stages:
            if hasattr(stage, "finish"):
                stage.finish()

    def retained(self) -> dict[Hashable, int]:
        out: dict[Hashable, int] = {}
        for stage in self._retainers:
            for tp, offset in stage.retained().items():
                if offset < out.get(tp, offset + 1):
                    out[tp] = offset
        return out

    def status(self) -> str:
        parts = [f"{s.name}: {s.status()}" if hasattr(s, "status") else s.name for s in self.stages]
        if self._judges:
            parts.append(f"{self.dead_lettered} refused (dead-lettered)")
        return "; ".join(parts)
