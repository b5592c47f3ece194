// Vehicle sprites: one shape per vehicle type, pointing north, pre-rendered at ROTATIONS headings.
// Uses <canvas> (document) only when a sprite is made, so importing this module needs no DOM.

import { ROTATIONS, headingCell } from "./motion.js";

// Outlines in a unit box: x across (-0.5..0.5), y along (-0.5 nose .. 0.5 tail).
export const SHAPES = {
  bus: { w: 9, l: 15, path: (c, w, l) => roundedNose(c, w, l, 0.32, 2.2) },
  tram: { w: 7, l: 19, path: (c, w, l) => roundedNose(c, w, l, 0.2, 1.5) },
  rail: { w: 7, l: 24, path: (c, w, l) => roundedNose(c, w, l, 0.14, 1) },
  subway: { w: 7, l: 21, path: (c, w, l) => roundedNose(c, w, l, 0.16, 3) },
  ferry: { w: 11, l: 17, path: (c, w, l) => {
    c.moveTo(0, -l / 2);
    c.quadraticCurveTo(w / 2, -l / 6, w / 2, l / 2);
    c.lineTo(-w / 2, l / 2);
    c.quadraticCurveTo(-w / 2, -l / 6, 0, -l / 2);
  } },
  cable: { w: 11, l: 13, path: (c, w, l) => circleNose(c, w, l) },
  other: { w: 11, l: 13, path: (c, w, l) => circleNose(c, w, l) },
};

function roundedNose(c, w, l, noseShare, r) {
  const nose = l * noseShare, top = -l / 2, bottom = l / 2;
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
  const r = w / 2, cy = l / 2 - r;
  c.moveTo(0, -l / 2);
  c.lineTo(r * 0.7, cy - r * 0.7);
  c.arc(0, cy, r, -Math.PI / 4, Math.PI * 1.25);
  c.closePath();
}

/**
 * The size of a sprite's cell in CSS pixels and its reach (the radius a click finds it within,
 * before the click margin): the diagonal of the shape's box plus the ring.
 */
export function spriteGeometry(type, ringWidth, scale) {
  const shape = SHAPES[type] || SHAPES.other;
  const w = shape.w * scale, l = shape.l * scale, pad = ringWidth / 2 + 2.5;
  const size = Math.ceil(Math.sqrt((w + 2 * pad) * (w + 2 * pad) + (l + 2 * pad) * (l + 2 * pad)));
  return { shape, w, l, size, r: Math.max(w, l) / 2 + pad };
}

const cache = new Map();

/**
 * A sprite: one style of one vehicle type, pre-rendered at each of ROTATIONS headings side by
 * side in one canvas (device pixels). Drawing a vehicle is then a plain copy of one cell to
 * whole pixels — no rotation or resampling per vehicle per frame, which software rendering
 * (Chromium without a GPU) cannot do 2,000 times a frame. Cells are rendered on first use.
 * `badge`: the colour of a dot on the vehicle (broken down, drawn in route colours), or false.
 */
export function sprite(type, fill, ring, ringWidth, scale, badge, dim) {
  const key = type + "|" + fill + "|" + ring + "|" + ringWidth + "|" + scale + "|" + badge + "|" + dim;
  let s = cache.get(key);
  if (s) return s;
  const { shape, w, l, size, r } = spriteGeometry(type, ringWidth, scale);
  const dpr = window.devicePixelRatio || 1;
  const cell = Math.ceil(size * dpr);
  const canvas = document.createElement("canvas");
  canvas.width = cell * ROTATIONS;
  canvas.height = cell;
  s = {
    canvas, ctx: canvas.getContext("2d"), cell, dpr, size, r, done: new Uint8Array(ROTATIONS),
    paint(c) {
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
      if (badge) { // a dot with a white edge
        c.beginPath();
        c.arc(0, l * 0.1, Math.max(2.2, w * 0.3), 0, 2 * Math.PI);
        c.fillStyle = badge;
        c.fill();
        c.lineWidth = 1;
        c.strokeStyle = "#fff";
        c.stroke();
      }
    },
  };
  cache.set(key, s);
  if (cache.size > 2000) cache.clear(); // colours come and go; never grow without bound
  return s;
}

/** The cell of heading `angle` (radians clockwise from north), rendered if it is not yet. */
export function spriteCell(s, angle) {
  const i = headingCell(angle);
  if (!s.done[i]) {
    const c = s.ctx, a = (i * 2 * Math.PI) / ROTATIONS;
    c.setTransform(s.dpr * Math.cos(a), s.dpr * Math.sin(a), -s.dpr * Math.sin(a), s.dpr * Math.cos(a),
                   (i + 0.5) * s.cell, 0.5 * s.cell);
    s.paint(c);
    s.done[i] = 1;
  }
  return i;
}

/** A small <canvas> of a vehicle type, for the filter list and the legend. */
export function iconCanvas(type, fill) {
  const s = sprite(type, fill, "#fff", 1, 1, false, false);
  const i = spriteCell(s, Math.PI / 4);
  const c = document.createElement("canvas");
  c.width = c.height = s.cell;
  c.style.width = c.style.height = s.size + "px";
  c.className = "sc-icon";
  c.getContext("2d").drawImage(s.canvas, i * s.cell, 0, s.cell, s.cell, 0, 0, s.cell, s.cell);
  return c;
}

const labels = new Map();
export const LABEL_INK = "#1d2733"; // the label's pill: white text on it is 15:1, and it stands off any vehicle colour

/**
 * A route number's label sprite: white bold text on a dark pill with a white edge (legible on any
 * vehicle colour and tile), rendered once per text and scale, in device pixels. Drawing a label is
 * then one copy, like a vehicle. {canvas, w, h (device pixels), cssW, cssH}.
 */
export function labelSprite(text, scale) {
  const key = text + "|" + scale;
  let s = labels.get(key);
  if (s) return s;
  const dpr = window.devicePixelRatio || 1;
  const px = Math.round(10 * scale), padX = Math.round(3 * scale), padY = Math.round(1.5 * scale);
  const font = "bold " + px + "px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  const canvas = document.createElement("canvas");
  const c = canvas.getContext("2d");
  c.font = font;
  const cssW = Math.ceil(c.measureText(text).width) + 2 * padX + 2, cssH = px + 2 * padY + 2;
  canvas.width = Math.ceil(cssW * dpr);
  canvas.height = Math.ceil(cssH * dpr);
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  const r = Math.min(4 * scale, cssH / 2 - 1);
  c.beginPath();
  if (c.roundRect) c.roundRect(1, 1, cssW - 2, cssH - 2, r); else c.rect(1, 1, cssW - 2, cssH - 2);
  c.fillStyle = LABEL_INK;
  c.fill();
  c.lineWidth = 1;
  c.strokeStyle = "rgba(255,255,255,0.9)";
  c.stroke();
  c.font = font;
  c.fillStyle = "#fff";
  c.textAlign = "center";
  c.textBaseline = "middle";
  c.fillText(text, cssW / 2, cssH / 2 + 0.5);
  s = { canvas, image: canvas, w: canvas.width, h: canvas.height, cssW, cssH };
  // drawn from an ImageBitmap once it is made: copying from a bitmap is several times cheaper than
  // from a <canvas> in software rendering (2,000 labels a frame)
  if (typeof createImageBitmap === "function") {
    createImageBitmap(canvas).then((bitmap) => { s.image = bitmap; }).catch(() => { /* the canvas stays */ });
  }
  labels.set(key, s);
  if (labels.size > 3000) labels.clear(); // routes come and go; never grow without bound
  return s;
}
