"""Benchmark of GTFS-Realtime out: building and serving vehicle-positions.pb and trip-updates.pb.

    python manage.py gtfsrtbench --vehicles 9000 --clients 100 --seconds 10

Puts N vehicles on trips of the built-in city into the live table (ids `gtfsrt-bench-*`, removed
afterwards: run it on a scratch database, e.g. STREAMCITY_VAR_DIR=/tmp/bench with SQLite, not on
a live twin), then measures for each feed:
- build: milliseconds per build (query + protobuf + serialise; cold = the first, which also loads
  the trips' stop times; warm = the median of the next ones, wall clock and the thread's CPU time,
  which a busy machine disturbs less) and its size, raw and gzipped;
- serve: requests per second of C concurrent keep-alive HTTP/1.1 clients (one asyncio process,
  `Accept-Encoding: gzip`) against `daphne streamcity.asgi:application` started for the run.
It prints figures; it asserts nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from django.utils import timezone

PREFIX = "gtfsrt-bench-"
ROOT = Path(__file__).resolve().parents[2]


def fleet_create(*, vehicles: int, seed: int = 7) -> str:
    """N vehicles on trips of the built-in city (imported if needed) in the live table; its feed name."""
    from simulators.services import builtin_city_ensure
    from streamcity.kernel.schemas import LiveVehicle
    from transit.models import Stop, Trip
    from transit.services import vehicle_states_upsert

    from transit.realtime import feed as out

    city = builtin_city_ensure()
    rng = random.Random(seed)
    trip_ids = list(Trip.objects.filter(feed=city).values_list("trip_id", flat=True))
    rng.shuffle(trip_ids)
    trips = out.network().trips(set(trip_ids[:vehicles]))
    stops = {s: (lat, lon) for s, lat, lon in Stop.objects.filter(feed=city).values_list("stop_id", "latitude",
                                                                                         "longitude")}
    types = dict(city.routes.values_list("route_id", "vehicle_type"))
    now = timezone.now()
    batch = []
    chosen = [trips[t] for t in trip_ids[:vehicles] if t in trips]
    for i in range(vehicles):
        _, trip = chosen[i % len(chosen)]
        served = rng.randrange(len(trip.seqs) - 1)
        lat, lon = stops[trip.stop_ids[served]]
        batch.append(LiveVehicle(
            vehicle_id=f"{PREFIX}{i}", vehicle_type=types.get(trip.route_id, "bus"), route_id=trip.route_id, trip_id=trip.trip_id, latitude=lat, longitude=lon,
            bearing=rng.uniform(0, 360), speed=rng.uniform(0, 15), passenger_count=rng.randrange(80), capacity=80,
            stop_sequence=trip.seqs[served], next_stop_id=trip.stop_ids[served + 1],
            delay_seconds=rng.randrange(-60, 600), timestamp=now - dt.timedelta(seconds=rng.uniform(0, 10))))
    for i in range(0, len(batch), 2000):
        vehicle_states_upsert(vehicles=batch[i:i + 2000])
    return city.name


def fleet_remove() -> int:
    from transit.models import VehicleState

    return VehicleState.objects.filter(vehicle_id__startswith=PREFIX).delete()[0]


def measure_builds(kind: str, *, repeat: int = 5) -> dict:
    from transit.realtime import feed as out

    out._network = None  # cold: the trips' stop times are loaded by the first build
    times, cpu = [], []
    for _ in range(repeat + 1):
        t0, c0 = time.perf_counter(), time.thread_time()
        msg = out.BUILDERS[kind](None)
        body = msg.SerializeToString()
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    t0 = time.perf_counter()
    zipped = gzip.compress(body, 5)
    gzip_ms = (time.perf_counter() - t0) * 1000
    return {"entities": len(msg.entity), "cold_ms": times[0] * 1000, "warm_ms": statistics.median(times[1:]) * 1000,
            "warm_cpu_ms": statistics.median(cpu[1:]) * 1000,
            "bytes": len(body), "gzip_bytes": len(zipped), "gzip_ms": gzip_ms}


async def _client(host: str, port: int, path: str, until: float, counts: list[int], errors: list[str]) -> None:
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: gzip\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if status != b"200":
                errors.append(status.decode())
            counts[0] += 1
    finally:
        writer.close()


async def _load(host: str, port: int, path: str, clients: int, seconds: float) -> tuple[int, list[str]]:
    counts, errors = [0], []
    until = time.monotonic() + seconds
    await asyncio.gather(*(_client(host, port, path, until, counts, errors) for _ in range(clients)))
    return counts[0], errors


def measure_serving(paths: list[str], *, clients: int, seconds: float) -> dict[str, dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                               "streamcity.asgi:application"], cwd=ROOT, env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("daphne did not start: " + (server.stderr.read() or b"").decode()[-2000:])
                time.sleep(0.2)
        results = {}
        for path in paths:
            asyncio.run(_load("127.0.0.1", port, path, 4, 2.0))  # warm up: the first build, the connections
            n, errors = asyncio.run(_load("127.0.0.1", port, path, clients, seconds))
            results[path] = {"requests": n, "rps": n / seconds, "errors": len(errors)}
        return results
    finally:
        server.terminate()
        server.wait(30)


def run(*, vehicles: int, clients: int, seconds: float, http: bool = True, write=print) -> dict:
    from django.conf import settings

    write(f"GTFS-RT out benchmark: {vehicles} vehicles on the built-in city's trips, "
          f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} database")
    fleet_remove()
    fleet_create(vehicles=vehicles)
    try:
        figures = {}
        for kind in ("vehicle-positions", "trip-updates"):
            f = figures[kind] = measure_builds(kind)
            write(f"  {kind}.pb build: {f['warm_ms']:.0f} ms warm ({f['warm_cpu_ms']:.0f} ms of CPU), "
                  f"{f['cold_ms']:.0f} ms cold; {f['entities']} "
                  f"entities, {f['bytes'] / 1024:.0f} KiB ({f['gzip_bytes'] / 1024:.0f} KiB gzipped in "
                  f"{f['gzip_ms']:.0f} ms)")
        if http:
            served = measure_serving([f"/gtfs-rt/{k}.pb" for k in figures], clients=clients, seconds=seconds)
            for kind in figures:
                s = figures[kind]["serve"] = served[f"/gtfs-rt/{kind}.pb"]
                write(f"  {kind}.pb served to {clients} concurrent clients: {s['rps']:.0f} requests/s "
                      f"({s['requests']} in {seconds:g} s, {s['errors']} errors; built at most every "
                      f"{settings.STREAMCITY_FRAME_INTERVAL:g} s)")
        return figures
    finally:
        fleet_remove()
