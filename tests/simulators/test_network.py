"""The simulator's view of a feed: stops along shapes, smoothed times, blocks, service dates."""

import datetime as dt

import pytest

from simulators.geo import Polyline, haversine_m, offset
from simulators.network import chain, place_stops, smooth_times

from .conftest import CAIRNS_DAY


def test_stops_are_placed_in_order_on_a_loop():
    # out 2 km east and back along a parallel street 100 m north: the stops near the start are
    # passed twice; each lands on the pass it is served on
    origin = (52.0, 4.0)
    out = [offset(origin, 0, 100 * i) for i in range(21)]
    back = [offset(origin, 100, 2000 - 100 * i) for i in range(21)]
    line = Polyline(out + back)
    stops = [offset(origin, 5, 100), offset(origin, 5, 1500), offset(origin, 95, 1500), offset(origin, 95, 100)]
    dists = place_stops(line, stops)
    assert list(dists) == sorted(dists)
    assert dists[0] == pytest.approx(100, abs=15) and dists[1] == pytest.approx(1500, abs=15)
    assert dists[2] == pytest.approx(2100 + 500, abs=20) and dists[3] == pytest.approx(2100 + 1900, abs=20)
    for d, s in zip(dists, stops):
        assert haversine_m(line.at(d), s) < 10


def test_equal_minute_rounded_times_are_spread_by_distance():
    assert smooth_times([0, 60, 60, 60, 180], [0, 100, 200, 300, 500]) == (0, 60, 90, 120, 180)
    assert smooth_times([0, 60, 120], [0, 1, 2]) == (0, 60, 120)


def test_chaining_prefers_the_shortest_layover_and_keeps_to_the_route():
    # (route, start, end, first place, last place)
    a, b = (52.0, 4.0), (52.05, 4.0)
    trips = [("R", 0, 1800, a, b), ("R", 600, 2400, a, b), ("R", 2100, 3900, b, a), ("R", 2800, 4600, b, a),
             ("Q", 2100, 3000, b, a)]
    blocks = chain(trips, start=lambda t: t[1], end=lambda t: t[2], group=lambda t: t[0], first_pos=lambda t: t[3],
                   last_pos=lambda t: t[4], min_layover=lambda t: 180)
    assert sorted(blocks) == [[0, 2], [1, 3], [4]]


def test_cairns_calendar_outside_its_window(cairns):
    # 2026-11-27 is a Friday; the feed ends 2014-12-28; its last Friday is Boxing Day (a holiday
    # exception), so the nearest ordinary Friday is used
    assert cairns.timetable_date(dt.date(2026, 11, 27)) == dt.date(2014, 12, 19)
    assert cairns.timetable_date(CAIRNS_DAY) == CAIRNS_DAY
    assert cairns.timetable_date(dt.date(2010, 1, 4)).weekday() == 0  # before the window: a Monday in it
    assert len(cairns.trips_on(CAIRNS_DAY)) == 622 and len(cairns.trips_on(dt.date(2014, 6, 6))) == 636


def test_cairns_blocks(cairns):
    blocks = cairns.blocks_on(CAIRNS_DAY)
    trips = [t for b in blocks for t in b.trips]
    assert len(trips) == len(set(t.trip_id for t in trips)) == 622
    for b in blocks:
        for x, y in zip(b.trips, b.trips[1:]):
            assert y.start >= x.end + 180 and y.route.route_id == x.route.route_id
    in_service_at_8 = sum(1 for b in blocks if b.start - 120 <= 8 * 3600 <= b.end)
    assert 35 <= in_service_at_8 <= 60
    assert len({b.vehicle_id for b in blocks}) == len(blocks)
