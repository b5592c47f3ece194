// Alert handling for a shift, pure (no DOM): episodes (the duplicates of one episode merged), groups
// by route with counts, filters by kind / route / state, snoozes until a time.

/** Kinds whose alerts along one route within `windowS` of each other are one episode (one timetable
 * change raises gap alerts at several stops, one incident delays several vehicles). */
export const MERGED_KINDS = new Set(["gap", "bunching", "delay"]);
export const EPISODE_WINDOW_S = 15 * 60;

const CLOSED = new Set(["resolved", "expired"]);

export function isOpen(a) {
  return !CLOSED.has(a.status);
}

function when(a) {
  return Date.parse(a.detected_at) / 1000;
}

/**
 * Alerts in episodes: [{key, kind, route_id, alerts, severity, first, last, status}]; alerts of a
 * MERGED_KINDS kind on one route chain into one episode while each starts within `windowS` of the
 * previous one; any other alert is an episode of its own. `status`: "new" while any alert is new.
 */
export function episodes(alerts, windowS = EPISODE_WINDOW_S) {
  const sorted = alerts.slice().sort((a, b) => when(a) - when(b));
  const open = new Map(); // kind|route -> the episode being chained
  const out = [];
  for (const a of sorted) {
    const chain = MERGED_KINDS.has(a.kind) && a.route_id ? a.kind + "|" + a.route_id : null;
    let ep = chain ? open.get(chain) : null;
    if (ep && when(a) - ep.last > windowS) ep = null;
    if (!ep) {
      ep = { key: a.alert_key, kind: a.kind, route_id: a.route_id || null, alerts: [], severity: 0,
             first: when(a), last: when(a) };
      out.push(ep);
      if (chain) open.set(chain, ep);
    }
    ep.alerts.push(a);
    ep.severity = Math.max(ep.severity, a.severity || 0);
    ep.last = Math.max(ep.last, when(a));
  }
  for (const ep of out) {
    ep.status = ep.alerts.some((a) => a.status === "new") ? "new" : ep.alerts[0].status;
  }
  return out;
}

/** Whether every alert of an episode is snoozed at `nowMs` (snoozes: Map alert_key -> until ms). */
export function snoozed(ep, snoozes, nowMs) {
  return ep.alerts.every((a) => (snoozes.get(a.alert_key) || 0) > nowMs);
}

/** The snoozes still running at `nowMs` (the others are dropped: their alerts come back). */
export function liveSnoozes(snoozes, nowMs) {
  return new Map(Array.from(snoozes).filter(([, until]) => until > nowMs));
}

/**
 * The episodes a filter keeps: kind ("" = any), route ("" = any, "-" = no route), state: "open"
 * (not snoozed), "new", "acknowledged", "snoozed", "all".
 */
export function filterEpisodes(eps, { kind = "", route = "", state = "open" } = {}, snoozes = new Map(),
  nowMs = Date.now()) {
  return eps.filter((ep) => {
    if (kind && ep.kind !== kind) return false;
    if (route === "-" ? ep.route_id : route && ep.route_id !== route) return false;
    const z = snoozed(ep, snoozes, nowMs);
    if (state === "snoozed") return z;
    if (state === "all") return true;
    if (z) return false;
    return state === "open" || ep.status === state;
  });
}

/** Episodes by route: [{route_id, count (alerts), episodes}], the most severe and largest first. */
export function byRoute(eps) {
  const groups = new Map();
  for (const ep of eps) {
    const k = ep.route_id || "";
    if (!groups.has(k)) groups.set(k, { route_id: ep.route_id, count: 0, severity: 0, episodes: [] });
    const g = groups.get(k);
    g.episodes.push(ep);
    g.count += ep.alerts.length;
    g.severity = Math.max(g.severity, ep.severity);
  }
  const out = Array.from(groups.values());
  out.forEach((g) => g.episodes.sort((a, b) => b.severity - a.severity || b.last - a.last));
  return out.sort((a, b) => b.severity - a.severity || b.count - a.count ||
    String(a.route_id || "~").localeCompare(String(b.route_id || "~")));
}
