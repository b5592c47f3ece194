"""The vehicle view's history (alerts.vehicle_history): the track's period, the load over the trip, and
which vehicle took over a block after a breakdown — read from stop events and live states, on a small
feed whose block BL1 runs T1 (08:05), T1b (08:20) and T1c (08:40), Amsterdam time."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from alerts import vehicle_history
from alerts.models import Alert
from streamcity.kernel.schemas import LiveVehicle
from tests.transit.test_passenger import FEED
from transit.models import StopEvent, VehiclePosition
from transit.services import vehicle_states_upsert

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
UTC = dt.timezone.utc
THREE = dict(FEED, **{
    "trips.txt": ("route_id,service_id,trip_id,direction_id,trip_headsign,block_id\n"
                  "R1,WK,T1,0,Straße,BL1\nR1,WK,T1b,0,Straße,BL1\nR1,WK,T1c,0,Straße,BL1\nR2,WK,T2,0,Café,\n"),
    "stop_times.txt": FEED["stop_times.txt"] + "T1c,08:40:00,08:40:00,P1,1\nT1c,08:45:00,08:45:00,S2,2\n",
})
BROKE = dt.datetime(2026, 11, 27, 7, 8, tzinfo=UTC)  # 08:08 local, on T1


def local(hh_mm: str, day: int = 27) -> dt.datetime:
    h, m = map(int, hh_mm.split(":"))
    return dt.datetime(2026, 11, day, h, m, tzinfo=AMS)


def state(vehicle_id: str, trip_id: str | None, at: dt.datetime, **kw) -> LiveVehicle:
    return LiveVehicle(vehicle_id=vehicle_id, vehicle_type="bus", route_id="R1", trip_id=trip_id, latitude=52.372,
                       longitude=4.9, stop_sequence=kw.pop("stop_sequence", 1), next_stop_id=None,
                       delay_seconds=0, passenger_count=kw.pop("passenger_count", 5), capacity=80, timestamp=at, **kw)


def call(vehicle_id: str, trip_id: str, start: str, seq: int, stop_id: str, at: dt.datetime, on_board: int,
         day: int = 27) -> StopEvent:
    return StopEvent.objects.create(vehicle_id=vehicle_id, trip_id=trip_id, trip_start=local(start, day),
                                    stop_sequence=seq, stop_id=stop_id, route_id="R1", scheduled=at, arrival=at,
                                    departure=at + dt.timedelta(seconds=20), passenger_count=on_board, capacity=80)


@pytest.fixture
def city(tmp_path):
    from tests.transit.gtfs_samples import write_feed
    from transit.gtfs.services import feed_import

    feed_import(source=write_feed(tmp_path / "city", THREE), name="city")


def breakdown(vehicle_id="V1", trip_id="T1", at=BROKE):
    return Alert.objects.create(alert_key=f"breakdown:{vehicle_id}:{trip_id}", kind="breakdown", route_id="R1",
                                vehicle_id=vehicle_id, trip_id=trip_id, summary="broke down", detected_at=at,
                                last_event_at=at)


def test_the_vehicle_that_worked_the_blocks_later_trips_after_the_breakdown_took_it_over(city):
    vehicle_states_upsert(vehicles=[state("V1", "T1", BROKE, status="broken_down"),
                                    state("SP9", "T1c", local("08:41"))])
    breakdown()
    call("V1", "T1", "08:05", 1, "P1", local("08:05"), 12)  # before the breakdown, on its own trip
    call("SP9", "T1b", "08:20", 1, "P1", local("08:21"), 3)  # the spare (no naming convention needed)
    call("SP9", "T1b", "08:20", 2, "S2", local("08:26"), 7)
    call("SP9", "T1c", "08:40", 1, "P1", local("08:40"), 4)
    call("OLD", "T1b", "08:20", 1, "P1", local("08:20", day=26), 9, day=26)  # yesterday's run of T1b: not this day
    [t] = vehicle_history.block_takeovers("V1")
    assert (t.block_id, t.broken_vehicle_id, t.broken_trip_id, t.vehicle_id, t.trip_id) == (
        "BL1", "V1", "T1", "SP9", "T1b")
    assert t.first_seen == local("08:21") and t.trip_scheduled_start == local("08:20") and t.broken_at == BROKE
    # the spare's side: the block it took over, and from whom
    [back] = vehicle_history.blocks_taken_over("SP9", now=local("08:45"))
    assert back == t
    assert vehicle_history.blocks_taken_over("V1", now=local("08:45")) == []
    assert vehicle_history.blocks_taken_over("OLD", now=local("08:45")) == []


def test_a_spare_gone_on_to_another_trip_is_found_from_its_kept_positions(city):
    vehicle_states_upsert(vehicles=[state("V1", "T1", BROKE, status="broken_down"),
                                    state("SP9", "T2", local("09:10"))])  # now on another route, no block
    breakdown()
    call("SP9", "T1b", "08:20", 1, "P1", local("08:21"), 3)
    VehiclePosition.objects.create(vehicle_id="SP9", timestamp=local("08:22"), trip_id="T1b", latitude=52.37,
                                   longitude=4.9)
    [t] = vehicle_history.blocks_taken_over("SP9", now=local("09:10"))
    assert (t.broken_vehicle_id, t.trip_id) == ("V1", "T1b")
    VehiclePosition.objects.all().delete()
    assert vehicle_history.blocks_taken_over("SP9", now=local("09:10")) == []  # nothing says it was on BL1


def test_a_spare_only_in_the_live_state_counts_with_its_trips_scheduled_start(city):
    vehicle_states_upsert(vehicles=[state("V1", "T1", BROKE, status="broken_down")])
    breakdown()
    assert vehicle_history.block_takeovers("V1") == []  # nobody on the block yet
    vehicle_states_upsert(vehicles=[state("X2", "T1c", local("08:35"), stop_sequence=None)])
    [t] = vehicle_history.block_takeovers("V1")
    assert (t.vehicle_id, t.trip_id, t.first_seen, t.trip_scheduled_start) == ("X2", "T1c", None, local("08:40"))


def test_no_takeover_without_a_breakdown_or_for_calls_before_it(city):
    vehicle_states_upsert(vehicles=[state("V1", "T1", BROKE)])
    call("EARLY", "T1b", "08:20", 1, "P1", local("08:02"), 1)  # worked the later trip before the breakdown
    assert vehicle_history.block_takeovers("V1") == []  # no breakdown alert
    breakdown()
    assert vehicle_history.block_takeovers("V1") == []
    breakdown(trip_id="T2", at=BROKE + dt.timedelta(minutes=1)).delete()  # T2 has no block: nothing to take over
    assert vehicle_history.block_takeovers("NOPE") == []


def test_the_load_over_the_trip_is_the_load_on_leaving_each_stop_of_the_latest_run(city):
    call("V1", "T1", "08:05", 2, "S2", local("08:10"), 30)
    call("V1", "T1", "08:05", 1, "P1", local("08:05"), 12)
    call("V1", "T1", "08:05", 1, "P1", local("08:05", day=26), 70, day=26)  # yesterday's run
    loads = vehicle_history.trip_loads("V1", "T1")
    assert [(r["stop_sequence"], r["name"], r["passenger_count"], r["percent"]) for r in loads] == [
        (1, "Gare Saint-Lazare", 12, 15), (2, "Café Señora Ñuñez", 30, 38)]
    chart = vehicle_history.load_chart(loads, width=200, height=80)
    assert [b["h"] for b in chart["bars"]] == [12.0, 30.0] and chart["capacity_y"] == 0.0
    assert vehicle_history.trip_loads("V1", None) == [] and vehicle_history.load_chart([]) is None


def test_the_track_period_defaults_to_the_service_day_and_refuses_what_it_cannot_show(settings):
    settings.STREAMCITY_HISTORY_RETENTION_DAYS = 7
    now = local("10:30")
    assert vehicle_history.track_period(None, None, now=now, tz=AMS, wall_now=now) == (local("00:00"), now)
    assert vehicle_history.track_period("2026-11-27T08:00", "2026-11-27T09:15", now=now, tz=AMS, wall_now=now) == (
        local("08:00"), local("09:15"))  # local times of the feed's zone
    for start, end, message in [("2026-11-27T09:00", "2026-11-27T08:00", "from must be before to"),
                                ("2026-11-25T08:00", "2026-11-27T08:00", "at most 24 hours"),
                                ("yesterday", None, "from: not a date and time"),
                                ("2026-11-01T08:00", "2026-11-01T09:00", "positions are kept for 7 days")]:
        with pytest.raises(vehicle_history.PeriodError, match=message):
            vehicle_history.track_period(start, end, now=now, tz=AMS, wall_now=now)
    # a period reaching back past the retention is cut at it
    start, _ = vehicle_history.track_period("2026-11-20T08:00", "2026-11-21T07:00", now=now, tz=AMS, wall_now=now)
    assert start == now - dt.timedelta(days=7)


def test_the_vehicle_view_names_the_spare_and_explains_a_bad_period(client, city, operator, settings):
    vehicle_states_upsert(vehicles=[state("V1", "T1", BROKE, status="broken_down"),
                                    state("SP9", "T1b", local("08:22"))])
    breakdown()
    call("SP9", "T1b", "08:20", 1, "P1", local("08:21"), 3)
    client.force_login(operator)
    page = client.get("/ops/vehicles/V1/").content.decode()
    assert 'taken over by\n        <a href="/ops/vehicles/SP9/">SP9</a> from trip T1b\n        at 08:21' in page
    assert "(breakdown at 08:08)" in page  # the feed's local times, as the rest of the page
    spare = client.get("/ops/vehicles/SP9/").content.decode()
    assert 'Took over block BL1 from\n        <a href="/ops/vehicles/V1/">V1</a>' in spare
    assert 'id="trip-load" data-stops="1"' in spare
    bad = client.get("/ops/vehicles/V1/", {"from": "2026-11-27T09:00", "to": "2026-11-27T08:00"})
    assert bad.status_code == 400 and "from must be before to" in bad.content.decode()
    assert client.get("/ops/vehicles/V1/", {"from": "garbage"}).status_code == 400
    settings.STREAMCITY_HISTORY_RETENTION_DAYS = 1  # the twin's day (27 Nov) is older than that
    assert client.get("/ops/vehicles/V1/").status_code == 200  # the page; its track API says why no track
    assert "kept for 1 days" in client.get("/ops/vehicles/V1/", {"from": "2026-11-27T08:00"}).content.decode()


def test_the_track_api_refuses_a_period_past_the_retention(client, operator, settings):
    settings.STREAMCITY_HISTORY_RETENTION_DAYS = 2
    client.force_login(operator)
    old = client.get("/api/history/vehicles/V1/track/", {"from": "2020-01-01T08:00:00Z", "to": "2020-01-01T09:00:00Z"})
    assert old.status_code == 400 and "kept for 2 days" in old.json()["error"]
    recent = dt.datetime.now(UTC) - dt.timedelta(days=1)
    ok = client.get("/api/history/vehicles/V1/track/", {"from": (recent - dt.timedelta(hours=1)).isoformat(),
                                                        "to": recent.isoformat()})
    assert ok.status_code == 200 and ok.json()["positions"] == []
