"""What ksqlDB's stream-table join needs of the records it reads, checked on what StreamCity produces:

- time: Kafka Streams takes the reports and the schedule rows in the order of their timestamps, so a
  report finds the schedule row of its trip only if the row's record timestamp is not after the
  report's event time. The simulator stamps schedule rows with simulated time.
- partitions: a schedule row must sit in the partition Kafka Streams puts the repartitioned report
  of the same key in (the Java client's murmur2 partitioner), on the real broker.
"""

import datetime as dt
import time

import pytest

from simulators.engine import Simulation
from streamcity.kernel.bus import TopicSpec
from streamcity.kernel.bus.memory import MemoryBus
from streamcity.kernel.schemas import STOP_SCHEDULE, VEHICLE_LOCATIONS, StopSchedule, decode, encode

from ..simulators.conftest import QUIET, WEEKDAY, city, city_feed  # noqa: F401 (fixtures)


def murmur2(data: bytes) -> int:
    """The 32-bit murmur2 hash of Kafka's Java client (org.apache.kafka.common.utils.Utils.murmur2)."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    n = len(data)
    h = (0x9747B28C ^ n) & mask
    for i in range(0, n - n % 4, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * m) & mask
        k = ((k ^ (k >> 24)) * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[n - n % 4:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * m) & mask
    h = ((h ^ (h >> 13)) * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h >= 1 << 31 else h


def java_partition(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def test_murmur2_matches_kafkas_own_test_vectors():
    # the values Kafka's UtilsTest asserts for Utils.murmur2
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107


def simulated(city, minutes: int):  # noqa: F811
    """The simulator's records on an in-process bus, as it publishes them (wall clock: now)."""
    bus = MemoryBus(partitions=1, retention=10**7)  # nothing trimmed
    sim = Simulation(city, seed=3, start=dt.time(7, 50), date=WEEKDAY, vehicles=25, **QUIET)
    for _ in range(minutes * 6):
        sim.publish(bus, sim.tick(10.0))
    return read_all(bus, [STOP_SCHEDULE.name, VEHICLE_LOCATIONS.name])


def read_all(bus, topics):
    total = sum(sum(bus.end_offsets(t).values()) for t in topics)
    records, deadline = [], time.monotonic() + 30
    with bus.consumer("t", topics) as c:
        while len(records) < total and time.monotonic() < deadline:
            records.extend(c.consume(10_000, 0.1))
    assert len(records) == total
    return records


def as_of_lookup(records):
    """For each report of a trip: the schedule row a stream-table join finds, taking the two topics
    in timestamp order (reports: their event time, as ksqlDB's TIMESTAMP column; rows: the record's)."""
    events = []
    for r in records:
        if r.topic == STOP_SCHEDULE.name:
            events.append((r.timestamp_ms, 0, r.key, decode(StopSchedule, r.value)))
        else:
            report = decode(VEHICLE_LOCATIONS.schema, r.value)
            if report.trip_id is not None and report.stop_sequence is not None:
                events.append((int(report.timestamp.timestamp() * 1000), 1, f"{report.trip_id}:{report.stop_sequence}",
                               report))
    table, joined = {}, []
    for _, kind, key, event in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            table[key] = event
        else:
            joined.append((event, table.get(key)))
    return joined


def test_schedule_rows_are_stamped_so_the_join_finds_them(city):  # noqa: F811
    records = simulated(city, minutes=20)
    wall = int(time.time() * 1000)
    rows = [r for r in records if r.topic == STOP_SCHEDULE.name]
    assert rows and all(r.timestamp_ms < wall - 86_400_000 for r in rows)  # simulated time, a past day
    joined = as_of_lookup(records)
    assert len(joined) > 1000
    missing = [report for report, row in joined if row is None]
    assert not missing, f"{len(missing)} of {len(joined)} reports find no schedule row"
    # and the row found is the one of the report's own trip run (same service day)
    assert all(abs((row.scheduled_arrival - report.timestamp).total_seconds()) < 3 * 3600 for report, row in joined)


def test_with_the_wall_clock_as_record_time_the_join_would_find_nothing(city):  # noqa: F811
    """The behaviour issue 18 found: rows stamped at produce time, after every simulated report."""
    records = simulated(city, minutes=5)
    wall = int(time.time() * 1000)
    restamped = [r if r.topic != STOP_SCHEDULE.name else
                 type(r)(r.topic, r.partition, r.offset, r.key, r.value, wall) for r in records]
    assert all(row is None for _, row in as_of_lookup(restamped))


def test_a_schedule_row_is_never_stamped_ahead_of_the_wall_clock(city):  # noqa: F811
    """Kafka 4 brokers refuse record timestamps over an hour ahead of their clock (measured on the
    test broker: log.message.timestamp.after.max.ms = 3600000); simulated time may run ahead."""
    bus = MemoryBus(partitions=1, retention=10**7)  # nothing trimmed
    sim = Simulation(city, seed=3, start=dt.time(7, 50), date=WEEKDAY, vehicles=5, **QUIET)
    tick = sim.tick(1.0)
    assert tick.schedule
    past = min(tick.schedule_at) - 1
    sim.publish(bus, tick, now_ms=past)
    got = read_all(bus, [STOP_SCHEDULE.name])
    assert got and {r.timestamp_ms for r in got} == {past}


@pytest.mark.kafka
def test_the_kafka_bus_partitions_and_stamps_records_as_kafka_streams_expects(kafka_bus):
    kafka_bus.ensure_topics([TopicSpec(STOP_SCHEDULE.name, partitions=6, compacted=True)])
    keys = [f"trip-{i}:{seq}" for i in range(20) for seq in (1, 7, 12)]
    stamp = 1_795_766_400_000  # 2026-11-27T08:00:00Z
    value = encode(StopSchedule(trip_id="t", stop_sequence=1, stop_id="s", scheduled_arrival=dt.datetime(
        2026, 11, 27, 8, tzinfo=dt.timezone.utc), service_date=dt.date(2026, 11, 27)))
    for n, key in enumerate(keys):
        kafka_bus.produce(STOP_SCHEDULE.name, key, value, timestamp_ms=stamp + n)
    assert kafka_bus.flush() == 0
    with kafka_bus.consumer("partitions", [STOP_SCHEDULE.name]) as c:
        got, deadline = [], time.monotonic() + 30
        while len(got) < len(keys) and time.monotonic() < deadline:
            got.extend(c.consume(500, 0.5))
    assert len(got) == len(keys)
    assert {r.key: r.partition for r in got} == {k: java_partition(k, 6) for k in keys}
    assert {r.key: r.timestamp_ms for r in got} == {k: stamp + n for n, k in enumerate(keys)}
    assert len({r.partition for r in got}) > 1
