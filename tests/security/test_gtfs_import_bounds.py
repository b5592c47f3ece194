"""Finding 5: GTFS imports are bounded in bytes, ratio and time, stay off internal addresses, and never
show a URL's credentials.

Before: a 2.0 MB zip expanding to 2 GiB took 10.6 GB of memory and 49.5 s before it was refused; a URL
import downloaded 300 MiB in full and a server sending a byte every 5 s kept it going past 75 s; any
host was allowed, 127.0.0.1 and redirects to internal addresses included; an API key in a feed URL
was logged and shown in the admin.
"""

from __future__ import annotations

import base64
import http.server
import io
import logging
import os
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.transit.gtfs_samples import MINIMAL
from transit.gtfs import reader
from transit.gtfs.reader import FeedSource, GtfsError
from transit.gtfs.services import feed_import
from transit.models import Feed

MIB = 1 << 20


def minimal_zip(path: Path, **extra_members: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in {**MINIMAL, **extra_members}.items():
            z.writestr(name, data)
    return path


def bomb_zip(path: Path, gib: float = 1.0) -> Path:
    """A valid feed whose stop_times.txt expands from ~1 MB to `gib` GiB of well-formed rows."""
    row = b"T1,08:00:00,08:00:00,S1,1\n"
    block = row * (MIB // len(row))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in MINIMAL.items():
            if name != "stop_times.txt":
                z.writestr(name, text)
        with z.open("stop_times.txt", "w", force_zip64=True) as member:
            member.write(b"trip_id,arrival_time,departure_time,stop_id,stop_sequence\n")
            for _ in range(int(gib * 1024)):
                member.write(block)
    return path


# -- zip bombs ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_zip_bomb_is_refused_quickly_with_bounded_memory(tmp_path):
    bomb = bomb_zip(tmp_path / "bomb.zip", gib=1.0)
    size = bomb.stat().st_size
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(GtfsError) as exc:
        feed_import(source=bomb, name="bomb")
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\nzip bomb: {size / MIB:.1f} MB -> 1 GiB refused in {seconds:.3f} s, "
          f"peak {peak / MIB:.1f} MiB: {exc.value}")
    assert "stop_times.txt" in str(exc.value) and "STREAMCITY_GTFS_MAX_RATIO" in str(exc.value)
    assert seconds < 2 and peak < 32 * MIB
    assert not Feed.objects.filter(name="bomb").exists()


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused_while_streaming_with_bounded_memory(tmp_path, settings):
    """Within the ratio, beyond a file's limit: refused as the bytes come, never held in memory."""
    settings.STREAMCITY_GTFS_MAX_FILE_BYTES = 64 * MIB
    settings.STREAMCITY_GTFS_MAX_RATIO = 2000
    bomb = bomb_zip(tmp_path / "big.zip", gib=0.25)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(GtfsError) as exc:
        feed_import(source=bomb, name="big")
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\n256 MiB member, 64 MiB limit: refused in {seconds:.3f} s, peak {peak / MIB:.1f} MiB: {exc.value}")
    assert "stop_times.txt" in str(exc.value) and "STREAMCITY_GTFS_MAX_FILE_BYTES" in str(exc.value)
    assert peak < 32 * MIB


def test_the_stream_itself_is_counted_not_only_the_zip_directory(tmp_path):
    """Bytes are counted as they are decompressed: a limit holds whatever the directory declared."""
    rows = "".join(f"T1,08:00:00,08:00:00,S{i % 4 + 1},{i}\n" for i in range(2000))
    path = minimal_zip(tmp_path / "feed.zip", **{"stop_times.txt": MINIMAL["stop_times.txt"] + rows})
    with FeedSource(path) as src:  # within the limits the directory declares
        src.limits = reader.Limits(max_file_bytes=10_000)  # then a lower one: only the stream can tell
        with pytest.raises(GtfsError, match="stop_times.txt.*STREAMCITY_GTFS_MAX_FILE_BYTES"):
            src.fingerprint()


def test_the_whole_feed_is_bounded_too(tmp_path, settings):
    settings.STREAMCITY_GTFS_MAX_TOTAL_BYTES = 3 * MIB
    noise = {"shapes_extra.txt": os.urandom(2 * MIB), "notes.txt": os.urandom(2 * MIB)}  # within the ratio
    path = minimal_zip(tmp_path / "feed.zip", **noise)
    with pytest.raises(GtfsError, match="STREAMCITY_GTFS_MAX_TOTAL_BYTES"):
        FeedSource(path)


def test_an_ordinary_feed_reads_as_before_with_a_windows_1252_file(tmp_path, caplog):
    stops = MINIMAL["stops.txt"].replace("First", "Caf\u00e9").encode("cp1252")
    with zipfile.ZipFile(tmp_path / "feed.zip", "w") as z:
        for name, text in MINIMAL.items():
            z.writestr(name, stops if name == "stops.txt" else text.encode())
    with caplog.at_level(logging.WARNING), FeedSource(tmp_path / "feed.zip") as src:
        src.fingerprint()
        rows = dict(src.rows("stops.txt"))
    assert rows[2]["stop_name"] == "Caf\u00e9"
    assert "stops.txt is not UTF-8 (first bad byte on line 2)" in caplog.text


# -- downloads ------------------------------------------------------------------------------------------

class Server:
    """A local HTTP server whose handler is `behaviour(handler)`; records the requests it got."""

    def __init__(self, behaviour, host="127.0.0.1"):
        self.requests: list[dict] = []
        self.sent = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):
                outer.requests.append({"path": self.path, "headers": dict(self.headers)})
                try:
                    behaviour(self, outer)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(behaviour, host="127.0.0.1"):
        servers.append(Server(behaviour, host))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def slow_body(handler, server):
    handler.send_response(200)
    handler.send_header("Content-Length", "100")
    handler.end_headers()
    for _ in range(30):  # a byte a second, for 30 s at most
        handler.wfile.write(b"x")
        handler.wfile.flush()
        server.sent += 1
        time.sleep(1)


def slow_headers(handler, server):
    handler.wfile.write(b"HTTP/1.0 200 OK\r\n")
    for i in range(30):
        handler.wfile.write(f"X-Slow-{i}: 1\r\n".encode())
        handler.wfile.flush()
        time.sleep(1)


@pytest.mark.parametrize("behaviour", [slow_body, slow_headers], ids=["slow body", "slow headers"])
def test_a_slow_server_is_stopped_by_the_total_time_cap(tmp_path, serve, settings, behaviour):
    settings.STREAMCITY_GTFS_DOWNLOAD_SECONDS = 3
    server = serve(behaviour)
    started = time.perf_counter()
    with pytest.raises(GtfsError) as exc:
        FeedSource(f"{server.url}/feed.zip", allow_private_network=True)
    seconds = time.perf_counter() - started
    print(f"\n{behaviour.__name__}: stopped after {seconds:.2f} s: {exc.value}")
    assert "STREAMCITY_GTFS_DOWNLOAD_SECONDS" in str(exc.value)
    assert 2.5 < seconds < 5


def endless(handler, server, length=None):
    handler.send_response(200)
    if length:
        handler.send_header("Content-Length", str(length))
    handler.end_headers()
    block = b"z" * (256 << 10)
    for _ in range(256):  # 64 MiB at most
        handler.wfile.write(block)
        server.sent += len(block)


@pytest.mark.parametrize("declared", [False, True], ids=["no Content-Length", "Content-Length"])
def test_a_large_download_is_stopped_by_the_size_cap(tmp_path, serve, settings, declared):
    settings.STREAMCITY_GTFS_MAX_DOWNLOAD_BYTES = 8 * MIB
    server = serve(lambda h, s: endless(h, s, 64 * MIB if declared else None))
    started = time.perf_counter()
    with pytest.raises(GtfsError) as exc:
        FeedSource(f"{server.url}/feed.zip", allow_private_network=True)
    seconds = time.perf_counter() - started
    time.sleep(0.2)
    print(f"\nlarge download ({'declared' if declared else 'undeclared'}): refused in {seconds:.2f} s, "
          f"server wrote {server.sent / MIB:.1f} MiB: {exc.value}")
    assert "STREAMCITY_GTFS_MAX_DOWNLOAD_BYTES" in str(exc.value)
    assert server.sent < 32 * MIB  # the download stopped; the rest was never asked for


def serve_feed(zip_path: Path):
    data = zip_path.read_bytes()

    def behaviour(handler, server):
        if not handler.path.split("?")[0].endswith(zip_path.name):
            handler.send_error(404)
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return behaviour


def redirect_to(location: str):
    def behaviour(handler, server):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.end_headers()

    return behaviour


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_url_to_an_internal_address_is_refused_without_the_flag(tmp_path, serve, host):
    server = serve(serve_feed(minimal_zip(tmp_path / "feed.zip")))
    url = server.url.replace("127.0.0.1", host) + "/feed.zip"
    with pytest.raises(GtfsError, match="loopback, private or link-local.*--allow-private-network"):
        FeedSource(url)
    assert server.requests == []  # not even connected to
    with FeedSource(url, allow_private_network=True) as src:  # allowed when asked for
        assert "stops.txt" in src.files()
    with pytest.raises(GtfsError, match="loopback, private or link-local"):  # https goes through the same check
        FeedSource(url.replace("http://", "https://"))
    assert len(server.requests) == 1  # only the allowed download above


@pytest.mark.django_db
def test_the_command_refuses_an_internal_url_and_says_how_to_allow_it(tmp_path, serve):
    server = serve(serve_feed(minimal_zip(tmp_path / "feed.zip")))
    with pytest.raises(CommandError, match="--allow-private-network"):
        call_command("importgtfs", f"{server.url}/feed.zip", stdout=io.StringIO())
    call_command("importgtfs", f"{server.url}/feed.zip", "--allow-private-network", stdout=io.StringIO())
    assert Feed.objects.filter(name="feed").exists()


def test_a_redirect_to_an_internal_address_is_refused(tmp_path, serve, monkeypatch):
    internal = serve(serve_feed(minimal_zip(tmp_path / "feed.zip")), host="127.0.0.2")
    targets = [f"{internal.url}/feed.zip", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/feed.zip",
               "http://10.1.2.3/feed.zip", "file:///etc/passwd"]
    # The first server stands for a public host: 127.0.0.1 counts as public here, nothing else does.
    public = reader.address_is_public
    monkeypatch.setattr(reader, "address_is_public", lambda address: address == "127.0.0.1" or public(address))
    for target in targets:
        first = serve(redirect_to(target))
        with pytest.raises(GtfsError) as exc:
            FeedSource(f"{first.url}/feed.zip")
        print(f"\nredirect to {target}: {exc.value}")
        assert len(first.requests) == 1
        assert "loopback, private or link-local" in str(exc.value) or "only http(s)" in str(exc.value)
    assert internal.requests == []


@pytest.mark.django_db
def test_credentials_in_a_feed_url_are_masked_in_logs_errors_and_the_admin(tmp_path, serve, caplog, admin_client):
    server = serve(serve_feed(minimal_zip(tmp_path / "city.zip")))
    url = f"http://feeduser:pa55-s3cret@{server.url[7:]}/city.zip?api_key=KEY-0451&token=TOK-2112&version=3"
    with caplog.at_level(logging.DEBUG):
        feed_import(source=url, allow_private_network=True)
    # the server got the credentials (basic auth from user:password@, the query as given)...
    auth = server.requests[0]["headers"]["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"feeduser:pa55-s3cret"
    assert "api_key=KEY-0451" in server.requests[0]["path"]
    # ...nothing else did
    feed = Feed.objects.get(name="city")
    assert feed.source == f"http://feeduser:***@{server.url[7:]}/city.zip?api_key=***&token=***&version=3"
    page = admin_client.get("/admin/transit/feed/").content.decode()
    page += admin_client.get(f"/admin/transit/feed/{feed.pk}/change/").content.decode()
    for secret in ("pa55-s3cret", "KEY-0451", "TOK-2112"):
        assert secret not in caplog.text and secret not in page
    assert "city.zip" in page

    # a feed stored with its key by an earlier version is shown masked
    Feed.objects.filter(pk=feed.pk).update(source=url)
    page = admin_client.get("/admin/transit/feed/").content.decode()
    page += admin_client.get(f"/admin/transit/feed/{feed.pk}/change/").content.decode()
    assert "KEY-0451" not in page and "pa55-s3cret" not in page and "api_key=***" in page

    missing = url.replace("city.zip", "missing.zip")
    with pytest.raises(CommandError) as exc:
        call_command("importgtfs", missing, "--allow-private-network", stdout=io.StringIO())
    assert "404" in str(exc.value)
    for secret in ("pa55-s3cret", "KEY-0451", "TOK-2112"):
        assert secret not in str(exc.value) and secret not in caplog.text


def test_redact_url():
    from streamcity.kernel.security import redact_url

    assert redact_url("https://h/feed.zip?apikey=A&key=B&x=1&access_token=C") == \
        "https://h/feed.zip?apikey=***&key=***&x=1&access_token=***"
    assert redact_url("https://u:p@h:8/x") == "https://u:***@h:8/x"
    assert redact_url("https://token@h/x") == "https://***@h/x"
    assert redact_url("/srv/feeds/city.zip") == "/srv/feeds/city.zip"
