"""The live map fits the running feed: its extent, vehicle types, routes and time zone in the page's
configuration, and the banner's facts at /api/service/."""

import datetime as dt
import json
import re

import pytest

from streamcity.kernel.schemas import LiveVehicle
from transit.services import vehicle_states_upsert

pytestmark = pytest.mark.django_db

# A second city far from the built-in one: a ferry and a bus in Cairns (Australia/Brisbane).
FAR = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nF,Far Transit,https://example.org,Australia/Brisbane\n",
    "stops.txt": (
        "stop_id,stop_name,stop_lat,stop_lon\n"
        "F1,Esplanade,-16.9200,145.7800\nF2,Marina,-16.9300,145.7850\nF3,Airport,-16.8800,145.7500\n"
        "FX,Bad row,0,0\n"  # a stop at 0,0 is a typo, not part of the city
    ),
    "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\nB1,F,110,Airport,3\nW1,F,FRY,Ferry,4\n",
    "shapes.txt": None,
    "trips.txt": "route_id,service_id,trip_id,direction_id\nB1,WK,FT1,0\nW1,WK,FT2,0\n",
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "FT1,08:00:00,08:00:00,F1,1\nFT1,08:10:00,08:10:00,F3,2\n"
        "FT2,08:00:00,08:00:00,F2,1\nFT2,08:20:00,08:20:00,F1,2\n"
    ),
}


def config_of(client) -> dict:
    html = client.get("/").content.decode()
    return json.loads(re.search(r'<script id="live-map-config" type="application/json">(.*?)</script>', html).group(1))


@pytest.fixture
def two_feeds(tmp_path):
    from tests.transit.gtfs_samples import write_feed
    from transit.gtfs.services import feed_import

    feed_import(source=write_feed(tmp_path / "far", FAR), name="far")
    feed_import(source=write_feed(tmp_path / "city", {}), name="city")  # imported last


def far_bus(vehicle_id="FB1", route_id="B1", lat=-16.90, lon=145.76):
    return LiveVehicle(vehicle_id=vehicle_id, vehicle_type="bus", route_id=route_id, latitude=lat, longitude=lon,
                       timestamp=dt.datetime(2026, 11, 27, 22, 30, tzinfo=dt.timezone.utc))


def test_the_map_opens_on_the_feed_its_vehicles_run_on(client, two_feeds):
    vehicle_states_upsert(vehicles=[far_bus("FB1"), far_bus("FB2", lat=-16.91)])
    config = config_of(client)
    assert config["feeds"] == ["far"]
    assert config["extent"] == {"south": -16.93, "west": 145.75, "north": -16.88, "east": 145.785}  # not 0,0
    assert config["vehicle_types"] == ["bus", "ferry"]  # the feed's, not the built-in city's tram
    assert config["timezone"] == "Australia/Brisbane"
    assert config["urls"]["service"] == "/api/service/"


def test_vehicles_of_another_feed_outside_its_extent_do_not_count(client, two_feeds):
    # on the city's route R1 but in Cairns: counted for neither feed; then a bus on a far route
    vehicle_states_upsert(vehicles=[far_bus("X", route_id="R1")])
    assert config_of(client)["feeds"] == ["city"]  # no vehicle counted: the feed imported last
    vehicle_states_upsert(vehicles=[far_bus("FB1")])
    assert config_of(client)["feeds"] == ["far"]


def test_without_live_vehicles_the_feed_imported_last_or_the_gtfs_setting(client, two_feeds, settings, tmp_path):
    config = config_of(client)
    assert config["feeds"] == ["city"] and config["extent"]["south"] == 52.37
    settings.STREAMCITY_GTFS = str(tmp_path / "far")
    assert config_of(client)["feeds"] == ["far"]


def test_map_center_settings_override_the_extent(client, two_feeds, settings):
    settings.MAP_CENTER_FIXED = True
    config = config_of(client)
    assert config["extent"] is None and config["feeds"] == ["city"]


def test_the_network_of_the_running_feed_only(client, two_feeds):
    assert {r["route_id"] for r in client.get("/api/network/").json()["routes"]} == {"R1", "R2", "B1", "W1"}
    routes = client.get("/api/network/", {"feed": "far"}).json()["routes"]
    assert {(r["route_id"], r["feed"], r["vehicle_type"]) for r in routes} == {("B1", "far", "bus"),
                                                                               ("W1", "far", "ferry")}
    assert routes[0]["shapes"]  # a line through the stops
    assert client.get("/api/network/", {"feed": "nope"}).json()["routes"] == []
    assert client.get("/api/network/", {"feed": ["x"] * 21}).status_code == 400


def test_the_banner_facts_without_a_recorded_run(client, two_feeds):
    vehicle_states_upsert(vehicles=[far_bus("FB1")])
    service = client.get("/api/service/").json()["service"]
    # 22:30 UTC on Friday 27 November is Saturday 08:30 in Brisbane: the weekday calendar has no service
    assert (service["feed"], service["date"], service["timetable_date"]) == ("far", "2026-11-28", None)
    assert service["note"] == "Sat 28 Nov 2026 has no service in far"
    assert service["vehicles"] == 1 and service["running"] is True
    assert service["sim_now"].startswith("2026-11-28T08:30")


def test_no_feed_no_banner(client):
    assert client.get("/api/service/").json() == {"service": None}
    config = config_of(client)
    assert (config["feeds"], config["extent"], config["service"]) == ([], None, None)
