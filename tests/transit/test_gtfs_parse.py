"""Reading and validating GTFS feeds, without a database: the messy cases real feeds have."""

import datetime as dt
import zipfile

import pytest

from transit.gtfs.parse import parse_feed
from transit.gtfs.reader import FeedSource, GtfsError
from transit.gtfs.tables import basic_route_type, format_time, parse_time, vehicle_type
from transit.gtfs.writer import write_feed as write_gtfs

from .gtfs_samples import MINIMAL, write_feed


def parse(folder):
    with FeedSource(folder) as src:
        return parse_feed(src)


def trips(feed):
    return {t.trip_id: t for t in feed.trips}


def test_times_past_midnight_and_format():
    assert parse_time("08:00:00") == 8 * 3600
    assert parse_time("5:07:09") == 5 * 3600 + 7 * 60 + 9
    assert parse_time("29:39:00") == 29 * 3600 + 39 * 60
    assert format_time(29 * 3600 + 39 * 60) == "29:39:00"
    for bad in ("8:00", "08:60:00", "aa:00:00", "08:0:00", ""):
        with pytest.raises(ValueError):
            parse_time(bad)


@pytest.mark.parametrize(
    "route_type, basic, vehicle",
    [(3, 3, "bus"), (700, 3, "bus"), (715, 3, "bus"), (100, 2, "rail"), (109, 2, "rail"), (400, 1, "subway"),
     (900, 0, "tram"), (0, 0, "tram"), (1000, 4, "ferry"), (1200, 4, "ferry"), (11, 11, "bus"), (800, 11, "bus"),
     (1300, 6, "cable"), (405, 12, "rail"), (9999, None, "other"), (42, None, "other")],
)
def test_extended_route_types_map_to_basic_ones(route_type, basic, vehicle):
    assert basic_route_type(route_type) == basic
    assert vehicle_type(route_type) == vehicle


def test_minimal_feed(tmp_path):
    feed = parse(write_feed(tmp_path, {}))
    assert feed.counts()["stop_times"] == 6 and feed.timezone == "Europe/Amsterdam"
    t1 = trips(feed)["T1"]
    assert [st.stop_id for st in t1.stop_times] == ["S1", "S2", "S3", "S4"]
    assert t1.stop_times[1].departure - t1.stop_times[1].arrival == 30
    assert {r.route_id: r.vehicle_type for r in feed.routes} == {"R1": "bus", "R2": "tram"}
    assert feed.services_on(dt.date(2026, 11, 27)) == {"WK"}  # a Friday
    assert feed.services_on(dt.date(2026, 11, 28)) == set()


def test_crlf_and_bom_read_the_same_as_lf(tmp_path):
    plain = parse(write_feed(tmp_path / "lf", {}))
    crlf = parse(write_feed(tmp_path / "crlf", {}, crlf=True, bom=True))
    assert crlf.trips == plain.trips and crlf.stops == plain.stops and crlf.agencies == plain.agencies


def test_columns_in_any_order_and_extra_columns(tmp_path):
    feed = parse(write_feed(tmp_path, {
        "stops.txt": "stop_lon,wheelchair_boarding,stop_lat,stop_id,stop_name\n"
                     "4.9,0,52.37,S1,First\n4.9,0,52.375,S2,Second\n4.9,,52.38,S3,Third\n4.9,,52.385,S4,Fourth\n",
        "stop_times.txt": "stop_sequence,stop_id,departure_time,trip_id,arrival_time\n"
                          "2,S2,08:02:30,T1,08:02:00\n1,S1,08:00:00,T1,08:00:00\n3,S3,08:04:00,T1,08:04:00\n"
                          "4,S4,08:06:00,T1,08:06:00\n1,S4,09:00:00,T2,09:00:00\n2,S1,09:05:00,T2,09:05:00\n",
    }))
    plain = parse(write_feed(tmp_path / "plain", {}))
    assert feed.trips == plain.trips and feed.stops == plain.stops


def test_missing_optional_columns_and_files(tmp_path):
    feed = parse(write_feed(tmp_path, {
        "agency.txt": "agency_name,agency_url,agency_timezone\nSolo,https://example.org,Australia/Brisbane\n",
        "routes.txt": "route_id,route_short_name,route_type\nR1,1,3\nR2,2,3\n",
        "trips.txt": "route_id,service_id,trip_id\nR1,WK,T1\nR2,WK,T2\n",
        "shapes.txt": None,
    }))
    assert feed.agencies[0].agency_id == "" and feed.timezone == "Australia/Brisbane"
    assert all(r.agency_id == "" for r in feed.routes)
    t1 = trips(feed)["T1"]
    assert t1.shape_id == "" and t1.direction_id is None and t1.block_id == ""


def test_untimed_intermediate_stops_are_interpolated_by_distance(tmp_path):
    feed = parse(write_feed(tmp_path, {
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                          "T1,08:00:00,08:00:00,S1,1\nT1,,,S2,2\nT1,,,S3,3\nT1,08:06:00,08:06:00,S4,4\n"
                          "T2,09:00:00,09:00:00,S4,1\nT2,09:05:00,09:05:00,S1,2\n",
    }))
    s = trips(feed)["T1"].stop_times
    # the stops are evenly spaced, so the times are too
    assert [st.arrival for st in s] == [28800, 28920, 29040, 29160]
    assert [st.timepoint for st in s] == [True, False, False, True]


def test_first_stop_without_time_is_an_error_naming_file_row_and_column(tmp_path):
    folder = write_feed(tmp_path, {
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                          "T1,,,S1,1\nT1,08:06:00,08:06:00,S4,2\nT2,09:00:00,09:00:00,S4,1\nT2,09:05:00,09:05:00,S1,2\n",
    })
    with pytest.raises(GtfsError) as exc:
        parse(folder)
    assert (exc.value.file, exc.value.row, exc.value.column) == ("stop_times.txt", 2, "arrival_time")


def test_times_past_24h(tmp_path):
    feed = parse(write_feed(tmp_path, {
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                          "T1,23:58:00,23:58:00,S1,1\nT1,24:03:00,24:03:00,S2,2\nT1,25:10:00,25:10:00,S3,3\n"
                          "T2,09:00:00,09:00:00,S4,1\nT2,09:05:00,09:05:00,S1,2\n",
    }))
    t1 = trips(feed)["T1"]
    assert (t1.start, t1.end) == (23 * 3600 + 58 * 60, 25 * 3600 + 10 * 60)


def test_frequencies_are_expanded_with_an_exclusive_end(tmp_path):
    feed = parse(write_feed(tmp_path, {
        "frequencies.txt": "trip_id,start_time,end_time,headway_secs,exact_times\n"
                           "T1,07:00:00,08:00:00,600,1\nT1,20:00:00,20:30:00,900,0\n",
    }))
    expanded = sorted((t for t in feed.trips if t.frequency_template == "T1"), key=lambda t: t.start)
    starts = [format_time(t.start) for t in expanded]
    # 07:00 .. 07:50 every 10 minutes (08:00 is the exclusive end), then 20:00 and 20:15
    assert starts == ["07:00:00", "07:10:00", "07:20:00", "07:30:00", "07:40:00", "07:50:00", "20:00:00", "20:15:00"]
    assert "T1" not in trips(feed)  # the template is not a trip of its own
    first = expanded[0]
    assert first.trip_id == "T1@070000"
    # running times and dwell of the template are kept
    assert [st.arrival - first.start for st in first.stop_times] == [0, 120, 240, 360]
    assert first.stop_times[1].departure - first.stop_times[1].arrival == 30
    assert len(feed.frequencies) == 2


def test_single_stop_trips_are_skipped_with_a_warning(tmp_path):
    feed = parse(write_feed(tmp_path, {
        "trips.txt": "route_id,service_id,trip_id,shape_id\nR1,WK,T1,SH1\nR2,WK,T2,\nR2,WK,T3,\n",
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                          "T1,08:00:00,08:00:00,S1,1\nT1,08:06:00,08:06:00,S4,2\nT2,09:00:00,09:00:00,S4,1\n",
    }))
    assert set(trips(feed)) == {"T1"}
    assert any("'T2' has 1 stop(s); skipped" in w for w in feed.warnings)
    assert any("'T3' has 0 stop(s); skipped" in w for w in feed.warnings)


def test_a_reference_to_a_missing_shape_falls_back_with_a_warning(tmp_path):
    feed = parse(write_feed(tmp_path, {"trips.txt": "route_id,service_id,trip_id,shape_id\nR1,WK,T1,NOPE\nR2,WK,T2,\n"}))
    assert trips(feed)["T1"].shape_id == ""
    assert any("NOPE" in w for w in feed.warnings)


@pytest.mark.parametrize(
    "tables, file, row, column",
    [
        ({"stop_times.txt": MINIMAL["stop_times.txt"].replace("08:04:00,08:04:00", "08:4x:00,08:04:00")},
         "stop_times.txt", 4, "arrival_time"),
        ({"stop_times.txt": MINIMAL["stop_times.txt"].replace("T2,09:05:00,09:05:00,S1", "T2,09:05:00,09:05:00,S9")},
         "stop_times.txt", 7, "stop_id"),
        ({"stops.txt": MINIMAL["stops.txt"].replace("52.3800", "152.38")}, "stops.txt", 4, "stop_lat"),
        ({"stops.txt": MINIMAL["stops.txt"].replace("S3,Third,52.3800", "S3,Third,")}, "stops.txt", 4, "stop_lat"),
        ({"trips.txt": MINIMAL["trips.txt"].replace("R2,WK,T2", "R9,WK,T2")}, "trips.txt", 3, "route_id"),
        ({"routes.txt": MINIMAL["routes.txt"].replace(",One,3", ",One,bus")}, "routes.txt", 2, "route_type"),
        ({"calendar.txt": MINIMAL["calendar.txt"].replace("20261231", "2026-12-31")}, "calendar.txt", 2, "end_date"),
        ({"agency.txt": MINIMAL["agency.txt"].replace("Europe/Amsterdam", "Mars/Olympus")}, "agency.txt", 2,
         "agency_timezone"),
        ({"stop_times.txt": MINIMAL["stop_times.txt"].replace("T1,08:04:00,08:04:00", "T1,07:04:00,07:04:00")},
         "stop_times.txt", 4, "arrival_time"),
    ],
)
def test_broken_files_name_file_row_and_column(tmp_path, tables, file, row, column):
    with pytest.raises(GtfsError) as exc:
        parse(write_feed(tmp_path, tables))
    assert (exc.value.file, exc.value.row, exc.value.column) == (file, row, column)
    assert f"row {row}" in str(exc.value) and file in str(exc.value)


def test_a_missing_required_file_is_named(tmp_path):
    with pytest.raises(GtfsError, match="stop_times.txt: required file is missing"):
        parse(write_feed(tmp_path, {"stop_times.txt": None}))


def test_zip_with_the_tables_in_a_subfolder(tmp_path):
    folder = write_feed(tmp_path / "feed", {}, crlf=True)
    archive = tmp_path / "feed.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.iterdir():
            z.write(f, f"gtfs/{f.name}")
    with FeedSource(archive) as src:
        assert src.default_name == "feed"
        assert parse_feed(src).trips == parse(folder).trips


def test_writer_round_trip(tmp_path):
    feed = parse(write_feed(tmp_path / "in", {}))
    write_gtfs(feed, tmp_path / "out")
    again = parse(tmp_path / "out")
    assert again.trips == feed.trips and again.stops == feed.stops and again.calendars == feed.calendars
