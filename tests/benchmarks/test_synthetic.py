import datetime as dt
import math

from benchmarks.synthetic import M_PER_DEG_LAT, SyntheticFleet

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def test_the_synthetic_fleet_is_deterministic_and_moves_the_way_it_points():
    a, b = SyntheticFleet(vehicles=50, seed=3), SyntheticFleet(vehicles=50, seed=3)
    first = a.tick(1.0, T0)
    assert first == b.tick(1.0, T0)
    assert {v.vehicle_type for v in first} <= {"bus", "tram", "rail", "ferry"}
    second = {v.vehicle_id: v for v in a.tick(1.0, T0 + dt.timedelta(seconds=1))}
    agree = 0
    for v in first:
        w = second[v.vehicle_id]
        if w.status == "broken_down" or v.status == "broken_down":
            continue
        north = (w.latitude - v.latitude) * M_PER_DEG_LAT
        east = (w.longitude - v.longitude) * M_PER_DEG_LAT * math.cos(math.radians(v.latitude))
        moved = math.degrees(math.atan2(east, north)) % 360
        agree += abs((moved - v.bearing + 180) % 360 - 180) < 30
        assert math.hypot(north, east) < 40  # about its speed, never a jump
    assert agree >= 40
