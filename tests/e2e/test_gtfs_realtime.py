"""GTFS-Realtime round trip between two StreamCity instances (`runstreamcity --realtime`, SQLite each):
A mirrors Caltrain's recorded feeds; B mirrors A's own /gtfs-rt/ output over HTTP and shows the same
trains at the same positions, on the same trips, at the same stops."""

import subprocess
from pathlib import Path

import pytest

from .conftest import free_port, get_json, manage, wait_until

pytestmark = pytest.mark.e2e
GTFS = Path("/work/shared/gtfs")
if not GTFS.exists():
    GTFS = Path(__file__).resolve().parents[3] / "shared" / "gtfs"


def start(procs, tmp_path, name, *urls):
    from .conftest import base_env

    env = base_env(tmp_path / name)
    subprocess.run(manage("migrate", "--no-input", "-v0"), cwd=Path(__file__).resolve().parents[2], env=env,
                   check=True)
    port = free_port()
    proc = procs.start(name, manage(
        "runstreamcity", "--port", str(port), "--realtime", "--gtfs", str(GTFS / "caltrain" / "gtfs.zip"),
        "--feed", "caltrain", "--vehicle-positions", urls[0], "--trip-updates", urls[1], "--interval", "1",
        "--no-demo-operator"), env)
    proc.wait_for_output("StreamCity is running at", timeout=90)
    proc.url = f"http://127.0.0.1:{port}"
    return proc


def vehicles(url):
    return {v["vehicle_id"]: v for v in get_json(url + "/api/vehicles/")["vehicles"]}


def test_our_gtfs_rt_output_mirrored_by_a_second_instance_gives_the_same_vehicles(procs, tmp_path):
    rt = GTFS / "caltrain" / "rt"
    a = start(procs, tmp_path, "a", str(rt / "vehicle-positions.pb"), f"file://{rt / 'trip-updates.pb'}")
    first = wait_until(lambda: len(v := vehicles(a.url)) == 14 and all(x["delay_seconds"] is not None
                                                                       for x in v.values()) and v,
                       timeout=60, message="14 Caltrain trains on A")
    b = start(procs, tmp_path, "b", f"{a.url}/gtfs-rt/caltrain/vehicle-positions.pb",
              f"{a.url}/gtfs-rt/caltrain/trip-updates.pb")
    second = wait_until(lambda: len(v := vehicles(b.url)) == 14 and all(x["delay_seconds"] is not None
                                                                        for x in v.values()) and v,
                        timeout=60, message="the same 14 trains on B")
    assert set(second) == set(first)
    same = ("latitude", "longitude", "route_id", "trip_id", "stop_sequence", "next_stop_id", "vehicle_type",
            "timestamp")
    for vehicle_id, v in first.items():
        assert {k: second[vehicle_id][k] for k in same} == {k: v[k] for k in same}, vehicle_id
        # the delay travels as a prediction at the next stop: equal, unless it was already due (A then
        # publishes "not before now", and B reads the later time)
        assert second[vehicle_id]["delay_seconds"] >= v["delay_seconds"]
    assert sum(second[k]["delay_seconds"] == v["delay_seconds"] for k, v in first.items()) >= 7
    b.wait_for_output("14 vehicles at 2023-11-08 01:05:49Z (14 on scheduled trips", timeout=15)  # the status line
    assert a.stop() == 0 and b.stop() == 0
