"""Frames per second of the live map in headless Chromium with thousands of moving vehicles.

    python manage.py mapbenchmark --vehicles 2000 --seconds 10

starts a StreamCity server of its own (a temporary SQLite database; a synthetic fleet produced
to `live_vehicles`, then the real bridge, frame publisher, `/ws/live/` and page), opens the live
map in Chromium, waits until every vehicle is drawn, then measures animation frames per second
while the map stands still and while it is dragged about. `--url` measures a server that is
already running instead (e.g. `runstreamcity`). It prints figures; it asserts nothing.
"""

import json
import math
import os
import socket
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run",
                 # no tile server here: every other host fails at once (no request waits on a timeout)
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
SERVICE_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "DATABASE_URL", "KAFKA_TOPIC_PREFIX")

# Counts animation frames in the page, independently of the map's own code.
FRAME_COUNTER = """() => {
  const c = window.__frames = { deltas: [], last: 0, on: true };
  const tick = (t) => { if (c.last) c.deltas.push(t - c.last); c.last = t; if (c.on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
FRAME_RESULT = """() => { const c = window.__frames; c.on = false; return c.deltas; }"""
MAP_STATS = "() => document.getElementById('live-map').streamcityLive.stats()"
SET_ZOOM = "(z) => document.getElementById('live-map').streamcityMap.setZoom(z, {animate: false})"


class Command(BaseCommand):
    help = "Measure the live map's frames per second in headless Chromium with N moving vehicles."

    def add_arguments(self, parser):
        parser.add_argument("--vehicles", type=int, default=2000)
        parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
        parser.add_argument("--tick", type=float, default=1.0, help="seconds between two reports of a vehicle")
        parser.add_argument("--zoom", type=int, default=None,
                            help="map zoom (default: the map's own); the fleet is spread to fill the view")
        parser.add_argument("--radius", type=float, default=None, help="(internal) fleet radius in metres")
        parser.add_argument("--width", type=int, default=1280)
        parser.add_argument("--height", type=int, default=800)
        parser.add_argument("--chromium", default=os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium"))
        parser.add_argument("--url", help="measure this running server instead of starting one")
        parser.add_argument("--min-vehicles", type=int, help="with --url: vehicles to wait for (default: --vehicles)")
        parser.add_argument("--serve", action="store_true", help="(internal) serve a synthetic fleet")
        parser.add_argument("--port", type=int, default=0)

    def handle(self, *args, **options):
        if options["serve"]:
            return self.serve(options)
        if options["url"]:
            return self.measure(options["url"].rstrip("/"), options["min_vehicles"] or options["vehicles"], options)
        with tempfile.TemporaryDirectory(prefix="mapbenchmark-") as tmp:
            env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
            # a throwaway local server on plain http (the demo's settings), whatever this shell's settings
            env.update(STREAMCITY_VAR_DIR=tmp, PYTHONUNBUFFERED="1", STREAMCITY_DEMO="true")
            env.pop("DJANGO_SECRET_KEY", None)
            manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
            subprocess.run([*manage, "migrate", "--no-input", "-v0"], env=env, check=True)
            port = _free_port()
            log = open(Path(tmp) / "server.log", "w+")
            zoom = options["zoom"] or settings.LEAFLET_CONFIG["DEFAULT_ZOOM"]
            lat = settings.LEAFLET_CONFIG["DEFAULT_CENTER"][0]
            metres_per_px = 156_543.03 * math.cos(math.radians(lat)) / 2**zoom
            radius = 0.4 * min(options["width"], options["height"]) * metres_per_px  # the fleet fills the view
            server = subprocess.Popen(
                [*manage, "mapbenchmark", "--serve", "--port", str(port), "--vehicles", str(options["vehicles"]),
                 "--tick", str(options["tick"]), "--radius", str(radius)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
            try:
                _wait_for(lambda: "serving at" in Path(log.name).read_text(), 60, "the benchmark server")
                self.measure(f"http://127.0.0.1:{port}", options["vehicles"], options)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)

    def measure(self, url: str, vehicles: int, options) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise CommandError("playwright is needed: pip install -r requirements-dev.txt") from None
        seconds = options["seconds"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=options["chromium"], args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": options["width"], "height": options["height"]})
                page.goto(url + "/?panel=off")
                if options["zoom"]:
                    page.evaluate(SET_ZOOM, options["zoom"])
                page.wait_for_function(
                    f"() => Number(document.getElementById('live-map').dataset.vehicleCount) >= {int(vehicles * 0.95)}",
                    timeout=120_000,
                )
                page.wait_for_timeout(2000)
                shown = page.evaluate("() => document.getElementById('live-map').dataset.vehicleCount")
                zoom = page.evaluate("() => document.getElementById('live-map').streamcityMap.getZoom()")
                self.stdout.write(f"{shown} vehicles on the map at {options['width']}x{options['height']}, "
                                  f"zoom {zoom}, Chromium {browser.version} (--disable-gpu)")
                idle = self._run(page, seconds, None)
                self._report("animating, map still", idle)
                panning = self._run(page, seconds, options)
                self._report("animating while panning", panning)
                self.stdout.write(json.dumps({"vehicles": int(shown), "zoom": zoom, "idle": idle, "panning": panning}))
            finally:
                browser.close()

    def _run(self, page, seconds: float, drag) -> dict:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        metrics_before = _metrics(cdp)
        before = page.evaluate(MAP_STATS)
        page.evaluate(FRAME_COUNTER)
        started = time.monotonic()
        moves = 0
        if drag:
            w, h = drag["width"], drag["height"]
            cx, cy = w / 2, h / 2
            page.mouse.move(cx, cy)
            page.mouse.down()
            while time.monotonic() - started < seconds:
                t = time.monotonic() - started
                # a slow figure of eight of ±200 px: the view keeps moving but stays over the fleet
                nx = cx + 200 * math.sin(t * 1.3)
                ny = cy + 120 * math.sin(t * 2.6)
                page.mouse.move(nx, ny)
                moves += 1
                time.sleep(max(0.0, 1 / 60 - (time.monotonic() - started - t)))
            page.mouse.up()
        else:
            page.wait_for_timeout(seconds * 1000)
        elapsed = time.monotonic() - started
        deltas = page.evaluate(FRAME_RESULT)
        after = page.evaluate(MAP_STATS)
        metrics = {k: v - metrics_before.get(k, 0) for k, v in _metrics(cdp).items()}
        cdp.detach()
        draws = after["draws"] - before["draws"]
        draw_ms = after["drawMs"] - before["drawMs"]
        ordered = sorted(deltas) or [0]
        return {
            "fps": round(len(deltas) / (sum(deltas) / 1000), 1) if deltas else 0.0,
            "frame_ms_median": round(statistics.median(ordered), 1),
            "frame_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "frames_over_50ms": sum(d > 50 for d in deltas),
            "map_redraws_per_s": round(draws / elapsed, 1),
            "draw_ms_mean": round(draw_ms / draws, 2) if draws else 0.0,
            "frame_messages_per_s": round((after["messages"] - before["messages"]) / elapsed, 1),
            "frame_message_ms_mean": round((after["messageMs"] - before["messageMs"])
                                           / max(1, after["messages"] - before["messages"]), 2),
            # share of wall time the page's main thread spent on tasks, scripts, layout and style
            "main_thread_busy": round(metrics.get("TaskDuration", 0) / elapsed, 2),
            "script_busy": round(metrics.get("ScriptDuration", 0) / elapsed, 2),
            "layout_style_busy": round(
                (metrics.get("LayoutDuration", 0) + metrics.get("RecalcStyleDuration", 0)) / elapsed, 2
            ),
            "mouse_moves": moves,
            "seconds": round(elapsed, 1),
        }

    def _report(self, label: str, r: dict) -> None:
        self.stdout.write(
            f"{label:>26}: {r['fps']:5.1f} fps (frame median {r['frame_ms_median']} ms, p95 {r['frame_ms_p95']} ms, "
            f"{r['frames_over_50ms']} over 50 ms); vehicle layer redrawn {r['map_redraws_per_s']}/s, "
            f"{r['draw_ms_mean']} ms per redraw; {r['frame_messages_per_s']} socket messages/s, "
            f"{r['frame_message_ms_mean']} ms each; main thread busy {r['main_thread_busy']:.0%} "
            f"(script {r['script_busy']:.0%}, layout+style {r['layout_style_busy']:.0%})"
        )

    def serve(self, options) -> None:
        """A server with the real bridge and socket, fed by a synthetic fleet instead of the simulator."""
        from streamcity.server import asgi_server, server_loop
        from streamcity.kernel.bus import get_bus, topic_specs
        from streamcity.kernel.runtime import Role, RoleThreads
        from streamcity.kernel.schemas import LIVE_VEHICLES, encode
        from transit.streams import bridge_worker, vehicle_frames, vehicle_publisher
        from benchmarks.synthetic import SyntheticFleet

        bus = get_bus()
        bus.ensure_topics(topic_specs())
        centre = settings.LEAFLET_CONFIG["DEFAULT_CENTER"]
        fleet = SyntheticFleet(vehicles=options["vehicles"], centre=centre, radius_m=options["radius"] or 4000)
        frames = vehicle_frames()
        worker = bridge_worker(bus, frames, batch_size=5000)
        publisher = vehicle_publisher(frames, interval=settings.STREAMCITY_FRAME_INTERVAL,
                                      loop=server_loop())
        tick = options["tick"]

        def produce(stop: threading.Event) -> None:
            while not stop.is_set():
                started = time.monotonic()
                for event in fleet.tick(tick, timezone.now()):
                    bus.produce(LIVE_VEHICLES.name, event.vehicle_id, encode(event))
                stop.wait(max(0.0, tick - (time.monotonic() - started)))
            bus.flush()

        stop = threading.Event()
        threads = RoleThreads([Role("fleet", produce), Role("bridge", worker.run), Role("frames", publisher.run)], stop)

        def ready():
            self.stdout.write(f"serving at {server.listening_addresses}")
            self.stdout.flush()

        server = asgi_server("127.0.0.1", options["port"], ready=ready)
        threads.start()
        try:
            server.run()
        finally:
            stop.set()
            threads.join()
            bus.close()


def _metrics(cdp) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise CommandError(f"timed out waiting for {what}")
