"""The benchmark's baseline on Kafka: a bare consume+decode loop, in a process of its own.

The workers' loop without their work: confluent-kafka `consume()` in batches of up to 1,000 and
the schema decoder, over the run's input topics from their beginning, with the workers' consumer
settings. In a process of its own, as a worker runs under `runprocessors`: inside the pipeline
process it shared the GIL with Daphne, the frame publisher and the idle workers, and read anywhere
from 394,000 to 666,000 records/s from one run to the next.

    python -m benchmarks.baseline < request.json

The request comes on stdin (the consumer configuration may carry SASL credentials, which a command
line shows to every user of the machine): `{"config": {...}, "topics": {"physical": "logical"},
"records": N, "seconds": S}`. It prints one JSON line: `{"records": n, "per_s": rate}`; the rate
runs from the first batch to the last (the group's join and first fetch are not counted).
"""

from __future__ import annotations

import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streamcity.kernel.schemas import TOPICS, decode


def bare_loop(config: dict, topics: dict[str, str], records: int, seconds: float) -> tuple[int, float]:
    """Read and decode `records` records of `topics` (physical -> logical name) from their
    beginning, or what comes within `seconds`; return (records read, records per second)."""
    consumer = Consumer({**config, "enable.auto.commit": False, "enable.partition.eof": False})
    schemas, tps = {}, []
    try:
        for physical, logical in topics.items():
            schemas[physical] = TOPICS[logical].schema
            meta = consumer.list_topics(physical, timeout=10).topics[physical]
            tps += [TopicPartition(physical, p, OFFSET_BEGINNING) for p in meta.partitions]
        consumer.assign(tps)
        count, first, last = 0, None, None
        limit = time.monotonic() + seconds
        while count < records and time.monotonic() < limit:
            messages = consumer.consume(1000, 0) or consumer.consume(1, 0.5)
            if messages and first is None:
                first = time.monotonic()
            for m in messages:
                if m.error() is None:
                    decode(schemas[m.topic()], m.value())
            count += len(messages)
            last = time.monotonic()
    finally:
        consumer.close()
    return count, (count / (last - first) if first is not None and last > first else 0.0)


def main() -> None:
    request = json.load(sys.stdin)
    count, rate = bare_loop(request["config"], request["topics"], request["records"], request["seconds"])
    print(json.dumps({"records": count, "per_s": rate}), flush=True)


if __name__ == "__main__":
    main()
