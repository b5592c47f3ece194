"""Event time: a reorder buffer with an aligned watermark, and what a restart must re-read.

Events arrive from several sources (partitions), each roughly in event-time order but not in
step with each other, and a little out of order within one source. `EventTimeBuffer` holds each
event until the watermark has passed it and then releases everything in event-time order, so
the rules downstream see one ordered stream and give the same answer whatever the arrival order
within the grace period.

The watermark is the lowest "latest event time" over the sources that are delivering, minus the
grace period. A source that has delivered nothing for `idle_seconds` of wall time stops holding
the watermark back (an idle partition must not stop time); right after start the watermark is
held for the same time, so that every partition with a backlog has delivered once. An event
older than the watermark arrives too late: it is counted in `late` and dropped.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import msgspec


class _Held(msgspec.Struct, order=True, gc=False):
    """A held event; compared field by field in C like a tuple (event time, order, arrival). Not
    tracked by the garbage collector: hundreds of thousands are held at once, and the collections
    scanning them were a cost on every event (docs/benchmarks.md)."""

    ts: dt.datetime
    order: str
    seq: int
    item: Any
    dedupe: Any
    source: Any


@dataclass(slots=True)
class _Source:
    high: dt.datetime  # the latest event time it delivered
    last_wall: float
    held: list[_Held]  # its held events sorted by event time from `head` on (a released prefix before)
    head: int = 0


class EventTimeBuffer:
    """Holds events until the watermark passes them; releases them in (event time, order) order."""

    def __init__(self, *, grace: dt.timedelta, idle_seconds: float):
        self.grace = grace
        self.idle_seconds = idle_seconds
        self.watermark: dt.datetime | None = None  # every event before it has been released
        self.late = 0
        self.duplicates = 0
        self.released = 0
        # Held events per source, each source's in event-time order: a source delivers nearly in
        # order, so an offer is an append (an insertion near the end when it is out of order) and a
        # release cuts a prefix of each source and sorts the few runs. One list for all sources cost
        # a merge of every batch into the events of the sources ahead of it (a large share of the
        # vehicle processors when partitions were read tens of seconds apart, as in a replay).
        self._held_keys: set[Hashable] = set()
        self._sources: dict[Hashable, _Source] = {}
        self._started: float | None = None
        self._seq = itertools.count()

    def __len__(self) -> int:
        return sum(len(s.held) - s.head for s in self._sources.values())

    def offer(self, source: Hashable, ts: dt.datetime, item: Any, order: str, dedupe: Hashable, now: float) -> bool:
        """Hold `item` (event time `ts`) from `source`; False if it is late or a duplicate."""
        if self._started is None:
            self._started = now
        src = self._sources.get(source)
        if src is None:
            src = self._sources[source] = _Source(ts, now, [])
            in_order = True
        else:
            src.last_wall = now
            in_order = ts >= src.high
            if in_order:
                src.high = ts
        if self.watermark is not None and ts < self.watermark:
            self.late += 1
            return False
        if dedupe in self._held_keys:
            self.duplicates += 1
            return False
        self._held_keys.add(dedupe)
        entry = _Held(ts, order, next(self._seq), item, dedupe, source)
        if in_order:  # at or after everything the source holds
            src.held.append(entry)
        else:
            src.held.insert(bisect.bisect_right(src.held, ts, src.head, key=_ts), entry)
        return True

    def advance(self, now: float) -> dt.datetime | None:
        """Move the watermark as far as the delivering sources allow; return it."""
        if self._started is None or now - self._started < self.idle_seconds:
            return self.watermark  # warming up: let every partition with a backlog deliver first
        active = [s.high for s in self._sources.values() if now - s.last_wall <= self.idle_seconds]
        if not active:  # the whole stream is quiet: nothing is pending anywhere, so wait for no one
            active = [s.high for s in self._sources.values()]
        if active:
            candidate = min(active) - self.grace
            if self.watermark is None or candidate > self.watermark:
                self.watermark = candidate
        return self.watermark

    def release_held(self, now: float) -> list[_Held]:
        """Every held event before the (advanced) watermark, oldest first, as held: `.ts`,
        `.item`, `.source` (what release() gives without a tuple per event)."""
        wm = self.advance(now)
        return [] if wm is None else self._cut(wm)

    def drain(self) -> list[_Held]:
        """The end of a bounded input (a replay): the watermark moves past the latest event of
        every source and everything held is released, oldest first, as release_held() does.
        Without it the last grace period of event time stays held until later events come."""
        highs = [s.high for s in self._sources.values()]
        if highs:
            wm = max(highs) + dt.timedelta(microseconds=1)
            if self.watermark is None or wm > self.watermark:
                self.watermark = wm
        return [] if self.watermark is None else self._cut(self.watermark)

    def _cut(self, wm: dt.datetime) -> list[_Held]:
        taken: list[_Held] = []
        for src in self._sources.values():
            held, head = src.held, src.head
            if len(held) == head or held[head].ts >= wm:
                continue
            cut = len(held) if held[-1].ts < wm else bisect.bisect_left(held, wm, head, key=_ts)
            taken += held[head:cut]
            if cut > len(held) // 2:  # drop the released prefix now and then, not on every release
                del held[:cut]
                cut = 0
            src.head = cut
        if not taken:
            return taken
        taken.sort()  # a few sorted runs (one per source): one merge
        keys = self._held_keys
        for entry in taken:
            keys.discard(entry.dedupe)
        self.released += len(taken)
        return taken

    def release(self, now: float) -> list[tuple[dt.datetime, Any]]:
        """Every held event before the (advanced) watermark, oldest first: (event time, item)."""
        return [(entry.ts, entry.item) for entry in self.release_held(now)]


def _ts(entry: _Held) -> dt.datetime:
    return entry.ts


class ReplayIndex:
    """Per source, where to resume so that the last `span` of event time is read again.

    Samples (latest event time so far, offset) about once per second of event time; `retained()`
    gives, per source, an offset at or before the first record whose time is within the span.
    """

    STEP = dt.timedelta(seconds=1)

    def __init__(self, span: dt.timedelta):
        self.span = span
        self._samples: dict[Hashable, deque[tuple[dt.datetime, int]]] = {}
        self._next: dict[Hashable, dt.datetime] = {}  # per source: the event time of the next sample

    def note(self, source: Hashable, ts: dt.datetime, offset: int) -> None:
        nxt = self._next.get(source)
        if nxt is None or ts >= nxt:  # a few comparisons per record, a sample about once a second
            samples = self._samples.get(source)
            if samples is None:
                self._samples[source] = deque([(ts, offset)])
            else:
                samples.append((ts, offset))
            self._next[source] = ts + self.STEP

    def retained(self, watermark: dt.datetime | None) -> dict[Hashable, int]:
        out = {}
        for source, samples in self._samples.items():
            if watermark is not None:
                cutoff = watermark - self.span
                while len(samples) > 1 and samples[1][0] < cutoff:
                    samples.popleft()
            out[source] = samples[0][1]
        return out
