"""The live map fits the feed it runs: a real feed far from the built-in city (Cairns, Australia)
opens on its extent with its vehicles in view, lists only the feed's vehicle types and routes, and
says in a banner that the simulated day is outside the feed's calendar."""

import re
import subprocess

import pytest

from tests.transit.gtfs_samples import require_cairns

from .conftest import ROOT, Proc, base_env, free_port, get_json, manage, wait_until
from .test_browser import ARTIFACTS, chromium, open_map, wait_for_count  # noqa: F401 - chromium: a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def cairns(tmp_path_factory):
    """StreamCity embedded on the Cairns feed (imported on start), 30 vehicles at noon."""
    feed = require_cairns()
    tmp = tmp_path_factory.mktemp("cairns")
    env = base_env(tmp)
    env.pop("MAP_CENTER_LAT", None)
    env.pop("MAP_CENTER_LON", None)
    subprocess.run(manage("migrate", "--no-input", "-v0"), cwd=ROOT, env=env, check=True)
    port = free_port()
    proc = Proc("runstreamcity", manage("runstreamcity", "--port", str(port), "--vehicles", "30", "--gtfs", str(feed)),
                env, tmp)
    try:
        proc.wait_for_output("StreamCity is running at", timeout=240)
        proc.url = f"http://127.0.0.1:{port}"
        yield proc
    finally:
        proc.stop()


def test_the_map_opens_on_a_real_feeds_extent_with_its_modes_and_a_service_day_banner(cairns, chromium):
    # the page is rendered once vehicles report (the server then knows which feed runs)
    wait_until(lambda: get_json(cairns.url + "/api/vehicles/")["vehicles"], timeout=60, message="Cairns vehicles")
    page = open_map(chromium, cairns.url)
    try:
        page.wait_for_selector("#live-map[data-extent]")
        extent = page.evaluate("() => JSON.parse(document.getElementById('live-map').dataset.extent)")
        # Cairns, Queensland: nowhere near Amsterdam
        assert -17.5 < extent["south"] < extent["north"] < -16.5 and 145.4 < extent["west"] < extent["east"] < 146
        view = page.evaluate(
            "() => { const b = document.getElementById('live-map').streamcityMap.getBounds();"
            " return {south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast()}; }"
        )
        # the whole feed in view, and not much more (fitBounds picks the zoom that holds it)
        assert view["south"] <= extent["south"] and view["north"] >= extent["north"]
        assert view["west"] <= extent["west"] and view["east"] >= extent["east"]
        assert view["north"] - view["south"] < 4 * (extent["north"] - extent["south"]) + 0.05
        wait_for_count(page, 10)  # its vehicles are on the map without panning
        # only the feed's modes (all buses) in the filters and the legend; its routes in the route list
        page.click(".sc-panel-toggle")
        types = page.eval_on_selector_all(".sc-type-list input[name=sc-type]", "els => els.map(e => e.value)")
        assert types == ["bus"]
        legend = page.inner_text(".sc-legend-types")
        assert "Bus" in legend and "Tram" not in legend and "Ferry" not in legend
        page.wait_for_function("() => Number(document.getElementById('live-map').dataset.routes) > 0")
        page.wait_for_selector(".sc-route-list input", state="attached")
        routes = page.eval_on_selector_all(".sc-route-list input", "els => els.map(e => e.value)")
        feed_routes = {line.split(",")[0] for line in (require_cairns() / "routes.txt").read_text().splitlines()[1:]}
        assert routes and set(routes) <= feed_routes, sorted(set(routes) - feed_routes)
        # 2014's calendar: today has no service, another day's timetable runs; the banner says so
        banner = page.wait_for_selector(".sc-banner:not([hidden])")
        assert re.match(r"^\w{3} \d{1,2} \w{3} \d{4} has no service in cairns", banner.inner_text()), banner.inner_text()
        page.screenshot(path=str(ARTIFACTS / "live-map-cairns.png"))
        assert page.errors == []
    finally:
        page.close()
