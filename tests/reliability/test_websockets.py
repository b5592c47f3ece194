"""WebSocket hardening against a real server (runstreamcity, embedded)."""

import asyncio
import re

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.conftest import HttpSession

pytestmark = pytest.mark.e2e


def demo_password(proc) -> str:
    proc.wait_for_output("Operators: log in", timeout=30)
    return re.search(r"with password '([^']+)'", proc.output()).group(1)


async def refused(url, path, origin=None, cookie=None):
    headers = {"Cookie": cookie} if cookie else None
    try:
        async with websockets.connect(url.replace("http", "ws") + path, origin=origin, additional_headers=headers) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    except InvalidStatus as exc:
        return exc.response.status_code
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else "closed"
    return None


def test_foreign_and_missing_origins_and_anonymous_operators_are_refused(embedded):
    url = embedded.url
    assert asyncio.run(refused(url, "/ws/live/", origin="http://evil.example")) == 403
    assert asyncio.run(refused(url, "/ws/live/", origin=None)) == 403
    assert asyncio.run(refused(url, "/ws/ops/", origin=url)) == 403  # anonymous
    assert asyncio.run(refused(url, "/ws/live/", origin=url)) is None  # the public feed is open to the site


def test_a_logged_out_operators_socket_is_closed(embedded):
    session = HttpSession(embedded.url)
    session.login("operator", demo_password(embedded))

    async def run():
        ws_url = embedded.url.replace("http", "ws") + "/ws/ops/"
        async with websockets.connect(ws_url, origin=embedded.url, additional_headers={"Cookie": session.cookie_header()}) as ws:
            snapshot = await asyncio.wait_for(ws.recv(), 10)
            assert '"type":"snapshot"' in snapshot
            await asyncio.get_running_loop().run_in_executor(None, session.post, "/accounts/logout/", {})
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code

    assert asyncio.run(run()) == 4401
    # the old cookie no longer opens the feed
    assert asyncio.run(refused(embedded.url, "/ws/ops/", origin=embedded.url, cookie=session.cookie_header())) == 403


def test_a_two_mebibyte_message_is_refused(embedded):
    async def run():
        async with websockets.connect(embedded.url.replace("http", "ws") + "/ws/live/", origin=embedded.url, max_size=None) as ws:
            await asyncio.wait_for(ws.recv(), 10)  # the snapshot
            try:
                await ws.send("x" * (2 * 1024 * 1024))
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else "dropped"

    outcome = asyncio.run(run())
    print(f"2 MiB message: the server closed the connection ({outcome})")
    assert outcome in (1009, "dropped")  # 1009 = message too big; or the server aborts the TCP connection
    # and it keeps serving everyone else
    assert asyncio.run(refused(embedded.url, "/ws/live/", origin=embedded.url)) is None


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_a_client_that_never_reads_is_dropped_and_does_not_slow_others(procs, tmp_path):
    """A raw socket completes the handshake, then never reads: it never answers a ping, so the
    server drops it (bounding what it buffers), while a normal client keeps its frame rate."""
    import base64
    import os
    import socket
    import subprocess
    import time

    from tests.e2e.conftest import base_env, free_port, manage

    env = base_env(tmp_path, STREAMCITY_WS_PING_INTERVAL="2", STREAMCITY_WS_PING_TIMEOUT="3",
                   STREAMCITY_FRAME_INTERVAL="0.1")
    subprocess.run(manage("migrate", "--no-input", "-v0"), env=env, check=True)
    port = free_port()
    app = procs.start("runstreamcity", manage("runstreamcity", "--port", str(port), "--vehicles", "40"), env)
    app.wait_for_output("StreamCity is running at", timeout=90)
    url = f"http://127.0.0.1:{port}"

    stuck = socket.create_connection(("127.0.0.1", port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window: the server backs up fast
    key = base64.b64encode(os.urandom(16)).decode()
    stuck.sendall((f"GET /ws/live/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {url}\r\n\r\n").encode())
    assert b"101 Switching Protocols" in stuck.recv(4096)
    rss_start = _rss_kb(app.popen.pid)

    async def normal_client(seconds: float) -> int:
        frames = 0
        async with websockets.connect(url.replace("http", "ws") + "/ws/live/", origin=url) as ws:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if '"type":"frame"' in await asyncio.wait_for(ws.recv(), 5):
                    frames += 1
        return frames

    frames = asyncio.run(normal_client(12))  # meanwhile the stuck client is pinged and dropped
    rss_end = _rss_kb(app.popen.pid)
    stuck.setblocking(False)
    dropped = False
    try:
        while True:  # drain what the kernel holds; the server's side is gone: EOF or reset
            chunk = stuck.recv(1 << 16)
            if not chunk:
                dropped = True
                break
    except ConnectionResetError:
        dropped = True
    except BlockingIOError:
        dropped = False
    finally:
        stuck.close()
    print(f"\nnever-reading client: dropped={dropped}; the other client got {frames} frames in 12 s; "
          f"server RSS {rss_start // 1024} -> {rss_end // 1024} MB")
    assert dropped
    assert frames >= 12 * 0.5  # frames go out about every second (the simulator's tick), unhindered
    assert app.stop() == 0
