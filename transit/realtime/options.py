"""The command-line options of `runrealtime` and `runstreamcity --realtime`, and the poller they make."""

from __future__ import annotations

import argparse

from .fetch import parse_header


def _header(value: str) -> tuple[str, str]:
    try:
        return parse_header(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return number


def add_arguments(parser, *, feed: bool = True) -> None:
    """The poller's options; `feed=False` when the parser already has --feed (runstreamcity's simulator)."""
    g = parser.add_argument_group("GTFS-Realtime")
    if feed:
        g.add_argument("--feed", metavar="NAME",
                       help="the imported static feed whose ids the realtime feed uses (manage.py importgtfs)")
        g.add_argument("--gtfs", metavar="PATH", help="import this static feed first if needed (folder, .zip, URL)")
    g.add_argument("--vehicle-positions", metavar="URL", help="VehiclePositions feed: http(s) URL, file:// or a path")
    g.add_argument("--trip-updates", metavar="URL", help="TripUpdates feed")
    g.add_argument("--alerts", metavar="URL", help="Alerts feed")
    g.add_argument("--interval", type=_positive, default=15.0, help="seconds between two polls (default 15)")
    g.add_argument("--header", type=_header, action="append", default=[], metavar="'NAME: VALUE'",
                   help="HTTP header sent with every request (an API key); repeatable; never logged")
    g.add_argument("--timeout", type=_positive, default=10.0, help="seconds to wait for a response (default 10)")
    g.add_argument("--no-estimate", action="store_true",
                   help="do not place vehicles of trips that only the TripUpdates name (no position)")


def poller_from_options(bus, options: dict):
    """A RealtimePoller as the options ask. Raises CommandError on a bad option or an unknown feed."""
    from django.core.management.base import CommandError

    from .poller import RealtimePoller, static_index

    if options.get("gtfs"):
        from transit.gtfs.reader import GtfsError
        from transit.gtfs.services import feed_import

        try:
            options["feed"] = feed_import(source=options["gtfs"], name=options.get("feed"), if_changed=True).feed.name
        except GtfsError as exc:
            raise CommandError(f"cannot import {options['gtfs']}: {exc}") from None
    if not options.get("feed"):
        raise CommandError("--feed NAME (or --gtfs PATH) is required: the static feed the realtime ids refer to")
    if not any(options.get(k) for k in ("vehicle_positions", "trip_updates", "alerts")):
        raise CommandError("give at least one of --vehicle-positions, --trip-updates, --alerts")
    try:
        index = static_index(feed=options["feed"])
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return RealtimePoller(
        bus, index, vehicle_positions=options.get("vehicle_positions"), trip_updates=options.get("trip_updates"),
        alerts=options.get("alerts"), interval=options["interval"], headers=dict(options.get("header") or []),
        timeout=options["timeout"], estimate=not options.get("no_estimate"),
    )
