"""A synthetic fleet for measuring the live map: any number of vehicles moving smoothly.

Plain Python. Each vehicle drives round its own loop (an ellipse with a wiggle) near a centre
at a steady speed, so a map can be fed thousands of moving vehicles without a network or a
timetable. It is a load generator for `manage.py mapbenchmark`, not a simulation of a city.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from streamcity.kernel.schemas import LiveVehicle

M_PER_DEG_LAT = 111_320.0
# type: (share of the fleet, speed m/s, capacity)
KINDS = {"bus": (0.7, 8.0, 80), "tram": (0.15, 7.0, 180), "rail": (0.1, 16.0, 600), "ferry": (0.05, 5.0, 300)}


@dataclass
class _Vehicle:
    vehicle_id: str
    vehicle_type: str
    route_id: str
    rx: float  # loop radii, metres
    ry: float
    cx: float  # loop centre offset from the fleet centre, metres
    cy: float
    phase: float  # radians round the loop
    speed: float  # metres per second
    capacity: int
    passengers: int
    delay: int
    broken: bool = False


class SyntheticFleet:
    def __init__(self, *, vehicles: int, centre: tuple[float, float] = (52.37, 4.90), radius_m: float = 6000,
                 routes: int = 40, seed: int = 7):
        self.rng = random.Random(seed)
        self.centre = centre
        self.m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(centre[0]))
        kinds = list(KINDS)
        weights = [KINDS[k][0] for k in kinds]
        self.fleet = []
        for i in range(vehicles):
            kind = self.rng.choices(kinds, weights)[0]
            _, speed, capacity = KINDS[kind]
            rx = self.rng.uniform(0.15, 0.6) * radius_m
            self.fleet.append(_Vehicle(
                vehicle_id=f"syn-{i + 1:05d}", vehicle_type=kind,
                route_id=f"{kind[0].upper()}{self.rng.randrange(routes) + 1}",
                rx=rx, ry=rx * self.rng.uniform(0.5, 1.2),
                cx=self.rng.uniform(-0.4, 0.4) * radius_m, cy=self.rng.uniform(-0.4, 0.4) * radius_m,
                phase=self.rng.uniform(0, 2 * math.pi), speed=speed * self.rng.uniform(0.7, 1.3),
                capacity=capacity, passengers=self.rng.randrange(capacity), delay=self.rng.randint(-90, 400),
            ))

    def tick(self, seconds: float, now: dt.datetime) -> list[LiveVehicle]:
        """Move every vehicle `seconds` along its loop; one report each."""
        out = []
        for v in self.fleet:
            if self.rng.random() < 0.0005:
                v.broken = not v.broken
            if not v.broken:
                # arc length per radian on an ellipse, roughly: the mean radius
                v.phase += seconds * v.speed / ((v.rx + v.ry) / 2)
            v.delay += self.rng.randint(-3, 4)
            v.passengers = max(0, min(v.capacity, v.passengers + self.rng.randint(-3, 3)))
            wiggle = 40 * math.sin(5 * v.phase)
            x = v.cx + (v.rx + wiggle) * math.cos(v.phase)
            y = v.cy + (v.ry + wiggle) * math.sin(v.phase)
            dx = -v.rx * math.sin(v.phase)  # direction of travel
            dy = v.ry * math.cos(v.phase)
            bearing = math.degrees(math.atan2(dx, dy)) % 360
            out.append(LiveVehicle(
                vehicle_id=v.vehicle_id, vehicle_type=v.vehicle_type, route_id=v.route_id,
                trip_id=f"{v.route_id}-trip", latitude=self.centre[0] + y / M_PER_DEG_LAT,
                longitude=self.centre[1] + x / self.m_per_deg_lon, bearing=round(bearing, 1),
                speed=0.0 if v.broken else v.speed, passenger_count=v.passengers, capacity=v.capacity,
                status="broken_down" if v.broken else "in_service", delay_seconds=v.delay, timestamp=now,
            ))
        return out
