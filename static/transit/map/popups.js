// Popups for a vehicle (following it as it moves, refreshed every second) and for a stop (its
// next arrivals). vehicleHtml and stopHtml are pure; createPopups needs Leaflet.

import { ageText, badgeText, crowding, deviationText, esc, textColourFor } from "./format.js";
import { TYPE_LABELS } from "./filters.js";

function badge(colour, textColour, text) {
  return '<span class="sc-badge" style="background:' + esc(colour) + ";color:" + esc(textColour) + '">' +
    esc(text) + "</span>";
}

/**
 * A vehicle's popup. vehicle: its live data; route: the route from the network ({} if unknown);
 * colour: the route's colour; state: its punctuality state; details: /api/vehicles/<id>/ (or
 * null while it loads); ageMs: since its last update.
 */
export function vehicleHtml({ vehicle: v, route: r, colour, state, details, ageMs }) {
  const d = details || {};
  const load = crowding(v);
  const trip = d.trip || {};
  const next = d.next_stop || {};
  const routeName = (r.short_name || v.route_id || "—") + (r.long_name ? " · " + r.long_name : "");
  return '<div class="sc-popup" data-vehicle-id="' + esc(v.vehicle_id) + '">' +
    '<div class="sc-popup-title">' +
    badge(colour, badgeText(colour, r.text_color), r.short_name || v.route_id || "?") +
    " " + esc(TYPE_LABELS[v.vehicle_type] || v.vehicle_type) + " <b>" + esc(v.vehicle_id) + "</b></div>" +
    "<dl>" +
    '<dt>Route</dt><dd class="f-route">' + esc(routeName) + "</dd>" +
    '<dt>Trip</dt><dd class="f-headsign">' + esc(trip.headsign ? "to " + trip.headsign : v.trip_id || "—") + "</dd>" +
    '<dt>Next stop</dt><dd class="f-next-stop">' + esc(next.name || v.next_stop_id || "—") + "</dd>" +
    '<dt>Load</dt><dd class="f-load"><span class="sc-load sc-load-' + load.level + '"><span style="width:' +
    (load.pct == null ? 0 : Math.min(100, load.pct)) + '%"></span></span> ' + esc(v.passenger_count) + " / " +
    esc(v.capacity) + (load.pct == null ? "" : " (" + load.pct + " %, " + load.label + ")") + "</dd>" +
    '<dt>Schedule</dt><dd class="f-deviation sc-state-' + state + '">' + esc(deviationText(v.delay_seconds)) + "</dd>" +
    '<dt>Status</dt><dd class="f-status">' + esc(String(v.status).replace(/_/g, " ")) + "</dd>" +
    '<dt>Updated</dt><dd class="f-age" title="' + esc(v.timestamp) + '">' + esc(ageText(ageMs)) + "</dd>" +
    "</dl>" + '<p class="sc-links">' +
    (v.route_id ? '<a href="/routes/' + esc(encodeURIComponent(v.route_id)) + '/">Route page</a> · ' : "") +
    '<a href="/ops/vehicles/' + esc(encodeURIComponent(v.vehicle_id)) + '/">Vehicle and trip (operators)</a></p></div>';
}

/**
 * A stop's popup: data is /api/stops/<id>/arrivals/ ({now, arrivals}), or null while it loads.
 * routeColour(route_id) and stateOf({delay_seconds}) colour the rows.
 */
export function stopHtml(stop, data, { routeColour, stateOf }) {
  const rows = (data && data.arrivals) || [];
  let html = '<div class="sc-popup sc-stop-popup" data-stop-id="' + esc(stop.stop_id) + '">' +
    '<div class="sc-popup-title">Stop <b>' + esc(stop.name || stop.stop_id) + "</b>" +
    (stop.code ? ' <span class="sc-muted">' + esc(stop.code) + "</span>" : "") + "</div>";
  html += '<p class="sc-links"><a href="/stops/' + esc(encodeURIComponent(stop.stop_id)) + '/">All departures</a></p>';
  if (!data) return html + '<p class="sc-muted">Loading next arrivals…</p></div>';
  if (!rows.length) return html + '<p class="sc-muted">No arrivals in the next hour.</p></div>';
  html += '<table class="sc-arrivals"><thead><tr><th>Route</th><th>To</th><th>Due</th><th>Deviation</th></tr></thead>' +
    "<tbody>";
  rows.forEach((a) => {
    const colour = a.route_color ? "#" + a.route_color : routeColour(a.route_id);
    const due = new Date(a.expected || a.scheduled);
    const mins = Math.round((due - new Date(data.now)) / 60000);
    html += '<tr class="sc-arrival"><td>' + badge(colour, textColourFor(colour), a.route_short_name || a.route_id) +
      "</td>" +
      "<td>" + esc(a.headsign || "") + "</td>" +
      '<td title="scheduled ' + esc(a.scheduled) + '">' + (mins <= 0 ? "now" : mins + " min") + "</td>" +
      '<td class="sc-state-' + stateOf({ delay_seconds: a.delay_seconds }) + '">' +
      esc(a.delay_seconds == null ? "scheduled" : deviationText(a.delay_seconds)) + "</td></tr>";
  });
  return html + "</tbody></table></div>";
}

/**
 * The map's popups. ctx: {map, container, layer (the vehicle layer: .selected, .redraw()),
 * vehicles (Map id -> marker), routes (Map), routeColour(id), stateOf(v), getJSON(url),
 * urls: {vehicle, stops}}.
 */
export function createPopups(ctx) {
  const L = window.L;
  const { map, container, layer, vehicles, routes, routeColour, stateOf, getJSON, urls } = ctx;
  const PHONE = window.matchMedia("(max-width: 600px)");
  // a popup narrow enough to fit a phone with its padding: autoPan can then keep the close button on screen
  const pad = PHONE.matches ? 12 : 30;
  const popup = L.popup({ className: "sc-popup-wrap", maxWidth: Math.min(320, window.innerWidth - 2 * pad - 48),
                          autoPanPadding: [pad, pad] });
  const stopPopup = L.popup({ className: "sc-popup-wrap", maxWidth: Math.min(360, window.innerWidth - 2 * pad - 48),
                              autoPanPadding: [pad, pad] });
  const details = {}; // vehicle_id -> {trip_id, next_stop_id, data}
  let popupTimer = null, stopTimer = null;

  function html(m) {
    const v = m.vehicle;
    return vehicleHtml({
      vehicle: v, route: routes.get(v.route_id) || {}, colour: routeColour(v.route_id), state: stateOf(v),
      details: (details[v.vehicle_id] || {}).data, ageMs: performance.now() - m.received,
    });
  }

  function loadDetails(m) {
    const v = m.vehicle;
    let d = details[v.vehicle_id];
    if (d && d.trip_id === v.trip_id && d.next_stop_id === v.next_stop_id) return;
    d = details[v.vehicle_id] = { trip_id: v.trip_id, next_stop_id: v.next_stop_id, data: d ? d.data : null };
    getJSON(urls.vehicle + encodeURIComponent(v.vehicle_id) + "/").then((data) => {
      d.data = data;
      if (layer.selected === m) refresh();
    }).catch(() => { /* the popup shows the ids */ });
  }

  function refresh() {
    const m = layer.selected;
    if (!m || !popup.isOpen()) return;
    loadDetails(m);
    popup.setContent(html(m));
  }

  function openVehicle(id) {
    const m = vehicles.get(id);
    if (!m) return false;
    layer.selected = m;
    layer.redraw();
    popup.options.autoPan = true;
    popup.setLatLng(m.getLatLng()).setContent(html(m)).openOn(map);
    // it follows the vehicle from now on: no more panning on a large screen; on a phone the map keeps
    // the popup (and its close button) in view as the vehicle drives towards the edge
    popup.options.autoPan = PHONE.matches;
    loadDetails(m);
    clearInterval(popupTimer);
    popupTimer = setInterval(refresh, 1000);
    container.dataset.popup = "vehicle";
    return true;
  }

  function closeVehicle() {
    if (layer.selected) { layer.selected = null; map.closePopup(popup); }
  }

  map.on("popupclose", (e) => {
    if (e.popup !== popup) return;
    layer.selected = null;
    clearInterval(popupTimer);
    container.dataset.popup = "";
    layer.redraw();
  });

  // The popup follows its vehicle. On a phone it also keeps the map panned to it, but never restarts a
  // pan under way: Leaflet's autoPan stops the running pan first, so asking every frame left the popup
  // creeping towards the screen a frame's step at a time (its close button stayed a few px off screen).
  let panning = false;
  map.on("autopanstart", () => { panning = true; });
  map.on("moveend", () => { panning = false; });
  (function follow() {
    L.Util.requestAnimFrame(follow);
    const m = layer.selected;
    if (!m || !popup.isOpen() || map._animatingZoom) return;
    const at = m.getLatLng(), was = popup.getLatLng();
    if (was && at.equals(was)) return;
    popup.options.autoPan = PHONE.matches && !panning;
    popup.setLatLng(at);
    popup.options.autoPan = PHONE.matches;
  })();

  function openStop(stop) {
    closeVehicle();
    const opts = { routeColour, stateOf };
    stopPopup.setLatLng([stop.latitude, stop.longitude]).setContent(stopHtml(stop, null, opts)).openOn(map);
    container.dataset.popup = "stop";
    const load = () => {
      const q = stop.feed ? "?feed=" + encodeURIComponent(stop.feed) : "";
      getJSON(urls.stops + encodeURIComponent(stop.stop_id) + "/arrivals/" + q).then((data) => {
        if (stopPopup.isOpen()) stopPopup.setContent(stopHtml(stop, data, opts));
      }).catch(() => {
        if (stopPopup.isOpen()) stopPopup.setContent(stopHtml(stop, { arrivals: [] }, opts));
      });
    };
    load();
    clearInterval(stopTimer);
    stopTimer = setInterval(() => { if (stopPopup.isOpen()) load(); else clearInterval(stopTimer); }, 15000);
  }

  return {
    openVehicle, closeVehicle, openStop,
    /** After a snapshot: the open vehicle popup shows the new data. */
    refresh() { if (popup.isOpen() && layer.selected) refresh(); },
  };
}
