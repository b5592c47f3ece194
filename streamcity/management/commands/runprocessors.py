from django.core.management.base import BaseCommand, CommandError

from streamcity.kernel.bus import get_bus
from streamcity.kernel.registry import ensure_topics, registry, worker_status
from streamcity.kernel.runtime import run_until_signalled


class Command(BaseCommand):
    help = (
        "Run the built-in stream processors until stopped: live_vehicles (with schedule deviation), "
        "surge, delay, breakdown, bunching and silent-vehicle alerts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", default="",
            help=f"comma-separated processors to run (default all: {', '.join(registry.processor_names())}); "
                 "with ksqlDB running the scripts in ksql/, run --only stop-events,vehicle-alerts,bunching",
        )

    def handle(self, *args, **options):
        only = [n.strip() for n in options["only"].split(",") if n.strip()] or None
        bus = get_bus()
        ensure_topics(bus)
        try:
            role_list, workers = registry.processors(bus, only=only)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        run_until_signalled(role_list, bus, lambda: worker_status(workers), self.stdout)
