"""An in-process bus with Kafka's semantics, for the embedded default and for tests.

Topics have partitions; a key always lands on the same partition, so records with one key
keep their order. Consumer groups share partitions among their members and keep committed
offsets; a new group starts from the earliest retained record. Old records are dropped past a
retention count per partition (compacted topics keep the latest record per key instead).
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence

from .base import Bus, BusConsumer, Headers, Record, TopicSpec, first_offsets, next_offsets


class _Partition:
    __slots__ = ("records", "offsets", "next_offset", "trim_at")

    def __init__(self):
        self.records: list[Record] = []
        self.offsets: list[int] = []  # offsets of `records`, ascending (gaps after compaction)
        self.next_offset = 0
        self.trim_at = 0  # length at which the next trim or compaction runs

    def start(self) -> int:
        return self.offsets[0] if self.offsets else self.next_offset

    def read(self, position: int, limit: int) -> list[Record]:
        i = bisect.bisect_left(self.offsets, position)
        return self.records[i : i + limit]


class _Topic:
    __slots__ = ("name", "partitions", "compacted", "rr")

    def __init__(self, name: str, partitions: int, compacted: bool):
        self.name = name
        self.partitions = [_Partition() for _ in range(partitions)]
        self.compacted = compacted
        self.rr = itertools.count()


class _Group:
    def __init__(self):
        self.members: list[MemoryConsumer] = []
        self.committed: dict[tuple[str, int], int] = {}


class MemoryBus(Bus):
    """All state lives in this object; every role of one process shares it."""

    def __init__(self, *, partitions: int = 6, retention: int = 20_000):
        self.default_partitions = partitions
        self.retention = retention
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        # consumers waiting for a record, per topic: a record wakes only those of its topic, and
        # only once (they leave every set when they wake), not every consumer on every record
        self._waiting: dict[str, set[MemoryConsumer]] = {}
        self._topics: dict[str, _Topic] = {}
        self._groups: dict[str, _Group] = {}
        self._produced = 0

    # -- topics ---------------------------------------------------------------
    def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        with self._cond:
            created = set()
            for spec in specs:
                if spec.name not in self._topics:
                    self._topics[spec.name] = _Topic(spec.name, spec.partitions, spec.compacted)
                    created.add(spec.name)
            self._rebalance_subscribers(created)

    def _topic(self, name: str) -> _Topic:
        t = self._topics.get(name)
        if t is None:  # auto-create, as a broker with auto.create.topics.enable does
            t = self._topics[name] = _Topic(name, self.default_partitions, False)
            self._rebalance_subscribers({name})
        return t

    # -- producing --------------------------------------------------------------
    def produce(self, topic: str, key: str | None, value: bytes | None, headers: Headers = (),
                timestamp_ms: int | None = None) -> None:
        self._append(topic, ((key, value),), tuple(headers), timestamp_ms)

    def produce_many(self, topic: str, records) -> None:
        self._append(topic, records, ())

    def _append(self, topic: str, records, headers: tuple, timestamp_ms: int | None = None) -> None:
        ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        with self._cond:
            t = self._topic(topic)
            n = len(t.partitions)
            for key, value in records:
                p = zlib.crc32(key.encode()) % n if key is not None else next(t.rr) % n
                part = t.partitions[p]
                part.records.append(Record(topic, p, part.next_offset, key, value, ts, headers))
                part.offsets.append(part.next_offset)
                part.next_offset += 1
                self._produced += 1
                if len(part.records) > max(part.trim_at, self.retention * 1.25):
                    self._trim(t, part)
            waiting = self._waiting.pop(topic, None)
            if waiting:
                for consumer in waiting:
                    consumer._wake.notify()

    def _trim(self, topic: _Topic, part: _Partition) -> None:
        """Drop the oldest records past `retention`; a compacted topic keeps the latest per key, all of them."""
        if topic.compacted:
            latest: dict[str | None, int] = {}
            for i, r in enumerate(part.records):
                latest[r.key] = i
            part.records = [part.records[i] for i in sorted(latest.values())]
            part.trim_at = 2 * len(part.records)  # compact again once it has doubled
        else:
            del part.records[: len(part.records) - self.retention]
        part.offsets = [r.offset for r in part.records]

    def flush(self, timeout: float = 30.0) -> int:
        return 0  # appended synchronously: nothing is ever pending

    @property
    def delivery_stats(self) -> dict[str, int]:
        return {"produced": self._produced, "delivered": self._produced, "failed": 0}

    # -- consuming --------------------------------------------------------------
    def consumer(self, group_id: str, topics: Iterable[str]) -> MemoryConsumer:
        with self._cond:
            c = MemoryConsumer(self, group_id, list(topics))
            for name in c.topics:
                self._topic(name)
            self._groups.setdefault(group_id, _Group()).members.append(c)
            self._rebalance(group_id)
            return c

    def _rebalance_subscribers(self, topics: set[str]) -> None:
        """A new topic changes the assignment only of groups subscribed to it (as in Kafka)."""
        for group_id, group in self._groups.items():
            if any(t in m.topics for m in group.members for t in topics):
                self._rebalance(group_id)

    def _rebalance(self, group_id: str) -> None:
        """Range-free round-robin assignment of every subscribed partition to live members."""
        group = self._groups[group_id]
        for m in group.members:  # like on_revoke: what a member handled is committed first
            for tp, off in m._stored.items():
                if tp in m._assigned:
                    group.committed[tp] = off
            m._stored = {}
            m._assigned = {}
        if not group.members:
            return
        pairs = sorted(
            {(t, p) for m in group.members for t in m.topics for p in range(len(self._topics[t].partitions))}
        )
        i = 0
        for tp in pairs:
            candidates = [m for m in group.members if tp[0] in m.topics]
            m = candidates[i % len(candidates)]
            i += 1
            committed = group.committed.get(tp)
            start = self._topics[tp[0]].partitions[tp[1]].start()
            m._assigned[tp] = max(committed, start) if committed is not None else start
        for m in group.members:
            m._wake.notify_all()

    def _leave(self, consumer: MemoryConsumer) -> None:
        with self._cond:
            group = self._groups[consumer.group_id]
            if consumer in group.members:
                group.members.remove(consumer)
                self._rebalance(consumer.group_id)
            consumer._wake.notify_all()

    def end_offsets(self, topic: str) -> dict[int, int]:
        """The next offset of every partition of `topic` (for lag figures and tests)."""
        with self._cond:
            return {i: p.next_offset for i, p in enumerate(self._topic(topic).partitions)}

    def committed(self, group_id: str) -> dict[tuple[str, int], int]:
        with self._cond:
            return dict(self._groups.get(group_id, _Group()).committed)


class MemoryConsumer(BusConsumer):
    def __init__(self, bus: MemoryBus, group_id: str, topics: list[str]):
        self._bus = bus
        self.group_id = group_id
        self.topics = topics
        self._assigned: dict[tuple[str, int], int] = {}  # partition -> position
        self._stored: dict[tuple[str, int], int] = {}
        self._closed = False
        self._wake = threading.Condition(bus._lock)  # notified by a record of one of our topics

    LINGER = 0.005  # after waiting for a record, let more come: batches, not one wake-up per record

    def consume(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        deadline = time.monotonic() + timeout
        waiting = self._bus._waiting
        with self._bus._cond:
            lingered = False
            while True:
                out: list[Record] = []
                # Every partition with a backlog gets a share of the batch first, as Kafka's fetches
                # interleave partitions: a long backlog in one must not starve the others.
                share = max(1, -(-max_records // max(1, len(self._assigned))))
                for limit in (share, max_records):
                    for tp, pos in self._assigned.items():
                        if len(out) >= max_records:
                            break
                        part = self._bus._topics[tp[0]].partitions[tp[1]]
                        if pos < part.start():  # fell behind retention: resume at the earliest
                            pos = part.start()
                        recs = part.read(pos, min(limit, max_records - len(out)))
                        if recs:
                            out.extend(recs)
                            self._assigned[tp] = recs[-1].offset + 1
                if out or self._closed:
                    return out
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return out
                for topic in self.topics:
                    waiting.setdefault(topic, set()).add(self)
                woken = self._wake.wait(remaining)
                for topic in self.topics:
                    if topic in waiting:
                        waiting[topic].discard(self)
                if woken and not lingered:
                    lingered = True
                    self._wake.wait(min(self.LINGER, max(0.0, deadline - time.monotonic())))

    def store(self, records: Sequence[Record]) -> None:
        for tp, off in next_offsets(records).items():
            if off > self._stored.get(tp, -1):
                self._stored[tp] = off

    def commit(self) -> None:
        with self._bus._cond:
            group = self._bus._groups[self.group_id]
            for tp, off in self._stored.items():
                if tp in self._assigned:  # a revoked partition is no longer ours to commit
                    group.committed[tp] = off
            self._stored = {}

    def store_offsets(self, offsets: Mapping[tuple[str, int], int]) -> None:
        self._stored.update(offsets)

    def rewind(self, records: Sequence[Record]) -> None:
        with self._bus._cond:
            for tp, off in first_offsets(records).items():
                if tp in self._assigned and off < self._assigned[tp]:
                    self._assigned[tp] = off

    def assignment(self) -> list[tuple[str, int]]:
        with self._bus._cond:
            return sorted(self._assigned)

    def close(self) -> None:
        if self._closed:
            return
        self.commit()
        self._closed = True
        self._bus._leave(self)
