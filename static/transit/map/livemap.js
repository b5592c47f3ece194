// The live map: turns a Leaflet map (django-leaflet's callback) into StreamCity's live map and
// wires the parts together — the vehicles (vehicles.js, motion.js), the socket (socket.js,
// subscription.js), the network's lines and stops (network.js), popups (popups.js), the filter
// panel and legend (controls.js), the URL state (filters.js), punctuality (punctuality.js) and the
// service banner (service.js). It opens on the running feed's extent (live-map-config's `extent`)
// and lists the vehicle types of the running feed (`vehicle_types`) and its routes (`feeds`).
//
// Hooks kept for the operations page and the tests: container.streamcityLive (the api below),
// container.streamcityMarkers (Map vehicle_id -> marker with getLatLng() and setStyle({color, weight})
// for a ring), container.streamcityMap, #vehicle-count, #connection, and data-vehicle-count /
// data-connected / data-connection / data-subscription / data-snapshots / data-frames /
// data-popup / data-routes / data-stops / data-extent / data-banner on the map container.

import { hashColour } from "./format.js";
import { MAIN_TYPES, isShown, parseState, serialiseState } from "./filters.js";
import { VehicleMarker } from "./motion.js";
import { createNetwork } from "./network.js";
import { createPopups } from "./popups.js";
import { punctuality as punctualityOf } from "./punctuality.js";
import { serviceBanner } from "./service.js";
import { LiveSocket } from "./socket.js";
import { SnapshotAssembler, decodeVehicles, wanted } from "./subscription.js";
import { createControls } from "./controls.js";
import { createVehicleLayer } from "./vehicles.js";
import { dispatcherOptions, routeLabel, vehicleFill } from "./dispatch.js";

const DEFAULTS = {
  stale_seconds: 300,
  urls: { socket: "/ws/live/", network: "/api/network/", stops: "/api/stops/", vehicle: "/api/vehicles/",
          search: "/api/search/", service: "/api/service/" },
  panel: true,
  feeds: [],
  extent: null,
  vehicle_types: [],
  timezone: null,
  service: null,
  dispatcher: null, // /ops/: {labels_min_zoom, crowding} (dispatch.js)
};
const STALE_CHECK_MS = 5000;
const SERVICE_POLL_MS = 30000;

/** The network URL for the running feeds (all routes when none is named). */
export function networkUrl(base, feeds) {
  if (!feeds || !feeds.length) return base;
  return base + (base.includes("?") ? "&" : "?") + feeds.map((f) => "feed=" + encodeURIComponent(f)).join("&");
}

/** Leaflet bounds [[south, west], [north, east]] of an extent {south, west, north, east}, or null. */
export function extentBounds(e) {
  if (!e || ![e.south, e.west, e.north, e.east].every(Number.isFinite)) return null;
  return [[e.south, e.west], [e.north, e.east]];
}

/** The page's live-map-config (json_script) over the defaults; its punctuality is required. */
export function readConfig(doc) {
  const el = doc.getElementById("live-map-config");
  if (!el) throw new Error("live map: the page has no live-map-config (json_script)");
  return { ...DEFAULTS, ...JSON.parse(el.textContent) };
}

export function getJSON(url) {
  return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => {
    if (!r.ok) throw new Error(r.status + " " + url);
    return r.json();
  });
}

function boxOf(bounds) {
  return { west: bounds.getWest(), south: bounds.getSouth(), east: bounds.getEast(), north: bounds.getNorth() };
}

export function createLiveMap(map) {
  const L = window.L;
  const container = map.getContainer();
  if (container.streamcityLive) return container.streamcityLive;
  const cfg = readConfig(document);
  const punctuality = punctualityOf(cfg.punctuality);
  const stateOf = punctuality.stateOf;
  const dispatcher = dispatcherOptions(cfg.dispatcher);
  const urlState = parseState(location.search, dispatcher.colourModes);
  const filters = urlState.filters;
  if (Array.isArray(cfg.routes) && cfg.routes.length) filters.routes = new Set(cfg.routes); // a page's own map
  const vehicles = new Map(); // vehicle_id -> VehicleMarker
  const routes = new Map(); // route_id -> {route_id, short_name, long_name, vehicle_type, color, text_color, shapes}
  // the running feed's vehicle types (MAIN_TYPES only when the server names none); types of vehicles seen are added
  const typesSeen = new Set(cfg.vehicle_types && cfg.vehicle_types.length ? cfg.vehicle_types : MAIN_TYPES);
  const countEl = document.getElementById("vehicle-count");
  const connEl = document.getElementById("connection");
  const snapshots = new SnapshotAssembler();
  let plan = null; // the server's view of our subscription (from the last snapshot)
  let pendingOpen = null;
  let clockEvent = 0, clockAt = 0; // the newest event time seen (ms) and when (performance.now())

  // Open on the running feed's extent (MAP_CENTER_LAT/LON set: the server sends none, the map stays there).
  const bounds = extentBounds(cfg.extent);
  if (bounds) {
    // the filter panel opens on wide maps (controls.js): keep the feed clear of it
    const panelOpen = cfg.panel && urlState.panel !== "off" && urlState.panel !== "closed" && map.getSize().x >= 1100;
    map.fitBounds(bounds, { paddingTopLeft: [20, 20], paddingBottomRight: [panelOpen ? 330 : 20, 20], animate: false,
                            maxZoom: 16 });
    container.dataset.extent = JSON.stringify(cfg.extent);
  }

  function routeColour(id) {
    const r = id && routes.get(id);
    if (r && r.color) return "#" + r.color.replace(/^#/, "");
    return id ? hashColour(id) : "#546e7a";
  }

  function styleOf(m) {
    const v = m.vehicle;
    return vehicleFill(filters.colour, v, stateOf(v), punctuality.colours, routeColour(v.route_id));
  }

  const layer = createVehicleLayer(vehicles, styleOf, stateOf).addTo(map);
  if (dispatcher.labelsMinZoom != null) layer.setLabels((m) => routeLabel(m.vehicle, routes), dispatcher.labelsMinZoom);
  const wall = window.matchMedia("(min-width: 1800px)");
  const applyScale = () => layer.setScale(wall.matches ? 1.5 : 1);
  if (wall.addEventListener) wall.addEventListener("change", applyScale);
  applyScale();

  // -- the vehicles ---------------------------------------------------------------------------

  const shown = (v) => isShown(v, filters, plan && plan.area);

  function remove(id) {
    vehicles.delete(id);
    if (layer.selected && layer.selected.vehicle.vehicle_id === id) popups.closeVehicle();
  }

  function upsert(v, now, fromSnapshot) {
    const m = vehicles.get(v.vehicle_id);
    if (!shown(v)) { if (m) remove(v.vehicle_id); return; }
    if (!typesSeen.has(v.vehicle_type)) { typesSeen.add(v.vehicle_type); ui.types(); }
    if (v.route_id && !routes.has(v.route_id)) {
      routes.set(v.route_id, { route_id: v.route_id, short_name: v.route_id, long_name: "",
                               vehicle_type: v.vehicle_type, color: "", text_color: "", shapes: [], seen: true });
      ui.routesChanged();
    }
    if (!m) vehicles.set(v.vehicle_id, new VehicleMarker(layer, v, now));
    else m.update(v, now, fromSnapshot);
    const t = Date.parse(v.timestamp);
    if (t > clockEvent) { clockEvent = t; clockAt = now; }
  }

  // A snapshot may come in parts (large ones do): vehicles missing from every part are removed.
  function snapshot(msg) {
    const now = performance.now();
    const part = snapshots.add(msg);
    if (!part) return; // a part whose beginning this socket never saw
    if (!msg.part) plan = part.plan;
    part.vehicles.forEach((v) => upsert(v, now, true));
    if (!part.done) return;
    Array.from(vehicles.keys()).forEach((id) => { if (!part.seen.has(id)) remove(id); });
    container.dataset.subscription = JSON.stringify(plan);
    container.dataset.snapshots = String(Number(container.dataset.snapshots || 0) + 1);
    layer.redraw();
    updateCount();
    if (pendingOpen && vehicles.has(pendingOpen)) { popups.openVehicle(pendingOpen); pendingOpen = null; }
    popups.refresh();
  }

  function frame(msg) {
    const now = performance.now();
    for (const v of decodeVehicles(msg)) upsert(v, now, false);
    layer.redraw();
    updateCount();
  }

  function refilter() {
    Array.from(vehicles.values()).forEach((m) => { if (!shown(m.vehicle)) remove(m.vehicle.vehicle_id); });
    layer.restyle();
    updateCount();
    network.drawLines();
    saveState();
    socket.subscribe(true);
  }

  function setColour(mode, save) {
    filters.colour = mode;
    layer.restyle();
    ui.legend();
    if (save) saveState();
  }

  function dropStale() {
    const limit = performance.now() - cfg.stale_seconds * 1000;
    Array.from(vehicles.values()).forEach((m) => { if (m.received < limit) remove(m.vehicle.vehicle_id); });
    updateCount();
  }

  let lastCount = -1;
  function updateCount() {
    if (vehicles.size === lastCount) return;
    lastCount = vehicles.size;
    container.dataset.vehicleCount = String(vehicles.size);
    if (countEl) countEl.textContent = String(vehicles.size);
  }

  function saveState() {
    if (cfg.save_state === false) return; // a map inside another page leaves its URL alone
    const s = serialiseState(location.search, filters);
    history.replaceState(null, "", location.pathname + (s ? "?" + s : "") + location.hash);
  }

  // -- the socket -----------------------------------------------------------------------------

  function setConnection(state, text) {
    container.dataset.connected = state === "on" ? "true" : "false";
    container.dataset.connection = state;
    if (connEl) {
      connEl.textContent = text;
      connEl.className = "conn " + (state === "on" ? "conn-on" : "conn-off");
    }
  }

  const socket = new LiveSocket({
    path: cfg.urls.socket,
    subscription: () => wanted(boxOf(map.getBounds()), map.getZoom(), filters),
    view: () => ({ box: boxOf(map.getBounds()), zoom: map.getZoom() }),
    onMessage(msg) {
      if (msg.type === "frame") frame(msg);
      else if (msg.type === "snapshot") snapshot(msg);
      else if (msg.type === "error" && window.console) console.warn("live map:", msg.error);
    },
    onState: setConnection,
    onCounted(n) { container.dataset.frames = String(n); },
  });

  // -- popups, network, controls --------------------------------------------------------------

  const popups = createPopups({
    map, container, layer, vehicles, routes, routeColour, stateOf, getJSON, urls: cfg.urls,
  });

  const network = createNetwork({
    map, container, routes, typesSeen, filters, routeColour, getJSON,
    urls: { ...cfg.urls, network: networkUrl(cfg.urls.network, cfg.feeds) },
    show: { lines: urlState.lines, stops: urlState.stops },
    onRoutes() {
      layer.restyle();
      if (layer.labelOf) layer.setLabels(layer.labelOf, layer.labelsMinZoom); // short names known now
      ui.types();
      ui.routesChanged();
    },
  });

  // The filter set objects are replaced (setTypes, toggles): the network reads them through `filters`.
  const ui = createControls({
    map, filters, routes, vehicles, typesSeen, network, punctuality, routeColour, getJSON, urls: cfg.urls,
    panel: cfg.panel, panelState: urlState.panel, setColour, refilter, colourModes: dispatcher.colourModes,
    labelsMinZoom: dispatcher.labelsMinZoom,
    showRoute: (id) => api.showRoute(id), findVehicle: (id) => api.findVehicle(id),
  });

  // -- clicks and the pointer -----------------------------------------------------------------

  map.on("click", (e) => {
    const m = layer.hit(e.containerPoint);
    if (m) { popups.openVehicle(m.vehicle.vehicle_id); return; }
    const s = network.hitStop(e.containerPoint);
    if (s) popups.openStop(s);
  });

  let hoverPending = false;
  map.on("mousemove", (e) => {
    if (hoverPending) return;
    hoverPending = true;
    L.Util.requestAnimFrame(() => {
      hoverPending = false;
      const hot = !!(layer.hit(e.containerPoint) || network.hitStop(e.containerPoint));
      container.classList.toggle("sc-pointer", hot);
    });
  });

  // -- tiles: without tile access the map works on its plain background --------------------------

  map.eachLayer((l) => {
    if (!(l instanceof L.TileLayer)) return;
    let failed = 0, loaded = 0;
    l.on("tileerror", (e) => {
      if (e.tile) e.tile.style.visibility = "hidden";
      failed += 1;
      if (failed >= 4 && !loaded) container.classList.add("sc-no-tiles");
    });
    l.on("tileload", () => { loaded += 1; container.classList.remove("sc-no-tiles"); });
  });

  // -- the service banner: which service day runs, nothing scheduled now ---------------------------

  const banner = L.DomUtil.create("div", "sc-banner", container);
  banner.setAttribute("role", "status");
  banner.hidden = true;
  L.DomEvent.disableClickPropagation(banner);

  function showService(service) {
    const simNow = service && Date.parse(service.sim_now);
    if (simNow > clockEvent) { clockEvent = simNow; clockAt = performance.now(); } // the clock without vehicles in view
    const text = serviceBanner(service);
    banner.hidden = !text;
    banner.textContent = text || "";
    container.dataset.banner = text || "";
  }

  function pollService() {
    getJSON(cfg.urls.service).then((data) => showService(data.service)).catch(() => { /* the banner stays */ });
  }

  // -- the api --------------------------------------------------------------------------------

  const api = {
    map,
    layer,
    vehicles,
    filters,
    punctuality,
    openVehicle: popups.openVehicle,
    setTypes(list) { filters.types = new Set(list || []); ui.types(); refilter(); },
    setRoutes(list) { filters.routes = new Set(list || []); ui.routesChanged(); refilter(); },
    setColour(mode) {
      if (!dispatcher.colourModes.includes(mode)) throw new Error("live map: no colour mode " + JSON.stringify(mode));
      setColour(mode, false);
    },
    colourModes: dispatcher.colourModes,
    showRoute(id) {
      filters.routes = new Set([id]);
      ui.routesChanged();
      refilter();
      const r = routes.get(id);
      const pts = r && r.shapes ? r.shapes.flat() : [];
      if (pts.length) map.fitBounds(L.latLngBounds(pts), { padding: [30, 30] });
    },
    findVehicle(id) {
      if (popups.openVehicle(id)) { map.panTo(vehicles.get(id).getLatLng()); return; }
      getJSON(cfg.urls.vehicle + encodeURIComponent(id) + "/").then((data) => {
        const v = data.vehicle;
        pendingOpen = id;
        if (filters.routes.size && !filters.routes.has(v.route_id)) filters.routes.clear();
        if (filters.types.size && !filters.types.has(v.vehicle_type)) filters.types.clear();
        ui.types();
        map.setView([v.latitude, v.longitude], Math.max(map.getZoom(), 15));
        refilter();
      }).catch(() => { /* not found: nothing to show */ });
    },
    stats() {
      return { draws: layer.draws, drawMs: layer.drawMs, messages: socket.messages, messageMs: socket.messageMs,
               vehicles: vehicles.size, plan, labelsDrawn: layer.labelsDrawn, labelsSkipped: layer.labelsSkipped,
               labelsMinZoom: layer.labelsMinZoom,
               colour: filters.colour };
    },
    timezone: cfg.timezone,
    /** The twin's clock (ms): the newest event time seen, moved on by the wall time since; else the wall clock. */
    clock() {
      return clockEvent ? clockEvent + (performance.now() - clockAt) : Date.now();
    },
    vehiclePoint(id) {
      const m = vehicles.get(id);
      return m ? map.latLngToContainerPoint(m.getLatLng()) : null;
    },
  };
  container.streamcityLive = api;
  container.streamcityMarkers = vehicles;
  container.streamcityMap = map;
  container.dataset.vehicleCount = "0";

  map.on("moveend", () => socket.subscribe(false));
  setInterval(dropStale, STALE_CHECK_MS);
  window.addEventListener("online", () => socket.reconnectNow());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) socket.reconnectNow(); });

  updateCount();
  showService(cfg.service);
  if (cfg.urls.service) setInterval(pollService, SERVICE_POLL_MS);
  network.load();
  network.loadStops();
  socket.connect();
  return api;
}
