// Punctuality classes from the page's config (static/transit/map/punctuality.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { punctuality } from "../../static/transit/map/punctuality.js";

const p = punctuality({ early_seconds: 60, late_seconds: 300 });
const state = (delay, status = "in_service") => p.stateOf({ status, delay_seconds: delay });

test("the thresholds come from the config and bound the on-time class inclusively", () => {
  assert.equal(p.earlySeconds, 60);
  assert.equal(p.lateSeconds, 300);
  assert.equal(state(0), "on_time");
  assert.equal(state(300), "on_time");
  assert.equal(state(301), "late");
  assert.equal(state(-60), "on_time");
  assert.equal(state(-61), "early");
});

test("other thresholds give other classes (nothing is hard-coded)", () => {
  const strict = punctuality({ early_seconds: 0, late_seconds: 120 });
  assert.equal(strict.stateOf({ delay_seconds: 200 }), "late");
  assert.equal(state(200), "on_time");
  assert.equal(strict.stateOf({ delay_seconds: -1 }), "early");
});

test("a vehicle's status wins over its delay; no delay is no schedule", () => {
  assert.equal(state(900, "broken_down"), "broken_down");
  assert.equal(state(0, "out_of_service"), "out_of_service");
  assert.equal(state(null), "unknown");
  assert.equal(state(undefined), "unknown");
});

test("laying over is never early, and late only once the departure is overdue; deadhead is its own state", () => {
  assert.equal(state(-700, "layover"), "layover");
  assert.equal(state(0, "layover"), "layover");
  assert.equal(state(null, "layover"), "layover");
  assert.equal(state(301, "layover"), "late");
  assert.equal(state(null, "deadhead"), "deadhead");
});

test("the legend's labels are made from the thresholds", () => {
  const labels = Object.fromEntries(p.states.map((s) => [s.key, s.label]));
  assert.equal(labels.on_time, "On time (1 min early – 5 min late)");
  assert.equal(labels.late, "Late (over 5 min)");
  assert.equal(labels.early, "Early (over 1 min)");
  const other = punctuality({ early_seconds: 30, late_seconds: 150 });
  assert.equal(other.states.find((s) => s.key === "late").label, "Late (over 2 min 30 s)");
  assert.equal(other.states.find((s) => s.key === "on_time").label, "On time (30 s early – 2 min 30 s late)");
});

test("every state has a colour of its own, and the legend lists each once", () => {
  const keys = p.states.map((s) => s.key);
  assert.deepEqual(keys, ["on_time", "late", "early", "layover", "broken_down", "deadhead", "unknown", "out_of_service"]);
  assert.equal(new Set(p.states.map((s) => s.colour)).size, keys.length);
  for (const s of p.states) assert.match(p.colours[s.key], /^#[0-9a-f]{6}$/);
});

test("a missing or bad config is a clear error, not a silent default", () => {
  assert.throws(() => punctuality(undefined), /no punctuality/);
  assert.throws(() => punctuality({ late_seconds: 300 }), /punctuality\.early_seconds must be a number/);
  assert.throws(() => punctuality({ early_seconds: 60, late_seconds: "300" }), /late_seconds/);
  assert.throws(() => punctuality({ early_seconds: -1, late_seconds: 300 }), /early_seconds/);
});
