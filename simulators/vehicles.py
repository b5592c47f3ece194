"""Vehicle physics of the first simulator: drive along a line, stop at its stops, turn at the ends.

Pure Python on dataclasses, deterministic for a given random generator.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from dataclasses import dataclass

from streamcity.schemas import VehicleLocation, utc

from .city import Line

ACCELERATION = 1.0  # m/s²
BRAKING = 1.3  # m/s²
LAYOVER_S = 60.0


@dataclass
class Vehicle:
    vehicle_id: str
    line: Line
    distance: float
    forward: bool
    speed: float = 0.0
    target_speed: float = 0.0
    dwell_left: float = 0.0
    passengers: int = 0
    last_stop: int | None = None  # index into line.stops of the last stop served

    def next_stop_index(self) -> int | None:
        stops = self.line.stops
        if self.forward:
            i = bisect.bisect_right(stops, self.distance + 0.5)
            return i if i < len(stops) else None
        i = bisect.bisect_left(stops, self.distance - 0.5) - 1
        return i if i >= 0 else None

    def step(self, dt_s: float, rng: random.Random) -> None:
        """Advance the vehicle by `dt_s` seconds of simulated time."""
        while dt_s > 1e-9:
            if self.dwell_left > 0:
                used = min(self.dwell_left, dt_s)
                self.dwell_left -= used
                dt_s -= used
                continue
            nxt = self.next_stop_index()
            if nxt is None:  # terminal: lay over, then run the other way
                self.forward = not self.forward
                self.dwell_left = LAYOVER_S
                self.passengers = 0
                continue
            gap = abs(self.line.stops[nxt] - self.distance)
            if self.target_speed == 0 or rng.random() < 0.02:
                self.target_speed = self.line.cruise_mps * rng.uniform(0.7, 1.15)
            # brake to stop at the next stop, otherwise accelerate towards the target speed
            stopping = (self.speed**2) / (2 * BRAKING)
            if gap <= stopping + 1:
                self.speed = max(1.0, self.speed - BRAKING * dt_s)
            else:
                self.speed = min(self.target_speed, self.speed + ACCELERATION * dt_s)
            move = self.speed * dt_s
            if move >= gap:
                dt_s -= gap / max(self.speed, 0.1)
                self.distance = self.line.stops[nxt]
                self._serve_stop(nxt, rng)
            else:
                self.distance += move if self.forward else -move
                dt_s = 0

    def _serve_stop(self, index: int, rng: random.Random) -> None:
        self.speed = 0.0
        self.last_stop = index
        alighting = min(self.passengers, int(self.passengers * rng.uniform(0.05, 0.3)))
        boarding = min(self.line.capacity - self.passengers + alighting, rng.randint(0, self.line.capacity // 10))
        self.passengers += boarding - alighting
        self.dwell_left = 8 + 2.0 * (boarding + alighting) ** 0.8

    def report(self, now: dt.datetime) -> VehicleLocation:
        lat, lon = self.line.path.at(self.distance)
        nxt = self.next_stop_index()
        seq = None if self.last_stop is None else (self.last_stop + 1 if self.forward else len(self.line.stops) - self.last_stop)
        return VehicleLocation(
            vehicle_id=self.vehicle_id,
            vehicle_type=self.line.vehicle_type,
            route_id=self.line.route_id,
            trip_id=f"{self.line.route_id}-{'out' if self.forward else 'back'}",
            latitude=round(lat, 6),
            longitude=round(lon, 6),
            bearing=round(self.line.path.bearing_at(self.distance, self.forward), 1),
            speed=round(self.speed if self.dwell_left <= 0 else 0.0, 2),
            passenger_count=self.passengers,
            capacity=self.line.capacity,
            status="in_service",
            stop_sequence=seq,
            next_stop_id=self.line.stop_ids[nxt] if nxt is not None else None,
            timestamp=utc(now),
        )
