"""WebSocket consumers of the live map."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .selectors import vehicle_snapshot
from .streams import LIVE_GROUP


class LiveVehiclesConsumer(AsyncWebsocketConsumer):
    """`/ws/live/`: a snapshot on connect, then every frame the bridge publishes."""

    async def connect(self):
        await self.channel_layer.group_add(LIVE_GROUP, self.channel_name)
        await self.accept()
        vehicles = await database_sync_to_async(vehicle_snapshot)()
        await self.send(text_data=json.dumps({"type": "snapshot", "vehicles": vehicles}, separators=(",", ":")))

    async def disconnect(self, code):
        await self.channel_layer.group_discard(LIVE_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data and json.loads(text_data).get("type") == "resync":
            vehicles = await database_sync_to_async(vehicle_snapshot)()
            await self.send(text_data=json.dumps({"type": "snapshot", "vehicles": vehicles}, separators=(",", ":")))

    async def vehicles_frame(self, event):
        await self.send(text_data=event["text"])  # encoded once per group per tick by the bridge
