"""WebSocket consumers of the live map."""

from __future__ import annotations

import asyncio
import json
import logging

import msgspec
from channels.db import database_sync_to_async

from streamcity.kernel.fanout import MAX_FRAME_CHARS, LocalGroups, chunked
from streamcity.kernel.sockets import BoundedWebsocketConsumer

from .selectors import ROW_FIELDS, vehicle_snapshot_rows
from .subscriptions import (
    Plan, Subscription, SubscriptionError, subscription_from_query, subscription_parse, subscription_plan,
)

logger = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode


FRAME_BATCH_SECONDS = 0.02  # how long a client's socket collects the frames of one tick's groups

_VEHICLES = '"vehicles":['


def _dumps(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


def merge_frames(texts: list[str], limit: int = MAX_FRAME_CHARS) -> list[str]:
    """Frames of several groups as one message (or a few, of at most about `limit` characters):
    their vehicle rows joined under the first one's head. A text of another shape is kept as it is."""
    if len(texts) < 2:
        return texts
    first = texts[0]
    cut = first.find(_VEHICLES)
    if cut < 0:
        return texts
    head = first[: cut + len(_VEHICLES)]
    others = [t for t in texts if not (t.startswith(head) and t.endswith("]}"))]
    bodies = [t[len(head):-2] for t in texts if t.startswith(head) and t.endswith("]}")]
    return others + [head + ",".join(run) + "]}" for run in chunked(bodies, limit)]


def snapshot_messages(subscription: dict, vehicles: list[list], limit: int = MAX_FRAME_CHARS) -> list[str]:
    """A snapshot as one message, or as several of at most about `limit` characters (Daphne refuses
    WebSocket messages over 1 MiB): `{"type": "snapshot", "part": i, "parts": n, "fields": [...],
    "vehicles": [[...], ...]}` (rows as in frames: transit.selectors.vehicle_row), the subscription
    in the first part. The client replaces its vehicles once it has the last part."""
    chunks = chunked([_encode(v).decode() for v in vehicles], limit)
    messages = []
    for part, chunk in enumerate(chunks):
        head = {"type": "snapshot", "part": part, "parts": len(chunks)}
        if part == 0:
            head["subscription"] = subscription
        head["fields"] = ROW_FIELDS
        messages.append(_dumps(head)[:-1] + ',"vehicles":[' + ",".join(chunk) + "]}")
    return messages


class LiveVehiclesConsumer(BoundedWebsocketConsumer):
    """`/ws/live/`: a snapshot on connect, then the frames of the groups covering the subscription.

    The subscription comes from the URL (`?bbox=w,s,e,n&route=..&type=..&zoom=..`, default: everything)
    and can be changed with `{"type": "subscribe", "bbox": [...], "routes": [...], "vehicle_types": [...],
    "zoom": z}` (a zoomed-out map gets the changes it can draw: transit.subscriptions);
    each (re)subscription is answered with a fresh snapshot of what it covers. `{"type": "resync"}`
    asks for a new snapshot of the current subscription.

    Bounded (streamcity.kernel.sockets): a budget of client messages (past it: an error frame, then the
    socket is closed), an error frame for a message too large, too deep or not a JSON object, and
    no frames queued while the socket's send buffer is over its bound; once it has drained, the
    client gets a fresh snapshot (the latest state) instead of the frames it missed.
    """

    plan: Plan | None = None
    _frames: list[str]
    _flush: asyncio.TimerHandle | None = None

    async def connect(self):
        self._frames = []
        self._held: list[str] | None = None  # frames that came while a snapshot was being read
        self.bound_socket()
        await self.accept()
        try:
            subscription = subscription_from_query(self.scope.get("query_string", b""))
        except SubscriptionError as exc:
            await self.send(text_data=_dumps({"type": "error", "error": str(exc)}))
            subscription = Subscription()
        await self._subscribe(subscription)

    async def disconnect(self, code):
        if self._flush is not None:
            self._flush.cancel()
        groups = LocalGroups.of(self.channel_layer)
        for group in self.plan.groups if self.plan else ():
            await groups.leave(group, self)

    async def receive_message(self, message: dict):
        kind = message.get("type")
        if kind == "subscribe":
            try:
                subscription = subscription_parse(message)
            except SubscriptionError as exc:
                await self.send_error(str(exc))
                return
            await self._subscribe(subscription)
        elif kind == "resync":
            if self.plan is not None:
                await self._send_snapshot()
        else:
            await self.send_error(f"unknown message type {str(kind)[:40]!r}; known: subscribe, resync")

    async def send_latest(self):
        if self.plan is not None:
            await self._send_snapshot()

    async def _subscribe(self, subscription: Subscription):
        """Join the new groups before leaving the old ones and before reading the snapshot: no gap."""
        plan = subscription_plan(subscription)
        old = set(self.plan.groups) if self.plan else set()
        groups = LocalGroups.of(self.channel_layer)  # one membership per group for the process's sockets
        for group in plan.groups:
            if group not in old:
                await groups.join(group, self)
        for group in old.difference(plan.groups):
            await groups.leave(group, self)
        self.plan = plan
        await self._send_snapshot()

    async def _send_snapshot(self):
        if self.over_bound():  # the client is not reading: it gets this snapshot once its buffer has drained
            self.behind = True
            return
        plan = self.plan
        # frames arriving while the snapshot is read are held and sent after it: a client always gets
        # the snapshot of a subscription first, then what changed since
        self._held = [] if self._held is None else self._held
        try:
            vehicles = await database_sync_to_async(vehicle_snapshot_rows)(
                area=plan.area, routes=plan.routes, vehicle_types=plan.vehicle_types
            )
            for message in snapshot_messages(plan.describe(), vehicles):
                await self.send(text_data=message)
        finally:
            held, self._held = self._held, None
        if held:
            await self._send_frames(held)

    async def frame_text(self, text: str):
        """A group's frame (encoded once per group per tick by the bridge), from the process's
        LocalGroups. A client of one group (the city, a route) gets it at once; a client in several
        (the tiles of its view) gets them as one message: the frames of one tick arrive within
        milliseconds, and each WebSocket message costs the server a write and the browser a parse.
        While the socket's send buffer is over its bound, frames are withheld (send_latest follows)."""
        if self.over_bound():
            self.behind = True
            self.withheld += 1
            return
        if self._held is not None:  # a snapshot is on its way: this frame follows it
            self._held.append(text)
            return
        if self.plan is not None and len(self.plan.groups) == 1 and not self._frames:
            await self._send_frames([text])
            return
        self._frames.append(text)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(FRAME_BATCH_SECONDS, self._send_frames_soon)

    def _send_frames_soon(self):
        self._flush = None
        texts, self._frames = self._frames, []
        asyncio.ensure_future(self._send_frames(texts))

    async def _send_frames(self, texts: list[str]):
        try:
            for text in merge_frames(texts):
                await self.send_state(text)
        except Exception:  # the socket went away meanwhile: nothing to deliver to
            logger.debug("frames not sent", exc_info=True)
