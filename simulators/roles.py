"""The simulator role (found by the kernel's registry): vehicles, rider tap-ons, traffic incidents
and the stop schedule of the built-in city or an imported GTFS feed."""

from __future__ import annotations

from streamcity.kernel.bus import Bus
from streamcity.kernel.registry import registry
from streamcity.kernel.runtime import Role

from .engine import Simulation
from .options import add_arguments, simulation_from_options
from .runner import SimulatorRunner


def simulator(bus: Bus, simulation: Simulation, *, tick: float = 1.0, duration: float | None = None,
              record_run: bool = False) -> tuple[Role, SimulatorRunner]:
    runner = SimulatorRunner(bus, simulation, tick=tick, duration=duration, record_run=record_run)
    return Role("simulator", runner.run), runner


@registry.simulator(add_arguments=add_arguments)
def simulator_from_options(bus: Bus, options: dict) -> tuple[Role, SimulatorRunner]:
    """The simulator as the command line asks (imports the built-in city or a --gtfs feed if needed)."""
    return simulator(bus, simulation_from_options(options), tick=options["tick"], duration=options["duration"],
                     record_run=True)
