"""What the passenger pages read: stop boards (a stop, or a station with its platforms), search by
name with accents ignored, the stops nearest a place, and route pages.

Times: scheduled times come from the timetable of the service day(s) around the twin's clock
(selectors.twin_now); a departure is *live* when a vehicle reporting a deviation runs its trip, and
then its expected time is the scheduled one plus that deviation (a vehicle laying over never leaves
early). A trip whose vehicle broke down, or that a service alert says will not run (effect
NO_SERVICE on the trip, its route or the stop), is shown as cancelled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import OrderedDict
from zoneinfo import ZoneInfo

import msgspec
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.utils import timezone

from . import selectors
from .models import Feed, Route, Stop, StopTime, Trip, VehicleState
from .names import search_key
from .realtime import feed as realtime_feed

STATION_RADIUS_M = 300  # stops of one name this close together are one station (when the feed has none)
PUBLIC_KINDS = realtime_feed.SERVICE_KINDS  # the alerts passengers see: as published in GTFS-Realtime
NO_SERVICE = "NO_SERVICE"


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371000.0 * math.asin(min(1.0, math.sqrt(a)))


# -- stops and stations ----------------------------------------------------------------------------


def _find_stop(stop_id: str, feed: str | None) -> Stop | None:
    stops = Stop.objects.filter(stop_id=stop_id).select_related("feed")
    if feed:
        stops = stops.filter(feed__name=feed)
    return stops.first()


def stop_group(stop: Stop) -> tuple[Stop, list[Stop]]:
    """The station a stop belongs to and its platforms (the stops departures leave from).

    A station of the feed (location_type 1) with its child stops; a stop with a parent station,
    that station; otherwise the stops of the same name within STATION_RADIUS_M (feeds, like the
    built-in city, that give a station's platforms one name and no parent)."""
    if stop.location_type == 1:
        children = list(Stop.objects.filter(feed_id=stop.feed_id, parent_station=stop.stop_id, location_type=0)
                        .order_by("code", "stop_id"))
        return stop, children
    if stop.parent_station:
        parent = Stop.objects.filter(feed_id=stop.feed_id, stop_id=stop.parent_station).select_related("feed").first()
        if parent is not None:
            return stop_group(parent)
    if stop.latitude is None or not stop.name:
        return stop, [stop]
    d = STATION_RADIUS_M / 111000.0
    near = Stop.objects.filter(
        feed_id=stop.feed_id, name=stop.name, location_type=0, parent_station="",
        latitude__range=(stop.latitude - d, stop.latitude + d),
        longitude__range=(stop.longitude - 2 * d, stop.longitude + 2 * d),
    ).order_by("code", "stop_id")
    platforms = [s for s in near if distance_m(stop.latitude, stop.longitude, s.latitude, s.longitude)
                 <= STATION_RADIUS_M]
    return stop, platforms or [stop]


def _stop_dict(s: Stop) -> dict:
    return {"stop_id": s.stop_id, "name": s.name, "code": s.code, "latitude": s.latitude,
            "longitude": s.longitude, "location_type": s.location_type}


def _open_public_alerts() -> list:
    source = realtime_feed.alert_source
    return list(source(PUBLIC_KINDS)) if source is not None else []


def _alert_informs(alert, *, stop_ids: set[str], route_ids: set[str], trip_ids: set[str]) -> bool:
    if alert.stop_id and alert.stop_id in stop_ids:
        return True
    if alert.trip_id and alert.trip_id in trip_ids:
        return True
    if alert.kind != "service" and alert.route_id and alert.route_id in route_ids:
        return True
    for e in (alert.payload or {}).get("informed_entities") or []:
        if e.get("stop_id") in stop_ids or e.get("trip_id") in trip_ids:
            return True
        if e.get("route_id") in route_ids and not e.get("stop_id") and not e.get("trip_id"):
            return True
    return False


def _alert_dict(alert) -> dict:
    p = alert.payload or {}
    return {"kind": alert.kind, "header": p.get("header") or alert.summary, "description": p.get("description", ""),
            "effect": p.get("effect", ""), "route_id": alert.route_id, "stop_id": alert.stop_id,
            "trip_id": alert.trip_id, "severity": alert.severity, "url": p.get("url", "")}


def _cancelled_by(alerts: list, *, stop_ids: set[str]) -> tuple[set[str], set[tuple], set[str]]:
    """(trip ids, (route id, stop id or None) pairs, closed stop ids) that alerts of effect NO_SERVICE
    take out of service."""
    trips, routes, stop_closed = set(), set(), set()
    for a in alerts:
        p = a.payload or {}
        if a.kind != "service" or p.get("effect") != NO_SERVICE:
            continue
        for e in p.get("informed_entities") or []:
            if e.get("trip_id"):
                trips.add(e["trip_id"])
            elif e.get("stop_id") in stop_ids:
                if e.get("route_id"):
                    routes.add((e["route_id"], e["stop_id"]))
                else:
                    stop_closed.add(e["stop_id"])
            elif e.get("route_id") and not e.get("stop_id"):
                routes.add((e["route_id"], None))
    return trips, routes, stop_closed


def _last_sequences(trip_pks: set[int]) -> dict[int, int]:
    if not trip_pks:
        return {}
    rows = StopTime.objects.filter(trip__in=trip_pks).values("trip").annotate(last=Max("stop_sequence"))
    return {r["trip"]: r["last"] for r in rows}


def stop_departures(platforms: list[Stop], *, now: dt.datetime, horizon_s: int = 5400, max_delay_s: int = 1800,
                    alerts: list | None = None) -> list[dict]:
    """The calls at `platforms` (one feed) expected from 30 s ago to `horizon_s` ahead, earliest first."""
    if not platforms:
        return []
    feed = platforms[0].feed
    tz = ZoneInfo(feed.timezone or "UTC")
    pks = [s.pk for s in platforms]
    by_pk = {s.pk: s for s in platforms}
    local_date = now.astimezone(tz).date()
    calls = []
    for date in (local_date - dt.timedelta(days=1), local_date):
        start = selectors._service_day_start(date, tz)
        services = selectors._services_on(feed, date)
        if not services:
            continue
        elapsed = int((now - start).total_seconds())
        rows = StopTime.objects.filter(
            stop__in=pks, trip__service_id__in=services,
            departure_time__gte=elapsed - max_delay_s, departure_time__lte=elapsed + horizon_s,
        ).values_list("trip_id", "trip__trip_id", "trip__headsign", "trip__direction_id", "trip__route__route_id",
                      "trip__route__short_name", "trip__route__long_name", "trip__route__color",
                      "trip__route__text_color", "trip__route__vehicle_type", "stop_id", "stop_sequence",
                      "departure_time", "pickup_type")
        for row in rows:
            calls.append((*row[:-2], start + dt.timedelta(seconds=row[-2]), row[-1]))
    since = timezone.now() - dt.timedelta(seconds=settings.STREAMCITY_VEHICLE_STALE_SECONDS)
    live = {
        trip: (vehicle, max(delay or 0, 0) if status == VehicleState.Status.LAYOVER else delay, seq, status)
        for trip, vehicle, delay, seq, status in VehicleState.objects.filter(
            updated_at__gte=since, trip_id__in={c[1] for c in calls}
        ).values_list("trip_id", "vehicle_id", "delay_seconds", "stop_sequence", "status")
    }
    last = _last_sequences({c[0] for c in calls})
    stop_ids = {s.stop_id for s in platforms}
    cancelled_trips, cancelled_routes, stop_closed = _cancelled_by(alerts or [], stop_ids=stop_ids)
    out = []
    for (trip_pk, trip_id, headsign, direction, route_id, short, long, color, text, vtype, stop_pk, seq,
         scheduled, pickup) in calls:
        vehicle, delay, served, status = live.get(trip_id, (None, None, None, None))
        if served is not None and served > seq:
            continue  # the vehicle has left it already
        is_live = vehicle is not None and delay is not None
        expected = scheduled + dt.timedelta(seconds=delay or 0) if is_live else scheduled
        if not (now - dt.timedelta(seconds=30) <= expected <= now + dt.timedelta(seconds=horizon_s)):
            continue
        platform = by_pk[stop_pk]
        cancelled = (status == VehicleState.Status.BROKEN_DOWN or trip_id in cancelled_trips
                     or (route_id, None) in cancelled_routes or (route_id, platform.stop_id) in cancelled_routes
                     or platform.stop_id in stop_closed)
        out.append({
            "trip_id": trip_id, "headsign": headsign, "direction_id": direction, "route_id": route_id,
            "route_short_name": short or route_id, "route_long_name": long, "route_color": color,
            "route_text_color": text, "vehicle_type": vtype, "stop_id": platform.stop_id,
            "platform": platform.code or platform.stop_id, "stop_sequence": seq, "vehicle_id": vehicle,
            "vehicle_status": status, "delay_seconds": delay if is_live else None, "live": is_live,
            "scheduled": scheduled, "expected": expected, "cancelled": cancelled,
            "terminates": seq >= last.get(trip_pk, seq + 1) or pickup == 1,
            "minutes": max(0, int((expected - now).total_seconds() // 60)),
        })
    out.sort(key=lambda d: (d["expected"], d["route_short_name"]))
    return out


def _group_departures(departures: list[dict], per_group: int) -> list[dict]:
    """Departures by route and direction (its headsign), the groups in order of their next departure."""
    groups: OrderedDict[tuple, dict] = OrderedDict()
    for d in departures:
        if d["terminates"]:
            continue
        key = (d["route_id"], d["direction_id"], d["headsign"])
        g = groups.get(key)
        if g is None:
            g = groups[key] = {k: d[k] for k in ("route_id", "route_short_name", "route_long_name", "route_color",
                                                 "route_text_color", "vehicle_type", "direction_id", "headsign")}
            g["departures"] = []
        if len(g["departures"]) < per_group:
            g["departures"].append(d)
    return list(groups.values())


def stop_board(*, stop_id: str, feed: str | None = None, now: dt.datetime | None = None, horizon_s: int = 5400,
               per_group: int = 4, limit: int = 40) -> dict | None:
    """A stop page's data: the stop (or its station) and platforms, next departures (all, and by route
    and direction), the public alerts that concern it, the routes calling there; None when unknown."""
    stop = _find_stop(stop_id, feed)
    if stop is None:
        return None
    station, platforms = stop_group(stop)
    now = now or selectors.twin_now()
    alerts = _open_public_alerts()
    departures = stop_departures(platforms, now=now, horizon_s=horizon_s, alerts=alerts)
    routes = _routes_at([s.pk for s in platforms])
    stop_ids = {s.stop_id for s in platforms} | {station.stop_id}
    concerned = [a for a in alerts if _alert_informs(a, stop_ids=stop_ids, route_ids={r["route_id"] for r in routes},
                                                     trip_ids={d["trip_id"] for d in departures})]
    tz = ZoneInfo(station.feed.timezone or "UTC")
    departures = [{**d, "scheduled": d["scheduled"].astimezone(tz), "expected": d["expected"].astimezone(tz)}
                  for d in departures]
    return msgspec.to_builtins({
        "stop": {**_stop_dict(station), "feed": station.feed.name},
        "asked": stop.stop_id,
        "platforms": [_stop_dict(s) for s in platforms],
        "now": now.astimezone(tz),
        "timezone": tz.key,
        "departures": departures[:limit],
        "groups": _group_departures(departures, per_group),
        "routes": routes,
        "alerts": [_alert_dict(a) for a in concerned],
    })


def _routes_at(stop_pks: list[int]) -> list[dict]:
    """The routes calling at these stops (any day), cached until a feed changes."""
    key = "transit:routes-at:" + hashlib.sha1(
        f"{selectors._network_version()}|{sorted(stop_pks)}".encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    route_pks = StopTime.objects.filter(stop__in=stop_pks).values("trip__route").distinct()
    routes = list(Route.objects.filter(pk__in=route_pks).values(*selectors.ROUTE_FIELDS))
    routes.sort(key=lambda r: _natural(r["short_name"] or r["route_id"]))
    cache.set(key, routes, 3600)
    return routes


def _natural(text: str) -> tuple:
    digits = "".join(c for c in text if c.isdigit())
    return (int(digits) if digits else 1 << 30, text)


# -- search and near me ----------------------------------------------------------------------------


def search_places(*, q: str, limit: int = 10) -> dict:
    """Stops and stations whose name (accents ignored) or code holds `q`, one entry per station;
    routes by name or id; recently seen vehicles by id. `empty` says nothing matched."""
    q = q.strip()[:64]
    key = search_key(q)
    if not key:
        return {"q": q, "stops": [], "routes": [], "vehicles": [], "empty": True}
    rows = (Stop.objects.filter(Q(search_name__contains=key) | Q(code__iexact=q) | Q(stop_id__iexact=q))
            .filter(location_type__in=(0, 1))
            .order_by("search_name", "location_type", "stop_id")
            .values_list("stop_id", "name", "code", "latitude", "longitude", "location_type", "parent_station",
                         "feed__name", "search_name")[: limit * 8])
    stops, seen = [], []
    for stop_id, name, code, lat, lon, ltype, parent, feed, skey in rows:
        if parent:
            continue  # its station is listed (it holds the name too)
        if any(s["feed"] == feed and s["name"] == name and lat is not None and s["latitude"] is not None
               and distance_m(lat, lon, s["latitude"], s["longitude"]) <= STATION_RADIUS_M for s in seen):
            continue  # a platform of a station listed already
        entry = {"stop_id": stop_id, "name": name, "code": code, "latitude": lat, "longitude": lon,
                 "station": ltype == 1, "feed": feed, "starts": skey.startswith(key)}
        seen.append(entry)
        stops.append(entry)
    stops.sort(key=lambda s: (not s["starts"], s["name"]))
    stops = stops[:limit]
    found = selectors.search(q=q, limit=limit)
    folded = [r for r in selectors.network_routes() if key in search_key(r["long_name"])
              and r["route_id"] not in {x["route_id"] for x in found["routes"]}]
    routes = (found["routes"] + [{k: r[k] for k in selectors.ROUTE_FIELDS} for r in folded])[:limit]
    vehicles = found["vehicles"]
    return {"q": q, "stops": stops, "routes": routes, "vehicles": vehicles,
            "empty": not (stops or routes or vehicles)}


def stops_near(*, latitude: float, longitude: float, radius_m: float = 800, limit: int = 8,
               departures: int = 3, now: dt.datetime | None = None) -> list[dict]:
    """The stops (stations once) nearest a point within `radius_m`, each with its next departures."""
    d = radius_m / 111000.0
    dlon = d / max(0.1, math.cos(math.radians(latitude)))
    rows = Stop.objects.filter(
        location_type__in=(0, 1), latitude__range=(latitude - d, latitude + d),
        longitude__range=(longitude - dlon, longitude + dlon),
    ).select_related("feed")
    ranked = sorted(((distance_m(latitude, longitude, s.latitude, s.longitude), s) for s in rows),
                    key=lambda x: x[0])
    out, covered = [], set()
    for metres, stop in ranked:
        if metres > radius_m or stop.pk in covered:
            continue
        station, platforms = stop_group(stop)
        covered.update(s.pk for s in platforms)
        covered.add(station.pk)
        out.append((metres, station, platforms))
        if len(out) >= limit:
            break
    if not out:
        return []
    now = now or selectors.twin_now()
    alerts = _open_public_alerts()
    by_feed: dict[int, list[Stop]] = {}
    for _, _, platforms in out:
        by_feed.setdefault(platforms[0].feed_id, []).extend(platforms)
    at: dict[tuple[int, str], list[dict]] = {}
    for platforms in by_feed.values():  # one query for all the stops of a feed
        for x in stop_departures(platforms, now=now, horizon_s=3600, alerts=alerts):
            if not x["terminates"]:
                at.setdefault((platforms[0].feed_id, x["stop_id"]), []).append(x)
    result = []
    for metres, station, platforms in out:
        tz = ZoneInfo(station.feed.timezone or "UTC")
        deps = sorted((x for p in platforms for x in at.get((p.feed_id, p.stop_id), [])), key=lambda x: x["expected"])
        result.append({**_stop_dict(station), "feed": station.feed.name, "distance_m": round(metres),
                       "departures": [{**x, "expected": x["expected"].astimezone(tz),
                                       "scheduled": x["scheduled"].astimezone(tz)} for x in deps[:departures]]})
    return msgspec.to_builtins(result)


def place_named(q: str) -> dict | None:
    """A typed place ("near me" without geolocation): the best stop or station of that name."""
    found = search_places(q=q, limit=1)["stops"]
    return found[0] if found and found[0]["latitude"] is not None else None


# -- route pages -------------------------------------------------------------------------------------


def _find_route(route_id: str, feed: str | None) -> Route | None:
    routes = Route.objects.filter(route_id=route_id).select_related("feed")
    if feed:
        routes = routes.filter(feed__name=feed)
    return routes.first()


def route_patterns(route: Route) -> dict[int | None, dict]:
    """direction -> its main pattern: the stops (in order, with timepoints) of the trip with the most
    stops among the direction's commonest stop counts, its headsign and shape points."""
    key = "transit:route-patterns:" + hashlib.sha1(
        f"{selectors._network_version()}|{route.pk}".encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    counts = (Trip.objects.filter(route=route).values("direction_id", "pk", "headsign", "shape")
              .annotate(n=Count("stop_times")).order_by("direction_id", "-n", "pk"))
    best: dict[int | None, dict] = {}
    for row in counts:
        best.setdefault(row["direction_id"], row)
    patterns = {}
    for direction, row in best.items():
        stops = list(StopTime.objects.filter(trip_id=row["pk"]).order_by("stop_sequence").values_list(
            "stop__stop_id", "stop__name", "stop__code", "stop__latitude", "stop__longitude", "timepoint",
            "stop_sequence", "departure_time"))
        first = stops[0][7] if stops else 0
        shape = list(Trip.objects.filter(pk=row["pk"]).values_list("shape__points", flat=True))[0] or []
        patterns[direction] = {
            "direction_id": direction, "headsign": row["headsign"], "trip_pk": row["pk"],
            "stops": [{"stop_id": s[0], "name": s[1], "code": s[2], "latitude": s[3], "longitude": s[4],
                       "timepoint": s[5], "sequence": s[6], "offset_s": s[7] - first} for s in stops],
            "shape": shape or [[s[3], s[4]] for s in stops if s[3] is not None],
        }
    cache.set(key, patterns, 3600)
    return patterns


def route_day_trips(route: Route, date: dt.date) -> list[dict]:
    """The route's trips on a timetable date: trip id, direction, headsign, block, and its calls
    (stop id, sequence, arrival, departure in seconds of the service day), first departure first."""
    services = selectors._services_on(route.feed, date)
    trips = {t["pk"]: {**t, "calls": []} for t in Trip.objects.filter(route=route, service_id__in=services).values(
        "pk", "trip_id", "direction_id", "headsign", "block_id")}
    rows = (StopTime.objects.filter(trip__in=list(trips)).order_by("trip", "stop_sequence")
            .values_list("trip", "stop__stop_id", "stop_sequence", "arrival_time", "departure_time"))
    for trip, stop_id, seq, arr, dep in rows.iterator(chunk_size=5000):
        trips[trip]["calls"].append((stop_id, seq, arr, dep))
    out = [t for t in trips.values() if t["calls"]]
    out.sort(key=lambda t: t["calls"][0][3])
    return out


def service_date(feed: Feed, now: dt.datetime) -> tuple[dt.date, dt.date, ZoneInfo]:
    """(the local calendar date at `now`, the feed date whose timetable runs it, the zone): the
    running simulation's choice of timetable day when it runs this feed, else the date itself."""
    tz = ZoneInfo(feed.timezone or "UTC")
    local = now.astimezone(tz).date()
    status = selectors.service_status()
    if status and status.get("feed") == feed.name and str(status.get("date")) == local.isoformat():
        return local, dt.date.fromisoformat(str(status["timetable_date"])), tz
    return local, local, tz


def route_page(*, route_id: str, feed: str | None = None, now: dt.datetime | None = None,
               timetable_columns: int = 6) -> dict | None:
    """A route page's data: the route, its stops and line per direction, today's timetable per direction
    (the trips' times at up to `timetable_columns` timepoints of the main pattern), the vehicles on it
    now and its public alerts. None when unknown."""
    route = _find_route(route_id, feed)
    if route is None:
        return None
    now = now or selectors.twin_now()
    local, timetable_date, tz = service_date(route.feed, now)
    start = selectors._service_day_start(local, tz)
    patterns = route_patterns(route)
    trips = route_day_trips(route, timetable_date)
    directions = []
    for direction, pattern in sorted(patterns.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        stops = pattern["stops"]
        timepoints = [s for s in stops if s["timepoint"]]
        columns = _spread(timepoints if len(timepoints) >= 2 else stops, timetable_columns)
        rows = []
        for t in trips:
            if t["direction_id"] != direction:
                continue
            at = {stop_id: dep for stop_id, _, _, dep in t["calls"]}
            rows.append({"trip_id": t["trip_id"], "headsign": t["headsign"],
                         "times": [_clock(start, at.get(c["stop_id"]), tz) for c in columns]})
        directions.append({**{k: pattern[k] for k in ("direction_id", "headsign", "stops", "shape")},
                           "columns": [c["name"] for c in columns], "trips": rows})
    vehicles = selectors.vehicle_snapshot(routes=[route.route_id])
    alerts = [a for a in _open_public_alerts()
              if _alert_informs(a, stop_ids=set(), route_ids={route.route_id}, trip_ids=set())]
    return msgspec.to_builtins({
        "route": {**{f: getattr(route, f) for f in selectors.ROUTE_FIELDS}, "feed": route.feed.name},
        "date": local, "timetable_date": timetable_date, "timezone": tz.key,
        "directions": directions, "vehicles": vehicles, "alerts": [_alert_dict(a) for a in alerts],
    })


def _spread(items: list, n: int) -> list:
    if len(items) <= n:
        return items
    step = (len(items) - 1) / (n - 1)
    return [items[round(i * step)] for i in range(n)]


def _clock(start: dt.datetime, seconds: int | None, tz: ZoneInfo) -> str:
    if seconds is None:
        return ""
    return f"{(start + dt.timedelta(seconds=seconds)).astimezone(tz):%H:%M}"
