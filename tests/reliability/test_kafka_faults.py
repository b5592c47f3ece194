"""Faults on the Kafka side: the broker crashes, the alert consumer is killed, a member joins.

Each test drives numbered traffic incidents (one alert each) through the real alert consumer
(`manage.py runconsumers`) into PostgreSQL and counts: nothing acknowledged is lost, nothing is
duplicated. Figures are printed (run with -s to see them).
"""

from __future__ import annotations

import random
import signal
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from alerts.models import Alert, AlertChange
from streamcity.kernel.bus import TopicSpec, Worker
from streamcity.kernel.bus.kafka import KafkaBus
from streamcity.kernel.schemas import TRAFFIC_INCIDENTS, encode

from tests.e2e.conftest import base_env, database_url, manage, wait_until

from .conftest import numbered_incident

pytestmark = [pytest.mark.serial, pytest.mark.kafka, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_required")]


def consumers_env(tmp_path, bootstrap, prefix):
    return base_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_TOPIC_PREFIX=prefix, DATABASE_URL=database_url(),
                    STREAMCITY_PARTITIONS="3")


def persisted(run: str) -> set[str]:
    return set(Alert.objects.filter(alert_key__startswith=f"incident:{run}-").values_list("alert_key", flat=True))


def duplicates(run: str) -> int:
    created = AlertChange.objects.filter(alert__alert_key__startswith=f"incident:{run}-", action="created").count()
    return created - len(persisted(run))


def lag(bootstrap: str, prefix: str, group: str, topic: str) -> int:
    bus = KafkaBus({"bootstrap.servers": bootstrap}, topic_prefix=prefix)
    ends = bus.end_offsets(topic)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": prefix + group})
    try:
        committed = c.committed([TopicPartition(prefix + topic, p) for p in ends], timeout=10)
    finally:
        c.close()
    return sum(ends[tp.partition] - max(tp.offset, 0) for tp in committed)


def test_broker_crash_loses_nothing_acknowledged(procs, tmp_path, private_kafka, unique):
    prefix, run, total = f"crash-{unique}-", f"b{unique}", 1500
    KafkaBus({"bootstrap.servers": private_kafka.bootstrap}, topic_prefix=prefix).ensure_topics([TopicSpec(TRAFFIC_INCIDENTS.name, 3)])
    app = procs.start("runconsumers", manage("runconsumers"), consumers_env(tmp_path, private_kafka.bootstrap, prefix))
    acked, failed = set(), []

    def on_delivery(err, msg):
        (failed.append(err) if err else acked.add(msg.key().decode()))

    producer = Producer({"bootstrap.servers": private_kafka.bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "message.timeout.ms": 120000, "on_delivery": on_delivery,
                         "error_cb": lambda err: None, "log_level": 2})  # the outage is expected: no noise
    restarted_at = None
    for i in range(total):
        event = numbered_incident(i, run)
        producer.produce(prefix + TRAFFIC_INCIDENTS.name, encode(event), event.incident_id)
        producer.poll(0)
        if i == total // 3:
            private_kafka.kill9()
            time.sleep(2)
            private_kafka.start()
            restarted_at = time.monotonic()
        time.sleep(0.004)
    remaining = producer.flush(120)
    expected = {f"incident:{k}" for k in acked}
    wait_until(lambda: expected <= persisted(run), timeout=120, message="every acknowledged incident in PostgreSQL")
    recovery = time.monotonic() - restarted_at
    dups = duplicates(run)
    print(f"\nbroker crash: sent {total}, acknowledged {len(acked)}, failed {len(failed)}, unflushed {remaining}, "
          f"persisted {len(persisted(run))}, duplicates {dups}, recovered {recovery:.1f}s after the restart")
    assert len(acked) == total and not failed and remaining == 0
    assert persisted(run) == expected and dups == 0
    assert app.popen.poll() is None, "the consumer recovered without a restart"
    wait_until(lambda: lag(private_kafka.bootstrap, prefix, "streamcity-alerts", TRAFFIC_INCIDENTS.name) == 0,
               timeout=30, message="lag back to 0")
    assert app.stop() == 0


def test_killing_the_consumer_repeatedly_loses_and_duplicates_nothing(procs, tmp_path, kafka_bootstrap, unique):
    prefix, run, total = f"kill-{unique}-", f"k{unique}", 2000
    env = consumers_env(tmp_path, kafka_bootstrap, prefix)
    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=prefix)
    bus.ensure_topics([TopicSpec(TRAFFIC_INCIDENTS.name, 3)])

    def produce():
        for i in range(total):
            event = numbered_incident(i, run)
            bus.produce(TRAFFIC_INCIDENTS.name, event.incident_id, encode(event))
            time.sleep(0.005)
        bus.flush()

    producer = threading.Thread(target=produce)
    producer.start()
    rng = random.Random(unique)
    kills = 0
    app = procs.start("runconsumers-0", manage("runconsumers"), env)
    for n in range(1, 4):
        time.sleep(rng.uniform(2.0, 4.0))
        app.popen.send_signal(signal.SIGKILL)
        app.popen.wait()
        kills += 1
        app = procs.start(f"runconsumers-{n}", manage("runconsumers"), env)
    producer.join()
    started = time.monotonic()
    wait_until(lambda: len(persisted(run)) == total, timeout=120, message=f"{total} alerts")
    wait_until(lambda: lag(kafka_bootstrap, prefix, "streamcity-alerts", TRAFFIC_INCIDENTS.name) == 0,
               timeout=30, message="lag back to 0")
    dups = duplicates(run)
    print(f"\nconsumer kill -9 x{kills}: sent {total}, persisted {len(persisted(run))}, duplicates {dups}, "
          f"caught up {time.monotonic() - started:.1f}s after the last restart")
    assert dups == 0
    assert app.stop() == 0


def test_a_member_joining_under_load_with_a_slow_handler_loses_nothing(kafka_bus, unique):
    bus, total = kafka_bus, 3000
    bus.ensure_topics([TopicSpec(TRAFFIC_INCIDENTS.name, 6)])
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def slow_handler(batch):
        time.sleep(0.1)  # a slow database, say
        with lock:
            for d in batch:
                seen[d.event.incident_id] = seen.get(d.event.incident_id, 0) + 1

    def produce():
        for i in range(total):
            event = numbered_incident(i, unique)
            bus.produce(TRAFFIC_INCIDENTS.name, event.incident_id, encode(event))
            if i % 15 == 0:
                time.sleep(0.04)  # about 3000 in 8 s
        bus.flush()

    stop = threading.Event()
    workers = [Worker(bus, name=f"w{i}", group_id=f"g-{unique}", topics=[TRAFFIC_INCIDENTS], handle=slow_handler,
                      batch_size=50) for i in range(2)]
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    producer = threading.Thread(target=produce)
    producer.start()
    threads[0].start()
    time.sleep(3)
    threads[1].start()  # joins while the first is busy: a rebalance under load
    producer.join()
    wait_until(lambda: len(seen) == total, timeout=90, message=f"{total} incidents handled")
    stop.set()
    for t in threads:
        t.join(30)
    redelivered = sum(seen.values()) - total
    print(f"\nrebalance: sent {total}, handled {len(seen)} distinct, redelivered {redelivered}, "
          f"per member {[w.processed for w in workers]}")
    assert len(seen) == total
    assert all(w.processed > 0 for w in workers)
