"""The channel layer: a group message decoded once per process; the groups watched, on any process."""

import asyncio
import uuid

import pytest

from streamcity.kernel.layers import SharedDecodeChannelLayer


@pytest.mark.redis
def test_a_group_message_is_decoded_once_for_all_its_members(redis_url, monkeypatch):
    calls = []
    original = SharedDecodeChannelLayer.__mro__[1].deserialize
    monkeypatch.setattr(SharedDecodeChannelLayer.__mro__[1], "deserialize",
                        lambda self, message: calls.append(message) or original(self, message))

    async def run():
        layer = SharedDecodeChannelLayer(hosts=[redis_url], prefix=f"t{uuid.uuid4().hex[:8]}")
        try:
            members = [await layer.new_channel() for _ in range(5)]
            for m in members:
                await layer.group_add("g", m)
            text = "x" * 200_000
            await layer.group_send("g", {"type": "frame", "text": text})
            await layer.send(members[0], {"type": "direct", "n": 1})
            got = [await asyncio.wait_for(layer.receive(m), 5) for m in members]
            direct = await asyncio.wait_for(layer.receive(members[0]), 5)
            for m in members:
                await layer.group_discard("g", m)
            return got, direct
        finally:
            await layer.flush()

    got, direct = asyncio.run(run())
    assert all(g == {"type": "frame", "text": "x" * 200_000} for g in got)
    assert len({id(g) for g in got}) == 5  # a dict each: one member's changes are not the others'
    got[0]["type"] = "changed"
    assert got[1]["type"] == "frame"
    assert direct == {"type": "direct", "n": 1}
    assert len(calls) == 2  # the group message once for five members, the direct one once


@pytest.mark.redis
def test_the_watched_groups_are_those_with_a_member_on_any_process(redis_url):
    from streamcity.kernel.fanout import watched_groups

    prefix = f"t{uuid.uuid4().hex[:8]}"

    async def run():
        # two server processes' layers on one Redis, and another StreamCity's (another prefix)
        one = SharedDecodeChannelLayer(hosts=[redis_url], prefix=prefix)
        two = SharedDecodeChannelLayer(hosts=[redis_url], prefix=prefix)
        other = SharedDecodeChannelLayer(hosts=[redis_url], prefix=prefix + "x")
        try:
            a, b, c = await one.new_channel(), await two.new_channel(), await other.new_channel()
            await one.group_add("live.z13.1.2.d13", a)
            await one.group_add("live.all", a)
            await two.group_add("live.r.k10", b)
            await other.group_add("live.all.bus", c)
            both = await watched_groups(one)
            await one.group_discard("live.all", a)
            after = await watched_groups(two)
            return both, after
        finally:
            for layer in (one, two, other):
                await layer.flush()

    both, after = asyncio.run(run())
    assert both == {"live.z13.1.2.d13", "live.all", "live.r.k10"}
    assert after == {"live.z13.1.2.d13", "live.r.k10"}


def test_the_in_memory_layer_knows_its_watched_groups():
    from channels.layers import InMemoryChannelLayer

    from streamcity.kernel.fanout import watched_groups

    async def run():
        layer = InMemoryChannelLayer()
        c = await layer.new_channel()
        await layer.group_add("g1", c)
        await layer.group_add("g2", c)
        await layer.group_discard("g2", c)
        return await watched_groups(layer)

    assert asyncio.run(run()) == {"g1"}
