"""Vehicle physics and behaviour on the built-in city, without Django or a bus."""

import datetime as dt
from collections import Counter, defaultdict

from simulators.engine import Simulation
from simulators.geo import haversine_m
from simulators.vehicles import VMAX
from streamcity.kernel.schemas import VehicleLocation, decode, encode

from .conftest import QUIET, WEEKDAY, run


def test_same_seed_same_events(city):
    def events(seed):
        sim = Simulation(city, seed=seed, start=dt.time(8), date=WEEKDAY, vehicles=30, breakdown_rate=0.5,
                         incident_rate=6, surge_rate=2)
        return [encode(e) for t in run(sim, 300) for e in (*t.vehicles, *t.taps, *t.incidents)]

    a, b, c = events(3), events(3), events(4)
    assert a == b
    assert a != c


def test_positions_lie_on_the_trip_shape_and_speeds_are_plausible(city):
    sim = Simulation(city, seed=5, start=dt.time(7, 45), date=WEEKDAY, vehicles=60, **QUIET)
    trips = {t.trip_id: t for t in city.trips}
    seen = 0
    for tick in run(sim, 900)[::5]:
        for r in tick.vehicles:
            assert 0 <= r.speed <= VMAX[r.vehicle_type]
            assert 0 <= r.passenger_count <= r.capacity
            if r.trip_id:
                assert trips[r.trip_id].shape.distance_to((r.latitude, r.longitude)) < 30
                seen += 1
    assert seen > 5000


def test_vehicles_move_and_dwell_at_the_stops_they_serve(city):
    sim = Simulation(city, seed=2, start=dt.time(8), date=WEEKDAY, vehicles=40, record_calls=True, **QUIET)
    ticks = run(sim, 600)
    first = {r.vehicle_id: r for r in ticks[0].vehicles}
    last = {r.vehicle_id: r for r in ticks[-1].vehicles}
    moved = sum(haversine_m((first[k].latitude, first[k].longitude), (last[k].latitude, last[k].longitude)) > 200
                for k in first if k in last)
    assert moved >= 0.8 * len(first)
    for a, b in zip(ticks, ticks[1:]):
        prev = {r.vehicle_id: r for r in a.vehicles}
        for r in b.vehicles:
            p = prev.get(r.vehicle_id)
            if p and p.trip_id == r.trip_id:  # a vehicle never jumps along its trip
                assert haversine_m((p.latitude, p.longitude), (r.latitude, r.longitude)) <= VMAX[r.vehicle_type] + 1
    served = [c for c in sim.calls if c.boarded or c.alighted]
    assert len(served) > 100
    assert all(c.dwell > 0 for c in served)
    passed = [c for c in sim.calls if c.dwell == 0]
    assert passed, "buses pass stops where nobody gets on or off"
    assert all(c.boarded == c.alighted == 0 for c in passed)


def test_event_time_is_simulated_time(city):
    sim = Simulation(city, seed=1, start=dt.time(9), date=WEEKDAY, vehicles=5, speed=10, **QUIET)
    sim.tick(1.0)
    tick = sim.tick(1.0)
    start = dt.datetime.combine(WEEKDAY, dt.time(9), tzinfo=city.tz)
    assert {r.timestamp for r in tick.vehicles} == {start + dt.timedelta(seconds=20)}
    assert all(start <= t.timestamp <= start + dt.timedelta(seconds=20) for t in tick.taps)


def test_reports_are_valid_events(city):
    sim = Simulation(city, seed=1, start=dt.time(9), date=WEEKDAY, vehicles=20, **QUIET)
    for r in run(sim, 30)[-1].vehicles:
        assert decode(VehicleLocation, encode(r)) == r
        assert r.trip_id and r.next_stop_id and r.status == "in_service"


def test_the_fleet_follows_the_timetable_and_the_cap(city):
    def active(hour):
        return len(Simulation(city, seed=1, start=dt.time(hour), date=WEEKDAY, **QUIET).vehicles)

    peak, midday, night = active(8), active(12), active(3)
    assert peak > midday > night > 0  # night buses
    assert 100 <= peak <= 250
    sim = Simulation(city, seed=1, start=dt.time(7), date=WEEKDAY, vehicles=25, **QUIET)
    for tick in run(sim, 600, tick=6):
        assert len({r.vehicle_id for r in tick.vehicles}) <= 25


def test_loads_are_consistent_with_taps_and_never_over_capacity(city):
    sim = Simulation(city, seed=4, start=dt.time(7, 30), date=WEEKDAY, vehicles=50, record_calls=True, **QUIET)
    ticks = run(sim, 1800, tick=2)
    on_board_taps = Counter(t.vehicle_id for tick in ticks for t in tick.taps if t.vehicle_id)
    boarded = sim.boarded
    kinds = {}
    for tick in ticks:
        for r in tick.vehicles:
            kinds[r.vehicle_id] = r.vehicle_type
            assert 0 <= r.passenger_count <= r.capacity
    buses = [v for v, k in kinds.items() if k == "bus"]
    assert sum(boarded[v] for v in buses) > 500
    for v in buses:  # bus riders tap on board: one tap per boarding
        assert on_board_taps[v] == boarded[v]
    station_taps = sum(1 for tick in ticks for t in tick.taps if t.vehicle_id is None)
    assert station_taps > 500  # tram and rail riders tap at the stop
    assert max(r.passenger_count for tick in ticks for r in tick.vehicles) > 20


def test_breakdowns_stop_the_vehicle_then_it_is_towed_and_replaced(city):
    sim = Simulation(city, seed=9, start=dt.time(8), date=WEEKDAY, vehicles=40, breakdown_rate=3.0,
                     incident_rate=0, surge_rate=0)
    history = defaultdict(list)
    for tick in run(sim, 3600, tick=10):
        for r in tick.vehicles:
            history[r.vehicle_id].append(r)
    broken = {v: rs for v, rs in history.items() if any(r.status == "broken_down" for r in rs)}
    assert len(broken) >= 3
    towed = 0
    for v, rs in broken.items():
        down = [r for r in rs if r.status == "broken_down"]
        assert all(r.speed == 0 for r in down)
        assert len({(r.latitude, r.longitude) for r in down}) == 1  # it does not move
        assert all(r.next_stop_id is None for r in down)
        after = rs[rs.index(down[-1]) + 1:]
        if after:
            assert [r.status for r in after] == ["out_of_service"]  # towed away, then silent
            towed += 1
    assert towed >= 1
    assert any(v.endswith("R") for v in history), "a spare takes over the block"


def test_random_incidents_start_on_the_streets_and_clear(city):
    sim = Simulation(city, seed=21, start=dt.time(9), date=WEEKDAY, vehicles=60, breakdown_rate=0, incident_rate=20,
                     surge_rate=0)
    events = [e for tick in run(sim, 7200, tick=10) for e in tick.incidents]
    started = {e.incident_id: e for e in events if e.status == "active"}
    cleared = [e for e in events if e.status == "cleared"]
    assert len(started) >= 8 and cleared
    assert all(e.incident_id in started for e in cleared)
    assert {e.type for e in started.values()} <= {"accident", "road_closure", "heavy_traffic"}
    shapes = [t.shape for t in city.trips if t.route.vehicle_type in ("bus", "tram")]
    shapes = list({id(s): s for s in shapes}.values())
    for e in started.values():
        assert 1 <= e.severity <= 5 and 150 <= e.radius <= 450
        assert min(s.distance_to((e.latitude, e.longitude)) for s in shapes) < 5  # on a bus or tram route


def test_a_vehicle_runs_empty_between_distant_trips_of_its_block(tmp_path):
    """A block whose next trip starts 5 km away: out of service at the old terminal, then there."""
    from simulators.network import Network
    from transit.gtfs.parse import parse_feed
    from transit.gtfs.reader import FeedSource

    from ..transit.gtfs_samples import write_feed

    folder = write_feed(tmp_path, {
        "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nA,A,52.37,4.90\nB,B,52.38,4.90\nC,C,52.42,4.90\nD,D,52.43,4.90\n",
        "routes.txt": "route_id,route_short_name,route_type\nR,1,3\n",
        "trips.txt": "route_id,service_id,trip_id,block_id\nR,WK,T1,K\nR,WK,T2,K\n",
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                          "T1,08:00:00,08:00:00,A,1\nT1,08:04:00,08:04:00,B,2\n"
                          "T2,08:30:00,08:30:00,C,1\nT2,08:34:00,08:34:00,D,2\n",
        "shapes.txt": None,
    })
    with FeedSource(folder) as src:
        network = Network(parse_feed(src))
    sim = Simulation(network, seed=1, start=dt.time(7, 59), date=WEEKDAY, **QUIET)
    reports = [r for tick in run(sim, 2400, tick=10) for r in tick.vehicles]
    assert {r.vehicle_id for r in reports} == {"1-01"}
    empty = [r for r in reports if r.status == "out_of_service"]
    assert empty and all(haversine_m((r.latitude, r.longitude), (52.38, 4.90)) < 30 for r in empty[:-1])
    t2 = [r for r in reports if r.trip_id == "T2"]
    assert t2 and haversine_m((t2[0].latitude, t2[0].longitude), (52.42, 4.90)) < 30
    assert reports[-1].status == "out_of_service"  # the block is over
