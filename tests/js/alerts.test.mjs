// The operations map's alerts, pure (static/alerts/alerts.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  KIND_COLOURS, NO_RING, alertItemHtml, alertShape, alertTooltip, flaggedVehicles, ringStyle, sortAlerts,
} from "../../static/alerts/alerts.js";

test("an alert without a position is not drawn", () => {
  assert.equal(alertShape({ kind: "delay", latitude: null, longitude: 4.9 }), null);
  assert.equal(alertShape({ kind: "delay", latitude: 52.3 }), null);
});

test("a surge grows with its taps; an incident covers its radius; a vehicle alert is a ring", () => {
  const surge = alertShape({ kind: "surge", latitude: 52.3, longitude: 4.9, detection: { tap_count: 30 } });
  assert.deepEqual(surge, {
    shape: "circle", latlng: [52.3, 4.9],
    options: { radius: 60 + 12 * 30, color: KIND_COLOURS.surge, fillOpacity: 0.35, weight: 2 },
  });
  assert.equal(alertShape({ kind: "surge", latitude: 0, longitude: 0 }).options.radius, 72, "one tap at least");
  const incident = alertShape({ kind: "incident", latitude: 1, longitude: 2, detection: { radius: 250 } });
  assert.deepEqual([incident.shape, incident.options.radius, incident.options.dashArray], ["circle", 250, "4 4"]);
  assert.equal(alertShape({ kind: "incident", latitude: 1, longitude: 2 }).options.radius, 150);
  const delay = alertShape({ kind: "delay", latitude: 0, longitude: 0 });
  assert.deepEqual([delay.shape, delay.options.radius, delay.options.fill, delay.options.color],
                   ["circleMarker", 11, false, KIND_COLOURS.delay]);
  assert.equal(alertShape({ kind: "martian", latitude: 0, longitude: 0 }).options.color, "#333");
});

test("vehicles with an alert about them get a ring in the alert's colour", () => {
  const flagged = flaggedVehicles([
    { kind: "delay", vehicle_id: "a" },
    { kind: "surge", vehicle_id: "b" }, // about a stop, not a vehicle
    { kind: "breakdown", vehicle_id: "c" },
    { kind: "bunching", vehicle_id: null },
    { kind: "silent", vehicle_id: "a" },
  ]);
  assert.deepEqual([...flagged], [["a", "silent"], ["c", "breakdown"]]);
  assert.deepEqual(ringStyle("breakdown"), { color: KIND_COLOURS.breakdown, weight: 3 });
  assert.equal(ringStyle(undefined), NO_RING);
  assert.deepEqual(NO_RING, { color: "#fff", weight: 1 });
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

test("a list item offers acknowledge only while new, and escapes what it shows", () => {
  const a = { status: "new", condition_open: true, kind: "surge", severity: 4, summary: "<b>30 taps</b> at Dam",
              admin_url: '/admin/alerts/alert/7/change/"' };
  const html = alertItemHtml(a);
  assert.match(html, /<span class="status">new<\/span><span class="kind">surge<\/span> · severity 4/);
  assert.match(html, /data-do="acknowledge"/);
  assert.match(html, /data-do="resolve"/);
  assert.ok(html.includes("&lt;b&gt;30 taps&lt;/b&gt; at Dam"));
  assert.ok(html.includes('href="/admin/alerts/alert/7/change/&quot;"'));
  const seen = alertItemHtml({ ...a, status: "acknowledged", condition_open: false });
  assert.ok(!seen.includes("acknowledge\""));
  assert.match(seen, /acknowledged · cleared/);
  assert.equal(alertTooltip({ kind: "delay", summary: "a<b" }), "delay: a&lt;b");
});

test("an alert on a route links to its ladder, one click away", () => {
  const a = { status: "new", condition_open: true, kind: "gap", severity: 3, summary: "gap", route_id: "B 12/x",
              admin_url: "/admin/alerts/alert/8/change/" };
  assert.ok(alertItemHtml(a).includes('<a href="/ops/routes/B%2012%2Fx/">ladder</a>'));
  assert.ok(!alertItemHtml({ ...a, route_id: null }).includes("/ops/routes/"));
});
