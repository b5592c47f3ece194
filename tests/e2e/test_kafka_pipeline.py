"""Production shape end to end: separate processes on real Kafka, PostgreSQL and Redis.

runsimulators -> Kafka -> runprocessors -> Kafka -> runconsumers -> PostgreSQL rows + Redis
channel layer -> Daphne -> a real WebSocket client.
"""

import asyncio
import json
import re
import sys

import pytest
import websockets

from streamcity.kernel.bus.kafka import KafkaBus
from transit.models import VehicleState

from .conftest import base_env, database_url, free_port, get_json, manage, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


async def _socket(url):
    async with websockets.connect(url.replace("http://", "ws://") + "/ws/live/", origin=url) as ws:
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 15))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
    return snapshot, frame


def test_simulator_to_browser_socket_on_real_services(procs, tmp_path, kafka_bootstrap, redis_url, postgres_required, unique):
    prefix = f"e2e-{unique}-"
    env = base_env(
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=prefix,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url(),
        STREAMCITY_PARTITIONS="3",
    )
    port = free_port()
    web = procs.start("daphne", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "streamcity.asgi:application"], env)
    sims = procs.start("runsimulators", manage("runsimulators", "--vehicles", "30"), env)
    processors = procs.start("runprocessors", manage("runprocessors"), env)
    consumers = procs.start("runconsumers", manage("runconsumers"), env)

    wait_until(lambda: VehicleState.objects.count() == 30, timeout=90, message="30 VehicleState rows in PostgreSQL")
    url = f"http://127.0.0.1:{port}"
    first = {v["vehicle_id"]: v["timestamp"] for v in get_json(url + "/api/vehicles/")["vehicles"]}
    assert len(first) == 30

    snapshot, frame = asyncio.run(_socket(url))
    assert snapshot["type"] == "snapshot" and len(snapshot["vehicles"]) == 30
    assert frame["type"] == "frame" and frame["vehicles"]

    wait_until(
        lambda: sum(v.timestamp.isoformat() != first[v.vehicle_id] for v in VehicleState.objects.all()) >= 25,
        timeout=30, message="rows to advance",
    )

    # A signal asks every role to finish its batch, commit, flush and exit 0.
    for p in (sims, processors, consumers):
        assert p.stop() == 0, p.output()[-2000:]
    out = sims.output()
    events, records, acknowledged = map(int, re.search(
        r"the simulator produced (\d+) events .*: (\d+) records produced = (\d+) acknowledged", out).groups())
    assert events == records == acknowledged > 0  # alone in its process, its events are the bus's records

    # Offsets were committed: nothing is left unread in live_vehicles for the bridge's group.
    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=prefix)
    ends = bus.end_offsets("live_vehicles")
    assert sum(ends.values()) > 0
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": prefix + "streamcity-bridge"})
    try:
        committed = c.committed([TopicPartition(prefix + "live_vehicles", p) for p in ends], timeout=10)
    finally:
        c.close()
    assert {tp.partition: tp.offset for tp in committed} == ends
    assert web.stop() == 0
