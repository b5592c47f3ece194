"""The detection processors with decoded records, as the Worker hands them over; then on both buses.

Scenarios from detection_scenarios: each has exact expectations; the whole city together gives
the same alerts whatever the batching, a replay, a shuffle within the grace period or a restart.
"""

import threading
import time

import pytest

from streamcity.kernel.bus import Worker, topic_specs
from streamcity.kernel.bus.memory import MemoryBus
from streamcity.kernel.schemas import ALERT_TOPICS, TOPICS, RiderTappedOn, decode

from .detection_scenarios import (
    CONFIG,
    Stream,
    alerts_on,
    at,
    city,
    feed,
    final_states,
    full_schedule,
    processors,
    reference,
)


def run(events, *, batch=97, config=CONFIG):
    bus = MemoryBus(partitions=3)
    handlers = processors(bus, reference(events), config)
    feed(handlers, Stream(events).records(), batch=batch)
    return alerts_on(bus), handlers


def kinds(alerts):
    return {(a.kind, a.alert_key, a.state) for a in final_states(alerts).values()}


def time_ordered(events):
    return Stream(events).by_time().events


@pytest.fixture(scope="module")
def city_alerts():
    alerts, handlers = run(time_ordered(city()))
    assert sum(h.late for h in handlers) == 0
    return alerts


def test_the_city_gives_exactly_the_scripted_alerts(city_alerts):
    assert kinds(city_alerts) == {
        ("surge", "surge:R1S5:2026-11-27T08:25:00Z", "cleared"),
        ("delay", "delay:D-T3:D-V1", "cleared"),
        ("delay", "delay:B-T2:B-V1", "cleared"),  # the bunching leader runs 8 minutes late
        ("breakdown", "breakdown:K-V1:K-T2", "cleared"),
        ("bunching", "bunching:B-V2:B-T3:bunching", "cleared"),
        ("silent", "silent:Q-V1:2026-11-27T08:25:00Z", "open"),
    }


def test_a_surge_at_one_stop_is_one_alert_for_its_window(city_alerts):
    surges = [a for a in city_alerts if a.kind == "surge"]
    assert [(a.state, a.tap_count) for a in surges] == [("open", 60), ("open", 90), ("cleared", 90)]
    assert {a.stop_id for a in surges} == {"R1S5"} and surges[0].window_start == at(1500)


def test_a_delay_opens_while_held_and_clears_after_catching_up(city_alerts):
    delays = [a for a in city_alerts if a.alert_key == "delay:D-T3:D-V1"]
    assert delays[0].state == "open" and delays[0].stop_id == "DS3"  # still held between stops 3 and 4
    assert delays[-1].state == "cleared" and "back on time" in delays[-1].summary
    assert [a.state for a in delays].count("cleared") == 1


def test_a_breakdown_is_one_alert(city_alerts):
    assert [(a.state, a.reason) for a in city_alerts if a.kind == "breakdown"] == [("open", "reported"), ("cleared", "reported")]


def test_a_vehicle_that_goes_quiet_is_one_silent_alert(city_alerts):
    [silent] = [a for a in city_alerts if a.kind == "silent"]
    assert silent.vehicle_id == "Q-V1" and silent.last_seen == at(1500)


def test_batching_does_not_change_the_alerts(city_alerts):
    assert run(time_ordered(city()), batch=1000)[0] == city_alerts
    assert run(time_ordered(city()), batch=7)[0] == city_alerts


def test_replaying_the_same_input_gives_the_same_alerts(city_alerts):
    again, _ = run(time_ordered(city()))
    assert again == city_alerts  # record for record


def test_the_same_input_twice_in_one_stream_changes_nothing(city_alerts):
    events = time_ordered(city())
    twice, handlers = run(events + events)
    assert final_states(twice) == final_states(city_alerts)
    for h in handlers:  # every second copy was refused: as late, or as a duplicate still held
        mine = [e for e in events if isinstance(e, tuple(t.schema for t in h.topics))]
        assert h.late + h.buffer.duplicates == len(mine)


def test_shuffling_within_the_grace_period_gives_the_same_alerts(city_alerts):
    for seed in (1, 2):
        shuffled, handlers = run(Stream(time_ordered(city())).shuffled(within=20, seed=seed).events)
        assert sum(h.late for h in handlers) == 0
        assert shuffled == city_alerts


def test_a_batch_handed_again_record_by_record_is_taken_once(city_alerts):
    """The Worker retries a failed batch one record at a time: a processor takes each record once,
    whatever the partitions' interleaving, and knows the first offset it read of each partition."""
    records = Stream(time_ordered(city())).records()
    bus = MemoryBus(partitions=3)
    handlers = processors(bus, reference(city()))
    # the partitions interleaved in runs of 7 records
    interleaved = sorted(records, key=lambda d: (d.record.offset // 7, d.record.partition, d.record.offset))
    for h in handlers:
        mine = [d for d in interleaved if d.record.topic in {t.name for t in h.topics}]
        h(mine[:500])
        held = len(h.buffer) + h.buffer.released
        for d in mine[:500]:  # the retry
            h([d])
        assert h.redelivered == 500 and len(h.buffer) + h.buffer.released == held
        h(mine[500:])
        assert h.redelivered == 500
        partitions = {(d.record.topic, d.record.partition) for d in mine}
        assert {tp: offset for tp, (offset, _) in h._first.items()} == {tp: 0 for tp in partitions}
    for h in handlers:
        h.tick()
    assert final_states(alerts_on(bus)) == final_states(city_alerts)


def test_an_event_older_than_the_grace_period_is_dropped_and_counted(city_alerts):
    events = time_ordered(city())
    stale = RiderTappedOn(event_id="stale", rider_id="r", stop_id="R1S5", latitude=52.0, longitude=4.9, timestamp=at(1700))
    alerts, handlers = run(events[: len(events) // 2] + [stale] + events[len(events) // 2:])
    assert handlers[0].late == 1
    assert final_states(alerts) == final_states(city_alerts)  # 90 taps, not 91


def test_a_restarted_processor_rebuilds_its_state_and_loses_no_alert(city_alerts):
    """Stop after the first half (committing only what `retained()` allows), restart on the rest."""
    records = Stream(time_ordered(city())).records()
    bus = MemoryBus(partitions=3)
    ref = reference(city())
    for cut in (len(records) // 3, len(records) // 2):
        first = processors(bus, ref)
        feed(first, records[:cut])
        keep = {}
        for h in first:
            keep.update(h.retained())
        second = processors(bus, ref)
        resumed = [d for d in records[:cut] if d.record.offset >= keep.get((d.record.topic, d.record.partition), 0)]
        assert len(resumed) < cut  # it does not simply start over
        feed(second, resumed + records[cut:])
    assert final_states(alerts_on(bus)) == final_states(city_alerts)


# -- on the buses, through Workers ---------------------------------------------------------------

def start_workers(bus, config, until, timeout=90.0):
    """Run the processors as runprocessors does (surges in a Worker, the vehicle stages together in
    one, in one consumer group) until `until()` holds."""
    from alerts.detection.processors import BunchingProcessor, SurgeProcessor, VehicleAlertProcessor
    from streamcity.kernel.stages import Stages
    from transit.processors import LiveVehicleProcessor
    from transit.timetable import ReferenceData, ReferenceFollower

    ref = ReferenceData()
    follower = ReferenceFollower(bus, ref)
    workers = [Worker(bus, name="reference", group_id=follower.group_id, topics=follower.topics, handle=follower,
                      tick=follower.tick, commit_interval=0.2)]
    handlers = [SurgeProcessor(bus, config), VehicleAlertProcessor(bus, config, reference=ref),
                BunchingProcessor(bus, config, reference=ref)]
    handlers[2].share_clock(handlers[1])
    stages = Stages(bus, [LiveVehicleProcessor(bus, ref), *handlers[1:]], name="vehicles", group_id="streamcity-vehicles",
                    reference=ref)
    workers += [Worker(bus, name=h.name, group_id=h.group_id, topics=h.topics, handle=h, tick=h.tick,
                       retain=h.retained, commit_interval=0.2) for h in (handlers[0], stages)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    while not until(handlers) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(30)
    return handlers


def bus_config():
    from dataclasses import replace

    return replace(CONFIG, idle_partition_seconds=1.0)


class Reader:
    """Keeps reading the alert topics; `latest` is what an idempotent consumer would hold."""

    def __init__(self, bus):
        self.consumer = bus.consumer(f"reader-{time.monotonic_ns()}", [t.name for t in ALERT_TOPICS])
        self.latest = {}

    def poll(self):
        for r in self.consumer.consume(5000, 0.2):
            a = decode(TOPICS[r.topic].schema, r.value)
            if a.alert_key not in self.latest or a.timestamp >= self.latest[a.alert_key].timestamp:
                self.latest[a.alert_key] = a
        return {k: (a.state, a.timestamp) for k, a in self.latest.items()}


def test_on_each_bus_the_processors_find_the_same_alerts(bus, city_alerts):
    bus.ensure_topics(topic_specs(3))
    Stream(full_schedule() + time_ordered(city())).produce(bus)
    expected = {k: (a.state, a.timestamp) for k, a in final_states(city_alerts).items()}
    reader = Reader(bus)
    handlers = start_workers(bus, bus_config(), lambda hs: reader.poll() == expected)
    assert reader.poll() == expected
    reader.consumer.close()
    assert sum(h.late for h in handlers) == 0


def test_on_each_bus_a_restart_resumes_where_the_state_needs_it(bus, city_alerts):
    bus.ensure_topics(topic_specs(3))
    events = time_ordered(city())
    half = len(events) // 2
    Stream(full_schedule() + events[:half]).produce(bus)
    last = events[half - 1].timestamp - (at(60) - at(0))
    first = start_workers(bus, bus_config(), lambda hs: all(h.buffer.watermark and h.buffer.watermark > last for h in hs))
    assert all(h.buffer.watermark > last for h in first)  # the first run got that far, then stopped
    Stream(events[half:]).produce(bus)
    expected = {k: (a.state, a.timestamp) for k, a in final_states(city_alerts).items()}
    reader = Reader(bus)
    second = start_workers(bus, bus_config(), lambda hs: reader.poll() == expected)
    assert reader.poll() == expected
    reader.consumer.close()
    assert all(h.resumed_at(tp) for h in second for tp in h._first)  # it resumed mid-stream, not from the start
