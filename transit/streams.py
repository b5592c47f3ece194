"""The bridge from `live_vehicles` to the database and the browsers.

Each batch is upserted into VehicleState in one statement; changed vehicles collect in a
`FrameBuffer`, and a `FramePublisher` sends one frame per group per tick carrying every change
since the last tick, encoded once — never one channel-layer send per event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading

from channels.layers import get_channel_layer
from django.db import InterfaceError, OperationalError, close_old_connections

from streamcity.bus import Decoded, TransientError

from .selectors import vehicle_payload
from .services import vehicle_states_upsert

logger = logging.getLogger(__name__)

LIVE_GROUP = "live_vehicles"


class FrameBuffer:
    """Vehicles changed since the last frame, latest state per vehicle (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[str, dict] = {}

    def add(self, payloads: list[dict]) -> None:
        with self._lock:
            for p in payloads:
                self._pending[p["vehicle_id"]] = p

    def take(self) -> list[dict]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return list(pending.values())


class VehicleBridge:
    """Worker handler: live_vehicles batch -> VehicleState rows + the frame buffer."""

    group_id = "streamcity-bridge"

    def __init__(self, frames: FrameBuffer):
        self.frames = frames
        self.rows_written = 0

    def __call__(self, batch: list[Decoded]) -> None:
        events = [d.event for d in batch]
        try:
            self.rows_written += vehicle_states_upsert(vehicles=events)
        except (OperationalError, InterfaceError) as exc:
            raise TransientError(str(exc)) from exc
        finally:
            close_old_connections()
        self.frames.add([vehicle_payload(e) for e in events])


class FramePublisher:
    """Sends the buffered changes to the live group every `interval` seconds on `loop`.

    `loop` is the event loop that owns the channel layer's connections: the ASGI server's loop
    when everything runs in one process, or a loop thread of its own otherwise.
    """

    def __init__(self, frames: FrameBuffer, *, interval: float, loop: asyncio.AbstractEventLoop | None = None):
        self.frames = frames
        self.interval = interval
        self.loop = loop
        self.frames_sent = 0
        self.vehicles_sent = 0
        self._own_loop = loop is None

    def run(self, stop: threading.Event) -> None:
        if self._own_loop:
            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, name="frame-loop", daemon=True).start()
        layer = get_channel_layer()
        try:
            while not stop.wait(self.interval):
                self.publish_once(layer)
            self.publish_once(layer)
        finally:
            if self._own_loop:
                self.loop.call_soon_threadsafe(self.loop.stop)

    def publish_once(self, layer) -> int:
        if not self.loop.is_running():  # the server is shutting down: nobody left to send to
            return 0
        vehicles = self.frames.take()
        if not vehicles:
            return 0
        text = json.dumps({"type": "frame", "vehicles": vehicles}, separators=(",", ":"))
        future = asyncio.run_coroutine_threadsafe(
            layer.group_send(LIVE_GROUP, {"type": "vehicles.frame", "text": text}), self.loop
        )
        try:
            future.result(timeout=10)
        except Exception:  # a dropped frame is repaired by the next one and by snapshots
            logger.exception("frame of %d vehicles not sent", len(vehicles))
            return 0
        self.frames_sent += 1
        self.vehicles_sent += len(vehicles)
        return len(vehicles)
