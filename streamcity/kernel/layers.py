"""Channel layers that can tell which groups have a member: the live map's publisher sends a tick's
frame only to the groups somebody watches (most of its groups — every route, tile, vehicle type and
level of detail — have nobody watching at a given moment).

Both layers answer `watched_groups()`: a set of group names, or None when they cannot tell (then
every group is sent to). It is synchronous and may block on a Redis round trip: call it from a
thread, never on the event loop.

- `InMemoryLayer` (one process): channels' in-memory layer that records its own memberships.
- `RedisPubSubLayer` (several processes on one Redis): channels-redis's PubSub layer, whose group
  memberships are Redis subscriptions; Redis answers which channels have a subscriber on any process
  (`PUBSUB CHANNELS`, one round trip however many groups), asked through a redis-py client of the
  layer's own built from the layer's documented `hosts` and `prefix` settings. The name of a
  group's Redis channel is channels-redis's business: `group_channel_name` reproduces it, the one
  place that knows it, and `check_watched_groups` (run by the publisher once, and by the tests)
  fails loudly if a channels-redis release changes it: the publisher then sends every group.

(The live map's sockets of one process share one membership per group, streamcity.kernel.fanout.
LocalGroups: a frame is received and decoded once per process, so these layers keep no decoding cache.)
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import uuid

import redis
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

logger = logging.getLogger(__name__)
MEMBERSHIP_NEVER_EXPIRES = 100 * 365 * 86400  # seconds: the in-memory layer's group_expiry


class InMemoryLayer(InMemoryChannelLayer):
    """The in-memory layer, recording which groups have a member. Memberships do not expire by
    default (`group_expiry`): channels' default of a day would drop a server process's one
    membership of a group watched without a break for a day (LocalGroups), and the live map would
    stop moving; members leave explicitly. A membership the parent drops on its own (a channel with
    a message unread for `expiry` seconds) stays recorded until discarded: a group may be sent to
    in vain, never left out."""

    def __init__(self, *args, group_expiry: int = MEMBERSHIP_NEVER_EXPIRES, **kwargs):
        super().__init__(*args, group_expiry=group_expiry, **kwargs)
        self._members: dict[str, set[str]] = {}
        self._members_lock = threading.Lock()  # watched_groups() is asked from the publisher's thread

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        with self._members_lock:
            self._members.setdefault(group, set()).add(channel)

    async def group_discard(self, group, channel):
        await super().group_discard(group, channel)
        with self._members_lock:
            members = self._members.get(group)
            if members is not None:
                members.discard(channel)
                if not members:
                    del self._members[group]

    async def flush(self):
        await super().flush()
        with self._members_lock:
            self._members.clear()

    def watched_groups(self) -> set[str]:
        with self._members_lock:
            return set(self._members)


class RedisPubSubLayer(RedisPubSubChannelLayer):
    """channels-redis's PubSub layer that can tell which groups have a member on any process."""

    def __init__(self, hosts=None, prefix: str = "asgi", **kwargs):
        super().__init__(hosts=hosts, prefix=prefix, **kwargs)
        self.prefix = prefix
        self._hosts = _redis_hosts(hosts)  # None: a form watched_groups() cannot ask (Sentinel)
        self._clients: list[redis.Redis] | None = None
        self._clients_lock = threading.Lock()
        self._checked: bool | None = None  # check_watched_groups() said: None, not asked yet

    def group_channel_name(self, group: str) -> str:
        """The Redis channel channels-redis subscribes for `group`: ITS naming, reproduced here and
        nowhere else (channels-redis 4.x: `RedisPubSubLoopLayer._get_group_channel_name`). A release
        that changes it fails check_watched_groups(), at the publisher's start and in the tests."""
        return f"{self.prefix}__group__{group}"

    def watched_groups(self) -> set[str] | None:
        """The groups that have a member on any process sharing this Redis and prefix; None when
        this layer cannot tell (hosts given as Sentinels, or check_watched_groups() failed)."""
        if self._hosts is None or self._checked is False:
            return None
        head = self.group_channel_name("")
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", head) + "*"  # the prefix, glob-escaped
        out = set()
        for client in self._redis_clients():  # a group lives on one shard: ask each
            for channel in client.pubsub_channels(pattern):
                out.add(channel.decode()[len(head):])
        return out

    async def check_watched_groups(self) -> bool:
        """Whether watched_groups() sees a group this process joins and stops seeing it once left
        (on the event loop; it asks Redis in a thread). If not, it says so in the log and
        watched_groups() answers None from then on: every group is sent to, as without it."""
        group = f"streamcity.check.{uuid.uuid4().hex}"
        channel = await self.new_channel("check.")
        receiving = asyncio.ensure_future(self.receive(channel))  # cancelled below: unsubscribes
        try:
            await self.group_add(group, channel)
            joined = await self._sees(group, True)
            await self.group_discard(group, channel)
            left = await self._sees(group, False)
        finally:
            receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)
        self._checked = joined and left
        if not self._checked:
            logger.error("the channel layer cannot tell which groups are watched (joined seen: %s, left seen: %s): "
                         "channels-redis changed its group channel names? see %s.group_channel_name; "
                         "sending every group from now on", joined, left, type(self).__qualname__)
        return self._checked

    async def _sees(self, group: str, watched: bool, tries: int = 20) -> bool:
        """Whether watched_groups() comes to say `group` is watched (or not), within `tries` asks
        0.05 s apart: a subscription made on one connection shows on another once Redis has read it."""
        loop = asyncio.get_running_loop()
        for n in range(tries):
            if n:
                await asyncio.sleep(0.05)
            if (group in (await loop.run_in_executor(None, self._watched_unchecked) or ())) == watched:
                return True
        return False

    def _watched_unchecked(self) -> set[str] | None:
        checked, self._checked = self._checked, None
        try:
            return self.watched_groups()
        finally:
            self._checked = checked

    def _redis_clients(self) -> list[redis.Redis]:
        with self._clients_lock:
            if self._clients is None:
                self._clients = [_redis_client(host) for host in self._hosts]
            return self._clients


def _redis_hosts(hosts) -> list[dict] | None:
    """channels-redis's documented `hosts` forms (URLs, (host, port) pairs, dicts of redis-py
    connection arguments with an optional "address" URL) as redis-py client arguments; None for a
    Sentinel configuration, which watched_groups() does not ask."""
    if not hosts:
        return [{"address": "redis://localhost:6379"}]
    if isinstance(hosts, (str, bytes)):
        raise ValueError("the channel layer's hosts must be a list, even of one host")
    out = []
    for host in hosts:
        if isinstance(host, dict):
            if "master_name" in host or "sentinels" in host:
                logger.warning("channel layer on Redis Sentinel: every live-map group is sent to, watched or not")
                return None
            out.append(dict(host))
        elif isinstance(host, (tuple, list)) and len(host) == 2:
            out.append({"host": host[0], "port": int(host[1])})
        elif isinstance(host, str):
            out.append({"address": host})
        else:
            raise ValueError(f"channel layer host {host!r}: give a redis:// URL, (host, port) or a dict")
    return out


def _redis_client(host: dict) -> redis.Redis:
    host = dict(host)
    address = host.pop("address", None)
    return redis.Redis.from_url(address, **host) if address else redis.Redis(**host)
