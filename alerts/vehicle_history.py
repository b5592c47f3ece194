"""What the vehicle view (alerts/console.py) reads from the kept history: the track period a dispatcher
asks for, the vehicle's load at each stop of its trip, and — after a breakdown — which vehicle took
over its block.

The takeover is derived from data a real feed gives too, never from the simulator's naming of its
spares: the block comes from the timetable (the trip of the breakdown alert, or the vehicle's trip),
and the vehicles that worked the block's later trips after the alert come from the stop events kept
(transit/history/) and the live vehicle states.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Min
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from transit import passenger, selectors
from transit.models import StopEvent, StopTime, Trip, VehiclePosition, VehicleState

from .models import Alert

MAX_TRACK = dt.timedelta(days=1)  # the longest period one track shows (the track API's bound too)
EARLIER_START = dt.timedelta(hours=3)  # a later trip of the block started at most this before the breakdown
LATER_START = dt.timedelta(hours=30)  # and at most this after it (the rest of its service day)


class PeriodError(ValueError):
    """A track period the page cannot show; the message says why, for the dispatcher."""


# -- the track's period ------------------------------------------------------------------------------


def service_day_start(now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The start of the service day `now` is in (GTFS's noon minus 12 h of the local date)."""
    return selectors._service_day_start(now.astimezone(tz).date(), tz)


def default_start(now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return max(service_day_start(now, tz), now - MAX_TRACK)


def _local(text: str, what: str, tz: ZoneInfo) -> dt.datetime:
    try:
        value = parse_datetime(text.strip())
    except ValueError:
        value = None
    if value is None:
        raise PeriodError(f"{what}: not a date and time (YYYY-MM-DDTHH:MM): {text[:40]!r}")
    return value if timezone.is_aware(value) else value.replace(tzinfo=tz)


def track_period(from_text: str | None, to_text: str | None, *, now: dt.datetime, tz: ZoneInfo,
                 wall_now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The period of the track to draw: `from_text`/`to_text` as typed (local times in `tz`, or with an
    offset), by default the service day of `now` up to `now`. At most MAX_TRACK long, from before to,
    and not before the history's retention (positions older are deleted)."""
    if not from_text and not to_text:
        return default_start(now, tz), now  # nothing asked: today's (the track API judges the retention)
    end = _local(to_text, "to", tz) if to_text else now
    start = _local(from_text, "from", tz) if from_text else default_start(end, tz)
    if not start < end:
        raise PeriodError("from must be before to")
    if end - start > MAX_TRACK:
        raise PeriodError(f"the period may be at most {MAX_TRACK.total_seconds() / 3600:g} hours long")
    kept_since = (wall_now or timezone.now()) - dt.timedelta(days=settings.STREAMCITY_HISTORY_RETENTION_DAYS)
    if end <= kept_since:
        raise PeriodError(f"positions are kept for {settings.STREAMCITY_HISTORY_RETENTION_DAYS:g} days: "
                          f"choose a period after {kept_since.astimezone(tz):%Y-%m-%d %H:%M}")
    return max(start, kept_since), end


# -- the load over the trip ------------------------------------------------------------------------


def trip_loads(vehicle_id: str, trip_id: str | None) -> list[dict]:
    """The vehicle's load on leaving each stop of its latest run of `trip_id` so far (its stop events),
    in stop order."""
    if not trip_id:
        return []
    runs = StopEvent.objects.filter(trip_id=trip_id, vehicle_id=vehicle_id)
    latest = runs.order_by("-trip_start").values_list("trip_start", flat=True).first()
    if latest is None:
        return []
    rows = (runs.filter(trip_start=latest).order_by("stop_sequence")
            .values("stop_sequence", "stop_id", "departure", "arrival", "passenger_count", "capacity", "observed"))
    from transit.models import Stop

    names = dict(Stop.objects.filter(stop_id__in={r["stop_id"] for r in rows}).values_list("stop_id", "name"))
    return [{**r, "name": names.get(r["stop_id"]) or r["stop_id"], "at": r["departure"] or r["arrival"],
             "percent": round(100 * r["passenger_count"] / r["capacity"]) if r["capacity"] else None}
            for r in rows]


def _bar(value: int, top: int, height: int) -> float:
    return round(max(height * value / top, 2.0 if value else 0.0), 1)  # a few riders still show


def load_chart(loads: list[dict], *, width: int = 320, height: int = 80) -> dict | None:
    """Bars for an inline SVG: one per stop, its height the load against the largest capacity."""
    if not loads:
        return None
    top = max(max(r["capacity"] for r in loads), max(r["passenger_count"] for r in loads), 1)
    step = width / len(loads)
    bars = [{"x": round(i * step + step * 0.1, 1), "w": round(max(step * 0.8, 1), 1),
             "h": _bar(r["passenger_count"], top, height), "y": round(height - _bar(r["passenger_count"], top, height), 1),
             "row": r} for i, r in enumerate(loads)]
    capacity = max(r["capacity"] for r in loads)
    peak = max(loads, key=lambda r: r["passenger_count"])
    return {"width": width, "height": height, "bars": bars, "top": top, "peak": peak, "last": loads[-1],
            "capacity_y": round(height - height * capacity / top, 1) if capacity else None}


# -- who took over a block after a breakdown -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Takeover:
    """`vehicle_id` worked `trip_id` of block `block_id` (left by `broken_vehicle_id` after its breakdown
    alert at `broken_at`), first seen on it at `first_seen` (None: seen only in the live state)."""

    block_id: str
    broken_vehicle_id: str
    broken_trip_id: str | None
    broken_at: dt.datetime
    vehicle_id: str
    trip_id: str
    trip_scheduled_start: dt.datetime | None
    first_seen: dt.datetime | None


def _later_trips(trip: Trip, at: dt.datetime) -> dict[str, dt.datetime]:
    """The trips after `trip` on its block (same feed, service and block), with their scheduled starts
    on the service day of `at`."""
    firsts = dict(StopTime.objects.filter(trip__feed_id=trip.feed_id, trip__block_id=trip.block_id,
                                          trip__service_id=trip.service_id)
                  .values("trip__trip_id").annotate(first=Min("departure_time")).values_list("trip__trip_id", "first"))
    own = firsts.get(trip.trip_id)
    if own is None:
        return {}
    local, _, tz = passenger.service_date(trip.feed, at)
    day_start = selectors._service_day_start(local, tz)
    if day_start + dt.timedelta(seconds=own) > at + dt.timedelta(hours=12):
        day_start -= dt.timedelta(days=1)  # the broken trip belongs to yesterday's service day
    return {t: day_start + dt.timedelta(seconds=s) for t, s in firsts.items() if s > own}


def block_takeovers(vehicle_id: str) -> list[Takeover]:
    """After the vehicle's latest breakdown alert: the other vehicles that worked later trips of its block,
    each once with the first such trip, in the order they took over (usually one spare)."""
    alert = Alert.objects.filter(kind=Alert.Kind.BREAKDOWN, vehicle_id=vehicle_id).order_by("-detected_at").first()
    if alert is None:
        return []
    trip_id = alert.trip_id or VehicleState.objects.filter(vehicle_id=vehicle_id).values_list("trip_id", flat=True).first()
    trip = Trip.objects.filter(trip_id=trip_id).select_related("feed").first() if trip_id else None
    if trip is None or not trip.block_id:
        return []
    later = _later_trips(trip, alert.detected_at)
    if not later:
        return []
    seen: dict[tuple[str, str], dt.datetime | None] = {}
    events = (StopEvent.objects.filter(trip_id__in=list(later), trip_start__gte=alert.detected_at - EARLIER_START,
                                       trip_start__lte=alert.detected_at + LATER_START)
              .exclude(vehicle_id=vehicle_id)
              .values("vehicle_id", "trip_id").annotate(first=Min("arrival"), first_dep=Min("departure")))
    for e in events:
        times = [t for t in (e["first"], e["first_dep"]) if t is not None]
        if times and max(times) < alert.detected_at:
            continue  # a call before the breakdown: not a takeover
        seen[(e["vehicle_id"], e["trip_id"])] = min(times) if times else None
    for v, t in (VehicleState.objects.filter(trip_id__in=list(later), timestamp__gte=alert.detected_at)
                 .exclude(vehicle_id=vehicle_id).values_list("vehicle_id", "trip_id")):
        seen.setdefault((v, t), None)
    first_trip: dict[str, tuple[dt.datetime, str, dt.datetime | None]] = {}
    for (v, t), first_seen in seen.items():
        key = (later[t], t, first_seen)
        if v not in first_trip or key[0] < first_trip[v][0]:
            first_trip[v] = key
    takeovers = [Takeover(block_id=trip.block_id, broken_vehicle_id=vehicle_id, broken_trip_id=trip.trip_id,
                          broken_at=alert.detected_at, vehicle_id=v, trip_id=t, trip_scheduled_start=start,
                          first_seen=first_seen)
                 for v, (start, t, first_seen) in first_trip.items()]
    return sorted(takeovers, key=lambda x: (x.trip_scheduled_start, x.vehicle_id))


def blocks_taken_over(vehicle_id: str, *, now: dt.datetime | None = None) -> list[Takeover]:
    """The blocks this vehicle took over after another's breakdown (the other side of block_takeovers):
    the blocks of the trips it worked in the last 30 hours, whose earlier trips' vehicles broke down."""
    now = now or selectors.twin_now()
    # the trips it worked: from its kept positions (their key starts with the vehicle: an index scan, where
    # stop events are keyed by trip) and its live state
    trips = set(VehiclePosition.objects.filter(vehicle_id=vehicle_id, timestamp__gte=now - LATER_START,
                                               trip_id__isnull=False)
                .values_list("trip_id", flat=True).distinct())
    trips.update(t for t in VehicleState.objects.filter(vehicle_id=vehicle_id).values_list("trip_id", flat=True) if t)
    blocks = set(Trip.objects.filter(trip_id__in=trips).exclude(block_id__isnull=True).exclude(block_id="")
                 .values_list("feed_id", "service_id", "block_id"))
    if not blocks:
        return []
    block_trips = set()
    for feed_id, service_id, block_id in blocks:
        block_trips.update(Trip.objects.filter(feed_id=feed_id, service_id=service_id, block_id=block_id)
                           .values_list("trip_id", flat=True))
    broken = (Alert.objects.filter(kind=Alert.Kind.BREAKDOWN, trip_id__in=block_trips,
                                   detected_at__gte=now - LATER_START)
              .exclude(vehicle_id=vehicle_id).exclude(vehicle_id__isnull=True)
              .values_list("vehicle_id", flat=True).distinct())
    return [t for other in broken for t in block_takeovers(other) if t.vehicle_id == vehicle_id]
