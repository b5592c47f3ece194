"""Reads of alerts, shaped for the API, the ops socket and the admin."""

from __future__ import annotations

import msgspec
from django.db.models import Count, QuerySet

from .models import Alert

ALERT_FIELDS = (
    "id", "alert_key", "kind", "status", "condition_open", "severity", "summary", "route_id", "trip_id",
    "vehicle_id", "stop_id", "latitude", "longitude", "detected_at", "last_event_at", "update_count",
    "acknowledged_at", "resolved_at", "resolution_note",
)


def alert_payload(alert: Alert) -> dict:
    data = {f: getattr(alert, f) for f in ALERT_FIELDS}
    data["acknowledged_by"] = alert.acknowledged_by.get_username() if alert.acknowledged_by_id else None
    data["resolved_by"] = alert.resolved_by.get_username() if alert.resolved_by_id else None
    data["assigned_to"] = alert.assigned_to.get_username() if alert.assigned_to_id else None
    data["detection"] = alert.payload
    data["admin_url"] = f"/admin/alerts/alert/{alert.pk}/change/"
    return msgspec.to_builtins(data)


def alerts_list(*, status: str | None = None, kind: str | None = None, limit: int = 500) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("acknowledged_by", "resolved_by", "assigned_to")
    if status == "open":
        qs = qs.exclude(status=Alert.Status.RESOLVED)
    elif status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-severity", "-detected_at")[:limit]


def open_alert_payloads(limit: int = 500) -> list[dict]:
    """The ops socket's snapshot: the open alerts, and the traffic incidents still active on the road
    whose alerts were resolved (the map draws an incident while it is active, whatever its alert's
    workflow state; the list leaves them out)."""
    payloads = [alert_payload(a) for a in alerts_list(status="open", limit=limit)]
    active = (
        Alert.objects.select_related("acknowledged_by", "resolved_by", "assigned_to")
        .filter(kind=Alert.Kind.INCIDENT, condition_open=True, status=Alert.Status.RESOLVED)
        .order_by("-detected_at")[:limit]
    )
    return payloads + [alert_payload(a) for a in active]


def open_counts_by_kind() -> dict[str, int]:
    rows = Alert.objects.exclude(status=Alert.Status.RESOLVED).values("kind").annotate(n=Count("id"))
    counts = {k: 0 for k in Alert.Kind.values}
    counts.update({r["kind"]: r["n"] for r in rows})
    return counts
