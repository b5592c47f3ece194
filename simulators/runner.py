"""Runs a Simulation against the bus in real time: one tick, one report per vehicle."""

from __future__ import annotations

import logging
import threading
import time

from streamcity.bus import Bus

from .engine import Simulation

logger = logging.getLogger(__name__)


class SimulatorRunner:
    def __init__(self, bus: Bus, simulation: Simulation, *, tick: float = 1.0, duration: float | None = None):
        self.bus = bus
        self.sim = simulation
        self.tick = tick
        self.duration = duration
        self.events = 0
        self.started = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        next_tick = time.monotonic()
        try:
            while not stop.is_set():
                if self.duration is not None and time.monotonic() - self.started >= self.duration:
                    break
                reports = self.sim.tick(self.tick)
                self.sim.publish(self.bus, reports)
                self.events += len(reports)
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

    def status(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (
            f"sim {self.sim.clock.now:%H:%M:%S} | vehicles {len(self.sim.fleet)} | "
            f"{self.events} events ({self.events / elapsed:.0f}/s)"
        )
