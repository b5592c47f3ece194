// The map's service banner (static/transit/map/service.js) and the time formats it and the alert list use.
import assert from "node:assert/strict";
import { test } from "node:test";

import { agoText, clockTime, dayText, dayTimeText } from "../../static/transit/map/format.js";
import { extentBounds, networkUrl } from "../../static/transit/map/livemap.js";
import { serviceBanner } from "../../static/transit/map/service.js";

const RUNNING = { feed: "cairns", timezone: "Australia/Brisbane", running: true, date: "2026-12-04",
                  timetable_date: "2026-12-04", reason: "requested", note: "", vehicles: 12, service_starts: null };

test("nothing to say while the requested day runs and vehicles are out", () => {
  assert.equal(serviceBanner(RUNNING), null);
  assert.equal(serviceBanner(null), null);
});

test("another day's timetable: which one and why", () => {
  const text = serviceBanner({ ...RUNNING, timetable_date: "2026-12-01", reason: "same weekday" });
  assert.equal(text, "Fri 4 Dec 2026 has no service in cairns: running the timetable of Tue 1 Dec 2026 (same weekday)");
});

test("nothing scheduled now, and when service starts (in the feed's time zone)", () => {
  const text = serviceBanner({ ...RUNNING, vehicles: 0, service_starts: "2026-12-04T19:45:00+00:00" });
  assert.equal(text, "Nothing is scheduled now; service starts Sat 05:45");
  assert.equal(serviceBanner({ ...RUNNING, vehicles: 0 }), "Nothing is scheduled now");
});

test("no service at all, no simulation, or only the server's note", () => {
  assert.equal(serviceBanner({ ...RUNNING, reason: "no service", vehicles: 0 }), "The feed cairns has no service on any day");
  assert.equal(serviceBanner({ ...RUNNING, running: false }), "No simulation is running (the last one ran cairns)");
  assert.equal(serviceBanner({ ...RUNNING, timetable_date: null, reason: "unknown", note: "Sat 2026-11-28 has no service" }),
               "Sat 2026-11-28 has no service");
});

test("times: local clock, days, ages", () => {
  const t = Date.parse("2026-12-04T07:31:00Z");
  assert.equal(clockTime(t, "Europe/Amsterdam"), "08:31");
  assert.equal(clockTime("2026-12-04T23:05:00Z", "Australia/Brisbane"), "09:05");
  assert.equal(clockTime("nonsense", "UTC"), "");
  assert.equal(dayText("2026-11-28"), "Sat 28 Nov 2026");
  assert.equal(dayTimeText(t, "UTC"), "Fri 07:31");
  assert.deepEqual([0, 59_000, 60_000, 4 * 60_000 + 30_000, 3600_000, 3660_000, -5000].map(agoText),
                   ["just now", "just now", "1 min ago", "4 min ago", "1 h ago", "1 h 1 min ago", "just now"]);
});

test("the map asks for the running feeds' network and opens on their extent", () => {
  assert.equal(networkUrl("/api/network/", ["cairns", "a b"]), "/api/network/?feed=cairns&feed=a%20b");
  assert.equal(networkUrl("/api/network/", []), "/api/network/");
  assert.deepEqual(extentBounds({ south: -17, west: 145.6, north: -16.8, east: 145.8 }), [[-17, 145.6], [-16.8, 145.8]]);
  assert.equal(extentBounds(null), null);
  assert.equal(extentBounds({ south: 1, west: null, north: 2, east: 3 }), null);
});
