// The popups' HTML (static/transit/map/popups.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { stopHtml, vehicleHtml } from "../../static/transit/map/popups.js";
import { punctuality } from "../../static/transit/map/punctuality.js";

const { stateOf } = punctuality({ early_seconds: 60, late_seconds: 180 });
const VEHICLE = { vehicle_id: "tram-7", route_id: "R2", vehicle_type: "tram", trip_id: "T9", next_stop_id: "S4",
                  passenger_count: 50, capacity: 100, delay_seconds: 200, status: "in_service",
                  timestamp: "2026-12-04T08:00:00Z" };

function field(html, cls) {
  const m = new RegExp(`class="${cls}[^"]*"[^>]*>(.*?)</dd>`).exec(html);
  return m && m[1];
}

test("a vehicle's popup: route, trip, next stop, load, schedule, status and age", () => {
  const html = vehicleHtml({
    vehicle: VEHICLE, route: { short_name: "2", long_name: "Sloten - Gaasperdam", text_color: "FFFFFF" },
    colour: "#c2185b", state: stateOf(VEHICLE),
    details: { trip: { headsign: "Gaasperdam" }, next_stop: { name: "Dam" } }, ageMs: 4000,
  });
  assert.match(html, /data-vehicle-id="tram-7"/);
  assert.match(html, /<span class="sc-badge" style="background:#c2185b;color:#FFFFFF">2<\/span> Tram <b>tram-7<\/b>/);
  assert.equal(field(html, "f-route"), "2 · Sloten - Gaasperdam");
  assert.equal(field(html, "f-headsign"), "to Gaasperdam");
  assert.equal(field(html, "f-next-stop"), "Dam");
  assert.match(field(html, "f-load"), /width:50%.* 50 \/ 100 \(50 %, some seats free\)/);
  assert.match(html, /<dd class="f-deviation sc-state-late">3 min 20 s late<\/dd>/);
  assert.equal(field(html, "f-status"), "in service");
  assert.equal(field(html, "f-age"), "4 s ago");
});

test("before its details load, a vehicle's popup shows its ids", () => {
  const html = vehicleHtml({ vehicle: { ...VEHICLE, capacity: 0 }, route: {}, colour: "#ffeb3b", state: "on_time",
                             details: null, ageMs: 0 });
  assert.equal(field(html, "f-route"), "R2");
  assert.equal(field(html, "f-headsign"), "T9");
  assert.equal(field(html, "f-next-stop"), "S4");
  assert.match(html, /color:#111/, "dark text on a light route colour");
  assert.match(field(html, "f-load"), /width:0%.* 50 \/ 0$/);
});

test("everything from the server is escaped", () => {
  const evil = '<script>alert("x")</script>';
  const html = vehicleHtml({ vehicle: { ...VEHICLE, vehicle_id: evil, next_stop_id: evil }, route: { long_name: evil },
                             colour: '"><b', state: "on_time", details: null, ageMs: 0 });
  assert.ok(!html.includes("<script>"));
  assert.ok(!html.includes('"><b'));
  const stop = stopHtml({ stop_id: evil, name: evil, code: evil }, null, { routeColour: () => "#000", stateOf });
  assert.ok(!stop.includes("<script>"));
});

test("a stop's popup lists the next arrivals with their deviation", () => {
  const data = {
    now: "2026-12-04T08:00:00Z",
    arrivals: [
      { route_id: "R1", route_short_name: "1", route_color: "ffeb3b", headsign: "Zuid",
        scheduled: "2026-12-04T08:04:00Z", expected: "2026-12-04T08:05:00Z", delay_seconds: 60 },
      { route_id: "R9", headsign: "Noord", scheduled: "2026-12-04T07:59:00Z", delay_seconds: null },
      { route_id: "R3", route_short_name: "3", headsign: "", scheduled: "2026-12-04T08:10:00Z", delay_seconds: 400 },
    ],
  };
  const html = stopHtml({ stop_id: "S1", name: "Dam", code: "D1" }, data, { routeColour: (id) => "#" + id, stateOf });
  assert.match(html, /Stop <b>Dam<\/b> <span class="sc-muted">D1<\/span>/);
  const rows = html.split('<tr class="sc-arrival">').slice(1);
  assert.equal(rows.length, 3);
  assert.match(rows[0], /background:#ffeb3b;color:#111">1</);
  assert.match(rows[0], /<td title="scheduled 2026-12-04T08:04:00Z">5 min<\/td>/);
  assert.match(rows[0], /<td class="sc-state-on_time">1 min late<\/td>/);
  assert.match(rows[1], /background:#R9;color:#fff">R9</, "no route colour: the map's");
  assert.match(rows[1], />now<\/td>/);
  assert.match(rows[1], /<td class="sc-state-unknown">scheduled<\/td>/);
  assert.match(rows[2], /<td class="sc-state-late">6 min 40 s late<\/td>/);
});

test("a stop's popup says when it is loading and when nothing comes", () => {
  const opts = { routeColour: () => "#000", stateOf };
  assert.match(stopHtml({ stop_id: "S1" }, null, opts), /Stop <b>S1<\/b>.*Loading next arrivals/);
  assert.match(stopHtml({ stop_id: "S1" }, { arrivals: [] }, opts), /No arrivals in the next hour/);
});
