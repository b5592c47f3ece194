// The operations map's alerts, pure: which symbol an alert gets and where it is anchored, whether
// it is on the map and in the list, the list's order, a list item's HTML and the legend. No DOM and
// no Leaflet: tests/js imports it.
//
// Alert symbols are black-and-white badges: a shape and a pictogram per kind, the size and the fill
// by severity (minor: small, white; major: larger, white; critical: largest, black). Route colours
// fill vehicles and lines; a badge carries no colour at all, so no route colour can hide it or be
// taken for it.

import { agoText, clockTime, esc } from "../transit/map/format.js";

export const VEHICLE_KINDS = new Set(["delay", "bunching", "gap", "silent", "breakdown"]); // alerts about one vehicle
export const NO_RING = { color: "#fff", weight: 1 }; // the vehicle layer's plain ring
export const ALERT_RING = { color: "#111", weight: 3 }; // a vehicle with an alert: a black ring
export const INK = "#111";
export const PAPER = "#fff";
export const SURGE_RING_PX = 18; // a surge: a ring this size around its station (a stop, not a district)
export const CLOSED = new Set(["resolved", "expired"]);

// The symbols, in the legend's order. shape: the badge's outline; glyph: what is drawn inside.
export const SYMBOLS = {
  breakdown: { label: "Breakdown", shape: "diamond", glyph: "cross" },
  delay: { label: "Delay", shape: "circle", glyph: "clock" },
  bunching: { label: "Bunching", shape: "pill", glyph: "dots-close" },
  gap: { label: "Gap", shape: "pill", glyph: "dots-apart" },
  silent: { label: "Silent vehicle", shape: "square", glyph: "question" },
  surge: { label: "Passenger surge", shape: "hexagon", glyph: "arrow-up" },
  incident: { label: "Traffic incident", shape: "triangle", glyph: "bang" },
  service: { label: "Service alert (agency)", shape: "square", glyph: "bang" },
};

export const SEVERITY_SIZES = { minor: 18, major: 22, critical: 28 }; // badge size in pixels

/** The word of a severity number (1..5): 1-2 minor, 3 major, 4-5 critical. */
export function severityWord(severity) {
  const n = Number(severity);
  if (!Number.isFinite(n)) return "major";
  return n >= 4 ? "critical" : n >= 3 ? "major" : "minor";
}

/** An alert's severity as a word: the server's (severity_label) where it sends one. */
export function severityOf(a) {
  return a.severity_label || severityWord(a.severity);
}

/** The symbol of an alert: its kind ("gap" is a kind of its own; an older bunching alert about a gap is a gap). */
export function symbolKey(a) {
  if (a.kind === "bunching" && a.detection && a.detection.condition === "gap") return "gap";
  return SYMBOLS[a.kind] ? a.kind : "incident";
}

/** Whether an alert is closed (resolved by an operator or the detector, or expired). */
export function isClosed(a) {
  return CLOSED.has(a.status);
}

/** Whether an alert is in the list of open alerts. */
export function inList(a) {
  return !isClosed(a);
}

/**
 * Whether an alert is drawn on the map: an open alert; a traffic incident while it is active on the
 * road, whatever its alert's workflow state (resolving the alert of a closure that is still in place
 * does not reopen the road), but not once expired (its simulation is gone).
 */
export function onMap(a) {
  if (a.kind === "incident") return a.condition_open !== false && a.status !== "expired";
  return !isClosed(a);
}

/**
 * Where and how an alert is drawn, or null when it is not (onMap) or has no place: {symbol,
 * severity, size, vehicle_id (set: the symbol follows that vehicle's marker; latlng is where it
 * was last reported, used while the vehicle is not on the map), latlng, area (incidents: a circle
 * of `radius` metres), ring (surges: a ring of `px` pixels around the station)}.
 */
export function alertPlacement(a) {
  if (!onMap(a)) return null;
  const vehicle = VEHICLE_KINDS.has(a.kind) && a.vehicle_id ? a.vehicle_id : null;
  const hasPoint = a.latitude != null && a.longitude != null;
  if (!vehicle && !hasPoint) return null;
  const severity = severityOf(a);
  const out = { symbol: symbolKey(a), severity, size: SEVERITY_SIZES[severity], vehicle_id: vehicle,
                latlng: hasPoint ? [a.latitude, a.longitude] : null, area: null, ring: null };
  if (a.kind === "incident") out.area = { radius: (a.detection && a.detection.radius) || 150 };
  if (a.kind === "surge") out.ring = { px: SURGE_RING_PX };
  return out;
}

/** vehicle_id -> the kind of an open alert about it (the most severe wins), from a list of alerts. */
export function flaggedVehicles(alerts) {
  const flagged = new Map(), rank = new Map();
  for (const a of alerts) {
    if (!VEHICLE_KINDS.has(a.kind) || !a.vehicle_id || isClosed(a)) continue;
    if (!rank.has(a.vehicle_id) || a.severity >= rank.get(a.vehicle_id)) {
      flagged.set(a.vehicle_id, a.kind);
      rank.set(a.vehicle_id, a.severity);
    }
  }
  return flagged;
}

/** The ring style ({color, weight}, marker.setStyle's) of a vehicle with an alert (or none). */
export function ringStyle(kind) {
  return kind ? ALERT_RING : NO_RING;
}

/**
 * Whether an alert is snoozed at `nowMs` (the server's clock, ms): its `snoozed_until` (kept on the
 * server, sent only while it runs) is still ahead. A snooze runs out by itself: nothing clears it.
 */
export function isSnoozed(a, nowMs) {
  const until = a.snoozed_until ? Date.parse(a.snoozed_until) : NaN;
  return Number.isFinite(until) && until > nowMs;
}

/**
 * What /ops/ shows of `alerts` at `nowMs` (the server's clock): {list (the open alerts not snoozed,
 * in the list's order), snoozed (how many open alerts are snoozed: hidden from the list and the map),
 * wakeMs (ms until the next of those snoozes runs out and its alert comes back, or null)}.
 */
export function opsView(alerts, nowMs) {
  const list = [];
  let snoozed = 0, wake = null;
  for (const a of alerts) {
    if (!inList(a) && !onMap(a)) continue;
    if (isSnoozed(a, nowMs)) {
      if (inList(a)) snoozed += 1;
      const until = Date.parse(a.snoozed_until);
      if (wake === null || until < wake) wake = until;
    } else if (inList(a)) list.push(a);
  }
  return { list: sortAlerts(list), snoozed, wakeMs: wake === null ? null : wake - nowMs };
}

/** The note under the list: "N snoozed", linked to the shift page's snoozed alerts; "" when none is. */
export function snoozedNoteHtml(n) {
  if (!n) return "";
  return '<a href="/ops/alerts/?state=snoozed">' + n + " snoozed</a>";
}

/** The list's order: most severe first, then the most recently detected. */
export function sortAlerts(alerts) {
  return Array.from(alerts).sort((x, y) => y.severity - x.severity || (y.detected_at > x.detected_at ? 1 : -1));
}

// -- the symbols as SVG ------------------------------------------------------------------------

function outline(shape, s, inset) {
  const c = s / 2, r = c - inset;
  switch (shape) {
    case "circle": return `<circle cx="${c}" cy="${c}" r="${r}"/>`;
    case "square": return `<rect x="${inset}" y="${inset}" width="${s - 2 * inset}" height="${s - 2 * inset}" rx="${s / 8}"/>`;
    case "pill": return `<rect x="${inset}" y="${s * 0.2}" width="${s - 2 * inset}" height="${s * 0.6}" rx="${s * 0.3}"/>`;
    case "diamond": return `<polygon points="${c},${inset} ${s - inset},${c} ${c},${s - inset} ${inset},${c}"/>`;
    case "triangle": return `<polygon points="${c},${inset} ${s - inset},${s - inset} ${inset},${s - inset}"/>`;
    default: { // hexagon
      const pts = [];
      for (let i = 0; i < 6; i++) {
        const t = Math.PI / 6 + (i * Math.PI) / 3;
        pts.push((c + r * Math.cos(t)).toFixed(2) + "," + (c + r * Math.sin(t)).toFixed(2));
      }
      return `<polygon points="${pts.join(" ")}"/>`;
    }
  }
}

// A path from points in glyph units (u = a twentieth of the badge, from its centre): [["M", x, y], ["L", x, y]...].
function path(c, u, steps) {
  return steps.map(([cmd, ...xy]) => cmd + xy.map((v) => (c + v * u).toFixed(2)).join(" "))
    .join("");
}

function glyph(name, s, ink) {
  const c = s / 2, u = s / 20;
  const line = (d, extra = "") => `<path d="${d}" stroke="${ink}" stroke-width="${(1.8 * u).toFixed(2)}"` +
    ` stroke-linecap="round" stroke-linejoin="round" fill="none"${extra}/>`;
  const dot = (x, y, r) => `<circle cx="${(c + x * u).toFixed(2)}" cy="${(c + y * u).toFixed(2)}"` +
    ` r="${(r * u).toFixed(2)}" fill="${ink}"/>`;
  switch (name) {
    case "cross": return line(path(c, u, [["M", -3.5, -3.5], ["L", 3.5, 3.5], ["M", 3.5, -3.5], ["L", -3.5, 3.5]]));
    case "clock": return line(path(c, u, [["M", 0, -5], ["L", 0, 0], ["L", 4, 0]]));
    case "dots-close": return dot(-2.2, 0, 2) + dot(2.2, 0, 2);
    case "dots-apart":
      return dot(-6, 0, 1.8) + dot(6, 0, 1.8) + line(path(c, u, [["M", -3, 0], ["L", 3, 0]]), ` stroke-dasharray="${u} ${u}"`);
    case "question":
      return line(path(c, u, [["M", -3, -3], ["Q", -3, -6, 0, -6], ["Q", 3.5, -6, 3, -2.5], ["Q", 2.5, -0.5, 0, 0.5],
                              ["L", 0, 2]])) + dot(0, 5, 1.2);
    case "arrow-up": return line(path(c, u, [["M", 0, 5], ["L", 0, -4.5], ["M", -4, -0.5], ["L", 0, -4.5], ["L", 4, -0.5]]));
    default: return line(path(c, u, [["M", 0, -3], ["L", 0, 2.5]])) + dot(0, 5.5, 1.2); // bang
  }
}

/**
 * A symbol as an SVG string: `key` one of SYMBOLS, `severity` minor / major / critical (its size;
 * critical badges are black with a white pictogram). `detached`: dashed outline (the vehicle it is
 * about is not on the map: drawn where it was last reported).
 */
export function symbolSvg(key, severity = "major", detached = false) {
  const sym = SYMBOLS[key] || SYMBOLS.incident;
  const s = SEVERITY_SIZES[severity] || SEVERITY_SIZES.major;
  const critical = severity === "critical";
  const fill = critical ? INK : PAPER, ink = critical ? PAPER : INK;
  const width = severity === "minor" ? 1.5 : 2;
  const inset = width / 2 + 1.5;
  // a white halo outside the black outline: the badge reads on dark tiles and black route lines too
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${s}" height="${s}" viewBox="0 0 ${s} ${s}"` +
    ` class="sc-alert-symbol" data-symbol="${key}" data-severity="${severity}" aria-hidden="true">` +
    `<g fill="none" stroke="${PAPER}" stroke-width="${width + 2.5}" stroke-linejoin="round">${outline(sym.shape, s, inset)}</g>` +
    `<g fill="${fill}" stroke="${INK}" stroke-width="${width}" stroke-linejoin="round"` +
    (detached ? ' stroke-dasharray="2 2"' : "") + `>${outline(sym.shape, s, inset)}</g>` +
    glyph(sym.glyph, s, ink) + "</svg>";
}

// -- the list and the legend -----------------------------------------------------------------------

/**
 * When an alert began ("08:31", in the feed's time zone: the alert's own `timezone` where the server
 * sends one, else `tz`) and how old it is at `now` (ms, the twin's clock).
 */
export function alertTimeText(a, tz, now) {
  const t = Date.parse(a.started_at || a.detected_at);
  if (!Number.isFinite(t)) return "";
  return clockTime(t, a.timezone || tz) + " · " + agoText(now - t);
}

/**
 * A list item's inner HTML: symbol, kind, severity in words, start time and age, status, summary
 * and the actions its status allows. `opts`: {tz (the feed's time zone), now (ms, the twin's clock)}.
 */
export function alertItemHtml(a, opts = {}) {
  const key = symbolKey(a), severity = severityOf(a);
  const when = alertTimeText(a, opts.tz, opts.now == null ? Date.now() : opts.now);
  return '<span class="status">' + esc(a.status) + (a.condition_open ? "" : " · cleared") + "</span>" +
    symbolSvg(key, severity) + ' <span class="kind">' + esc(SYMBOLS[key].label) + "</span>" +
    ' · <span class="severity severity-' + esc(severity) + '">' + esc(severity) + "</span>" +
    (when ? '<div class="when" title="when it began (local time) and how long ago">' + esc(when) + "</div>" : "") +
    "<div>" + esc(a.summary) + "</div>" +
    '<div class="actions">' +
    (a.status === "new" ? '<button data-do="acknowledge">Acknowledge</button>' : "") +
    '<input placeholder="resolution note" aria-label="resolution note"><button data-do="resolve">Resolve</button>' +
    (a.route_id ? '<a href="/ops/routes/' + esc(encodeURIComponent(a.route_id)) + '/">ladder</a>' : "") +
    '<a href="' + esc(a.admin_url) + '" target="_blank" rel="noopener">admin</a></div>';
}

/** The tooltip of an alert's symbol on the map. */
export function alertTooltip(a) {
  return esc(SYMBOLS[symbolKey(a)].label) + " (" + esc(severityOf(a)) + "): " + esc(a.summary);
}

/** The legend's HTML: one row per symbol (data-symbol), then the three severities' sizes. */
export function legendHtml() {
  const rows = Object.entries(SYMBOLS).map(([key, sym]) =>
    '<div class="sc-legend-row" data-symbol="' + key + '">' + symbolSvg(key, "major") + esc(sym.label) + "</div>");
  const sizes = Object.keys(SEVERITY_SIZES).map((sev) =>
    '<span class="sc-legend-severity" data-severity="' + sev + '">' + symbolSvg("delay", sev) + esc(sev) + "</span>");
  return rows.join("") + '<div class="sc-legend-row sc-legend-sizes">' + sizes.join("") + "</div>" +
    '<div class="sc-legend-row sc-muted">A vehicle\'s symbol moves with it (black ring); dashed: the vehicle ' +
    "is not on the map, shown where it was last reported. Incidents: their area, while active.</div>";
}
