// Filters and the URL state, pure: which vehicles are shown, the state kept in the page's query
// string (?type=bus&route=12&colour=state — or colour=crowding on /ops/ —, and the read-only panel=closed|off, lines=off,
// stops=off), the route list and the search box's local results. No DOM, no Leaflet.

import { naturalCompare } from "./format.js";
import { inArea } from "./subscription.js";

export const TYPES = ["bus", "tram", "rail", "subway", "ferry", "cable", "other"];
export const TYPE_LABELS = { bus: "Bus", tram: "Tram", rail: "Train", subway: "Metro", ferry: "Ferry",
                             cable: "Cable car", other: "Other" };
export const MAIN_TYPES = ["bus", "tram", "rail", "ferry"]; // listed in the filters before any is seen
const SAVED = ["type", "route", "colour"];

/**
 * The map's state in a query string ("?a=b" or "a=b"): filters {types, routes (Sets; empty: all),
 * colour ("route", "state" or, where `colourModes` allows it, "crowding")} and the view options {panel
 * (null, "closed" or "off"), lines, stops}. Unknown vehicle types and colour modes are dropped.
 */
export function parseState(search, colourModes = ["route", "state"]) {
  const params = new URLSearchParams(search);
  return {
    filters: {
      types: new Set(params.getAll("type").filter((t) => TYPES.includes(t))),
      routes: new Set(params.getAll("route")),
      colour: colourModes.includes(params.get("colour")) ? params.get("colour") : "route",
    },
    panel: params.get("panel"),
    lines: params.get("lines") !== "off",
    stops: params.get("stops") !== "off",
  };
}

/** The query string (without "?") of `search` with the filters' state in place of the old one. */
export function serialiseState(search, filters) {
  const q = new URLSearchParams(search);
  SAVED.forEach((k) => q.delete(k));
  filters.types.forEach((t) => q.append("type", t));
  filters.routes.forEach((r) => q.append("route", r));
  if (filters.colour && filters.colour !== "route") q.set("colour", filters.colour);
  return q.toString();
}

/** Whether a vehicle passes the filters and lies in the subscribed area (null: anywhere). */
export function isShown(v, filters, area) {
  if (filters.types.size && !filters.types.has(v.vehicle_type)) return false;
  if (filters.routes.size && !filters.routes.has(v.route_id)) return false;
  return inArea(v, area);
}

/**
 * The type filter after a checkbox of type `t` changed. `types` empty means all of `listed`;
 * ticking the last one back gives the empty set again (all, including types seen later).
 */
export function toggleType(types, listed, t, checked) {
  const out = new Set(types.size ? types : listed);
  if (checked) out.add(t); else out.delete(t);
  return listed.every((x) => out.has(x)) ? new Set() : out;
}

/** The types to list: the known ones in TYPES order. */
export function typesListed(seen) {
  return TYPES.filter((t) => seen.has(t));
}

function routeLabel(r) {
  return r.short_name || r.route_id;
}

function vehicleLabel(id, v) {
  return id + " (" + (v.route_id || "no route") + ")";
}

/**
 * The route list for the filter text `query`: routes whose names or id contain it (and the
 * selected ones always), in natural order of their short names, at most `limit`.
 */
export function routeList(routes, query, selected, limit = 400) {
  const q = (query || "").trim().toLowerCase();
  return Array.from(routes)
    .filter((r) => !q || (r.short_name + " " + r.long_name + " " + r.route_id).toLowerCase().includes(q) ||
      selected.has(r.route_id))
    .sort((a, b) => naturalCompare(routeLabel(a), routeLabel(b)))
    .slice(0, limit);
}

/**
 * The search box's results before the server answers, for a lower-case query: up to 6 routes
 * (an exact short name first) then up to 10 vehicles whose id contains it. `vehicles`: Map id ->
 * vehicle. Items: {kind: "route"|"vehicle", id, label}.
 */
export function searchLocal(routes, vehicles, q) {
  const found = [];
  for (const r of routes) {
    const name = routeLabel(r) + (r.long_name ? " " + r.long_name : "");
    if ((name + " " + r.route_id).toLowerCase().includes(q)) {
      found.push({ kind: "route", id: r.route_id, label: name, exact: (r.short_name || "").toLowerCase() === q });
    }
  }
  found.sort((a, b) => (b.exact - a.exact) || naturalCompare(a.label, b.label));
  const vs = [];
  for (const [id, v] of vehicles) {
    if (vs.length >= 10) break;
    if (id.toLowerCase().includes(q)) vs.push({ kind: "vehicle", id, label: vehicleLabel(id, v) });
  }
  return found.slice(0, 6).map(({ kind, id, label }) => ({ kind, id, label })).concat(vs);
}

/** The server's search answer added to `items` (the local results), without repeating any. */
export function searchMerge(items, data) {
  const have = new Set(items.map((it) => it.kind + ":" + it.id));
  const out = items.slice();
  (data.routes || []).forEach((r) => {
    if (!have.has("route:" + r.route_id)) {
      out.push({ kind: "route", id: r.route_id, label: routeLabel(r) + " " + (r.long_name || "") });
    }
  });
  (data.vehicles || []).forEach((v) => {
    if (!have.has("vehicle:" + v.vehicle_id)) {
      out.push({ kind: "vehicle", id: v.vehicle_id, label: vehicleLabel(v.vehicle_id, v) });
    }
  });
  return out;
}
