"""The history pages and APIs: who may see them, JSON and CSV of every table, bad parameters, and
the fleet and alerts at a moment."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from alerts.models import Alert
from transit.models import VehiclePosition

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client, user):
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302


def test_anonymous_users_are_sent_to_log_in_and_the_apis_refuse_them(client):
    for page in ("/ops/kpis/", "/ops/playback/"):
        r = client.get(page)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert client.get("/ops/kpis/?format=json").status_code == 401
    assert client.get("/api/history/at/?t=2026-12-04T08:00:00Z").status_code == 401
    assert client.get("/api/history/vehicles/V1/track/").status_code == 401


def test_a_user_who_is_not_an_operator_is_refused(client, django_user_model):
    login(client, django_user_model.objects.create_user("rider", password=PASSWORD))
    assert client.get("/ops/kpis/").status_code == 403
    assert client.get("/ops/kpis/?format=csv&table=alerts_by_kind").status_code == 403


def test_supervisors_see_the_pages_too(client, supervisor):
    login(client, supervisor)
    assert client.get("/ops/kpis/").status_code == 200
    assert client.get("/ops/playback/").status_code == 200


def test_every_table_comes_as_json_and_as_csv(client, operator):
    login(client, operator)
    now = timezone.now()
    Alert.objects.create(alert_key="delay:T1:V1", kind="delay", detected_at=now, last_event_at=now,
                         acknowledged_at=now + dt.timedelta(seconds=90))
    page = client.get("/ops/kpis/")
    assert page.status_code == 200 and b"plotly/plotly.min.js" in page.content
    data = client.get("/ops/kpis/?format=json").json()
    assert set(data["tables"]) == {
        "on_time_by_route", "on_time_by_route_hour", "headways_by_route", "headways_by_route_hour",
        "service_by_route", "crowding_by_route", "crowding_by_route_hour", "alerts_by_kind"}
    assert data["tables"]["alerts_by_kind"]["rows"][0][:3] == ["delay", 1, 1]
    for name, table in data["tables"].items():
        r = client.get(f"/ops/kpis/?format=csv&table={name}")
        assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
        assert next(csv.reader(io.StringIO(r.content.decode()))) == table["columns"]
    assert client.get("/ops/kpis/?format=csv").status_code == 400  # which table?
    assert "not a date" in client.get("/ops/kpis/?format=json&date=2026-13-45").json()["error"]
    assert client.get("/ops/kpis/?date=yesterday").status_code == 400


def test_the_fleet_and_the_alerts_as_they_were_at_a_moment(client, operator):
    login(client, operator)
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    for s in (0, 15, 30, 45):
        VehiclePosition.objects.create(vehicle_id="V1", timestamp=t0 + dt.timedelta(seconds=s), latitude=52,
                                       longitude=4.9 + s / 1000, delay_seconds=s)
    VehiclePosition.objects.create(vehicle_id="V2", timestamp=t0 - dt.timedelta(minutes=10), latitude=52, longitude=5)
    Alert.objects.create(alert_key="breakdown:V1:T1", kind="breakdown", vehicle_id="V1",
                         detected_at=t0 + dt.timedelta(seconds=20), last_event_at=t0 + dt.timedelta(seconds=40),
                         condition_open=False)
    at = client.get("/api/history/at/", {"t": (t0 + dt.timedelta(seconds=32)).isoformat()}).json()
    assert [(v["vehicle_id"], v["delay_seconds"]) for v in at["vehicles"]] == [("V1", 30)]  # V2: too long ago
    assert [a["alert_key"] for a in at["alerts"]] == ["breakdown:V1:T1"]
    later = client.get("/api/history/at/", {"t": (t0 + dt.timedelta(seconds=45)).isoformat()}).json()
    assert later["alerts"] == []  # cleared at +40 s
    track = client.get("/api/history/vehicles/V1/track/", {"from": t0.isoformat(),
                                                           "to": (t0 + dt.timedelta(minutes=1)).isoformat()}).json()
    assert [p["delay_seconds"] for p in track["positions"]] == [0, 15, 30, 45]
    span = client.get("/api/history/range/?hours=6").json()
    assert span["has_positions"] and [a["kind"] for a in span["alerts"]] == ["breakdown"]
    assert client.get("/api/history/at/?t=noon").status_code == 400
    assert client.get("/api/history/at/").status_code == 400
    assert client.get("/api/history/range/?hours=-1").status_code == 400
    assert client.get("/api/history/vehicles/V1/track/?from=2026-12-04T10:00:00Z&to=2026-12-04T09:00:00Z"
                      ).status_code == 400


def test_one_route_and_the_riders_left_behind(client, operator):
    from streamcity.kernel.bus import Decoded, Record
    from streamcity.kernel.schemas import StopEvent
    from transit.history.sink import HistorySink

    login(client, operator)
    t0 = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    events = [StopEvent(vehicle_id=f"V{r}", trip_id=f"T{r}", route_id=r, stop_id="S1", stop_sequence=1,
                        trip_start=t0, scheduled=t0, departure=t0 + dt.timedelta(seconds=30), passenger_count=80,
                        capacity=80, timepoint=True, timestamp=t0, left_behind=n) for r, n in (("R1", 7), ("R2", 3))]
    HistorySink(prune_every=0)([Decoded(Record("t", 0, i, None, b""), e) for i, e in enumerate(events)])
    day = timezone.localtime(t0).date().isoformat()
    both = client.get(f"/ops/kpis/?format=json&date={day}").json()["tables"]["crowding_by_route"]
    assert both["columns"][-1] == "left_behind" and [(r[0], r[-1]) for r in both["rows"]] == [("R1", 7), ("R2", 3)]
    one = client.get(f"/ops/kpis/?format=json&date={day}&route=R2").json()
    assert one["route"] == "R2"
    assert [(r[0], r[-2], r[-1]) for r in one["tables"]["crowding_by_route"]["rows"]] == [("R2", 1, 3)]
    assert [r[0] for r in one["tables"]["on_time_by_route"]["rows"]] == ["R2", "(all)"]
    csv_rows = list(csv.reader(io.StringIO(client.get(
        f"/ops/kpis/?format=csv&table=crowding_by_route_hour&date={day}&route=R1").content.decode())))
    assert csv_rows[0][-1] == "left_behind" and [r[0] for r in csv_rows[1:]] == ["R1"] and csv_rows[1][-1] == "7"
    page = client.get(f"/ops/kpis/?route=R1&date={day}")
    assert page.status_code == 200 and b'value="R1"' in page.content
    assert client.get("/ops/kpis/?format=json&route=" + "x" * 200).status_code == 400
