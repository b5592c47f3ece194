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
TABLES = ("transit_stopevent", "transit_vehicleposition", "transit_scheduledtrip", "transit_kpihour")


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
    sink_batches: int = 20  # batches of 2,000 records through the history consumer (0: none)
    route: str = "R7"  # the one route whose KPIs are timed too
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
                r["rollup"] = self._rollup(c, log)
                r["day_gb"] = round(sum(x["day_bytes"] for x in (r["positions"], r["stop_events"],
                                                                  r["scheduled_trips"], r["rollup"])) / 1e9, 2)
                r["kpi_seconds"] = self._kpis(c, log)
                if self.sink_batches:
                    r["sink"] = self._sink(c, start, log)
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
                 arrival, departure, passenger_count, capacity, timepoint, observed, left_behind)
            SELECT trip_id, trip_start, seq, vehicle_id, route_id, dir, route_id || '-' || dir || '-S' || seq,
                   scheduled, scheduled + make_interval(secs => d - 20), scheduled + make_interval(secs => d),
                   load, 80, seq %% 5 = 1, true, CASE WHEN load >= 80 THEN (random() * 12)::int ELSE 0 END
            FROM (
                SELECT 'R' || (v %% {routes}) || '-' || (k / {n}) || '-' || (v / {routes}) AS trip_id,
                       %s::timestamptz + make_interval(secs => (k / {n}) * {trip_s}
                           + (v / {routes}) * {trip_s} / ceil(%s::float / {routes})) AS trip_start,
                       k %% {n} + 1 AS seq, 'V' || lpad(v::text, 5, '0') AS vehicle_id, 'R' || (v %% {routes}) AS route_id,
                       (k / {n}) %% 2 AS dir, (random() * 480 - 90) AS d, (random() * 90)::int AS load, k, v
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
                (trip_id, service_date, start, "end", first_sequence, last_sequence, route_id, direction_id,
                 operated)
            SELECT DISTINCT ON (trip_id) trip_id, %s::date, trip_start,
                   trip_start + make_interval(secs => {(self.stops_per_trip - 1) * self.stop_seconds}),
                   1, {self.stops_per_trip}, route_id, direction_id, true
            FROM {SCHEMA}.transit_stopevent ORDER BY trip_id, trip_start""", [self.day])
        c.execute(f"VACUUM ANALYZE {SCHEMA}.transit_scheduledtrip")
        size = self._size(c, "transit_scheduledtrip")
        size["day_bytes"] = size["bytes"]
        log(f"scheduled trips: {size['rows']:,} rows, {size['bytes'] / 1e6:.1f} MB")
        return size

    def _period(self):
        from transit.history import kpis

        return kpis.Period(dt.datetime.combine(self.day, dt.time(0), tzinfo=dt.timezone.utc),
                           dt.datetime.combine(self.day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.timezone.utc))

    def _rollup(self, c, log) -> dict:
        """The KPIs' hourly roll-up of the day, built from the stop events at once (the history consumer
        keeps it as it writes; the same figures, transit.history.rollup)."""
        from transit.history import rollup

        period = self._period()
        c.execute(f"SET search_path TO {SCHEMA}, public")
        t = time.perf_counter()
        n = rollup.rebuild(period.start, period.end)
        seconds = time.perf_counter() - t
        c.execute("SET search_path TO DEFAULT")
        c.execute(f"VACUUM ANALYZE {SCHEMA}.transit_kpihour")
        size = self._size(c, "transit_kpihour")
        size["day_bytes"] = size["bytes"]
        size["build_seconds"] = round(seconds, 2)
        log(f"roll-up: {n:,} route hours, {size['bytes'] / 1e6:.1f} MB, built from the stop events in {seconds:.1f} s")
        return size

    def _kpis(self, c, log) -> dict:
        from transit.history import kpis

        period = self._period()
        now = period.end
        c.execute(f"SET search_path TO {SCHEMA}, public")
        route = self.route
        runs = {
            "raw": {  # before: every KPI from the day's stop events (the raw SQL, no route filter before)
                "on_time": lambda: kpis.on_time(period, "raw"),
                "headways": lambda: kpis.headways(period, "raw"),
                "service": lambda: kpis.service(period, now, "raw"),
                "crowding": lambda: kpis.crowding(period, "raw"),
            },
            "rollup": {
                "on_time": lambda: kpis.on_time(period),
                "headways": lambda: kpis.headways(period),
                "service": lambda: kpis.service(period, now),
                "crowding": lambda: kpis.crowding(period),
            },
            "page": {  # what /ops/kpis/ computes: every table at once, the route hours read once
                "all_tables": lambda: tuple(kpis.service_kpis(period, now)),
            },
            "rollup_one_route": {
                "on_time": lambda: kpis.on_time(period, route=route),
                "headways": lambda: kpis.headways(period, route=route),
                "service": lambda: kpis.service(period, now, route=route),
                "crowding": lambda: kpis.crowding(period, route=route),
            },
        }
        out = {}
        tables = {}
        for source, queries in runs.items():
            res = out[source] = {}
            for attempt in ("cold", "warm"):
                for name, query in queries.items():
                    t = time.perf_counter()
                    got = query()
                    seconds = time.perf_counter() - t
                    res.setdefault(name, {})[attempt] = round(seconds, 3)
                    got = got if isinstance(got, tuple) else (got,)
                    tables[(source, name)] = [x.rows for x in got]
                    log(f"KPI {name} ({source}, {attempt}): {seconds:.3f} s, {sum(len(x.rows) for x in got)} rows")
            res["all_warm"] = round(sum(v["warm"] for v in res.values()), 3)
        out["rollup_equals_raw"] = all(tables[("rollup", n)] == tables[("raw", n)] for n in runs["raw"])
        log(f"the roll-up's tables equal the stop events' tables: {out['rollup_equals_raw']}")
        return out

    def _sink(self, c, start: dt.datetime, log) -> dict:
        """The history consumer's write rate, its roll-up kept as it writes: batches of 2,000 records (150 stop
        events at the day's stops, one in five a timepoint, and 1,850 vehicle reports, sampled) written with
        multi-row INSERTs and with COPY, after the day's rows (so the roll-up's look-ups search a full day)."""
        from streamcity.kernel.bus import Decoded, Record
        from streamcity.kernel.schemas import LiveVehicle, StopEvent
        from transit.history.sink import HistorySink

        c.execute(f"SET search_path TO {SCHEMA}, public")
        out = {}
        base = start + dt.timedelta(hours=self.day_hours)
        for k, (label, copy) in enumerate((("insert", False), ("copy", True))):
            sink = HistorySink(prune_every=0, copy=copy, every_seconds=15, course_degrees=30)
            t0 = base + dt.timedelta(hours=k)
            records, seconds, stored, kept = 0, 0.0, 0, 0
            for b in range(self.sink_batches):
                batch = []
                for i in range(150):
                    v = (b * 150 + i) % self.vehicles
                    route, seq = v % self.routes, (b * 150 + i) // self.vehicles % self.stops_per_trip + 1
                    at = t0 + dt.timedelta(seconds=b * 20 + i * 0.1)
                    batch.append(StopEvent(
                        vehicle_id=f"V{v:05d}", trip_id=f"R{route}-x{k}-{v}", trip_start=t0, route_id=f"R{route}",
                        direction_id=0, stop_id=f"R{route}-0-S{seq}", stop_sequence=seq, scheduled=at,
                        arrival=at, departure=at + dt.timedelta(seconds=20), passenger_count=60, capacity=80,
                        timepoint=seq % 5 == 1, timestamp=at))
                for i in range(1850):
                    v = (b * 1850 + i) % self.vehicles
                    at = t0 + dt.timedelta(seconds=b * 20 + (b * 1850 + i) // self.vehicles * 5)
                    batch.append(LiveVehicle(
                        vehicle_id=f"V{v:05d}", vehicle_type="bus", route_id=f"R{v % self.routes}", latitude=51.5,
                        longitude=-0.1, bearing=90.0, speed=8.0, stop_sequence=3, timestamp=at, delay_seconds=30))
                decoded = [Decoded(Record("t", 0, i, None, b""), e) for i, e in enumerate(batch)]
                t = time.perf_counter()
                sink(decoded)
                seconds += time.perf_counter() - t
                records += len(batch)
            stored, kept = sink.stop_events, sink.positions
            out[label] = {"records_per_s": round(records / seconds), "stop_events_per_s": round(stored / seconds),
                          "positions_per_s": round(kept / seconds), "batches": self.sink_batches,
                          "seconds": round(seconds, 2)}
            log(f"history consumer ({label}): {records:,} records in {seconds:.2f} s: {records / seconds:,.0f}/s "
                f"({stored:,} stop events, {kept:,} positions kept, roll-up kept)")
        return out
