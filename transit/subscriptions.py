"""Live map subscriptions: which Channels groups carry which vehicles.

Plain Python (no database, no Kafka; leaving groups is tracked by streamcity.fanout.GroupTracker).
A frame is encoded once per group per tick, so the groups are fixed in advance and shared by every
client:

- spatial tiles (Web Mercator, as map tiles) at a few zoom levels, `live.z13.4207.2692`;
- the same tiles split by vehicle type, `live.z13.4207.2692.tram`;
- one group per route, `live.r.k<route_id>` (or `live.r.h<hash>` when the id has characters a
  group name cannot hold);
- the whole world, `live.all` and `live.all.<type>`.

Every vehicle change goes to all of its groups (9 or 10 of them). A client joins the groups that
cover its subscription: its routes, else the tiles of the finest level that covers its bounding box
with at most MAX_TILES tiles (typed tiles when it shows only some vehicle types), else the world.
When a vehicle leaves a group (it moved to another tile, changed route or type), the publisher
sends it once more to the groups it left, so clients there see it leave their area.

Level of detail: a map zoomed out below FULL_DETAIL_ZOOM cannot show a move smaller than a pixel.
A client that says its zoom joins the same tiles with a detail suffix (`live.z10.511.340.d11`):
their frames carry a vehicle when it has moved at least DETAIL_PIXELS pixels at that zoom since it
was last sent there, or something shown about it changed (type, route, trip, status, next stop,
punctuality class), and at least every DETAIL_REFRESH_SECONDS (± 25 % per vehicle). What is sent
is as fresh as in the full frames; a city-wide view just receives the changes it can draw
(`VehicleRouter`).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import typing
import zlib
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

from streamcity.fanout import GroupTracker
from streamcity.schemas import VehicleType

PREFIX = "live"
LEVELS = (13, 10, 7)  # tile zoom levels, finest first (z13 tiles are about 3 x 3 km at 52°N)
MAX_TILES = 24  # tiles of one level a client may join before it falls back to a coarser level
MAX_ROUTES = 60  # route groups a client may join; more routes: tiles (filtered in the browser)
MAX_LIST = 500  # entries accepted in a subscription's routes or vehicle_types
VEHICLE_TYPES: tuple[str, ...] = typing.get_args(VehicleType)
MAX_LAT = 85.0511287798  # Web Mercator's limit
FULL_DETAIL_ZOOM = 14  # from this map zoom on, a client gets every change
DETAIL_ZOOMS = (13, 12, 11, 10, 9)  # the detail classes: a move of DETAIL_PIXELS at that zoom is sent
DETAIL_BY_LEVEL = {13: (13,), 10: (13, 12, 11, 10), 7: (11, 10, 9), None: DETAIL_ZOOMS}  # tile level (None: world)
DETAIL_PIXELS = 1.0
DETAIL_REFRESH_SECONDS = 10.0
EARLY_SECONDS, LATE_SECONDS = -60, 180  # the map's punctuality classes (served to the map: transit.views.live_map_config)
MAX_ZOOM = 30

BBox = tuple[float, float, float, float]  # west, south, east, north (degrees)

_PLAIN_ID = re.compile(r"[A-Za-z0-9_.-]{1,60}")


class SubscriptionError(ValueError):
    """A subscription the server cannot use; the message says why."""


@dataclass(frozen=True)
class Subscription:
    """What a client shows: a bounding box (None: everywhere), routes and types (empty: all)."""

    bbox: BBox | None = None
    routes: tuple[str, ...] = ()
    vehicle_types: tuple[str, ...] = ()
    zoom: float | None = None  # the map's zoom (None: every change, as at FULL_DETAIL_ZOOM)


@dataclass(frozen=True)
class Plan:
    """The groups a subscription joins, and the area their frames and snapshot cover."""

    groups: tuple[str, ...]
    area: BBox | None  # None: everywhere
    routes: tuple[str, ...] = ()
    vehicle_types: tuple[str, ...] = ()
    level: str = "world"  # "z13" / "z10" / "z7", "routes" or "world"
    bbox: BBox | None = None  # as asked
    detail: int | None = None  # the detail class (a zoom of DETAIL_ZOOMS), None: every change

    def describe(self) -> dict:
        """What the client is told about its subscription (it filters frames with this)."""
        return {
            "bbox": list(self.bbox) if self.bbox else None,
            "area": list(self.area) if self.area else None,
            "routes": list(self.routes),
            "vehicle_types": list(self.vehicle_types),
            "level": self.level,
            "groups": len(self.groups),
            "detail": self.detail,
        }

    def matches(self, vehicle: dict) -> bool:
        if self.vehicle_types and vehicle.get("vehicle_type") not in self.vehicle_types:
            return False
        if self.routes and vehicle.get("route_id") not in self.routes:
            return False
        return self.area is None or bbox_contains(self.area, vehicle["latitude"], vehicle["longitude"])


# -- tiles ---------------------------------------------------------------------------------------


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    """The Web Mercator tile (x, y) at zoom `z` that holds a point."""
    n = 1 << z
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    x = int((lon + 180.0) / 360.0 * n)
    rad = math.radians(lat)
    y = int((1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_bbox(x: int, y: int, z: int) -> BBox:
    n = 1 << z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y))


def tiles_covering(bbox: BBox, z: int) -> tuple[range, range]:
    """The tile columns and rows at zoom `z` that cover `bbox`."""
    west, south, east, north = bbox
    x0, y0 = tile_of(north, west, z)
    x1, y1 = tile_of(south, east, z)
    return range(x0, x1 + 1), range(y0, y1 + 1)


def bbox_contains(bbox: BBox, lat: float, lon: float) -> bool:
    west, south, east, north = bbox
    return south <= lat <= north and west <= lon <= east


# -- group names ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def tile_group(z: int, x: int, y: int, vehicle_type: str | None = None, detail: int | None = None) -> str:
    name = f"{PREFIX}.z{z}.{x}.{y}"
    if vehicle_type:
        name = f"{name}.{vehicle_type}"
    return f"{name}.d{detail}" if detail else name


@functools.lru_cache(maxsize=256)
def world_group(vehicle_type: str | None = None, detail: int | None = None) -> str:
    name = f"{PREFIX}.all.{vehicle_type}" if vehicle_type else f"{PREFIX}.all"
    return f"{name}.d{detail}" if detail else name


_OURS = PREFIX + "."
_DETAIL = re.compile(r"\.d(\d+)$")


def detail_of(group: str) -> int | None:
    """The level of detail of a live-map group (tile_group, world_group, route_group): None for
    full detail."""
    if group.startswith(f"{PREFIX}.r."):  # a route id may end in ".d12" itself
        return None
    m = _DETAIL.search(group)
    return int(m.group(1)) if m else None


def route_group(route_id: str) -> str:
    if _PLAIN_ID.fullmatch(route_id):
        return f"{PREFIX}.r.k{route_id}"
    return f"{PREFIX}.r.h{hashlib.sha1(route_id.encode()).hexdigest()[:20]}"


def vehicle_groups(vehicle: dict) -> list[str]:
    """Every full-detail group a vehicle's change is published to."""
    return _full_groups(vehicle.get("vehicle_type"), vehicle.get("route_id"),
                        _tiles(vehicle["latitude"], vehicle["longitude"]))


def _tiles(lat: float, lon: float) -> list[tuple[int, int, int]]:
    return [(z, *tile_of(lat, lon, z)) for z in LEVELS]


def _full_groups(vtype: str | None, route_id: str | None, tiles: list[tuple[int, int, int]]) -> list[str]:
    groups = [world_group(), world_group(vtype)]
    for z, x, y in tiles:
        groups.append(tile_group(z, x, y))
        groups.append(tile_group(z, x, y, vtype))
    if route_id:
        groups.append(route_group(route_id))
    return groups


def _detail_groups(vtype: str | None, tiles: list[tuple[int, int, int]], detail: int) -> list[str]:
    groups = [world_group(None, detail), world_group(vtype, detail)]
    for z, x, y in tiles:
        if detail in DETAIL_BY_LEVEL[z]:
            groups.append(tile_group(z, x, y, None, detail))
            groups.append(tile_group(z, x, y, vtype, detail))
    return groups


def punctuality(delay_seconds: int | None) -> str:
    """The map's colour class of a schedule deviation."""
    if delay_seconds is None:
        return "unknown"
    if delay_seconds > LATE_SECONDS:
        return "late"
    return "early" if delay_seconds < EARLY_SECONDS else "on_time"


class VehicleRouter:
    """The groups each vehicle goes to this tick: the publisher's `targets` for live-map rows
    (transit.selectors.vehicle_row). Every change goes to the full-detail groups; a detail class's
    groups get it when it is due there (see the module docstring). A vehicle that left a group
    (another tile, route or type) is sent there once more, in each class, when next sent."""

    def __init__(self, fields: Sequence[str], *, pixels: float = DETAIL_PIXELS,
                 refresh: float = DETAIL_REFRESH_SECONDS, forget_after: float = 600.0):
        """`fields`: the names of a row's positions (transit.selectors.ROW_FIELDS)."""
        self.refresh = refresh
        self.forget_after = forget_after
        # a move is due at zoom c when it is `pixels` long there: in degrees of longitude, and of
        # latitude over cos(latitude) (Web Mercator's pixels are square), 360 / 256 / 2^c each
        self._threshold = {c: (pixels * 360.0 / 256.0 / 2**c) ** 2 for c in DETAIL_ZOOMS}
        self._full = GroupTracker(forget_after=forget_after)  # the full-detail groups, as any publisher's
        self._sent: dict[int, dict[Hashable, tuple]] = {c: {} for c in DETAIL_ZOOMS}
        self._swept = 0.0
        self._watch_full, self._watch_details = True, DETAIL_ZOOMS  # what watch() says is watched
        i = {name: n for n, name in enumerate(fields)}
        self._at = (i["vehicle_type"], i["route_id"], i["trip_id"], i["latitude"], i["longitude"], i["status"],
                    i["next_stop_id"], i["delay_seconds"])

    def watch(self, groups: set[str] | None) -> None:
        """The groups with members now (None: unknown, route to all): a level of detail nobody
        watches is not routed this tick (routing every vehicle to every level was most of a tick).
        When somebody joins one, its vehicles are due again (older than a refresh) or were in its
        snapshot."""
        if groups is None:
            self._watch_full, self._watch_details = True, DETAIL_ZOOMS
            return
        levels = {detail_of(g) for g in groups if g.startswith(_OURS)}
        self._watch_full = None in levels
        self._watch_details = tuple(d for d in DETAIL_ZOOMS if d in levels)

    def __call__(self, key: Hashable, row: list, now: float) -> Iterable[str]:
        t, r, trip, la, lo, st, nx, dl = self._at
        vtype, route_id, lat, lon, delay = row[t], row[r], row[la], row[lo], row[dl]
        tiles = _tiles(lat, lon)
        if self._watch_full:
            targets = list(self._full.route(key, tuple(_full_groups(vtype, route_id, tiles)), now))
        else:
            targets = []
        if not self._watch_details:
            return targets
        shown = (vtype, route_id, row[trip], row[st], row[nx], punctuality(delay))
        inverse_cos = 1.0 / max(0.01, math.cos(math.radians(lat)))
        # each vehicle its own refresh period, 0.75 to 1.25 times `refresh`: vehicles first seen
        # together (a restart) and standing still are not all refreshed in the same tick forever
        refresh = self.refresh * (0.75 + (zlib.crc32(str(key).encode()) % 1000) / 2000)
        for detail in self._watch_details:
            sent = self._sent[detail]
            last = sent.get(key)
            if last is not None and last[2] == shown and now < last[3] + refresh:
                dlon, dlat = lon - last[0], (lat - last[1]) * inverse_cos
                if dlon * dlon + dlat * dlat < self._threshold[detail]:
                    continue
            here = _detail_groups(vtype, tiles, detail)
            sent[key] = (lon, lat, shown, now, here)
            targets.extend(here)
            if last is not None and last[4] != here:
                targets.extend(g for g in last[4] if g not in here)
        return targets

    def sweep(self, now: float) -> None:
        """Forget vehicles not seen for `forget_after` seconds (called once per tick)."""
        self._full.sweep(now)
        if now - self._swept <= self.forget_after:
            return
        self._swept = now
        for detail, sent in self._sent.items():
            self._sent[detail] = {k: v for k, v in sent.items() if now - v[3] <= self.forget_after}


# -- subscriptions -------------------------------------------------------------------------------


def subscription_parse(message: dict) -> Subscription:
    """A `{"type": "subscribe", "bbox": [w, s, e, n], "routes": [...], "vehicle_types": [...]}` message."""
    if not isinstance(message, dict):
        raise SubscriptionError("a subscription is a JSON object")
    return Subscription(
        bbox=_bbox(message.get("bbox")),
        routes=_strings(message.get("routes"), "routes"),
        vehicle_types=_types(_strings(message.get("vehicle_types"), "vehicle_types")),
        zoom=_zoom(message.get("zoom")),
    )


def subscription_from_query(query_string: bytes | str) -> Subscription:
    """The same from a socket URL: `?bbox=w,s,e,n&route=10&route=T1&type=tram`."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    query = parse_qs(query_string)
    bbox = query.get("bbox", [None])[-1]
    if bbox is not None:
        try:
            bbox = [float(v) for v in bbox.split(",")]
        except ValueError:
            raise SubscriptionError("bbox must be four numbers: west,south,east,north") from None
    zoom = query.get("zoom", [None])[-1]
    if zoom is not None:
        try:
            zoom = float(zoom)
        except ValueError:
            raise SubscriptionError("zoom must be a number") from None
    return subscription_parse({"bbox": bbox, "routes": query.get("route", []), "vehicle_types": query.get("type", []),
                               "zoom": zoom})


def subscription_plan(sub: Subscription) -> Plan:
    """The groups to join for a subscription (see the module docstring)."""
    types = () if set(sub.vehicle_types) >= set(VEHICLE_TYPES) else sub.vehicle_types
    if sub.routes and len(sub.routes) <= MAX_ROUTES:
        groups = tuple(dict.fromkeys(route_group(r) for r in sub.routes))
        return Plan(groups, None, sub.routes, types, "routes", sub.bbox)
    if sub.bbox is not None:
        for z in LEVELS:
            xs, ys = tiles_covering(sub.bbox, z)
            if len(xs) * len(ys) <= MAX_TILES:
                detail = detail_class(z, sub.zoom)
                groups = tuple(tile_group(z, x, y, t, detail) for x in xs for y in ys for t in (types or (None,)))
                west, _, _, north = tile_bbox(xs[0], ys[0], z)
                _, south, east, _ = tile_bbox(xs[-1], ys[-1], z)
                return Plan(groups, (west, south, east, north), sub.routes, types, f"z{z}", sub.bbox, detail)
    detail = detail_class(None, sub.zoom)
    groups = tuple(world_group(t, detail) for t in (types or (None,)))
    return Plan(groups, None, sub.routes, types, "world", sub.bbox, detail)


def detail_class(level: int | None, zoom: float | None) -> int | None:
    """The detail class for a map at `zoom` on tiles of `level` (None: the world): the coarsest class
    of that level that still draws a move of DETAIL_PIXELS at that zoom; None: every change."""
    if zoom is None or zoom >= FULL_DETAIL_ZOOM:
        return None
    wanted = max(math.floor(zoom), DETAIL_ZOOMS[-1])
    finer = [c for c in DETAIL_BY_LEVEL[level] if c >= wanted]
    return min(finer) if finer else None


def _bbox(value) -> BBox | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise SubscriptionError("bbox must be [west, south, east, north]")
    try:
        west, south, east, north = (float(v) for v in value)
    except (TypeError, ValueError):
        raise SubscriptionError("bbox must be four numbers") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise SubscriptionError("bbox must be finite numbers")
    if not (-90 <= south <= north <= 90):
        raise SubscriptionError("bbox latitudes must satisfy -90 <= south <= north <= 90")
    if east - west >= 360:
        return None  # the whole world
    west, east = _wrap(west), _wrap(east)
    if west > east:  # across the antimeridian: the whole band (rare on a city map)
        west, east = -180.0, 180.0
    return (west, south, east, north)


def _wrap(lon: float) -> float:
    """A longitude in [-180, 180] (maps report 190° after panning round the world)."""
    if -180 <= lon <= 180:
        return lon
    return (lon + 180) % 360 - 180


def _strings(value, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SubscriptionError(f"{name} must be a list of strings")
    if len(value) > MAX_LIST:
        raise SubscriptionError(f"{name} may hold at most {MAX_LIST} entries")
    if any(not v or len(v) > 128 for v in value):
        raise SubscriptionError(f"{name} entries must be 1 to 128 characters")
    return tuple(dict.fromkeys(value))


def _zoom(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_ZOOM:
        raise SubscriptionError(f"zoom must be a number from 0 to {MAX_ZOOM}")
    return float(value)


def _types(values: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [v for v in values if v not in VEHICLE_TYPES]
    if unknown:
        raise SubscriptionError(f"unknown vehicle type {unknown[0]!r}; known: {', '.join(VEHICLE_TYPES)}")
    return values
