"""The bridge: frames at once, VehicleState rows at most every write interval, nothing committed unwritten."""

import datetime as dt
import threading

import pytest

from streamcity.kernel.bus import Decoded, TransientError, topic_specs
from streamcity.kernel.bus.base import Record
from streamcity.kernel.schemas import LIVE_VEHICLES, LiveVehicle, encode
from transit.models import VehicleState
from transit.streams import VehicleBridge, bridge_worker, vehicle_frames

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_required")]
T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def live(vehicle_id, seconds=0, lat=52.0):
    return LiveVehicle(vehicle_id=vehicle_id, vehicle_type="bus", latitude=lat, longitude=4.0,
                       timestamp=T0 + dt.timedelta(seconds=seconds))


def batch(offset, *events, partition=0):
    return [Decoded(Record("live_vehicles", partition, offset + i, e.vehicle_id, encode(e), 0), e)
            for i, e in enumerate(events)]


def rows():
    return {v.vehicle_id: v.latitude for v in VehicleState.objects.all()}


def test_rows_are_written_at_most_every_interval_latest_state_per_vehicle():
    clock, frames = Clock(), vehicle_frames()
    bridge = VehicleBridge(frames, write_interval=0.5, clock=clock)
    bridge(batch(0, live("a", 0, 52.0), live("b", 0, 52.0)))
    assert rows() == {"a": 52.0, "b": 52.0} and bridge.retained() == {}  # the first batch is due at once

    clock.now += 0.1
    bridge(batch(2, live("a", 1, 52.1)))
    bridge(batch(3, live("a", 2, 52.2), live("b", 2, 52.2)))
    bridge(batch(0, live("c", 2, 52.3), partition=1))
    assert rows() == {"a": 52.0, "b": 52.0}  # held: not due yet
    assert bridge.retained() == {("live_vehicles", 0): 2, ("live_vehicles", 1): 0}  # commits stop before them
    assert {r[0]: r[4] for r in frames.take()} == {"a": 52.2, "b": 52.2, "c": 52.3}  # the map has them already

    bridge.tick()
    assert rows() == {"a": 52.0, "b": 52.0}
    clock.now += 0.4
    bridge.tick()
    assert rows() == {"a": 52.2, "b": 52.2, "c": 52.3}
    assert (bridge.rows_written, bridge.writes, bridge.retained()) == (5, 2, {})  # a's two states were one row


def test_a_failed_write_keeps_what_it_held(monkeypatch):
    clock = Clock()
    bridge = VehicleBridge(vehicle_frames(), write_interval=0.5, clock=clock)
    bridge(batch(0, live("a")))
    clock.now += 0.1
    bridge(batch(1, live("a", 1, 52.5)))

    def down(**kw):
        from django.db import OperationalError
        raise OperationalError("the database went away")

    monkeypatch.setattr("transit.streams.vehicle_states_upsert", down)
    clock.now += 1
    with pytest.raises(TransientError):
        bridge(batch(2, live("b")))
    bridge.tick()  # not due again yet: the failure set the timer
    assert bridge.retained() == {("live_vehicles", 0): 1} and bridge.unwritten == 2
    monkeypatch.undo()
    clock.now += 1
    bridge.tick()
    assert rows() == {"a": 52.5, "b": 52.0} and bridge.retained() == {}


def test_a_stopping_bridge_writes_what_it_holds_and_commits_it(memory_bus, settings):
    settings.STREAMCITY_BRIDGE_WRITE_INTERVAL = 3600  # only the first batch is due on its own
    memory_bus.ensure_topics(topic_specs())
    for i in range(30):
        v = live(f"v{i % 10}", i, 52.0 + i / 100)
        memory_bus.produce(LIVE_VEHICLES.name, v.vehicle_id, encode(v))
    worker = bridge_worker(memory_bus, vehicle_frames(), batch_size=7)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        while worker.processed < 30 and dt.datetime.now() < deadline:
            stop.wait(0.02)
    finally:
        stop.set()
        thread.join(20)
    assert worker.processed == 30
    assert rows() == {f"v{i}": pytest.approx(52.0 + (20 + i) / 100) for i in range(10)}
    with memory_bus.consumer(worker.group_id, [LIVE_VEHICLES.name]) as c:
        assert c.consume(100, 0.5) == []  # everything was committed
