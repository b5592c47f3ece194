// The map's banner, pure: what to tell people about the service day — that the feed has no service
// on the simulated date and whose timetable runs instead, that nothing is scheduled now and when
// service starts, that no simulation runs. From the server's `service` facts (live-map-config and
// /api/service/: feed, timezone, running, date, timetable_date, reason, note, vehicles,
// service_starts). No DOM here.

import { dayText, dayTimeText } from "./format.js";

/** The banner's text for `s` (null: nothing to say). */
export function serviceBanner(s) {
  if (!s) return null;
  if (s.running === false) return "No simulation is running" + (s.feed ? " (the last one ran " + s.feed + ")" : "");
  const out = [];
  if (s.reason === "no service") {
    out.push("The feed " + s.feed + " has no service on any day");
  } else if (s.timetable_date && s.date && s.timetable_date !== s.date) {
    out.push(dayText(s.date) + " has no service in " + s.feed + ": running the timetable of " +
             dayText(s.timetable_date) + (s.reason && s.reason !== "requested" ? " (" + s.reason + ")" : ""));
  } else if (!s.timetable_date && s.note) {
    out.push(s.note);
  }
  if (s.vehicles === 0 && s.reason !== "no service") {
    out.push("Nothing is scheduled now" + (s.service_starts ? "; service starts " + dayTimeText(s.service_starts, s.timezone) : ""));
  }
  return out.length ? out.join(" · ") : null;
}
