"""Service KPIs from the stop events and the scheduled trips: punctuality, headways and excess wait
time, service delivered, crowding. Each KPI is a `Table` (columns and rows), for the KPI page's
charts and its CSV and JSON.

Computed in the database (one aggregate query per KPI, on SQLite and PostgreSQL alike: times are
compared as epoch seconds, hours bucketed in UTC and labelled in the local time zone), so a
London-sized day answers without moving its rows into Python (docs/history.md has the figures).

- Punctuality: departures from timepoints (every stop of a trip whose schedule names none),
  classified by transit.timetable.punctuality_setting(): early, on time, late.
- Headways, at timepoints, per route, direction and stop: actual headways between consecutive
  departures (in the hour of the later one) and scheduled headways between consecutive scheduled
  times (in the hour of the later one), of the calls observed. A route hour is *frequent* when its
  mean scheduled headway is at most FREQUENT_SECONDS; for those, the average wait implied by the
  headways h is sum(h²) / (2·sum(h)) (AWT from the actual ones, SWT from the scheduled ones) and
  the excess wait time EWT = AWT - SWT. Gaps longer than MAX_HEADWAY are breaks in service
  (overnight), not headways.
- Service delivered: scheduled trip runs due (starting between the first and the last trip run of
  the period, and at least DUE_GRACE ago) against the ones with at least one stop event; a missed
  trip's scheduled running time is its ghost-bus minutes (the time a passenger information system
  showed a vehicle that never ran).
- Crowding: load factor (on board / capacity) at timepoint departures, in bands; trips full (at
  or over capacity at a departure).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from transit.timetable import punctuality_setting

FREQUENT_SECONDS = 12 * 60
MAX_HEADWAY = 2 * 3600
DUE_GRACE = dt.timedelta(minutes=10)
LOAD_BANDS = ((0.0, 0.5, "lf_under_50"), (0.5, 0.8, "lf_50_80"), (0.8, 1.0, "lf_80_100"), (1.0, None, "lf_full"))


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "columns": self.columns, "rows": self.rows}


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def day(cls, date: dt.date) -> Period:
        tz = timezone.get_current_timezone()
        start = dt.datetime.combine(date, dt.time(0), tzinfo=tz)
        return cls(start, dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=tz))


# -- SQL that reads the same on both databases ----------------------------------------------------------

def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":  # double precision (EXTRACT gives numeric: several times slower)
        return f"date_part('epoch', {column})"
    return f"((julianday({column}) - 2440587.5) * 86400.0)"


# (SQLite's julianday() is a float of days, not exact to the millisecond: a deviation is rounded to the wire's
# milliseconds before it is compared with the punctuality window)


def _hour(seconds: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(FLOOR(({seconds}) / 3600) AS BIGINT)"
    return f"CAST(({seconds}) / 3600 AS INTEGER)"  # positive: truncation is the floor


def _c(column: str) -> str:
    """A text column compared byte by byte (PostgreSQL's locale collations make sorting several times
    slower; the order of ids means nothing)."""
    return f'{column} COLLATE "C"' if connection.vendor == "postgresql" else column


def _param(value: dt.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _query(sql: str, params: list) -> list[tuple]:
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the headways' sorts in memory, not on disk
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        return cursor.fetchall()


def hour_label(bucket: int) -> str:
    """An hour bucket (hours since the epoch, UTC) as local time, e.g. 2026-12-04T08:00+01:00."""
    local = dt.datetime.fromtimestamp(bucket * 3600, dt.timezone.utc).astimezone(timezone.get_current_timezone())
    return local.isoformat(timespec="minutes")


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _s(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


TIMEPOINT = "(timepoint IS NULL OR timepoint)"


# -- punctuality -------------------------------------------------------------------------------------------

def on_time(period: Period) -> tuple[Table, Table]:
    p = punctuality_setting()
    rows = _query(f"""
        SELECT route_id, hb, COUNT(*),
               SUM(CASE WHEN d < %s THEN 1 ELSE 0 END), SUM(CASE WHEN d > %s THEN 1 ELSE 0 END)
        FROM (SELECT COALESCE(route_id, '') AS route_id, {_hour(_epoch('scheduled'))} AS hb,
                     ROUND(({_epoch('departure')} - {_epoch('scheduled')}) * 1000) / 1000.0 AS d
              FROM transit_stopevent
              WHERE scheduled >= %s AND scheduled < %s AND departure IS NOT NULL AND {TIMEPOINT}) x
        GROUP BY route_id, hb ORDER BY route_id, hb""",
                  [-p.early_seconds, p.late_seconds, _param(period.start), _param(period.end)])
    cols = ["departures", "early", "on_time", "late", "on_time_pct", "early_pct", "late_pct"]
    by_hour = Table("on_time_by_route_hour", "On-time performance by route and hour (timepoint departures)",
                    ["route_id", "hour", *cols])
    totals: dict[str, list[int]] = {}
    for route, hb, n, early, late in rows:
        early, late = int(early or 0), int(late or 0)
        ok = n - early - late
        by_hour.rows.append([route, hour_label(hb), n, early, ok, late, _pct(ok, n), _pct(early, n), _pct(late, n)])
        t = totals.setdefault(route, [0, 0, 0])
        t[0], t[1], t[2] = t[0] + n, t[1] + early, t[2] + late
    by_route = Table("on_time_by_route", "On-time performance by route (the day)", ["route_id", *cols])
    all_n = all_early = all_late = 0
    for route, (n, early, late) in sorted(totals.items()):
        ok = n - early - late
        by_route.rows.append([route, n, early, ok, late, _pct(ok, n), _pct(early, n), _pct(late, n)])
        all_n, all_early, all_late = all_n + n, all_early + early, all_late + late
    if all_n:
        ok = all_n - all_early - all_late
        by_route.rows.append(["(all)", all_n, all_early, ok, all_late, _pct(ok, all_n), _pct(all_early, all_n),
                              _pct(all_late, all_n)])
    return by_hour, by_route


# -- headways and excess wait time ----------------------------------------------------------------------

def average_wait(total: float, squares: float) -> float | None:
    """The average wait of riders arriving at random between departures h apart: sum(h²) / (2·sum(h))."""
    return squares / (2 * total) if total else None


def _waits(t: list[float]) -> tuple:
    """(scheduled headway, actual headway, AWT, SWT, EWT) from [n, sum h, sum h², ns, sum hs, sum hs²]."""
    n, sh, sh2, ns, ss, ss2 = t
    awt, swt = average_wait(sh, sh2), average_wait(ss, ss2)
    ewt = awt - swt if awt is not None and swt is not None else None
    return _s(ss / ns if ns else None), _s(sh / n if n else None), _s(awt), _s(swt), _s(ewt)


def headways(period: Period) -> tuple[Table, Table]:
    lead = period.start - dt.timedelta(seconds=MAX_HEADWAY)  # the departure before the first of the period
    rows = _query(f"""
        WITH c AS (
            SELECT {_c("COALESCE(route_id, '')")} AS route_id, direction_id, {_c('stop_id')} AS stop_id,
                   {_epoch('departure')} AS dep, {_epoch('scheduled')} AS sch
            FROM transit_stopevent
            WHERE scheduled >= %s AND scheduled < %s AND departure IS NOT NULL AND {TIMEPOINT}),
        a AS (
            SELECT route_id, dep AS at,
                   dep - LAG(dep) OVER (PARTITION BY route_id, direction_id, stop_id ORDER BY dep) AS h FROM c),
        s AS (
            SELECT route_id, sch AS at,
                   sch - LAG(sch) OVER (PARTITION BY route_id, direction_id, stop_id ORDER BY sch) AS h FROM c)
        SELECT 'a', route_id, {_hour('at')} AS hb, COUNT(*), SUM(h), SUM(h * h) FROM a
        WHERE h IS NOT NULL AND h <= %s AND at >= %s AND at < %s GROUP BY route_id, hb
        UNION ALL
        SELECT 's', route_id, {_hour('at')} AS hb, COUNT(*), SUM(h), SUM(h * h) FROM s
        WHERE h > 0 AND h <= %s AND at >= %s AND at < %s GROUP BY route_id, hb""",
                  [_param(lead), _param(period.end), MAX_HEADWAY, period.start.timestamp(), period.end.timestamp(),
                   MAX_HEADWAY, period.start.timestamp(), period.end.timestamp()])
    # per route and hour: [actual pairs, sum h, sum h², scheduled pairs, sum hs, sum hs²]
    sums: dict[tuple[str, int], list[float]] = {}
    for kind, route, hb, n, total, squares in rows:
        t = sums.setdefault((route, hb), [0, 0.0, 0.0, 0, 0.0, 0.0])
        i = 0 if kind == "a" else 3
        t[i], t[i + 1], t[i + 2] = n, float(total or 0), float(squares or 0)
    cols = ["pairs", "scheduled_headway_s", "actual_headway_s", "awt_s", "swt_s", "ewt_s"]
    by_hour = Table("headways_by_route_hour",
                    "Headway adherence and excess wait time, frequent route hours (scheduled headway ≤ 12 min)",
                    ["route_id", "hour", *cols])
    day: dict[str, list[float]] = {}
    for (route, hb), t in sorted(sums.items()):
        if not t[3] or t[4] / t[3] > FREQUENT_SECONDS:
            continue
        by_hour.rows.append([route, hour_label(hb), t[0], *_waits(t)])
        d = day.setdefault(route, [0, 0.0, 0.0, 0, 0.0, 0.0])
        for i, v in enumerate(t):
            d[i] += v
    by_route = Table("headways_by_route", "Excess wait time by route (its frequent hours)", ["route_id", *cols])
    for route, t in sorted(day.items()):
        by_route.rows.append([route, t[0], *_waits(t)])
    return by_hour, by_route


# -- service delivered -------------------------------------------------------------------------------------

def service(period: Period, now: dt.datetime | None = None) -> Table:
    """Trips due are those scheduled to start while history was being kept: from the first trip run
    of the period to the last one (no later than DUE_GRACE ago), so a day whose history begins late
    (a deployment, a simulation started mid-day) does not count the trips before it as missed."""
    from django.db.models import Exists, OuterRef

    from transit.models import ScheduledTrip, StopEvent

    now = now or timezone.now()
    ran = StopEvent.objects.filter(trip_id=OuterRef("trip_id"), trip_start=OuterRef("start"))
    trips = list(ScheduledTrip.objects.filter(start__gte=period.start, start__lt=period.end)
                 .annotate(ran=Exists(ran)).values_list("route_id", "start", "end", "ran"))
    starts = [start for _, start, _, ran_ in trips if ran_]
    first, last = (min(starts), min(max(starts), now - DUE_GRACE)) if starts else (None, None)
    by_route: dict[str, list] = {}
    for route, start, end, ran_ in trips:
        t = by_route.setdefault(route or "", [0, 0, 0, 0, 0.0])
        t[0] += 1
        if first is not None and first <= start <= last:
            t[1] += 1
            if ran_:
                t[2] += 1
            else:
                t[3] += 1
                t[4] += (end - start).total_seconds() / 60
    table = Table("service_by_route", "Service delivered: trips operated against trips scheduled",
                  ["route_id", "scheduled", "due", "operated", "missed", "ghost_minutes", "delivered_pct"])
    totals = [0, 0, 0, 0, 0.0]
    for route, (n, due, operated, missed, ghost) in sorted(by_route.items()):
        table.rows.append([route, n, due, operated, missed, round(ghost, 1), _pct(operated, due)])
        totals = [a + b for a, b in zip(totals, (n, due, operated, missed, ghost), strict=True)]
    if by_route:
        table.rows.append(["(all)", *totals[:4], round(totals[4], 1), _pct(totals[2], totals[1])])
    return table


# -- crowding ------------------------------------------------------------------------------------------------

def crowding(period: Period) -> tuple[Table, Table]:
    lf = "(CAST(passenger_count AS FLOAT) / capacity)"
    bands = ", ".join(
        f"SUM(CASE WHEN {lf} >= {lo}" + (f" AND {lf} < {hi}" if hi is not None else "") + " THEN 1 ELSE 0 END)"
        for lo, hi, _ in LOAD_BANDS)
    where = f"scheduled >= %s AND scheduled < %s AND departure IS NOT NULL AND capacity > 0 AND {TIMEPOINT}"
    params = [_param(period.start), _param(period.end)]
    rows = _query(f"""
        SELECT COALESCE(route_id, '') AS route_id, {_hour(_epoch('scheduled'))} AS hb, COUNT(*), AVG({lf}), {bands}
        FROM transit_stopevent WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""", params)
    full = dict(_query(f"""
        SELECT route_id, COUNT(*) FROM (
            SELECT DISTINCT COALESCE(route_id, '') AS route_id, trip_id, trip_start FROM transit_stopevent
            WHERE {where} AND passenger_count >= capacity) x
        GROUP BY route_id""", params))
    names = [name for _, _, name in LOAD_BANDS]
    by_hour = Table("crowding_by_route_hour", "Load factor at timepoint departures by route and hour",
                    ["route_id", "hour", "departures", "mean_load_factor", *names])
    sums: dict[str, list[float]] = {}
    for route, hb, n, mean, *counts in rows:
        by_hour.rows.append([route, hour_label(hb), n, round(mean or 0, 3), *[int(c or 0) for c in counts]])
        t = sums.setdefault(route, [0, 0.0] + [0] * len(names))
        t[0] += n
        t[1] += (mean or 0) * n
        for i, c in enumerate(counts):
            t[2 + i] += int(c or 0)
    by_route = Table("crowding_by_route", "Load factor by route (the day) and trips full at a departure",
                     ["route_id", "departures", "mean_load_factor", *names, "trips_full"])
    for route, (n, weighted, *counts) in sorted(sums.items()):
        by_route.rows.append([route, n, round(weighted / n, 3) if n else None, *counts, int(full.get(route, 0))])
    return by_hour, by_route


def service_kpis(period: Period, now: dt.datetime | None = None) -> list[Table]:
    """Every transit KPI table of `period`."""
    otp_hour, otp_route = on_time(period)
    hw_hour, hw_route = headways(period)
    crowd_hour, crowd_route = crowding(period)
    return [otp_route, otp_hour, hw_route, hw_hour, service(period, now), crowd_route, crowd_hour]
