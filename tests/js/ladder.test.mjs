import test from "node:test";
import assert from "node:assert/strict";

import { ghosts, headways, placeVehicle, scheduledPosition, spreadLabels, stopIndex } from "../../static/alerts/ladder/logic.js";

const stops = [
  { stop_id: "A", latitude: 52.0, longitude: 4.0 },
  { stop_id: "B", latitude: 52.01, longitude: 4.0 },
  { stop_id: "C", latitude: 52.02, longitude: 4.0 },
];
const index = stopIndex(stops);

test("a vehicle sits between the stop before its next stop and its next stop, by distance", () => {
  const p = placeVehicle({ next_stop_id: "C", latitude: 52.0125, longitude: 4.0, status: "in_service" }, stops, index);
  assert.ok(Math.abs(p - 1.25) < 0.01, String(p));
});

test("laying over: at the terminal; a next stop off the ladder: not placed", () => {
  assert.equal(placeVehicle({ next_stop_id: "C", status: "layover" }, stops, index), 0);
  assert.equal(placeVehicle({ next_stop_id: "Z", status: "in_service" }, stops, index), null);
});

test("the timetable's position interpolates between calls and is null outside the trip", () => {
  const calls = [[0, 1000], [1, 1100], [2, 1300]];
  assert.equal(scheduledPosition(calls, 1050), 0.5);
  assert.equal(scheduledPosition(calls, 1200), 1.5);
  assert.equal(scheduledPosition(calls, 999), null);
  assert.equal(scheduledPosition(calls, 1301), null);
});

test("a trip running by its timetable with no vehicle on it is a ghost, after the grace", () => {
  const trips = [
    { trip_id: "t1", direction_id: 0, start: 1000, end: 1300, calls: [[0, 1000], [2, 1300]] },
    { trip_id: "t2", direction_id: 0, start: 1000, end: 1300, calls: [[0, 1000], [2, 1300]] },
    { trip_id: "t3", direction_id: 0, start: 1100, end: 1400, calls: [[0, 1100], [2, 1400]] },
  ];
  const g = ghosts(trips, new Set(["t1"]), 1150, 120);
  assert.deepEqual(g.map((x) => x.trip_id), ["t2"]); // t1 worked, t3 within its grace
  assert.equal(g[0].position, 1);
});

test("headways: the vehicle ahead, scheduled against actual, bunches and gaps", () => {
  const h = headways([
    { vehicle_id: "a", position: 5, start: 1000, delay: 400 },
    { vehicle_id: "b", position: 3, start: 1600, delay: 0 },
    { vehicle_id: "c", position: 1, start: 2200, delay: 600 },
  ]);
  assert.equal(h.has("a"), false);
  assert.deepEqual(h.get("b"), { ahead: "a", scheduled: 600, actual: 200, kind: "bunch" });
  assert.deepEqual(h.get("c"), { ahead: "b", scheduled: 600, actual: 1200, kind: "gap" });
});

test("bunched vehicles get label rows a label apart, centred on the bunch; lone ones keep their place", () => {
  assert.deepEqual(spreadLabels([0, 100, 300], 26), [0, 100, 300]);
  // three within a label's height: one column of rows centred on their mean (110)
  assert.deepEqual(spreadLabels([100, 110, 120, 400], 26), [84, 110, 136, 400]);
  // a bunch whose column reaches the next vehicle takes it in
  const rows = spreadLabels([100, 105, 128], 26);
  assert.equal(rows.length, 3);
  for (let k = 1; k < rows.length; k++) assert.ok(rows[k] - rows[k - 1] >= 26 - 1e-9);
  assert.ok(Math.abs(rows.reduce((a, b) => a + b, 0) / 3 - (100 + 105 + 128) / 3) < 1e-9);
  assert.deepEqual(spreadLabels([], 26), []);
});
