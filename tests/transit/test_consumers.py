"""The /ws/live/ socket: a snapshot on connect, then the bridge's frames, in-memory and on Redis."""

import asyncio
import datetime as dt
import json
import threading
import time

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from streamcity.asgi import application
from streamcity.schemas import LiveVehicle
from transit.selectors import vehicle_payload
from transit.services import vehicle_states_upsert
from transit.streams import vehicle_frames, vehicle_publisher

pytestmark = pytest.mark.django_db(transaction=True)
T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def live(vehicle_id, lat=52.0):
    return LiveVehicle(vehicle_id=vehicle_id, vehicle_type="bus", latitude=lat, longitude=4.0, timestamp=T0)


def connect():
    return WebsocketCommunicator(application, "/ws/live/", headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")])


async def _snapshot_then_frame():
    communicator = connect()
    connected, _ = await communicator.connect()
    assert connected
    try:
        snapshot = json.loads(await communicator.receive_from(timeout=5))
        assert snapshot["type"] == "snapshot"
        assert [v["vehicle_id"] for v in snapshot["vehicles"]] == ["a"]

        frames = vehicle_frames()
        frames.add([vehicle_payload(live("a", 52.1)), vehicle_payload(live("b"))])
        frames.add([vehicle_payload(live("a", 52.2))])  # coalesced: the latest state per vehicle
        publisher = vehicle_publisher(frames, interval=0.1, loop=asyncio.get_running_loop())
        layer = channel_layers["default"]
        sent = await asyncio.get_running_loop().run_in_executor(None, publisher.publish_once, layer)
        assert sent == 2
        frame = json.loads(await communicator.receive_from(timeout=5))
        assert frame["type"] == "frame"
        assert {v["vehicle_id"]: v["latitude"] for v in frame["vehicles"]} == {"a": 52.2, "b": 52.0}
        assert publisher.frames_sent == 1
    finally:
        await communicator.disconnect()


def test_snapshot_then_coalesced_frames_in_memory():
    vehicle_states_upsert(vehicles=[live("a")])
    asyncio.run(_snapshot_then_frame())


@pytest.mark.redis
def test_snapshot_then_frames_through_redis(redis_url, settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    channel_layers.backends.clear()
    try:
        vehicle_states_upsert(vehicles=[live("a")])
        asyncio.run(_snapshot_then_frame())
    finally:
        channel_layers.backends.clear()


async def _refused(origin):
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=[(b"origin", origin), (b"host", b"127.0.0.1")])
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


def test_a_foreign_origin_is_refused():
    assert asyncio.run(_refused(b"http://evil.example")) is False


def test_publisher_runs_on_its_own_loop_when_none_is_given(settings):
    """runconsumers: the publisher owns a loop thread; a frame still reaches a group member."""
    frames = vehicle_frames()
    publisher = vehicle_publisher(frames, interval=0.05)
    stop = threading.Event()
    frames.add([vehicle_payload(live("z"))])
    thread = threading.Thread(target=publisher.run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.5)  # several ticks: only the one with changes sends a frame
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert (publisher.frames_sent, publisher.items_sent) == (1, 1)
    assert frames.take() == []
