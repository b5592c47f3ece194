// A stop page keeps its board current: every 30 s (and when the tab comes back into view) it reads the
// page again and swaps in the departures, alerts and clock, leaving the small map and the focus alone.
const REFRESH_MS = 30000;
const PARTS = ["#board-now", "section.departures", "section.alerts"];

function refresh() {
  if (document.hidden) return;
  fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
    .then((r) => (r.ok ? r.text() : null))
    .then((html) => {
      if (!html) return;
      const fresh = new DOMParser().parseFromString(html, "text/html");
      if (document.activeElement && document.activeElement.closest("section.departures")) return; // mid-read
      PARTS.forEach((sel) => {
        const now = document.querySelector(sel), next = fresh.querySelector(sel);
        if (now && next) now.replaceWith(document.importNode(next, true));
      });
      document.querySelector(".stop-page").dataset.refreshed = String(Date.now());
    })
    .catch(() => { /* offline: the next round tries again */ });
}

setInterval(refresh, REFRESH_MS);
document.addEventListener("visibilitychange", refresh);
