"""Coalesced fan-out to Channels groups: one group send per tick carrying every change.

A `Coalescer` keeps the latest item per key until the next tick; a `GroupPublisher` takes them
every `interval` seconds, encodes the frame once and sends it to the group on the event loop that
owns the channel layer (the ASGI server's loop in one process, or a loop thread of its own).
A `MultiGroupPublisher` does the same for items that go to several groups each (the live map's
tiles and routes): one frame per group per tick. Never one channel-layer send per event.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import operator
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import msgspec
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
MAX_FRAME_CHARS = 256 * 1024  # well under Daphne's 1 MiB limit on a WebSocket message
LOCAL_GROUPS_FRAME = "local_groups.frame"  # the message type of a frame for LocalGroups (not a consumer's)


def chunked(texts: list[str], limit: int = MAX_FRAME_CHARS) -> list[list[str]]:
    """`texts` in consecutive runs whose comma-joined length stays within about `limit` characters
    (a text longer than `limit` is a run of its own): the parts of a frame or a snapshot, each a
    WebSocket message under Daphne's 1 MiB limit."""
    runs, start, size = [], 0, 0
    for i, text in enumerate(texts):
        if size + len(text) > limit and i > start:
            runs.append(texts[start:i])
            start, size = i, 0
        size += len(text) + 1
    runs.append(texts[start:])
    return runs


class Coalescer:
    """Items changed since the last take, latest per key (thread-safe). `key` indexes an item: a
    dict key, or a position in a list; or `by(item)` gives it. With `convert`, items are kept as
    they come and converted when taken: once per key per take, however many came meanwhile (a
    bridge catching up on a backlog sees a vehicle many times between two frames)."""

    def __init__(self, key: str | int | None = None, *, by: Callable[[Any], Hashable] | None = None,
                 convert: Callable[[Any], Any] | None = None):
        if (key is None) == (by is None):
            raise ValueError("give a key or a `by` function")
        self.key = key
        self.by = by if by is not None else operator.itemgetter(key)
        self.convert = convert
        self._lock = threading.Lock()
        self._pending: dict = {}

    def add(self, items: list) -> None:
        keys = list(map(self.by, items))
        with self._lock:
            self._pending.update(zip(keys, items))

    def take(self) -> list:
        with self._lock:
            pending, self._pending = self._pending, {}
        if self.convert is not None:
            return list(map(self.convert, pending.values()))
        return list(pending.values())


def channel_layer_on(loop: asyncio.AbstractEventLoop, stop: threading.Event):
    """The channel layer, got on `loop`'s thread once it runs (None if `stop` is set first):
    channels' layer manager makes a layer the first time it is asked, unlocked, so two threads
    asking at once (the publishers, starting together) can each make one, and an in-memory layer
    of a publisher's own reaches no socket. On the server's loop, it is the one its consumers get."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def get():
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(get_channel_layer())
            except Exception as exc:  # a misconfigured layer: said in the publisher's thread
                future.set_exception(exc)

    loop.call_soon_threadsafe(get)
    while True:
        try:
            return future.result(timeout=0.5)
        except TimeoutError:
            if stop.is_set():
                future.cancel()
                return None


class GroupPublisher:
    """Every `interval` seconds, sends `{"type": frame_type, field: [...]}` to `group`."""

    def __init__(self, items: Coalescer, *, group: str, handler: str, frame_type: str, field: str,
                 interval: float, loop: asyncio.AbstractEventLoop | None = None):
        self.items = items
        self.group = group
        self.handler = handler  # the message type: the consumer method, e.g. "alerts.frame" -> alerts_frame()
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
        try:
            layer = channel_layer_on(self.loop, stop)  # the layer the server's consumers have
            if layer is None:
                return
            # ticks start every `interval` (a tick's own time does not stretch the period); a
            # publisher that fell behind starts again from now rather than bursting to catch up
            next_tick = time.monotonic() + self.interval
            while not stop.wait(max(0.0, next_tick - time.monotonic())):
                self.publish_once(layer)
                next_tick = max(next_tick + self.interval, time.monotonic())
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


class LocalGroups:
    """Group memberships of many sockets of one server process, held as ONE channel-layer
    membership per group: a frame reaches the process once (the Redis PubSub layer subscribes the
    process once per group either way) and is handed to each local member's `frame_text(text)`
    without a channel-layer delivery, a deserialisation and a dispatch per member (a large share of
    a web process with hundreds of clients, see docs/benchmarks.md). The publisher's messages are `{"type": LOCAL_GROUPS_FRAME,
    "group": group, "text": frame}`: LocalGroups receives them, no consumer method.
    One instance per event loop and layer: `LocalGroups.of(layer)`. The members' `frame_text` are
    awaited in turn, PACE of them between two turns of the event loop: 500 city-wide sockets are not
    handed a 300 KB frame in one burst, and no task or timer is made per member and frame."""

    _instances: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> LocalGroups
    PACE = 50  # members handed a frame between two turns of the event loop

    @classmethod
    def of(cls, layer) -> LocalGroups:
        loop = asyncio.get_running_loop()
        instance = cls._instances.get(loop)
        if instance is None or instance.layer is not layer:
            instance = cls._instances[loop] = cls(layer)
        return instance

    def __init__(self, layer):
        self.layer = layer
        self.members: dict[str, set] = {}
        self.channel: str | None = None
        self.delivered = 0
        self._refused: set = set()  # message types received that are not LOCAL_GROUPS_FRAME (logged once)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    async def join(self, group: str, member) -> None:
        async with self._lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel("local-groups")
                self._task = asyncio.ensure_future(self._receive())
            members = self.members.get(group)
            if members is None:
                members = self.members[group] = set()
                await self.layer.group_add(group, self.channel)
            members.add(member)

    async def leave(self, group: str, member) -> None:
        async with self._lock:
            members = self.members.get(group)
            if members is None:
                return
            members.discard(member)
            if not members:
                del self.members[group]
                await self.layer.group_discard(group, self.channel)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the layer's server went away: try again shortly
                logger.warning("local groups: receive failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message.get("type") != LOCAL_GROUPS_FRAME:
                kind = message.get("type")
                if kind not in self._refused:
                    self._refused.add(kind)
                    logger.error("local groups: a message of type %r, not %r, dropped (and any more of it)",
                                 kind, LOCAL_GROUPS_FRAME)
                continue
            text, group = message.get("text"), message.get("group")
            for n, member in enumerate(list(self.members.get(group, ()))):
                if n and not n % self.PACE:
                    await asyncio.sleep(0)  # let the sockets' writes and the next frames in between
                try:
                    await member.frame_text(text)
                    self.delivered += 1
                except Exception:
                    logger.exception("local groups: a member failed on a frame of %s", group)


def watched_groups(layer) -> set[str] | None:
    """Every group that has a member now (on any server process), or None when the layer cannot
    tell: a layer of streamcity.kernel.layers answers, any other is sent every group. Blocks on
    the layer's server (a Redis round trip): call it from a thread, not on the event loop. A
    frame for a group nobody joined is neither joined nor sent: most of the live map's groups
    (every route, tile, vehicle type and level of detail) have nobody watching at a given moment."""
    # looked up on the class: channels-redis's PubSub layer hands an attribute it lacks to the layer
    # of the running event loop, and there is none in the publisher's thread
    ask = getattr(type(layer), "watched_groups", None)
    return None if ask is None else ask(layer)


class GroupTracker:
    """Routes an item to its groups, and once more to the groups it left since its last frame (it
    moved to another tile, say), so that their members see it leave. Keys not seen for
    `forget_after` seconds are forgotten."""

    def __init__(self, groups_of: Callable[[object], Iterable[str]] | None = None, *, forget_after: float = 600.0):
        self.groups_of = groups_of
        self.forget_after = forget_after
        self._last: dict[Hashable, tuple[tuple[str, ...], float]] = {}
        self._swept = 0.0

    def __call__(self, key: Hashable, item, now: float) -> Iterable[str]:
        return self.route(key, tuple(self.groups_of(item)), now)

    def route(self, key: Hashable, groups: tuple[str, ...], now: float) -> Iterable[str]:
        """`groups`, plus those `key` was sent to last time and is not in now."""
        previous = self._last.get(key)
        self._last[key] = (groups, now)
        if previous is None or previous[0] == groups:
            return groups
        return dict.fromkeys(groups + previous[0])

    def sweep(self, now: float) -> None:
        if now - self._swept > self.forget_after:
            self._swept = now
            self._last = {k: v for k, v in self._last.items() if now - v[1] <= self.forget_after}


class MultiGroupPublisher(GroupPublisher):
    """Every `interval` seconds, sends each group the items that concern it: one frame per group.

    `targets(key, item, now)` names the groups an item goes to this tick (default: a GroupTracker
    of `groups_of`); it may keep state and have a `sweep(now)` called once per tick, and a
    `watch(groups)` called before, with the groups that have members (None: unknown). Each item is
    encoded once (`encode`, default JSON) and each group's frame is joined from those encodings
    once, however many clients are in the group: `{"type": frame_type, **header, field: [...]}`,
    sent as `{"type": handler, "group": group, "text": frame}` (by default for LocalGroups).
    """

    def __init__(self, items: Coalescer, *, name: str, frame_type: str, field: str, interval: float,
                 handler: str = LOCAL_GROUPS_FRAME,
                 groups_of: Callable[[object], Iterable[str]] | None = None,
                 targets: Callable[[Hashable, object, float], Iterable[str]] | None = None,
                 encode: Callable[[object], bytes] = _encode, header: dict | None = None,
                 loop: asyncio.AbstractEventLoop | None = None, forget_after: float = 600.0,
                 key: str | int | None = None):
        """`key` indexes an item as taken from `items` (default: the Coalescer's key)."""
        super().__init__(items, group=name, handler=handler, frame_type=frame_type, field=field, interval=interval,
                         loop=loop)
        self.key = items.key if key is None else key
        if self.key is None:
            raise TypeError("give the key of a taken item")
        if (groups_of is None) == (targets is None):
            raise TypeError("give groups_of or targets")
        self.targets = targets if targets is not None else GroupTracker(groups_of, forget_after=forget_after)
        self.encode = encode
        self.group_sends = 0
        self.groups_skipped = 0  # groups with changes but no member when the frame was made
        self.publish_seconds = 0.0  # time spent in publish_once: take, join and send
        self._layer_checked = False
        head = {"type": frame_type, **(header or {}), field: []}
        self._head = json.dumps(head, separators=(",", ":"))[:-2]  # ...,"field":[

    def frames_of(self, items: list, now: float | None = None) -> dict[str, str]:
        """The frame text of every group concerned by `items` (at monotonic time `now`)."""
        return {group: self._head + ",".join(texts) + "]}" for group, texts in self._parts_of(items, now).items()}

    def frame_list_of(self, items: list, now: float | None = None) -> list[tuple[str, str]]:
        """(group, frame text) pairs: a group's changes in frames of at most MAX_FRAME_CHARS each
        (Daphne refuses to send a WebSocket message over 1 MiB; frames only add changes, so a client
        applies two halves as it would one frame)."""
        return self._frames(self._parts_of(items, now))

    def _frames(self, parts: dict[str, list[str]]) -> list[tuple[str, str]]:
        return [(group, self._head + ",".join(run) + "]}") for group, texts in parts.items() for run in chunked(texts)]

    def _parts_of(self, items: list, now: float | None = None) -> dict[str, list[str]]:
        now = time.monotonic() if now is None else now
        parts: dict[str, list[str]] = {}
        key, encode, targets = self.key, self.encode, self.targets
        for item in items:
            text = None
            for group in targets(item[key], item, now):
                if text is None:
                    text = encode(item).decode()
                part = parts.get(group)
                if part is None:
                    parts[group] = [text]
                else:
                    part.append(text)
        sweep = getattr(targets, "sweep", None)
        if sweep is not None:
            sweep(now)
        return parts

    def publish_once(self, layer) -> int:
        if not self.loop.is_running():
            return 0
        started = time.monotonic()
        try:
            return self._publish(layer)
        finally:
            self.publish_seconds += time.monotonic() - started

    def _watched_groups(self, layer) -> set[str] | None:
        if not self._layer_checked:  # once: does the layer see the groups joined (it says so if not)?
            self._layer_checked = True
            check = getattr(type(layer), "check_watched_groups", None)
            if check is not None:
                asyncio.run_coroutine_threadsafe(check(layer), self.loop).result(10)
        return watched_groups(layer)

    def _publish(self, layer) -> int:
        items = self.items.take()
        if not items:
            return 0
        try:  # which groups are watched, first: targets may route to those only
            joined = self._watched_groups(layer)
        except Exception:  # cannot tell: send to every group
            logger.warning("could not ask the channel layer which groups have members", exc_info=True)
            joined = None
        watch = getattr(self.targets, "watch", None)
        if watch is not None:
            watch(joined)
        parts = self._parts_of(items)
        if joined is not None:
            kept = {group: texts for group, texts in parts.items() if group in joined}
            self.groups_skipped += len(parts) - len(kept)
            parts = kept
        frames = self._frames(parts)

        async def send_all():
            return await asyncio.gather(
                *(layer.group_send(group, {"type": self.handler, "text": text, "group": group})
                  for group, text in frames),
                return_exceptions=True,
            )

        try:
            results = asyncio.run_coroutine_threadsafe(send_all(), self.loop).result(timeout=10)
        except Exception:  # a dropped frame is repaired by the next one and by snapshots
            logger.exception("frames of %d items to %d groups not sent", len(items), len(frames))
            return 0
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            logger.warning("%d of %d group sends failed, first: %r", len(failed), len(frames), failed[0])
        self.frames_sent += 1
        self.group_sends += len(frames) - len(failed)
        self.items_sent += len(items)
        return len(items)
