"""Bunching and gaps: the headway to the vehicle ahead against the scheduled headway.

When a vehicle is first seen past a stop, the vehicle ahead is the last one of the same route
that passed the same stop in the same direction (the same next stop on its trip); the observed
headway is the time between the two, the scheduled headway the time between their two trips'
scheduled arrivals there. Below `bunching_low` (75 %) of it is bunching, above `bunching_high`
(125 %) a gap: the industry convention. An alert clears only once the ratio is back inside by
`bunching_hysteresis`, so it does not flap at the boundary. Key: vehicle, trip and condition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from streamcity.kernel.schemas import BunchingAlert, VehicleLocation, utc
from transit.timetable import Schedule

from .config import DetectionConfig
from .keys import alert_key


@dataclass(frozen=True, slots=True)
class _Pass:
    vehicle_id: str
    trip_id: str
    stop_sequence: int
    at: dt.datetime


@dataclass(slots=True)
class _Episode:
    key: str
    condition: str
    trip_id: str
    detected_at: dt.datetime
    last: BunchingAlert


class BunchingDetector:
    def __init__(self, config: DetectionConfig, schedule: Schedule):
        self.cfg = config
        self.schedule = schedule
        self._passes: dict[tuple[str, str, str], _Pass] = {}  # (route, stop, next stop) -> last pass
        self._open: dict[str, _Episode] = {}
        self.horizon = dt.timedelta(seconds=config.headway_horizon_seconds)

    def __len__(self) -> int:
        return len(self._open)

    def apply(self, e: VehicleLocation, arrived: bool) -> list[BunchingAlert]:
        ep = self._open.get(e.vehicle_id)
        if ep is not None and (e.trip_id != ep.trip_id or e.status != "in_service"):
            return [self._clear(e, ep, "trip ended" if e.status == "in_service" else f"vehicle {e.status.replace('_', ' ')}")]
        if not arrived or e.status != "in_service" or e.route_id is None or e.trip_id is None:
            return []
        here = self.schedule.stop(e.trip_id, e.stop_sequence)
        nxt = self.schedule.next_stop(e.trip_id, e.stop_sequence)
        if here is None:
            return []  # unscheduled
        if nxt is None:  # the end of the trip
            return [self._clear(e, ep, "trip completed")] if ep is not None else []
        where = (e.route_id, here.stop_id, nxt.stop_id)
        leader = self._passes.get(where)
        self._passes[where] = _Pass(e.vehicle_id, e.trip_id, here.stop_sequence, e.timestamp)
        if leader is None or leader.vehicle_id == e.vehicle_id or e.timestamp - leader.at > self.horizon:
            return []
        theirs = self.schedule.stop(leader.trip_id, leader.stop_sequence)
        if theirs is None:
            return []
        scheduled = (here.arrival - theirs.arrival).total_seconds()
        if scheduled <= 0:
            return []  # the two run in the other order on the timetable: no headway to compare
        headway = (e.timestamp - leader.at).total_seconds()
        ratio = headway / scheduled
        cfg = self.cfg
        condition = "bunching" if ratio < cfg.bunching_low else "gap" if ratio > cfg.bunching_high else None
        if ep is not None:
            recovered = (ep.condition == "bunching" and ratio >= cfg.bunching_low + cfg.bunching_hysteresis) or (
                ep.condition == "gap" and ratio <= cfg.bunching_high - cfg.bunching_hysteresis
            )
            if condition is not None and condition != ep.condition:
                out = [self._clear(e, ep, f"now a {condition}")]
            elif recovered:
                return [self._clear(e, ep, "headway restored", headway, scheduled, leader.vehicle_id)]
            else:
                if abs(headway - ep.last.headway_seconds) >= 30:
                    ep.last = self._alert(e, ep, "open", headway, scheduled, leader.vehicle_id, stop_id=here.stop_id)
                    return [ep.last]
                return []
        else:
            out = []
        if condition is None:
            return out
        key = alert_key("bunching", e.vehicle_id, e.trip_id, condition)
        ep = self._open[e.vehicle_id] = _Episode(key, condition, e.trip_id, e.timestamp, None)  # type: ignore[arg-type]
        ep.last = self._alert(e, ep, "open", headway, scheduled, leader.vehicle_id, stop_id=here.stop_id)
        return out + [ep.last]

    def _clear(self, e, ep: _Episode, why: str, headway=None, scheduled=None, leader=None) -> BunchingAlert:
        del self._open[e.vehicle_id]
        return self._alert(
            e, ep, "cleared",
            ep.last.headway_seconds if headway is None else headway,
            ep.last.scheduled_headway_seconds if scheduled is None else scheduled,
            ep.last.leader_vehicle_id if leader is None else leader,
            why=why,
        )

    def _alert(self, e: VehicleLocation, ep: _Episode, state: str, headway: float, scheduled: float,
               leader: str | None, *, stop_id: str | None = None, why: str = "") -> BunchingAlert:
        ratio = headway / scheduled if scheduled else 1.0
        if ep.condition == "bunching":
            sev = 4 if ratio < 0.25 else 3 if ratio < 0.5 else 2
            text = f"{e.vehicle_id} bunched behind {leader}: {headway / 60:.1f} min apart, {scheduled / 60:.0f} min scheduled"
        else:
            sev = 3 if ratio > 2 else 2
            text = f"{e.vehicle_id} trails {leader} by {headway / 60:.1f} min, {scheduled / 60:.0f} min scheduled"
        if why:
            text = f"{text}: {why}"
        return BunchingAlert(
            alert_key=ep.key,
            state=state,
            severity=sev,
            route_id=e.route_id,
            trip_id=ep.trip_id,
            vehicle_id=e.vehicle_id,
            stop_id=stop_id if stop_id is not None else (ep.last.stop_id if ep.last else None),
            latitude=e.latitude,
            longitude=e.longitude,
            summary=text,
            detected_at=utc(ep.detected_at),
            timestamp=utc(e.timestamp),
            condition=ep.condition,
            leader_vehicle_id=leader,
            headway_seconds=max(0.0, headway),
            scheduled_headway_seconds=scheduled,
        )
