// The KPI page's charts, as Plotly figures ({data, layout}) made from the tables of
// /ops/kpis/?format=json. Pure functions (no DOM, no Plotly): tests/js/kpi_charts.test.mjs.

export function rowsOf(table) {
  if (!table) return [];
  return table.rows.map((r) => Object.fromEntries(table.columns.map((c, i) => [c, r[i]])));
}

const byRoute = (rows) => rows.filter((r) => r.route_id !== "(all)");
const hourText = (iso) => iso.slice(11, 16);
const layout = (title, extra = {}) => ({
  title: { text: title, font: { size: 14 } }, margin: { l: 50, r: 10, t: 40, b: 40 }, legend: { orientation: "h" },
  ...extra,
});

// On-time % per hour, one line per route.
export function otpByHour(tables) {
  const rows = rowsOf(tables.on_time_by_route_hour);
  const routes = [...new Set(rows.map((r) => r.route_id))].sort();
  const data = routes.map((route) => {
    const mine = rows.filter((r) => r.route_id === route);
    return { type: "scatter", mode: "lines+markers", name: route, x: mine.map((r) => r.hour),
             y: mine.map((r) => r.on_time_pct) };
  });
  return { data, layout: layout("On-time departures by hour (%)", { yaxis: { range: [0, 100] } }) };
}

// Heat map route × hour of on-time %.
export function otpHeat(tables) {
  const rows = rowsOf(tables.on_time_by_route_hour);
  const routes = [...new Set(rows.map((r) => r.route_id))].sort();
  const hours = [...new Set(rows.map((r) => hourText(r.hour)))].sort();
  const z = routes.map((route) => hours.map((h) => {
    const r = rows.find((x) => x.route_id === route && hourText(x.hour) === h);
    return r ? r.on_time_pct : null;
  }));
  return {
    data: [{ type: "heatmap", x: hours, y: routes, z, zmin: 0, zmax: 100,
             colorscale: [[0, "#b91c1c"], [0.6, "#f97316"], [0.8, "#facc15"], [1, "#16a34a"]],
             colorbar: { title: { text: "% on time" } } }],
    layout: layout("On time, route × hour (%)", { yaxis: { type: "category" } }),
  };
}

// Early / on time / late shares per route.
export function otpByRoute(tables) {
  const rows = byRoute(rowsOf(tables.on_time_by_route));
  const x = rows.map((r) => r.route_id);
  const bar = (name, key, color) => ({ type: "bar", name, x, y: rows.map((r) => r[key]), marker: { color } });
  return {
    data: [bar("early", "early_pct", "#3b82f6"), bar("on time", "on_time_pct", "#16a34a"),
           bar("late", "late_pct", "#dc2626")],
    layout: layout("Punctuality by route (% of timepoint departures)", { barmode: "stack", xaxis: { type: "category" } }),
  };
}

// Excess wait time per frequent route (minutes).
export function ewt(tables) {
  const rows = rowsOf(tables.headways_by_route);
  const x = rows.map((r) => r.route_id);
  const min = (key) => rows.map((r) => (r[key] == null ? null : Math.round(r[key] / 6) / 10));
  return {
    data: [{ type: "bar", name: "scheduled wait", x, y: min("swt_s"), marker: { color: "#94a3b8" } },
           { type: "bar", name: "excess wait", x, y: min("ewt_s"), marker: { color: "#f97316" } }],
    layout: layout("Average wait on frequent routes (min): scheduled + excess", { barmode: "stack",
                                                                                  xaxis: { type: "category" } }),
  };
}

// Trips operated and missed per route.
export function service(tables) {
  const rows = byRoute(rowsOf(tables.service_by_route));
  const x = rows.map((r) => r.route_id);
  return {
    data: [{ type: "bar", name: "operated", x, y: rows.map((r) => r.operated), marker: { color: "#16a34a" } },
           { type: "bar", name: "missed", x, y: rows.map((r) => r.missed), marker: { color: "#dc2626" } }],
    layout: layout("Service delivered: trips due, operated and missed", { barmode: "stack", xaxis: { type: "category" } }),
  };
}

export const LOAD_BANDS = [["lf_under_50", "< 50 %", "#a7f3d0"], ["lf_50_80", "50–80 %", "#fde68a"],
                           ["lf_80_100", "80–100 %", "#fb923c"], ["lf_full", "full", "#b91c1c"]];

// Load-factor distribution per route (share of timepoint departures in each band).
export function load(tables) {
  const rows = rowsOf(tables.crowding_by_route);
  const x = rows.map((r) => r.route_id);
  const data = LOAD_BANDS.map(([key, name, color]) => ({
    type: "bar", name, x, marker: { color },
    y: rows.map((r) => (r.departures ? Math.round((1000 * r[key]) / r.departures) / 10 : null)),
  }));
  return { data, layout: layout("Load factor at departures (% of departures)", { barmode: "stack",
                                                                                  xaxis: { type: "category" } }) };
}

// Alerts raised per kind, with the median time to acknowledge.
export function alerts(tables) {
  const rows = rowsOf(tables.alerts_by_kind);
  const x = rows.map((r) => r.kind);
  return {
    data: [{ type: "bar", name: "raised", x, y: rows.map((r) => r.raised), marker: { color: "#6366f1" } },
           { type: "scatter", mode: "markers", name: "median minutes to acknowledge", x, yaxis: "y2",
             y: rows.map((r) => (r.ack_median_s == null ? null : Math.round(r.ack_median_s / 6) / 10)) }],
    layout: layout("Alerts raised per kind", { yaxis2: { overlaying: "y", side: "right", title: { text: "min" } } }),
  };
}

export const CHARTS = { "otp-hour": otpByHour, "otp-heat": otpHeat, "otp-route": otpByRoute, ewt, service, load, alerts };

// The headline figures: on-time %, excess wait, trips delivered, full trips, alerts.
export function summary(tables) {
  const all = (t) => rowsOf(t).find((r) => r.route_id === "(all)");
  const otp = all(tables.on_time_by_route);
  const svc = all(tables.service_by_route);
  const hw = rowsOf(tables.headways_by_route);
  // the routes' excess wait times weighted by their headways observed
  let n = 0, weighted = 0;
  for (const r of hw) if (r.ewt_s != null) { n += r.pairs; weighted += r.ewt_s * r.pairs; }
  const crowd = rowsOf(tables.crowding_by_route);
  const alertsRaised = rowsOf(tables.alerts_by_kind).reduce((s, r) => s + r.raised, 0);
  return [
    ["on time", otp ? `${otp.on_time_pct} %` : "–", otp ? `${otp.departures} timepoint departures` : "no departures yet"],
    ["excess wait", n ? `${(weighted / n / 60).toFixed(1)} min` : "–", "frequent routes"],
    ["trips operated", svc ? `${svc.operated} / ${svc.due}` : "–", svc ? `${svc.missed} missed` : "no trips due"],
    ["trips full", String(crowd.reduce((s, r) => s + r.trips_full, 0)), "at capacity at a departure"],
    ["alerts", String(alertsRaised), "raised today"],
  ];
}
