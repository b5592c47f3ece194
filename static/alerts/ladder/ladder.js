// The route ladder page (/ops/routes/<route>/): each route's directions as vertical ladders of stops
// (timepoints marked), its vehicles placed by stop progress (logic.js), coloured by deviation, with
// label, load and layover; the headway to the vehicle ahead against the scheduled one; ghost buses
// as hollow markers; open alerts marked. Vehicles arrive over /ws/live/ (the routes' groups): a
// snapshot, then frames. Hooks for tests: #ladder[data-vehicles][data-ghosts][data-connected], each
// marker's data-vehicle / data-trip / data-position; for the map benchmark, #ladder.streamcityLadder.stats()
// (redraws and socket messages with the milliseconds spent on them).

import { LiveSocket } from "../../transit/map/socket.js";
import { SnapshotAssembler, decodeVehicles } from "../../transit/map/subscription.js";
import { ghosts, headways, placeVehicle, spreadLabels, stopIndex } from "./logic.js";

const ROW = 34; // px between two stops
const LABEL = 26; // px between two vehicles' labels (a marker is 24 px high)
const WORLD = [-180, -85, 180, 85];
const cfg = JSON.parse(document.getElementById("ladder-config").textContent);
let data = cfg.ladder;
const root = document.getElementById("ladder");
const connEl = document.getElementById("connection");
const vehicles = new Map(); // vehicle_id -> vehicle
let twinNow = data.now; // epoch s: the newest report seen (the twin's clock)
const routeIds = data.routes.map((r) => r.route.route_id);
const early = cfg.punctuality.early_seconds, late = cfg.punctuality.late_seconds;
const stats = { draws: 0, drawMs: 0, messages: 0, messageMs: 0 };
root.streamcityLadder = { stats: () => ({ ...stats }) };

function classOf(v) {
  if (v.status === "layover") return "layover";
  if (v.status === "broken_down") return "broken";
  const d = v.delay_seconds;
  if (d == null) return "unknown";
  if (d < -early) return "early";
  if (d > late) return "late";
  return "on_time";
}

function minutes(s) {
  const m = Math.round(s / 60);
  return (m > 0 ? "+" : "") + m + " min";
}

/** HH:MM of epoch seconds in a time zone (the feed's). */
function clockIn(epochS, timeZone) {
  try {
    return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone }).format(epochS * 1000);
  } catch {
    return new Date(epochS * 1000).toISOString().slice(11, 16);
  }
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function build() {
  root.innerHTML = "";
  for (const r of data.routes) {
    const section = el("section", "ladder-route");
    section.dataset.route = r.route.route_id;
    const h = el("h2", "ladder-title");
    const badge = el("a", "route-badge", r.route.short_name || r.route.route_id);
    badge.href = "/routes/" + encodeURIComponent(r.route.route_id) + "/";
    badge.style.background = r.badge[0];
    badge.style.color = r.badge[1];
    h.append(badge, " " + (r.route.long_name || ""));
    section.append(h);
    const cols = el("div", "ladder-cols");
    for (const d of r.directions) {
      const col = el("div", "ladder-dir");
      col.dataset.direction = String(d.direction_id);
      col.append(el("h3", null, "→ " + (d.headsign || "direction " + d.direction_id)));
      const rail = el("div", "ladder-rail");
      rail.style.height = Math.max(1, d.stops.length) * ROW + "px";
      d.stops.forEach((s, i) => {
        const stop = el("div", "ladder-stop" + (s.timepoint ? " timepoint" : ""));
        stop.style.top = i * ROW + "px";
        stop.dataset.stop = s.stop_id;
        stop.append(el("span", "tick"), el("span", "name", s.name || s.stop_id));
        if (s.timepoint) stop.title = "timepoint";
        rail.append(stop);
      });
      col.append(rail);
      cols.append(col);
    }
    section.append(cols);
    root.append(section);
  }
  draw();
}

function alertsBy(key) {
  const out = new Map();
  for (const a of data.alerts) if (a[key]) out.set(a[key], (out.get(a[key]) || []).concat([a]));
  return out;
}

function draw() {
  const t0 = performance.now();
  drawLadder();
  stats.draws += 1;
  stats.drawMs += performance.now() - t0;
}

function drawLadder() {
  root.querySelectorAll(".ladder-vehicle, .ladder-ghost, .ladder-alert").forEach((n) => n.remove());
  const byVehicle = alertsBy("vehicle_id"), byStop = alertsBy("stop_id");
  let nVehicles = 0, nGhosts = 0;
  const worked = new Set();
  const staleMs = (twinNow - (cfg.stale_seconds || 300)) * 1000;
  vehicles.forEach((v, id) => { if (v.timestamp_ms && v.timestamp_ms < staleMs) vehicles.delete(id); });
  vehicles.forEach((v) => { if (v.trip_id) worked.add(v.trip_id); });
  for (const r of data.routes) {
    const section = root.querySelector('.ladder-route[data-route="' + CSS.escape(r.route.route_id) + '"]');
    const trips = new Map(r.trips.map((t) => [t.trip_id, t]));
    r.directions.forEach((d, di) => {
      const rail = section.querySelectorAll(".ladder-rail")[di];
      const index = stopIndex(d.stops);
      const placed = [];
      vehicles.forEach((v) => {
        if (v.route_id !== r.route.route_id) return;
        const t = trips.get(v.trip_id);
        const dir = t ? t.direction_id : null;
        if (dir !== d.direction_id && !(dir === null && index.has(v.next_stop_id))) return;
        const position = placeVehicle(v, d.stops, index);
        if (position === null) return;
        placed.push({ vehicle_id: v.vehicle_id, position, start: t ? t.start : null, delay: v.delay_seconds, v, t });
      });
      const gaps = headways(placed);
      placed.sort((a, b) => a.position - b.position);
      const rows = spreadLabels(placed.map((p) => p.position * ROW), LABEL); // bunched vehicles stay readable
      placed.forEach((p, k) => {
        const v = p.v, t = p.t, h = gaps.get(v.vehicle_id);
        const m = el("a", "ladder-vehicle state-" + classOf(v));
        m.href = "/ops/vehicles/" + encodeURIComponent(v.vehicle_id) + "/";
        m.style.top = rows[k] + "px";
        const shift = p.position * ROW - rows[k]; // the dot stays on the rail where the vehicle is
        m.dataset.vehicle = v.vehicle_id;
        m.dataset.trip = v.trip_id || "";
        m.dataset.position = p.position.toFixed(3);
        const load = v.capacity ? Math.round((100 * v.passenger_count) / v.capacity) + "%" : "";
        const dev = v.delay_seconds == null ? "no deviation known" : minutes(v.delay_seconds);
        const dot = el("span", "dot");
        if (Math.abs(shift) > 1) {
          dot.style.transform = "translateY(" + shift.toFixed(1) + "px)";
          const leader = el("span", "leader");
          leader.style.top = (12 + Math.min(0, shift)).toFixed(1) + "px";
          leader.style.height = Math.abs(shift).toFixed(1) + "px";
          m.append(leader);
        }
        m.append(dot, el("span", "label", v.vehicle_id));
        const leaves = v.status === "layover" && t ? " · leaves " + clockIn(t.start, r.timezone) : "";
        const info = [v.status === "layover" ? "layover" + leaves : dev, load && "load " + load];
        if (h) info.push("headway " + Math.round(h.actual / 60) + "/" + Math.round(h.scheduled / 60) + " min");
        m.append(el("span", "info", info.filter(Boolean).join(" · ")));
        if (h && h.kind !== "ok") {
          m.classList.add("headway-" + h.kind);
          const bar = el("span", "headway-bar " + h.kind);
          bar.title = h.kind === "gap" ? "gap to the vehicle ahead" : "bunched with the vehicle ahead";
          m.append(bar);
        }
        if (byVehicle.has(v.vehicle_id)) { m.classList.add("has-alert"); m.append(el("span", "alert-flag", "⚠")); }
        m.setAttribute("aria-label", `${v.vehicle_id}: ${info.filter(Boolean).join(", ")}` +
          (byVehicle.has(v.vehicle_id) ? ", has an open alert" : ""));
        rail.append(m);
        nVehicles += 1;
      });
      const dirTrips = r.trips.filter((t) => t.direction_id === d.direction_id);
      for (const g of ghosts(dirTrips, worked, twinNow, data.ghost_grace_s)) {
        const m = el("span", "ladder-ghost");
        m.style.top = g.position * ROW + "px";
        m.dataset.trip = g.trip_id;
        m.dataset.position = g.position.toFixed(3);
        m.title = "ghost bus: trip " + g.trip_id + " is scheduled to be running and no vehicle works it";
        m.tabIndex = 0;
        m.append(el("span", "dot"), el("span", "label", "ghost " + g.trip_id.slice(-8)));
        rail.append(m);
        nGhosts += 1;
      }
      d.stops.forEach((s, i) => {
        if (!byStop.has(s.stop_id)) return;
        const a = el("span", "ladder-alert", "⚠");
        a.style.top = i * ROW + "px";
        a.title = byStop.get(s.stop_id).map((x) => x.summary || x.kind).join("; ");
        rail.append(a);
      });
    });
  }
  root.dataset.vehicles = String(nVehicles);
  root.dataset.ghosts = String(nGhosts);
}

let pending = false;
function redraw() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; draw(); });
}

function take(v) {
  if (v.timestamp_ms) twinNow = Math.max(twinNow, Math.floor(v.timestamp_ms / 1000));
  if (!routeIds.includes(v.route_id)) vehicles.delete(v.vehicle_id); // it left the route
  else vehicles.set(v.vehicle_id, v);
}

const snapshots = new SnapshotAssembler();
function handle(msg) {
  if (msg.type === "snapshot") {
    const part = snapshots.add(msg);
    if (!part) return;
    if (msg.part === 0 || !msg.part) vehicles.clear();
    part.vehicles.forEach(take);
    if (part.done) redraw();
  } else if (msg.type === "frame") {
    decodeVehicles(msg).forEach(take);
    redraw();
  }
}

const socket = new LiveSocket({
  path: cfg.urls.socket,
  subscription: () => ({ bbox: WORLD, routes: routeIds, vehicle_types: [], zoom: 18 }),
  view: () => ({ box: { west: WORLD[0], south: WORLD[1], east: WORLD[2], north: WORLD[3] }, zoom: 18 }),
  onMessage(msg) {
    const t0 = performance.now();
    handle(msg);
    stats.messages += 1;
    stats.messageMs += performance.now() - t0;
  },
  onState(state, text) {
    root.dataset.connected = state === "on" ? "true" : "false";
    if (connEl) { connEl.textContent = text; connEl.className = "conn " + (state === "on" ? "conn-on" : "conn-off"); }
  },
});

build();
socket.connect();
setInterval(redraw, 15000); // ghosts move with the timetable between frames
setInterval(() => { // later hours' trips (the page stays open for a shift); the vehicles stay live
  fetch("/api/ops/routes/" + encodeURIComponent(routeIds[0]) + "/ladder/?routes=" + routeIds.join(","),
        { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null)).then((fresh) => {
    if (fresh && fresh.routes.length === data.routes.length) {
      fresh.routes.forEach((r, i) => { r.badge = data.routes[i].badge; });
      data = fresh;
      twinNow = Math.max(twinNow, data.now);
      redraw();
    }
  }).catch(() => {});
}, 30 * 60 * 1000);
