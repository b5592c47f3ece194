"""The live map in headless Chromium (Debian's), driven by Playwright.

Also the helpers the other map tests share (tests/e2e/test_map_*.py): a StreamCity server for a
whole module, a page whose socket messages are recorded, the map's state read from the page.
"""

import json
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from transit.selectors import vehicles_from_rows

from .conftest import ROOT, Proc, base_env, free_port, get_json, manage

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # no tile server in tests: every host but this one fails at once, and the map shows its plain background
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

POSITIONS = """() => {
  const markers = document.getElementById('live-map').streamcityMarkers;
  const out = {};
  markers.forEach((m, id) => { const p = m.getLatLng(); out[id] = [p.lat, p.lng]; });
  return out;
}"""

VEHICLES = """() => {
  const out = [];
  document.getElementById('live-map').streamcityMarkers.forEach((m) => out.push(m.vehicle));
  return out;
}"""

# Records every message the page's sockets receive, to check what the server sends it.
RECORD_SOCKETS = """(() => {
  const Native = window.WebSocket;
  window.__socketMessages = [];
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('message', (e) => window.__socketMessages.push(e.data));
    }
  };
})();"""


def wait_for_count(page, at_least: int, timeout: float = 30_000) -> None:
    page.wait_for_function(
        f"() => Number(document.getElementById('live-map').dataset.vehicleCount) >= {at_least}", timeout=timeout
    )


def socket_frames(page, clear: bool = True) -> list[dict]:
    """The vehicles of every frame received since the last call."""
    messages = page.evaluate(
        "(clear) => { const m = window.__socketMessages; if (clear) window.__socketMessages = []; return m; }", clear
    )
    return [v for m in map(json.loads, messages) if m["type"] == "frame"
            for v in vehicles_from_rows(m["fields"], m["vehicles"])]


def container_point(page, vehicle_id: str) -> tuple[float, float]:
    """Where a vehicle is drawn, in page coordinates."""
    p = page.evaluate("(id) => document.getElementById('live-map').streamcityLive.vehiclePoint(id)", vehicle_id)
    box = page.locator("#live-map").bounding_box()
    return box["x"] + p["x"], box["y"] + p["y"]


def isolated_vehicle(page, margin: dict | None = None) -> str:
    """The vehicle furthest from any other, inside the part of the map no control covers."""
    return page.evaluate(
        """() => {
          const c = document.getElementById('live-map'), api = c.streamcityLive;
          const size = api.map.getSize();
          const pts = [];
          api.vehicles.forEach((m, id) => pts.push([id, api.vehiclePoint(id)]));
          let best = null, bestD = -1;
          for (const [id, p] of pts) {
            if (p.x < 320 || p.x > size.x - 340 || p.y < 80 || p.y > size.y - 200) continue;
            let d = Infinity;
            for (const [other, q] of pts) if (other !== id) d = Math.min(d, Math.hypot(p.x - q.x, p.y - q.y));
            if (d > bestD) { bestD = d; best = id; }
          }
          return best;
        }"""
    )


def open_map(browser, url: str, *, width: int = 1280, height: int = 800, query: str = ""):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.add_init_script(RECORD_SOCKETS)
    page.goto(url + "/" + (f"?{query}" if query else ""))
    return page


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """One StreamCity (embedded, 60 vehicles at noon) for a whole test module."""
    tmp = tmp_path_factory.mktemp("city")
    env = base_env(tmp)
    subprocess.run(manage("migrate", "--no-input", "-v0"), cwd=ROOT, env=env, check=True)
    port = free_port()
    proc = Proc("runstreamcity", manage("runstreamcity", "--port", str(port), "--vehicles", "60"), env, tmp)
    try:
        proc.wait_for_output("StreamCity is running at", timeout=90)
        proc.url = f"http://127.0.0.1:{port}"
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def chromium(chromium_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def api(url: str, path: str, **params) -> dict:
    return get_json(url + path + ("?" + urllib.parse.urlencode(params, doseq=True) if params else ""))


def test_markers_appear_and_move(embedded, chromium):
    page = open_map(chromium, embedded.url)
    try:
        wait_for_count(page, 40)
        assert page.get_attribute("#live-map", "data-connected") == "true"
        assert page.inner_text("#connection") == "live"
        stats = "() => document.getElementById('live-map').streamcityLive.stats()"
        before, drawn = page.evaluate(POSITIONS), page.evaluate(stats)
        page.wait_for_timeout(3000)
        after = page.evaluate(POSITIONS)
        moved = sum(before[k] != after.get(k) for k in before)
        assert moved >= 30, f"only {moved} of {len(before)} markers moved"
        assert page.inner_text("#vehicle-count") == "40"
        # every vehicle of the server is on the map
        assert set(after) == {v["vehicle_id"] for v in api(embedded.url, "/api/vehicles/")["vehicles"]}
        assert page.evaluate(stats)["draws"] > drawn["draws"]  # the canvas is redrawn as they move
        page.screenshot(path=str(ARTIFACTS / "live-map.png"))
        assert page.errors == []
    finally:
        page.close()


def test_movement_is_animated_between_reports(embedded, chromium):
    """Between two reports a vehicle glides: a new position every animation frame, no jumps."""
    page = open_map(chromium, embedded.url)
    try:
        wait_for_count(page, 40)
        vehicle_id = page.evaluate(
            "() => { let best = null; document.getElementById('live-map').streamcityMarkers.forEach((m, id) => {"
            " if (m.vehicle.speed > 3 && !best) best = id; }); return best; }"
        )
        assert vehicle_id, "no vehicle is moving"
        # zoomed in, the map gets every report (zoomed out, a vehicle only when it moved a pixel there)
        page.evaluate(
            "(id) => { const c = document.getElementById('live-map'), v = c.streamcityMarkers.get(id).vehicle;"
            " c.streamcityMap.setView([v.latitude, v.longitude], 15, { animate: false }); }",
            vehicle_id,
        )
        page.wait_for_function(
            "() => JSON.parse(document.getElementById('live-map').dataset.subscription || '{}').detail === null"
        )
        page.wait_for_timeout(2500)  # a few reports at full detail
        track = page.evaluate(
            """(id) => new Promise((done) => {
              const m = document.getElementById('live-map').streamcityMarkers.get(id), out = [];
              const step = () => { const p = m.getLatLng(); out.push([p.lat, p.lng]);
                                   if (out.length < 90) requestAnimationFrame(step); else done(out); };
              requestAnimationFrame(step);
            })""",
            vehicle_id,
        )
        distinct = {tuple(p) for p in track}
        assert len(distinct) > 20, "the vehicle did not glide from frame to frame"
        steps = [((a[0] - b[0]) ** 2 + ((a[1] - b[1]) * 0.61) ** 2) ** 0.5 * 111_320 for a, b in zip(track, track[1:])]
        # no frame carries the movement of a whole report: it is spread over many frames
        assert max(steps) <= 0.25 * sum(steps), f"a jump of {max(steps):.1f} m of {sum(steps):.1f} m"
    finally:
        page.close()
