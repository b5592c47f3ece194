"""The built-in processor that derives `live_vehicles` from `vehicle_locations` and the schedule.

`LiveVehicleTable` is the pure rule (latest state per vehicle by event time, with its schedule
deviation); `LiveVehicleProcessor` feeds it decoded batches and produces one record per changed
vehicle per batch. The schedule comes from `stop_schedule` through the shared ReferenceData
, loaded before the first batch is handled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from streamcity.kernel.bus import Bus, Decoded, TransientError
from streamcity.kernel.schemas import LIVE_VEHICLES, VEHICLE_LOCATIONS, LiveVehicle, VehicleLocation, encode_live
from transit.timetable import ReferenceData, Schedule, StopProgress, laying_over, measure


class LiveVehicleTable:
    """Latest state per vehicle. An event older than the one already held is ignored.

    `delay_seconds` is the schedule deviation (transit.timetable.measure): measured at the last
    stop served, from the first report past it, and at the first stop of a trip from its departure
    (a vehicle laying over is never early); None while the trip has no schedule and for a vehicle
    off a trip. An in-service report of a vehicle standing at its first stop before the departure
    is passed on as `layover` (transit.timetable.laying_over).
    """

    def __init__(self, schedule: Schedule | None = None):
        # not `schedule or Schedule()`: the one runprocessors passes is empty (falsy) until loaded
        self.schedule = schedule if schedule is not None else Schedule()
        self.progress = StopProgress()
        self._last: dict[str, dt.datetime] = {}
        self.stale_dropped = 0

    def apply(self, events: Iterable[VehicleLocation]) -> list[LiveVehicle]:
        return [LiveVehicle.of(e, delay_seconds=delay) for e, delay in self.changes(events)]

    def changes(self, events: Iterable[VehicleLocation]) -> list[tuple[VehicleLocation, int | None]]:
        """apply() as (latest report, delay_seconds) per changed vehicle: what a LiveVehicle is
        made of, for encode_live (no LiveVehicle built per report)."""
        changed: dict[str, tuple[VehicleLocation, int | None]] = {}
        latest, observe, schedule = self._last, self.progress.observe, self.schedule
        for e in events:
            vehicle_id, ts = e.vehicle_id, e.timestamp
            last = latest.get(vehicle_id)
            if last is not None and ts < last:
                self.stale_dropped += 1
                continue
            latest[vehicle_id] = ts
            progress, _ = observe(e)
            status = e.status
            if status == "in_service" or status == "layover":
                delay = measure(e, progress, schedule)
                if status == "in_service" and delay == 0 and laying_over(e, progress, schedule):
                    e = msgspec.structs.replace(e, status="layover")  # re-encoded: not the bytes received
                changed[vehicle_id] = (e, delay)
            else:
                changed[vehicle_id] = (e, None)
        return list(changed.values())


class LiveVehicleProcessor:
    """Worker handler (or a stage of streamcity.kernel.stages.Stages): vehicle_locations batch ->
    live_vehicles records, one per changed vehicle per batch.

    Catching up: the records that were already in the topic when this member started (a restart
    resumes where every stage of its consumer group still needs records, up to 30 minutes back;
    a new group reads the whole topic) update the table but are not produced one batch at a
    time: once a partition has caught up, the latest state of each vehicle seen in it is produced
    once. So a restart never sends the live map back through the last half hour. `catch_up=False`
    produces every batch as it comes (the benchmark's replay measures that steady state).
    """

    name = "live-vehicles"
    group_id = "streamcity-live-vehicles"
    topics = (VEHICLE_LOCATIONS,)

    def __init__(self, bus: Bus, reference: ReferenceData | None = None, *, catch_up: bool = True):
        self.bus = bus
        self.reference = reference
        self.table = LiveVehicleTable(reference.schedule if reference else None)
        self.catch_up = catch_up
        self._behind: dict[tuple[str, int], int] | None = None  # per partition: its end when this member started
        # caught-up states not produced yet, per partition
        self._pending: dict[tuple[str, int], dict[str, tuple[VehicleLocation, int | None]]] = {}
        self._fed = False
        self.caught_up_produced = 0

    def __call__(self, batch: list[Decoded]) -> None:
        if self.reference is not None and not self.reference.ready.is_set():
            raise TransientError("waiting for stop_schedule to load")
        self._fed = True
        behind = self._catching_up()
        if not behind:
            self._produce(self.table.changes(d.event for d in batch), batch)
            return
        live, old, reached = [], {}, {}
        for d in batch:
            r = d.record
            tp = (r.topic, r.partition)
            end = behind.get(tp)
            if end is not None:
                reached[tp] = r.offset + 1
                if r.offset < end:
                    old.setdefault(tp, []).append(d.event)
                    continue
            live.append(d.event)
        for tp, events in old.items():
            pending = self._pending.setdefault(tp, {})
            for e, delay in self.table.changes(events):
                pending[e.vehicle_id] = (e, delay)
        for tp, nxt in reached.items():
            if nxt >= behind[tp]:
                del behind[tp]
                self._flush(tp)
        self._produce(self.table.changes(live), batch)

    def _produce(self, changes: Iterable[tuple[VehicleLocation, int | None]], batch: list[Decoded] = ()) -> None:
        raw = {id(d.event): d.record.value for d in batch}  # each report's bytes: not encoded again (encode_live)
        self.bus.produce_many(LIVE_VEHICLES.name, ((e.vehicle_id, encode_live(e, delay, raw.get(id(e))))
                                                   for e, delay in changes))

    def _catching_up(self) -> dict[tuple[str, int], int]:
        if self._behind is None:
            ends = self.bus.end_offsets(VEHICLE_LOCATIONS.name) if self.catch_up else {}
            self._behind = {(VEHICLE_LOCATIONS.name, p): end for p, end in ends.items() if end > 0}
        return self._behind

    def _flush(self, tp: tuple[str, int]) -> None:
        pending = self._pending.pop(tp, {})
        self._produce(pending.values())
        self.caught_up_produced += len(pending)

    def tick(self) -> None:
        """A poll that brought nothing: every partition is caught up (its last records may have
        been refused), so what is still pending is produced."""
        if not self._fed and self._pending:
            self._behind = {}
            for tp in list(self._pending):
                self._flush(tp)
        self._fed = False

    def reject_reason(self, e) -> str | None:
        """A report of a trip that today's schedule does not know (judged for live_vehicles only:
        the alert stages still see it, see streamcity.kernel.stages)."""
        ref = self.reference
        if e.trip_id is None or ref is None or ref.schedule.has_trip(e.trip_id) or not ref.ready.is_set():
            return None  # a known trip first: the answer for nearly every report, in one call
        if not len(ref.schedule):
            return None
        return f"unknown trip_id {e.trip_id!r}: not in stop_schedule"

    def status(self) -> str:
        catching = f", catching up on {len(self._behind)} partitions" if self._behind else ""
        return f"{self.table.stale_dropped} stale dropped{catching}"
