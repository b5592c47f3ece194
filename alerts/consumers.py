"""The operators' live alert feed: `/ws/ops/`."""

from __future__ import annotations

import asyncio
import json
import time

from channels.db import database_sync_to_async
from django.conf import settings

from streamcity.kernel.sockets import BoundedWebsocketConsumer

from .selectors import open_alert_payloads
from .services import is_operator, session_is_valid
from .streams import OPS_GROUP, user_group

CLOSE_SESSION_ENDED = 4401


class OpsAlertsConsumer(BoundedWebsocketConsumer):
    """Authenticated operators only: a snapshot of open alerts, then every change.

    The socket is closed when its operator logs out (a message to the operator's own group) and,
    as a backstop, when a periodic check finds the session gone or the account no longer an operator.
    Bounded as the live map's socket (streamcity.kernel.sockets): a message budget, checked messages, no
    backlog for a client that does not read (it gets a fresh snapshot once its buffer has drained).
    """

    groups_joined: list[str] = []
    _watch: asyncio.Task | None = None

    async def connect(self):
        user = self.scope.get("user")
        if not await database_sync_to_async(is_operator)(user):
            await self.close(code=4403)
            return
        self.bound_socket()
        self.groups_joined = [OPS_GROUP, user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self._snapshot()
        self._watch = asyncio.ensure_future(self._watch_session())

    async def _snapshot(self):
        if self.over_bound():  # the client is not reading: it gets this snapshot once its buffer has drained
            self.behind = True
            return
        alerts = await database_sync_to_async(open_alert_payloads)()
        # the server's clock (epoch ms): pages compare snooze ends with it, not with a skewed desk clock
        server_time = int(time.time() * 1000)
        await self.send(text_data=json.dumps({"type": "snapshot", "alerts": alerts, "server_time": server_time},
                                             separators=(",", ":")))

    async def _watch_session(self):
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        while True:
            await asyncio.sleep(settings.STREAMCITY_WS_SESSION_CHECK_SECONDS)
            if not await database_sync_to_async(session_is_valid)(key, self.scope["user"].pk):
                await self.close(code=CLOSE_SESSION_ENDED)
                return

    async def disconnect(self, code):
        if self._watch is not None:
            self._watch.cancel()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_message(self, message: dict):
        if message.get("type") == "resync":
            await self._snapshot()
        else:
            await self.send_error(f"unknown message type {str(message.get('type'))[:40]!r}; known: resync")

    async def send_latest(self):
        await self._snapshot()

    async def alerts_frame(self, event):
        await self.send_state(event["text"])

    async def session_ended(self, event):
        await self.close(code=CLOSE_SESSION_ENDED)
