"""Writes to the transit models."""

from __future__ import annotations

import operator
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from streamcity.kernel.schemas import LiveVehicle

from .models import SimulationRun, VehicleState
from .selectors import VEHICLE_FIELDS


def vehicle_states_upsert(*, vehicles: Iterable[LiveVehicle]) -> int:
    """Insert or update one row per vehicle in one statement; the last event per vehicle wins."""
    latest: dict[str, LiveVehicle] = {}
    for v in vehicles:
        latest[v.vehicle_id] = v
    if not latest:
        return 0
    # One prepared statement run for every row (executemany), not bulk_create(update_conflicts=True):
    # the ORM compiles SQL for each value of each row, which made the bridge too slow for a
    # London-sized fleet (see docs/benchmarks.md).
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    plain = _plain_values
    rows = [(*plain(v), adapt(v.timestamp), now) for v in latest.values()]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(_upsert_sql(), rows)
    return len(rows)


_PLAIN_FIELDS = [f for f in VEHICLE_FIELDS if f != "timestamp"]
_plain_values = operator.attrgetter(*_PLAIN_FIELDS)  # a tuple of them, in C (cheaper than a generator)
_SQL: dict[str, str] = {}


def _upsert_sql() -> str:
    """INSERT ... ON CONFLICT (vehicle_id) DO UPDATE (SQLite 3.24+ and PostgreSQL alike)."""
    sql = _SQL.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        columns = [quote(VehicleState._meta.get_field(f).column) for f in [*_PLAIN_FIELDS, "timestamp", "updated_at"]]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != quote("vehicle_id"))
        sql = _SQL[connection.vendor] = (
            f"INSERT INTO {quote(VehicleState._meta.db_table)} ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT ({quote('vehicle_id')}) DO UPDATE SET {updates}"
        )
    return sql


# -- simulation runs -------------------------------------------------------------------------------

def simulation_run_start(*, run_id: str, feed: str, tz: str, state: dict, sim_now) -> SimulationRun:
    """A new run begins: earlier runs are over, and the live table is theirs, so it is cleared."""
    now = timezone.now()
    with transaction.atomic():
        SimulationRun.objects.filter(stopped_at__isnull=True).update(stopped_at=now)
        VehicleState.objects.all().delete()
        run, _ = SimulationRun.objects.update_or_create(run_id=run_id, defaults=dict(
            feed=feed, timezone=tz, requested_date=state["date"], timetable_date=state["timetable_date"],
            reason=state["reason"], note=(state.get("note") or "")[:500], sim_started_at=sim_now, sim_now=sim_now,
            vehicles=state["vehicles"], service_starts=state.get("service_starts"), started_at=now,
            heartbeat_at=now, stopped_at=None,
        ))
    return run


def simulation_run_heartbeat(*, run_id: str, state: dict, sim_now) -> None:
    """The run's simulated time, vehicles on duty, service day and when service starts, now."""
    SimulationRun.objects.filter(run_id=run_id).update(
        sim_now=sim_now, vehicles=state["vehicles"], service_starts=state.get("service_starts"),
        requested_date=state["date"], timetable_date=state["timetable_date"], reason=state["reason"],
        note=(state.get("note") or "")[:500], heartbeat_at=timezone.now(),
    )


def simulation_run_stop(*, run_id: str) -> None:
    """The run is over: its vehicles leave the live table at once."""
    with transaction.atomic():
        SimulationRun.objects.filter(run_id=run_id, stopped_at__isnull=True).update(stopped_at=timezone.now())
        VehicleState.objects.all().delete()
