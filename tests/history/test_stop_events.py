"""Stop events derived from reports: arrivals, departures, passed stops, trip ends, replays."""

import datetime as dt

import pytest

from streamcity.kernel.bus import Decoded, Record, TransientError
from streamcity.kernel.bus.memory import MemoryBus
from streamcity.kernel.schemas import STOP_EVENTS, StopEvent, StopSchedule, VehicleLocation, decode
from transit.history.stops import StopCalls, StopEventStage
from transit.timetable import ReferenceData, Schedule

T0 = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.timezone.utc)


def at(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


def schedule(trip="T1", start=0, stops=5, leg=120) -> Schedule:
    s = Schedule()
    for seq in range(1, stops + 1):
        s.apply(StopSchedule(trip_id=trip, stop_sequence=seq, stop_id=f"S{seq}", route_id="R1",
                             scheduled_arrival=at(start + (seq - 1) * leg), service_date=T0.date(),
                             direction_id=0, timepoint=seq in (1, 3, 5)))
    return s


def report(t, seq, *, speed=0.0, lat=None, trip="T1", load=10, status="in_service", vehicle="V1", left=0):
    return VehicleLocation(vehicle_id=vehicle, vehicle_type="bus", route_id="R1", trip_id=trip,
                           latitude=lat if lat is not None else 52.0 + 0.005 * (seq or 0), longitude=4.9,
                           speed=speed, passenger_count=load, capacity=80, stop_sequence=seq, status=status,
                           timestamp=at(t), left_behind=left)


def run(calls, reports):
    out = []
    for r in reports:
        out += calls.observe(r)
    return out


def test_an_arrival_and_a_departure_make_one_event_with_the_load_on_leaving():
    calls = StopCalls(schedule())
    events = run(calls, [report(-60, 1), report(0, 1, speed=3, load=12),  # first sight at S1: arrival unknown
                         report(110, 1, speed=8), report(125, 2), report(140, 2, load=20),
                         report(150, 2, speed=2, load=22)])
    assert [(e.stop_sequence, e.arrival, e.departure, e.passenger_count) for e in events] == [
        (1, None, at(0), 12), (2, at(125), at(150), 22)]
    e = events[1]
    assert (e.scheduled, e.trip_start, e.route_id, e.direction_id, e.stop_id, e.timepoint, e.observed) == (
        at(120), at(0), "R1", 0, "S2", False, True)


def test_stops_passed_between_two_reports_are_interpolated():
    calls = StopCalls(schedule())
    events = run(calls, [report(0, 1), report(10, 1, speed=5), report(370, 4, speed=5)])
    assert [(e.stop_sequence, e.observed) for e in events] == [(1, True), (2, False), (3, False), (4, True)]
    # S2 and S3 spread over 10..370 s as the timetable spreads them between S2 and S4
    assert [e.departure for e in events[1:3]] == [at(10), at(190)]
    assert events[3].arrival == events[3].departure == at(370)  # passed S4 without stopping


def test_the_last_stop_has_no_departure_and_is_sent_when_the_next_trip_begins():
    s = schedule()
    for seq in range(1, 3):
        s.apply(StopSchedule(trip_id="T2", stop_sequence=seq, stop_id=f"S{seq}", route_id="R1",
                             scheduled_arrival=at(900 + seq * 60), service_date=T0.date()))
    calls = StopCalls(s)
    events = run(calls, [report(470, 4, speed=5), report(485, 4, speed=5), report(490, 5), report(520, 5, speed=0),
                         report(600, 5, speed=1)])  # moving at the terminal: not a departure
    assert [e.stop_sequence for e in events] == [4]
    events = run(calls, [report(900, 1, trip="T2")])
    assert [(e.trip_id, e.stop_sequence, e.arrival, e.departure) for e in events] == [("T1", 5, at(490), None)]


def test_a_broken_down_vehicle_never_departs_and_its_call_ends_with_the_trip():
    calls = StopCalls(schedule())
    events = run(calls, [report(0, 1, speed=5), report(10, 2, speed=0), report(60, 2, speed=0, status="broken_down"),
                         report(120, 2, speed=0, status="broken_down"), report(200, None, trip=None,
                                                                                 status="out_of_service")])
    assert [(e.stop_sequence, e.arrival, e.departure) for e in events] == [(1, None, at(0)), (2, at(10), None)]


def test_reports_of_an_unknown_trip_and_stale_reports_make_nothing():
    calls = StopCalls(schedule())
    assert run(calls, [report(0, 1, trip="X"), report(30, 2, trip="X", speed=4)]) == []
    run(calls, [report(100, 1), report(110, 1, speed=3)])
    assert run(calls, [report(50, 2, speed=3)]) == [] and calls.stale_dropped == 1


def test_the_stage_produces_to_stop_events_and_waits_for_the_schedule():
    bus = MemoryBus(partitions=1)
    ref = ReferenceData()
    stage = StopEventStage(bus, ref)
    batch = [Decoded(Record("vehicle_locations", 0, i, "V1", b"", 0), r)
             for i, r in enumerate([report(0, 1), report(5, 1, speed=4)])]
    with pytest.raises(TransientError):
        stage(batch)
    for stop in schedule()._trips["T1"].values():
        ref.schedule.apply(StopSchedule(trip_id="T1", stop_sequence=stop.stop_sequence, stop_id=stop.stop_id,
                                        route_id="R1", scheduled_arrival=stop.arrival, service_date=T0.date()))
    ref.ready.set()
    stage(batch)
    consumer = bus.consumer("t", [STOP_EVENTS.name])
    [r] = consumer.consume(10, 0.1)
    e = decode(StopEvent, r.value)
    assert (r.key, e.stop_sequence, e.departure) == ("V1", 1, at(5))


def test_riders_left_behind_at_a_stop_stay_with_its_call():
    """The most any report at the stop said (riders keep coming while the full vehicle waits); a stop passed
    between two reports and a stop where the vehicle had room leave none behind."""
    calls = StopCalls(schedule())
    events = run(calls, [report(0, 1, load=80, left=3), report(20, 1, load=80, left=5),
                         report(30, 1, speed=8, load=80, left=5),  # moving off: still the stop's figure
                         report(125, 2, load=80, left=2), report(140, 2, speed=3, load=80, left=2),
                         report(300, 4, load=40, left=0), report(320, 4, speed=3, load=40)])
    assert [(e.stop_sequence, e.left_behind, e.observed) for e in events] == [
        (1, 5, True), (2, 2, True), (3, 0, False), (4, 0, True)]


def test_records_without_left_behind_decode_as_none_left():
    from streamcity.kernel.schemas import STOP_EVENTS, VEHICLE_LOCATIONS, decode, encode

    old = encode(report(0, 1)).replace(b',"left_behind":0', b"")
    assert b"left_behind" not in old and decode(VEHICLE_LOCATIONS.schema, old).left_behind == 0
    event = run(StopCalls(schedule()), [report(0, 1, left=4), report(10, 1, speed=5)])[0]
    assert decode(STOP_EVENTS.schema, encode(event)).left_behind == 4
    assert decode(STOP_EVENTS.schema, encode(event).replace(b',"left_behind":4', b"")).left_behind == 0
