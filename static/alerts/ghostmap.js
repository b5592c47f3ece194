// The ghost buses of the operations map, pure (no DOM, no Leaflet): the route ladder's definition
// (ladder/logic.js ghosts(): trips scheduled to be running that no vehicle works, placed by their
// timetable) run on /api/ops/ghosts/'s data, each ghost placed on the map between the two stops of its
// direction's pattern its timetable puts it between.

import { ghosts } from "./ladder/logic.js";

/** The point at a fractional stop index of a pattern (2.4: 40 % of the way from its stop 2 to 3); null off it. */
export function patternLatLng(stops, position) {
  if (!stops.length || !Number.isFinite(position)) return null;
  const i = Math.max(0, Math.min(stops.length - 1, Math.floor(position)));
  const j = Math.min(stops.length - 1, i + 1), f = Math.min(1, Math.max(0, position - i));
  const a = stops[i], b = stops[j];
  if (a.latitude == null || b.latitude == null) return null;
  return [a.latitude + (b.latitude - a.latitude) * f, a.longitude + (b.longitude - a.longitude) * f];
}

/**
 * The ghosts of `data` (/api/ops/ghosts/) at `now` (epoch s): trips no vehicle works — neither one the
 * server listed (data.worked_trips) nor one in `liveTrips` (a Set: the trips of the vehicles the map
 * has now). Each {trip_id, route, direction_id, headsign, latlng, position, start, from, to (stop names)}.
 */
export function mapGhosts(data, liveTrips, now) {
  const worked = new Set(data.worked_trips || []);
  if (liveTrips) liveTrips.forEach((t) => worked.add(t));
  const out = [];
  for (const r of data.routes || []) {
    for (const d of r.directions) {
      const trips = r.trips.filter((t) => t.direction_id === d.direction_id);
      for (const g of ghosts(trips, worked, now, data.ghost_grace_s)) {
        const latlng = patternLatLng(d.stops, g.position);
        if (!latlng) continue;
        const t = trips.find((x) => x.trip_id === g.trip_id);
        const i = Math.floor(g.position), from = d.stops[i], to = d.stops[Math.min(d.stops.length - 1, i + 1)];
        out.push({
          trip_id: g.trip_id, route: r.route, badge: r.badge, timezone: r.timezone, direction_id: d.direction_id,
          headsign: (t && t.headsign) || d.headsign || "", latlng, position: g.position, start: g.start,
          from: from && (from.name || from.stop_id), to: to && (to.name || to.stop_id),
        });
      }
    }
  }
  return out;
}
