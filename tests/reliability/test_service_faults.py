"""Faults of PostgreSQL and Redis while the pipeline runs; graceful stops; bad input on the wire."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import threading
import time

import pytest
import websockets
from django.db import connection

from alerts.models import Alert
from streamcity.kernel.bus import TopicSpec
from streamcity.kernel.bus.kafka import KafkaBus
from streamcity.kernel.schemas import LIVE_VEHICLES, TRAFFIC_INCIDENTS, VEHICLE_LOCATIONS, LiveVehicle, encode
from transit.models import VehicleState

from tests.e2e.conftest import base_env, database_url, free_port, manage, wait_until

from .conftest import numbered_incident
from .test_kafka_faults import lag, persisted

pytestmark = [pytest.mark.serial, pytest.mark.kafka, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_required")]


def test_postgres_restart_mid_run_loses_nothing(procs, tmp_path, kafka_bootstrap, unique):
    pg_ctl = os.environ.get("TEST_PG_CTL")
    if not pg_ctl:
        pytest.skip("TEST_PG_CTL is not set (make test sets it for its own PostgreSQL cluster)")
    prefix, run, total = f"pg-{unique}-", f"p{unique}", 1500
    env = base_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PREFIX=prefix, DATABASE_URL=database_url())
    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=prefix)
    bus.ensure_topics([TopicSpec(TRAFFIC_INCIDENTS.name, 3)])
    app = procs.start("runconsumers", manage("runconsumers"), env)
    restarted = None
    for i in range(total):
        event = numbered_incident(i, run)
        bus.produce(TRAFFIC_INCIDENTS.name, event.incident_id, encode(event))
        if i == total // 3:
            bus.flush()
            connection.close()
            subprocess.run([*shlex.split(pg_ctl), "restart", "-m", "fast"], check=True, capture_output=True, timeout=60)
            restarted = time.monotonic()
        time.sleep(0.004)
    bus.flush()
    wait_until(lambda: len(persisted(run)) == total, timeout=120, message=f"{total} alerts after the restart")
    recovery = time.monotonic() - restarted
    created = Alert.objects.filter(alert_key__startswith=f"incident:{run}-").count()
    out = app.output()
    retries = out.count("transient failure")
    print(f"\npostgres restart: sent {total}, persisted {created}, transient retries {retries}, "
          f"all persisted {recovery:.1f}s after the restart")
    assert created == total
    assert app.popen.poll() is None, "the consumer reconnected by itself"
    wait_until(lambda: lag(kafka_bootstrap, prefix, "streamcity-alerts", TRAFFIC_INCIDENTS.name) == 0,
               timeout=30, message="lag back to 0")
    assert "worker: dead-lettered" not in out  # a database outage is not the records' fault
    assert app.stop() == 0


def _redis(port: int, action: str) -> None:
    if action == "start":
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                        "--appendonly", "no"], check=True, capture_output=True)
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0,
                   timeout=10, message="redis up")
    else:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode != 0,
                   timeout=10, message="redis down")


@pytest.mark.redis
def test_redis_restart_leaves_the_database_path_alone_and_sockets_resync(procs, tmp_path, kafka_bootstrap, redis_url, unique):
    port = free_port()
    _redis(port, "start")
    try:
        _redis_restart_scenario(procs, tmp_path, kafka_bootstrap, port, unique)
    finally:
        _redis(port, "stop")


def _redis_restart_scenario(procs, tmp_path, kafka_bootstrap, redis_port, unique):
    prefix = f"redis-{unique}-"
    env = base_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PREFIX=prefix, DATABASE_URL=database_url(),
                   REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=prefix)
    bus.ensure_topics([TopicSpec(LIVE_VEHICLES.name, 3, compacted=True)])
    web_port = free_port()
    url = f"http://127.0.0.1:{web_port}"
    procs.start("daphne", [os.sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "streamcity.asgi:application"], env)
    app = procs.start("runconsumers", manage("runconsumers"), env)
    stop = threading.Event()
    sent = {"n": 0}

    def feed():  # the processors' output, as if they ran: 20 vehicles at 4 Hz
        while not stop.is_set():
            now = dt.datetime.now(dt.timezone.utc)
            for v in range(20):
                lv = LiveVehicle(vehicle_id=f"v{v}", vehicle_type="bus", latitude=52.3 + sent["n"] / 1e5, longitude=4.9, timestamp=now)
                bus.produce(LIVE_VEHICLES.name, lv.vehicle_id, encode(lv))
            sent["n"] += 1
            bus.flush()
            stop.wait(0.25)

    feeder = threading.Thread(target=feed)
    feeder.start()
    frames_after_restart = []

    async def client(restarted: asyncio.Event, done: asyncio.Event):
        """What the page does: read frames; on a close, reconnect with back-off and take the new snapshot."""
        delay = 0.5
        while not done.is_set():
            try:
                async with websockets.connect(url.replace("http", "ws") + "/ws/live/", origin=url) as ws:
                    delay = 0.5
                    while not done.is_set():
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        if restarted.is_set():
                            frames_after_restart.append(msg["type"])
                            if frames_after_restart.count("frame") >= 3:
                                done.set()
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 4)

    async def scenario():
        restarted, done = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(client(restarted, done))
        await asyncio.to_thread(wait_until, lambda: VehicleState.objects.count() == 20, 60, 0.3, "20 rows before the outage")
        await asyncio.sleep(1)
        rows_before = await asyncio.to_thread(lambda: list(VehicleState.objects.values_list("vehicle_id", "latitude")))
        await asyncio.to_thread(_redis, redis_port, "stop")
        outage_started = time.monotonic()
        await asyncio.sleep(3)
        # the database path does not need Redis: rows keep moving during the outage
        moved = await asyncio.to_thread(lambda: dict(VehicleState.objects.values_list("vehicle_id", "latitude")))
        await asyncio.to_thread(_redis, redis_port, "start")
        restarted.set()
        try:
            await asyncio.wait_for(done.wait(), 60)
        finally:
            task.cancel()
        return rows_before, moved, time.monotonic() - outage_started

    try:
        rows_before, moved_during_outage, elapsed = asyncio.run(scenario())
    finally:
        stop.set()
        feeder.join()
    advanced = sum(moved_during_outage.get(v) != lat for v, lat in rows_before)
    print(f"\nredis restart: {len(rows_before)} vehicles, {advanced} rows advanced during the 3 s outage, "
          f"socket frames after the restart {frames_after_restart[:5]} within {elapsed:.1f}s of the outage start")
    assert len(rows_before) == 20 and advanced == 20
    assert frames_after_restart.count("frame") >= 3
    assert app.popen.poll() is None


def test_sigterm_simulator_and_processors_deliver_everything_and_exit_zero(procs, tmp_path, kafka_bootstrap, unique):
    prefix = f"term-{unique}-"
    env = base_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PREFIX=prefix, DATABASE_URL=database_url(),
                   STREAMCITY_PARTITIONS="3")
    sim = procs.start("runsimulators", manage("runsimulators", "--vehicles", "50"), env)
    proc = procs.start("runprocessors", manage("runprocessors"), env)
    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=prefix)
    wait_until(lambda: sim.running() and proc.running() and sum(bus.end_offsets(VEHICLE_LOCATIONS.name).values()) > 0,
               timeout=90,
               message="the simulator to start producing")  # first run: it builds its city first
    time.sleep(5)
    assert sim.stop() == 0, sim.output()[-3000:]
    out = sim.output()
    produced, records, acknowledged = map(int, re.search(
        r"the simulator produced (\d+) events .*: (\d+) records produced = (\d+) acknowledged", out).groups())
    assert produced == records  # alone in its process: the simulator's events are the bus's records
    # the vehicle stages' group commits only up to what a restart must re-read (the last 30 min):
    # caught up means its status line has read every report
    reports = sum(bus.end_offsets(VEHICLE_LOCATIONS.name).values())
    wait_until(lambda: max(map(int, re.findall(r"vehicles (\d+) read", proc.output())), default=0) >= reports,
               timeout=30, message="the processors to catch up")
    assert proc.stop() == 0, proc.output()[-3000:]
    print(f"\ngraceful stop: simulator produced {produced}, acknowledged {acknowledged}; processors caught up, exit 0")
    assert produced == acknowledged > 0
    assert "Traceback" not in proc.output()


def test_bad_records_go_to_the_dead_letter_topic_and_the_worker_carries_on(procs, tmp_path, kafka_bootstrap, unique):
    prefix, run = f"bad-{unique}-", f"d{unique}"
    env = base_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PREFIX=prefix, DATABASE_URL=database_url())
    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=prefix,
                   producer_config={"message.max.bytes": 4 * 1024 * 1024})
    bus.ensure_topics([TopicSpec(TRAFFIC_INCIDENTS.name, 3, config={"max.message.bytes": str(4 * 1024 * 1024)}),
                       TopicSpec(TRAFFIC_INCIDENTS.name + ".dlq", 1)])
    good = json.loads(encode(numbered_incident(1, run)))
    bad = {
        "malformed JSON": b'{"incident_id": "x", ',
        "wrong type": json.dumps({**good, "severity": "high"}).encode(),
        "missing field": json.dumps({k: v for k, v in good.items() if k != "latitude"}).encode(),
        "2 MB value": json.dumps({**good, "description": "x" * (2 * 1024 * 1024)}).encode(),
        "unknown schema version": json.dumps({**good, "v": 99}).encode(),
        "out of range": json.dumps({**good, "latitude": 123.0}).encode(),
    }
    app = procs.start("runconsumers", manage("runconsumers"), env)
    bus.produce(TRAFFIC_INCIDENTS.name, "first", encode(numbered_incident(0, run)))
    for name, value in bad.items():
        bus.produce(TRAFFIC_INCIDENTS.name, name, value)
    bus.produce(TRAFFIC_INCIDENTS.name, "last", encode(numbered_incident(2, run)))
    assert bus.flush() == 0
    wait_until(lambda: len(persisted(run)) == 2, timeout=60, message="the good records around the bad ones")
    dead = {}
    with bus.consumer(f"dlq-{unique}", [TRAFFIC_INCIDENTS.name + ".dlq"]) as c:
        deadline = time.monotonic() + 30
        while len(dead) < len(bad) and time.monotonic() < deadline:
            for r in c.consume(100, 0.5):
                dead[r.key] = r.header("dlq.reason").decode()
    for name, reason in sorted(dead.items()):
        print(f"  dead letter {name!r}: {reason[:110]}")
    assert set(dead) == set(bad)
    assert "malformed JSON" in dead["malformed JSON"]
    assert "Expected `int`" in dead["wrong type"]
    assert "latitude" in dead["missing field"]
    assert "over the 1048576-byte limit" in dead["2 MB value"]
    assert "unknown schema version 99" in dead["unknown schema version"]
    assert app.popen.poll() is None
    log_lines = [line for line in app.output().splitlines() if "worker: dead-lettered" in line]
    assert len(log_lines) == len(bad)  # one clear line per record
    assert app.stop() == 0


def test_unknown_stops_and_trips_are_dead_lettered_by_the_processors(procs, tmp_path, kafka_bootstrap, unique):
    from streamcity.kernel.schemas import RIDER_TAPPED_ON, STOP_SCHEDULE, RiderTappedOn, StopSchedule, VehicleLocation, event_key

    prefix = f"ids-{unique}-"
    env = base_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PREFIX=prefix, DATABASE_URL=database_url(),
                   STREAMCITY_PARTITIONS="2")
    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=prefix)
    from streamcity.kernel.bus import topic_specs

    bus.ensure_topics(topic_specs(2))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    row = StopSchedule(trip_id="T1", stop_sequence=1, stop_id="S1", route_id="R1", scheduled_arrival=now,
                       service_date=now.date())
    bus.produce(STOP_SCHEDULE.name, event_key(STOP_SCHEDULE, row), encode(row))
    bus.flush()
    app = procs.start("runprocessors", manage("runprocessors"), env)

    def tap(stop):
        return RiderTappedOn(event_id=f"tap-{stop}", rider_id="r1", stop_id=stop, latitude=52.37, longitude=4.9, timestamp=now)

    def report(trip):
        return VehicleLocation(vehicle_id="bus-1", vehicle_type="bus", route_id="R1", trip_id=trip, latitude=52.37,
                               longitude=4.9, stop_sequence=1, timestamp=now)

    app.wait_for_output("reference data loaded", timeout=60)
    for event in (tap("S1"), tap("NOPE")):
        bus.produce(RIDER_TAPPED_ON.name, event.stop_id, encode(event))
    for event in (report("T1"), report("GHOST")):
        bus.produce(VEHICLE_LOCATIONS.name, event.vehicle_id, encode(event))
    bus.flush()
    dead = {}
    with bus.consumer(f"dlq-{unique}", [RIDER_TAPPED_ON.name + ".dlq", VEHICLE_LOCATIONS.name + ".dlq"]) as c:
        deadline = time.monotonic() + 60
        while len(dead) < 2 and time.monotonic() < deadline:
            for r in c.consume(100, 0.5):
                dead[r.topic] = (json.loads(r.value), r.header("dlq.reason").decode())
    print("\n" + "\n".join(f"  dead letter on {t}: {reason}" for t, (_, reason) in sorted(dead.items())))
    assert dead[RIDER_TAPPED_ON.name + ".dlq"][0]["stop_id"] == "NOPE"
    assert "unknown stop_id 'NOPE'" in dead[RIDER_TAPPED_ON.name + ".dlq"][1]
    assert dead[VEHICLE_LOCATIONS.name + ".dlq"][0]["trip_id"] == "GHOST"
    assert "unknown trip_id 'GHOST'" in dead[VEHICLE_LOCATIONS.name + ".dlq"][1]
    assert app.popen.poll() is None
    assert app.stop() == 0
