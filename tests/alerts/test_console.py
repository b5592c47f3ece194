"""The dispatcher's console pages (alerts.console): who may open them, and what the ladder and the
vehicle view read, on the small feed of tests/transit/test_passenger.py."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from alerts.models import Alert
from streamcity.kernel.schemas import LiveVehicle
from tests.transit.test_passenger import FEED, NOW
from transit.services import vehicle_states_upsert

pytestmark = pytest.mark.django_db

BLOCKED = dict(FEED, **{
    "trips.txt": ("route_id,service_id,trip_id,direction_id,trip_headsign,block_id\n"
                  "R1,WK,T1,0,Straße,BL1\nR1,WK,T1b,0,Straße,BL1\nR2,WK,T2,0,Café,\n"),
})


@pytest.fixture
def city(tmp_path):
    from tests.transit.gtfs_samples import write_feed
    from transit.gtfs.services import feed_import

    feed_import(source=write_feed(tmp_path / "city", BLOCKED), name="city")
    vehicle_states_upsert(vehicles=[
        LiveVehicle(vehicle_id="V1", vehicle_type="bus", route_id="R1", trip_id="T1", latitude=52.372,
                    longitude=4.9, stop_sequence=1, next_stop_id="S2", delay_seconds=120, passenger_count=20,
                    capacity=80, timestamp=NOW),
    ])
    Alert.objects.create(alert_key="breakdown:V1:x", kind="breakdown", route_id="R1", vehicle_id="V1",
                         summary="V1 broke down", detected_at=NOW, last_event_at=NOW)


def test_the_console_is_for_operators_only(client, city, operator):
    for url in ("/ops/routes/R1/", "/ops/vehicles/V1/", "/ops/alerts/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert client.get("/api/ops/routes/R1/ladder/").status_code == 403
    client.force_login(get_user_model().objects.create_user(username="pat", password="x-long-enough-pass-1"))
    assert client.get("/ops/routes/R1/").status_code == 404  # logged in, not an operator
    client.force_login(operator)
    assert client.get("/ops/routes/R1/").status_code == 200
    assert client.get("/ops/routes/R1/", {"routes": "R2"}).status_code == 200
    assert client.get("/ops/routes/NOPE/").status_code == 404
    assert client.get("/ops/vehicles/NOPE/").status_code == 404
    assert client.get("/ops/alerts/").status_code == 200


def test_the_ladder_reads_patterns_trips_and_alerts(city):
    from alerts.console import ladder_data

    data = ladder_data(["R1", "R2", "NOPE"], now=NOW)
    assert [r["route"]["route_id"] for r in data["routes"]] == ["R1", "R2"] and data["missing"] == ["NOPE"]
    r1 = data["routes"][0]
    assert [s["stop_id"] for s in r1["directions"][0]["stops"]] == ["P1", "S2", "S3"]
    assert r1["badge"] == ["#FFEB3B", "#000000"]
    t1 = next(t for t in r1["trips"] if t["trip_id"] == "T1")
    start = dt.datetime(2026, 11, 27, 7, 5, tzinfo=dt.timezone.utc).timestamp()  # 08:05 in Amsterdam
    assert t1["calls"] == [[0, start], [1, start + 300], [2, start + 600]]
    assert [a["alert_key"] for a in data["alerts"]] == ["breakdown:V1:x"]


def test_the_vehicle_view_reads_remaining_stops_block_and_alerts(city):
    from alerts.console import vehicle_trip_view

    view = vehicle_trip_view("V1")
    assert [(s["stop_id"], s["scheduled"], s["predicted"]) for s in view["remaining"]] == [
        ("S2", "08:10", "08:12"), ("S3", "08:15", "08:17")]  # 2 minutes late
    assert [(b["trip_id"], b["start"], b["current"]) for b in view["block"]] == [
        ("T1", "08:05", True), ("T1b", "08:20", False)]
    assert view["load"] == {"passengers": 20, "capacity": 80, "percent": 25}
    assert [a["alert_key"] for a in view["alerts"]] == ["breakdown:V1:x"]
    assert vehicle_trip_view("NOPE") is None
