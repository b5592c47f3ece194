import test from "node:test";
import assert from "node:assert/strict";

import { actionBody, actionUrl, alertAction, failureText } from "../../static/alerts/actions.js";

test("each action has its endpoint; an unknown action or a bad id is refused", () => {
  assert.equal(actionUrl(7, "acknowledge"), "/api/alerts/7/acknowledge/");
  assert.equal(actionUrl("12", "snooze"), "/api/alerts/12/snooze/");
  assert.equal(actionUrl(3, "unsnooze"), "/api/alerts/3/unsnooze/");
  assert.throws(() => actionUrl(7, "delete"), /unknown alert action "delete"/);
  assert.throws(() => actionUrl("7/../1", "resolve"), /not an alert id/);
  assert.throws(() => actionUrl(0, "resolve"), /not an alert id/);
});

test("the body carries the fields given, not the empty ones", () => {
  assert.equal(actionBody({ note: "towed", minutes: 15 }).toString(), "note=towed&minutes=15");
  assert.equal(actionBody({ note: "" }).toString(), "");
  assert.equal(actionBody({ note: undefined }).toString(), "");
  assert.equal(actionBody().toString(), "");
});

test("a failure says what failed and why, in the server's words when it gave them", () => {
  assert.equal(failureText("snooze", 400, { error: "a snooze lasts 1 minute to 12 hours (720 minutes), not 0" }),
    "Could not snooze: a snooze lasts 1 minute to 12 hours (720 minutes), not 0");
  assert.equal(failureText("unsnooze", 409, { error: "the alert is not snoozed" }),
    "Could not wake: the alert is not snoozed");
  assert.equal(failureText("resolve", 403, null), "Could not resolve: not allowed (logged out?)");
  assert.equal(failureText("acknowledge", 502, "<html>"), "Could not acknowledge: the server answered 502");
});

function reply(status, body) {
  return { ok: status >= 200 && status < 300, status,
           json: async () => { if (body === undefined) throw new SyntaxError("not JSON"); return body; } };
}

test("an action posts the form with the CSRF token and resolves to the changed alert", async () => {
  const calls = [];
  const fetch = async (url, init) => { calls.push([url, init]); return reply(200, { alert: { id: 5, status: "new" } }); };
  const changed = await alertAction({ id: 5 }, "snooze", { minutes: "30" }, { csrf: "tok", fetch });
  assert.deepEqual(changed, { id: 5, status: "new" });
  const [url, init] = calls[0];
  assert.equal(url, "/api/alerts/5/snooze/");
  assert.equal(init.method, "POST");
  assert.equal(init.credentials, "same-origin");
  assert.equal(init.headers["X-CSRFToken"], "tok");
  assert.equal(init.body.toString(), "minutes=30");
});

test("a refused, garbled or unanswered action rejects with a readable message", async () => {
  const a = { id: 5 };
  await assert.rejects(alertAction(a, "snooze", { minutes: 0 }, {
    csrf: "t", fetch: async () => reply(400, { error: "a snooze lasts 1 minute to 12 hours (720 minutes), not 0" }),
  }), { message: "Could not snooze: a snooze lasts 1 minute to 12 hours (720 minutes), not 0" });
  await assert.rejects(alertAction(a, "resolve", {}, { csrf: "t", fetch: async () => reply(502) }),
    { message: "Could not resolve: the server answered 502" });
  await assert.rejects(alertAction(a, "acknowledge", {}, {
    csrf: "t", fetch: async () => { throw new TypeError("Failed to fetch"); },
  }), { message: "Could not acknowledge: no answer (Failed to fetch)" });
});
