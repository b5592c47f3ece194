"""The vehicle view in Chromium with history (issues 20 and 21): StreamCity runs embedded with the
simulator fast-forwarded through a morning with breakdowns. The broken-down vehicle's view draws its
track from the kept positions (as many points as the track API gives for the same period), the
period picker changes the track, a bad period gets a message, and the view names the spare that took
over its block — the simulator's spare of a vehicle is its id + "R", which the page does not know
(it reads stop events and live states) and this test uses as the truth to check it against. Saves
console-vehicle-spare.png and console-vehicle-breakdown.png in test-artifacts/
(the screenshots of docs/img/)."""

import datetime as dt
import json
import re
import urllib.error
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .conftest import start_breakdown_city, wait_until
from .test_browser import CHROMIUM_ARGS
from .test_console_pages import _axe_serious

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.slow]
IMG = Path(__file__).resolve().parents[2] / "test-artifacts"  # copy to docs/img/ by hand when the page changes


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def track_points(page) -> int:
    page.wait_for_function("() => document.getElementById('live-map').dataset.trackPoints !== undefined",
                           timeout=30_000)
    n = int(page.get_attribute("#live-map", "data-track-points"))
    if n:  # the whole track in view
        page.wait_for_timeout(500)
        fits = page.evaluate("""() => { const t = window.streamcityVehicleTrack;
                                        return [t.map.getBounds().contains(t.bounds), t.map.getBounds().toBBoxString(),
                                                t.bounds.toBBoxString(), t.map.getSize()]; }""")
        assert fits[0], fits
    return n


@pytest.mark.timeout(480)
def test_vehicle_view_track_period_and_the_spare_after_a_breakdown(procs, tmp_path, chromium_path):
    app, url, http, password = start_breakdown_city(procs, tmp_path)

    def get(path):
        return json.load(http.get(path))

    def a_taken_over_breakdown():
        """A breakdown whose spare has called at a stop of the block (its view then names it)."""
        for a in get("/api/history/range/?hours=24")["alerts"]:
            if a["kind"] != "breakdown" or not a["vehicle_id"]:
                continue
            try:
                html = http.get(f"/ops/vehicles/{a['vehicle_id']}/").read().decode()
            except urllib.error.HTTPError:
                continue
            if 'id="block-taken-over"' in html and "Load over the trip" in html:
                return a
        return None

    breakdown = wait_until(a_taken_over_breakdown, timeout=300, interval=5,
                           message="a breakdown whose block a spare took over")
    vehicle = breakdown["vehicle_id"]
    detected = dt.datetime.fromisoformat(breakdown["detected_at"])

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=[*CHROMIUM_ARGS, "--lang=en-GB"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-GB")
            page.goto(f"{url}/accounts/login/?next=/ops/vehicles/{vehicle}/")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", password)
            page.click("form:not(.site-search) button[type=submit]")
            page.wait_for_url(f"{url}/ops/vehicles/{vehicle}/")

            # today's track: a line with start and end markers, every point the track API keeps
            shown = track_points(page)
            assert shown >= 4, page.inner_text("#track-status")
            period = {k: page.get_attribute("#live-map", f"data-track-{k}") for k in ("from", "to")}
            kept = get(f"/api/history/vehicles/{vehicle}/track/?from={iso(dt.datetime.fromisoformat(period['from']))}"
                       f"&to={iso(dt.datetime.fromisoformat(period['to']))}")["positions"]
            assert shown == len(kept)
            assert page.locator("#live-map path.vehicle-track").count() == 1
            assert page.locator("#live-map path.track-start").count() == 1
            assert page.locator("#live-map path.track-end").count() == 1
            assert re.search(rf"{shown} positions kept", page.inner_text("#track-status"))

            # the block was taken over by the simulator's spare, named from the data
            taken = page.locator("#block-taken-over")
            assert taken.get_attribute("data-spare") == f"{vehicle}R", taken.inner_text()
            assert re.search(rf"taken over by\s+{re.escape(vehicle)}R from trip \S+ at \d\d:\d\d", taken.inner_text())
            assert page.locator("#trip-load").count() == 1
            page.screenshot(path=str(IMG / "console-vehicle-breakdown.png"))

            # the period picker: the 20 minutes around the breakdown (local times of the feed's zone)
            tz = ZoneInfo(page.get_attribute("#track-period", "data-timezone"))
            start, end = detected - dt.timedelta(minutes=15), detected + dt.timedelta(minutes=5)
            page.fill("#track-period input[name=from]", f"{start.astimezone(tz):%Y-%m-%dT%H:%M}")
            page.fill("#track-period input[name=to]", f"{end.astimezone(tz):%Y-%m-%dT%H:%M}")
            page.click("#track-period button[type=submit]")
            page.wait_for_url(re.compile(r".*\?from=.*&to=.*"))
            narrow = track_points(page)
            start_min = start.replace(second=0, microsecond=0)
            assert dt.datetime.fromisoformat(page.get_attribute("#live-map", "data-track-from")) == start_min
            expected = get(f"/api/history/vehicles/{vehicle}/track/?from={iso(start_min)}"
                           f"&to={iso(end.replace(second=0, microsecond=0))}")["positions"]
            assert 0 < narrow == len(expected) < shown, (narrow, len(expected), shown)
            assert all(start_min <= dt.datetime.fromisoformat(x["timestamp"]) for x in expected)

            # a period the history cannot give: a message, today's track instead
            response = page.goto(f"{url}/ops/vehicles/{vehicle}/?from=2026-13-01T00:00&to=later")
            assert response.status == 400
            assert "not a date and time" in page.inner_text("#track-error")
            assert track_points(page) >= shown

            # the spare's own view says whose block it took over
            page.goto(f"{url}/ops/vehicles/{vehicle}R/")
            took = page.locator("#took-over-block")
            assert took.get_attribute("data-from") == vehicle
            assert re.search(rf"Took over block \S+ from\s+{re.escape(vehicle)}\b", took.inner_text())
            # its load over its trip: one bar per stop it left (a few more stops for the docs' picture)
            for _ in range(30):
                if int(page.get_attribute("#trip-load", "data-stops") or 0) >= 8:
                    break
                page.wait_for_timeout(2000)
                page.reload()
            bars = page.locator("#trip-load rect.load-bar").count()
            assert bars == int(page.get_attribute("#trip-load", "data-stops")) >= 1
            assert track_points(page) >= 2
            page.screenshot(path=str(IMG / "console-vehicle-spare.png"))
            assert _axe_serious(page) == []  # contrast of the takeover line, the chart, the picker
        finally:
            browser.close()
    assert app.stop() == 0
