import test from "node:test";
import assert from "node:assert/strict";

import {
  byRoute, episodes, filterEpisodes, liveSnoozes, nextWake, serverSnoozes, snoozeInfo, snoozed,
} from "../../static/alerts/shift/logic.js";

const at = (min) => new Date(Date.UTC(2026, 11, 4, 8, min)).toISOString();
const alert = (key, kind, route, min, extra = {}) => ({
  alert_key: key, kind, route_id: route, detected_at: at(min), status: "new", severity: 3, ...extra,
});

test("the gap alerts of one episode along a route are merged; a later one starts another", () => {
  const eps = episodes([
    alert("g1", "gap", "B12", 0), alert("g2", "gap", "B12", 5), alert("g3", "gap", "B12", 18),
    alert("g4", "gap", "B12", 50), alert("g5", "gap", "T1", 5), alert("b1", "breakdown", "B12", 6),
    alert("b2", "breakdown", "B12", 7),
  ]);
  const keys = eps.map((e) => e.alerts.map((a) => a.alert_key));
  assert.deepEqual(keys, [["g1", "g2", "g3"], ["g5"], ["b1"], ["b2"], ["g4"]]);
});

test("groups by route count their alerts, the most severe first", () => {
  const groups = byRoute(episodes([
    alert("g1", "gap", "B12", 0), alert("g2", "gap", "B12", 5), alert("x", "surge", null, 1, { severity: 4 }),
  ]));
  assert.deepEqual(groups.map((g) => [g.route_id, g.count]), [[null, 1], ["B12", 2]]);
});

test("a snooze hides an episode until its time, then it comes back", () => {
  const eps = episodes([alert("g1", "gap", "B12", 0), alert("d1", "delay", "T1", 0)]);
  const now = Date.UTC(2026, 11, 4, 9, 0);
  let snoozes = new Map([["g1", now + 30 * 60000]]);
  assert.equal(snoozed(eps[0], snoozes, now), true);
  assert.deepEqual(filterEpisodes(eps, {}, snoozes, now).map((e) => e.key), ["d1"]);
  assert.deepEqual(filterEpisodes(eps, { state: "snoozed" }, snoozes, now).map((e) => e.key), ["g1"]);
  const later = now + 31 * 60000;
  snoozes = liveSnoozes(snoozes, later);
  assert.equal(snoozes.size, 0);
  assert.deepEqual(filterEpisodes(eps, {}, snoozes, later).map((e) => e.key), ["g1", "d1"]);
});

test("a new alert in a snoozed episode brings the episode back", () => {
  const now = Date.UTC(2026, 11, 4, 9, 0);
  const snoozes = new Map([["g1", now + 60000]]);
  const eps = episodes([alert("g1", "gap", "B12", 0), alert("g2", "gap", "B12", 3)]);
  assert.equal(snoozed(eps[0], snoozes, now), false);
});

test("filters by kind, route and state", () => {
  const eps = episodes([
    alert("g1", "gap", "B12", 0), alert("d1", "delay", "T1", 0, { status: "acknowledged" }),
    alert("s1", "surge", null, 0),
  ]);
  const keys = (f) => filterEpisodes(eps, f, new Map(), 0).map((e) => e.key).sort();
  assert.deepEqual(keys({ kind: "gap" }), ["g1"]);
  assert.deepEqual(keys({ route: "T1" }), ["d1"]);
  assert.deepEqual(keys({ route: "-" }), ["s1"]);
  assert.deepEqual(keys({ state: "acknowledged" }), ["d1"]);
  assert.deepEqual(keys({ state: "new" }), ["g1", "s1"]);
});

test("the server's snoozes: who snoozed an episode and until when, and when it comes back", () => {
  const now = Date.UTC(2026, 11, 4, 9, 0);
  const iso = (min) => new Date(now + min * 60000).toISOString();
  const alerts = [
    alert("g1", "gap", "B12", 0, { snoozed_until: iso(15), snoozed_until_display: "10:15", snoozed_by: "olga" }),
    alert("g2", "gap", "B12", 4, { snoozed_until: iso(10), snoozed_until_display: "10:10", snoozed_by: "piet" }),
    alert("d1", "delay", "T1", 0, { snoozed_until: null, snoozed_by: null }),
  ];
  const snoozes = serverSnoozes(alerts);
  assert.deepEqual(Array.from(snoozes.keys()), ["g1", "g2"]);
  const [gap, delay] = episodes(alerts);
  // the episode comes back when the first of its snoozes ends
  assert.deepEqual(snoozeInfo(gap, snoozes, now), { until: now + 10 * 60000, until_display: "10:10", by: ["olga", "piet"] });
  assert.equal(snoozeInfo(delay, snoozes, now), null);
  assert.equal(nextWake(snoozes, now), 10 * 60000);
  assert.deepEqual(filterEpisodes([gap, delay], {}, snoozes, now).map((e) => e.key), ["d1"]);
  const later = now + 10 * 60000 + 1;
  assert.equal(snoozeInfo(gap, snoozes, later), null);
  assert.equal(nextWake(snoozes, later), 5 * 60000 - 1);
  assert.deepEqual(filterEpisodes([gap, delay], {}, snoozes, later).map((e) => e.key), ["g1", "d1"]);
  assert.equal(nextWake(snoozes, now + 16 * 60000), null);
  assert.equal(serverSnoozes([alert("x", "gap", "B12", 0, { snoozed_until: "not a time" })]).size, 0);
});
