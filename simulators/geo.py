"""Plain geometry on WGS84 coordinates: distances, bearings, positions along a polyline."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

EARTH_RADIUS_M = 6_371_008.8

LatLon = tuple[float, float]


def haversine_m(a: LatLon, b: LatLon) -> float:
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bearing_deg(a: LatLon, b: LatLon) -> float:
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360.0


def offset(origin: LatLon, north_m: float, east_m: float) -> LatLon:
    """The point `north_m` metres north and `east_m` metres east of `origin`."""
    lat, lon = origin
    dlat = north_m / EARTH_RADIUS_M
    dlon = east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat)))
    return lat + math.degrees(dlat), lon + math.degrees(dlon)


class Polyline:
    """A path with cumulative distances, for positions and bearings at a distance along it."""

    __slots__ = ("points", "cumulative", "length")

    def __init__(self, points: Sequence[LatLon]):
        if len(points) < 2:
            raise ValueError("a polyline needs at least two points")
        self.points = list(points)
        self.cumulative = [0.0]
        for a, b in zip(self.points, self.points[1:]):
            self.cumulative.append(self.cumulative[-1] + haversine_m(a, b))
        self.length = self.cumulative[-1]

    def _segment(self, distance: float) -> int:
        i = bisect.bisect_right(self.cumulative, distance) - 1
        return min(max(i, 0), len(self.points) - 2)

    def at(self, distance: float) -> LatLon:
        """The position `distance` metres from the start (clamped to the ends)."""
        distance = min(max(distance, 0.0), self.length)
        i = self._segment(distance)
        seg = self.cumulative[i + 1] - self.cumulative[i]
        t = 0.0 if seg == 0 else (distance - self.cumulative[i]) / seg
        (lat1, lon1), (lat2, lon2) = self.points[i], self.points[i + 1]
        return lat1 + (lat2 - lat1) * t, lon1 + (lon2 - lon1) * t

    def bearing_at(self, distance: float, forward: bool = True) -> float:
        i = self._segment(min(max(distance, 0.0), self.length))
        a, b = self.points[i], self.points[i + 1]
        return bearing_deg(a, b) if forward else bearing_deg(b, a)

    def distance_to(self, point: LatLon) -> float:
        """Metres from `point` to the nearest point of the line (local flat projection)."""
        lat0 = math.radians(point[0])
        kx = math.cos(lat0) * math.pi / 180 * EARTH_RADIUS_M
        ky = math.pi / 180 * EARTH_RADIUS_M
        px, py = point[1] * kx, point[0] * ky
        best = math.inf
        for (lat1, lon1), (lat2, lon2) in zip(self.points, self.points[1:]):
            ax, ay, bx, by = lon1 * kx, lat1 * ky, lon2 * kx, lat2 * ky
            dx, dy = bx - ax, by - ay
            seg2 = dx * dx + dy * dy
            t = 0.0 if seg2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / seg2))
            best = min(best, math.hypot(px - ax - t * dx, py - ay - t * dy))
        return best

    def project(self, point: LatLon) -> float:
        """The distance along the line of the vertex nearest to `point` (coarse, for stop placement)."""
        best = min(range(len(self.points)), key=lambda i: haversine_m(self.points[i], point))
        return self.cumulative[best]
