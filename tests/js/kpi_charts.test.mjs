// The KPI page's charts from its JSON tables (static/alerts/kpi_charts.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { CHARTS, otpHeat, otpByHour, load, rowsOf, summary } from "../../static/alerts/kpi_charts.js";

const table = (columns, rows) => ({ columns, rows });
const TABLES = {
  on_time_by_route_hour: table(["route_id", "hour", "departures", "on_time_pct"], [
    ["B1", "2026-12-04T07:00+00:00", 10, 90], ["B1", "2026-12-04T08:00+00:00", 20, 75],
    ["T2", "2026-12-04T08:00+00:00", 5, 100]]),
  on_time_by_route: table(["route_id", "departures", "early_pct", "on_time_pct", "late_pct"], [
    ["B1", 30, 0, 80, 20], ["T2", 5, 0, 100, 0], ["(all)", 35, 0, 82.9, 17.1]]),
  headways_by_route: table(["route_id", "pairs", "swt_s", "ewt_s"], [["B1", 10, 240, 60], ["T2", 30, 300, 20]]),
  service_by_route: table(["route_id", "due", "operated", "missed"], [["B1", 4, 3, 1], ["(all)", 4, 3, 1]]),
  crowding_by_route: table(["route_id", "departures", "lf_under_50", "lf_50_80", "lf_80_100", "lf_full", "trips_full"],
                           [["B1", 30, 10, 10, 5, 5, 2]]),
  alerts_by_kind: table(["kind", "raised", "ack_median_s"], [["delay", 3, 90], ["breakdown", 1, null]]),
};

test("rows come back as objects keyed by column", () => {
  assert.deepEqual(rowsOf(TABLES.service_by_route)[0], { route_id: "B1", due: 4, operated: 3, missed: 1 });
  assert.deepEqual(rowsOf(undefined), []);
});

test("one on-time line per route, in time order", () => {
  const fig = otpByHour(TABLES);
  assert.deepEqual(fig.data.map((t) => [t.name, t.y]), [["B1", [90, 75]], ["T2", [100]]]);
});

test("the heat map has a cell per route and hour, empty where a route had no departure", () => {
  const [trace] = otpHeat(TABLES).data;
  assert.deepEqual(trace.x, ["07:00", "08:00"]);
  assert.deepEqual(trace.y, ["B1", "T2"]);
  assert.deepEqual(trace.z, [[90, 75], [null, 100]]);
});

test("load bands are shares of the departures and add up to 100", () => {
  const shares = load(TABLES).data.map((t) => t.y[0]);
  assert.deepEqual(shares, [33.3, 33.3, 16.7, 16.7]);
});

test("every chart is drawn from the same tables, and the summary weighs EWT by the headways seen", () => {
  for (const make of Object.values(CHARTS)) assert.ok(make(TABLES).data.length >= 1);
  const figures = Object.fromEntries(summary(TABLES).map(([label, value]) => [label, value]));
  assert.equal(figures["on time"], "82.9 %");
  assert.equal(figures["excess wait"], "0.5 min"); // (60·10 + 20·30) / 40 s
  assert.equal(figures["trips operated"], "3 / 4");
  assert.equal(figures["trips full"], "2");
  assert.equal(figures.alerts, "4");
});
