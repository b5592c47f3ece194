"""The built-in city: a valid GTFS feed, generated deterministically, that looks like a real network."""

import datetime as dt
from collections import Counter, defaultdict

from django.conf import settings

from simulators.city import CITY_CENTRE, city_bounds_ok, generate_city, write_city
from simulators.geo import Polyline, bearing_deg, haversine_m
from transit.gtfs.parse import parse_feed
from transit.gtfs.reader import FeedSource

from .conftest import WEEKDAY


def test_it_is_a_valid_feed_that_reads_back_the_same(tmp_path, city_feed):
    write_city(tmp_path / "city")
    with FeedSource(tmp_path / "city") as src:
        again = parse_feed(src)
    assert again.warnings == []
    assert again.trips == city_feed.trips and again.stops == city_feed.stops and again.routes == city_feed.routes


def test_same_seed_same_city_other_seed_other_city(city_feed):
    assert generate_city() == city_feed
    assert generate_city(seed=1).stops != city_feed.stops


def test_size_and_modes(city_feed):
    counts = city_feed.counts()
    assert 200 <= counts["stops"] <= 600  # "a few hundred stops"
    modes = Counter(r.vehicle_type for r in city_feed.routes)
    assert modes["bus"] >= 8 and modes["tram"] >= 1 and modes["rail"] >= 1
    assert city_bounds_ok(city_feed)
    # the map opens where the city is
    lat, lon = settings.LEAFLET_CONFIG["DEFAULT_CENTER"]
    assert haversine_m((lat, lon), CITY_CENTRE) < 3000


def test_lines_are_curved(city_feed):
    for shape in city_feed.shapes:
        line = Polyline(shape.points)
        straight = haversine_m(shape.points[0], shape.points[-1])
        assert line.length > 1.03 * straight, shape.shape_id
        turns = [bearing_deg(a, b) for a, b in zip(shape.points[::10], shape.points[10::10])]
        changes = [min(abs(a - b), 360 - abs(a - b)) for a, b in zip(turns, turns[1:])]
        assert max(changes) > 10 and sum(changes) > 60, shape.shape_id


def test_stops_are_shared_where_lines_meet(city_feed):
    routes_at = defaultdict(set)
    for t in city_feed.trips:
        for st in t.stop_times:
            routes_at[st.stop_id].add(t.route_id)
    hubs = [s for s, r in routes_at.items() if len(r) >= 3]
    assert "CS-B" in hubs and len(hubs) >= 5


def test_whole_day_timetables_with_peaks(city_feed):
    weekday = [t for t in city_feed.trips if t.service_id in city_feed.services_on(WEEKDAY)]
    bus = [t for t in weekday if t.route_id == "B12" and t.direction_id == 0]
    per_hour = Counter(t.start // 3600 for t in bus)
    assert per_hour[8] > per_hour[11] > per_hour[22] > 0  # peak, off-peak, evening
    assert min(t.start for t in bus) < 6 * 3600 and max(t.end for t in bus) > 24 * 3600
    night = [t for t in weekday if t.route_id.startswith("N")]
    assert night and all(t.start >= 24 * 3600 for t in night)  # night buses run past 24:00
    weekend = city_feed.services_on(WEEKDAY + dt.timedelta(days=3))
    assert weekend == {"WE"}
    assert city_feed.services_on(dt.date(2026, 12, 25)) == {"WE"}  # a holiday runs the weekend timetable


def test_blocks_chain_trips_without_overlap(city_feed):
    blocks = defaultdict(list)
    for t in city_feed.trips:
        assert t.block_id
        blocks[t.block_id].append(t)
    for trips in blocks.values():
        trips.sort(key=lambda t: t.start)
        for a, b in zip(trips, trips[1:]):
            assert b.start - a.end >= 4 * 60  # a layover at the terminal
            assert a.stop_times[-1].stop_id == b.stop_times[0].stop_id  # from where the last one ended
    assert sum(len(v) for v in blocks.values()) == len(city_feed.trips)
