// The live socket's protocol, pure: what to subscribe to for a view, when a new view needs a new
// subscription, the socket URL's query, the compact vehicle rows, snapshots in parts, reconnect
// backoff. Views are plain boxes {west, south, east, north} in degrees. No DOM, no Leaflet.

export const FULL_DETAIL_ZOOM = 14; // from this zoom on the server sends every change (transit/subscriptions.py)
export const PAD_RATIO = 0.5; // a subscription covers the view and half of it again on each side
export const MAX_LAT = 85;
export const FINER_AREA_RATIO = 20; // a subscription this many times the view's area is renewed (finer tiles)

/** `box` grown by `ratio` of its width and height on each side (Leaflet's LatLngBounds.pad). */
export function padBox(box, ratio) {
  const dx = Math.abs(box.east - box.west) * ratio, dy = Math.abs(box.north - box.south) * ratio;
  return { west: box.west - dx, south: box.south - dy, east: box.east + dx, north: box.north + dy };
}

function round5(x) {
  return Math.round(x * 1e5) / 1e5;
}

/**
 * The subscription for a view: its box padded by PAD_RATIO (latitudes within ±MAX_LAT, degrees
 * to 5 decimals), the filters (empty: all) and the zoom (zoomed out, the server sends only the
 * moves a pixel can show).
 */
export function wanted(view, zoom, filters) {
  const b = padBox(view, PAD_RATIO);
  return {
    bbox: [b.west, Math.max(-MAX_LAT, b.south), b.east, Math.min(MAX_LAT, b.north)].map(round5),
    routes: Array.from(filters.routes),
    vehicle_types: Array.from(filters.types),
    zoom,
  };
}

function detailLevel(zoom) {
  return Math.min(Math.floor(zoom), FULL_DETAIL_ZOOM);
}

/** Whether the view `view` at `zoom` needs another subscription than `asked` (null: none yet). */
export function needsResubscribe(asked, view, zoom) {
  if (!asked) return true;
  if (detailLevel(zoom) !== detailLevel(asked.zoom)) return true; // another level of detail
  if (asked.routes.length) return false; // a route subscription covers the routes wherever they go
  const b = asked.bbox;
  if (view.west < b[0] || view.south < b[1] || view.east > b[2] || view.north > b[3]) return true;
  const viewArea = (view.east - view.west) * (view.north - view.south);
  return viewArea * FINER_AREA_RATIO < (b[2] - b[0]) * (b[3] - b[1]); // zoomed far in: finer tiles, fewer frames
}

/** The query string of the socket's URL for a subscription (the first one travels in the URL). */
export function socketQuery(sub) {
  const q = new URLSearchParams();
  q.set("bbox", sub.bbox.join(","));
  sub.routes.forEach((r) => q.append("route", r));
  sub.vehicle_types.forEach((t) => q.append("type", t));
  q.set("zoom", String(sub.zoom));
  return q.toString();
}

/** The message that changes a socket's subscription. */
export function subscribeMessage(sub) {
  return JSON.stringify({ type: "subscribe", ...sub });
}

/**
 * The vehicles of a snapshot or frame as objects. The server's compact form names the fields once
 * (msg.fields) and sends rows of values, the time as timestamp_ms (epoch ms); objects get an ISO
 * `timestamp` from it. Messages without `fields` carry objects already.
 */
export function decodeVehicles(msg) {
  const fields = msg.fields, rows = msg.vehicles || [];
  if (!fields) return rows;
  const out = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i], v = {};
    for (let k = 0; k < fields.length; k++) v[fields[k]] = row[k];
    if (v.timestamp_ms != null) v.timestamp = new Date(v.timestamp_ms).toISOString();
    out[i] = v;
  }
  return out;
}

/** Whether a vehicle lies inside an area [west, south, east, north] (null: everywhere). */
export function inArea(v, area) {
  if (!area) return true;
  return !(v.longitude < area[0] || v.latitude < area[1] || v.longitude > area[2] || v.latitude > area[3]);
}

/**
 * Snapshots may come in parts (large ones do: part i of parts n, from 0; a whole one has neither).
 * add(msg) returns null for a part whose beginning this socket never saw, otherwise
 * {plan (the first part's subscription), vehicles (decoded), done, seen (the ids of every part so
 * far; at `done` the vehicles missing from it are gone)}.
 */
export class SnapshotAssembler {
  constructor() {
    this.seen = null;
    this.plan = null;
  }

  add(msg) {
    if (!msg.part) {
      this.plan = msg.subscription || null;
      this.seen = new Set();
    }
    if (!this.seen) return null;
    const vehicles = decodeVehicles(msg);
    for (const v of vehicles) this.seen.add(v.vehicle_id);
    const done = !(msg.parts && msg.part < msg.parts - 1);
    const seen = this.seen;
    if (done) this.seen = null;
    return { plan: this.plan, vehicles, done, seen };
  }
}

export const MAX_ATTEMPT = 7;
export const MAX_DELAY_MS = 30000;

/**
 * How long to wait before reconnect attempt `attempt` (1, 2, ...): 0.5 s doubling to at most 30 s,
 * times a jitter of 0.5 .. 1 from `random` (0 .. 1) so that clients do not come back all at once.
 */
export function backoffDelay(attempt, random) {
  const n = Math.max(1, Math.min(attempt, MAX_ATTEMPT));
  return Math.min(MAX_DELAY_MS, 500 * Math.pow(2, n - 1)) * (0.5 + random / 2);
}
