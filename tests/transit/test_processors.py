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
