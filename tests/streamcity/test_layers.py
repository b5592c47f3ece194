"""The channel layer: a group message is decoded once per process, each member gets its own dict."""

import asyncio
import uuid

import pytest

from streamcity.layers import SharedDecodeChannelLayer

pytestmark = pytest.mark.redis


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
