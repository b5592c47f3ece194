// The operations map (<script type="module">): the live vehicle map plus an alerts layer, a legend of
// the alert symbols and a live list of open alerts over /ws/ops/, with acknowledge / resolve
// (CSRF-protected POSTs). window.streamcityOpsMap(map) is django-leaflet's callback on /ops/.
//
// An alert about a vehicle is drawn beside that vehicle's live marker and moves with it (every
// animation frame); while the vehicle is not on the map it is drawn, dashed, where it was last
// reported. A surge is a badge and a ring the size of a stop at its station; a traffic incident is
// its area, for as long as it is active on the road whatever its alert's workflow state.
// Hooks for tests: container.streamcityAlerts (Map alert_key -> {alert, place, symbol, layers}),
// container.streamcityLive.alertPoint(key), #alert-legend.

import "../transit/map/main.js"; // window.streamcityLiveMap
import { alertAction } from "./actions.js";
import { connectOpsFeed } from "./opsfeed.js";
import { addGhostLayer } from "./ghostlayer.js";
import {
  INK, SYMBOLS, alertItemHtml, alertPlacement, alertTimeText, alertTooltip, flaggedVehicles, inList, isSnoozed,
  legendHtml, onMap, opsView, ringStyle, snoozedNoteHtml, symbolSvg,
} from "./alerts.js";

const RING_REFRESH_MS = 2000; // vehicles arrive after alerts, and move
const AGE_REFRESH_MS = 20000; // the list's "4 min ago"
const BESIDE_PX = 13; // a vehicle's alert symbol sits this far up and right of the vehicle
const SEVERITY_Z = { minor: 0, major: 100, critical: 200 };

window.streamcityOpsMap = function (map) {
  const L = window.L;
  const live = window.streamcityLiveMap(map);
  // the dispatcher's layers: ghost buses (route numbers and the crowding colours are the live map's)
  const dispatcher = JSON.parse(document.getElementById("live-map-config").textContent).dispatcher;
  if (dispatcher && dispatcher.ghosts) live.ghosts = addGhostLayer(map, live, dispatcher.ghosts);
  const container = map.getContainer();
  const list = document.getElementById("alert-list");
  const countEl = document.getElementById("alert-count");
  const connEl = document.getElementById("ops-connection");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  // alert_key -> {alert, place, symbol (an L.marker, {onCanvas: true, getLatLng()} or null), layers, detached}
  const alerts = new Map();
  const snoozedEl = document.getElementById("alert-snoozed");
  let wakeTimer = null;
  let feed = null; // the /ws/ops/ feed: snoozes end on the server's clock as it knows it
  const serverNow = () => (feed ? feed.serverNow() : Date.now());

  // -- the symbols on the map ------------------------------------------------------------------
  //
  // A vehicle's alert symbol is drawn on the vehicle canvas (vehicles.js setOverlay), beside the
  // vehicle in the same draw, from the same SVG rasterised once per symbol, severity and pixel
  // ratio: one DOM marker per symbol moved every frame cost a composited layer each, and from ~150
  // open vehicle alerts on 2,000 vehicles /ops/ dropped frames. Its tooltip and click (the list
  // item flashes) are hit-tested here; keyboard users reach each alert through the list. Every other
  // symbol, and a vehicle's while the vehicle is not on the map (dashed, where it was reported),
  // stays an L.marker.

  function icon(place, detached) {
    const s = place.size, dx = place.vehicle_id ? BESIDE_PX : 0;
    return L.divIcon({
      className: "sc-alert-icon", html: symbolSvg(place.symbol, place.severity, detached),
      iconSize: [s, s], iconAnchor: [s / 2 - dx, s / 2 + dx],
    });
  }

  function vehicleMarker(id) {
    return container.streamcityMarkers ? container.streamcityMarkers.get(id) : null;
  }

  function flash(a) {
    const li = list.querySelector('li[data-alert-key="' + CSS.escape(a.alert_key) + '"]');
    if (li) { li.scrollIntoView({ block: "nearest" }); li.classList.add("flash"); }
    setTimeout(() => li && li.classList.remove("flash"), 1200);
  }

  // The symbol of an alert drawn on the vehicle canvas: where its vehicle is now.
  function canvasSymbol(entry) {
    return {
      onCanvas: true,
      getLatLng() {
        const m = vehicleMarker(entry.place.vehicle_id);
        return m ? m.getLatLng() : L.latLng(entry.place.latlng);
      },
    };
  }

  function domSymbol(a, place, pos, detached) {
    const marker = L.marker(pos, { icon: icon(place, detached), keyboard: false,
                                   zIndexOffset: SEVERITY_Z[place.severity] || 0 });
    marker.bindTooltip(alertTooltip(a));
    marker.on("click", () => flash(a));
    return marker;
  }

  // A snoozed alert is not drawn (nor listed) until its snooze runs out (render() sets the timer).
  function draw(a) {
    const snoozed = isSnoozed(a, serverNow());
    const entry = { alert: a, place: snoozed ? null : alertPlacement(a), symbol: null, layers: [], detached: false,
                    snoozed };
    const place = entry.place;
    if (!place) return entry;
    if (place.area && place.latlng) {
      entry.layers.push(L.circle(place.latlng, { radius: place.area.radius, color: INK, weight: 2, dashArray: "6 4",
                                                 fillColor: INK, fillOpacity: 0.07, interactive: false }));
    }
    if (place.ring && place.latlng) {
      entry.layers.push(L.circleMarker(place.latlng, { radius: place.ring.px, color: INK, weight: 2,
                                                       fillColor: "#fff", fillOpacity: 0.25, interactive: false }));
    }
    if (place.vehicle_id && vehicleMarker(place.vehicle_id)) {
      entry.symbol = canvasSymbol(entry);
      live.layer.redraw();
    } else if (place.latlng) {
      entry.detached = !!place.vehicle_id;
      entry.symbol = domSymbol(a, place, place.latlng, entry.detached);
      entry.layers.push(entry.symbol);
    }
    entry.layers.forEach((l) => l.addTo(map));
    return entry;
  }

  function undraw(entry) {
    entry.layers.forEach((l) => map.removeLayer(l));
    if (entry.symbol && entry.symbol.onCanvas) live.layer.redraw();
  }

  // Every animation frame (a Map lookup per vehicle alert): a symbol goes onto the canvas when its
  // vehicle comes onto the map, and back to a dashed marker where it was reported when it leaves.
  function follow() {
    alerts.forEach((entry) => {
      const place = entry.place;
      if (!place || !place.vehicle_id) return;
      const onMap_ = !!vehicleMarker(place.vehicle_id);
      if (onMap_ === !!(entry.symbol && entry.symbol.onCanvas)) return;
      undraw(entry);
      alerts.set(entry.alert.alert_key, draw(entry.alert));
    });
    L.Util.requestAnimFrame(follow);
  }

  // The canvas symbols: one sprite per symbol, severity and pixel ratio, from the symbol's SVG.
  const sprites = new Map();
  function spriteOf(place, dpr) {
    const key = place.symbol + "|" + place.severity + "|" + dpr;
    let sp = sprites.get(key);
    if (sp) return sp;
    const s = place.size, c = document.createElement("canvas");
    c.width = c.height = Math.ceil(s * dpr);
    sp = { canvas: c, size: s, ready: false };
    sprites.set(key, sp);
    const img = new Image();
    img.onload = () => {
      c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
      sp.ready = true;
      live.layer.redraw();
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(symbolSvg(place.symbol, place.severity));
    return sp;
  }

  let drawnSymbols = []; // [{entry, x, y (layer pixels of the symbol's centre), r}] in drawing order
  function drawSymbols(ctx, dpr) {
    const out = [];
    alerts.forEach((entry) => {
      if (!entry.symbol || !entry.symbol.onCanvas) return;
      const m = vehicleMarker(entry.place.vehicle_id);
      if (!m || !(m.cell >= 0)) return; // not drawn (off the canvas)
      out.push({ entry, m, z: m.cy + (SEVERITY_Z[entry.place.severity] || 0) });
    });
    out.sort((p, q) => p.z - q.z); // as markers stack: lower on the map and more severe on top
    drawnSymbols = out.map(({ entry, m }) => {
      const sp = spriteOf(entry.place, dpr), r = sp.size / 2;
      if (sp.ready) {
        ctx.drawImage(sp.canvas, Math.round((m.cx + BESIDE_PX - r) * dpr), Math.round((m.cy - BESIDE_PX - r) * dpr));
      }
      return { entry, x: m.lx + BESIDE_PX, y: m.ly - BESIDE_PX, r };
    });
  }
  live.layer.setOverlay(drawSymbols);

  // The topmost canvas symbol under a container point, or null.
  function symbolAt(containerPoint) {
    const p = map.containerPointToLayerPoint(containerPoint);
    for (let i = drawnSymbols.length - 1; i >= 0; i--) {
      const d = drawnSymbols[i];
      if (Math.abs(p.x - d.x) <= d.r && Math.abs(p.y - d.y) <= d.r) return d.entry;
    }
    return null;
  }

  // A click on a canvas symbol is the symbol's (its list item flashes), not the vehicle's under it:
  // taken before Leaflet's own click handling (capture), unless the map was being dragged.
  container.addEventListener("click", (e) => {
    if (map.dragging && map.dragging.moved()) return;
    const hit = symbolAt(map.mouseEventToContainerPoint(e));
    if (!hit) return;
    e.stopPropagation();
    flash(hit.alert);
  }, true);

  const tip = L.tooltip({ direction: "top", offset: [0, -8] });
  let tipFor = null, hoverPending = false;
  map.on("mousemove", (e) => {
    if (hoverPending) return;
    hoverPending = true;
    L.Util.requestAnimFrame(() => {
      hoverPending = false;
      const hit = symbolAt(e.containerPoint);
      container.classList.toggle("sc-alert-hover", !!hit);
      if (hit === tipFor) return;
      tipFor = hit;
      if (!hit) { map.closeTooltip(tip); return; }
      const d = drawnSymbols.find((x) => x.entry === hit);
      tip.setContent(alertTooltip(hit.alert));
      map.openTooltip(tip, map.layerPointToLatLng([d.x, d.y - d.r]));
    });
  });
  map.on("mouseout", () => { tipFor = null; map.closeTooltip(tip); container.classList.remove("sc-alert-hover"); });

  function highlightVehicles() {
    const markers = container.streamcityMarkers;
    if (!markers) return;
    const flagged = flaggedVehicles(Array.from(alerts.values()).filter((e) => !e.snoozed).map((e) => e.alert));
    markers.forEach((m, id) => m.setStyle(ringStyle(flagged.get(id))));
  }

  // -- the legend ------------------------------------------------------------------------------

  const legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    const div = L.DomUtil.create("div", "sc-alert-legend leaflet-bar");
    div.id = "alert-legend";
    const collapsed = window.matchMedia("(max-width: 700px)").matches;
    div.innerHTML = '<button type="button" class="sc-legend-toggle" aria-expanded="' + !collapsed + '">' +
      "Alert symbols</button>" + '<div class="sc-legend-body"' + (collapsed ? " hidden" : "") + ">" + legendHtml() +
      "</div>";
    const body = div.querySelector(".sc-legend-body"), toggle = div.querySelector(".sc-legend-toggle");
    toggle.addEventListener("click", () => {
      body.hidden = !body.hidden;
      toggle.setAttribute("aria-expanded", String(!body.hidden));
    });
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  legend.addTo(map);

  // -- the list --------------------------------------------------------------------------------

  function post(a, action, note) {
    return alertAction(a, action, { note }, { csrf }).then((changed) => apply([changed]))
      .catch((err) => { window.alert(err.message); });
  }

  function item(a) {
    const li = document.createElement("li");
    li.className = "sev-" + a.severity;
    li.dataset.alertKey = a.alert_key;
    li.dataset.kind = a.kind;
    li.innerHTML = alertItemHtml(a, { tz: live.timezone, now: live.clock() });
    li.addEventListener("click", (e) => {
      const act = e.target.dataset && e.target.dataset.do;
      if (act) { post(a, act, act === "resolve" ? li.querySelector("input").value : ""); return; }
      if (e.target.tagName === "INPUT" || e.target.tagName === "A") return;
      const entry = alerts.get(a.alert_key);
      const at = entry && entry.symbol ? entry.symbol.getLatLng() : a.latitude != null ? [a.latitude, a.longitude] : null;
      if (at) map.panTo(at);
    });
    return li;
  }

  function render() {
    const now = serverNow();
    const view = opsView(Array.from(alerts.values(), (e) => e.alert), now);
    const sorted = view.list;
    list.replaceChildren(...sorted.map(item));
    snoozedEl.innerHTML = snoozedNoteHtml(view.snoozed);
    snoozedEl.hidden = !view.snoozed;
    list.dataset.snoozed = String(view.snoozed);
    // a snooze runs out by itself: its alert comes back (drawn and listed) when it ends
    clearTimeout(wakeTimer);
    list.dataset.nextWake = view.wakeMs === null ? "" : String(view.wakeMs);
    if (view.wakeMs !== null) wakeTimer = setTimeout(wake, view.wakeMs + 50);
    list.dataset.alertCount = String(sorted.length);
    countEl.textContent = String(sorted.length);
    container.dataset.alertSymbols = String(Array.from(alerts.values()).filter((e) => e.symbol).length);
    highlightVehicles();
  }

  function wake() {
    const now = serverNow();
    alerts.forEach((entry, key) => {
      if (entry.snoozed && !isSnoozed(entry.alert, now)) { undraw(entry); alerts.set(key, draw(entry.alert)); }
    });
    render();
  }

  // The ages only (a full render would drop a resolution note being typed).
  function refreshAges() {
    const now = live.clock();
    list.querySelectorAll("li[data-alert-key]").forEach((li) => {
      const entry = alerts.get(li.dataset.alertKey), when = li.querySelector(".when");
      if (entry && when) when.textContent = alertTimeText(entry.alert, live.timezone, now);
    });
  }

  function apply(changed) {
    changed.forEach((a) => {
      const old = alerts.get(a.alert_key);
      if (old) undraw(old);
      if (!onMap(a) && !inList(a)) { alerts.delete(a.alert_key); return; }
      alerts.set(a.alert_key, draw(a));
    });
    render();
  }

  live.alertPoint = (key) => {
    const entry = alerts.get(key);
    if (!entry || !entry.symbol) return null;
    const m = entry.symbol.onCanvas && vehicleMarker(entry.place.vehicle_id);
    // a symbol on the canvas: at its vehicle as last drawn (the symbol is drawn BESIDE_PX up and right of it)
    if (m && m.cell >= 0) return map.layerPointToContainerPoint([m.lx, m.ly]);
    return map.latLngToContainerPoint(entry.symbol.getLatLng());
  };
  live.alertSymbols = Object.keys(SYMBOLS);
  container.streamcityAlerts = alerts;
  setInterval(highlightVehicles, RING_REFRESH_MS);
  setInterval(refreshAges, AGE_REFRESH_MS);
  L.Util.requestAnimFrame(follow);
  feed = connectOpsFeed({
    connEl,
    onSnapshot() { alerts.forEach(undraw); alerts.clear(); },
    onAlerts: apply,
  });
};
