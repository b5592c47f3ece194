"""Importing GTFS feeds into the database: replace, coexist, roll back; the real Cairns feed."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from transit.gtfs.parse import parse_feed
from transit.gtfs.reader import FeedSource, GtfsError
from transit.gtfs.selectors import feed_load
from transit.gtfs.services import feed_import
from transit.models import Feed, Route, Stop, StopTime, Trip

from .gtfs_samples import MINIMAL, require_cairns, write_feed

pytestmark = pytest.mark.django_db


def test_import_a_feed_and_read_it_back(tmp_path):
    folder = write_feed(tmp_path / "tiny", {"frequencies.txt": "trip_id,start_time,end_time,headway_secs\nT2,06:00:00,07:00:00,1200\n"})
    summary = feed_import(source=folder)
    feed = summary.feed
    assert feed.name == "tiny" and feed.timezone == "Europe/Amsterdam"
    assert (feed.start_date, feed.end_date) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert summary.counts["trips"] == 4 and Trip.objects.filter(feed=feed).count() == 4  # T1 + T2 x 3
    assert StopTime.objects.filter(trip__feed=feed).count() == 4 + 3 * 2
    assert Route.objects.get(feed=feed, route_id="R2").vehicle_type == "tram"
    with FeedSource(folder) as src:
        parsed = parse_feed(src)
    loaded = feed_load(feed=feed)
    assert sorted(loaded.trips, key=lambda t: t.trip_id) == sorted(parsed.trips, key=lambda t: t.trip_id)
    assert loaded.stops == parsed.stops and loaded.shapes == parsed.shapes and loaded.routes == parsed.routes
    assert loaded.calendars == parsed.calendars and loaded.frequencies == parsed.frequencies


def test_reimporting_the_same_feed_replaces_it(tmp_path):
    feed_import(source=write_feed(tmp_path / "city", {}))
    changed = MINIMAL["stops.txt"].replace("First", "Centraal")
    summary = feed_import(source=write_feed(tmp_path / "v2" / "city", {"stops.txt": changed}), name="city")
    assert summary.replaced
    assert Feed.objects.count() == 1
    assert Stop.objects.get(stop_id="S1").name == "Centraal"
    assert Trip.objects.count() == 2 and StopTime.objects.count() == 6


def test_if_changed_skips_an_identical_feed(tmp_path):
    folder = write_feed(tmp_path / "city", {})
    first = feed_import(source=folder)
    again = feed_import(source=folder, if_changed=True)
    assert again.skipped and again.feed.pk == first.feed.pk


def test_two_feeds_coexist(tmp_path):
    feed_import(source=write_feed(tmp_path / "one", {}))
    feed_import(source=write_feed(tmp_path / "two", {}))
    assert sorted(Feed.objects.values_list("name", flat=True)) == ["one", "two"]
    assert Stop.objects.filter(stop_id="S1").count() == 2
    assert Trip.objects.filter(feed__name="one").count() == 2


def test_a_broken_feed_leaves_the_previous_import_intact(tmp_path):
    feed_import(source=write_feed(tmp_path / "city", {}))
    broken = MINIMAL["stop_times.txt"].replace("T2,09:05:00,09:05:00,S1", "T2,09:05:00,09:05:00,S9")
    with pytest.raises(GtfsError, match=r"stop_times.txt, row 7, column 'stop_id'"):
        feed_import(source=write_feed(tmp_path / "bad" / "city", {"stop_times.txt": broken}), name="city")
    assert Trip.objects.filter(feed__name="city").count() == 2 and StopTime.objects.count() == 6


def test_a_failed_write_rolls_back_everything(tmp_path):
    """A database error half-way (a trip id too long for its column) leaves the old feed as it was."""
    feed_import(source=write_feed(tmp_path / "city", {}))
    long_id = "T" * 300
    tables = {
        "trips.txt": f"route_id,service_id,trip_id,shape_id\nR1,WK,{long_id},SH1\nR2,WK,T2,\n",
        "stop_times.txt": MINIMAL["stop_times.txt"].replace("T1,", f"{long_id},"),
    }
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite does not enforce column lengths")
    with pytest.raises(Exception):
        feed_import(source=write_feed(tmp_path / "bad" / "city", tables), name="city")
    assert Trip.objects.filter(feed__name="city").count() == 2 and StopTime.objects.count() == 6


def test_command_prints_a_summary_and_reports_errors(tmp_path):
    out = io.StringIO()
    call_command("importgtfs", str(write_feed(tmp_path / "city", {})), stdout=out)
    text = out.getvalue()
    assert "imported feed city" in text and "stop_times" in text and "done in" in text
    broken = write_feed(tmp_path / "bad", {"calendar.txt": MINIMAL["calendar.txt"].replace(",1,1,1,1,1,", ",1,1,x,1,1,")})
    with pytest.raises(CommandError, match=r"calendar.txt, row 2, column 'wednesday'.*nothing was changed"):
        call_command("importgtfs", str(broken), "--name", "city", stdout=io.StringIO())
    assert Feed.objects.get(name="city").counts["trips"] == 2


def test_cairns_feed():
    path = require_cairns()
    summary = feed_import(source=path)
    feed = summary.feed
    assert summary.counts == {
        "agencies": 1, "routes": 22, "stops": 416, "shapes": 54, "shape_points": 22784, "trips": 1339,
        "stop_times": 37790, "calendars": 4, "calendar_dates": 9, "frequencies": 0,
    }
    assert Trip.objects.filter(feed=feed).count() == 1339 and StopTime.objects.filter(trip__feed=feed).count() == 37790
    assert (feed.name, feed.timezone) == ("cairns", "Australia/Brisbane")
    assert (feed.start_date, feed.end_date) == (dt.date(2014, 5, 26), dt.date(2014, 12, 28))
    assert Route.objects.get(feed=feed, route_id="110N-423").color == "7BC142"
    assert Stop.objects.get(feed=feed, stop_id="750000").name == "Cedar Rd (Palm Cove) - Hail and Ride Location"
    # 65 untimed stop times, interpolated; the latest time is 29:39:00 on a 110N trip
    assert StopTime.objects.filter(trip__feed=feed, timepoint=False).count() == 65
    latest = StopTime.objects.filter(trip__feed=feed).order_by("-arrival_time").select_related("trip__route").first()
    assert latest.arrival_time == 29 * 3600 + 39 * 60 and latest.trip.route.short_name == "110N"
    loaded = feed_load(feed=feed)
    per_day = {d: sum(t.service_id in loaded.services_on(d) for t in loaded.trips)
               for d in (dt.date(2014, 6, 2), dt.date(2014, 6, 6), dt.date(2014, 6, 7), dt.date(2014, 6, 8), dt.date(2014, 6, 9))}
    # Mon, Fri, Sat, Sun, and a public holiday (Sunday service)
    assert list(per_day.values()) == [622, 636, 437, 266, 266]


def test_import_from_an_http_url(tmp_path):
    """A .zip served over HTTP (a local server: no network needed)."""
    import functools
    import http.server
    import threading
    import zipfile

    folder = write_feed(tmp_path / "feed", {})
    (tmp_path / "www").mkdir()
    with zipfile.ZipFile(tmp_path / "www" / "city.zip", "w") as z:
        for f in folder.iterdir():
            z.write(f, f.name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        summary = feed_import(source=f"http://127.0.0.1:{server.server_port}/city.zip", allow_private_network=True)
    finally:
        server.shutdown()
        server.server_close()
    assert summary.feed.name == "city" and summary.counts["trips"] == 2


def test_the_admin_shows_the_network_read_only(tmp_path, admin_client):
    feed = feed_import(source=write_feed(tmp_path / "city", {})).feed
    for url in ("/admin/transit/feed/", "/admin/transit/route/", "/admin/transit/stop/", "/admin/transit/trip/",
                "/admin/transit/stoptime/", "/admin/transit/shape/", "/admin/transit/calendar/",
                f"/admin/transit/feed/{feed.pk}/change/"):
        assert admin_client.get(url).status_code == 200, url
    assert b"08:02:00" in admin_client.get("/admin/transit/stoptime/").content
    assert admin_client.get("/admin/transit/route/add/").status_code == 403
