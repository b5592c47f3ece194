// /ops/playback/: the map as it was. A scrubber over the kept period (the last `hours`), played at
// 1×–60×; at each moment the fleet (each vehicle's latest sampled position, coloured by its
// deviation) and the alerts open then, from /api/history/at/?t=; a jump to any alert's start.
// window.streamcityPlayback(map) is django-leaflet's callback.

const config = JSON.parse(document.getElementById("playback-config").textContent);
const $ = (id) => document.getElementById(id);
const early = config.punctuality.early_seconds;
const late = config.punctuality.late_seconds;

export function vehicleColour(v) {
  if (v.status === "broken_down") return "#111827";
  if (v.status !== "in_service" || v.delay_seconds == null) return "#9ca3af";
  if (v.delay_seconds < -early) return "#2563eb";
  if (v.delay_seconds > late) return "#dc2626";
  return "#16a34a";
}

function deviationText(v) {
  if (v.delay_seconds == null) return "no schedule";
  const m = Math.round(Math.abs(v.delay_seconds) / 6) / 10;
  return v.delay_seconds >= 0 ? `${m} min late` : `${m} min early`;
}

function li(html, attrs = {}) {
  const e = document.createElement("li");
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.innerHTML = html;
  return e;
}

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

window.streamcityPlayback = function (map) {
  const L = window.L;
  const renderer = L.canvas({ padding: 0.3 });
  const lines = L.layerGroup().addTo(map);
  const fleet = L.layerGroup().addTo(map);
  const alertLayer = L.layerGroup().addTo(map);
  const state = { start: 0, end: 0, t: 0, playing: false, speed: 10, vehicles: new Map(), alerts: [], pending: false,
                  shownAt: null, fitted: false };
  window.streamcityPlaybackState = state;
  const scrubber = $("pb-scrubber");

  fetch(config.urls.network, { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
    for (const r of data.routes || []) {
      for (const pts of r.shapes || []) {
        L.polyline(pts, { renderer, interactive: false, color: r.color ? (r.color.startsWith("#") ? r.color : `#${r.color}`) : "#64748b", weight: 3,
                          opacity: 0.35 }).addTo(lines);
      }
    }
  }).catch(() => {});

  function setT(t, { fetchNow = true } = {}) {
    state.t = Math.max(state.start, Math.min(state.end, t));
    scrubber.value = String(Math.round((state.t - state.start) / 1000));
    const d = new Date(state.t);
    $("pb-clock").textContent = d.toLocaleString();
    $("pb-clock").dataset.t = d.toISOString();
    if (fetchNow) show();
  }

  async function show() {
    if (state.pending) return;
    state.pending = true;
    const t = state.t;
    try {
      const r = await fetch(`${config.urls.at}?t=${encodeURIComponent(new Date(t).toISOString())}`,
                            { credentials: "same-origin" });
      if (!r.ok) return;
      const body = await r.json();
      draw(body);
      state.shownAt = t;
    } finally {
      state.pending = false;
    }
    if (!state.playing && state.t !== t) show();  // moved while this one was on its way
  }

  function draw(body) {
    fleet.clearLayers();
    state.vehicles = new Map(body.vehicles.map((v) => [v.vehicle_id, v]));
    for (const v of body.vehicles) {
      L.circleMarker([v.latitude, v.longitude], { renderer, radius: 6, weight: 1, color: "#fff",
                                                  fillColor: vehicleColour(v), fillOpacity: 0.95 })
        .bindTooltip(`${esc(v.vehicle_id)} · route ${esc(v.route_id)} · ${deviationText(v)} · ${esc(v.status)}`)
        .addTo(fleet);
    }
    if (!state.fitted && body.vehicles.length) {
      map.fitBounds(L.latLngBounds(body.vehicles.map((v) => [v.latitude, v.longitude])).pad(0.1));
      state.fitted = true;
    }
    alertLayer.clearLayers();
    state.alerts = body.alerts;
    const list = $("pb-open-alerts");
    list.replaceChildren(...body.alerts.map((a) => li(
      `<span class="pb-kind">${esc(a.kind)}</span> ${esc(a.summary)} <small>(${esc(a.status)})</small>`,
      { "data-alert-key": a.alert_key, "data-kind": a.kind })));
    for (const a of body.alerts) {
      if (a.latitude == null) continue;
      L.circleMarker([a.latitude, a.longitude], { renderer, radius: 14, weight: 3, color: "#ef4444", fill: false })
        .bindTooltip(`${esc(a.kind)}: ${esc(a.summary)}`).addTo(alertLayer);
    }
    $("pb-vehicle-count").textContent = String(body.vehicles.length);
    $("pb-alert-count").textContent = String(body.alerts.length);
    document.body.dataset.playbackT = body.t;
  }

  function jumpList(alerts) {
    $("pb-alert-starts").replaceChildren(...alerts.map((a) => {
      const item = li(`<button type="button">${new Date(a.detected_at).toLocaleTimeString()}</button> ` +
                      `<span class="pb-kind">${esc(a.kind)}</span> ${esc(a.summary)}`,
                      { "data-alert-id": String(a.id), "data-kind": a.kind });
      item.querySelector("button").addEventListener("click", () => {
        pause();
        setT(Date.parse(a.detected_at) - 15000);  // a moment before, to see it open
      });
      return item;
    }));
  }

  let last = null;
  function frame(now) {
    if (!state.playing) return;
    if (last != null) {
      const t = state.t + (now - last) * state.speed;
      setT(t, { fetchNow: false });
      // a new sample is due every position_seconds of history: ask often enough to see each one
      const due = Math.min(config.position_seconds * 1000 / 2, 1000 * state.speed / 2);
      if (state.shownAt == null || Math.abs(state.t - state.shownAt) >= due) show();
      if (state.t >= state.end) pause();
    }
    last = now;
    requestAnimationFrame(frame);
  }

  function play() {
    if (state.t >= state.end) setT(state.start);
    state.playing = true;
    last = null;
    $("pb-play").textContent = "Pause";
    requestAnimationFrame(frame);
  }

  function pause() {
    state.playing = false;
    $("pb-play").textContent = "Play";
  }

  state.seek = (t) => setT(t);  // for tests and embedding pages
  $("pb-play").addEventListener("click", () => (state.playing ? pause() : play()));
  $("pb-speed").addEventListener("change", (e) => { state.speed = Number(e.target.value); });
  scrubber.addEventListener("input", () => setT(state.start + Number(scrubber.value) * 1000));
  state.speed = Number($("pb-speed").value);

  const params = new URLSearchParams(window.location.search);
  fetch(`${config.urls.range}?hours=${encodeURIComponent(params.get("hours") || config.hours)}`,
        { credentials: "same-origin" })
    .then((r) => r.json())
    .then((range) => {
      state.start = Date.parse(range.start);
      state.end = Date.parse(range.end);
      scrubber.max = String(Math.round((state.end - state.start) / 1000));
      $("pb-range").textContent = `${new Date(state.start).toLocaleTimeString()} – ${new Date(state.end).toLocaleTimeString()}`;
      jumpList(range.alerts);
      const at = params.get("t");
      setT(at ? Date.parse(at) : state.start);
      document.body.dataset.playbackReady = "true";
    });
};
