"""Runs a Simulation against the bus in real time: one tick per `tick` wall seconds."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from streamcity.kernel.bus import Bus

from .engine import Simulation

logger = logging.getLogger(__name__)


class SimulatorRunner:
    def __init__(self, bus: Bus, simulation: Simulation, *, tick: float = 1.0, duration: float | None = None):
        self.bus = bus
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
                next_tick += self.tick
                delay = next_tick - time.monotonic()
                if delay < 0:  # fell behind: do not try to catch up with a burst
                    next_tick = time.monotonic()
                    delay = 0
                stop.wait(delay)
        finally:
            remaining = self.bus.flush()
            stats = self.bus.delivery_stats
            logger.info(
                "simulator stopped: %d events produced, %d acknowledged, %d undelivered",
                self.events, stats["delivered"], remaining,
            )

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
        for note in (sim.timetable_note(), sim.idle_note()):
            if note:
                line += " | " + note
        return line
