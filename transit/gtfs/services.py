"""Importing GTFS feeds into the `transit` models.

The feed is read and validated first (nothing touched yet), then written in one transaction with
large `bulk_create` batches: a broken feed or a failed write leaves the previous network intact.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from transit.models import Agency, Calendar, CalendarDate, Feed, Frequency, Route, Shape, Stop, StopTime, Trip
from transit.names import search_key

from .parse import Progress, parse_feed
from streamcity.kernel.security import redact_url

from .reader import FeedSource, GtfsError
from .tables import GtfsFeed

logger = logging.getLogger(__name__)

BATCH = 5000


@dataclass
class ImportSummary:
    feed: Feed
    counts: dict[str, int]
    seconds: float
    replaced: bool = False
    skipped: bool = False  # the same feed was already imported
    warnings: list[str] = field(default_factory=list)


def feed_name_clean(name: str) -> str:
    """A feed name as stored (a slug): "SEQ GTFS (2016)" -> "seq-gtfs-2016"."""
    slug = re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-")
    if not slug:
        raise GtfsError(f"not a usable feed name: {name!r}")
    return slug[:64]


def feed_import(
    *, source: str | Path, name: str | None = None, progress: Progress | None = None, if_changed: bool = False,
    allow_private_network: bool = False,
) -> ImportSummary:
    """Import the feed at `source` (folder, .zip or URL) as `name` (default: from the path).

    A feed of the same name is replaced. With `if_changed`, a feed of that name with the same
    fingerprint is kept as it is. Raises GtfsError naming file, row and column on a broken feed.
    """
    started = time.perf_counter()
    shown = redact_url(str(source))
    with FeedSource(source, allow_private_network=allow_private_network) as src:
        name = feed_name_clean(name or src.default_name)
        fingerprint = src.fingerprint()
        existing = Feed.objects.filter(name=name).first()
        if if_changed and existing is not None and existing.fingerprint == fingerprint:
            return ImportSummary(existing, existing.counts, time.perf_counter() - started, skipped=True)
        parsed = parse_feed(src, progress=progress)
    try:
        feed = _write(parsed, name=name, source=shown, fingerprint=fingerprint, progress=progress, started=started)
    except IntegrityError:
        # Another process imported the same feed name at the same moment: keep theirs if identical.
        existing = Feed.objects.filter(name=name).first()
        if existing is None or existing.fingerprint != fingerprint:
            raise
        return ImportSummary(existing, existing.counts, time.perf_counter() - started, skipped=True)
    seconds = time.perf_counter() - started
    Feed.objects.filter(pk=feed.pk).update(import_seconds=seconds)
    feed.import_seconds = seconds
    logger.info("imported GTFS feed %s from %s in %.2fs: %s", name, shown, seconds, feed.counts)
    return ImportSummary(feed, feed.counts, seconds, replaced=existing is not None, warnings=parsed.warnings)


def _write(parsed: GtfsFeed, *, name: str, source: str, fingerprint: str, progress, started: float) -> Feed:
    window = parsed.service_window()
    with transaction.atomic():
        feed_delete(name=name)
        feed = Feed.objects.create(
            name=name, source=source, fingerprint=fingerprint, timezone=parsed.timezone,
            start_date=window[0] if window else None, end_date=window[1] if window else None,
            counts=parsed.counts(), warnings=parsed.warnings, imported_at=timezone.now(),
        )

        def bulk(model, objs, label):
            objs = list(objs)
            model.objects.bulk_create(objs, batch_size=BATCH)
            if progress:
                progress(f"saved {label}", len(objs))
            return objs

        agencies = bulk(Agency, (Agency(feed=feed, agency_id=a.agency_id, name=a.name, url=a.url, timezone=a.timezone,
                                        lang=a.lang) for a in parsed.agencies), "agencies")
        agency_pk = {a.agency_id: a.pk for a in agencies}
        routes = bulk(Route, (Route(feed=feed, route_id=r.route_id, agency_id=agency_pk.get(r.agency_id),
                                    short_name=r.short_name, long_name=r.long_name, route_type=r.route_type,
                                    vehicle_type=r.vehicle_type, color=r.color[:6], text_color=r.text_color[:6])
                              for r in parsed.routes), "routes")
        route_pk = {r.route_id: r.pk for r in routes}
        stops = bulk(Stop, (Stop(feed=feed, stop_id=s.stop_id, code=s.code, name=s.name,
                                 search_name=search_key(s.name), latitude=s.lat,
                                 longitude=s.lon, location_type=s.location_type, parent_station=s.parent_station)
                            for s in parsed.stops), "stops")
        stop_pk = {s.stop_id: s.pk for s in stops}
        shapes = bulk(Shape, (Shape(feed=feed, shape_id=s.shape_id, points=[list(p) for p in s.points])
                              for s in parsed.shapes), "shapes")
        shape_pk = {s.shape_id: s.pk for s in shapes}
        bulk(Calendar, (Calendar(feed=feed, service_id=c.service_id, monday=c.days[0], tuesday=c.days[1],
                                 wednesday=c.days[2], thursday=c.days[3], friday=c.days[4], saturday=c.days[5],
                                 sunday=c.days[6], start_date=c.start_date, end_date=c.end_date)
                        for c in parsed.calendars), "calendars")
        bulk(CalendarDate, (CalendarDate(feed=feed, service_id=d.service_id, date=d.date, exception_type=d.exception_type)
                            for d in parsed.calendar_dates), "calendar dates")
        bulk(Frequency, (Frequency(feed=feed, trip_id=f.trip_id, start_time=f.start_time, end_time=f.end_time,
                                   headway_secs=f.headway_secs, exact_times=f.exact_times)
                         for f in parsed.frequencies), "frequencies")
        trips = bulk(Trip, (Trip(feed=feed, trip_id=t.trip_id, route_id=route_pk[t.route_id], service_id=t.service_id,
                                 shape_id=shape_pk.get(t.shape_id), headsign=t.headsign, short_name=t.short_name,
                                 direction_id=t.direction_id, block_id=t.block_id,
                                 frequency_template=t.frequency_template)
                            for t in parsed.trips), "trips")
        columns = ["trip", "stop", "stop_sequence", "arrival_time", "departure_time", "timepoint", "pickup_type",
                   "drop_off_type", "shape_dist_traveled"]
        rows = (
            (trip.pk, stop_pk[st.stop_id], st.stop_sequence, st.arrival, st.departure, st.timepoint, st.pickup_type,
             st.drop_off_type, st.shape_dist_traveled)
            for trip, t in zip(trips, parsed.trips)
            for st in t.stop_times
        )
        _insert_rows(StopTime, columns, rows, progress=progress, label="saved stop times")
    return feed


def _insert_rows(model, fields: list[str], rows, *, progress=None, label: str = "") -> int:
    """Insert many plain rows without building model instances: COPY on PostgreSQL, executemany
    elsewhere. For the big tables (stop times), where the ORM's per-object work is the cost."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [model._meta.get_field(f).column for f in fields]
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    n = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
                    if progress and n % BATCH == 0:
                        progress(label, n)
        else:
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join(['%s'] * len(columns))})"
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    cursor.executemany(sql, batch)
                    n += len(batch)
                    batch = []
                    if progress:
                        progress(label, n)
            if batch:
                cursor.executemany(sql, batch)
                n += len(batch)
    if progress:
        progress(label, n)
    return n


def feed_delete(*, name: str) -> bool:
    """Delete the feed `name` and its whole network; False when there is none."""
    feed = Feed.objects.filter(name=name).first()
    if feed is None:
        return False
    with transaction.atomic():
        # Largest table first, in one statement (StopTime has no dependants, so Django deletes it
        # without collecting objects); what is left to collect is small.
        StopTime.objects.filter(trip__feed=feed).delete()
        Trip.objects.filter(feed=feed).delete()
        feed.delete()
    return True

