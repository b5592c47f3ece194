"""The bridge from `live_vehicles` to the database and the browsers.

Each batch is upserted into VehicleState in one statement; changed vehicles collect in a
coalescer, and a publisher sends, every tick, one frame to each live-map group (tiles, tiles per
vehicle type, routes, the world: transit.subscriptions) carrying that group's changes since the
last tick, encoded once per group (streamcity.kernel.fanout) — never one channel-layer send per event
or per client.
"""

from __future__ import annotations

import asyncio
import logging
import math
import operator
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from streamcity.kernel.bus import Bus, Decoded, TransientError, Worker
from streamcity.kernel.bus.base import first_offsets
from streamcity.kernel.fanout import Coalescer, MultiGroupPublisher
from streamcity.kernel.schemas import LIVE_VEHICLES, LiveVehicle

from .selectors import ROW_FIELDS, vehicle_row
from .services import vehicle_states_upsert
from .subscriptions import VehicleRouter
from .timetable import punctuality_setting

logger = logging.getLogger(__name__)


_vehicle_id = operator.attrgetter("vehicle_id")
_event = operator.attrgetter("event")


def vehicle_frames() -> Coalescer:
    """Vehicles changed since the last frame, latest state per vehicle: LiveVehicles in, taken
    as rows (vehicle_row), one per vehicle per frame."""
    return Coalescer(by=_vehicle_id, convert=vehicle_row)


class VehicleBridge:
    """Worker handler: live_vehicles batch -> the frame buffer at once, VehicleState rows every
    `write_interval` seconds.

    The rows are written as a Kafka Streams state store's cache forwards a table: the latest state
    of each vehicle changed since the last write, in one statement, at most every `write_interval`
    (default STREAMCITY_BRIDGE_WRITE_INTERVAL) — after every poll if one is due (`tick`). When
    live, each vehicle reports about once a second, so a write carries each at most once: fewer,
    larger transactions. Catching up on a backlog, a vehicle's many states in one interval are
    one row (the upsert was half of the bridge's time in a replay). Nothing is committed past
    what is not written yet (`retained`); stopping writes it (`bridge_worker`: `on_stop`), and so
    does `finish()`, the end of the benchmark's replay.
    """

    group_id = "streamcity-bridge"

    def __init__(self, frames: Coalescer, *, write_interval: float | None = None, clock=time.monotonic):
        self.frames = frames
        self.write_interval = settings.STREAMCITY_BRIDGE_WRITE_INTERVAL if write_interval is None else write_interval
        self.clock = clock
        self.rows_written = 0
        self.writes = 0
        self._unwritten: dict[str, LiveVehicle] = {}
        self._from: dict[tuple[str, int], int] = {}  # per partition: its first offset not written yet
        self._written_at = -math.inf

    def __call__(self, batch: list[Decoded]) -> None:
        events = list(map(_event, batch))
        self._unwritten.update(zip(map(_vehicle_id, events), events))  # the latest state per vehicle
        first = self._from
        for tp, offset in first_offsets(d.record for d in batch).items():
            first.setdefault(tp, offset)
        self.frames.add(events)
        if self.clock() - self._written_at >= self.write_interval:
            self.write()  # a TransientError: the Worker retries the batch; what is unwritten stays so

    def tick(self) -> None:
        if self._unwritten and self.clock() - self._written_at >= self.write_interval:
            try:
                self.write()
            except TransientError as exc:  # the next due tick tries again; nothing is committed meanwhile
                self._written_at = self.clock()
                logger.warning("bridge: writing %d vehicles failed, retrying: %s", len(self._unwritten), exc)

    def write(self) -> None:
        """Upsert every vehicle changed since the last write."""
        self._written_at = self.clock()
        if not self._unwritten:
            return
        try:
            self.rows_written += vehicle_states_upsert(vehicles=self._unwritten.values())
        except (OperationalError, InterfaceError) as exc:
            raise TransientError(str(exc)) from exc
        finally:
            close_old_connections()
        self.writes += 1
        self._unwritten = {}
        self._from = {}

    finish = write  # the end of a bounded input (the benchmark's replay)

    def retained(self) -> dict[tuple[str, int], int]:
        return dict(self._from)

    @property
    def unwritten(self) -> int:
        return len(self._unwritten)


def bridge_worker(bus: Bus, frames: Coalescer, **worker_options) -> Worker:
    """The bridge's Worker: its handler's timer and held-back commits wired in."""
    handler = VehicleBridge(frames)
    return Worker(bus, name="bridge", group_id=handler.group_id, topics=[LIVE_VEHICLES], handle=handler,
                  tick=handler.tick, retain=handler.retained, on_stop=handler.write, **worker_options)


def vehicle_publisher(frames: Coalescer, *, interval: float,
                      loop: asyncio.AbstractEventLoop | None = None) -> MultiGroupPublisher:
    """Sends `{"type": "frame", "fields": [...], "vehicles": [[...], ...]}` to every live-map group
    every `interval` seconds (zoomed-out groups: the changes they can draw, see VehicleRouter)."""
    return MultiGroupPublisher(frames, name="live-vehicles", targets=VehicleRouter(ROW_FIELDS, punctuality=punctuality_setting()),
                               header={"fields": list(ROW_FIELDS)}, key=ROW_FIELDS.index("vehicle_id"),
                               frame_type="frame", field="vehicles", interval=interval,
                               loop=loop)
