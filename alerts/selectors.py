"""Reads of alerts, shaped for the API, the ops socket and the admin."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from django.conf import settings
from django.db.models import Count, QuerySet

from .models import Alert

ALERT_FIELDS = (
    "id", "alert_key", "kind", "status", "condition_open", "severity", "summary", "route_id", "trip_id",
    "vehicle_id", "stop_id", "latitude", "longitude", "detected_at", "last_event_at", "update_count",
    "acknowledged_at", "resolved_at", "resolution_note",
)


def display_timezone() -> ZoneInfo:
    """The running (else the last) simulated feed's time zone; the TIME_ZONE setting without one."""
    from transit.models import SimulationRun

    name = SimulationRun.objects.order_by("-started_at").values_list("timezone", flat=True).first()
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def alert_payload(alert: Alert, *, tz: ZoneInfo | None = None, now: dt.datetime | None = None,
                  wall: dt.datetime | None = None) -> dict:
    """An alert for the API, the ops feed and the pages: its fields, plus `is_open`, `severity_label`
    (minor / major / critical), `detected_local` (the start in the feed's time zone, ISO 8601, and
    `detected_local_display`, HH:MM:SS), `timezone`, `age_seconds` (since the start, on the
    twin's event-time clock), and a running snooze: `snoozed_until` (ISO 8601, UTC; None once it ran
    out at `wall`, the wall clock), `snoozed_until_display` (HH:MM in the feed's time zone), `snoozed_by`."""
    from django.utils import timezone

    from transit.selectors import twin_now

    tz = tz or display_timezone()
    now = now or twin_now()
    snoozed = alert.snoozed_at(wall or timezone.now())
    data = {f: getattr(alert, f) for f in ALERT_FIELDS}
    local = alert.detected_at.astimezone(tz)
    data["is_open"] = alert.is_open
    data["severity_label"] = alert.severity_label
    data["timezone"] = tz.key
    data["detected_local"] = local.isoformat()
    data["detected_local_display"] = f"{local:%H:%M:%S}"
    data["age_seconds"] = max(0, int(alert.age(now).total_seconds()))
    data["acknowledged_by"] = alert.acknowledged_by.get_username() if alert.acknowledged_by_id else None
    data["resolved_by"] = alert.resolved_by.get_username() if alert.resolved_by_id else None
    data["assigned_to"] = alert.assigned_to.get_username() if alert.assigned_to_id else None
    data["snoozed_until"] = alert.snoozed_until if snoozed else None
    data["snoozed_until_display"] = f"{alert.snoozed_until.astimezone(tz):%H:%M}" if snoozed else None
    data["snoozed_by"] = alert.snoozed_by.get_username() if snoozed and alert.snoozed_by_id else None
    data["detection"] = alert.payload
    data["admin_url"] = f"/admin/alerts/alert/{alert.pk}/change/"
    return msgspec.to_builtins(data)


def alerts_list(*, status: str | None = None, kind: str | None = None, limit: int = 500) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("acknowledged_by", "resolved_by", "assigned_to", "snoozed_by")
    if status == "open":
        qs = qs.exclude(status__in=Alert.CLOSED)
    elif status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-severity", "-detected_at")[:limit]


def alert_payloads(alerts) -> list[dict]:
    """alert_payload of each, with the time zone and the clock looked up once."""
    from transit.selectors import twin_now

    alerts = list(alerts)
    if not alerts:
        return []
    from django.utils import timezone

    tz, now, wall = display_timezone(), twin_now(), timezone.now()
    return [alert_payload(a, tz=tz, now=now, wall=wall) for a in alerts]


def open_alert_payloads(limit: int = 500) -> list[dict]:
    """The ops socket's snapshot: the open alerts, and the traffic incidents still active on the road
    whose alerts were resolved (the map draws an incident while it is active, whatever its alert's
    workflow state; the list leaves them out)."""
    active = (
        Alert.objects.select_related("acknowledged_by", "resolved_by", "assigned_to", "snoozed_by")
        .filter(kind=Alert.Kind.INCIDENT, condition_open=True, status=Alert.Status.RESOLVED)
        .order_by("-detected_at")[:limit]
    )
    return alert_payloads(list(alerts_list(status="open", limit=limit)) + list(active))


def open_counts_by_kind() -> dict[str, int]:
    rows = Alert.objects.exclude(status__in=Alert.CLOSED).values("kind").annotate(n=Count("id"))
    counts = {k: 0 for k in Alert.Kind.values}
    counts.update({r["kind"]: r["n"] for r in rows})
    return counts


def open_alerts_of_kinds(kinds, *, limit: int = 2000) -> list[Alert]:
    """Unresolved alerts of `kinds` whose condition still holds, most severe and newest first (the
    GTFS-Realtime alerts feed publishes these)."""
    return list(Alert.objects.exclude(status=Alert.Status.RESOLVED).filter(condition_open=True, kind__in=kinds)
                .order_by("-severity", "-detected_at")[:limit])
