// A vehicle's animation (static/transit/map/motion.js), on a flat projection: one projected unit
// is one metre, x is the longitude and y the latitude.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAX_ANIM_MS, MIN_ANIM_MS, ROTATIONS, SNAP_METRES, VehicleMarker, angleBetween, headingCell, turnBetween,
} from "../../static/transit/map/motion.js";

function flatLayer() {
  return {
    redraws: 0,
    project: (v) => ({ x: v.longitude, y: v.latitude }),
    unproject: (x, y) => ({ lat: y, lng: x }),
    metres: (x1, y1, x2, y2) => Math.hypot(x2 - x1, y2 - y1),
    redraw() { this.redraws += 1; },
    stateOf: (v) => (v.delay_seconds > 180 ? "late" : "on_time"),
  };
}

const T0 = Date.parse("2026-12-04T08:00:00Z");
function vehicle(x, y, { seconds = 0, bearing = 0, ...rest } = {}) {
  return { vehicle_id: "v1", route_id: "R1", vehicle_type: "bus", longitude: x, latitude: y, bearing,
           timestamp: new Date(T0 + seconds * 1000).toISOString(), delay_seconds: 0, ...rest };
}
const close = (a, b, eps = 1e-9) => Math.abs(a - b) < eps;

test("a new marker stands where its vehicle is", () => {
  const m = new VehicleMarker(flatLayer(), vehicle(100, 200, { bearing: 90 }), 1000);
  assert.deepEqual(m.position(1000), { x: 100, y: 200 });
  assert.deepEqual(m.position(99_999), { x: 100, y: 200 });
  assert.ok(close(m.heading(1), Math.PI / 2));
});

test("an update animates from the drawn position to the new one over the update interval", () => {
  const m = new VehicleMarker(flatLayer(), vehicle(0, 0), 0);
  assert.equal(m.update(vehicle(100, 0, { seconds: 1 }), 1000, false), true);
  // the interval between updates is smoothed: 1000 * 0.6 + 1000 * 0.4
  assert.equal(m.dur, 1000);
  assert.deepEqual(m.position(1000), { x: 0, y: 0 });
  assert.deepEqual(m.position(1500), { x: 50, y: 0 });
  assert.deepEqual(m.position(2000), { x: 100, y: 0 });
  assert.deepEqual(m.position(5000), { x: 100, y: 0 }, "it stops at the newest position, never beyond");
  assert.equal(m.progress(500), 0);
});

test("an update in mid-animation starts from where the vehicle is drawn: no jump", () => {
  const m = new VehicleMarker(flatLayer(), vehicle(0, 0), 0);
  m.update(vehicle(100, 0, { seconds: 1 }), 1000, false);
  m.update(vehicle(100, 100, { seconds: 2 }), 1500, false); // half way to x=100
  assert.deepEqual(m.position(1500), { x: 50, y: 0 });
  const mid = m.position(1500 + m.dur / 2);
  assert.ok(close(mid.x, 75) && close(mid.y, 50), JSON.stringify(mid));
});

test("the animation lasts the smoothed interval between updates, within its bounds", () => {
  const m = new VehicleMarker(flatLayer(), vehicle(0, 0), 0);
  m.update(vehicle(1, 0, { seconds: 1 }), 10, false); // too soon to count as an interval
  assert.equal(m.interval, 1000);
  assert.equal(m.dur, 1000);
  let now = 10;
  for (let i = 2; i < 30; i++) m.update(vehicle(i, 0, { seconds: i }), (now += 250), false);
  assert.ok(close(m.interval, 250, 1e-3), String(m.interval));
  for (let i = 30; i < 60; i++) m.update(vehicle(i, 0, { seconds: i }), (now += 60_000), false);
  assert.ok(close(m.interval, MAX_ANIM_MS, 1e-3), "a long gap counts as the longest animation");
  assert.ok(close(m.dur, MAX_ANIM_MS, 1e-3));
  m.update(vehicle(61, 0, { seconds: 61 }), (now += 10 * MAX_ANIM_MS), false);
  assert.ok(m.dur <= MAX_ANIM_MS, "never longer than MAX_ANIM_MS");
  for (let i = 60; i < 200; i++) m.update(vehicle(i, 0, { seconds: i }), (now += 21), false);
  assert.equal(m.dur, MIN_ANIM_MS);
});

test("a vehicle that jumps further than SNAP_METRES is placed at once", () => {
  const m = new VehicleMarker(flatLayer(), vehicle(0, 0, { bearing: 0 }), 0);
  m.update(vehicle(SNAP_METRES + 1, 0, { seconds: 1, bearing: 180 }), 1000, false);
  assert.deepEqual(m.position(1000), { x: SNAP_METRES + 1, y: 0 });
  assert.ok(close(m.heading(0), Math.PI), "and turned at once");
  const n = new VehicleMarker(flatLayer(), vehicle(0, 0), 0);
  n.update(vehicle(SNAP_METRES - 1, 0, { seconds: 1 }), 1000, false);
  assert.deepEqual(n.position(1000), { x: 0, y: 0 }, "a shorter move is animated");
});

test("a frame older than the snapshot just applied is skipped, for a while", () => {
  const m = new VehicleMarker(flatLayer(), vehicle(0, 0, { seconds: 10 }), 0);
  assert.equal(m.update(vehicle(50, 0, { seconds: 20 }), 1000, true), true); // a snapshot
  assert.equal(m.update(vehicle(5, 0, { seconds: 15 }), 2000, false), false, "on its way before the snapshot");
  assert.equal(m.tx, 50);
  assert.equal(m.update(vehicle(60, 0, { seconds: 21 }), 2500, false), true);
  // later on, an older report is accepted: a restarted simulation's clock may start again
  assert.equal(m.update(vehicle(70, 0, { seconds: 1 }), 7000, false), true);
  assert.equal(m.tx, 70);
  // and a snapshot is the truth, whatever its time
  assert.equal(m.update(vehicle(80, 0, { seconds: 0 }), 7100, true), true);
});

test("headings turn the short way round", () => {
  const deg = (d) => (d * Math.PI) / 180;
  assert.ok(close(turnBetween(deg(350), deg(10), 0.5), deg(360)));
  assert.ok(close(turnBetween(deg(10), deg(350), 0.5), deg(0)));
  assert.ok(close(turnBetween(deg(90), deg(180), 0.5), deg(135)));
  const m = new VehicleMarker(flatLayer(), vehicle(0, 0, { bearing: 350 }), 0);
  m.update(vehicle(10, 0, { seconds: 1, bearing: 10 }), 1000, false);
  assert.ok(close(m.heading(0.5), deg(360)));
});

test("angles between headings are at most half a turn", () => {
  assert.ok(close(angleBetween(0.1, 2 * Math.PI - 0.1), 0.2));
  assert.ok(close(angleBetween(0, Math.PI), Math.PI));
  assert.ok(close(angleBetween(5 * Math.PI, 0), Math.PI));
});

test("a heading maps to one of ROTATIONS sprite cells, wrapping round", () => {
  const step = (2 * Math.PI) / ROTATIONS;
  assert.equal(headingCell(0), 0);
  assert.equal(headingCell(step), 1);
  assert.equal(headingCell(step * 0.49), 0);
  assert.equal(headingCell(step * 0.51), 1);
  assert.equal(headingCell(2 * Math.PI), 0);
  assert.equal(headingCell(-step), ROTATIONS - 1);
  assert.equal(headingCell(4 * Math.PI + 2 * step), 2);
  for (let a = -10; a < 10; a += 0.37) {
    const i = headingCell(a);
    assert.ok(Number.isInteger(i) && i >= 0 && i < ROTATIONS);
  }
});

test("a new route, type or punctuality class drops the sprite; a move alone keeps it", () => {
  const m = new VehicleMarker(flatLayer(), vehicle(0, 0), 0);
  m.sprite = "drawn";
  m.update(vehicle(1, 0, { seconds: 1, delay_seconds: 100 }), 1000, false);
  assert.equal(m.sprite, "drawn");
  m.update(vehicle(2, 0, { seconds: 2, delay_seconds: 200 }), 2000, false);
  assert.equal(m.sprite, null, "late now");
  m.sprite = "drawn";
  m.update(vehicle(3, 0, { seconds: 3, delay_seconds: 200, route_id: "R2" }), 3000, false);
  assert.equal(m.sprite, null);
});

test("setStyle rings a vehicle and asks for a redraw only when the ring changes", () => {
  const layer = flatLayer();
  const m = new VehicleMarker(layer, vehicle(0, 0), 0);
  m.sprite = "drawn";
  assert.equal(m.setStyle({ color: "#fff", weight: 1 }), m);
  assert.equal(layer.redraws, 0);
  assert.equal(m.sprite, "drawn");
  m.setStyle({ color: "#6a1b9a", weight: 3 });
  assert.deepEqual([m.ring, m.ringWidth, m.sprite, layer.redraws], ["#6a1b9a", 3, null, 1]);
  m.setStyle({ weight: 2 });
  assert.deepEqual([m.ring, m.ringWidth], ["#6a1b9a", 2]);
});

test("getLatLng is the animated position, unprojected", () => {
  const m = new VehicleMarker(flatLayer(), vehicle(4.9, 52.37), performance.now());
  assert.deepEqual(m.getLatLng(), { lat: 52.37, lng: 4.9 });
});
