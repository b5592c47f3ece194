"""Retention: history older than STREAMCITY_HISTORY_RETENTION_DAYS is deleted."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


def retention_cutoff(now: dt.datetime | None = None, days: float | None = None) -> dt.datetime:
    days = settings.STREAMCITY_HISTORY_RETENTION_DAYS if days is None else days
    if days <= 0:
        raise ValueError(f"the history retention must be positive, not {days} days")
    return (now or timezone.now()) - dt.timedelta(days=days)


def rollup_retention_days() -> float:
    """How long the KPIs' hourly roll-up is kept: STREAMCITY_HISTORY_ROLLUP_RETENTION_DAYS (default 400,
    never less than the stop events' retention); the KPI page shows its days after their stop events are gone
    (service delivered excepted: it counts the scheduled trips, pruned with the stop events)."""
    days = getattr(settings, "STREAMCITY_HISTORY_ROLLUP_RETENTION_DAYS", 400)
    if days <= 0:
        raise ValueError(f"the roll-up retention must be positive, not {days} days")
    return days


def prune_history(now: dt.datetime | None = None, days: float | None = None) -> dict[str, int]:
    """Delete stop events, positions and scheduled trips older than the retention, and the KPIs' roll-up
    hours older than theirs (or the retention, if shorter); rows deleted per table.
    A trip is kept while it ended after the cutoff (its stop events are judged against it)."""
    from transit.models import KpiHour, ScheduledTrip, StopEvent, VehiclePosition

    cutoff = retention_cutoff(now, days)
    rollup_cutoff = min(cutoff, retention_cutoff(now, rollup_retention_days()))
    deleted = {
        "stop_events": StopEvent.objects.filter(scheduled__lt=cutoff).delete()[0],
        "positions": VehiclePosition.objects.filter(timestamp__lt=cutoff).delete()[0],
        "scheduled_trips": ScheduledTrip.objects.filter(end__lt=cutoff).delete()[0],
        "kpi_hours": KpiHour.objects.filter(hour__lt=rollup_cutoff - dt.timedelta(hours=1)).delete()[0],
    }
    if any(deleted.values()):
        logger.info("history: pruned rows before %s: %s", cutoff.isoformat(), deleted)
    return deleted
