import datetime as dt

import pytest

from streamcity.kernel.schemas import LiveVehicle
from transit.services import vehicle_states_upsert

pytestmark = pytest.mark.django_db


def test_api_vehicles_returns_the_snapshot(client):
    vehicle_states_upsert(vehicles=[LiveVehicle(vehicle_id="a", vehicle_type="tram", latitude=52.0, longitude=4.0,
                                                timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))])
    response = client.get("/api/vehicles/")
    assert response.status_code == 200
    [v] = response.json()["vehicles"]
    assert (v["vehicle_id"], v["vehicle_type"], v["status"]) == ("a", "tram", "in_service")


def test_live_map_page_loads_leaflet_locally(client):
    html = client.get("/").content.decode()
    assert 'id="live-map"' in html
    assert "/static/leaflet/leaflet.js" in html
    assert '<script type="module" src="/static/transit/map/main.js">' in html
    assert "unpkg.com" not in html and "cdn" not in html.lower()


def test_live_map_page_gives_the_map_its_punctuality_thresholds(client, settings):
    settings.STREAMCITY_EARLY_SECONDS, settings.STREAMCITY_LATE_SECONDS = 90, 240
    config = client.get("/").context["live_map_config"]
    assert config["punctuality"] == {"early_seconds": 90, "late_seconds": 240}
    html = client.get("/").content.decode()
    assert '<script id="live-map-config" type="application/json">' in html and '"late_seconds": 240' in html


def test_leaflet_assets_are_served(client):
    assert client.get("/static/leaflet/leaflet.js").status_code == 200


# -- the map's APIs against a small imported feed ------------------------------------------------

NOW = dt.datetime(2026, 11, 27, 7, 1, tzinfo=dt.timezone.utc)  # a Friday, 08:01 in Amsterdam

FEED = {
    "routes.txt": (
        "route_id,agency_id,route_short_name,route_long_name,route_type,route_color,route_text_color\n"
        "R1,A,1,Centraal - Zuid,3,D84315,FFFFFF\nR2,A,2,Tram Two,900,,\n"
    ),
    "trips.txt": (
        "route_id,service_id,trip_id,direction_id,shape_id,trip_headsign\n"
        "R1,WK,T1,0,SH1,Fourth\nR1,WK,T1b,0,SH1,Fourth\nR1,WK,T1c,0,SH1,Fourth\nR2,WK,T2,1,,First\n"
    ),
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,S1,1\nT1,08:02:00,08:02:30,S2,2\nT1,08:04:00,08:04:00,S3,3\nT1,08:06:00,08:06:00,S4,4\n"
        "T1b,08:10:00,08:10:00,S1,1\nT1b,08:12:00,08:12:00,S2,2\n"
        "T1c,07:59:00,07:59:00,S1,1\nT1c,08:01:00,08:01:00,S2,2\n"
        "T2,09:00:00,09:00:00,S4,1\nT2,09:05:00,09:05:00,S1,2\n"
    ),
}


@pytest.fixture
def network(tmp_path):
    from tests.transit.gtfs_samples import write_feed
    from transit.gtfs.services import feed_import

    feed_import(source=write_feed(tmp_path / "city", FEED), name="city")
    vehicle_states_upsert(vehicles=[
        LiveVehicle(vehicle_id="V1", vehicle_type="bus", route_id="R1", trip_id="T1", latitude=52.371, longitude=4.9,
                    stop_sequence=1, next_stop_id="S2", passenger_count=30, capacity=80, delay_seconds=90,
                    timestamp=NOW),
        LiveVehicle(vehicle_id="V3", vehicle_type="bus", route_id="R1", trip_id="T1c", latitude=52.376, longitude=4.9,
                    stop_sequence=2, next_stop_id="S3", delay_seconds=10, timestamp=NOW),
        LiveVehicle(vehicle_id="TRAM-9", vehicle_type="tram", route_id="R2", trip_id="T2", latitude=48.86,
                    longitude=2.35, timestamp=NOW),
    ])


def test_the_network_routes_carry_gtfs_colours_and_shapes(client, network):
    routes = {r["route_id"]: r for r in client.get("/api/network/").json()["routes"]}
    r1, r2 = routes["R1"], routes["R2"]
    assert (r1["short_name"], r1["long_name"], r1["color"], r1["text_color"], r1["vehicle_type"]) == (
        "1", "Centraal - Zuid", "D84315", "FFFFFF", "bus")
    assert r1["shapes"] == [[[52.37, 4.9], [52.3775, 4.901], [52.385, 4.9]]]  # one shape, shared by three trips
    assert r2["vehicle_type"] == "tram"
    assert r2["shapes"] == [[[52.385, 4.9], [52.37, 4.9]]]  # no shape: a line through its stops


def test_stops_by_area(client, network):
    stops = client.get("/api/stops/", {"bbox": "4.89,52.372,4.91,52.382"}).json()
    assert [s["stop_id"] for s in stops["stops"]] == ["S2", "S3"]
    assert stops["stops"][0] == {"stop_id": "S2", "name": "Second", "code": "", "latitude": 52.375, "longitude": 4.9,
                                 "feed": "city"}
    assert client.get("/api/stops/").status_code == 400
    assert client.get("/api/stops/", {"bbox": "-200,-80,200,80"}).status_code == 400


def test_next_arrivals_at_a_stop_with_their_deviation(client, network):
    data = client.get("/api/stops/S2/arrivals/").json()  # "now" is the newest vehicle report: 08:01
    assert data["stop"]["name"] == "Second" and data["now"].startswith("2026-11-27T07:01")
    fields = ("trip_id", "vehicle_id", "delay_seconds", "scheduled", "expected")
    rows = [tuple(a[f] for f in fields) for a in data["arrivals"]]
    assert rows == [
        ("T1", "V1", 90, "2026-11-27T07:02:00Z", "2026-11-27T07:03:30Z"),  # live: 90 s late
        ("T1b", None, None, "2026-11-27T07:12:00Z", "2026-11-27T07:12:00Z"),  # no vehicle yet: as scheduled
    ]  # T1c left out: its vehicle has served the stop already
    first = data["arrivals"][0]
    assert (first["headsign"], first["route_short_name"], first["route_color"]) == ("Fourth", "1", "D84315")
    assert client.get("/api/stops/NOPE/arrivals/").status_code == 404
    assert client.get("/api/stops/S2/arrivals/", {"feed": "other"}).status_code == 404


def test_no_weekday_service_on_a_saturday(network):
    from transit.selectors import stop_arrivals

    saturday = dt.datetime(2026, 11, 28, 7, 1, tzinfo=dt.timezone.utc)
    assert stop_arrivals(stop_id="S2", now=saturday)["arrivals"] == []
    assert [a["trip_id"] for a in stop_arrivals(stop_id="S2", now=NOW)["arrivals"]] == ["T1", "T1b"]


def test_a_vehicle_with_what_its_popup_names(client, network):
    data = client.get("/api/vehicles/V1/").json()
    assert data["vehicle"]["delay_seconds"] == 90 and data["vehicle"]["passenger_count"] == 30
    assert data["route"]["short_name"] == "1"
    assert data["trip"] == {"trip_id": "T1", "headsign": "Fourth", "short_name": "", "direction_id": 0}
    assert data["next_stop"] == {"stop_id": "S2", "name": "Second", "code": ""}
    assert client.get("/api/vehicles/nope/").status_code == 404


def test_vehicles_filtered_like_a_subscription(client, network):
    def ids(**params):
        return sorted(v["vehicle_id"] for v in client.get("/api/vehicles/", params).json()["vehicles"])

    assert ids() == ["TRAM-9", "V1", "V3"]
    assert ids(bbox="4.8,52.3,5.0,52.4") == ["V1", "V3"]
    assert ids(type="tram") == ["TRAM-9"]
    assert ids(route="R1", bbox="4.8,52.3,5.0,52.4") == ["V1", "V3"]
    assert client.get("/api/vehicles/", {"type": "zeppelin"}).status_code == 400


def test_search_finds_routes_and_vehicles(client, network):
    found = client.get("/api/search/", {"q": "zuid"}).json()
    assert [r["route_id"] for r in found["routes"]] == ["R1"] and found["vehicles"] == []
    found = client.get("/api/search/", {"q": "tram"}).json()
    assert [r["route_id"] for r in found["routes"]] == ["R2"]
    assert [v["vehicle_id"] for v in found["vehicles"]] == ["TRAM-9"]
    assert client.get("/api/search/", {"q": " "}).json() == {"routes": [], "vehicles": []}


def test_the_page_carries_its_configuration(client):
    import json
    import re

    html = client.get("/").content.decode()
    found = re.search(r'<script id="live-map-config" type="application/json">(.*?)</script>', html)
    config = json.loads(found.group(1))
    assert config["urls"]["network"] == "/api/network/" and config["stale_seconds"] > 0
    assert "transit/live_map.css" in html
    assert client.get("/static/transit/live_map.css").status_code == 200


def test_a_vehicle_laying_over_is_predicted_from_its_scheduled_departure(client, network):
    """V2 waits at S1 for T1b's 08:10 departure (a layover: deviation 0, never negative): T1b's arrival
    at S2 is predicted at its scheduled 08:12, whatever a producer said about being early."""
    vehicle_states_upsert(vehicles=[
        LiveVehicle(vehicle_id="V2", vehicle_type="bus", route_id="R1", trip_id="T1b", latitude=52.37, longitude=4.9,
                    stop_sequence=1, next_stop_id="S2", status="layover", delay_seconds=-540, timestamp=NOW),
    ])
    rows = {a["trip_id"]: a for a in client.get("/api/stops/S2/arrivals/").json()["arrivals"]}
    assert (rows["T1b"]["vehicle_id"], rows["T1b"]["delay_seconds"]) == ("V2", 0)
    assert rows["T1b"]["expected"] == "2026-11-27T07:12:00Z"
    [v2] = [v for v in client.get("/api/vehicles/").json()["vehicles"] if v["vehicle_id"] == "V2"]
    assert v2["status"] == "layover"
