// The shift's alert board (/ops/alerts/): open alerts over /ws/ops/ grouped by route with counts, the
// duplicates of one episode merged (logic.js), filters by kind / route / state, snooze for a chosen
// time, acknowledge and resolve (static/alerts/actions.js), the route ladder one click away.
// A snooze is kept on the server (who, until when): every dispatcher's page gets it over /ws/ops/, a
// reload or the next shift keeps it, and the page brings the episode back when it runs out.
// Keys (focus in the list): j / ↓ next, k / ↑ previous, a acknowledge, r resolve, s snooze,
// u wake (unsnooze), l open the route ladder.

import { alertAction } from "../actions.js";
import { connectOpsFeed } from "../opsfeed.js";
import { byRoute, episodes, filterEpisodes, isOpen, nextWake, serverSnoozes, snoozeInfo } from "./logic.js";

const board = document.getElementById("shift-board");
const connEl = document.getElementById("ops-connection");
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const form = document.getElementById("shift-filters");
const messageEl = document.getElementById("shift-message");
const alerts = new Map(); // alert_key -> alert (the server's, with its snooze)
let selectedKey = null;
let wakeTimer = null;
let feed = null; // the /ws/ops/ feed: snoozes end on the server's clock as it knows it

function serverNow() { return feed ? feed.serverNow() : Date.now(); }

function say(text) { messageEl.textContent = text; }

function filters() {
  const f = new FormData(form);
  return { kind: f.get("kind") || "", route: f.get("route") || "", state: f.get("state") || "open" };
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function clock(a) { // the start in the feed's time zone (the server's detected_local_display, HH:MM:SS)
  return (a.detected_local_display || "").slice(0, 5);
}

let shown = []; // the episodes on screen, in order
function render() {
  const now = serverNow();
  const snoozes = serverSnoozes(alerts.values());
  const all = episodes(Array.from(alerts.values()));
  const routeSelect = form.elements.route;
  const routes = Array.from(new Set(all.map((e) => e.route_id).concat(wantedRoute ? [wantedRoute] : [])
    .filter(Boolean))).sort();
  const current = wantedRoute || routeSelect.value;
  routeSelect.replaceChildren(new Option("any route", ""), new Option("no route", "-"),
    ...routes.map((r) => new Option(r, r)));
  routeSelect.value = current;
  const kept = filterEpisodes(all, filters(), snoozes, now);
  const groups = byRoute(kept);
  shown = [];
  const focusedKey = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.episode : null;
  board.replaceChildren();
  for (const g of groups) {
    const section = el("section", "shift-group");
    section.dataset.route = g.route_id || "";
    const h = el("h2", null);
    h.append(el("span", "route-name", g.route_id ? "Route " + g.route_id : "No route"), " ",
             el("span", "count", String(g.count)));
    h.lastChild.setAttribute("aria-label", g.count + " alerts");
    if (g.route_id) {
      const a = el("a", "ladder-link", "ladder");
      a.href = "/ops/routes/" + encodeURIComponent(g.route_id) + "/";
      h.append(" ", a);
    }
    section.append(h);
    const ul = el("ul", "episodes");
    for (const ep of g.episodes) {
      const li = el("li", "episode sev-" + ep.severity + " status-" + ep.status);
      li.tabIndex = 0;
      li.dataset.episode = ep.key;
      li.dataset.kind = ep.kind;
      li.dataset.alerts = String(ep.alerts.length);
      const z = snoozeInfo(ep, snoozes, now);
      if (z) li.classList.add("is-snoozed");
      const head = el("div", "ep-head");
      head.append(el("strong", "kind", ep.kind), " ",
                  el("span", "n", ep.alerts.length > 1 ? "× " + ep.alerts.length + " (one episode)" : ""),
                  " ", el("span", "status", ep.status), " ",
                  el("span", "when", clock(ep.alerts[0]) +
                     (ep.alerts.length > 1 ? "–" + clock(ep.alerts[ep.alerts.length - 1]) : "")));
      li.append(head, el("div", "summary", ep.alerts[ep.alerts.length - 1].summary || ""));
      if (z) {
        const who = z.by.length ? " by " + z.by.join(", ") : "";
        const s = el("div", "snooze", "Snoozed" + who + " until " + z.until_display);
        s.dataset.until = new Date(z.until).toISOString();
        li.append(s);
      }
      const actions = el("div", "actions");
      const button = (text, act) => { const b = el("button", null, text); b.dataset.do = act; return b; };
      if (ep.status === "new") actions.append(button("Acknowledge (a)", "acknowledge"));
      actions.append(button("Resolve (r)", "resolve"));
      if (li.classList.contains("is-snoozed")) actions.append(button("Wake (u)", "wake"));
      else actions.append(button("Snooze (s)", "snooze"));
      if (ep.route_id) {
        const a = el("a", null, "Ladder (l)");
        a.href = "/ops/routes/" + encodeURIComponent(ep.route_id) + "/";
        a.dataset.do = "ladder";
        actions.append(a);
      }
      li.append(actions);
      li.addEventListener("click", (e) => {
        selectedKey = ep.key;
        const act = e.target.dataset && e.target.dataset.do;
        if (act && act !== "ladder") act_(ep, act);
      });
      li.addEventListener("focus", () => { selectedKey = ep.key; });
      ul.append(li);
      shown.push(ep);
    }
    section.append(ul);
    board.append(section);
  }
  if (!groups.length) board.append(el("p", "empty", "No alert matches these filters."));
  board.dataset.episodes = String(kept.length);
  board.dataset.alerts = String(kept.reduce((n, e) => n + e.alerts.length, 0));
  const back = focusedKey && board.querySelector('[data-episode="' + CSS.escape(focusedKey) + '"]');
  if (back) back.focus();
  // a snooze runs out by itself: render again when the next one ends (no need to ask the server)
  clearTimeout(wakeTimer);
  const wake = nextWake(snoozes, now);
  board.dataset.nextWake = wake === null ? "" : String(wake);
  if (wake !== null) wakeTimer = setTimeout(render, wake + 50);
}

function post(a, action, fields) {
  return alertAction(a, action, fields, { csrf }).then((changed) => { apply([changed]); return true; })
    .catch((err) => { say(err.message); return false; });
}

function act_(ep, action) {
  say("");
  const now = serverNow();
  if (action === "acknowledge") ep.alerts.filter((a) => a.status === "new").forEach((a) => post(a, "acknowledge"));
  else if (action === "resolve") ep.alerts.forEach((a) => post(a, "resolve"));
  else if (action === "snooze") {
    const minutes = document.getElementById("snooze-minutes").value;
    ep.alerts.forEach((a) => post(a, "snooze", { minutes }));
  } else if (action === "wake") {
    const snoozes = serverSnoozes(ep.alerts);
    ep.alerts.filter((a) => (snoozes.get(a.alert_key) || 0) > now).forEach((a) => post(a, "unsnooze"));
  } else if (action === "ladder" && ep.route_id) location.href = "/ops/routes/" + encodeURIComponent(ep.route_id) + "/";
}

board.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT" || e.altKey || e.ctrlKey || e.metaKey) return;
  const items = Array.from(board.querySelectorAll("li.episode"));
  const i = items.indexOf(document.activeElement.closest ? document.activeElement.closest("li.episode") : null);
  const ep = i >= 0 ? shown.find((x) => x.key === items[i].dataset.episode) : null;
  const move = (d) => { const n = items[Math.max(0, Math.min(items.length - 1, i + d))]; if (n) n.focus(); };
  const keys = { j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
                 a: () => ep && act_(ep, "acknowledge"), r: () => ep && act_(ep, "resolve"),
                 s: () => ep && act_(ep, "snooze"), u: () => ep && act_(ep, "wake"), l: () => ep && act_(ep, "ladder") };
  const f = keys[e.key];
  if (f) { e.preventDefault(); f(); }
});

// The filters are in the address (?kind=&route=&state=), so a link (the operations map's "N snoozed")
// or a bookmark opens the board filtered, and a reload keeps it.
const asked = new URLSearchParams(location.search);
for (const k of ["kind", "state"]) {
  const v = asked.get(k);
  if (v && Array.from(form.elements[k].options).some((o) => o.value === v)) form.elements[k].value = v;
}
let wantedRoute = asked.get("route") || ""; // its option appears with the alerts
function keepInAddress() {
  const f = filters(), q = new URLSearchParams();
  if (f.kind) q.set("kind", f.kind);
  if (f.route) q.set("route", f.route);
  if (f.state !== "open") q.set("state", f.state);
  history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
}
form.addEventListener("change", () => { wantedRoute = ""; keepInAddress(); render(); });
form.addEventListener("submit", (e) => { e.preventDefault(); render(); });

function apply(changed) {
  changed.forEach((a) => { if (isOpen(a)) alerts.set(a.alert_key, a); else alerts.delete(a.alert_key); });
  render();
}

localStorage.removeItem("streamcity.snoozes"); // the snoozes this browser kept before the server did
feed = connectOpsFeed({ connEl, onSnapshot() { alerts.clear(); }, onAlerts: apply });
