"""Schedule fidelity, incidents, surges and the published stop schedule.

Arrivals are derived the way the processing layer derives them: the first report of a trip at a
new stop_sequence, against the stop_schedule row of that trip and stop.
"""

import datetime as dt
import statistics
from collections import Counter

from simulators.engine import Simulation, SurgeSpec
from simulators.network import Network
from streamcity.kernel.schemas import STOP_SCHEDULE, event_key

from .conftest import CAIRNS_DAY, QUIET, WEEKDAY, run

ON_TIME = (-60, 300)  # seconds early / late


def arrivals(ticks, schedule):
    """[(trip_id, stop_sequence, seconds late)] from the vehicle reports."""
    out, seen = [], set()
    for tick in ticks:
        for r in tick.vehicles:
            if r.trip_id and r.stop_sequence is not None and (r.trip_id, r.stop_sequence) not in seen:
                seen.add((r.trip_id, r.stop_sequence))
                row = schedule.get((r.trip_id, r.stop_sequence))
                if row is not None:
                    out.append((r.trip_id, r.stop_sequence, (r.timestamp - row.scheduled_arrival).total_seconds()))
    return out


def schedule_of(ticks):
    return {(e.trip_id, e.stop_sequence): e for tick in ticks for e in tick.schedule}


def on_time_share(lateness):
    return sum(ON_TIME[0] <= s <= ON_TIME[1] for s in lateness) / len(lateness)


def test_without_incidents_or_breakdowns_most_arrivals_are_on_time(city):
    sim = Simulation(city, seed=11, start=dt.time(7, 30), date=WEEKDAY, vehicles=60, **QUIET)
    ticks = run(sim, 2700, tick=3)
    found = arrivals(ticks, schedule_of(ticks))
    assert len(found) > 1500
    assert on_time_share([s for *_, s in found]) >= 0.85


def test_an_incident_on_a_line_makes_the_arrivals_behind_it_late(city):
    def simulate(with_incident: bool):
        sim = Simulation(city, seed=12, start=dt.time(10), date=WEEKDAY, **QUIET)
        target = next(v for v in sorted(sim.vehicles, key=lambda v: v.vehicle_id)
                      if v.trip.route.route_id == "B12" and v.phase == "driving" and v.next < len(v.trip.dists) - 8)
        trip = target.trip
        where = trip.shape.at(trip.dists[target.next + 1])  # just ahead of that bus
        if with_incident:
            sim.add_incident(type="road_closure", lat=where[0], lon=where[1], radius=400, severity=5, minutes=60)
        beyond = trip.stop_seqs[target.next + 3]
        return run(sim, 3600, tick=5), {trip.trip_id}, beyond

    calm, [trip_id], beyond = simulate(False)
    jammed, _, _ = simulate(True)
    incident_events = [e for t in jammed for e in t.incidents]
    assert [e.status for e in incident_events] == ["active", "cleared"]
    assert incident_events[0].incident_id == incident_events[1].incident_id

    def late_behind(ticks):
        return [s for t, seq, s in arrivals(ticks, schedule_of(ticks)) if t == trip_id and seq >= beyond]

    before, after = late_behind(calm), late_behind(jammed)
    assert before and after
    assert on_time_share(before) >= 0.8
    assert statistics.median(after) > 300  # late
    assert statistics.median(after) - statistics.median(before) > 240
    # the whole line suffers, not only that bus: more of its arrivals are late
    def late_share(ticks):
        trips = {t.trip_id for t in city.trips if t.route.route_id == "B12"}
        found = [s for t, _, s in arrivals(ticks, schedule_of(ticks)) if t in trips]
        return sum(s > 300 for s in found) / len(found)

    assert late_share(jammed) > late_share(calm) + 0.05


def test_a_surge_makes_a_tap_spike_at_its_stop(city):
    stop = "CS-T"  # the tram stop at Centraal

    def taps(surges):
        sim = Simulation(city, seed=13, start=dt.time(11), date=WEEKDAY, surges=surges, **QUIET)
        start = sim.now
        counts = Counter()
        for tick in run(sim, 2400, tick=10):
            for t in tick.taps:
                if t.stop_id == stop:
                    counts[int((t.timestamp - start).total_seconds() // 600)] += 1
        return counts

    plain = taps([])
    surged = taps([SurgeSpec.parse(f"{stop}@11:10x8")])
    # the surge runs 11:10 - 11:25: the window 11:10 - 11:20 has several times the usual taps
    assert surged[1] >= 4 * max(plain[1], 1)
    assert surged[0] == plain[0]  # nothing changes before it


def test_the_stop_schedule_of_the_day_is_published_at_the_start(city):
    sim = Simulation(city, seed=1, start=dt.time(12), date=WEEKDAY, **QUIET)
    first = sim.tick(1.0)
    keys = [event_key(STOP_SCHEDULE, e) for e in first.schedule]
    assert len(keys) == len(set(keys))
    origin = dt.datetime.combine(WEEKDAY, dt.time(0), tzinfo=city.tz)
    running = [t for t in city.trips_on(WEEKDAY) if origin + dt.timedelta(seconds=t.end) > sim.now]
    assert len(first.schedule) >= sum(len(t.stop_ids) for t in running)
    row = next(e for e in first.schedule if e.trip_id == running[-1].trip_id and e.stop_sequence == 1)
    assert row.scheduled_arrival == origin + dt.timedelta(seconds=running[-1].arr[0])
    assert row.service_date == WEEKDAY and row.stop_id == running[-1].stop_ids[0]
    assert not sim.tick(1.0).schedule  # once


def test_the_next_days_schedule_is_published_before_midnight(city):
    sim = Simulation(city, seed=1, start=dt.time(20, 30), date=WEEKDAY, speed=60, vehicles=10, **QUIET)
    days = Counter()
    for tick in run(sim, 300, tick=5):  # 20:30 -> 01:30
        days.update(e.service_date for e in tick.schedule)
    assert days[WEEKDAY] > 0 and days[WEEKDAY + dt.timedelta(days=1)] > 0
    assert sim.local_now.date() == WEEKDAY + dt.timedelta(days=1)
    assert sim.vehicles  # night buses


def test_the_simulator_runs_on_cairns(cairns):
    sim = Simulation(cairns, seed=3, start=dt.time(8), date=CAIRNS_DAY, **QUIET)
    assert 35 <= len(sim.vehicles) <= 60
    trips = {t.trip_id: t for t in cairns.trips}
    ticks = run(sim, 1800, tick=3)
    for tick in ticks[::10]:
        for r in tick.vehicles:
            assert r.vehicle_type == "bus" and 0 <= r.passenger_count <= r.capacity
            if r.trip_id:
                assert trips[r.trip_id].shape.distance_to((r.latitude, r.longitude)) < 30
    found = arrivals(ticks, schedule_of(ticks))
    assert len(found) > 300 and on_time_share([s for *_, s in found]) >= 0.85
    assert sum(len(t.taps) for t in ticks) > 100


def test_cairns_today_runs_the_nearest_timetable_day_and_says_so(cairns):
    sim = Simulation(cairns, seed=3, start=dt.time(9), date=dt.date(2026, 11, 27), **QUIET)
    assert sim.timetable_note() == ("2026-11-27 (Fri) has no service in the feed: running the timetable of "
                                    "2014-12-19 (Fri, same weekday)")
    assert sim.service_state()["timetable_date"] == dt.date(2014, 12, 19)
    assert sim.service_state()["reason"] == "same weekday"
    assert len(sim.vehicles) > 20
    tick = sim.tick(1.0)
    assert {e.service_date for e in tick.schedule} == {dt.date(2026, 11, 27)}
    assert tick.vehicles[0].timestamp.date() == dt.date(2026, 11, 26)  # 09:00 in Brisbane is 23:00 UTC


def test_a_feed_with_one_service_day_runs_it_on_any_other_weekday_and_says_so(tmp_path):
    """A calendar with service on one Tuesday only, run on a Friday: no same weekday has service, so
    the nearest date with service runs (never zero vehicles in silence)."""
    from transit.gtfs.parse import parse_feed
    from transit.gtfs.reader import FeedSource

    from ..transit.gtfs_samples import write_feed

    folder = write_feed(tmp_path / "one-day", {
        "calendar.txt": None,
        "calendar_dates.txt": "service_id,date,exception_type\nWK,20260106,1\n",
    })
    with FeedSource(folder) as src:
        network = Network(parse_feed(src), name="one-day")
    assert network.service_day(dt.date(2026, 1, 9)) == (dt.date(2026, 1, 6), "nearest with service")
    assert network.service_day(dt.date(2026, 1, 13)) == (dt.date(2026, 1, 6), "same weekday")
    assert network.service_day(dt.date(2026, 1, 6)) == (dt.date(2026, 1, 6), "requested")
    sim = Simulation(network, seed=1, start=dt.time(7, 59), date=dt.date(2026, 1, 9), **QUIET)
    assert "running the timetable of 2026-01-06 (Tue, nearest with service)" in sim.timetable_note()
    assert sim.service_state()["reason"] == "nearest with service"
    assert len(sim.vehicles) == 1  # T1 leaves at 08:00: laying over at its first stop
    assert sim.tick(1.0).vehicles[0].status == "layover"
    early = Simulation(network, seed=1, start=dt.time(5, 0), date=dt.date(2026, 1, 9), **QUIET)
    assert early.idle_note() == "nothing scheduled now: service starts Fri 2026-01-09 08:00"
