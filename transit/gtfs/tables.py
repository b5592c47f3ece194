"""A parsed GTFS feed as plain frozen dataclasses, and the rules for GTFS field values.

Times are seconds after "noon minus 12 h" of the service day (so 25:10:00 is 90600), as in GTFS.
Nothing here imports Django: the importer writes these to the database, the selector reads them
back, and the simulator runs on them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# Basic GTFS route types and the vehicle type events carry (streamcity.kernel.schemas.VehicleType).
VEHICLE_TYPES: dict[int, str] = {
    0: "tram",
    1: "subway",
    2: "rail",
    3: "bus",
    4: "ferry",
    5: "cable",  # cable tram
    6: "cable",  # aerial lift
    7: "rail",  # funicular
    11: "bus",  # trolleybus
    12: "rail",  # monorail
}

# Extended route types (Google's "Hierarchical Vehicle Type" list) by hundreds -> basic type.
_EXTENDED: dict[int, int] = {
    1: 2,  # 100-199 railway
    2: 3,  # 200-299 coach
    3: 2,  # 300-399 suburban railway
    4: 1,  # 400-499 urban railway / metro
    5: 1,  # 500-599 metro
    6: 1,  # 600-699 underground
    7: 3,  # 700-799 bus
    8: 11,  # 800-899 trolleybus
    9: 0,  # 900-999 tram
    10: 4,  # 1000-1099 water transport
    12: 4,  # 1200-1299 ferry
    13: 6,  # 1300-1399 aerial lift
    14: 7,  # 1400-1499 funicular
    15: 3,  # 1500-1599 taxi (shared taxis run like buses)
}


def basic_route_type(route_type: int) -> int | None:
    """The basic route type (0-12) of a basic or extended one; None when unknown."""
    if route_type in VEHICLE_TYPES:
        return route_type
    if route_type == 405:  # monorail
        return 12
    if route_type >= 100:
        return _EXTENDED.get(route_type // 100)
    return None


def vehicle_type(route_type: int) -> str:
    """The event vehicle type of a (basic or extended) route type; "other" when unknown."""
    basic = basic_route_type(route_type)
    return VEHICLE_TYPES.get(basic, "other") if basic is not None else "other"


def parse_time(value: str) -> int:
    """Seconds of "H:MM:SS" / "HH:MM:SS" (hours may pass 24). Raises ValueError."""
    parts = value.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a time H:MM:SS: {value!r}")
    h, m, s = (int(p) for p in parts)
    if m > 59 or s > 59 or len(parts[1]) != 2 or len(parts[2]) != 2:
        raise ValueError(f"not a time H:MM:SS: {value!r}")
    return h * 3600 + m * 60 + s


def format_time(seconds: int) -> str:
    """ "HH:MM:SS" of seconds after the service day's start (hours may pass 24)."""
    h, rest = divmod(int(seconds), 3600)
    return f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}"


def parse_date(value: str) -> dt.date:
    """A GTFS date YYYYMMDD. Raises ValueError."""
    value = value.strip()
    if len(value) != 8 or not value.isdigit():
        raise ValueError(f"not a date YYYYMMDD: {value!r}")
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))


@dataclass(frozen=True, slots=True)
class Agency:
    agency_id: str
    name: str
    url: str = ""
    timezone: str = "UTC"
    lang: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    route_id: str
    route_type: int  # as in the feed (may be extended)
    agency_id: str = ""
    short_name: str = ""
    long_name: str = ""
    color: str = ""
    text_color: str = ""

    @property
    def vehicle_type(self) -> str:
        return vehicle_type(self.route_type)

    @property
    def label(self) -> str:
        return self.short_name or self.long_name or self.route_id


@dataclass(frozen=True, slots=True)
class Stop:
    stop_id: str
    name: str
    lat: float | None
    lon: float | None
    code: str = ""
    location_type: int = 0
    parent_station: str = ""


@dataclass(frozen=True, slots=True)
class Shape:
    shape_id: str
    points: tuple[tuple[float, float], ...]  # (lat, lon) in sequence order


@dataclass(frozen=True, slots=True)
class StopTime:
    stop_id: str
    stop_sequence: int
    arrival: int  # seconds (interpolated when the feed left it blank)
    departure: int
    timepoint: bool = True  # False: the feed gave no time (interpolated) or marked it approximate
    pickup_type: int = 0
    drop_off_type: int = 0
    shape_dist_traveled: float | None = None


@dataclass(frozen=True, slots=True)
class Trip:
    trip_id: str
    route_id: str
    service_id: str
    stop_times: tuple[StopTime, ...]
    shape_id: str = ""
    headsign: str = ""
    short_name: str = ""
    direction_id: int | None = None
    block_id: str = ""
    frequency_template: str = ""  # for a trip expanded from frequencies.txt: the template's trip_id

    @property
    def start(self) -> int:
        return self.stop_times[0].departure

    @property
    def end(self) -> int:
        return self.stop_times[-1].arrival


@dataclass(frozen=True, slots=True)
class Calendar:
    service_id: str
    days: tuple[bool, bool, bool, bool, bool, bool, bool]  # Monday .. Sunday
    start_date: dt.date
    end_date: dt.date


@dataclass(frozen=True, slots=True)
class CalendarDate:
    service_id: str
    date: dt.date
    exception_type: int  # 1 added, 2 removed


@dataclass(frozen=True, slots=True)
class Frequency:
    trip_id: str  # the template trip
    start_time: int
    end_time: int  # exclusive
    headway_secs: int
    exact_times: bool = False


@dataclass
class GtfsFeed:
    """A whole feed, validated: every reference resolves, every trip has at least two timed stops."""

    agencies: list[Agency] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)
    calendars: list[Calendar] = field(default_factory=list)
    calendar_dates: list[CalendarDate] = field(default_factory=list)
    frequencies: list[Frequency] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def timezone(self) -> str:
        return self.agencies[0].timezone if self.agencies else "UTC"

    def service_window(self) -> tuple[dt.date, dt.date] | None:
        """The first and last date any service runs, from calendar and calendar_dates."""
        dates = [c.start_date for c in self.calendars] + [c.end_date for c in self.calendars]
        dates += [d.date for d in self.calendar_dates if d.exception_type == 1]
        return (min(dates), max(dates)) if dates else None

    def services_on(self, date: dt.date) -> set[str]:
        """The service_ids running on `date` (calendar, then calendar_dates exceptions)."""
        running = {
            c.service_id for c in self.calendars if c.start_date <= date <= c.end_date and c.days[date.weekday()]
        }
        for d in self.calendar_dates:
            if d.date == date:
                if d.exception_type == 1:
                    running.add(d.service_id)
                elif d.exception_type == 2:
                    running.discard(d.service_id)
        return running

    def counts(self) -> dict[str, int]:
        return {
            "agencies": len(self.agencies),
            "routes": len(self.routes),
            "stops": len(self.stops),
            "shapes": len(self.shapes),
            "shape_points": sum(len(s.points) for s in self.shapes),
            "trips": len(self.trips),
            "stop_times": sum(len(t.stop_times) for t in self.trips),
            "calendars": len(self.calendars),
            "calendar_dates": len(self.calendar_dates),
            "frequencies": len(self.frequencies),
        }
