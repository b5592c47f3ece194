"""The pipeline under test, in one process, and the phases that measure it.

Runs what `runstreamcity` runs, minus the simulator: the reference reader and the four processors
(the registry's processors), the bridge, frame publisher, alert consumer, alert feed and notifier
(the registry's consumers; with the processors split off, the history writer runs in a process of its
own as `runconsumers --only history`, as it is deployed at scale) and Daphne on 127.0.0.1, on the bus and channel layer the settings
name (the `benchmark` command gives this process its own topic prefix and a temporary database).
Then, in order:

1. live: the load (the city's vehicles at 1 Hz + taps) for warmup + duration seconds, M WebSocket
   clients receiving frames; figures are taken over the duration only (after the warm-up);
2. drain: the pipeline catches up with what is left (the backlog at the end of the window is a figure);
3. bare fan-out: the same frames, at the same interval, group_send to M bare channels of the same
   channel layer, on the server's loop (no consumer, no WebSocket);
4. baseline: a bare consume+decode loop over the input topics of the run (confluent-kafka on Kafka,
   in a process of its own: benchmarks.baseline);
5. capacity: the processors and the bridge replay the same input topics in new consumer groups as
   fast as they can.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

from streamcity.server import asgi_server, server_loop  # first: it installs Twisted's asyncio reactor

logger = logging.getLogger(__name__)

VEHICLE_WORKERS = ("vehicles", "bridge")  # the vehicle stages (live-vehicles, stop-events, alerts) share one Worker
TAP_WORKERS = ("surges",)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass
class Options:
    vehicles: int
    clients: int
    duration: float
    warmup: float
    taps: float
    bus: str
    seed: int = 7
    port: int = 0
    replay_seconds: float = 60.0
    bare_seconds: float = 10.0
    split: bool = False  # the processors in a process of their own (Kafka only)
    switch_interval: float | None = None  # sys.setswitchinterval of the pipeline process
    view: str = "city"  # what each client shows: the whole city or a district (clients.views)
    zoom: str = "auto"  # the map zoom each client reports (clients.views)
    web_processes: int = 0  # Daphne processes of their own for the clients (0: the pipeline's Daphne)
    processor_processes: int = 2  # split: the processors in 1 process, or 2 (the vehicle stages; the surges)


class GcMeter:
    """Time spent in the garbage collector's full (generation 2) collections, which stop every thread."""

    def __init__(self):
        self.pauses: list[float] = []
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start:
            self.pauses.append(time.perf_counter() - self._start)

    def figures(self) -> dict:
        return {"gc_full_collections": len(self.pauses), "gc_full_seconds": round(sum(self.pauses), 3),
                "gc_full_pause_max_s": round(max(self.pauses, default=0.0), 3)}


class LagMeter:
    """Wraps a Worker's handler: how long the oldest record of each batch waited in the log."""

    def __init__(self, worker):
        self.worker = worker
        self.inner = worker.handle
        worker.handle = self
        self.max_s = 0.0

    def __call__(self, batch):
        oldest = min(d.record.timestamp_ms for d in batch)
        wait = time.time() - oldest / 1000.0
        if wait > self.max_s:
            self.max_s = wait
        return self.inner(batch)

    def take(self) -> float:
        value, self.max_s = self.max_s, 0.0
        return value


@dataclass
class Child:
    """A subprocess whose stdout lines are collected by a thread."""

    name: str
    popen: subprocess.Popen
    lines: queue.Queue = field(default_factory=queue.Queue)
    latest: dict = field(default_factory=dict)
    lag: dict = field(default_factory=dict)  # a processors child: the longest wait per worker since take_lag()

    @classmethod
    def start(cls, name: str, args: list[str], log, cwd: str | None = None) -> Child:
        popen = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1,
                                 cwd=cwd)
        child = cls(name, popen)
        threading.Thread(target=child._read, name=f"{name}-stdout", daemon=True).start()
        return child

    def _read(self) -> None:
        for line in self.popen.stdout:
            line = line.strip()
            word, _, rest = line.partition(" ")
            if word in ("progress", "result"):
                self.latest[word] = json.loads(rest)
                for name, wait in self.latest[word].get("lag", {}).items():
                    self.lag[name] = max(self.lag.get(name, 0.0), wait)
            self.lines.put(line)
        self.lines.put(None)

    def wait_line(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"{self.name}: no {prefix!r} line within {timeout:.0f}s") from None
            if line is None:
                raise RuntimeError(f"{self.name} exited ({self.popen.wait()}) before printing {prefix!r}")
            if line.startswith(prefix):
                return line

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.popen.pid)

    def take_lag(self) -> dict[str, float]:
        lag, self.lag = self.lag, {}
        return lag

    def stop(self, timeout: float = 60) -> dict:
        """Close its stdin (it stops), wait for its `result` line and its exit."""
        self.popen.stdin.close()
        self.popen.wait(timeout)
        deadline = time.monotonic() + 5
        while "result" not in self.latest and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.latest.get("result", {})


class Children:
    """The processors' children (PROCESSOR_SPLITS) seen as one: their progress merged."""

    def __init__(self, children: list[Child]):
        self.children = children

    @property
    def latest(self) -> dict:
        merged: dict = {}
        for word in ("progress", "result"):
            parts = [c.latest[word] for c in self.children if word in c.latest]
            if len(parts) < len(self.children):
                continue
            out: dict = {}
            for part in parts:
                for key, value in part.items():
                    if isinstance(value, dict):
                        out.setdefault(key, {}).update(value)
                    elif isinstance(value, list):
                        out[key] = out.get(key, []) + value
                    elif isinstance(value, bool):
                        out[key] = out.get(key, True) and value
                    elif isinstance(value, (int, float)):
                        out[key] = out.get(key, 0) + value
                    else:
                        out[key] = value
            merged[word] = out
        return merged

    def exited(self) -> bool:
        return any(c.popen.poll() is not None for c in self.children)

    def cpu_seconds(self) -> float:
        return sum(c.cpu_seconds() for c in self.children)

    def take_lag(self) -> dict[str, float]:
        lag: dict[str, float] = {}
        for c in self.children:
            lag.update(c.take_lag())
        return lag

    def stop(self, timeout: float = 60) -> dict:
        for c in self.children:
            c.stop(timeout)
        return self.latest.get("result", {})


# What each processors process runs (runprocessors --only ...), by --processor-processes.
PROCESSOR_SPLITS = {1: [None], 2: [["live-vehicles", "stop-events", "vehicle-alerts", "bunching"], ["surges"]]}


def proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_MB


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def available(bus, topic: str) -> int:
    """Records of `topic` a new consumer group would read from the beginning."""
    from streamcity.kernel.bus.memory import MemoryBus

    if isinstance(bus, MemoryBus):
        with bus._cond:
            return sum(p.next_offset - p.start() for p in bus._topic(topic).partitions)
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({**bus._config, "group.id": f"streamcity-bench-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    try:
        name = bus.physical(topic)
        parts = c.list_topics(name, timeout=10).topics[name].partitions
        total = 0
        for p in parts:
            low, high = c.get_watermark_offsets(TopicPartition(name, p), timeout=10)
            total += high - low
        return total
    finally:
        c.close()


class Host:
    def __init__(self, opts: Options, out, log_path: str):
        from django.conf import settings

        from streamcity.kernel.bus import get_bus

        from .city import City

        self.opts = opts
        self.out = out
        self.log = open(log_path, "a")
        self.bus = get_bus()
        self.settings = settings
        self.city = City(vehicles=opts.vehicles, start=time.time(), seed=opts.seed)
        self.result: dict = {"vehicles": opts.vehicles, "clients": opts.clients, "taps_per_s": opts.taps,
                             "processes": "split" if opts.split else "one", "view": opts.view,
                             "processor_processes": opts.processor_processes if opts.split else 0,
                             "switch_interval_s": opts.switch_interval,
                             "bus": opts.bus, "duration_s": opts.duration, "warmup_s": opts.warmup,
                             "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
                             "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
                             "frame_interval_s": settings.STREAMCITY_FRAME_INTERVAL,
                             "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
        self.server_ready = threading.Event()
        self.error: BaseException | None = None
        self.web: list[Child] = []  # --web-processes
        self.result["web_processes"] = opts.web_processes

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    # -- the process ------------------------------------------------------------------------
    def run(self) -> dict:
        if self.opts.switch_interval:
            sys.setswitchinterval(self.opts.switch_interval)
        from streamcity.kernel.registry import ensure_topics, registry
        from streamcity.kernel.runtime import RoleThreads
        from streamcity.kernel.schemas import STOP_SCHEDULE, encode, event_key

        ensure_topics(self.bus)
        t = time.monotonic()
        for s in self.city.schedule():
            self.bus.produce(STOP_SCHEDULE.name, event_key(STOP_SCHEDULE, s), encode(s))
        self.bus.flush()
        self.say(f"timetable: {len(self.city.fleet) * 20} scheduled stops produced in {time.monotonic() - t:.1f}s")
        loop = server_loop()
        self.procs = self.history = None
        skip = []
        if self.opts.split:
            proc_roles, proc_workers = [], []
            self.procs = self._processors_child()
            # as deployed at scale: the history writer in a process of its own (runconsumers --only history),
            # so its database writes never hold the GIL the map frames need
            self.history = subprocess.Popen(
                [sys.executable, str(self.settings.BASE_DIR / "manage.py"), "runconsumers", "--only", "history"],
                stdout=self.log, stderr=subprocess.STDOUT)
            skip = ["history"]
        else:
            proc_roles, proc_workers = registry.processors(self.bus)
        cons_roles, cons_workers = registry.consumers(self.bus, loop=loop, skip=skip)
        self.publisher = next(r.run.__self__ for r in cons_roles if r.name == "frames")  # the live map's
        self.workers = {w.name: w for w in proc_workers + cons_workers}
        self.meters = {name: LagMeter(w) for name, w in self.workers.items() if name != "reference"}
        self.stop = threading.Event()
        self.threads = RoleThreads(proc_roles + cons_roles, self.stop)
        self.server = asgi_server("127.0.0.1", self.opts.port, ready=self.server_ready.set)
        self.threads.start()
        threading.Thread(target=self._control, name="benchmark", daemon=True).start()
        try:
            self.server.run()
        finally:
            self.stop.set()
            self.threads.join()
            self.bus.close()
        if self.error is not None:
            raise self.error
        return self.result

    def _control(self) -> None:
        from twisted.internet import reactor

        try:
            self._phases()
        except BaseException as exc:  # reported by run() once the server is down
            logger.exception("benchmark failed")
            self.error = exc
        finally:
            self.stop.set()
            reactor.callFromThread(reactor.stop)

    def _phases(self) -> None:
        if not self.server_ready.wait(60):
            raise RuntimeError("Daphne did not start")
        if self.procs is not None:
            deadline = time.monotonic() + 180
            while not self.procs.latest.get("progress", {}).get("ready"):
                if time.monotonic() > deadline or self.procs.exited():
                    raise RuntimeError("the processors process did not load the timetable")
                time.sleep(0.2)
        elif not self.workers["reference"].handle.data.ready.wait(180):
            raise RuntimeError("the reference reader did not load the timetable")
        if self.threads.failed:
            raise RuntimeError(f"roles crashed: {self.threads.failed}")
        port = self.server.listening_addresses[0][1]
        self.say(f"pipeline ready on 127.0.0.1:{port} ({self.opts.bus} bus, {self.result['channel_layer']})")
        ports = [port]
        if self.opts.web_processes and self.opts.clients:
            ports = self._start_web(self.opts.web_processes)
        clients = self._start_clients(ports)
        self._live(clients)
        for web in self.web:
            web.popen.terminate()
            web.popen.wait(30)
        self._drain()
        self.result.update(self._bare_fanout())
        self.stop.set()
        self.threads.join()
        if self.procs is not None:
            self.procs.stop()
        if self.history is not None:
            self.history.terminate()
            self.result["history_exit"] = self.history.wait(60)
        self.result.update(self._baseline())
        self.result.update(self._capacity())
        self.result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]

    # -- phase 1: live -------------------------------------------------------------------------
    def _start_web(self, n: int) -> list[int]:
        """N Daphne processes serving the app on ports of their own (the channel layer joins them to
        the pipeline's publisher), as several web servers behind a load balancer would."""
        ports = []
        for i in range(n):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            self.web.append(Child.start(f"web-{i}", [
                sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--verbosity", "0",
                "streamcity.asgi:application",
            ], self.log, cwd=str(self.settings.BASE_DIR)))
            ports.append(port)
        deadline = time.monotonic() + 60
        for port, web in zip(ports, self.web):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if web.popen.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{web.name} did not start on port {port}") from None
                    time.sleep(0.2)
        self.say(f"web: {n} Daphne processes on ports {', '.join(map(str, ports))}")
        return ports

    def _start_clients(self, ports: list[int]) -> Child | None:
        if not self.opts.clients:
            return None
        w, s, e, n = self.city.bbox
        urls = [a for p in ports for a in ("--url", f"ws://127.0.0.1:{p}/ws/live/")]
        clients = Child.start("clients", [
            sys.executable, "-m", "benchmarks.clients", *urls,
            "--origin", f"http://127.0.0.1:{ports[0]}", "--clients", str(self.opts.clients),
            f"--bbox={w:.5f},{s:.5f},{e:.5f},{n:.5f}", "--view", self.opts.view, "--zoom", self.opts.zoom,
        ], self.log)
        t = time.monotonic()
        line = clients.wait_line("connected", 300)
        self.say(f"clients: {line} in {time.monotonic() - t:.1f}s")
        return clients

    def _start_load(self, seconds: float):
        from . import load

        if self.opts.bus == "kafka":
            return Child.start("load", [
                sys.executable, "-m", "benchmarks.load",
                "--bootstrap", self.settings.KAFKA_BOOTSTRAP_SERVERS, "--prefix", self.settings.KAFKA_TOPIC_PREFIX,
                "--vehicles", str(self.opts.vehicles), "--taps", str(self.opts.taps), "--seconds", str(seconds),
                "--start", repr(self.city.start), "--seed", str(self.opts.seed),
            ], self.log)
        stats, stop = load.LoadStats(), threading.Event()
        thread = threading.Thread(target=load.run, name="load", daemon=True, kwargs=dict(
            bus=self.bus, city=self.city, taps_per_s=self.opts.taps, seconds=seconds, stop=stop, stats=stats))
        thread.start()
        return thread, stats, stop

    def _processors_child(self, replay: bool = False) -> Children:
        """The processors in processes of their own, as `runprocessors [--only ...]` would run."""
        from django.conf import settings

        args = [sys.executable, str(settings.BASE_DIR / "manage.py"), "benchmark", "--serve", "--role", "processors"]
        args += ["--replay"] if replay else []
        return Children([Child.start("processors" + (f"-{'+'.join(only)}" if only else ""),
                                     args + (["--only", ",".join(only)] if only else []), self.log)
                         for only in PROCESSOR_SPLITS[self.opts.processor_processes]])

    def _counts(self) -> dict[str, int]:
        counts = {name: w.processed for name, w in self.workers.items()}
        if self.procs is not None:
            counts.update(self.procs.latest.get("progress", {}).get("counts", {}))
        return counts

    def _topics(self) -> dict[str, list[str]]:
        topics = {name: list(w.topics) for name, w in self.workers.items()}
        if self.procs is not None:
            topics.update(self.procs.latest.get("progress", {}).get("topics", {}))
        return topics

    def _live(self, clients: Child | None) -> None:
        opts = self.opts
        gc_meter = None
        start = time.time() + 0.5
        begin, end = start + opts.warmup, start + opts.warmup + opts.duration
        if clients:
            clients.popen.stdin.write(f"go {begin!r} {end!r}\n")
            clients.popen.stdin.flush()
        time.sleep(max(0.0, start - time.time()))
        loader = self._start_load(opts.warmup + opts.duration)
        lag_max, rss_max, counts0, cpu0 = 0.0, 0.0, None, None
        lags: dict[str, float] = {}
        last_line = time.monotonic()
        prev = (time.monotonic(), self._counts())
        while True:
            time.sleep(1.0)
            now = time.time()
            waits = {name: m.take() for name, m in self.meters.items()}
            if self.procs is not None:
                waits.update(self.procs.take_lag())
            if self.threads.failed:
                raise RuntimeError(f"roles crashed: {self.threads.failed}")
            if counts0 is None and now >= begin:
                counts0, cpu0 = self._counts(), self._cpu(loader, clients)
                ticks0 = self._publisher_figures()
                gc_meter = GcMeter()
                self.t_begin = time.monotonic()
            elif counts0 is not None:
                lag_max = max(lag_max, *waits.values())
                for name, wait in waits.items():
                    lags[name] = max(lags.get(name, 0.0), wait)
                procs_rss = self.procs.latest.get("progress", {}).get("rss_mb", 0.0) if self.procs else 0.0
                rss_max = max(rss_max, rss_mb() + procs_rss + sum(rss_mb(w.popen.pid) for w in self.web))
            if time.monotonic() - last_line >= 2.0:
                m, c = time.monotonic(), self._counts()
                rate = lambda names: sum(c[x] - prev[1][x] for x in names) / (m - prev[0])  # noqa: E731
                ws = clients.latest.get("progress", {}).get("deliveries_per_s", 0.0) if clients else 0.0
                phase = "warm-up" if now < begin else "measuring" if now < end else "ending"
                self.say(f"{phase:9} {now - start:5.0f}s  vehicles {rate(['vehicles']):8,.0f}/s  "
                         f"taps {rate(['surges']):7,.0f}/s  bridge {rate(['bridge']):8,.0f}/s  "
                         f"lag {max(waits.values()):5.2f}s  ws {ws:11,.0f} veh/s  rss {rss_mb():5.0f} MB")
                prev, last_line = (m, c), m
            if now >= end:
                break
        seconds = time.monotonic() - self.t_begin
        counts1, cpu1 = self._counts(), self._cpu(loader, clients)
        delta = {name: counts1[name] - counts0[name] for name in counts1}
        ticks = {k: v - ticks0[k] for k, v in self._publisher_figures().items()}
        vehicle_rate = min(delta[n] for n in VEHICLE_WORKERS) / seconds
        tap_rate = sum(delta[n] for n in TAP_WORKERS) / seconds
        cpu = {k: (cpu1[k] - cpu0[k]) / seconds * 100 for k in cpu1}
        self.result.update({
            "events_per_s": round(vehicle_rate + tap_rate, 1),
            "vehicle_events_per_s": round(vehicle_rate, 1),
            "tap_events_per_s": round(tap_rate, 1),
            "worker_events_per_s": {n: round(d / seconds, 1) for n, d in delta.items()},
            "lag_max_s": round(lag_max, 3),
            "lag_max_s_by_worker": {n: round(v, 3) for n, v in lags.items()},
            "cpu_percent": round(cpu["host"], 1),
            "cpu_percent_load": round(cpu["load"], 1),
            "cpu_percent_clients": round(cpu["clients"], 1),
            "cpu_percent_web": round(cpu["web"], 1),  # of the --web-processes (in cpu_percent too)
            "rss_mb": round(rss_max, 1),
            **gc_meter.figures(),
            # the live map's publisher: ticks with changes, their mean duration (join + send), group sends
            "frame_ticks_per_s": round(ticks["ticks"] / seconds, 2),
            "frame_tick_ms": round(ticks["seconds"] / ticks["ticks"] * 1000, 1) if ticks["ticks"] else None,
            "frame_group_sends_per_s": round(ticks["sends"] / seconds, 1),
            "frame_groups_skipped_per_s": round(ticks["skipped"] / seconds, 1),
        })
        gc.callbacks.remove(gc_meter._callback)
        self._stop_load(loader)
        self.result["backlog_at_end"] = self._backlog()
        if clients:
            line = clients.wait_line("result", 120 + opts.clients * 0.5)
            self.result.update(json.loads(line.split(" ", 1)[1]))
            clients.popen.stdin.close()
            clients.popen.wait(30)

    def _publisher_figures(self) -> dict[str, float]:
        p = self.publisher
        return {"ticks": p.frames_sent, "seconds": p.publish_seconds, "sends": p.group_sends,
                "skipped": p.groups_skipped}

    def _cpu(self, loader, clients: Child | None) -> dict[str, float]:
        procs = self.procs.cpu_seconds() if self.procs is not None else 0.0
        web = sum(w.cpu_seconds() for w in self.web)
        return {"host": self_cpu_seconds() + procs + web, "web": web,
                "load": loader.cpu_seconds() if isinstance(loader, Child) else 0.0,
                "clients": clients.cpu_seconds() if clients else 0.0}

    def _stop_load(self, loader) -> None:
        if isinstance(loader, Child):
            line = loader.wait_line("{", 60)
            stats = json.loads(line)
            loader.popen.wait(30)
        else:
            thread, stats_obj, stop = loader
            stop.set()
            thread.join(30)
            stats = {"vehicles_produced": stats_obj.vehicles_produced, "taps_produced": stats_obj.taps_produced,
                     "seconds": stats_obj.seconds, "behind_max_s": stats_obj.behind_max_s}
        offered = (stats["vehicles_produced"] + stats["taps_produced"]) / stats["seconds"] if stats["seconds"] else 0
        self.result.update({"offered_events_per_s": round(offered, 1),
                            "load_behind_max_s": round(stats["behind_max_s"], 3)})

    def _backlog(self) -> dict[str, int]:
        from streamcity.kernel.schemas import TOPICS

        ends: dict[str, int] = {}
        out = {}
        counts = self._counts()
        for name, topics in self._topics().items():
            if name == "reference":
                continue
            for t in topics:
                if t not in ends:
                    ends[t] = sum(self.bus.end_offsets(TOPICS[t].name).values())
            out[name] = sum(ends[t] for t in topics) - counts[name]
        return out

    def _drain(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        t = time.monotonic()
        previous = None
        while time.monotonic() < deadline:
            backlog = self._backlog()
            # caught up: nothing left, or nothing moves any more (the in-process bus compacts
            # live_vehicles, so a consumer that fell behind skips records and never counts them)
            if all(v <= 0 for v in backlog.values()) or backlog == previous:
                self.result["drain_s"] = round(time.monotonic() - t, 1)
                return
            previous = backlog
            time.sleep(1.0)
        self.result["drain_s"] = None  # did not catch up within the timeout
        self.say(f"drain: still behind after {timeout:.0f}s: {self._backlog()}")

    # -- phase 3: the bare fan-out ---------------------------------------------------------------
    def _bare_fanout(self) -> dict:
        import asyncio

        from channels.layers import get_channel_layer

        from streamcity.kernel.schemas import LiveVehicle
        from transit.selectors import vehicle_row
        from transit.streams import vehicle_frames, vehicle_publisher
        from transit.subscriptions import DETAIL_REFRESH_SECONDS, Subscription, subscription_plan

        from .clients import views

        if not self.opts.clients:
            return {"bare_fanout_deliveries_per_s": None, "ws_ratio": None}
        interval = self.settings.STREAMCITY_FRAME_INTERVAL
        run = uuid.uuid4().hex[:8]
        bbox = ",".join(f"{x:.5f}" for x in self.city.bbox)
        # each bare channel joins the groups its client joined (under names of this phase only)
        zoom = None if self.opts.zoom == "none" else self.opts.zoom
        client_views = views(bbox, self.opts.view, self.opts.clients, zoom=zoom)
        memberships = [
            [f"bench.{run}.{g}"
             for g in subscription_plan(Subscription(bbox=tuple(map(float, b.split(","))), zoom=z)).groups]
            for b, z in client_views
        ]
        # the frames the real publisher makes of the fleet's reports, a tick at a time; zoomed out,
        # after as long a warm-up as the live phase had, over DETAIL_REFRESH_SECONDS + 2 s
        publisher = vehicle_publisher(vehicle_frames(), interval=interval)
        ticks = max(1, round(1.0 / interval))
        zoomed = any(z is not None for _, z in client_views)
        warm, made = (int(self.opts.warmup) + 1, int(DETAIL_REFRESH_SECONDS) + 2) if zoomed else (0, 1)
        frames = []
        t0, m0 = time.time(), time.monotonic()
        for second in range(warm + made):
            for k in range(ticks):
                offset = second + k * interval
                stamp = dt.datetime.fromtimestamp(t0 + offset, dt.timezone.utc)
                rows = [vehicle_row(LiveVehicle.of(self.city.report(v, t0 + offset, stamp), delay_seconds=0))
                        for v in self.city.fleet[k::ticks]]
                tick = publisher.frame_list_of(rows, now=m0 + offset)
                if second >= warm:
                    frames.append([(f"bench.{run}.{g}", text, text.count("],[") + 1) for g, text in tick])
        ticks = len(frames)
        joined = {name for names in memberships for name in names}
        frames = [[f for f in tick if f[0] in joined] for tick in frames]
        layer = get_channel_layer()
        seconds = min(self.opts.bare_seconds, self.opts.duration)

        async def fanout() -> float:
            channels = [await layer.new_channel() for _ in range(self.opts.clients)]
            for c, names in zip(channels, memberships):
                for name in names:
                    await layer.group_add(name, c)
            delivered = 0
            counting = True

            async def receiver(channel):
                nonlocal delivered
                while True:
                    message = await layer.receive(channel)
                    if counting:
                        delivered += message["n"]

            tasks = [asyncio.ensure_future(receiver(c)) for c in channels]
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            k = 0
            while loop.time() - t0 < seconds:
                for name, text, n in frames[k % ticks]:
                    await layer.group_send(name, {"type": "bench.frame", "text": text, "n": n})
                k += 1
                await asyncio.sleep(max(0.0, t0 + k * interval - loop.time()))
            await asyncio.sleep(1.0)  # what was sent in the window may still arrive
            counting = False
            for task in tasks:
                task.cancel()
            for c, names in zip(channels, memberships):
                for name in names:
                    await layer.group_discard(name, c)
            return delivered / (k * interval)

        rate = asyncio.run_coroutine_threadsafe(fanout(), server_loop()).result(timeout=seconds + 120)
        ws = self.result.get("ws_deliveries_per_s") or 0.0
        self.say(f"bare fan-out: {rate:,.0f} vehicle deliveries/s to {self.opts.clients} channels")
        return {"bare_fanout_deliveries_per_s": round(rate, 1), "ws_ratio": round(ws / rate, 3) if rate else None}

    # -- phases 4 and 5: baseline and capacity on the same topics --------------------------------------
    def _inputs(self) -> dict[str, int]:
        from streamcity.kernel.schemas import RIDER_TAPPED_ON, VEHICLE_LOCATIONS

        return {t.name: available(self.bus, t.name) for t in (VEHICLE_LOCATIONS, RIDER_TAPPED_ON)}

    def _baseline(self) -> dict:
        from streamcity.kernel.bus.memory import MemoryBus
        from streamcity.kernel.schemas import TOPICS, decode

        inputs = self._inputs()
        target = sum(inputs.values())
        if not isinstance(self.bus, MemoryBus):  # in a process of its own, as a worker runs
            request = {"config": {**self.bus._config, **self.bus._consumer_config,  # the workers' fetch settings
                                  "group.id": f"streamcity-bench-baseline-{uuid.uuid4().hex[:8]}"},
                       "topics": {self.bus.physical(name): name for name in inputs},
                       "records": target, "seconds": self.opts.replay_seconds}
            done = subprocess.run([sys.executable, "-m", "benchmarks.baseline"], input=json.dumps(request),
                                  capture_output=True, text=True, timeout=self.opts.replay_seconds + 60,
                                  cwd=str(self.settings.BASE_DIR))
            if done.returncode != 0:
                raise RuntimeError(f"the baseline process failed: {done.stderr.strip()[-2000:]}")
            answer = json.loads(done.stdout.strip().splitlines()[-1])
            count, rate = answer["records"], answer["per_s"]
            where = " (a process of its own)"
        else:  # the in-process bus lives in this process: the loop runs here
            consumer = self.bus.consumer(f"streamcity-bench-baseline-{uuid.uuid4().hex[:8]}", list(inputs))
            schemas = {name: TOPICS[name].schema for name in inputs}
            limit = time.monotonic() + self.opts.replay_seconds
            count, first, last = 0, None, None
            try:
                while count < target and time.monotonic() < limit:
                    records = consumer.consume(1000, 0.5)
                    if records and first is None:
                        first = time.monotonic()
                    for r in records:
                        decode(schemas[r.topic], r.value)
                    count += len(records)
                    last = time.monotonic()
            finally:
                consumer.close()
            rate = count / (last - first) if first is not None and last > first else 0.0
            where = ""
        self.say(f"baseline: a bare consume+decode loop{where} read {count:,} records at {rate:,.0f}/s")
        return {"baseline_consume_per_s": round(rate, 1), "baseline_records": count}

    def _capacity(self) -> dict:
        """The processors and the bridge replay the run's input topics in new consumer groups.

        Every worker starts once the processors' reference data (the timetable) is loaded, as when
        live, where the reference reader loads it at start-up; the clock runs from the first record
        any of them handles to the end of the last one's work: its last record handled and, for the
        event-time processors, every event they still held released and judged at the end of the
        input (ReplayClock). So the figure is per-event throughput, not start-up, as the
        baseline's is. Workers and batches are those of live processing: every batch produced
        (catch_up=False), every rule evaluated.
        """
        from streamcity.kernel.registry import registry
        from streamcity.kernel.runtime import Role, RoleThreads
        from streamcity.kernel.schemas import LIVE_VEHICLES
        from transit.streams import bridge_worker, vehicle_frames

        inputs = self._inputs()
        bridge_target = available(self.bus, LIVE_VEHICLES.name)
        # live_vehicles is compacted: the bridge is done once it has read past what it held now
        bridge_ends = {(LIVE_VEHICLES.name, p): end for p, end in self.bus.end_offsets(LIVE_VEHICLES.name).items()}
        replay_child = None
        stop = threading.Event()
        if self.opts.split:
            role_list, workers = [], []
            replay_child = self._processors_child(replay=True)
        else:
            role_list, workers = registry.processors(self.bus, catch_up=False)  # every batch produced, as when live
        frames = vehicle_frames()
        bridge = bridge_worker(self.bus, frames)
        workers.append(bridge)
        role_list.append(Role("bridge", bridge.run))
        interval = self.settings.STREAMCITY_FRAME_INTERVAL

        def take_frames(stop: threading.Event) -> None:  # as the publisher does: rows of what changed, a tick at a time
            while not stop.wait(interval):
                frames.take()

        targets, clocks = {}, {}
        for w in workers:
            if w.name != "reference":
                w.group_id += f"-replay-{uuid.uuid4().hex[:6]}"
                targets[w.name] = bridge_target if w is bridge else sum(inputs.get(t, 0) for t in w.topics)
                clocks[w.name] = ReplayClock(w, target=targets[w.name], ends=bridge_ends if w is bridge else None)
        by_name = {w.name: w for w in workers}
        first_roles = [r for r, w in zip(role_list, workers) if w.name == "reference"]
        later = RoleThreads([r for r, w in zip(role_list, workers) if w.name != "reference"]
                            + [Role("frames", take_frames)], stop)
        early = RoleThreads(first_roles, stop)

        def cpu() -> dict[str, float]:  # CPU seconds so far, per process
            out = {"pipeline": self_cpu_seconds()}
            out.update({c.name: c.cpu_seconds() for c in (replay_child.children if replay_child else [])})
            return out

        early.start()
        try:
            deadline = time.monotonic() + 180
            if replay_child is not None:
                while not replay_child.latest.get("progress", {}).get("ready"):
                    if time.monotonic() > deadline or replay_child.exited():
                        raise RuntimeError("the replaying processors process did not load the timetable")
                    time.sleep(0.01)
                for name, topics in replay_child.latest["progress"].get("topics", {}).items():
                    if name != "reference":
                        targets[name] = sum(inputs.get(t, 0) for t in topics)
            elif not by_name["reference"].handle.data.ready.wait(180):
                raise RuntimeError("the reference reader did not load the timetable")
        except BaseException:
            stop.set()
            early.join()
            if replay_child is not None:
                replay_child.stop()
            raise

        def child(key: str) -> dict:
            return replay_child.latest.get("progress", {}).get(key, {}) if replay_child is not None else {}

        def processed(name: str) -> int:
            return by_name[name].processed if name in by_name else child("counts").get(name, 0)

        def first_at(name: str) -> float | None:
            return clocks[name].first if name in clocks else child("first_at").get(name)

        def done_at(name: str) -> float | None:
            return clocks[name].done if name in clocks else child("done_at").get(name)

        cpu0 = cpu()
        later.start()
        done: dict[str, float] = {}
        limit = time.monotonic() + self.opts.replay_seconds + 60
        try:
            while len(done) < len(targets) and time.monotonic() < limit and not (early.failed or later.failed):
                time.sleep(0.02)
                for name in targets:
                    if name not in done and done_at(name) is not None:
                        done[name] = done_at(name)
        finally:
            cpu1 = cpu()  # before the child exits (its /proc entry goes with it)
            stop.set()
            early.join()
            later.join()
            if replay_child is not None:
                replay_child.stop()
        firsts = [t for t in (first_at(n) for n in targets) if t is not None]
        first = min(firsts) if firsts else None
        end = max(done.values()) if len(done) == len(targets) else time.time()
        seconds = end - first if first is not None else 0.0
        total = sum(inputs.values())
        handled = min(total, sum(min(processed(n), targets[n]) for n in ("vehicles", "surges")))
        rate = handled / seconds if seconds > 0 else 0.0
        baseline = self.result.get("baseline_consume_per_s") or 0.0
        self.say(f"capacity: processors and bridge replayed {handled:,} input events at {rate:,.0f}/s"
                 + ("" if len(done) == len(targets) else f" (not finished: {sorted(set(targets) - set(done))})"))
        return {
            "processor_capacity_per_s": round(rate, 1),
            "processor_ratio": round(rate / baseline, 3) if baseline else None,
            "capacity_cpu_percent": round(sum(cpu1[k] - cpu0[k] for k in cpu1) / seconds * 100, 1) if seconds else None,
            "capacity_cpu_s_by_process": {k: round(cpu1[k] - cpu0[k], 2) for k in cpu1},
            "capacity_s_by_worker": {n: round(t - first, 2) for n, t in done.items()} if first else {},
        }


class ReplayClock:
    """Wraps a replaying Worker's handler and tick: the wall times (time.time(), comparable
    across processes) of its first handled batch, of its latest one, and of the end of its work.

    Once the worker has read its `target` records, the handler's `finish()` (if it has one) ends
    the bounded input, within the measured time: the event-time processors release and judge
    every event they still hold (their grace period holds the last 30 s of event time, which a
    replay of a shorter run would otherwise never release: no rule would be evaluated)."""

    def __init__(self, worker, target: int | None = None, *, ends: dict | None = None):
        self.worker = worker
        self.target = target
        # Or done once it has read past these offsets ((topic, partition) -> end when the replay began):
        # a compacted topic (the bridge's live_vehicles) may lose records to compaction meanwhile.
        self.ends = {tp: end for tp, end in ends.items() if end > 0} if ends is not None else None
        self.inner = worker.handle
        worker.handle = self
        self.inner_tick = worker.tick
        worker.tick = self.tick
        self.finish = getattr(self.inner, "finish", None)
        self.first: float | None = None
        self.last: float | None = None
        self.done: float | None = None

    def __call__(self, batch):
        began = time.time()
        self.inner(batch)
        self.last = time.time()
        if self.first is None:
            self.first = began
        if self.ends:
            from streamcity.kernel.bus.base import next_offsets

            for tp, nxt in next_offsets(d.record for d in batch).items():
                if nxt >= self.ends.get(tp, nxt + 1):
                    del self.ends[tp]

    def tick(self) -> None:
        if self.inner_tick is not None:
            self.inner_tick()
        if self.ends is not None:
            reached = not self.ends
        else:
            reached = self.target is not None and self.worker.processed >= self.target
        if self.done is None and reached:
            if self.finish is not None:
                self.finish()
            self.done = time.time() if self.finish is not None else self.last


def serve(opts: Options, out, log_path: str) -> dict:
    return Host(opts, out, log_path).run()


def serve_processors(out, *, replay: bool = False, only: list[str] | None = None) -> None:
    """The processors in a process of their own (Kafka): `progress {...}` lines until stdin closes.

    With `replay`, in new consumer groups (they read the input topics again from the beginning),
    started once the reference data is loaded (a progress line says `"ready": true` at once); the
    lines then carry each worker's `first_at`/`last_at`/`done_at` times (ReplayClock)."""
    from streamcity.kernel.bus import get_bus
    from streamcity.kernel.registry import registry
    from streamcity.kernel.runtime import RoleThreads

    bus = get_bus()
    # a replay produces every batch, as when live
    role_list, workers = registry.processors(bus, only=only, catch_up=not replay)
    clocks = {}
    if replay:
        for w in workers:
            if w.name != "reference":
                w.group_id += f"-replay-{uuid.uuid4().hex[:6]}"
                clocks[w.name] = ReplayClock(w, target=sum(available(bus, t) for t in w.topics))
    meters = {w.name: LagMeter(w) for w in workers if w.name != "reference"}
    reference = next(w.handle for w in workers if w.name == "reference")
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), name="stdin", daemon=True).start()
    if replay:  # the reference reader first; the processors once it has loaded (per-event throughput, not start-up)
        early = RoleThreads([r for r, w in zip(role_list, workers) if w.name == "reference"], stop)
        threads = RoleThreads([r for r, w in zip(role_list, workers) if w.name != "reference"], stop)
        early.start()
    else:
        early, threads = None, RoleThreads(role_list, stop)
        threads.start()

    def progress(word: str) -> None:
        line = {"counts": {w.name: w.processed for w in workers}, "topics": {w.name: list(w.topics) for w in workers},
                "lag": {name: m.take() for name, m in meters.items()}, "ready": reference.data.ready.is_set(),
                "rss_mb": rss_mb(), "failed": threads.failed + (early.failed if early else [])}
        if clocks:
            line["first_at"] = {name: c.first for name, c in clocks.items() if c.first is not None}
            line["last_at"] = {name: c.last for name, c in clocks.items() if c.last is not None}
            line["done_at"] = {name: c.done for name, c in clocks.items() if c.done is not None}
        out.write(f"{word} {json.dumps(line)}\n")
        out.flush()

    if early is not None:
        while not reference.data.ready.wait(0.01) and not stop.is_set():
            pass
        threads.start()
        progress("progress")
    while not stop.wait(0.25 if replay else 0.5):
        progress("progress")
    threads.join()
    if early is not None:
        early.join()
    bus.close()
    progress("result")
