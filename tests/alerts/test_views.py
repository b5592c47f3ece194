import pytest
from django.test import Client

from alerts.detections import detection_from_event
from alerts.models import Alert
from alerts.services import alerts_apply_detections

from .conftest import PASSWORD, breakdown, surge

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts(db):
    alerts_apply_detections(detections=[detection_from_event(surge()), detection_from_event(breakdown())])
    return {a.kind: a for a in Alert.objects.all()}


def login(client, user):
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302


def test_anonymous_users_are_redirected_from_ops_and_refused_by_the_api(client, alerts):
    response = client.get("/ops/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/ops/")
    assert client.get("/api/alerts/?status=open").status_code == 401
    assert client.post(f"/api/alerts/{alerts['surge'].pk}/acknowledge/").status_code in (401, 403)
    assert Alert.objects.get(pk=alerts["surge"].pk).status == "new"


def test_a_logged_in_user_who_is_not_an_operator_is_refused(client, django_user_model, alerts):
    user = django_user_model.objects.create_user("rider", password=PASSWORD)
    login(client, user)
    assert client.get("/ops/").status_code == 403
    assert client.get("/api/alerts/").status_code == 403


def test_operator_sees_open_alerts_as_json(client, operator, alerts):
    login(client, operator)
    data = client.get("/api/alerts/?status=open").json()
    assert {a["kind"] for a in data["alerts"]} == {"surge", "breakdown"}
    surge_alert = next(a for a in data["alerts"] if a["kind"] == "surge")
    assert surge_alert["detection"]["tap_count"] == 30 and surge_alert["admin_url"].endswith(f"/{alerts['surge'].pk}/change/")
    assert client.get("/api/alerts/?status=bogus").status_code == 400


def test_operator_acknowledges_and_resolves_from_the_page_with_csrf(operator, alerts):
    client = Client(enforce_csrf_checks=True)
    login_page = client.get("/accounts/login/")
    token = login_page.cookies["csrftoken"].value
    client.post("/accounts/login/", {"username": "olga", "password": PASSWORD, "csrfmiddlewaretoken": token})
    page = client.get("/ops/")
    assert page.status_code == 200 and b'id="alert-list"' in page.content
    assert b'<script type="module" src="/static/alerts/ops.js">' in page.content
    assert page.context["live_map_config"]["punctuality"].keys() == {"early_seconds", "late_seconds"}
    pk = alerts["surge"].pk
    assert client.post(f"/api/alerts/{pk}/acknowledge/").status_code == 403  # no CSRF token
    token = client.cookies["csrftoken"].value
    r = client.post(f"/api/alerts/{pk}/acknowledge/", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200 and r.json()["alert"]["status"] == "acknowledged"
    assert client.post(f"/api/alerts/{pk}/acknowledge/", HTTP_X_CSRFTOKEN=token).status_code == 409
    r = client.post(f"/api/alerts/{pk}/resolve/", {"note": "extra bus sent"}, HTTP_X_CSRFTOKEN=token)
    assert r.json()["alert"]["status"] == "resolved" and r.json()["alert"]["resolved_by"] == "olga"
    assert [a["kind"] for a in client.get("/api/alerts/?status=open").json()["alerts"]] == ["breakdown"]


def test_operator_handles_alerts_in_the_admin_but_cannot_administer_users(client, operator, alerts):
    login(client, operator)
    assert client.get("/admin/alerts/alert/").status_code == 200
    assert client.get("/admin/alerts/surgealert/").status_code == 200
    page = client.get(f"/admin/alerts/alert/{alerts['breakdown'].pk}/change/")
    assert page.status_code == 200 and b'id="alert-map"' in page.content
    assert client.get("/admin/auth/user/").status_code == 403
    assert client.get("/admin/auth/group/").status_code == 403
    r = client.post("/admin/alerts/alert/", {"action": "acknowledge", "_selected_action": [alerts["breakdown"].pk]})
    assert r.status_code == 302
    assert Alert.objects.get(pk=alerts["breakdown"].pk).status == "acknowledged"
    r = client.post("/admin/alerts/alert/", {"action": "resolve_with_note", "_selected_action": [alerts["breakdown"].pk],
                                             "apply": "1", "note": "towed"})
    alert = Alert.objects.get(pk=alerts["breakdown"].pk)
    assert (alert.status, alert.resolution_note, alert.resolved_by) == ("resolved", "towed", operator)


def test_admin_shows_open_counts_by_kind(client, operator, alerts):
    login(client, operator)
    html = client.get("/admin/alerts/alert/").content.decode()
    assert 'data-open-count="surge">1<' in html and 'data-open-count="delay">0<' in html


def test_supervisor_can_manage_users(client, supervisor):
    login(client, supervisor)
    assert client.get("/admin/auth/user/").status_code == 200


def test_repeated_failed_logins_lock_the_account_out(client, operator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/accounts/login/", {"username": "olga", "password": "wrong"}).status_code == 200
    assert client.post("/accounts/login/", {"username": "olga", "password": "wrong"}).status_code == 429
    # now even the right password is refused, with a clear message
    locked = client.post("/accounts/login/", {"username": "olga", "password": PASSWORD})
    assert locked.status_code == 429
    assert b"locked after repeated failed login attempts" in locked.content
    assert "_auth_user_id" not in client.session
