"""How far the pipeline keeps up in real time: load -> processors -> bridge -> WebSockets.

    python manage.py benchmark --vehicles 1000 --clients 100 --duration 30 --bus memory --json out.json

Runs the pipeline in a process of its own (benchmarks.host) with a temporary SQLite
database (or --database-url), on the in-process bus or on Kafka (KAFKA_BOOTSTRAP_SERVERS or
--bootstrap, topics under a prefix of this run, deleted afterwards), with the Redis channel layer
when REDIS_URL is set. Prints a progress line while it runs and a table at the end.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import daphne.server  # noqa: F401 - installs the asyncio Twisted reactor before anything imports Twisted
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# the services of the run are its own: not the caller's (a test run's DATABASE_CONN_MAX_AGE=0 would
# reopen the temporary database for every bridge batch)
SERVICE_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PREFIX", "DATABASE_URL", "DATABASE_CONN_MAX_AGE")
PY_SPY = Path(sys.executable).parent / "py-spy"


class Command(BaseCommand):
    help = "Measure throughput, lag and end-to-end latency of the pipeline with N vehicles and M WebSocket clients."

    def add_arguments(self, parser):
        parser.add_argument("--vehicles", type=int, default=1000)
        parser.add_argument("--clients", type=int, default=100)
        parser.add_argument("--duration", type=float, default=30.0, help="seconds measured, after the warm-up")
        parser.add_argument("--warmup", type=float, default=5.0)
        parser.add_argument("--taps", type=float, help="tap-ons per second (default: 5,000 per 9,000 vehicles)")
        parser.add_argument("--bus", choices=("memory", "kafka"),
                            default="kafka" if settings.KAFKA_BOOTSTRAP_SERVERS else "memory")
        parser.add_argument("--bootstrap", default=settings.KAFKA_BOOTSTRAP_SERVERS, help="Kafka bootstrap servers")
        parser.add_argument("--database-url", default="", help="measure with this database (default: temporary SQLite)")
        parser.add_argument("--json", help="write the figures to this file")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--replay-seconds", type=float, default=60.0, help="longest baseline and capacity replays")
        parser.add_argument("--one-process", action="store_true",
                            help="on Kafka too, run the processors in the pipeline process "
                                 "(default: a process of their own)")
        parser.add_argument("--processor-processes", type=int, choices=(1, 2), default=2,
                            help="Kafka: the processors in 1 process (runprocessors) or 2 (default: "
                                 "runprocessors --only live-vehicles,vehicle-alerts,bunching and --only surges)")
        parser.add_argument("--only", default="", help="(internal) the processors of a processors process")
        parser.add_argument("--frame-interval", type=float,
                            help="seconds between two frames of the live map (default: STREAMCITY_FRAME_INTERVAL)")
        parser.add_argument("--switch-interval", type=float,
                            help="sys.setswitchinterval of the pipeline process (Python's default: 0.005)")
        parser.add_argument("--view", choices=("city", "district"), default="city",
                            help="each client shows the whole city (default) or a district of about 3 x 3 km")
        parser.add_argument("--zoom", default="auto",
                            help="the map zoom each client reports: auto (the zoom at which its view fits a "
                                 "1280x800 laptop, or a 390x844 phone for districts; default), a number, or none "
                                 "(every change, as a map zoomed in)")
        parser.add_argument("--web-processes", type=int, default=0,
                            help="serve the WebSockets from N Daphne processes of their own (the clients spread "
                                 "over them, as behind a load balancer; needs REDIS_URL) instead of from the "
                                 "pipeline process")
        parser.add_argument("--keep-log", help="copy the pipeline process's log to this file")
        parser.add_argument("--profile", help="record a py-spy profile of the pipeline process into this file")
        parser.add_argument("--serve", action="store_true", help="(internal) be the pipeline process")
        parser.add_argument("--log", help="(internal) log file of the pipeline process")
        parser.add_argument("--role", choices=("pipeline", "processors"), default="pipeline", help="(internal)")
        parser.add_argument("--replay", action="store_true", help="(internal) processors in new consumer groups")

    def handle(self, *args, **options):
        if options["taps"] is None:
            options["taps"] = round(options["vehicles"] * 5000 / 9000)
        if options["serve"]:
            return self.serve(options)
        if options["bus"] == "kafka" and not options["bootstrap"]:
            raise CommandError("--bus kafka needs KAFKA_BOOTSTRAP_SERVERS or --bootstrap")
        if options["profile"] and not PY_SPY.exists():
            raise CommandError(f"--profile needs py-spy ({PY_SPY} not found): pip install -r requirements-dev.txt")
        with tempfile.TemporaryDirectory(prefix="benchmark-") as tmp:
            result = self.run_host(options, Path(tmp))
        self.stdout.write(table(result))
        if options["json"]:
            Path(options["json"]).write_text(json.dumps(result, indent=2) + "\n")
            self.stdout.write(f"figures written to {options['json']}")

    def run_host(self, options, tmp: Path) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
        env.update(STREAMCITY_VAR_DIR=str(tmp), PYTHONUNBUFFERED="1")
        # as in production: no DEBUG (which keeps and formats every SQL statement), unless asked for
        env.setdefault("DJANGO_DEBUG", "0")
        env.setdefault("DJANGO_SECRET_KEY", uuid.uuid4().hex * 2)
        prefix = ""
        if options["bus"] == "kafka":
            prefix = f"bench-{uuid.uuid4().hex[:10]}-"
            env.update(KAFKA_BOOTSTRAP_SERVERS=options["bootstrap"], KAFKA_TOPIC_PREFIX=prefix)
        if _shared_layer():  # groups of this run only: the Redis may be shared
            env["CHANNEL_LAYER_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}"
        elif options["web_processes"]:
            raise CommandError("--web-processes needs a channel layer the processes share: set REDIS_URL")
        if options["frame_interval"]:
            env["STREAMCITY_FRAME_INTERVAL"] = str(options["frame_interval"])
        if options["database_url"]:
            env["DATABASE_URL"] = options["database_url"]
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        subprocess.run([*manage, "migrate", "--no-input", "-v0"], env=env, check=True)
        log = tmp / "host.log"
        args = [*manage, "benchmark", "--serve", "--log", str(log), "--json", str(tmp / "result.json")]
        for name in ("vehicles", "clients", "duration", "warmup", "taps", "bus", "seed", "replay_seconds", "view",
                     "zoom", "web_processes", "processor_processes"):
            args += [f"--{name.replace('_', '-')}", str(options[name])]
        if options["one_process"]:
            args.append("--one-process")
        if options["switch_interval"]:
            args += ["--switch-interval", str(options["switch_interval"])]
        with open(log, "wb") as log_file:
            host = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True, bufsize=1)
        profiler = None
        if options["profile"]:
            profiler = subprocess.Popen(
                [str(PY_SPY), "record", "--pid", str(host.pid), "--format", "raw",
                 "--rate", "50", "--output", options["profile"], "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for line in host.stdout:
                self.stdout.write(line.rstrip("\n"))
            code = host.wait()
        finally:
            if host.poll() is None:
                host.terminate()
                host.wait(30)
            if profiler is not None:
                profiler.wait(30)
            if prefix:
                delete_topics(options["bootstrap"], prefix)
            if options["keep_log"] and log.exists():
                shutil.copyfile(log, options["keep_log"])
        if code != 0 or not (tmp / "result.json").exists():
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise CommandError(f"the pipeline process failed (exit {code}):\n{tail}")
        return json.loads((tmp / "result.json").read_text())

    def serve(self, options):
        from benchmarks.host import Options, serve, serve_processors

        if options["role"] == "processors":
            only = options["only"].split(",") if options["only"] else None
            return serve_processors(self.stdout, replay=options["replay"], only=only)

        opts = Options(vehicles=options["vehicles"], clients=options["clients"], duration=options["duration"],
                       warmup=options["warmup"], taps=options["taps"], bus=options["bus"], seed=options["seed"],
                       replay_seconds=options["replay_seconds"],
                       split=options["bus"] == "kafka" and not options["one_process"],
                       switch_interval=options["switch_interval"], view=options["view"], zoom=options["zoom"],
                       web_processes=options["web_processes"], processor_processes=options["processor_processes"])
        result = serve(opts, self.stdout, options["log"] or os.devnull)
        Path(options["json"]).write_text(json.dumps(result))


def _shared_layer() -> bool:
    """Whether the channel layer is one that processes share (channels-redis's, or a subclass)."""
    from django.utils.module_loading import import_string

    backend = import_string(settings.CHANNEL_LAYERS["default"]["BACKEND"])
    return any(c.__module__.startswith("channels_redis") for c in backend.__mro__)


def table(result: dict) -> str:
    from benchmarks.report import table

    return table(result)


def delete_topics(bootstrap: str, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [t for t in admin.list_topics(timeout=15).topics if t.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            try:
                future.result()
            except Exception:  # noqa: BLE001 - a topic left behind is harmless, and named in the log
                pass
