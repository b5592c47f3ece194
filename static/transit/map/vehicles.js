// The vehicle layer: every vehicle drawn on one <canvas> per animation frame from pre-rendered
// sprites (sprites.js), each animated by its VehicleMarker (motion.js). A Leaflet layer: the
// class is made on first use, from the global L that django-leaflet's script defines.

import { ROTATIONS, angleBetween } from "./motion.js";
import { labelsVisible } from "./dispatch.js";
import { labelSprite, sprite, spriteCell } from "./sprites.js";

const DRIFT_PX = 0.75; // a vehicle drawn this far from where it is now is redrawn
const MARGIN_PX = 30; // vehicles this far outside the canvas are still drawn (their sprite reaches in)
const LABEL_GRID_PX = 6; // the cells of the grid that keeps route labels from overlapping

/** The sprite scale at a zoom level: smaller when zoomed out, larger up close. */
export function zoomScale(zoom) {
  return zoom >= 16 ? 1.4 : zoom >= 14 ? 1.15 : zoom >= 12 ? 1 : 0.75;
}

let VehicleLayer = null;

function layerClass() {
  if (VehicleLayer) return VehicleLayer;
  const L = window.L;
  VehicleLayer = L.Layer.extend({
    options: { pane: "streamcityVehicles", padding: 0.05 },

    // vehicles: Map id -> VehicleMarker; styleOf(marker) -> {fill, badge, dim}; stateOf(vehicle) -> state
    initialize(vehicles, styleOf, stateOf) {
      this.vehicles = vehicles;
      this.styleOf = styleOf;
      this.stateOf = stateOf;
      this.selected = null;
      this.draws = 0;
      this.drawMs = 0;
      this._dirty = true;
      this._scale = 1;
      this.labelOf = null; // (marker) -> route number text, or "" (the dispatcher's map sets it)
      this.labelsMinZoom = null; // labels from this zoom on; null: never
      this.labelsDrawn = 0; // labels drawn by the last draw (a hook for tests and the benchmark)
      this.labelsSkipped = 0; // and left out as they would have overlapped another
      this.overlay = null; // (ctx, dpr) -> draws over the vehicles after each draw (/ops/: alert symbols)
    },

    /** Something drawn over the vehicles after each draw, `draw(ctx, dpr)` (null: nothing); draws again. */
    setOverlay(draw) {
      this.overlay = draw;
      this._dirty = true;
    },

    /** Route numbers on the vehicles from zoom `minZoom` on (null: none), the text from `labelOf(marker)`. */
    setLabels(labelOf, minZoom) {
      this.labelOf = labelOf;
      this.labelsMinZoom = minZoom;
      this.vehicles.forEach((m) => { m.label = null; });
      this._dirty = true;
    },

    onAdd(map) {
      if (!map.getPane(this.options.pane)) {
        const pane = map.createPane(this.options.pane);
        pane.style.zIndex = 450; // above route lines and stops (400), below popups (700)
        pane.style.pointerEvents = "none";
      }
      this._canvas = L.DomUtil.create("canvas", "sc-vehicles leaflet-zoom-animated");
      this._ctx = this._canvas.getContext("2d");
      this.getPane().appendChild(this._canvas);
      this._crs = map.options.crs;
      this._reposition(true);
      const loop = (now) => {
        if (!this._map) return;
        this._raf = L.Util.requestAnimFrame(loop);
        this._frame(now);
      };
      this._raf = L.Util.requestAnimFrame(loop);
    },

    onRemove() {
      L.Util.cancelAnimFrame(this._raf);
      L.DomUtil.remove(this._canvas);
    },

    getEvents() {
      return { zoomanim: this._onAnimZoom, zoomend: this._onZoomEnd, viewreset: this._onZoomEnd,
               resize: this._onResize };
    },

    project(v) {
      return this._crs.latLngToPoint(L.latLng(v.latitude, v.longitude), 0);
    },

    unproject(x, y) {
      return this._crs.pointToLatLng(L.point(x, y), 0);
    },

    metres(x1, y1, x2, y2) {
      return this.unproject(x1, y1).distanceTo(this.unproject(x2, y2));
    },

    redraw() { this._dirty = true; },

    restyle() {
      this.vehicles.forEach((m) => { m.sprite = null; });
      this._dirty = true;
    },

    setScale(s) {
      if (s !== this._scale) { this._scale = s; this.restyle(); }
    },

    _onAnimZoom(e) {
      const scale = this._map.getZoomScale(e.zoom, this._zoom);
      const offset = this._map._latLngToNewLayerPoint(this._topLeft, e.zoom, e.center);
      L.DomUtil.setTransform(this._canvas, offset, scale);
    },

    _onZoomEnd() {
      this.vehicles.forEach((m) => { m.sprite = null; });
      this._reposition(true);
    },

    _onResize() { this._reposition(true); },

    // Keep the canvas over the view (plus padding). The canvas lives in the map pane, so a drag
    // moves it along for free; it is only moved back (and redrawn) once the view leaves it.
    _reposition(force) {
      const map = this._map, size = map.getSize();
      if (!force && this._min && this._zoom === map.getZoom()) {
        const view = map.containerPointToLayerPoint([0, 0]);
        if (view.x >= this._min.x && view.y >= this._min.y &&
            view.x + size.x <= this._min.x + this._w && view.y + size.y <= this._min.y + this._h) return;
      }
      const p = this.options.padding;
      const min = map.containerPointToLayerPoint(size.multiplyBy(-p)).round();
      const w = Math.round(size.x * (1 + 2 * p)), h = Math.round(size.y * (1 + 2 * p));
      const dpr = window.devicePixelRatio || 1;
      if (this._w !== w || this._h !== h || this._dpr !== dpr) {
        this._w = w; this._h = h; this._dpr = dpr;
        this._canvas.width = Math.round(w * dpr);
        this._canvas.height = Math.round(h * dpr);
        this._canvas.style.width = w + "px";
        this._canvas.style.height = h + "px";
      }
      L.DomUtil.setPosition(this._canvas, min);
      this._min = min;
      this._zoom = map.getZoom();
      this._topLeft = map.layerPointToLatLng(min);
      this._dirty = true;
    },

    _frame(now) {
      if (this._map._animatingZoom) return; // the canvas is scaled by CSS until the zoom ends
      this._reposition(false);
      if (!this._dirty && !(this._moving && this._drifted(now))) return;
      const t0 = performance.now();
      this._moving = this._draw(now);
      this._dirty = false;
      this.draws += 1;
      this.drawMs += performance.now() - t0;
    },

    // Whether a vehicle has moved DRIFT_PX or turned half a heading step since it was drawn. Drawing
    // is to whole pixels, so redrawing more often would show nothing new: at city zooms a few
    // redraws a second, up close one per frame. (The interpolation is inlined: this runs over
    // every vehicle every frame.)
    _drifted(now) {
      const s = this._map.getZoomScale(this._zoom, 0), origin = this._map.getPixelOrigin();
      const drift = DRIFT_PX * DRIFT_PX, minX = this._min.x, minY = this._min.y, w = this._w, h = this._h;
      for (const m of this.vehicles.values()) {
        let k = (now - m.t0) / m.dur;
        if (k >= 1) { if (m.drawnK >= 1) continue; k = 1; }
        if (k < 0) k = 0;
        const lx = (m.fx + (m.tx - m.fx) * k) * s - origin.x, ly = (m.fy + (m.ty - m.fy) * k) * s - origin.y;
        if (m.cell < 0) { // off the canvas when drawn: only its coming into view matters
          const x = lx - minX, y = ly - minY;
          if (x < -MARGIN_PX || y < -MARGIN_PX || x > w + MARGIN_PX || y > h + MARGIN_PX) continue;
          return true;
        }
        const dx = lx - m.lx, dy = ly - m.ly;
        if (dx * dx + dy * dy >= drift) return true;
        if (angleBetween(m.heading(k), m.drawnHeading) >= Math.PI / ROTATIONS) return true;
      }
      return false;
    },

    // Draws every vehicle; returns true while some are still moving.
    _draw(now) {
      const ctx = this._ctx, dpr = this._dpr, w = this._w, h = this._h;
      const s = this._map.getZoomScale(this._zoom, 0);
      const origin = this._map.getPixelOrigin();
      const offX = -this._min.x, offY = -this._min.y;
      const scale = this._scale * zoomScale(this._zoom);
      const styleOf = this.styleOf, selected = this.selected;
      let moving = false;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this._canvas.width, this._canvas.height);
      this.vehicles.forEach((m) => {
        let k = (now - m.t0) / m.dur;
        if (k < 1) moving = true; else k = 1;
        if (k < 0) k = 0;
        const lx = (m.fx + (m.tx - m.fx) * k) * s - origin.x, ly = (m.fy + (m.ty - m.fy) * k) * s - origin.y;
        const x = lx + offX, y = ly + offY;
        m.lx = lx; m.ly = ly; m.cx = x; m.cy = y; m.drawnK = k;
        m.cell = -1;
        if (x < -MARGIN_PX || y < -MARGIN_PX || x > w + MARGIN_PX || y > h + MARGIN_PX) return;
        let sp = m.sprite;
        if (!sp || m.spriteScale !== scale) {
          const st = styleOf(m);
          sp = m.sprite = sprite(m.vehicle.vehicle_type, st.fill, m.ring, m.ringWidth, scale, st.badge, st.dim);
          m.spriteScale = scale;
        }
        const a = m.drawnHeading = m.heading(k);
        const i = m.cell = spriteCell(sp, a), c = sp.cell;
        ctx.drawImage(sp.canvas, i * c, 0, c, c, Math.round(x * dpr - c / 2), Math.round(y * dpr - c / 2), c, c);
      });
      this.labelsDrawn = this.labelsSkipped = 0;
      if (this.labelOf && labelsVisible(this._zoom, this.labelsMinZoom)) this.labelsDrawn = this._drawLabels(scale);
      if (selected && this.vehicles.get(selected.vehicle.vehicle_id) === selected) {
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.beginPath();
        ctx.arc(selected.cx, selected.cy, (selected.sprite ? selected.sprite.r : 10) + 4, 0, 2 * Math.PI);
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(29,39,51,0.85)";
        ctx.stroke();
      }
      if (this.overlay) {
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        this.overlay(ctx, dpr);
      }
      return moving;
    },

    // The route numbers, over every vehicle drawn (a second pass, so no vehicle covers a label):
    // one cached sprite per text, copied to the right of and above the vehicle. A label that would
    // overlap one already drawn is left out (a coarse occupancy grid of LABEL_GRID_PX cells): a
    // crowded view stays legible, and the labels drawn are bounded by the view's area, not the fleet.
    _drawLabels(scale) {
      const ctx = this._ctx, dpr = this._dpr, labelOf = this.labelOf, w = this._w, h = this._h;
      const cols = Math.ceil(w / LABEL_GRID_PX) + 1, rows = Math.ceil(h / LABEL_GRID_PX) + 1;
      if (!this._grid || this._grid.length !== cols * rows) this._grid = new Uint8Array(cols * rows);
      const grid = this._grid;
      grid.fill(0);
      let n = 0, skipped = 0;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      this.vehicles.forEach((m) => {
        m.labelled = false;
        if (m.cell < 0) return;
        let ls = m.label;
        if (!ls || m.labelScale !== scale) {
          const text = labelOf(m);
          ls = m.label = text ? labelSprite(text, scale) : false;
          m.labelScale = scale;
        }
        if (!ls) return;
        const r = m.sprite ? m.sprite.r : 8;
        const x = m.cx + r * 0.55, y = m.cy - r * 0.55 - ls.cssH;
        const c0 = Math.max(0, Math.floor(x / LABEL_GRID_PX)), c1 = Math.min(cols - 1, Math.floor((x + ls.cssW) / LABEL_GRID_PX));
        const r0 = Math.max(0, Math.floor(y / LABEL_GRID_PX)), r1 = Math.min(rows - 1, Math.floor((y + ls.cssH) / LABEL_GRID_PX));
        for (let j = r0; j <= r1; j++) for (let i = c0; i <= c1; i++) if (grid[j * cols + i]) { skipped += 1; return; }
        for (let j = r0; j <= r1; j++) grid.fill(1, j * cols + c0, j * cols + c1 + 1);
        ctx.drawImage(ls.image, Math.round(x * dpr), Math.round(y * dpr));
        m.labelled = true;
        n += 1;
      });
      this.labelsSkipped = skipped;
      return n;
    },

    // The vehicle drawn nearest to a container point, within its sprite's reach.
    hit(containerPoint) {
      if (!this._min) return null;
      const lp = this._map.containerPointToLayerPoint(containerPoint);
      const x = lp.x - this._min.x, y = lp.y - this._min.y;
      let best = null, bestD = Infinity;
      this.vehicles.forEach((m) => {
        const dx = m.cx - x, dy = m.cy - y, d = dx * dx + dy * dy;
        const reach = (m.sprite ? m.sprite.r : 8) + 4;
        if (d < reach * reach && d < bestD) { best = m; bestD = d; }
      });
      return best;
    },
  });
  return VehicleLayer;
}

/** A new vehicle layer over `vehicles` (see initialize); add it to a map with .addTo(map). */
export function createVehicleLayer(vehicles, styleOf, stateOf) {
  const Layer = layerClass();
  return new Layer(vehicles, styleOf, stateOf);
}
