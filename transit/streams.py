"""The bridge from `live_vehicles` to the database and the browsers.

Each batch is upserted into VehicleState in one statement; changed vehicles collect in a
coalescer, and a publisher sends, every tick, one frame to each live-map group (tiles, tiles per
vehicle type, routes, the world: transit.subscriptions) carrying that group's changes since the
last tick, encoded once per group (streamcity.fanout) — never one channel-layer send per event
or per client.
"""

from __future__ import annotations

import asyncio
import logging

from django.db import InterfaceError, OperationalError, close_old_connections

from streamcity.bus import Decoded, TransientError
from streamcity.fanout import Coalescer, MultiGroupPublisher

from .selectors import ROW_FIELDS, vehicle_row
from .services import vehicle_states_upsert
from .subscriptions import VehicleRouter

logger = logging.getLogger(__name__)


def vehicle_frames() -> Coalescer:
    """Vehicles changed since the last frame, latest state per vehicle (as rows: vehicle_row)."""
    return Coalescer(0)


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
        self.frames.add([vehicle_row(e) for e in events])


def vehicle_publisher(frames: Coalescer, *, interval: float,
                      loop: asyncio.AbstractEventLoop | None = None) -> MultiGroupPublisher:
    """Sends `{"type": "frame", "fields": [...], "vehicles": [[...], ...]}` to every live-map group
    every `interval` seconds (zoomed-out groups: the changes they can draw, see VehicleRouter)."""
    return MultiGroupPublisher(frames, name="live-vehicles", targets=VehicleRouter(ROW_FIELDS),
                               header={"fields": list(ROW_FIELDS)}, handler="vehicles.frame", frame_type="frame",
                               field="vehicles", interval=interval, loop=loop)
