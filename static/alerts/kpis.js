// /ops/kpis/: the charts (Plotly, served from the plotly package) and tables of one service day,
// from /ops/kpis/?format=json; today's are fetched again every `refresh_seconds`.

import { CHARTS, summary } from "./kpi_charts.js";

const config = JSON.parse(document.getElementById("kpi-config").textContent);
const status = document.getElementById("kpi-status");

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

function query() {
  const q = `date=${encodeURIComponent(config.date)}`;
  return config.route ? `${q}&route=${encodeURIComponent(config.route)}` : q;
}

function renderSummary(tables) {
  const box = document.getElementById("kpi-summary");
  const crowding = tables.crowding_by_route;
  const left = crowding ? crowding.rows.reduce((n, r) => n + (r[crowding.columns.indexOf("left_behind")] || 0), 0) : 0;
  const figures = [...summary(tables), ["left behind", String(left), "riders, the vehicle full"]];
  box.replaceChildren(...figures.map(([label, value, note]) => {
    const f = el("div", { class: "figure" });
    f.append(el("span", {}, label), el("b", {}, value), el("span", {}, note));
    return f;
  }));
}

function renderCharts(tables) {
  for (const box of document.querySelectorAll("[data-chart]")) {
    const fig = CHARTS[box.dataset.chart](tables);
    const points = fig.data.reduce((n, trace) => n + (trace.z ? trace.z.flat().length : (trace.y || []).length), 0);
    box.dataset.points = String(points);
    window.Plotly.react(box, fig.data, fig.layout, { responsive: true, displaylogo: false });
  }
}

function renderTables(tables) {
  const box = document.getElementById("kpi-tables");
  const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.table));
  box.replaceChildren(...Object.values(tables).map((t) => {
    const d = el("details", { "data-table": t.name, "data-rows": String(t.rows.length) });
    if (open.has(t.name)) d.open = true;
    d.append(el("summary", {}, `${t.title} (${t.rows.length} rows)`));
    const links = el("div", { class: "links" });
    const q = query();
    links.append(el("a", { href: `${config.url}?${q}&format=csv&table=${t.name}` }, "CSV"),
                 el("a", { href: `${config.url}?${q}&format=json` }, "JSON (every table)"));
    const table = el("table");
    const head = el("tr");
    for (const c of t.columns) head.append(el("th", {}, c));
    table.append(head);
    for (const r of t.rows) {
      const tr = el("tr");
      for (const v of r) tr.append(el("td", {}, v == null ? "–" : String(v)));
      table.append(tr);
    }
    d.append(links, table);
    return d;
  }));
}

async function load() {
  try {
    const response = await fetch(`${config.url}?${query()}&format=json`,
                                 { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    renderSummary(body.tables);
    renderCharts(body.tables);
    renderTables(body.tables);
    const at = new Date(body.generated_at).toLocaleTimeString();
    status.textContent = config.today ? `live: updated ${at}` : `service day ${body.date}`;
    status.dataset.loaded = "true";
  } catch (err) {
    status.textContent = `could not load the KPIs (${err.message}); retrying`;
  }
}

load();
if (config.today) setInterval(load, config.refresh_seconds * 1000);
