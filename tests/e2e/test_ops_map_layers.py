"""The dispatcher's layers of the operations map (/ops/, issue 20) in Chromium: route numbers drawn on the
vehicles from zoom 15 (checked in the canvas's pixels), the crowding colour mode (a vehicle's pixels in
its load band's colour, the mode kept in the URL), and the ghost-bus layer (a hollow marker with its
popup once a trip's vehicle is withdrawn, reached by keyboard). The passenger map has none of them."""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import base_env, free_port, get_json, manage
from .test_browser import ARTIFACTS, CHROMIUM_ARGS
from .test_console_pages import PLACE_VEHICLES, _login

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# the load bands of the crowding mode (static/transit/map/dispatch.js), written out again here
BANDS = [(0.5, "#2e7d32"), (0.85, "#f9a825"), (1.0, "#ef6c00"), (float("inf"), "#b71c1c")]
LABEL_INK = (0x1D, 0x27, 0x33)


def band_colour(passengers: int, capacity: int) -> str:
    return next(colour for below, colour in BANDS if passengers / capacity < below)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# For each vehicle drawn on the canvas: its id, load, where it was drawn, the pixel at its centre and
# how many pixels of the label's ink (the dark pill, opaque) lie in the box its label is drawn in.
SAMPLE = """(ink) => {
  const live = document.getElementById('live-map').streamcityLive, layer = live.layer;
  const ctx = layer._ctx, dpr = layer._dpr, out = [];
  layer.vehicles.forEach((m) => {
    if (m.cell < 0 || !m.sprite) return;
    const r = m.sprite.r, x0 = Math.round((m.cx + r * 0.55) * dpr), y1 = Math.round((m.cy - r * 0.55) * dpr);
    const w = Math.round(18 * dpr), h = Math.round(12 * dpr);
    if (x0 < 0 || y1 - h < 0 || x0 + w > ctx.canvas.width || y1 > ctx.canvas.height) return;
    const box = ctx.getImageData(x0, y1 - h, w, h).data;
    let inkPx = 0;
    for (let i = 0; i < box.length; i += 4) {
      if (box[i + 3] === 255 && Math.abs(box[i] - ink[0]) < 8 && Math.abs(box[i + 1] - ink[1]) < 8 &&
          Math.abs(box[i + 2] - ink[2]) < 8) inkPx += 1;
    }
    const c = ctx.getImageData(Math.round(m.cx * dpr), Math.round(m.cy * dpr), 1, 1).data;
    out.push({id: m.vehicle.vehicle_id, status: m.vehicle.status, passengers: m.vehicle.passenger_count,
              labelled: !!m.labelled, route: m.vehicle.route_id,
              capacity: m.vehicle.capacity, centre: [c[0], c[1], c[2], c[3]], inkPx});
  });
  const labelled = [...layer.vehicles.values()].filter((m) => m.labelled).length;
  return {zoom: live.map.getZoom(), stats: live.stats(), vehicles: out, labelled};
}"""


def _zoom_on_busiest(page, zoom: int) -> None:
    """The view at `zoom` on the vehicle with the most others within 400 m, so that several are drawn."""
    page.evaluate("""(zoom) => {
      const live = document.getElementById('live-map').streamcityLive;
      const pts = [...live.vehicles.values()].map((m) => m.getLatLng());
      let best = pts[0], most = -1;
      for (const p of pts) {
        const n = pts.filter((q) => p.distanceTo(q) < 400).length;
        if (n > most) { most = n; best = p; }
      }
      live.map.setView(best, zoom, {animate: false});
    }""", zoom)
    page.wait_for_timeout(1500)  # the new view's snapshot, and a draw


def _drawn(page, settle_ms: int = 0) -> dict:
    if settle_ms:
        page.wait_for_timeout(settle_ms)
    return page.evaluate(SAMPLE, list(LABEL_INK))


def test_route_numbers_from_zoom_15_and_the_crowding_colours(embedded, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _login(page, embedded)
    page.goto(embedded.url + "/ops/")
    page.wait_for_function("() => Number(document.getElementById('live-map').dataset.vehicleCount) >= 10",
                           timeout=30_000)
    # zoom 14: no labels drawn, no label ink beside any vehicle
    _zoom_on_busiest(page, 14)
    far = _drawn(page)
    assert far["zoom"] == 14 and far["vehicles"], far
    assert far["stats"]["labelsDrawn"] == 0 and far["stats"]["labelsMinZoom"] == 15
    assert all(v["inkPx"] == 0 for v in far["vehicles"]), far["vehicles"]
    # zoom 16: the vehicles drawn have their route numbers (a dark pill beside each, in the canvas), but
    # for those whose label would overlap one already drawn
    _zoom_on_busiest(page, 16)
    near = _drawn(page)
    assert near["zoom"] == 16 and near["vehicles"], near
    labelled = [v for v in near["vehicles"] if v["labelled"]]
    assert labelled and near["labelled"] == near["stats"]["labelsDrawn"], near
    assert near["stats"]["labelsDrawn"] + near["stats"]["labelsSkipped"] >= len([v for v in near["vehicles"] if v["route"]])
    assert len(labelled) >= len(near["vehicles"]) / 2, near  # the built-in city's 40 vehicles rarely crowd
    assert all(v["inkPx"] >= 20 for v in labelled), labelled

    # crowding: through the panel's radio button; each vehicle's centre takes its load band's colour
    page.click(".sc-panel-toggle")
    page.check('input[name="sc-colour"][value="crowding"]')
    assert "colour=crowding" in page.url
    legend = page.locator(".sc-legend:not(.sc-alert-legend) .sc-legend-body").inner_text()
    for text in ("Under 50 % full", "50–85 % full", "85–100 % full", "Full (100 % and more)", "Load unknown",
                 "Route numbers on the vehicles from zoom 15"):
        assert text in legend, legend
    crowded = _drawn(page, settle_ms=300)
    checked = 0
    for v in crowded["vehicles"]:
        if v["status"] not in ("in_service", "layover") or not v["capacity"]:
            continue
        want = rgb(band_colour(v["passengers"], v["capacity"]))
        got = tuple(v["centre"][:3])
        assert max(abs(a - b) for a, b in zip(got, want)) <= 3, (v, want)
        checked += 1
    assert checked >= 1, crowded["vehicles"]
    # the route colours again: a vehicle's centre no longer in its band's colour (unless its route has that colour)
    page.check('input[name="sc-colour"][value="route"]')
    assert "colour=crowding" not in page.url
    page.check('input[name="sc-colour"][value="crowding"]')
    # kept with the map's state: a reload comes back in crowding mode
    page.reload()
    page.wait_for_function("() => Number(document.getElementById('live-map').dataset.vehicleCount) >= 1",
                           timeout=30_000)
    assert page.evaluate("() => document.getElementById('live-map').streamcityLive.stats().colour") == "crowding"

    # a view for the docs: labels, crowding and a ghost bus beside vehicles
    _zoom_on_busiest(page, 15)  # ghosts are fetched from zoom 12 on
    page.wait_for_function("() => document.getElementById('live-map').dataset.ghostsLoaded", timeout=30_000)
    trip = page.evaluate("""() => {
      const c = document.getElementById('live-map'), live = c.streamcityLive;
      const vs = [...live.vehicles.values()].map((m) => m.getLatLng());
      let best = null, bestD = Infinity, trip = null;
      c.streamcityGhosts.forEach((g, t) => vs.forEach((p) => {
        const d = p.distanceTo(g.ghost.latlng);
        if (d < bestD) { bestD = d; trip = t; best = [(p.lat + g.ghost.latlng[0]) / 2, (p.lng + g.ghost.latlng[1]) / 2]; }
      }));
      if (best) live.map.setView(best, 16, {animate: false});
      return trip;
    }""")
    page.wait_for_timeout(2500)
    page.evaluate("(t) => { const g = document.getElementById('live-map').streamcityGhosts.get(t);"
                  " if (g) g.marker.openPopup(); }", trip)
    page.wait_for_timeout(600)
    page.screenshot(path=str(ARTIFACTS / "ops-map-dispatcher.png"))


def test_the_passenger_map_has_no_dispatcher_layers(embedded, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(embedded.url + "/?colour=crowding")
    page.wait_for_function("() => Number(document.getElementById('live-map').dataset.vehicleCount) >= 1",
                           timeout=30_000)
    page.evaluate("() => document.getElementById('live-map').streamcityLive.map.setZoom(17, {animate: false})")
    page.wait_for_timeout(1500)
    stats = page.evaluate("() => document.getElementById('live-map').streamcityLive.stats()")
    assert stats["colour"] == "route" and stats["labelsDrawn"] == 0 and stats["labelsMinZoom"] is None
    assert page.locator("#ghost-toggle").count() == 0
    assert "Route numbers" not in page.locator(".sc-legend .sc-legend-body").inner_text()
    assert page.locator('input[name="sc-colour"][value="crowding"]').count() == 0
    assert page.evaluate("() => document.getElementById('live-map').dataset.ghosts") is None
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(embedded.url + "/api/ops/ghosts/?bbox=4.8,52.3,4.9,52.4", timeout=5)
    assert refused.value.code == 401


def test_the_ghost_layer_shows_a_trip_whose_vehicle_was_withdrawn(procs, tmp_path, browser):
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
    withdrawn = vehicles[0]
    where = get_json(f"{app.url}/api/vehicles/{withdrawn['vehicle_id']}/")["vehicle"]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _login(page, app)

    def ghosts():
        page.goto(f"{app.url}/ops/")
        page.wait_for_function("() => document.getElementById('live-map').dataset.connected === 'true'",
                               timeout=20_000)
        loaded = page.evaluate("""([lat, lon]) => { const c = document.getElementById('live-map');
          const n = Number(c.dataset.ghostsLoaded || 0);
          c.streamcityLive.map.setView([lat, lon], 15, {animate: false}); return n; }""",
                               [where["latitude"], where["longitude"]])
        page.wait_for_function("(n) => Number(document.getElementById('live-map').dataset.ghostsLoaded) > n",
                               arg=loaded, timeout=20_000)
        page.wait_for_timeout(2500)  # a placement with the vehicles of the view's snapshot
        return page.evaluate("() => [...document.getElementById('live-map').streamcityGhosts.keys()]")

    before = ghosts()
    assert withdrawn["trip_id"] not in before and vehicles[1]["trip_id"] not in before
    # every other trip of B12 the timetable runs now, in view, and no vehicle works is a ghost (as on the ladder)
    subprocess.run(manage("shell", "-c", "from transit.models import VehicleState; "
                          f"VehicleState.objects.filter(vehicle_id={withdrawn['vehicle_id']!r}).delete()"),
                   env=env, check=True)
    after = ghosts()
    assert withdrawn["trip_id"] in after, after
    assert vehicles[1]["trip_id"] not in after
    # the hollow marker sits where its timetable puts it: near where its vehicle was (it was placed at its next stop)
    ghost = json.loads(page.evaluate("(t) => { const g = document.getElementById('live-map').streamcityGhosts.get(t);"
                                     " return JSON.stringify({latlng: g.ghost.latlng,"
                                     " hollow: g.marker.options.dashArray}); }", withdrawn["trip_id"]))
    assert ghost["hollow"]
    from transit.passenger import distance_m

    assert distance_m(where["latitude"], where["longitude"], *ghost["latlng"]) < 2000, ghost
    assert page.locator("#ghost-toggle").is_checked()
    # reached by keyboard: a button named for its route and trip, Enter opens its popup
    marker = page.locator(f'path.sc-ghost[aria-label*="trip {withdrawn["trip_id"]}:"]')
    assert marker.count() == 1
    assert marker.get_attribute("tabindex") == "0" and marker.get_attribute("role") == "button"
    name = marker.get_attribute("aria-label")
    assert name.startswith("Ghost bus, route ") and "no vehicle" in name, name
    marker.focus()
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == name
    page.keyboard.press("Enter")
    popup = page.locator(f'.sc-ghost-popup[data-trip="{withdrawn["trip_id"]}"]')
    text = popup.inner_text()
    assert "Ghost bus" in text and "No vehicle" in text and withdrawn["trip_id"] in text, text
    assert "Scheduled here now" in text and "Scheduled start" in text
    page.wait_for_timeout(600)  # the popup's fade
    page.screenshot(path=str(ARTIFACTS / "ops-map-ghost.png"))
    # the toggle hides the layer, and the URL keeps it off
    page.uncheck("#ghost-toggle")
    assert page.evaluate("() => document.getElementById('live-map').dataset.ghosts") == "0"
    assert "ghosts=off" in page.url
    assert page.locator("path.sc-ghost").count() == 0
