"""The map on a phone and on a wall screen; and the operations page's hooks into it."""

import pytest

from .test_browser import ARTIFACTS, chromium, city, open_map, wait_for_count  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_on_a_phone_the_controls_fold_away(city, chromium):
    page = open_map(chromium, city.url, width=390, height=844)
    try:
        wait_for_count(page, 10)
        assert page.is_hidden(".sc-panel-body") and page.is_hidden(".sc-legend-body")
        page.click(".sc-panel-toggle")
        assert page.is_visible(".sc-type-list")
        panel = page.locator(".sc-panel").bounding_box()
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 390  # nothing off screen
        page.screenshot(path=str(ARTIFACTS / "live-map-phone.png"))
        assert page.errors == []
    finally:
        page.close()


def test_on_a_wall_screen_everything_is_larger(city, chromium):
    small = open_map(chromium, city.url)
    wall = open_map(chromium, city.url, width=2560, height=1440)
    try:
        wait_for_count(small, 10)
        wait_for_count(wall, 10)
        size = "(s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)"
        assert wall.evaluate(size, ".sc-panel") > small.evaluate(size, ".sc-panel")
        reach = """() => { let r = 0;
          document.getElementById('live-map').streamcityMarkers.forEach(
            (m) => { if (m.sprite) r = Math.max(r, m.sprite.r); });
          return r; }"""
        wall.wait_for_timeout(500)
        assert wall.evaluate(reach) > small.evaluate(reach)  # bigger vehicles too
        wall.screenshot(path=str(ARTIFACTS / "live-map-wall.png"))
        assert small.errors == [] and wall.errors == []
    finally:
        small.close()
        wall.close()


def test_the_operations_page_can_ring_a_vehicle(city, chromium):
    """ops.js rings vehicles with alerts through marker.setStyle({color, weight})."""
    page = open_map(chromium, city.url)
    try:
        wait_for_count(page, 10)
        ring = page.evaluate(
            """() => { const markers = document.getElementById('live-map').streamcityMarkers;
                       const [id, m] = markers.entries().next().value;
                       m.setStyle({ color: '#6a1b9a', weight: 3 });
                       return new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(
                         () => done([m.ring, m.ringWidth, m.sprite && m.sprite.r]))));
                     }"""
        )
        assert ring[:2] == ["#6a1b9a", 3] and ring[2] > 0
    finally:
        page.close()
