// The dispatcher's map options, pure (no DOM, no Leaflet): route numbers drawn on the vehicles from a
// zoom level on, and the "crowding" colour mode (load factor bands). /ops/ turns them on through its
// live-map-config ({"dispatcher": {"labels_min_zoom": 15, "crowding": true}}); the passenger map has
// neither.

export const LABELS_MIN_ZOOM = 15; // route numbers are drawn on vehicles from this zoom on

/**
 * The load bands of the crowding colour mode: the load factor (passengers / capacity) below each
 * band's `below` (a share; the last band, full, from 1.0 on). A vehicle without a capacity or a
 * passenger count is "unknown" — shown in its own colour, never as empty.
 */
export const LOAD_BANDS = [
  { key: "low", label: "Under 50 % full", below: 0.5, colour: "#2e7d32" },
  { key: "medium", label: "50–85 % full", below: 0.85, colour: "#f9a825" },
  { key: "high", label: "85–100 % full", below: 1, colour: "#ef6c00" },
  { key: "full", label: "Full (100 % and more)", below: Infinity, colour: "#b71c1c" },
];
export const LOAD_UNKNOWN = { key: "unknown", label: "Load unknown", colour: "#78909c" };

/** The load band of a vehicle ({passenger_count, capacity}): one of LOAD_BANDS or LOAD_UNKNOWN. */
export function loadBand(v) {
  const n = v.passenger_count, cap = v.capacity;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || typeof cap !== "number" || !(cap > 0)) {
    return LOAD_UNKNOWN;
  }
  const share = n / cap;
  return LOAD_BANDS.find((b) => share < b.below) || LOAD_BANDS[LOAD_BANDS.length - 1];
}

/** The legend's rows of the crowding mode: the bands, then unknown. */
export function loadLegend() {
  return LOAD_BANDS.concat([LOAD_UNKNOWN]).map(({ key, label, colour }) => ({ key, label, colour }));
}

/**
 * The dispatcher options of a live-map-config (its `dispatcher`, absent on the passenger map):
 * {labelsMinZoom (null: no labels), colourModes}. Bad values are a clear error, not a silent default.
 */
export function dispatcherOptions(config) {
  if (config == null) return { labelsMinZoom: null, colourModes: ["route", "state"] };
  if (typeof config !== "object") throw new Error("live-map-config: dispatcher must be an object");
  let labelsMinZoom = null;
  if (config.labels_min_zoom != null) {
    const z = config.labels_min_zoom;
    if (typeof z !== "number" || !Number.isFinite(z) || z < 0 || z > 22) {
      throw new Error(`live-map-config: dispatcher.labels_min_zoom must be a zoom level 0-22, not ${JSON.stringify(z)}`);
    }
    labelsMinZoom = z;
  }
  const colourModes = ["route", "state"].concat(config.crowding ? ["crowding"] : []);
  return { labelsMinZoom, colourModes };
}

/** Whether route numbers are drawn at `zoom` (never when `minZoom` is null: the passenger map). */
export function labelsVisible(zoom, minZoom) {
  return minZoom != null && Number.isFinite(zoom) && zoom >= minZoom;
}

/** The text drawn on a vehicle: its route's short name (or id), at most 6 characters; "" without a route. */
export function routeLabel(v, routes) {
  if (!v.route_id) return "";
  const r = routes && routes.get(v.route_id);
  const text = String((r && r.short_name) || v.route_id);
  return text.length > 6 ? text.slice(0, 5) + "…" : text;
}

/**
 * A vehicle's fill in colour mode `mode`: {fill, badge, dim}. `state`: its punctuality state,
 * `colours`: the punctuality colours, `routeFill`: its route's colour. Out of service and deadhead
 * vehicles stay dimmed in every mode; a breakdown keeps its dot in the route and crowding modes.
 */
export function vehicleFill(mode, v, state, colours, routeFill) {
  if (state === "out_of_service" || state === "deadhead") return { fill: colours[state], badge: false, dim: true };
  if (mode === "state") return { fill: colours[state], badge: false, dim: false };
  const badge = state === "broken_down" && colours.broken_down;
  if (mode === "crowding") return { fill: loadBand(v).colour, badge, dim: false };
  return { fill: routeFill, badge, dim: false };
}
