import test from "node:test";
import assert from "node:assert/strict";

import {
  LABELS_MIN_ZOOM, LOAD_BANDS, LOAD_UNKNOWN, dispatcherOptions, labelsVisible, loadBand, loadLegend, routeLabel,
  vehicleFill,
} from "../../static/transit/map/dispatch.js";
import { parseState, serialiseState } from "../../static/transit/map/filters.js";
import { punctuality } from "../../static/transit/map/punctuality.js";
import { mapGhosts, patternLatLng } from "../../static/alerts/ghostmap.js";

const band = (n, cap) => loadBand({ passenger_count: n, capacity: cap }).key;

test("load bands: under 50 %, 50-85 %, 85-100 %, full; the edges go up", () => {
  assert.deepEqual([band(0, 80), band(39, 80), band(40, 80), band(67, 80), band(68, 80), band(79, 80)],
                   ["low", "low", "medium", "medium", "high", "high"]);
  assert.equal(band(80, 80), "full");
  assert.equal(band(120, 80), "full"); // crush load is still full, not off the scale
  assert.deepEqual(LOAD_BANDS.map((b) => b.key), ["low", "medium", "high", "full"]);
});

test("a vehicle without load data is unknown, never empty", () => {
  for (const v of [{}, { passenger_count: 10 }, { passenger_count: 10, capacity: 0 }, { passenger_count: null, capacity: 80 },
                   { passenger_count: 0, capacity: null }, { passenger_count: -1, capacity: 80 }]) {
    assert.equal(loadBand(v), LOAD_UNKNOWN, JSON.stringify(v));
  }
  assert.equal(band(0, 80), "low"); // an empty bus with a capacity is known to be empty
  assert.deepEqual(loadLegend().map((r) => r.key), ["low", "medium", "high", "full", "unknown"]);
  assert.equal(new Set(loadLegend().map((r) => r.colour)).size, 5); // each band its own colour
});

test("labels from the configured zoom on, never on the passenger map", () => {
  assert.equal(LABELS_MIN_ZOOM, 15);
  assert.equal(labelsVisible(14.9, 15), false);
  assert.equal(labelsVisible(15, 15), true);
  assert.equal(labelsVisible(18, 15), true);
  assert.equal(labelsVisible(18, null), false);
  assert.equal(labelsVisible(NaN, 15), false);
});

test("the dispatcher options: passenger map has none, /ops/ adds crowding; bad zoom is an error", () => {
  assert.deepEqual(dispatcherOptions(undefined), { labelsMinZoom: null, colourModes: ["route", "state"] });
  assert.deepEqual(dispatcherOptions({ labels_min_zoom: 16, crowding: true }),
                   { labelsMinZoom: 16, colourModes: ["route", "state", "crowding"] });
  assert.throws(() => dispatcherOptions({ labels_min_zoom: "15" }), /labels_min_zoom must be a zoom level/);
  assert.throws(() => dispatcherOptions({ labels_min_zoom: 40 }), /labels_min_zoom/);
  assert.throws(() => dispatcherOptions("yes"), /dispatcher must be an object/);
});

test("the colour mode is kept in the URL where it is offered, dropped where it is not", () => {
  const ops = ["route", "state", "crowding"];
  assert.equal(parseState("?colour=crowding", ops).filters.colour, "crowding");
  assert.equal(parseState("?colour=crowding").filters.colour, "route"); // the passenger map has no crowding mode
  const filters = { types: new Set(), routes: new Set(["B12"]), colour: "crowding" };
  assert.equal(serialiseState("?ghosts=off", filters), "ghosts=off&route=B12&colour=crowding");
  assert.equal(serialiseState("colour=crowding", { ...filters, colour: "route" }), "route=B12");
});

test("colour by mode: crowding gives the load band, keeps the breakdown dot and dims deadheads", () => {
  const p = punctuality({ early_seconds: 60, late_seconds: 180 });
  const v = { passenger_count: 70, capacity: 80, delay_seconds: 0, status: "in_service" };
  assert.equal(vehicleFill("crowding", v, p.stateOf(v), p.colours, "#123456").fill,
               LOAD_BANDS.find((b) => b.key === "high").colour);
  assert.equal(vehicleFill("route", v, p.stateOf(v), p.colours, "#123456").fill, "#123456");
  assert.equal(vehicleFill("state", v, p.stateOf(v), p.colours, "#123456").fill, p.colours.on_time);
  const nodata = { delay_seconds: 0, status: "in_service" };
  assert.equal(vehicleFill("crowding", nodata, "on_time", p.colours, "#123456").fill, LOAD_UNKNOWN.colour);
  const broken = { ...v, status: "broken_down" };
  assert.equal(vehicleFill("crowding", broken, p.stateOf(broken), p.colours, "#123456").badge, p.colours.broken_down);
  const dead = { ...v, status: "deadhead" };
  assert.deepEqual(vehicleFill("crowding", dead, p.stateOf(dead), p.colours, "#123456"),
                   { fill: p.colours.deadhead, badge: false, dim: true });
});

test("a vehicle's label: its route's short name, cut to 6 characters; none without a route", () => {
  const routes = new Map([["r1", { short_name: "12" }], ["r2", { short_name: "" }], ["r3", { short_name: "Airport Express" }]]);
  assert.equal(routeLabel({ route_id: "r1" }, routes), "12");
  assert.equal(routeLabel({ route_id: "r2" }, routes), "r2");
  assert.equal(routeLabel({ route_id: "r3" }, routes), "Airpo…");
  assert.equal(routeLabel({ route_id: "" }, routes), "");
  assert.equal(routeLabel({ route_id: null }, routes), "");
});

const stops = [
  { stop_id: "A", name: "Alpha", latitude: 52.0, longitude: 4.0 },
  { stop_id: "B", name: "Bravo", latitude: 52.01, longitude: 4.02 },
  { stop_id: "C", name: "Charlie", latitude: 52.02, longitude: 4.02 },
];

test("a pattern position on the map: between its two stops", () => {
  assert.deepEqual(patternLatLng(stops, 0), [52.0, 4.0]);
  const p = patternLatLng(stops, 0.5);
  assert.ok(Math.abs(p[0] - 52.005) < 1e-9 && Math.abs(p[1] - 4.01) < 1e-9, p);
  assert.deepEqual(patternLatLng(stops, 2), [52.02, 4.02]);
  assert.equal(patternLatLng([], 1), null);
  assert.equal(patternLatLng(stops, NaN), null);
});

test("map ghosts: the ladder's definition, with the server's and the map's worked trips", () => {
  const now = 10_000;
  const trip = (id, start) => ({ trip_id: id, direction_id: 0, headsign: "to Charlie", start, end: start + 1200,
                                 calls: [[0, start], [1, start + 600], [2, start + 1200]] });
  const data = {
    ghost_grace_s: 120, worked_trips: ["served"],
    routes: [{ route: { route_id: "B12", short_name: "12" }, badge: ["#000", "#fff"], timezone: "UTC",
               directions: [{ direction_id: 0, headsign: "Charlie", stops }],
               trips: [trip("ghost", now - 300), trip("served", now - 300), trip("on-map", now - 300),
                       trip("too-new", now - 60), trip("later", now + 600), trip("done", now - 2000)] }],
  };
  const found = mapGhosts(data, new Set(["on-map"]), now);
  assert.deepEqual(found.map((g) => g.trip_id), ["ghost"]);
  const g = found[0];
  assert.equal(g.position, 0.5);
  assert.deepEqual([g.from, g.to, g.headsign, g.route.short_name], ["Alpha", "Bravo", "to Charlie", "12"]);
  // no vehicle on the map works "on-map" any more: it is a ghost too
  assert.deepEqual(mapGhosts(data, new Set(), now).map((x) => x.trip_id).sort(), ["ghost", "on-map"]);
});
