"""The vehicle stages in one consumer group (streamcity.kernel.stages.Stages): each record decoded
once, every stage sees what it saw in a group of its own, commits held back by the stage that
needs the most, unknown trips dead-lettered once and still seen by the alert stages."""

import msgspec
import pytest

from alerts.detection.processors import BunchingProcessor, VehicleAlertProcessor
from streamcity.kernel.bus import TransientError
from streamcity.kernel.bus.memory import MemoryBus
from streamcity.kernel.schemas import LIVE_VEHICLES, VEHICLE_LOCATIONS, LiveVehicle, decode, dlq_topic
from streamcity.kernel.stages import Stages
from transit.processors import LiveVehicleProcessor
from transit.timetable import ReferenceData

from .detection_scenarios import (
    CONFIG,
    Stream,
    alerts_on,
    at,
    broken_down,
    city,
    feed,
    processors,
    reference,
)

VEHICLES = VEHICLE_LOCATIONS.name


def vehicle_stages(bus, ref, *, live=True, shared=True):
    clock = lambda: 0.0  # noqa: E731 - as in detection_scenarios.processors
    stages = [LiveVehicleProcessor(bus, ref)] if live else []
    stages += [VehicleAlertProcessor(bus, CONFIG, reference=ref, clock=clock),
               BunchingProcessor(bus, CONFIG, reference=ref, clock=clock)]
    if shared:
        stages[-1].share_clock(stages[-2])  # as runprocessors does
    return Stages(bus, stages, name="vehicles", group_id="streamcity-test-vehicles", reference=ref)


def vehicle_records(events):
    return [d for d in Stream(sorted(events, key=lambda e: e.timestamp)).records() if d.record.topic == VEHICLES]


def records_on(bus, topic):
    with bus.consumer(f"check-{topic}", [topic]) as c:
        out = []
        while batch := c.consume(10_000, 0.05):
            out += batch
    return out


@pytest.mark.parametrize("shared", [True, False], ids=["one clock", "a clock each"])
@pytest.mark.parametrize("order", ["by time", "shuffled"])
def test_the_stages_together_find_the_alerts_each_finds_alone(shared, order):
    events = [e for e in city() if type(e).__name__ == "VehicleLocation"]
    stream = Stream(sorted(events, key=lambda e: e.timestamp))
    if order == "shuffled":
        stream = stream.shuffled(within=20, seed=3)
    records = [d for d in stream.records() if d.record.topic == VEHICLES]
    alone = MemoryBus(partitions=3)
    feed(processors(alone, reference(events))[1:], records)  # vehicle-alerts and bunching, a group each
    together = MemoryBus(partitions=3)
    stages = vehicle_stages(together, reference(events), shared=shared)
    for i in range(0, len(records), 97):
        stages(records[i:i + 97])
    stages.tick()
    expected = alerts_on(alone)
    assert {a.kind for a in expected} >= {"delay", "breakdown", "bunching", "silent"}
    assert alerts_on(together) == expected  # record for record
    live = [decode(LiveVehicle, r.value) for r in records_on(together, LIVE_VEHICLES.name)]
    assert {v.vehicle_id for v in live} == {e.vehicle_id for e in events}


def test_finishing_a_bounded_input_judges_every_event_still_held():
    """The end of a replay (the benchmark's): the events within the grace period of the last one
    are released and judged, once, as the stages in groups of their own judge them."""
    events = [e for e in city() if type(e).__name__ == "VehicleLocation"]
    records = vehicle_records(events)
    bus = MemoryBus(partitions=3)
    stages = vehicle_stages(bus, reference(events))
    leader = stages.stages[1]
    for i in range(0, len(records), 97):
        stages(records[i:i + 97])
    stages.tick()
    held = len(leader.buffer)
    assert held > 0 and leader.buffer.released == len(records) - held  # the last 30 s wait for later events
    before = alerts_on(bus, "before")
    stages.finish()
    assert len(leader.buffer) == 0 and leader.buffer.released == len(records)
    after = alerts_on(bus, "after")
    assert after[:len(before)] == before and {a.kind for a in after} >= {"delay", "breakdown", "bunching", "silent"}
    alone = MemoryBus(partitions=3)
    handlers = processors(alone, reference(events))[1:]  # vehicle-alerts and bunching, a group each
    feed(handlers, records)
    for h in handlers:
        h.finish()
    assert alerts_on(alone) == after  # record for record
    stages.finish()
    assert alerts_on(bus, "again") == after  # nothing held is judged twice


def test_a_clock_is_shared_only_by_processors_that_order_alike():
    from alerts.detection.processors import SurgeProcessor

    bus = MemoryBus(partitions=3)
    with pytest.raises(ValueError):
        BunchingProcessor(bus, CONFIG, reference=reference()).share_clock(SurgeProcessor(bus, CONFIG))


def test_a_report_of_an_unknown_trip_is_dead_lettered_once_and_still_seen_by_the_alert_stages():
    """live_vehicles shows only trips of the schedule; a breakdown or a silence is one whatever
    the trip (and an open delay of the previous trip ends); bunching needs the schedule and
    ignores it."""
    ghost = [msgspec.structs.replace(e, vehicle_id="G-V1", trip_id="GHOST-T1") for e in broken_down()]
    bus = MemoryBus(partitions=3)
    stages = vehicle_stages(bus, reference())
    records = vehicle_records(ghost)
    stages(records[:5])
    stages(records[:5])  # a retried batch is not dead-lettered twice
    stages(records[5:])
    stages.tick()
    dead = records_on(bus, dlq_topic(VEHICLES))
    assert len(dead) == len(records) == stages.dead_lettered
    reason = dead[0].header("dlq.reason").decode()
    assert "unknown trip_id 'GHOST-T1'" in reason and "still handled by vehicle-alerts, bunching" in reason
    assert records_on(bus, LIVE_VEHICLES.name) == []
    kinds = {(a.kind, a.state) for a in alerts_on(bus)}
    assert ("breakdown", "open") in kinds and ("breakdown", "cleared") in kinds


def test_one_stage_alone_drops_what_it_refuses():
    bus = MemoryBus(partitions=3)
    ref = reference()
    stages = Stages(bus, [LiveVehicleProcessor(bus, ref)], name="live-vehicles", group_id="g", reference=ref)
    ghost = [msgspec.structs.replace(e, trip_id="GHOST-T1") for e in broken_down()[:3]]
    stages(vehicle_records(ghost))
    dead = records_on(bus, dlq_topic(VEHICLES))
    assert [r.header("dlq.reason").decode() for r in dead] == ["unknown trip_id 'GHOST-T1': not in stop_schedule"] * 3
    assert not stages.retains


def test_commits_are_held_at_the_lowest_offset_any_stage_still_needs():
    bus = MemoryBus(partitions=3)
    stages = vehicle_stages(bus, reference(), shared=False)
    records = vehicle_records(city())
    stages(records)
    stages.tick()
    alerts_stage, bunching_stage = stages.stages[1:]
    bunching_stage.replay.span = bunching_stage.replay.span * 4  # needs more of the past than the other
    wanted = {}
    for s in (alerts_stage, bunching_stage):
        for tp, offset in s.retained().items():
            wanted[tp] = min(offset, wanted.get(tp, offset))
    assert stages.retains and stages.retained() == wanted
    assert stages.retained() == bunching_stage.retained() != alerts_stage.retained()


def test_waiting_for_the_reference_data_leaves_every_stage_untouched():
    bus = MemoryBus(partitions=3)
    ref = ReferenceData()
    stages = vehicle_stages(bus, ref)
    with pytest.raises(TransientError):
        stages(vehicle_records(broken_down()))
    stages.tick()
    assert all(not getattr(s, "_next", None) for s in stages.stages)
    assert stages.stages[0].table.apply([]) == [] and not stages.stages[0].table._last


def test_stages_of_different_topics_do_not_share_a_group():
    bus = MemoryBus(partitions=3)
    from alerts.detection.processors import SurgeProcessor

    with pytest.raises(ValueError):
        Stages(bus, [SurgeProcessor(bus, CONFIG), LiveVehicleProcessor(bus)], name="x", group_id="x")


# -- live-vehicles catching up after a restart ---------------------------------------------------

def test_what_was_in_the_topic_at_start_is_produced_once_per_vehicle_then_every_batch():
    bus = MemoryBus(partitions=3)
    events = sorted(broken_down() + [msgspec.structs.replace(e, vehicle_id="K-V9") for e in broken_down()],
                    key=lambda e: e.timestamp)
    Stream(events[:40]).produce(bus)  # already there when the processor starts (a restart's replay)
    ref = reference()
    live = LiveVehicleProcessor(bus, ref)
    records = vehicle_records(events)
    live(records[:10])
    assert records_on(bus, LIVE_VEHICLES.name) == []  # catching up: nothing yet
    live(records[10:40])
    out = [decode(LiveVehicle, r.value) for r in records_on(bus, LIVE_VEHICLES.name)]
    latest = {e.vehicle_id: e.timestamp for e in events[:40]}
    assert {v.vehicle_id: v.timestamp for v in out} == latest and len(out) == 2  # caught up: the latest of each
    live(records[40:45])
    assert len(records_on(bus, LIVE_VEHICLES.name)) == 2 + len({d.event.vehicle_id for d in records[40:45]})


def test_without_catching_up_every_batch_is_produced():
    bus = MemoryBus(partitions=3)
    events = sorted(broken_down(), key=lambda e: e.timestamp)
    Stream(events[:20]).produce(bus)
    live = LiveVehicleProcessor(bus, reference(), catch_up=False)
    for d in vehicle_records(events)[:20]:
        live([d])
    assert len(records_on(bus, LIVE_VEHICLES.name)) == 20


def test_a_quiet_poll_produces_what_is_still_pending():
    bus = MemoryBus(partitions=3)
    events = sorted(broken_down(), key=lambda e: e.timestamp)
    Stream(events[:20]).produce(bus)
    live = LiveVehicleProcessor(bus, reference())
    live(vehicle_records(events)[:19])  # the 20th was refused (say): the partition never reaches its end
    live.tick()  # the poll that brought these
    assert records_on(bus, LIVE_VEHICLES.name) == []
    live.tick()  # a poll that brought nothing: caught up
    [v] = [decode(LiveVehicle, r.value) for r in records_on(bus, LIVE_VEHICLES.name)]
    assert v.timestamp == events[18].timestamp and at(0) < v.timestamp


def test_runprocessors_selects_stages_and_names_their_group(settings):
    from streamcity.kernel.registry import registry, worker_status

    bus = MemoryBus(partitions=3)
    _, workers = registry.processors(bus)
    by_name = {w.name: w for w in workers}
    assert set(by_name) == {"reference", "vehicles", "surges"}
    assert by_name["vehicles"].group_id == "streamcity-live-vehicles+stop-events+vehicle-alerts+bunching"
    assert [s.name for s in by_name["vehicles"].handle.stages] == ["live-vehicles", "stop-events", "vehicle-alerts", "bunching"]
    assert by_name["vehicles"].retain is not None
    _, workers = registry.processors(bus, only=["bunching", "vehicle-alerts"])
    [w] = [w for w in workers if w.name != "reference"]
    assert (w.name, w.group_id) == ("vehicles", "streamcity-vehicle-alerts+bunching")
    _, workers = registry.processors(bus, only=["live-vehicles"])
    [w] = [w for w in workers if w.name != "reference"]
    assert (w.name, w.group_id, w.retain) == ("live-vehicles", "streamcity-live-vehicles", None)
    status = worker_status(workers)
    assert "live-vehicles 0 read, 0 dead-lettered, live-vehicles: 0 stale dropped" in status
    # the surges alone (runprocessors --only surges, a process of their own) still read the stops
    # served, to refuse a tap at a stop no trip serves
    _, workers = registry.processors(bus, only=["surges"])
    by_name = {w.name: w for w in workers}
    assert set(by_name) == {"reference", "surges"}
    assert by_name["surges"].handle.reference is by_name["reference"].handle.data
