"""Embedded mode end to end: one `runstreamcity` process, no Kafka, Redis or PostgreSQL."""

import asyncio
import json

import pytest
import websockets

from .conftest import get_json, wait_until

pytestmark = pytest.mark.e2e


def positions(url):
    return {v["vehicle_id"]: (v["latitude"], v["longitude"]) for v in get_json(url + "/api/vehicles/")["vehicles"]}


def all_40(url):
    """The positions once every vehicle has been written (the bridge writes at most every 0.5 s:
    right after start the first write may hold only the reports of the first batch)."""
    now = positions(url)
    return now if len(now) == 40 else None


def test_vehicles_appear_and_move(embedded):
    first = wait_until(lambda: all_40(embedded.url), timeout=30, message="40 vehicles in /api/vehicles/")

    def moved():
        now = positions(embedded.url)
        return sum(now[k] != first[k] for k in first) >= 30

    wait_until(moved, timeout=15, message="vehicles to move")


async def _socket(url):
    ws_url = url.replace("http://", "ws://") + "/ws/live/"
    async with websockets.connect(ws_url, origin=url) as ws:
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(3)]
    return snapshot, frames


def test_live_socket_sends_a_snapshot_then_frames(embedded):
    wait_until(lambda: all_40(embedded.url), timeout=30, message="40 vehicles")
    snapshot, frames = asyncio.run(_socket(embedded.url))
    assert snapshot["type"] == "snapshot" and len(snapshot["vehicles"]) == 40
    assert all(f["type"] == "frame" and f["vehicles"] for f in frames)
    # one frame carries many vehicles: the bridge coalesces, it does not send per event
    assert max(len(f["vehicles"]) for f in frames) > 1


def test_sigterm_stops_cleanly(embedded):
    wait_until(lambda: positions(embedded.url), timeout=30, message="vehicles")
    assert embedded.stop() == 0
    out = embedded.output()
    assert "simulator stopped" in out and "Traceback" not in out
