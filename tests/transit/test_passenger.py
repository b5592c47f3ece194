"""The passenger pages' reads (transit.passenger) and pages, on the test database (SQLite or PostgreSQL)."""

import datetime as dt

import pytest

from streamcity.kernel.schemas import LiveVehicle
from transit.colours import AA, badge_colours, contrast
from transit.names import search_key
from transit.services import vehicle_states_upsert

NOW = dt.datetime(2026, 11, 27, 7, 1, tzinfo=dt.timezone.utc)  # a Friday, 08:01 in Amsterdam

# A station ("Gare Saint-Lazare", two platforms with parent_station) and a street stop; route R1 leaves
# from platform P1, route R2 from platform P2.
FEED = {
    "stops.txt": (
        "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,stop_code\n"
        "ST,Gare Saint-Lazare,52.3700,4.9000,1,,\n"
        "P1,Gare Saint-Lazare,52.3701,4.9001,0,ST,1\n"
        "P2,Gare Saint-Lazare,52.3699,4.8999,0,ST,2\n"
        "S2,Café Señora Ñuñez,52.3750,4.9000,0,,\n"
        "S3,Straße,52.3800,4.9000,0,,\n"
    ),
    "routes.txt": ("route_id,agency_id,route_short_name,route_long_name,route_type,route_color,route_text_color\n"
                   "R1,A,1,Gare - Straße,3,FFEB3B,FFFFFF\nR2,A,2,Gare - Café,3,0D47A1,FFFFFF\n"),
    "trips.txt": ("route_id,service_id,trip_id,direction_id,trip_headsign\n"
                  "R1,WK,T1,0,Straße\nR1,WK,T1b,0,Straße\nR2,WK,T2,0,Café\n"),
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:05:00,08:05:00,P1,1\nT1,08:10:00,08:10:00,S2,2\nT1,08:15:00,08:15:00,S3,3\n"
        "T1b,08:20:00,08:20:00,P1,1\nT1b,08:25:00,08:25:00,S2,2\nT1b,08:30:00,08:30:00,S3,3\n"
        "T2,08:07:00,08:07:00,P2,1\nT2,08:12:00,08:12:00,S2,2\n"
    ),
    "shapes.txt": None,
}


@pytest.fixture
def city(tmp_path, db):
    from tests.transit.gtfs_samples import write_feed
    from transit.gtfs.services import feed_import

    feed_import(source=write_feed(tmp_path / "city", FEED), name="city")
    vehicle_states_upsert(vehicles=[
        LiveVehicle(vehicle_id="V1", vehicle_type="bus", route_id="R1", trip_id="T1", latitude=52.3701,
                    longitude=4.9001, stop_sequence=None, next_stop_id="P1", delay_seconds=120, timestamp=NOW),
    ])


def test_the_search_key_strips_accents_and_folds_case():
    assert search_key("  Café  Señora\tÑuñez ") == "cafe senora nunez"
    assert search_key("Straße") == "strasse"
    assert search_key("Ｔｏｋｙｏ") == "tokyo"  # compatibility forms (NFKD)
    assert search_key("Saint-Lazare (Gare)") == "saint lazare gare"
    assert search_key("") == "" and search_key(None) == ""


@pytest.mark.parametrize("colour", ["FFEB3B", "0D47A1", "FFC107", "808080", "777777", "E91E63", "00BCD4", "000000"])
def test_route_badges_meet_aa_contrast(colour):
    bg, fg = badge_colours(colour, "FFFFFF")
    assert contrast(bg, fg) >= AA, (bg, fg)


def test_a_gtfs_text_colour_that_contrasts_enough_is_kept():
    assert badge_colours("0D47A1", "FFFFFF") == ("#0D47A1", "#FFFFFF")
    assert badge_colours("FFEB3B", "FFFFFF") == ("#FFEB3B", "#000000")  # white on yellow: 1.2:1
    assert badge_colours("", "") == ("#455A64", "#FFFFFF")


def test_names_are_stored_with_their_search_key(city):
    from transit.models import Stop

    assert Stop.objects.get(stop_id="S2").search_name == "cafe senora nunez"


def test_search_finds_stops_with_accents_ignored_and_stations_once(city, client):
    from transit.passenger import search_places

    found = search_places(q="SENORA nunez")
    assert [s["stop_id"] for s in found["stops"]] == ["S2"]
    assert [s["stop_id"] for s in search_places(q="strasse")["stops"]] == ["S3"]
    gare = search_places(q="gare saint")
    assert [(s["stop_id"], s["station"]) for s in gare["stops"]] == [("ST", True)]  # not its platforms
    assert search_places(q="zzzz")["empty"] is True
    page = client.get("/search/", {"q": "café"})
    assert page.status_code == 200 and b"Caf\xc3\xa9 Se\xc3\xb1ora" in page.content
    assert "No results for “qqq”" in client.get("/search/", {"q": "qqq"}).content.decode()


def test_a_station_board_lists_the_departures_of_all_its_platforms(city, client):
    from transit.passenger import stop_board

    board = stop_board(stop_id="P2")  # a platform: its station's board
    assert board["stop"]["stop_id"] == "ST"
    assert {p["stop_id"] for p in board["platforms"]} == {"P1", "P2"}
    rows = [(d["trip_id"], d["stop_id"], d["live"], d["expected"][11:16], d["scheduled"][11:16])
            for d in board["departures"]]
    assert rows == [
        ("T1", "P1", True, "08:07", "08:05"),  # live: 2 minutes late (route 1 before route 2 at the same time)
        ("T2", "P2", False, "08:07", "08:07"),  # no vehicle: the timetable's time
        ("T1b", "P1", False, "08:20", "08:20"),
    ]
    assert [(g["route_id"], g["headsign"], len(g["departures"])) for g in board["groups"]] == [
        ("R1", "Straße", 2), ("R2", "Café", 1)]
    page = client.get("/stops/ST/").content.decode()
    assert "station · 2 platforms" in page and page.count('<tr class="departure') == 3
    assert "● live" in page and "○ scheduled" in page
    assert client.get("/stops/NOPE/").status_code == 404


def test_a_broken_down_vehicle_s_departure_is_cancelled(city):
    from transit.models import VehicleState
    from transit.passenger import stop_board

    VehicleState.objects.filter(vehicle_id="V1").update(status="broken_down")
    t1 = next(d for d in stop_board(stop_id="ST")["departures"] if d["trip_id"] == "T1")
    assert t1["cancelled"] is True


def test_near_a_place_lists_the_nearest_stops_with_departures(city, client):
    from transit.passenger import stops_near

    near = stops_near(latitude=52.3702, longitude=4.9002, radius_m=800)
    assert [s["stop_id"] for s in near] == ["ST", "S2"]  # the station once, then the street stop (560 m)
    assert [d["trip_id"] for d in near[0]["departures"]] == ["T1", "T2", "T1b"]
    page = client.get("/stops/near/", {"place": "gare saint lazare"}).content.decode()
    assert "Stops near Gare Saint-Lazare" in page
    assert "is called" in client.get("/stops/near/", {"place": "nowhere"}).content.decode()
    assert "not a latitude" in client.get("/stops/near/", {"lat": "x", "lon": "4"}).content.decode()


def test_a_route_page_has_its_timetable_per_direction(city, client):
    from transit.passenger import route_page

    page = route_page(route_id="R1", now=NOW)
    (direction,) = page["directions"]
    assert [s["stop_id"] for s in direction["stops"]] == ["P1", "S2", "S3"]
    assert [t["times"] for t in direction["trips"]] == [["08:05", "08:10", "08:15"], ["08:20", "08:25", "08:30"]]
    assert [v["vehicle_id"] for v in page["vehicles"]] == ["V1"]
    assert client.get("/routes/R1/").status_code == 200
    assert client.get("/routes/NOPE/").status_code == 404
