"""History read back: the fleet at a moment, and a vehicle's track."""

from __future__ import annotations

import datetime as dt

from django.db.models import Max, Min


def position_window() -> dt.timedelta:
    """How far back a vehicle's latest point may be to show it at t: a little more than the longest
    the sampler goes without a point (a vehicle standing still)."""
    from django.conf import settings

    from .sink import STILL_EVERY

    return dt.timedelta(seconds=max(90.0, settings.STREAMCITY_HISTORY_POSITION_SECONDS * STILL_EVERY + 30))


def _position(p) -> dict:
    return {"vehicle_id": p.vehicle_id, "timestamp": p.timestamp.isoformat(), "route_id": p.route_id,
            "trip_id": p.trip_id, "latitude": p.latitude, "longitude": p.longitude, "bearing": p.bearing,
            "speed": p.speed, "status": p.status, "delay_seconds": p.delay_seconds,
            "passenger_count": p.passenger_count, "capacity": p.capacity}


def positions_at(t: dt.datetime, window: dt.timedelta | None = None) -> list[dict]:
    """Each vehicle's latest sampled position at or before `t`, within `window` before it."""
    from transit.models import VehiclePosition

    window = window or position_window()
    latest: dict[str, object] = {}
    for p in VehiclePosition.objects.filter(timestamp__gt=t - window, timestamp__lte=t).order_by("timestamp"):
        latest[p.vehicle_id] = p
    return [_position(p) for _, p in sorted(latest.items())]


def track(vehicle_id: str, start: dt.datetime, end: dt.datetime, *, limit: int = 20000) -> list[dict]:
    """A vehicle's sampled positions in [start, end], in time order (the composite key's index)."""
    from transit.models import VehiclePosition

    qs = VehiclePosition.objects.filter(vehicle_id=vehicle_id, timestamp__gte=start, timestamp__lte=end)
    return [_position(p) for p in qs.order_by("timestamp")[:limit]]


def kept_range(since: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last position kept since `since` (a bounded scan: the BRIN index on PostgreSQL)."""
    from transit.models import VehiclePosition

    r = VehiclePosition.objects.filter(timestamp__gte=since).aggregate(first=Min("timestamp"), last=Max("timestamp"))
    return r["first"], r["last"]
