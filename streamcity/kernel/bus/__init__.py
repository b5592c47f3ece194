"""The event bus: one interface, an in-process and a Kafka implementation.

`get_bus()` returns the process's bus as configured: Kafka when KAFKA_BOOTSTRAP_SERVERS is set,
otherwise the in-process bus shared by every role running in this process.
"""

from __future__ import annotations

import threading

from django.conf import settings

from streamcity.kernel.schemas import TOPICS, dlq_topic

from .base import Bus, BusConsumer, Record, TopicSpec
from .worker import Decoded, TransientError, Worker, dead_letter

__all__ = [
    "Bus",
    "BusConsumer",
    "Decoded",
    "Record",
    "TopicSpec",
    "TransientError",
    "Worker",
    "dead_letter",
    "get_bus",
    "make_bus",
    "topic_specs",
]

_bus: Bus | None = None
_lock = threading.Lock()


def make_bus() -> Bus:
    """A new bus from the settings."""
    if settings.KAFKA_BOOTSTRAP_SERVERS:
        from .kafka import KafkaBus

        return KafkaBus(
            settings.KAFKA_CONFIG, topic_prefix=settings.KAFKA_TOPIC_PREFIX, consumer_config=settings.KAFKA_CONSUMER_CONFIG
        )
    from .memory import MemoryBus

    return MemoryBus(partitions=settings.STREAMCITY_PARTITIONS)


def get_bus() -> Bus:
    """The process-wide bus, created on first use."""
    global _bus
    if _bus is None:
        with _lock:
            if _bus is None:
                _bus = make_bus()
    return _bus


def topic_specs(partitions: int | None = None) -> list[TopicSpec]:
    """Every topic of the schema module and its dead-letter topic."""
    n = partitions or settings.STREAMCITY_PARTITIONS
    specs = []
    for t in TOPICS.values():
        specs.append(TopicSpec(t.name, n, t.compacted))
        specs.append(TopicSpec(dlq_topic(t.name), 1))
    return specs
