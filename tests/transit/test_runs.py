"""Only what runs is shown: the simulation run's record, its banner field, and the live table."""

import datetime as dt

import pytest

from streamcity.kernel.schemas import LiveVehicle
from transit.models import SimulationRun, VehicleState
from transit.services import (
    simulation_run_heartbeat, simulation_run_start, simulation_run_stop, vehicle_states_upsert,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)


def vehicle(vehicle_id: str, seconds: float, status: str = "in_service") -> LiveVehicle:
    return LiveVehicle(vehicle_id=vehicle_id, vehicle_type="bus", latitude=52.0, longitude=4.9, status=status,
                       timestamp=T0 + dt.timedelta(seconds=seconds))


def state(**changes) -> dict:
    return {"date": dt.date(2026, 11, 27), "timetable_date": dt.date(2026, 11, 24), "reason": "nearest with service",
            "vehicles": 3, "service_starts": None,
            "note": "2026-11-27 (Fri) has no service in the feed: running the timetable of 2026-11-24 "
                    "(Tue, nearest with service)", **changes}


def test_a_vehicle_silent_longer_than_the_silent_rule_leaves_the_live_table(client, settings):
    settings.STREAMCITY_SILENT_SECONDS = 120
    vehicle_states_upsert(vehicles=[vehicle("quiet", 0), vehicle("talking", 600), vehicle("recent", 500)])
    ids = {v["vehicle_id"] for v in client.get("/api/vehicles/").json()["vehicles"]}
    assert ids == {"talking", "recent"}  # event time: quiet last spoke 600 s before the newest report


def test_a_new_run_clears_the_live_table_of_the_last_one_and_its_stop_clears_its_own(client):
    vehicle_states_upsert(vehicles=[vehicle("old-train", 0)])
    simulation_run_start(run_id="7-1", feed="vbb", tz="Europe/Berlin", state=state(), sim_now=T0)
    assert not VehicleState.objects.exists()
    vehicle_states_upsert(vehicles=[vehicle("bus", 5)])
    assert [v["vehicle_id"] for v in client.get("/api/vehicles/").json()["vehicles"]] == ["bus"]
    simulation_run_start(run_id="7-2", feed="cairns", tz="Australia/Brisbane", state=state(), sim_now=T0)
    assert SimulationRun.objects.get(run_id="7-1").stopped_at is not None
    simulation_run_stop(run_id="7-2")
    assert client.get("/api/vehicles/").json()["vehicles"] == []


def test_the_network_api_says_which_service_day_runs_and_when_service_starts(client):
    assert client.get("/api/network/").json()["service"] is None
    simulation_run_start(run_id="7-1", feed="one-day", tz="Europe/Berlin", state=state(), sim_now=T0)
    service = client.get("/api/network/").json()["service"]
    assert service["feed"] == "one-day" and service["running"] is True
    assert (service["date"], service["timetable_date"], service["reason"]) == (
        "2026-11-27", "2026-11-24", "nearest with service")
    assert service["message"].startswith("2026-11-27 (Fri) has no service in the feed")
    starts = dt.datetime(2026, 11, 28, 5, 10, tzinfo=dt.timezone.utc)
    simulation_run_heartbeat(run_id="7-1", state=state(vehicles=0, service_starts=starts), sim_now=T0)
    service = client.get("/api/network/").json()["service"]
    assert service["vehicles"] == 0
    assert service["message"].endswith("nothing is scheduled now; service starts Sat 2026-11-28 06:10")
    assert service["service_starts"].startswith("2026-11-28T06:10:00+01:00")
    simulation_run_stop(run_id="7-1")
    assert client.get("/api/network/").json()["service"]["running"] is False


def test_routes_say_whether_they_run_now_on_the_running_feed(client, tmp_path):
    from transit.gtfs.services import feed_import

    from .gtfs_samples import write_feed

    feed_import(source=write_feed(tmp_path / "tiny", {}), name="tiny")
    routes = client.get("/api/network/").json()["routes"]
    assert all("runs_now" not in r for r in routes)  # no simulation: nothing to say
    at_0803 = dt.datetime(2026, 11, 25, 7, 3, tzinfo=dt.timezone.utc)  # 08:03 in Amsterdam, a Wednesday
    simulation_run_start(run_id="1-1", feed="tiny", tz="Europe/Amsterdam", sim_now=at_0803, state=state(
        date=dt.date(2026, 11, 25), timetable_date=dt.date(2026, 11, 25), reason="requested", note=""))
    runs = {r["route_id"]: r["runs_now"] for r in client.get("/api/network/").json()["routes"]}
    assert runs == {"R1": True, "R2": False}  # R2 runs 09:00-09:05 only
    simulation_run_heartbeat(run_id="1-1", state=state(date=dt.date(2026, 11, 25),
                                                         timetable_date=dt.date(2026, 11, 25), reason="requested"),
                             sim_now=at_0803 + dt.timedelta(hours=1))
    runs = {r["route_id"]: r["runs_now"] for r in client.get("/api/network/").json()["routes"]}
    assert runs == {"R1": False, "R2": True}


def test_late_states_of_an_earlier_run_do_not_take_over_the_live_table(client):
    simulation_run_start(run_id="7-2", feed="cairns", tz="Australia/Brisbane", state=state(), sim_now=T0)
    evening = T0 + dt.timedelta(hours=9)  # a bridge catching up writes the last run's 16:00 states afterwards
    vehicle_states_upsert(vehicles=[vehicle("morning-bus", 30), LiveVehicle(
        vehicle_id="evening-bus", vehicle_type="bus", latitude=52.0, longitude=4.9, timestamp=evening)])
    assert [v["vehicle_id"] for v in client.get("/api/vehicles/").json()["vehicles"]] == ["morning-bus"]
    from transit.selectors import twin_now

    assert twin_now() == T0 + dt.timedelta(seconds=30)
