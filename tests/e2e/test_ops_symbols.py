"""The operations map's alert symbols in Chromium: a vehicle's alert symbol moves with the vehicle,
a surge is a ring the size of a stop at its station, an incident stays drawn while it is active
after its alert is resolved, the legend lists every symbol, and an alert row shows when the alert
began (local time of the feed) and how old it is, its severity in words. A snoozed alert leaves the list
and the map until its snooze runs out."""

import datetime as dt
import json
import math
import re
import subprocess
from zoneinfo import ZoneInfo

import pytest

from .conftest import ROOT, base_env, get_json, manage, wait_until
from .test_browser import ARTIFACTS, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Writes alerts to the embedded server's database as the detectors would (the ops page's snapshot reads them).
INJECT = """
import json, os
import msgspec
from streamcity.kernel.schemas import DelayAlert, SurgeAlert, TrafficIncident
from alerts.detections import detection_from_event
from alerts.services import alerts_apply_detections
types = {"delay": DelayAlert, "surge": SurgeAlert, "incident": TrafficIncident}
events = [msgspec.convert(e, types[e.pop("type_")]) for e in json.loads(os.environ["ALERTS"])]
alerts_apply_detections(detections=[detection_from_event(e) for e in events])
"""

# Snoozes an alert for a minute as the shift page does (a CSRF-protected POST); returns the changed alert.
SNOOZE = """async (key) => {
  const a = document.getElementById('live-map').streamcityAlerts.get(key).alert;
  const r = await fetch('/api/alerts/' + a.id + '/snooze/', {method: 'POST', credentials: 'same-origin',
    body: new URLSearchParams({minutes: '1'}),
    headers: {'X-CSRFToken': document.querySelector('meta[name="csrf-token"]').content}});
  if (!r.ok) throw new Error('snooze: ' + r.status + ' ' + await r.text());
  return (await r.json()).alert;
}"""

SYMBOL_KEYS = ["breakdown", "delay", "bunching", "gap", "silent", "surge", "incident", "service"]


def inject(env: dict, events: list[dict]) -> None:
    subprocess.run(manage("shell", "-c", INJECT), cwd=ROOT, env={**env, "ALERTS": json.dumps(events)}, check=True,
                   capture_output=True)


def distance_px(a: dict, b: dict) -> float:
    return math.hypot(a["x"] - b["x"], a["y"] - b["y"])


def test_alert_symbols_follow_their_subject_and_the_legend_lists_them(embedded, tmp_path, chromium_path):
    url = embedded.url
    password = re.search(r"with password '([^']+)'", embedded.output()).group(1)
    moving = wait_until(
        lambda: [v for v in get_json(url + "/api/vehicles/")["vehicles"] if v["speed"] > 4 and v["status"] == "in_service"],
        timeout=60, message="a moving vehicle",
    )
    v = max(moving, key=lambda v: v["speed"])
    at = dt.datetime.fromisoformat(v["timestamp"])
    began = at - dt.timedelta(minutes=4, seconds=10)
    lat, lon = v["latitude"], v["longitude"]
    stops = get_json(url + f"/api/stops/?bbox={lon - 0.01},{lat - 0.006},{lon + 0.01},{lat + 0.006}")["stops"]
    stop = min(stops, key=lambda s: (s["latitude"] - lat) ** 2 + (s["longitude"] - lon) ** 2)
    delay_key = f"delay:{v['vehicle_id']}:test"
    run_id = get_json(url + "/api/service/")["service"]["run_id"]
    surge_key = f"surge:{stop['stop_id']}:test"
    iso = began.isoformat()
    inject(base_env(tmp_path), [
        {"type_": "delay", "alert_key": delay_key, "vehicle_id": v["vehicle_id"], "route_id": v["route_id"],
         "trip_id": v["trip_id"], "delay_seconds": 540, "threshold_seconds": 300, "severity": 3, "latitude": lat,
         "longitude": lon, "summary": f"{v['vehicle_id']} 9 min late", "detected_at": iso,
         "timestamp": at.isoformat()},  # began 4 min ago, still reported now: the lifecycle keeps it open
        {"type_": "surge", "alert_key": surge_key, "stop_id": stop["stop_id"], "window_start": iso,
         "window_end": at.isoformat(), "tap_count": 300, "threshold": 60, "severity": 5,
         "latitude": stop["latitude"], "longitude": stop["longitude"], "summary": "300 taps", "detected_at": iso,
         "timestamp": iso},
        # an incident of the running simulation (ids carry its run id), or the lifecycle expires it
        {"type_": "incident", "incident_id": f"{run_id}-closure-1", "type": "road_closure", "latitude": lat + 0.004,
         "longitude": lon + 0.004, "radius": 200, "severity": 4, "description": "Bridge closed", "timestamp": iso},
    ])

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url + "/accounts/login/?next=/ops/")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", password)
            page.click("form:not(.site-search) button[type=submit]")  # the login form, not the search box
            page.wait_for_url(url + "/ops/")
            row = page.wait_for_selector(f'#alert-list li[data-alert-key="{delay_key}"]', timeout=20_000)

            # the row: when it began in the feed's time zone (the built-in city: Amsterdam), its age, severity
            local = began.astimezone(ZoneInfo("Europe/Amsterdam"))
            when = row.query_selector(".when").inner_text()
            assert re.fullmatch(rf"{local:%H:%M} · [45] min ago", when), when
            assert row.query_selector(".severity").inner_text() == "major"
            surge_row = page.query_selector(f'#alert-list li[data-alert-key="{surge_key}"]')
            assert surge_row.query_selector(".severity").inner_text() == "critical"

            # the legend: every symbol, drawn
            legend = page.eval_on_selector_all("#alert-legend .sc-legend-row[data-symbol]", "els => els.map(e => e.dataset.symbol)")
            assert legend == SYMBOL_KEYS
            assert page.eval_on_selector_all("#alert-legend .sc-legend-row[data-symbol] svg", "els => els.length") == len(SYMBOL_KEYS)
            page.locator("#alert-legend").screenshot(path=str(ARTIFACTS / "ops-legend.png"))

            # up close, the vehicle's symbol is where the vehicle is drawn, frame after frame, as it drives on
            page.evaluate(
                "([lat, lon]) => document.getElementById('live-map').streamcityMap.setView([lat, lon], 16,"
                " { animate: false })", [lat, lon],
            )
            page.wait_for_function(
                "(id) => document.getElementById('live-map').streamcityMarkers.has(id)", arg=v["vehicle_id"]
            )
            track = []
            for _ in range(12):
                symbol, vehicle = page.evaluate(
                    "([key, id]) => { const api = document.getElementById('live-map').streamcityLive;"
                    " return [api.alertPoint(key), api.vehiclePoint(id)]; }", [delay_key, v["vehicle_id"]],
                )
                assert symbol is not None and distance_px(symbol, vehicle) < 2, (symbol, vehicle)
                track.append(symbol)
                page.wait_for_timeout(400)
            fired = page.evaluate(
                "([lat, lon]) => document.getElementById('live-map').streamcityMap.latLngToContainerPoint([lat, lon])",
                [lat, lon],
            )
            assert distance_px(track[-1], fired) > 15, "the symbol stayed where the alert fired"
            assert distance_px(track[0], track[-1]) > 10, "the symbol did not move with its vehicle"

            # the symbol is drawn on the vehicle canvas: hovering it shows its tooltip, a click flashes its
            # list item (and opens no vehicle popup)
            box = page.locator("#live-map").bounding_box()
            at = page.evaluate("(key) => document.getElementById('live-map').streamcityLive.alertPoint(key)", delay_key)
            page.mouse.move(box["x"] + at["x"] + 13, box["y"] + at["y"] - 13)  # beside the vehicle, up and right
            tip = page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
            assert tip.inner_text().startswith("Delay (major): "), tip.inner_text()
            page.mouse.click(box["x"] + at["x"] + 13, box["y"] + at["y"] - 13)
            page.wait_for_selector(f'#alert-list li.flash[data-alert-key="{delay_key}"]', timeout=2_000)
            assert page.locator(".leaflet-popup").count() == 0
            page.mouse.move(box["x"] + 5, box["y"] + box["height"] - 5)
            ring = page.evaluate(
                "(key) => document.getElementById('live-map').streamcityAlerts.get(key).layers"
                ".filter((l) => l instanceof L.CircleMarker && !(l instanceof L.Circle)).map((l) => l.getRadius())",
                surge_key,
            )
            assert ring == [18], ring  # a surge: a ring of 18 px at the station, at any zoom
            page.screenshot(path=str(ARTIFACTS / "ops-map.png"))

            # snoozed (on the server, for a minute): out of the list and off the map, counted in a note that
            # links to the shift page's snoozed alerts; it comes back by itself when the snooze runs out (below)
            snoozed = page.evaluate(SNOOZE, surge_key)
            assert snoozed["snoozed_until"], snoozed
            page.wait_for_selector(f'#alert-list li[data-alert-key="{surge_key}"]', state="detached")
            note = page.locator("#alert-snoozed a")
            assert note.inner_text() == "1 snoozed"
            assert note.get_attribute("href") == "/ops/alerts/?state=snoozed"
            hidden = page.evaluate(
                "(key) => { const e = document.getElementById('live-map').streamcityAlerts.get(key);"
                " return [e.snoozed, e.layers.length, e.symbol]; }", surge_key,
            )
            assert hidden == [True, 0, None], hidden
            wake_ms = int(page.eval_on_selector("#alert-list", "el => el.dataset.nextWake"))
            # the page wakes it on the server's clock, which it knows to within the socket's delay (tens of ms)
            assert 0 < wake_ms <= 61_000, wake_ms

            # the vehicle filtered off the map: its symbol, dashed, where the alert last placed it
            other = "rail" if v["vehicle_type"] != "rail" else "bus"
            page.evaluate("(t) => document.getElementById('live-map').streamcityLive.setTypes([t])", other)
            page.wait_for_function(
                "(key) => document.getElementById('live-map').streamcityAlerts.get(key).detached", arg=delay_key
            )
            symbol = page.evaluate("(key) => document.getElementById('live-map').streamcityLive.alertPoint(key)",
                                   delay_key)
            assert distance_px(symbol, fired) < 2
            assert page.locator('.sc-alert-icon svg[data-symbol="delay"] [stroke-dasharray="2 2"]').count() == 1
            page.evaluate("() => document.getElementById('live-map').streamcityLive.setTypes([])")
            page.wait_for_function(
                "(key) => !document.getElementById('live-map').streamcityAlerts.get(key).detached", arg=delay_key
            )

            # resolving the alert of a closure still in place: out of the list, still on the map
            closure = f"incident:{run_id}-closure-1"
            page.click(f'#alert-list li[data-alert-key="{closure}"] button[data-do="resolve"]')
            page.wait_for_selector(f'#alert-list li[data-alert-key="{closure}"]', state="detached")
            drawn = page.evaluate(
                "key => { const e = document.getElementById('live-map').streamcityAlerts.get(key);"
                " return e && e.alert.status + ':' + e.layers.length; }", closure,
            )
            assert drawn == "resolved:2"  # its area and its symbol

            # the snooze has run out: the surge is listed and drawn again, without a reload
            page.wait_for_selector(f'#alert-list li[data-alert-key="{surge_key}"]', timeout=75_000)
            assert page.locator("#alert-snoozed").is_hidden()
            assert page.evaluate(
                "(key) => document.getElementById('live-map').streamcityAlerts.get(key).layers.length", surge_key
            ) == 2  # its ring and its badge
            assert errors == []
        finally:
            browser.close()
