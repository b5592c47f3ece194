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
