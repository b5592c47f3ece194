"""The history benchmark (`manage.py historybench`): storage per London-sized day and the KPI
queries over it, on PostgreSQL.

A London-sized day is 9,000 vehicles in service for 18 hours. The benchmark builds, in a schema of
its own (dropped afterwards unless --keep), the history tables as the migrations make them
(`CREATE TABLE ... (LIKE ... INCLUDING ALL)`: the same columns, keys and BRIN indexes), then

- inserts a measured sample of vehicle positions (default one hour of every vehicle, one point every
  15 s) in time order and extrapolates its size (pg_total_relation_size: table, TOAST, indexes) to
  the day;
- inserts a whole day of stop events (every vehicle calls at a stop every 90 s; 40-stop trips of an
  hour, one stop in five a timepoint; 675 routes of 13 vehicles, about 4.6 minutes apart, so every
  route is frequent) and the day's scheduled trips, and measures their size;
- runs every KPI query of the KPI page for that day (transit.history.kpis.service_kpis, with the
  schema first on the search path), cold and warm, and reports each one's time.

The rows are generated inside PostgreSQL (generate_series), in time order, so the figures are the
database's and not Python's.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field

from django.db import connection

SCHEMA = "historybench"
TABLES = ("transit_stopevent", "transit_vehicleposition", "transit_scheduledtrip")


@dataclass
class HistoryBench:
    vehicles: int = 9000
    day_hours: float = 18.0
    sample_hours: float = 1.0
    stop_hours: float | None = None  # hours of stop events inserted (default: the whole day)
    position_seconds: int = 15
    stop_seconds: int = 90
    stops_per_trip: int = 40
    routes: int = 675
    day: dt.date = dt.date(2026, 12, 1)
    results: dict = field(default_factory=dict)

    def run(self, *, keep: bool = False, log=print) -> dict:
        if connection.vendor != "postgresql":
            raise RuntimeError("historybench measures PostgreSQL: point DATABASE_URL at a PostgreSQL database")
        start = dt.datetime.combine(self.day, dt.time(5), tzinfo=dt.timezone.utc)
        stop_hours = self.day_hours if self.stop_hours is None else self.stop_hours
        with connection.cursor() as c:
            c.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            c.execute(f"CREATE SCHEMA {SCHEMA}")
            for table in TABLES:
                c.execute(f"CREATE TABLE {SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)")
            try:
                r = self.results
                r["positions"] = self._positions(c, start, log)
                r["stop_events"] = self._stop_events(c, start, stop_hours, log)
                r["scheduled_trips"] = self._trips(c, start, log)
                r["day_gb"] = round(sum(x["day_bytes"] for x in (r["positions"], r["stop_events"],
                                                                  r["scheduled_trips"])) / 1e9, 2)
                r["kpi_seconds"] = self._kpis(c, log)
                r["parameters"] = {k: v for k, v in asdict(self).items() if k != "results"}
                r["parameters"]["day"] = self.day.isoformat()
            finally:
                c.execute("SET search_path TO DEFAULT")
                if not keep:
                    c.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        return self.results

    def _size(self, c, table: str) -> dict:
        c.execute(f"SELECT pg_total_relation_size('{SCHEMA}.{table}'), pg_relation_size('{SCHEMA}.{table}'), "
                  f"pg_indexes_size('{SCHEMA}.{table}'), (SELECT COUNT(*) FROM {SCHEMA}.{table})")
        total, heap, indexes, rows = c.fetchone()
        return {"rows": rows, "bytes": total, "table_bytes": heap, "index_bytes": indexes,
                "bytes_per_row": round(total / rows, 1) if rows else None}

    def _positions(self, c, start: dt.datetime, log) -> dict:
        per_vehicle = int(self.sample_hours * 3600 / self.position_seconds)
        log(f"positions: {self.vehicles} vehicles x {per_vehicle} samples ({self.sample_hours:g} h) ...")
        t = time.perf_counter()
        c.execute(f"""
            INSERT INTO {SCHEMA}.transit_vehicleposition
                (vehicle_id, timestamp, route_id, trip_id, latitude, longitude, bearing, speed, status,
                 delay_seconds, passenger_count, capacity)
            SELECT 'V' || lpad(v::text, 5, '0'),
                   %s::timestamptz + make_interval(secs => k * {self.position_seconds} + (v %% {self.position_seconds})),
                   'R' || (v %% {self.routes}), 'R' || (v %% {self.routes}) || '-' || (k * {self.position_seconds} / 3600)
                       || '-V' || v,
                   51.3 + random() * 0.4, -0.5 + random() * 0.7, (random() * 359)::int, random() * 15,
                   'in_service', (random() * 600 - 120)::int, (random() * 80)::int, 80
            FROM generate_series(0, %s - 1) k, generate_series(0, %s - 1) v
            ORDER BY 2""", [start, per_vehicle, self.vehicles])
        seconds = time.perf_counter() - t
        c.execute(f"VACUUM ANALYZE {SCHEMA}.transit_vehicleposition")
        size = self._size(c, "transit_vehicleposition")
        size["insert_rows_per_s"] = round(size["rows"] / seconds)
        size["day_bytes"] = round(size["bytes"] * self.day_hours / self.sample_hours)
        size["day_rows"] = round(size["rows"] * self.day_hours / self.sample_hours)
        log(f"  {size['rows']:,} rows, {size['bytes'] / 1e6:.0f} MB ({size['bytes_per_row']} B/row) in {seconds:.1f} s;"
            f" a day: {size['day_rows']:,} rows, {size['day_bytes'] / 1e9:.2f} GB")
        return size

    def _stop_events(self, c, start: dt.datetime, hours: float, log) -> dict:
        per_vehicle = int(hours * 3600 / self.stop_seconds)
        n, s, routes = self.stops_per_trip, self.stop_seconds, self.routes
        trip_s = n * s
        log(f"stop events: {self.vehicles} vehicles x {per_vehicle} calls ({hours:g} h) ...")
        t = time.perf_counter()
        # vehicle v works route v % routes; the route's vehicles leave (v / routes) * trip_s / per-route apart
        c.execute(f"""
            INSERT INTO {SCHEMA}.transit_stopevent
                (trip_id, trip_start, stop_sequence, vehicle_id, route_id, direction_id, stop_id, scheduled,
                 arrival, departure, passenger_count, capacity, timepoint, observed)
            SELECT trip_id, trip_start, seq, vehicle_id, route_id, dir, route_id || '-' || dir || '-S' || seq,
                   scheduled, scheduled + make_interval(secs => d - 20), scheduled + make_interval(secs => d),
                   (random() * 90)::int, 80, seq %% 5 = 1, true
            FROM (
                SELECT 'R' || (v %% {routes}) || '-' || (k / {n}) || '-' || (v / {routes}) AS trip_id,
                       %s::timestamptz + make_interval(secs => (k / {n}) * {trip_s}
                           + (v / {routes}) * {trip_s} / ceil(%s::float / {routes})) AS trip_start,
                       k %% {n} + 1 AS seq, 'V' || lpad(v::text, 5, '0') AS vehicle_id, 'R' || (v %% {routes}) AS route_id,
                       (k / {n}) %% 2 AS dir, (random() * 480 - 90) AS d, k, v
                FROM generate_series(0, %s - 1) k, generate_series(0, %s - 1) v) x,
                LATERAL (SELECT trip_start + make_interval(secs => (seq - 1) * {s}) AS scheduled) y
            ORDER BY scheduled""", [start, self.vehicles, per_vehicle, self.vehicles])
        seconds = time.perf_counter() - t
        c.execute(f"VACUUM ANALYZE {SCHEMA}.transit_stopevent")  # as autovacuum would: index-only scans
        size = self._size(c, "transit_stopevent")
        size["insert_rows_per_s"] = round(size["rows"] / seconds)
        size["day_bytes"] = round(size["bytes"] * self.day_hours / hours)
        size["day_rows"] = round(size["rows"] * self.day_hours / hours)
        log(f"  {size['rows']:,} rows, {size['bytes'] / 1e6:.0f} MB ({size['bytes_per_row']} B/row) in {seconds:.1f} s")
        return size

    def _trips(self, c, start: dt.datetime, log) -> dict:
        c.execute(f"""
            INSERT INTO {SCHEMA}.transit_scheduledtrip
                (trip_id, service_date, start, "end", first_sequence, last_sequence, route_id, direction_id)
            SELECT DISTINCT ON (trip_id) trip_id, %s::date, trip_start,
                   trip_start + make_interval(secs => {(self.stops_per_trip - 1) * self.stop_seconds}),
                   1, {self.stops_per_trip}, route_id, direction_id
            FROM {SCHEMA}.transit_stopevent ORDER BY trip_id, trip_start""", [self.day])
        c.execute(f"VACUUM ANALYZE {SCHEMA}.transit_scheduledtrip")
        size = self._size(c, "transit_scheduledtrip")
        size["day_bytes"] = size["bytes"]
        log(f"scheduled trips: {size['rows']:,} rows, {size['bytes'] / 1e6:.1f} MB")
        return size

    def _kpis(self, c, log) -> dict:
        from transit.history import kpis

        period = kpis.Period(dt.datetime.combine(self.day, dt.time(0), tzinfo=dt.timezone.utc),
                             dt.datetime.combine(self.day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.timezone.utc))
        now = period.end
        c.execute(f"SET search_path TO {SCHEMA}, public")
        queries = {
            "on_time": lambda: kpis.on_time(period),
            "headways": lambda: kpis.headways(period),
            "service": lambda: kpis.service(period, now),
            "crowding": lambda: kpis.crowding(period),
        }
        out = {}
        for attempt in ("cold", "warm"):
            for name, query in queries.items():
                t = time.perf_counter()
                tables = query()
                seconds = time.perf_counter() - t
                out.setdefault(name, {})[attempt] = round(seconds, 3)
                rows = sum(len(x.rows) for x in (tables if isinstance(tables, tuple) else (tables,)))
                log(f"KPI {name} ({attempt}): {seconds:.2f} s, {rows} rows")
        out["all_warm"] = round(sum(v["warm"] for v in out.values()), 3)
        return out
