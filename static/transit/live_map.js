// The live map: a snapshot on connect, then frames of changed vehicles over /ws/live/.
(function () {
  "use strict";

  var STATUS_COLOURS = { in_service: "#1565c0", broken_down: "#c62828", out_of_service: "#757575" };

  window.streamcityLiveMap = function (map) {
    var renderer = L.canvas({ padding: 0.5 });
    var markers = new Map();
    var container = map.getContainer();
    var countEl = document.getElementById("vehicle-count");
    var connEl = document.getElementById("connection");
    var retry = 0;
    container.streamcityMarkers = markers; // read by the browser tests

    function popup(v) {
      var load = v.capacity ? Math.round((100 * v.passenger_count) / v.capacity) + "%" : "n/a";
      return "<b>" + v.vehicle_id + "</b> (" + v.vehicle_type + ")<br>route " + (v.route_id || "—") +
        "<br>next stop " + (v.next_stop_id || "—") + "<br>load " + v.passenger_count + "/" + v.capacity +
        " (" + load + ")<br>" + v.status.replace("_", " ") + "<br>" + v.timestamp;
    }

    function upsert(v) {
      var m = markers.get(v.vehicle_id);
      var colour = STATUS_COLOURS[v.status] || "#333";
      if (!m) {
        m = L.circleMarker([v.latitude, v.longitude], {
          renderer: renderer, radius: v.vehicle_type === "bus" ? 5 : 7, color: "#fff", weight: 1,
          fillColor: colour, fillOpacity: 0.9,
        }).addTo(map);
        markers.set(v.vehicle_id, m);
      } else {
        m.setLatLng([v.latitude, v.longitude]);
        m.setStyle({ fillColor: colour });
      }
      m.vehicle = v;
      m.bindPopup(popup(v));
    }

    function updateCount() {
      container.dataset.vehicleCount = String(markers.size);
      countEl.textContent = String(markers.size);
    }

    function snapshot(vehicles) {
      var seen = new Set();
      vehicles.forEach(function (v) { seen.add(v.vehicle_id); upsert(v); });
      markers.forEach(function (m, id) { if (!seen.has(id)) { map.removeLayer(m); markers.delete(id); } });
      updateCount();
    }

    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var ws = new WebSocket(scheme + location.host + "/ws/live/");
      ws.onopen = function () {
        retry = 0;
        connEl.textContent = "live";
        connEl.className = "conn conn-on";
        container.dataset.connected = "true";
      };
      ws.onmessage = function (e) {
        var msg = JSON.parse(e.data);
        if (msg.type === "snapshot") snapshot(msg.vehicles);
        else if (msg.type === "frame") { msg.vehicles.forEach(upsert); updateCount(); }
        container.dataset.frames = String(Number(container.dataset.frames || 0) + 1);
      };
      ws.onclose = function () {
        connEl.textContent = "reconnecting…";
        connEl.className = "conn conn-off";
        container.dataset.connected = "false";
        retry = Math.min(retry + 1, 6);
        setTimeout(connect, Math.min(30000, 500 * Math.pow(2, retry)) * (0.5 + Math.random() / 2));
      };
    }

    updateCount();
    connect();
  };
})();
