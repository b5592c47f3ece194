"""Alerts in people's words: what a detection says, with stop and station names, route short names,
vehicle labels and local times in the feed's time zone (the detectors, which see ids and UTC only,
write a technical summary; the alert store keeps this one).

`Names` looks the ids of one batch of detections up in the database at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .detections import Detection

TYPE_WORDS = {"bus": "Bus", "tram": "Tram", "rail": "Train", "subway": "Metro", "ferry": "Ferry", "cable": "Cable car"}
SEVERITY_WORDS = {1: "minor", 2: "minor", 3: "major", 4: "critical", 5: "critical"}


def severity_word(severity: int) -> str:
    return SEVERITY_WORDS.get(severity, "major")


@dataclass
class Names:
    tz: ZoneInfo
    stops: dict[str, str] = field(default_factory=dict)  # stop_id -> name
    routes: dict[str, str] = field(default_factory=dict)  # route_id -> short name
    vehicle_types: dict[str, str] = field(default_factory=dict)  # vehicle_id -> bus / tram / ...

    @classmethod
    def load(cls, detections: list[Detection], tz: ZoneInfo) -> Names:
        from transit.models import Route, Stop, VehicleState

        stop_ids = {d.fields.get("stop_id") for d in detections} - {None}
        route_ids = {d.fields.get("route_id") for d in detections} - {None}
        vehicle_ids = {d.fields.get("vehicle_id") for d in detections}
        vehicle_ids |= {d.payload.get("leader_vehicle_id") for d in detections}
        vehicle_ids -= {None}
        names = cls(tz)
        if stop_ids:
            names.stops = {s: n for s, n in Stop.objects.filter(stop_id__in=stop_ids).values_list("stop_id", "name") if n}
        if route_ids:
            names.routes = {r: n for r, n in Route.objects.filter(route_id__in=route_ids)
                            .values_list("route_id", "short_name") if n}
        if vehicle_ids:
            names.vehicle_types = dict(VehicleState.objects.filter(vehicle_id__in=vehicle_ids)
                                       .values_list("vehicle_id", "vehicle_type"))
        return names

    def stop(self, stop_id: str | None) -> str:
        if not stop_id:
            return "an unknown stop"
        return self.stops.get(stop_id, stop_id)

    def route(self, route_id: str | None) -> str:
        return f"route {self.routes.get(route_id, route_id)}" if route_id else "an unknown route"

    def vehicle(self, vehicle_id: str | None) -> str:
        if not vehicle_id:
            return "a vehicle"
        return f"{TYPE_WORDS.get(self.vehicle_types.get(vehicle_id, ''), 'Vehicle')} {vehicle_id}"

    def time(self, value, seconds: bool = False) -> str:
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return f"{value.astimezone(self.tz):%H:%M:%S}" if seconds else f"{value.astimezone(self.tz):%H:%M}"


def _reason(d: Detection) -> str:
    """The detector's why of a cleared condition ("trip ended", "back on time"), from its summary."""
    if d.open or ": " not in d.summary:
        return ""
    return d.summary.rsplit(": ", 1)[1]


def describe(d: Detection, names: Names) -> str:
    """The alert's text for people. Falls back to the detector's summary for what it does not know."""
    p, f = d.payload, d.fields
    match d.kind:
        case "surge":
            usual = (f"usually {p['expected']:.0f}" if p.get("expected") is not None
                     else f"threshold {p.get('threshold')}")
            text = (f"Surge at {names.stop(f.get('stop_id'))}: {p.get('tap_count')} taps between "
                    f"{names.time(p['window_start'])} and {names.time(p['window_end'])} ({usual})")
            return text if d.open else f"Surge over at {names.stop(f.get('stop_id'))}: {text.split(': ', 1)[1]}"
        case "delay":
            minutes = round(p.get("delay_seconds", 0) / 60)
            where = f" at {names.stop(f.get('stop_id'))}" if f.get("stop_id") else ""
            text = f"{names.vehicle(f.get('vehicle_id'))} on {names.route(f.get('route_id'))} is {minutes} min late{where}"
        case "breakdown":
            what = "broke down" if p.get("reason") == "reported" else "has stalled away from a stop"
            text = f"{names.vehicle(f.get('vehicle_id'))} on {names.route(f.get('route_id'))} {what}"
        case "bunching" | "gap":
            headway, scheduled = p.get("headway_seconds", 0) / 60, p.get("scheduled_headway_seconds", 0) / 60
            leader = p.get("leader_vehicle_id")
            behind = f" behind {names.vehicle(leader).lower() if leader else 'the vehicle ahead'}"
            if d.kind == "gap":
                text = (f"Gap on {names.route(f.get('route_id'))}: {names.vehicle(f.get('vehicle_id'))} runs "
                        f"{headway:.0f} min{behind} (scheduled {scheduled:.0f} min)")
            else:
                text = (f"Bunching on {names.route(f.get('route_id'))}: {names.vehicle(f.get('vehicle_id'))} runs "
                        f"{headway:.0f} min{behind} (scheduled {scheduled:.0f} min)")
        case "silent":
            text = (f"{names.vehicle(f.get('vehicle_id'))} on {names.route(f.get('route_id'))} has not reported "
                    f"since {names.time(p['last_seen'], seconds=True)}")
        case "incident":
            kind = str(p.get("type", "incident")).replace("_", " ")
            text = (f"{kind.capitalize()} since {names.time(d.detected_at)}: "
                    f"{p.get('description') or 'radius %.0f m' % p.get('radius', 0)}")
            return text if d.open else f"Cleared at {names.time(d.timestamp)}: {text}"
        case _:
            return d.summary
    why = _reason(d)
    return f"{text}: {why}" if why else text
