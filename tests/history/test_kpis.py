"""The simulator drives the pipeline on the in-process bus through a peak hour; the KPIs the
database computes are checked against figures computed here, independently, from the stop events
and from the simulator's own record of its vehicles' calls. Runs on SQLite, and on PostgreSQL when
DATABASE_URL points there (the CI runs both)."""

import datetime as dt
import random
from collections import defaultdict

import pytest

import simulators.network as network_module
from simulators.city import generate_city
from simulators.engine import Simulation
from simulators.network import Network
from streamcity.kernel.bus import Decoded, topic_specs
from streamcity.kernel.bus.memory import MemoryBus
from streamcity.kernel.registry import registry
from streamcity.kernel.schemas import TOPICS, decode
from streamcity.kernel.schemas import StopEvent as StopEventMessage
from transit.history.kpis import (
    FREQUENT_SECONDS,
    MAX_HEADWAY,
    Period,
    average_wait,
    crowding,
    hours,
    on_time,
    service,
    service_kpis,
)
from transit.history.rollup import FIELDS, rebuild
from transit.history.sink import HistorySink
from transit.models import KpiHour, ScheduledTrip, StopEvent
from transit.timetable import punctuality_setting

pytestmark = pytest.mark.slow  # a simulated hour through the pipeline and the database

WEEKDAY = dt.date(2026, 11, 25)
REPORT_SECONDS = 5.0


def drive(sim: Simulation, seconds: float) -> list[Decoded]:
    """`seconds` of the simulation, reported every REPORT_SECONDS, through live-vehicles + stop-events as
    runprocessors runs them; the records the history consumer would read."""
    bus = MemoryBus(partitions=3)
    bus.ensure_topics(topic_specs(3))
    for _ in range(int(seconds / REPORT_SECONDS)):
        Simulation.publish(bus, sim.tick(REPORT_SECONDS))
    _, workers = registry.processors(bus, only=["live-vehicles", "stop-events"], catch_up=False)
    consumers = [(w, bus.consumer(w.group_id, list(w.topics))) for w in workers]
    reference = workers[0].handle
    while not reference.data.ready.is_set():  # the timetable first (the stages wait for it)
        workers[0].step(consumers[0][1])
    idle = 0
    while idle < 3:  # every worker read nothing three rounds in a row: all is through
        read = sum(w.step(c) for w, c in consumers)
        idle = idle + 1 if read == 0 else 0
    for _, c in consumers:
        c.close()
    records = []
    with bus.consumer("history-test", [t.name for t in HistorySink.topics]) as c:
        while batch := c.consume(10000, 0.2):
            records += [Decoded(r, decode(TOPICS[r.topic].schema, r.value)) for r in batch]
    return records


@pytest.fixture(scope="module")
def peak_hour():
    """One simulated hour (07:30-08:30 local, a weekday) of 70 vehicles, reported every 5 s."""
    network = Network(generate_city(), name="builtin")
    sim = Simulation(network, seed=11, start=dt.time(7, 30), date=WEEKDAY, vehicles=70, record_calls=True,
                     breakdown_rate=0.0, incident_rate=0.0, surge_rate=0.0)
    records = drive(sim, 3600)
    return sim, dt.datetime.fromtimestamp(sim.t, dt.timezone.utc), records


@pytest.fixture
def stored(peak_hour, db):
    """The history consumer stores them (in its batches); the number of stop events."""
    sink = HistorySink(prune_every=0)
    _, _, records = peak_hour
    for i in range(0, len(records), 2000):
        sink(records[i:i + 2000])
    return sink


@pytest.fixture
def kpis(peak_hour, stored):
    _, end, _ = peak_hour
    return {t.name: t for t in service_kpis(Period.day(WEEKDAY), now=end)}


def rows(table):
    return [dict(zip(table.columns, r, strict=True)) for r in table.rows]


def events():
    return list(StopEvent.objects.all())


def test_stop_events_match_the_simulated_calls(peak_hour, stored):
    sim, _, _ = peak_hour
    sink = stored
    stored = {(e.vehicle_id, e.trip_id, e.stop_sequence): e for e in events()}
    assert sink.stop_events > 2000 and len(stored) > 2000
    calls = [c for c in sim.calls if c.dwell > 0]
    arrivals = [(stored[(c.vehicle_id, c.trip_id, c.stop_sequence)].arrival.timestamp() - c.t)
                for c in calls if (c.vehicle_id, c.trip_id, c.stop_sequence) in stored
                and stored[(c.vehicle_id, c.trip_id, c.stop_sequence)].observed
                and stored[(c.vehicle_id, c.trip_id, c.stop_sequence)].arrival is not None]
    assert len(arrivals) > 0.8 * len(calls) * 0.5  # most calls with a dwell are seen (not passed between reports)
    # an arrival is seen at the first report at or after it: within one report interval
    assert all(-0.01 <= d <= REPORT_SECONDS + 0.01 for d in arrivals), max(arrivals)


def test_on_time_performance_matches_the_stop_events(kpis):
    p = punctuality_setting()
    period = Period.day(WEEKDAY)
    counts = defaultdict(int)
    for e in events():
        if e.departure is None or e.timepoint is False or not period.start <= e.scheduled < period.end:
            continue
        d = (e.departure - e.scheduled).total_seconds()
        counts["n"] += 1
        counts["early"] += d < -p.early_seconds
        counts["late"] += d > p.late_seconds
    [total] = [r for r in rows(kpis["on_time_by_route"]) if r["route_id"] == "(all)"]
    assert counts["n"] > 500
    assert (total["departures"], total["early"], total["late"]) == (counts["n"], counts["early"], counts["late"])
    on_time = 100 * (counts["n"] - counts["early"] - counts["late"]) / counts["n"]
    assert total["on_time_pct"] == pytest.approx(on_time, abs=0.05)
    assert sum(r["departures"] for r in rows(kpis["on_time_by_route_hour"])) == counts["n"]


def test_excess_wait_time_matches_the_stop_events(kpis):
    period = Period.day(WEEKDAY)
    groups = defaultdict(list)  # a headway is the gap to the departure before, whenever that was
    for e in events():
        if e.departure is not None and e.timepoint is not False:
            groups[(e.route_id, e.direction_id, e.stop_id)].append(e)
    actual, scheduled = defaultdict(list), defaultdict(list)  # (route, hour) -> headways
    for (route, _, _), calls in groups.items():
        for key, into, positive in (("departure", actual, False), ("scheduled", scheduled, True)):
            times = sorted(getattr(c, key).timestamp() for c in calls)
            for a, b in zip(times, times[1:]):
                h = b - a
                if (h > 0 or not positive) and h <= MAX_HEADWAY and period.start.timestamp() <= b < period.end.timestamp():
                    into[(route, int(b // 3600))].append(h)
    by_route = defaultdict(lambda: ([], []))
    for key, hs in scheduled.items():
        if sum(hs) / len(hs) <= FREQUENT_SECONDS:
            by_route[key[0]][0].extend(actual.get(key, []))
            by_route[key[0]][1].extend(hs)
    table = {r["route_id"]: r for r in rows(kpis["headways_by_route"])}
    assert set(table) == set(by_route) and len(table) >= 3
    for route, (h, hs) in by_route.items():
        awt = average_wait(sum(h), sum(x * x for x in h))
        swt = average_wait(sum(hs), sum(x * x for x in hs))
        assert table[route]["pairs"] == len(h)
        assert table[route]["ewt_s"] == pytest.approx(awt - swt, abs=0.06), route
    # bunching on frequent lines makes waits longer than scheduled on the whole
    assert sum(r["ewt_s"] * r["pairs"] for r in table.values()) > 0


def test_trips_operated_match_the_simulation(peak_hour, kpis):
    sim, end, _ = peak_hour
    due = end - dt.timedelta(minutes=10)
    trips = {t.trip_id: t for t in ScheduledTrip.objects.all()}
    ran = {c.trip_id for c in sim.calls}
    first = min(trips[t].start for t in ran if t in trips)
    last = min(due, max(trips[t].start for t in ran if t in trips))
    expected_due = {t for t, s in trips.items() if first <= s.start <= last}
    expected_operated = {t for t in ran if t in expected_due}
    [total] = [r for r in rows(kpis["service_by_route"]) if r["route_id"] == "(all)"]
    assert total["operated"] == len(expected_operated) > 50
    assert total["due"] == len(expected_due)
    assert total["missed"] == len(expected_due - expected_operated) > 0  # the fleet cap leaves trips unrun
    ghost = sum((trips[t].end - trips[t].start).total_seconds() / 60 for t in expected_due - expected_operated)
    assert total["ghost_minutes"] == pytest.approx(ghost, abs=0.1)


def test_crowding_counts_every_timepoint_departure(kpis):
    by_route = rows(kpis["crowding_by_route"])
    [otp] = [r for r in rows(kpis["on_time_by_route"]) if r["route_id"] == "(all)"]
    assert sum(r["departures"] for r in by_route) == otp["departures"]
    for r in by_route:
        assert r["lf_under_50"] + r["lf_50_80"] + r["lf_80_100"] + r["lf_full"] == r["departures"]
        assert 0 <= r["mean_load_factor"] <= 1


def assert_same_hours(a, b):
    assert a.keys() == b.keys() and len(a) > 20
    for key in a:
        assert a[key] == b[key], (key, list(zip(FIELDS, a[key], b[key], strict=True)))


def test_the_rollup_equals_the_figures_of_the_stop_events(peak_hour, kpis):
    """The KPI page reads the roll-up the history consumer kept; the same tables from the stop events."""
    _, end, _ = peak_hour
    period = Period.day(WEEKDAY)
    assert_same_hours(hours(period, "rollup"), hours(period, "raw"))
    assert KpiHour.objects.filter(a_pairs__gt=0).exists() and KpiHour.objects.filter(trips_full__gt=0).count() == 0
    raw = {t.name: t for t in service_kpis(period, now=end, source="raw")}
    assert raw.keys() == kpis.keys()
    for name, table in kpis.items():
        assert table.rows == raw[name].rows, name
    # rebuilt from the stop events (manage.py historyrollup): the same roll-up
    before = hours(period, "rollup")
    assert rebuild(period.start, period.end) == len(before)
    assert_same_hours(hours(period, "rollup"), before)


def test_the_rollup_is_the_same_in_any_arrival_order_and_read_twice(peak_hour, db):
    """Stop events arriving out of order (another partition, a lagging consumer), in small batches, some
    of them read twice (a restart): every headway pair adjusted around each new departure, nothing
    counted twice."""
    _, end, records = peak_hour
    rng = random.Random(3)
    schedule = [d for d in records if not isinstance(d.event, StopEventMessage)]
    calls = [d for d in records if isinstance(d.event, StopEventMessage)]
    rng.shuffle(calls)
    sink = HistorySink(prune_every=0)
    sink(schedule)
    for i in range(0, len(calls), 250):
        sink(calls[i:i + 250] + rng.sample(calls[:i + 250], 20))
    period = Period.day(WEEKDAY)
    assert sink.stop_events == StopEvent.objects.count() == len({
        (c.event.trip_id, c.event.trip_start, c.event.stop_sequence, c.event.vehicle_id) for c in calls})
    assert_same_hours(hours(period, "rollup"), hours(period, "raw"))
    assert service(period, end).rows == service(period, end, "raw").rows


def test_a_changed_punctuality_window_is_counted_again(peak_hour, stored, settings):
    period = Period.day(WEEKDAY)
    settings.STREAMCITY_LATE_SECONDS = 60
    assert on_time(period) == on_time(period, "raw")
    assert on_time(period)[1].rows[-1][4] > 0  # late departures under the stricter window
    with pytest.raises(ValueError, match="unknown KPI source"):
        on_time(period, "cache")


def test_riders_left_behind_from_the_simulator_to_the_crowding_kpi(monkeypatch, db):
    """Vehicles of 12 places fill up at the morning peak: the simulator reports the riders it could not
    take, the stop-events stage keeps them on the stop's call, the crowding KPI counts them per route and
    hour; all against the simulator's own record."""
    for kind in list(network_module.CAPACITY):
        monkeypatch.setitem(network_module.CAPACITY, kind, 12)
    sim = Simulation(Network(generate_city(), name="builtin"), seed=11, start=dt.time(7, 30), date=WEEKDAY,
                     vehicles=30, record_calls=True, breakdown_rate=0.0, incident_rate=0.0, surge_rate=0.0)
    records = drive(sim, 900)
    sink = HistorySink(prune_every=0)
    for i in range(0, len(records), 2000):
        sink(records[i:i + 2000])
    stored = {(e.vehicle_id, e.trip_id, e.stop_sequence): e.left_behind for e in StopEvent.objects.all()}
    expected = {k: n for k, n in sim.left_behind.items() if k in stored}
    assert len(expected) > 10 and sum(expected.values()) > 50
    # every call with riders left behind carries them (a call whose last reports missed some carries fewer)
    assert sum(stored[k] == n for k, n in expected.items()) >= 0.9 * len(expected)
    assert all(stored[k] <= n for k, n in expected.items())
    assert all(n == 0 for k, n in stored.items() if k not in sim.left_behind)
    period = Period.day(WEEKDAY)
    by_hour, by_route = crowding(period)
    total = sum(stored.values())
    assert sum(r[-1] for r in by_route.rows) == sum(r[-1] for r in by_hour.rows) == total
    assert crowding(period, "raw") == (by_hour, by_route)
    per_route = defaultdict(int)
    for e in StopEvent.objects.all():
        per_route[e.route_id] += e.left_behind
    assert {r[0]: r[-1] for r in by_route.rows if r[-1]} == {k: v for k, v in per_route.items() if v}
    assert by_route.columns[-2:] == ["trips_full", "left_behind"] and sum(r[-2] for r in by_route.rows) > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_two_history_consumers_writing_at_once_keep_the_rollup_exact(peak_hour):
    """Two consumers of the group (the stop events partitioned by vehicle, as the topic's key does) write
    at once, each in its own connection: their departures at the same stops interleave, and the roll-up
    still equals the stop events' figures (the writers' advisory lock)."""
    import threading

    from django.db import connection

    _, end, records = peak_hour
    schedule = [d for d in records if not isinstance(d.event, StopEventMessage)]
    calls = [d for d in records if isinstance(d.event, StopEventMessage)]
    HistorySink(prune_every=0)(schedule)
    parts = [[d for d in calls if sum(map(ord, d.event.vehicle_id)) % 2 == k] for k in (0, 1)]
    errors = []

    def consume(part):
        try:
            sink = HistorySink(prune_every=0)
            for i in range(0, len(part), 40):
                sink(part[i:i + 40])
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=consume, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(parts)
    period = Period.day(WEEKDAY)
    assert_same_hours(hours(period, "rollup"), hours(period, "raw"))
    assert service(period, end).rows == service(period, end, "raw").rows
