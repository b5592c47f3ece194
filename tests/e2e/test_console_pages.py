"""The passenger pages and the dispatcher's console in Chromium (issue 20), against StreamCity embedded
with its simulated city: stop pages of a station, search with accents, the route ladder with ghost
buses, the vehicle and trip view, and axe-core's check of colour contrast and other serious
accessibility violations on the map, a stop page and /ops/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import get_json, wait_until
from .test_browser import CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# screenshots for docs/img/ are taken here (copy them there by hand when a page changes)
DOCS_IMG = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _login(page, app) -> None:
    password = re.search(r"with password '([^']+)'", app.output()).group(1)
    page.goto(app.url + "/accounts/login/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", password)
    page.click("form:not(.site-search) button[type=submit]")
    page.wait_for_url(re.compile(r".*/(ops/)?$"))


def _axe_serious(page) -> list[dict]:
    import axe_playwright_python

    page.add_script_tag(path=str(Path(axe_playwright_python.__file__).parent / "axe.min.js"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_stop_page_of_a_station_lists_departures_of_all_its_platforms(embedded, browser):
    board = wait_until(lambda: (b := get_json(embedded.url + "/api/stops/CS-T/board/"))["departures"] and b,
                       timeout=30, message="departures at Centraal")
    platforms = {p["stop_id"] for p in board["platforms"]}
    assert {"CS-B", "CS-T", "CS-R"} <= platforms  # asked for the tram platform: the whole station
    with_departures = {d["stop_id"] for d in board["departures"] if not d["terminates"]}
    assert len(with_departures) >= 2, with_departures
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(embedded.url + "/stops/CS-B/")
    assert page.title().startswith("Centraal")
    shown = set(page.eval_on_selector_all("tr.departure", "rows => rows.map(r => r.dataset.platform)"))
    assert with_departures <= shown | {d["stop_id"] for d in board["departures"][20:]}, (with_departures, shown)
    assert len(shown) >= 2
    # live predictions are marked apart from timetable times
    assert page.locator("tr.departure .live-mark, tr.departure .sched-mark").count() == page.locator(
        "tr.departure").count()
    page.wait_for_function("() => Number(document.getElementById('live-map').dataset.vehicleCount) > 0",
                           timeout=30_000)
    # the board keeps itself current (every 30 s, and when the tab comes back into view)
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_function("() => document.querySelector('.stop-page').dataset.refreshed", timeout=10_000)
    assert page.locator("tr.departure").count() > 0
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "console-stop-page.png"))
    assert _axe_serious(page) == []


def test_search_ignores_accents_and_says_when_nothing_matches(embedded, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(embedded.url + "/")
    page.fill("#site-search-q", "CËNTRÁAL")
    page.press("#site-search-q", "Enter")
    page.wait_for_url(re.compile(r".*/search/\?q=.*"))
    link = page.locator("#stop-results a", has_text="Centraal")
    assert link.count() == 1  # one entry for the station, not one per platform
    page.screenshot(path=str(DOCS_IMG / "console-search.png"))
    link.click()
    page.wait_for_url(re.compile(r".*/stops/CS-.*"))
    assert page.locator("h1").inner_text().startswith("Centraal")
    page.goto(embedded.url + "/search/?q=qqxxzz")
    assert "No results for “qqxxzz”" in page.locator(".no-results").inner_text()


def test_near_a_typed_place_and_a_route_page(embedded, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(embedded.url + "/stops/near/")
    page.fill("#place", "centraal")
    page.press("#place", "Enter")
    page.wait_for_selector("#near-list")
    first = page.locator("#near-list > li").first
    assert first.locator("strong").inner_text() == "Centraal" and first.locator(".meta").first.inner_text() == "0 m"
    assert page.locator("#near-list > li").count() >= 3
    page.screenshot(path=str(DOCS_IMG / "console-near.png"))
    route_id, vehicles = _route_with_vehicles(embedded)
    page.goto(f"{embedded.url}/routes/{route_id}/")
    assert page.title().startswith("Route ")
    assert page.locator(".timetable tbody tr").count() > 10  # today's trips
    assert len(page.eval_on_selector_all("section h2[id^=dir-]", "hs => hs")) == 2  # both directions
    page.wait_for_function("() => Number(document.getElementById('live-map').dataset.vehicleCount) > 0",
                           timeout=30_000)
    plan = json.loads(page.eval_on_selector("#live-map", "m => m.dataset.subscription"))
    assert plan["routes"] == [route_id]  # the small map watches only this route's group
    page.screenshot(path=str(DOCS_IMG / "console-route-page.png"))


def _route_with_vehicles(app) -> tuple[str, list[dict]]:
    def found():
        vehicles = get_json(app.url + "/api/vehicles/")["vehicles"]
        by_route: dict[str, list] = {}
        for v in vehicles:
            if v["route_id"] and v["trip_id"] and v["status"] in ("in_service", "layover"):
                by_route.setdefault(v["route_id"], []).append(v)
        best = max(by_route.items(), key=lambda kv: len(kv[1]), default=None)
        return best if best and len(best[1]) >= 2 else None

    return wait_until(found, timeout=60, message="a route with two vehicles")


def test_ladder_places_every_vehicle_in_stop_order_and_shows_ghost_buses(embedded, browser):
    route_id, _ = _route_with_vehicles(embedded)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _login(page, embedded)
    page.goto(f"{embedded.url}/ops/routes/{route_id}/")
    page.wait_for_function("() => document.getElementById('ladder').dataset.connected === 'true'", timeout=20_000)
    page.wait_for_function("() => Number(document.getElementById('ladder').dataset.vehicles) > 0", timeout=20_000)
    config = json.loads(page.locator("#ladder-config").text_content())["ladder"]["routes"][0]
    vehicles = {v["vehicle_id"]: v for v in get_json(embedded.url + f"/api/vehicles/?route={route_id}")["vehicles"]}
    markers = page.eval_on_selector_all(".ladder-dir", """cols => cols.map(c => ({
        direction: c.dataset.direction,
        vehicles: [...c.querySelectorAll('.ladder-vehicle')].map(m => [m.dataset.vehicle, Number(m.dataset.position)]),
        ghosts: [...c.querySelectorAll('.ladder-ghost')].map(m => m.dataset.trip)}))""")
    on_ladder = {vid for col in markers for vid, _ in col["vehicles"]}
    # every vehicle of the route whose next stop is on its direction's pattern is drawn (it may have moved on
    # since: compare with the vehicles both lists know)
    placeable = {vid for vid, v in vehicles.items()
                 if any(v["next_stop_id"] == s["stop_id"] for d in config["directions"] for s in d["stops"])
                 or v["status"] == "layover"}
    assert placeable and placeable <= on_ladder | (placeable - set(vehicles)), (placeable, on_ladder)
    for col, d in zip(markers, config["directions"]):
        index = {}
        for i, s in enumerate(d["stops"]):
            index.setdefault(s["stop_id"], i)
        for vid, position in col["vehicles"]:
            v = vehicles.get(vid)
            if v is None or v["status"] == "layover" or v["next_stop_id"] not in index:
                continue
            # in stop order: between the stop before its next stop and its next stop
            assert index[v["next_stop_id"]] - 1 <= position <= index[v["next_stop_id"]] + 0.01, (vid, position)
    # a trip a vehicle works is never a ghost (ghosts when a vehicle is withdrawn: the test below)
    worked = {v["trip_id"] for v in vehicles.values()}
    assert not {t for col in markers for t in col["ghosts"]} & worked
    page.screenshot(path=str(DOCS_IMG / "console-ladder.png"), full_page=False)


def test_vehicle_view_lists_the_remaining_stops_with_predicted_times(embedded, browser):
    _, vehicles = _route_with_vehicles(embedded)
    v = next((x for x in vehicles if x["delay_seconds"] is not None and x["status"] == "in_service"), vehicles[0])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, embedded)
    page.goto(f"{embedded.url}/ops/vehicles/{v['vehicle_id']}/")
    assert page.title().startswith(f"Vehicle {v['vehicle_id']}")
    rows = page.eval_on_selector_all("#remaining-stops tbody tr", """rows => rows.map(r => ({
        seq: Number(r.dataset.sequence), predicted: r.querySelector('.predicted').innerText.trim()}))""")
    assert rows, "no remaining stops"
    assert all(r["seq"] > (v["stop_sequence"] or 0) - 1 for r in rows)
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    if v["delay_seconds"] is not None:
        assert all(re.fullmatch(r"\d\d:\d\d", r["predicted"]) for r in rows), rows
    page.screenshot(path=str(DOCS_IMG / "console-vehicle.png"))


def test_no_serious_accessibility_violation_on_the_map_a_stop_page_and_ops(embedded, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    found = {}
    page.goto(embedded.url + "/")
    page.wait_for_function("() => document.getElementById('live-map').dataset.connected === 'true'", timeout=20_000)
    page.wait_for_selector(".sc-route-list .sc-badge, label > .sc-badge", timeout=20_000)  # the route list's badges
    found["/"] = _axe_serious(page)
    page.goto(embedded.url + "/stops/CS-B/")
    found["/stops/CS-B/"] = _axe_serious(page)
    _login(page, embedded)
    page.goto(embedded.url + "/ops/")
    page.wait_for_timeout(2000)
    found["/ops/"] = _axe_serious(page)
    assert found == {"/": [], "/stops/CS-B/": [], "/ops/": []}, json.dumps(found, indent=1)


# The vehicles of the ghost test: put on two trips of a route that run now by the timetable, each at
# the stop its timetable puts it at; then one is withdrawn (its row leaves the live table).
PLACE_VEHICLES = r"""
import datetime as dt, json, sys, zoneinfo
from django.utils import timezone
from simulators.services import builtin_city_ensure
from alerts.console import ladder_data
from streamcity.kernel.schemas import LiveVehicle
from transit.services import vehicle_states_upsert
builtin_city_ensure()
route = sys.argv[1]
now = timezone.now()
data = ladder_data([route], now=now)["routes"][0]
stops = {d["direction_id"]: d["stops"] for d in data["directions"]}
running = [t for t in data["trips"] if t["start"] + 600 <= now.timestamp() <= t["end"] - 600 and len(t["calls"]) > 2]
chosen, out = running[:2], []
for n, t in enumerate(chosen):
    ahead = next(i for i, at in t["calls"] if at > now.timestamp())
    s = stops[t["direction_id"]][ahead]
    out.append({"vehicle_id": f"ghost-test-{n}", "trip_id": t["trip_id"]})
    vehicle_states_upsert(vehicles=[LiveVehicle(
        vehicle_id=f"ghost-test-{n}", vehicle_type="bus", route_id=route, trip_id=t["trip_id"],
        latitude=s["latitude"], longitude=s["longitude"], bearing=0, speed=5, passenger_count=10, capacity=80,
        stop_sequence=None, next_stop_id=s["stop_id"], delay_seconds=30, timestamp=now)])
# a third vehicle lays over at the first stop of a trip that leaves in a few minutes
nxt = next(t for t in data["trips"] if now.timestamp() + 60 < t["start"] < now.timestamp() + 3600)
first = stops[nxt["direction_id"]][nxt["calls"][0][0]]
vehicle_states_upsert(vehicles=[LiveVehicle(
    vehicle_id="ghost-test-layover", vehicle_type="bus", route_id=route, trip_id=nxt["trip_id"],
    latitude=first["latitude"], longitude=first["longitude"], bearing=0, speed=0, passenger_count=0, capacity=80,
    stop_sequence=None, next_stop_id=first["stop_id"], delay_seconds=0, status="layover", timestamp=now)])
layover = {"vehicle_id": "ghost-test-layover", "trip_id": nxt["trip_id"],
           "leaves": timezone.localtime(dt.datetime.fromtimestamp(nxt["start"], dt.timezone.utc),
                                        zoneinfo.ZoneInfo(data["timezone"])).strftime("%H:%M")}
print("PLACED " + json.dumps({"vehicles": out, "running": [t["trip_id"] for t in running], "layover": layover}))
"""


def test_ladder_shows_a_ghost_bus_where_a_trip_s_vehicle_was_withdrawn(procs, tmp_path, browser):
    import subprocess

    from .conftest import base_env, free_port, manage

    env = base_env(tmp_path)
    subprocess.run(manage("migrate", "--no-input", "-v0"), env=env, check=True)
    port = free_port()
    app = procs.start("runstreamcity", manage("runstreamcity", "--port", str(port), "--no-simulator",
                                              "--demo-operator"), env)
    app.wait_for_output("StreamCity is running at", timeout=60)
    app.url = f"http://127.0.0.1:{port}"
    placed = subprocess.run(manage("shell", "-c", PLACE_VEHICLES.replace("sys.argv[1]", '"B12"')), env=env,
                            check=True, capture_output=True, text=True).stdout
    placed = json.loads(placed.split("PLACED ", 1)[1])
    vehicles = placed["vehicles"]
    assert len(vehicles) == 2, placed
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _login(page, app)

    def ladder():
        page.goto(app.url + "/ops/routes/B12/")
        page.wait_for_function("() => document.getElementById('ladder').dataset.connected === 'true'",
                               timeout=20_000)
        page.wait_for_function("() => Number(document.getElementById('ladder').dataset.vehicles) >= 1",
                               timeout=20_000)
        return {"vehicles": page.eval_on_selector_all(".ladder-vehicle", "ms => ms.map(m => m.dataset.trip)"),
                "ghosts": page.eval_on_selector_all(".ladder-ghost", "ms => ms.map(m => m.dataset.trip)")}

    before = ladder()
    layover = placed["layover"]
    assert sorted(before["vehicles"]) == sorted([v["trip_id"] for v in vehicles] + [layover["trip_id"]])
    # the vehicle laying over sits at its terminal with its next departure
    lay = page.locator(f'.ladder-vehicle[data-vehicle="{layover["vehicle_id"]}"]')
    assert lay.get_attribute("data-position") == "0.000"
    assert f"layover · leaves {layover['leaves']}" in lay.inner_text()
    assert not set(before["ghosts"]) & {v["trip_id"] for v in vehicles}
    # every trip the timetable runs now and no vehicle works is a ghost
    assert set(placed["running"]) - {v["trip_id"] for v in vehicles} <= set(before["ghosts"])
    withdrawn = vehicles[0]
    subprocess.run(manage("shell", "-c", "from transit.models import VehicleState; "
                          f"VehicleState.objects.filter(vehicle_id={withdrawn['vehicle_id']!r}).delete()"),
                   env=env, check=True)
    after = ladder()
    assert sorted(after["vehicles"]) == sorted([vehicles[1]["trip_id"], layover["trip_id"]])
    assert withdrawn["trip_id"] in after["ghosts"]  # its trip is now a hollow marker in place
    ghost = page.locator(f'.ladder-ghost[data-trip="{withdrawn["trip_id"]}"]')
    assert "ghost" in ghost.get_attribute("title")
    ghost.scroll_into_view_if_needed()
    page.screenshot(path=str(DOCS_IMG / "console-ladder-ghosts.png"))


MAKE_ALERTS = r"""
import datetime as dt
from django.utils import timezone
from alerts.models import Alert
now = timezone.now()
def make(key, kind, route, minutes_ago, severity=3):
    t = now - dt.timedelta(minutes=minutes_ago)
    # updated by their detector just now: the expiry pass (every 5 s) leaves them open for a minute
    Alert.objects.create(alert_key=key, kind=kind, route_id=route, summary=f"{kind} on {route} ({key})",
                         severity=severity, detected_at=t, last_event_at=now)
# one timetable change: gap alerts at three stops of B12 within 10 minutes; a breakdown on B12; a delay on T1
make("gap:B12:S1", "gap", "B12", 12); make("gap:B12:S2", "gap", "B12", 8); make("gap:B12:S3", "gap", "B12", 3)
make("breakdown:V7", "breakdown", "B12", 5, severity=4); make("delay:V9", "delay", "T1", 2)
"""


SECOND_DISPATCHER = r"""
from alerts.services import operator_create
operator_create(username="piet", password="second-dispatcher-pw-42")
"""
# the snooze's end reached, in the only honest way short of waiting: its stored end moved to now (the
# server compares it with its own clock, as it would at that time)
SNOOZE_ENDS_NOW = r"""
from django.utils import timezone
from alerts.models import Alert
print("ENDED", Alert.objects.filter(snoozed_until__gt=timezone.now()).update(snoozed_until=timezone.now()))
"""


def _board(page, alerts: int, timeout: float = 10_000) -> None:
    page.wait_for_function(f"() => document.getElementById('shift-board').dataset.alerts === '{alerts}'",
                           timeout=timeout)


def test_shift_alerts_merge_an_episode_snooze_hides_and_brings_back(procs, tmp_path, browser):
    import subprocess

    from .conftest import base_env, free_port, manage

    env = base_env(tmp_path)
    subprocess.run(manage("migrate", "--no-input", "-v0"), env=env, check=True)
    port = free_port()
    app = procs.start("runstreamcity", manage("runstreamcity", "--port", str(port), "--no-simulator",
                                              "--demo-operator"), env)
    app.wait_for_output("StreamCity is running at", timeout=60)
    app.url = f"http://127.0.0.1:{port}"
    subprocess.run(manage("shell", "-c", MAKE_ALERTS), env=env, check=True)
    subprocess.run(manage("shell", "-c", SECOND_DISPATCHER), env=env, check=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, app)
    page.clock.install()
    page.goto(app.url + "/ops/alerts/")
    _board(page, 5, timeout=20_000)
    groups = page.eval_on_selector_all(".shift-group", """gs => gs.map(g => [g.dataset.route,
        g.querySelector('.count').textContent, [...g.querySelectorAll('li.episode')].map(e => e.dataset.alerts)])""")
    # B12 first (a severity-4 breakdown), its three gap alerts one episode; T1's delay
    assert groups == [["B12", "4", ["1", "3"]], ["T1", "1", ["1"]]], groups
    gap = page.locator('li.episode[data-kind="gap"]')
    assert gap.locator(".n").inner_text() == "× 3 (one episode)"
    ladder = gap.locator('a[data-do="ladder"]')
    assert ladder.get_attribute("href") == "/ops/routes/B12/"
    page.screenshot(path=str(DOCS_IMG / "console-shift-alerts.png"))

    # a second dispatcher (another browser, another account) has the board open
    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.goto(app.url + "/accounts/login/")
    other.fill("input[name=username]", "piet")
    other.fill("input[name=password]", "second-dispatcher-pw-42")
    other.click("form:not(.site-search) button[type=submit]")
    other.wait_for_url(re.compile(r".*/(ops/)?$"))
    other.goto(app.url + "/ops/alerts/")
    _board(other, 5, timeout=20_000)

    page.select_option("#snooze-minutes", "15")
    gap.focus()
    page.keyboard.press("s")  # snooze the episode for 15 minutes, on the server
    _board(page, 2)
    assert page.locator('li.episode[data-kind="gap"]').count() == 0
    _board(other, 2)  # the other dispatcher's board drops it at once (the ops socket)
    other.select_option("#f-state", "snoozed")
    snooze = other.locator('li.episode[data-kind="gap"] .snooze').inner_text()
    assert re.fullmatch(r"Snoozed by operator until \d\d:\d\d", snooze), snooze
    other.select_option("#f-state", "all")  # every episode, the snoozed one with who and until when
    assert other.locator("li.episode").count() == 3 and other.locator("li.episode.is-snoozed").count() == 1
    other.screenshot(path=str(DOCS_IMG / "console-shift-snoozed.png"))
    other.select_option("#f-state", "open")

    # the snooze is the server's: a fresh page keeps it; the address sets the filter (the link of the
    # operations map's "N snoozed" note), and the filter chosen goes back into the address
    page.goto(app.url + "/ops/alerts/?state=snoozed")
    page.wait_for_function("() => document.getElementById('ops-connection').textContent === 'alerts live'",
                           timeout=20_000)
    assert page.locator("#f-state").input_value() == "snoozed"
    _board(page, 3)  # the one snoozed episode: three gap alerts
    assert page.locator('li.episode[data-kind="gap"]').count() == 1
    page.select_option("#f-state", "open")
    _board(page, 2)
    assert "state=" not in page.url
    page.clock.fast_forward("16:00")  # the snooze runs out on this page's clock: the episode is back, unasked
    _board(page, 5)
    _board(other, 2)  # where the real clock has not reached the end, it is still snoozed
    # the server's clock reaches the end: a fresh read brings it back on the other board too
    ended = subprocess.run(manage("shell", "-c", SNOOZE_ENDS_NOW), env=env, check=True, capture_output=True,
                           text=True).stdout
    assert "ENDED 3" in ended, ended
    other.reload()
    _board(other, 5, timeout=20_000)

    page.select_option("#f-kind", "delay")  # the filters
    assert page.eval_on_selector_all("li.episode", "es => es.map(e => e.dataset.kind)") == ["delay"]
    page.select_option("#f-kind", "")
    page.locator('li.episode[data-kind="delay"]').focus()
    page.keyboard.press("a")  # acknowledge by keyboard
    page.wait_for_function("""() => document.querySelector('li.episode[data-kind="delay"] .status')
                              .textContent === 'acknowledged'""", timeout=10_000)
    page.keyboard.press("r")  # and resolve: it leaves the board
    _board(page, 4)
    _board(other, 4)


def test_keyboard_only_reaches_a_vehicle_popup_and_its_pages(embedded, browser):
    route_id, vehicles = _route_with_vehicles(embedded)
    vehicle_id = vehicles[0]["vehicle_id"]
    for viewport in ({"width": 1280, "height": 800}, {"width": 375, "height": 667}):  # a desktop, a phone
        page = browser.new_page(viewport=viewport)
        page.goto(embedded.url + "/")
        page.wait_for_function("() => Number(document.getElementById('live-map').dataset.vehicleCount) > 0",
                               timeout=30_000)
        for _ in range(40):  # Tab from the top of the page to the map's search box
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.classList.contains('sc-search-input')"):
                break
            if page.evaluate("""() => document.activeElement.classList.contains('sc-panel-toggle')
                                && !document.querySelector('.sc-search-input').offsetParent"""):
                page.keyboard.press("Enter")  # a phone: the filter panel opens from its button
        else:
            raise AssertionError("Tab never reached the map's search box")
        page.keyboard.type(vehicle_id)
        page.wait_for_selector(f'.sc-result[data-id="{vehicle_id}"]')
        page.keyboard.press("Enter")
        popup = page.wait_for_selector(f'.sc-popup[data-vehicle-id="{vehicle_id}"]', timeout=10_000)
        link = popup.query_selector('a[href^="/ops/vehicles/"]')
        assert link is not None and popup.query_selector(f'a[href="/routes/{route_id}/"]') is not None
        # the close button comes on screen once the map has panned to the popup (0.25 s), phone included,
        # and stays there while the popup follows its vehicle
        in_view = """() => { const r = document.querySelector('.leaflet-popup-close-button').getBoundingClientRect();
                             return r.left >= 0 && r.right <= window.innerWidth && r.top >= 0; }"""
        page.wait_for_function(in_view, timeout=3_000)
        page.wait_for_timeout(1_500)
        close = page.locator(".leaflet-popup-close-button")
        box = close.bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"] and 0 <= box["y"], box
        assert box["width"] >= 24 and box["height"] >= 24, box  # a tap target of 24 px
        page.close()
