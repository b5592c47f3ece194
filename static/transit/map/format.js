// Pure formatting for the live map: HTML escaping, colours, names, times and delays.
// No DOM and no Leaflet here: tests/js imports this module in Node.

export const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#f032e6", "#9a6324",
                        "#800000", "#2f4f4f", "#000075", "#808000", "#c2185b", "#00838f", "#5d4037", "#283593"];

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for HTML (element content and quoted attributes); null and undefined give "". */
export function esc(s) {
  return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** A stable colour from PALETTE for a route without a GTFS colour. */
export function hashColour(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return PALETTE[Math.abs(h) % PALETTE.length];
}

/** Sorts "2" before "10" and ignores case. */
export function naturalCompare(a, b) {
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
}

/** Black or white text, whichever reads on the background `hex` ("#rrggbb" or "rrggbb"). */
export function textColourFor(hex) {
  if (luminance(hex) === null) return "#fff";
  if (contrastRatio(hex, "#000000") < contrastRatio(hex, "#ffffff")) return "#fff";
  return contrastRatio(hex, "#111111") >= 4.5 ? "#111" : "#000"; // the softer dark when it reaches AA
}

function luminance(hex) {
  const short = /^#?([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(hex || "");
  const m = short ? [0, short[1] + short[1], short[2] + short[2], short[3] + short[3]]
    : /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
  if (!m) return null;
  const c = [m[1], m[2], m[3]].map((x) => {
    const s = parseInt(x, 16) / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

/** WCAG contrast ratio of two "#RRGGBB" colours (1 .. 21); 1 when either is not a colour. */
export function contrastRatio(a, b) {
  const la = luminance(a), lb = luminance(b);
  if (la === null || lb === null) return 1;
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** A badge's text colour on `bg`: the GTFS route_text_color when it reaches WCAG AA (4.5:1), else
 * dark or white, whichever contrasts more (as transit.colours.badge_colours on the server). */
export function badgeText(bg, gtfsText) {
  const given = gtfsText ? "#" + String(gtfsText).replace(/^#/, "") : null;
  if (given && contrastRatio(bg, given) >= 4.5) return given;
  return textColourFor(bg);
}

/** "3 min", "1 min 30 s", "45 s": a whole number of seconds, for labels. */
export function durationText(seconds) {
  const a = Math.abs(Math.round(seconds));
  const m = Math.floor(a / 60), sec = a % 60;
  if (!m) return sec + " s";
  return m + " min" + (sec ? " " + sec + " s" : "");
}

/** A schedule deviation in seconds (positive: late) as words; under 30 s either way is "on time". */
export function deviationText(s) {
  if (s == null) return "no schedule";
  const a = Math.abs(Math.round(s));
  if (a < 30) return "on time";
  return durationText(a) + (s > 0 ? " late" : " early");
}

/** How long ago, from an age in milliseconds: "12 s ago", "3 min 5 s ago", "2 h ago". */
export function ageText(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s ago";
  return Math.floor(s / 3600) + " h ago";
}

/** How full a vehicle is: {label, level (a CSS class suffix), pct (null without a capacity)}. */
export function crowding(v) {
  if (!v.capacity) return { label: "unknown", level: "unknown", pct: null };
  const pct = Math.round((100 * v.passenger_count) / v.capacity);
  if (pct < 35) return { label: "many seats free", level: "low", pct };
  if (pct < 70) return { label: "some seats free", level: "medium", pct };
  if (pct < 95) return { label: "standing room", level: "high", pct };
  return { label: "full", level: "full", pct };
}

function parts(t, tz, options) {
  const fmt = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: tz || undefined });
  const out = {};
  fmt.formatToParts(new Date(t)).forEach((p) => { out[p.type] = p.value; });
  return out;
}

/** The local time "08:31" of `t` (epoch ms or an ISO string) in time zone `tz` (IANA; none: the browser's). */
export function clockTime(t, tz) {
  const ms = typeof t === "number" ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return "";
  const p = parts(ms, tz, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return p.hour + ":" + p.minute;
}

/** A calendar date "2026-11-28" as "Sat 28 Nov 2026" (the date itself, no time zone involved). */
export function dayText(isoDate) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(isoDate || "");
  if (!m) return String(isoDate || "");
  const p = parts(Date.UTC(+m[1], +m[2] - 1, +m[3], 12), "UTC", { weekday: "short", day: "numeric", month: "short",
                                                                    year: "numeric" });
  return p.weekday + " " + p.day + " " + p.month + " " + p.year;
}

/** A moment as "Sat 08:12" in time zone `tz`. */
export function dayTimeText(t, tz) {
  const ms = typeof t === "number" ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return "";
  return parts(ms, tz, { weekday: "short" }).weekday + " " + clockTime(ms, tz);
}

/** How long ago, to the minute: "just now", "4 min ago", "2 h 5 min ago" (negative ages: "just now"). */
export function agoText(ms) {
  const min = Math.floor(Math.max(0, ms) / 60000);
  if (min < 1) return "just now";
  if (min < 60) return min + " min ago";
  return Math.floor(min / 60) + " h" + (min % 60 ? " " + (min % 60) + " min" : "") + " ago";
}
