"""The operators' live alert feed: `/ws/ops/`."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .selectors import open_alert_payloads
from .services import is_operator
from .streams import OPS_GROUP


class OpsAlertsConsumer(AsyncWebsocketConsumer):
    """Authenticated operators only: a snapshot of open alerts, then every change."""

    async def connect(self):
        user = self.scope.get("user")
        if not await database_sync_to_async(is_operator)(user):
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(OPS_GROUP, self.channel_name)
        await self.accept()
        await self._snapshot()

    async def _snapshot(self):
        alerts = await database_sync_to_async(open_alert_payloads)()
        await self.send(text_data=json.dumps({"type": "snapshot", "alerts": alerts}, separators=(",", ":")))

    async def disconnect(self, code):
        await self.channel_layer.group_discard(OPS_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "{}")
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "resync":
            await self._snapshot()

    async def alerts_frame(self, event):
        await self.send(text_data=event["text"])
