// "Near me": the browser's position (when the person allows it) becomes ?lat=..&lon=..; without
// it, the typed place of the form is the fallback (the server finds the stop of that name).
const button = document.getElementById("locate");
const status = document.getElementById("locate-status");
if (button) {
  button.addEventListener("click", () => {
    if (!navigator.geolocation) { status.textContent = "This browser cannot tell its position: type a place."; return; }
    status.textContent = "Finding your position…";
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const q = new URLSearchParams({ lat: pos.coords.latitude.toFixed(5), lon: pos.coords.longitude.toFixed(5) });
        location.href = location.pathname + "?" + q.toString();
      },
      () => { status.textContent = "Your position is not available: type a place instead."; },
      { timeout: 10000, maximumAge: 60000 },
    );
  });
}
