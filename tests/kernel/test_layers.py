"""The channel layers: which groups are watched, on one process (in memory) or on any (Redis)."""

import asyncio
import logging
import uuid

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from streamcity.kernel.fanout import watched_groups
from streamcity.kernel.layers import InMemoryLayer, RedisPubSubLayer, _redis_hosts


def test_the_in_memory_layer_knows_its_watched_groups():
    layer = InMemoryLayer()

    async def run():
        a, b = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("g1", a)
        await layer.group_add("g1", b)
        await layer.group_add("g2", a)
        await layer.group_discard("g2", a)
        await layer.group_discard("g1", a)
        await layer.group_discard("g3", a)  # never joined: nothing to do
        seen = watched_groups(layer)
        await layer.group_discard("g1", b)
        return seen, watched_groups(layer)

    seen, after = asyncio.run(run())
    assert seen == {"g1"} and after == set()


def test_the_in_memory_layer_forgets_its_groups_when_flushed():
    layer = InMemoryLayer()

    async def run():
        await layer.group_add("g1", await layer.new_channel())
        await layer.flush()

    asyncio.run(run())
    assert watched_groups(layer) == set()


def test_a_layer_that_cannot_tell_is_sent_every_group():
    assert watched_groups(InMemoryChannelLayer()) is None
    # channels-redis's own layer, asked from a thread without an event loop (as the publisher asks)
    assert watched_groups(RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1"])) is None


@pytest.mark.redis
def test_the_watched_groups_are_those_with_a_member_on_any_process(redis_url):
    prefix = f"t{uuid.uuid4().hex[:8]}"

    async def run():
        # two server processes' layers on one Redis, and another StreamCity's (another prefix)
        one = RedisPubSubLayer(hosts=[redis_url], prefix=prefix)
        two = RedisPubSubLayer(hosts=[redis_url], prefix=prefix)
        other = RedisPubSubLayer(hosts=[redis_url], prefix=prefix + "x")
        ask = asyncio.get_running_loop().run_in_executor
        try:
            a, b, c = await one.new_channel(), await two.new_channel(), await other.new_channel()
            await one.group_add("live.z13.1.2.d13", a)
            await one.group_add("live.all", a)
            await two.group_add("live.r.k10", b)
            await other.group_add("live.all.bus", c)
            both = await ask(None, watched_groups, one)
            await one.group_discard("live.all", a)
            after = await ask(None, watched_groups, two)
            return both, after
        finally:
            for layer in (one, two, other):
                await layer.flush()

    both, after = asyncio.run(run())
    assert both == {"live.z13.1.2.d13", "live.all", "live.r.k10"}
    assert after == {"live.z13.1.2.d13", "live.r.k10"}


@pytest.mark.redis
def test_the_installed_channels_redis_names_group_channels_as_the_layer_expects(redis_url):
    """THE test of the one thing RedisPubSubLayer takes from channels-redis's insides (how it names a
    group's Redis channel): a channels-redis release that changes it fails here."""
    layer = RedisPubSubLayer(hosts=[redis_url], prefix=f"t{uuid.uuid4().hex[:8]}")

    async def run():
        try:
            return await layer.check_watched_groups()
        finally:
            await layer.flush()

    assert asyncio.run(run()) is True
    assert watched_groups(layer) == set()  # the check's group and channel are gone


@pytest.mark.redis
def test_a_layer_that_does_not_see_its_groups_says_so_and_is_sent_every_group(redis_url, caplog):
    class Renamed(RedisPubSubLayer):  # as if channels-redis had renamed its group channels
        def group_channel_name(self, group):
            return f"{self.prefix}:group:{group}"

    layer = Renamed(hosts=[redis_url], prefix=f"t{uuid.uuid4().hex[:8]}")

    async def run():
        try:
            return await layer.check_watched_groups()
        finally:
            await layer.flush()

    with caplog.at_level(logging.ERROR, logger="streamcity.kernel.layers"):
        assert asyncio.run(run()) is False
    assert "group channel names" in caplog.text
    assert watched_groups(layer) is None


@pytest.mark.redis
def test_the_publisher_checks_the_layer_once_before_asking(redis_url):
    from streamcity.kernel.fanout import Coalescer, MultiGroupPublisher

    layer = RedisPubSubLayer(hosts=[redis_url], prefix=f"t{uuid.uuid4().hex[:8]}")

    async def run():
        loop = asyncio.get_running_loop()
        publisher = MultiGroupPublisher(Coalescer("id"), name="t", groups_of=lambda item: ["all"], frame_type="frame",
                                        field="things", interval=1, loop=loop)
        member = await layer.new_channel()
        await layer.group_add("all", member)
        try:
            publisher.items.add([{"id": "a"}])
            await loop.run_in_executor(None, publisher.publish_once, layer)
            return await asyncio.wait_for(layer.receive(member), 5), publisher
        finally:
            await layer.flush()

    message, publisher = asyncio.run(run())
    assert layer._checked is True and publisher.group_sends == 1
    assert message["type"] == "local_groups.frame" and message["group"] == "all"


def test_the_documented_host_forms_are_understood():
    assert _redis_hosts(["redis://h:1/0"]) == [{"address": "redis://h:1/0"}]
    assert _redis_hosts([("h", "6380")]) == [{"host": "h", "port": 6380}]
    assert _redis_hosts([{"address": "rediss://h:1", "ssl_cert_reqs": None}]) == [
        {"address": "rediss://h:1", "ssl_cert_reqs": None}]
    assert _redis_hosts(None) == [{"address": "redis://localhost:6379"}]
    assert _redis_hosts([{"master_name": "m", "sentinels": [("h", 26379)]}]) is None  # cannot ask: every group
    with pytest.raises(ValueError, match="a list"):
        _redis_hosts("redis://h:1")
    with pytest.raises(ValueError, match="redis:// URL"):
        _redis_hosts([42])


def test_a_process_membership_of_a_group_watched_for_days_does_not_expire(monkeypatch):
    """channels' in-memory layer drops a membership a day old by default: the process's one
    membership of a group watched without a break (LocalGroups) would stop its frames."""
    import time

    import channels.layers

    from streamcity.kernel.fanout import LOCAL_GROUPS_FRAME, LocalGroups

    class Member:
        def __init__(self):
            self.got = []

        async def frame_text(self, text):
            self.got.append(text)

    async def run():
        layer, member = InMemoryLayer(), Member()
        groups = LocalGroups.of(layer)
        await groups.join("live.all", member)
        days_later = time.time() + 3 * 86400
        monkeypatch.setattr(channels.layers.time, "time", lambda: days_later)
        await layer.group_send("live.all", {"type": LOCAL_GROUPS_FRAME, "text": "f", "group": "live.all"})
        for _ in range(100):
            if member.got:
                break
            await asyncio.sleep(0.01)
        monkeypatch.undo()
        await groups.leave("live.all", member)
        return member.got, watched_groups(layer)

    assert asyncio.run(run()) == (["f"], set())
