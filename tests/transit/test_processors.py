import datetime as dt

from streamcity.kernel.schemas import VehicleLocation
from transit.processors import LiveVehicleTable

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def loc(vehicle_id, seconds, lat=52.0):
    return VehicleLocation(vehicle_id=vehicle_id, vehicle_type="bus", latitude=lat, longitude=4.0,
                           timestamp=T0 + dt.timedelta(seconds=seconds))


def test_one_record_per_changed_vehicle_per_batch_latest_wins():
    table = LiveVehicleTable()
    out = table.apply([loc("a", 1, 52.1), loc("b", 1), loc("a", 2, 52.2)])
    assert {v.vehicle_id: v.latitude for v in out} == {"a": 52.2, "b": 52.0}


def test_an_older_event_does_not_overwrite_a_newer_state():
    table = LiveVehicleTable()
    table.apply([loc("a", 10, 52.5)])
    assert table.apply([loc("a", 5, 52.1)]) == []
    assert table.stale_dropped == 1
    [latest] = table.apply([loc("a", 11, 52.6)])
    assert latest.latitude == 52.6


def test_live_vehicles_carry_the_schedule_deviation():
    from transit.timetable import Schedule
    from tests.alerts.detection_scenarios import drive, on_time, schedule

    sched = Schedule()
    for row in schedule("D"):
        sched.apply(row)
    table = LiveVehicleTable(sched)
    late = [0, 0, 0, 180, 180, 180, 180, 180, 180, 180, 180, 180]  # 3 min lost between stops 3 and 4
    events = drive("D-V1", "D", 2, [a + d for a, d in zip(on_time(2), late)])
    by_stop = {}
    for e in events:
        [v] = table.apply([e])
        by_stop.setdefault(v.stop_sequence, []).append(v.delay_seconds)
    assert by_stop[2][0] == 0 and by_stop[4][0] == 180  # measured where each stop was first passed
    assert max(by_stop[3]) == 170  # last report before stop 4 (10 s before it): already known 170 s late


def test_without_a_schedule_the_deviation_is_unknown():
    [v] = LiveVehicleTable().apply([loc("a", 1)])
    assert v.delay_seconds is None


def test_the_deviation_is_measured_against_a_timetable_loaded_after_start():
    """runprocessors builds live-vehicles before the reference reader has loaded stop_schedule
    (an empty Schedule then): the table must measure against that Schedule once it is filled."""
    from transit.timetable import ReferenceData
    from streamcity.kernel.bus import Decoded
    from streamcity.kernel.bus.base import Record
    from streamcity.kernel.bus.memory import MemoryBus
    from streamcity.kernel.schemas import LIVE_VEHICLES, VEHICLE_LOCATIONS, LiveVehicle, decode
    from tests.alerts.detection_scenarios import drive, on_time, schedule
    from transit.processors import LiveVehicleProcessor

    bus, reference = MemoryBus(), ReferenceData()
    processor = LiveVehicleProcessor(bus, reference, catch_up=False)
    for row in schedule("D"):  # as the ReferenceFollower loads it
        reference.schedule.apply(row)
    reference.ready.set()
    events = drive("D-V1", "D", 2, on_time(2))[:40]
    processor([Decoded(Record(VEHICLE_LOCATIONS.name, 0, i, e.vehicle_id, b""), e) for i, e in enumerate(events)])
    with bus.consumer("check", [LIVE_VEHICLES.name]) as c:
        [record] = c.consume(10, 0.5)
    assert decode(LiveVehicle, record.value).delay_seconds == 0


# -- issue 16: vehicles waiting at the start of their trip -----------------------------------------

def _first_stop_schedule(departure_s: float = 600, arrival_s: float | None = None):
    from streamcity.kernel.schemas import StopSchedule
    from transit.timetable import Schedule

    sched = Schedule()
    arrive = T0 + dt.timedelta(seconds=departure_s if arrival_s is None else arrival_s)
    leave = T0 + dt.timedelta(seconds=departure_s)
    sched.apply(StopSchedule(trip_id="T", stop_sequence=1, stop_id="A", scheduled_arrival=arrive,
                             scheduled_departure=leave if leave != arrive else None, service_date=T0.date()))
    sched.apply(StopSchedule(trip_id="T", stop_sequence=2, stop_id="B", service_date=T0.date(),
                             scheduled_arrival=T0 + dt.timedelta(seconds=departure_s + 120)))
    return sched


def at_stop(seconds, speed=0.0, status="in_service", seq=1):
    return VehicleLocation(vehicle_id="v", vehicle_type="bus", trip_id="T", stop_sequence=seq, speed=speed,
                           status=status, latitude=52.0, longitude=4.0, timestamp=T0 + dt.timedelta(seconds=seconds))


def test_a_vehicle_waiting_at_its_first_stop_is_laying_over_and_never_early():
    """It got there 10 min before its departure (the issue's bus read -730 s): it lays over at 0 s,
    is late only once the departure is due, and its deviation after leaving is from its departure."""
    table = LiveVehicleTable(_first_stop_schedule(departure_s=600))
    states = [table.apply([at_stop(s)])[0] for s in (0, 300, 590)]
    assert [(v.status, v.delay_seconds) for v in states] == [("layover", 0), ("layover", 0), ("layover", 0)]
    [due] = table.apply([at_stop(630)])  # still standing 30 s after the departure: late, not laying over
    assert (due.status, due.delay_seconds) == ("in_service", 30)
    [gone] = table.apply([at_stop(640, speed=5.0)])  # it left 40 s late
    [later] = table.apply([at_stop(680, speed=8.0)])
    assert (gone.delay_seconds, later.delay_seconds) == (40, 40)


def test_a_reported_layover_is_kept_and_measured_from_the_scheduled_departure():
    table = LiveVehicleTable(_first_stop_schedule(departure_s=600, arrival_s=0))  # arrives 0, leaves 600
    [v] = table.apply([at_stop(100, status="layover")])
    assert (v.status, v.delay_seconds) == ("layover", 0)
    [v] = table.apply([at_stop(610, status="in_service", speed=4.0)])
    assert v.delay_seconds == 10


def test_holding_at_a_timepoint_is_not_early_but_leaving_early_is():
    from streamcity.kernel.schemas import StopSchedule
    from transit.timetable import Schedule

    sched = Schedule()
    for seq, t, timepoint in ((1, 0, True), (2, 300, True), (3, 600, False), (4, 900, True)):
        sched.apply(StopSchedule(trip_id="T", stop_sequence=seq, stop_id=f"S{seq}", timepoint=timepoint,
                                 scheduled_arrival=T0 + dt.timedelta(seconds=t), service_date=T0.date()))
    table = LiveVehicleTable(sched)
    table.apply([at_stop(0, speed=6.0, seq=1)])
    [held] = table.apply([at_stop(180, seq=2)])  # 2 min early at a timepoint, holding
    assert held.delay_seconds == 0
    table.apply([at_stop(270, seq=2)])
    [left] = table.apply([at_stop(280, speed=6.0, seq=2)])  # it left 20 s early: within a minute
    assert left.delay_seconds == -20
    [approx] = table.apply([at_stop(500, speed=6.0, seq=3)])  # 100 s early past an approximate time
    assert approx.delay_seconds == 0
