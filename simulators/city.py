"""The built-in city, generated from a seed as a valid GTFS feed: StreamCity needs no download.

A fictional city around the map's default centre (52.37, 4.90): a central station, district hubs
on a ring, radial bus lines through the centre, orbital and feeder buses, three tram lines, a
cross-city rail line and two night buses. Lines follow smooth curved streets (Catmull-Rom
splines through their hubs, with a gentle wiggle); stops every 350-500 m for buses and trams
(shared where lines meet), stations every ~1.8 km on the railway. Timetables cover whole service
days with peak and off-peak headways, weekday and weekend services, holidays run the weekend
timetable, night buses run past 24:00, trams and trains are chained into blocks. Pure Python.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from transit.gtfs.tables import Agency, Calendar, CalendarDate, GtfsFeed, Route, Shape, Stop, StopTime, Trip
from transit.gtfs.writer import write_feed

from .geo import haversine_m, offset
from .network import chain

CITY_CENTRE = (52.370, 4.900)
CITY_SEED = 2026
CITY_VERSION = "2"  # bump when the generator changes, so an older generated city is replaced
TIMEZONE = "Europe/Amsterdam"
AGENCY_ID = "SCT"
SERVICE_START, SERVICE_END = dt.date(2024, 1, 1), dt.date(2035, 12, 31)

HUBS = ["Centraal", "Noorderpark", "Oosthaven", "Watergraafsmeer", "Zuidas", "Slotervaart", "Westerpoort",
        "Houthavens", "Buiksloot"]
_PREFIXES = ["Linden", "Eiken", "Berken", "Kastanje", "Wilgen", "Populieren", "Esdoorn", "Beuken", "Iepen", "Platanen",
             "Rozen", "Tulpen", "Lelie", "Anjer", "Jasmijn", "Kerk", "Molen", "Haven", "Brug", "Dijk", "Sluis", "Vaart",
             "Markt", "School", "Park", "Bos", "Veld", "Weide", "Akker", "Zand", "Water", "Zon", "Maan", "Ster",
             "Noorder", "Zuider", "Ooster", "Wester", "Hoog", "Nieuwe", "Oude", "Prinsen", "Keizers", "Heren"]
_SUFFIXES = ["straat", "laan", "weg", "plein", "gracht", "kade", "singel", "dreef", "hof", "brug"]
_TERMINI = ["Nieuw-West", "Osdorp", "Geuzenveld", "Noord", "Nieuwendam", "IJburg", "Diemen", "Duivendrecht",
            "Bijlmer", "Buitenveldert", "Amstelveen", "Badhoevedorp", "Halfweg", "Zaandam", "Landsmeer", "Durgerdam",
            "Westpoort", "Sloten", "De Aker", "Holendrecht", "Gaasperdam", "Ouderkerk", "Schellingwoude", "Zunderdorp",
            "Spaarndam", "Oostzaan", "Weesp", "Muiden"]

# Headways in minutes by (mode, day type): [(from, to, minutes), ...]; times may pass 24:00.
HEADWAYS = {
    ("bus", "weekday"): [(5.5, 7, 15), (7, 9.5, 8), (9.5, 15.5, 12), (15.5, 18.5, 8), (18.5, 21, 15), (21, 24.5, 20)],
    ("bus", "weekend"): [(7, 9, 20), (9, 19, 15), (19, 24.5, 30)],
    ("tram", "weekday"): [(5.5, 7, 12), (7, 9.5, 6), (9.5, 15.5, 10), (15.5, 18.5, 6), (18.5, 21, 12), (21, 24.5, 15)],
    ("tram", "weekend"): [(7, 9, 15), (9, 19, 10), (19, 24.5, 15)],
    ("rail", "weekday"): [(5, 7, 30), (7, 9.5, 15), (9.5, 15.5, 20), (15.5, 18.5, 15), (18.5, 24.5, 30)],
    ("rail", "weekend"): [(6, 24.5, 30)],
    ("night", "weekday"): [(24.75, 29.5, 30)],
    ("night", "weekend"): [(24.75, 29.5, 30)],
}
# Scheduled running speed between stops (m/s) off-peak / peak, and dwell allowed per stop (s).
RUN_SPEED = {"bus": (8.0, 6.8), "tram": (8.5, 7.5), "rail": (24.0, 24.0), "night": (9.5, 9.5)}
DWELL_S = {"bus": 12, "tram": 20, "rail": 40, "night": 10}
LAYOVER_S = {"bus": 300, "tram": 240, "rail": 480, "night": 300}
SPACING_M = {"bus": 450, "tram": 500, "rail": 1800}
ROUTE_TYPES = {"bus": 3, "tram": 0, "rail": 2, "night": 3}


@dataclass
class _Line:
    route_id: str
    short_name: str
    long_name: str
    mode: str  # bus / tram / rail / night
    color: str
    anchors: list[tuple[float, float]]  # control points (metres east, north of the centre)
    hubs: dict[int, str] = field(default_factory=dict)  # anchor index -> hub stop id
    shape_of: str = ""  # night lines run on another line's streets


def _catmull_rom(points: list[tuple[float, float]], step: float = 20.0) -> tuple[list[tuple[float, float]], list[int]]:
    """A smooth curve through `points` sampled every ~`step` m; and the sample index of each point."""
    pts = [points[0], *points, points[-1]]
    out, at = [], []
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        seg = math.dist(p1, p2)
        n = max(2, int(seg / step))
        at.append(len(out))
        for k in range(n):
            t = k / n
            t2, t3 = t * t, t * t * t
            x = 0.5 * (2 * p1[0] + (-p0[0] + p2[0]) * t + (2 * p0[0] - 5 * p1[0] + 4 * p2[0] - p3[0]) * t2
                       + (-p0[0] + 3 * p1[0] - 3 * p2[0] + p3[0]) * t3)
            y = 0.5 * (2 * p1[1] + (-p0[1] + p2[1]) * t + (2 * p0[1] - 5 * p1[1] + 4 * p2[1] - p3[1]) * t2
                       + (-p0[1] + 3 * p1[1] - 3 * p2[1] + p3[1]) * t3)
            # a gentle wiggle between control points: streets are not splines
            w = 35 * math.sin(math.pi * t) * math.sin(7 * math.pi * t)
            dx, dy = p2[0] - p1[0], p2[1] - p1[1]
            norm = math.hypot(dx, dy) or 1.0
            out.append((x - w * dy / norm, y + w * dx / norm))
    at.append(len(out))
    out.append(points[-1])
    return out, at


def _polar(angle_deg: float, radius: float) -> tuple[float, float]:
    a = math.radians(angle_deg)
    return radius * math.sin(a), radius * math.cos(a)  # east, north (0° = north)


def _lines(rng: random.Random):
    """The lines as control points; the hubs' positions and names; the termini's names by position."""
    ring = 3300.0
    hub_pos = {"centraal": (0.0, 700.0)}
    angles = [a + rng.uniform(-8, 8) for a in range(0, 360, 45)]
    for k, a in enumerate(angles):
        hub_pos[f"hub{k + 1}"] = _polar(a, ring * rng.uniform(0.9, 1.1))
    hub_ids = [f"hub{k + 1}" for k in range(8)]

    def outer(a: float, r: float = 7000) -> tuple[float, float]:
        return _polar(a + rng.uniform(-10, 10), r * rng.uniform(0.9, 1.1))

    def via(p: tuple[float, float], q: tuple[float, float]) -> tuple[float, float]:
        """A bend between p and q, so lines curve."""
        mx, my = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
        d = math.dist(p, q)
        return mx + rng.uniform(-0.12, 0.12) * d, my + rng.uniform(-0.12, 0.12) * d

    def line(route_id, short, long, mode, color, stops: list) -> _Line:
        anchors, hubs = [], {}
        for s in stops:
            if isinstance(s, str):
                if anchors:
                    anchors.append(via(anchors[-1], hub_pos[s]))
                hubs[len(anchors)] = s
                anchors.append(hub_pos[s])
            else:
                if anchors:
                    anchors.append(via(anchors[-1], s))
                anchors.append(s)
        return _Line(route_id, short, long, mode, color, anchors, hubs)

    lines = []
    bus_colours = ["1565C0", "2E7D32", "6A1B9A", "EF6C00", "00838F", "AD1457", "4E342E", "283593", "558B2F", "00695C"]
    termini = iter(rng.sample(_TERMINI, len(_TERMINI)))
    names = {}

    def name(p):
        names[p] = next(termini)
        return p

    # radial bus lines through the centre: outer -> hub -> Centraal -> opposite hub -> outer
    for n, k in enumerate([0, 1, 2, 3, 5, 6]):
        a, b = k, (k + 4 + (n % 2)) % 8
        start, end = name(outer(angles[a])), name(outer(angles[b]))
        lines.append(line(f"B{12 + 3 * n}", str(12 + 3 * n), f"{names[start]} - {names[end]}", "bus",
                          bus_colours[n], [start, hub_ids[a], "centraal", hub_ids[b], end]))
    # orbital buses along the ring of hubs
    for n, k in enumerate([0, 4]):
        seq = [hub_ids[(k + j) % 8] for j in range(4)]
        lines.append(line(f"B{40 + n}", str(40 + n), f"Ring {HUBS[int(seq[0][3:])]} - {HUBS[int(seq[-1][3:])]}",
                          "bus", bus_colours[6 + n], seq))
    # feeders: outer -> hub -> next hub
    for n, k in enumerate([2, 6]):
        start = name(outer(angles[k] + 20, 6000))
        lines.append(line(f"B{60 + n}", str(60 + n), f"{names[start]} - {HUBS[(k + 1) % 8 + 1]}", "bus",
                          bus_colours[8 + n], [start, hub_ids[k], hub_ids[(k + 1) % 8]]))
    # trams: through the centre, shorter
    tram_colours = ["C62828", "D84315", "F9A825"]
    for n, (a, b) in enumerate([(0, 4), (2, 5), (7, 3)]):
        start, end = name(outer(angles[a], 4600)), name(outer(angles[b], 4600))
        lines.append(line(f"T{n + 1}", f"{n + 1}", f"Tram {names[start]} - {names[end]}", "tram", tram_colours[n],
                          [start, hub_ids[a], "centraal", hub_ids[b], end]))
    # rail: a long cross-city line through Centraal
    a = angles[6] + 15
    start, end = name(outer(a, 14000)), name(outer(a + 180, 14000))
    lines.append(line("R1", "S1", f"Sprinter {names[start]} - {names[end]}", "rail", "FFC107",
                      [start, hub_ids[6], "centraal", hub_ids[2], end]))
    # night buses on the streets of two radial lines
    for n, src in enumerate(lines[:2]):
        night = _Line(f"N{81 + n}", f"N{81 + n}", f"Nachtbus {src.long_name}", "night", "263238", src.anchors,
                      src.hubs, shape_of=src.route_id)
        lines.append(night)
    hub_names = {"centraal": "Centraal"} | {f"hub{k + 1}": HUBS[k + 1] for k in range(8)}
    return lines, hub_pos, hub_names, names


def _headways(mode: str, day: str) -> list[tuple[float, float, float]]:
    return HEADWAYS[(mode, day)]


def _departures(mode: str, day: str, rng: random.Random) -> list[int]:
    """Departure times (seconds) from the first stop over a service day."""
    out = []
    for start_h, end_h, minutes in _headways(mode, day):
        t = start_h * 3600
        if out and out[-1] >= t:
            t = out[-1] + minutes * 60
        while t < end_h * 3600:
            out.append(int(round(t)))
            t += minutes * 60
    return out


def _is_peak(seconds: float) -> bool:
    h = (seconds / 3600) % 24
    return 7 <= h < 9.5 or 15.5 <= h < 18.5


def generate_city(seed: int = CITY_SEED) -> GtfsFeed:
    """The built-in city as a GtfsFeed (deterministic for `seed`)."""
    rng = random.Random(seed)
    lines, hub_pos, hub_names, termini = _lines(rng)
    feed = GtfsFeed()
    feed.agencies.append(Agency(AGENCY_ID, "StreamCity Transit", "https://www.example.com/streamcity", TIMEZONE, "nl"))
    names = iter(rng.sample([p + s for p in _PREFIXES for s in _SUFFIXES], len(_PREFIXES) * len(_SUFFIXES)))
    stops: dict[str, Stop] = {}
    stop_xy: dict[str, tuple[float, float, str]] = {}  # stop_id -> (east, north, class)
    hub_stop = {}  # (hub, mode class) -> stop id: a station has a stop per mode, as real ones do
    for hid, hname in hub_names.items():
        code = "CS" if hid == "centraal" else f"H{hid[3:]}"
        for cls, (north, east) in {"bus": (0, 70), "tram": (0, 0), "rail": (90, 0)}.items():
            lat, lon = offset(CITY_CENTRE, hub_pos[hid][1] + north, hub_pos[hid][0] + east)
            sid = f"{code}-{cls[0].upper()}"
            stops[sid] = Stop(sid, hname, round(lat, 6), round(lon, 6), code=sid)
            hub_stop[hid, cls] = sid

    def stop_at(x: float, y: float, cls: str, label: str | None = None) -> str:
        for sid, (sx, sy, scls) in stop_xy.items():
            if scls == cls and math.hypot(sx - x, sy - y) < 90:
                return sid
        sid = f"{'RS' if cls == 'rail' else 'S'}{len(stop_xy) + 1:03d}"
        lat, lon = offset(CITY_CENTRE, y, x)
        stops[sid] = Stop(sid, label or next(names), round(lat, 6), round(lon, 6), code=sid)
        stop_xy[sid] = (x, y, cls)
        return sid

    shapes: dict[str, list[tuple[float, float]]] = {}
    patterns: dict[str, tuple[list[str], list[float], str]] = {}  # route_id -> (stop ids, distances, shape id)
    for ln in lines:
        if ln.shape_of:
            patterns[ln.route_id] = patterns[ln.shape_of]
            continue
        path, at = _catmull_rom(ln.anchors)
        cum = [0.0]
        for p, q in zip(path, path[1:]):
            cum.append(cum[-1] + math.dist(p, q))
        # fixed stops at hubs and the ends, evenly spaced stops between them
        fixed = {0: None, len(path) - 1: None}
        for anchor_index, hub in ln.hubs.items():
            fixed[at[anchor_index]] = hub
        order = sorted(fixed)
        stop_ids, dists = [], []
        cls = "bus" if ln.mode == "night" else ln.mode
        spacing = SPACING_M["bus" if ln.mode == "night" else ln.mode]
        for a, b in zip(order, order[1:]):
            for idx in (a,):
                hub = fixed[idx]
                x, y = path[idx]
                label = termini.get(ln.anchors[0]) if idx == 0 else None
                sid = hub_stop[hub, cls] if hub else stop_at(x, y, cls, label)
                if not stop_ids or stop_ids[-1] != sid:
                    stop_ids.append(sid)
                    dists.append(cum[idx])
            gap = cum[b] - cum[a]
            k = max(0, round(gap / (spacing * rng.uniform(0.85, 1.15))) - 1)
            for j in range(1, k + 1):
                d = cum[a] + gap * j / (k + 1)
                i = min(range(a, b + 1), key=lambda i: abs(cum[i] - d))
                sid = stop_at(*path[i], cls)
                if sid not in stop_ids:
                    stop_ids.append(sid)
                    dists.append(cum[i])
        last_hub = fixed[order[-1]]
        x, y = path[-1]
        sid = hub_stop[last_hub, cls] if last_hub else stop_at(x, y, cls, termini.get(ln.anchors[-1]))
        if stop_ids[-1] != sid:
            stop_ids.append(sid)
            dists.append(cum[-1])
        latlon = [tuple(round(c, 6) for c in offset(CITY_CENTRE, y, x)) for x, y in path]
        shapes[f"{ln.route_id}-0"] = latlon
        shapes[f"{ln.route_id}-1"] = latlon[::-1]
        patterns[ln.route_id] = (stop_ids, dists, ln.route_id)

    for ln in lines:
        feed.routes.append(Route(ln.route_id, ROUTE_TYPES[ln.mode], AGENCY_ID, ln.short_name, ln.long_name, ln.color,
                                 "FFFFFF" if ln.mode != "rail" else "000000"))
    feed.shapes = [Shape(sid, tuple(pts)) for sid, pts in shapes.items()]
    feed.stops = list(stops.values())

    # timetables
    for service, day in (("WKD", "weekday"), ("WE", "weekend")):
        for ln in lines:
            stop_ids, dists, shape_route = patterns[ln.route_id]
            total = dists[-1]
            first = _departures(ln.mode, day, rng)
            trips_of_line = []
            for direction in (0, 1):
                ids = stop_ids if direction == 0 else stop_ids[::-1]
                ds = dists if direction == 0 else [total - d for d in dists[::-1]]
                # the return direction leaves about one trip and a layover after the outbound
                shift = 0 if direction == 0 else int(total / RUN_SPEED[ln.mode][0] + DWELL_S[ln.mode] * len(ids)
                                                       + LAYOVER_S[ln.mode])
                for dep0 in first:
                    dep0 += shift
                    if direction == 1 and dep0 > 29.5 * 3600:
                        continue
                    times, t = [], float(dep0)
                    for i, d in enumerate(ds):
                        if i:
                            v = RUN_SPEED[ln.mode][1 if _is_peak(t) else 0]
                            t += (d - ds[i - 1]) / v
                        arr = int(round(t))
                        dwell = DWELL_S[ln.mode] if 0 < i < len(ds) - 1 else 0
                        if ln.mode != "rail":  # buses and trams: the dwell is in the running time
                            t += dwell
                            dwell = 0
                        times.append((arr, arr + dwell))
                        t += dwell
                    trip_id = f"{ln.route_id}-{service}-{direction}-{dep0 // 3600:02d}{dep0 % 3600 // 60:02d}"
                    sts = tuple(StopTime(sid, i + 1, a, d, timepoint=(i % 5 == 0 or i == len(ids) - 1))
                                for i, (sid, (a, d)) in enumerate(zip(ids, times)))
                    headsign = stops[ids[-1]].name
                    trips_of_line.append(Trip(trip_id, ln.route_id, service, sts, f"{shape_route}-{direction}",
                                              headsign, direction_id=direction))
            # blocks: vehicles shuttle between the ends of the line
            blocks = chain(
                trips_of_line, start=lambda t: t.start, end=lambda t: t.end, group=lambda t: t.route_id,
                first_pos=lambda t: (stops[t.stop_times[0].stop_id].lat, stops[t.stop_times[0].stop_id].lon),
                last_pos=lambda t: (stops[t.stop_times[-1].stop_id].lat, stops[t.stop_times[-1].stop_id].lon),
                min_layover=lambda t: LAYOVER_S[ln.mode],
            )
            block_of = {}
            for n, idx in enumerate(blocks):
                for i in idx:
                    block_of[i] = f"{ln.route_id}-{service}-{n + 1:02d}"
            for i, trip in enumerate(trips_of_line):
                feed.trips.append(Trip(trip.trip_id, trip.route_id, trip.service_id, trip.stop_times, trip.shape_id,
                                       trip.headsign, direction_id=trip.direction_id, block_id=block_of[i]))

    used = {st.stop_id for t in feed.trips for st in t.stop_times}
    feed.stops = [s for s in feed.stops if s.stop_id in used]
    feed.calendars = [
        Calendar("WKD", (True, True, True, True, True, False, False), SERVICE_START, SERVICE_END),
        Calendar("WE", (False, False, False, False, False, True, True), SERVICE_START, SERVICE_END),
    ]
    for year in range(SERVICE_START.year, SERVICE_END.year + 1):
        for month, day in ((1, 1), (12, 25), (12, 26)):  # holidays run the weekend timetable
            d = dt.date(year, month, day)
            if d.weekday() < 5:
                feed.calendar_dates += [CalendarDate("WKD", d, 2), CalendarDate("WE", d, 1)]
    return feed


def write_city(folder: Path, seed: int = CITY_SEED) -> Path:
    """Generate the built-in city and write it as GTFS files into `folder`."""
    write_feed(generate_city(seed), folder)
    (folder / "VERSION").write_text(f"{CITY_VERSION} {seed}\n")
    return folder


def city_bounds_ok(feed: GtfsFeed, radius_m: float = 20000) -> bool:
    """Every stop within `radius_m` of the centre (a sanity check for the tests)."""
    return all(haversine_m(CITY_CENTRE, (s.lat, s.lon)) <= radius_m for s in feed.stops)
