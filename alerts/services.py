"""Writes to alerts: detections from the stream, the operator workflow, operator accounts."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .detections import Detection
from .models import Alert, AlertChange, Notification
from .selectors import display_timezone
from .wording import Names, describe

logger = logging.getLogger(__name__)

OPERATORS = "operators"
SUPERVISORS = "supervisors"


@dataclass
class Applied:
    """What one batch of detections did."""

    created: list[Alert] = field(default_factory=list)
    changed: list[Alert] = field(default_factory=list)  # created or updated, latest state
    ignored: int = 0  # redeliveries and stale updates


def _enabled_channels() -> list[str]:
    channels = []
    if settings.STREAMCITY_NOTIFY_EMAILS:
        channels.append(Notification.Channel.EMAIL)
    if settings.STREAMCITY_NOTIFY_WEBHOOK_URL:
        channels.append(Notification.Channel.WEBHOOK)
    return channels


def alerts_apply_detections(*, detections: Iterable[Detection]) -> Applied:
    """Upsert alerts by alert key in one transaction; idempotent under redelivery and replay.

    A new key creates an alert (and its pending notifications); a newer update of a known key
    updates it; an update not newer than the last one applied is ignored. A cleared condition
    auto-resolves an alert that no operator has resolved yet.
    """
    detections = sorted(detections, key=lambda d: d.timestamp)
    result = Applied()
    if not detections:
        return result
    now = timezone.now()
    channels = _enabled_channels()
    names = Names.load(detections, display_timezone())
    summaries = {id(d): _text(d, names) for d in detections}
    with transaction.atomic():
        keys = {d.alert_key for d in detections}
        alerts = {a.alert_key: a for a in Alert.objects.select_for_update().filter(alert_key__in=keys)}
        changes: list[AlertChange] = []
        notifications: list[Notification] = []
        touched: dict[str, Alert] = {}
        for d in detections:
            alert = alerts.get(d.alert_key)
            if alert is None:
                alert = Alert(
                    alert_key=d.alert_key, kind=d.kind, severity=d.severity, summary=summaries[id(d)][:500],
                    payload=d.payload, detected_at=d.detected_at, last_event_at=d.timestamp,
                    condition_open=d.open, **d.fields,
                )
                if not d.open:  # first seen already cleared (e.g. a short episode during downtime)
                    alert.status, alert.resolved_at = Alert.Status.RESOLVED, now
                    alert.resolution_note = "Auto-resolved: the condition had cleared."
                alert.save()
                alerts[d.alert_key] = alert
                result.created.append(alert)
                changes.append(AlertChange(alert=alert, action=AlertChange.Action.CREATED, to_status=alert.status, data=d.payload))
                if d.open:
                    notifications += [Notification(alert=alert, channel=c, next_attempt_at=now) for c in channels]
                touched[d.alert_key] = alert
                continue
            if d.timestamp < alert.last_event_at or (d.timestamp == alert.last_event_at and d.payload == alert.payload):
                result.ignored += 1
                continue
            before = alert.status
            alert.payload, alert.last_event_at, alert.severity = d.payload, d.timestamp, d.severity
            alert.summary = summaries[id(d)][:500]
            for name, value in d.fields.items():
                if value is not None:
                    setattr(alert, name, value)
            alert.update_count += 1
            action = AlertChange.Action.UPDATED
            if alert.status == Alert.Status.EXPIRED and d.open:
                # the condition is back under the same key (e.g. the same trip late again in a new run)
                alert.status, alert.condition_open = Alert.Status.NEW, True
            elif not d.open and alert.condition_open:
                alert.condition_open = False
                action = AlertChange.Action.CLEARED
                if alert.status not in Alert.CLOSED:
                    alert.status, alert.resolved_at = Alert.Status.RESOLVED, now
                    alert.resolution_note = alert.resolution_note or "Auto-resolved: the condition cleared."
                    action = AlertChange.Action.AUTO_RESOLVED
            elif d.open and not alert.condition_open:
                alert.condition_open = True  # the detector sees it again under the same episode key
            alert.save()
            changes.append(AlertChange(alert=alert, action=action, from_status=before, to_status=alert.status, data=d.payload))
            touched[d.alert_key] = alert
        AlertChange.objects.bulk_create(changes)
        Notification.objects.bulk_create(notifications)
    result.changed = list(touched.values())
    return result


# -- expiry: alerts whose condition no longer holds ---------------------------------------------

EXPIRY_GRACE = dt.timedelta(seconds=60)  # event time an alert's condition may be out of sight before it expires


def _condition_gone(alert: Alert, live: dict, run, now: dt.datetime, late_seconds: int) -> str | None:
    """Why the condition of an open alert no longer holds, or None while it may. `live`: the live table
    by vehicle id; `run`: the running simulation (transit.SimulationRun) or None."""
    kind, payload = alert.kind, alert.payload or {}
    previous_run = run is not None and alert.created_at < run.started_at
    if kind == Alert.Kind.SURGE:
        start, end = payload.get("window_start"), payload.get("window_end")
        if start and end:
            start, end = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
            if now >= end + (end - start) or now < start - EXPIRY_GRACE:
                return "its window is over"
        return None
    if kind == Alert.Kind.INCIDENT:
        incident = str(payload.get("incident_id", ""))
        if run is not None and not incident.startswith(f"{run.run_id}-"):
            return "the incident is unknown to the running simulation"
        return None
    v = live.get(alert.vehicle_id) if alert.vehicle_id else None
    if kind == Alert.Kind.SILENT:
        if v is not None:
            return "the vehicle reports again"
        return "the vehicle is not part of the running simulation" if previous_run else None
    if v is None:
        return "the vehicle was withdrawn (no longer reporting)"
    if kind == Alert.Kind.BREAKDOWN:
        if v.status == "broken_down":
            return None
        if alert.trip_id and v.trip_id != alert.trip_id:
            return "the trip ended"
        return "the vehicle is moving again" if v.speed > 1.0 else None
    if alert.trip_id and v.trip_id != alert.trip_id:
        return "the trip ended"
    if kind == Alert.Kind.DELAY and v.delay_seconds is not None and v.delay_seconds <= late_seconds - 60:
        return "back on time"
    return None


def alerts_expire(*, now: dt.datetime | None = None) -> list[Alert]:
    """Close as `expired` (with an audit entry) every open alert whose condition no longer holds: its
    trip ended, its vehicle was withdrawn or is not part of the running simulation, its incident is
    not, its surge window is over. Judged on event time `now` (default: the twin's clock) against the
    live table, for alerts not updated for a minute of event time (or from before the running
    simulation started, or from a later clock); acknowledgements, assignments and notes are kept."""
    from transit.selectors import live_vehicle_states, twin_now
    from transit.models import SimulationRun

    now = now or twin_now()
    run = SimulationRun.objects.filter(stopped_at__isnull=True).order_by("-started_at").first()
    live = {v.vehicle_id: v for v in live_vehicle_states().only(
        "vehicle_id", "trip_id", "status", "speed", "delay_seconds")}
    late = settings.STREAMCITY_LATE_SECONDS
    expired: list[Alert] = []
    candidates = Alert.objects.exclude(status__in=Alert.CLOSED)
    for alert in candidates:
        fresh = now - EXPIRY_GRACE <= alert.last_event_at <= now + EXPIRY_GRACE
        if fresh and not (run is not None and alert.created_at < run.started_at):
            continue
        why = _condition_gone(alert, live, run, now, late)
        if why is None:
            continue
        with transaction.atomic():
            locked = Alert.objects.select_for_update().get(pk=alert.pk)
            if locked.status in Alert.CLOSED:
                continue
            before = locked.status
            locked.status, locked.condition_open = Alert.Status.EXPIRED, False
            locked.save(update_fields=["status", "condition_open", "updated_at"])
            AlertChange.objects.create(alert=locked, action=AlertChange.Action.EXPIRED, from_status=before,
                                       to_status=locked.status, note=f"Expired: {why}.",
                                       data={"event_time": now.isoformat()})
        expired.append(locked)
    if expired:
        logger.info("expired %d alerts whose condition no longer holds", len(expired))
    return expired


def _text(d: Detection, names: Names) -> str:
    """The alert's text in people's words (alerts.wording), the detector's summary if that fails."""
    try:
        return describe(d, names)
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("alert %s: no text in words (%s), keeping the detector's", d.alert_key, exc)
        return d.summary


class AlertTransitionError(ValueError):
    """An operator action that the alert's current status does not allow."""


def _transition(alert: Alert, *, user, action: str, note: str = "", data: dict | None = None, **updates) -> Alert:
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        before = locked.status
        for name, value in updates.items():
            setattr(locked, name, value)
        locked.save()
        AlertChange.objects.create(alert=locked, actor=user, action=action, from_status=before, to_status=locked.status,
                                   note=note, data=data or {})
    return locked


def alert_acknowledge(*, alert: Alert, user) -> Alert:
    if alert.status != Alert.Status.NEW:
        raise AlertTransitionError(f"only a new alert can be acknowledged (this one is {alert.status})")
    return _transition(alert, user=user, action=AlertChange.Action.ACKNOWLEDGED,
                       status=Alert.Status.ACKNOWLEDGED, acknowledged_by=user, acknowledged_at=timezone.now())


def alert_resolve(*, alert: Alert, user, note: str = "") -> Alert:
    if alert.status in Alert.CLOSED:
        raise AlertTransitionError(f"the alert is already {alert.status}")
    updates = {"status": Alert.Status.RESOLVED, "resolved_by": user, "resolved_at": timezone.now(), "resolution_note": note}
    if alert.acknowledged_at is None:  # resolving implies having seen it
        updates.update(acknowledged_by=user, acknowledged_at=updates["resolved_at"])
    return _transition(alert, user=user, action=AlertChange.Action.RESOLVED, note=note, **updates)


def alert_assign(*, alert: Alert, user, assignee) -> Alert:
    if alert.status in Alert.CLOSED:
        raise AlertTransitionError(f"an {alert.status} alert cannot be assigned")
    return _transition(alert, user=user, action=AlertChange.Action.ASSIGNED,
                       note=f"assigned to {assignee.get_username() if assignee else 'nobody'}", assigned_to=assignee)


SNOOZE_MIN = dt.timedelta(minutes=1)
SNOOZE_MAX = dt.timedelta(hours=12)  # a shift: a snooze never outlives the dispatcher who set it by much


class AlertSnoozeError(ValueError):
    """A snooze duration out of bounds (or not a duration at all)."""


def snooze_duration(minutes) -> dt.timedelta:
    """A snooze's length from what a page or the admin sent (minutes, a number): a clear error unless it
    is a whole number of minutes within SNOOZE_MIN .. SNOOZE_MAX."""
    low, high = int(SNOOZE_MIN.total_seconds() // 60), int(SNOOZE_MAX.total_seconds() // 60)
    try:
        value = int(str(minutes).strip())
    except (TypeError, ValueError):
        raise AlertSnoozeError(f"snooze for how long? give whole minutes, {low} to {high} (got {str(minutes)[:20]!r})")
    if not low <= value <= high:
        raise AlertSnoozeError(f"a snooze lasts {low} minute to {high // 60} hours ({high} minutes), not {value}")
    return dt.timedelta(minutes=value)


def alert_snooze(*, alert: Alert, user, duration: dt.timedelta, now: dt.datetime | None = None) -> Alert:
    """Hide an open alert from the shift's board for `duration` (SNOOZE_MIN .. SNOOZE_MAX) from `now`
    (the wall clock): kept on the alert (who, until when) for every dispatcher and the next shift, and
    in its audit trail. Snoozing a snoozed alert sets a new end. It comes back by itself at the end:
    readers compare `snoozed_until` with the clock, nothing has to run."""
    if not SNOOZE_MIN <= duration <= SNOOZE_MAX:
        raise AlertSnoozeError(f"a snooze lasts {SNOOZE_MIN} to {SNOOZE_MAX}, not {duration}")
    if alert.status in Alert.CLOSED:
        raise AlertTransitionError(f"an {alert.status} alert cannot be snoozed")
    until = (now or timezone.now()) + duration
    minutes = round(duration.total_seconds() / 60)
    local = until.astimezone(display_timezone())
    return _transition(alert, user=user, action=AlertChange.Action.SNOOZED,
                       note=f"snoozed for {minutes} min, until {local:%H:%M}",
                       data={"until": until.isoformat(), "minutes": minutes},
                       snoozed_until=until, snoozed_by=user)


def alert_unsnooze(*, alert: Alert, user, now: dt.datetime | None = None) -> Alert:
    """End a running snooze by hand (the alert is back on the board at once), recorded in the audit trail."""
    if not alert.snoozed_at(now):
        raise AlertTransitionError("the alert is not snoozed")
    local = alert.snoozed_until.astimezone(display_timezone())
    return _transition(alert, user=user, action=AlertChange.Action.UNSNOOZED,
                       note=f"woken before the end of its snooze ({local:%H:%M})", snoozed_until=None, snoozed_by=None)


# -- operator accounts --------------------------------------------------------------------------

def operator_create(*, username: str, password: str, supervisor: bool = False, email: str = ""):
    """Create or update a staff account in the operators (and supervisors) group."""
    User = get_user_model()
    user = User.objects.filter(username=username).first() or User(username=username, email=email)
    validate_password(password, user)
    user.set_password(password)
    user.is_staff = True
    user.is_active = True
    user.save()
    user.groups.add(Group.objects.get(name=OPERATORS))
    if supervisor:
        user.groups.add(Group.objects.get(name=SUPERVISORS))
    return user


def demo_operator_reset(*, username: str = "operator") -> tuple[str, str]:
    """Embedded mode: a fresh random password for the demo operator on every start."""
    password = secrets.token_urlsafe(12)
    try:
        operator_create(username=username, password=password)
    except ValidationError as exc:  # cannot happen with a random token, but never print a bad one
        raise RuntimeError(f"demo operator: {exc}") from exc
    return username, password


def is_operator(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm("alerts.view_alert"))


def session_is_valid(session_key: str | None, user_id: int) -> bool:
    """Whether a socket's session still exists and its user may still see the operations feed."""
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.module_loading import import_string

    if not session_key:
        return False
    store: SessionBase = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    if not store.exists(session_key) or str(store.get("_auth_user_id")) != str(user_id):
        return False
    user = get_user_model().objects.filter(pk=user_id).first()
    return is_operator(user)
