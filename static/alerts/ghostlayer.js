// The ghost-bus layer of the operations map (/ops/ only): hollow markers where trips scheduled to be
// running that no vehicle works should be now, with a popup (route, trip, where and since when it is
// scheduled, "no vehicle"). The data comes from /api/ops/ghosts/ (the route ladder's trips of the
// routes in view, fetched every FETCH_MS and after the view moves, from zoom `min_zoom` on); the
// ghosts are recomputed every MOVE_MS with the map's clock and its live vehicles (ghostmap.js), so a
// ghost moves along its route and disappears as soon as a vehicle on the map works its trip.
// A toggle ("Ghost buses") sits in the map's top left; ghosts=off in the URL starts with it off.
// Each ghost is in the tab order (a button named "Ghost bus, route …"), Enter opens its popup.
// Hooks for tests: container.dataset.ghosts (the number drawn), container.streamcityGhosts
// (Map trip_id -> {ghost, marker}), #ghost-toggle.

import { clockTime, esc } from "../transit/map/format.js";
import { mapGhosts } from "./ghostmap.js";

const FETCH_MS = 20000;
const MOVE_MS = 2000;
const MOVED_DEBOUNCE_MS = 400;
export const GHOST_COLOUR = "#6a1b9a"; // a violet no vehicle state uses

function popupHtml(g) {
  const r = g.route, name = r.short_name || r.route_id;
  const badge = '<span class="sc-badge" style="background:' + esc(g.badge[0]) + ";color:" + esc(g.badge[1]) + '">' +
    esc(name) + "</span>";
  const where = g.from && g.to && g.from !== g.to ? "between " + esc(g.from) + " and " + esc(g.to) : esc(g.from || "");
  return '<div class="sc-ghost-popup" data-trip="' + esc(g.trip_id) + '"><strong>Ghost bus</strong> ' + badge + " " +
    esc(g.headsign) + '<div class="sc-ghost-none"><strong>No vehicle</strong> works this trip</div>' +
    "<div>Trip " + esc(g.trip_id) + "</div>" +
    "<div>Scheduled here now: " + where + "</div>" +
    "<div>Scheduled start " + esc(clockTime(g.start * 1000, g.timezone)) + "</div>" +
    '<div><a href="/ops/routes/' + encodeURIComponent(r.route_id) + '/">Route ladder</a></div></div>';
}

/** A ghost marker's accessible name: what its tooltip says, in words. */
export function accessibleName(g) {
  return "Ghost bus, route " + (g.route.short_name || g.route.route_id) + (g.headsign ? " to " + g.headsign : "") +
    ", trip " + g.trip_id + ": no vehicle works it";
}

// Keyboard access: the marker's SVG path is in the tab order, a button with a name; Enter or Space
// opens its popup (a vehicle on the canvas is reached by the map's search, a ghost has no vehicle).
function focusable(marker, g) {
  const el = marker._path; // Leaflet's SVG renderer: the marker's <path>
  if (!el) return;
  el.setAttribute("tabindex", "0");
  el.setAttribute("role", "button");
  el.setAttribute("aria-label", accessibleName(g));
  el.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" && e.key !== " ") return;
    e.preventDefault();
    e.stopPropagation(); // not the map's keyboard panning
    marker.openPopup();
  });
}

/** Adds the ghost layer to the operations map. options: {url, min_zoom} (live-map-config's dispatcher.ghosts). */
export function addGhostLayer(map, live, options) {
  const L = window.L;
  const container = map.getContainer();
  const drawn = new Map(); // trip_id -> {ghost, marker}
  const group = L.layerGroup();
  let data = null, fetchedAt = 0, seq = 0, movedTimer = null;
  let on = new URLSearchParams(location.search).get("ghosts") !== "off";
  let statusEl = null;

  function status(text) {
    if (statusEl) statusEl.textContent = text;
  }

  function nowS() {
    const server = data ? data.now + (performance.now() - fetchedAt) / 1000 : 0;
    return Math.max(server, live.vehicles.size ? live.clock() / 1000 : 0);
  }

  function liveTrips() {
    const out = new Set();
    live.vehicles.forEach((m) => { if (m.vehicle.trip_id) out.add(m.vehicle.trip_id); });
    return out;
  }

  function place() {
    const found = on && data ? mapGhosts(data, liveTrips(), nowS()) : [];
    const keep = new Set();
    for (const g of found) {
      keep.add(g.trip_id);
      const had = drawn.get(g.trip_id);
      if (had) {
        had.ghost = g;
        had.marker.setLatLng(g.latlng);
        if (had.marker._path) had.marker._path.setAttribute("aria-label", accessibleName(g));
        if (had.marker.isPopupOpen()) had.marker.setPopupContent(popupHtml(g));
        continue;
      }
      const marker = L.circleMarker(g.latlng, {
        radius: 8, color: GHOST_COLOUR, weight: 2.5, dashArray: "4 3", fill: true, fillColor: "#fff", fillOpacity: 0.35,
        className: "sc-ghost",
      });
      marker.bindTooltip("ghost " + (g.route.short_name || g.route.route_id) + " · no vehicle");
      marker.bindPopup(() => popupHtml(drawn.get(g.trip_id) ? drawn.get(g.trip_id).ghost : g));
      marker.addTo(group);
      focusable(marker, g);
      drawn.set(g.trip_id, { ghost: g, marker });
    }
    drawn.forEach((entry, trip) => {
      if (!keep.has(trip)) { group.removeLayer(entry.marker); drawn.delete(trip); }
    });
    container.dataset.ghosts = String(drawn.size);
    if (on && data) status(drawn.size + " ghost bus" + (drawn.size === 1 ? "" : "es") + (data.truncated ? " (some routes left out: zoom in)" : ""));
  }

  function load() {
    if (!on) return;
    if (map.getZoom() < options.min_zoom) {
      data = null;
      place();
      status("zoom in to see ghost buses");
      return;
    }
    const b = map.getBounds(), mine = ++seq;
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => x.toFixed(5)).join(",");
    const routes = live.filters.routes.size ? "&routes=" + encodeURIComponent(Array.from(live.filters.routes).join(",")) : "";
    fetch(options.url + "?bbox=" + bbox + routes, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => r.json().then((j) => { if (!r.ok) throw new Error(j.error || r.status); return j; }))
      .then((fresh) => {
        if (mine !== seq) return;
        data = fresh;
        fetchedAt = performance.now();
        container.dataset.ghostsLoaded = String(Number(container.dataset.ghostsLoaded || 0) + 1);
        place();
      })
      .catch((err) => { if (mine === seq) status("ghost buses: " + err.message); });
  }

  function setOn(value) {
    on = value;
    const q = new URLSearchParams(location.search);
    if (on) { q.delete("ghosts"); group.addTo(map); load(); } else { q.set("ghosts", "off"); map.removeLayer(group); }
    const s = q.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : "") + location.hash);
    if (!on) { status("off"); place(); }
  }

  const control = L.control({ position: "topleft" });
  control.onAdd = function () {
    const div = L.DomUtil.create("div", "sc-ghost-control leaflet-bar");
    div.innerHTML = '<label><input type="checkbox" id="ghost-toggle"' + (on ? " checked" : "") + "> " +
      '<span class="sc-ghost-swatch" aria-hidden="true"></span> Ghost buses</label>' +
      '<div class="sc-ghost-status" role="status"></div>';
    statusEl = div.querySelector(".sc-ghost-status");
    div.querySelector("#ghost-toggle").addEventListener("change", (e) => setOn(e.target.checked));
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  control.addTo(map);

  map.on("moveend", () => {
    clearTimeout(movedTimer);
    movedTimer = setTimeout(load, MOVED_DEBOUNCE_MS);
  });
  container.streamcityGhosts = drawn;
  container.dataset.ghosts = "0";
  if (on) group.addTo(map);
  load();
  setInterval(load, FETCH_MS);
  setInterval(place, MOVE_MS);
  return { reload: load, place, setOn };
}
