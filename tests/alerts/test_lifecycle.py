"""An alert lifecycle that survives restarts (issue 16): open alerts whose condition is gone end
`expired`, with an audit entry, within a minute of event time; operators' work on them is kept."""

import datetime as dt

import pytest

from alerts.detections import detection_from_event
from alerts.models import Alert, AlertChange
from alerts.selectors import alert_payloads
from alerts.services import alert_acknowledge, alert_assign, alerts_apply_detections, alerts_expire
from alerts.streams import AlertSink, alert_feed
from streamcity.kernel.schemas import (
    BunchingAlert, DelayAlert, LiveVehicle, SilentVehicleAlert, SurgeAlert, TrafficIncident,
)
from transit.services import simulation_run_start, vehicle_states_upsert

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_required")]

T0 = dt.datetime(2026, 11, 27, 7, 30, tzinfo=dt.timezone.utc)  # 08:30 in Amsterdam


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def run(run_id: str, seconds: float = 0):
    state = {"date": dt.date(2026, 11, 27), "timetable_date": dt.date(2026, 11, 27), "reason": "requested",
             "vehicles": 3, "service_starts": None, "note": ""}
    return simulation_run_start(run_id=run_id, feed="builtin", tz="Europe/Amsterdam", state=state, sim_now=at(seconds))


def live(vehicle: str, trip: str | None, seconds: float, delay: int | None = 0, status: str = "in_service"):
    vehicle_states_upsert(vehicles=[LiveVehicle(vehicle_id=vehicle, vehicle_type="bus", trip_id=trip, latitude=52.37,
                                                longitude=4.9, status=status, delay_seconds=delay,
                                                timestamp=at(seconds))])


def delay(vehicle="61-02", trip="T1", seconds=0, late=420):
    return DelayAlert(alert_key=f"delay:{trip}:{vehicle}", vehicle_id=vehicle, trip_id=trip, route_id="61",
                      delay_seconds=late, threshold_seconds=300, stop_id="CS-T", detected_at=at(seconds),
                      timestamp=at(seconds))


def apply(*events):
    return alerts_apply_detections(detections=[detection_from_event(e) for e in events])


def previous_run_alerts(operator):
    run("7-1000")
    live("61-02", "T1", 0, delay=420)
    live("12-01", "T7", 0)
    apply(
        delay(),
        BunchingAlert(alert_key="bunching:12-01:T7:gap", vehicle_id="12-01", trip_id="T7", condition="gap",
                      headway_seconds=900, scheduled_headway_seconds=600, detected_at=at(0), timestamp=at(0)),
        SilentVehicleAlert(alert_key="silent:4-03:x", vehicle_id="4-03", last_seen=at(-130), silent_seconds=120,
                           detected_at=at(-10), timestamp=at(-10)),
        SurgeAlert(alert_key="surge:CS:0730", stop_id="CS", window_start=at(-300), window_end=at(0), tap_count=90,
                   threshold=40, detected_at=at(-100), timestamp=at(0)),
        TrafficIncident(incident_id="7-1000-inc3", type="road_closure", latitude=52.37, longitude=4.9, radius=100,
                        severity=3, timestamp=at(0)),
    )
    acknowledged = alert_acknowledge(alert=Alert.objects.get(kind="delay"), user=operator)
    alert_assign(alert=acknowledged, user=operator, assignee=operator)
    return acknowledged


@pytest.mark.django_db(transaction=True)  # the consumer closes connections
@pytest.mark.usefixtures("operator_groups")
def test_after_a_restart_the_alerts_of_the_previous_run_expire_and_keep_what_operators_did(operator):
    acknowledged = previous_run_alerts(operator)
    assert Alert.objects.filter(status__in=["new", "acknowledged"]).count() == 5
    # a restart: a new run (the live table is cleared), another time of day, other vehicles
    run("7-2000", seconds=3 * 3600)
    live("30-01", "T99", 3 * 3600)
    sink = AlertSink(alert_feed(), clock=lambda: 0.0)
    sink.tick()  # the alert consumer's first pass, on start
    assert sink.expired == 5
    assert set(Alert.objects.values_list("status", flat=True)) == {"expired"}
    delay_alert = Alert.objects.get(kind="delay")
    assert delay_alert.acknowledged_by == operator and delay_alert.acknowledged_at == acknowledged.acknowledged_at
    assert delay_alert.assigned_to == operator
    actions = list(delay_alert.changes.values_list("action", flat=True))
    assert actions == ["created", "acknowledged", "assigned", "expired"]
    notes = dict(AlertChange.objects.filter(action="expired").values_list("alert__kind", "note"))
    assert notes == {
        "delay": "Expired: the vehicle was withdrawn (no longer reporting).",
        "gap": "Expired: the vehicle was withdrawn (no longer reporting).",
        "silent": "Expired: the vehicle is not part of the running simulation.",
        "surge": "Expired: its window is over.",
        "incident": "Expired: the incident is unknown to the running simulation.",
    }
    assert sink.feed  # the ops feed hears of them
    sink.tick()  # the next pass is due only in 5 s of wall time, and would find nothing anyway
    assert AlertChange.objects.filter(action="expired").count() == 5


def test_during_a_run_an_alert_expires_within_a_minute_of_event_time_after_its_condition_went(operator):
    run("7-1000")
    live("61-02", "T1", 0, delay=420)
    apply(delay(seconds=0))
    assert alerts_expire(now=at(90)) == []  # the vehicle is still late on its trip
    live("61-02", "T2", 100, delay=0)  # trip T1 is over (the detector's clear was lost, say)
    assert alerts_expire(now=at(59)) == []  # its last update is under a minute old: not judged yet
    [expired] = alerts_expire(now=at(101))  # a minute on, its trip has ended
    assert expired.status == "expired" and not expired.condition_open


def test_an_open_detection_under_an_expired_key_opens_it_again(operator):
    run("7-1000")
    apply(delay(seconds=0))
    alerts_expire(now=at(120))  # no vehicle in the live table: withdrawn
    assert Alert.objects.get().status == "expired"
    apply(delay(seconds=200, late=480))
    assert Alert.objects.get().status == "new"


def test_an_alert_carries_its_start_in_the_feeds_time_zone_its_age_and_severity_in_words(operator):
    run("7-1000")
    live("61-02", "T1", 600, delay=420)  # the twin's clock: the newest report
    apply(delay(seconds=0))
    [payload] = alert_payloads(Alert.objects.all())
    assert payload["timezone"] == "Europe/Amsterdam"
    assert payload["detected_local"] == "2026-11-27T08:30:00+01:00" and payload["detected_local_display"] == "08:30:00"
    assert payload["age_seconds"] == 600
    assert payload["severity"] == 3 and payload["severity_label"] == "major" and payload["is_open"] is True


def _pipeline(bus, sim, minutes: float, step_s: float = 10.0):
    """The simulator, the processors, the bridge and the alert consumer on the in-process bus, for
    `minutes` of simulated time; returns the alert consumer (AlertSink)."""
    from alerts.detection.config import DetectionConfig
    from alerts.detection.processors import BunchingProcessor, SurgeProcessor, VehicleAlertProcessor
    from alerts.streams import TOPICS as ALERT_STREAM_TOPICS
    from streamcity.kernel.bus import Worker
    from transit.processors import LiveVehicleProcessor
    from transit.streams import VehicleBridge, vehicle_frames
    from transit.timetable import ReferenceData

    ref = ReferenceData()
    ref.ready.set()
    cfg = DetectionConfig(idle_partition_seconds=0.0)
    sink = AlertSink(alert_feed())
    handlers = [LiveVehicleProcessor(bus, ref, catch_up=False), VehicleAlertProcessor(bus, cfg, reference=ref),
                BunchingProcessor(bus, cfg, reference=ref), SurgeProcessor(bus, cfg, reference=ref)]
    workers = [(Worker(bus, name=h.name, group_id=h.group_id, topics=h.topics, handle=h, tick=h.tick,
                       retain=h.retained if hasattr(h, "retained") else None, batch_size=20_000, poll_timeout=0.0),
                h.topics) for h in handlers]
    bridge = VehicleBridge(vehicle_frames(), write_interval=0.0)
    from streamcity.kernel.schemas import LIVE_VEHICLES

    workers.append((Worker(bus, name="bridge", group_id=f"{bridge.group_id}-{sim.run_id}", topics=[LIVE_VEHICLES],
                           handle=bridge, tick=bridge.tick, batch_size=20_000, poll_timeout=0.0), [LIVE_VEHICLES]))
    workers.append((Worker(bus, name="alerts", group_id=f"{sink.group_id}-{sim.run_id}", topics=ALERT_STREAM_TOPICS,
                           handle=sink, tick=sink.tick, batch_size=5_000, poll_timeout=0.0), ALERT_STREAM_TOPICS))
    consumers = [(w, bus.consumer(w.group_id, [t.name for t in topics])) for w, topics in workers]
    for _ in range(int(minutes * 60 / step_s)):
        tick = sim.tick(step_s)
        for e in tick.schedule:
            ref.schedule.apply(e)
        sim.publish(bus, tick)
        for worker, consumer in consumers:
            while worker.step(consumer):
                pass
    for _, consumer in consumers:
        consumer.close()
    return sink


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("operator_groups")
def test_a_restarted_simulation_expires_the_alerts_of_the_last_run_end_to_end(operator):
    """Run A (the built-in city's morning, with breakdowns and incidents) raises alerts through the
    real processors and consumers; an operator acknowledges one with a note. Run B starts (another
    time of day, the live table cleared): within a minute of its event time every alert of run A whose
    condition is gone is `expired`, the acknowledged one with its note and audit trail."""
    from simulators.city import generate_city
    from simulators.engine import Simulation
    from simulators.network import Network
    from streamcity.kernel.bus import topic_specs
    from streamcity.kernel.bus.memory import MemoryBus

    network = Network(generate_city(), name="builtin")
    first = Simulation(network, seed=5, start=dt.time(7, 30), date=dt.date(2026, 11, 25), breakdown_rate=2.0,
                       incident_rate=20.0, surge_rate=4.0)
    simulation_run_start(run_id=first.run_id, feed="builtin", tz=first.tz.key, state=first.service_state(),
                         sim_now=first.now)
    bus = MemoryBus(partitions=2, retention=50_000_000)
    bus.ensure_topics(topic_specs(2))
    _pipeline(bus, first, minutes=12)
    open_before = list(Alert.objects.exclude(status__in=Alert.CLOSED))
    assert {a.kind for a in open_before} >= {"breakdown", "incident"}, [a.kind for a in open_before]
    target = open_before[0]
    alert_acknowledge(alert=target, user=operator)
    alert_assign(alert=Alert.objects.get(pk=target.pk), user=operator, assignee=operator)

    second = Simulation(network, seed=6, start=dt.time(17, 0), date=dt.date(2026, 11, 26), breakdown_rate=0.0,
                        incident_rate=0.0, surge_rate=0.0)
    simulation_run_start(run_id=second.run_id, feed="builtin", tz=second.tz.key, state=second.service_state(),
                         sim_now=second.now)
    bus2 = MemoryBus(partitions=2, retention=50_000_000)  # a restart: nothing of run A's processors survives
    bus2.ensure_topics(topic_specs(2))
    started = second.now
    _pipeline(bus2, second, minutes=1)  # one minute of run B's event time, its first expiry pass included
    left = Alert.objects.filter(pk__in=[a.pk for a in open_before]).exclude(status="expired")
    assert list(left.values_list("kind", "summary")) == []
    expired = Alert.objects.get(pk=target.pk)
    assert expired.acknowledged_by == operator and expired.assigned_to == operator
    assert list(expired.changes.values_list("action", flat=True))[-3:] == ["acknowledged", "assigned", "expired"]
    note = expired.changes.get(action="expired")
    assert note.note.startswith("Expired: ") and dt.datetime.fromisoformat(note.data["event_time"]) <= (
        started + dt.timedelta(minutes=1))
