"""Reading imported feeds back as plain dataclasses (`GtfsFeed`), for code that runs without the ORM."""

from __future__ import annotations

from transit.models import Agency, Calendar, CalendarDate, Feed, Frequency, Route, Shape, Stop, StopTime, Trip

from . import tables as t


def feed_get(*, name: str) -> Feed | None:
    return Feed.objects.filter(name=name).first()


def feed_list() -> list[Feed]:
    return list(Feed.objects.order_by("name"))


def feed_load(*, feed: Feed) -> t.GtfsFeed:
    """The whole feed in memory (a few queries, no per-row ORM objects)."""
    out = t.GtfsFeed(warnings=list(feed.warnings))
    agency_ids = {}
    for pk, agency_id, name, url, tz, lang in Agency.objects.filter(feed=feed).order_by("pk").values_list(
        "pk", "agency_id", "name", "url", "timezone", "lang"
    ):
        agency_ids[pk] = agency_id
        out.agencies.append(t.Agency(agency_id, name, url, tz, lang))
    route_ids = {}
    for pk, route_id, agency, short, long, rtype, color, text in Route.objects.filter(feed=feed).order_by("pk").values_list(
        "pk", "route_id", "agency", "short_name", "long_name", "route_type", "color", "text_color"
    ):
        route_ids[pk] = route_id
        out.routes.append(t.Route(route_id, rtype, agency_ids.get(agency, ""), short, long, color, text))
    stop_ids = {}
    for pk, stop_id, name, lat, lon, code, ltype, parent in Stop.objects.filter(feed=feed).order_by("pk").values_list(
        "pk", "stop_id", "name", "latitude", "longitude", "code", "location_type", "parent_station"
    ):
        stop_ids[pk] = stop_id
        out.stops.append(t.Stop(stop_id, name, lat, lon, code, ltype, parent))
    shape_ids = {}
    for pk, shape_id, points in Shape.objects.filter(feed=feed).order_by("pk").values_list("pk", "shape_id", "points"):
        shape_ids[pk] = shape_id
        out.shapes.append(t.Shape(shape_id, tuple((lat, lon) for lat, lon in points)))
    for c in Calendar.objects.filter(feed=feed).order_by("pk"):
        days = (c.monday, c.tuesday, c.wednesday, c.thursday, c.friday, c.saturday, c.sunday)
        out.calendars.append(t.Calendar(c.service_id, days, c.start_date, c.end_date))
    out.calendar_dates = [
        t.CalendarDate(*row)
        for row in CalendarDate.objects.filter(feed=feed).order_by("pk").values_list("service_id", "date", "exception_type")
    ]
    out.frequencies = [
        t.Frequency(*row)
        for row in Frequency.objects.filter(feed=feed).order_by("pk").values_list(
            "trip_id", "start_time", "end_time", "headway_secs", "exact_times"
        )
    ]
    times: dict[int, list[t.StopTime]] = {}
    for trip, stop, seq, arr, dep, tp, pick, drop, dist in (
        StopTime.objects.filter(trip__feed=feed)
        .order_by("trip", "stop_sequence")
        .values_list("trip", "stop", "stop_sequence", "arrival_time", "departure_time", "timepoint", "pickup_type",
                     "drop_off_type", "shape_dist_traveled")
        .iterator(chunk_size=20000)
    ):
        times.setdefault(trip, []).append(t.StopTime(stop_ids[stop], seq, arr, dep, tp, pick, drop, dist))
    for pk, trip_id, route, service, shape, headsign, short, direction, block, template in Trip.objects.filter(
        feed=feed
    ).order_by("pk").values_list(
        "pk", "trip_id", "route", "service_id", "shape", "headsign", "short_name", "direction_id", "block_id",
        "frequency_template",
    ):
        out.trips.append(
            t.Trip(trip_id, route_ids[route], service, tuple(times.get(pk, ())), shape_ids.get(shape, ""), headsign,
                   short, direction, block, template)
        )
    return out
