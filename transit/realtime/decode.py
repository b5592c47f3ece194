"""Bytes -> a GTFS-Realtime FeedMessage, refused whole when it is not one."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

KINDS = {"vehicle-positions": "vehicle", "trip-updates": "trip_update", "alerts": "alert"}
SUPPORTED_VERSIONS = ("1.0", "2.0")


class FeedError(ValueError):
    """A body that is not a usable GTFS-Realtime feed."""


def decode_feed(body: bytes, *, kind: str) -> rt.FeedMessage:
    """Parse `body`; check the header and that the entities are of `kind` (KINDS).

    A truncated or non-protobuf body, a feed without its header, a DIFFERENTIAL feed (not
    supported here) or one that carries only other kinds of entity raise FeedError.
    """
    if not body:
        raise FeedError("empty body")
    msg = rt.FeedMessage()
    try:
        msg.ParseFromString(body)
    except DecodeError as exc:
        raise FeedError(f"not a GTFS-Realtime protobuf ({exc}; {len(body)} bytes, starting {body[:16]!r})") from None
    if not msg.IsInitialized():
        missing = ", ".join(msg.FindInitializationErrors()[:5])
        raise FeedError(f"not a complete GTFS-Realtime FeedMessage (missing {missing}; {len(body)} bytes)")
    version = msg.header.gtfs_realtime_version
    if version.split(".")[0] not in ("1", "2"):
        raise FeedError(f"unsupported gtfs_realtime_version {version!r}")
    if msg.header.incrementality == rt.FeedHeader.DIFFERENTIAL:
        raise FeedError("DIFFERENTIAL feeds are not supported (FULL_DATASET expected)")
    field = KINDS[kind]
    if msg.entity and not any(e.HasField(field) or e.is_deleted for e in msg.entity):
        found = sorted({f.name for e in msg.entity for f, _ in e.ListFields() if f.name not in ("id", "is_deleted")})
        raise FeedError(f"no {field} entities in a {kind} feed (it holds {', '.join(found) or 'nothing'})")
    return msg
