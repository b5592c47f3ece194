// The operations map's alerts, pure (static/alerts/alerts.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ALERT_RING, NO_RING, SEVERITY_SIZES, SURGE_RING_PX, SYMBOLS, alertItemHtml, alertPlacement, alertTimeText,
  alertTooltip, flaggedVehicles, inList, isSnoozed, legendHtml, onMap, opsView, ringStyle, severityOf, severityWord,
  snoozedNoteHtml, sortAlerts, symbolKey, symbolSvg,
} from "../../static/alerts/alerts.js";
import { PALETTE } from "../../static/transit/map/format.js";

test("severity in words: 1-2 minor, 3 major, 4-5 critical; the server's word wins", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(severityWord), ["minor", "minor", "major", "critical", "critical"]);
  assert.equal(severityOf({ severity: 5, severity_label: "major" }), "major");
  assert.equal(severityOf({ severity: 2 }), "minor");
});

test("every kind has a symbol; a bunching alert about a gap is a gap", () => {
  for (const kind of ["surge", "delay", "breakdown", "bunching", "silent", "incident"]) {
    assert.equal(symbolKey({ kind }), kind);
  }
  assert.equal(symbolKey({ kind: "bunching", detection: { condition: "gap" } }), "gap");
  assert.equal(symbolKey({ kind: "gap" }), "gap");
  assert.equal(alertPlacement({ kind: "gap", vehicle_id: "v", severity: 2, status: "new" }).vehicle_id, "v");
  assert.equal(symbolKey({ kind: "bunching", detection: { condition: "bunching" } }), "bunching");
  const shapes = Object.values(SYMBOLS).map((s) => s.shape + "/" + s.glyph);
  assert.equal(new Set(shapes).size, shapes.length, "no two symbols look the same");
});

test("symbols are black and white: no route palette colour, severity by size and fill", () => {
  const minor = symbolSvg("delay", "minor"), critical = symbolSvg("delay", "critical");
  assert.match(minor, new RegExp(`width="${SEVERITY_SIZES.minor}"`));
  assert.match(critical, new RegExp(`width="${SEVERITY_SIZES.critical}"`));
  assert.ok(SEVERITY_SIZES.minor < SEVERITY_SIZES.major && SEVERITY_SIZES.major < SEVERITY_SIZES.critical);
  assert.match(critical, /<g fill="#111"/, "a critical badge is black");
  assert.match(minor, /<g fill="#fff"/);
  for (const key of Object.keys(SYMBOLS)) {
    const colours = new Set(symbolSvg(key, "major").match(/#[0-9a-f]{3,6}\b/gi));
    assert.deepEqual([...colours].sort(), ["#111", "#fff"], key);
    for (const c of PALETTE) assert.ok(!colours.has(c));
  }
  assert.match(symbolSvg("delay", "major", true), /stroke-dasharray="2 2"/, "detached: dashed");
});

test("a vehicle's alert follows the vehicle; a surge is a stop-sized ring; an incident its area", () => {
  const delay = alertPlacement({ kind: "delay", vehicle_id: "bus-7", severity: 3, status: "new", latitude: 52.3,
                                 longitude: 4.9 });
  assert.deepEqual(delay, { symbol: "delay", severity: "major", size: SEVERITY_SIZES.major, vehicle_id: "bus-7",
                            latlng: [52.3, 4.9], area: null, ring: null });
  // no position yet: still drawn, at the vehicle
  assert.equal(alertPlacement({ kind: "breakdown", vehicle_id: "x", severity: 4, status: "new" }).vehicle_id, "x");
  const surge = alertPlacement({ kind: "surge", stop_id: "CS", severity: 5, status: "new", latitude: 52.37,
                                 longitude: 4.9, detection: { tap_count: 300 } });
  assert.deepEqual([surge.vehicle_id, surge.ring, surge.area], [null, { px: SURGE_RING_PX }, null]);
  assert.ok(SURGE_RING_PX <= 20, "a stop, not a district: pixels, not hundreds of metres");
  const incident = alertPlacement({ kind: "incident", severity: 4, status: "new", condition_open: true, latitude: 1,
                                    longitude: 2, detection: { radius: 250 } });
  assert.deepEqual(incident.area, { radius: 250 });
  assert.equal(alertPlacement({ kind: "surge", status: "new", latitude: null, longitude: 4.9 }), null);
});

test("an incident is on the map while active, whatever its alert's state; other alerts while open", () => {
  const inc = { kind: "incident", condition_open: true };
  assert.ok(onMap({ ...inc, status: "resolved" }), "resolving the alert does not reopen the road");
  assert.ok(!onMap({ ...inc, status: "resolved", condition_open: false }));
  assert.ok(!onMap({ ...inc, status: "expired" }));
  assert.ok(!inList({ ...inc, status: "resolved" }));
  assert.ok(onMap({ kind: "delay", status: "acknowledged" }) && inList({ kind: "delay", status: "acknowledged" }));
  assert.ok(!onMap({ kind: "delay", status: "expired" }) && !inList({ kind: "delay", status: "resolved" }));
});

test("vehicles with an open alert about them get a black ring", () => {
  const flagged = flaggedVehicles([
    { kind: "delay", vehicle_id: "a", severity: 3 },
    { kind: "surge", vehicle_id: "b", severity: 5 }, // about a stop, not a vehicle
    { kind: "breakdown", vehicle_id: "c", severity: 4 },
    { kind: "bunching", vehicle_id: null, severity: 2 },
    { kind: "silent", vehicle_id: "a", severity: 2 }, // less severe than the delay
    { kind: "delay", vehicle_id: "d", severity: 3, status: "expired" },
  ]);
  assert.deepEqual([...flagged], [["a", "delay"], ["c", "breakdown"]]);
  assert.deepEqual(ringStyle("breakdown"), ALERT_RING);
  assert.equal(ringStyle(undefined), NO_RING);
});

test("the list shows the most severe first, then the most recent", () => {
  const sorted = sortAlerts([
    { id: 1, severity: 2, detected_at: "2026-12-04T08:00:00Z" },
    { id: 2, severity: 5, detected_at: "2026-12-04T07:00:00Z" },
    { id: 3, severity: 2, detected_at: "2026-12-04T08:30:00Z" },
    { id: 4, severity: 5, detected_at: "2026-12-04T07:30:00Z" },
  ]);
  assert.deepEqual(sorted.map((a) => a.id), [4, 2, 3, 1]);
});

test("an alert row: local time in the feed's zone and age, severity as a word", () => {
  const a = { status: "new", condition_open: true, kind: "surge", severity: 4, summary: "<b>30 taps</b> at Dam",
              detected_at: "2026-12-04T07:31:10Z", admin_url: '/admin/alerts/alert/7/change/"' };
  const now = Date.parse("2026-12-04T07:35:40Z");
  assert.equal(alertTimeText(a, "Europe/Amsterdam", now), "08:31 · 4 min ago");
  assert.equal(alertTimeText(a, "Australia/Brisbane", now), "17:31 · 4 min ago");
  assert.equal(alertTimeText({ ...a, started_at: "2026-12-04T06:00:00Z" }, "UTC", now), "06:00 · 1 h 35 min ago");
  assert.equal(alertTimeText({ detected_at: null }, "UTC", now), "");
  assert.equal(alertTimeText({ ...a, timezone: "Asia/Tokyo" }, "UTC", now), "16:31 · 4 min ago", "the alert's own zone");
  const html = alertItemHtml(a, { tz: "Europe/Amsterdam", now });
  assert.match(html, /<span class="kind">Passenger surge<\/span> · <span class="severity severity-critical">critical/);
  assert.match(html, /<div class="when"[^>]*>08:31 · 4 min ago<\/div>/);
  assert.match(html, /data-symbol="surge" data-severity="critical"/);
  assert.match(html, /data-do="acknowledge"/);
  assert.ok(html.includes("&lt;b&gt;30 taps&lt;/b&gt; at Dam"));
  assert.ok(html.includes('href="/admin/alerts/alert/7/change/&quot;"'));
  const seen = alertItemHtml({ ...a, status: "acknowledged", condition_open: false }, { tz: "UTC", now });
  assert.ok(!seen.includes('data-do="acknowledge"'));
  assert.match(seen, /acknowledged · cleared/);
  assert.equal(alertTooltip({ kind: "delay", severity: 2, summary: "a<b" }), "Delay (minor): a&lt;b");
});

test("the legend lists every symbol and the three severities", () => {
  const html = legendHtml();
  for (const key of Object.keys(SYMBOLS)) assert.match(html, new RegExp(`data-symbol="${key}">`));
  for (const sev of ["minor", "major", "critical"]) assert.match(html, new RegExp(`data-severity="${sev}">`));
});

test("an alert on a route links to its ladder, one click away", () => {
  const a = { status: "new", condition_open: true, kind: "gap", severity: 3, summary: "gap", route_id: "B 12/x",
              admin_url: "/admin/alerts/alert/8/change/" };
  assert.ok(alertItemHtml(a).includes('<a href="/ops/routes/B%2012%2Fx/">ladder</a>'));
  assert.ok(!alertItemHtml({ ...a, route_id: null }).includes("/ops/routes/"));
});

test("a snoozed alert leaves the list and the map until its snooze runs out; the note counts them", () => {
  const now = Date.parse("2026-12-04T12:00:00Z");
  const at = (min) => new Date(now + min * 60000).toISOString();
  const alerts = [
    { alert_key: "a", kind: "delay", vehicle_id: "v1", severity: 3, status: "new", detected_at: at(-5) },
    { alert_key: "b", kind: "delay", vehicle_id: "v2", severity: 4, status: "acknowledged", detected_at: at(-9),
      snoozed_until: at(30), snoozed_by: "operator" },
    { alert_key: "c", kind: "gap", severity: 2, status: "new", detected_at: at(-2), snoozed_until: at(10),
      latitude: 52.37, longitude: 4.9 },
    { alert_key: "d", kind: "delay", vehicle_id: "v3", severity: 5, status: "new", detected_at: at(-20),
      snoozed_until: at(-1) }, // ran out a minute ago: back
    { alert_key: "e", kind: "delay", vehicle_id: "v4", severity: 5, status: "resolved", detected_at: at(-20),
      snoozed_until: at(60) }, // closed: neither listed nor counted
  ];
  assert.equal(isSnoozed(alerts[1], now), true);
  assert.equal(isSnoozed(alerts[3], now), false);
  assert.equal(isSnoozed(alerts[0], now), false);
  assert.equal(isSnoozed({ snoozed_until: "not a time" }, now), false);
  const view = opsView(alerts, now);
  assert.deepEqual(view.list.map((a) => a.alert_key), ["d", "a"]);
  assert.equal(view.snoozed, 2);
  assert.equal(view.wakeMs, 10 * 60000, "the next snooze to run out: c's, in 10 min");
  // ten minutes on, c is back; b still snoozed
  const later = opsView(alerts, now + 10 * 60000 + 1);
  assert.deepEqual(later.list.map((a) => a.alert_key), ["d", "a", "c"]);
  assert.equal(later.snoozed, 1);
  assert.equal(later.wakeMs, 20 * 60000 - 1);
  assert.equal(opsView(alerts, now + 31 * 60000).wakeMs, null);
  assert.equal(snoozedNoteHtml(0), "");
  assert.equal(snoozedNoteHtml(2), '<a href="/ops/alerts/?state=snoozed">2 snoozed</a>');
});
