"""Networks for simulator tests, built without a database: the built-in city and (when here) Cairns."""

import datetime as dt

import pytest

from simulators.city import generate_city
from simulators.engine import Simulation
from simulators.network import Network
from transit.gtfs.parse import parse_feed
from transit.gtfs.reader import FeedSource

from ..transit.gtfs_samples import require_cairns

WEEKDAY = dt.date(2026, 11, 25)  # a Wednesday
CAIRNS_DAY = dt.date(2014, 6, 4)  # a Wednesday in the Cairns feed's calendar

QUIET = dict(breakdown_rate=0.0, incident_rate=0.0, surge_rate=0.0)


@pytest.fixture(scope="session")
def city_feed():
    return generate_city()


@pytest.fixture(scope="session")
def city(city_feed):
    return Network(city_feed, name="builtin")


@pytest.fixture(scope="session")
def cairns():
    with FeedSource(require_cairns()) as src:
        return Network(parse_feed(src), name="cairns")


def run(sim: Simulation, seconds: int, tick: float = 1.0):
    """Every tick of `seconds` wall seconds."""
    return [sim.tick(tick) for _ in range(int(seconds / tick))]
