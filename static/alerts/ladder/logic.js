// The route ladder's logic, pure (no DOM): where a vehicle sits between two stops of its direction,
// the ghost buses (trips scheduled to be running that no vehicle works) and the headway to the
// vehicle ahead against the scheduled one. Positions are stop indexes of a direction's pattern
// with a fraction: 2.4 is 40 % of the way from its stop 2 to its stop 3.

const R = 6371000;

export function distanceM(a, b) {
  const p1 = (a[0] * Math.PI) / 180, p2 = (b[0] * Math.PI) / 180;
  const dp = p2 - p1, dl = ((b[1] - a[1]) * Math.PI) / 180;
  const h = Math.sin(dp / 2) ** 2 + Math.cos(p1) * Math.cos(p2) * Math.sin(dl / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** stop_id -> first index in a direction's stops. */
export function stopIndex(stops) {
  const out = new Map();
  stops.forEach((s, i) => { if (!out.has(s.stop_id)) out.set(s.stop_id, i); });
  return out;
}

/**
 * A vehicle's position on its direction's ladder: at the terminal while laying over; else between the
 * stop before its next stop and the next stop, by its distance to each. null when its next stop is
 * not on the ladder.
 */
export function placeVehicle(v, stops, index) {
  if (v.status === "layover") return 0;
  const i = v.next_stop_id != null ? index.get(v.next_stop_id) : undefined;
  if (i === undefined) return null;
  if (i === 0) return 0;
  const a = stops[i - 1], b = stops[i];
  if (a.latitude == null || b.latitude == null || v.latitude == null) return i - 0.5;
  const here = [v.latitude, v.longitude];
  const da = distanceM([a.latitude, a.longitude], here), db = distanceM(here, [b.latitude, b.longitude]);
  const f = da + db > 0 ? da / (da + db) : 0.5;
  return i - 1 + Math.min(0.99, Math.max(0, f));
}

/** Where a trip should be at `now` (epoch s) by its timetable (calls: [[index, time], ...]); null off it. */
export function scheduledPosition(calls, now) {
  if (!calls.length || now < calls[0][1] || now > calls[calls.length - 1][1]) return null;
  for (let k = 1; k < calls.length; k++) {
    const [i0, t0] = calls[k - 1], [i1, t1] = calls[k];
    if (now <= t1) return t1 > t0 ? i0 + ((i1 - i0) * (now - t0)) / (t1 - t0) : i1;
  }
  return calls[calls.length - 1][0];
}

/**
 * Ghost buses: trips scheduled to be running at `now` (started at least `grace` s ago, not yet at
 * their last stop) that no vehicle in `workedTrips` (a Set of trip ids) is working.
 */
export function ghosts(trips, workedTrips, now, grace) {
  const out = [];
  for (const t of trips) {
    if (workedTrips.has(t.trip_id) || now < t.start + grace || now > t.end) continue;
    const position = scheduledPosition(t.calls, now);
    if (position !== null) out.push({ trip_id: t.trip_id, direction_id: t.direction_id, position, start: t.start });
  }
  return out;
}

/**
 * Headways of the vehicles of one direction ({vehicle_id, position, start, delay}; start: their
 * trip's scheduled start, epoch s): for each, the vehicle ahead (further along), the scheduled
 * headway (the difference of the trips' starts) and the actual one (plus the difference of their
 * delays), and a class: "bunch" under `bunch` of the scheduled, "gap" over `gap` of it, else "ok".
 */
export function headways(placed, { bunch = 0.5, gap = 1.5 } = {}) {
  const sorted = placed.filter((p) => p.position != null && p.start != null)
    .sort((a, b) => b.position - a.position);
  const out = new Map();
  for (let k = 1; k < sorted.length; k++) {
    const ahead = sorted[k - 1], me = sorted[k];
    const scheduled = me.start - ahead.start;
    const actual = scheduled + (me.delay || 0) - (ahead.delay || 0);
    let kind = "ok";
    if (scheduled > 0 && actual < scheduled * bunch) kind = "bunch";
    else if (scheduled > 0 && actual > scheduled * gap) kind = "gap";
    out.set(me.vehicle_id, { ahead: ahead.vehicle_id, scheduled, actual, kind });
  }
  return out;
}

/**
 * Label rows for markers at `tops` (px, ascending) that stay `gap` px apart: a marker alone keeps its
 * place; markers closer than `gap` (a bunch) share a column of rows centred on their mean place, so
 * each label is readable and the column sits where the bunch is. Returns the rows' tops, in order.
 */
export function spreadLabels(tops, gap) {
  const clusters = []; // {n, sum}: n labels centred on sum / n
  const first = (c) => c.sum / c.n - ((c.n - 1) * gap) / 2;
  for (const top of tops) {
    clusters.push({ n: 1, sum: top });
    while (clusters.length > 1) {
      const c = clusters[clusters.length - 1], p = clusters[clusters.length - 2];
      if (first(c) - (first(p) + (p.n - 1) * gap) >= gap) break;
      p.n += c.n;
      p.sum += c.sum;
      clusters.pop();
    }
  }
  const out = [];
  for (const c of clusters) for (let k = 0; k < c.n; k++) out.push(first(c) + k * gap);
  return out;
}
