"""The operations map's dispatcher layers (/ops/): its live-map-config options (route numbers on the
vehicles from a zoom level on, the crowding colour mode) and the ghost-bus layer's data,
`/api/ops/ghosts/?bbox=W,S,E,N[&routes=a,b]`.

A ghost bus is a trip scheduled to be running that no vehicle works. The definition is the route
ladder's, not a second one: this API sends each route's ladder data (alerts.console.ladder_route: the
directions' stop patterns and the trips with their scheduled times at those stops), cut to the trips
around now, and the trips the live vehicles of those routes work; the page runs the ladder's own
`ghosts()` (static/alerts/ladder/logic.js) on them with its clock and its live vehicles, and places
each ghost between the stops its timetable puts it at. Bounded: at most MAX_ROUTES routes (those with
stops in the box, or the map's route filter), MAX_TRIPS trips, boxes up to MAX_SPAN_DEG a side.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from transit import selectors
from transit.models import Route, Stop, StopTime

from .console import GHOST_GRACE_S, ladder_route
from .services import is_operator

MAX_ROUTES = 12  # routes per answer: the first by route id of those with stops in the box
MAX_TRIPS = 600  # trips per answer (of all its routes)
MAX_SPAN_DEG = 1.0  # the box's largest side (the page asks from zoom GHOSTS_MIN_ZOOM on)
GHOSTS_MIN_ZOOM = 12
AHEAD_S = 900  # trips that start up to this long after now come along (the page's clock runs on between fetches)
BEHIND_S = 300  # and trips that ended up to this long before it
LADDER_CACHE_S = 60  # a route's ladder data is cached this long (its trips cover hours around now)


def dispatcher_config() -> dict:
    """The /ops/ map's `dispatcher` options in its live-map-config (static/transit/map/dispatch.js)."""
    zoom = settings.STREAMCITY_LABELS_MIN_ZOOM  # route numbers on the vehicles from this zoom on
    if not 0 <= zoom <= 22:
        raise ImproperlyConfigured(f"STREAMCITY_LABELS_MIN_ZOOM must be a zoom level 0-22, not {zoom}")
    return {"labels_min_zoom": zoom, "crowding": True,
            "ghosts": {"url": "/api/ops/ghosts/", "min_zoom": GHOSTS_MIN_ZOOM, "grace_s": GHOST_GRACE_S}}


class BadRequest(ValueError):
    pass


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise BadRequest("bbox=west,south,east,north (four numbers) is required") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadRequest("bbox: west < east within -180..180 and south < north within -90..90")
    if east - west > MAX_SPAN_DEG or north - south > MAX_SPAN_DEG:
        raise BadRequest(f"bbox is too large (over {MAX_SPAN_DEG} degrees a side): zoom in")
    return west, south, east, north


def routes_in_area(area: tuple[float, float, float, float], limit: int | None = None) -> tuple[list[Route], bool]:
    """The routes of the running feed(s) that call at a stop inside `area` and run now; and whether
    more than `limit` (MAX_ROUTES) do."""
    limit = limit or MAX_ROUTES
    west, south, east, north = area
    stops = Stop.objects.filter(latitude__range=(south, north), longitude__range=(west, east)).values("pk")[:3000]
    route_pks = StopTime.objects.filter(stop__in=stops).values("trip__route").distinct()
    routes = Route.objects.filter(pk__in=route_pks).select_related("feed")
    feeds = selectors.running_feeds()
    if feeds:
        routes = routes.filter(feed__name__in=feeds)
    running = selectors.routes_running_now()
    if running is not None:
        routes = routes.filter(route_id__in=[r for r, on in running.items() if on])
    found = list(routes.order_by("route_id")[: limit + 1])
    return found[:limit], len(found) > limit


def _ladder(route: Route, now: dt.datetime) -> dict:
    key = f"alerts:ghostmap:ladder:{route.pk}:{int(now.timestamp()) // LADDER_CACHE_S}"
    data = cache.get(key)
    if data is None:
        data = ladder_route(route, now)
        cache.set(key, data, LADDER_CACHE_S * 2)
    return data


def ghost_map_data(*, area: tuple[float, float, float, float], route_ids: list[str] | None = None,
                   now: dt.datetime | None = None) -> dict:
    now = now or selectors.twin_now()
    if route_ids:
        routes = list(Route.objects.filter(route_id__in=route_ids).select_related("feed").order_by("route_id"))
        truncated = len(routes) > MAX_ROUTES
        routes = routes[:MAX_ROUTES]
    else:
        routes, truncated = routes_in_area(area)
    t = now.timestamp()
    out, n_trips = [], 0
    for route in routes:
        ladder = _ladder(route, now)
        trips = [trip for trip in ladder["trips"] if trip["start"] <= t + AHEAD_S and trip["end"] >= t - BEHIND_S]
        if n_trips + len(trips) > MAX_TRIPS:
            truncated = True
            break
        n_trips += len(trips)
        out.append({
            "route": {k: ladder["route"][k] for k in ("route_id", "short_name", "long_name")},
            "badge": ladder["badge"], "timezone": ladder["timezone"],
            "directions": [{"direction_id": d["direction_id"], "headsign": d["headsign"],
                            "stops": [{k: s[k] for k in ("stop_id", "name", "latitude", "longitude")}
                                      for s in d["stops"]]} for d in ladder["directions"]],
            "trips": [{k: trip[k] for k in ("trip_id", "direction_id", "headsign", "start", "end", "calls")}
                      for trip in trips],
        })
    ids = [r["route"]["route_id"] for r in out]
    worked = sorted(set(selectors.live_vehicle_states().filter(route_id__in=ids).exclude(trip_id__isnull=True)
                        .exclude(trip_id="").values_list("trip_id", flat=True)))
    return {"now": int(t), "ghost_grace_s": GHOST_GRACE_S, "routes": out, "worked_trips": worked,
            "truncated": truncated}


@require_GET
def ghosts_api(request):
    """`/api/ops/ghosts/?bbox=W,S,E,N[&routes=a,b]`: the ghost layer's data (operators only)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    if not is_operator(request.user):
        return JsonResponse({"error": "operators only"}, status=403)
    try:
        area = parse_bbox(request.GET.get("bbox", ""))
    except BadRequest as e:
        return JsonResponse({"error": str(e)}, status=400)
    route_ids = [r.strip()[:128] for r in request.GET.get("routes", "").split(",") if r.strip()]
    return JsonResponse(ghost_map_data(area=area, route_ids=list(dict.fromkeys(route_ids))[: MAX_ROUTES + 1]))
