"""Alerts in people's words (issue 16): names, route short names, vehicle labels, local times,
gaps apart from bunching, severity in words; the admin in the feed's local time."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.detections import detection_from_event
from alerts.models import Alert
from alerts.services import alerts_apply_detections
from streamcity.kernel.schemas import (
    BunchingAlert, DelayAlert, LiveVehicle, SilentVehicleAlert, SurgeAlert, TrafficIncident,
)
from transit.models import Feed, Route, Stop
from transit.services import simulation_run_start, vehicle_states_upsert

from .conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_required")]

T0 = dt.datetime(2026, 11, 27, 7, 30, tzinfo=dt.timezone.utc)  # 08:30 in Amsterdam


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def city():
    feed = Feed.objects.create(name="builtin", source="-", fingerprint="x", timezone="Europe/Amsterdam",
                               imported_at=timezone.now())
    Route.objects.create(feed=feed, route_id="R61", short_name="61", route_type=3, vehicle_type="bus")
    Stop.objects.create(feed=feed, stop_id="CS", name="Centraal Station", location_type=1)
    Stop.objects.create(feed=feed, stop_id="CS-T", name="Centraal Station (tram)", parent_station="CS")
    simulation_run_start(run_id="7-1", feed="builtin", tz="Europe/Amsterdam", sim_now=T0, state={
        "date": T0.date(), "timetable_date": T0.date(), "reason": "requested", "vehicles": 2})
    vehicle_states_upsert(vehicles=[
        LiveVehicle(vehicle_id=v, vehicle_type="bus", route_id="R61", latitude=52.37, longitude=4.9, timestamp=T0)
        for v in ("61-02", "61-03")])


def apply(*events):
    alerts_apply_detections(detections=[detection_from_event(e) for e in events])
    return {a.kind: a for a in Alert.objects.all()}


def test_alert_texts_name_stations_routes_vehicles_and_local_times(city):
    alerts = apply(
        SurgeAlert(alert_key="surge:CS:1", stop_id="CS", window_start=T0, window_end=at(300), tap_count=61,
                   threshold=40, expected=17.4, baseline="simulated", severity=4, detected_at=at(200),
                   timestamp=at(200)),
        DelayAlert(alert_key="delay:T1:61-02", vehicle_id="61-02", route_id="R61", trip_id="T1", stop_id="CS-T",
                   delay_seconds=430, threshold_seconds=300, detected_at=T0, timestamp=T0),
        BunchingAlert(alert_key="bunching:61-03:T2:gap", vehicle_id="61-03", route_id="R61", trip_id="T2",
                      condition="gap", leader_vehicle_id="61-02", headway_seconds=900,
                      scheduled_headway_seconds=480, detected_at=T0, timestamp=T0),
        SilentVehicleAlert(alert_key="silent:61-09:1", vehicle_id="61-09", route_id="R61", last_seen=at(-125),
                           silent_seconds=120, detected_at=T0, timestamp=T0),
        TrafficIncident(incident_id="7-1-inc1", type="road_closure", latitude=52.37, longitude=4.9, radius=150,
                        severity=3, timestamp=at(60)),
    )
    assert alerts["surge"].summary == "Surge at Centraal Station: 61 taps between 08:30 and 08:35 (usually 17)"
    assert alerts["delay"].summary == "Bus 61-02 on route 61 is 7 min late at Centraal Station (tram)"
    assert alerts["gap"].summary == "Gap on route 61: Bus 61-03 runs 15 min behind bus 61-02 (scheduled 8 min)"
    assert alerts["silent"].summary == "Vehicle 61-09 on route 61 has not reported since 08:27:55"
    assert alerts["incident"].summary == "Road closure since 08:31: radius 150 m"
    assert alerts["surge"].severity_label == "critical" and alerts["delay"].severity_label == "major"
    cleared = DelayAlert(alert_key="delay:T1:61-02", vehicle_id="61-02", route_id="R61", trip_id="T1",
                         stop_id="CS-T", delay_seconds=200, threshold_seconds=300, state="cleared",
                         summary="61-02 on trip T1 (route R61) 3 min late: back on time", detected_at=T0,
                         timestamp=at(400))
    assert apply(cleared)["delay"].summary == "Bus 61-02 on route 61 is 3 min late at Centraal Station (tram): back on time"


def test_the_admin_shows_local_times_and_severity_in_words_with_the_number(client, city, django_user_model):
    from alerts.services import operator_create

    apply(DelayAlert(alert_key="delay:T1:61-02", vehicle_id="61-02", route_id="R61", trip_id="T1",
                     delay_seconds=430, threshold_seconds=300, severity=3, detected_at=T0, timestamp=T0))
    operator_create(username="olga", password=PASSWORD)
    assert client.post("/accounts/login/", {"username": "olga", "password": PASSWORD}).status_code == 302
    page = client.get("/admin/alerts/alert/").content.decode()
    assert "major</b> (3)" in page
    assert "8:30 a.m." in page or "08:30" in page  # 07:30 UTC shown as Amsterdam time
    assert "7:30 a.m." not in page
    alert = Alert.objects.get()
    page = client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()
    assert "8:30 a.m." in page or "08:30" in page
