"""The KPIs' hourly roll-up (transit.models.KpiHour): per route and hour (UTC), the counts and sums every
KPI table is made of, so a London-sized day is read as some 12,000 rows instead of 1.3 million timepoint
departures (docs/history.md has the figures).

- `add_stop_events(rows)`: the history consumer calls it in the transaction that stored `rows` (the
  stop events that were new: a record read twice adds nothing). Every figure is a count or a sum,
  so a batch adds to the hours it touches (an upsert). A headway is the gap between a departure and
  the one before it at the same stop: a departure stored between two others replaces their gap by
  two, so for each stop the batch touched the pairs within MAX_HEADWAY of its departures are taken
  before and after the batch and the difference added (exact in any arrival order; the database's
  writers hold a lock while they do it, so two of them never miss each other's departures).
- `raw_hours(start, end)`: the same figures computed from the stop events alone (aggregate SQL, on
  PostgreSQL and SQLite): what the roll-up must equal; `rebuild(start, end)` writes them in place of
  the roll-up (`manage.py historyrollup`, after a change of the punctuality window, and the benchmark).
- `rollup_hours(start, end)`: the roll-up's rows of a period.

Definitions (those of transit.history.kpis): timepoint departures are the stop events with a
departure at a timepoint (or at a stop of a trip whose schedule names none). Punctuality, load factor
and left-behind riders count in the hour of the scheduled time; trips full (at or over capacity at a
timepoint departure) in the hour of the trip run's start; actual headways in the hour of the later
departure, scheduled headways in the hour of the later scheduled time. Times are compared in whole
milliseconds (the wire's precision).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from django.db import connection
from django.db.models import F as Column

MAX_HEADWAY = 2 * 3600  # seconds: a longer gap is a break in service (overnight), not a headway
MAX_MS = MAX_HEADWAY * 1000
HOUR_MS = 3_600_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
LOAD_BANDS = ((0.0, 0.5, "lf_under_50"), (0.5, 0.8, "lf_50_80"), (0.8, 1.0, "lf_80_100"), (1.0, None, "lf_full"))

FIELDS = ("departures", "early", "late", "a_pairs", "a_sum_ms", "a_sq_ms", "s_pairs", "s_sum_ms", "s_sq_ms",
          "loads", "load_ppm_sum", "lf_under_50", "lf_50_80", "lf_80_100", "lf_full", "trips_full",
          "left_behind")
F = {name: i for i, name in enumerate(FIELDS)}
LOCK_ID = 0x53434B50  # pg_advisory_xact_lock: one roll-up writer at a time


def ms(t: dt.datetime) -> int:
    """Milliseconds since the epoch, exact."""
    d = t - EPOCH
    return ((d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds + 500) // 1000


def hour_start(bucket: int) -> dt.datetime:
    return EPOCH + dt.timedelta(hours=bucket)


def bucket_of(t: dt.datetime) -> int:
    return ms(t) // HOUR_MS


def is_timepoint_departure(e) -> bool:
    return e.departure is not None and e.timepoint is not False


def _zero() -> list:
    return [0] * len(FIELDS)


Hours = dict[tuple[str, int], list]  # (route_id or '', hour bucket) -> the FIELDS


# -- the history consumer's increments ------------------------------------------------------------------

def add_stop_events(rows, *, early_seconds: int, late_seconds: int) -> int:
    """Add the stop events `rows` (transit.models.StopEvent, just stored and new) to the roll-up; the
    number of route hours written. Call it inside the transaction that stored them."""
    from transit.models import StopEvent

    if not rows:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
    acc: Hours = defaultdict(_zero)
    full_runs: dict[tuple[str, dt.datetime], list] = {}
    stops: dict[tuple[str | None, int | None, str], list] = defaultdict(list)
    for e in rows:
        route = e.route_id or ""
        if e.left_behind:
            acc[(route, bucket_of(e.scheduled))][F["left_behind"]] += e.left_behind
        if not is_timepoint_departure(e):
            continue
        t = acc[(route, bucket_of(e.scheduled))]
        t[F["departures"]] += 1
        d = ms(e.departure) - ms(e.scheduled)
        if d < -early_seconds * 1000:
            t[F["early"]] += 1
        elif d > late_seconds * 1000:
            t[F["late"]] += 1
        if e.capacity > 0:
            lf = float(e.passenger_count) / e.capacity
            t[F["loads"]] += 1
            t[F["load_ppm_sum"]] += e.passenger_count * 1_000_000 // e.capacity
            for lo, hi, name in LOAD_BANDS:
                if lf >= lo and (hi is None or lf < hi):
                    t[F[name]] += 1
            if e.passenger_count >= e.capacity:
                full_runs.setdefault((e.trip_id, e.trip_start), [route, 0])[1] += 1
        stops[(e.route_id, e.direction_id, e.stop_id)].append(e)
    # a trip run is full once: counted when none of its full departures was stored before
    for (trip_id, trip_start), (route, new) in full_runs.items():
        stored = (StopEvent.objects.filter(trip_id=trip_id, trip_start=trip_start, departure__isnull=False,
                                           capacity__gt=0, passenger_count__gte=Column("capacity"))
                  .exclude(timepoint=False).count())
        if stored == new:
            acc[(route, bucket_of(trip_start))][F["trips_full"]] += 1
    for column, first, skip_zero in (("departure", "a_pairs", False), ("scheduled", "s_pairs", True)):
        windows = {key: [ms(getattr(e, column)) for e in events] for key, events in stops.items()}
        found = _around(column, {key: (min(new) - MAX_MS, max(new) + MAX_MS) for key, new in windows.items()})
        i = F[first]
        for key, new in windows.items():
            after = sorted(found.get(key, ()))
            gone = Counter(new)
            before = []
            for x in after:
                if gone[x]:
                    gone[x] -= 1
                else:
                    before.append(x)
            route = key[0] or ""
            for sign, times in ((1, after), (-1, before)):
                for a, b in zip(times, times[1:], strict=False):
                    h = b - a
                    if h > MAX_MS or (skip_zero and h <= 0):
                        continue
                    t = acc[(route, b // HOUR_MS)]
                    t[i] += sign
                    t[i + 1] += sign * h
                    t[i + 2] += sign * h * h
    _upsert(acc, early_seconds, late_seconds)
    return len(acc)


def to_ms(value) -> int:
    """A time as a raw cursor returns it (aware or naive UTC datetime, or SQLite's text) in ms."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return ms(value)


def _around(column: str, windows: dict[tuple, tuple[int, int]]) -> dict[tuple, list[int]]:
    """The timepoint departures' `column` (ms) at each stop (route, direction, stop) within its window
    [lo, hi] (ms): one query for a batch's stops (the partial indexes on stop and time)."""
    out: dict[tuple, list[int]] = defaultdict(list)
    items = list(windows.items())
    adapt = connection.ops.adapt_datetimefield_value
    pg = connection.vendor == "postgresql"
    ts = "CAST(%s AS timestamptz)" if pg else "%s"
    row = f"(CAST(%s AS INTEGER), CAST(%s AS VARCHAR(128)), CAST(%s AS INTEGER), CAST(%s AS VARCHAR(128)), {ts}, {ts})"
    with connection.cursor() as c:
        for k in range(0, len(items), 200):
            chunk = items[k:k + 200]
            params = []
            for n, ((route_id, direction_id, stop_id), (lo, hi)) in enumerate(chunk, start=k):
                params += [n, route_id, direction_id, stop_id, adapt(hour_ms_dt(lo)), adapt(hour_ms_dt(hi))]
            c.execute(f"""
                WITH w(n, route_id, direction_id, stop_id, lo, hi) AS (VALUES {', '.join([row] * len(chunk))})
                SELECT w.n, e.{column} FROM w JOIN transit_stopevent e
                  ON e.stop_id = w.stop_id AND e.{column} >= w.lo AND e.{column} <= w.hi
                 AND e.departure IS NOT NULL AND (e.timepoint IS NULL OR e.timepoint)
                 AND e.route_id IS NOT DISTINCT FROM w.route_id AND e.direction_id IS NOT DISTINCT FROM w.direction_id""",
                      params)
            for n, value in c.fetchall():
                out[items[n][0]].append(to_ms(value))
    return out


def hour_ms_dt(value_ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=value_ms)


def _upsert(acc: Hours, early_seconds: int | None, late_seconds: int | None) -> None:
    from transit.models import KpiHour

    rows = [(route, hour_start(b), *vals) for (route, b), vals in acc.items() if any(vals)]
    if not rows:
        return
    cols = ["route_id", "hour", *FIELDS]
    table = KpiHour._meta.db_table
    adds = ", ".join(f"{f} = {table}.{f} + excluded.{f}" for f in FIELDS)
    one = f"({', '.join(['%s'] * (len(cols) + 2))})"
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as c:
        for i in range(0, len(rows), 500):  # one statement a chunk (each key once: acc is a dict)
            chunk = rows[i:i + 500]
            c.execute(f"INSERT INTO {table} ({', '.join(cols)}, early_seconds, late_seconds) "
                      f"VALUES {', '.join([one] * len(chunk))} ON CONFLICT (route_id, hour) DO UPDATE SET {adds}, "
                      f"early_seconds = excluded.early_seconds, late_seconds = excluded.late_seconds",
                      [v for r in chunk for v in (r[0], adapt(r[1]), *r[2:], early_seconds, late_seconds)])


# -- reading ----------------------------------------------------------------------------------------------

def rollup_hours(start: dt.datetime, end: dt.datetime, route: str | None = None) -> tuple[Hours, set[tuple]]:
    """The roll-up's figures of the hours in [start, end) (of one route) and the punctuality windows they
    were counted with."""
    from transit.models import KpiHour

    out: Hours = {}
    windows = set()
    rows = KpiHour.objects.filter(hour__gte=start, hour__lt=end)
    if route is not None:
        rows = rows.filter(route_id=route)
    for row in rows.values_list(
            "route_id", "hour", "early_seconds", "late_seconds", *FIELDS):
        route, hour, early, late, *vals = row
        out[(route, bucket_of(hour))] = vals
        if vals[F["departures"]]:
            windows.add((early, late))
    return out, windows


# -- the same figures from the stop events ----------------------------------------------------------------

def epoch(column: str) -> str:
    """SQL for a timestamp column as epoch seconds (a float) on PostgreSQL and SQLite alike. (SQLite's
    julianday() is a float of days, not exact to the millisecond: a deviation is rounded to the wire's
    milliseconds, `_ms`, before it is compared with the punctuality window.)"""
    if connection.vendor == "postgresql":  # double precision (EXTRACT gives numeric: several times slower)
        return f"date_part('epoch', {column})"
    return f"((julianday({column}) - 2440587.5) * 86400.0)"


def _ms(column: str) -> str:
    return f"CAST(ROUND({epoch(column)} * 1000) AS BIGINT)"


def _bucket(ms_expr: str) -> str:
    if connection.vendor == "postgresql":
        return f"FLOOR(({ms_expr}) / 3600000.0)::bigint"
    return f"(({ms_expr}) / 3600000)"  # integer division of a positive integer: the floor


def _c(column: str) -> str:
    """A text column compared byte by byte (PostgreSQL's locale collations sort several times slower)."""
    return f'{column} COLLATE "C"' if connection.vendor == "postgresql" else column


TIMEPOINT_DEPARTURE = "departure IS NOT NULL AND (timepoint IS NULL OR timepoint)"


def query(sql: str, params: list) -> list[tuple]:
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the headways' sorts in memory, not on disk
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        return cursor.fetchall()


def raw_hours(start: dt.datetime, end: dt.datetime, *, early_seconds: int, late_seconds: int,
              only: set[str] | None = None) -> Hours:
    """The roll-up's figures for the hours in [start, end) (whole hours) computed from the stop events.
    `only`: some of "on_time", "crowding", "trips_full", "headways" (default all)."""
    adapt = connection.ops.adapt_datetimefield_value
    p_start, p_end = adapt(start), adapt(end)
    out: Hours = defaultdict(_zero)
    only = only or {"on_time", "crowding", "trips_full", "headways"}
    tp = f"CASE WHEN {TIMEPOINT_DEPARTURE} THEN 1 ELSE 0 END"
    lf = "(CAST(passenger_count AS FLOAT) / capacity)"
    loaded = f"{TIMEPOINT_DEPARTURE} AND capacity > 0"
    if only & {"on_time", "crowding"}:
        bands = ", ".join(
            "SUM(CASE WHEN loaded = 1 AND lf >= " + str(lo) + (f" AND lf < {hi}" if hi is not None else "")
            + " THEN 1 ELSE 0 END)" for lo, hi, _ in LOAD_BANDS)
        for route, hb, n, early, late, loads, lf_sum, *rest in query(f"""
                SELECT route_id, hb, SUM(tp), SUM(CASE WHEN tp = 1 AND d < %s THEN 1 ELSE 0 END),
                       SUM(CASE WHEN tp = 1 AND d > %s THEN 1 ELSE 0 END),
                       SUM(loaded), SUM(CASE WHEN loaded = 1 THEN ppm ELSE 0 END), {bands}, SUM(left_behind)
                FROM (SELECT COALESCE(route_id, '') AS route_id, {_bucket(_ms('scheduled'))} AS hb, {tp} AS tp,
                             CASE WHEN {loaded} THEN 1 ELSE 0 END AS loaded,
                             CASE WHEN capacity > 0 THEN {lf} END AS lf,
                             CASE WHEN capacity > 0 THEN CAST(passenger_count AS BIGINT) * 1000000 / capacity END AS ppm,
                             COALESCE({_ms('departure')} - {_ms('scheduled')}, 0) AS d, left_behind
                      FROM transit_stopevent WHERE scheduled >= %s AND scheduled < %s) x
                GROUP BY route_id, hb""", [-early_seconds * 1000, late_seconds * 1000, p_start, p_end]):
            t = out[(route, int(hb))]
            t[F["departures"]], t[F["early"]], t[F["late"]] = int(n or 0), int(early or 0), int(late or 0)
            t[F["loads"]], t[F["load_ppm_sum"]] = int(loads or 0), int(lf_sum or 0)
            *counts, left = rest
            for (_, _, name), c in zip(LOAD_BANDS, counts, strict=True):
                t[F[name]] = int(c or 0)
            t[F["left_behind"]] = int(left or 0)
    if "trips_full" in only:
        # a run's calls are scheduled from its start to at most a day later
        for route, hb, n in query(f"""
                SELECT route_id, {_bucket(_ms('trip_start'))} AS hb, COUNT(*) FROM (
                    SELECT DISTINCT COALESCE(route_id, '') AS route_id, trip_id, trip_start FROM transit_stopevent
                    WHERE scheduled >= %s AND scheduled < %s AND trip_start >= %s AND trip_start < %s
                      AND {TIMEPOINT_DEPARTURE} AND capacity > 0 AND passenger_count >= capacity) x
                GROUP BY route_id, hb""", [p_start, adapt(end + dt.timedelta(days=1)), p_start, p_end]):
            out[(route, int(hb))][F["trips_full"]] = int(n)
    if "headways" in only:
        lead = adapt(start - dt.timedelta(seconds=MAX_HEADWAY))
        s_ms, e_ms = ms(start), ms(end)
        for kind, column, first, positive in (("a", "departure", "a_pairs", ""), ("s", "scheduled", "s_pairs",
                                                                                   "h > 0 AND ")):
            rows = query(f"""
                WITH c AS (
                    SELECT {_c("COALESCE(route_id, '')")} AS route_id, direction_id, {_c('stop_id')} AS stop_id,
                           {_ms(column)} AS at
                    FROM transit_stopevent
                    WHERE {column} >= %s AND {column} < %s AND {TIMEPOINT_DEPARTURE}),
                p AS (SELECT route_id, at,
                             at - LAG(at) OVER (PARTITION BY route_id, direction_id, stop_id ORDER BY at) AS h FROM c)
                SELECT route_id, {_bucket('at')} AS hb, COUNT(*), SUM(h), SUM(h * h) FROM p
                WHERE {positive}h <= %s AND at >= %s AND at < %s GROUP BY route_id, hb""",
                         [lead, p_end, MAX_MS, s_ms, e_ms])
            i = F[first]
            for route, hb, n, total, squares in rows:
                t = out[(route, int(hb))]
                t[i], t[i + 1], t[i + 2] = int(n), int(total or 0), int(squares or 0)
    return {k: v for k, v in out.items() if any(v)}


def rebuild(start: dt.datetime, end: dt.datetime) -> int:
    """Recompute the roll-up of the hours in [start, end) from the stop events; route hours written.
    `start` and `end` are taken to whole hours (UTC)."""
    from django.db import transaction

    from transit.models import KpiHour
    from transit.timetable import punctuality_setting

    start = hour_start(bucket_of(start))
    end = hour_start(-(-ms(end) // HOUR_MS))
    p = punctuality_setting()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        hours = raw_hours(start, end, early_seconds=p.early_seconds, late_seconds=p.late_seconds)
        KpiHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        _upsert(hours, p.early_seconds, p.late_seconds)
    return len(hours)
