"""Delays: a trip running later than the threshold against its schedule.

The deviation comes from schedule.deviation(): at each stop served, from when the vehicle was
first seen past it; between stops, at least how far it is past the next stop's scheduled time.
An alert opens above `late_seconds`, is re-sent when the delay has moved by
`delay_update_seconds`, and clears once the delay is back under `late_seconds` minus a margin
(hysteresis: no flapping around the threshold) or the trip ends. Key: the trip and the vehicle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from streamcity.kernel.schemas import DelayAlert, VehicleLocation, utc
from transit.timetable import Progress, Schedule, measure

from .config import DetectionConfig
from .keys import alert_key, severity

SEVERITY_STEPS = (2.0, 3.0, 6.0)  # multiples of the threshold: 10, 15, 30 min by default


@dataclass(slots=True)
class _Episode:
    key: str
    trip_id: str
    route_id: str | None
    detected_at: dt.datetime
    last: DelayAlert


class DelayDetector:
    def __init__(self, config: DetectionConfig, schedule: Schedule):
        self.cfg = config
        self.schedule = schedule
        self._open: dict[str, _Episode] = {}
        self._done: dict[str, str] = {}  # vehicle -> the trip it has completed (at its last stop)

    def __len__(self) -> int:
        return len(self._open)

    def apply(self, e: VehicleLocation, progress: Progress) -> list[DelayAlert]:
        ep = self._open.get(e.vehicle_id)
        if ep is not None and (e.trip_id != ep.trip_id or e.status in ("out_of_service", "deadhead")):
            withdrawn = e.status in ("out_of_service", "deadhead")
            return [self._clear(e, ep, "withdrawn from service" if withdrawn else "trip ended")]
        if e.status != "in_service" or e.trip_id is None or self._done.get(e.vehicle_id) == e.trip_id:
            return []
        delay = measure(e, progress, self.schedule)
        if delay is None:
            return []
        cfg = self.cfg
        if ep is None:
            if delay <= cfg.late_seconds:
                return []
            key = alert_key("delay", e.trip_id, e.vehicle_id)
            ep = self._open[e.vehicle_id] = _Episode(key, e.trip_id, e.route_id, e.timestamp, None)  # type: ignore[arg-type]
            ep.last = self._alert(e, ep, delay, "open")
            return [ep.last]
        if delay <= cfg.late_seconds - cfg.delay_clear_margin_seconds:
            return [self._clear(e, ep, "back on time", delay)]
        if self.schedule.is_last(e.trip_id, e.stop_sequence):
            self._done[e.vehicle_id] = e.trip_id
            return [self._clear(e, ep, "trip completed", delay)]
        if abs(delay - ep.last.delay_seconds) >= cfg.delay_update_seconds:
            ep.last = self._alert(e, ep, delay, "open")
            return [ep.last]
        return []

    def _clear(self, e: VehicleLocation, ep: _Episode, why: str, delay: int | None = None) -> DelayAlert:
        del self._open[e.vehicle_id]
        d = ep.last.delay_seconds if delay is None else delay
        alert = self._alert(e, ep, d, "cleared", why=why)
        return alert

    def _alert(self, e: VehicleLocation, ep: _Episode, delay: int, state: str, why: str = "") -> DelayAlert:
        stop = self.schedule.stop(ep.trip_id, e.stop_sequence) if e.trip_id == ep.trip_id else None
        nxt = self.schedule.next_stop(ep.trip_id, e.stop_sequence) if e.trip_id == ep.trip_id else None
        where = stop or nxt
        minutes = delay / 60
        text = f"{e.vehicle_id} on trip {ep.trip_id} (route {ep.route_id or '?'}) {minutes:.0f} min late"
        if where is not None:
            text += f" at stop {where.stop_id}"
        if why:
            text = f"{text}: {why}"
        return DelayAlert(
            alert_key=ep.key,
            state=state,
            severity=severity(max(delay, 0) / self.cfg.late_seconds, SEVERITY_STEPS),
            route_id=ep.route_id,
            trip_id=ep.trip_id,
            vehicle_id=e.vehicle_id,
            stop_id=where.stop_id if where else None,
            latitude=e.latitude,
            longitude=e.longitude,
            summary=text,
            detected_at=utc(ep.detected_at),
            timestamp=utc(e.timestamp),
            delay_seconds=delay,
            threshold_seconds=self.cfg.late_seconds,
            stop_sequence=e.stop_sequence if e.trip_id == ep.trip_id else None,
        )
