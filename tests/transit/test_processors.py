import datetime as dt

from streamcity.schemas import VehicleLocation
from transit.processors import LiveVehicleTable

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def loc(vehicle_id, seconds, lat=52.0):
    return VehicleLocation(vehicle_id=vehicle_id, vehicle_type="bus", latitude=lat, longitude=4.0,
                           timestamp=T0 + dt.timedelta(seconds=seconds))


def test_one_record_per_changed_vehicle_per_batch_latest_wins():
    table = LiveVehicleTable()
    out = table.apply([loc("a", 1, 52.1), loc("b", 1), loc("a", 2, 52.2)])
    assert {v.vehicle_id: v.latitude for v in out} == {"a": 52.2, "b": 52.0}


def test_an_older_event_does_not_overwrite_a_newer_state():
    table = LiveVehicleTable()
    table.apply([loc("a", 10, 52.5)])
    assert table.apply([loc("a", 5, 52.1)]) == []
    assert table.stale_dropped == 1
    [latest] = table.apply([loc("a", 11, 52.6)])
    assert latest.latitude == 52.6
