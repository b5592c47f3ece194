"""The Redis PubSub channel layer, decoding a group message once per process.

channels-redis hands a group message (one Redis publish) to every local member of the group as
the same bytes, and each member's `receive()` deserialises its copy: for a live-map frame of
~100 KB and 500 members, 500 decodes of the same bytes a tick (a visible share of a web process
at London scale, see docs/benchmarks.md). This layer remembers the last messages it decoded, by
identity of the bytes object, and gives each member a shallow copy of the same decoded message.
"""

from __future__ import annotations

from channels_redis.pubsub import RedisPubSubChannelLayer

DECODED_KEPT = 256  # messages remembered (the members of a group take theirs within a tick)


class SharedDecodeChannelLayer(RedisPubSubChannelLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._decoded: dict[int, tuple[bytes, dict]] = {}

    def deserialize(self, message):
        key = id(message)
        hit = self._decoded.get(key)
        if hit is not None and hit[0] is message:  # the very bytes (an id is reused only once they are freed)
            return dict(hit[1])
        value = super().deserialize(message)
        decoded = self._decoded
        decoded[key] = (message, value)  # holds the bytes: their id stays theirs while remembered
        if len(decoded) > DECODED_KEPT:
            del decoded[next(iter(decoded))]
        return dict(value)
