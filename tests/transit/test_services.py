import datetime as dt

import pytest
from django.utils import timezone

from streamcity.kernel.schemas import LiveVehicle
from transit.models import VehicleState
from transit.selectors import vehicle_snapshot
from transit.services import vehicle_states_upsert

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_required")]
T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def live(vehicle_id, lat=52.0, seconds=0, **kw):
    return LiveVehicle(vehicle_id=vehicle_id, vehicle_type="bus", latitude=lat, longitude=4.0,
                       timestamp=T0 + dt.timedelta(seconds=seconds), **kw)


def test_upsert_inserts_then_updates_in_place():
    assert vehicle_states_upsert(vehicles=[live("a"), live("b", route_id="10")]) == 2
    assert vehicle_states_upsert(vehicles=[live("a", lat=52.5, seconds=5, passenger_count=7)]) == 1
    assert VehicleState.objects.count() == 2
    a = VehicleState.objects.get(vehicle_id="a")
    assert (a.latitude, a.passenger_count, a.timestamp) == (52.5, 7, T0 + dt.timedelta(seconds=5))


def test_the_last_event_of_a_batch_wins():
    vehicle_states_upsert(vehicles=[live("a", lat=52.1), live("a", lat=52.2, seconds=1)])
    assert VehicleState.objects.get(vehicle_id="a").latitude == 52.2


def test_snapshot_has_the_api_fields_and_leaves_out_stale_vehicles(settings):
    vehicle_states_upsert(vehicles=[live("fresh", route_id="10"), live("old")])
    VehicleState.objects.filter(vehicle_id="old").update(updated_at=timezone.now() - dt.timedelta(hours=1))
    [v] = vehicle_snapshot()
    assert v["vehicle_id"] == "fresh" and v["route_id"] == "10"
    assert v["timestamp"] == "2026-11-27T08:00:00Z"
    assert {"vehicle_type", "latitude", "longitude", "status", "speed", "passenger_count", "capacity"} <= set(v)
