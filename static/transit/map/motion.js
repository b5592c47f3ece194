// A vehicle's latest data and its animation, in zoom-0 projected pixels. Pure: the projection
// comes from the layer the marker belongs to ({project(v) -> {x, y}, unproject(x, y) -> latlng,
// metres(x1, y1, x2, y2), redraw(), stateOf(v)}), so Node tests drive it with a flat one.
//
// A marker animates from where it is drawn to its newest position over the interval between its
// updates (never more than one update behind, never a jump).

export const SNAP_METRES = 3000; // a vehicle that jumps further than this is placed, not animated
export const MIN_ANIM_MS = 100;
export const MAX_ANIM_MS = 2500;
export const SNAPSHOT_GRACE_MS = 5000; // frames older than a snapshot are skipped for this long after it
export const ROTATIONS = 48; // headings are drawn in steps of 7.5°

const TURN = 2 * Math.PI;

/** The sprite cell (0 .. ROTATIONS-1) of heading `angle` (radians clockwise from north). */
export function headingCell(angle, rotations = ROTATIONS) {
  const i = Math.round(angle / (TURN / rotations)) % rotations;
  return i < 0 ? i + rotations : i;
}

/** The heading a fraction `k` of the way from `from` to `to` (radians), turning the short way. */
export function turnBetween(from, to, k) {
  let d = to - from;
  if (d > Math.PI) d -= TURN;
  else if (d < -Math.PI) d += TURN;
  return from + d * k;
}

/** The smallest angle between two headings (radians, 0 .. π). */
export function angleBetween(a, b) {
  const turn = Math.abs(a - b) % TURN;
  return Math.min(turn, TURN - turn);
}

function radians(v) {
  return ((v.bearing || 0) * Math.PI) / 180;
}

export class VehicleMarker {
  constructor(layer, v, now) {
    this._layer = layer;
    this.vehicle = v;
    this.ring = "#fff";
    this.ringWidth = 1;
    this.received = now;
    this.interval = 1000;
    this.t0 = now;
    this.dur = 1;
    const p = layer.project(v);
    this.fx = this.tx = p.x;
    this.fy = this.ty = p.y;
    this.fh = this.th = radians(v);
    this.eventTime = Date.parse(v.timestamp) || 0;
    this.snapshotAt = now;
    this.cx = this.cy = -1e9; // where it was last drawn (canvas pixels), for clicks
    this.sprite = null;
  }

  /** How far along its current animation (0 .. 1) the marker is at `now` (ms). */
  progress(now) {
    const k = (now - this.t0) / this.dur;
    return k >= 1 ? 1 : k <= 0 ? 0 : k;
  }

  heading(k) {
    return turnBetween(this.fh, this.th, k);
  }

  position(now) {
    const k = this.progress(now);
    return { x: this.fx + (this.tx - this.fx) * k, y: this.fy + (this.ty - this.fy) * k };
  }

  /**
   * New data: animate from where it is drawn now to the new position over its update interval.
   * A snapshot is the truth; a frame older than the snapshot just applied is one that was on its
   * way before the snapshot was read, and is skipped (returns false). Older reports are accepted
   * otherwise: a restarted simulation's clock may start again from an earlier time.
   */
  update(v, now, fromSnapshot) {
    const t = Date.parse(v.timestamp) || 0;
    if (fromSnapshot) this.snapshotAt = now;
    else if (t && t < this.eventTime && now - this.snapshotAt < SNAPSHOT_GRACE_MS) return false;
    const layer = this._layer;
    const k = this.progress(now);
    let x = this.fx + (this.tx - this.fx) * k, y = this.fy + (this.ty - this.fy) * k;
    const p = layer.project(v);
    const gap = now - this.received;
    if (gap > 20) this.interval = this.interval * 0.6 + Math.min(gap, MAX_ANIM_MS) * 0.4;
    this.fh = this.heading(k);
    this.th = radians(v);
    if (layer.metres(x, y, p.x, p.y) > SNAP_METRES) {
      x = p.x;
      y = p.y;
      this.fh = this.th;
    }
    this.fx = x;
    this.fy = y;
    this.tx = p.x;
    this.ty = p.y;
    this.t0 = now;
    this.dur = Math.max(MIN_ANIM_MS, Math.min(MAX_ANIM_MS, this.interval));
    this.received = now;
    this.eventTime = t || this.eventTime;
    const old = this.vehicle;
    this.vehicle = v;
    if (old.route_id !== v.route_id || old.vehicle_type !== v.vehicle_type || layer.stateOf(old) !== layer.stateOf(v) ||
        old.passenger_count !== v.passenger_count || old.capacity !== v.capacity) {
      this.sprite = null; // drawn in other colours (the crowding mode: its load) or another shape
      if (old.route_id !== v.route_id) this.label = null;
    }
    return true;
  }

  getLatLng() {
    const p = this.position(performance.now());
    return this._layer.unproject(p.x, p.y);
  }

  /** The operations page rings vehicles with alerts: setStyle({color, weight}). */
  setStyle(style) {
    const ring = style.color != null ? style.color : this.ring;
    const width = style.weight != null ? style.weight : this.ringWidth;
    if (ring !== this.ring || width !== this.ringWidth) {
      this.ring = ring;
      this.ringWidth = width;
      this.sprite = null;
      this._layer.redraw();
    }
    return this;
  }
}
