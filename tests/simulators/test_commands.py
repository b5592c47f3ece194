"""runsimulators end to end on the in-process bus: the built-in city imported on first run, --gtfs feeds."""

import io

import pytest
from django.core.management import CommandError, call_command

import streamcity.kernel.bus
from streamcity.kernel.schemas import STOP_SCHEDULE, VEHICLE_LOCATIONS, StopSchedule, VehicleLocation, decode
from transit.models import Feed

from ..transit.gtfs_samples import write_feed

pytestmark = pytest.mark.django_db


@pytest.fixture
def bus(memory_bus, monkeypatch, settings, tmp_path):
    """The process's bus is a fresh in-process one; var/ is private to the test."""
    monkeypatch.setattr(streamcity.kernel.bus, "_bus", memory_bus)
    settings.VAR_DIR = tmp_path / "var"
    return memory_bus


def read_all(bus, topic):
    consumer = bus.consumer("test-reader", [topic])
    records = []
    while batch := consumer.consume(5000, timeout=0.2):
        records += batch
    consumer.close()
    return records


def test_runs_on_a_gtfs_folder_and_publishes_its_schedule(bus, tmp_path):
    folder = write_feed(tmp_path / "tiny", {})
    out = io.StringIO()
    call_command("runsimulators", "--gtfs", str(folder), "--date", "2026-11-25", "--start", "07:59", "--speed", "60",
                 "--duration", "2", "--tick", "0.5", "--seed", "1", stdout=out)
    text = out.getvalue()
    assert "simulating tiny from Wed 2026-11-25 07:59 (Europe/Amsterdam)" in text
    produced = int(text.split("the simulator produced ", 1)[1].split()[0])
    # alone on its bus, the simulator's events are every record produced, and each was acknowledged
    assert f"{produced} records produced = {produced} acknowledged + 0 failed + 0 undelivered" in text
    from transit.models import SimulationRun, VehicleState

    run = SimulationRun.objects.get(feed="tiny")  # the run is recorded, and over
    assert run.stopped_at is not None and run.reason == "requested" and run.timetable_date.isoformat() == "2026-11-25"
    assert not VehicleState.objects.exists()
    assert Feed.objects.get(name="tiny").counts["trips"] == 2
    schedule = [decode(StopSchedule, r.value) for r in read_all(bus, STOP_SCHEDULE.name)]
    keys = sorted(r.key for r in read_all(bus, STOP_SCHEDULE.name))
    assert keys == ["T1:1", "T1:2", "T1:3", "T1:4", "T2:1", "T2:2"]
    assert {s.service_date.isoformat() for s in schedule} == {"2026-11-25"}
    locations = [decode(VehicleLocation, r.value) for r in read_all(bus, VEHICLE_LOCATIONS.name)]
    assert locations and {v.trip_id for v in locations} == {"T1"} and {v.vehicle_type for v in locations} == {"bus"}
    assert max(v.stop_sequence or 0 for v in locations) >= 1  # it left its first stop


def test_the_built_in_city_is_imported_on_first_run(bus):
    call_command("runsimulators", "--start", "12:00", "--date", "2026-11-25", "--vehicles", "5", "--duration", "1",
                 stdout=io.StringIO())
    feed = Feed.objects.get(name="builtin")
    assert feed.counts["stops"] > 200 and feed.timezone == "Europe/Amsterdam"
    vehicles = {r.key for r in read_all(bus, VEHICLE_LOCATIONS.name)}
    assert len(vehicles) == 5
    imported_at = feed.imported_at
    call_command("runsimulators", "--start", "12:00", "--vehicles", "5", "--duration", "0", stdout=io.StringIO())
    assert Feed.objects.get(name="builtin").imported_at == imported_at  # the same city is not imported again


def test_bad_options_are_refused(bus, tmp_path):
    with pytest.raises(CommandError, match="no imported feed named 'nowhere'"):
        call_command("runsimulators", "--feed", "nowhere", "--duration", "0", stdout=io.StringIO())
    with pytest.raises(CommandError, match="STOP_ID@HH:MM"):
        call_command("runsimulators", "--surge", "S1-8:00", "--duration", "0", stdout=io.StringIO())
    folder = write_feed(tmp_path / "tiny", {})
    with pytest.raises(CommandError, match="no stop 'S9'"):
        call_command("runsimulators", "--gtfs", str(folder), "--surge", "S9@08:00x3", "--duration", "0",
                     stdout=io.StringIO())
