"""The live map in headless Chromium (Debian's), driven by Playwright."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

POSITIONS = """() => {
  const markers = document.getElementById('live-map').streamcityMarkers;
  const out = {};
  markers.forEach((m, id) => { const p = m.getLatLng(); out[id] = [p.lat, p.lng]; });
  return out;
}"""


def test_markers_appear_and_move(embedded, chromium_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(embedded.url + "/")
            page.wait_for_function(
                "() => Number(document.getElementById('live-map').dataset.vehicleCount) >= 40", timeout=30_000
            )
            assert page.get_attribute("#live-map", "data-connected") == "true"
            before = page.evaluate(POSITIONS)
            page.wait_for_timeout(3000)
            after = page.evaluate(POSITIONS)
            moved = sum(before[k] != after.get(k) for k in before)
            assert moved >= 30, f"only {moved} of {len(before)} markers moved"
            assert page.inner_text("#vehicle-count") == "40"
            page.screenshot(path=str(ARTIFACTS / "live-map.png"))
            assert errors == []
        finally:
            browser.close()
