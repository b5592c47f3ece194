import pytest
from django.test import override_settings

from alerts.detections import detection_from_event
from alerts.models import Alert, AlertChange, Notification
from alerts.services import AlertTransitionError, alert_acknowledge, alert_assign, alert_resolve, alerts_apply_detections

from .conftest import breakdown, incident, surge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_required")]


def apply(*events):
    return alerts_apply_detections(detections=[detection_from_event(e) for e in events])


def test_a_new_key_creates_an_alert_with_its_audit_row():
    result = apply(surge())
    [alert] = Alert.objects.all()
    assert result.created == [alert]
    assert (alert.kind, alert.status, alert.stop_id, alert.payload["tap_count"]) == ("surge", "new", "S1", 30)
    assert list(alert.changes.values_list("action", flat=True)) == ["created"]


def test_redelivery_and_replay_change_nothing():
    apply(surge(), surge(taps=40, seconds=60))
    before = list(Alert.objects.values())
    again = apply(surge(), surge(taps=40, seconds=60))  # the same records, delivered twice
    assert again.created == [] and again.ignored == 2
    assert list(Alert.objects.values()) == before
    assert AlertChange.objects.count() == 2


def test_an_update_updates_the_open_alert_and_a_stale_one_is_ignored():
    apply(surge(taps=30))
    apply(surge(taps=45, seconds=120))
    apply(surge(taps=35, seconds=60))  # older than what is stored
    alert = Alert.objects.get()
    assert (alert.payload["tap_count"], alert.update_count) == (45, 1)


def test_a_cleared_condition_auto_resolves():
    apply(breakdown())
    apply(breakdown(state="cleared", seconds=600))
    alert = Alert.objects.get()
    assert (alert.status, alert.condition_open, alert.resolved_by) == ("resolved", False, None)
    assert list(alert.changes.values_list("action", flat=True)) == ["created", "auto_resolved"]


def test_operator_lifecycle_with_audit_trail(operator, supervisor):
    apply(incident())
    alert = Alert.objects.get()
    alert = alert_assign(alert=alert, user=supervisor, assignee=operator)
    alert = alert_acknowledge(alert=alert, user=operator)
    with pytest.raises(AlertTransitionError):
        alert_acknowledge(alert=alert, user=operator)
    alert = alert_resolve(alert=alert, user=operator, note="Tow truck cleared the lane")
    with pytest.raises(AlertTransitionError):
        alert_resolve(alert=alert, user=operator)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.resolved_by, alert.assigned_to) == ("resolved", operator, operator, operator)
    assert alert.resolution_note == "Tow truck cleared the lane"
    trail = list(alert.changes.values_list("action", "actor__username", "from_status", "to_status"))
    assert trail == [
        ("created", None, "", "new"),
        ("assigned", "sam", "new", "new"),
        ("acknowledged", "olga", "new", "acknowledged"),
        ("resolved", "olga", "acknowledged", "resolved"),
    ]
    # the condition clearing later does not reopen or re-resolve a resolved alert
    apply(incident(status="cleared", seconds=900))
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by, alert.condition_open) == ("resolved", operator, False)


@override_settings(STREAMCITY_NOTIFY_WEBHOOK_URL="http://127.0.0.1:9/hook", STREAMCITY_NOTIFY_EMAILS={"*": "ops@example.org"})
def test_notifications_are_recorded_once_per_new_alert_and_channel():
    apply(surge())
    apply(surge(taps=50, seconds=60), surge(taps=50, seconds=60))
    assert sorted(Notification.objects.values_list("channel", flat=True)) == ["email", "webhook"]


def test_no_notifications_when_none_configured():
    apply(surge())
    assert Notification.objects.count() == 0


def test_session_validity_for_ops_sockets(client, operator, django_user_model):
    from alerts.services import session_is_valid

    client.force_login(operator)
    key = client.session.session_key
    assert session_is_valid(key, operator.pk)
    assert not session_is_valid(key, operator.pk + 1)  # someone else's session
    assert not session_is_valid(None, operator.pk)
    operator.groups.clear()
    operator = django_user_model.objects.get(pk=operator.pk)  # permissions are cached per instance
    assert not session_is_valid(key, operator.pk)  # no longer an operator
    client.logout()
    assert not session_is_valid(key, operator.pk)
