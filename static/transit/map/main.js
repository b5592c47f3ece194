// The live map's entry point (<script type="module">): window.streamcityLiveMap(map) is the
// callback django-leaflet's {% leaflet_map ... callback="window.streamcityLiveMap" %} calls once
// the page has loaded (module scripts run before that).

import { createLiveMap } from "./livemap.js";

// The stylesheet, for pages that did not link it (it sits beside this folder: transit/live_map.css).
function ensureStylesheet() {
  if (document.querySelector("link[data-streamcity-live-map]")) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("../live_map.css", import.meta.url).href;
  link.setAttribute("data-streamcity-live-map", "");
  document.head.appendChild(link);
}

window.streamcityLiveMap = function (map) {
  ensureStylesheet();
  return createLiveMap(map);
};
