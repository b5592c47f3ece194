"""Snooze kept on the server: bounds, expiry by the clock, the audit trail, the endpoint's permissions,
and the change reaching a second dispatcher's socket at once."""

import asyncio
import datetime as dt
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from alerts.detections import detection_from_event
from alerts.models import Alert, AlertChange
from alerts.selectors import alert_payload
from alerts.services import (
    AlertSnoozeError,
    AlertTransitionError,
    alert_resolve,
    alert_snooze,
    alert_unsnooze,
    alerts_apply_detections,
    operator_create,
    snooze_duration,
)

from .conftest import PASSWORD, breakdown, surge
from .test_consumers import open_socket, session_cookie

NOW = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def alert(db):
    alerts_apply_detections(detections=[detection_from_event(surge())])
    return Alert.objects.get()


def csrf_client(user) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/accounts/login/").cookies["csrftoken"].value
    r = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert r.status_code == 302
    return client, client.cookies["csrftoken"].value


@pytest.mark.parametrize("minutes", ["1", "15", " 720 ", 30])
def test_a_snooze_lasts_a_whole_number_of_minutes_from_one_to_twelve_hours(minutes):
    assert snooze_duration(minutes) == dt.timedelta(minutes=int(str(minutes)))


@pytest.mark.parametrize(("minutes", "error"), [
    ("0", "1 minute to 12 hours (720 minutes), not 0"), ("721", "not 721"), ("-5", "not -5"),
    ("", "give whole minutes, 1 to 720"), (None, "give whole minutes"), ("1.5", "(got '1.5')"), ("soon", "'soon'"),
])
def test_a_snooze_out_of_bounds_or_not_a_duration_is_refused_clearly(minutes, error):
    with pytest.raises(AlertSnoozeError, match=error.replace("(", r"\(").replace(")", r"\)")):
        snooze_duration(minutes)


@pytest.mark.django_db
def test_the_service_refuses_a_duration_out_of_bounds(alert, operator):
    for bad in (dt.timedelta(seconds=59), dt.timedelta(hours=12, seconds=1)):
        with pytest.raises(AlertSnoozeError):
            alert_snooze(alert=alert, user=operator, duration=bad, now=NOW)
    assert Alert.objects.get().snoozed_until is None and not AlertChange.objects.filter(action="snoozed").exists()


@pytest.mark.django_db
def test_snooze_and_wake_are_kept_on_the_alert_and_in_its_history(alert, operator, supervisor):
    snoozed = alert_snooze(alert=alert, user=operator, duration=dt.timedelta(minutes=15), now=NOW)
    assert (snoozed.snoozed_until, snoozed.snoozed_by, snoozed.status) == (NOW + dt.timedelta(minutes=15), operator, "new")
    change = AlertChange.objects.filter(alert=alert).last()
    assert (change.action, change.actor, change.from_status, change.to_status) == ("snoozed", operator, "new", "new")
    assert change.note.startswith("snoozed for 15 min, until ")
    assert change.data == {"until": "2026-12-04T09:15:00+00:00", "minutes": 15}
    # a second dispatcher sets a new end
    again = alert_snooze(alert=snoozed, user=supervisor, duration=dt.timedelta(hours=2), now=NOW)
    assert (again.snoozed_until, again.snoozed_by) == (NOW + dt.timedelta(hours=2), supervisor)
    woken = alert_unsnooze(alert=again, user=operator, now=NOW + dt.timedelta(minutes=20))
    assert woken.snoozed_until is None and woken.snoozed_by is None
    assert [c.action for c in AlertChange.objects.filter(alert=alert)] == ["created", "snoozed", "snoozed", "unsnoozed"]
    assert AlertChange.objects.filter(alert=alert).last().actor == operator
    with pytest.raises(AlertTransitionError, match="not snoozed"):
        alert_unsnooze(alert=woken, user=operator)


@pytest.mark.django_db
def test_a_snooze_runs_out_by_itself(alert, operator):
    snoozed = alert_snooze(alert=alert, user=operator, duration=dt.timedelta(minutes=5), now=NOW)
    assert snoozed.snoozed_at(NOW + dt.timedelta(minutes=4, seconds=59))
    assert not snoozed.snoozed_at(NOW + dt.timedelta(minutes=5))
    running = alert_payload(snoozed, wall=NOW + dt.timedelta(minutes=1))
    assert running["snoozed_until"].startswith("2026-12-04T09:05:00") and running["snoozed_by"] == "olga"
    assert len(running["snoozed_until_display"]) == 5  # HH:MM in the feed's time zone
    over = alert_payload(snoozed, wall=NOW + dt.timedelta(minutes=6))
    assert (over["snoozed_until"], over["snoozed_until_display"], over["snoozed_by"]) == (None, None, None)
    # nothing to wake once it ran out
    with pytest.raises(AlertTransitionError):
        alert_unsnooze(alert=snoozed, user=operator, now=NOW + dt.timedelta(minutes=6))


@pytest.mark.django_db
def test_a_closed_alert_cannot_be_snoozed(alert, operator):
    resolved = alert_resolve(alert=alert, user=operator)
    with pytest.raises(AlertTransitionError, match="resolved alert cannot be snoozed"):
        alert_snooze(alert=resolved, user=operator, duration=dt.timedelta(minutes=5))


@pytest.mark.django_db
def test_the_endpoint_snoozes_for_an_operator_with_csrf_and_refuses_the_others(alert, operator, django_user_model):
    url = f"/api/alerts/{alert.pk}/snooze/"
    assert Client().post(url, {"minutes": "15"}).status_code == 401
    client, token = csrf_client(operator)
    assert client.get(url).status_code == 405  # POST only
    assert client.post(url, {"minutes": "15"}).status_code == 403  # no CSRF token
    bad = client.post(url, {"minutes": "0"}, HTTP_X_CSRFTOKEN=token)
    assert bad.status_code == 400 and "1 minute to 12 hours" in bad.json()["error"]
    assert client.post(url, HTTP_X_CSRFTOKEN=token).status_code == 400  # no duration at all
    before = timezone.now()
    r = client.post(url, {"minutes": "15"}, HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200
    body = r.json()["alert"]
    assert body["snoozed_by"] == "olga"
    until = dt.datetime.fromisoformat(body["snoozed_until"])
    assert before + dt.timedelta(minutes=15) <= until <= timezone.now() + dt.timedelta(minutes=15)
    # the snooze is on the server: a fresh read (another dispatcher, a reload) sees it
    listed = client.get("/api/alerts/?status=open").json()["alerts"]
    assert [(a["alert_key"], a["snoozed_by"]) for a in listed] == [(alert.alert_key, "olga")]
    # a viewer (may see alerts, may not change them) is refused
    viewer = django_user_model.objects.create_user("vera", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_alert", content_type__app_label="alerts"))
    vclient, vtoken = csrf_client(viewer)
    assert vclient.get("/api/alerts/").status_code == 200
    for action in ("snooze", "unsnooze"):
        refused = vclient.post(f"/api/alerts/{alert.pk}/{action}/", {"minutes": "5"}, HTTP_X_CSRFTOKEN=vtoken)
        assert refused.status_code == 403 and refused.json()["error"] == "not allowed to handle alerts"
    assert Alert.objects.get().snoozed_until == until
    r = client.post(f"/api/alerts/{alert.pk}/unsnooze/", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200 and r.json()["alert"]["snoozed_until"] is None
    again = client.post(f"/api/alerts/{alert.pk}/unsnooze/", HTTP_X_CSRFTOKEN=token)
    assert again.status_code == 409 and again.json()["error"] == "the alert is not snoozed"


@pytest.mark.django_db
def test_the_admin_lists_filters_and_snoozes(client, operator, alert):
    alerts_apply_detections(detections=[detection_from_event(breakdown())])
    other = Alert.objects.get(kind="breakdown")
    client.force_login(operator)
    r = client.post("/admin/alerts/alert/", {"action": "snooze_for_an_hour", "_selected_action": [alert.pk]})
    assert r.status_code == 302
    snoozed = Alert.objects.get(pk=alert.pk)
    assert snoozed.snoozed_by == operator and snoozed.snoozed_at(timezone.now() + dt.timedelta(minutes=59))
    html = client.get("/admin/alerts/alert/?snoozed=yes").content.decode()
    assert f"/admin/alerts/alert/{alert.pk}/change/" in html and f"/admin/alerts/alert/{other.pk}/change/" not in html
    assert "by olga" in html
    html = client.get("/admin/alerts/alert/?snoozed=no").content.decode()
    assert f"/admin/alerts/alert/{alert.pk}/change/" not in html and f"/admin/alerts/alert/{other.pk}/change/" in html
    client.post("/admin/alerts/alert/", {"action": "unsnooze", "_selected_action": [alert.pk]})
    assert Alert.objects.get(pk=alert.pk).snoozed_until is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("operator_groups")
def test_a_second_dispatcher_sees_a_snooze_over_the_socket_at_once():
    alerts_apply_detections(detections=[detection_from_event(surge())])
    pk = Alert.objects.get().pk
    first = operator_create(username="olga", password=PASSWORD)
    second = operator_create(username="piet", password=PASSWORD)
    cookie = session_cookie(second)
    client, token = csrf_client(first)

    async def run():
        c, ok = await open_socket(cookie)
        assert ok
        try:
            snapshot = json.loads(await c.receive_from(timeout=5))
            assert snapshot["type"] == "snapshot" and snapshot["alerts"][0]["snoozed_until"] is None
            # the server's clock, for pages to compare snooze ends with
            assert abs(snapshot["server_time"] - time.time() * 1000) < 5000
            r = await sync_to_async(client.post)(f"/api/alerts/{pk}/snooze/", {"minutes": "30"},
                                                 HTTP_X_CSRFTOKEN=token)
            assert r.status_code == 200
            frame = json.loads(await c.receive_from(timeout=5))
            assert frame["type"] == "alerts"
            [seen] = frame["alerts"]
            assert (seen["id"], seen["snoozed_by"]) == (pk, "olga")
            assert seen["snoozed_until"] == r.json()["alert"]["snoozed_until"]
            r = await sync_to_async(client.post)(f"/api/alerts/{pk}/unsnooze/", HTTP_X_CSRFTOKEN=token)
            frame = json.loads(await c.receive_from(timeout=5))
            assert frame["alerts"][0]["snoozed_until"] is None
        finally:
            await c.disconnect()

    asyncio.run(run())
