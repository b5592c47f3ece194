"""The one consume loop: poll a batch, decode, handle, store offsets, commit about once a second.

Handlers see decoded events, never the Kafka client. A record that cannot be decoded (whatever the
decoder raises: a schema error, JSON nested too deep, a string over its limit), or whose handling
fails on its own (any exception), goes to `<topic>.dlq` with the reason, its offset is committed
with the batch's, and the worker carries on: no record can stop a worker or make it loop.
A transient failure (the database went away) stores nothing: the batch is rewound and retried
after a back-off, so no offset is committed for a write that did not happen.

A handler that fails on every record is a bug, not bad data: once `max_consecutive_failures`
records in a row have failed in the handler (decoding errors do not count; one record handled
resets the count), the worker stops with HandlerFailing, which stops its role (streamcity.kernel.runtime).
The failures before the last were dead-lettered; the last one and the records after it are not
committed, so a fixed handler resumes there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
import msgspec

from streamcity.kernel.schemas import SchemaError, Topic, decode, dlq_topic

from .base import Bus, BusConsumer, Record, next_offsets

logger = logging.getLogger(__name__)

DLQ_VALUE_LIMIT = 512 * 1024  # a dead letter must itself fit in a Kafka record
MAX_VALUE_BYTES = 1024 * 1024  # no event of ours comes near this: a larger value is not decoded
MAX_CONSECUTIVE_FAILURES = 100  # default of settings.STREAMCITY_WORKER_MAX_CONSECUTIVE_FAILURES


class TransientError(Exception):
    """A failure that retrying the same batch later can cure (a database restart, a timeout)."""


class HandlerFailing(RuntimeError):
    """A handler failed on every record for too long: a bug to fix, not records to skip."""


def _max_consecutive_failures() -> int:
    from django.conf import settings

    if not settings.configured:
        return MAX_CONSECUTIVE_FAILURES
    return getattr(settings, "STREAMCITY_WORKER_MAX_CONSECUTIVE_FAILURES", MAX_CONSECUTIVE_FAILURES)


class Decoded(msgspec.Struct, frozen=True, gc=False):  # one per record: not for the GC to scan
    record: Record
    event: object


Handler = Callable[[list[Decoded]], None]
Retained = Callable[[], dict[tuple[str, int], int]]


def dead_letter(bus: Bus, record: Record, reason: str, *, source: str) -> None:
    """Send `record` to its topic's dead-letter topic with `reason`, and log it once."""
    value = record.value
    headers = [
        ("dlq.reason", reason.encode("utf-8", "replace")[:2000]),
        ("dlq.topic", record.topic.encode()),
        ("dlq.partition", str(record.partition).encode()),
        ("dlq.offset", str(record.offset).encode()),
        ("dlq.source", source.encode()),
    ]
    if value is not None and len(value) > DLQ_VALUE_LIMIT:
        headers.append(("dlq.original_size", str(len(value)).encode()))
        value = value[:DLQ_VALUE_LIMIT]
    bus.produce(dlq_topic(record.topic), record.key, value, tuple(headers))
    logger.warning(
        "dead-lettered %s[%d]@%d key=%r: %s", record.topic, record.partition, record.offset, record.key, reason
    )


class Worker:
    """Consumes `topics` in group `group_id` and hands decoded batches to `handle`."""

    def __init__(
        self,
        bus: Bus,
        *,
        name: str,
        group_id: str,
        topics: Sequence[Topic],
        handle: Handler,
        batch_size: int = 1000,
        poll_timeout: float = 0.2,
        commit_interval: float = 1.0,
        transient: tuple[type[BaseException], ...] = (TransientError,),
        max_backoff: float = 5.0,
        max_value_bytes: int = MAX_VALUE_BYTES,
        tick: Callable[[], None] | None = None,
        retain: Retained | None = None,
        on_stop: Callable[[], None] | None = None,
        max_consecutive_failures: int | None = None,
    ):
        """`tick`, if given, is called after every poll, records or not (timers of event-time
        processors). `retain`, if given, returns for some partitions the first offset whose record
        is still needed after a restart: commits never go past it, so a restarted member reads
        those records again and rebuilds its state (see BusConsumer.store_offsets). `on_stop`, if
        given, is called once `stop` is set, before the last commit (a handler that holds writes
        back writes them: what it still retains after that is read again after a restart).
        `max_consecutive_failures` (default settings.STREAMCITY_WORKER_MAX_CONSECUTIVE_FAILURES):
        records failing in the handler in a row, none handled between, before the worker stops
        with HandlerFailing (see the module docstring)."""
        self.bus = bus
        self.name = name
        self.group_id = group_id
        self.topics = {t.name: t for t in topics}
        self.handle = handle
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.commit_interval = commit_interval
        self.transient = transient
        self.max_backoff = max_backoff
        self.max_value_bytes = max_value_bytes
        # A handler may judge single records: `reject_reason(event) -> str | None`.
        self._reject = getattr(handle, "reject_reason", None)
        self.tick = tick
        self.retain = retain
        self.on_stop = on_stop
        self.max_consecutive_failures = (_max_consecutive_failures() if max_consecutive_failures is None
                                         else max_consecutive_failures)
        if self.max_consecutive_failures < 1:
            raise ValueError("max_consecutive_failures must be at least 1")
        self.consecutive_failures = 0
        self._handled: dict[tuple[str, int], int] = {}
        self.processed = 0
        self.dead_lettered = 0
        self.retries = 0
        self._last_commit = time.monotonic()
        self._backoff = 0.0

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set; then finish the batch, flush, commit and close."""
        consumer = self.bus.consumer(self.group_id, list(self.topics))
        logger.info("%s: consuming %s as group %s", self.name, ", ".join(self.topics), self.group_id)
        try:
            while not stop.is_set():
                self.step(consumer)
                if self._backoff:
                    stop.wait(self._backoff)
        finally:
            if self.on_stop is not None:
                try:
                    self.on_stop()
                except Exception:
                    logger.exception("%s: its last writes failed; what they held is read again after a restart",
                                     self.name)
            self.bus.flush()
            self._hold_back(consumer)
            consumer.close()  # commits what was stored
            logger.info("%s: stopped after %d records (%d dead-lettered)", self.name, self.processed, self.dead_lettered)

    def step(self, consumer: BusConsumer) -> int:
        """One poll-handle-store cycle; commits when the interval has passed. Returns records read."""
        records = consumer.consume(self.batch_size, self.poll_timeout)
        if records:
            self._process(consumer, records)
        if self.tick is not None:
            self.tick()
        if time.monotonic() - self._last_commit >= self.commit_interval:
            self.bus.flush()  # outputs are durable before the inputs are marked done
            self._hold_back(consumer)
            consumer.commit()
            self._last_commit = time.monotonic()
        return len(records)

    def _process(self, consumer: BusConsumer, records: list[Record]) -> None:
        good: list[Decoded] = []
        topics, limit, reject = self.topics, self.max_value_bytes, self._reject
        for r in records:
            topic = topics.get(r.topic)
            if topic is None:
                self._dead_letter(r, f"no schema for topic {r.topic}")
                continue
            value = r.value
            if value is not None and len(value) > limit:
                self._dead_letter(r, f"value of {len(value)} bytes is over the {limit}-byte limit")
                continue
            try:
                event = decode(topic.schema, value)
            except SchemaError as exc:
                self._dead_letter(r, str(exc))
                continue
            except Exception as exc:  # whatever else one record makes the decoder raise
                self._dead_letter(r, f"undecodable: {type(exc).__name__}: {exc}")
                continue
            if reject is not None:  # well-formed but meaningless here, e.g. a stop no trip serves
                try:
                    reason = reject(event)
                except Exception as exc:
                    reason = f"handler error judging it: {type(exc).__name__}: {exc}"
                if reason:
                    self._dead_letter(r, reason)
                    continue
            good.append(Decoded(r, event))
        if good:
            try:
                self.handle(good)
            except self.transient as exc:
                self._retry_later(consumer, records, exc)
                return
            except Exception:
                logger.exception("%s: batch of %d failed; handling its records one by one", self.name, len(good))
                if not self._one_by_one(consumer, records, good):
                    return
            else:
                self.consecutive_failures = 0
        consumer.store(records)
        if self.retain is not None:
            self._handled.update(next_offsets(records))
        self.processed += len(records)
        self._backoff = 0.0

    def _one_by_one(self, consumer: BusConsumer, records: list[Record], good: list[Decoded]) -> bool:
        """Hand `good` to the handler one record at a time, dead-lettering those that fail. False
        when it stopped early (a transient failure: the rest is retried later)."""
        position = {id(r): i for i, r in enumerate(records)}
        for i, d in enumerate(good):
            try:
                self.handle([d])
            except self.transient as exc:
                done = records[: position[id(d.record)]]
                consumer.store(done)
                self._retry_later(consumer, records[len(done):], exc)
                return False
            except Exception as exc:
                self.consecutive_failures += 1
                if self.consecutive_failures >= self.max_consecutive_failures:
                    self._give_up(consumer, records[: position[id(d.record)]], d.record, exc)
                self._dead_letter(d.record, f"handler error: {type(exc).__name__}: {exc}")
            else:
                self.consecutive_failures = 0
        return True

    def _give_up(self, consumer: BusConsumer, done: list[Record], failing: Record, exc: Exception) -> None:
        """Store what was handled before `failing` and raise HandlerFailing."""
        consumer.store(done)
        if self.retain is not None:
            self._handled.update(next_offsets(done))
        raise HandlerFailing(
            f"{self.name}: the handler failed on {self.consecutive_failures} records in a row and handled none "
            f"in between (the last: {type(exc).__name__}: {exc}). That is a bug in the handler, not bad "
            f"records: stopping. The {self.consecutive_failures - 1} before were dead-lettered to "
            f"{dlq_topic(failing.topic)}; from {failing.topic}[{failing.partition}]@{failing.offset} on nothing is "
            f"committed, so a fixed handler resumes there."
        ) from exc

    def _hold_back(self, consumer: BusConsumer) -> None:
        """Keep the next commit at or before the records the handler still needs."""
        if self.retain is None:
            return
        retained = self.retain()
        assigned = set(consumer.assignment())
        self._handled = {tp: nxt for tp, nxt in self._handled.items() if tp in assigned}
        offsets = {tp: min(nxt, retained.get(tp, nxt)) for tp, nxt in self._handled.items()}
        if offsets:
            consumer.store_offsets(offsets)

    def _retry_later(self, consumer: BusConsumer, records: list[Record], exc: BaseException) -> None:
        self.retries += 1
        self._backoff = min(self.max_backoff, max(0.1, self._backoff * 2))
        logger.warning("%s: transient failure, retrying %d records in %.1fs: %s", self.name, len(records), self._backoff, exc)
        consumer.rewind(records)

    def _dead_letter(self, record: Record, reason: str) -> None:
        self.dead_lettered += 1
        dead_letter(self.bus, record, reason, source=self.group_id)
