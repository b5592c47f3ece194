// The operators' alert feed over /ws/ops/, shared by the operations map (ops.js) and the shift's board
// (shift/page.js): a snapshot, then changed alerts; the server's clock from the snapshot (snoozes end
// on the server's time); the connection state in `connEl`; reconnects with back-off, except for a user
// who is not an operator (close code 4403: "not allowed").

import { backoffDelay } from "../transit/map/subscription.js";

export const FORBIDDEN = 4403;

/**
 * Connect and keep connected. `onSnapshot(msg)` runs before a snapshot's alerts (clear what was shown),
 * `onAlerts(list)` with every message's alerts. Returns `{serverNow()}`: this browser's clock corrected
 * by the server's.
 */
export function connectOpsFeed({ connEl, onSnapshot = () => {}, onAlerts }) {
  let retry = 0;
  let skewMs = 0; // the server's clock minus this browser's
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/ops/");
    ws.onopen = () => { retry = 0; connEl.textContent = "alerts live"; connEl.className = "conn conn-on"; };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "snapshot") {
        if (Number.isFinite(msg.server_time)) skewMs = msg.server_time - Date.now();
        onSnapshot(msg);
      }
      onAlerts(msg.alerts || []);
    };
    ws.onclose = (e) => {
      connEl.className = "conn conn-off";
      if (e.code === FORBIDDEN) { connEl.textContent = "not allowed"; return; }
      connEl.textContent = "alerts reconnecting…";
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, backoffDelay(retry + 1, Math.random()));
    };
  }
  connect();
  return { serverNow: () => Date.now() + skewMs };
}
