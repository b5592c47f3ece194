"""The bus interface every producer, processor and consumer talks to.

Two implementations pass the same contract tests: `memory.MemoryBus` (in-process, Kafka's
semantics) and `kafka.KafkaBus` (confluent-kafka). Nothing else knows which one is in use.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

Headers = tuple[tuple[str, bytes], ...]


class Record(msgspec.Struct, frozen=True, gc=False):
    """One record read from a topic partition.

    Not tracked by the garbage collector (it holds no container that could make a cycle): the
    in-process bus keeps some hundred thousand of them, and full collections scanning them stopped
    the whole pipeline (docs/benchmarks.md).
    """

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    timestamp_ms: int = 0
    headers: Headers = ()

    def header(self, name: str) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What `ensure_topics` creates."""

    name: str
    partitions: int = 6
    compacted: bool = False
    config: dict[str, str] = field(default_factory=dict)


class BusConsumer(abc.ABC):
    """A member of a consumer group. Offsets are committed only for records marked handled."""

    @abc.abstractmethod
    def consume(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        """Up to `max_records` records, waiting at most `timeout` seconds for the first."""

    @abc.abstractmethod
    def store(self, records: Sequence[Record]) -> None:
        """Mark `records` handled: the next commit() covers them. Cheap and local."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Commit the offsets stored so far (synchronously)."""

    @abc.abstractmethod
    def store_offsets(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Set the next offset the next commit() writes for these (topic, partition) pairs.

        Unlike store(), this may move a partition back: a processor whose state still needs
        older records (an open window, a silent vehicle) holds its committed position there, so
        that a restarted member reads them again and rebuilds that state.
        """

    @abc.abstractmethod
    def rewind(self, records: Sequence[Record]) -> None:
        """Seek back so that `records` are delivered again (after a failed handle)."""

    @abc.abstractmethod
    def assignment(self) -> list[tuple[str, int]]:
        """The (topic, partition) pairs this member owns now."""

    @abc.abstractmethod
    def close(self) -> None:
        """Commit what is stored and leave the group."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Bus(abc.ABC):
    """Produce records and create consumers."""

    @abc.abstractmethod
    def produce(self, topic: str, key: str | None, value: bytes | None, headers: Headers = (),
                timestamp_ms: int | None = None) -> None:
        """Queue a record for `topic`. Records with one key keep their order. `timestamp_ms`: the
        record's timestamp (default: now), for readers that order by it (ksqlDB's joins)."""

    def produce_many(self, topic: str, records: Iterable[tuple[str | None, bytes | None]]) -> None:
        """Queue (key, value) records for `topic`, in order: `produce` for each, with the per-call
        work (topic lookup, locks, counters) done once (a processor's output batch)."""
        for key, value in records:
            self.produce(topic, key, value)

    @abc.abstractmethod
    def flush(self, timeout: float = 30.0) -> int:
        """Wait until queued records are acknowledged; return how many are still pending."""

    @abc.abstractmethod
    def consumer(self, group_id: str, topics: Iterable[str]) -> BusConsumer:
        """A new member of `group_id` subscribed to `topics`."""

    @abc.abstractmethod
    def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        """Create the topics that do not exist yet."""

    @abc.abstractmethod
    def end_offsets(self, topic: str) -> dict[int, int]:
        """The offset the next record of each partition of `topic` will get (the high watermark)."""

    @property
    @abc.abstractmethod
    def delivery_stats(self) -> dict[str, int]:
        """Counts of records `produced`, `delivered` (acknowledged) and `failed`."""

    def close(self) -> None:
        """Flush and release clients."""
        self.flush()


def next_offsets(records: Iterable[Record]) -> dict[tuple[str, int], int]:
    """The offset after the last of `records` in each partition."""
    out: dict[tuple[str, int], int] = {}
    topic = partition = None
    high = -1
    for r in records:  # a batch comes in runs of one partition: one key per run, not per record
        if r.partition != partition or r.topic != topic:
            if topic is not None and high > out.get((topic, partition), -1):
                out[(topic, partition)] = high
            topic, partition, high = r.topic, r.partition, -1
        if r.offset >= high:
            high = r.offset + 1
    if topic is not None and high > out.get((topic, partition), -1):
        out[(topic, partition)] = high
    return out


def first_offsets(records: Iterable[Record]) -> dict[tuple[str, int], int]:
    """The offset of the first of `records` in each partition."""
    out: dict[tuple[str, int], int] = {}
    for r in records:
        tp = (r.topic, r.partition)
        if tp not in out or r.offset < out[tp]:
            out[tp] = r.offset
    return out
