// The vehicle view's map (templates/alerts/vehicle_view.html): the embedded live map of the page's
// route, and the vehicle's track over the period the page names (config.track: the track API's URL,
// from/to as ISO times, the feed's time zone) drawn from the kept positions: a line, dots every few
// minutes with their times, a start and an end marker. The period picker is a plain GET form: the
// server checks it (retention, the longest span) and names the period in the config.

import "../../transit/pages/embedded_map.js";

const DOT_EVERY_MS = 5 * 60 * 1000; // a timed dot on the line every 5 minutes

function clock(iso, tz) {
  return new Date(iso).toLocaleTimeString("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit" });
}

function status(text) {
  const el = document.getElementById("track-status");
  if (el) el.textContent = text;
}

export async function drawTrack(map, cfg) {
  const L = window.L;
  const t = cfg.track;
  const el = map.getContainer();
  const url = `${t.url}?from=${encodeURIComponent(t.from)}&to=${encodeURIComponent(t.to)}`;
  let data;
  try {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    data = await r.json();
    if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
  } catch (err) {
    el.dataset.trackPoints = "0";
    el.dataset.trackError = String(err.message || err);
    status(`The track could not be read: ${err.message || err}`);
    return null;
  }
  const pts = data.positions.filter((p) => p.latitude != null && p.longitude != null);
  const span = `${clock(t.from, t.timezone)}–${clock(t.to, t.timezone)} (${t.timezone})`;
  el.dataset.trackFrom = t.from;
  el.dataset.trackTo = t.to;
  if (!pts.length) {
    el.dataset.trackPoints = "0";
    status(`No position kept for this vehicle ${span}.`);
    return null;
  }
  const layer = L.featureGroup().addTo(map);
  const line = pts.map((p) => [p.latitude, p.longitude]);
  L.polyline(line, { color: "#fff", weight: 7, opacity: 0.9, interactive: false }).addTo(layer);
  L.polyline(line, { color: "#6a1b9a", weight: 4, opacity: 0.9, className: "vehicle-track" })
    .bindTooltip(`Track ${clock(pts[0].timestamp, t.timezone)}–${clock(pts.at(-1).timestamp, t.timezone)}, `
                 + `${pts.length} points`, { sticky: true })
    .addTo(layer);
  let last = -Infinity;
  pts.forEach((p, i) => {
    const ms = Date.parse(p.timestamp);
    if (i === 0 || i === pts.length - 1 || ms - last < DOT_EVERY_MS) return;
    last = ms;
    L.circleMarker([p.latitude, p.longitude], { radius: 3, color: "#6a1b9a", weight: 1, fillColor: "#fff",
                                                fillOpacity: 1, className: "track-dot" })
      .bindTooltip(`${clock(p.timestamp, t.timezone)} · ${p.status.replace(/_/g, " ")}`
                   + (p.trip_id ? ` · trip ${p.trip_id}` : "") + ` · ${p.passenger_count} on board`)
      .addTo(layer);
  });
  const end = (p, label, colour) => L.circleMarker([p.latitude, p.longitude], {
    radius: 7, color: "#1d2733", weight: 2, fillColor: colour, fillOpacity: 1, className: `track-${label}` })
    .bindTooltip(`${label} ${clock(p.timestamp, t.timezone)}` + (p.trip_id ? ` · trip ${p.trip_id}` : ""))
    .addTo(layer);
  end(pts[0], "start", "#2e7d32");
  end(pts.at(-1), "end", "#c62828");
  // the embedded map's opening zoom on the vehicle may still be animating: its end would undo the fit
  if (map._animatingZoom) await new Promise((resolve) => map.once("zoomend", resolve));
  map.invalidateSize({ animate: false }); // the column's final width, not the one at the map's creation
  map.fitBounds(layer.getBounds(), { paddingTopLeft: [50, 20], paddingBottomRight: [20, 50], maxZoom: 16,
                                     animate: false }); // clear of the zoom buttons and the legend
  window.streamcityVehicleTrack = { map, layer, bounds: layer.getBounds() }; // for the browser test
  el.dataset.trackPoints = String(pts.length); // drawn and in view
  status(`Track ${span}: ${pts.length} positions kept, from the green start to the red end `
         + `(dots every 5 min; hover for times).`);
  return layer;
}

window.streamcityVehicleMap = function (map) {
  const api = window.streamcityEmbeddedMap(map);
  const el = document.getElementById("live-map-config");
  const cfg = el ? JSON.parse(el.textContent) : {};
  if (cfg.track) drawTrack(map, cfg);
  return api;
};
