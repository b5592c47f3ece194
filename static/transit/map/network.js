// The network: route lines (from /api/network/) and, zoomed in, the stops in view (/api/stops/).
// Needs Leaflet.

export const STOP_ZOOM = 15; // stops are shown from this zoom on
const NETWORK_REFRESH_MS = 15 * 60 * 1000; // which routes run now changes over the day
const STOP_HIT_PX = 10;

/** The key of a stops request for a box (west, south, east, north), to 3 decimals. */
export function stopsKey(box) {
  return [box.west, box.south, box.east, box.north].map((x) => x.toFixed(3)).join(",");
}

/**
 * ctx: {map, container, routes (Map, filled here), typesSeen (Set), filters, routeColour(id),
 * getJSON(url), urls: {network, stops}, show: {lines, stops}, onRoutes() after the network loads}.
 */
export function createNetwork(ctx) {
  const L = window.L;
  const { map, container, routes, typesSeen, filters, routeColour, getJSON, urls, onRoutes } = ctx;
  const lineRenderer = L.canvas({ padding: 0.3 });
  const lines = L.layerGroup().addTo(map);
  const stopLayer = L.layerGroup().addTo(map);
  let stops = [];
  let showLines = ctx.show.lines;
  let showStops = ctx.show.stops;
  let shownKey = null;

  function load() {
    getJSON(urls.network).then((data) => {
      (data.routes || []).forEach((r) => {
        const old = routes.get(r.route_id);
        routes.set(r.route_id, r);
        if (old && old.seen) r.seen = true;
        typesSeen.add(r.vehicle_type);
      });
      onRoutes();
      drawLines();
      container.dataset.routes = String(routes.size);
    }).catch(() => { container.dataset.routes = "0"; });
  }

  function drawLines() {
    lines.clearLayers();
    if (!showLines) return;
    routes.forEach((r) => {
      if (!r.shapes || !r.shapes.length) return;
      const selected = filters.routes.size ? filters.routes.has(r.route_id) : true;
      const typed = filters.types.size ? filters.types.has(r.vehicle_type) : true;
      if (!typed) return;
      // a route that does not run now (the server's runs_now: a night line by day) is drawn only when picked
      if (r.runs_now === false && !(filters.routes.size && selected)) return;
      const colour = routeColour(r.route_id);
      r.shapes.forEach((pts) => {
        L.polyline(pts, { renderer: lineRenderer, interactive: false, color: colour,
                          weight: selected && filters.routes.size ? 5 : 3,
                          opacity: selected ? 0.45 : 0.1 }).addTo(lines);
      });
    });
  }

  function loadStops() {
    if (!showStops || map.getZoom() < STOP_ZOOM) {
      if (stops.length) { stopLayer.clearLayers(); stops = []; shownKey = null; }
      container.dataset.stops = "0";
      return;
    }
    const b = map.getBounds().pad(0.3);
    const key = stopsKey({ west: b.getWest(), south: b.getSouth(), east: b.getEast(), north: b.getNorth() });
    if (key === shownKey) return;
    shownKey = key;
    getJSON(urls.stops + "?bbox=" + key).then((data) => {
      if (shownKey !== key) return;
      stopLayer.clearLayers();
      stops = data.stops || [];
      stops.forEach((s) => {
        L.circleMarker([s.latitude, s.longitude], { renderer: lineRenderer, interactive: false, radius: 4,
          color: "#37474f", weight: 1.5, fillColor: "#fff", fillOpacity: 1 }).addTo(stopLayer);
      });
      container.dataset.stops = String(stops.length);
    }).catch(() => { shownKey = null; });
  }

  function hitStop(point) {
    if (!stops.length) return null;
    let best = null, bestD = STOP_HIT_PX * STOP_HIT_PX;
    stops.forEach((s) => {
      const d = map.latLngToContainerPoint([s.latitude, s.longitude]).distanceTo(point);
      if (d * d < bestD) { bestD = d * d; best = s; }
    });
    return best;
  }

  map.on("moveend", loadStops);
  setInterval(load, NETWORK_REFRESH_MS);
  return {
    load, drawLines, loadStops, hitStop,
    show(what, on) {
      if (what === "lines") { showLines = on; drawLines(); } else { showStops = on; shownKey = null; loadStops(); }
    },
    showing(what) { return what === "lines" ? showLines : showStops; },
  };
}
