"""`manage.py ksql` against a small local HTTP server that records what it is sent.

The server answers like ksqlDB's REST API (POST /ksql, GET /info); the tests check the requests
the command makes and how it reports success and the first failure.
"""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from alerts.ksql import scripts


class FakeKsql:
    """Records requests; `fail_at` (1-based POST number) answers a statement error."""

    def __init__(self, fail_at=None, objects=()):
        self.requests = []
        self.fail_at = fail_at
        self.objects = set(objects)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                outer.requests.append(("GET", self.path, None, dict(self.headers)))
                self._send(200, {"KsqlServerInfo": {"version": "0.29.0", "kafkaClusterId": "abc"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(("POST", self.path, body, dict(self.headers)))
                n = sum(1 for r in outer.requests if r[0] == "POST")
                text = body["ksql"]
                if n == outer.fail_at:
                    return self._send(400, {"@type": "statement_error", "error_code": 40001,
                                            "message": "Invalid join condition", "statementText": text})
                if text == "SHOW STREAMS;":
                    streams = [{"name": o.upper()} for o in outer.objects]
                    return self._send(200, [{"@type": "streams", "streams": streams}])
                if text in ("SHOW TABLES;", "SHOW QUERIES;"):
                    return self._send(200, [{"@type": text[5:-1].lower(), "tables": [], "queries": []}])
                self._send(200, [{"@type": "currentStatus", "statementText": text,
                                  "commandStatus": {"status": "SUCCESS", "message": "Stream created and running"}}])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def posted(self):
        return [r[2] for r in self.requests if r[0] == "POST"]


@pytest.fixture
def expected(settings):
    settings.KSQLDB_USERNAME, settings.KSQLDB_PASSWORD = "", ""
    return scripts.statements(scripts.script_variables())


def test_apply_posts_each_statement_in_order_as_the_rest_api_expects(settings, expected, capsys):
    with FakeKsql() as server:
        settings.KSQLDB_URL = server.url
        call_command("ksql", "apply")
    assert [p["ksql"] for p in server.posted] == [s.text for s in expected]
    assert all(p["streamsProperties"] == {"ksql.streams.auto.offset.reset": "earliest"} for p in server.posted)
    assert all(r[1] == "/ksql" and r[3]["Content-Type"] == "application/vnd.ksql.v1+json" for r in server.requests)
    assert "Authorization" not in server.requests[0][3]
    out = capsys.readouterr().out
    assert "010_sources.sql #1 (STREAM sc_vehicle_locations): SUCCESS: Stream created and running" in out
    assert f"applied {len(expected)} statements" in out


def test_apply_stops_at_the_first_error_and_names_the_statement(settings, expected):
    with FakeKsql(fail_at=3) as server:
        settings.KSQLDB_URL = server.url
        with pytest.raises(CommandError) as err:
            call_command("ksql", "apply")
    assert len(server.posted) == 3  # nothing after the failure was sent
    assert str(expected[2]) in str(err.value) and "HTTP 400: Invalid join condition" in str(err.value)


def test_confluent_cloud_basic_auth(settings, expected):
    with FakeKsql() as server:
        settings.KSQLDB_URL, settings.KSQLDB_USERNAME, settings.KSQLDB_PASSWORD = server.url, "KEY", "SECRET"
        call_command("ksql", "apply")
    token = base64.b64encode(b"KEY:SECRET").decode()
    assert {r[3].get("Authorization") for r in server.requests} == {f"Basic {token}"}


def test_status_reports_what_is_missing(settings, expected, capsys):
    with FakeKsql(objects={"sc_vehicle_locations"}) as server:
        settings.KSQLDB_URL = server.url
        with pytest.raises(CommandError, match="missing"):
            call_command("ksql", "status")
    out = capsys.readouterr().out
    assert "ksqlDB 0.29.0" in out and "stream sc_vehicle_locations: present" in out
    assert "table sc_live_vehicles: MISSING" in out
    assert server.requests[0][:2] == ("GET", "/info")


def test_drop_drops_dependants_first(settings, expected):
    with FakeKsql() as server:
        settings.KSQLDB_URL = server.url
        call_command("ksql", "drop")
    created = [s.created for s in expected]
    assert [p["ksql"] for p in server.posted] == [f"DROP {k} IF EXISTS {n};" for k, n in reversed(created)]


def test_without_a_server_it_says_what_to_set(settings):
    settings.KSQLDB_URL = ""
    with pytest.raises(CommandError, match="KSQLDB_URL"):
        call_command("ksql", "apply")


def test_an_unreachable_server_fails_clearly(settings):
    settings.KSQLDB_URL = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="cannot reach ksqlDB"):
        call_command("ksql", "status")


def test_apply_waits_for_the_server_when_asked(settings, capsys):
    with FakeKsql() as server:
        settings.KSQLDB_URL = server.url
        call_command("ksql", "apply", "--wait", "5")
    assert server.requests[0][:2] == ("GET", "/info")
    assert "ksqlDB 0.29.0 at" in capsys.readouterr().out


def test_waiting_for_a_server_that_never_answers_gives_up(settings):
    settings.KSQLDB_URL = "http://127.0.0.1:9"
    start = time.monotonic()
    with pytest.raises(CommandError, match=r"cannot reach ksqlDB .*waited 2 s"):
        call_command("ksql", "apply", "--wait", "2")
    assert 1 <= time.monotonic() - start < 10
