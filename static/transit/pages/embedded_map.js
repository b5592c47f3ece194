// A small live map inside a page (stop and route pages): the live map's modules with the page's
// config — only its routes (config.routes), no filter panel, the page's URL left alone
// (config.save_state false), opening on config.center at config.zoom; a route page also gets its
// line (config.line: lists of [lat, lon]) and stops (config.line_stops) drawn.

import { createLiveMap } from "../map/livemap.js";

window.streamcityEmbeddedMap = function (map) {
  const el = document.getElementById("live-map-config");
  const cfg = el ? JSON.parse(el.textContent) : {};
  const L = window.L;
  if (cfg.center) map.setView(cfg.center, cfg.zoom || 15);
  if (Array.isArray(cfg.line)) {
    const colour = "#" + ((cfg.line_colour || "1d2733").replace(/^#/, ""));
    const drawn = cfg.line.filter((pts) => pts && pts.length > 1).map((pts) =>
      L.polyline(pts, { color: colour, weight: 4, opacity: 0.8, interactive: false }).addTo(map));
    (cfg.line_stops || []).forEach((s) => {
      L.circleMarker([s.latitude, s.longitude], { radius: 4, color: "#1d2733", weight: 2, fillColor: "#fff",
                                                  fillOpacity: 1 }).bindTooltip(s.name).addTo(map);
    });
    if (drawn.length) map.fitBounds(L.featureGroup(drawn).getBounds(), { padding: [20, 20] });
  }
  const api = createLiveMap(map);
  // a small map keeps its legend folded (its button opens it): the vehicles stay in sight
  const container = map.getContainer();
  const body = container.querySelector(".sc-legend-body"), toggle = container.querySelector(".sc-legend-toggle");
  if (body && toggle) { body.hidden = true; toggle.setAttribute("aria-expanded", "false"); }
  return api;
};
