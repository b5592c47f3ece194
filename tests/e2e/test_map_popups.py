"""Clicking a vehicle shows its popup; clicking a stop shows its next arrivals."""

import re

import pytest

from .test_browser import (  # noqa: F401 (fixtures)
    ARTIFACTS, api, chromium, city, container_point, isolated_vehicle, open_map, wait_for_count,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_vehicle_popup_shows_route_trip_next_stop_load_deviation_and_age(city, chromium):
    page = open_map(chromium, city.url)
    try:
        wait_for_count(page, 30)
        page.wait_for_timeout(1000)
        vehicle_id = isolated_vehicle(page)
        page.mouse.click(*container_point(page, vehicle_id))
        popup = page.wait_for_selector(f'.sc-popup[data-vehicle-id="{vehicle_id}"]', timeout=5000)
        detail = api(city.url, f"/api/vehicles/{vehicle_id}/")
        v = detail["vehicle"]
        # the names come from the network once the popup has asked for them
        page.wait_for_function(
            "(name) => document.querySelector('.sc-popup .f-next-stop').textContent === name",
            arg=detail["next_stop"]["name"], timeout=5000,
        )
        text = popup.inner_text()
        assert vehicle_id in text
        assert page.inner_text(".sc-popup .f-route").startswith(detail["route"]["short_name"])
        assert page.inner_text(".sc-popup .f-headsign") == f"to {detail['trip']['headsign']}"
        load = page.inner_text(".sc-popup .f-load")
        assert re.search(rf"\d+ / {v['capacity']} \(\d+ %, [a-z ]+\)", load), load
        deviation = page.inner_text(".sc-popup .f-deviation")
        assert re.fullmatch(r"on time|no schedule|(\d+ min ?)?(\d+ s)? (late|early)", deviation), deviation
        assert re.fullmatch(r"\d+ s ago", page.inner_text(".sc-popup .f-age"))
        assert page.inner_text(".sc-popup .f-status") in {"in service", "broken down", "out of service"}
        page.screenshot(path=str(ARTIFACTS / "live-map-vehicle-popup.png"))

        # the popup follows its vehicle and closes with its button
        page.click(".leaflet-popup-close-button")
        page.wait_for_selector(".sc-popup", state="detached", timeout=2000)
        assert page.get_attribute("#live-map", "data-popup") == ""
        assert page.errors == []
    finally:
        page.close()


def test_a_stop_popup_lists_the_next_arrivals(city, chromium):
    stops = api(city.url, "/api/stops/", bbox="4.80,52.33,5.00,52.41")["stops"]
    stop = next((s for s in stops if api(city.url, f"/api/stops/{s['stop_id']}/arrivals/")["arrivals"]), None)
    assert stop, "no stop of the city has an arrival within the hour"
    page = open_map(chromium, city.url, query="route=none")  # no vehicles over the stop to click instead
    try:
        page.wait_for_function("() => document.getElementById('live-map').dataset.connected === 'true'")
        page.evaluate("([lat, lon]) => document.getElementById('live-map').streamcityMap.setView([lat, lon], 17)",
                      [stop["latitude"], stop["longitude"]])
        page.wait_for_function("() => Number(document.getElementById('live-map').dataset.stops) > 0", timeout=10_000)
        point = page.evaluate(
            "([lat, lon]) => document.getElementById('live-map').streamcityMap.latLngToContainerPoint([lat, lon])",
            [stop["latitude"], stop["longitude"]],
        )
        box = page.locator("#live-map").bounding_box()
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        page.wait_for_selector(f'.sc-stop-popup[data-stop-id="{stop["stop_id"]}"] .sc-arrival', timeout=10_000)
        rows = page.query_selector_all(".sc-stop-popup .sc-arrival")
        assert rows
        cells = [c.inner_text() for c in rows[0].query_selector_all("td")]
        assert cells[0] and re.fullmatch(r"now|\d+ min", cells[2]), cells
        assert re.fullmatch(r"scheduled|on time|(\d+ min ?)?(\d+ s)? (late|early)", cells[3]), cells
        assert stop["name"] in page.inner_text(".sc-stop-popup .sc-popup-title")
        page.screenshot(path=str(ARTIFACTS / "live-map-stop-popup.png"))
        assert page.errors == []
    finally:
        page.close()
