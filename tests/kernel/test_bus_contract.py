"""The bus contract: the in-process bus and the real Kafka broker pass the same tests."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time

from streamcity.kernel.bus import TopicSpec, TransientError, Worker
from streamcity.kernel.schemas import VEHICLE_LOCATIONS, VehicleLocation, encode

NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def drain(consumer, count, timeout=30.0, max_records=500):
    """Consume until `count` records arrived (or the timeout passed)."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        out.extend(consumer.consume(max_records, 0.5))
    return out


def quiet(consumer, seconds=2.0):
    """Records that arrive within `seconds` (expected: none)."""
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out.extend(consumer.consume(100, 0.2))
    return out


def vehicle(i: int, vehicle_id: str = "v1") -> bytes:
    ts = NOW + dt.timedelta(seconds=i)
    return encode(VehicleLocation(vehicle_id=vehicle_id, vehicle_type="bus", latitude=52.0, longitude=4.0, passenger_count=i, timestamp=ts))


def test_records_with_one_key_keep_their_order(bus):
    bus.ensure_topics([TopicSpec("orders", partitions=3)])
    for i in range(60):
        bus.produce("orders", f"k{i % 4}", str(i).encode())
    assert bus.flush() == 0
    with bus.consumer("g-order", ["orders"]) as c:
        records = drain(c, 60)
    assert len(records) == 60
    by_key: dict[str, list[int]] = {}
    partitions: dict[str, set[int]] = {}
    for r in records:
        by_key.setdefault(r.key, []).append(int(r.value))
        partitions.setdefault(r.key, set()).add(r.partition)
    assert all(v == sorted(v) for v in by_key.values())
    assert all(len(p) == 1 for p in partitions.values())  # a key always lands on one partition
    assert sorted(sum(by_key.values(), [])) == list(range(60))


def test_produce_many_is_produce_in_order(bus):
    bus.ensure_topics([TopicSpec("many", partitions=3)])
    bus.produce_many("many", ((f"k{i % 4}", str(i).encode()) for i in range(60)))
    bus.produce("many", None, b"after")
    assert bus.flush() == 0
    assert bus.delivery_stats["produced"] >= 61
    with bus.consumer("g-many", ["many"]) as c:
        records = drain(c, 61)
    by_key: dict[str | None, list[bytes]] = {}
    partitions: dict[str | None, set[int]] = {}
    for r in records:
        by_key.setdefault(r.key, []).append(r.value)
        partitions.setdefault(r.key, set()).add(r.partition)
    assert by_key.pop(None) == [b"after"]
    assert by_key == {f"k{k}": [str(i).encode() for i in range(k, 60, 4)] for k in range(4)}
    assert all(len(p) == 1 for p in partitions.values())


def test_consume_returns_batches_up_to_the_limit(bus):
    bus.ensure_topics([TopicSpec("batches", partitions=1)])
    for i in range(50):
        bus.produce("batches", "k", str(i).encode())
    bus.flush()
    with bus.consumer("g-batch", ["batches"]) as c:
        sizes = []
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 50 and time.monotonic() < deadline:
            batch = c.consume(20, 0.5)
            if batch:
                sizes.append(len(batch))
                got.extend(batch)
    assert [int(r.value) for r in got] == list(range(50))
    assert max(sizes) <= 20 and len(sizes) >= 3


def test_a_new_member_resumes_from_the_committed_offset(bus):
    bus.ensure_topics([TopicSpec("resume", partitions=1)])
    for i in range(10):
        bus.produce("resume", "k", str(i).encode())
    bus.flush()
    c = bus.consumer("g-resume", ["resume"])
    records = drain(c, 10)
    c.store(records[:6])  # only the first six were handled
    c.commit()
    c.close()
    with bus.consumer("g-resume", ["resume"]) as again:
        rest = drain(again, 4)
        assert [int(r.value) for r in rest] == [6, 7, 8, 9]
        assert quiet(again, 1.0) == []


def test_nothing_is_committed_for_records_not_handled(bus):
    bus.ensure_topics([TopicSpec("unhandled", partitions=1)])
    for i in range(5):
        bus.produce("unhandled", "k", str(i).encode())
    bus.flush()
    c = bus.consumer("g-unhandled", ["unhandled"])
    assert len(drain(c, 5)) == 5
    c.close()  # nothing stored: nothing committed
    with bus.consumer("g-unhandled", ["unhandled"]) as again:
        assert [int(r.value) for r in drain(again, 5)] == [0, 1, 2, 3, 4]


def test_rewind_delivers_the_records_again(bus):
    bus.ensure_topics([TopicSpec("rewind", partitions=1)])
    for i in range(4):
        bus.produce("rewind", "k", str(i).encode())
    bus.flush()
    with bus.consumer("g-rewind", ["rewind"]) as c:
        first = drain(c, 4)
        c.rewind(first[2:])
        again = drain(c, 2)
    assert [int(r.value) for r in again] == [2, 3]


def run_worker(worker, until, timeout=30.0):
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def test_worker_dead_letters_a_malformed_record_and_carries_on(bus):
    bus.ensure_topics([TopicSpec("vehicle_locations", 3), TopicSpec("vehicle_locations.dlq", 1)])
    bus.produce("vehicle_locations", "v1", vehicle(1))
    bus.produce("vehicle_locations", "v1", b'{"vehicle_id": 42}')
    bus.produce("vehicle_locations", "v1", vehicle(2))
    bus.flush()
    handled = []
    worker = Worker(bus, name="t", group_id="g-dlq", topics=[VEHICLE_LOCATIONS],
                    handle=lambda batch: handled.extend(d.event.passenger_count for d in batch), commit_interval=0)
    run_worker(worker, lambda: len(handled) >= 2)
    assert handled == [1, 2]
    assert worker.dead_lettered == 1
    with bus.consumer("g-dlq-reader", ["vehicle_locations.dlq"]) as c:
        [dead] = drain(c, 1)
    assert dead.value == b'{"vehicle_id": 42}'
    assert b"Expected `str`, got `int`" in dead.header("dlq.reason")
    assert dead.header("dlq.topic") == b"vehicle_locations"
    # the good records were committed: a restarted worker has nothing left to do
    with bus.consumer("g-dlq", ["vehicle_locations"]) as c:
        assert quiet(c, 2.0) == []


def test_a_record_whose_handler_fails_is_dead_lettered_not_committed_silently(bus):
    bus.ensure_topics([TopicSpec("vehicle_locations", 3), TopicSpec("vehicle_locations.dlq", 1)])
    for i in range(1, 6):
        bus.produce("vehicle_locations", "v1", vehicle(i))
    bus.flush()
    handled = []

    def handle(batch):
        if any(d.event.passenger_count == 3 for d in batch):
            raise ValueError("cannot handle passenger_count 3")
        handled.extend(d.event.passenger_count for d in batch)

    worker = Worker(bus, name="t", group_id="g-poison", topics=[VEHICLE_LOCATIONS], handle=handle, commit_interval=0)
    run_worker(worker, lambda: len(handled) >= 4)
    assert sorted(handled) == [1, 2, 4, 5]
    with bus.consumer("g-poison-dlq", ["vehicle_locations.dlq"]) as c:
        [dead] = drain(c, 1)
    assert b"cannot handle passenger_count 3" in dead.header("dlq.reason")


def test_a_transient_failure_redelivers_the_batch(bus):
    bus.ensure_topics([TopicSpec("vehicle_locations", 3), TopicSpec("vehicle_locations.dlq", 1)])
    for i in range(1, 4):
        bus.produce("vehicle_locations", "v1", vehicle(i))
    bus.flush()
    attempts = []
    handled = []

    def handle(batch):
        attempts.append(len(batch))
        if len(attempts) <= 2:
            raise TransientError("database restarting")
        handled.extend(d.event.passenger_count for d in batch)

    worker = Worker(bus, name="t", group_id="g-transient", topics=[VEHICLE_LOCATIONS], handle=handle, commit_interval=0)
    run_worker(worker, lambda: len(handled) >= 3)
    assert handled == [1, 2, 3]
    assert worker.retries == 2 and worker.dead_lettered == 0


def test_an_oversized_value_is_dead_lettered_without_decoding(memory_bus):
    bus = memory_bus
    big = b'{"vehicle_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    bus.produce("vehicle_locations", "v1", big)
    bus.produce("vehicle_locations", "v1", vehicle(1))
    handled = []
    worker = Worker(bus, name="t", group_id="g-big", topics=[VEHICLE_LOCATIONS], handle=handled.extend, commit_interval=0)
    run_worker(worker, lambda: len(handled) >= 1)
    assert worker.dead_lettered == 1 and len(handled) == 1
    with bus.consumer("g-big-dlq", ["vehicle_locations.dlq"]) as c:
        [dead] = drain(c, 1)
    assert b"over the 1048576-byte limit" in dead.header("dlq.reason")
    assert dead.header("dlq.original_size") == str(len(big)).encode() and len(dead.value) == 512 * 1024


def test_end_offsets_are_the_next_offset_of_each_partition(bus):
    bus.ensure_topics([TopicSpec("ends", partitions=2)])
    assert bus.end_offsets("ends") == {0: 0, 1: 0}
    for i in range(5):
        bus.produce("ends", "same-key", str(i).encode())
    bus.flush()
    ends = bus.end_offsets("ends")
    assert sorted(ends.values()) == [0, 5]


def test_store_offsets_can_hold_the_committed_position_back(bus):
    bus.ensure_topics([TopicSpec("held", partitions=1)])
    for i in range(8):
        bus.produce("held", "k", str(i).encode())
    bus.flush()
    c = bus.consumer("g-held", ["held"])
    records = drain(c, 8)
    c.store(records)  # all handled...
    c.store_offsets({("held", 0): 3})  # ...but records from offset 3 on are still needed
    c.commit()
    c.close()
    with bus.consumer("g-held", ["held"]) as again:
        assert [int(r.value) for r in drain(again, 5)] == [3, 4, 5, 6, 7]


def test_a_worker_with_retain_commits_no_further_than_the_handler_needs(bus):
    bus.ensure_topics([TopicSpec("vehicle_locations", 1), TopicSpec("vehicle_locations.dlq", 1)])
    for i in range(1, 7):
        bus.produce("vehicle_locations", "v1", vehicle(i))
    bus.flush()
    handled, ticks = [], []
    worker = Worker(bus, name="t", group_id="g-retain", topics=[VEHICLE_LOCATIONS], commit_interval=0,
                    handle=lambda batch: handled.extend(d.event.passenger_count for d in batch),
                    tick=lambda: ticks.append(1), retain=lambda: {("vehicle_locations", 0): 4})
    run_worker(worker, lambda: len(handled) >= 6 and len(ticks) >= 3)
    with bus.consumer("g-retain", ["vehicle_locations"]) as again:
        assert [int(r.offset) for r in drain(again, 2)] == [4, 5]


def test_in_process_retention_drops_old_records_and_compaction_keeps_every_key():
    from streamcity.kernel.bus.memory import MemoryBus

    bus = MemoryBus(partitions=1, retention=100)
    bus.ensure_topics([TopicSpec("plain", 1), TopicSpec("table", 1, compacted=True)])
    for i in range(1000):
        bus.produce("plain", "k", str(i).encode())
        bus.produce("table", f"k{i % 300}", str(i).encode())
    with bus.consumer("g-ret", ["plain", "table"]) as c:
        records = drain(c, 10_000, timeout=1)
    plain = [int(r.value) for r in records if r.topic == "plain"]
    table = {r.key: int(r.value) for r in records if r.topic == "table"}
    assert len(plain) <= 125 and plain[-1] == 999 and plain == sorted(plain)  # the newest, in order
    assert len(table) == 300 and all(v >= 700 for v in table.values())  # every key, at its latest value


def test_a_batch_shares_out_the_partitions_with_a_backlog(memory_bus):
    """A backlog in one partition does not starve the others (Kafka's fetches interleave them)."""
    memory_bus.ensure_topics([TopicSpec("shares", partitions=3)])
    for i in range(300):
        memory_bus.produce("shares", f"k{i % 30}", str(i).encode())
    assert all(n > 30 for n in memory_bus.end_offsets("shares").values())  # a backlog in every partition
    with memory_bus.consumer("g-shares", ["shares"]) as c:
        batch = c.consume(30, 0.5)
    assert len(batch) == 30 and len({r.partition for r in batch}) == 3


def test_next_offsets_are_the_offset_after_the_highest_of_each_partition():
    from streamcity.kernel.bus.base import Record, next_offsets

    def r(topic, partition, offset):
        return Record(topic, partition, offset, None, None)

    records = [r("a", 0, 5), r("a", 0, 6), r("a", 1, 3), r("a", 0, 2), r("b", 0, 9), r("a", 0, 7), r("a", 1, 1)]
    assert next_offsets(records) == {("a", 0): 8, ("a", 1): 4, ("b", 0): 10}
    assert next_offsets([]) == {}


def test_a_consumer_catching_up_is_not_held_back_a_second_per_fetch(kafka_bootstrap, unique):
    """librdkafka waits `fetch.queue.backoff.ms` (1,000 ms by default) before it fetches again for a
    partition whose pre-fetch queue is over its threshold: a worker catching up on a backlog read
    what one fetch brought, then waited. Here the settings' consumer configuration, fetches of about
    one producer batch (100 records) and a threshold of one queued record: 50 fetches, over 20 s
    with the default (the bound is there to fail it, not to time the bus), ~1 s with the setting."""
    from django.conf import settings

    from streamcity.kernel.bus.kafka import KafkaBus

    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=f"test-{unique}-",
                   producer_config={"batch.num.messages": 100},
                   consumer_config={**settings.KAFKA_CONSUMER_CONFIG, "queued.min.messages": 1,
                                    "max.partition.fetch.bytes": 10_000})
    try:
        bus.ensure_topics([TopicSpec("backlog", partitions=1)])
        bus.produce_many("backlog", (("k", os.urandom(80)) for _ in range(5000)))  # lz4 cannot shrink them
        bus.flush()
        got = []
        with bus.consumer("g-backlog", ["backlog"]) as c:
            deadline = time.monotonic() + 20
            while len(got) < 5000 and time.monotonic() < deadline:
                got += c.consume(100, 0.5)
                time.sleep(0.005)  # a worker handling its batch meanwhile: the pre-fetch queue fills
        assert len(got) == 5000
    finally:
        bus.close()
