"""The alert consumer: derived alert topics and traffic incidents -> Alert rows + the ops feed.

Each batch is applied in one transaction; the Worker stores offsets only after it returns, so
an offset is never committed before the database commit. Redelivered records change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from django.db import InterfaceError, OperationalError, close_old_connections

from streamcity.kernel.bus import Decoded, TransientError
from streamcity.kernel.fanout import Coalescer, GroupPublisher
from streamcity.kernel.schemas import ALERT_TOPICS, TRAFFIC_INCIDENTS

from .detections import detection_from_event
from .selectors import alert_payloads
from .services import alerts_apply_detections, alerts_expire

logger = logging.getLogger(__name__)

OPS_GROUP = "ops_alerts"
TOPICS = (*ALERT_TOPICS, TRAFFIC_INCIDENTS)


def alert_feed() -> Coalescer:
    return Coalescer("alert_key")


def alert_publisher(feed: Coalescer, *, interval: float, loop: asyncio.AbstractEventLoop | None = None) -> GroupPublisher:
    """Sends `{"type": "alerts", "alerts": [...]}` to the operators' group every `interval` seconds."""
    return GroupPublisher(feed, group=OPS_GROUP, handler="alerts.frame", frame_type="alerts", field="alerts",
                          interval=interval, loop=loop)


class AlertSink:
    """Worker handler: persists a batch of detections, then queues the changed alerts for the ops feed."""

    group_id = "streamcity-alerts"
    expire_every = 5.0  # wall seconds between two expiry passes (alerts_expire), the first at start

    def __init__(self, feed: Coalescer, *, clock=time.monotonic):
        self.feed = feed
        self.created = 0
        self.ignored = 0
        self.expired = 0
        self.clock = clock
        self._expired_at = -math.inf

    def tick(self) -> None:
        """On start and every `expire_every` seconds: close the open alerts whose condition is gone."""
        if self.clock() - self._expired_at < self.expire_every:
            return
        self._expired_at = self.clock()
        try:
            expired = alerts_expire()
        except (OperationalError, InterfaceError) as exc:
            logger.warning("alerts: the expiry pass failed, next one in %.0f s: %s", self.expire_every, exc)
            return
        finally:
            close_old_connections()
        self.expired += len(expired)
        if expired:
            self.feed.add(alert_payloads(expired))

    def __call__(self, batch: list[Decoded]) -> None:
        try:
            applied = alerts_apply_detections(detections=[detection_from_event(d.event) for d in batch])
        except (OperationalError, InterfaceError) as exc:
            raise TransientError(str(exc)) from exc
        finally:
            close_old_connections()
        self.created += len(applied.created)
        self.ignored += applied.ignored
        self.feed.add(alert_payloads(applied.changed))


def ops_broadcast(payloads: list[dict]) -> None:
    """Send alert changes made by an operator to every ops page now (one send per action)."""
    import json

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    text = json.dumps({"type": "alerts", "alerts": payloads}, separators=(",", ":"))
    async_to_sync(get_channel_layer().group_send)(OPS_GROUP, {"type": "alerts.frame", "text": text})


def user_group(user_id: int) -> str:
    """The group of one operator's sockets (closed together on logout)."""
    return f"ops_user_{user_id}"


def ops_sessions_end(user_id: int) -> None:
    """Close every /ws/ops/ socket of the user (called on logout)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": "session.ended"})
