import test from "node:test";
import assert from "node:assert/strict";

import { badgeText, contrastRatio, textColourFor } from "../../static/transit/map/format.js";

test("contrast ratios as WCAG computes them", () => {
  assert.equal(Math.round(contrastRatio("#000000", "#ffffff")), 21);
  assert.equal(contrastRatio("#777777", "#777777"), 1);
  assert.ok(Math.abs(contrastRatio("#607d8b", "#ffffff") - 4.35) < 0.05); // the map's old muted grey: under AA
});

test("route badges keep a GTFS text colour only when it reaches AA", () => {
  assert.equal(badgeText("#0D47A1", "FFFFFF"), "#FFFFFF");
  assert.equal(badgeText("#FFC107", "FFFFFF"), "#111"); // white on amber: 1.6:1
  for (const bg of ["#FFEB3B", "#E91E63", "#00BCD4", "#808080", "#777777", "#263238", "#FF9800", "#4CAF50"]) {
    const fg = badgeText(bg, "");
    assert.ok(contrastRatio(bg, fg) >= 4.5, bg + " on " + fg);
    assert.equal(fg, textColourFor(bg));
  }
});
