"""The detection rules on their own: plain events in, alerts out. No Kafka, no database."""

import datetime as dt

import msgspec

from alerts.detection.breakdown import BreakdownDetector
from alerts.detection.bunching import BunchingDetector
from alerts.detection.clock import EventTimeBuffer, ReplayIndex
from alerts.detection.config import DetectionConfig
from alerts.detection.delay import DelayDetector
from transit.timetable import (
    Incidents, Progress, Schedule, ScheduledStop, StopProgress, deviation, punctuality,
)
from alerts.detection.silent import SilentDetector
from alerts.detection.surge import SurgeDetector

from .detection_scenarios import (
    T0, at, broken_down, bunched, delayed, drive, full_schedule, incident, on_time, silenced, taps,
)

CFG = DetectionConfig()


def schedule() -> Schedule:
    s = Schedule()
    for row in full_schedule():
        s.apply(row)
    return s


def run_vehicles(detector_apply, events, advance=None):
    """Events in time order through a per-vehicle rule, as the processor does."""
    progress = StopProgress()
    out = []
    for e in sorted(events, key=lambda e: e.timestamp):
        if advance:
            out += advance(e.timestamp)
        p, arrived = progress.observe(e)
        out += detector_apply(e, p, arrived)
    return out


# -- event time ----------------------------------------------------------------------------------

def test_the_buffer_releases_in_event_time_order_once_the_watermark_passes():
    buf = EventTimeBuffer(grace=dt.timedelta(seconds=30), idle_seconds=0)
    for s in (10, 5, 40, 20):
        buf.offer("p0", at(s), s, order="", dedupe=s, now=0)
    assert [item for _, item in buf.release(0)] == [5]  # watermark 40 - 30 = 10: only 5 is before it
    buf.offer("p0", at(75), 75, order="", dedupe=75, now=0)
    assert [item for _, item in buf.release(0)] == [10, 20, 40]


def test_an_event_older_than_the_watermark_is_dropped_and_counted():
    buf = EventTimeBuffer(grace=dt.timedelta(seconds=30), idle_seconds=0)
    buf.offer("p0", at(100), 100, order="", dedupe=100, now=0)
    buf.release(0)
    assert buf.offer("p0", at(69), 69, order="", dedupe=69, now=0) is False  # 31 s behind
    assert buf.offer("p0", at(71), 71, order="", dedupe=71, now=0) is True  # within the grace period
    assert buf.late == 1


def test_the_slowest_partition_holds_time_back_until_it_goes_idle():
    buf = EventTimeBuffer(grace=dt.timedelta(seconds=0), idle_seconds=5)
    buf.offer("p0", at(100), "a", order="", dedupe="a", now=0)
    buf.offer("p1", at(10), "b", order="", dedupe="b", now=0)
    assert buf.release(now=1) == []  # warming up
    assert [i for _, i in buf.release(now=5)] == []  # p1 is at 10: nothing before it yet
    buf.offer("p0", at(200), "c", order="", dedupe="c", now=8)
    assert [i for _, i in buf.release(now=8)] == ["b", "a"]  # p1 idle since 0: no longer waited for


def test_duplicates_held_at_once_are_released_once():
    buf = EventTimeBuffer(grace=dt.timedelta(seconds=0), idle_seconds=0)
    buf.offer("p0", at(1), "x", order="", dedupe=("v", 1), now=0)
    buf.offer("p0", at(1), "x", order="", dedupe=("v", 1), now=0)
    buf.offer("p0", at(9), "y", order="", dedupe=("v", 9), now=0)
    assert [i for _, i in buf.release(0)] == ["x"] and buf.duplicates == 1


def test_sources_read_far_apart_are_released_in_one_event_time_order_once():
    """Three partitions read in turns of 40 events (one ahead of the others by minutes, as in a
    replay), each a little out of order: every event comes out once, in (time, order) order."""
    import random

    rng = random.Random(5)
    streams = {}
    for p, lag in (("p0", 0), ("p1", 200), ("p2", 400)):
        times = [lag + i + rng.uniform(-3, 3) for i in range(300)]  # out of order within 6 s
        streams[p] = [(t, f"{p}-{i}") for i, t in enumerate(times)]
    buf = EventTimeBuffer(grace=dt.timedelta(seconds=10), idle_seconds=0)
    out, offered = [], []
    while any(streams.values()):
        for p in ("p2", "p0", "p1"):  # the one furthest ahead first
            turn, streams[p] = streams[p][:40], streams[p][40:]
            for t, name in turn:
                if buf.offer(p, T0 + dt.timedelta(seconds=t), name, order=name[-1], dedupe=name, now=0):
                    offered.append((T0 + dt.timedelta(seconds=t), name))
        out += buf.release(0)
    out += [(h.ts, h.item) for h in buf.drain()]  # the end of the input
    assert len(offered) > 800 and buf.late == 900 - len(offered)
    assert out == sorted(offered, key=lambda x: (x[0], x[1][-1])) and len(buf) == 0


def test_an_event_observed_again_gives_the_same_progress_once_shared():
    """vehicle-alerts and bunching share one StopProgress (one clock): the second rule to observe
    a report past a new stop must still see the arrival."""
    reports = sorted(drive("D-V1", "D", 3, on_time(3)), key=lambda e: e.timestamp)
    shared, alone = StopProgress(), StopProgress()
    arrivals = 0
    for e in reports:
        first, again = shared.observe(e), shared.observe(e)
        assert first == again == alone.observe(e)
        arrivals += first[1]
    assert arrivals >= 10
    repeat = msgspec.structs.replace(reports[-1])  # an equal report, another object: no second arrival
    assert repeat is not reports[-1] and alone.observe(repeat)[1] is False


def test_the_stops_around_a_report_follow_the_timetable_and_its_updates():
    sched = schedule()
    row = next(r for r in full_schedule() if r.stop_sequence == 2)
    trip = row.trip_id
    assert sched.around(trip, 2) == (sched.stop(trip, 2), sched.next_stop(trip, 2)) and sched.around(trip, 2)[1]
    assert sched.around(trip, None) == (None, sched.next_stop(trip, None))
    assert sched.around("no-such-trip", 2) is None and sched.around(None, 2) is None
    later = row.scheduled_arrival + dt.timedelta(minutes=3)
    sched.apply(msgspec.structs.replace(row, scheduled_arrival=later))  # the timetable changes
    assert sched.around(trip, 2)[0].arrival == later


def test_a_deviation_follows_the_timetable_when_it_changes_under_a_vehicle():
    """measure() keeps the stops around a vehicle on its progress; a timetable update is seen."""
    from transit.timetable import measure

    sched = schedule()
    report = next(e for e in sorted(drive("D-V1", "D", 3, on_time(3)), key=lambda e: e.timestamp)
                  if e.stop_sequence == 3)
    progress, _ = StopProgress().observe(report)
    before = measure(report, progress, sched)
    assert measure(report, progress, sched) == before and progress.around is not None
    row = next(r for r in full_schedule() if r.trip_id == report.trip_id and r.stop_sequence == 4)
    sched.apply(msgspec.structs.replace(row, scheduled_arrival=report.timestamp - dt.timedelta(minutes=10)))
    assert measure(report, progress, sched) == 600  # now 10 minutes past the next stop's time
    other = Progress("other-trip", 1, None)  # not the report's progress: nothing kept on it
    assert measure(report, other, sched) == 600 and other.around is None


def test_draining_releases_everything_held_and_what_comes_after_is_late():
    buf = EventTimeBuffer(grace=dt.timedelta(seconds=30), idle_seconds=0)
    for s in (20, 10, 40):
        buf.offer("p0", at(s), s, order="", dedupe=s, now=0)
    buf.offer("p1", at(35), 35, order="", dedupe=35, now=0)
    assert buf.release(0) == []  # watermark 35 - 30 = 5: the whole run is within the grace period
    drained = buf.drain()
    assert [h.item for h in drained] == [10, 20, 35, 40] and [h.source for h in drained] == ["p0", "p0", "p1", "p0"]
    assert len(buf) == 0 and buf.watermark > at(40)
    assert buf.offer("p1", at(39), 39, order="", dedupe=39, now=0) is False and buf.late == 1
    assert buf.drain() == []


def test_the_replay_index_keeps_the_span_behind_the_watermark_readable():
    idx = ReplayIndex(dt.timedelta(seconds=60))
    for offset, s in enumerate(range(0, 300, 10)):
        idx.note("p0", at(s), offset)
    assert idx.retained(at(50)) == {"p0": 0}
    assert idx.retained(at(200)) == {"p0": 13}  # the record at 130 s: everything from 140 s is after it


# -- schedule deviation ------------------------------------------------------------------------

def stop(seq, seconds):
    return ScheduledStop(seq, f"S{seq}", "R", at(seconds))


def test_deviation_is_measured_at_the_stop_from_the_first_report_past_it():
    assert deviation(at(320), stop(3, 240), stop(4, 360), arrived_at=at(300)) == 60
    assert deviation(at(400), stop(3, 240), stop(4, 360), arrived_at=at(300)) == 60
    assert deviation(at(500), stop(3, 240), stop(4, 360), arrived_at=at(300)) == 140  # not yet at stop 4, due at 360


def test_deviation_without_the_arrival_is_only_what_is_certain():
    assert deviation(at(250), stop(3, 240), stop(4, 360), arrived_at=None) == 0  # arrived by 250: at most 10 s late
    assert deviation(at(200), stop(3, 240), stop(4, 360), arrived_at=None) == -40  # already past at 200: early
    assert deviation(at(900), stop(3, 240), stop(4, 360), arrived_at=None) == 540  # not at stop 4, due at 360


def test_deviation_is_the_floor_of_the_worst_lateness_in_seconds_to_the_microsecond():
    """deviation() works in whole seconds from the timedeltas' parts; it must give what flooring
    the worst lateness in (float) seconds gives, around every boundary: fractions of a second,
    early and late, before the first stop, with and without the arrival."""
    import math
    import random

    def by_floats(now, last, nxt, arrived_at):
        worst = None
        if last is not None:
            worst = ((arrived_at - last.arrival).total_seconds() if arrived_at is not None
                     else min(0.0, (now - last.arrival).total_seconds()))
        if nxt is not None:
            behind = (now - nxt.arrival).total_seconds()
            if worst is None:
                worst = max(0.0, behind)
            elif behind > 0 and behind > worst:
                worst = behind
        return None if worst is None else int(math.floor(worst))

    rng = random.Random(5)
    offsets = [0, 1, -1, 999_999, -999_999, 500_000, -500_000, 1_000_000, -1_000_000]
    usec = dt.timedelta(microseconds=1)
    for _ in range(20_000):
        now = at(rng.choice([0, 600, 3600])) + rng.choice(offsets) * usec
        last = stop(3, rng.randint(-3, 3) * 300) if rng.random() < 0.8 else None
        nxt = stop(4, rng.choice([-1, 0, 1]) * rng.choice([0, 1, 2, 60])) if rng.random() < 0.8 else None
        if nxt is not None:
            nxt = ScheduledStop(4, "S4", "R", now + rng.choice(offsets) * usec + (nxt.arrival - at(0)))
        arrived = now - dt.timedelta(seconds=rng.randint(0, 400)) + rng.choice(offsets) * usec
        arrived_at = arrived if rng.random() < 0.7 else None
        case = (now, last, nxt, arrived_at)
        assert deviation(*case) == by_floats(*case), case


def test_punctuality_bands():
    assert [punctuality(d, early_seconds=60, late_seconds=300) for d in (-61, -60, 0, 300, 301)] == [
        "early", "on_time", "on_time", "on_time", "late"]


# -- surges ------------------------------------------------------------------------------------

def test_a_surge_gives_one_alert_per_stop_and_window_updated_then_cleared():
    det = SurgeDetector(window_seconds=300, threshold=60)
    events = sorted(taps("S5", 1500, 80, 300) + taps("S5", 1500, 10, 300) + taps("S2", 1500, 59, 300),
                    key=lambda e: e.timestamp)
    out = []
    for e in events:
        out += det.advance(e.timestamp) + det.apply(e)
    out += det.advance(at(2400))
    assert {a.alert_key for a in out} == {"surge:S5:2026-11-27T08:25:00Z"}
    assert [(a.state, a.tap_count, a.timestamp) for a in out] == [
        ("open", 60, out[0].timestamp), ("open", 90, at(1800)), ("cleared", 90, at(2100))]
    assert out[0].window_start == at(1500) and out[0].window_end == at(1800) and out[0].threshold == 60


def test_a_tap_counted_twice_is_counted_once():
    det = SurgeDetector(window_seconds=300, threshold=3)
    [tap] = taps("S1", 0, 1, 10)
    assert det.apply(tap) == [] and det.apply(tap) == [] and det.duplicates == 1


def test_a_window_not_seen_from_its_start_is_never_reported():
    det = SurgeDetector(window_seconds=300, threshold=5)
    out = []
    for e in sorted(taps("S1", 100, 20, 150), key=lambda e: e.timestamp):
        out += det.apply(e, partial_before=at(130))
    assert out + det.advance(at(900)) == []


# -- delays ------------------------------------------------------------------------------------

def test_a_vehicle_held_behind_an_incident_is_late_then_recovers():
    det = DelayDetector(CFG, schedule())
    out = run_vehicles(lambda e, p, a: det.apply(e, p), [e for e in delayed() if hasattr(e, "vehicle_id")])
    assert {a.alert_key for a in out} == {"delay:D-T3:D-V1"}
    assert out[0].state == "open" and out[0].delay_seconds > 300 and out[0].stop_id == "DS3"
    assert max(a.delay_seconds for a in out) >= 420
    assert out[-1].state == "cleared" and out[-1].delay_seconds <= 240
    assert all(a.state == "open" for a in out[:-1])


def test_an_on_time_vehicle_raises_nothing():
    # 270 s late at the first stop, it leaves after its 20 s dwell: 290 s late, under the 300 s threshold
    det = DelayDetector(CFG, schedule())
    assert run_vehicles(lambda e, p, a: det.apply(e, p), drive("V", "D", 1, on_time(1, late=270))) == []


def test_a_vehicle_leaving_its_first_stop_late_is_late_from_its_departure():
    # it reaches the first stop 290 s late and dwells 20 s: it leaves 310 s late (arrival-based: 290)
    det = DelayDetector(CFG, schedule())
    out = run_vehicles(lambda e, p, a: det.apply(e, p), drive("V", "D", 1, on_time(1, late=290)))
    assert out and out[0].state == "open" and out[0].stop_sequence == 1 and 300 < out[0].delay_seconds <= 320


# -- breakdowns --------------------------------------------------------------------------------

def test_a_reported_breakdown_opens_one_alert_that_clears_when_withdrawn():
    det = BreakdownDetector(CFG, schedule(), Incidents())
    out = run_vehicles(lambda e, p, a: det.apply(e, p), broken_down())
    assert [(a.alert_key, a.state, a.reason) for a in out] == [
        ("breakdown:K-V1:K-T2", "open", "reported"), ("breakdown:K-V1:K-T2", "cleared", "reported")]


def test_standing_still_between_stops_is_a_stall_unless_an_incident_explains_it():
    arrivals = on_time(2)
    hold = (arrivals[3] + 40, arrivals[3] + 40 + 600)
    events = drive("K-V2", "K", 2, [a + (600 if i > 3 else 0) for i, a in enumerate(arrivals)], hold=hold)
    det = BreakdownDetector(CFG, schedule(), Incidents())
    out = run_vehicles(lambda e, p, a: det.apply(e, p), events)
    assert [(a.state, a.reason) for a in out] == [("open", "stalled"), ("cleared", "stalled")]
    assert out[0].detected_at == at(hold[0]) and (out[0].timestamp - out[0].detected_at).total_seconds() >= 300
    incidents = Incidents()
    incidents.apply(incident(hold[0] - 60, "K", 4))
    det = BreakdownDetector(CFG, schedule(), incidents)
    assert run_vehicles(lambda e, p, a: det.apply(e, p), events) == []


def test_dwelling_at_a_stop_or_at_the_terminal_is_not_a_stall():
    arrivals = on_time(2)
    arrivals = arrivals[:5] + [a + 900 for a in arrivals[5:]]  # 15 minutes at stop 5, then a long layover
    det = BreakdownDetector(CFG, schedule(), Incidents())
    assert run_vehicles(lambda e, p, a: det.apply(e, p), drive("K-V3", "K", 2, arrivals, until=arrivals[-1] + 1800)) == []


# -- silent vehicles ---------------------------------------------------------------------------

def test_a_vehicle_that_goes_quiet_is_reported_once_and_cleared_when_it_is_back():
    det = SilentDetector(silent_seconds=120)
    quiet = silenced()
    back = drive("Q-V1", "Q", 2, on_time(2))[-3:]
    out = run_vehicles(lambda e, p, a: det.apply(e), quiet + [*drive("X", "R1", 1, on_time(1))] + back, advance=det.advance)
    assert [(a.alert_key, a.state) for a in out] == [
        ("silent:Q-V1:2026-11-27T08:25:00Z", "open"), ("silent:Q-V1:2026-11-27T08:25:00Z", "cleared")]
    assert out[0].last_seen == at(1500) and out[0].timestamp == at(1620)


def test_a_vehicle_out_of_service_may_stay_quiet():
    det = SilentDetector(silent_seconds=120)
    events = drive("W", "Q", 1, on_time(1), status_from={0: "out_of_service"}, silent_after=300)
    out = run_vehicles(lambda e, p, a: det.apply(e), events + drive("X", "R1", 1, on_time(1)), advance=det.advance)
    assert out == []


def test_a_vehicle_back_in_service_is_timed_from_its_last_in_service_report():
    det = SilentDetector(silent_seconds=120)
    events = drive("W", "Q", 1, on_time(1), status_from={0: "in_service", 300: "out_of_service", 900: "in_service"},
                   silent_after=1200)
    out = run_vehicles(lambda e, p, a: det.apply(e), events + drive("X", "R1", 1, on_time(1)), advance=det.advance)
    last_seen = max(e.timestamp for e in events)
    assert [(a.vehicle_id, a.state, a.last_seen, a.timestamp) for a in out] == [
        ("W", "open", last_seen, last_seen + dt.timedelta(seconds=120))]


def test_silent_alerts_come_in_order_of_their_due_time():
    det = SilentDetector(silent_seconds=60)
    events = [*drive("A", "Q", 1, on_time(1), silent_after=700), *drive("B", "R1", 1, on_time(1), silent_after=400),
              *drive("C", "Q", 1, on_time(1), silent_after=550)]
    out = []
    for e in sorted(events, key=lambda e: e.timestamp):
        out += det.advance(e.timestamp) + det.apply(e)
    out += det.advance(at(5000))
    assert [a.vehicle_id for a in out] == ["B", "C", "A"]
    assert [a.timestamp for a in out] == sorted(a.timestamp for a in out)


# -- bunching ----------------------------------------------------------------------------------

def test_two_vehicles_forced_together_give_one_bunching_alert_for_the_follower():
    det = BunchingDetector(CFG, schedule())
    out = run_vehicles(lambda e, p, a: det.apply(e, a), bunched())
    assert {a.alert_key for a in out} == {"bunching:B-V2:B-T3:bunching"}
    first = out[0]
    assert (first.state, first.leader_vehicle_id, first.scheduled_headway_seconds) == ("open", "B-V1", 600)
    assert first.headway_seconds == 120 and out[-1].state == "cleared"


def test_a_headway_near_the_boundary_does_not_flap():
    det = BunchingDetector(CFG, schedule())
    # the follower's headway wobbles between 70 % and 80 % of 600 s: inside the hysteresis band
    wobble = [0, 60, 0, 60, 0, 60, 0, 60, 0, 60, 0, 60]
    leader = drive("B-V1", "B", 2, on_time(2))
    follower = drive("B-V2", "B", 3, [a - 180 + w for a, w in zip(on_time(3), wobble)])
    out = run_vehicles(lambda e, p, a: det.apply(e, a), leader + follower)
    assert [a.state for a in out].count("open") >= 1 and [a.state for a in out].count("cleared") == 1
    assert out[-1].summary.endswith("trip completed")


# -- surges against what is usual (issue 16) ---------------------------------------------------------

def _tap(n: int, seconds: float, stop: str, *, station: str | None = None, rate: float | None = None,
         vehicle: str | None = None):
    from streamcity.kernel.schemas import RiderTappedOn

    return RiderTappedOn(event_id=f"t{n}", rider_id=f"r{n}", stop_id=stop, station_id=station, vehicle_id=vehicle,
                         expected_per_hour=rate, latitude=52.0, longitude=4.9, timestamp=at(seconds))


def _count(det, taps, until: float):
    out = []
    for tap in taps:
        out += det.apply(tap)
    out += det.advance(at(until))
    return [a for a in out if a.state == "open"]


def test_a_station_is_counted_with_its_platforms_against_its_usual_taps():
    # two platforms of station CS, each usually 120 taps an hour (10 a window): 20 usual for the station
    det = SurgeDetector(window_seconds=300, threshold=1000, multiple=1.5, sigmas=3.0, floor=15)
    normal = [_tap(i, i * 10, f"CS-{i % 2}", station="CS", rate=120.0) for i in range(25)]  # 25 in 5 min
    assert _count(det, normal, 301) == []  # 25 < 1.5 x 20 + 3 sqrt(20) = 43.4
    surge = [_tap(100 + i, 300 + i * 5, f"CS-{i % 2}", station="CS", rate=120.0) for i in range(60)]
    alerts = _count(det, surge, 601)
    assert alerts and {a.stop_id for a in alerts} == {"CS"} and alerts[0].tap_count == 44
    assert (alerts[0].expected, alerts[0].threshold, alerts[0].baseline) == (20.0, 44, "simulated")


def test_riders_boarding_one_bus_are_not_a_surge():
    # a bus every 15 min takes the 15 min of riders at once (rate 80/h: 20 a call) into one 5-min window
    det = SurgeDetector(window_seconds=300, threshold=1000, multiple=1.5, sigmas=3.0, floor=15)
    calls = []
    for k, t0 in enumerate((0, 900, 1800)):
        calls += [_tap(k * 100 + i, t0 + i, "B1", rate=80.0, vehicle=f"bus{k}") for i in range(22)]
    assert _count(det, calls, 2400) == []  # 22 riders a call, 20 expected: usual
    tripled = [_tap(900 + i, 2700 + i, "B1", rate=80.0, vehicle="bus3") for i in range(60)]
    [alert] = _count(det, tripled, 3000)[:1]
    assert alert.stop_id == "B1" and alert.expected == 20.0


def test_without_a_published_expectation_the_baseline_is_learned_per_station_and_hour():
    det = SurgeDetector(window_seconds=300, threshold=30, multiple=2.0, sigmas=3.0, floor=15, learn_windows=6)
    taps, n = [], 0
    for w in range(8):  # eight ordinary windows of 12 taps in the same hour
        for i in range(12):
            taps.append(_tap(n, w * 300 + i * 20, "X"))
            n += 1
    assert _count(det, taps, 8 * 300 + 1) == []
    busy = [_tap(1000 + i, 8 * 300 + i * 5, "X") for i in range(40)]
    [alert] = _count(det, busy, 9 * 300 + 1)[:1]
    assert alert.baseline == "learned" and alert.expected == 12.0 and alert.threshold == 35


def test_until_a_baseline_is_known_the_fixed_threshold_applies():
    det = SurgeDetector(window_seconds=300, threshold=30, floor=15)
    alerts = _count(det, [_tap(i, i, "Y") for i in range(30)], 301)
    assert alerts and alerts[0].baseline == "fixed" and alerts[0].threshold == 30
