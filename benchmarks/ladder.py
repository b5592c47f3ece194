"""One busy route for measuring the route ladder: a timetable as GTFS and a fleet working it.

Plain Python (writing the feed uses transit.gtfs's writer). The route runs both ways along a gently
curving road through the map's centre: `stops` stops a direction (each direction has its own stops,
across the road from the other's, every fifth one a timepoint), `leg_s` seconds between two stops, a
trip each way every (2 x trip time / vehicles) seconds from 04:00 to midnight, each bus working one
block (out, back, out, ...). So about half of the `vehicles` are on each direction at any time,
spread evenly; each runs a little early or late (neighbours alike), now and then one several minutes
late with the buses behind it caught up and bunched, so the ladder shows gaps, bunches and the odd
ghost bus as a real route does. A report says where the vehicle is, the
last stop it served and the next one, as a real AVL feed does.

The feed's time zone is chosen so that it is about noon there now (`zone_near_noon`): a benchmark
never runs into the service day's ends, whatever the hour.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from streamcity.kernel.schemas import LiveVehicle

M_PER_DEG_LAT = 111_320.0
ROUTE_ID = "L60"
SERVICE_ID = "LADDER-DAILY"
FIRST_DEPARTURE_S = 4 * 3600  # seconds of the service day
LAST_DEPARTURE_S = 24 * 3600
STREETS = ("Market Street", "Station Road", "Church Lane", "Mill Road", "High Street", "Park Avenue", "Bridge Street",
           "Kings Road", "Victoria Road", "Green Lane", "Queens Road", "North Street", "Hospital", "Library",
           "School Lane", "Canal Street", "Harbour Road", "Castle Hill", "Museum", "Town Hall")


def zone_near_noon(now: dt.datetime) -> str:
    """A fixed-offset IANA zone in which `now` is between 11:00 and 13:00."""
    offset = 12 - now.astimezone(dt.timezone.utc).hour  # -11 .. +12
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-3 is UTC+3


@dataclass(frozen=True, slots=True)
class LadderStop:
    stop_id: str
    name: str
    latitude: float
    longitude: float
    timepoint: bool


@dataclass(slots=True)
class _Bus:
    vehicle_id: str
    slot: int
    delay: float  # seconds behind the timetable (negative: early)
    passengers: int
    broken: bool = False


class LadderRoute:
    """The route, its timetable and the vehicles working it. Times are seconds of the service day."""

    def __init__(self, *, vehicles: int, stops: int = 40, leg_s: float = 120.0, centre=(52.37, 4.90),
                 spacing_m: float = 380.0, timezone: str = "UTC", seed: int = 7):
        if vehicles < 1 or stops < 2:
            raise ValueError("a ladder route needs a vehicle and two stops")
        self.rng = random.Random(seed)
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.trip_s = round((stops - 1) * leg_s)
        self.leg_s = self.trip_s / (stops - 1)
        self.vehicles = vehicles
        # a bus does one trip each way and starts again: n buses spread over the 2-trip cycle
        self.headway_s = 2 * self.trip_s / vehicles
        m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(centre[0]))
        road = []  # (x, y) metres from the centre along a gentle S-bend, and the road's heading there
        for i in range(stops):
            along = (i - (stops - 1) / 2) * spacing_m
            x, y = along, 0.12 * spacing_m * stops * math.sin(along / (spacing_m * stops) * 2 * math.pi)
            road.append((x, y))
        self.directions: list[list[LadderStop]] = [[], []]
        for d in (0, 1):
            for i in range(stops):
                x, y = road[i]
                nx, ny = (road[min(i + 1, stops - 1)][0] - road[max(i - 1, 0)][0],
                          road[min(i + 1, stops - 1)][1] - road[max(i - 1, 0)][1])
                norm = math.hypot(nx, ny) or 1.0
                side = 12.0 if d == 0 else -12.0  # the two directions' stops face each other across the road
                px, py = x - ny / norm * side, y + nx / norm * side
                name = f"{STREETS[i % len(STREETS)]}" + (f" {i // len(STREETS) + 1}" if i >= len(STREETS) else "")
                self.directions[d].append(LadderStop(
                    f"{ROUTE_ID}-{d}-{i + 1:02d}", name, centre[0] + py / M_PER_DEG_LAT, centre[1] + px / m_per_deg_lon,
                    timepoint=i % 5 == 0 or i == stops - 1))
        self.directions[1].reverse()
        # lateness wanders along the line of buses round a minute or two late, and now and then a bus is
        # held up by several minutes; a bus never falls a headway behind the one in front of it (it
        # catches up and runs bunched behind it, late too) and none overtakes another
        delays, delay = [], 90.0
        for _ in range(vehicles):
            delay = max(-120.0, min(600.0, 0.8 * delay + 18.0 + self.rng.uniform(-0.55, 0.55) * min(self.headway_s, 300)))
            delays.append(delay + (self.rng.uniform(200, 400) if self.rng.random() < 0.08 else 0.0))
        for s in range(1, 2 * vehicles):  # round the cycle twice: bus s runs a headway after bus s - 1
            delays[s % vehicles] = max(delays[s % vehicles], delays[(s - 1) % vehicles] - 0.9 * self.headway_s)
        self.fleet = [_Bus(f"{ROUTE_ID}-bus-{s + 1:03d}", s, delays[s], self.rng.randrange(70)) for s in range(vehicles)]
        # trip k each way: outbound departs at FIRST + k*headway, the return when that bus is back
        self.trips_each_way = int((LAST_DEPARTURE_S - FIRST_DEPARTURE_S) / self.headway_s) + 1
        self._last: dt.datetime | None = None

    def trip_id(self, direction: int, k: int) -> str:
        return f"{ROUTE_ID}-{'out' if direction == 0 else 'back'}-{k:04d}"

    def trip_start(self, direction: int, k: int) -> float:
        return FIRST_DEPARTURE_S + k * self.headway_s + direction * self.trip_s

    def gtfs(self, *, first_date: dt.date, last_date: dt.date):
        """The route as a GtfsFeed (transit.gtfs.tables), ready for transit.gtfs.writer.write_feed."""
        from transit.gtfs import tables as t

        stops = [t.Stop(s.stop_id, s.name, round(s.latitude, 6), round(s.longitude, 6), code=s.stop_id[-5:])
                 for d in self.directions for s in d]
        headsigns = (self.directions[0][-1].name, self.directions[1][-1].name)
        trips = []
        for k in range(self.trips_each_way):
            for d in (0, 1):
                start = self.trip_start(d, k)
                times = tuple(t.StopTime(s.stop_id, i + 1, round(start + i * self.leg_s),
                                         round(start + i * self.leg_s), timepoint=s.timepoint)
                              for i, s in enumerate(self.directions[d]))
                trips.append(t.Trip(self.trip_id(d, k), ROUTE_ID, SERVICE_ID, times, headsign=headsigns[d],
                                    direction_id=d, block_id=f"{ROUTE_ID}-block-{k % self.vehicles + 1:03d}"))
        return t.GtfsFeed(
            agencies=[t.Agency("LADDER", "Ladder Benchmark Buses", "https://example.invalid/", self.timezone)],
            routes=[t.Route(ROUTE_ID, 3, "LADDER", "60", f"{headsigns[1]} – {headsigns[0]}", "1F6FB2", "FFFFFF")],
            stops=stops, trips=trips,
            calendars=[t.Calendar(SERVICE_ID, (True,) * 7, first_date, last_date)],
        )

    def write_gtfs(self, folder: Path, *, today: dt.date) -> Path:
        from transit.gtfs.writer import write_feed

        write_feed(self.gtfs(first_date=today - dt.timedelta(days=2), last_date=today + dt.timedelta(days=2)), folder)
        return folder

    def day_start(self, now: dt.datetime) -> float:
        """Epoch seconds of the service day's zero (GTFS: noon minus 12 h) for `now` in the route's zone."""
        local = now.astimezone(self.zone).date()
        return (dt.datetime.combine(local, dt.time(12), self.zone) - dt.timedelta(hours=12)).timestamp()

    def tick(self, now: dt.datetime) -> list[LiveVehicle]:
        """One report of each vehicle that is on a trip at `now`."""
        day = self.day_start(now)
        cycle = 2 * self.trip_s
        elapsed = (now - self._last).total_seconds() if self._last else 0.0
        self._last = now
        out = []
        for bus in self.fleet:
            if self.rng.random() < 0.0005:
                bus.broken = not bus.broken
            if bus.broken:
                bus.delay += elapsed  # it stands still: the timetable runs on without it
            else:
                bus.delay = max(-120.0, min(900.0, bus.delay + self.rng.uniform(-1.0, 1.1) * min(elapsed, 5.0)))
            bus.passengers = max(0, min(80, bus.passengers + self.rng.randint(-2, 2)))
            # where the timetable had the bus `delay` seconds ago
            u = now.timestamp() - day - bus.delay - FIRST_DEPARTURE_S - bus.slot * self.headway_s
            laps = math.floor(u / cycle)
            k = bus.slot + laps * self.vehicles
            if not 0 <= k < self.trips_each_way:
                continue  # before the first trip or after the last
            within = u - laps * cycle
            d = 0 if within < self.trip_s else 1
            progress = (within - d * self.trip_s) / self.leg_s
            stops = self.directions[d]
            i = min(int(progress), len(stops) - 2)
            f = min(1.0, progress - i)
            a, b = stops[i], stops[i + 1]
            out.append(LiveVehicle(
                vehicle_id=bus.vehicle_id, vehicle_type="bus", route_id=ROUTE_ID, trip_id=self.trip_id(d, k),
                latitude=a.latitude + (b.latitude - a.latitude) * f,
                longitude=a.longitude + (b.longitude - a.longitude) * f,
                bearing=_bearing(a, b), speed=0.0 if bus.broken else 7.0, passenger_count=bus.passengers,
                capacity=80, status="broken_down" if bus.broken else "in_service", stop_sequence=i + 1,
                next_stop_id=b.stop_id, delay_seconds=round(bus.delay), timestamp=now,
            ))
        return out


def _bearing(a: LadderStop, b: LadderStop) -> float:
    dx = (b.longitude - a.longitude) * math.cos(math.radians(a.latitude))
    dy = b.latitude - a.latitude
    return round(math.degrees(math.atan2(dx, dy)) % 360, 1)
