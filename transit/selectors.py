"""Reads of the transit models, shaped as the API and the WebSocket send them."""

from __future__ import annotations

import datetime as dt

import msgspec
from django.conf import settings
from django.utils import timezone

from .models import VehicleState

# The fields of a vehicle in snapshots, frames and /api/vehicles/ (names as in the schema).
VEHICLE_FIELDS = (
    "vehicle_id",
    "vehicle_type",
    "route_id",
    "trip_id",
    "latitude",
    "longitude",
    "bearing",
    "speed",
    "passenger_count",
    "capacity",
    "status",
    "stop_sequence",
    "next_stop_id",
    "delay_seconds",
    "timestamp",
)


def vehicle_payload(vehicle) -> dict:
    """A JSON-ready dict of a LiveVehicle event or a VehicleState row."""
    return msgspec.to_builtins({f: getattr(vehicle, f) for f in VEHICLE_FIELDS})


def vehicle_snapshot() -> list[dict]:
    """Every vehicle heard of recently, as JSON-ready dicts."""
    since = timezone.now() - dt.timedelta(seconds=settings.STREAMCITY_VEHICLE_STALE_SECONDS)
    rows = VehicleState.objects.filter(updated_at__gte=since).values_list(*VEHICLE_FIELDS)
    return msgspec.to_builtins([dict(zip(VEHICLE_FIELDS, row)) for row in rows])
