"""Physics of the first simulator, without Django or a bus."""

import datetime as dt

import pytest

from simulators.engine import Simulation
from simulators.geo import Polyline, haversine_m

START = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)


def run(seconds=600, vehicles=40, seed=3):
    sim = Simulation(vehicles=vehicles, seed=seed, start=START)
    return sim, [sim.tick(1.0) for _ in range(seconds)]


def test_same_seed_same_events():
    _, a = run(120)
    _, b = run(120)
    _, c = run(120, seed=4)
    assert a == b
    assert a != c


def test_fleet_size_is_what_was_asked():
    assert len(Simulation(vehicles=53, start=START).fleet) == 53


def test_every_position_lies_on_its_line_and_speeds_are_plausible():
    sim, ticks = run(900)
    lines = {l.route_id: l for l in sim.lines}
    for reports in ticks[::10]:
        for r in reports:
            line = lines[r.route_id]
            assert line.path.distance_to((r.latitude, r.longitude)) < 5  # on the line, give or take rounding
            assert 0 <= r.speed <= line.cruise_mps * 1.15 + 0.01
            assert 0 <= r.passenger_count <= r.capacity


def test_vehicles_move_between_reports_and_stop_at_stops():
    sim, ticks = run(600)
    first, last = ticks[0], ticks[-1]
    moved = sum(haversine_m((a.latitude, a.longitude), (b.latitude, b.longitude)) > 200 for a, b in zip(first, last))
    assert moved >= 0.9 * len(first)
    stopped = [r for reports in ticks for r in reports if r.speed == 0]
    assert stopped, "vehicles dwell at stops"
    for a, b in zip(ticks, ticks[1:]):
        for ra, rb in zip(a, b):
            assert haversine_m((ra.latitude, ra.longitude), (rb.latitude, rb.longitude)) <= 25  # ≤ 90 km/h


def test_event_time_is_simulated_time():
    sim = Simulation(vehicles=2, start=START, speed=10)
    sim.tick(1.0)
    [r, _] = sim.tick(1.0)
    assert r.timestamp == START + dt.timedelta(seconds=20)


def test_polyline_positions():
    line = Polyline([(52.0, 4.0), (52.0, 4.01), (52.01, 4.01)])
    assert line.at(0) == (52.0, 4.0)
    assert line.at(line.length) == pytest.approx((52.01, 4.01))
    mid = line.at(line.cumulative[1] / 2)
    assert mid == pytest.approx((52.0, 4.005))
    assert line.bearing_at(10) == pytest.approx(90, abs=0.1)
