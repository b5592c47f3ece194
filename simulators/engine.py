"""The simulation: a fleet on the built-in city, a simulated clock, one report per vehicle per tick."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from streamcity.schemas import VEHICLE_LOCATIONS, VehicleLocation, encode

from .city import Line, built_in_city
from .vehicles import Vehicle


@dataclass
class SimClock:
    """Simulated time: `start` plus wall seconds elapsed times `speed`."""

    start: dt.datetime
    speed: float = 1.0
    elapsed_s: float = 0.0  # simulated seconds

    def advance(self, wall_seconds: float) -> float:
        step = wall_seconds * self.speed
        self.elapsed_s += step
        return step

    @property
    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.elapsed_s)


def build_fleet(lines: list[Line], vehicles: int, rng: random.Random) -> list[Vehicle]:
    """`vehicles` vehicles spread evenly over the lines, half in each direction."""
    fleet = []
    weights = [1 if l.vehicle_type != "rail" else 0.5 for l in lines]
    per_line = [max(1, round(vehicles * w / sum(weights))) for w in weights]
    while sum(per_line) > vehicles and max(per_line) > 1:
        per_line[per_line.index(max(per_line))] -= 1
    i = 0
    while sum(per_line) < vehicles:
        per_line[i % len(per_line)] += 1
        i += 1
    for line, n in zip(lines, per_line):
        for k in range(n):
            fleet.append(
                Vehicle(
                    vehicle_id=f"{line.route_id}-{k + 1:03d}",
                    line=line,
                    distance=line.path.length * (k + rng.random() * 0.5) / n,
                    forward=k % 2 == 0,
                    passengers=rng.randint(0, line.capacity // 3),
                )
            )
    return fleet[:vehicles]


class Simulation:
    def __init__(self, *, vehicles: int = 60, seed: int = 7, start: dt.datetime | None = None, speed: float = 1.0):
        self.rng = random.Random(seed)
        self.lines = built_in_city(seed)
        self.fleet = build_fleet(self.lines, vehicles, self.rng)
        self.clock = SimClock(start or dt.datetime.now(dt.timezone.utc), speed)

    def tick(self, wall_seconds: float) -> list[VehicleLocation]:
        """Advance the world and return one report per vehicle."""
        step = self.clock.advance(wall_seconds)
        now = self.clock.now
        reports = []
        for v in self.fleet:
            v.step(step, self.rng)
            reports.append(v.report(now))
        return reports

    def publish(self, bus, reports: list[VehicleLocation]) -> None:
        for r in reports:
            bus.produce(VEHICLE_LOCATIONS.name, r.vehicle_id, encode(r))
