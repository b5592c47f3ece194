"""Filters by vehicle type and by route: the map shows only those, and the server sends only those."""

import collections

import pytest

from .test_browser import VEHICLES, chromium, city, open_map, socket_frames, wait_for_count  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def shown(page) -> list[dict]:
    return page.evaluate(VEHICLES)


def test_filter_by_vehicle_type(city, chromium):
    page = open_map(chromium, city.url)
    try:
        wait_for_count(page, 30)
        types = collections.Counter(v["vehicle_type"] for v in shown(page))
        assert len(types) >= 2, f"the city needs two kinds of vehicle for this test: {types}"
        keep = min(types, key=types.get)
        listed = page.eval_on_selector_all(".sc-type-list input", "(inputs) => inputs.map((i) => i.value)")
        assert set(types) <= set(listed)
        for t in listed:
            if t != keep:
                page.click(f'.sc-type-list input[value="{t}"]')
        page.wait_for_function(
            f"""() => {{ const s = JSON.parse(document.getElementById('live-map').dataset.subscription || '{{}}');
                       return (s.vehicle_types || []).join() === '{keep}'; }}""", timeout=10_000
        )
        page.wait_for_function("() => Number(document.getElementById('live-map').dataset.vehicleCount) > 0")
        assert {v["vehicle_type"] for v in shown(page)} == {keep}
        assert int(page.inner_text("#vehicle-count")) == len(shown(page)) < sum(types.values())
        assert f"type={keep}" in page.url  # the address keeps the filter: a wall screen can be set up by URL

        socket_frames(page)
        frames = []
        for _ in range(20):  # a few vehicles of one type, some laying over: a change can take a while
            page.wait_for_timeout(750)
            frames += socket_frames(page)
            if frames:
                break
        assert frames, "no frames arrived in 15 s"
        assert {v["vehicle_type"] for v in frames} == {keep}  # filtered by the server, not only on the page

        page.click(f'.sc-type-list input[value="{next(t for t in types if t != keep)}"]')  # one more type back
        page.wait_for_function(
            "() => JSON.parse(document.getElementById('live-map').dataset.subscription).vehicle_types.length === 2"
        )
        assert page.errors == []
    finally:
        page.close()


def test_filter_by_route(city, chromium):
    page = open_map(chromium, city.url)
    try:
        wait_for_count(page, 30)
        routes = collections.Counter(v["route_id"] for v in shown(page) if v["route_id"])
        route = routes.most_common(1)[0][0]
        page.fill(".sc-route-filter", "")
        page.click(f'.sc-route-list input[value="{route}"]')
        page.wait_for_function(
            f"""() => {{ const s = JSON.parse(document.getElementById('live-map').dataset.subscription || '{{}}');
                       return s.level === 'routes' && (s.routes || []).join() === '{route}'; }}""", timeout=10_000
        )
        page.wait_for_function(
            f"() => Number(document.getElementById('live-map').dataset.vehicleCount) === {routes[route]}"
        )
        assert {v["route_id"] for v in shown(page)} == {route}
        assert f"route={route}" in page.url  # a wall screen can keep its filter in the address
        socket_frames(page)
        page.wait_for_timeout(2500)
        frames = socket_frames(page)
        assert frames and {v["route_id"] for v in frames} == {route}

        page.click(".sc-all-routes")  # back to every route
        wait_for_count(page, sum(routes.values()))
        assert page.errors == []
    finally:
        page.close()


def test_filters_from_the_address_and_search(city, chromium):
    vehicles = shown_somewhere(city)
    tram_or_rail = next(v for v in vehicles if v["vehicle_type"] != "bus")
    page = open_map(chromium, city.url, query=f"type={tram_or_rail['vehicle_type']}&colour=state")
    try:
        page.wait_for_function("() => Number(document.getElementById('live-map').dataset.vehicleCount) > 0")
        assert {v["vehicle_type"] for v in shown(page)} == {tram_or_rail["vehicle_type"]}
        assert page.is_checked('input[name="sc-colour"][value="state"]')
        assert "On time" in page.inner_text(".sc-legend")  # the punctuality legend
        # search a vehicle by id: the map goes there and opens its popup
        target = next(v for v in vehicles if v["vehicle_type"] == "bus")
        page.fill(".sc-search-input", target["vehicle_id"])
        page.click(f'.sc-result[data-id="{target["vehicle_id"]}"]', timeout=10_000)
        page.wait_for_selector(f'.sc-popup[data-vehicle-id="{target["vehicle_id"]}"]', timeout=15_000)
        assert page.errors == []
    finally:
        page.close()


def shown_somewhere(city) -> list[dict]:
    from .test_browser import api

    return api(city.url, "/api/vehicles/")["vehicles"]
