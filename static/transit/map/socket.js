// The live socket (/ws/live/): connects with the view's subscription in its URL, renews the
// subscription as the view moves, reconnects with backoff and jitter after a drop. The map gets a
// snapshot after every (re)subscription, so reconnecting resynchronises it.

import { backoffDelay, needsResubscribe, socketQuery, subscribeMessage } from "./subscription.js";

export class LiveSocket {
  /**
   * path: the socket's path ("/ws/live/"); subscription(): what the view wants now (subscription.wanted);
   * view(): {box, zoom} of the view now; onMessage(msg): a parsed message; onState(state, text):
   * "connecting" / "on" / "off" with words for people; onCounted(messages): after each message.
   */
  constructor({ path, subscription, view, onMessage, onState, onCounted }) {
    this.path = path;
    this.subscription = subscription;
    this.view = view;
    this.onMessage = onMessage;
    this.onState = onState;
    this.onCounted = onCounted || (() => {});
    this.ws = null;
    this.asked = null; // the subscription last sent
    this.retry = 0;
    this.retryTimer = null;
    this.subscribeTimer = null;
    this.everConnected = false;
    this.messages = 0;
    this.messageMs = 0;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.asked = this.subscription();
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + this.path + "?" + socketQuery(this.asked));
    this.ws = socket;
    this.onState("connecting", this.everConnected ? "reconnecting…" : "connecting…");
    socket.onopen = () => {
      this.retry = 0;
      this.everConnected = true;
      this.onState("on", "live");
    };
    socket.onmessage = (e) => {
      if (socket !== this.ws) return;
      const t0 = performance.now();
      this.onMessage(JSON.parse(e.data));
      this.messages += 1;
      this.messageMs += performance.now() - t0;
      this.onCounted(this.messages);
    };
    socket.onclose = () => {
      if (socket !== this.ws) return;
      this.ws = null;
      this.retry = Math.min(this.retry + 1, 7);
      const delay = backoffDelay(this.retry, Math.random());
      this.onState("off", "offline — retrying in " + Math.ceil(delay / 1000) + " s");
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }

  /** Back online or back in view: do not wait for the backoff. */
  reconnectNow() {
    if (!this.ws && this.retryTimer) this.connect();
  }

  /**
   * Renew the subscription (debounced): `force` after a filter change, otherwise only when the
   * view has left it or needs another level of detail.
   */
  subscribe(force) {
    clearTimeout(this.subscribeTimer);
    this.subscribeTimer = setTimeout(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (!force) {
        const { box, zoom } = this.view();
        if (!needsResubscribe(this.asked, box, zoom)) return;
      }
      this.asked = this.subscription();
      ws.send(subscribeMessage(this.asked));
    }, force ? 50 : 200);
  }
}
