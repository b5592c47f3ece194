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
import { backoffDelay } from "../transit/map/subscription.js";
import { alertAction } from "./actions.js";
import { addGhostLayer } from "./ghostlayer.js";
import {
  INK, SYMBOLS, alertItemHtml, alertPlacement, alertTimeText, alertTooltip, flaggedVehicles, inList, legendHtml,
  onMap, ringStyle, sortAlerts, symbolSvg,
} from "./alerts.js";

const RING_REFRESH_MS = 2000; // vehicles arrive after alerts, and move
const AGE_REFRESH_MS = 20000; // the list's "4 min ago"
const FORBIDDEN = 4403; // the socket's close code for a user who is not an operator
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
  const alerts = new Map(); // alert_key -> {alert, place, symbol (L.marker or null), layers, detached}
  let retry = 0;

  // -- the symbols on the map ------------------------------------------------------------------

  function icon(place, detached) {
    const s = place.size, dx = place.vehicle_id ? BESIDE_PX : 0;
    return L.divIcon({
      className: "sc-alert-icon", html: symbolSvg(place.symbol, place.severity, detached),
      iconSize: [s, s], iconAnchor: [s / 2 - dx, s / 2 + dx],
    });
  }

  function vehicleLatLng(id) {
    const m = container.streamcityMarkers && container.streamcityMarkers.get(id);
    return m ? m.getLatLng() : null;
  }

  function draw(a) {
    const entry = { alert: a, place: alertPlacement(a), symbol: null, layers: [], detached: false };
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
    const at = place.vehicle_id ? vehicleLatLng(place.vehicle_id) : null;
    entry.detached = !!place.vehicle_id && !at;
    const pos = at || place.latlng;
    if (pos) {
      entry.symbol = L.marker(pos, { icon: icon(place, entry.detached), keyboard: false,
                                     zIndexOffset: SEVERITY_Z[place.severity] || 0 });
      entry.symbol.bindTooltip(alertTooltip(a));
      entry.symbol.on("click", () => {
        const li = list.querySelector('li[data-alert-key="' + CSS.escape(a.alert_key) + '"]');
        if (li) { li.scrollIntoView({ block: "nearest" }); li.classList.add("flash"); }
        setTimeout(() => li && li.classList.remove("flash"), 1200);
      });
      entry.layers.push(entry.symbol);
    }
    entry.layers.forEach((l) => l.addTo(map));
    return entry;
  }

  function undraw(entry) {
    entry.layers.forEach((l) => map.removeLayer(l));
  }

  // Every animation frame: the symbols of vehicle alerts to where their vehicles are drawn now.
  function follow() {
    alerts.forEach((entry) => {
      const place = entry.place;
      if (!place || !place.vehicle_id) return;
      const at = vehicleLatLng(place.vehicle_id);
      if (!entry.symbol) {
        if (at) { entry.symbol = draw(entry.alert).symbol; entry.layers = entry.symbol ? [entry.symbol] : []; }
        return;
      }
      if (at) {
        if (entry.detached) { entry.detached = false; entry.symbol.setIcon(icon(place, false)); }
        entry.symbol.setLatLng(at);
      } else if (!entry.detached && place.latlng) {
        entry.detached = true;
        entry.symbol.setIcon(icon(place, true));
        entry.symbol.setLatLng(place.latlng);
      }
    });
    L.Util.requestAnimFrame(follow);
  }

  function highlightVehicles() {
    const markers = container.streamcityMarkers;
    if (!markers) return;
    const flagged = flaggedVehicles(Array.from(alerts.values(), (e) => e.alert));
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
    const sorted = sortAlerts(Array.from(alerts.values(), (e) => e.alert).filter(inList));
    list.replaceChildren(...sorted.map(item));
    list.dataset.alertCount = String(sorted.length);
    countEl.textContent = String(sorted.length);
    container.dataset.alertSymbols = String(Array.from(alerts.values()).filter((e) => e.symbol).length);
    highlightVehicles();
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

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/ops/");
    ws.onopen = () => { retry = 0; connEl.textContent = "alerts live"; connEl.className = "conn conn-on"; };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "snapshot") {
        alerts.forEach(undraw);
        alerts.clear();
      }
      apply(msg.alerts || []);
    };
    ws.onclose = (e) => {
      connEl.className = "conn conn-off";
      if (e.code === FORBIDDEN) { connEl.textContent = "not allowed"; return; }
      connEl.textContent = "alerts reconnecting…";
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, backoffDelay(retry + 1, Math.random()));
    };
  }

  live.alertPoint = (key) => {
    const entry = alerts.get(key);
    return entry && entry.symbol ? map.latLngToContainerPoint(entry.symbol.getLatLng()) : null;
  };
  live.alertSymbols = Object.keys(SYMBOLS);
  container.streamcityAlerts = alerts;
  setInterval(highlightVehicles, RING_REFRESH_MS);
  setInterval(refreshAges, AGE_REFRESH_MS);
  L.Util.requestAnimFrame(follow);
  connect();
};
