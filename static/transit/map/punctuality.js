// A vehicle's service state (early / on time / late, broken down, out of service, no schedule) and
// its colour. The thresholds are not defined here: the server renders them into the page's
// live-map-config as {"punctuality": {"early_seconds": E, "late_seconds": L}} and the legend's labels
// are made from those numbers. No DOM and no Leaflet here.

import { durationText } from "./format.js";

const COLOURS = {
  on_time: "#2e7d32",
  late: "#ef6c00",
  early: "#1e88e5",
  broken_down: "#c62828",
  layover: "#00897b",
  deadhead: "#8d6e63",
  unknown: "#78909c",
  out_of_service: "#9e9e9e",
};

function threshold(config, key) {
  const value = config[key];
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    const got = JSON.stringify(value);
    throw new Error(`live-map-config: punctuality.${key} must be a number of seconds >= 0, not ${got}`);
  }
  return value;
}

/**
 * The punctuality classes of `config` ({early_seconds, late_seconds}: how many seconds early or
 * late a vehicle may be and still be on time). Returns {earlySeconds, lateSeconds, states (the
 * legend's rows: key, label, colour), colours (key -> colour), stateOf(vehicle)}.
 */
export function punctuality(config) {
  if (!config || typeof config !== "object") {
    throw new Error("live-map-config has no punctuality: {early_seconds, late_seconds} expected");
  }
  const earlySeconds = threshold(config, "early_seconds");
  const lateSeconds = threshold(config, "late_seconds");
  const early = durationText(earlySeconds), late = durationText(lateSeconds);
  const states = [
    { key: "on_time", label: `On time (${early} early – ${late} late)` },
    { key: "late", label: `Late (over ${late})` },
    { key: "early", label: `Early (over ${early})` },
    { key: "layover", label: "Laying over (waiting to depart)" },
    { key: "broken_down", label: "Broken down" },
    { key: "deadhead", label: "Driving to its next trip" },
    { key: "unknown", label: "No schedule" },
    { key: "out_of_service", label: "Out of service" },
  ].map((s) => ({ ...s, colour: COLOURS[s.key] }));

  /**
   * The state of a vehicle ({status, delay_seconds}; delay positive when late). A vehicle laying
   * over at the start of its trip is never early, and late only once its departure is overdue.
   */
  function stateOf(v) {
    if (v.status === "broken_down") return "broken_down";
    if (v.status === "out_of_service") return "out_of_service";
    if (v.status === "deadhead") return "deadhead";
    if (v.status === "layover") return v.delay_seconds > lateSeconds ? "late" : "layover";
    if (v.delay_seconds == null) return "unknown";
    if (v.delay_seconds > lateSeconds) return "late";
    if (v.delay_seconds < -earlySeconds) return "early";
    return "on_time";
  }

  return { earlySeconds, lateSeconds, states, colours: { ...COLOURS }, stateOf };
}
