// The operations map: the live vehicle map plus an alerts layer and a live list of open alerts
// over /ws/ops/, with acknowledge / resolve (CSRF-protected POSTs).
(function () {
  "use strict";

  var KIND_COLOURS = { surge: "#ef6c00", delay: "#f9a825", breakdown: "#c62828", bunching: "#6a1b9a",
                       silent: "#455a64", incident: "#ad1457", service: "#1565c0" };
  var VEHICLE_KINDS = { delay: true, bunching: true, silent: true, breakdown: true };

  window.streamcityOpsMap = function (map) {
    window.streamcityLiveMap(map);
    var container = map.getContainer();
    var list = document.getElementById("alert-list");
    var countEl = document.getElementById("alert-count");
    var connEl = document.getElementById("ops-connection");
    var csrf = document.querySelector('meta[name="csrf-token"]').content;
    var alerts = new Map();   // alert_key -> {alert, layer}
    var retry = 0;

    function esc(s) { return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); }

    function layerFor(a) {
      if (a.latitude == null || a.longitude == null) return null;
      var colour = KIND_COLOURS[a.kind] || "#333";
      var pos = [a.latitude, a.longitude];
      if (a.kind === "surge") {
        var taps = (a.detection && a.detection.tap_count) || 1;
        return L.circle(pos, { radius: 60 + 12 * taps, color: colour, fillOpacity: 0.35, weight: 2 });
      }
      if (a.kind === "incident") {
        var r = (a.detection && a.detection.radius) || 150;
        return L.circle(pos, { radius: r, color: colour, fillOpacity: 0.15, dashArray: "4 4" });
      }
      return L.circleMarker(pos, { radius: 11, color: colour, weight: 3, fill: false });
    }

    function highlightVehicles() {
      var markers = container.streamcityMarkers;
      if (!markers) return;
      var flagged = {};
      alerts.forEach(function (e) { if (VEHICLE_KINDS[e.alert.kind] && e.alert.vehicle_id) flagged[e.alert.vehicle_id] = e.alert.kind; });
      markers.forEach(function (m, id) {
        var kind = flagged[id];
        m.setStyle(kind ? { color: KIND_COLOURS[kind], weight: 3 } : { color: "#fff", weight: 1 });
      });
    }

    function post(a, action, note) {
      var body = new URLSearchParams();
      if (note) body.set("note", note);
      return fetch("/api/alerts/" + a.id + "/" + action + "/", {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "X-CSRFToken": csrf },
      }).then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.status); apply([j.alert]); }); })
        .catch(function (err) { alert("Could not " + action + ": " + err.message); });
    }

    function item(a) {
      var li = document.createElement("li");
      li.className = "sev-" + a.severity;
      li.dataset.alertKey = a.alert_key;
      li.dataset.kind = a.kind;
      li.innerHTML = '<span class="status">' + esc(a.status) + (a.condition_open ? "" : " · cleared") + "</span>" +
        '<span class="kind">' + esc(a.kind) + "</span> · severity " + esc(a.severity) +
        "<div>" + esc(a.summary) + "</div>" +
        '<div class="actions">' +
        (a.status === "new" ? '<button data-do="acknowledge">Acknowledge</button>' : "") +
        '<input placeholder="resolution note" aria-label="resolution note"><button data-do="resolve">Resolve</button>' +
        '<a href="' + esc(a.admin_url) + '" target="_blank" rel="noopener">admin</a></div>';
      li.addEventListener("click", function (e) {
        var act = e.target.dataset && e.target.dataset.do;
        if (act) post(a, act, act === "resolve" ? li.querySelector("input").value : "");
        else if (a.latitude != null && e.target.tagName !== "INPUT" && e.target.tagName !== "A") map.panTo([a.latitude, a.longitude]);
      });
      return li;
    }

    function render() {
      var sorted = Array.from(alerts.values()).map(function (e) { return e.alert; })
        .sort(function (x, y) { return y.severity - x.severity || (y.detected_at > x.detected_at ? 1 : -1); });
      list.replaceChildren.apply(list, sorted.map(item));
      list.dataset.alertCount = String(sorted.length);
      countEl.textContent = String(sorted.length);
      highlightVehicles();
    }

    function apply(changed) {
      changed.forEach(function (a) {
        var old = alerts.get(a.alert_key);
        if (old && old.layer) map.removeLayer(old.layer);
        if (a.status === "resolved") { alerts.delete(a.alert_key); return; }
        var layer = layerFor(a);
        if (layer) layer.bindTooltip(esc(a.kind) + ": " + esc(a.summary)).addTo(map);
        alerts.set(a.alert_key, { alert: a, layer: layer });
      });
      render();
    }

    function connect() {
      var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/ops/");
      ws.onopen = function () { retry = 0; connEl.textContent = "alerts live"; connEl.className = "conn conn-on"; };
      ws.onmessage = function (e) {
        var msg = JSON.parse(e.data);
        if (msg.type === "snapshot") {
          alerts.forEach(function (entry) { if (entry.layer) map.removeLayer(entry.layer); });
          alerts.clear();
        }
        apply(msg.alerts || []);
      };
      ws.onclose = function (e) {
        connEl.className = "conn conn-off";
        if (e.code === 4403) { connEl.textContent = "not allowed"; return; }
        connEl.textContent = "alerts reconnecting…";
        retry = Math.min(retry + 1, 6);
        setTimeout(connect, Math.min(30000, 500 * Math.pow(2, retry)) * (0.5 + Math.random() / 2));
      };
    }

    setInterval(highlightVehicles, 2000);  // vehicles arrive after alerts, and move
    connect();
  };
})();
