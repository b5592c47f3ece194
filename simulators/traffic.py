"""Road traffic: time-of-day congestion and incidents (accident, road closure, heavy traffic).

An incident has a place, a radius, a severity 1-5 and a lifecycle (active, then cleared); road
vehicles inside its radius slow down by a factor that depends on its type and severity. Pure Python.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .geo import EARTH_RADIUS_M

# Vehicle types that share the road with cars; tram is partly on its own track.
ROAD_EXPOSURE = {"bus": 1.0, "tram": 0.6, "other": 1.0, "cable": 0.3}

# Speed factor of road traffic by local hour (0-23): free-flowing at night, slow in the peaks.
CONGESTION = [1.0, 1.0, 1.0, 1.0, 1.0, 0.98, 0.93, 0.82, 0.78, 0.88, 0.92, 0.91,
              0.9, 0.91, 0.9, 0.86, 0.8, 0.78, 0.85, 0.92, 0.95, 0.97, 0.99, 1.0]

INCIDENT_TYPES = ("heavy_traffic", "accident", "road_closure")
_TYPE_WEIGHTS = (0.5, 0.35, 0.15)
_DURATION_MIN = {"heavy_traffic": (20, 60), "accident": (15, 45), "road_closure": (30, 90)}
_DESCRIPTIONS = {
    "heavy_traffic": "Heavy traffic",
    "accident": "Collision blocking a lane",
    "road_closure": "Road closed, vehicles diverted",
}


@dataclass
class Incident:
    incident_id: str
    type: str
    lat: float
    lon: float
    radius: float  # metres
    severity: int  # 1-5
    start: float  # POSIX seconds (simulated)
    end: float
    description: str = ""
    status: str = "active"

    @property
    def speed_factor(self) -> float:
        """What a road vehicle's speed is multiplied by inside the radius."""
        if self.type == "road_closure":
            return 0.12  # crawling through a diversion
        if self.type == "accident":
            return max(0.2, 1.0 - 0.16 * self.severity)
        return max(0.3, 1.0 - 0.12 * self.severity)

    def contains(self, lat: float, lon: float) -> bool:
        dy = math.radians(lat - self.lat) * EARTH_RADIUS_M
        dx = math.radians(lon - self.lon) * EARTH_RADIUS_M * math.cos(math.radians(self.lat))
        return dx * dx + dy * dy <= self.radius * self.radius


def congestion(local_hour: float, weekend: bool = False) -> float:
    """Road speed factor at a (fractional) local hour, interpolated between hours."""
    h = int(local_hour) % 24
    f = local_hour - int(local_hour)
    a, b = CONGESTION[h], CONGESTION[(h + 1) % 24]
    c = a + (b - a) * f
    return 1.0 - (1.0 - c) * 0.5 if weekend else c


class Traffic:
    """Active incidents, random new ones at `rate_per_hour`, and the speed factor at a place."""

    def __init__(self, rng: random.Random, *, rate_per_hour: float = 0.0, run_id: str = "sim"):
        self.rng = rng
        self.rate_per_hour = rate_per_hour
        self.run_id = run_id
        self.active: list[Incident] = []
        self._n = 0

    def add(self, *, type: str, lat: float, lon: float, radius: float, severity: int, start: float, duration_s: float,
            description: str = "") -> Incident:
        """Start an incident now (scripted, or from `random_incidents`)."""
        self._n += 1
        inc = Incident(f"{self.run_id}-inc{self._n}", type, lat, lon, radius, severity, start, start + duration_s,
                       description or _DESCRIPTIONS[type])
        self.active.append(inc)
        return inc

    def random_incidents(self, t0: float, t1: float, place) -> list[Incident]:
        """New incidents in [t0, t1) at places drawn by `place()` -> (lat, lon) or None."""
        out = []
        if self.rate_per_hour <= 0:
            return out
        expected = self.rate_per_hour * (t1 - t0) / 3600
        while self.rng.random() < expected:  # at most a few per tick; expected is small
            expected -= 1
            where = place()
            if where is None:
                break
            kind = self.rng.choices(INCIDENT_TYPES, _TYPE_WEIGHTS)[0]
            lo, hi = _DURATION_MIN[kind]
            out.append(self.add(type=kind, lat=where[0], lon=where[1], radius=self.rng.uniform(150, 450),
                                severity=self.rng.randint(2, 5), start=self.rng.uniform(t0, t1),
                                duration_s=self.rng.uniform(lo, hi) * 60))
        return out

    def clear_due(self, t: float) -> list[Incident]:
        """Incidents whose time is over, now cleared and no longer active."""
        done = [i for i in self.active if i.end <= t]
        for i in done:
            i.status = "cleared"
        self.active = [i for i in self.active if i.end > t]
        return done

    def factor_at(self, lat: float, lon: float, t: float) -> float:
        f = 1.0
        for inc in self.active:
            if inc.start <= t and inc.contains(lat, lon):
                f = min(f, inc.speed_factor)
        return f
