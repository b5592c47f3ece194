"""The simulator's command-line options (runsimulators, runstreamcity) and the Simulation they make."""

from __future__ import annotations

import argparse
import datetime as dt

from .engine import Simulation, SurgeSpec


def _hhmm(value: str) -> dt.time:
    try:
        hh, mm = value.split(":")
        return dt.time(int(hh), int(mm))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time HH:MM: {value!r}") from None


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def _surge(value: str) -> SurgeSpec:
    try:
        return SurgeSpec.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser) -> None:
    g = parser.add_argument_group("simulator")
    g.add_argument("--gtfs", metavar="PATH", help="run on this GTFS feed (folder, .zip, URL), importing it if needed")
    g.add_argument("--feed", metavar="NAME", help="run on this imported feed (default: the built-in city)")
    from django.conf import settings

    default_start = _hhmm(settings.STREAMCITY_SIM_START) if settings.STREAMCITY_SIM_START else None
    g.add_argument("--start", type=_hhmm, default=default_start, metavar="HH:MM",
                   help="simulated time of day to start at (default: now, or STREAMCITY_SIM_START)")
    g.add_argument("--date", type=_date, metavar="YYYY-MM-DD",
                   help="service date (default: today; outside the feed's calendar, the nearest same weekday in it)")
    g.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second (default 1)")
    g.add_argument("--seed", type=int, default=7, help="random seed: same seed, same events (default 7)")
    g.add_argument("--vehicles", type=int, default=None, metavar="N",
                   help="at most N vehicles in service at once (default: every scheduled one)")
    g.add_argument("--tick", type=float, default=1.0, help="wall seconds between two reports of a vehicle (default 1)")
    g.add_argument("--duration", type=float, default=None, help="stop after this many wall seconds")
    g.add_argument("--breakdown-rate", type=float, default=0.02, metavar="R",
                   help="breakdowns per vehicle and hour in service (default 0.02)")
    g.add_argument("--incident-rate", type=float, default=2.0, metavar="R",
                   help="random traffic incidents per simulated hour (default 2)")
    g.add_argument("--surge", type=_surge, action="append", default=[], metavar="STOP_ID@HH:MM[xFACTOR]",
                   help="riders arrive FACTOR (default 8) times as fast at the stop for 15 minutes; repeatable")
    g.add_argument("--surge-rate", type=float, default=0.5, metavar="R",
                   help="random surges per simulated hour (default 0.5)")
    g.add_argument("--demand", type=float, default=1.0, metavar="X", help="scale rider demand (default 1)")


def simulation_from_options(options: dict) -> Simulation:
    """Load the network the options name (importing it if needed) and set up the simulation."""
    from django.core.management.base import CommandError

    from transit.gtfs.reader import GtfsError

    from .services import simulation_network

    try:
        network = simulation_network(gtfs=options.get("gtfs"), feed=options.get("feed"))
    except (ValueError, GtfsError) as exc:
        raise CommandError(str(exc)) from None
    for surge in options.get("surge") or []:
        if surge.stop_id not in network.stops:
            raise CommandError(f"--surge: no stop {surge.stop_id!r} in feed {network.name}")
    return Simulation(
        network,
        seed=options["seed"],
        start=options.get("start"),
        date=options.get("date"),
        speed=options["speed"],
        vehicles=options.get("vehicles"),
        breakdown_rate=options.get("breakdown_rate", 0.0),
        incident_rate=options.get("incident_rate", 0.0),
        surges=options.get("surge") or [],
        surge_rate=options.get("surge_rate", 0.0),
        demand_scale=options.get("demand", 1.0),
    )
