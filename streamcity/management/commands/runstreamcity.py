from streamcity.server import asgi_server, server_loop  # first: it installs Twisted's asyncio reactor

import argparse
import logging
import os
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from alerts.services import demo_operator_reset
from streamcity.kernel.bus import get_bus
from streamcity.kernel.registry import ensure_topics, registry, worker_status
from streamcity.kernel.runtime import Role, RoleThreads
from streamcity.netcheck import hosts_for, port_problem, primary_address
from transit.realtime.options import add_arguments as add_realtime_arguments
from transit.realtime.options import poller_from_options


class Command(BaseCommand):
    help = "Run every role in one process: simulator, processors, bridge and the ASGI server."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        registry.simulator_spec().add_arguments(parser)
        parser.add_argument("--no-simulator", action="store_true", help="run without the simulator")
        parser.add_argument("--realtime", action="store_true",
                            help="mirror an agency's GTFS-Realtime feeds instead of simulating (--feed names its "
                                 "imported static feed)")
        add_realtime_arguments(parser, feed=False)
        parser.add_argument(
            "--demo-operator", action=argparse.BooleanOptionalAction, default=None,
            help="give the account 'operator' a new random password and print it (default: on with SQLite)",
        )

    def handle(self, *args, **options):
        # The port first, before the bus, the database or the demo operator's password are touched:
        # a second instance must not disturb the first one (one clear line, exit status 1).
        problem = port_problem(options["host"], options["port"])
        if problem:
            raise CommandError(problem)
        allowed = hosts_for(options["host"])
        if "*" not in settings.ALLOWED_HOSTS:  # the host it binds is a host it answers to
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, *(h for h in allowed if h not in settings.ALLOWED_HOSTS)]
        bus = get_bus()
        ensure_topics(bus)
        loop = server_loop()  # the channel layer is used from the server's own loop
        role_list, workers = registry.processors(bus)
        consumer_roles, consumer_workers = registry.consumers(bus, loop=loop)
        role_list += consumer_roles
        workers += consumer_workers
        runner = None
        if options["realtime"]:
            runner = poller_from_options(bus, options)
            role_list.insert(0, Role("gtfs-rt", runner.run))
        elif not options["no_simulator"]:
            sim_role, runner = registry.simulator_spec().build(bus, options)
            role_list.insert(0, sim_role)

        login = None
        demo = options["demo_operator"]
        if demo or (demo is None and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")):
            login = demo_operator_reset()

        stop = threading.Event()
        threads = RoleThreads(role_list, stop)

        def status() -> str:
            parts = [runner.status()] if runner else []
            return " | ".join(parts + [worker_status(workers)])

        def ready():
            for host, port in [(a[0], a[1]) for a in server.listening_addresses]:
                self.stdout.write(f"StreamCity is running at http://{host}:{port}/  (Ctrl+C to stop)")
                if host in ("0.0.0.0", "::"):
                    outward = primary_address()
                    self.stdout.write(
                        f"Listening on every interface: from another machine open "
                        f"http://{outward or '<this machine>'}:{port}/ (answers to {', '.join(allowed)}; "
                        f"add other names with DJANGO_ALLOWED_HOSTS)")
                if login:
                    self.stdout.write(
                        f"Operators: log in at http://{host}:{port}/accounts/login/ as {login[0]!r} "
                        f"with password {login[1]!r} (new on every start)"
                    )
            self.stdout.flush()

        server = asgi_server(options["host"], options["port"], ready=ready)
        threads.start()

        def watch():
            threads.wait(status, self.stdout, 5.0)
            if threads.failed:  # a role crashed: take the server down too, and exit non-zero
                from twisted.internet import reactor

                reactor.callFromThread(reactor.stop)

        threading.Thread(target=watch, name="status", daemon=True).start()
        try:
            server.run()  # returns on SIGINT/SIGTERM
        finally:
            stop.set()
            threads.join()
            bus.close()
        code = 1 if threads.failed else 0
        self.stdout.write(f"StreamCity stopped ({'a role failed' if code else 'clean shutdown'}).")
        self.stdout.flush()
        logging.shutdown()
        # Everything of ours is committed and flushed. A request that was in flight when the server
        # stopped may still hold a worker thread waiting on the stopped event loop, and the
        # interpreter would wait for it at exit for ever: end the process here instead.
        os._exit(code)
