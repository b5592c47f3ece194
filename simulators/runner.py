"""Runs a Simulation against the bus in real time: one tick per `tick` wall seconds."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from streamcity.kernel.bus import Bus

from .engine import Simulation

logger = logging.getLogger(__name__)


HEARTBEAT_S = 5.0  # wall seconds between two records of the run's state (record_run)


class SimulatorRunner:
    """`record_run`: keep the run's row (transit.SimulationRun) — started, its state every few
    seconds, stopped — so the pages know which feed and service day run, and the live table is
    the running run's (a start and a stop clear it)."""

    def __init__(self, bus: Bus, simulation: Simulation, *, tick: float = 1.0, duration: float | None = None,
                 record_run: bool = False):
        self.bus = bus
        self.record_run = record_run
        self._beat = 0.0
        self.sim = simulation
        self.tick = tick
        self.duration = duration
        self.events = 0
        self.vehicle_reports = 0
        self.taps = 0
        self.incidents = 0
        self.schedule_rows = 0
        self.started = time.monotonic()
        self._recent: deque[tuple[float, int]] = deque(maxlen=64)  # (wall time, events so far)

    def run(self, stop: threading.Event) -> None:
        self.started = time.monotonic()
        next_tick = self.started
        self._record("start")
        try:
            while not stop.is_set():
                if self.duration is not None and time.monotonic() - self.started >= self.duration:
                    break
                tick = self.sim.tick(self.tick)
                self.events += self.sim.publish(self.bus, tick)
                self.vehicle_reports += len(tick.vehicles)
                self.taps += len(tick.taps)
                self.incidents += len(tick.incidents)
                self.schedule_rows += len(tick.schedule)
                self._recent.append((time.monotonic(), self.events))
                if time.monotonic() - self._beat >= HEARTBEAT_S:
                    self._record("heartbeat")
                next_tick += self.tick
                delay = next_tick - time.monotonic()
                if delay < 0:  # fell behind: do not try to catch up with a burst
                    next_tick = time.monotonic()
                    delay = 0
                stop.wait(delay)
        finally:
            remaining = self.bus.flush()
            self._record("stop")
            logger.info("simulator stopped: %s", self.counts_line(remaining))

    def counts_line(self, undelivered: int | None = None) -> str:
        """What the simulator produced, then the bus's counts for every role of this process (the
        processors' live states and alerts too, in embedded mode), which add up: produced =
        acknowledged + failed + undelivered."""
        stats = self.bus.delivery_stats
        produced, delivered, failed = stats.get("produced", 0), stats.get("delivered", 0), stats.get("failed", 0)
        pending = produced - delivered - failed if undelivered is None else undelivered
        return (f"the simulator produced {self.events} events ({self.vehicle_reports} positions, {self.taps} taps, "
                f"{self.incidents} incident events, {self.schedule_rows} schedule rows); the bus, for every role "
                f"of this process: {produced} records produced = {delivered} acknowledged + {failed} failed + "
                f"{pending} undelivered")

    def _record(self, what: str) -> None:
        if not self.record_run:
            return
        from transit.services import simulation_run_heartbeat, simulation_run_start, simulation_run_stop

        self._beat = time.monotonic()
        sim = self.sim
        try:
            if what == "start":
                simulation_run_start(run_id=sim.run_id, feed=sim.network.name, tz=sim.tz.key,
                                     state=sim.service_state(), sim_now=sim.now)
            elif what == "heartbeat":
                simulation_run_heartbeat(run_id=sim.run_id, state=sim.service_state(), sim_now=sim.now)
            else:
                simulation_run_stop(run_id=sim.run_id)
        except Exception as exc:  # the database is not the simulator's: it runs on without the record
            logger.warning("simulator: could not record the run (%s): %s", what, exc)
            from django.db import close_old_connections

            close_old_connections()  # a broken connection is replaced at the next record

    def rate(self) -> float:
        """Events per wall second over the last few ticks (the schedule burst at start included)."""
        if len(self._recent) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._recent[0], self._recent[-1]
        return (n1 - n0) / max(t1 - t0, 1e-9)

    def status(self) -> str:
        sim = self.sim
        local = sim.local_now
        line = (
            f"sim {local:%a %Y-%m-%d %H:%M:%S} ({sim.network.name}, x{sim.clock.speed:g}) | "
            f"{len(sim.vehicles)} vehicles active | {self.rate():.0f} events/s | "
            f"{self.vehicle_reports} positions, {self.taps} taps, {self.incidents} incident events, "
            f"{self.schedule_rows} schedule rows"
        )
        state = sim.service_state()
        line += f" | timetable of {state['timetable_date']:%a %Y-%m-%d} ({state['reason']})"
        for note in (sim.timetable_note(), sim.idle_note()):
            if note:
                line += " | " + note
        return line
