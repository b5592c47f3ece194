"""The passenger pages: stop boards, search and "near me", route pages (public, no login)."""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import passenger
from .views import live_map_config

MAX_QUERY = 64


def _embedded_map_config(*, routes: list[str], center: list[float] | None, zoom: int = 15) -> dict:
    """The live map's config for a small map inside a page: only `routes`, no filter panel, the URL
    left alone, opening on `center`."""
    return {**live_map_config(), "routes": routes, "panel": False, "save_state": False,
            "center": center, "zoom": zoom}


@require_GET
def stop_page(request, stop_id):
    board = passenger.stop_board(stop_id=stop_id, feed=request.GET.get("feed") or None)
    if board is None:
        raise Http404("no such stop")
    stop = board["stop"]
    center = [stop["latitude"], stop["longitude"]] if stop["latitude"] is not None else None
    routes = sorted({d["route_id"] for d in board["departures"]}) or [r["route_id"] for r in board["routes"]]
    return render(request, "transit/stop_page.html", {
        "board": board, "map_config": _embedded_map_config(routes=routes[:60], center=center),
    })


@require_GET
def stop_board_api(request, stop_id):
    """The stop page's data as JSON (for other clients; the page itself re-reads its HTML every 30 s)."""
    board = passenger.stop_board(stop_id=stop_id, feed=request.GET.get("feed") or None)
    if board is None:
        return JsonResponse({"error": "no such stop"}, status=404)
    return JsonResponse(board)


@require_GET
def search_page(request):
    q = request.GET.get("q", "")[:MAX_QUERY]
    results = passenger.search_places(q=q) if q.strip() else None
    return render(request, "transit/search.html", {"q": q, "results": results})


@require_GET
def places_api(request):
    """`/api/places/?q=...`: stops and stations (accents ignored), routes and vehicles."""
    return JsonResponse(passenger.search_places(q=request.GET.get("q", "")[:MAX_QUERY]))


def _float(value: str | None, low: float, high: float) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if low <= x <= high else None


@require_GET
def near_page(request):
    """`/stops/near/?lat=..&lon=..` (the browser's position) or `?place=name` (a typed place)."""
    lat = _float(request.GET.get("lat"), -90, 90)
    lon = _float(request.GET.get("lon"), -180, 180)
    place_q = request.GET.get("place", "")[:MAX_QUERY].strip()
    place, error, stops = None, None, None
    if (request.GET.get("lat") or request.GET.get("lon")) and (lat is None or lon is None):
        error = "That position is not a latitude and longitude."
    elif lat is None and place_q:
        place = passenger.place_named(place_q)
        if place is None:
            error = f"No stop or station is called “{place_q}”."
        else:
            lat, lon = place["latitude"], place["longitude"]
    if lat is not None and lon is not None and error is None:
        stops = passenger.stops_near(latitude=lat, longitude=lon)
    return render(request, "transit/near.html", {
        "lat": lat, "lon": lon, "place_q": place_q, "place": place, "error": error, "stops": stops,
    })


@require_GET
def route_page(request, route_id):
    page = passenger.route_page(route_id=route_id, feed=request.GET.get("feed") or None)
    if page is None:
        raise Http404("no such route")
    stops = [s for d in page["directions"] for s in d["stops"] if s["latitude"] is not None]
    center = ([sum(s["latitude"] for s in stops) / len(stops), sum(s["longitude"] for s in stops) / len(stops)]
              if stops else None)
    return render(request, "transit/route_page.html", {
        "page": page, "map_config": {**_embedded_map_config(routes=[page["route"]["route_id"]], center=center,
                                                            zoom=13), "line": [d["shape"] for d in page["directions"]],
                                     "line_stops": stops},
    })
