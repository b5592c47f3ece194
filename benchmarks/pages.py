"""Benchmark of the passenger and console pages at a given fleet size.

    python manage.py pagebench --vehicles 9000 --repeat 30

Puts N vehicles on trips of the built-in city into the live table (ids `page-bench-*`, removed
afterwards: run it on a scratch database, e.g.
STREAMCITY_VAR_DIR=/tmp/bench with SQLite, or a PostgreSQL database of its own), then requests each
page through Django's test client (the whole view: queries, template, no network) and prints the
median, 95th percentile and maximum in milliseconds. The first request of each page (cold caches)
is reported apart. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time

PREFIX = "page-bench-"

PAGES = (
    ("stop page, a station (3 platforms)", "/stops/CS-B/"),
    ("stop page, a street stop", "/stops/{street}/"),
    ("stop board JSON", "/api/stops/CS-B/board/"),
    ("search", "/search/?q=centraal"),
    ("near me (typed place)", "/stops/near/?place=Centraal"),
    ("route page", "/routes/{route}/"),
)


def fleet_create(*, vehicles: int, seed: int = 7) -> None:
    """N vehicles on trips of the built-in city (imported if needed), each between two of its stops,
    with a random deviation; the trips running now are taken first, so the pages show live times."""
    from django.utils import timezone

    from simulators.services import builtin_city_ensure
    from streamcity.kernel.schemas import LiveVehicle
    from transit.models import StopTime
    from transit.services import vehicle_states_upsert

    city = builtin_city_ensure()
    rng = random.Random(seed)
    calls: dict[str, list] = {}
    rows = (StopTime.objects.filter(trip__feed=city).order_by("trip", "stop_sequence")
            .values_list("trip__trip_id", "trip__route__route_id", "trip__route__vehicle_type", "stop_sequence",
                         "stop__stop_id", "stop__latitude", "stop__longitude"))
    for trip_id, route_id, vtype, seq, stop_id, lat, lon in rows.iterator(chunk_size=10000):
        calls.setdefault(trip_id, []).append((route_id, vtype, seq, stop_id, lat, lon))
    trip_ids = [t for t, c in calls.items() if len(c) > 1]
    rng.shuffle(trip_ids)
    now = timezone.now()
    batch = []
    for i in range(vehicles):
        trip = calls[trip_ids[i % len(trip_ids)]]
        k = rng.randrange(len(trip) - 1)
        route_id, vtype, seq, _, lat, lon = trip[k]
        batch.append(LiveVehicle(
            vehicle_id=f"{PREFIX}{i}", vehicle_type=vtype, route_id=route_id, trip_id=trip_ids[i % len(trip_ids)],
            latitude=lat, longitude=lon, bearing=rng.uniform(0, 360), speed=rng.uniform(0, 15),
            passenger_count=rng.randrange(80), capacity=80, stop_sequence=seq, next_stop_id=trip[k + 1][3],
            delay_seconds=rng.randrange(-60, 600), timestamp=now - dt.timedelta(seconds=rng.uniform(0, 10))))
    for i in range(0, len(batch), 2000):
        vehicle_states_upsert(vehicles=batch[i:i + 2000])


def fleet_remove() -> int:
    from transit.models import VehicleState

    return VehicleState.objects.filter(vehicle_id__startswith=PREFIX).delete()[0]


def run(*, vehicles: int, repeat: int, write=print, extra_pages: tuple = ()) -> list[dict]:
    from django.db import connection
    from django.test import Client

    from transit.models import StopTime, VehicleState

    fleet_remove()
    t0 = time.perf_counter()
    fleet_create(vehicles=vehicles)
    write(f"{VehicleState.objects.count()} vehicles in the live table ({time.perf_counter() - t0:.1f} s to write), "
          f"database {connection.vendor}")
    busiest = (StopTime.objects.values("stop__stop_id").order_by("stop__stop_id")
               .filter(stop__stop_id__startswith="S").first())
    street = busiest["stop__stop_id"] if busiest else "S001"
    route = VehicleState.objects.values_list("route_id", flat=True).order_by("route_id").first() or "B12"
    client = Client(HTTP_HOST="127.0.0.1")
    out = []
    try:
        for label, path in PAGES + tuple(extra_pages):
            url = path.format(street=street, route=route)
            t = time.perf_counter()
            response = client.get(url)
            cold = (time.perf_counter() - t) * 1000
            if response.status_code != 200:
                write(f"{label}: {url} answered {response.status_code}")
                continue
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                client.get(url)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            row = {"page": label, "url": url, "cold_ms": round(cold, 1), "median_ms": round(statistics.median(times), 1),
                   "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1), "max_ms": round(times[-1], 1),
                   "bytes": len(response.content)}
            out.append(row)
            write(f"{label:38} {url:32} median {row['median_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms  "
                  f"max {row['max_ms']:6.1f} ms  cold {row['cold_ms']:6.1f} ms  {row['bytes']} bytes")
        # the console's reads (their pages need a login): timed as functions
        from alerts.console import ladder_data, vehicle_trip_view

        vehicle = VehicleState.objects.filter(route_id=route).values_list("vehicle_id", flat=True).first()
        for label, call in ((f"ladder data, route {route}", lambda: ladder_data([route])),
                            (f"vehicle view data, {vehicle}", lambda: vehicle_trip_view(vehicle))):
            t = time.perf_counter()
            call()
            cold = (time.perf_counter() - t) * 1000
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                call()
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            row = {"page": label, "cold_ms": round(cold, 1), "median_ms": round(statistics.median(times), 1),
                   "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1), "max_ms": round(times[-1], 1)}
            out.append(row)
            write(f"{label:71} median {row['median_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms  "
                  f"max {row['max_ms']:6.1f} ms  cold {row['cold_ms']:6.1f} ms")
    finally:
        fleet_remove()
    return out
