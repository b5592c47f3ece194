"""Done-when of issue 16: each real feed in ../shared/gtfs/ and the built-in city, a simulated peak
hour on the in-process bus, and what the twin says against what the simulator knows
(benchmarks.truthful). About 15 s of CPU for all seven."""

from __future__ import annotations

import datetime as dt

import pytest

from benchmarks.truthful import load_network, run_feed, shared_feeds

pytestmark = pytest.mark.slow

FEEDS = [None, *shared_feeds()]
DETECTABLE = 8.0  # taps usual per window at a station from which a 3x surge stands out within one window


def _name(path) -> str:
    return "builtin" if path is None else (path.parent.name if path.suffix == ".zip" else path.name)


@pytest.fixture(scope="module")
def figures():
    return {}


@pytest.mark.parametrize("path", FEEDS, ids=[_name(p) for p in FEEDS])
def test_a_peak_hour_of_each_feed_is_told_truthfully(path, figures):
    if path is not None and len(FEEDS) < 2:
        pytest.skip("../shared/gtfs is not here")
    fig = run_feed(load_network(path))
    figures[fig.name] = fig
    print(fig.line())
    # vehicles from the first minute, on the timetable of a day with service (never zero in silence)
    assert fig.reason in ("requested", "same weekday", "nearest with service")
    assert fig.first_minute_vehicles > 0
    # in-service vehicles more than a minute early: under 2 %
    assert fig.in_service_samples > 0
    assert fig.early_of_in_service < 2.0, fig.line()
    # every vehicle laying over is reported as such, and never early
    assert fig.layover_truth > 0
    assert fig.layover_missed == 0 and fig.layover_early == 0
    # no surge but the injected one; the injected one (3x) within one window of its start where it can be told
    assert fig.false_surges == [], fig.false_surges
    if fig.surge_usual >= DETECTABLE:
        assert fig.surge_delay_s is not None, fig.line()
        assert 0 <= fig.surge_delay_s <= 300 + 30, fig.line()  # a window, plus the detection's grace
    # delay alerts on under 10 % of trips (no incidents, no breakdowns)
    assert fig.delayed_trip_share < 10.0, fig.delay_samples
    # every position inside the feed's extent
    assert fig.positions > 0 and fig.outside == []


def test_a_surge_is_counted_per_station_with_its_platforms():
    """Caltrain's stations have platforms (parent_station): the surge station is the parent, and its
    alert counts the taps of every platform."""
    paths = [p for p in FEEDS if p is not None and _name(p) == "caltrain"]
    if not paths:
        pytest.skip("../shared/gtfs/caltrain is not here")
    network = load_network(paths[0])
    fig = run_feed(network, minutes=45, surge_after=15)
    platforms = [s for s in network.stops if network.station_of(s) == fig.surge_station and s != fig.surge_station]
    assert len(platforms) >= 2
    assert fig.surge_delay_s is not None and fig.surge_delay_s <= 330
    assert fig.false_surges == []
    assert fig.timetable_date.weekday() == dt.date(2026, 11, 25).weekday()
