"""The GTFS-Realtime rules our /gtfs-rt/ output must keep, checked against the static feed read
independently of the importer (csv straight from the zip)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from google.transit import gtfs_realtime_pb2 as rt

POSIX_MIN, POSIX_MAX = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01 in seconds (not ms)


@dataclass
class Static:
    agency_ids: set = field(default_factory=set)
    routes: set = field(default_factory=set)
    stops: dict = field(default_factory=dict)  # stop_id -> (lat, lon)
    trips: dict = field(default_factory=dict)  # trip_id -> route_id
    stop_times: dict = field(default_factory=dict)  # trip_id -> {stop_sequence: stop_id}
    frequency_trips: set = field(default_factory=set)


def read_static(zip_path: Path) -> Static:
    s = Static()
    with zipfile.ZipFile(zip_path) as z:
        names = {Path(n).name: n for n in z.namelist()}

        def rows(name):
            if name not in names:
                return []
            return csv.DictReader(io.TextIOWrapper(z.open(names[name]), encoding="utf-8-sig"))

        s.agency_ids = {r.get("agency_id", "").strip() for r in rows("agency.txt")} - {""}
        s.routes = {r["route_id"].strip() for r in rows("routes.txt")}
        for r in rows("stops.txt"):
            lat, lon = r.get("stop_lat", "").strip(), r.get("stop_lon", "").strip()
            s.stops[r["stop_id"].strip()] = (float(lat), float(lon)) if lat and lon else None
        s.trips = {r["trip_id"].strip(): r["route_id"].strip() for r in rows("trips.txt")}
        for r in rows("stop_times.txt"):
            s.stop_times.setdefault(r["trip_id"].strip(), {})[int(r["stop_sequence"])] = r["stop_id"].strip()
        s.frequency_trips = {r["trip_id"].strip() for r in rows("frequencies.txt")}
    return s


def decode(body: bytes) -> rt.FeedMessage:
    msg = rt.FeedMessage()
    msg.ParseFromString(body)
    return msg


def check_header(msg: rt.FeedMessage) -> None:
    assert msg.header.gtfs_realtime_version == "2.0"
    assert msg.header.incrementality == rt.FeedHeader.FULL_DATASET
    assert msg.header.HasField("incrementality") or msg.header.incrementality == 0
    assert POSIX_MIN < msg.header.timestamp < POSIX_MAX, "header timestamp in POSIX seconds"
    ids = [e.id for e in msg.entity]
    assert len(ids) == len(set(ids)), "entity ids unique"
    assert msg.IsInitialized()


def check_trip(td: rt.TripDescriptor, static: Static) -> None:
    if td.trip_id:
        assert td.trip_id in static.trips, f"trip {td.trip_id} not in the static feed"
        if td.trip_id in static.frequency_trips:
            assert td.start_time, "a frequency-based trip needs its start_time"
        if td.route_id:
            assert static.trips[td.trip_id] == td.route_id
        assert len(td.start_date) == 8 and td.start_date.isdigit()
    if td.route_id:
        assert td.route_id in static.routes


def check_vehicle_positions(msg: rt.FeedMessage, static: Static) -> None:
    check_header(msg)
    for e in msg.entity:
        assert e.HasField("vehicle") and not e.HasField("trip_update") and not e.HasField("alert")
        v = e.vehicle
        check_trip(v.trip, static)
        assert v.vehicle.id
        assert -90 <= v.position.latitude <= 90 and -180 <= v.position.longitude <= 180
        assert POSIX_MIN < v.timestamp <= msg.header.timestamp
        if v.HasField("current_stop_sequence"):
            assert static.stop_times[v.trip.trip_id][v.current_stop_sequence] == v.stop_id


def check_trip_updates(msg: rt.FeedMessage, static: Static) -> None:
    check_header(msg)
    now = msg.header.timestamp
    for e in msg.entity:
        assert e.HasField("trip_update")
        tu = e.trip_update
        assert tu.trip.trip_id, "a trip update names its trip"
        check_trip(tu.trip, static)
        assert POSIX_MIN < tu.timestamp <= now
        seqs = [u.stop_sequence for u in tu.stop_time_update]
        assert seqs == sorted(set(seqs)), "stop_sequence strictly increasing"
        assert seqs, "a trip update has stop time updates"
        previous = 0
        for u in tu.stop_time_update:
            assert static.stop_times[tu.trip.trip_id][u.stop_sequence] == u.stop_id
            assert u.arrival.time <= u.departure.time, "arrival <= departure"
            assert u.arrival.time >= previous, "times never decrease along the trip"
            assert u.arrival.time >= now, "no prediction in the past for a stop still to come"
            assert POSIX_MIN < u.arrival.time < POSIX_MAX
            previous = u.departure.time


def check_alerts(msg: rt.FeedMessage, static: Static) -> None:
    check_header(msg)
    for e in msg.entity:
        assert e.HasField("alert")
        a = e.alert
        assert a.informed_entity, "an alert informs at least one entity"
        for s in a.informed_entity:
            assert s.ListFields(), "an informed entity names something"
            if s.agency_id:
                assert s.agency_id in static.agency_ids
            if s.route_id:
                assert s.route_id in static.routes
            if s.stop_id:
                assert s.stop_id in static.stops
            if s.HasField("trip"):
                assert s.trip.trip_id in static.trips
        assert a.header_text.translation and a.header_text.translation[0].text
        for p in a.active_period:
            assert (not p.start or POSIX_MIN < p.start < POSIX_MAX) and (not p.end or p.start <= p.end)
