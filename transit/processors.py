"""The built-in processor that derives `live_vehicles` from `vehicle_locations`.

`LiveVehicleTable` is the pure rule (latest state per vehicle by event time); `LiveVehicleProcessor`
feeds it decoded batches and produces one record per changed vehicle per batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from streamcity.bus import Bus, Decoded
from streamcity.schemas import LIVE_VEHICLES, LiveVehicle, VehicleLocation, encode


class LiveVehicleTable:
    """Latest state per vehicle. An event older than the one already held is ignored."""

    def __init__(self):
        self._last: dict[str, dt.datetime] = {}
        self.stale_dropped = 0

    def apply(self, events: Iterable[VehicleLocation]) -> list[LiveVehicle]:
        changed: dict[str, LiveVehicle] = {}
        for e in events:
            last = self._last.get(e.vehicle_id)
            if last is not None and e.timestamp < last:
                self.stale_dropped += 1
                continue
            self._last[e.vehicle_id] = e.timestamp
            changed[e.vehicle_id] = LiveVehicle(
                vehicle_id=e.vehicle_id,
                vehicle_type=e.vehicle_type,
                route_id=e.route_id,
                trip_id=e.trip_id,
                latitude=e.latitude,
                longitude=e.longitude,
                bearing=e.bearing,
                speed=e.speed,
                passenger_count=e.passenger_count,
                capacity=e.capacity,
                status=e.status,
                stop_sequence=e.stop_sequence,
                next_stop_id=e.next_stop_id,
                timestamp=e.timestamp,
            )
        return list(changed.values())


class LiveVehicleProcessor:
    """Worker handler: vehicle_locations batch -> live_vehicles records."""

    group_id = "streamcity-live-vehicles"

    def __init__(self, bus: Bus):
        self.bus = bus
        self.table = LiveVehicleTable()

    def __call__(self, batch: list[Decoded]) -> None:
        for v in self.table.apply(d.event for d in batch):
            self.bus.produce(LIVE_VEHICLES.name, v.vehicle_id, encode(v))
