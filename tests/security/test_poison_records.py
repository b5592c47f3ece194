"""No poison record (issue 17, finding 3), on the in-process bus and on the real Kafka broker.

Whatever one record does to decoding or handling, it goes to `<topic>.dlq` with the reason, its
offset is committed, and the worker carries on; a restarted worker does not see it again. A handler
that fails on every record stops its role with a clear message instead of dead-lettering the stream.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import msgspec
import pytest

from streamcity.kernel.bus import TopicSpec, Worker
from streamcity.kernel.bus.worker import HandlerFailing
from streamcity.kernel.runtime import Role, RoleThreads
from streamcity.kernel.schemas import (
    MAX_JSON_DEPTH, TOPICS, VEHICLE_LOCATIONS, SchemaError, VehicleLocation, decode, encode, json_depth,
)

NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def vehicle(i: int, **fields) -> bytes:
    return encode(VehicleLocation(vehicle_id="v1", vehicle_type="bus", latitude=52.0, longitude=4.0, passenger_count=i,
                                  timestamp=NOW + dt.timedelta(seconds=i), **fields))


def deep_vehicle(depth: int = 1000) -> bytes:
    """A valid report with an unknown field nested `depth` levels deep (~2 KB for 1,000): the probe
    that raised RecursionError in the decoder and crashed every consumer."""
    return vehicle(99)[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}"


def drain(consumer, count, timeout=30.0):
    out, deadline = [], time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        out.extend(consumer.consume(100, 0.5))
    return out


def run_until(worker: Worker, until, timeout=30.0) -> BaseException | None:
    """Run `worker` in a thread until `until()` (or it stops by itself); the exception it died of, if any."""
    stop, died = threading.Event(), []

    def target():
        try:
            worker.run(stop)
        except BaseException as exc:  # noqa: BLE001 - what the old worker died of is the finding
            died.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + timeout
    while not until() and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    return died[0] if died else None


def topics(bus):
    bus.ensure_topics([TopicSpec("vehicle_locations", 3), TopicSpec("vehicle_locations.dlq", 1)])


def test_a_deep_an_overlong_and_a_failing_record_are_dead_lettered_committed_and_never_seen_again(bus):
    topics(bus)
    deep = deep_vehicle()
    assert 2000 <= len(deep) <= 2400
    overlong = vehicle(98, route_id="r" * 500_000)  # under the value limits of the worker and the broker: decoded
    for value in (vehicle(1), deep, vehicle(2), overlong, vehicle(3), vehicle(4)):  # one key: one partition, in order
        bus.produce("vehicle_locations", "v1", value)
    bus.flush()
    handled = []

    def handle(batch):
        if any(d.event.passenger_count == 3 for d in batch):
            raise ZeroDivisionError("a bug that only record 3 triggers")
        handled.extend(d.event.passenger_count for d in batch)

    worker = Worker(bus, name="poison", group_id="g-poison", topics=[VEHICLE_LOCATIONS], handle=handle,
                    commit_interval=0)
    died = run_until(worker, lambda: 4 in handled)
    assert died is None, f"the worker died of {died!r}"
    assert handled == [1, 2, 4]
    assert worker.dead_lettered == 3

    with bus.consumer("g-poison-dlq", ["vehicle_locations.dlq"]) as c:
        dead = drain(c, 3)
    reasons = {int(r.header("dlq.offset")): r.header("dlq.reason").decode() for r in dead}
    offsets = {int(r.header("dlq.offset")): r for r in dead}
    print("\ndead letters:", {o: reason[:90] for o, reason in sorted(reasons.items())})
    assert len(dead) == 3
    first = min(reasons)  # the deep record's offset (the topic's partition may hold only these six)
    assert "nested more than 32 levels" in reasons[first] and offsets[first].value == deep
    assert "Expected `str` of length <= 128" in reasons[first + 2] and "route_id" in reasons[first + 2]
    assert reasons[first + 3].startswith("handler error: ZeroDivisionError: a bug that only record 3 triggers")
    assert all(r.header("dlq.source") == b"g-poison" for r in dead)

    # committed: a restarted member of the group sees none of them again, only what comes next
    bus.produce("vehicle_locations", "v1", vehicle(5))
    bus.flush()
    again: list[int] = []
    restarted = Worker(bus, name="poison", group_id="g-poison", topics=[VEHICLE_LOCATIONS],
                       handle=lambda batch: again.extend(d.event.passenger_count for d in batch), commit_interval=0)
    assert run_until(restarted, lambda: 5 in again) is None
    time.sleep(0.5)
    assert again == [5]
    assert restarted.dead_lettered == 0


def test_a_handler_that_fails_on_every_record_stops_its_role_with_a_clear_message(bus, caplog):
    topics(bus)
    for i in range(1, 11):
        bus.produce("vehicle_locations", "v1", vehicle(i))
    bus.flush()

    def broken(batch):
        raise KeyError("route_colour")  # a bug: every record fails

    worker = Worker(bus, name="broken", group_id="g-broken", topics=[VEHICLE_LOCATIONS], handle=broken,
                    commit_interval=0, max_consecutive_failures=4)
    stop = threading.Event()
    threads = RoleThreads([Role("broken", worker.run)], stop)
    with caplog.at_level(logging.ERROR, logger="streamcity.kernel.runtime"):
        threads.start()
        assert stop.wait(60), "the role kept going on a handler that fails on every record"
        threads.join()
    assert threads.failed == ["broken"]
    message = next(r for r in caplog.records if r.name == "streamcity.kernel.runtime").exc_info[1]
    assert isinstance(message, HandlerFailing)
    assert "failed on 4 records in a row" in str(message) and "KeyError" in str(message)
    assert "vehicle_locations.dlq" in str(message) and "a fixed handler resumes there" in str(message)
    assert worker.dead_lettered == 3  # the three before the fourth; the rest is not skipped

    # the fixed handler resumes at the fourth record: nothing after the first three was lost
    fixed: list[int] = []
    worker = Worker(bus, name="fixed", group_id="g-broken", topics=[VEHICLE_LOCATIONS],
                    handle=lambda batch: fixed.extend(d.event.passenger_count for d in batch), commit_interval=0)
    assert run_until(worker, lambda: 10 in fixed) is None
    assert fixed == [4, 5, 6, 7, 8, 9, 10]


def test_one_failing_record_among_good_ones_resets_the_count(memory_bus):
    """Failures that are not consecutive are bad records, not a broken handler: no stop."""
    bus = memory_bus
    topics(bus)
    for i in range(1, 21):
        bus.produce("vehicle_locations", "v1", vehicle(i))
    handled = []

    def every_other(batch):
        if any(d.event.passenger_count % 2 for d in batch):
            raise ValueError("odd")
        handled.extend(d.event.passenger_count for d in batch)

    worker = Worker(bus, name="odd", group_id="g-odd", topics=[VEHICLE_LOCATIONS], handle=every_other,
                    commit_interval=0, max_consecutive_failures=2)
    assert run_until(worker, lambda: 20 in handled) is None
    assert handled == list(range(2, 21, 2)) and worker.dead_lettered == 10


def test_every_string_of_every_schema_is_bounded():
    def unbounded(t, path):
        if isinstance(t, msgspec.inspect.StrType) and t.max_length is None:
            yield path
        elif isinstance(t, (msgspec.inspect.ListType, msgspec.inspect.SetType, msgspec.inspect.VarTupleType,
                            msgspec.inspect.DictType)) and t.max_length is None:
            yield path
        for name in ("types",):
            for sub in getattr(t, name, ()):
                yield from unbounded(sub, path)
        if hasattr(t, "item_type"):
            yield from unbounded(t.item_type, path + "[]")

    missing = []
    for topic in TOPICS.values():
        info = msgspec.inspect.type_info(topic.schema)
        for field in info.fields:
            missing.extend(unbounded(field.type, f"{topic.schema.__name__}.{field.name}"))
    assert missing == []


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deep_json_is_refused_before_decoding_whatever_the_recursion_limit(depth):
    for data in (deep_vehicle(depth), b"[" * depth + b"]" * depth, b"{" * depth):
        with pytest.raises(SchemaError, match="nested more than 32 levels"):
            decode(VehicleLocation, data)
    ok = decode(VehicleLocation, deep_vehicle(MAX_JSON_DEPTH - 1))  # within the bound: unknown fields are skipped
    assert ok.passenger_count == 99


def test_a_nul_character_is_refused_at_decoding():
    """PostgreSQL refuses NUL in text: left to the handler, every such record would count as a
    handler failure (and a stream of them would stop the role), so it is the record that is refused."""
    with pytest.raises(SchemaError, match="NUL character"):
        decode(VehicleLocation, vehicle(1, route_id="R\x001"))


def test_json_depth_ignores_brackets_in_strings():
    assert json_depth(b'{"a":"[[[{\\"[","b":[[1],[2]]}') == 3
    assert json_depth('{"description":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == 1
    assert decode(VehicleLocation, vehicle(1)[:-1] + b',"note":"' + b"[" * 100 + b'"}').passenger_count == 1
