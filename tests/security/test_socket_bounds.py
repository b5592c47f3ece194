"""Bounded sockets (issue 17, finding 4), against a real server: `runstreamcity` (Daphne with the
outbound flow control of streamcity.asgi_server) and the `websockets` client (marked e2e), and at
the consumers' boundary with WebsocketCommunicator. The probes are in tests/security/probes.py;
docs/security-input.md has their figures before and after."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.test import Client

from streamcity.asgi import application
from streamcity.kernel.sockets import ClientMessageError, TokenBucket, client_message
from tests.e2e.conftest import base_env, free_port, manage, procs  # noqa: F401 - procs is a fixture
from tests.security import probes

e2e = pytest.mark.e2e

STALL_SECONDS = 12
SEND_BUFFER = 4 * 1024  # small bounds, so that 140 vehicles' frames pass them within seconds
SOCKET_BUFFER = 4608  # Linux's least SO_SNDBUF


@pytest.fixture
def server(procs, tmp_path):  # noqa: F811 - the fixture imported above
    env = base_env(tmp_path, STREAMCITY_WS_STALL_SECONDS=str(STALL_SECONDS),
                   STREAMCITY_WS_SEND_BUFFER_BYTES=str(SEND_BUFFER),
                   STREAMCITY_WS_SOCKET_SEND_BUFFER_BYTES=str(SOCKET_BUFFER),
                   STREAMCITY_WS_PING_INTERVAL="300", STREAMCITY_FRAME_INTERVAL="0.25")
    subprocess.run(manage("migrate", "--no-input", "-v0"), env=env, check=True)
    port = free_port()
    proc = procs.start("runstreamcity", manage("runstreamcity", "--port", str(port), "--vehicles", "140"), env)
    proc.wait_for_output("StreamCity is running at", timeout=90)
    proc.url = f"http://127.0.0.1:{port}"

    async def first_snapshot():  # wait until the map has vehicles: snapshots are worth measuring
        async with websockets.connect(probes.ws_url(proc.url), origin=proc.url, max_size=None) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    deadline = time.monotonic() + 60
    while not first_snapshot_has_vehicles(asyncio.run(first_snapshot())) and time.monotonic() < deadline:
        time.sleep(1)
    return proc


def first_snapshot_has_vehicles(message: dict) -> bool:
    return message.get("type") == "snapshot" and len(message.get("vehicles", ())) >= 20


@e2e
def test_2000_resyncs_get_an_error_frame_then_a_close_and_a_bounded_reply(server):
    flood = asyncio.run(probes.resync_flood(server.url, 2000, window=20))
    print(f"\n2,000 resyncs: {flood.bytes_received} bytes in {flood.snapshots} snapshots, then {flood.errors} "
          f"and close {flood.close_code} after {flood.seconds:.1f} s")
    assert flood.errors == ["too many messages: at most 20 at once and 1 a second; closing"]
    assert flood.close_code == 4008
    assert flood.snapshots <= 21  # the burst (and perhaps one token refilled meanwhile), not 2,000
    assert flood.bytes_received < 1_000_000  # was 20-32 MB
    assert "Traceback" not in server.output()


@e2e
def test_a_client_that_never_reads_holds_a_bounded_backlog_and_is_dropped(server):
    """It sends a resync a little slower than the budget refills (so Daphne never pings it: any
    message is a sign of life) and reads nothing. The server's kernel queue for it stays within
    the fixed socket buffer, frames are withheld once its send buffer is over the bound, and the
    socket is closed STALL_SECONDS after that; a normal client meanwhile keeps its frame rate."""
    result = {}

    async def normal_client(seconds: float) -> int:
        frames = 0
        async with websockets.connect(probes.ws_url(server.url), origin=server.url, max_size=None) as ws:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if '"type":"frame"' in await asyncio.wait_for(ws.recv(), 5):
                    frames += 1
        return frames

    import threading

    reader = threading.Thread(target=lambda: result.update(frames=asyncio.run(normal_client(30))))
    reader.start()
    stuck = probes.non_reader(server.url, server.popen.pid, seconds=40, every=1.1)
    reader.join(60)
    queues = [q for _, _, q in stuck.samples]
    print(f"\nnever-reading client: kernel send queue peak {stuck.kernel_queue_peak} bytes, closed after "
          f"{stuck.closed_after} s; RSS {stuck.rss_start_kb // 1024} -> {stuck.rss_peak_kb // 1024} MB; "
          f"queue samples {queues}; the normal client got {result.get('frames')} frames in 30 s")
    assert stuck.closed_after is not None and stuck.closed_after <= STALL_SECONDS + 20
    assert stuck.kernel_queue_peak <= 2 * SOCKET_BUFFER + 16 * 1024  # Linux doubles SO_SNDBUF; autotuned: MBs
    assert "closing a WebSocket whose client has not read" in server.output()
    assert result.get("frames", 0) >= 30 * 0.5


@e2e
def test_a_slow_client_gets_the_latest_state_instead_of_a_backlog(server):
    """A client that stops reading long enough for its send buffer to pass the bound, then reads
    again: frames were withheld meanwhile, and it gets a fresh snapshot without asking."""

    async def run():
        import socket

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        async with websockets.connect(probes.ws_url(server.url), origin=server.url, sock=sock, max_queue=1,
                                      max_size=None, ping_interval=None) as ws:
            assert '"type":"snapshot"' in await asyncio.wait_for(ws.recv(), 10)
            await asyncio.sleep(STALL_SECONDS - 4)  # not reading: the buffer fills and passes the bound
            kinds = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                message = await asyncio.wait_for(ws.recv(), 5)
                kinds.append(json.loads(message)["type"])
                if kinds[-1] == "snapshot":
                    break
            return kinds

    kinds = asyncio.run(run())
    print(f"\nafter a pause the slow client read {kinds.count('frame')} frames, then a {kinds[-1]}")
    assert kinds[-1] == "snapshot" and "frame" in kinds  # a snapshot it never asked for: the latest state


@e2e
def test_deep_and_huge_messages_get_error_frames_and_no_traceback(server):
    result = asyncio.run(probes.deep_and_huge(server.url, depth=5000, chars=200_000))
    assert result.replies == ["message nested more than 8 levels deep",
                              "message of 200034 characters is over the limit of 65536"]
    assert result.open_after  # the resync after them was answered: the socket is still served
    assert "Traceback" not in server.output() and "RecursionError" not in server.output()


# -- at the consumers' boundary (no server process) ------------------------------------------------


def test_a_token_bucket_allows_its_burst_then_its_rate():
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 100  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


@pytest.mark.parametrize("text, error", [
    ("x" * 101, "message of 101 characters is over the limit of 100"),
    ("[" * 9 + "]" * 9, "message nested more than 8 levels deep"),
    ('{"a":' * 9, "message nested more than 8 levels deep"),
    ("not json", "message is not valid JSON"),
    ("[1, 2]", 'message must be a JSON object with a "type"'),
    (None, "messages are JSON text, not binary"),
])
def test_client_messages_are_checked_before_and_while_parsing(text, error):
    with pytest.raises(ClientMessageError) as refused:
        client_message(text, max_chars=100, max_depth=8)
    assert str(refused.value) == error
    assert client_message('{"type":"resync","note":"[[[[[[[[[[[[[["}', max_chars=100, max_depth=8)["type"] == "resync"


async def flood(path: str, headers: list, messages: int = 30) -> tuple[list[str], int | None]:
    """Connect, then send `messages` resyncs; the types of what came back and the close code."""
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.receive_from(timeout=5)  # the snapshot on connect
    for _ in range(messages):
        await communicator.send_to(text_data='{"type":"resync"}')
    kinds, code = [], None
    while True:
        output = await communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            code = output.get("code")
            break
        message = json.loads(output["text"])
        kinds.append(message["type"] if message["type"] != "error" else "error: " + message["error"])
    await communicator.disconnect()
    return kinds, code


@pytest.mark.django_db(transaction=True)
def test_the_live_socket_answers_its_burst_of_resyncs_then_errs_and_closes():
    kinds, code = asyncio.run(flood("/ws/live/", [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]))
    assert kinds == ["snapshot"] * 20 + ["error: too many messages: at most 20 at once and 1 a second; closing"]
    assert code == 4008


@pytest.mark.django_db(transaction=True)
def test_the_ops_socket_answers_its_burst_of_resyncs_then_errs_and_closes():
    from django.contrib.auth.models import Permission, User

    olga = User.objects.create_user("olga", password="a long operator password 17", is_staff=True)
    olga.user_permissions.add(Permission.objects.get(codename="view_alert", content_type__app_label="alerts"))
    client = Client()
    client.force_login(olga)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    kinds, code = asyncio.run(flood("/ws/ops/", headers))
    assert kinds == ["snapshot"] * 20 + ["error: too many messages: at most 20 at once and 1 a second; closing"]
    assert code == 4008


@pytest.mark.django_db(transaction=True)
def test_a_deep_message_gets_an_error_frame_and_the_socket_stays(caplog):
    async def run():
        headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
        communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        assert (await communicator.connect())[0]
        await communicator.receive_from(timeout=5)
        await communicator.send_to(text_data="[" * 100_000)
        error = json.loads(await communicator.receive_from(timeout=5))
        await communicator.send_to(text_data='{"type":"resync"}')
        snapshot = json.loads(await communicator.receive_from(timeout=5))
        await communicator.disconnect()
        return error, snapshot

    error, snapshot = asyncio.run(run())
    assert error == {"type": "error", "error": "message of 100000 characters is over the limit of 65536"}
    assert snapshot["type"] == "snapshot"
    assert not [r for r in caplog.records if r.exc_info]
