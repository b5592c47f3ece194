// Pure formatting of the live map (static/transit/map/format.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  PALETTE, ageText, crowding, deviationText, durationText, esc, hashColour, naturalCompare, textColourFor,
} from "../../static/transit/map/format.js";

test("esc makes text safe in element content and quoted attributes", () => {
  assert.equal(esc(`<img src=x onerror="a('b')">&`), "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
  assert.equal(esc(null), "");
  assert.equal(esc(undefined), "");
  assert.equal(esc(0), "0");
});

test("a route without a colour gets a stable one from the palette", () => {
  assert.equal(hashColour("R12"), hashColour("R12"));
  assert.ok(PALETTE.includes(hashColour("R12")));
  const many = new Set(Array.from({ length: 200 }, (_, i) => hashColour("route-" + i)));
  assert.ok(many.size >= PALETTE.length - 2, "the palette is used, not one colour");
});

test("route names sort naturally and without regard to case", () => {
  assert.deepEqual(["10", "2", "N1", "1", "n2"].sort(naturalCompare), ["1", "2", "10", "N1", "n2"]);
  assert.equal(naturalCompare("abc", "ABC"), 0);
});

test("text on a route colour is dark on light colours and white on dark ones", () => {
  assert.equal(textColourFor("#ffeb3b"), "#111");
  assert.equal(textColourFor("FFFFFF"), "#111");
  assert.equal(textColourFor("#1a237e"), "#fff");
  assert.equal(textColourFor("not a colour"), "#fff");
  assert.equal(textColourFor(undefined), "#fff");
});

test("durations read as minutes and seconds", () => {
  assert.equal(durationText(45), "45 s");
  assert.equal(durationText(60), "1 min");
  assert.equal(durationText(90), "1 min 30 s");
  assert.equal(durationText(180), "3 min");
  assert.equal(durationText(-300), "5 min");
});

test("a schedule deviation reads as late, early or on time (within 30 s)", () => {
  assert.equal(deviationText(null), "no schedule");
  assert.equal(deviationText(undefined), "no schedule");
  assert.equal(deviationText(29), "on time");
  assert.equal(deviationText(-29.4), "on time");
  assert.equal(deviationText(30), "30 s late");
  assert.equal(deviationText(-45), "45 s early");
  assert.equal(deviationText(120), "2 min late");
  assert.equal(deviationText(125), "2 min 5 s late");
  assert.equal(deviationText(-3600), "60 min early");
});

test("ages read in seconds, minutes or hours", () => {
  assert.equal(ageText(-500), "0 s ago");
  assert.equal(ageText(1400), "1 s ago");
  assert.equal(ageText(59_400), "59 s ago");
  assert.equal(ageText(65_000), "1 min 5 s ago");
  assert.equal(ageText(2 * 3600 * 1000 + 5), "2 h ago");
});

test("crowding: the share of the capacity in four levels, unknown without a capacity", () => {
  assert.deepEqual(crowding({ passenger_count: 10, capacity: 0 }), { label: "unknown", level: "unknown", pct: null });
  assert.deepEqual(crowding({ passenger_count: 34, capacity: 100 }),
                   { label: "many seats free", level: "low", pct: 34 });
  assert.equal(crowding({ passenger_count: 35, capacity: 100 }).level, "medium");
  assert.equal(crowding({ passenger_count: 70, capacity: 100 }).level, "high");
  assert.equal(crowding({ passenger_count: 95, capacity: 100 }).level, "full");
  assert.deepEqual(crowding({ passenger_count: 150, capacity: 100 }), { label: "full", level: "full", pct: 150 });
});
