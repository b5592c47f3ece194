"""/ws/ops/: authenticated operators only; a snapshot, then changes."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from alerts.detections import detection_from_event
from alerts.selectors import alert_payload
from alerts.services import alerts_apply_detections
from alerts.streams import alert_feed, alert_publisher
from streamcity.asgi import application

from .conftest import surge

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("operator_groups")]


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(cookie=None, origin=b"http://127.0.0.1"):
    headers = [(b"origin", origin), (b"host", b"127.0.0.1")] + ([(b"cookie", cookie)] if cookie else [])
    communicator = WebsocketCommunicator(application, "/ws/ops/", headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


def test_anonymous_and_cross_origin_sockets_are_refused(operator):
    async def run():
        c, ok = await open_socket()
        await c.disconnect()
        assert not ok
        c, ok = await open_socket(cookie, origin=b"http://evil.example")
        await c.disconnect()
        assert not ok

    cookie = session_cookie(operator)
    asyncio.run(run())


def test_operator_gets_a_snapshot_then_alert_frames(operator):
    alerts_apply_detections(detections=[detection_from_event(surge())])
    cookie = session_cookie(operator)

    async def run():
        c, ok = await open_socket(cookie)
        assert ok
        try:
            snapshot = json.loads(await c.receive_from(timeout=5))
            assert snapshot["type"] == "snapshot" and [a["kind"] for a in snapshot["alerts"]] == ["surge"]
            applied = await sync_to_async(alerts_apply_detections)(detections=[detection_from_event(surge(taps=44, seconds=60))])
            feed = alert_feed()
            feed.add([await sync_to_async(alert_payload)(a) for a in applied.changed])
            publisher = alert_publisher(feed, interval=0.1, loop=asyncio.get_running_loop())
            from channels.layers import get_channel_layer

            sent = await asyncio.get_running_loop().run_in_executor(None, publisher.publish_once, get_channel_layer())
            assert sent == 1
            frame = json.loads(await c.receive_from(timeout=5))
            assert frame["type"] == "alerts" and frame["alerts"][0]["detection"]["tap_count"] == 44
        finally:
            await c.disconnect()

    asyncio.run(run())
