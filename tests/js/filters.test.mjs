// Filters and the URL state (static/transit/map/filters.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAIN_TYPES, TYPES, isShown, parseState, routeList, searchLocal, searchMerge, serialiseState, toggleType, typesListed,
} from "../../static/transit/map/filters.js";

test("the URL gives the filters: known types, any routes, the colour mode", () => {
  const s = parseState("?type=tram&type=rocket&type=bus&route=12&route=N%2001&colour=state");
  assert.deepEqual([...s.filters.types], ["tram", "bus"], "an unknown type is dropped");
  assert.deepEqual([...s.filters.routes], ["12", "N 01"]);
  assert.equal(s.filters.colour, "state");
  assert.equal(parseState("?colour=rainbow").filters.colour, "route");
});

test("no query: every type, every route, colour by route, everything shown", () => {
  const s = parseState("");
  assert.equal(s.filters.types.size, 0);
  assert.equal(s.filters.routes.size, 0);
  assert.deepEqual([s.filters.colour, s.panel, s.lines, s.stops], ["route", null, true, true]);
  const off = parseState("panel=closed&lines=off&stops=off");
  assert.deepEqual([off.panel, off.lines, off.stops], ["closed", false, false]);
});

test("the filters are written back into the query, keeping everything else", () => {
  const filters = { types: new Set(["bus"]), routes: new Set(["12", "a&b"]), colour: "state" };
  const q = serialiseState("?panel=closed&type=tram&route=1&colour=state&lines=off", filters);
  const params = new URLSearchParams(q);
  assert.deepEqual(params.getAll("type"), ["bus"]);
  assert.deepEqual(params.getAll("route"), ["12", "a&b"]);
  assert.equal(params.get("colour"), "state");
  assert.equal(params.get("panel"), "closed");
  assert.equal(params.get("lines"), "off");
  assert.equal(serialiseState("?type=bus&colour=state", { types: new Set(), routes: new Set(), colour: "route" }), "",
               "the defaults leave no trace");
});

test("state survives a round trip through the URL", () => {
  const filters = { types: new Set(["ferry", "rail"]), routes: new Set(["R 1", "ü"]), colour: "state" };
  const back = parseState("?" + serialiseState("", filters)).filters;
  assert.deepEqual(back, filters);
});

test("a vehicle is shown when it passes every filter and lies in the subscribed area", () => {
  const v = { vehicle_type: "tram", route_id: "12", longitude: 4.9, latitude: 52.37 };
  const all = { types: new Set(), routes: new Set() };
  assert.equal(isShown(v, all, null), true);
  assert.equal(isShown(v, { types: new Set(["bus"]), routes: new Set() }, null), false);
  assert.equal(isShown(v, { types: new Set(["tram"]), routes: new Set(["12"]) }, null), true);
  assert.equal(isShown(v, { types: new Set(), routes: new Set(["13"]) }, null), false);
  assert.equal(isShown(v, all, [4.8, 52.3, 5.0, 52.4]), true);
  assert.equal(isShown(v, all, [5.0, 52.3, 5.2, 52.4]), false);
});

test("unticking a type when all are shown keeps the others; ticking the last one back shows all", () => {
  const listed = ["bus", "tram", "rail"];
  const noTram = toggleType(new Set(), listed, "tram", false);
  assert.deepEqual([...noTram].sort(), ["bus", "rail"]);
  const onlyRail = toggleType(noTram, listed, "bus", false);
  assert.deepEqual([...onlyRail], ["rail"]);
  const back = toggleType(toggleType(onlyRail, listed, "bus", true), listed, "tram", true);
  assert.equal(back.size, 0, "all again (so types seen later are shown too)");
  assert.equal(noTram.size, 2, "the old set is not changed");
});

test("types are listed in a fixed order, the main ones before any is seen", () => {
  assert.deepEqual(typesListed(new Set(MAIN_TYPES)), ["bus", "tram", "rail", "ferry"]);
  assert.deepEqual(typesListed(new Set(["other", "cable", "bus", "subway"])), ["bus", "subway", "cable", "other"]);
  assert.ok(MAIN_TYPES.every((t) => TYPES.includes(t)));
});

const ROUTES = [
  { route_id: "R10", short_name: "10", long_name: "Centraal - Zuid" },
  { route_id: "R2", short_name: "2", long_name: "Sloten - Gaasperdam" },
  { route_id: "R1", short_name: "1", long_name: "Holendrecht" },
  { route_id: "F1", short_name: "", long_name: "Ferry" },
];

test("the route list filters by name or id, keeps the selected ones and sorts naturally", () => {
  assert.deepEqual(routeList(ROUTES, "", new Set()).map((r) => r.route_id), ["R1", "R2", "R10", "F1"]);
  assert.deepEqual(routeList(ROUTES, " ZUID ", new Set()).map((r) => r.route_id), ["R10"]);
  assert.deepEqual(routeList(ROUTES, "zuid", new Set(["R2"])).map((r) => r.route_id), ["R2", "R10"]);
  assert.deepEqual(routeList(ROUTES, "f1", new Set()).map((r) => r.route_id), ["F1"]);
  assert.equal(routeList(ROUTES, "", new Set(), 2).length, 2);
});

test("search finds routes (an exact short name first) and then vehicles by id", () => {
  const vehicles = new Map([["tram-1", { route_id: "R1" }], ["bus-10", { route_id: null }]]);
  const items = searchLocal(ROUTES, vehicles, "1");
  assert.deepEqual(items.map((it) => it.kind + ":" + it.id), ["route:R1", "route:R10", "route:F1", "vehicle:tram-1",
                                                              "vehicle:bus-10"]);
  assert.deepEqual(items[0], { kind: "route", id: "R1", label: "1 Holendrecht" });
  assert.equal(items.at(-1).label, "bus-10 (no route)");
  assert.deepEqual(searchLocal(ROUTES, vehicles, "nothing"), []);
});

test("search keeps at most 6 routes and 10 vehicles", () => {
  const routes = Array.from({ length: 20 }, (_, i) => ({ route_id: "R" + i, short_name: "x" + i, long_name: "" }));
  const vehicles = new Map(Array.from({ length: 30 }, (_, i) => ["x-" + i, { route_id: "R1" }]));
  const items = searchLocal(routes, vehicles, "x");
  assert.equal(items.filter((it) => it.kind === "route").length, 6);
  assert.equal(items.filter((it) => it.kind === "vehicle").length, 10);
});

test("the server's search results are added after the local ones, without repeats", () => {
  const local = [{ kind: "route", id: "R1", label: "1 Holendrecht" }];
  const merged = searchMerge(local, {
    routes: [{ route_id: "R1", short_name: "1" }, { route_id: "R7", short_name: "7", long_name: "Ring" }],
    vehicles: [{ vehicle_id: "bus-7", route_id: "R7" }],
  });
  assert.deepEqual(merged.map((it) => it.label), ["1 Holendrecht", "7 Ring", "bus-7 (R7)"]);
  assert.equal(local.length, 1, "the local results are not changed");
  assert.deepEqual(searchMerge(local, {}), local);
});
