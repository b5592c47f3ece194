// The operations map (<script type="module">): the live vehicle map plus an alerts layer and a
// live list of open alerts over /ws/ops/, with acknowledge / resolve (CSRF-protected POSTs).
// window.streamcityOpsMap(map) is django-leaflet's callback on /ops/.

import "../transit/map/main.js"; // window.streamcityLiveMap
import { backoffDelay } from "../transit/map/subscription.js";
import { alertItemHtml, alertShape, alertTooltip, flaggedVehicles, ringStyle, sortAlerts } from "./alerts.js";

const RING_REFRESH_MS = 2000; // vehicles arrive after alerts, and move
const FORBIDDEN = 4403; // the socket's close code for a user who is not an operator

window.streamcityOpsMap = function (map) {
  const L = window.L;
  window.streamcityLiveMap(map);
  const container = map.getContainer();
  const list = document.getElementById("alert-list");
  const countEl = document.getElementById("alert-count");
  const connEl = document.getElementById("ops-connection");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const alerts = new Map(); // alert_key -> {alert, layer}
  let retry = 0;

  function layerFor(a) {
    const s = alertShape(a);
    if (!s) return null;
    return s.shape === "circle" ? L.circle(s.latlng, s.options) : L.circleMarker(s.latlng, s.options);
  }

  function highlightVehicles() {
    const markers = container.streamcityMarkers;
    if (!markers) return;
    const flagged = flaggedVehicles(Array.from(alerts.values(), (e) => e.alert));
    markers.forEach((m, id) => m.setStyle(ringStyle(flagged.get(id))));
  }

  function post(a, action, note) {
    const body = new URLSearchParams();
    if (note) body.set("note", note);
    return fetch("/api/alerts/" + a.id + "/" + action + "/", {
      method: "POST", credentials: "same-origin", body,
      headers: { "X-CSRFToken": csrf },
    }).then((r) => r.json().then((j) => {
      if (!r.ok) throw new Error(j.error || r.status);
      apply([j.alert]);
    })).catch((err) => { window.alert("Could not " + action + ": " + err.message); });
  }

  function item(a) {
    const li = document.createElement("li");
    li.className = "sev-" + a.severity;
    li.dataset.alertKey = a.alert_key;
    li.dataset.kind = a.kind;
    li.innerHTML = alertItemHtml(a);
    li.addEventListener("click", (e) => {
      const act = e.target.dataset && e.target.dataset.do;
      if (act) post(a, act, act === "resolve" ? li.querySelector("input").value : "");
      else if (a.latitude != null && e.target.tagName !== "INPUT" && e.target.tagName !== "A") {
        map.panTo([a.latitude, a.longitude]);
      }
    });
    return li;
  }

  function render() {
    const sorted = sortAlerts(Array.from(alerts.values(), (e) => e.alert));
    list.replaceChildren(...sorted.map(item));
    list.dataset.alertCount = String(sorted.length);
    countEl.textContent = String(sorted.length);
    highlightVehicles();
  }

  function apply(changed) {
    changed.forEach((a) => {
      const old = alerts.get(a.alert_key);
      if (old && old.layer) map.removeLayer(old.layer);
      if (a.status === "resolved") { alerts.delete(a.alert_key); return; }
      const layer = layerFor(a);
      if (layer) layer.bindTooltip(alertTooltip(a)).addTo(map);
      alerts.set(a.alert_key, { alert: a, layer });
    });
    render();
  }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/ops/");
    ws.onopen = () => { retry = 0; connEl.textContent = "alerts live"; connEl.className = "conn conn-on"; };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "snapshot") {
        alerts.forEach((entry) => { if (entry.layer) map.removeLayer(entry.layer); });
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

  setInterval(highlightVehicles, RING_REFRESH_MS);
  connect();
};
