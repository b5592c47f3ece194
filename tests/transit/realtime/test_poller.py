"""The poller: what changed is published once, stale feeds are reported, bad input is refused whole
(one log line, back-off, the previous good message stands), API-key headers are sent, never logged."""

from __future__ import annotations

import hashlib
import http.server
import logging
import threading
import time

import pytest
from google.transit import gtfs_realtime_pb2 as rt

from streamcity.kernel.bus.memory import MemoryBus
from streamcity.kernel.schemas import SERVICE_ALERTS, STOP_SCHEDULE, VEHICLE_LOCATIONS, ServiceAlert, VehicleLocation, decode
from transit.gtfs.parse import parse_feed
from transit.gtfs.reader import FeedSource
from transit.realtime.poller import RealtimePoller
from transit.realtime.static import StaticIndex

from .conftest import GTFS, rt_file


@pytest.fixture(scope="module")
def caltrain() -> StaticIndex:
    with FeedSource(GTFS / "caltrain" / "gtfs.zip") as src:
        return StaticIndex.from_feed("caltrain", parse_feed(src))


def records(bus: MemoryBus, topic: str, schema) -> list:
    with bus.consumer(f"t-{topic}-{time.monotonic_ns()}", [topic]) as c:
        out = []
        while batch := c.consume(1000, 0.05):
            out += [decode(schema, r.value) for r in batch]
    return out


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Server:
    """A local agency: serves `body` (or misbehaves as `mode` says) and records request headers."""

    def __init__(self):
        self.body = b""
        self.mode = "ok"
        self.not_modified = 0
        self.headers: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.headers.append(dict(self.headers))
                if server.mode == "500":
                    self.send_error(500, "agency down")
                    return
                if server.mode == "slow":
                    time.sleep(1.5)
                etag = '"%s"' % hashlib.sha1(server.body).hexdigest()
                if self.headers.get("If-None-Match") == etag:
                    server.not_modified += 1  # counted before the reply: the client may check at once
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("ETag", etag)
                self.end_headers()
                try:
                    self.wfile.write(server.body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/vehicle-positions.pb"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def agency():
    server = Server()
    yield server
    server.close()


def vp_body(ts: int, lat_shift: float = 0.0) -> bytes:
    msg = rt.FeedMessage()
    msg.ParseFromString(rt_file("caltrain", "vehicle-positions").read_bytes())
    msg.header.timestamp = ts
    for e in msg.entity:
        e.vehicle.position.latitude += lat_shift
    return msg.SerializeToString()


def test_unchanged_reports_are_not_sent_again_and_a_feed_that_does_not_advance_is_stale(caltrain, agency, caplog):
    bus, clock = MemoryBus(partitions=2), Clock()
    poller = RealtimePoller(bus, caltrain, vehicle_positions=agency.url, settle=0, clock=clock, interval=15)
    agency.body = vp_body(1699405559)
    assert poller.poll().published == 14
    clock.now += 15
    with caplog.at_level(logging.WARNING, "transit.realtime"):
        second = poller.poll()
        assert (second.published, second.unchanged) == (0, 14)
        assert "STALE" not in poller.status() and not caplog.text  # once is normal: agencies refresh every 15-30 s
        for _ in range(4):
            clock.now += 15
            poller.poll()
    assert "STALE for 5 polls" in poller.status() and caplog.text.count("is stale") == 1
    assert agency.not_modified == 5  # conditional requests: the agency did not send the same feed again
    # the feed moves one vehicle's worth of time: every vehicle moved, every report is sent again
    clock.now += 15
    agency.body = vp_body(1699405589, lat_shift=0.001)
    assert poller.poll().published == 14 and "STALE" not in poller.status()
    sent = records(bus, VEHICLE_LOCATIONS.name, VehicleLocation)
    assert len(sent) == 28
    # the trips' stop_schedule went out once, before their first reports
    from streamcity.kernel.schemas import StopSchedule

    rows = records(bus, STOP_SCHEDULE.name, StopSchedule)
    assert {r.trip_id for r in rows} == {r.trip_id for r in sent} and len(rows) == sum(
        len(caltrain.trips[t].seqs) for t in {r.trip_id for r in sent})


def test_a_vehicle_gone_from_the_feed_is_not_reported_again(caltrain, agency):
    bus, clock = MemoryBus(partitions=1), Clock()
    poller = RealtimePoller(bus, caltrain, vehicle_positions=agency.url, settle=0, clock=clock)
    agency.body = vp_body(1699405559)
    poller.poll()
    msg = rt.FeedMessage()
    msg.ParseFromString(vp_body(1699405589, 0.001))
    gone = msg.entity[0].vehicle.vehicle.id
    del msg.entity[0]
    agency.body = msg.SerializeToString()
    clock.now += 60
    assert poller.poll().published == 13
    assert gone not in poller._sent and len(poller.last.reports) == 13


@pytest.mark.parametrize("mode, body, expect", [
    ("500", b"", "HTTP 500"),
    ("slow", b"", "timed out"),
    ("ok", b"<html><body>Service unavailable</body></html>", "not a GTFS-Realtime"),
    ("ok", b"", "empty body"),
    ("ok", "truncated", "not a GTFS-Realtime protobuf"),
    ("ok", "bart", "another agency's feed"),
    ("ok", "trip-updates", "no vehicle entities"),
])
def test_bad_input_is_one_log_line_a_back_off_and_nothing_published(caltrain, agency, caplog, mode, body, expect):
    bus, clock = MemoryBus(partitions=1), Clock()
    poller = RealtimePoller(bus, caltrain, vehicle_positions=agency.url, settle=0, clock=clock, interval=10,
                            timeout=0.5, headers={"X-Api-Key": "s3cr3t-key"})
    agency.body = vp_body(1699405559)
    assert poller.poll().published == 14  # a good poll first: what it published stands
    if body == "truncated":
        body = vp_body(1699405589, 0.001)[:-7]
    elif body == "bart":
        body = rt_file("bart", "trip-updates").read_bytes()
        msg = rt.FeedMessage()
        msg.ParseFromString(body)
        for e in msg.entity:  # as vehicle positions, so that only the ids give it away
            trip = e.trip_update.trip
            e.ClearField("trip_update")
            e.vehicle.trip.CopyFrom(trip)
            e.vehicle.position.latitude, e.vehicle.position.longitude = 37.8, -122.3
        body = msg.SerializeToString()
    elif body == "trip-updates":
        body = rt_file("caltrain", "trip-updates").read_bytes()
    agency.mode, agency.body = mode, body
    clock.now += 10
    with caplog.at_level(logging.WARNING, "transit.realtime"):
        result = poller.poll()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("transit.realtime")]
    assert len(lines) == 1 and expect in lines[0], lines
    assert "s3cr3t-key" not in caplog.text and "s3cr3t-key" not in poller.status()
    assert result.published == 0 and len(records(bus, VEHICLE_LOCATIONS.name, VehicleLocation)) == 14
    assert len(poller.last.reports) == 14  # the last good message stands
    # back-off: not asked again before 2 intervals, then asked again and recovered
    asked = len(agency.headers)
    clock.now += 15
    poller.poll()
    assert len(agency.headers) == asked
    agency.mode, agency.body = "ok", vp_body(1699405619, 0.002)
    clock.now += 10
    assert poller.poll().published == 14 and "failing" not in poller.status()
    assert all(h.get("X-Api-Key") == "s3cr3t-key" for h in agency.headers)


def test_alerts_open_change_and_clear(caltrain, tmp_path):
    bus, clock = MemoryBus(partitions=1), Clock()
    path = tmp_path / "alerts.pb"

    def write(ts, *texts):
        msg = rt.FeedMessage()
        msg.header.gtfs_realtime_version, msg.header.timestamp = "2.0", ts
        for i, text in enumerate(texts):
            e = msg.entity.add(id=f"a{i}")
            e.alert.informed_entity.add(stop_id="70011")
            e.alert.effect = rt.Alert.NO_SERVICE
            e.alert.header_text.translation.add(text=text, language="en")
        path.write_bytes(msg.SerializeToString())

    poller = RealtimePoller(bus, caltrain, alerts=f"file://{path}", settle=0, clock=clock)
    write(1699405000, "Station closed", "Elevator out")
    poller.poll()
    clock.now += 20
    write(1699405020, "Station closed", "Elevator out")  # the same alerts: nothing sent
    poller.poll()
    clock.now += 20
    write(1699405040, "Station closed until 9")  # one changed, one gone
    poller.poll()
    sent = records(bus, SERVICE_ALERTS.name, ServiceAlert)
    assert [(a.alert_key, a.state, a.header) for a in sent] == [
        ("service:caltrain:a0", "open", "Station closed"), ("service:caltrain:a1", "open", "Elevator out"),
        ("service:caltrain:a0", "open", "Station closed until 9"), ("service:caltrain:a1", "cleared", "Elevator out"),
    ]
    assert sent[0].severity == 4 and sent[0].stop_id == "70011" and sent[0].latitude is not None
