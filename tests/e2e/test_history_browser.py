"""History in Chromium: StreamCity runs embedded with the simulator fast-forwarded through a morning
with breakdowns; the KPI page shows its charts with today's data, and the playback page replays a
breakdown: the vehicle stops, its alert opens, the spare takes over. Saves kpis.png and
playback.png in test-artifacts/ (the screenshots of docs/img/)."""

import datetime as dt
import re
from pathlib import Path

import pytest

from .conftest import start_breakdown_city, wait_until
from .test_browser import CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.slow]
IMG = Path(__file__).resolve().parents[2] / "test-artifacts"  # copy to docs/img/ by hand when a page changes


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


@pytest.mark.timeout(420)
def test_kpi_charts_and_the_playback_of_a_breakdown(procs, tmp_path, chromium_path):
    app, url, http, password = start_breakdown_city(procs, tmp_path)

    import json

    def get(path):
        return json.load(http.get(path))

    def a_replaced_breakdown():
        """A breakdown alert whose vehicle's spare has been on the road for a while."""
        for a in get("/api/history/range/?hours=24")["alerts"]:
            if a["kind"] != "breakdown" or not a["vehicle_id"]:
                continue
            start = dt.datetime.fromisoformat(a["detected_at"])
            track = get(f"/api/history/vehicles/{a['vehicle_id']}R/track/?from={iso(start)}"
                        f"&to={iso(start + dt.timedelta(hours=2))}")["positions"]
            if len(track) >= 4:
                return a, track
        return None

    breakdown, spare_track = wait_until(a_replaced_breakdown, timeout=240, interval=3,
                                        message="a breakdown and its spare in the history")
    vehicle = breakdown["vehicle_id"]
    detected = dt.datetime.fromisoformat(breakdown["detected_at"])

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + "/accounts/login/?next=/ops/kpis/")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", password)
            page.click("form:not(.site-search) button[type=submit]")  # the login form, not the search box
            page.wait_for_url(url + "/ops/kpis/")
            page.wait_for_selector("#kpi-status[data-loaded=true]", timeout=30_000)
            for chart in ("otp-hour", "otp-heat", "otp-route", "service", "load", "alerts"):
                page.wait_for_function(
                    f"""() => {{ const c = document.querySelector('[data-chart="{chart}"]');
                               return c && Number(c.dataset.points) > 0 && c.querySelector('.main-svg'); }}""",
                    timeout=20_000)
            assert "live: updated" in page.inner_text("#kpi-status")
            assert page.locator("#chart-otp-hour .scatterlayer .trace").count() >= 1  # drawn lines
            summary = page.inner_text("#kpi-summary")
            assert re.search(r"on time\s+\d+(\.\d)? %", summary), summary
            page.screenshot(path=str(IMG / "kpis.png"), full_page=False)

            page.goto(url + "/ops/playback/?hours=24")
            page.wait_for_selector("body[data-playback-ready=true]", timeout=30_000)
            state = "window.streamcityPlaybackState"

            def at(t: dt.datetime) -> dict:
                page.evaluate(f"{state}.seek({int(t.timestamp() * 1000)})")
                page.wait_for_function(
                    f"() => document.body.dataset.playbackT && "
                    f"Math.abs(Date.parse(document.body.dataset.playbackT) - {int(t.timestamp() * 1000)}) < 1000",
                    timeout=10_000)
                return page.evaluate(f"""() => ({{
                    vehicles: Object.fromEntries([...{state}.vehicles.values()].map(v => [v.vehicle_id, v])),
                    alerts: {state}.alerts.map(a => a.alert_key) }})""")

            # the jump list has the breakdown; jumping goes to a moment before it
            page.click(f'#pb-alert-starts li[data-alert-id="{breakdown["id"]}"] button')
            page.wait_for_function(
                f"() => Math.abs(Date.parse(document.body.dataset.playbackT || 0) - "
                f"{int((detected - dt.timedelta(seconds=15)).timestamp() * 1000)}) < 1000", timeout=10_000)
            before = at(detected - dt.timedelta(seconds=20))
            assert before["vehicles"][vehicle]["status"] == "in_service"
            assert not any(k.startswith(f"breakdown:{vehicle}") for k in before["alerts"])
            during = at(detected + dt.timedelta(minutes=2))
            assert during["vehicles"][vehicle]["status"] == "broken_down"
            assert during["vehicles"][vehicle]["speed"] == 0
            assert any(k.startswith(f"breakdown:{vehicle}") for k in during["alerts"])
            assert page.locator('#pb-open-alerts li[data-kind="breakdown"]').count() >= 1
            page.screenshot(path=str(IMG / "playback.png"))
            # the spare takes over: on the road, in service, on the broken vehicle's block
            spare_time = dt.datetime.fromisoformat(spare_track[2]["timestamp"])
            later = at(spare_time)
            spare = later["vehicles"][f"{vehicle}R"]
            assert spare["status"] == "in_service" and spare["route_id"] == during["vehicles"][vehicle]["route_id"]

            # playing at 60×: the clock moves about a minute of history per second
            page.select_option("#pb-speed", "60")
            start = page.evaluate(f"{state}.t")
            page.click("#pb-play")
            page.wait_for_timeout(2000)
            page.click("#pb-play")
            moved = (page.evaluate(f"{state}.t") - start) / 1000
            assert 60 <= moved <= 200, moved
        finally:
            browser.close()
    assert app.stop() == 0
