import datetime as dt

import pytest

from streamcity.kernel import schemas

NOW = dt.datetime(2026, 11, 27, 8, 30, 0, 123000, tzinfo=dt.timezone.utc)


def location(**overrides):
    fields = dict(vehicle_id="bus-1", vehicle_type="bus", latitude=52.37, longitude=4.9, timestamp=NOW)
    fields.update(overrides)
    return schemas.VehicleLocation(**fields)


def test_round_trip_keeps_every_field():
    event = location(route_id="10", speed=8.5, passenger_count=12, capacity=80, stop_sequence=3)
    assert schemas.decode(schemas.VehicleLocation, schemas.encode(event)) == event


def test_timestamps_are_iso_utc():
    assert b'"timestamp":"2026-11-27T08:30:00.123000Z"' in schemas.encode(location())


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b'{"vehicle_id": 5}', "Expected `str`, got `int`"),
        (b'{"vehicle_type": "bus", "latitude": 1, "longitude": 1, "timestamp": "2026-01-01T00:00:00Z"}', "vehicle_id"),
        (
            b'{"vehicle_id": "a", "vehicle_type": "bus", "latitude": 91, "longitude": 1, "timestamp": "2026-01-01T00:00:00Z"}',
            "latitude",
        ),
        (
            b'{"vehicle_id": "a", "vehicle_type": "zeppelin", "latitude": 1, "longitude": 1, "timestamp": "2026-01-01T00:00:00Z"}',
            "vehicle_type",
        ),
        (
            b'{"v": 9, "vehicle_id": "a", "vehicle_type": "bus", "latitude": 1, "longitude": 1, "timestamp": "2026-01-01T00:00:00Z"}',
            "unknown schema version 9",
        ),
        (
            b'{"vehicle_id": "a", "vehicle_type": "bus", "latitude": 1, "longitude": 1, "timestamp": "2026-01-01T00:00:00"}',
            "no time zone",
        ),
        (None, "tombstone"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(payload, reason):
    with pytest.raises(schemas.SchemaError, match=reason):
        schemas.decode(schemas.VehicleLocation, payload)


def test_every_topic_has_a_key_and_a_dead_letter_topic():
    for topic in schemas.TOPICS.values():
        assert topic.key_field in topic.schema.__struct_fields__
        assert schemas.dlq_topic(topic.name) == f"{topic.name}.dlq"


def test_stop_schedule_key_is_trip_and_sequence():
    event = schemas.StopSchedule(
        trip_id="t1", stop_sequence=4, stop_id="s", scheduled_arrival=NOW, service_date=NOW.date()
    )
    assert schemas.event_key(schemas.STOP_SCHEDULE, event) == "t1:4"


@pytest.mark.parametrize("delay", [None, 0, 75, -30])
@pytest.mark.parametrize("report", [
    location(),
    location(route_id="10", trip_id="T1", speed=8.5, bearing=270.0, passenger_count=12, capacity=80,
             status="broken_down", stop_sequence=3, next_stop_id="S4", vehicle_type="tram"),
])
def test_a_live_vehicle_is_encoded_from_its_report_byte_for_byte(report, delay):
    expected = schemas.encode(schemas.LiveVehicle.of(report, delay_seconds=delay))
    assert schemas.encode_live(report, delay) == expected
    assert schemas.decode(schemas.LiveVehicle, expected).delay_seconds == delay
    live = schemas.LiveVehicle.of(report, delay_seconds=1)
    assert schemas.encode_live(live, delay) == expected  # a LiveVehicle given: its delay is replaced
    assert schemas.encode_live(report, delay, schemas.encode(report)) == expected  # its bytes reused
    assert schemas.encode_live(live, delay, schemas.encode(live)) == expected
    assert schemas.encode_live(report, delay, b"") == expected  # not a JSON object: encoded


def test_a_live_vehicle_from_another_producers_bytes_keeps_them_and_decodes_alike():
    report = location(route_id="10", trip_id="T1", stop_sequence=3)
    raw = b' {"extra": [1, {"a": 2}],\n ' + schemas.encode(report)[1:]  # spacing and a field this build ignores
    assert schemas.decode(schemas.VehicleLocation, raw) == report
    live = schemas.encode_live(report, 42, raw)
    assert live.startswith(raw[:-1])
    assert schemas.decode(schemas.LiveVehicle, live) == schemas.LiveVehicle.of(report, delay_seconds=42)


def test_a_live_vehicle_is_its_report_then_delay_seconds():
    """encode_live appends delay_seconds to a report's JSON: the field lists must line up."""
    import msgspec

    live, report = msgspec.structs.fields(schemas.LiveVehicle), msgspec.structs.fields(schemas.VehicleLocation)
    assert live[:-1] == report
    assert live[-1].name == "delay_seconds"
