"""Alerts in history: the operations KPIs (alerts raised, time to acknowledge and to resolve) and the
alerts as they were at a moment (playback)."""

from __future__ import annotations

import datetime as dt
import statistics

from django.db.models import Q

from transit.history.kpis import Period, Table

from .models import Alert


def _quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (linear between the order statistics); None without values."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 1)


def operations(period: Period) -> Table:
    """Per kind: alerts raised in the period, and how long operators took to acknowledge and resolve
    them (from the alert's creation; median and 90th percentile, seconds)."""
    rows = Alert.objects.filter(detected_at__gte=period.start, detected_at__lt=period.end).values_list(
        "kind", "created_at", "acknowledged_at", "resolved_at", "resolved_by")
    by_kind: dict[str, tuple[list, list, list]] = {}
    for kind, created, acked, resolved, resolver in rows:
        raised, ack, res = by_kind.setdefault(kind, ([], [], []))
        raised.append(1)
        if acked:
            ack.append(max(0.0, (acked - created).total_seconds()))
        if resolved and resolver is not None:  # by an operator (auto-resolved alerts are the detector's)
            res.append(max(0.0, (resolved - created).total_seconds()))
    table = Table("alerts_by_kind", "Alerts raised per kind; time to acknowledge and to resolve (seconds)",
                  ["kind", "raised", "acknowledged", "ack_median_s", "ack_p90_s", "resolved", "resolve_median_s",
                   "resolve_p90_s"])
    for kind in Alert.Kind.values:
        if kind in by_kind:
            raised, ack, res = by_kind[kind]
            table.rows.append([kind, len(raised), len(ack), _quantile(ack, 0.5), _quantile(ack, 0.9), len(res),
                               _quantile(res, 0.5), _quantile(res, 0.9)])
    return table


def alerts_at(t: dt.datetime, *, limit: int = 500) -> list[dict]:
    """The alerts open at `t` (event time): detected by then, not cleared nor resolved yet, with their
    status as it was then."""
    qs = (Alert.objects.filter(detected_at__lte=t)
          .exclude(Q(condition_open=False) & Q(last_event_at__lte=t))
          .exclude(resolved_at__lte=t)
          .order_by("-severity", "-detected_at")[:limit])
    return [_alert_then(a, t) for a in qs]


def _alert_then(a: Alert, t: dt.datetime) -> dict:
    return {
        "id": a.pk, "alert_key": a.alert_key, "kind": a.kind, "severity": a.severity, "summary": a.summary,
        "route_id": a.route_id, "trip_id": a.trip_id, "vehicle_id": a.vehicle_id, "stop_id": a.stop_id,
        "latitude": a.latitude, "longitude": a.longitude, "detected_at": a.detected_at.isoformat(),
        "status": "acknowledged" if a.acknowledged_at and a.acknowledged_at <= t else "new",
    }


def alert_starts(start: dt.datetime, end: dt.datetime, *, limit: int = 1000) -> list[dict]:
    """Every alert detected in [start, end), oldest first: the playback's jump list."""
    qs = Alert.objects.filter(detected_at__gte=start, detected_at__lt=end).order_by("detected_at")[:limit]
    return [{"id": a.pk, "kind": a.kind, "summary": a.summary, "vehicle_id": a.vehicle_id, "severity": a.severity,
             "detected_at": a.detected_at.isoformat()} for a in qs]
