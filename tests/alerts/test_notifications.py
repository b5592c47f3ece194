"""Notifications reach a real local HTTP server once per alert, with retries; email per kind."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from alerts.detections import detection_from_event
from alerts.models import Notification
from alerts.notifications import email_recipients, notifications_send_due
from alerts.services import alerts_apply_detections

from .conftest import breakdown, surge

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook():
    """A Slack-like webhook receiver on 127.0.0.1 that can be told to fail the first N requests."""
    received, state = [], {"fail": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state["fail"] > 0:
                state["fail"] -= 1
                self.send_response(500)
                self.end_headers()
                return
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received, state
    server.shutdown()


def apply(*events):
    return alerts_apply_detections(detections=[detection_from_event(e) for e in events])


def test_a_new_alert_is_posted_once_even_when_updated_and_redelivered(settings, webhook):
    url, received, _ = webhook
    settings.STREAMCITY_NOTIFY_WEBHOOK_URL = url
    apply(surge())
    assert notifications_send_due() == 1
    apply(surge(taps=60, seconds=60), surge())  # an update and a redelivery: no new notification
    assert notifications_send_due() == 0
    assert len(received) == 1
    assert received[0]["text"].startswith("[StreamCity] Passenger surge")
    assert received[0]["alert"]["alert_key"] == "surge:S1:20261127T0800"
    assert Notification.objects.get().state == "sent"


def test_a_failed_post_is_retried_later(settings, webhook):
    url, received, state = webhook
    settings.STREAMCITY_NOTIFY_WEBHOOK_URL = url
    state["fail"] = 1
    apply(breakdown())
    assert notifications_send_due() == 0
    n = Notification.objects.get()
    assert (n.state, n.attempts) == ("pending", 1) and "500" in n.last_error
    Notification.objects.update(next_attempt_at=timezone.now())  # the back-off has passed
    assert notifications_send_due() == 1
    assert len(received) == 1 and Notification.objects.get().state == "sent"


def test_gives_up_after_the_last_attempt(settings):
    settings.STREAMCITY_NOTIFY_WEBHOOK_URL = "http://127.0.0.1:9/nothing-listens-here"
    settings.STREAMCITY_NOTIFY_MAX_ATTEMPTS = 2
    apply(breakdown())
    for _ in range(2):
        notifications_send_due()
        Notification.objects.update(next_attempt_at=timezone.now())
    assert Notification.objects.get().state == "failed"


def test_email_goes_to_the_recipients_of_the_kind(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STREAMCITY_NOTIFY_EMAILS = {"breakdown": "depot@example.org;duty@example.org", "*": "ops@example.org"}
    assert email_recipients("surge") == ["ops@example.org"]
    apply(breakdown())
    assert notifications_send_due() == 1
    [message] = mail.outbox
    assert message.to == ["depot@example.org", "duty@example.org"]
    assert "Breakdown" in message.subject and "bus-7" in message.subject
