"""Frames per second of the live map, the operations map or a route ladder in headless Chromium.

    python manage.py mapbenchmark --vehicles 2000 --seconds 10
    python manage.py mapbenchmark --page ops --vehicles 2000
    python manage.py mapbenchmark --page ladder --vehicles 60

starts a StreamCity server of its own (a temporary SQLite database; a synthetic fleet produced
to `live_vehicles`, then the real bridge, frame publisher, `/ws/live/` and page), opens the page
in Chromium, waits until every vehicle is drawn, then measures animation frames per second while
the page stands still and while it is dragged about (the maps) or scrolled (the ladder).

`--page live` (the default) is the passenger map, `--page ops` the operations map (/ops/) and
`--page ladder` the route ladder (/ops/routes/L60/); for these two the server's database gets an
operator account and the browser logs in. For the ladder the fleet is one busy route
(benchmarks/ladder.py: 40 stops each way, its timetable imported as a GTFS feed) worked by
`--vehicles` vehicles that report their stop progress. `--url` measures a server that is already
running instead (e.g. `runstreamcity`; the live map only). It prints figures; it asserts nothing.
"""

import json
import math
import os
import re
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

PAGES = ("live", "ops", "ladder")
LADDER_ROUTE = "L60"  # benchmarks.ladder.ROUTE_ID (imported lazily, with Django's apps ready)

# Counts animation frames in the page, independently of the map's own code.
FRAME_COUNTER = """() => {
  const c = window.__frames = { deltas: [], last: 0, on: true };
  const tick = (t) => { if (c.last) c.deltas.push(t - c.last); c.last = t; if (c.on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
FRAME_RESULT = """() => { const c = window.__frames; c.on = false; return c.deltas; }"""
MAP_STATS = "() => document.getElementById('live-map').streamcityLive.stats()"
LADDER_STATS = "() => document.getElementById('ladder').streamcityLadder.stats()"
TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "blink.user_timing"]
# the main thread's work as Chromium's timeline names it (Performance panel: Summary)
TRACE_KINDS = ("RunTask", "FireAnimationFrame", "FunctionCall", "EventDispatch", "TimerFire", "ParseHTML",
               "UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize", "Commit", "HitTest",
               "MinorGC", "MajorGC", "V8.GC_SCAVENGER", "ScheduleStyleRecalculation", "RasterTask")
# the element that scrolls the ladder (the page's own scroller, else the document)
SCROLLER = """(() => { let e = document.getElementById('ladder');
  while (e && !(e.scrollHeight > e.clientHeight && /auto|scroll/.test(getComputedStyle(e).overflowY))) e = e.parentElement;
  return e || document.scrollingElement; })()"""
SET_ZOOM = "(z) => document.getElementById('live-map').streamcityMap.setZoom(z, {animate: false})"


class Command(BaseCommand):
    help = "Measure the live map's frames per second in headless Chromium with N moving vehicles."

    def add_arguments(self, parser):
        parser.add_argument("--page", choices=PAGES, default="live",
                            help="live: the passenger map; ops: the operations map; ladder: a route ladder")
        parser.add_argument("--vehicles", type=int, default=None,
                            help="vehicles in the fleet (default: 2000; 60 on the ladder's one route)")
        parser.add_argument("--alerts", type=int, default=None,
                            help="open alerts about the fleet (default: 40 with --page ops, else 0)")
        parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
        parser.add_argument("--tick", type=float, default=1.0, help="seconds between two reports of a vehicle")
        parser.add_argument("--zoom", type=int, default=None,
                            help="map zoom (default: the map's own); the fleet is spread to fill the view")
        parser.add_argument("--radius", type=float, default=None, help="(internal) fleet radius in metres")
        parser.add_argument("--width", type=int, default=1280)
        parser.add_argument("--height", type=int, default=800)
        parser.add_argument("--chromium", default=os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium"))
        parser.add_argument("--trace", help="record a Chromium trace (JSON, for chrome://tracing or Perfetto) of the "
                            "second measurement here and print where the page's main thread spent its time")
        parser.add_argument("--screenshot", help="save a PNG of the page here after measuring")
        parser.add_argument("--url", help="measure this running server instead of starting one")
        parser.add_argument("--min-vehicles", type=int, help="with --url: vehicles to wait for (default: --vehicles)")
        parser.add_argument("--serve", action="store_true", help="(internal) serve a synthetic fleet")
        parser.add_argument("--port", type=int, default=0)

    def handle(self, *args, **options):
        if options["vehicles"] is None:
            options["vehicles"] = 60 if options["page"] == "ladder" else 2000
        if options["alerts"] is None:
            options["alerts"] = 40 if options["page"] == "ops" else 0
        if options["alerts"] < 0:
            raise CommandError("--alerts cannot be negative")
        if options["vehicles"] < 1 or options["seconds"] <= 0 or options["tick"] <= 0:
            raise CommandError("--vehicles, --seconds and --tick must be positive")
        if options["serve"]:
            return self.serve(options)
        if options["url"]:
            if options["page"] != "live":
                raise CommandError("--url measures the live map only (the other pages need a login it has not got)")
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
                [*manage, "mapbenchmark", "--serve", "--page", options["page"], "--port", str(port),
                 "--vehicles", str(options["vehicles"]), "--alerts", str(options["alerts"]),
                 "--tick", str(options["tick"]), "--radius", str(radius)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
            try:
                _wait_for(lambda: "serving at" in Path(log.name).read_text(), 120, "the benchmark server",
                          lambda: server.poll() is not None and Path(log.name).read_text()[-3000:])
                login = re.search(r"operator login: (\S+) (\S+)", Path(log.name).read_text())
                self.measure(f"http://127.0.0.1:{port}", options["vehicles"], options,
                             login=login.groups() if login else None)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)

    def measure(self, url: str, vehicles: int, options, login: tuple[str, str] | None = None) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise CommandError("playwright is needed: pip install -r requirements-dev.txt") from None
        seconds, kind = options["seconds"], options["page"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=options["chromium"], args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": options["width"], "height": options["height"]})
                if kind != "live":
                    if login is None:
                        raise CommandError("the benchmark server gave no operator login")
                    _log_in(page, url, *login)
                page.goto(url + {"live": "/?panel=off", "ops": "/ops/", "ladder": f"/ops/routes/{LADDER_ROUTE}/"}[kind])
                if kind == "ladder":
                    counted, stats = "document.getElementById('ladder').dataset.vehicles", LADDER_STATS
                else:
                    counted, stats = "document.getElementById('live-map').dataset.vehicleCount", MAP_STATS
                    if options["zoom"]:
                        page.evaluate(SET_ZOOM, options["zoom"])
                page.wait_for_function(f"() => Number({counted}) >= {max(1, int(vehicles * 0.95))}", timeout=120_000)
                page.wait_for_timeout(2000)
                shown = int(page.evaluate(f"() => {counted}"))
                if kind == "ladder":
                    ghosts = page.evaluate("() => document.getElementById('ladder').dataset.ghosts")
                    height = page.evaluate(f"() => {SCROLLER}.scrollHeight")
                    self.stdout.write(f"{shown} vehicles and {ghosts} ghost buses on the ladder of route "
                                      f"{LADDER_ROUTE} at {options['width']}x{options['height']} (page {height} px "
                                      f"high), Chromium {browser.version} (--disable-gpu)")
                    where = {"page": kind, "ghosts": int(ghosts), "page_height": height}
                else:
                    zoom = page.evaluate("() => document.getElementById('live-map').streamcityMap.getZoom()")
                    self.stdout.write(f"{shown} vehicles on the {'operations' if kind == 'ops' else 'live'} map at "
                                      f"{options['width']}x{options['height']}, zoom {zoom}, "
                                      f"Chromium {browser.version} (--disable-gpu)")
                    where = {"page": kind, "zoom": zoom}
                idle = self._run(page, seconds, None, stats)
                self._report("animating, page still" if kind == "ladder" else "animating, map still", idle)
                if options["trace"]:
                    browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
                if kind == "ladder":
                    moving = self._run(page, seconds, "scroll", stats)
                    self._report("animating while scrolling", moving)
                else:
                    moving = self._run(page, seconds, "drag", stats)
                    self._report("animating while panning", moving)
                if options["trace"]:
                    trace = browser.stop_tracing()
                    Path(options["trace"]).write_bytes(trace)
                    where["main_thread_ms"] = self._trace_report(trace, moving["seconds"])
                self.stdout.write(json.dumps({"vehicles": shown, **where, "idle": idle,
                                              "scrolling" if kind == "ladder" else "panning": moving}))
                if options["screenshot"]:
                    page.screenshot(path=options["screenshot"])
            finally:
                browser.close()

    def _run(self, page, seconds: float, motion: str | None, stats: str) -> dict:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        metrics_before = _metrics(cdp)
        before = page.evaluate(stats)
        page.evaluate(FRAME_COUNTER)
        started = time.monotonic()
        moves = 0
        scrolled = []
        if motion == "drag":
            box = page.locator("#live-map").bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
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
        elif motion == "scroll":
            page.mouse.move(page.viewport_size["width"] / 2, page.viewport_size["height"] / 2)
            while time.monotonic() - started < seconds:
                t = time.monotonic() - started
                # wheel steps down the ladder and back up, about 1,000 px each way every 6 s
                page.mouse.wheel(0, 30 * math.cos(t * math.pi / 3))
                moves += 1
                if moves % 10 == 0:
                    scrolled.append(page.evaluate(f"() => {SCROLLER}.scrollTop"))
                time.sleep(max(0.0, 1 / 60 - (time.monotonic() - started - t)))
        else:
            page.wait_for_timeout(seconds * 1000)
        elapsed = time.monotonic() - started
        deltas = page.evaluate(FRAME_RESULT)
        after = page.evaluate(stats)
        metrics = {k: v - metrics_before.get(k, 0) for k, v in _metrics(cdp).items()}
        cdp.detach()
        draws = after["draws"] - before["draws"]
        draw_ms = after["drawMs"] - before["drawMs"]
        ordered = sorted(deltas) or [0]
        return {
            "fps": round(len(deltas) / (sum(deltas) / 1000), 1) if deltas else 0.0,
            "frame_ms_median": round(statistics.median(ordered), 1),
            "frame_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "frame_ms_max": round(ordered[-1], 1),
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
            "scrolled_px": (round(max(scrolled) - min(scrolled)) if scrolled else 0),
            "seconds": round(elapsed, 1),
        }

    def _trace_report(self, trace: bytes, seconds: float) -> dict[str, float]:
        """Milliseconds per second of the renderer's main thread inside each kind of work (nested kinds
        overlap: a FunctionCall inside a FireAnimationFrame counts in both)."""
        events = json.loads(trace)
        events = events["traceEvents"] if isinstance(events, dict) else events
        main = {(e["pid"], e["tid"]) for e in events
                if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
        totals: dict[str, float] = {}
        for e in events:
            if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in main and e.get("name") in TRACE_KINDS:
                totals[e["name"]] = totals.get(e["name"], 0.0) + e.get("dur", 0) / 1000
        per_s = {k: round(v / seconds, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
        self.stdout.write("main thread, ms per second (trace): "
                          + ", ".join(f"{k} {v}" for k, v in per_s.items() if v >= 0.1))
        return per_s

    def _report(self, label: str, r: dict) -> None:
        self.stdout.write(
            f"{label:>26}: {r['fps']:5.1f} fps (frame median {r['frame_ms_median']} ms, p95 {r['frame_ms_p95']} ms, "
            f"worst {r['frame_ms_max']} ms, {r['frames_over_50ms']} over 50 ms)"
            + (f", scrolled over {r['scrolled_px']} px" if r["scrolled_px"] else "")
            + f"; vehicles redrawn {r['map_redraws_per_s']}/s, "
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
        from benchmarks.ladder import LadderRoute
        from benchmarks.synthetic import SyntheticFleet

        bus = get_bus()
        bus.ensure_topics(topic_specs())
        centre = settings.LEAFLET_CONFIG["DEFAULT_CENTER"]
        if options["page"] == "ladder":
            fleet = _ladder_route(options["vehicles"], centre)
        else:
            fleet = SyntheticFleet(vehicles=options["vehicles"], centre=centre, radius_m=options["radius"] or 4000)
        login = None
        if options["page"] != "live":
            from alerts.services import demo_operator_reset

            login = demo_operator_reset(username="benchmark-operator")
        if options["alerts"]:
            now = timezone.now()
            _open_alerts(fleet.tick(now) if isinstance(fleet, LadderRoute) else fleet.tick(0.0, now), options["alerts"])
        frames = vehicle_frames()
        worker = bridge_worker(bus, frames, batch_size=5000)
        publisher = vehicle_publisher(frames, interval=settings.STREAMCITY_FRAME_INTERVAL,
                                      loop=server_loop())
        tick = options["tick"]

        def produce(stop: threading.Event) -> None:
            while not stop.is_set():
                started = time.monotonic()
                events = fleet.tick(timezone.now()) if isinstance(fleet, LadderRoute) else fleet.tick(tick, timezone.now())
                for event in events:
                    bus.produce(LIVE_VEHICLES.name, event.vehicle_id, encode(event))
                stop.wait(max(0.0, tick - (time.monotonic() - started)))
            bus.flush()

        stop = threading.Event()
        threads = RoleThreads([Role("fleet", produce), Role("bridge", worker.run), Role("frames", publisher.run)], stop)

        def ready():
            if login:  # a throwaway account in a throwaway database, for the benchmark's browser
                self.stdout.write(f"operator login: {login[0]} {login[1]}")
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


def _ladder_route(vehicles: int, centre):
    """The ladder's route in this (throwaway) database: its timetable imported as a GTFS feed."""
    from benchmarks.ladder import LadderRoute, zone_near_noon
    from transit.gtfs.services import feed_import

    now = timezone.now()
    route = LadderRoute(vehicles=vehicles, centre=centre, timezone=zone_near_noon(now))
    with tempfile.TemporaryDirectory(prefix="ladder-gtfs-") as folder:
        route.write_gtfs(Path(folder), today=now.astimezone(route.zone).date())
        feed_import(source=folder, name="ladder-benchmark")
    return route


def _open_alerts(reports, count: int) -> None:
    """`count` open alerts as the detectors raise them: most about vehicles of the fleet (delays,
    breakdowns, bunching: drawn beside the vehicle, moving with it), every fifth a passenger surge at a
    place among them (at a vehicle's next stop, on the ladder's route)."""
    from alerts.detections import Detection
    from alerts.services import alerts_apply_detections

    now = timezone.now()
    step = max(1, len(reports) // max(1, count))
    detections = []
    for i in range(count):
        v = reports[(i * step) % len(reports)]
        kind = "surge" if i % 5 == 4 else ("delay", "breakdown", "bunching")[i % 3]
        fields = {"route_id": v.route_id, "latitude": v.latitude, "longitude": v.longitude}
        if kind == "surge":
            fields["stop_id"] = v.next_stop_id or f"bench-stop-{i}"
        else:
            fields.update(vehicle_id=v.vehicle_id, trip_id=v.trip_id)
        detections.append(Detection(
            alert_key=f"bench:{kind}:{i}", kind=kind, open=True, severity=(2, 3, 2, 3, 4)[i % 5],
            summary=f"benchmark {kind} {i}", fields=fields, payload={"kind": kind, **fields},
            detected_at=now, timestamp=now))
    alerts_apply_detections(detections=detections)


def _log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form:not(.site-search) button[type=submit]")
    page.wait_for_load_state()
    if "/accounts/login/" in page.url:
        raise CommandError(f"could not log in as {username}")


def _wait_for(predicate, timeout: float, what: str, failed=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if failed and (why := failed()):
            raise CommandError(f"{what} stopped:\n{why}")
        time.sleep(0.3)
    raise CommandError(f"timed out waiting for {what}")
