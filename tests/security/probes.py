"""The socket probes of issue 17 (finding 4), as an attacker runs them against a live server.

Used by tests/security/test_socket_bounds.py and runnable by hand against any server (the figures
in docs/security-input.md come from here):

    python -m tests.security.probes resync-flood http://127.0.0.1:8000
    python -m tests.security.probes non-reader http://127.0.0.1:8000 --pid <server pid> --seconds 60
    python -m tests.security.probes deep http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import time
from dataclasses import dataclass, field

import websockets
from websockets.exceptions import ConnectionClosed


def ws_url(url: str, path: str = "/ws/live/") -> str:
    return url.replace("http", "ws", 1) + path


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@dataclass
class Flood:
    sent: int = 0  # resyncs sent before the server closed
    bytes_received: int = 0
    snapshots: int = 0
    errors: list[str] = field(default_factory=list)
    close_code: int | None = None
    seconds: float = 0.0


async def resync_flood(url: str, n: int = 2000, window: float = 20.0) -> Flood:
    """Send `n` resyncs as fast as the socket takes them, reading everything the server sends for at
    most `window` seconds (or until it closes)."""
    out = Flood()
    started = time.monotonic()
    async with websockets.connect(ws_url(url), origin=url, max_size=None, ping_interval=None) as ws:
        await asyncio.wait_for(ws.recv(), 10)  # the snapshot on connect: not counted

        async def send_all():
            try:
                for _ in range(n):
                    await ws.send('{"type":"resync"}')
                    out.sent += 1
            except ConnectionClosed:
                pass

        sender = asyncio.ensure_future(send_all())
        deadline = started + window
        try:
            while time.monotonic() < deadline:
                try:
                    message = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                out.bytes_received += len(message.encode() if isinstance(message, str) else message)
                if message.startswith('{"type":"snapshot"'):
                    out.snapshots += 1
                elif message.startswith('{"type":"error"'):
                    out.errors.append(json.loads(message)["error"])
        except ConnectionClosed as exc:
            out.close_code = exc.rcvd.code if exc.rcvd else None
        sender.cancel()
    out.seconds = time.monotonic() - started
    return out


@dataclass
class NonReader:
    rss_start_kb: int = 0
    rss_peak_kb: int = 0
    rss_end_kb: int = 0
    messages_sent: int = 0
    closed_after: float | None = None  # seconds until the server closed the socket, if it did
    kernel_queue_peak: int = 0  # bytes in the server's kernel send queue for this socket (ss Send-Q)
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (s, RSS kB, Send-Q bytes)


def non_reader(url: str, pid: int, seconds: float = 60.0, every: float = 5.0, rcvbuf: int = 4096,
               limit: int = 1_000_000) -> NonReader:
    """A client that never reads but sends a resync every `every` seconds (at most `limit` of them;
    any client message also keeps Daphne from pinging it). The server's RSS and its kernel send
    queue for this socket are sampled every second."""
    out = NonReader()

    async def run():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # a small window: the server backs up fast
        host, port = url.split("//", 1)[1].split(":")
        sock.connect((host, int(port)))
        client_port = sock.getsockname()[1]
        # max_queue=1: the client library stops reading the socket after one message, as a stuck
        # browser tab would; it still writes what we send
        ws = await websockets.connect(ws_url(url), origin=url, sock=sock, max_queue=1, max_size=None,
                                      ping_interval=None)
        out.rss_start_kb = out.rss_peak_kb = rss_kb(pid)
        started = time.monotonic()
        next_send = started
        try:
            while time.monotonic() - started < seconds:
                now = time.monotonic()
                while now >= next_send and out.messages_sent < limit:  # every message due by now
                    next_send += every
                    try:
                        await ws.send('{"type":"resync"}')
                        out.messages_sent += 1
                    except ConnectionClosed:
                        break
                rss, queued = rss_kb(pid), server_send_queue(int(port), client_port)
                out.samples.append((round(now - started, 1), rss, queued))
                out.rss_peak_kb = max(out.rss_peak_kb, rss)
                out.kernel_queue_peak = max(out.kernel_queue_peak, queued)
                if out.closed_after is None and (ws.transport.is_closing() or _peer_closed(sock)):
                    out.closed_after = round(now - started, 1)
                await asyncio.sleep(1.0)
        finally:
            out.rss_end_kb = rss_kb(pid)
            ws.transport.abort()

    asyncio.run(run())
    return out


def server_send_queue(server_port: int, client_port: int) -> int:
    """Bytes the kernel holds unsent on the server's side of one connection (`ss` Send-Q)."""
    try:
        out = subprocess.run(["ss", "-tnH", f"( sport = :{server_port} and dport = :{client_port} )"],
                             capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return 0
    return int(out[2]) if len(out) >= 3 and out[2].isdigit() else 0


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (its FIN or reset arrived; the client library
    may have closed the socket already), asked of the kernel: the unread data stays unread."""
    try:
        state = sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, "TCP_INFO", 11), 1)[0]
    except OSError:
        return True
    return state != 1  # 1 = ESTABLISHED


@dataclass
class Deep:
    replies: list[str] = field(default_factory=list)
    open_after: bool = False


async def deep_and_huge(url: str, depth: int = 5000, chars: int = 200_000) -> Deep:
    """A message nested `depth` levels deep and one of `chars` characters; then a resync, to see
    whether the socket is still served."""
    out = Deep()
    async with websockets.connect(ws_url(url), origin=url, max_size=None, ping_interval=None) as ws:
        await asyncio.wait_for(ws.recv(), 10)
        try:
            for text in ("[" * depth + "]" * depth, '{"type":"subscribe","routes":["' + "x" * chars + '"]}',
                         '{"type":"resync"}'):
                await ws.send(text)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                message = await asyncio.wait_for(ws.recv(), 10)
                if message.startswith('{"type":"error"'):
                    out.replies.append(json.loads(message)["error"])
                elif message.startswith('{"type":"snapshot"'):
                    out.open_after = True  # the resync's answer (or a snapshot the server sent on its own)
                    if len(out.replies) >= 2:
                        break
        except (ConnectionClosed, asyncio.TimeoutError) as exc:
            out.replies.append(f"closed: {exc!r}"[:200])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=["resync-flood", "non-reader", "deep"])
    parser.add_argument("url")
    parser.add_argument("--pid", type=int, help="the server's process id (non-reader: its RSS is sampled)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--every", type=float, default=1.2, help="non-reader: seconds between its messages")
    parser.add_argument("--limit", type=int, default=1_000_000, help="non-reader: messages at most")
    args = parser.parse_args()
    if args.probe == "resync-flood":
        r = asyncio.run(resync_flood(args.url, args.n))
        print(f"{r.sent} resyncs sent; the server sent {r.bytes_received / 1e6:.2f} MB in {r.snapshots} snapshots "
              f"over {r.seconds:.1f} s; errors {r.errors[:2]}; close code {r.close_code}")
    elif args.probe == "non-reader":
        r = non_reader(args.url, args.pid, args.seconds, args.every, limit=args.limit)
        print(f"server RSS {r.rss_start_kb / 1024:.0f} -> peak {r.rss_peak_kb / 1024:.0f} -> "
              f"{r.rss_end_kb / 1024:.0f} MB over {args.seconds:.0f} s; kernel send queue peak "
              f"{r.kernel_queue_peak / 1024:.0f} KiB; {r.messages_sent} messages sent; "
              f"closed by the server after {r.closed_after} s")
        print("samples (s, RSS MB, Send-Q KiB):", [(t, round(kb / 1024), q // 1024) for t, kb, q in r.samples[::5]])
    else:
        r = asyncio.run(deep_and_huge(args.url))
        print(f"replies: {r.replies}; socket still served afterwards: {r.open_after}")


if __name__ == "__main__":
    main()
