// The map's controls: the filter panel (search, colour mode, vehicle types, routes, layers) and the
// legend. Needs Leaflet and the DOM; the logic they use is in filters.js.

import { badgeText, esc } from "./format.js";
import { TYPE_LABELS, routeList, searchLocal, searchMerge, toggleType, typesListed } from "./filters.js";
import { iconCanvas } from "./sprites.js";
import { loadLegend } from "./dispatch.js";

function el(tag, cls, html) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (html != null) e.innerHTML = html;
  return e;
}

const PANEL_HTML =
  '<div class="sc-search"><input type="search" class="sc-search-input" placeholder="Find a vehicle or route"' +
  ' aria-label="Find a vehicle or route" autocomplete="off"><ul class="sc-results" role="listbox"></ul></div>' +
  '<fieldset class="sc-colour"><legend>Colour by</legend>' +
  '<label><input type="radio" name="sc-colour" value="route"> route</label> ' +
  '<label><input type="radio" name="sc-colour" value="state"> punctuality</label>' +
  '<!--crowding--></fieldset>' +
  '<fieldset class="sc-types"><legend>Vehicle types</legend><div class="sc-type-list"></div></fieldset>' +
  '<fieldset class="sc-routes"><legend>Routes ' +
  '<button type="button" class="sc-link sc-all-routes">show all</button></legend>' +
  '<input type="search" class="sc-route-filter" placeholder="Filter the list" aria-label="Filter the route list">' +
  '<ul class="sc-route-list"></ul></fieldset>' +
  '<fieldset class="sc-layers"><legend>Layers</legend>' +
  '<label><input type="checkbox" data-layer="lines"> route lines</label> ' +
  '<label><input type="checkbox" data-layer="stops"> stops (zoom in)</label></fieldset>';

/**
 * ctx: {map, filters, routes (Map), vehicles (Map id -> marker), typesSeen (Set), network,
 * punctuality, routeColour(id), getJSON(url), urls: {search}, panel (show the panel),
 * panelState (the URL's panel= value), setColour(mode, save), refilter(), showRoute(id), findVehicle(id),
 * colourModes (the colour modes offered: route, state and, on /ops/, crowding), labelsMinZoom (/ops/: route
 * numbers on the vehicles from this zoom on, said in the legend; null: none)}.
 * Returns {types(), routesChanged(), legend()}: redraw the type list, the route list (soon), the legend.
 */
export function createControls(ctx) {
  const L = window.L;
  const { map, filters, routes, vehicles, typesSeen, network, punctuality, routeColour, getJSON, urls } = ctx;
  const panel = L.control({ position: "topright" });
  const legend = L.control({ position: "bottomleft" });
  let typeBox, routeBox, routeFilter, searchInput, results, legendBody;
  let routesDirty = true;
  let routesTimer = null;

  panel.onAdd = function () {
    const div = el("div", "sc-panel leaflet-bar");
    // folded on a phone and on narrow maps (the operations page's, beside its alert list)
    const collapsed = map.getSize().x < 1100 || ctx.panelState === "closed";
    div.innerHTML =
      '<button type="button" class="sc-panel-toggle" aria-expanded="' + !collapsed +
      '" aria-controls="sc-panel-body">' +
      '<span aria-hidden="true">☰</span> Filters</button>' +
      '<div class="sc-panel-body" id="sc-panel-body"' + (collapsed ? " hidden" : "") + ">" + panelHtml() + "</div>";
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    const toggle = div.querySelector(".sc-panel-toggle"), body = div.querySelector(".sc-panel-body");
    toggle.addEventListener("click", () => {
      body.hidden = !body.hidden;
      toggle.setAttribute("aria-expanded", String(!body.hidden));
    });
    typeBox = div.querySelector(".sc-type-list");
    routeBox = div.querySelector(".sc-route-list");
    routeFilter = div.querySelector(".sc-route-filter");
    searchInput = div.querySelector(".sc-search-input");
    results = div.querySelector(".sc-results");
    div.querySelector('input[name="sc-colour"][value="' + filters.colour + '"]').checked = true;
    div.querySelectorAll('input[name="sc-colour"]').forEach((input) => {
      input.addEventListener("change", () => ctx.setColour(input.value, true));
    });
    div.querySelectorAll("input[data-layer]").forEach((input) => {
      input.checked = network.showing(input.dataset.layer);
      input.addEventListener("change", () => network.show(input.dataset.layer, input.checked));
    });
    div.querySelector(".sc-all-routes").addEventListener("click", () => {
      filters.routes.clear();
      routesDirty = true;
      routesRender();
      ctx.refilter();
    });
    routeFilter.addEventListener("input", () => { routesDirty = true; routesRender(); });
    routeBox.addEventListener("change", (e) => {
      const id = e.target.value;
      if (e.target.checked) filters.routes.add(id); else filters.routes.delete(id);
      ctx.refilter();
    });
    typeBox.addEventListener("change", (e) => {
      filters.types = toggleType(filters.types, typesListed(typesSeen), e.target.value, e.target.checked);
      ctx.refilter();
    });
    searchSetup();
    return div;
  };

  function panelHtml() {
    const crowding = (ctx.colourModes || []).includes("crowding")
      ? ' <label><input type="radio" name="sc-colour" value="crowding"> crowding (load)</label>' : "";
    return PANEL_HTML.replace("<!--crowding-->", crowding);
  }

  function types() {
    if (!typeBox) return;
    typeBox.replaceChildren(...typesListed(typesSeen).map((t) => {
      const label = el("label", "sc-type");
      const input = el("input");
      input.type = "checkbox";
      input.value = t;
      input.name = "sc-type";
      input.checked = !filters.types.size || filters.types.has(t);
      label.appendChild(input);
      label.appendChild(iconCanvas(t, "#455a64"));
      label.appendChild(document.createTextNode(" " + TYPE_LABELS[t]));
      return label;
    }));
    legendUpdate();
  }

  function routesChanged() {
    routesDirty = true;
    clearTimeout(routesTimer);
    routesTimer = setTimeout(routesRender, 300);
  }

  function routesRender() {
    if (!routeBox || !routesDirty) return;
    routesDirty = false;
    routeBox.replaceChildren(...routeList(routes.values(), routeFilter.value, filters.routes).map((r) => {
      const li = el("li");
      const colour = routeColour(r.route_id);
      li.innerHTML = '<label><input type="checkbox" name="sc-route" value="' + esc(r.route_id) + '"' +
        (filters.routes.has(r.route_id) ? " checked" : "") + '> <span class="sc-badge" style="background:' +
        esc(colour) + ";color:" + esc(badgeText(colour, r.text_color)) + '">' +
        esc(r.short_name || r.route_id) + "</span> " + esc(r.long_name || TYPE_LABELS[r.vehicle_type] || "") +
        "</label>";
      return li;
    }));
  }

  // Search: routes by name and vehicles by id, here first, then on the server.
  function searchSetup() {
    let timer = null, seq = 0;
    function show(items) {
      results.replaceChildren(...items.slice(0, 10).map((it, i) => {
        const li = el("li", "sc-result" + (i === 0 ? " sc-active" : ""));
        li.setAttribute("role", "option");
        li.dataset.kind = it.kind;
        li.dataset.id = it.id;
        li.innerHTML = '<span class="sc-kind">' + (it.kind === "route" ? "route" : "vehicle") + "</span> " +
          esc(it.label);
        return li;
      }));
    }
    function* liveVehicles() {
      for (const [id, m] of vehicles) yield [id, m.vehicle];
    }
    searchInput.addEventListener("input", () => {
      const q = searchInput.value.trim().toLowerCase();
      clearTimeout(timer);
      if (!q) { results.replaceChildren(); return; }
      const items = searchLocal(routes.values(), liveVehicles(), q);
      show(items);
      const mine = ++seq;
      timer = setTimeout(() => {
        getJSON(urls.search + "?q=" + encodeURIComponent(q)).then((data) => {
          if (mine !== seq) return;
          (data.routes || []).forEach((r) => {
            if (!routes.has(r.route_id)) { routes.set(r.route_id, r); routesChanged(); }
          });
          show(searchMerge(items, data));
        }).catch(() => { /* local results stay */ });
      }, 200);
    });
    searchInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        const first = results.querySelector(".sc-result");
        if (first) pick(first.dataset.kind, first.dataset.id);
      } else if (e.key === "Escape") {
        searchInput.value = "";
        results.replaceChildren();
      }
    });
    results.addEventListener("click", (e) => {
      const li = e.target.closest(".sc-result");
      if (li) pick(li.dataset.kind, li.dataset.id);
    });
    function pick(kind, id) {
      results.replaceChildren();
      if (kind === "route") ctx.showRoute(id);
      else ctx.findVehicle(id);
    }
  }

  function legendUpdate() {
    if (!legendBody) return;
    let html;
    if (filters.colour === "crowding") {
      html = '<div class="sc-legend-row sc-muted">Colour: load (passengers / capacity)</div>' +
        loadLegend().map((b) => '<div class="sc-legend-row" data-band="' + b.key + '"><span class="sc-swatch" ' +
          'style="background:' + b.colour + '"></span>' + esc(b.label) + "</div>").join("") +
        '<div class="sc-legend-row"><span class="sc-swatch sc-swatch-dot" style="background:' +
        punctuality.colours.broken_down + '"></span>Broken down</div>';
    } else if (filters.colour === "state") {
      html = punctuality.states.map((s) =>
        '<div class="sc-legend-row"><span class="sc-swatch" style="background:' + s.colour + '"></span>' +
        esc(s.label) + "</div>"
      ).join("");
    } else {
      html = '<div class="sc-legend-row sc-muted">Colour: the route (GTFS route colour)</div>' +
        '<div class="sc-legend-row"><span class="sc-swatch sc-swatch-dot" style="background:' +
        punctuality.colours.broken_down + '"></span>Broken down</div>';
    }
    const labels = ctx.labelsMinZoom != null
      ? '<div class="sc-legend-row sc-muted">Route numbers on the vehicles from zoom ' + esc(ctx.labelsMinZoom) + "</div>"
      : "";
    legendBody.innerHTML = html +
      '<div class="sc-legend-types"></div><div class="sc-legend-row sc-muted">Shapes point the way they go</div>' + labels;
    const box = legendBody.querySelector(".sc-legend-types");
    typesListed(typesSeen).forEach((t) => {
      const row = el("span", "sc-legend-type");
      row.appendChild(iconCanvas(t, "#455a64"));
      row.appendChild(document.createTextNode(TYPE_LABELS[t]));
      box.appendChild(row);
    });
  }

  legend.onAdd = function () {
    const div = el("div", "sc-legend leaflet-bar");
    const collapsed = window.matchMedia("(max-width: 700px)").matches;
    div.innerHTML =
      '<button type="button" class="sc-legend-toggle" aria-expanded="' + !collapsed + '">Legend</button>' +
      '<div class="sc-legend-body"' + (collapsed ? " hidden" : "") + "></div>";
    legendBody = div.querySelector(".sc-legend-body");
    const toggle = div.querySelector(".sc-legend-toggle");
    toggle.addEventListener("click", () => {
      legendBody.hidden = !legendBody.hidden;
      toggle.setAttribute("aria-expanded", String(!legendBody.hidden));
    });
    L.DomEvent.disableClickPropagation(div);
    return div;
  };

  if (ctx.panel && ctx.panelState !== "off") panel.addTo(map);
  legend.addTo(map);
  types();
  legendUpdate();
  return { types, routesChanged, legend: legendUpdate };
}
