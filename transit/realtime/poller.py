"""Polls an agency's GTFS-Realtime URLs and publishes what changed, like the simulator does.

Each poll reads every URL that is due, decodes it (`decode`), maps the latest good message of each
(`mapper`) and publishes: the stop_schedule of trips not published yet (then waits `settle`
seconds, so that the processors know a trip before its first report), the vehicle_locations
reports that differ from the last sent for that vehicle, and service_alerts that are new, changed
or gone (cleared). A vehicle absent from the feed is simply not reported any more: the silent rule
sees it stop.

A URL that fails (HTTP error, timeout, a body that is not GTFS-RT, another agency's ids) gets one
log line; its previous good message stands, nothing of the bad body is published, and the URL is
tried again after a back-off (interval x 2^failures, at most `max_backoff`). A feed whose header
timestamp does not advance for `stale_after` seconds (two intervals, at least a minute) is
reported stale (once in the log, and in the status line). HTTP requests are conditional
(If-None-Match / If-Modified-Since): a 304 counts as the same feed again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from streamcity.kernel.bus import Bus
from streamcity.kernel.schemas import SERVICE_ALERTS, STOP_SCHEDULE, VEHICLE_LOCATIONS, ServiceAlert, encode, event_key

from .decode import FeedError, decode_feed
from .fetch import FetchError, NotModified, describe, fetch
from .mapper import ForeignFeedError, Mapped, Mapper, schedule_rows
from .static import StaticIndex

logger = logging.getLogger(__name__)


@dataclass
class Source:
    """One URL of the agency's (kind: vehicle-positions, trip-updates or alerts)."""

    kind: str
    url: str
    message: object | None = None  # the latest good FeedMessage
    header_ts: int = 0
    stale_polls: int = 0  # polls since its timestamp last advanced
    stale: bool = False
    advanced_at: float = 0.0
    failures: int = 0
    next_at: float = 0.0
    last_error: str = ""
    fetched: int = 0
    validators: dict = field(default_factory=dict)  # ETag / Last-Modified of the last good response

    @property
    def label(self) -> str:
        return f"{self.kind} {describe(self.url)}"


@dataclass
class PollResult:
    published: int = 0
    unchanged: int = 0
    schedule_rows: int = 0
    alerts: int = 0
    errors: list[str] = field(default_factory=list)


class RealtimePoller:
    def __init__(self, bus: Bus, index: StaticIndex, *, vehicle_positions: str | None = None,
                 trip_updates: str | None = None, alerts: str | None = None, interval: float = 15.0,
                 headers: dict[str, str] | None = None, timeout: float = 10.0, settle: float = 2.0,
                 max_backoff: float = 300.0, estimate: bool = True, clock=time.monotonic):
        self.bus = bus
        self.index = index
        self.mapper = Mapper(index)
        self.sources = [Source(k, u) for k, u in (("vehicle-positions", vehicle_positions),
                                                    ("trip-updates", trip_updates), ("alerts", alerts)) if u]
        if not self.sources:
            raise ValueError("no GTFS-Realtime URL given (--vehicle-positions, --trip-updates or --alerts)")
        self.interval = interval
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.settle = settle
        self.max_backoff = max_backoff
        self.estimate = estimate
        self.clock = clock
        # a feed is stale when its timestamp has not advanced for this long (agencies refresh every
        # 15-30 s: one poll that brings the same feed again is normal)
        self.stale_after = max(2 * interval, 60.0)
        self._sent: dict[str, object] = {}  # vehicle_id -> the last report sent
        self._scheduled: set[tuple[str, dt.date]] = set()
        self._alerts: dict[str, ServiceAlert] = {}  # alert_key -> the last open update sent
        self.polls = 0
        self.reports_sent = 0
        self.unchanged = 0
        self.schedule_rows = 0
        self.alerts_sent = 0
        self.errors = 0
        self.last: Mapped | None = None

    # -- one poll --------------------------------------------------------------------------
    def _read(self, source: Source, now: float) -> str | None:
        """Fetch and decode `source` if due; its error message, or None."""
        if now < source.next_at:
            return None
        validators = dict(source.validators) if source.message is not None else {}
        try:
            msg = decode_feed(fetch(source.url, headers=self.headers, timeout=self.timeout, validators=validators),
                              kind=source.kind)
            # refuse another agency's feed here, before its message replaces the good one
            self.mapper.map(**{source.kind.replace("-", "_"): msg}, estimate=False)
        except NotModified:
            msg = source.message  # 304: the same feed as last time (stale, as if it came again)
        except (FetchError, FeedError, ForeignFeedError) as exc:
            source.failures += 1
            backoff = min(self.interval * 2 ** source.failures, self.max_backoff)
            source.next_at = now + backoff
            source.last_error = str(exc)
            self.errors += 1
            logger.warning("GTFS-RT %s: %s; nothing published from it, next try in %.0fs",
                           source.label, exc, backoff)
            return str(exc)
        source.fetched += 1
        source.validators = validators  # only a good body's validators: a bad one is asked for again
        source.failures, source.last_error = 0, ""
        source.next_at = now + self.interval
        ts = msg.header.timestamp
        if source.message is not None and ts and ts <= source.header_ts:
            source.stale_polls += 1
            if not source.stale and now - source.advanced_at >= self.stale_after:
                source.stale = True
                logger.warning("GTFS-RT %s is stale: its timestamp %s has not advanced for %.0fs", source.label,
                               dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(), now - source.advanced_at)
        else:
            if source.stale:
                logger.info("GTFS-RT %s advances again after %d polls", source.label, source.stale_polls)
            source.stale_polls, source.stale, source.advanced_at = 0, False, now
        source.message, source.header_ts = msg, max(ts, source.header_ts)
        return None

    def poll(self, stop: threading.Event | None = None) -> PollResult:
        """Read what is due, publish what changed."""
        result = PollResult()
        now = self.clock()
        for source in self.sources:
            error = self._read(source, now)
            if error:
                result.errors.append(f"{source.kind}: {error}")
        self.polls += 1
        messages = {s.kind.replace("-", "_"): s.message for s in self.sources if s.message is not None}
        if not messages:
            return result
        mapped = self.mapper.map(**messages, estimate=self.estimate)
        self.last = mapped

        rows = []
        newest = max((date for _, date in mapped.trips.values()), default=None)
        if newest is not None and any(d < newest - dt.timedelta(days=2) for _, d in self._scheduled):
            self._scheduled = {(t, d) for t, d in self._scheduled if d >= newest - dt.timedelta(days=2)}
        for trip_id, (trip, date) in mapped.trips.items():
            if (trip_id, date) not in self._scheduled:
                self._scheduled.add((trip_id, date))
                rows += schedule_rows(trip, date, self.index)
        if rows:
            self.bus.produce_many(STOP_SCHEDULE.name, ((event_key(STOP_SCHEDULE, r), encode(r)) for r in rows))
            self.bus.flush()
            result.schedule_rows = len(rows)
            self.schedule_rows += len(rows)
            if self.settle and (stop is None or not stop.is_set()):
                (stop or threading.Event()).wait(self.settle)

        changed = []
        for vehicle_id, report in mapped.reports.items():
            if self._sent.get(vehicle_id) == report:
                result.unchanged += 1
                continue
            self._sent[vehicle_id] = report
            changed.append(report)
        for vehicle_id in [v for v in self._sent if v not in mapped.reports]:
            del self._sent[vehicle_id]  # gone from the feed: silent from now on
        if changed:
            self.bus.produce_many(VEHICLE_LOCATIONS.name, ((r.vehicle_id, encode(r)) for r in changed))
        result.published = len(changed)

        if "alerts" in messages:
            alerts = []
            for key, alert in mapped.alerts.items():
                before = self._alerts.get(key)
                if before is not None:  # the episode began when it was first seen
                    alert = _replace(alert, detected_at=min(before.detected_at, alert.detected_at))
                if before is None or _without_time(before) != _without_time(alert):
                    alerts.append(alert)
                    self._alerts[key] = alert
            clear_at = mapped.feed_time or dt.datetime.now(dt.timezone.utc)
            for key in [k for k in self._alerts if k not in mapped.alerts]:
                gone = self._alerts.pop(key)
                alerts.append(_replace(gone, state="cleared", timestamp=max(clear_at, gone.timestamp)))
            if alerts:
                self.bus.produce_many(SERVICE_ALERTS.name, ((a.alert_key, encode(a)) for a in alerts))
            result.alerts = len(alerts)
            self.alerts_sent += len(alerts)
        self.bus.flush()
        self.reports_sent += result.published
        self.unchanged += result.unchanged
        return result

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                started = self.clock()
                self.poll(stop)
                due = min(s.next_at for s in self.sources)
                stop.wait(max(0.05, due - self.clock()) if due > started else 0.05)
        finally:
            remaining = self.bus.flush()
            logger.info("GTFS-RT poller stopped: %d reports and %d alert updates sent, %d undelivered",
                        self.reports_sent, self.alerts_sent, remaining)

    # -- status -----------------------------------------------------------------------------
    def status(self) -> str:
        m = self.last
        parts = [f"gtfs-rt {self.index.name}: {self.polls} polls"]
        if m is not None:
            when = f" at {m.feed_time:%Y-%m-%d %H:%M:%S}Z" if m.feed_time else ""
            parts.append(f"{len(m.reports)} vehicles{when} ({m.matched} on scheduled trips, {m.estimated} placed "
                         f"from trip updates)")
            unmatched = Counter(m.unmatched)
            if unmatched or m.canceled_trips:
                detail = ", ".join(f"{n} {why}" for why, n in sorted(unmatched.items()))
                if m.canceled_trips:
                    detail = ", ".join(filter(None, [detail, f"{m.canceled_trips} canceled trips"]))
                parts.append(f"unmatched: {detail}")
            parts.append(f"{len(m.alerts)} alerts")
        parts.append(f"{self.reports_sent} reports sent, {self.unchanged} unchanged not re-sent")
        for s in self.sources:
            if s.stale:
                parts.append(f"{s.kind} STALE for {s.stale_polls} polls")
            if s.last_error:
                parts.append(f"{s.kind} failing ({s.failures}x): {s.last_error[:80]}")
        return " | ".join(parts)


def _without_time(alert: ServiceAlert) -> ServiceAlert:
    return _replace(alert, timestamp=alert.detected_at)


def _replace(alert: ServiceAlert, **changes) -> ServiceAlert:
    import msgspec

    return msgspec.structs.replace(alert, **changes)


def static_index(*, feed: str) -> StaticIndex:
    """The imported static feed `feed` as the poller matches against it. Raises ValueError."""
    from transit.gtfs.selectors import feed_get, feed_load

    row = feed_get(name=feed)
    if row is None:
        raise ValueError(f"no imported feed {feed!r}: import its static GTFS first (manage.py importgtfs PATH --name {feed})")
    index = StaticIndex.from_feed(row.name, feed_load(feed=row))
    index.timezone = row.timezone or index.timezone
    return index
