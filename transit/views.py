from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from . import selectors
from .subscriptions import SubscriptionError, subscription_from_query, subscription_parse
from .timetable import punctuality_setting


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def service_state(feeds: list[str] | None = None) -> dict | None:
    """The running simulation's feed, service day and vehicles, for the map's banner: the simulation
    run's record where there is one, else what the live vehicles and the feed's calendar tell
    (selectors.service_guess about `feeds`, by default the running ones)."""
    status = selectors.service_status()  # the simulation run's record, if a run is recorded
    if status is not None:
        return status
    return selectors.service_guess(feeds=selectors.running_feeds() if feeds is None else feeds)


def live_map_config() -> dict:
    """The live map's settings, rendered into its pages as json_script "live-map-config" (the public
    map and /ops/); static/transit/map/livemap.js reads them. `punctuality` gives the thresholds of
    the map's early / on time / late classes, the same as the server's (transit.subscriptions).

    `feeds`, `extent`, `vehicle_types`, `timezone`: the running feed(s), the box the map opens on
    (null when MAP_CENTER_LAT/LON are set: then the map opens there), the vehicle types the
    filters and the legend list, and the time zone the pages show times in. `service`: the banner's
    facts (service_state)."""
    recorded = selectors.service_status()
    scope = selectors.map_scope(feed=recorded and recorded.get("feed"))
    service = recorded if recorded is not None else service_state(scope["feeds"])
    return {
        "stale_seconds": settings.STREAMCITY_VEHICLE_STALE_SECONDS,
        "punctuality": punctuality_setting().as_config(),
        "feeds": scope["feeds"],
        "extent": None if settings.MAP_CENTER_FIXED else scope["extent"],
        "vehicle_types": scope["vehicle_types"],
        "timezone": scope["timezone"],
        "service": service,
        "urls": {
            "socket": "/ws/live/",
            "network": reverse("transit:network-api"),
            "stops": reverse("transit:stops-api"),
            "vehicle": reverse("transit:vehicles-api"),
            "search": reverse("transit:search-api"),
            "service": reverse("transit:service-api"),
        },
    }


@require_GET
def live_map(request):
    return render(request, "transit/live_map.html", {"live_map_config": live_map_config()})


@require_GET
def vehicles_api(request):
    """`/api/vehicles/[?bbox=w,s,e,n][&route=R...][&type=T...]`: the live vehicles, as the map's snapshot."""
    try:
        sub = subscription_from_query(request.META.get("QUERY_STRING", ""))
    except SubscriptionError as exc:
        return _error(str(exc))
    return JsonResponse(
        {"vehicles": selectors.vehicle_snapshot(area=sub.bbox, routes=sub.routes, vehicle_types=sub.vehicle_types)}
    )


@require_GET
def vehicle_api(request, vehicle_id):
    detail = selectors.vehicle_detail(vehicle_id=vehicle_id)
    if detail is None:
        return _error("no such vehicle", 404)
    return JsonResponse(detail)


@require_GET
def network_api(request):
    """Every route with its colours and shapes (the map's route lines and route list), and `service`:
    the running simulation's feed, service day and message for the map's banner (transit.selectors.
    service_status; null without a simulator). `?feed=NAME` (repeatable): only the routes of those
    feeds (the map asks for the running ones). With a simulation running, each route says whether it
    `runs_now` (within 15 min of its service hours that day: night lines only at night)."""
    feeds = [f for f in request.GET.getlist("feed") if f]
    if len(feeds) > 20 or any(len(f) > 64 for f in feeds):
        return _error("at most 20 feed names of at most 64 characters")
    routes = selectors.network_routes(feeds=feeds)
    running = selectors.routes_running_now()
    if running is not None:  # `runs_now`: the map draws a night line at night only
        routes = [{**r, "runs_now": running.get(r["route_id"], False)} for r in routes]
    return JsonResponse({"routes": routes, "service": selectors.service_status()})


@require_GET
def service_api(request):
    """`/api/service/`: what the map's banner says — the running feed, the simulated date, the date
    whose timetable runs and why, the vehicles on duty and, when none is, when service starts."""
    return JsonResponse({"service": service_state()})


@require_GET
def stops_api(request):
    """`/api/stops/?bbox=w,s,e,n`: the stops inside a box (at most 3000)."""
    try:
        sub = subscription_parse({"bbox": [float(v) for v in request.GET.get("bbox", "").split(",")]})
    except (SubscriptionError, ValueError):
        return _error("bbox=west,south,east,north is required")
    if sub.bbox is None:
        return _error("bbox is too large")
    stops, truncated = selectors.stops_in_area(area=sub.bbox)
    return JsonResponse({"stops": stops, "truncated": truncated})


@require_GET
def stop_arrivals_api(request, stop_id):
    """The next arrivals at a stop with their deviation (`?feed=NAME` when feeds share stop ids)."""
    arrivals = selectors.stop_arrivals(stop_id=stop_id, feed=request.GET.get("feed") or None)
    if arrivals is None:
        return _error("no such stop", 404)
    return JsonResponse(arrivals)


@require_GET
def search_api(request):
    """`/api/search/?q=...`: routes and vehicles for the map's search box."""
    return JsonResponse(selectors.search(q=request.GET.get("q", "")[:64]))
