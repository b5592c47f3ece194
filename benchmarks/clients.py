"""M WebSocket clients of `/ws/live/` in one asyncio process, measuring end-to-end latency.

    python -m benchmarks.clients --url ws://127.0.0.1:8000/ws/live/ --clients 100 --bbox w,s,e,n

Each client subscribes to the bounding box of the whole city (as the map does showing all of it), with
the zoom at which a laptop's map shows it, and receives the snapshot, then the frames. Talks to its host on stdin/stdout: prints `connected N` once
every client has its snapshot, waits for `go START END` (epoch seconds of the measurement window),
prints a `progress {...}` line every 2 s and a `result {...}` line after END.

A frame goes to every client of its group with the same text, so it is read once (the first
client to receive it) and the others look it up by length and tail: a client process that parsed
every copy would measure its own CPU, not the server. (A client in several groups gets their frames
merged into one message, mostly its own: only the timestamps are read, with a regular expression.) Latency = receive time - the vehicle's
`timestamp` (event time, stamped by the load at production), for every vehicle of every frame
received in the window, in BIN_MS bins.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import sys
import time
from collections import Counter
from urllib.parse import urlencode

import msgspec
import websockets

BIN_MS = 5


class _Frame(msgspec.Struct):
    type: str
    fields: list[str] = []
    vehicles: list[list] = []  # rows named by `fields` (transit.selectors.vehicle_row)


_decode_frame = msgspec.json.Decoder(_Frame).decode
_ROW_END = re.compile(rb"(\d+)\](?=[,\]])")  # the timestamp_ms closing a row
FRAME_HEAD = b'{"type":"frame"'


class Fleet:
    """The clients' shared counters and the frames seen, decoded once each."""

    def __init__(self):
        self.frames: dict[tuple[int, bytes], tuple[int, Counter]] = {}  # key -> (vehicles, event-time bins)
        self.receipts: list[tuple[float, tuple[int, bytes]]] = []  # in the window: (receive time, frame key)
        self.window = (float("inf"), float("-inf"))
        self.connected = 0
        self.failed: list[str] = []
        self.closed = 0
        self.messages = self.bytes = self.vehicles = 0  # in the window
        self.total_vehicles = 0  # since the start (progress)
        self.snapshots = 0
        self.decode_errors = 0

    def frame(self, data: bytes) -> tuple[int, bytes]:
        key = (len(data), data[-80:])
        if key not in self.frames:
            body = data.find(b'"vehicles":[')
            if 0 < body and data.rfind(b'"timestamp_ms"],', 0, body) > 0:  # the last field: ends each row
                stamps = [int(ms) for ms in _ROW_END.findall(data, body)]
            else:
                try:
                    frame = _decode_frame(data)
                    at = frame.fields.index("timestamp_ms")
                    stamps = [row[at] for row in frame.vehicles]
                except (msgspec.DecodeError, ValueError, IndexError):
                    self.decode_errors += 1
                    stamps = []
            bins = Counter(ms // BIN_MS for ms in stamps)
            self.frames[key] = (len(stamps), bins)
        return key

    def receive(self, data: bytes, now: float) -> None:
        if not data.startswith(FRAME_HEAD):
            if data.startswith(b'{"type":"snapshot"'):
                self.snapshots += 1
            return
        key = self.frame(data)
        n = self.frames[key][0]
        self.total_vehicles += n
        if self.window[0] <= now <= self.window[1]:
            self.receipts.append((now, key))
            self.messages += 1
            self.bytes += len(data)
            self.vehicles += n

    def latencies(self) -> Counter:
        """Latency bins (BIN_MS each) of every vehicle received in the window, with their counts."""
        by_frame: dict[tuple[int, bytes], Counter] = {}
        for now, key in self.receipts:
            by_frame.setdefault(key, Counter())[int(now * 1000) // BIN_MS] += 1
        out: Counter = Counter()
        for key, received in by_frame.items():
            stamped = self.frames[key][1]
            for rb, rc in received.items():
                for tb, tc in stamped.items():
                    out[rb - tb] += rc * tc
        return out


def percentile(bins: Counter, q: float) -> float | None:
    """The q-quantile (0..1) of binned latencies, in ms (the bin's middle)."""
    total = sum(bins.values())
    if not total:
        return None
    rank = q * (total - 1)
    seen = 0
    for b in sorted(bins):
        seen += bins[b]
        if seen > rank:
            return (b + 0.5) * BIN_MS
    return (max(bins) + 0.5) * BIN_MS


async def client(url: str, origin: str, fleet: Fleet, gate: asyncio.Semaphore, ready: asyncio.Event,
                 done: asyncio.Event) -> None:
    try:
        async with gate:
            ws = await websockets.connect(url, origin=origin, max_size=None, compression=None, max_queue=None,
                                          open_timeout=120, ping_interval=None, close_timeout=2)
            fleet.receive(await ws.recv(decode=False), time.time())  # the snapshot
        fleet.connected += 1
        if fleet.connected + len(fleet.failed) >= fleet.expected:
            ready.set()
    except Exception as exc:  # counted and reported: a refused client is a figure too
        fleet.failed.append(f"{type(exc).__name__}: {exc}")
        if fleet.connected + len(fleet.failed) >= fleet.expected:
            ready.set()
        return
    receive = fleet.receive
    try:
        while not done.is_set():
            try:
                data = await ws.recv(decode=False)
            except websockets.ConnectionClosed:
                fleet.closed += 1
                return
            receive(data, time.time())
    finally:
        await ws.close()


async def main_async(args) -> None:
    fleet = Fleet()
    fleet.expected = args.clients
    gate = asyncio.Semaphore(50)
    ready, done = asyncio.Event(), asyncio.Event()
    zoom = None if args.zoom == "none" else args.zoom
    urls = [args.url[i % len(args.url)] + "?" + urlencode({"bbox": bbox, **({"zoom": z} if z is not None else {})})
            for i, (bbox, z) in enumerate(views(args.bbox, args.view, args.clients, zoom=zoom))]
    tasks = [asyncio.create_task(client(url, args.origin, fleet, gate, ready, done)) for url in urls]
    await ready.wait()
    print(f"connected {fleet.connected} failed {len(fleet.failed)}", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    _, start, end = line.split()
    fleet.window = (float(start), float(end))
    last = (time.time(), 0)
    while time.time() < fleet.window[1] + args.drain:
        await asyncio.sleep(2.0)
        now = time.time()
        rate = (fleet.total_vehicles - last[1]) / (now - last[0])
        last = (now, fleet.total_vehicles)
        print(f"progress {json.dumps({'deliveries_per_s': rate, 'closed': fleet.closed})}", flush=True)
    done.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    seconds = fleet.window[1] - fleet.window[0]
    bins = fleet.latencies()
    result = {
        "clients_connected": fleet.connected,
        "clients_failed": len(fleet.failed),
        "client_errors": sorted(set(fleet.failed))[:5],
        "clients_closed": fleet.closed,
        "ws_messages": fleet.messages,
        "ws_bytes": fleet.bytes,
        "ws_vehicles": fleet.vehicles,
        "ws_deliveries_per_s": fleet.vehicles / seconds if seconds > 0 else 0.0,
        "ws_mbytes_per_s": fleet.bytes / seconds / 1e6 if seconds > 0 else 0.0,
        "distinct_frames": len(fleet.frames),
        "frame_decode_errors": fleet.decode_errors,
        "e2e_samples": sum(bins.values()),
        "e2e_p50_ms": percentile(bins, 0.50),
        "e2e_p90_ms": percentile(bins, 0.90),
        "e2e_p99_ms": percentile(bins, 0.99),
        "e2e_max_ms": (max(bins) + 1) * BIN_MS if bins else None,
    }
    print(f"result {json.dumps(result)}", flush=True)


VIEWPORTS = {"city": (1280, 800), "district": (390, 844)}  # a laptop showing the city, a phone a district


def views(bbox: str, view: str, n: int, seed: int = 7, zoom: str | None = "auto") -> list[tuple[str, float | None]]:
    """Each client's bounding box and map zoom: the whole `bbox` ("city"), or a district of about
    3 x 3 km somewhere inside it ("district", as a phone showing a neighbourhood). The zoom is the
    one at which the box fits the view's screen (VIEWPORTS) as the map's fitBounds would choose
    ("auto"), a given number, or None (no zoom sent: every change, as a map zoomed in)."""
    if view == "city" or not bbox:
        boxes = [bbox] * n
    else:
        west, south, east, north = (float(v) for v in bbox.split(","))
        rng = random.Random(seed)
        dlat, dlon = 0.027, 0.043  # about 3 km at London's latitude
        boxes = []
        for _ in range(n):
            w = rng.uniform(west, max(west, east - dlon))
            s = rng.uniform(south, max(south, north - dlat))
            boxes.append(f"{w:.5f},{s:.5f},{w + dlon:.5f},{s + dlat:.5f}")
    if zoom is None or not bbox:
        return [(b, None) for b in boxes]
    if zoom != "auto":
        return [(b, float(zoom)) for b in boxes]
    return [(b, fit_zoom(tuple(map(float, b.split(","))), *VIEWPORTS[view])) for b in boxes]


def fit_zoom(bbox: tuple[float, float, float, float], width: int, height: int) -> int:
    """The largest whole Web Mercator zoom at which `bbox` fits `width` x `height` pixels."""
    west, south, east, north = bbox

    def y(lat: float) -> float:  # Mercator y in pixels at zoom 0
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / (2 * math.pi) * 256

    dx, dy = max(1e-9, (east - west) / 360 * 256), max(1e-9, y(north) - y(south))
    return max(0, min(18, math.floor(math.log2(min(width / dx, height / dy)))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, action="append",
                        help="ws://host:port/ws/live/ (repeat it: the clients spread over the servers)")
    parser.add_argument("--origin", required=True, help="Origin header (the server checks it)")
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--bbox", default="", help="west,south,east,north (default: everything)")
    parser.add_argument("--view", choices=("city", "district"), default="city",
                        help="each client shows the whole bbox, or a district of about 3 x 3 km inside it")
    parser.add_argument("--zoom", default="auto",
                        help="the map zoom each client reports: auto (fits its view), a number, or none")
    parser.add_argument("--drain", type=float, default=2.0, help="seconds to keep receiving after the window")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
