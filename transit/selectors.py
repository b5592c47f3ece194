"""Reads of the transit models, shaped as the API and the WebSocket send them."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import msgspec
from django.conf import settings
from django.core.cache import cache
from django.db.models import Max, Min, Q
from django.utils import timezone

from .geometry import simplify
from .gtfs import tables as gtfs_tables
from .models import Calendar, CalendarDate, Feed, Route, Shape, SimulationRun, Stop, StopTime, Trip, VehicleState

# The fields of a vehicle in snapshots, frames and /api/vehicles/ (names as in the schema).
VEHICLE_FIELDS = (
    "vehicle_id",
    "vehicle_type",
    "route_id",
    "trip_id",
    "latitude",
    "longitude",
    "bearing",
    "speed",
    "passenger_count",
    "capacity",
    "status",
    "stop_sequence",
    "next_stop_id",
    "delay_seconds",
    "timestamp",
)


# The live map's compact form of a vehicle, in its frames and snapshots: a list of the
# VEHICLE_FIELDS in this order (named once per message, `"fields": ROW_FIELDS`), positions to 6
# decimals (0.1 m), the bearing to a degree, the speed to 0.1 m/s, the timestamp in epoch
# milliseconds. About a third of the bytes of the dict, which every client of a group receives.
ROW_FIELDS = VEHICLE_FIELDS[:-1] + ("timestamp_ms",)


def vehicle_row(vehicle) -> list:
    """The compact form of a LiveVehicle event or a VehicleState row."""
    v = vehicle
    return [v.vehicle_id, v.vehicle_type, v.route_id, v.trip_id, round(v.latitude, 6), round(v.longitude, 6),
            round(v.bearing), round(v.speed, 1), v.passenger_count, v.capacity, v.status, v.stop_sequence,
            v.next_stop_id, v.delay_seconds, round(v.timestamp.timestamp() * 1000)]


def vehicles_from_rows(fields: list[str], rows: list[list]) -> list[dict]:
    """The dicts of /api/vehicles/ back from a message's rows (for Python clients and tests)."""
    out = []
    for row in rows:
        vehicle = dict(zip(fields, row))
        ms = vehicle.pop("timestamp_ms", None)
        if ms is not None:
            vehicle["timestamp"] = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat()
        out.append(vehicle)
    return out


def _recent_vehicles(*, area: tuple[float, float, float, float] | None = None, routes: Iterable[str] = (),
                     vehicle_types: Iterable[str] = (), vehicle_ids: Iterable[str] = ()):
    rows = live_vehicle_states()
    if area is not None:
        west, south, east, north = area
        rows = rows.filter(latitude__range=(south, north), longitude__range=(west, east))
    if routes := list(routes):
        rows = rows.filter(route_id__in=routes)
    if vehicle_types := list(vehicle_types):
        rows = rows.filter(vehicle_type__in=vehicle_types)
    if vehicle_ids := list(vehicle_ids):
        rows = rows.filter(vehicle_id__in=vehicle_ids)
    return rows.values_list(*VEHICLE_FIELDS, named=True)


RUN_CLOCK_SPAN = dt.timedelta(hours=1)  # a running simulation's vehicles report within this of its last heartbeat


def live_vehicle_states():
    """The live table: the vehicles written recently (wall clock, STREAMCITY_VEHICLE_STALE_SECONDS) that
    reported within the silent rule's time (STREAMCITY_SILENT_SECONDS of event time) of the newest
    report: a vehicle that stopped reporting leaves it then, whatever the simulation's speed. A new or
    stopped simulation run clears the table (transit.services.simulation_run_start / _stop)."""
    since = timezone.now() - dt.timedelta(seconds=settings.STREAMCITY_VEHICLE_STALE_SECONDS)
    rows = VehicleState.objects.filter(updated_at__gte=since)
    run = SimulationRun.objects.filter(stopped_at__isnull=True).order_by("-started_at").only("sim_now").first()
    if run is not None:  # late states of an earlier run (a bridge catching up) are far from this run's clock
        rows = rows.filter(timestamp__range=(run.sim_now - RUN_CLOCK_SPAN, run.sim_now + RUN_CLOCK_SPAN))
    newest = rows.aggregate(t=Max("timestamp"))["t"]
    if newest is None:
        return rows
    return rows.filter(timestamp__gte=newest - dt.timedelta(seconds=settings.STREAMCITY_SILENT_SECONDS))


def service_status() -> dict | None:
    """The simulation run the pages show (None when no simulator ever recorded one): its feed and
    time zone, the simulated date, the feed date whose timetable runs and why ("requested", "same
    weekday", "nearest with service", "no service"), the note the status line prints, the vehicles on
    duty and, when none is, when service starts; `running` is false once it stopped or fell silent."""
    run = SimulationRun.objects.order_by("-started_at").first()
    if run is None:
        return None
    fresh = timezone.now() - run.heartbeat_at <= dt.timedelta(seconds=60)
    tz = ZoneInfo(run.timezone or "UTC")
    starts = run.service_starts.astimezone(tz) if run.service_starts else None
    message = run.note
    if run.stopped_at is None and fresh and run.vehicles == 0:
        idle = (f"nothing is scheduled now; service starts {starts:%a %Y-%m-%d %H:%M}" if starts
                else "nothing is scheduled now")
        message = f"{message}; {idle}" if message else idle
    return msgspec.to_builtins({
        "run_id": run.run_id, "feed": run.feed, "timezone": run.timezone, "running": run.stopped_at is None and fresh,
        "date": run.requested_date, "timetable_date": run.timetable_date, "reason": run.reason,
        "note": run.note, "message": message, "vehicles": run.vehicles, "service_starts": starts,
        "sim_now": run.sim_now.astimezone(tz), "started_at": run.started_at, "stopped_at": run.stopped_at,
    })


def route_service_hours(*, feed: str, date: dt.date) -> dict[str, tuple[int, int]]:
    """route_id -> (first departure, last arrival) in seconds of the service day, for the routes that
    run on timetable date `date` of `feed`. Cached until a feed changes."""
    key = "transit:route-hours:" + hashlib.sha1(f"{_network_version()}|{feed}|{date}".encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    found = Feed.objects.filter(name=feed).first()
    hours: dict[str, tuple[int, int]] = {}
    if found is not None:
        services = _services_on(found, date)
        rows = (StopTime.objects.filter(trip__feed=found, trip__service_id__in=services)
                .values("trip__route__route_id").annotate(first=Min("departure_time"), last=Max("arrival_time")))
        hours = {r["trip__route__route_id"]: (r["first"], r["last"]) for r in rows}
    cache.set(key, hours, 3600)
    return hours


def routes_running_now(*, margin_s: int = 900) -> dict[str, bool] | None:
    """route_id -> whether it runs now (within `margin_s` of its service hours on today's or
    yesterday's timetable), for the running simulation's feed; None without one (then every route
    counts as running). Night lines run at night only."""
    from .models import SimulationRun

    run = SimulationRun.objects.filter(stopped_at__isnull=True).order_by("-started_at").first()
    if run is None:
        return None
    tz = ZoneInfo(run.timezone or "UTC")
    now = run.sim_now
    local = now.astimezone(tz).date()
    running: dict[str, bool] = {}
    for date, timetable in ((local, run.timetable_date), (local - dt.timedelta(days=1), None)):
        timetable = timetable or date
        elapsed = (now - _service_day_start(date, tz)).total_seconds()
        for route_id, (first, last) in route_service_hours(feed=run.feed, date=timetable).items():
            runs = first - margin_s <= elapsed <= last + margin_s
            running[route_id] = running.get(route_id, False) or runs
    return running


def vehicle_snapshot(**filters) -> list[dict]:
    """Every vehicle heard of recently, as JSON-ready dicts; optionally only those inside `area`
    (west, south, east, north), on `routes`, of `vehicle_types` or with `vehicle_ids`."""
    return msgspec.to_builtins([row._asdict() for row in _recent_vehicles(**filters)])


def vehicle_snapshot_rows(**filters) -> list[list]:
    """`vehicle_snapshot` in the live map's compact form (vehicle_row)."""
    return [vehicle_row(row) for row in _recent_vehicles(**filters)]


# -- the network, for the map --------------------------------------------------------------------

ROUTE_FIELDS = ("route_id", "short_name", "long_name", "vehicle_type", "color", "text_color")


def _network_version() -> str:
    """Changes whenever a feed is imported, replaced or deleted (the key of cached network data)."""
    feeds = Feed.objects.values_list("name", "fingerprint", "imported_at")
    return ";".join(f"{name}:{fingerprint}:{at.isoformat()}" for name, fingerprint, at in feeds)


def network_routes(*, tolerance_m: float = 4.0, feeds: Iterable[str] = ()) -> list[dict]:
    """Every route with its GTFS colours and its distinct shapes (simplified), for the map; only
    the routes of `feeds` (names) when given.

    A route whose trips have no shape gets a line through the stops of one trip per direction.
    Cached until a feed changes.
    """
    feeds = sorted(set(feeds))
    key = "transit:network-routes:" + hashlib.sha1((_network_version() + "|" + ",".join(feeds)).encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    route_rows = Route.objects.all()
    trip_rows = Trip.objects.all()
    if feeds:
        route_rows = route_rows.filter(feed__name__in=feeds)
        trip_rows = trip_rows.filter(feed__name__in=feeds)
    routes: dict[int, dict] = {}
    for pk, feed, *values in route_rows.values_list("pk", "feed__name", *ROUTE_FIELDS):
        routes[pk] = dict(zip(ROUTE_FIELDS, values), feed=feed, shapes=[])
    shape_routes: dict[int, set[int]] = {}
    unshaped: dict[tuple[int, int | None], int] = {}  # (route, direction) -> a trip without a shape
    trips = trip_rows.values_list("route", "shape", "direction_id", "pk").order_by("pk")
    for route, shape, direction, trip in trips.iterator(chunk_size=5000):
        if shape is not None:
            shape_routes.setdefault(shape, set()).add(route)
        else:
            unshaped.setdefault((route, direction), trip)
    shapes = Shape.objects.filter(pk__in=list(shape_routes)).values_list("pk", "points")
    for pk, points in shapes.iterator(chunk_size=500):
        line = simplify([(lat, lon) for lat, lon in points], tolerance_m)
        for route in shape_routes[pk]:
            routes[route]["shapes"].append(line)
    shaped = {route for rs in shape_routes.values() for route in rs}
    wanted = {trip: route for (route, _), trip in unshaped.items() if route not in shaped}
    lines: dict[int, list] = {}
    for trip, lat, lon in (
        StopTime.objects.filter(trip__in=list(wanted)).order_by("trip", "stop_sequence")
        .values_list("trip", "stop__latitude", "stop__longitude")
    ):
        if lat is not None and lon is not None:
            lines.setdefault(trip, []).append((lat, lon))
    for trip, line in lines.items():
        if len(line) > 1:
            routes[wanted[trip]]["shapes"].append(line)
    result = sorted(routes.values(), key=lambda r: (r["feed"], r["short_name"] or r["route_id"]))
    cache.set(key, result, 3600)
    return result


# -- which feed runs, and where: the map opens on it ------------------------------------------------

# A stop this far outside the box of the feed's other stops is left out of its extent (a depot or
# a typo at 0,0 would otherwise make the map open on half the globe).
_EXTENT_TRIM = 0.002  # share of stops cut at each edge, in feeds of more than 100 stops


def _trimmed(values: list[float]) -> tuple[float, float]:
    values.sort()
    cut = int(len(values) * _EXTENT_TRIM) if len(values) > 100 else 0
    return values[cut], values[len(values) - 1 - cut]


def feed_extents() -> dict[str, dict]:
    """Per imported feed: its extent {"south", "west", "north", "east"} (its stops' box, the outermost
    0.2 % of a large feed's stops left out; None without located stops), its vehicle types, its
    route ids and its time zone. Cached until a feed changes."""
    key = "transit:feed-extents:" + hashlib.sha1(_network_version().encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    out: dict[str, dict] = {}
    for pk, name, tz in Feed.objects.values_list("pk", "name", "timezone"):
        lats, lons = [], []
        for lat, lon in Stop.objects.filter(feed=pk, latitude__isnull=False, longitude__isnull=False).values_list(
            "latitude", "longitude"
        ).iterator(chunk_size=5000):
            if -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0):
                lats.append(lat)
                lons.append(lon)
        extent = None
        if lats:
            (south, north), (west, east) = _trimmed(lats), _trimmed(lons)
            extent = {"south": south, "west": west, "north": north, "east": east}
        routes = Route.objects.filter(feed=pk)
        out[name] = {
            "extent": extent,
            "vehicle_types": sorted(set(routes.values_list("vehicle_type", flat=True))),
            "route_ids": sorted(set(routes.values_list("route_id", flat=True))),
            "timezone": tz,
        }
    cache.set(key, out, 3600)
    return out


def _inside(extent: dict | None, lat: float, lon: float, margin: float = 0.05) -> bool:
    return extent is not None and (extent["south"] - margin <= lat <= extent["north"] + margin
                                   and extent["west"] - margin <= lon <= extent["east"] + margin)


def running_feeds(*, feed: str | None = None) -> list[str]:
    """The feeds being simulated: `feed` when the caller knows it (the simulation run's record); else
    the feeds the live vehicles belong to (on one of the feed's routes and inside its extent; a feed
    with under a fifth of the best one's vehicles is left out); else, with no live vehicle, the feed
    of the STREAMCITY_GTFS setting or the feed imported last."""
    extents = feed_extents()
    if feed and feed in extents:
        return [feed]
    since = timezone.now() - dt.timedelta(seconds=settings.STREAMCITY_VEHICLE_STALE_SECONDS)
    live = list(VehicleState.objects.filter(updated_at__gte=since).values_list("route_id", "latitude", "longitude"))
    counts: dict[str, int] = {}
    for name, info in extents.items():
        route_ids = set(info["route_ids"])
        counts[name] = sum(1 for route, lat, lon in live
                           if (route is None or route in route_ids) and _inside(info["extent"], lat, lon))
    best = max(counts.values(), default=0)
    if best:
        return sorted(name for name, n in counts.items() if n * 5 >= best)
    feeds = Feed.objects.order_by("-imported_at")
    if settings.STREAMCITY_GTFS:
        chosen = feeds.filter(source=settings.STREAMCITY_GTFS).values_list("name", flat=True).first()
        if chosen:
            return [chosen]
    latest = feeds.values_list("name", flat=True).first()
    return [latest] if latest else []


def map_scope(*, feed: str | None = None) -> dict:
    """What the live map shows of the network: the running feeds (running_feeds), the box around
    them (None without stops), their vehicle types and the first one's time zone."""
    extents = feed_extents()
    names = running_feeds(feed=feed)
    boxes = [extents[n]["extent"] for n in names if extents[n]["extent"]]
    extent = None
    if boxes:
        extent = {"south": min(b["south"] for b in boxes), "west": min(b["west"] for b in boxes),
                  "north": max(b["north"] for b in boxes), "east": max(b["east"] for b in boxes)}
    return {
        "feeds": names,
        "extent": extent,
        "vehicle_types": sorted({t for n in names for t in extents[n]["vehicle_types"]}),
        "timezone": extents[names[0]]["timezone"] if names else settings.TIME_ZONE,
    }


def service_guess(*, feeds: list[str]) -> dict | None:
    """The banner's facts when no simulation run is recorded (see the twin branch's service_status,
    which knows the simulator's choice): the running feed, the simulated date there, whether its
    calendar has service that date (the timetable of another date runs when not), and the vehicles
    in service now. None without a feed."""
    if not feeds:
        return None
    feed = Feed.objects.filter(name=feeds[0]).first()
    if feed is None:
        return None
    tz = ZoneInfo(feed.timezone or "UTC")
    now = twin_now().astimezone(tz)
    since = timezone.now() - dt.timedelta(seconds=settings.STREAMCITY_VEHICLE_STALE_SECONDS)
    recent = VehicleState.objects.filter(updated_at__gte=since)
    reporting = recent.exists()
    vehicles = recent.exclude(status=VehicleState.Status.OUT_OF_SERVICE).count()
    has_service = bool(_services_on(feed, now.date()))
    return msgspec.to_builtins({
        # running: None (unknown) without reports: a simulator may be starting, or none runs
        "feed": feed.name, "timezone": feed.timezone, "running": True if reporting else None, "date": now.date(),
        "timetable_date": now.date() if has_service else None, "reason": "requested" if has_service else "unknown",
        "note": "" if has_service else f"{now:%a} {now.day} {now:%b %Y} has no service in {feed.name}",
        "vehicles": vehicles, "service_starts": None, "sim_now": now,
    })


def stops_in_area(*, area: tuple[float, float, float, float], limit: int = 3000) -> tuple[list[dict], bool]:
    """Stops (not stations or entrances) inside `area` (west, south, east, north); and whether more exist."""
    west, south, east, north = area
    rows = list(
        Stop.objects.filter(location_type=0, latitude__range=(south, north), longitude__range=(west, east))
        .values_list("stop_id", "name", "code", "latitude", "longitude", "feed__name")[: limit + 1]
    )
    stops = [dict(zip(("stop_id", "name", "code", "latitude", "longitude", "feed"), row)) for row in rows[:limit]]
    return stops, len(rows) > limit


def twin_now() -> dt.datetime:
    """The twin's clock: the event time of the newest vehicle report (the simulator may run ahead of
    or behind the wall clock), or the wall clock when no vehicle reported recently."""
    newest = live_vehicle_states().aggregate(t=Max("timestamp"))["t"]
    return newest or timezone.now()


def _services_on(feed: Feed, date: dt.date) -> set[str]:
    calendars = [
        gtfs_tables.Calendar(
            c.service_id, (c.monday, c.tuesday, c.wednesday, c.thursday, c.friday, c.saturday, c.sunday),
            c.start_date, c.end_date,
        )
        for c in Calendar.objects.filter(feed=feed, start_date__lte=date, end_date__gte=date)
    ]
    exceptions = [
        gtfs_tables.CalendarDate(*row)
        for row in CalendarDate.objects.filter(feed=feed, date=date).values_list("service_id", "date", "exception_type")
    ]
    return gtfs_tables.GtfsFeed(calendars=calendars, calendar_dates=exceptions).services_on(date)


def _service_day_start(date: dt.date, tz: ZoneInfo) -> dt.datetime:
    """GTFS times count from "noon minus 12 h" of the service day (local midnight except on DST days)."""
    noon = dt.datetime.combine(date, dt.time(12), tzinfo=tz).astimezone(dt.timezone.utc)
    return noon - dt.timedelta(hours=12)


def stop_arrivals(*, stop_id: str, feed: str | None = None, now: dt.datetime | None = None, horizon_s: int = 3600,
                  limit: int = 12, max_delay_s: int = 1800) -> dict | None:
    """The next arrivals at a stop (and its platforms, for a station) within `horizon_s` of `now`:
    scheduled time, the live vehicle's deviation where one runs the trip, and the expected time.

    Trips whose vehicle has already served the stop are left out. None when the stop is unknown.
    """
    stops = Stop.objects.filter(stop_id=stop_id).select_related("feed")
    if feed:
        stops = stops.filter(feed__name=feed)
    stop = stops.first()
    if stop is None:
        return None
    now = now or twin_now()
    tz = ZoneInfo(stop.feed.timezone or "UTC")
    stop_pks = [stop.pk, *Stop.objects.filter(feed=stop.feed, parent_station=stop.stop_id).values_list("pk", flat=True)]
    local_date = now.astimezone(tz).date()
    calls = []
    for date in (local_date - dt.timedelta(days=1), local_date):
        start = _service_day_start(date, tz)
        services = _services_on(stop.feed, date)
        if not services:
            continue
        elapsed = int((now - start).total_seconds())
        rows = StopTime.objects.filter(
            stop__in=stop_pks, trip__service_id__in=services,
            arrival_time__gte=elapsed - max_delay_s, arrival_time__lte=elapsed + horizon_s,
        ).values_list("trip__trip_id", "trip__headsign", "trip__route__route_id", "trip__route__short_name",
                      "trip__route__color", "trip__route__text_color", "stop_sequence", "arrival_time")
        for trip_id, headsign, route_id, short, color, text, seq, arrival in rows:
            calls.append((trip_id, headsign, route_id, short, color, text, seq, start + dt.timedelta(seconds=arrival)))
    since = timezone.now() - dt.timedelta(seconds=settings.STREAMCITY_VEHICLE_STALE_SECONDS)
    live = {
        # a vehicle laying over leaves at its scheduled departure or later: the predictions start from it
        trip: (vehicle, max(delay or 0, 0) if status == VehicleState.Status.LAYOVER else delay, seq)
        for trip, vehicle, delay, seq, status in VehicleState.objects.filter(
            updated_at__gte=since, trip_id__in={c[0] for c in calls}
        ).values_list("trip_id", "vehicle_id", "delay_seconds", "stop_sequence", "status")
    }
    arrivals = []
    for trip_id, headsign, route_id, short, color, text, seq, scheduled in calls:
        vehicle, delay, served = live.get(trip_id, (None, None, None))
        if served is not None and served >= seq:
            continue  # the vehicle has been there already
        expected = scheduled + dt.timedelta(seconds=delay or 0)
        if not (now - dt.timedelta(seconds=30) <= expected <= now + dt.timedelta(seconds=horizon_s)):
            continue
        arrivals.append({
            "trip_id": trip_id, "headsign": headsign, "route_id": route_id, "route_short_name": short,
            "route_color": color, "route_text_color": text, "stop_sequence": seq, "vehicle_id": vehicle,
            "delay_seconds": delay, "scheduled": scheduled, "expected": expected,
        })
    arrivals.sort(key=lambda a: a["expected"])
    return msgspec.to_builtins({
        "stop": {"stop_id": stop.stop_id, "name": stop.name, "code": stop.code, "feed": stop.feed.name,
                 "latitude": stop.latitude, "longitude": stop.longitude},
        "now": now,
        "arrivals": arrivals[:limit],
    })


def vehicle_detail(*, vehicle_id: str) -> dict | None:
    """A vehicle with what its popup names: route, trip headsign, next stop. None when unknown."""
    row = VehicleState.objects.filter(vehicle_id=vehicle_id).values_list(*VEHICLE_FIELDS).first()
    if row is None:
        return None
    vehicle = dict(zip(VEHICLE_FIELDS, row))
    trip = (
        Trip.objects.filter(trip_id=vehicle["trip_id"])
        .values("trip_id", "headsign", "short_name", "direction_id", "feed").first()
        if vehicle["trip_id"] else None
    )
    feed_filter = {"feed": trip.pop("feed")} if trip else {}
    route = (
        Route.objects.filter(route_id=vehicle["route_id"], **feed_filter).values(*ROUTE_FIELDS).first()
        if vehicle["route_id"] else None
    )
    next_stop = (
        Stop.objects.filter(stop_id=vehicle["next_stop_id"], **feed_filter).values("stop_id", "name", "code").first()
        if vehicle["next_stop_id"] else None
    )
    return msgspec.to_builtins({"vehicle": vehicle, "route": route, "trip": trip, "next_stop": next_stop})


def search(*, q: str, limit: int = 10) -> dict:
    """Routes whose name or id contains `q`, and recently seen vehicles whose id contains it."""
    q = q.strip()
    if not q:
        return {"routes": [], "vehicles": []}
    routes = list(
        Route.objects.filter(Q(short_name__icontains=q) | Q(long_name__icontains=q) | Q(route_id__icontains=q))
        .values(*ROUTE_FIELDS)[:limit]
    )
    since = timezone.now() - dt.timedelta(seconds=settings.STREAMCITY_VEHICLE_STALE_SECONDS)
    rows = (
        VehicleState.objects.filter(updated_at__gte=since, vehicle_id__icontains=q)
        .order_by("vehicle_id").values_list(*VEHICLE_FIELDS)[:limit]
    )
    return msgspec.to_builtins({"routes": routes, "vehicles": [dict(zip(VEHICLE_FIELDS, r)) for r in rows]})
