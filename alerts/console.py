"""The dispatcher's console: route ladders (/ops/routes/<route>/, several routes with ?routes=a,b) and
the vehicle and trip view (/ops/vehicles/<id>/). Operators only.

A ladder page is rendered with its routes' stop patterns, the day's trips near now (their scheduled
times at the ladder's stops, for ghost buses and scheduled headways) and the routes' open alerts; the
vehicles come over the live socket (/ws/live/, the routes' groups) and static/alerts/ladder/ places
them. Nothing polls.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Max, Min
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from transit import passenger, selectors
from transit.colours import badge_colours
from transit.models import Route, Stop, StopTime, Trip, VehicleState
from transit.timetable import punctuality_setting
from transit.views import live_map_config

from . import vehicle_history
from .models import Alert, AlertChange
from .selectors import alert_payloads
from .services import is_operator

MAX_ROUTES = 6  # routes side by side on one ladder page
WINDOW_BEFORE_S = 3 * 3600  # trips that started this long before now are still listed (late, long trips)
WINDOW_AFTER_S = 6 * 3600  # and trips that start up to this long after now (a shift's page stays useful)
GHOST_GRACE_S = 120  # a trip counts as a ghost this long after its scheduled start without a vehicle


def _operator_or_404(request):
    # 404, not 403, for a logged-in non-operator: the console's addresses are not advertised
    if not is_operator(request.user):
        raise Http404("operators only")


def ladder_route(route: Route, now: dt.datetime) -> dict:
    """One route's ladder: its directions' stop patterns (timepoints marked), and its trips of the
    service day(s) around `now` with their scheduled times (epoch seconds) at the ladder's stops."""
    patterns = passenger.route_patterns(route)
    index = {direction: {s["stop_id"]: i for i, s in reversed(list(enumerate(p["stops"])))}
             for direction, p in patterns.items()}
    local, timetable_date, tz = passenger.service_date(route.feed, now)
    trips = []
    for date, timetable in ((local - dt.timedelta(days=1), local - dt.timedelta(days=1)), (local, timetable_date)):
        start = selectors._service_day_start(date, tz).timestamp()
        for t in passenger.route_day_trips(route, timetable):
            first, last = start + t["calls"][0][3], start + t["calls"][-1][2]
            if last < now.timestamp() - WINDOW_BEFORE_S or first > now.timestamp() + WINDOW_AFTER_S:
                continue
            pattern = index.get(t["direction_id"], {})
            calls = [[pattern[stop_id], int(start + dep)] for stop_id, _, _, dep in t["calls"] if stop_id in pattern]
            trips.append({"trip_id": t["trip_id"], "direction_id": t["direction_id"], "headsign": t["headsign"],
                          "block_id": t["block_id"], "start": int(first), "end": int(last), "calls": calls})
    trips.sort(key=lambda t: t["start"])
    directions = [{"direction_id": d, "headsign": p["headsign"],
                   "stops": [{k: s[k] for k in ("stop_id", "name", "code", "timepoint", "latitude", "longitude")}
                             for s in p["stops"]]}
                  for d, p in sorted(patterns.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]
    return {"route": {**{f: getattr(route, f) for f in selectors.ROUTE_FIELDS}, "feed": route.feed.name},
            "badge": list(badge_colours(route.color, route.text_color)), "timezone": tz.key,
            "directions": directions, "trips": trips}


def ladder_data(route_ids: list[str], *, now: dt.datetime | None = None) -> dict:
    now = now or selectors.twin_now()
    routes = []
    for route_id in route_ids:
        route = Route.objects.filter(route_id=route_id).select_related("feed").first()
        if route is not None:
            routes.append(ladder_route(route, now))
    alerts = Alert.objects.exclude(status__in=Alert.CLOSED).filter(route_id__in=route_ids)
    return msgspec.to_builtins({
        "now": int(now.timestamp()), "routes": routes, "alerts": alert_payloads(alerts.order_by("-severity")[:200]),
        "ghost_grace_s": GHOST_GRACE_S, "punctuality": punctuality_setting().as_config(),
        "missing": [r for r in route_ids if r not in {x["route"]["route_id"] for x in routes}],
    })


def _route_ids(request, route_id: str | None) -> list[str]:
    ids = [route_id] if route_id else []
    ids += [r.strip() for r in request.GET.get("routes", "").split(",") if r.strip()]
    return list(dict.fromkeys(r[:128] for r in ids))[:MAX_ROUTES]


@require_GET
@login_required
def route_ladder(request, route_id: str | None = None):
    _operator_or_404(request)
    route_ids = _route_ids(request, route_id)
    if not route_ids:
        raise Http404("no route asked")
    data = ladder_data(route_ids)
    if not data["routes"]:
        raise Http404("no such route")
    config = {**live_map_config(), "ladder": data}
    return render(request, "alerts/route_ladder.html", {"ladder": data, "config": config,
                                                          "route_ids": ",".join(route_ids)})


@require_GET
def ladder_api(request, route_id: str):
    """The ladder's data as JSON (the page re-reads it every half hour for the trips of later hours)."""
    if not request.user.is_authenticated or not is_operator(request.user):
        return JsonResponse({"error": "operators only"}, status=403)
    return JsonResponse(ladder_data(_route_ids(request, route_id)))


# -- the vehicle and trip view ---------------------------------------------------------------------


def vehicle_trip_view(vehicle_id: str) -> dict | None:
    """A vehicle now: its state, the trip's remaining stops (scheduled and predicted times), its block
    (the trips before and after on the same block that day), its load, its alerts."""
    row = VehicleState.objects.filter(vehicle_id=vehicle_id).values(*selectors.VEHICLE_FIELDS).first()
    if row is None:
        return None
    detail = selectors.vehicle_detail(vehicle_id=vehicle_id) or {}
    trip = (Trip.objects.filter(trip_id=row["trip_id"]).select_related("route", "feed").first()
            if row["trip_id"] else None)
    remaining, block, day_start, tz_name = [], [], None, None
    if trip is not None:
        now = row["timestamp"]
        local, _, tz = passenger.service_date(trip.feed, now)
        tz_name = tz.key
        day_start = selectors._service_day_start(local, tz)
        calls = list(StopTime.objects.filter(trip=trip).order_by("stop_sequence").values_list(
            "stop_sequence", "stop__stop_id", "stop__name", "arrival_time", "departure_time", "timepoint"))
        if calls and day_start + dt.timedelta(seconds=calls[0][3]) > now + dt.timedelta(hours=12):
            day_start -= dt.timedelta(days=1)  # a trip of yesterday's service day, past midnight
        served = row["stop_sequence"] if row["stop_sequence"] is not None else calls[0][0] - 1 if calls else 0
        delay = row["delay_seconds"]
        if row["status"] == VehicleState.Status.LAYOVER:
            delay = max(delay or 0, 0)
        for seq, stop_id, name, arr, dep, timepoint in calls:
            if seq <= served:
                continue
            scheduled = day_start + dt.timedelta(seconds=arr)
            remaining.append({
                "stop_sequence": seq, "stop_id": stop_id, "name": name, "timepoint": timepoint,
                "scheduled": f"{scheduled.astimezone(tz):%H:%M}",
                "predicted": (f"{(scheduled + dt.timedelta(seconds=delay)).astimezone(tz):%H:%M}"
                              if delay is not None else None),
            })
        if trip.block_id:
            starts = (StopTime.objects.filter(trip__feed=trip.feed, trip__block_id=trip.block_id,
                                              trip__service_id=trip.service_id, stop_sequence__gte=0)
                      .values("trip__trip_id", "trip__route__route_id", "trip__headsign")
                      .annotate(first=Min("departure_time"), last=Max("arrival_time")).order_by("first"))
            for b in starts:
                block.append({"trip_id": b["trip__trip_id"], "route_id": b["trip__route__route_id"],
                              "headsign": b["trip__headsign"], "current": b["trip__trip_id"] == trip.trip_id,
                              "start": f"{(day_start + dt.timedelta(seconds=b['first'])).astimezone(tz):%H:%M}",
                              "end": f"{(day_start + dt.timedelta(seconds=b['last'])).astimezone(tz):%H:%M}"})
    alerts = Alert.objects.filter(vehicle_id=vehicle_id).order_by("-detected_at")[:50]
    changes = (AlertChange.objects.filter(alert__vehicle_id=vehicle_id).select_related("alert", "actor")
               .order_by("-at")[:50])
    return msgspec.to_builtins({
        "vehicle": row, "route": detail.get("route"), "trip": detail.get("trip"), "next_stop": detail.get("next_stop"),
        "timezone": tz_name, "remaining": remaining, "block": block,
        "load": {"passengers": row["passenger_count"], "capacity": row["capacity"],
                 "percent": round(100 * row["passenger_count"] / row["capacity"]) if row["capacity"] else None},
        "alerts": alert_payloads(alerts),
        "history": [{"at": c.at, "action": c.get_action_display(), "alert": str(c.alert), "by": c.actor.get_username()
                     if c.actor_id else "system"} for c in changes],
    })


@require_GET
@login_required
def vehicle_view(request, vehicle_id: str):
    """The vehicle and trip view; `?from=&to=` (local times) the period of the track on its map."""
    _operator_or_404(request)
    data = vehicle_trip_view(vehicle_id)
    if data is None:
        raise Http404("no such vehicle")
    stop = Stop.objects.filter(stop_id=data["vehicle"]["next_stop_id"]).first() if data["vehicle"]["next_stop_id"] \
        else None
    v = data["vehicle"]
    tz = ZoneInfo(data["timezone"] or settings.TIME_ZONE)
    now = selectors.twin_now()
    period_error = None
    try:
        start, end = vehicle_history.track_period(request.GET.get("from"), request.GET.get("to"), now=now, tz=tz)
    except vehicle_history.PeriodError as exc:
        period_error = str(exc)
        start, end = vehicle_history.default_start(now, tz), now  # today's (the track API judges it too)
    loads = vehicle_history.trip_loads(vehicle_id, v["trip_id"])
    track = {"url": reverse("alerts:vehicle-track", args=[vehicle_id]), "timezone": tz.key,
             "from": start.isoformat(), "to": end.isoformat()}
    config = {**live_map_config(), "routes": [v["route_id"]] if v["route_id"] else [], "panel": False,
              "save_state": False, "center": [v["latitude"], v["longitude"]], "zoom": 15, "track": track}
    status = 400 if period_error else 200
    return render(request, "alerts/vehicle_view.html", {
        "data": data, "config": config, "next_stop": stop, "tz": tz.key,
        "period": {"from": f"{start.astimezone(tz):%Y-%m-%dT%H:%M}", "to": f"{end.astimezone(tz):%Y-%m-%dT%H:%M}",
                   "error": period_error, "max_hours": vehicle_history.MAX_TRACK.total_seconds() / 3600,
                   "asked_from": request.GET.get("from", "")[:40], "asked_to": request.GET.get("to", "")[:40]},
        "loads": loads, "load_chart": vehicle_history.load_chart(loads),
        "takeovers": vehicle_history.block_takeovers(vehicle_id),
        "took_over": vehicle_history.blocks_taken_over(vehicle_id, now=now),
    }, status=status)


@require_GET
@login_required
def shift_alerts(request):
    """The shift's alert board (static/alerts/shift/): grouped by route, episodes merged, snooze, keys."""
    _operator_or_404(request)
    return render(request, "alerts/shift.html", {"kinds": Alert.Kind.choices})
