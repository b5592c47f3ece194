// The operations map's alerts, pure: how an alert is drawn (shape and colour), which vehicles get
// a ring, the order of the list and a list item's HTML. No DOM and no Leaflet: tests/js imports it.

import { esc } from "../transit/map/format.js";

export const KIND_COLOURS = { surge: "#ef6c00", delay: "#f9a825", breakdown: "#c62828", bunching: "#6a1b9a",
                              silent: "#455a64", incident: "#ad1457", service: "#1565c0" };
export const VEHICLE_KINDS = new Set(["delay", "bunching", "silent", "breakdown"]); // alerts about one vehicle
export const NO_RING = { color: "#fff", weight: 1 }; // the vehicle layer's plain ring

/**
 * How an alert is drawn, or null without a position: {shape: "circle" (radius in metres) or
 * "circleMarker" (radius in pixels), latlng, options (Leaflet path options)}. A surge grows with
 * its taps; an incident covers its radius; an alert about a vehicle is a ring around it.
 */
export function alertShape(a) {
  if (a.latitude == null || a.longitude == null) return null;
  const colour = KIND_COLOURS[a.kind] || "#333";
  const latlng = [a.latitude, a.longitude];
  if (a.kind === "surge") {
    const taps = (a.detection && a.detection.tap_count) || 1;
    const options = { radius: 60 + 12 * taps, color: colour, fillOpacity: 0.35, weight: 2 };
    return { shape: "circle", latlng, options };
  }
  if (a.kind === "incident") {
    const r = (a.detection && a.detection.radius) || 150;
    return { shape: "circle", latlng, options: { radius: r, color: colour, fillOpacity: 0.15, dashArray: "4 4" } };
  }
  return { shape: "circleMarker", latlng, options: { radius: 11, color: colour, weight: 3, fill: false } };
}

/** vehicle_id -> the kind of an open alert about it (the last one wins), from a list of alerts. */
export function flaggedVehicles(alerts) {
  const flagged = new Map();
  for (const a of alerts) if (VEHICLE_KINDS.has(a.kind) && a.vehicle_id) flagged.set(a.vehicle_id, a.kind);
  return flagged;
}

/** The ring style ({color, weight}, marker.setStyle's) of a vehicle with an alert of `kind` (or none). */
export function ringStyle(kind) {
  return kind ? { color: KIND_COLOURS[kind], weight: 3 } : NO_RING;
}

/** The list's order: most severe first, then the most recently detected. */
export function sortAlerts(alerts) {
  return Array.from(alerts).sort((x, y) => y.severity - x.severity || (y.detected_at > x.detected_at ? 1 : -1));
}

/** A list item's inner HTML: status, kind, severity, summary and the actions its status allows. */
export function alertItemHtml(a) {
  return '<span class="status">' + esc(a.status) + (a.condition_open ? "" : " · cleared") + "</span>" +
    '<span class="kind">' + esc(a.kind) + "</span> · severity " + esc(a.severity) +
    "<div>" + esc(a.summary) + "</div>" +
    '<div class="actions">' +
    (a.status === "new" ? '<button data-do="acknowledge">Acknowledge</button>' : "") +
    '<input placeholder="resolution note" aria-label="resolution note"><button data-do="resolve">Resolve</button>' +
    (a.route_id ? '<a href="/ops/routes/' + esc(encodeURIComponent(a.route_id)) + '/">ladder</a>' : "") +
    '<a href="' + esc(a.admin_url) + '" target="_blank" rel="noopener">admin</a></div>';
}

/** The tooltip of an alert's shape on the map. */
export function alertTooltip(a) {
  return esc(a.kind) + ": " + esc(a.summary);
}
