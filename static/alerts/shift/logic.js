// Alert handling for a shift, pure (no DOM): episodes (the duplicates of one episode merged), groups
// by route with counts, filters by kind / route / state, snoozes until a time. The snoozes are kept
// on the server (each alert's `snoozed_until` and `snoozed_by`); a snooze runs out by itself, so
// every reader compares its end with the clock.

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

/** The server's snoozes of `alerts`: Map alert_key -> until (ms) for every alert with `snoozed_until`. */
export function serverSnoozes(alerts) {
  const out = new Map();
  for (const a of alerts) {
    const until = a.snoozed_until ? Date.parse(a.snoozed_until) : NaN;
    if (Number.isFinite(until)) out.set(a.alert_key, until);
  }
  return out;
}

/**
 * Who snoozed an episode and until when, at `nowMs`: {until (ms: the earliest end, when the episode
 * comes back), until_display (HH:MM of that alert, the server's), by (names, each once)}; null unless
 * every alert of the episode is snoozed.
 */
export function snoozeInfo(ep, snoozes, nowMs) {
  if (!snoozed(ep, snoozes, nowMs)) return null;
  let first = null;
  for (const a of ep.alerts) if (!first || snoozes.get(a.alert_key) < snoozes.get(first.alert_key)) first = a;
  const by = Array.from(new Set(ep.alerts.map((a) => a.snoozed_by).filter(Boolean)));
  return { until: snoozes.get(first.alert_key), until_display: first.snoozed_until_display || "", by };
}

/** Milliseconds from `nowMs` until the next running snooze ends (a page re-renders then), null if none. */
export function nextWake(snoozes, nowMs) {
  let next = null;
  for (const until of snoozes.values()) if (until > nowMs && (next === null || until < next)) next = until;
  return next === null ? null : next - nowMs;
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
