"""Writes to the transit models."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from streamcity.schemas import LiveVehicle

from .models import VehicleState
from .selectors import VEHICLE_FIELDS

_UPDATE_FIELDS = [f for f in VEHICLE_FIELDS if f != "vehicle_id"] + ["updated_at"]


def vehicle_states_upsert(*, vehicles: Iterable[LiveVehicle]) -> int:
    """Insert or update one row per vehicle in one statement; the last event per vehicle wins."""
    latest: dict[str, LiveVehicle] = {}
    for v in vehicles:
        latest[v.vehicle_id] = v
    if not latest:
        return 0
    now = timezone.now()
    rows = [VehicleState(**{f: getattr(v, f) for f in VEHICLE_FIELDS}, updated_at=now) for v in latest.values()]
    VehicleState.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["vehicle_id"], update_fields=_UPDATE_FIELDS, batch_size=500
    )
    return len(rows)
