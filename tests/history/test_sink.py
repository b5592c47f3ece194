"""The history consumer: rows in batches, sampled positions, scheduled trips, retention pruning."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from streamcity.kernel.bus import Decoded, Record
from streamcity.kernel.schemas import LiveVehicle, StopEvent, StopSchedule
from transit.history.retention import prune_history
from transit.history.sink import HistorySink
from transit.models import KpiHour, ScheduledTrip, VehiclePosition
from transit.models import StopEvent as StopEventRow

pytestmark = pytest.mark.django_db


def batch(events):
    return [Decoded(Record("t", 0, i, None, b""), e) for i, e in enumerate(events)]


def live(t0, s, *, bearing=90.0, trip="T1", vehicle="V1", status="in_service", speed=5.0):
    return LiveVehicle(vehicle_id=vehicle, vehicle_type="bus", route_id="R1", trip_id=trip, latitude=52.0,
                       longitude=4.9, bearing=bearing, speed=speed, stop_sequence=3, status=status,
                       timestamp=t0 + dt.timedelta(seconds=s), delay_seconds=30)


def stop_event(t0, seq, vehicle="V1"):
    return StopEvent(vehicle_id=vehicle, trip_id="T1", route_id="R1", stop_id=f"S{seq}", stop_sequence=seq,
                     trip_start=t0, scheduled=t0 + dt.timedelta(seconds=60 * seq),
                     arrival=t0 + dt.timedelta(seconds=60 * seq + 5), departure=t0 + dt.timedelta(seconds=60 * seq + 30),
                     passenger_count=40, capacity=80, timepoint=True, timestamp=t0 + dt.timedelta(seconds=60 * seq + 30))


def test_positions_are_sampled_every_period_or_on_a_turn():
    t0 = timezone.now().replace(microsecond=0)
    sink = HistorySink(every_seconds=15, course_degrees=30, prune_every=0)
    sink(batch([live(t0, s) for s in range(0, 60, 2)]))  # a report every 2 s for a minute: every 16 s kept
    assert [p.timestamp for p in VehiclePosition.objects.order_by("timestamp")] == [
        t0 + dt.timedelta(seconds=s) for s in (0, 16, 32, 48)]
    sink(batch([live(t0, 50, bearing=135), live(t0, 52, bearing=140), live(t0, 54, status="broken_down")]))
    assert VehiclePosition.objects.count() == 6  # the turn and the breakdown, not the 5° after the turn


def test_a_vehicle_standing_still_is_kept_less_often():
    t0 = timezone.now().replace(microsecond=0)
    sink = HistorySink(every_seconds=15, course_degrees=30, prune_every=0)
    sink(batch([live(t0, s, speed=0.0, vehicle="V3") for s in range(0, 150, 5)]))  # 2.5 min at a stop
    kept = [p.timestamp for p in VehiclePosition.objects.filter(vehicle_id="V3").order_by("timestamp")]
    assert kept == [t0 + dt.timedelta(seconds=s) for s in (0, 60, 120)]
    sink(batch([live(t0, 150, speed=4.0, vehicle="V3"), live(t0, 155, speed=6.0, vehicle="V3")]))
    assert VehiclePosition.objects.filter(vehicle_id="V3").count() == 4  # moving off: the first move is kept


def test_stop_events_read_twice_are_stored_once_and_trips_fold_their_stops():
    t0 = timezone.now().replace(microsecond=0)
    sink = HistorySink(prune_every=0)
    events = [stop_event(t0, seq) for seq in (1, 2, 3)]
    sink(batch(events))
    sink(batch(events + [stop_event(t0, 4)]))
    assert StopEventRow.objects.count() == 4 and sink.stop_events == 4  # the new ones
    rows = [StopSchedule(trip_id="T1", stop_sequence=seq, stop_id=f"S{seq}", route_id="R1", service_date=t0.date(),
                         scheduled_arrival=t0 + dt.timedelta(minutes=seq), direction_id=1) for seq in (2, 3, 4)]
    sink(batch(rows))
    sink(batch([StopSchedule(trip_id="T1", stop_sequence=1, stop_id="S1", route_id="R1", service_date=t0.date(),
                             scheduled_arrival=t0, scheduled_departure=t0 + dt.timedelta(seconds=20))]))
    sink(batch(rows[:1]))  # a replay of a middle stop changes nothing
    [trip] = ScheduledTrip.objects.all()
    assert (trip.first_sequence, trip.start, trip.last_sequence, trip.end, trip.direction_id) == (
        1, t0 + dt.timedelta(seconds=20), 4, t0 + dt.timedelta(minutes=4), 1)


def test_pruning_deletes_what_is_older_than_the_retention(settings):
    now = timezone.now().replace(microsecond=0)
    old, recent = now - dt.timedelta(days=3), now - dt.timedelta(hours=1)
    sink = HistorySink(prune_every=0)
    sink(batch([stop_event(old, 1), stop_event(recent, 1), live(old, 0), live(recent, 0, vehicle="V2")]))
    ScheduledTrip.objects.create(trip_id="T1", service_date=old.date(), start=old, end=old + dt.timedelta(hours=1),
                                 first_sequence=1, last_sequence=9)
    settings.STREAMCITY_HISTORY_RETENTION_DAYS = 2
    assert prune_history(now) == {"stop_events": 1, "positions": 1, "scheduled_trips": 1, "kpi_hours": 0}
    assert [r.trip_start for r in StopEventRow.objects.all()] == [recent]
    assert [p.vehicle_id for p in VehiclePosition.objects.all()] == ["V2"]
    assert KpiHour.objects.count() == 2  # the roll-up is kept longer (400 days by default)
    settings.STREAMCITY_HISTORY_ROLLUP_RETENTION_DAYS = 2
    assert prune_history(now) == {"stop_events": 0, "positions": 0, "scheduled_trips": 0, "kpi_hours": 1}
    assert [h.hour for h in KpiHour.objects.all()] == [recent.replace(minute=0, second=0)]
    settings.STREAMCITY_HISTORY_ROLLUP_RETENTION_DAYS = 0
    with pytest.raises(ValueError, match="roll-up retention must be positive"):
        prune_history(now)
    settings.STREAMCITY_HISTORY_ROLLUP_RETENTION_DAYS = 400
    call_command("prunehistory", days=0.01)  # 15 minutes: the recent rows go too
    assert not StopEventRow.objects.exists() and not VehiclePosition.objects.exists()
    with pytest.raises(CommandError, match="must be positive"):
        call_command("prunehistory", days=0)


def test_the_consumer_prunes_on_its_timer(settings):
    settings.STREAMCITY_HISTORY_RETENTION_DAYS = 1
    now = [0.0]
    sink = HistorySink(prune_every=3600, clock=lambda: now[0])
    old = timezone.now() - dt.timedelta(days=2)
    sink(batch([live(old, 0)]))  # pruned at the first batch (the timer starts due)
    assert not VehiclePosition.objects.exists() and sink.pruned == 1
    sink(batch([live(old, 30)]))
    assert VehiclePosition.objects.count() == 1  # not due yet
    now[0] = 3601
    sink.tick()
    assert not VehiclePosition.objects.exists() and sink.pruned == 2


def test_the_rollup_command_rebuilds_from_the_stop_events():
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    HistorySink(prune_every=0)(batch([stop_event(t0, seq) for seq in (1, 2, 3)]))
    KpiHour.objects.all().delete()
    call_command("historyrollup", days=1)
    assert sum(KpiHour.objects.values_list("departures", flat=True)) == 3
    call_command("historyrollup", date=timezone.localtime(t0 + dt.timedelta(minutes=2)).date().isoformat())
    assert sum(KpiHour.objects.values_list("departures", flat=True)) == 3  # again: the same, not twice
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("historyrollup", date="yesterday")
    with pytest.raises(CommandError, match="positive"):
        call_command("historyrollup", days=-1)
