"""The built-in city: lines with curved paths, stops and cruise speeds, generated from a seed.

A stand-in network so StreamCity runs with no download. (The GTFS-driven twin replaces it.)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .geo import LatLon, Polyline, offset

CITY_CENTRE: LatLon = (52.370, 4.900)


@dataclass(frozen=True)
class Line:
    route_id: str
    name: str
    vehicle_type: str  # bus / tram / rail
    color: str
    path: Polyline
    stops: tuple[float, ...]  # distances of the stops along the path
    stop_ids: tuple[str, ...]
    cruise_mps: float
    capacity: int


_KINDS = {
    # type: (count, cruise m/s, stop spacing m, capacity, radius m)
    "bus": (8, 9.0, 450, 80, 4500),
    "tram": (3, 8.0, 550, 180, 3800),
    "rail": (1, 20.0, 2200, 600, 9000),
}
_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#9a6324", "#800000", "#008080", "#000075", "#808000"]


def _curved_path(rng: random.Random, radius: float) -> list[LatLon]:
    """A quadratic Bézier from one edge of the city through the centre area to the other side."""
    a = rng.uniform(0, 2 * math.pi)
    b = a + math.pi + rng.uniform(-0.8, 0.8)
    p0 = (radius * math.cos(a), radius * math.sin(a))
    p2 = (radius * math.cos(b), radius * math.sin(b))
    c = (rng.uniform(-0.35, 0.35) * radius, rng.uniform(-0.35, 0.35) * radius)
    pts = []
    for i in range(81):
        t = i / 80
        x = (1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * c[0] + t**2 * p2[0]
        y = (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * c[1] + t**2 * p2[1]
        # a gentle wiggle, as streets are not Bézier curves
        w = 60 * math.sin(t * 17 + a)
        pts.append(offset(CITY_CENTRE, y + w, x - w))
    return pts


def built_in_city(seed: int = 7) -> list[Line]:
    rng = random.Random(seed)
    lines = []
    n = 0
    for kind, (count, cruise, spacing, capacity, radius) in _KINDS.items():
        for i in range(count):
            path = Polyline(_curved_path(rng, radius))
            stops = tuple(d * spacing for d in range(int(path.length // spacing) + 1))
            if path.length - stops[-1] > spacing / 3:
                stops += (path.length,)
            prefix = {"bus": "", "tram": "T", "rail": "R"}[kind]
            route_id = f"{prefix}{i + 1 if kind != 'bus' else 10 * (i + 1)}"
            lines.append(
                Line(
                    route_id=route_id,
                    name=f"{kind.title()} {route_id}",
                    vehicle_type=kind,
                    color=_COLOURS[n % len(_COLOURS)],
                    path=path,
                    stops=stops,
                    stop_ids=tuple(f"{route_id}-S{j + 1:02d}" for j in range(len(stops))),
                    cruise_mps=cruise,
                    capacity=capacity,
                )
            )
            n += 1
    return lines
