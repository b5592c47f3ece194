import threading

from django.core.management.base import BaseCommand

from simulators.options import add_arguments
from simulators.roles import simulator_from_options
from streamcity.kernel.bus import get_bus
from streamcity.kernel.registry import ensure_topics
from streamcity.kernel.runtime import RoleThreads, stop_on_signals


class Command(BaseCommand):
    help = (
        "Run the transit simulator (vehicles, rider tap-ons, traffic incidents, the stop schedule) "
        "on the built-in city or an imported GTFS feed, producing to the bus until stopped."
    )

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        bus = get_bus()
        ensure_topics(bus)
        role, runner = simulator_from_options(bus, options)
        sim = runner.sim
        self.stdout.write(
            f"simulating {sim.network.name} from {sim.local_now:%a %Y-%m-%d %H:%M} ({sim.tz.key}) at x{sim.clock.speed:g}: "
            f"{len(sim.vehicles)} vehicles in service"
        )
        state = sim.service_state()
        self.stdout.write(f"service day {state['date']}: the timetable of {state['timetable_date']} "
                          f"({state['reason']})")
        for note in (sim.timetable_note(), sim.idle_note()):
            if note:
                self.stdout.write(note)
        stop = threading.Event()
        stop_on_signals(stop)
        # The simulator runs in this thread; a duration ends it on its own.
        threads = RoleThreads([], stop)
        watcher = threading.Thread(target=threads.wait, args=(runner.status, self.stdout), daemon=True)
        watcher.start()
        role.run(stop)
        stop.set()
        self.stdout.write(runner.counts_line())
