"""Passenger surges: taps per stop per tumbling window, at or over a threshold.

Events come in event-time order (see clock.EventTimeBuffer). A window's alert opens with the tap
that reaches the threshold, is updated once with the final count when the window closes, and is
cleared when the next window at that stop closes. One alert per stop and window: its key is the
stop and the window start.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass, field

import msgspec

from streamcity.kernel.schemas import RiderTappedOn, SurgeAlert, utc

from .keys import alert_key, key_time, severity

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
SEVERITY_STEPS = (1.5, 2.0, 3.0)


def window_start(ts: dt.datetime, size: dt.timedelta) -> dt.datetime:
    n = (ts - EPOCH) // size
    return EPOCH + n * size


@dataclass(slots=True)
class _Window:
    stop_id: str
    start: dt.datetime
    latitude: float
    longitude: float
    count: int = 0
    event_ids: set[str] = field(default_factory=set)
    detected_at: dt.datetime | None = None
    reportable: bool = True


class SurgeDetector:
    def __init__(self, *, window_seconds: int, threshold: int):
        self.size = dt.timedelta(seconds=window_seconds)
        self.threshold = threshold
        self._windows: dict[tuple[str, dt.datetime], _Window] = {}
        self._closing: list[tuple[dt.datetime, str, dt.datetime]] = []  # (end, stop, start)
        self._clearing: list[tuple[dt.datetime, str, dt.datetime, SurgeAlert]] = []
        self.duplicates = 0
        self._current: tuple[dt.datetime, dt.datetime] | None = None  # the last window a tap fell in

    def __len__(self) -> int:
        return len(self._windows)

    def _window_start(self, ts: dt.datetime) -> dt.datetime:
        """window_start(ts), the same object while taps stay in one window (taps come in event-time
        order): no arithmetic, and a key whose hash is computed once."""
        current = self._current
        if current is not None and current[0] <= ts < current[1]:
            return current[0]
        start = window_start(ts, self.size)
        self._current = (start, start + self.size)
        return start

    def apply(self, tap: RiderTappedOn, *, partial_before: dt.datetime | None = None) -> list[SurgeAlert]:
        """Count `tap`. Windows starting before `partial_before` were not seen from their start
        (the processor resumed mid-stream after a restart): they are counted but never reported."""
        start = self._window_start(tap.timestamp)
        w = self._windows.get((tap.stop_id, start))
        if w is None:
            w = self._windows[(tap.stop_id, start)] = _Window(tap.stop_id, start, tap.latitude, tap.longitude)
            w.reportable = partial_before is None or start >= partial_before
            heapq.heappush(self._closing, (start + self.size, tap.stop_id, start))
        if tap.event_id in w.event_ids:
            self.duplicates += 1
            return []
        w.event_ids.add(tap.event_id)
        w.count += 1
        if w.count == self.threshold and w.reportable:
            w.detected_at = tap.timestamp
            return [self._alert(w, "open", tap.timestamp)]
        return []

    def advance(self, now: dt.datetime) -> list[SurgeAlert]:
        """Close the windows that ended before `now`; clear surges whose next window has closed."""
        out: list[SurgeAlert] = []
        while self._closing and self._closing[0][0] < now:
            end, stop_id, start = heapq.heappop(self._closing)
            w = self._windows.pop((stop_id, start))
            if w.count >= self.threshold and w.detected_at is not None:
                final = self._alert(w, "open", end)
                out.append(final)
                heapq.heappush(self._clearing, (end + self.size, stop_id, start, final))
        while self._clearing and self._clearing[0][0] < now:
            due, _, _, final = heapq.heappop(self._clearing)
            out.append(_replace(final, state="cleared", timestamp=utc(due),
                                summary=f"Surge over: {final.summary}"))
        return out

    def _alert(self, w: _Window, state: str, at: dt.datetime) -> SurgeAlert:
        end = w.start + self.size
        return SurgeAlert(
            alert_key=alert_key("surge", w.stop_id, key_time(w.start)),
            state=state,
            severity=severity(w.count / self.threshold, SEVERITY_STEPS),
            stop_id=w.stop_id,
            latitude=w.latitude,
            longitude=w.longitude,
            summary=f"{w.count} taps at stop {w.stop_id} between {w.start:%H:%M} and {end:%H:%M} UTC "
                    f"(threshold {self.threshold})",
            detected_at=utc(w.detected_at),
            timestamp=utc(at),
            window_start=w.start,
            window_end=end,
            tap_count=w.count,
            threshold=self.threshold,
        )


def _replace(alert, **changes):
    return msgspec.structs.replace(alert, **changes)
