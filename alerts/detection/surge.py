"""Passenger surges: taps per station per tumbling window, well above what is usual there then.

A station is a parent station and its platforms together (the tap's `station_id`), a stop without
a parent alone. What is usual for a station's window (its baseline, `expected` taps):

- `simulated`: the producer says it (the simulator's demand model, `expected_per_hour` on each
  tap, surges left out). Riders tapping at a station's validators arrive steadily: rate x window.
  Riders tapping on board tap in bursts when a vehicle calls: each burst is expected to bring the
  riders who gathered since the previous vehicle there (rate x time since then, at most
  `burst_cap_seconds`), so the window with the bus in it is not a surge.
- `learned`: otherwise, the mean count of the station's past windows in the same hour of the day
  (the taps carry no expectation), once `learn_windows` of them were seen; it is rebuilt from the
  replayed stream on a restart, like the other processors' state.
- `fixed`: until then, the fixed `threshold`.

A window surges when its count reaches both `multiple` x expected plus `sigmas` Poisson standard
deviations, and the absolute `floor`. Its alert opens with the tap that gets there, is updated
once with the final count when the window closes, and is cleared when the next window at that
station closes. Events come in event-time order (see clock.EventTimeBuffer). One alert per
station and window: its key is the station and the window start.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
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
    station_id: str
    start: dt.datetime
    latitude: float
    longitude: float
    count: int = 0
    event_ids: set[str] = field(default_factory=set)
    detected_at: dt.datetime | None = None
    reportable: bool = True
    steady: dict[str, float] = field(default_factory=dict)  # stop -> taps per hour at its validators
    bursts: float = 0.0  # riders expected from the vehicles that called in this window
    known: bool = False  # a tap said what is usual


@dataclass(slots=True)
class _Learned:
    mean: float = 0.0
    n: int = 0


class SurgeDetector:
    def __init__(self, *, window_seconds: int, threshold: int, multiple: float = 1.5, sigmas: float = 3.0,
                 floor: int = 15, learn_windows: int = 6, burst_cap_seconds: float = 1800.0):
        self.size = dt.timedelta(seconds=window_seconds)
        self.threshold = threshold
        self.multiple = multiple
        self.sigmas = sigmas
        self.floor = floor
        self.learn_windows = learn_windows
        self.burst_cap = burst_cap_seconds
        self._least = min(floor, threshold)  # no window surges with fewer taps
        self._windows: dict[tuple[str, dt.datetime], _Window] = {}
        self._closing: list[tuple[dt.datetime, str, dt.datetime]] = []  # (end, station, start)
        self._clearing: list[tuple[dt.datetime, str, dt.datetime, SurgeAlert]] = []
        self._burst: dict[str, tuple[str, dt.datetime]] = {}  # stop -> (vehicle, when) of the last call with taps
        self._learned: dict[tuple[str, int], _Learned] = {}  # (station, hour of day UTC) -> past windows
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

    # -- what is usual ------------------------------------------------------------------------------

    def baseline(self, w: _Window) -> tuple[float | None, str]:
        """(expected taps in the window, where that comes from); None: no baseline yet (fixed)."""
        if w.known:
            return sum(w.steady.values()) * self.size.total_seconds() / 3600 + w.bursts, "simulated"
        learned = self._learned.get((w.station_id, w.start.hour))
        if learned is not None and learned.n >= self.learn_windows:
            return learned.mean, "learned"
        return None, "fixed"

    def needed(self, expected: float | None) -> int:
        """The count at which a window with `expected` taps usual surges."""
        if expected is None:
            return self.threshold
        return max(self.floor, math.ceil(self.multiple * expected + self.sigmas * math.sqrt(expected)))

    def _note_usual(self, w: _Window, tap: RiderTappedOn) -> None:
        rate = tap.expected_per_hour
        if rate is None:
            return
        w.known = True
        if tap.vehicle_id is None:
            w.steady[tap.stop_id] = rate
            return
        last = self._burst.get(tap.stop_id)
        if last is not None and last[0] == tap.vehicle_id:
            return  # the same call: its riders were expected with its first tap
        since = (tap.timestamp - last[1]).total_seconds() if last is not None else self.burst_cap
        self._burst[tap.stop_id] = (tap.vehicle_id, tap.timestamp)
        w.bursts += rate * min(max(since, 0.0), self.burst_cap) / 3600

    # -- the stream ---------------------------------------------------------------------------------

    def apply(self, tap: RiderTappedOn, *, partial_before: dt.datetime | None = None) -> list[SurgeAlert]:
        """Count `tap`. Windows starting before `partial_before` were not seen from their start
        (the processor resumed mid-stream after a restart): they are counted but never reported."""
        start = self._window_start(tap.timestamp)
        station = tap.station_id or tap.stop_id
        w = self._windows.get((station, start))
        if w is None:
            w = self._windows[(station, start)] = _Window(station, start, tap.latitude, tap.longitude)
            w.reportable = partial_before is None or start >= partial_before
            heapq.heappush(self._closing, (start + self.size, station, start))
        if tap.event_id in w.event_ids:
            self.duplicates += 1
            return []
        w.event_ids.add(tap.event_id)
        w.count += 1
        self._note_usual(w, tap)
        if w.detected_at is None and w.reportable and w.count >= self._least:
            expected, source = self.baseline(w)
            need = self.needed(expected)
            if w.count >= need:
                w.detected_at = tap.timestamp
                return [self._alert(w, "open", tap.timestamp, expected, source, need)]
        return []

    def advance(self, now: dt.datetime) -> list[SurgeAlert]:
        """Close the windows that ended before `now`; clear surges whose next window has closed."""
        out: list[SurgeAlert] = []
        while self._closing and self._closing[0][0] < now:
            end, station, start = heapq.heappop(self._closing)
            w = self._windows.pop((station, start))
            if w.detected_at is not None:
                expected, source = self.baseline(w)
                final = self._alert(w, "open", end, expected, source, self.needed(expected))
                out.append(final)
                heapq.heappush(self._clearing, (end + self.size, station, start, final))
            if not w.known:
                self._learn(w)
        while self._clearing and self._clearing[0][0] < now:
            due, _, _, final = heapq.heappop(self._clearing)
            out.append(_replace(final, state="cleared", timestamp=utc(due),
                                summary=f"Surge over: {final.summary}"))
        return out

    def _learn(self, w: _Window) -> None:
        learned = self._learned.setdefault((w.station_id, w.start.hour), _Learned())
        if w.detected_at is not None and learned.n >= self.learn_windows:
            return  # a surge is not what is usual
        learned.n += 1
        learned.mean += (w.count - learned.mean) / min(learned.n, 20)  # the mean, then a moving one

    def _alert(self, w: _Window, state: str, at: dt.datetime, expected: float | None, source: str,
               need: int) -> SurgeAlert:
        end = w.start + self.size
        usual = f"usually {expected:.0f}" if expected is not None else f"threshold {need}"
        return SurgeAlert(
            alert_key=alert_key("surge", w.station_id, key_time(w.start)),
            state=state,
            severity=severity(w.count / max(need, 1), SEVERITY_STEPS),
            stop_id=w.station_id,
            latitude=w.latitude,
            longitude=w.longitude,
            summary=f"{w.count} taps at stop {w.station_id} between {w.start:%H:%M} and {end:%H:%M} UTC ({usual})",
            detected_at=utc(w.detected_at),
            timestamp=utc(at),
            window_start=w.start,
            window_end=end,
            tap_count=w.count,
            threshold=need,
            expected=round(expected, 1) if expected is not None else None,
            baseline=source,
        )


def _replace(alert, **changes):
    return msgspec.structs.replace(alert, **changes)
