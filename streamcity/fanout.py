"""Coalesced fan-out to Channels groups: one group send per tick carrying every change.

A `Coalescer` keeps the latest item per key until the next tick; a `GroupPublisher` takes them
every `interval` seconds, encodes the frame once and sends it to the group on the event loop that
owns the channel layer (the ASGI server's loop in one process, or a loop thread of its own).
Never one channel-layer send per event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class Coalescer:
    """Items changed since the last take, latest per key (thread-safe)."""

    def __init__(self, key: str):
        self.key = key
        self._lock = threading.Lock()
        self._pending: dict[str, dict] = {}

    def add(self, items: list[dict]) -> None:
        with self._lock:
            for item in items:
                self._pending[item[self.key]] = item

    def take(self) -> list[dict]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return list(pending.values())


class GroupPublisher:
    """Every `interval` seconds, sends `{"type": frame_type, field: [...]}` to `group`."""

    def __init__(self, items: Coalescer, *, group: str, handler: str, frame_type: str, field: str,
                 interval: float, loop: asyncio.AbstractEventLoop | None = None):
        self.items = items
        self.group = group
        self.handler = handler  # the consumer method, e.g. "vehicles.frame" -> vehicles_frame()
        self.frame_type = frame_type
        self.field = field
        self.interval = interval
        self.loop = loop
        self.frames_sent = 0
        self.items_sent = 0
        self._own_loop = loop is None

    def run(self, stop: threading.Event) -> None:
        if self._own_loop:
            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, name=f"{self.group}-loop", daemon=True).start()
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
        items = self.items.take()
        if not items:
            return 0
        text = json.dumps({"type": self.frame_type, self.field: items}, separators=(",", ":"))
        future = asyncio.run_coroutine_threadsafe(layer.group_send(self.group, {"type": self.handler, "text": text}), self.loop)
        try:
            future.result(timeout=10)
        except Exception:  # a dropped frame is repaired by the next one and by snapshots
            logger.exception("frame of %d items to %s not sent", len(items), self.group)
            return 0
        self.frames_sent += 1
        self.items_sent += len(items)
        return len(items)
