// The live socket's protocol, pure (static/transit/map/subscription.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAX_DELAY_MS, SnapshotAssembler, backoffDelay, decodeVehicles, inArea, needsResubscribe, padBox, socketQuery,
  subscribeMessage, wanted,
} from "../../static/transit/map/subscription.js";

const VIEW = { west: 4.8, south: 52.3, east: 5.0, north: 52.4 };
const NO_FILTERS = { types: new Set(), routes: new Set() };

test("padBox grows a box by a share of its size on each side", () => {
  const b = padBox(VIEW, 0.5);
  assert.ok(Math.abs(b.west - 4.7) < 1e-9 && Math.abs(b.east - 5.1) < 1e-9);
  assert.ok(Math.abs(b.south - 52.25) < 1e-9 && Math.abs(b.north - 52.45) < 1e-9);
});

test("the subscription covers the view padded by half, to 5 decimals, with the filters and zoom", () => {
  const sub = wanted({ west: 4.812345678, south: 52.3, east: 5.0, north: 52.4 }, 13,
                     { types: new Set(["tram"]), routes: new Set(["R1", "R2"]) });
  assert.deepEqual(sub.bbox, [4.71852, 52.25, 5.09383, 52.45]);
  assert.deepEqual(sub.routes, ["R1", "R2"]);
  assert.deepEqual(sub.vehicle_types, ["tram"]);
  assert.equal(sub.zoom, 13);
});

test("the subscription stays within the latitudes a web map can show", () => {
  const sub = wanted({ west: -180, south: -80, east: 180, north: 80 }, 3, NO_FILTERS);
  assert.equal(sub.bbox[1], -85);
  assert.equal(sub.bbox[3], 85);
});

test("moving inside the subscribed area needs no new subscription; leaving it does", () => {
  const asked = wanted(VIEW, 13, NO_FILTERS);
  assert.equal(needsResubscribe(null, VIEW, 13), true, "nothing asked yet");
  assert.equal(needsResubscribe(asked, VIEW, 13), false);
  const nudged = { west: 4.85, south: 52.32, east: 5.05, north: 52.42 };
  assert.equal(needsResubscribe(asked, nudged, 13), false);
  const away = { west: 5.0, south: 52.3, east: 5.2, north: 52.4 };
  assert.equal(needsResubscribe(asked, away, 13), true);
});

test("another level of detail needs a new subscription; detail stops changing at zoom 14", () => {
  const asked = wanted(VIEW, 13, NO_FILTERS);
  assert.equal(needsResubscribe(asked, VIEW, 13.6), false, "the same whole zoom");
  assert.equal(needsResubscribe(asked, VIEW, 12), true);
  const close = wanted(VIEW, 14, NO_FILTERS);
  assert.equal(needsResubscribe(close, VIEW, 17), false);
});

test("zooming far into the subscribed area asks for a finer one", () => {
  const asked = wanted(VIEW, 13, NO_FILTERS); // 4 times the view's area
  const quarter = { west: 4.85, south: 52.325, east: 4.95, north: 52.375 };
  assert.equal(needsResubscribe(asked, quarter, 13), false);
  const tiny = { west: 4.89, south: 52.34, east: 4.91, north: 52.36 };
  assert.equal(needsResubscribe(asked, tiny, 13), true);
});

test("a route subscription covers its routes wherever the view goes", () => {
  const asked = wanted(VIEW, 13, { types: new Set(), routes: new Set(["R1"]) });
  assert.equal(needsResubscribe(asked, { west: 6, south: 53, east: 6.2, north: 53.1 }, 13), false);
  assert.equal(needsResubscribe(asked, VIEW, 10), true, "but not another level of detail");
});

test("the socket URL carries the first subscription; later ones are messages", () => {
  const sub = { bbox: [4.7, 52.25, 5.1, 52.45], routes: ["R1", "a b"], vehicle_types: ["bus"], zoom: 13.5 };
  const q = new URLSearchParams(socketQuery(sub));
  assert.equal(q.get("bbox"), "4.7,52.25,5.1,52.45");
  assert.deepEqual(q.getAll("route"), ["R1", "a b"]);
  assert.deepEqual(q.getAll("type"), ["bus"]);
  assert.equal(q.get("zoom"), "13.5");
  assert.deepEqual(JSON.parse(subscribeMessage(sub)), { type: "subscribe", ...sub });
});

test("compact rows become vehicles with an ISO timestamp; objects pass through", () => {
  const msg = { type: "frame", fields: ["vehicle_id", "latitude", "longitude", "timestamp_ms"],
                vehicles: [["a", 52.1, 4.9, Date.parse("2026-12-04T08:00:01.500Z")], ["b", 52.2, 4.8, null]] };
  const [a, b] = decodeVehicles(msg);
  assert.deepEqual(a, { vehicle_id: "a", latitude: 52.1, longitude: 4.9,
                        timestamp_ms: Date.parse("2026-12-04T08:00:01.500Z"), timestamp: "2026-12-04T08:00:01.500Z" });
  assert.equal(b.timestamp, undefined);
  const objects = [{ vehicle_id: "c" }];
  assert.equal(decodeVehicles({ vehicles: objects }), objects);
  assert.deepEqual(decodeVehicles({ fields: ["vehicle_id"] }), []);
});

test("inArea: inside the box (edges included), or anywhere without one", () => {
  const area = [4.8, 52.3, 5.0, 52.4];
  assert.equal(inArea({ longitude: 4.9, latitude: 52.35 }, area), true);
  assert.equal(inArea({ longitude: 4.8, latitude: 52.4 }, area), true);
  assert.equal(inArea({ longitude: 5.01, latitude: 52.35 }, area), false);
  assert.equal(inArea({ longitude: 4.9, latitude: 52.29 }, area), false);
  assert.equal(inArea({ longitude: 100, latitude: 0 }, null), true);
});

test("a snapshot in parts: every part's vehicles, the plan from the first, done at the last", () => {
  const s = new SnapshotAssembler();
  const fields = ["vehicle_id"];
  assert.equal(s.add({ type: "snapshot", part: 1, parts: 3, fields, vehicles: [["x"]] }), null,
               "a part whose beginning this socket never saw");
  const area = [1, 2, 3, 4];
  const first = s.add({ type: "snapshot", part: 0, parts: 3, subscription: { area }, fields, vehicles: [["a"]] });
  assert.deepEqual([first.done, first.plan, first.vehicles.map((v) => v.vehicle_id)], [false, { area }, ["a"]]);
  assert.equal(s.add({ type: "snapshot", part: 1, parts: 3, fields, vehicles: [["b"]] }).done, false);
  const last = s.add({ type: "snapshot", part: 2, parts: 3, fields, vehicles: [["c"]] });
  assert.equal(last.done, true);
  assert.deepEqual([...last.seen].sort(), ["a", "b", "c"]);
  assert.equal(s.add({ type: "snapshot", part: 2, parts: 3, fields, vehicles: [] }), null,
               "over: a new one must begin");
});

test("a snapshot in one message is done at once; a new one starts afresh", () => {
  const s = new SnapshotAssembler();
  const one = s.add({ type: "snapshot", subscription: null, vehicles: [{ vehicle_id: "a" }] });
  assert.deepEqual([one.done, one.plan, [...one.seen]], [true, null, ["a"]]);
  s.add({ type: "snapshot", part: 0, parts: 2, vehicles: [{ vehicle_id: "b" }] });
  const again = s.add({ type: "snapshot", vehicles: [{ vehicle_id: "c" }] }); // the previous one was cut short
  assert.deepEqual([...again.seen], ["c"]);
});

test("reconnect delays double from 0.5 s to 30 s, with a jitter of half", () => {
  assert.equal(backoffDelay(1, 1), 500);
  assert.equal(backoffDelay(1, 0), 250);
  assert.equal(backoffDelay(2, 1), 1000);
  assert.equal(backoffDelay(6, 1), 16000);
  assert.equal(backoffDelay(7, 1), MAX_DELAY_MS);
  assert.equal(backoffDelay(50, 1), MAX_DELAY_MS);
  assert.equal(backoffDelay(0, 1), 500, "the first attempt at the least");
  for (let r = 0; r <= 1; r += 0.1) {
    const d = backoffDelay(3, r);
    assert.ok(d >= 1000 && d <= 2000, String(d));
  }
});
