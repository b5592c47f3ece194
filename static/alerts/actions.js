// The operator's actions on one alert, shared by the operations map (ops.js) and the shift's board
// (shift/page.js): acknowledge, resolve (with a note), snooze (for `minutes`), unsnooze. Each is a
// CSRF-protected POST to /api/alerts/<id>/<action>/ that answers with the changed alert (which the
// server also sends to every ops socket). Everything but alertAction itself is pure.

export const ACTIONS = ["acknowledge", "resolve", "snooze", "unsnooze"];
const VERBS = { acknowledge: "acknowledge", resolve: "resolve", snooze: "snooze", unsnooze: "wake" };

/** The endpoint of `action` on the alert with id `id`; an unknown action or a bad id is an error. */
export function actionUrl(id, action) {
  if (!ACTIONS.includes(action)) throw new Error("unknown alert action " + JSON.stringify(action));
  if (!Number.isInteger(Number(id)) || Number(id) <= 0) throw new Error("not an alert id: " + JSON.stringify(id));
  return "/api/alerts/" + Number(id) + "/" + action + "/";
}

/** The form body: the fields given, empty ones left out (a resolve without a note). */
export function actionBody(fields = {}) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v != null && v !== "") body.set(k, String(v));
  return body;
}

/** What to tell the operator when an action failed: the server's error if it gave one, else the status. */
export function failureText(action, status, reply) {
  const why = reply && typeof reply.error === "string" && reply.error ? reply.error
    : status === 403 ? "not allowed (logged out?)" : status ? "the server answered " + status : "no answer";
  return "Could not " + (VERBS[action] || action) + ": " + why;
}

/** The page's CSRF token (<meta name="csrf-token">). */
export function csrfToken(doc = globalThis.document) {
  const meta = doc && doc.querySelector('meta[name="csrf-token"]');
  if (!meta || !meta.content) throw new Error("no csrf-token meta element on this page");
  return meta.content;
}

/**
 * POST `action` on alert `a` ({id, ...}) with `fields`; resolves to the changed alert, rejects with an
 * Error whose message is failureText(...). `opts.csrf` (default: the page's token), `opts.fetch`.
 */
export async function alertAction(a, action, fields = {}, opts = {}) {
  const doFetch = opts.fetch || globalThis.fetch;
  const url = actionUrl(a.id, action);
  let r;
  try {
    r = await doFetch(url, { method: "POST", credentials: "same-origin", body: actionBody(fields),
                             headers: { "X-CSRFToken": opts.csrf || csrfToken() } });
  } catch (err) {
    throw new Error(failureText(action, 0, { error: "no answer (" + err.message + ")" }));
  }
  let reply = null;
  try { reply = await r.json(); } catch { reply = null; }
  if (!r.ok || !reply || !reply.alert) throw new Error(failureText(action, r.status, reply));
  return reply.alert;
}
