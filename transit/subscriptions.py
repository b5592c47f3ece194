"""Live map subscriptions: which Channels groups carry which vehicles.

Plain Python (no Django, no Kafka). A frame is encoded once per group per tick, so the groups are
fixed in advance and shared by every client:

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
"""

from __future__ import annotations

import hashlib
import math
import re
import typing
from dataclasses import dataclass
from urllib.parse import parse_qs

from streamcity.schemas import VehicleType

PREFIX = "live"
LEVELS = (13, 10, 7)  # tile zoom levels, finest first (z13 tiles are about 3 x 3 km at 52°N)
MAX_TILES = 24  # tiles of one level a client may join before it falls back to a coarser level
MAX_ROUTES = 60  # route groups a client may join; more routes: tiles (filtered in the browser)
MAX_LIST = 500  # entries accepted in a subscription's routes or vehicle_types
VEHICLE_TYPES: tuple[str, ...] = typing.get_args(VehicleType)
MAX_LAT = 85.0511287798  # Web Mercator's limit

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


@dataclass(frozen=True)
class Plan:
    """The groups a subscription joins, and the area their frames and snapshot cover."""

    groups: tuple[str, ...]
    area: BBox | None  # None: everywhere
    routes: tuple[str, ...] = ()
    vehicle_types: tuple[str, ...] = ()
    level: str = "world"  # "z13" / "z10" / "z7", "routes" or "world"
    bbox: BBox | None = None  # as asked

    def describe(self) -> dict:
        """What the client is told about its subscription (it filters frames with this)."""
        return {
            "bbox": list(self.bbox) if self.bbox else None,
            "area": list(self.area) if self.area else None,
            "routes": list(self.routes),
            "vehicle_types": list(self.vehicle_types),
            "level": self.level,
            "groups": len(self.groups),
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


def tile_group(z: int, x: int, y: int, vehicle_type: str | None = None) -> str:
    name = f"{PREFIX}.z{z}.{x}.{y}"
    return f"{name}.{vehicle_type}" if vehicle_type else name


def world_group(vehicle_type: str | None = None) -> str:
    return f"{PREFIX}.all.{vehicle_type}" if vehicle_type else f"{PREFIX}.all"


def route_group(route_id: str) -> str:
    if _PLAIN_ID.fullmatch(route_id):
        return f"{PREFIX}.r.k{route_id}"
    return f"{PREFIX}.r.h{hashlib.sha1(route_id.encode()).hexdigest()[:20]}"


def vehicle_groups(vehicle: dict) -> list[str]:
    """Every group a vehicle's change is published to."""
    vtype = vehicle.get("vehicle_type")
    lat, lon = vehicle["latitude"], vehicle["longitude"]
    groups = [world_group(), world_group(vtype)]
    for z in LEVELS:
        x, y = tile_of(lat, lon, z)
        groups.append(tile_group(z, x, y))
        groups.append(tile_group(z, x, y, vtype))
    if vehicle.get("route_id"):
        groups.append(route_group(vehicle["route_id"]))
    return groups


# -- subscriptions -------------------------------------------------------------------------------


def subscription_parse(message: dict) -> Subscription:
    """A `{"type": "subscribe", "bbox": [w, s, e, n], "routes": [...], "vehicle_types": [...]}` message."""
    if not isinstance(message, dict):
        raise SubscriptionError("a subscription is a JSON object")
    return Subscription(
        bbox=_bbox(message.get("bbox")),
        routes=_strings(message.get("routes"), "routes"),
        vehicle_types=_types(_strings(message.get("vehicle_types"), "vehicle_types")),
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
    return subscription_parse({"bbox": bbox, "routes": query.get("route", []), "vehicle_types": query.get("type", [])})


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
                groups = tuple(tile_group(z, x, y, t) for x in xs for y in ys for t in (types or (None,)))
                west, _, _, north = tile_bbox(xs[0], ys[0], z)
                _, south, east, _ = tile_bbox(xs[-1], ys[-1], z)
                return Plan(groups, (west, south, east, north), sub.routes, types, f"z{z}", sub.bbox)
    groups = tuple(world_group(t) for t in (types or (None,)))
    return Plan(groups, None, sub.routes, types, "world", sub.bbox)


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


def _types(values: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [v for v in values if v not in VEHICLE_TYPES]
    if unknown:
        raise SubscriptionError(f"unknown vehicle type {unknown[0]!r}; known: {', '.join(VEHICLE_TYPES)}")
    return values
