"""The mapping rules on hand-made messages (no database, no bus): ids matched against the static
feed, unmatched ones handled as GTFS-Realtime defines them and counted, stop progress, delays."""

from __future__ import annotations

import datetime as dt

import pytest
from google.transit import gtfs_realtime_pb2 as rt

from transit.gtfs.parse import parse_feed
from transit.gtfs.reader import FeedSource
from transit.realtime import mapper as m
from transit.realtime.decode import FeedError, decode_feed
from transit.realtime.feed import occupancy_status
from transit.realtime.static import CAPACITY, StaticIndex, service_day_origin

from .conftest import GTFS

T = int(dt.datetime(2023, 11, 7, 15, 50, tzinfo=dt.timezone(dt.timedelta(hours=-8))).timestamp())


def load(name):
    with FeedSource(GTFS / name / "gtfs.zip") as src:
        return StaticIndex.from_feed(name, parse_feed(src))


@pytest.fixture(scope="module")
def caltrain():
    return load("caltrain")


def vp(*vehicles) -> rt.FeedMessage:
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version, msg.header.timestamp = "2.0", T
    for i, fields in enumerate(vehicles):
        e = msg.entity.add(id=str(i))
        v = e.vehicle
        v.position.latitude, v.position.longitude = 37.5, -122.2
        v.timestamp = T
        for k, val in fields.items():
            if k == "trip":
                for tk, tv in val.items():
                    setattr(v.trip, tk, tv)
            elif k == "vehicle_id":
                v.vehicle.id = val
            else:
                setattr(v, k, val)
    return msg


def test_unmatched_ids_are_reported_without_a_trip_and_counted(caltrain):
    out = m.Mapper(caltrain).map(vehicle_positions=vp(
        {"vehicle_id": "a", "trip": {"trip_id": "124"}},
        {"vehicle_id": "b", "trip": {"trip_id": "no-such-trip", "route_id": "L1"}},
        {"vehicle_id": "c", "trip": {"trip_id": "x", "route_id": "L1", "schedule_relationship": rt.TripDescriptor.ADDED}},
        {"vehicle_id": "d", "trip": {"trip_id": "125", "schedule_relationship": rt.TripDescriptor.CANCELED}},
        {"vehicle_id": "e"},
        {"vehicle_id": "f", "trip": {"route_id": "nowhere", "trip_id": "126"}},
    ))
    r = out.reports
    assert (r["a"].trip_id, r["a"].route_id) == ("124", "L1") and out.matched == 2
    assert all(r[k].trip_id is None for k in "bcde")
    assert r["b"].route_id == "L1" and r["c"].route_id == "L1" and r["e"].route_id is None
    assert dict(out.unmatched) == {m.NOT_IN_TIMETABLE: 1, m.ADDED: 1, m.CANCELED: 1, m.NO_TRIP: 1}
    assert set(out.trips) == {"124", "126"}  # their stop_schedule goes out first


def test_stop_progress_from_the_current_stop_and_status(caltrain):
    stopped = vp({"vehicle_id": "a", "trip": {"trip_id": "124"}, "current_stop_sequence": 3,
                  "current_status": rt.VehiclePosition.STOPPED_AT})
    moving = vp({"vehicle_id": "a", "trip": {"trip_id": "124"}, "stop_id": "70032",
                 "current_status": rt.VehiclePosition.IN_TRANSIT_TO})
    a = m.Mapper(caltrain).map(vehicle_positions=stopped).reports["a"]
    b = m.Mapper(caltrain).map(vehicle_positions=moving).reports["a"]
    assert (a.stop_sequence, a.next_stop_id) == (3, caltrain.trips["124"].stop_ids[3])
    assert (b.stop_sequence, b.next_stop_id) == (2, "70032")


def test_the_delay_predicted_at_the_next_stop_propagates_downstream(caltrain):
    tu = rt.FeedMessage()
    tu.header.gtfs_realtime_version, tu.header.timestamp = "2.0", T
    t = tu.entity.add(id="t").trip_update
    t.trip.trip_id, t.trip.start_date = "124", "20231107"
    u = t.stop_time_update.add(stop_sequence=2)
    u.arrival.delay = 240  # 15:42 + 4 min; nothing more: the delay holds for the stops after it
    positions = vp({"vehicle_id": "a", "trip": {"trip_id": "124"}, "current_stop_sequence": 4,
                    "current_status": rt.VehiclePosition.IN_TRANSIT_TO})
    out = m.Mapper(caltrain).map(vehicle_positions=positions, trip_updates=tu)
    assert out.reports["a"].reported_delay_seconds == 240
    origin = service_day_origin(dt.date(2023, 11, 7), caltrain.tz)
    assert out.trips["124"][1] == dt.date(2023, 11, 7) and origin.hour == 8  # 00:00 PST in UTC


def test_a_frequency_based_trip_is_its_template_and_start_time():
    bull = load("usf-bullrunner")
    msg = vp({"vehicle_id": "a", "trip": {"trip_id": "1", "start_time": "07:10:00"}},
             {"vehicle_id": "b", "trip": {"trip_id": "1", "start_time": "07:11:00"}})
    for e in msg.entity:
        e.vehicle.position.latitude, e.vehicle.position.longitude = 28.06, -82.41  # Tampa
    out = m.Mapper(bull).map(vehicle_positions=msg)
    assert out.reports["a"].trip_id == "1@071000" and out.reports["b"].trip_id is None
    assert out.reports["b"].route_id == out.reports["a"].route_id  # the template's route
    assert dict(out.unmatched) == {m.UNSCHEDULED: 1}


def test_occupancy_survives_a_round_trip():
    for status, share in m.OCCUPANCY_SHARE.items():
        capacity = CAPACITY["bus"]
        back = occupancy_status(round(capacity * share), capacity)
        assert back == (rt.VehiclePosition.FULL if status == rt.VehiclePosition.NOT_ACCEPTING_PASSENGERS else status)


def test_another_agencys_ids_are_refused(caltrain):
    with pytest.raises(m.ForeignFeedError, match="another agency"):
        m.Mapper(caltrain).map(vehicle_positions=vp({"trip": {"trip_id": "zz1", "route_id": "zz"}},
                                                    {"trip": {"trip_id": "zz2"}}))


@pytest.mark.parametrize("body, why", [
    (b"", "empty body"),
    (b"\x0a\x03", "not a GTFS-Realtime protobuf"),
    (rt.FeedMessage(entity=[rt.FeedEntity(id="x")]).SerializePartialToString(), "missing header"),
    (rt.FeedMessage(header=rt.FeedHeader(gtfs_realtime_version="3.0")).SerializeToString(), "unsupported"),
    (rt.FeedMessage(header=rt.FeedHeader(gtfs_realtime_version="2.0",
                                         incrementality=rt.FeedHeader.DIFFERENTIAL)).SerializeToString(),
     "DIFFERENTIAL"),
])
def test_bodies_that_are_not_a_usable_feed(body, why):
    with pytest.raises(FeedError, match=why):
        decode_feed(body, kind="vehicle-positions")


def test_the_agencys_predicted_delay_is_the_live_deviation_and_can_open_a_delay_alert():
    from alerts.detection.config import DetectionConfig
    from alerts.detection.delay import DelayDetector
    from transit.timetable import Schedule, StopProgress
    from streamcity.kernel.schemas import StopSchedule, VehicleLocation
    from transit.processors import LiveVehicleTable

    schedule = Schedule()
    at = dt.datetime(2023, 11, 7, 23, 50, tzinfo=dt.timezone.utc)
    for seq in (1, 2, 3):
        schedule.apply(StopSchedule(trip_id="124", stop_sequence=seq, stop_id=f"s{seq}",
                                    scheduled_arrival=at + dt.timedelta(minutes=5 * seq), service_date=at.date()))
    report = VehicleLocation(vehicle_id="a", vehicle_type="rail", trip_id="124", latitude=37.5, longitude=-122.2,
                             stop_sequence=1, next_stop_id="s2", timestamp=at + dt.timedelta(minutes=6),
                             reported_delay_seconds=900)
    (live,) = LiveVehicleTable(schedule).apply([report])
    assert live.delay_seconds == 900
    # measured from progress instead: one minute late leaving its first stop (still there at 23:56)
    measured = msgspec_replace(report, reported_delay_seconds=None)
    assert LiveVehicleTable(schedule).apply([measured])[0].delay_seconds == 60
    progress, _ = StopProgress().observe(report)
    (alert,) = DelayDetector(DetectionConfig(), schedule).apply(report, progress)
    assert alert.delay_seconds == 900 and alert.state == "open"


def msgspec_replace(struct, **changes):
    import msgspec

    return msgspec.structs.replace(struct, **changes)


def test_a_malformed_header_is_refused_without_echoing_it():
    from transit.realtime.fetch import parse_header

    assert parse_header("X-Api-Key:  abc ") == ("X-Api-Key", "abc")
    for bad in ("Bearer s3cr3t", "s3cr3t", ": s3cr3t"):
        with pytest.raises(ValueError) as info:
            parse_header(bad)
        assert "s3cr3t" not in str(info.value)


def test_positions_far_from_the_static_feed_are_another_agencys():
    """Short route ids ("A", "1") exist everywhere: a feed with route ids only is judged by its positions."""
    bull = load("usf-bullrunner")
    far = rt.FeedMessage()
    far.ParseFromString((GTFS / "usf-bullrunner" / "rt" / "vehicle-positions.pb").read_bytes())
    m.Mapper(bull).map(vehicle_positions=far)  # Tampa, as recorded: fine
    for e in far.entity:
        e.vehicle.position.latitude, e.vehicle.position.longitude = 37.77, -122.42  # San Francisco
    with pytest.raises(m.ForeignFeedError, match="within 50 km"):
        m.Mapper(bull).map(vehicle_positions=far)
