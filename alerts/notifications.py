"""Notifications of new alerts by email and Slack-compatible webhook, with retries.

A Notification row is created with its alert, in the same transaction, so every new alert is
notified exactly once per channel even across restarts; the notifier sends what is due, records
the outcome, and backs off between attempts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.utils import timezone

from .models import Alert, Notification
from .selectors import alert_payload

logger = logging.getLogger(__name__)


def email_recipients(kind: str) -> list[str]:
    """Recipients for `kind` from STREAMCITY_NOTIFY_EMAILS (`kind=a@x;b@y,*=ops@x`)."""
    table = settings.STREAMCITY_NOTIFY_EMAILS
    value = table.get(kind) or table.get("*") or ""
    return [r.strip() for r in value.split(";") if r.strip()]


def _message(alert: Alert) -> str:
    return f"[StreamCity] {alert.get_kind_display()} (severity {alert.severity}): {alert.summary}"


def send_email(alert: Alert) -> None:
    recipients = email_recipients(alert.kind)
    if not recipients:
        return  # nobody subscribed to this kind
    body = f"{_message(alert)}\n\nDetected at {alert.detected_at:%Y-%m-%d %H:%M:%S %Z}\nKey: {alert.alert_key}\n"
    send_mail(_message(alert), body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)


def send_webhook(alert: Alert) -> None:
    body = json.dumps({"text": _message(alert), "alert": alert_payload(alert)}).encode()
    request = urllib.request.Request(
        settings.STREAMCITY_NOTIFY_WEBHOOK_URL, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "StreamCity"},
    )
    with urllib.request.urlopen(request, timeout=settings.STREAMCITY_NOTIFY_TIMEOUT) as response:
        if response.status >= 300:
            raise RuntimeError(f"webhook answered {response.status}")


SENDERS = {Notification.Channel.EMAIL: send_email, Notification.Channel.WEBHOOK: send_webhook}


def notifications_send_due(*, limit: int = 50) -> int:
    """Send the notifications that are due; returns how many were sent."""
    sent = 0
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Notification.objects.select_for_update(skip_locked=True)
            .select_related("alert")
            .filter(state=Notification.State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")[:limit]
        )
        for n in due:
            n.attempts += 1
            try:
                SENDERS[n.channel](n.alert)
            except Exception as exc:  # any failure is retried later, then given up on
                n.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if n.attempts >= settings.STREAMCITY_NOTIFY_MAX_ATTEMPTS:
                    n.state = Notification.State.FAILED
                    logger.error("notification %s of alert %s failed for good: %s", n.channel, n.alert.alert_key, exc)
                else:
                    n.next_attempt_at = now + dt.timedelta(seconds=min(300, 2 ** n.attempts))
                    logger.warning("notification %s of alert %s failed (attempt %d): %s", n.channel, n.alert.alert_key, n.attempts, exc)
            else:
                n.state, n.sent_at, n.last_error = Notification.State.SENT, timezone.now(), ""
                sent += 1
            n.save(update_fields=["attempts", "state", "sent_at", "next_attempt_at", "last_error"])
    return sent


class Notifier:
    """A role: sends due notifications every `interval` seconds until stopped."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.sent = 0

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.sent += notifications_send_due()
            except (OperationalError, InterfaceError) as exc:
                logger.warning("notifier: database unavailable, retrying: %s", exc)
            finally:
                close_old_connections()
