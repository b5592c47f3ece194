"""The history consumer: stop_events, live_vehicles and stop_schedule -> StopEvent, VehiclePosition
and ScheduledTrip rows, in batches; and retention pruning on a timer.

Positions are sampled: a vehicle's report is kept when STREAMCITY_HISTORY_POSITION_SECONDS have
passed since the last one kept, or its course turned by STREAMCITY_HISTORY_COURSE_DEGREES, or its
trip, status or stop changed. Every table's key makes a record read twice a conflict that is
ignored, so a restart that reads records again stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from streamcity.kernel.bus import Decoded, TransientError
from streamcity.kernel.schemas import LIVE_VEHICLES, STOP_EVENTS, STOP_SCHEDULE, LiveVehicle, StopEvent, StopSchedule
from transit.timetable import punctuality_setting

from .retention import prune_history
from .rollup import add_stop_events, ms, to_ms

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Kept:
    timestamp: dt.datetime
    bearing: float
    trip_id: str | None
    status: str
    stop_sequence: int | None
    speed: float


def _turned(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


STILL_MPS = 0.5  # slower than this: standing (at a stop, at lights, on layover)
STILL_EVERY = 4  # a vehicle standing since the last point kept is kept this many times less often


class PositionSampler:
    """Which reports of each vehicle to keep: every `every_seconds`, or at once on a turn of
    `course_degrees` or a change of trip, status or stop; a vehicle that stood still since its last
    point every STILL_EVERY × `every_seconds` (under playback's POSITION_WINDOW)."""

    def __init__(self, every_seconds: float, course_degrees: float):
        self.every = dt.timedelta(seconds=every_seconds)
        self.still_every = self.every * STILL_EVERY
        self.course = course_degrees
        self._kept: dict[str, _Kept] = {}

    def keep(self, v: LiveVehicle) -> bool:
        k = self._kept.get(v.vehicle_id)
        if k is not None:
            if v.timestamp <= k.timestamp:
                return False
            still = v.speed < STILL_MPS and k.speed < STILL_MPS
            if (v.timestamp - k.timestamp < (self.still_every if still else self.every) and v.trip_id == k.trip_id
                    and v.status == k.status and v.stop_sequence == k.stop_sequence
                    and _turned(v.bearing, k.bearing) < self.course):
                return False
        self._kept[v.vehicle_id] = _Kept(v.timestamp, v.bearing, v.trip_id, v.status, v.stop_sequence, v.speed)
        return True


def stop_event_row(e: StopEvent):
    from transit.models import StopEvent as Row

    return Row(vehicle_id=e.vehicle_id, trip_start=e.trip_start, stop_sequence=e.stop_sequence, trip_id=e.trip_id,
               route_id=e.route_id, direction_id=e.direction_id, stop_id=e.stop_id, scheduled=e.scheduled,
               arrival=e.arrival, departure=e.departure, passenger_count=min(e.passenger_count, 32767),
               capacity=min(e.capacity, 32767), timepoint=e.timepoint, observed=e.observed,
               left_behind=min(e.left_behind, 32767))


def position_row(v: LiveVehicle):
    from transit.models import VehiclePosition

    return VehiclePosition(vehicle_id=v.vehicle_id, timestamp=v.timestamp, route_id=v.route_id, trip_id=v.trip_id,
                           latitude=v.latitude, longitude=v.longitude, bearing=round(v.bearing) % 360,
                           speed=v.speed, status=v.status, delay_seconds=v.delay_seconds,
                           passenger_count=min(v.passenger_count, 32767), capacity=min(v.capacity, 32767))


def merge_trips(rows: list[StopSchedule]) -> int:
    """Fold stop_schedule rows into ScheduledTrip rows (first and last stop of each run); idempotent."""
    from transit.models import ScheduledTrip

    runs: dict[tuple[str, dt.date], list[StopSchedule]] = {}
    for s in rows:
        runs.setdefault((s.trip_id, s.service_date), []).append(s)
    if not runs:
        return 0
    known = {}
    trip_ids = {t for t, _ in runs}
    for t in ScheduledTrip.objects.filter(trip_id__in=trip_ids, service_date__in={d for _, d in runs}):
        known[(t.trip_id, t.service_date)] = t
    out = []
    for key, stops in runs.items():
        t = known.get(key)
        first = min(stops, key=lambda s: s.stop_sequence)
        last = max(stops, key=lambda s: s.stop_sequence)
        if t is None:
            t = ScheduledTrip(trip_id=key[0], service_date=key[1], first_sequence=first.stop_sequence,
                              start=first.scheduled_departure or first.scheduled_arrival,
                              last_sequence=last.stop_sequence, end=last.scheduled_arrival)
        if first.stop_sequence <= t.first_sequence:
            t.first_sequence, t.start = first.stop_sequence, first.scheduled_departure or first.scheduled_arrival
        if last.stop_sequence >= t.last_sequence:
            t.last_sequence, t.end = last.stop_sequence, last.scheduled_arrival
        t.route_id = first.route_id or t.route_id
        t.direction_id = first.direction_id if first.direction_id is not None else t.direction_id
        out.append(t)
    ScheduledTrip.objects.bulk_create(
        out, update_conflicts=True, unique_fields=["trip_id", "service_date"],
        update_fields=["start", "end", "first_sequence", "last_sequence", "route_id", "direction_id"],
    )
    # operated: a stop event of the run may have come first (or the run's start moved)
    table = ScheduledTrip._meta.db_table
    with connection.cursor() as c:
        c.executemany(f"UPDATE {table} SET operated = EXISTS (SELECT 1 FROM transit_stopevent e WHERE "
                      f"e.trip_id = {table}.trip_id AND e.trip_start = {table}.start) "
                      f"WHERE trip_id = %s AND service_date = %s",
                      [(t.trip_id, connection.ops.adapt_datefield_value(t.service_date)) for t in out])
    return len(out)


# -- writing rows: COPY on PostgreSQL, multi-row INSERT elsewhere ---------------------------------------------

STOP_EVENT_KEY = ("trip_id", "trip_start", "stop_sequence", "vehicle_id")


def _columns(model) -> list:
    return [f for f in model._meta.concrete_fields if f.column != "pk"]


def insert_new(model, rows: list, *, copy: bool) -> list:
    """Insert `rows`, a key already stored being skipped; the rows that were new (StopEvent), or [] (others)."""
    if not rows:
        return []
    fields = _columns(model)
    table, cols = model._meta.db_table, ", ".join(connection.ops.quote_name(f.column) for f in fields)
    want = model._meta.db_table == "transit_stopevent"
    returning = f" RETURNING {', '.join(STOP_EVENT_KEY)}" if want else ""
    returned = []
    with connection.cursor() as c:
        if copy:
            temp = f"_in_{table}"
            c.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {table}) ON COMMIT DELETE ROWS")
            c.execute(f"TRUNCATE {temp}")  # empty at a commit, not at a savepoint's (a caller's transaction)
            with c.cursor.copy(f"COPY {temp} ({cols}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row([getattr(r, f.attname) for f in fields])
            c.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {temp} ON CONFLICT DO NOTHING{returning}")
            returned = c.fetchall() if want else []
        else:
            if not want:
                model.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
                return []
            one = f"({', '.join(['%s'] * len(fields))})"
            for i in range(0, len(rows), 500):
                chunk = rows[i:i + 500]
                c.execute(f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(chunk))} "
                          f"ON CONFLICT DO NOTHING{returning}",
                          [f.get_db_prep_save(getattr(r, f.attname), connection) for r in chunk for f in fields])
                returned += c.fetchall()
    if not want:
        return []
    new = {(t, to_ms(start), int(seq), v) for t, start, seq, v in returned}
    out = []
    for r in rows:  # a key twice in the batch: the first was stored
        key = (r.trip_id, ms(r.trip_start), r.stop_sequence, r.vehicle_id)
        if key in new:
            new.discard(key)
            out.append(r)
    return out


def mark_operated(rows: list) -> None:
    """The scheduled trip runs of these new stop events ran."""
    from transit.models import ScheduledTrip

    runs = {(r.trip_id, r.trip_start) for r in rows}
    if not runs:
        return
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as c:
        c.executemany(f"UPDATE {ScheduledTrip._meta.db_table} SET operated = %s WHERE trip_id = %s AND start = %s",
                      [(True, t, adapt(start)) for t, start in runs])


class HistorySink:
    """Worker handler: the three topics -> history rows, one transaction per batch."""

    name = "history"
    group_id = "streamcity-history"
    topics = (STOP_EVENTS, LIVE_VEHICLES, STOP_SCHEDULE)

    def __init__(self, *, every_seconds: float | None = None, course_degrees: float | None = None,
                 prune_every: float | None = None, clock=time.monotonic, copy: bool | None = None):
        self.sampler = PositionSampler(
            settings.STREAMCITY_HISTORY_POSITION_SECONDS if every_seconds is None else every_seconds,
            settings.STREAMCITY_HISTORY_COURSE_DEGREES if course_degrees is None else course_degrees,
        )
        self.prune_every = settings.STREAMCITY_HISTORY_PRUNE_SECONDS if prune_every is None else prune_every
        self.clock = clock
        self._next_prune = clock()  # once at start, then on the timer
        self.stop_events = self.positions = self.trips = self.pruned = 0
        self.copy = copy  # None: COPY on PostgreSQL

    def __call__(self, batch: list[Decoded]) -> None:
        from transit.models import StopEvent as StopEventRow
        from transit.models import VehiclePosition

        events, positions, schedule = [], [], []
        for d in batch:
            e = d.event
            if isinstance(e, StopEvent):
                events.append(stop_event_row(e))
            elif isinstance(e, LiveVehicle):
                positions.append(e)
            elif isinstance(e, StopSchedule):
                schedule.append(e)
        keep = self.sampler.keep
        rows = [position_row(v) for v in positions if keep(v)]
        copy = connection.vendor == "postgresql" if self.copy is None else self.copy
        p = punctuality_setting()
        try:
            with transaction.atomic():
                new = insert_new(StopEventRow, events, copy=copy)
                insert_new(VehiclePosition, rows, copy=copy)
                trips = merge_trips(schedule)
                mark_operated(new)
                add_stop_events(new, early_seconds=p.early_seconds, late_seconds=p.late_seconds)
        except DatabaseError as exc:  # the database is away: the Worker retries the batch
            self.sampler = PositionSampler(self.sampler.every.total_seconds(), self.sampler.course)
            raise TransientError(f"history not written: {exc}") from exc
        self.stop_events += len(new)
        self.positions += len(rows)
        self.trips += trips
        self.tick()

    def tick(self) -> None:
        if self.prune_every > 0 and self.clock() >= self._next_prune:
            self._next_prune = self.clock() + self.prune_every
            try:
                self.pruned += sum(prune_history().values())
            except DatabaseError as exc:
                logger.warning("history: pruning failed (%s); trying again in %.0f s", exc, self.prune_every)

    def status(self) -> str:
        return (f"{self.stop_events} stop events, {self.positions} positions, {self.trips} trip updates, "
                f"{self.pruned} rows pruned")
