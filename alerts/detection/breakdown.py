"""Breakdowns: a vehicle that reports `broken_down`, or stalls in service away from a stop.

Stalled: in service, within `stalled_radius_m` of one spot for `stalled_seconds`, not near the
last stop it served (dwelling), not at a terminal (layover) and not inside an active traffic
incident (held in traffic is a delay, not a breakdown). A stalled vehicle that then reports
`broken_down` keeps its alert (the reason becomes "reported"). The alert clears when the vehicle
moves again, is back in service or is withdrawn. Key: the vehicle and its trip (or the day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from streamcity.kernel.schemas import BreakdownAlert, VehicleLocation, utc
from transit.timetable import Incidents, Progress, Schedule, distance_m

from .config import DetectionConfig
from .keys import alert_key

MOVING_SPEED = 1.0  # m/s


@dataclass(slots=True)
class _Still:
    since: dt.datetime
    latitude: float
    longitude: float


@dataclass(slots=True)
class _Episode:
    key: str
    reason: str
    detected_at: dt.datetime
    trip_id: str | None
    route_id: str | None
    latitude: float
    longitude: float


class BreakdownDetector:
    def __init__(self, config: DetectionConfig, schedule: Schedule, incidents: Incidents):
        self.cfg = config
        self.schedule = schedule
        self.incidents = incidents
        self._still: dict[str, _Still] = {}
        self._open: dict[str, _Episode] = {}

    def __len__(self) -> int:
        return len(self._open)

    def apply(self, e: VehicleLocation, progress: Progress) -> list[BreakdownAlert]:
        ep = self._open.get(e.vehicle_id)
        if e.status == "broken_down":
            self._still.pop(e.vehicle_id, None)
            if ep is None:
                ep = self._open[e.vehicle_id] = self._episode(e, "reported", e.timestamp)
                return [self._alert(e, ep, "open")]
            if ep.reason == "stalled":
                ep.reason = "reported"
                return [self._alert(e, ep, "open")]
            return []
        if e.status in ("out_of_service", "deadhead"):
            self._still.pop(e.vehicle_id, None)
            return [self._clear(e, ep, "withdrawn from service")] if ep else []
        if e.status == "layover":  # waiting at the first stop of its trip: not stalled
            self._still.pop(e.vehicle_id, None)
            return [self._clear(e, ep, "back in service")] if ep else []
        # in service
        if ep is not None and ep.reason == "reported":
            return [self._clear(e, ep, "back in service")]
        moving = e.speed > MOVING_SPEED
        still = self._still.get(e.vehicle_id)
        if still is None or moving or distance_m(e.latitude, e.longitude, still.latitude, still.longitude) > self.cfg.stalled_radius_m:
            if still is None:
                self._still[e.vehicle_id] = _Still(e.timestamp, e.latitude, e.longitude)
            else:  # the same record moved on (no new object per report)
                still.since, still.latitude, still.longitude = e.timestamp, e.latitude, e.longitude
            return [self._clear(e, ep, "moving again")] if ep else []
        if ep is not None:
            return []
        if (e.timestamp - still.since).total_seconds() < self.cfg.stalled_seconds:
            return []
        if not self._away_from_stops(e, progress):
            return []
        if self.incidents.active_near(e.latitude, e.longitude, e.timestamp, margin_m=self.cfg.incident_margin_m):
            return []
        ep = self._open[e.vehicle_id] = self._episode(e, "stalled", still.since)
        return [self._alert(e, ep, "open")]

    def _away_from_stops(self, e: VehicleLocation, p: Progress) -> bool:
        if e.stop_sequence is None or e.next_stop_id is None or self.schedule.is_last(e.trip_id, e.stop_sequence):
            return False  # before the first stop or at the end of the trip: a layover
        if p.arrived_at is None or p.latitude is None:
            return False  # where its last stop is has not been seen (just started): do not guess
        return distance_m(e.latitude, e.longitude, p.latitude, p.longitude) > self.cfg.stop_radius_m

    def _episode(self, e: VehicleLocation, reason: str, since: dt.datetime) -> _Episode:
        key = alert_key("breakdown", e.vehicle_id, e.trip_id or e.timestamp.astimezone(dt.timezone.utc).date().isoformat())
        return _Episode(key, reason, since, e.trip_id, e.route_id, e.latitude, e.longitude)

    def _clear(self, e: VehicleLocation, ep: _Episode, why: str) -> BreakdownAlert:
        del self._open[e.vehicle_id]
        return self._alert(e, ep, "cleared", why)

    def _alert(self, e: VehicleLocation, ep: _Episode, state: str, why: str = "") -> BreakdownAlert:
        what = "reported broken down" if ep.reason == "reported" else "stalled away from a stop"
        text = f"{e.vehicle_id} (route {ep.route_id or '?'}) {what}"
        if why:
            text = f"{text}: {why}"
        return BreakdownAlert(
            alert_key=ep.key,
            state=state,
            severity=4 if ep.reason == "reported" else 3,
            route_id=ep.route_id,
            trip_id=ep.trip_id,
            vehicle_id=e.vehicle_id,
            latitude=ep.latitude,
            longitude=ep.longitude,
            summary=text,
            detected_at=utc(ep.detected_at),
            timestamp=utc(e.timestamp),
            reason=ep.reason,
        )
