"""Running roles (simulators, processors, bridge) as threads that stop cleanly on a signal.

A signal only requests shutdown: each role's loop finishes its batch, commits, flushes and returns.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass
class Role:
    name: str
    run: Callable[[threading.Event], None]  # returns when the event is set


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set `stop` (a second SIGINT still interrupts hard)."""

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        logger.info("signal %s: finishing the current batch, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def settle_heap() -> None:
    """Move what is alive now (Django, the settings, reference data just loaded) out of the
    garbage collector's way (gc.freeze): its full collections scan every tracked object and stop
    every thread of the process meanwhile (long pauses in a pipeline process at London scale,
    see docs/benchmarks.md). Called before the roles start, and once the timetable is in."""
    gc.collect()
    gc.freeze()


class RoleThreads:
    """Starts each role in a thread; a role that crashes stops all the others."""

    def __init__(self, roles: list[Role], stop: threading.Event):
        self.roles = roles
        self.stop = stop
        self.failed: list[str] = []
        self._threads: list[threading.Thread] = []

    def _wrap(self, role: Role):
        def target():
            try:
                role.run(self.stop)
            except Exception:
                logger.exception("role %s crashed; stopping every role", role.name)
                self.failed.append(role.name)
                self.stop.set()

        return target

    def start(self) -> None:
        settle_heap()
        for role in self.roles:
            t = threading.Thread(target=self._wrap(role), name=role.name, daemon=True)
            t.start()
            self._threads.append(t)

    def join(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                logger.error("role %s did not stop within %.0fs", t.name, timeout)

    def wait(self, status: Callable[[], str] | None = None, out=None, interval: float = 2.0) -> None:
        """Block until `stop` is set, writing a status line every `interval` seconds."""
        out = out or sys.stdout
        tty = hasattr(out, "isatty") and out.isatty()
        while not self.stop.wait(interval):
            if status is not None:
                line = status()
                out.write(("\r" + line + "\033[K") if tty else line + "\n")
                out.flush()
        if status is not None and tty:
            out.write("\n")


def run_until_signalled(roles: list[Role], bus, status: Callable[[], str], out=None) -> None:
    """Run `roles` in threads until SIGTERM/SIGINT (or a role crashes), with a status line; then
    join them, flush and close the bus, and exit non-zero if a role crashed."""
    stop = threading.Event()
    stop_on_signals(stop)
    threads = RoleThreads(roles, stop)
    threads.start()
    threads.wait(status, out)
    threads.join()
    bus.close()
    if threads.failed:
        raise SystemExit(1)
