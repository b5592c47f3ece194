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


@dataclass(slots=True)
class _Source:
    high: dt.datetime
    last_wall: float


class _Held(msgspec.Struct, order=True, gc=False):
    """A held event; compared field by field in C like a tuple. Not tracked by the garbage
    collector: a quarter of a million held tuples made the collections cost ~1 µs an event."""

    ts: dt.datetime
    order: str
    seq: int
    item: Any
    dedupe: Any


class EventTimeBuffer:
    """Holds events until the watermark passes them; releases them in (event time, order) order."""

    def __init__(self, *, grace: dt.timedelta, idle_seconds: float):
        self.grace = grace
        self.idle_seconds = idle_seconds
        self.watermark: dt.datetime | None = None  # every event before it has been released
        self.late = 0
        self.duplicates = 0
        self.released = 0
        # Held events (_Held: ts, order, seq, item, dedupe): `_held` sorted
        # from `_head` on, `_incoming` as offered. Events come nearly in event-time order, so the
        # offers of a batch, sorted, overlap only the end of `_held`: merging them there costs
        # little, and a release cuts a prefix (a heap cost ~1.6 µs a pop at 270,000 held).
        self._held: list[_Held] = []
        self._head = 0
        self._incoming: list[_Held] = []
        self._held_keys: set[Hashable] = set()
        self._sources: dict[Hashable, _Source] = {}
        self._started: float | None = None
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._held) - self._head + len(self._incoming)

    def offer(self, source: Hashable, ts: dt.datetime, item: Any, *, order: str, dedupe: Hashable, now: float) -> bool:
        """Hold `item` (event time `ts`) from `source`; False if it is late or a duplicate."""
        if self._started is None:
            self._started = now
        src = self._sources.get(source)
        if src is None:
            self._sources[source] = _Source(ts, now)
        else:
            src.last_wall = now
            if ts > src.high:
                src.high = ts
        if self.watermark is not None and ts < self.watermark:
            self.late += 1
            return False
        if dedupe in self._held_keys:
            self.duplicates += 1
            return False
        self._held_keys.add(dedupe)
        self._incoming.append(_Held(ts, order, next(self._seq), item, dedupe))
        return True

    def _merge(self) -> None:
        incoming, held = self._incoming, self._held
        if not incoming:
            return
        self._incoming = []
        incoming.sort()
        if len(held) == self._head or incoming[0] > held[-1]:
            held += incoming
            return
        at = bisect.bisect_right(held, incoming[0], self._head)
        tail = held[at:]
        del held[at:]
        tail += incoming
        tail.sort()  # two sorted runs: one merge
        held += tail

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

    def release(self, now: float) -> list[tuple[dt.datetime, Any]]:
        """Every held event before the (advanced) watermark, oldest first."""
        wm = self.advance(now)
        self._merge()
        held, head = self._held, self._head
        if wm is None or len(held) == head or held[head].ts >= wm:
            return []
        cut = bisect.bisect_left(held, wm, head, key=_ts)
        taken = held[head:cut]
        keys = self._held_keys
        for entry in taken:
            keys.discard(entry.dedupe)
        if cut > len(held) // 2:  # drop the released prefix now and then, not on every release
            del held[:cut]
            cut = 0
        self._head = cut
        self.released += len(taken)
        return [(entry.ts, entry.item) for entry in taken]


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
