// StreamCity live map: thousands of vehicles drawn on one canvas, fed by /ws/live/ subscriptions.
//
// window.streamcityLiveMap(map) turns a Leaflet map (django-leaflet's callback) into the live map:
// - VehicleLayer draws every vehicle on one <canvas> per animation frame from pre-rendered sprites
//   (a shape per vehicle type, rotated to its heading), animating each vehicle from where it is
//   drawn to its newest position over the interval between its updates (never more than one
//   update behind, never a jump);
// - the socket subscribes to the area in view (plus filters), gets a snapshot, then frames of
//   changes; it reconnects with backoff and resynchronises from a new snapshot;
// - filters by vehicle type and route, a search box, colour by route or by service state with a
//   legend, route lines and stops from the network, popups for vehicles and stops (next arrivals).
// Hooks kept for the operations page and the tests: container.streamcityMarkers (Map vehicle_id ->
// marker with getLatLng() and setStyle({color, weight}) for a ring), #vehicle-count, #connection,
// and data-vehicle-count / data-connected on the map container.
(function () {
  "use strict";

  var SCRIPT_SRC = document.currentScript ? document.currentScript.src : "";
  var TYPES = ["bus", "tram", "rail", "subway", "ferry", "cable", "other"];
  var TYPE_LABELS = { bus: "Bus", tram: "Tram", rail: "Train", subway: "Metro", ferry: "Ferry", cable: "Cable car", other: "Other" };
  var MAIN_TYPES = ["bus", "tram", "rail", "ferry"];
  var EARLY_S = -60; // more than a minute early
  var LATE_S = 180; // more than three minutes late (the same classes in transit/subscriptions.py)
  var STATES = [
    { key: "on_time", label: "On time (1 min early – 3 min late)", colour: "#2e7d32" },
    { key: "late", label: "Late (over 3 min)", colour: "#ef6c00" },
    { key: "early", label: "Early (over 1 min)", colour: "#1e88e5" },
    { key: "broken_down", label: "Broken down", colour: "#c62828" },
    { key: "unknown", label: "No schedule", colour: "#78909c" },
    { key: "out_of_service", label: "Out of service", colour: "#9e9e9e" },
  ];
  var STATE_COLOURS = {};
  STATES.forEach(function (s) { STATE_COLOURS[s.key] = s.colour; });
  var PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#f032e6", "#9a6324",
                 "#800000", "#2f4f4f", "#000075", "#808000", "#c2185b", "#00838f", "#5d4037", "#283593"];
  var SNAP_METRES = 3000; // a vehicle that jumps further than this is placed, not animated
  var MIN_ANIM_MS = 100;
  var MAX_ANIM_MS = 2500;
  var DRIFT_PX = 0.75; // a vehicle drawn this far from where it is now is redrawn

  // -- small helpers --------------------------------------------------------------------------

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function el(tag, cls, html) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (html != null) e.innerHTML = html;
    return e;
  }

  function hashColour(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return PALETTE[Math.abs(h) % PALETTE.length];
  }

  function naturalCompare(a, b) {
    return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
  }

  function textColourFor(hex) {
    var m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
    if (!m) return "#fff";
    var lum = 0.299 * parseInt(m[1], 16) + 0.587 * parseInt(m[2], 16) + 0.114 * parseInt(m[3], 16);
    return lum > 160 ? "#111" : "#fff";
  }

  function deviationText(s) {
    if (s == null) return "no schedule";
    var a = Math.abs(Math.round(s));
    var m = Math.floor(a / 60), sec = a % 60;
    if (a < 30) return "on time";
    var t = (m ? m + " min " : "") + (sec ? sec + " s" : "");
    return t.trim() + (s > 0 ? " late" : " early");
  }

  function ageText(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s ago";
    return Math.floor(s / 3600) + " h ago";
  }

  function crowding(v) {
    if (!v.capacity) return { label: "unknown", level: "unknown", pct: null };
    var pct = Math.round((100 * v.passenger_count) / v.capacity);
    if (pct < 35) return { label: "many seats free", level: "low", pct: pct };
    if (pct < 70) return { label: "some seats free", level: "medium", pct: pct };
    if (pct < 95) return { label: "standing room", level: "high", pct: pct };
    return { label: "full", level: "full", pct: pct };
  }

  function serviceState(v) {
    if (v.status === "broken_down") return "broken_down";
    if (v.status === "out_of_service") return "out_of_service";
    if (v.delay_seconds == null) return "unknown";
    if (v.delay_seconds > LATE_S) return "late";
    if (v.delay_seconds < EARLY_S) return "early";
    return "on_time";
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(r.status + " " + url);
      return r.json();
    });
  }

  function ensureStylesheet() {
    if (document.querySelector("link[data-streamcity-live-map]") || !SCRIPT_SRC) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = SCRIPT_SRC.replace(/live_map\.js(\?.*)?$/, "live_map.css");
    link.setAttribute("data-streamcity-live-map", "");
    document.head.appendChild(link);
  }

  // -- vehicle sprites: one shape per type, pointing north, rotated at draw time ---------------

  // Outlines in a unit box: x across (-0.5..0.5), y along (-0.5 nose .. 0.5 tail).
  var SHAPES = {
    bus: { w: 9, l: 15, path: function (c, w, l) { roundedNose(c, w, l, 0.32, 2.2); } },
    tram: { w: 7, l: 19, path: function (c, w, l) { roundedNose(c, w, l, 0.2, 1.5); } },
    rail: { w: 7, l: 24, path: function (c, w, l) { roundedNose(c, w, l, 0.14, 1); } },
    subway: { w: 7, l: 21, path: function (c, w, l) { roundedNose(c, w, l, 0.16, 3); } },
    ferry: { w: 11, l: 17, path: function (c, w, l) {
      c.moveTo(0, -l / 2);
      c.quadraticCurveTo(w / 2, -l / 6, w / 2, l / 2);
      c.lineTo(-w / 2, l / 2);
      c.quadraticCurveTo(-w / 2, -l / 6, 0, -l / 2);
    } },
    cable: { w: 11, l: 13, path: function (c, w, l) { circleNose(c, w, l); } },
    other: { w: 11, l: 13, path: function (c, w, l) { circleNose(c, w, l); } },
  };

  function roundedNose(c, w, l, noseShare, r) {
    var nose = l * noseShare, top = -l / 2, bottom = l / 2;
    c.moveTo(0, top);
    c.lineTo(w / 2, top + nose);
    c.lineTo(w / 2, bottom - r);
    c.quadraticCurveTo(w / 2, bottom, w / 2 - r, bottom);
    c.lineTo(-w / 2 + r, bottom);
    c.quadraticCurveTo(-w / 2, bottom, -w / 2, bottom - r);
    c.lineTo(-w / 2, top + nose);
    c.closePath();
  }

  function circleNose(c, w, l) {
    var r = w / 2, cy = l / 2 - r;
    c.moveTo(0, -l / 2);
    c.lineTo(r * 0.7, cy - r * 0.7);
    c.arc(0, cy, r, -Math.PI / 4, Math.PI * 1.25);
    c.closePath();
  }

  var spriteCache = new Map();
  var ROTATIONS = 48; // headings are drawn in steps of 7.5°

  // A sprite: one style of one vehicle type, pre-rendered at each of ROTATIONS headings side by
  // side in one canvas (device pixels). Drawing a vehicle is then a plain copy of one cell to
  // whole pixels — no rotation or resampling per vehicle per frame, which software rendering
  // (Chromium without a GPU) cannot do 2,000 times a frame. Cells are rendered on first use.
  function sprite(type, fill, ring, ringWidth, scale, badge, dim) {
    var key = type + "|" + fill + "|" + ring + "|" + ringWidth + "|" + scale + "|" + badge + "|" + dim;
    var s = spriteCache.get(key);
    if (s) return s;
    var shape = SHAPES[type] || SHAPES.other;
    var dpr = window.devicePixelRatio || 1;
    var w = shape.w * scale, l = shape.l * scale, pad = ringWidth / 2 + 2.5;
    var size = Math.ceil(Math.sqrt((w + 2 * pad) * (w + 2 * pad) + (l + 2 * pad) * (l + 2 * pad)));
    var cell = Math.ceil(size * dpr);
    var canvas = document.createElement("canvas");
    canvas.width = cell * ROTATIONS;
    canvas.height = cell;
    s = {
      canvas: canvas, ctx: canvas.getContext("2d"), cell: cell, dpr: dpr, size: size,
      r: Math.max(w, l) / 2 + pad, done: new Uint8Array(ROTATIONS),
      paint: function (c) {
        c.beginPath();
        shape.path(c, w, l);
        c.globalAlpha = dim ? 0.55 : 1;
        c.fillStyle = fill;
        c.fill();
        c.globalAlpha = 1;
        c.lineJoin = "round";
        c.lineWidth = ringWidth + 2; // a dark edge outside the ring: visible on any tile and on its own route line
        c.strokeStyle = "rgba(20,28,36,0.6)";
        c.stroke();
        c.lineWidth = ringWidth;
        c.strokeStyle = ring;
        c.stroke();
        if (badge) { // broken down, drawn in route colours: a red dot with a white edge
          c.beginPath();
          c.arc(0, l * 0.1, Math.max(2.2, w * 0.3), 0, 2 * Math.PI);
          c.fillStyle = STATE_COLOURS.broken_down;
          c.fill();
          c.lineWidth = 1;
          c.strokeStyle = "#fff";
          c.stroke();
        }
      },
    };
    spriteCache.set(key, s);
    if (spriteCache.size > 2000) spriteCache.clear(); // colours come and go; never grow without bound
    return s;
  }

  function headingCell(angle) {
    var i = Math.round(angle / (2 * Math.PI / ROTATIONS)) % ROTATIONS;
    return i < 0 ? i + ROTATIONS : i;
  }

  // The cell of heading `angle` (radians clockwise from north), rendered if it is not yet.
  function spriteCell(s, angle) {
    var i = headingCell(angle);
    if (!s.done[i]) {
      var c = s.ctx, a = i * 2 * Math.PI / ROTATIONS;
      c.setTransform(s.dpr * Math.cos(a), s.dpr * Math.sin(a), -s.dpr * Math.sin(a), s.dpr * Math.cos(a),
                     (i + 0.5) * s.cell, 0.5 * s.cell);
      s.paint(c);
      s.done[i] = 1;
    }
    return i;
  }

  function iconCanvas(type, fill) {
    var s = sprite(type, fill, "#fff", 1, 1, false, false);
    var i = spriteCell(s, Math.PI / 4);
    var c = document.createElement("canvas");
    c.width = c.height = s.cell;
    c.style.width = c.style.height = s.size + "px";
    c.className = "sc-icon";
    c.getContext("2d").drawImage(s.canvas, i * s.cell, 0, s.cell, s.cell, 0, 0, s.cell, s.cell);
    return c;
  }

  // -- a vehicle: its latest data and its animation in zoom-0 projected pixels ------------------

  function VehicleMarker(layer, v, now) {
    this._layer = layer;
    this.vehicle = v;
    this.ring = "#fff";
    this.ringWidth = 1;
    this.received = now;
    this.interval = 1000;
    this.t0 = now;
    this.dur = 1;
    var p = layer.project(v);
    this.fx = this.tx = p.x;
    this.fy = this.ty = p.y;
    this.fh = this.th = (v.bearing || 0) * Math.PI / 180;
    this.eventTime = Date.parse(v.timestamp) || 0;
    this.snapshotAt = now;
    this.cx = this.cy = -1e9; // where it was last drawn (canvas pixels), for clicks
    this.sprite = null;
  }

  VehicleMarker.prototype.progress = function (now) {
    var k = (now - this.t0) / this.dur;
    return k >= 1 ? 1 : k <= 0 ? 0 : k;
  };

  VehicleMarker.prototype.heading = function (k) {
    var d = this.th - this.fh;
    if (d > Math.PI) d -= 2 * Math.PI;
    else if (d < -Math.PI) d += 2 * Math.PI;
    return this.fh + d * k;
  };

  // New data: animate from where it is drawn now to the new position over its update interval.
  // A snapshot is the truth; a frame older than the snapshot just applied is one that was on its
  // way before the snapshot was read, and is skipped. (Older reports are accepted otherwise: a
  // restarted simulation's clock may start again from an earlier time.)
  VehicleMarker.prototype.update = function (v, now, fromSnapshot) {
    var t = Date.parse(v.timestamp) || 0;
    if (fromSnapshot) this.snapshotAt = now;
    else if (t && t < this.eventTime && now - this.snapshotAt < 5000) return false;
    var k = this.progress(now);
    var x = this.fx + (this.tx - this.fx) * k, y = this.fy + (this.ty - this.fy) * k;
    var p = this._layer.project(v);
    var gap = now - this.received;
    if (gap > 20) this.interval = this.interval * 0.6 + Math.min(gap, MAX_ANIM_MS) * 0.4;
    this.fh = this.heading(k);
    this.th = (v.bearing || 0) * Math.PI / 180;
    if (this._layer.metres(x, y, p.x, p.y) > SNAP_METRES) { x = p.x; y = p.y; this.fh = this.th; }
    this.fx = x; this.fy = y; this.tx = p.x; this.ty = p.y;
    this.t0 = now;
    this.dur = Math.max(MIN_ANIM_MS, Math.min(MAX_ANIM_MS, this.interval));
    this.received = now;
    this.eventTime = t || this.eventTime;
    var old = this.vehicle;
    this.vehicle = v;
    if (old.route_id !== v.route_id || old.vehicle_type !== v.vehicle_type || serviceState(old) !== serviceState(v)) {
      this.sprite = null;
    }
    return true;
  };

  VehicleMarker.prototype.position = function (now) {
    var k = this.progress(now);
    return { x: this.fx + (this.tx - this.fx) * k, y: this.fy + (this.ty - this.fy) * k };
  };

  VehicleMarker.prototype.getLatLng = function () {
    var p = this.position(performance.now());
    return this._layer.unproject(p.x, p.y);
  };

  // The operations page rings vehicles with alerts: setStyle({color, weight}).
  VehicleMarker.prototype.setStyle = function (style) {
    var ring = style.color != null ? style.color : this.ring;
    var width = style.weight != null ? style.weight : this.ringWidth;
    if (ring !== this.ring || width !== this.ringWidth) {
      this.ring = ring;
      this.ringWidth = width;
      this.sprite = null;
      this._layer.redraw();
    }
    return this;
  };

  // -- the canvas layer ----------------------------------------------------------------------

  var VehicleLayer = L.Layer.extend({
    options: { pane: "streamcityVehicles", padding: 0.05 },

    initialize: function (vehicles, styleOf) {
      this.vehicles = vehicles; // Map id -> VehicleMarker
      this.styleOf = styleOf; // marker -> {fill, badge, dim}
      this.selected = null;
      this.draws = 0;
      this.drawMs = 0;
      this._dirty = true;
      this._scale = 1;
    },

    onAdd: function (map) {
      if (!map.getPane(this.options.pane)) {
        var pane = map.createPane(this.options.pane);
        pane.style.zIndex = 450; // above route lines and stops (400), below popups (700)
        pane.style.pointerEvents = "none";
      }
      this._canvas = L.DomUtil.create("canvas", "sc-vehicles leaflet-zoom-animated");
      this._ctx = this._canvas.getContext("2d");
      this.getPane().appendChild(this._canvas);
      this._crs = map.options.crs;
      this._reposition(true);
      var self = this;
      var loop = function (now) {
        if (!self._map) return;
        self._raf = L.Util.requestAnimFrame(loop);
        self._frame(now);
      };
      this._raf = L.Util.requestAnimFrame(loop);
    },

    onRemove: function () {
      L.Util.cancelAnimFrame(this._raf);
      L.DomUtil.remove(this._canvas);
    },

    getEvents: function () {
      return { zoomanim: this._onAnimZoom, zoomend: this._onZoomEnd, viewreset: this._onZoomEnd, resize: this._onResize };
    },

    project: function (v) {
      return this._crs.latLngToPoint(L.latLng(v.latitude, v.longitude), 0);
    },

    unproject: function (x, y) {
      return this._crs.pointToLatLng(L.point(x, y), 0);
    },

    metres: function (x1, y1, x2, y2) {
      return this.unproject(x1, y1).distanceTo(this.unproject(x2, y2));
    },

    redraw: function () { this._dirty = true; },

    setScale: function (s) {
      if (s !== this._scale) { this._scale = s; this.vehicles.forEach(function (m) { m.sprite = null; }); this._dirty = true; }
    },

    _onAnimZoom: function (e) {
      var scale = this._map.getZoomScale(e.zoom, this._zoom);
      var offset = this._map._latLngToNewLayerPoint(this._topLeft, e.zoom, e.center);
      L.DomUtil.setTransform(this._canvas, offset, scale);
    },

    _onZoomEnd: function () {
      this.vehicles.forEach(function (m) { m.sprite = null; });
      this._reposition(true);
    },

    _onResize: function () { this._reposition(true); },

    // Keep the canvas over the view (plus padding). The canvas lives in the map pane, so a drag
    // moves it along for free; it is only moved back (and redrawn) once the view leaves it.
    _reposition: function (force) {
      var map = this._map, size = map.getSize();
      if (!force && this._min && this._zoom === map.getZoom()) {
        var view = map.containerPointToLayerPoint([0, 0]);
        if (view.x >= this._min.x && view.y >= this._min.y &&
            view.x + size.x <= this._min.x + this._w && view.y + size.y <= this._min.y + this._h) return;
      }
      var p = this.options.padding;
      var min = map.containerPointToLayerPoint(size.multiplyBy(-p)).round();
      var w = Math.round(size.x * (1 + 2 * p)), h = Math.round(size.y * (1 + 2 * p));
      var dpr = window.devicePixelRatio || 1;
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

    _frame: function (now) {
      var map = this._map;
      if (map._animatingZoom) return; // the canvas is scaled by CSS until the zoom ends
      this._reposition(false);
      if (!this._dirty && !(this._moving && this._drifted(now))) return;
      var t0 = performance.now();
      this._moving = this._draw(now);
      this._dirty = false;
      this.draws += 1;
      this.drawMs += performance.now() - t0;
    },

    // Whether a vehicle has moved DRIFT_PX or turned half a heading step since it was drawn. Drawing
    // is to whole pixels, so redrawing more often would show nothing new: at city zooms a few
    // redraws a second, up close one per frame.
    _drifted: function (now) {
      var s = this._map.getZoomScale(this._zoom, 0), origin = this._map.getPixelOrigin();
      var drift = DRIFT_PX * DRIFT_PX, minX = this._min.x, minY = this._min.y, w = this._w, h = this._h;
      for (var m of this.vehicles.values()) {
        var k = (now - m.t0) / m.dur;
        if (k >= 1) { if (m.drawnK >= 1) continue; k = 1; }
        if (k < 0) k = 0;
        var lx = (m.fx + (m.tx - m.fx) * k) * s - origin.x, ly = (m.fy + (m.ty - m.fy) * k) * s - origin.y;
        if (m.cell < 0) { // off the canvas when drawn: only its coming into view matters
          var x = lx - minX, y = ly - minY;
          if (x < -30 || y < -30 || x > w + 30 || y > h + 30) continue;
          return true;
        }
        var dx = lx - m.lx, dy = ly - m.ly, turn = Math.abs(m.heading(k) - m.drawnHeading) % (2 * Math.PI);
        if (dx * dx + dy * dy >= drift || Math.min(turn, 2 * Math.PI - turn) >= Math.PI / ROTATIONS) return true;
      }
      return false;
    },

    // Draws every vehicle; returns true while some are still moving.
    _draw: function (now) {
      var ctx = this._ctx, dpr = this._dpr, w = this._w, h = this._h;
      var s = this._map.getZoomScale(this._zoom, 0);
      var origin = this._map.getPixelOrigin();
      var offX = -this._min.x, offY = -this._min.y;
      var moving = false, scale = this._scale * (this._zoom >= 16 ? 1.4 : this._zoom >= 14 ? 1.15 : this._zoom >= 12 ? 1 : 0.75);
      var styleOf = this.styleOf, selected = this.selected;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this._canvas.width, this._canvas.height);
      this.vehicles.forEach(function (m) {
        var k = (now - m.t0) / m.dur;
        if (k < 1) moving = true; else k = 1;
        if (k < 0) k = 0;
        var lx = (m.fx + (m.tx - m.fx) * k) * s - origin.x, ly = (m.fy + (m.ty - m.fy) * k) * s - origin.y;
        var x = lx + offX, y = ly + offY;
        m.lx = lx; m.ly = ly; m.cx = x; m.cy = y; m.drawnK = k;
        m.cell = -1;
        if (x < -30 || y < -30 || x > w + 30 || y > h + 30) return;
        var sp = m.sprite;
        if (!sp || m.spriteScale !== scale) {
          var st = styleOf(m);
          sp = m.sprite = sprite(m.vehicle.vehicle_type, st.fill, m.ring, m.ringWidth, scale, st.badge, st.dim);
          m.spriteScale = scale;
        }
        var a = m.drawnHeading = m.heading(k);
        var i = m.cell = spriteCell(sp, a), c = sp.cell;
        ctx.drawImage(sp.canvas, i * c, 0, c, c, Math.round(x * dpr - c / 2), Math.round(y * dpr - c / 2), c, c);
      });
      if (selected && this.vehicles.get(selected.vehicle.vehicle_id) === selected) {
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.beginPath();
        ctx.arc(selected.cx, selected.cy, (selected.sprite ? selected.sprite.r : 10) + 4, 0, 2 * Math.PI);
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(29,39,51,0.85)";
        ctx.stroke();
      }
      return moving;
    },

    // The vehicle drawn nearest to a container point, within its sprite's reach.
    hit: function (containerPoint) {
      if (!this._min) return null;
      var lp = this._map.containerPointToLayerPoint(containerPoint);
      var x = lp.x - this._min.x, y = lp.y - this._min.y;
      var best = null, bestD = Infinity;
      this.vehicles.forEach(function (m) {
        var dx = m.cx - x, dy = m.cy - y, d = dx * dx + dy * dy;
        var reach = (m.sprite ? m.sprite.r : 8) + 4;
        if (d < reach * reach && d < bestD) { best = m; bestD = d; }
      });
      return best;
    },
  });

  // -- the live map --------------------------------------------------------------------------

  window.streamcityLiveMap = function (map) {
    var container = map.getContainer();
    if (container.streamcityLive) return container.streamcityLive;
    ensureStylesheet();
    var cfgEl = document.getElementById("live-map-config");
    var cfg = L.Util.extend({
      stale_seconds: 300,
      urls: { socket: "/ws/live/", network: "/api/network/", stops: "/api/stops/", vehicle: "/api/vehicles/",
              search: "/api/search/" },
      panel: true,
    }, cfgEl ? JSON.parse(cfgEl.textContent) : {});
    var params = new URLSearchParams(location.search);
    var vehicles = new Map();
    var routes = new Map(); // route_id -> {route_id, short_name, long_name, vehicle_type, color, text_color, shapes}
    var typesSeen = new Set(MAIN_TYPES);
    var filters = {
      types: new Set(params.getAll("type").filter(function (t) { return TYPES.indexOf(t) >= 0; })), // empty: all
      routes: new Set(params.getAll("route")), // empty: all
      colour: params.get("colour") === "state" ? "state" : "route",
    };
    var plan = null; // the server's view of our subscription (from the last snapshot)
    var asked = null; // the subscription last sent
    var ws = null, retry = 0, retryTimer = null, everConnected = false, messages = 0, messageMs = 0;
    var countEl = document.getElementById("vehicle-count");
    var connEl = document.getElementById("connection");
    var popup = L.popup({ className: "sc-popup-wrap", maxWidth: 320, autoPanPadding: [30, 30] });
    var popupTimer = null;
    var details = {}; // vehicle_id -> {trip_id, next_stop_id, data}
    var pendingOpen = null;

    function routeColour(id) {
      var r = id && routes.get(id);
      if (r && r.color) return "#" + r.color.replace(/^#/, "");
      return id ? hashColour(id) : "#546e7a";
    }

    function styleOf(m) {
      var v = m.vehicle, state = serviceState(v);
      if (state === "out_of_service") return { fill: STATE_COLOURS.out_of_service, badge: false, dim: true };
      if (filters.colour === "state") return { fill: STATE_COLOURS[state], badge: false, dim: false };
      return { fill: routeColour(v.route_id), badge: state === "broken_down", dim: false };
    }

    var layer = new VehicleLayer(vehicles, styleOf).addTo(map);
    var wall = window.matchMedia("(min-width: 1800px)");
    function applyScale() { layer.setScale(wall.matches ? 1.5 : 1); }
    if (wall.addEventListener) wall.addEventListener("change", applyScale);
    applyScale();

    // -- filters --------------------------------------------------------------------------------

    function shown(v) {
      if (filters.types.size && !filters.types.has(v.vehicle_type)) return false;
      if (filters.routes.size && !filters.routes.has(v.route_id)) return false;
      var area = plan && plan.area;
      if (area && (v.longitude < area[0] || v.latitude < area[1] || v.longitude > area[2] || v.latitude > area[3])) return false;
      return true;
    }

    function remove(id) {
      vehicles.delete(id);
      if (layer.selected && layer.selected.vehicle.vehicle_id === id) closeVehiclePopup();
    }

    function upsert(v, now, fromSnapshot) {
      var m = vehicles.get(v.vehicle_id);
      if (!shown(v)) { if (m) remove(v.vehicle_id); return; }
      if (!typesSeen.has(v.vehicle_type)) { typesSeen.add(v.vehicle_type); ui.types(); }
      if (v.route_id && !routes.has(v.route_id)) {
        routes.set(v.route_id, { route_id: v.route_id, short_name: v.route_id, long_name: "", vehicle_type: v.vehicle_type,
                                 color: "", text_color: "", shapes: [], seen: true });
        ui.routesChanged();
      }
      if (!m) vehicles.set(v.vehicle_id, new VehicleMarker(layer, v, now));
      else m.update(v, now, fromSnapshot);
    }

    // Snapshots and frames carry vehicles as rows named once by msg.fields (the server's compact
    // form: positions to 0.1 m, the timestamp in epoch ms); the map works on objects.
    function vehiclesOf(msg) {
      var fields = msg.fields, rows = msg.vehicles || [];
      if (!fields) return rows;
      var out = new Array(rows.length);
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i], v = {};
        for (var k = 0; k < fields.length; k++) v[fields[k]] = row[k];
        if (v.timestamp_ms != null) v.timestamp = new Date(v.timestamp_ms).toISOString();
        out[i] = v;
      }
      return out;
    }

    // A snapshot may come in parts (large ones do): vehicles missing from every part are removed.
    var snapshotSeen = null;
    function snapshot(msg) {
      var now = performance.now();
      if (!msg.part) {
        plan = msg.subscription || null;
        snapshotSeen = new Set();
      }
      if (!snapshotSeen) return; // a part whose beginning this socket never saw
      vehiclesOf(msg).forEach(function (v) { snapshotSeen.add(v.vehicle_id); upsert(v, now, true); });
      if (msg.parts && msg.part < msg.parts - 1) return;
      var seen = snapshotSeen;
      snapshotSeen = null;
      Array.from(vehicles.keys()).forEach(function (id) { if (!seen.has(id)) remove(id); });
      container.dataset.subscription = JSON.stringify(plan);
      container.dataset.snapshots = String(Number(container.dataset.snapshots || 0) + 1);
      layer.redraw();
      updateCount();
      if (pendingOpen && vehicles.has(pendingOpen)) { openVehicle(pendingOpen); pendingOpen = null; }
      if (popup.isOpen() && layer.selected) refreshPopup();
    }

    function frame(msg) {
      var now = performance.now();
      var changed = vehiclesOf(msg);
      for (var i = 0; i < changed.length; i++) upsert(changed[i], now, false);
      layer.redraw();
      updateCount();
    }

    function refilter() {
      Array.from(vehicles.values()).forEach(function (m) { if (!shown(m.vehicle)) remove(m.vehicle.vehicle_id); });
      vehicles.forEach(function (m) { m.sprite = null; });
      layer.redraw();
      updateCount();
      ui.routeLines();
      saveState();
      subscribe(true);
    }

    function dropStale() {
      var limit = performance.now() - cfg.stale_seconds * 1000;
      Array.from(vehicles.values()).forEach(function (m) { if (m.received < limit) remove(m.vehicle.vehicle_id); });
      updateCount();
    }

    var lastCount = -1;
    function updateCount() {
      if (vehicles.size === lastCount) return;
      lastCount = vehicles.size;
      container.dataset.vehicleCount = String(vehicles.size);
      if (countEl) countEl.textContent = String(vehicles.size);
    }

    function saveState() {
      var q = new URLSearchParams(location.search);
      ["type", "route", "colour"].forEach(function (k) { q.delete(k); });
      filters.types.forEach(function (t) { q.append("type", t); });
      filters.routes.forEach(function (r) { q.append("route", r); });
      if (filters.colour === "state") q.set("colour", "state");
      var s = q.toString();
      history.replaceState(null, "", location.pathname + (s ? "?" + s : "") + location.hash);
    }

    // -- the socket -----------------------------------------------------------------------------

    function wanted() {
      var b = map.getBounds().pad(0.5);
      return {
        bbox: [b.getWest(), Math.max(-85, b.getSouth()), b.getEast(), Math.min(85, b.getNorth())].map(function (x) {
          return Math.round(x * 1e5) / 1e5;
        }),
        routes: Array.from(filters.routes),
        vehicle_types: Array.from(filters.types),
        zoom: map.getZoom(), // zoomed out, the server sends the moves a pixel can show
      };
    }

    function needsResubscribe() {
      if (!asked) return true;
      // another level of detail (the server sends every change from zoom 14 on)
      if (Math.min(Math.floor(map.getZoom()), 14) !== Math.min(Math.floor(asked.zoom), 14)) return true;
      if (asked.routes.length) return false; // a route subscription covers the routes wherever they go
      var v = map.getBounds(), b = asked.bbox;
      if (v.getWest() < b[0] || v.getSouth() < b[1] || v.getEast() > b[2] || v.getNorth() > b[3]) return true;
      var viewArea = (v.getEast() - v.getWest()) * (v.getNorth() - v.getSouth());
      return viewArea * 20 < (b[2] - b[0]) * (b[3] - b[1]); // zoomed far in: finer tiles, fewer frames
    }

    var subscribeTimer = null;
    function subscribe(force) {
      clearTimeout(subscribeTimer);
      subscribeTimer = setTimeout(function () {
        if (!ws || ws.readyState !== WebSocket.OPEN) return;
        if (!force && !needsResubscribe()) return;
        asked = wanted();
        ws.send(JSON.stringify(L.Util.extend({ type: "subscribe" }, asked)));
      }, force ? 50 : 200);
    }

    function setConnection(state, text) {
      container.dataset.connected = state === "on" ? "true" : "false";
      container.dataset.connection = state;
      if (connEl) {
        connEl.textContent = text;
        connEl.className = "conn " + (state === "on" ? "conn-on" : "conn-off");
      }
    }

    function connect() {
      clearTimeout(retryTimer);
      retryTimer = null;
      asked = wanted();
      var q = new URLSearchParams();
      q.set("bbox", asked.bbox.join(","));
      asked.routes.forEach(function (r) { q.append("route", r); });
      asked.vehicle_types.forEach(function (t) { q.append("type", t); });
      q.set("zoom", String(asked.zoom));
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + cfg.urls.socket + "?" + q.toString());
      ws = socket;
      setConnection("connecting", everConnected ? "reconnecting…" : "connecting…");
      socket.onopen = function () {
        retry = 0;
        everConnected = true;
        setConnection("on", "live");
      };
      socket.onmessage = function (e) {
        if (socket !== ws) return;
        var t0 = performance.now();
        var msg = JSON.parse(e.data);
        if (msg.type === "frame") frame(msg);
        else if (msg.type === "snapshot") snapshot(msg);
        else if (msg.type === "error" && window.console) console.warn("live map:", msg.error);
        messages += 1;
        messageMs += performance.now() - t0;
        container.dataset.frames = String(messages);
      };
      socket.onclose = function () {
        if (socket !== ws) return;
        ws = null;
        retry = Math.min(retry + 1, 7);
        var delay = Math.min(30000, 500 * Math.pow(2, retry - 1)) * (0.5 + Math.random() / 2);
        setConnection("off", "offline — retrying in " + Math.ceil(delay / 1000) + " s");
        retryTimer = setTimeout(connect, delay);
      };
    }

    function reconnectNow() {
      if (!ws && retryTimer) connect();
    }

    // -- popups ---------------------------------------------------------------------------------

    function vehicleHtml(m) {
      var v = m.vehicle, d = (details[v.vehicle_id] || {}).data || {};
      var r = routes.get(v.route_id) || {};
      var colour = routeColour(v.route_id);
      var load = crowding(v);
      var state = serviceState(v);
      var trip = d.trip || {};
      var next = d.next_stop || {};
      var routeName = (r.short_name || v.route_id || "—") + (r.long_name ? " · " + r.long_name : "");
      return '<div class="sc-popup" data-vehicle-id="' + esc(v.vehicle_id) + '">' +
        '<div class="sc-popup-title"><span class="sc-badge" style="background:' + esc(colour) + ";color:" +
        esc(r.text_color ? "#" + r.text_color : textColourFor(colour)) + '">' + esc(r.short_name || v.route_id || "?") +
        "</span> " + esc(TYPE_LABELS[v.vehicle_type] || v.vehicle_type) + " <b>" + esc(v.vehicle_id) + "</b></div>" +
        "<dl>" +
        '<dt>Route</dt><dd class="f-route">' + esc(routeName) + "</dd>" +
        '<dt>Trip</dt><dd class="f-headsign">' + esc(trip.headsign ? "to " + trip.headsign : v.trip_id || "—") + "</dd>" +
        '<dt>Next stop</dt><dd class="f-next-stop">' + esc(next.name || v.next_stop_id || "—") + "</dd>" +
        '<dt>Load</dt><dd class="f-load"><span class="sc-load sc-load-' + load.level + '"><span style="width:' +
        (load.pct == null ? 0 : Math.min(100, load.pct)) + '%"></span></span> ' + esc(v.passenger_count) + " / " +
        esc(v.capacity) + (load.pct == null ? "" : " (" + load.pct + " %, " + load.label + ")") + "</dd>" +
        '<dt>Schedule</dt><dd class="f-deviation sc-state-' + state + '">' + esc(deviationText(v.delay_seconds)) + "</dd>" +
        '<dt>Status</dt><dd class="f-status">' + esc(String(v.status).replace(/_/g, " ")) + "</dd>" +
        '<dt>Updated</dt><dd class="f-age" title="' + esc(v.timestamp) + '">' + esc(ageText(performance.now() - m.received)) + "</dd>" +
        "</dl></div>";
    }

    function loadDetails(m) {
      var v = m.vehicle, d = details[v.vehicle_id];
      if (d && d.trip_id === v.trip_id && d.next_stop_id === v.next_stop_id) return;
      d = details[v.vehicle_id] = { trip_id: v.trip_id, next_stop_id: v.next_stop_id, data: d ? d.data : null };
      getJSON(cfg.urls.vehicle + encodeURIComponent(v.vehicle_id) + "/").then(function (data) {
        d.data = data;
        if (layer.selected === m) refreshPopup();
      }).catch(function () { /* the popup shows the ids */ });
    }

    function refreshPopup() {
      var m = layer.selected;
      if (!m || !popup.isOpen()) return;
      loadDetails(m);
      popup.setContent(vehicleHtml(m));
    }

    function openVehicle(id) {
      var m = vehicles.get(id);
      if (!m) return false;
      layer.selected = m;
      layer.redraw();
      popup.options.autoPan = true;
      popup.setLatLng(m.getLatLng()).setContent(vehicleHtml(m)).openOn(map);
      popup.options.autoPan = false; // it follows the vehicle from now on: no more panning
      loadDetails(m);
      clearInterval(popupTimer);
      popupTimer = setInterval(refreshPopup, 1000);
      container.dataset.popup = "vehicle";
      return true;
    }

    function closeVehiclePopup() {
      if (layer.selected) { layer.selected = null; map.closePopup(popup); }
    }

    map.on("popupclose", function (e) {
      if (e.popup !== popup) return;
      layer.selected = null;
      clearInterval(popupTimer);
      container.dataset.popup = "";
      layer.redraw();
    });

    // The popup follows its vehicle.
    (function follow() {
      L.Util.requestAnimFrame(follow);
      var m = layer.selected;
      if (m && popup.isOpen() && !map._animatingZoom) popup.setLatLng(m.getLatLng());
    })();

    function stopHtml(stop, data) {
      var rows = (data && data.arrivals) || [];
      var html = '<div class="sc-popup sc-stop-popup" data-stop-id="' + esc(stop.stop_id) + '">' +
        '<div class="sc-popup-title">Stop <b>' + esc(stop.name || stop.stop_id) + "</b>" +
        (stop.code ? ' <span class="sc-muted">' + esc(stop.code) + "</span>" : "") + "</div>";
      if (!data) return html + '<p class="sc-muted">Loading next arrivals…</p></div>';
      if (!rows.length) return html + '<p class="sc-muted">No arrivals in the next hour.</p></div>';
      html += '<table class="sc-arrivals"><thead><tr><th>Route</th><th>To</th><th>Due</th><th>Deviation</th></tr></thead><tbody>';
      rows.forEach(function (a) {
        var colour = a.route_color ? "#" + a.route_color : routeColour(a.route_id);
        var due = new Date(a.expected || a.scheduled);
        var mins = Math.round((due - new Date(data.now)) / 60000);
        html += '<tr class="sc-arrival"><td><span class="sc-badge" style="background:' + esc(colour) + ";color:" +
          esc(textColourFor(colour)) + '">' + esc(a.route_short_name || a.route_id) + "</span></td>" +
          "<td>" + esc(a.headsign || "") + "</td>" +
          '<td title="scheduled ' + esc(a.scheduled) + '">' + (mins <= 0 ? "now" : mins + " min") + "</td>" +
          '<td class="sc-state-' + serviceState({ delay_seconds: a.delay_seconds }) + '">' +
          esc(a.delay_seconds == null ? "scheduled" : deviationText(a.delay_seconds)) + "</td></tr>";
      });
      return html + "</tbody></table></div>";
    }

    var stopPopup = L.popup({ className: "sc-popup-wrap", maxWidth: 360 });
    var stopTimer = null;
    function openStop(stop) {
      closeVehiclePopup();
      stopPopup.setLatLng([stop.latitude, stop.longitude]).setContent(stopHtml(stop, null)).openOn(map);
      container.dataset.popup = "stop";
      var load = function () {
        var q = stop.feed ? "?feed=" + encodeURIComponent(stop.feed) : "";
        getJSON(cfg.urls.stops + encodeURIComponent(stop.stop_id) + "/arrivals/" + q).then(function (data) {
          if (stopPopup.isOpen()) stopPopup.setContent(stopHtml(stop, data));
        }).catch(function () {
          if (stopPopup.isOpen()) stopPopup.setContent(stopHtml(stop, { arrivals: [] }));
        });
      };
      load();
      clearInterval(stopTimer);
      stopTimer = setInterval(function () { if (stopPopup.isOpen()) load(); else clearInterval(stopTimer); }, 15000);
    }

    // -- clicks and the pointer -----------------------------------------------------------------

    map.on("click", function (e) {
      var m = layer.hit(e.containerPoint);
      if (m) { openVehicle(m.vehicle.vehicle_id); return; }
      var s = network.hitStop(e.containerPoint);
      if (s) openStop(s);
    });

    var hoverPending = false;
    map.on("mousemove", function (e) {
      if (hoverPending) return;
      hoverPending = true;
      L.Util.requestAnimFrame(function () {
        hoverPending = false;
        var hot = !!(layer.hit(e.containerPoint) || network.hitStop(e.containerPoint));
        container.classList.toggle("sc-pointer", hot);
      });
    });

    // -- the network: route lines and stops -----------------------------------------------------

    var network = (function () {
      var lineRenderer = L.canvas({ padding: 0.3 });
      var lines = L.layerGroup().addTo(map);
      var stopLayer = L.layerGroup().addTo(map);
      var stops = [];
      var showLines = params.get("lines") !== "off";
      var showStops = params.get("stops") !== "off";
      var STOP_ZOOM = 15;
      var stopsKey = null;

      function load() {
        getJSON(cfg.urls.network).then(function (data) {
          (data.routes || []).forEach(function (r) {
            var old = routes.get(r.route_id);
            routes.set(r.route_id, r);
            if (old && old.seen) r.seen = true;
            typesSeen.add(r.vehicle_type);
          });
          vehicles.forEach(function (m) { m.sprite = null; });
          layer.redraw();
          ui.types();
          ui.routesChanged();
          drawLines();
          container.dataset.routes = String(routes.size);
        }).catch(function () { container.dataset.routes = "0"; });
      }

      function drawLines() {
        lines.clearLayers();
        if (!showLines) return;
        routes.forEach(function (r) {
          if (!r.shapes || !r.shapes.length) return;
          var selected = filters.routes.size ? filters.routes.has(r.route_id) : true;
          var typed = filters.types.size ? filters.types.has(r.vehicle_type) : true;
          if (!typed) return;
          var colour = routeColour(r.route_id);
          r.shapes.forEach(function (pts) {
            L.polyline(pts, { renderer: lineRenderer, interactive: false, color: colour,
                              weight: selected && filters.routes.size ? 5 : 3,
                              opacity: selected ? 0.45 : 0.1 }).addTo(lines);
          });
        });
      }

      function loadStops() {
        if (!showStops || map.getZoom() < STOP_ZOOM) {
          if (stops.length) { stopLayer.clearLayers(); stops = []; stopsKey = null; }
          container.dataset.stops = "0";
          return;
        }
        var b = map.getBounds().pad(0.3);
        var key = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) { return x.toFixed(3); }).join(",");
        if (key === stopsKey) return;
        stopsKey = key;
        getJSON(cfg.urls.stops + "?bbox=" + key).then(function (data) {
          if (stopsKey !== key) return;
          stopLayer.clearLayers();
          stops = data.stops || [];
          stops.forEach(function (s) {
            L.circleMarker([s.latitude, s.longitude], { renderer: lineRenderer, interactive: false, radius: 4,
              color: "#37474f", weight: 1.5, fillColor: "#fff", fillOpacity: 1 }).addTo(stopLayer);
          });
          container.dataset.stops = String(stops.length);
        }).catch(function () { stopsKey = null; });
      }

      function hitStop(point) {
        if (!stops.length) return null;
        var best = null, bestD = 100; // 10 px
        stops.forEach(function (s) {
          var p = map.latLngToContainerPoint([s.latitude, s.longitude]);
          var d = p.distanceTo(point);
          d = d * d;
          if (d < bestD) { bestD = d; best = s; }
        });
        return best;
      }

      map.on("moveend", loadStops);
      return {
        load: load, drawLines: drawLines, loadStops: loadStops, hitStop: hitStop,
        show: function (what, on) {
          if (what === "lines") { showLines = on; drawLines(); } else { showStops = on; stopsKey = null; loadStops(); }
        },
        showing: function (what) { return what === "lines" ? showLines : showStops; },
      };
    })();

    // -- controls: filters, search, legend ------------------------------------------------------

    var ui = (function () {
      var panel = L.control({ position: "topright" });
      var legend = L.control({ position: "bottomleft" });
      var typeBox, routeBox, routeFilter, searchInput, results, legendBody;
      var routesDirty = true;

      panel.onAdd = function () {
        var div = el("div", "sc-panel leaflet-bar");
        // folded on a phone and on narrow maps (the operations page's, beside its alert list)
        var collapsed = map.getSize().x < 1100 || params.get("panel") === "closed";
        div.innerHTML =
          '<button type="button" class="sc-panel-toggle" aria-expanded="' + !collapsed + '" aria-controls="sc-panel-body">' +
          '<span aria-hidden="true">☰</span> Filters</button>' +
          '<div class="sc-panel-body" id="sc-panel-body"' + (collapsed ? " hidden" : "") + ">" +
          '<div class="sc-search"><input type="search" class="sc-search-input" placeholder="Find a vehicle or route"' +
          ' aria-label="Find a vehicle or route" autocomplete="off"><ul class="sc-results" role="listbox"></ul></div>' +
          '<fieldset class="sc-colour"><legend>Colour by</legend>' +
          '<label><input type="radio" name="sc-colour" value="route"> route</label> ' +
          '<label><input type="radio" name="sc-colour" value="state"> punctuality</label></fieldset>' +
          '<fieldset class="sc-types"><legend>Vehicle types</legend><div class="sc-type-list"></div></fieldset>' +
          '<fieldset class="sc-routes"><legend>Routes <button type="button" class="sc-link sc-all-routes">show all</button></legend>' +
          '<input type="search" class="sc-route-filter" placeholder="Filter the list" aria-label="Filter the route list">' +
          '<ul class="sc-route-list"></ul></fieldset>' +
          '<fieldset class="sc-layers"><legend>Layers</legend>' +
          '<label><input type="checkbox" data-layer="lines"> route lines</label> ' +
          '<label><input type="checkbox" data-layer="stops"> stops (zoom in)</label></fieldset>' +
          "</div>";
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        var toggle = div.querySelector(".sc-panel-toggle"), body = div.querySelector(".sc-panel-body");
        toggle.addEventListener("click", function () {
          body.hidden = !body.hidden;
          toggle.setAttribute("aria-expanded", String(!body.hidden));
        });
        typeBox = div.querySelector(".sc-type-list");
        routeBox = div.querySelector(".sc-route-list");
        routeFilter = div.querySelector(".sc-route-filter");
        searchInput = div.querySelector(".sc-search-input");
        results = div.querySelector(".sc-results");
        div.querySelector('input[name="sc-colour"][value="' + filters.colour + '"]').checked = true;
        div.querySelectorAll('input[name="sc-colour"]').forEach(function (input) {
          input.addEventListener("change", function () {
            filters.colour = input.value;
            vehicles.forEach(function (m) { m.sprite = null; });
            layer.redraw();
            legendUpdate();
            saveState();
          });
        });
        div.querySelectorAll("input[data-layer]").forEach(function (input) {
          input.checked = network.showing(input.dataset.layer);
          input.addEventListener("change", function () { network.show(input.dataset.layer, input.checked); });
        });
        div.querySelector(".sc-all-routes").addEventListener("click", function () {
          filters.routes.clear();
          routesDirty = true;
          routesRender();
          refilter();
        });
        routeFilter.addEventListener("input", function () { routesDirty = true; routesRender(); });
        routeBox.addEventListener("change", function (e) {
          var id = e.target.value;
          if (e.target.checked) filters.routes.add(id); else filters.routes.delete(id);
          refilter();
        });
        typeBox.addEventListener("change", function (e) {
          var t = e.target.value;
          var all = typesList();
          if (!filters.types.size) all.forEach(function (x) { filters.types.add(x); });
          if (e.target.checked) filters.types.add(t); else filters.types.delete(t);
          if (all.every(function (x) { return filters.types.has(x); })) filters.types.clear();
          refilter();
        });
        searchSetup();
        return div;
      };

      function typesList() {
        return TYPES.filter(function (t) { return typesSeen.has(t); });
      }

      function types() {
        if (!typeBox) return;
        typeBox.replaceChildren.apply(typeBox, typesList().map(function (t) {
          var label = el("label", "sc-type");
          var input = el("input");
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

      var routesTimer = null;
      function routesChanged() {
        routesDirty = true;
        clearTimeout(routesTimer);
        routesTimer = setTimeout(routesRender, 300);
      }

      function routesRender() {
        if (!routeBox || !routesDirty) return;
        routesDirty = false;
        var q = (routeFilter.value || "").trim().toLowerCase();
        var list = Array.from(routes.values()).filter(function (r) {
          return !q || (r.short_name + " " + r.long_name + " " + r.route_id).toLowerCase().indexOf(q) >= 0 ||
            filters.routes.has(r.route_id);
        }).sort(function (a, b) { return naturalCompare(a.short_name || a.route_id, b.short_name || b.route_id); });
        routeBox.replaceChildren.apply(routeBox, list.slice(0, 400).map(function (r) {
          var li = el("li");
          var colour = routeColour(r.route_id);
          li.innerHTML = '<label><input type="checkbox" name="sc-route" value="' + esc(r.route_id) + '"' +
            (filters.routes.has(r.route_id) ? " checked" : "") + '> <span class="sc-badge" style="background:' +
            esc(colour) + ";color:" + esc(r.text_color ? "#" + r.text_color : textColourFor(colour)) + '">' +
            esc(r.short_name || r.route_id) + "</span> " + esc(r.long_name || TYPE_LABELS[r.vehicle_type] || "") + "</label>";
          return li;
        }));
      }

      // Search: routes by name and vehicles by id, here first, then on the server.
      function searchSetup() {
        var timer = null, seq = 0;
        function show(items) {
          results.replaceChildren.apply(results, items.slice(0, 10).map(function (it, i) {
            var li = el("li", "sc-result" + (i === 0 ? " sc-active" : ""));
            li.setAttribute("role", "option");
            li.dataset.kind = it.kind;
            li.dataset.id = it.id;
            li.innerHTML = '<span class="sc-kind">' + (it.kind === "route" ? "route" : "vehicle") + "</span> " + esc(it.label);
            return li;
          }));
        }
        function local(q) {
          var out = [];
          routes.forEach(function (r) {
            var name = (r.short_name || r.route_id) + (r.long_name ? " " + r.long_name : "");
            if ((name + " " + r.route_id).toLowerCase().indexOf(q) >= 0) out.push({ kind: "route", id: r.route_id, label: name, exact: (r.short_name || "").toLowerCase() === q });
          });
          out.sort(function (a, b) { return (b.exact - a.exact) || naturalCompare(a.label, b.label); });
          var vs = [];
          vehicles.forEach(function (m, id) {
            if (vs.length < 10 && id.toLowerCase().indexOf(q) >= 0) vs.push({ kind: "vehicle", id: id, label: id + " (" + (m.vehicle.route_id || "no route") + ")" });
          });
          return out.slice(0, 6).concat(vs);
        }
        searchInput.addEventListener("input", function () {
          var q = searchInput.value.trim().toLowerCase();
          clearTimeout(timer);
          if (!q) { results.replaceChildren(); return; }
          var items = local(q);
          show(items);
          var mine = ++seq;
          timer = setTimeout(function () {
            getJSON(cfg.urls.search + "?q=" + encodeURIComponent(q)).then(function (data) {
              if (mine !== seq) return;
              var have = new Set(items.map(function (it) { return it.kind + ":" + it.id; }));
              (data.routes || []).forEach(function (r) {
                if (!routes.has(r.route_id)) { routes.set(r.route_id, r); routesChanged(); }
                if (!have.has("route:" + r.route_id)) items.push({ kind: "route", id: r.route_id, label: (r.short_name || r.route_id) + " " + (r.long_name || "") });
              });
              (data.vehicles || []).forEach(function (v) {
                if (!have.has("vehicle:" + v.vehicle_id)) items.push({ kind: "vehicle", id: v.vehicle_id, label: v.vehicle_id + " (" + (v.route_id || "no route") + ")", vehicle: v });
              });
              show(items);
              results.items = items;
            }).catch(function () { /* local results stay */ });
          }, 200);
          results.items = items;
        });
        searchInput.addEventListener("keydown", function (e) {
          if (e.key === "Enter") {
            var first = results.querySelector(".sc-result");
            if (first) pick(first.dataset.kind, first.dataset.id);
          } else if (e.key === "Escape") {
            searchInput.value = "";
            results.replaceChildren();
          }
        });
        results.addEventListener("click", function (e) {
          var li = e.target.closest(".sc-result");
          if (li) pick(li.dataset.kind, li.dataset.id);
        });
        function pick(kind, id) {
          results.replaceChildren();
          if (kind === "route") api.showRoute(id);
          else api.findVehicle(id);
        }
      }

      function legendUpdate() {
        if (!legendBody) return;
        var html = "";
        if (filters.colour === "state") {
          html += STATES.map(function (s) {
            return '<div class="sc-legend-row"><span class="sc-swatch" style="background:' + s.colour + '"></span>' + esc(s.label) + "</div>";
          }).join("");
        } else {
          html += '<div class="sc-legend-row sc-muted">Colour: the route (GTFS route colour)</div>' +
            '<div class="sc-legend-row"><span class="sc-swatch sc-swatch-dot" style="background:' + STATE_COLOURS.broken_down +
            '"></span>Broken down</div>';
        }
        legendBody.innerHTML = html + '<div class="sc-legend-types"></div><div class="sc-legend-row sc-muted">Shapes point the way they go</div>';
        var box = legendBody.querySelector(".sc-legend-types");
        typesList().forEach(function (t) {
          var row = el("span", "sc-legend-type");
          row.appendChild(iconCanvas(t, "#455a64"));
          row.appendChild(document.createTextNode(TYPE_LABELS[t]));
          box.appendChild(row);
        });
      }

      legend.onAdd = function () {
        var div = el("div", "sc-legend leaflet-bar");
        var collapsed = window.matchMedia("(max-width: 700px)").matches;
        div.innerHTML = '<button type="button" class="sc-legend-toggle" aria-expanded="' + !collapsed + '">Legend</button>' +
          '<div class="sc-legend-body"' + (collapsed ? " hidden" : "") + "></div>";
        legendBody = div.querySelector(".sc-legend-body");
        var toggle = div.querySelector(".sc-legend-toggle");
        toggle.addEventListener("click", function () {
          legendBody.hidden = !legendBody.hidden;
          toggle.setAttribute("aria-expanded", String(!legendBody.hidden));
        });
        L.DomEvent.disableClickPropagation(div);
        return div;
      };

      if (cfg.panel && params.get("panel") !== "off") panel.addTo(map);
      legend.addTo(map);
      types();
      legendUpdate();
      return { types: types, routesChanged: routesChanged, routeLines: network.drawLines, legend: legendUpdate };
    })();

    // -- tiles: without tile access the map works on its plain background --------------------------

    map.eachLayer(function (l) {
      if (!(l instanceof L.TileLayer)) return;
      var failed = 0, loaded = 0;
      l.on("tileerror", function (e) {
        if (e.tile) e.tile.style.visibility = "hidden";
        failed += 1;
        if (failed >= 4 && !loaded) container.classList.add("sc-no-tiles");
      });
      l.on("tileload", function () { loaded += 1; container.classList.remove("sc-no-tiles"); });
    });

    // -- wiring ---------------------------------------------------------------------------------

    var api = {
      map: map,
      layer: layer,
      vehicles: vehicles,
      filters: filters,
      openVehicle: openVehicle,
      setTypes: function (list) { filters.types = new Set(list || []); ui.types(); refilter(); },
      setRoutes: function (list) { filters.routes = new Set(list || []); ui.routesChanged(); refilter(); },
      setColour: function (mode) { filters.colour = mode; vehicles.forEach(function (m) { m.sprite = null; }); ui.legend(); layer.redraw(); },
      showRoute: function (id) {
        filters.routes = new Set([id]);
        ui.routesChanged();
        refilter();
        var r = routes.get(id), pts = [];
        if (r && r.shapes) r.shapes.forEach(function (s) { pts = pts.concat(s); });
        if (pts.length) map.fitBounds(L.latLngBounds(pts), { padding: [30, 30] });
      },
      findVehicle: function (id) {
        if (openVehicle(id)) { map.panTo(vehicles.get(id).getLatLng()); return; }
        getJSON(cfg.urls.vehicle + encodeURIComponent(id) + "/").then(function (data) {
          var v = data.vehicle;
          pendingOpen = id;
          if (filters.routes.size && !filters.routes.has(v.route_id)) filters.routes.clear();
          if (filters.types.size && !filters.types.has(v.vehicle_type)) filters.types.clear();
          ui.types();
          map.setView([v.latitude, v.longitude], Math.max(map.getZoom(), 15));
          refilter();
        }).catch(function () { /* not found: nothing to show */ });
      },
      stats: function () {
        return { draws: layer.draws, drawMs: layer.drawMs, messages: messages, messageMs: messageMs,
                 vehicles: vehicles.size, plan: plan };
      },
      vehiclePoint: function (id) {
        var m = vehicles.get(id);
        return m ? map.latLngToContainerPoint(m.getLatLng()) : null;
      },
    };
    container.streamcityLive = api;
    container.streamcityMarkers = vehicles;
    container.streamcityMap = map;
    container.dataset.vehicleCount = "0";

    map.on("moveend", function () { subscribe(false); });
    setInterval(dropStale, 5000);
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) reconnectNow(); });

    updateCount();
    network.load();
    network.loadStops();
    connect();
    return api;
  };
})();
