"""A synthetic city for the benchmark: routes, a timetable, a fleet on its trips, riders.

Plain Python (no Django, no Kafka). Each route is a straight line of stops through the city; its
vehicles are spread along it, each on a trip of its own with a scheduled arrival at every stop, some
of them late. A vehicle's report says where it is, the last stop it served and the next one, as a
real AVL feed does, so the processors do their real work (schedule deviation, delays, bunching).
Riders tap on at random stops, some stops busier than others (surges).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from streamcity.kernel.schemas import RiderTappedOn, StopSchedule, VehicleLocation

M_PER_DEG_LAT = 111_320.0
STOPS_PER_ROUTE = 20
LEG_SECONDS = 90.0  # scheduled time between two stops
VEHICLES_PER_ROUTE = 15  # London: about 9,000 buses on about 600 routes
LATENESS = (0.0, 0.0, 0.0, 0.0, 30.0, 120.0, 420.0)  # seconds a vehicle runs behind its timetable
CENTRE = (51.5074, -0.1278)
RADIUS_M = 9000.0


@dataclass(frozen=True, slots=True)
class Stop:
    stop_id: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Route:
    route_id: str
    stops: tuple[Stop, ...]


@dataclass(slots=True)
class Vehicle:
    vehicle_id: str
    route: Route
    trip_id: str
    trip_start: float  # epoch seconds of the scheduled departure from the first stop
    lateness: float
    capacity: int
    passengers: int
    broken: bool = False


class City:
    """`vehicles` vehicles on routes of STOPS_PER_ROUTE stops, timetabled from `start` (epoch s)."""

    def __init__(self, *, vehicles: int, start: float, seed: int = 7, prefix: str = "bench"):
        self.rng = random.Random(seed)
        self.start = start
        m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(CENTRE[0]))
        n_routes = max(1, math.ceil(vehicles / VEHICLES_PER_ROUTE))
        self.routes: list[Route] = []
        for r in range(n_routes):
            angle = self.rng.uniform(0, math.pi)
            offset = self.rng.uniform(-0.5, 0.5) * RADIUS_M
            half = self.rng.uniform(0.5, 1.0) * RADIUS_M
            stops = []
            for s in range(STOPS_PER_ROUTE):
                along = -half + 2 * half * s / (STOPS_PER_ROUTE - 1)
                x = along * math.cos(angle) - offset * math.sin(angle)
                y = along * math.sin(angle) + offset * math.cos(angle)
                lat, lon = CENTRE[0] + y / M_PER_DEG_LAT, CENTRE[1] + x / m_per_deg_lon
                stops.append(Stop(f"{prefix}-S{r}-{s + 1}", lat, lon))
            self.routes.append(Route(f"{prefix}-R{r}", tuple(stops)))
        self.stops = [s for route in self.routes for s in route.stops]
        self._hot = self.rng.sample(self.stops, max(1, len(self.stops) // 200))  # busy stops: surges
        trip_seconds = (STOPS_PER_ROUTE - 1) * LEG_SECONDS
        self.fleet: list[Vehicle] = []
        for i in range(vehicles):
            route = self.routes[i % n_routes]
            k, per_route = i // n_routes, math.ceil(vehicles / n_routes)
            self.fleet.append(Vehicle(
                vehicle_id=f"{prefix}-{i + 1:05d}", route=route, trip_id=f"{prefix}-T{i + 1}",
                trip_start=start - trip_seconds * (k + 0.5) / per_route * 0.8,  # spread along the route
                lateness=self.rng.choice(LATENESS), capacity=80, passengers=self.rng.randrange(60),
            ))
        self._taps = 0
        self.bbox = (
            min(s.longitude for s in self.stops), min(s.latitude for s in self.stops),
            max(s.longitude for s in self.stops), max(s.latitude for s in self.stops),
        )

    def schedule(self) -> list[StopSchedule]:
        """Every vehicle's trip: the scheduled arrival at each of its stops."""
        out = []
        for v in self.fleet:
            day = dt.datetime.fromtimestamp(v.trip_start, dt.timezone.utc)
            for s, stop in enumerate(v.route.stops):
                out.append(StopSchedule(
                    trip_id=v.trip_id, stop_sequence=s + 1, stop_id=stop.stop_id, route_id=v.route.route_id,
                    scheduled_arrival=day + dt.timedelta(seconds=s * LEG_SECONDS), service_date=day.date(),
                ))
        return out

    def report(self, v: Vehicle, now: float, timestamp: dt.datetime) -> VehicleLocation:
        """Where `v` is at `now` (epoch s), stamped `timestamp`."""
        rng = self.rng
        if rng.random() < 0.0002:
            v.broken = not v.broken
        stops = v.route.stops
        progress = (now - v.trip_start - v.lateness) / LEG_SECONDS
        progress = min(max(progress, 0.0), len(stops) - 1.0)
        i = min(int(progress), len(stops) - 2)
        f = progress - i
        a, b = stops[i], stops[i + 1]
        served = int(progress) + 1
        v.passengers = min(v.capacity, max(0, v.passengers + rng.randint(-2, 2)))
        moving = not v.broken and served < len(stops)
        return VehicleLocation(
            vehicle_id=v.vehicle_id, vehicle_type="bus", route_id=v.route.route_id, trip_id=v.trip_id,
            latitude=a.latitude + (b.latitude - a.latitude) * f,
            longitude=a.longitude + (b.longitude - a.longitude) * f,
            bearing=_bearing(a, b), speed=8.0 if moving else 0.0, passenger_count=v.passengers, capacity=v.capacity,
            status="broken_down" if v.broken else "in_service", stop_sequence=served,
            next_stop_id=stops[served].stop_id if served < len(stops) else None, timestamp=timestamp,
        )

    def tap(self, timestamp: dt.datetime) -> RiderTappedOn:
        """One rider tapping on at a stop; one tap in ten at one of the busy stops."""
        self._taps += 1
        stop = self.rng.choice(self._hot) if self.rng.random() < 0.1 else self.rng.choice(self.stops)
        return RiderTappedOn(
            event_id=f"tap-{self._taps}", rider_id=f"rider-{self.rng.randrange(1_000_000)}", stop_id=stop.stop_id,
            latitude=stop.latitude, longitude=stop.longitude, timestamp=timestamp,
        )


def _bearing(a: Stop, b: Stop) -> float:
    dx = (b.longitude - a.longitude) * math.cos(math.radians(a.latitude))
    dy = b.latitude - a.latitude
    return round(math.degrees(math.atan2(dx, dy)) % 360, 1)
