"""The bridge from `live_vehicles` to the database and the browsers.

Each batch is upserted into VehicleState in one statement; changed vehicles collect in a
coalescer, and a publisher sends one frame per tick carrying every change since the last tick,
encoded once (streamcity.fanout) — never one channel-layer send per event.
"""

from __future__ import annotations

import asyncio
import logging

from django.db import InterfaceError, OperationalError, close_old_connections

from streamcity.bus import Decoded, TransientError
from streamcity.fanout import Coalescer, GroupPublisher

from .selectors import vehicle_payload
from .services import vehicle_states_upsert

logger = logging.getLogger(__name__)

LIVE_GROUP = "live_vehicles"


def vehicle_frames() -> Coalescer:
    """Vehicles changed since the last frame, latest state per vehicle."""
    return Coalescer("vehicle_id")


class VehicleBridge:
    """Worker handler: live_vehicles batch -> VehicleState rows + the frame buffer."""

    group_id = "streamcity-bridge"

    def __init__(self, frames: Coalescer):
        self.frames = frames
        self.rows_written = 0

    def __call__(self, batch: list[Decoded]) -> None:
        events = [d.event for d in batch]
        try:
            self.rows_written += vehicle_states_upsert(vehicles=events)
        except (OperationalError, InterfaceError) as exc:
            raise TransientError(str(exc)) from exc
        finally:
            close_old_connections()
        self.frames.add([vehicle_payload(e) for e in events])


def vehicle_publisher(frames: Coalescer, *, interval: float, loop: asyncio.AbstractEventLoop | None = None) -> GroupPublisher:
    """Sends `{"type": "frame", "vehicles": [...]}` to the live group every `interval` seconds."""
    return GroupPublisher(frames, group=LIVE_GROUP, handler="vehicles.frame", frame_type="frame", field="vehicles",
                          interval=interval, loop=loop)
