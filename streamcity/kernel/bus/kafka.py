"""The bus on Apache Kafka (or Confluent Cloud) through confluent-kafka.

Producer: idempotent, acks=all, created on first use, flushed on close. Consumers: batch
`consume()`, no auto-commit; offsets are committed only for records the worker stored as handled,
and stored offsets are committed before partitions are revoked in a rebalance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from .base import Bus, BusConsumer, Headers, Record, TopicSpec, first_offsets, next_offsets

logger = logging.getLogger(__name__)


class KafkaBus(Bus):
    def __init__(self, config: dict[str, str], *, topic_prefix: str = "", producer_config=None, consumer_config=None):
        self._config = dict(config)
        self._prefix = topic_prefix
        self._producer_config = producer_config or {}
        self._consumer_config = consumer_config or {}
        self._producer: Producer | None = None
        self._lock = threading.Lock()
        self._stats = {"produced": 0, "delivered": 0, "failed": 0}
        self._physical: dict[str, str] = {}  # logical -> physical topic name

    def physical(self, topic: str) -> str:
        return self._prefix + topic

    def logical(self, topic: str) -> str:
        return topic[len(self._prefix) :] if self._prefix and topic.startswith(self._prefix) else topic

    # -- producing --------------------------------------------------------------
    def _get_producer(self) -> Producer:
        if self._producer is None:
            with self._lock:
                if self._producer is None:
                    self._producer = Producer(
                        {
                            **self._config,
                            "enable.idempotence": True,
                            "acks": "all",
                            # the Java client's partitioner: a key lands in the partition Kafka Streams
                            # (ksqlDB) puts it in, so stop_schedule is co-partitioned with the reports
                            # ksqlDB repartitions by the same key for its join (docs/ksqldb.md)
                            "partitioner": "murmur2_random",
                            "linger.ms": 10,
                            "compression.type": "lz4",
                            "queue.buffering.max.messages": 500_000,
                            "on_delivery": self._on_delivery,
                            # no Python callback per record (a sixth of a processor's time at 9,000
                            # vehicles/s): only failures are reported; `delivered` is counted from them
                            "delivery.report.only.error": True,
                            "error_cb": _log_error,
                            **self._producer_config,
                        }
                    )
        return self._producer

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._stats["failed"] += 1
            logger.error("delivery to %s failed: %s", msg.topic(), err)

    def produce(self, topic: str, key: str | None, value: bytes | None, headers: Headers = (),
                timestamp_ms: int | None = None) -> None:
        kwargs = {"headers": list(headers)} if headers else _NO_KWARGS
        if timestamp_ms is not None:
            kwargs = {**kwargs, "timestamp": timestamp_ms}
        self._send(topic, ((key, value),), kwargs)

    def produce_many(self, topic: str, records) -> None:
        self._send(topic, records, _NO_KWARGS)

    def _send(self, topic: str, records, kwargs: dict) -> None:
        producer = self._producer
        if producer is None:
            producer = self._get_producer()
        name = self._physical.get(topic)
        if name is None:
            name = self._physical[topic] = self.physical(topic)
        produce, stats, n = producer.produce, self._stats, 0
        for key, value in records:
            while True:
                try:
                    produce(name, value, key, **kwargs)
                    break
                except BufferError:  # local queue full: serve delivery reports and retry
                    producer.poll(0.05)
            n += 1
        before = stats["produced"]
        stats["produced"] = before + n
        if (before + n) // 1000 != before // 1000:  # serve failure reports and errors now and then
            producer.poll(0)

    def flush(self, timeout: float = 30.0) -> int:
        if self._producer is None:
            return 0
        return self._producer.flush(timeout)

    @property
    def delivery_stats(self) -> dict[str, int]:
        pending = 0
        if self._producer is not None:
            self._producer.poll(0)
            pending = len(self._producer)  # queued or in flight
        stats = dict(self._stats)
        stats["delivered"] = stats["produced"] - stats["failed"] - pending
        return stats

    def close(self) -> None:
        remaining = self.flush()
        if remaining:
            logger.error("%d records were still undelivered at shutdown", remaining)

    # -- topics -----------------------------------------------------------------
    def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        admin = AdminClient(self._config)
        existing = set(admin.list_topics(timeout=15).topics)
        new = []
        for spec in specs:
            name = self.physical(spec.name)
            if name in existing:
                continue
            config = dict(spec.config)
            if spec.compacted:
                config["cleanup.policy"] = "compact"
            new.append(NewTopic(name, num_partitions=spec.partitions, config=config))
        if not new:
            return
        for name, future in admin.create_topics(new, operation_timeout=15).items():
            try:
                future.result()
                logger.info("created topic %s", name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    # -- consuming ----------------------------------------------------------------
    def consumer(self, group_id: str, topics: Iterable[str]) -> KafkaConsumer:
        return KafkaConsumer(self, group_id, list(topics))

    def end_offsets(self, topic: str, *, attempts: int = 10) -> dict[int, int]:
        """The high watermark of every partition of `topic`.

        Retried on retriable errors: right after a topic is created (or a broker restarts) a
        partition may still have no leader for a moment.
        """
        c = Consumer({**self._config, "group.id": "streamcity-offsets", "enable.auto.commit": False})
        try:
            name = self.physical(topic)
            for attempt in range(attempts):
                try:
                    meta = c.list_topics(name, timeout=10).topics[name]
                    if meta.error is not None:
                        raise KafkaException(meta.error)
                    return {p: c.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1] for p in meta.partitions}
                except KafkaException as exc:
                    err = exc.args[0]
                    if attempt == attempts - 1 or not (err.retriable() or err.code() in _NOT_READY):
                        raise
                    time.sleep(0.2 * (attempt + 1))
        finally:
            c.close()


_NO_KWARGS: dict = {}
_NOT_READY = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART}


def _log_error(err) -> None:
    logger.warning("kafka: %s", err)


class KafkaConsumer(BusConsumer):
    def __init__(self, bus: KafkaBus, group_id: str, topics: list[str]):
        self._bus = bus
        self.group_id = group_id
        self._stored: dict[tuple[str, int], int] = {}
        self._names: dict[str, str] = {}
        self._consumer = Consumer(
            {
                **bus._config,
                "group.id": bus.physical(group_id),  # the prefix namespaces consumer groups too
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
                "error_cb": _log_error,
                **bus._consumer_config,
            }
        )
        self._consumer.subscribe([bus.physical(t) for t in topics], on_revoke=self._on_revoke, on_lost=self._on_lost)

    def _on_revoke(self, consumer, partitions) -> None:
        revoked = {(self._bus.logical(p.topic), p.partition) for p in partitions}
        self._bus.flush()
        self._commit({tp: off for tp, off in self._stored.items() if tp in revoked})
        self._stored = {tp: off for tp, off in self._stored.items() if tp not in revoked}

    def _on_lost(self, consumer, partitions) -> None:
        lost = {(self._bus.logical(p.topic), p.partition) for p in partitions}
        self._stored = {tp: off for tp, off in self._stored.items() if tp not in lost}

    def consume(self, max_records: int = 500, timeout: float = 1.0) -> list[Record]:
        out = []
        names = self._names  # physical -> logical topic name, one lookup per record
        # confluent-kafka's consume(n, timeout) waits until n messages have come or the timeout is
        # over: at a low rate every batch would wait the whole timeout. Take what is already fetched;
        # only when there is nothing, wait for the first message, then take what came with it.
        messages = self._consumer.consume(max_records, 0)
        if not messages:
            first = self._consumer.poll(timeout)
            if first is None:
                return out
            messages = [first] + self._consumer.consume(max_records - 1, 0) if max_records > 1 else [first]
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.fatal():
                    raise KafkaException(err)
                logger.warning("consume: %s", err)
                continue
            key = msg.key()
            topic = msg.topic()
            name = names.get(topic)
            if name is None:
                name = names[topic] = self._bus.logical(topic)
            headers = msg.headers()
            out.append(
                Record(
                    name,
                    msg.partition(),
                    msg.offset(),
                    key.decode("utf-8", "replace") if key is not None else None,
                    msg.value(),
                    msg.timestamp()[1],
                    tuple(headers) if headers else (),
                )
            )
        return out

    def store(self, records: Sequence[Record]) -> None:
        for tp, off in next_offsets(records).items():
            if off > self._stored.get(tp, -1):
                self._stored[tp] = off

    def store_offsets(self, offsets: Mapping[tuple[str, int], int]) -> None:
        self._stored.update(offsets)

    def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        if not offsets:
            return
        tps = [TopicPartition(self._bus.physical(t), p, off) for (t, p), off in offsets.items()]
        try:
            self._consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as exc:
            # e.g. the group rebalanced meanwhile: those records will be delivered again.
            logger.warning("commit failed (records will be redelivered): %s", exc)

    def commit(self) -> None:
        stored, self._stored = self._stored, {}
        self._commit(stored)

    def rewind(self, records: Sequence[Record]) -> None:
        for (t, p), off in first_offsets(records).items():
            try:
                self._consumer.seek(TopicPartition(self._bus.physical(t), p, off))
            except KafkaException as exc:  # no longer assigned: its new owner reads it from the commit
                logger.info("rewind of %s[%d] skipped: %s", t, p, exc)

    def assignment(self) -> list[tuple[str, int]]:
        return sorted((self._bus.logical(p.topic), p.partition) for p in self._consumer.assignment())

    def close(self) -> None:
        if self._consumer is None:
            return
        self._bus.flush()
        self.commit()
        self._consumer.close()
        self._consumer = None
