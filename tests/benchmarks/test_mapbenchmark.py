"""The map benchmark's ladder route (benchmarks/ladder.py) and tiny end-to-end runs of its pages.

The runs check the figures' shape (every line printed, the JSON complete, every vehicle drawn), not
the speed: the frame rates are the benchmark's own, measured and reported in docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from benchmarks.ladder import ROUTE_ID, LadderRoute, zone_near_noon

T0 = dt.datetime(2026, 12, 4, 7, 40, tzinfo=dt.timezone.utc)
FIGURES = re.compile(r"^ +animating(, (map|page) still| while (panning|scrolling)): +\d+\.\d fps \(frame median "
                     r"[\d.]+ ms, p95 [\d.]+ ms, worst [\d.]+ ms, \d+ over 50 ms\)", re.M)


@pytest.mark.parametrize("hour", range(24))
def test_the_route_zone_puts_now_about_noon(hour):
    now = T0.replace(hour=hour, minute=59)
    assert 11 <= now.astimezone(ZoneInfo(zone_near_noon(now))).hour <= 13


def test_the_ladder_route_is_a_valid_feed_worked_by_its_fleet_in_order(tmp_path):
    from transit.gtfs.parse import parse_feed
    from transit.gtfs.reader import FeedSource

    route = LadderRoute(vehicles=60, timezone=zone_near_noon(T0))
    with FeedSource(route.write_gtfs(tmp_path / "gtfs", today=T0.date())) as src:
        feed = parse_feed(src)
    assert [r.route_id for r in feed.routes] == [ROUTE_ID] and len(feed.stops) == 80
    trips = {t.trip_id: t for t in feed.trips}
    assert {t.direction_id for t in trips.values()} == {0, 1}
    assert all(len(t.stop_times) == 40 and sum(s.timepoint for s in t.stop_times) == 9 for t in trips.values())
    assert set(feed.services_on(T0.date())) == {"LADDER-DAILY"}

    first = route.tick(T0)
    second = {v.vehicle_id: v for v in route.tick(T0 + dt.timedelta(seconds=30))}
    assert len(first) == 60 and len({v.trip_id for v in first}) == 60
    by_direction = Counter(trips[v.trip_id].direction_id for v in first)
    assert abs(by_direction[0] - by_direction[1]) <= 2  # about half the fleet each way
    day = route.day_start(T0)
    for v in first:
        trip = trips[v.trip_id]
        stops = [s.stop_id for s in trip.stop_times]
        # its last stop served and next stop belong to its trip, where the timetable (plus its delay) has it
        assert stops[v.stop_sequence] == v.next_stop_id
        due = day + trip.stop_times[v.stop_sequence].arrival + v.delay_seconds
        assert 0 <= due - T0.timestamp() <= route.leg_s + 1
        w = second[v.vehicle_id]
        assert w.trip_id == v.trip_id or w.stop_sequence <= 1  # it moves on along its trip, or turned round
    for d in (0, 1):  # no bus overtakes another: the earlier trip is further along
        ahead = sorted((v for v in first if trips[v.trip_id].direction_id == d), key=lambda v: trips[v.trip_id].start)
        assert all(a.stop_sequence >= b.stop_sequence for a, b in zip(ahead, ahead[1:])), [
            (v.trip_id, v.stop_sequence) for v in ahead]


def test_bad_options_are_refused():
    with pytest.raises(CommandError, match="positive"):
        call_command("mapbenchmark", page="ladder", vehicles=0)
    with pytest.raises(CommandError, match="live map only"):
        call_command("mapbenchmark", page="ops", url="http://127.0.0.1:9")


def _run(chromium_path, **options) -> tuple[str, dict]:
    out = io.StringIO()
    call_command("mapbenchmark", seconds=1, chromium=chromium_path, stdout=out, **options)
    text = out.getvalue()
    return text, json.loads(text.strip().splitlines()[-1])


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_tiny_ladder_run_prints_its_figures(chromium_path, tmp_path):
    text, result = _run(chromium_path, page="ladder", vehicles=5, trace=str(tmp_path / "trace.json"),
                        screenshot=str(tmp_path / "ladder.png"))
    assert re.search(rf"^5 vehicles and \d+ ghost buses on the ladder of route {ROUTE_ID} at 1280x800", text, re.M)
    assert len(FIGURES.findall(text)) == 2, text
    assert result["page"] == "ladder" and result["vehicles"] == 5
    for figures in (result["idle"], result["scrolling"]):
        assert figures["fps"] > 0 and figures["frame_ms_max"] >= figures["frame_ms_median"] > 0
        assert figures["frame_messages_per_s"] > 0 and figures["map_redraws_per_s"] > 0  # the ladder kept live
    assert result["scrolling"]["mouse_moves"] > 0
    # --trace: a Chromium trace of the scrolling, and the main thread's time by kind of work
    assert re.search(r"^main thread, ms per second \(trace\): RunTask [\d.]+", text, re.M), text
    assert result["main_thread_ms"]["RunTask"] > 0
    assert "traceEvents" in json.loads((tmp_path / "trace.json").read_text())
    assert (tmp_path / "ladder.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_tiny_ops_run_logs_in_and_prints_its_figures(chromium_path):
    text, result = _run(chromium_path, page="ops", vehicles=30, alerts=5)
    assert re.search(r"^30 vehicles on the operations map at 1280x800, zoom \d+", text, re.M)
    assert len(FIGURES.findall(text)) == 2, text
    assert result["page"] == "ops" and result["vehicles"] == 30
    assert result["panning"]["fps"] > 0 and result["panning"]["mouse_moves"] > 0
