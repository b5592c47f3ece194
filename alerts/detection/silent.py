"""Silent vehicles: an in-service vehicle with no report for `silent_seconds` of event time.

Time is the event-time watermark of the whole stream (the other vehicles' reports), so a silent
vehicle is noticed even though it sends nothing. The alert clears when it reports again. Key:
the vehicle and the time of its last report (one episode per silence).
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass

import msgspec

from streamcity.schemas import SilentVehicleAlert, VehicleLocation, utc

from .keys import alert_key, key_time


@dataclass(slots=True)
class _Last:
    event: VehicleLocation
    alert: SilentVehicleAlert | None = None


class SilentDetector:
    def __init__(self, *, silent_seconds: int):
        self.after = dt.timedelta(seconds=silent_seconds)
        self._last: dict[str, _Last] = {}
        self._due: list[tuple[dt.datetime, str, dt.datetime]] = []  # (due, vehicle, last seen)

    def __len__(self) -> int:
        return sum(1 for v in self._last.values() if v.alert is not None)

    def apply(self, e: VehicleLocation) -> list[SilentVehicleAlert]:
        out = []
        last = self._last.get(e.vehicle_id)
        if last is not None and last.alert is not None:
            gap = (e.timestamp - last.event.timestamp).total_seconds()
            out.append(msgspec.structs.replace(last.alert, state="cleared", timestamp=utc(e.timestamp), silent_seconds=gap,
                                       summary=f"{e.vehicle_id} reporting again after {gap:.0f} s of silence"))
        self._last[e.vehicle_id] = _Last(e)
        if e.status == "in_service":
            heapq.heappush(self._due, (e.timestamp + self.after, e.vehicle_id, e.timestamp))
        return out

    def advance(self, now: dt.datetime) -> list[SilentVehicleAlert]:
        """Alerts for the vehicles silent for longer than the limit before `now`."""
        out = []
        while self._due and self._due[0][0] < now:
            due, vehicle_id, seen = heapq.heappop(self._due)
            last = self._last.get(vehicle_id)
            if last is None or last.event.timestamp != seen or last.alert is not None:
                continue  # it reported again since
            e = last.event
            last.alert = SilentVehicleAlert(
                alert_key=alert_key("silent", vehicle_id, key_time(seen)),
                severity=3,
                route_id=e.route_id,
                trip_id=e.trip_id,
                vehicle_id=vehicle_id,
                latitude=e.latitude,
                longitude=e.longitude,
                summary=f"{vehicle_id} (route {e.route_id or '?'}) silent since {seen:%H:%M:%S} UTC",
                detected_at=utc(due),
                timestamp=utc(due),
                last_seen=utc(seen),
                silent_seconds=self.after.total_seconds(),
            )
            out.append(last.alert)
        return out

