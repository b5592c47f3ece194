"""The built-in processor that derives `live_vehicles` from `vehicle_locations` and the schedule.

`LiveVehicleTable` is the pure rule (latest state per vehicle by event time, with its schedule
deviation); `LiveVehicleProcessor` feeds it decoded batches and produces one record per changed
vehicle per batch. The schedule comes from `stop_schedule` through the shared ReferenceData
(alerts.detection.processors), loaded before the first batch is handled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from alerts.detection.delay import measure
from alerts.detection.processors import ReferenceData
from alerts.detection.schedule import Schedule, StopProgress
from streamcity.bus import Bus, Decoded, TransientError
from streamcity.schemas import LIVE_VEHICLES, LiveVehicle, VehicleLocation, encode


class LiveVehicleTable:
    """Latest state per vehicle. An event older than the one already held is ignored.

    `delay_seconds` is the schedule deviation (alerts.detection.schedule.deviation): measured at
    the last stop served, from the first report past it; None while the trip has no schedule.
    """

    def __init__(self, schedule: Schedule | None = None):
        self.schedule = schedule or Schedule()
        self.progress = StopProgress()
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
            progress, _ = self.progress.observe(e)
            delay = measure(e, progress, self.schedule) if e.status == "in_service" else None
            changed[e.vehicle_id] = LiveVehicle.of(e, delay_seconds=delay)
        return list(changed.values())


class LiveVehicleProcessor:
    """Worker handler: vehicle_locations batch -> live_vehicles records."""

    group_id = "streamcity-live-vehicles"

    def __init__(self, bus: Bus, reference: ReferenceData | None = None):
        self.bus = bus
        self.reference = reference
        self.table = LiveVehicleTable(reference.schedule if reference else None)

    def __call__(self, batch: list[Decoded]) -> None:
        if self.reference is not None and not self.reference.ready.is_set():
            raise TransientError("waiting for stop_schedule to load")
        for v in self.table.apply(d.event for d in batch):
            self.bus.produce(LIVE_VEHICLES.name, v.vehicle_id, encode(v))

    def reject_reason(self, e) -> str | None:
        """A report of a trip that today's schedule does not know (this processor judges
        vehicle_locations for all: the others consume the same records and ignore such trips)."""
        schedule = self.reference.schedule if self.reference is not None else None
        if schedule is None or not self.reference.ready.is_set() or not len(schedule):
            return None
        if e.trip_id is not None and not schedule.has_trip(e.trip_id):
            return f"unknown trip_id {e.trip_id!r}: not in stop_schedule"
        return None

    def status(self) -> str:
        return f"{self.table.stale_dropped} stale dropped"
