"""History pages for operators and supervisors: the service KPIs (/ops/kpis/) and playback
(/ops/playback/), with their JSON and CSV (docs/history.md)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_GET

from transit.history.kpis import Period, service_kpis
from transit.history.playback import kept_range, positions_at, track
from transit.history.retention import retention_cutoff
from transit.timetable import punctuality_setting

from . import vehicle_history
from .history import alert_starts, alerts_at, operations
from .views import _json_refusal, _operator_or_403

KPI_REFRESH_SECONDS = 30
PLAYBACK_HOURS = 6
MAX_TRACK = vehicle_history.MAX_TRACK


class BadRequest(ValueError):
    pass


def _date(request) -> dt.date:
    text = request.GET.get("date")
    if not text:
        return timezone.localdate()
    try:
        value = parse_date(text)
    except ValueError:
        value = None
    if value is None:
        raise BadRequest(f"date: not a date (YYYY-MM-DD): {text[:40]!r}")
    return value


def _moment(text: str | None, what: str) -> dt.datetime:
    if not text:
        raise BadRequest(f"{what}: required (ISO 8601, e.g. 2026-12-04T08:30:00Z)")
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise BadRequest(f"{what}: not an ISO 8601 date and time: {text[:40]!r}")
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _route(request) -> str | None:
    text = request.GET.get("route", "").strip()
    if len(text) > 128:
        raise BadRequest("route: a route_id of at most 128 characters")
    return text or None


def kpi_tables(date: dt.date, route: str | None = None) -> list:
    period = Period.day(date)
    return [*service_kpis(period, route=route), operations(period)]


def _csv(table) -> HttpResponse:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(table.columns)
    w.writerows(table.rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table.name}.csv"'
    return response


@require_GET
def kpis(request):
    """The KPI page; `?format=json` every table, `?format=csv&table=NAME` one table; `?date=YYYY-MM-DD`;
    `?route=ID` one route's figures (the operations table is the network's)."""
    fmt = request.GET.get("format")
    if fmt in ("json", "csv"):
        if refusal := _json_refusal(request):
            return refusal
    else:
        return _kpi_page(request)
    try:
        date, route = _date(request), _route(request)
    except BadRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    tables = kpi_tables(date, route)
    if fmt == "json":
        return JsonResponse({"date": date.isoformat(), "route": route, "generated_at": timezone.now().isoformat(),
                             "punctuality": punctuality_setting().as_config(),
                             "tables": {t.name: t.as_dict() for t in tables}})
    name = request.GET.get("table")
    by_name = {t.name: t for t in tables}
    if name not in by_name:
        return JsonResponse({"error": f"table: one of {', '.join(by_name)}"}, status=400)
    return _csv(by_name[name])


@login_required
def _kpi_page(request):
    _operator_or_403(request)
    try:
        date, route = _date(request), _route(request)
    except BadRequest as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    config = {"date": date.isoformat(), "route": route or "", "today": date == timezone.localdate(),
              "refresh_seconds": KPI_REFRESH_SECONDS,
              "url": reverse("alerts:kpis"), "punctuality": punctuality_setting().as_config()}
    return render(request, "alerts/kpis.html", {"kpi_config": config, "date": date, "route": route or ""})


@require_GET
@login_required
def playback(request):
    _operator_or_403(request)
    config = {
        "hours": PLAYBACK_HOURS,
        "position_seconds": settings.STREAMCITY_HISTORY_POSITION_SECONDS,
        "punctuality": punctuality_setting().as_config(),
        "urls": {"at": reverse("alerts:history-at"), "range": reverse("alerts:history-range"),
                 "network": reverse("transit:network-api")},
    }
    return render(request, "alerts/playback.html", {"playback_config": config})


def _api(view):
    """JSON API views: operators only, a clear 400 on bad parameters."""

    @require_GET
    def wrapped(request, *args, **kwargs):
        if refusal := _json_refusal(request):
            return refusal
        try:
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            return JsonResponse({"error": str(exc)}, status=400)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@_api
def history_at(request):
    """`?t=ISO`: each vehicle's position at t (its latest sample at or before t) and the alerts open then."""
    t = _moment(request.GET.get("t"), "t")
    return JsonResponse({"t": t.isoformat(), "vehicles": positions_at(t), "alerts": alerts_at(t)})


@_api
def history_range(request):
    """`?hours=6`: the period playback offers (the last hours with positions kept) and the alerts that
    started in it (the jump list)."""
    try:
        hours = float(request.GET.get("hours") or PLAYBACK_HOURS)
    except ValueError:
        raise BadRequest("hours: a number") from None
    retention_hours = settings.STREAMCITY_HISTORY_RETENTION_DAYS * 24
    if not 0 < hours <= retention_hours:
        raise BadRequest(f"hours: between 0 and the retention ({retention_hours:g} h)")
    now = timezone.now()
    first, last = kept_range(now - dt.timedelta(hours=hours))
    end = last or now
    start = max(first, end - dt.timedelta(hours=hours)) if first else end - dt.timedelta(hours=hours)
    return JsonResponse({"start": start.isoformat(), "end": end.isoformat(), "has_positions": last is not None,
                         "alerts": alert_starts(start, end + dt.timedelta(seconds=1))})


@_api
def vehicle_track(request, vehicle_id: str):
    """`?from=ISO&to=ISO` (default: the last hour): the vehicle's sampled positions in time order."""
    end = _moment(request.GET["to"], "to") if request.GET.get("to") else timezone.now()
    start = _moment(request.GET["from"], "from") if request.GET.get("from") else end - dt.timedelta(hours=1)
    if not start < end or end - start > MAX_TRACK:
        raise BadRequest("from must be before to, at most a day apart")
    if end <= retention_cutoff():
        raise BadRequest(f"to: positions are kept for {settings.STREAMCITY_HISTORY_RETENTION_DAYS:g} days only")
    return JsonResponse({"vehicle_id": vehicle_id, "from": start.isoformat(), "to": end.isoformat(),
                         "positions": track(vehicle_id, start, end)})

