"""Small geometry for the map's network layer (plain Python)."""

from __future__ import annotations

import math

EARTH_M = 6_371_000.0

LatLon = tuple[float, float]


def simplify(points: list[LatLon], tolerance_m: float = 5.0) -> list[LatLon]:
    """Douglas–Peucker: drop points closer than `tolerance_m` to the line through their neighbours.

    A route shape of thousands of GPS points draws the same with a few hundred, and the network
    payload shrinks accordingly. The first and last points are always kept.
    """
    if len(points) < 3:
        return list(points)
    lat0 = math.radians(sum(p[0] for p in points) / len(points))
    kx, ky = math.cos(lat0) * math.pi / 180 * EARTH_M, math.pi / 180 * EARTH_M
    xy = [(p[1] * kx, p[0] * ky) for p in points]
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    tol2 = tolerance_m * tolerance_m
    while stack:
        first, last = stack.pop()
        ax, ay = xy[first]
        bx, by = xy[last]
        dx, dy = bx - ax, by - ay
        norm = dx * dx + dy * dy
        worst, worst_d = -1, tol2
        for i in range(first + 1, last):
            px, py = xy[i]
            if norm == 0:
                d = (px - ax) ** 2 + (py - ay) ** 2
            else:
                t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / norm))
                d = (px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2
            if d > worst_d:
                worst, worst_d = i, d
        if worst >= 0:
            keep[worst] = True
            stack.append((first, worst))
            stack.append((worst, last))
    return [(round(p[0], 6), round(p[1], 6)) for p, k in zip(points, keep) if k]
