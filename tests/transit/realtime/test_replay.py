"""Done-when: replaying each recorded agency feed through the poller puts its vehicles on the map at
their recorded positions (unmatched ones counted), its alerts in the operators' alerts, and our
/gtfs-rt/ output keeps the GTFS-Realtime rules against that agency's static feed."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest
from google.transit import gtfs_realtime_pb2 as rt

from transit.realtime.poller import RealtimePoller, static_index

from .conftest import GTFS, RT_FEEDS, rt_file, wait_until
from .rules import check_alerts, check_trip_updates, check_vehicle_positions, decode, read_static

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_required")]
KINDS = ("vehicle-positions", "trip-updates", "alerts")


def recorded(name: str) -> dict[str, rt.FeedMessage]:
    return {k: decode(p.read_bytes()) for k in KINDS if (p := rt_file(name, k))}


async def ops_snapshot(cookie: bytes) -> dict:
    """What the operations page receives first over /ws/ops/."""
    from channels.testing import WebsocketCommunicator

    from streamcity.asgi import application

    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, "/ws/ops/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    try:
        return json.loads(await communicator.receive_from(timeout=5))
    finally:
        await communicator.disconnect()


def on_map(client) -> dict[str, dict]:
    return {v["vehicle_id"]: v for v in client.get("/api/vehicles/").json()["vehicles"]}


def poller_for(bus, name: str, **kw) -> RealtimePoller:
    urls = {k.replace("-", "_"): str(p) for k in KINDS if (p := rt_file(name, k))}
    return RealtimePoller(bus, static_index(feed=name), settle=0.3, **urls, **kw)


@pytest.mark.parametrize("name", RT_FEEDS)
def test_a_recorded_feed_replayed_is_on_the_map_and_published_back_by_the_rules(name, pipeline, imported, client,
                                                                                 django_user_model):
    imported(name)
    static = read_static(GTFS / name / "gtfs.zip")
    feeds = recorded(name)
    poller = poller_for(pipeline, name)
    poller.poll()
    status = poller.status()

    if "vehicle-positions" in feeds:  # every vehicle of the feed, at its recorded position
        expected = {(e.vehicle.vehicle.id or e.id): e.vehicle for e in feeds["vehicle-positions"].entity}
        vehicles = wait_until(lambda: (m := on_map(client)) and len(m) >= len(expected) and m,
                              message=f"{len(expected)} {name} vehicles in /api/vehicles/")
        assert set(vehicles) == set(expected)
        for vehicle_id, v in expected.items():
            got = vehicles[vehicle_id]
            assert (got["latitude"], got["longitude"]) == pytest.approx((v.position.latitude, v.position.longitude),
                                                                        abs=1e-6)
            if v.trip.trip_id in static.trips:  # matched: on its trip and route, with stop progress
                assert (got["trip_id"], got["route_id"]) == (v.trip.trip_id, static.trips[v.trip.trip_id])
                assert got["next_stop_id"] in static.stop_times[v.trip.trip_id].values()
            else:  # unmatched (bullrunner: route ids only): on the map without a trip, counted
                assert got["trip_id"] is None and got["route_id"] == (v.trip.route_id or None)
        if name == "caltrain":  # the agency's predicted delay at the next stop is the vehicle's deviation
            assert all(v["delay_seconds"] is not None for v in vehicles.values())
            assert "14 on scheduled trips" in status
        if name == "usf-bullrunner":
            assert "unmatched: 10 no trip" in status
    else:  # BART: trip updates only; each running trip placed between the two stops its predictions say
        tu = feeds["trip-updates"]
        scheduled = [e.trip_update.trip for e in tu.entity
                     if e.trip_update.trip.schedule_relationship == rt.TripDescriptor.SCHEDULED]
        not_in_timetable = sum(t.trip_id not in static.trips for t in scheduled)
        added = sum(e.trip_update.trip.schedule_relationship == rt.TripDescriptor.ADDED for e in tu.entity)
        assert (not_in_timetable, added) == (18, 8)  # as the data's README says: 65 of 83 match, 8 ADDED
        assert f"{added} added trip" in status and f"{not_in_timetable} trip not in timetable" in status
        vehicles = wait_until(lambda: (m := on_map(client)) and len(m) >= poller.last.matched and m,
                              message="BART trains in /api/vehicles/")
        assert poller.last.matched >= 10
        for v in vehicles.values():
            stops = static.stop_times[v["trip_id"]]
            seqs = sorted(stops)
            nxt = seqs[seqs.index(v["stop_sequence"]) + 1]
            assert stops[nxt] == v["next_stop_id"]
            (lat0, lon0), (lat1, lon1) = static.stops[stops[v["stop_sequence"]]], static.stops[stops[nxt]]
            assert min(lat0, lat1) - 1e-9 <= v["latitude"] <= max(lat0, lat1) + 1e-9
            assert min(lon0, lon1) - 1e-9 <= v["longitude"] <= max(lon0, lon1) + 1e-9
            assert v["delay_seconds"] is not None

    if feeds.get("alerts") and feeds["alerts"].entity:  # the agency's alerts reach the operators
        admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "x-very-secret-1")
        client.force_login(admin)
        want = {f"service:{name}:{e.id}" for e in feeds["alerts"].entity}
        alerts = wait_until(lambda: (a := client.get("/api/alerts/?kind=service").json()["alerts"])
                            and {x["alert_key"] for x in a} >= want and a, message="service alerts")
        assert all(a["status"] == "new" and a["summary"] for a in alerts)
        snapshot = asyncio.run(ops_snapshot(f"sessionid={client.cookies['sessionid'].value}".encode()))
        assert want <= {a["alert_key"] for a in snapshot["alerts"] if a["kind"] == "service"}  # on /ops/

    # Out: our own feeds, decoded with the bindings, keep the rules against the agency's static feed
    for kind, check in (("vehicle-positions", check_vehicle_positions), ("trip-updates", check_trip_updates),
                        ("alerts", check_alerts)):
        response = client.get(f"/gtfs-rt/{name}/{kind}.pb", HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200 and response["Content-Type"] == "application/x-protobuf"
        msg = decode(gzip.decompress(response.content))
        check(msg, static)
        if kind == "vehicle-positions":
            assert {e.id for e in msg.entity} == set(on_map(client))
        if kind == "trip-updates" and name != "usf-bullrunner":
            assert len(msg.entity) >= 10
        if kind == "alerts" and feeds.get("alerts") and feeds["alerts"].entity:
            assert len(msg.entity) == len(feeds["alerts"].entity)
