"""Detection records as the alert store sees them: one shape for every alert topic and incidents.

Pure Python: no Django, no Kafka.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import msgspec

from streamcity.kernel.schemas import AlertEvent, TrafficIncident

_COMMON = ("route_id", "trip_id", "vehicle_id", "stop_id", "latitude", "longitude")


@dataclass(frozen=True)
class Detection:
    alert_key: str
    kind: str
    open: bool
    severity: int
    summary: str
    fields: dict  # route_id, trip_id, vehicle_id, stop_id, latitude, longitude
    payload: dict  # the whole record, JSON-ready
    detected_at: dt.datetime
    timestamp: dt.datetime


def detection_from_event(event: AlertEvent | TrafficIncident) -> Detection:
    payload = msgspec.to_builtins(event)
    payload.pop("v", None)
    if isinstance(event, TrafficIncident):
        return Detection(
            alert_key=f"incident:{event.incident_id}",
            kind="incident",
            open=event.status == "active",
            severity=event.severity,
            summary=event.description or f"{event.type.replace('_', ' ')} (radius {event.radius:.0f} m)",
            fields={"latitude": event.latitude, "longitude": event.longitude},
            payload=payload,
            detected_at=event.timestamp,
            timestamp=event.timestamp,
        )
    kind = "gap" if event.kind == "bunching" and getattr(event, "condition", None) == "gap" else event.kind
    return Detection(
        alert_key=event.alert_key,
        kind=kind,
        open=event.state == "open",
        severity=event.severity,
        summary=event.summary or default_summary(event),
        fields={f: getattr(event, f) for f in _COMMON},
        payload=payload,
        detected_at=event.detected_at,
        timestamp=event.timestamp,
    )


def default_summary(event: AlertEvent) -> str:
    subject = event.vehicle_id or event.stop_id or event.route_id or event.alert_key
    match event.kind:
        case "surge":
            return f"{event.tap_count} taps at stop {event.stop_id} (threshold {event.threshold})"
        case "delay":
            return f"{event.vehicle_id} {event.delay_seconds // 60} min late on route {event.route_id or '?'}"
        case "breakdown":
            return f"{event.vehicle_id} {'broken down' if event.reason == 'reported' else 'stalled'}"
        case "bunching":
            return f"{event.vehicle_id} {event.condition}: headway {event.headway_seconds:.0f}s of {event.scheduled_headway_seconds:.0f}s"
        case "silent":
            return f"{event.vehicle_id} silent for {event.silent_seconds:.0f}s"
    return f"{event.kind} {subject}"
