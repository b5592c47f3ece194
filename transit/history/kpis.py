"""Service KPIs from the stop events and the scheduled trips: punctuality, headways and excess wait
time, service delivered, crowding. Each KPI is a `Table` (columns and rows), for the KPI page's
charts and its CSV and JSON.

Read from the hourly roll-up per route the history consumer keeps (transit.history.rollup: counts and
sums per route and UTC hour, labelled in the local time zone), so a London-sized day is some 12,000
rows, not 1.3 million departures (docs/history.md has the figures); `source="raw"` computes the same
figures from the stop events (one aggregate query per KPI, on SQLite and PostgreSQL alike), which the
tests and the benchmark compare with the roll-up. `route` narrows every table to one route.

- Punctuality: departures from timepoints (every stop of a trip whose schedule names none),
  classified by transit.timetable.punctuality_setting(): early, on time, late.
- Headways, at timepoints, per route, direction and stop: actual headways between consecutive
  departures (in the hour of the later one; the departure before may be in an earlier period) and
  scheduled headways between consecutive scheduled times (in the hour of the later one), of the calls
  observed. A route hour is *frequent* when its
  mean scheduled headway is at most FREQUENT_SECONDS; for those, the average wait implied by the
  headways h is sum(h²) / (2·sum(h)) (AWT from the actual ones, SWT from the scheduled ones) and
  the excess wait time EWT = AWT - SWT. Gaps longer than MAX_HEADWAY are breaks in service
  (overnight), not headways.
- Service delivered: scheduled trip runs due (starting between the first and the last trip run of
  the period, and at least DUE_GRACE ago) against the ones with at least one stop event; a missed
  trip's scheduled running time is its ghost-bus minutes (the time a passenger information system
  showed a vehicle that never ran).
- Crowding: load factor (on board / capacity) at timepoint departures, in bands; trips full (at
  or over capacity at a timepoint departure, counted in the hour the run starts); riders left behind
  (at any stop, the vehicle full).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from transit.timetable import punctuality_setting

from . import rollup
from .rollup import LOAD_BANDS, MAX_HEADWAY, F  # noqa: F401 (MAX_HEADWAY: part of the KPIs' definitions)
from .rollup import epoch as _epoch
from .rollup import query as _query

FREQUENT_SECONDS = 12 * 60
DUE_GRACE = dt.timedelta(minutes=10)


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


# -- SQL that reads the same on both databases (epoch seconds and queries: transit.history.rollup) ------------

def _param(value: dt.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def hour_label(bucket: int) -> str:
    """An hour bucket (hours since the epoch, UTC) as local time, e.g. 2026-12-04T08:00+01:00."""
    return _hour_label(bucket, timezone.get_current_timezone())


@functools.lru_cache(maxsize=4096)  # a day's tables repeat its 24 labels on every route's rows
def _hour_label(bucket: int, tz) -> str:
    return dt.datetime.fromtimestamp(bucket * 3600, dt.timezone.utc).astimezone(tz).isoformat(timespec="minutes")


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _s(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# -- the figures of a period's route hours ------------------------------------------------------------------

SOURCES = ("rollup", "raw")


def hours(period: Period, source: str = "rollup", *, only: set[str] | None = None,
          route: str | None = None) -> rollup.Hours:
    """(route, hour bucket) -> the roll-up's FIELDS for the period: read from the roll-up (the KPI page),
    or computed from the stop events (`raw`: what the roll-up must equal). A roll-up counted with
    another punctuality window than today's setting has its punctuality counted again from the stop events."""
    p = punctuality_setting()
    if source == "raw":
        out = rollup.raw_hours(period.start, period.end, early_seconds=p.early_seconds,
                               late_seconds=p.late_seconds, only=only)
        return out if route is None else {k: v for k, v in out.items() if k[0] == route}
    if source != "rollup":
        raise ValueError(f"unknown KPI source {source!r} (one of {', '.join(SOURCES)})")
    out, windows = rollup.rollup_hours(period.start, period.end, route)
    if (only is None or "on_time" in only) and windows - {(p.early_seconds, p.late_seconds)}:
        recount = rollup.raw_hours(period.start, period.end, early_seconds=p.early_seconds,
                                   late_seconds=p.late_seconds, only={"on_time"})  # (every route)
        for key, vals in out.items():
            for name in ("departures", "early", "late"):
                vals[F[name]] = recount.get(key, rollup._zero())[F[name]]
    return out


# -- punctuality -------------------------------------------------------------------------------------------

def on_time(period: Period, source: str = "rollup", route: str | None = None, *,
            figures: rollup.Hours | None = None) -> tuple[Table, Table]:
    cols = ["departures", "early", "on_time", "late", "on_time_pct", "early_pct", "late_pct"]
    by_hour = Table("on_time_by_route_hour", "On-time performance by route and hour (timepoint departures)",
                    ["route_id", "hour", *cols])
    totals: dict[str, list[int]] = {}
    if figures is None:
        figures = hours(period, source, only={"on_time"}, route=route)
    for (route, hb), v in sorted(figures.items()):
        n, early, late = v[F["departures"]], v[F["early"]], v[F["late"]]
        if not n:
            continue
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


def headways(period: Period, source: str = "rollup", route: str | None = None, *,
             figures: rollup.Hours | None = None) -> tuple[Table, Table]:
    # per route and hour: [actual pairs, sum h, sum h², scheduled pairs, sum hs, sum hs²] (seconds)
    sums: dict[tuple[str, int], list[float]] = {}
    if figures is None:
        figures = hours(period, source, only={"headways"}, route=route)
    for key, v in figures.items():
        i, j = F["a_pairs"], F["s_pairs"]
        sums[key] = [v[i], v[i + 1] / 1e3, v[i + 2] / 1e6, v[j], v[j + 1] / 1e3, v[j + 2] / 1e6]
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

def service(period: Period, now: dt.datetime | None = None, source: str = "rollup",
            route: str | None = None) -> Table:
    """Trips due are those scheduled to start while history was being kept: from the first trip run
    of the period to the last one (no later than DUE_GRACE ago), so a day whose history begins late
    (a deployment, a simulation started mid-day) does not count the trips before it as missed.
    A run is operated when a stop event of it was kept: the flag the history consumer sets on the
    ScheduledTrip row (`raw`: looked up in the stop events)."""
    if source not in SOURCES:
        raise ValueError(f"unknown KPI source {source!r} (one of {', '.join(SOURCES)})")
    now = now or timezone.now()
    ran = ("t.operated" if source == "rollup" else
           "EXISTS (SELECT 1 FROM transit_stopevent e WHERE e.trip_id = t.trip_id AND e.trip_start = t.start)")
    period_params = [_param(period.start), _param(period.end)]
    (first, last), = _query(f"""
        SELECT MIN(start), MAX(start) FROM (SELECT start, {ran} AS ran FROM transit_scheduledtrip t
                                            WHERE start >= %s AND start < %s) x WHERE ran""", period_params)
    one = ""  # the due window is the whole network's (when history was kept), one route or all
    if route is not None:
        one, period_params = " AND COALESCE(route_id, '') = %s", [*period_params, route]
    if first is not None and isinstance(first, str):  # SQLite's raw cursor: text
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    if first is not None:
        first, last = _aware(first), min(_aware(last), now - DUE_GRACE)
        due = "(start >= %s AND start <= %s)"
        due_params = [_param(first), _param(last)] * 4
    else:
        due, due_params = "(1 = 0)", []
    rows = _query(f"""
        SELECT route_id, COUNT(*), SUM(CASE WHEN {due} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {due} AND ran THEN 1 ELSE 0 END), SUM(CASE WHEN {due} AND NOT ran THEN 1 ELSE 0 END),
               SUM(CASE WHEN {due} AND NOT ran THEN {_epoch('"end"')} - {_epoch('start')} ELSE 0 END) / 60.0
        FROM (SELECT COALESCE(route_id, '') AS route_id, start, "end", {ran} AS ran FROM transit_scheduledtrip t
              WHERE start >= %s AND start < %s{one}) x
        GROUP BY route_id ORDER BY route_id""", due_params + period_params)
    table = Table("service_by_route", "Service delivered: trips operated against trips scheduled",
                  ["route_id", "scheduled", "due", "operated", "missed", "ghost_minutes", "delivered_pct"])
    totals = [0, 0, 0, 0, 0.0]
    for route, n, due_n, operated, missed, ghost in rows:
        vals = (int(n), int(due_n or 0), int(operated or 0), int(missed or 0), float(ghost or 0))
        table.rows.append([route, *vals[:4], round(vals[4], 1), _pct(vals[2], vals[1])])
        totals = [a + b for a, b in zip(totals, vals, strict=True)]
    if rows:
        table.rows.append(["(all)", *totals[:4], round(totals[4], 1), _pct(totals[2], totals[1])])
    return table


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)


# -- crowding ------------------------------------------------------------------------------------------------

def crowding(period: Period, source: str = "rollup", route: str | None = None, *,
             figures: rollup.Hours | None = None) -> tuple[Table, Table]:
    names = [name for _, _, name in LOAD_BANDS]
    by_hour = Table("crowding_by_route_hour",
                    "Load factor at timepoint departures and riders left behind by route and hour",
                    ["route_id", "hour", "departures", "mean_load_factor", *names, "trips_full", "left_behind"])
    sums: dict[str, list[float]] = {}
    if figures is None:
        figures = hours(period, source, only={"crowding", "trips_full"}, route=route)
    for (route, hb), v in sorted(figures.items()):
        n, lf_sum, full, left = v[F["loads"]], v[F["load_ppm_sum"]] / 1e6, v[F["trips_full"]], v[F["left_behind"]]
        counts = [v[F[name]] for name in names]
        if not (n or full or left):
            continue
        by_hour.rows.append([route, hour_label(hb), n, round(lf_sum / n, 3) if n else None, *counts, full, left])
        t = sums.setdefault(route, [0, 0.0] + [0] * len(names) + [0, 0])
        t[0] += n
        t[1] += lf_sum
        for i, c in enumerate([*counts, full, left]):
            t[2 + i] += c
    by_route = Table("crowding_by_route",
                     "Load factor by route (the day), trips full at a departure and riders left behind",
                     ["route_id", "departures", "mean_load_factor", *names, "trips_full", "left_behind"])
    for route, (n, lf_sum, *counts) in sorted(sums.items()):
        by_route.rows.append([route, n, round(lf_sum / n, 3) if n else None, *counts])
    return by_hour, by_route


def service_kpis(period: Period, now: dt.datetime | None = None, source: str = "rollup",
                 route: str | None = None) -> list[Table]:
    """Every transit KPI table of `period` (of one route: `route`); the route hours are read once for all."""
    figures = hours(period, source, route=route)
    otp_hour, otp_route = on_time(period, source, route, figures=figures)
    hw_hour, hw_route = headways(period, source, route, figures=figures)
    crowd_hour, crowd_route = crowding(period, source, route, figures=figures)
    return [otp_route, otp_hour, hw_route, hw_hour, service(period, now, source, route), crowd_route, crowd_hour]
