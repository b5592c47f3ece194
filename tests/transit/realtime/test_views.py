"""/gtfs-rt/: conditional requests, gzip, ?format=json, unknown feeds, one build per frame interval."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from streamcity.kernel.schemas import LiveVehicle
from transit.realtime import feed as feed_module
from transit.services import vehicle_states_upsert

from .rules import check_trip_updates, check_vehicle_positions, decode, read_static
from .conftest import GTFS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_required")]


@pytest.fixture
def caltrain_live(imported):
    """Two Caltrain trains on their trips, written to the live table as the bridge would."""
    imported("caltrain")
    now = timezone.now().replace(microsecond=0)
    vehicle_states_upsert(vehicles=[
        LiveVehicle(vehicle_id="124", vehicle_type="rail", route_id="L1", trip_id="124", latitude=37.37,
                    longitude=-121.99, stop_sequence=20, next_stop_id="70242", delay_seconds=60, timestamp=now,
                    passenger_count=300, capacity=600),
        LiveVehicle(vehicle_id="x1", vehicle_type="bus", route_id=None, trip_id=None, latitude=37.5,
                    longitude=-122.2, timestamp=now - dt.timedelta(seconds=5)),
    ])
    feed_module.cache._built.clear()
    return now


def test_etag_last_modified_and_conditional_requests(client, caltrain_live):
    r = client.get("/gtfs-rt/vehicle-positions.pb")
    assert r.status_code == 200 and r["ETag"] and r["Last-Modified"] and r["Vary"] == "Accept-Encoding"
    msg = decode(r.content)
    assert {e.id for e in msg.entity} == {"124", "x1"}
    v = next(e.vehicle for e in msg.entity if e.id == "124")
    assert (v.trip.trip_id, v.trip.route_id, v.stop_id, v.current_stop_sequence) == ("124", "L1", "70242", 21)
    assert v.occupancy_status == v.FEW_SEATS_AVAILABLE and msg.header.timestamp == int(caltrain_live.timestamp())
    assert client.get("/gtfs-rt/vehicle-positions.pb", HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304
    assert client.get("/gtfs-rt/vehicle-positions.pb", HTTP_IF_MODIFIED_SINCE=r["Last-Modified"]).status_code == 304
    assert client.get("/gtfs-rt/vehicle-positions.pb", HTTP_IF_NONE_MATCH='"other"').status_code == 200
    static = read_static(GTFS / "caltrain" / "gtfs.zip")
    check_vehicle_positions(msg, static)
    check_trip_updates(decode(client.get("/gtfs-rt/caltrain/trip-updates.pb").content), static)


def test_gzip_when_accepted_and_json_for_people(client, caltrain_live):
    plain = client.get("/gtfs-rt/trip-updates.pb")
    zipped = client.get("/gtfs-rt/trip-updates.pb", HTTP_ACCEPT_ENCODING="br, gzip;q=0.8")
    assert zipped["Content-Encoding"] == "gzip" and gzip.decompress(zipped.content) == plain.content
    assert "Content-Encoding" not in plain
    tu = decode(plain.content).entity[0].trip_update
    assert tu.trip.trip_id == "124" and tu.delay == 60 and tu.stop_time_update[0].stop_id == "70242"
    data = json.loads(client.get("/gtfs-rt/trip-updates.pb?format=json").content)
    assert data["header"]["gtfs_realtime_version"] == "2.0"
    assert data["entity"][0]["trip_update"]["trip"]["trip_id"] == "124"
    assert client.get("/gtfs-rt/trip-updates.pb?format=xml").status_code == 400
    assert client.get("/gtfs-rt/nowhere/trip-updates.pb").status_code == 404
    assert client.get("/gtfs-rt/caltrain/trip-updates.pb").status_code == 200


def test_built_once_per_frame_interval_whatever_the_number_of_clients(caltrain_live, monkeypatch):
    cache = feed_module.FeedCache(interval=60)
    monkeypatch.setattr(feed_module, "cache", cache)
    bodies, errors = [], []

    def get():
        try:
            bodies.append(Client().get("/gtfs-rt/vehicle-positions.pb").content)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=get) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(bodies) == 30 and len(set(bodies)) == 1
    assert cache.builds == 1


def test_a_rebuild_in_progress_never_holds_up_a_request(monkeypatch):
    """Stale-while-revalidate: while one caller rebuilds, the others get the previous build at once."""
    from google.transit import gtfs_realtime_pb2 as rt

    started, release, n = threading.Event(), threading.Event(), [0]

    def slow_build(feed):
        n[0] += 1
        if n[0] == 2:
            started.set()
            release.wait(5)
        msg = rt.FeedMessage()
        msg.header.gtfs_realtime_version, msg.header.timestamp = "2.0", 1_700_000_000 + n[0]
        return msg

    monkeypatch.setitem(feed_module.BUILDERS, "alerts", slow_build)
    clock = [0.0]
    cache = feed_module.FeedCache(interval=1, clock=lambda: clock[0])
    first = cache.get("alerts")
    clock[0] = 2.0  # due again
    builder = threading.Thread(target=cache.get, args=("alerts",))
    builder.start()
    assert started.wait(5)
    assert cache.current("alerts") == (first, False)  # being rebuilt: the view answers with the last one
    assert cache.get("alerts") is first  # and so does get(), without waiting
    release.set()
    builder.join()
    assert cache.get("alerts").message.header.timestamp == 1_700_000_002 and cache.builds == 2
