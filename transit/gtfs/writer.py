"""Write a `GtfsFeed` as GTFS files (UTF-8, LF, header first). The built-in city is made this way."""

from __future__ import annotations

import csv
from pathlib import Path

from .tables import GtfsFeed, format_time


def _write(folder: Path, name: str, header: list[str], rows) -> None:
    with open(folder / name, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _num(x: float | None, digits: int = 6) -> str:
    return "" if x is None else f"{x:.{digits}f}".rstrip("0").rstrip(".")


def write_feed(feed: GtfsFeed, folder: Path) -> None:
    """Write every table of `feed` into `folder` (created if needed); optional empty tables are left out."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, "agency.txt", ["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"],
           ([a.agency_id, a.name, a.url, a.timezone, a.lang] for a in feed.agencies))
    _write(folder, "routes.txt",
           ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type", "route_color", "route_text_color"],
           ([r.route_id, r.agency_id, r.short_name, r.long_name, r.route_type, r.color, r.text_color] for r in feed.routes))
    _write(folder, "stops.txt", ["stop_id", "stop_code", "stop_name", "stop_lat", "stop_lon", "location_type", "parent_station"],
           ([s.stop_id, s.code, s.name, _num(s.lat), _num(s.lon), s.location_type, s.parent_station] for s in feed.stops))
    if feed.shapes:
        _write(folder, "shapes.txt", ["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"],
               ([s.shape_id, _num(lat), _num(lon), i + 1] for s in feed.shapes for i, (lat, lon) in enumerate(s.points)))
    _write(folder, "trips.txt",
           ["route_id", "service_id", "trip_id", "trip_headsign", "direction_id", "block_id", "shape_id"],
           ([t.route_id, t.service_id, t.trip_id, t.headsign, "" if t.direction_id is None else t.direction_id,
             t.block_id, t.shape_id] for t in feed.trips))
    _write(folder, "stop_times.txt",
           ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence", "timepoint"],
           ([t.trip_id, format_time(st.arrival), format_time(st.departure), st.stop_id, st.stop_sequence, int(st.timepoint)]
            for t in feed.trips for st in t.stop_times))
    if feed.calendars:
        _write(folder, "calendar.txt",
               ["service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                "start_date", "end_date"],
               ([c.service_id, *(int(d) for d in c.days), f"{c.start_date:%Y%m%d}", f"{c.end_date:%Y%m%d}"]
                for c in feed.calendars))
    if feed.calendar_dates:
        _write(folder, "calendar_dates.txt", ["service_id", "date", "exception_type"],
               ([d.service_id, f"{d.date:%Y%m%d}", d.exception_type] for d in feed.calendar_dates))
    if feed.frequencies:
        _write(folder, "frequencies.txt", ["trip_id", "start_time", "end_time", "headway_secs", "exact_times"],
               ([f.trip_id, format_time(f.start_time), format_time(f.end_time), f.headway_secs, int(f.exact_times)]
                for f in feed.frequencies))
