from django.core.management.base import BaseCommand, CommandError

from streamcity import roles
from streamcity.bus import get_bus
from streamcity.runtime import run_until_signalled


class Command(BaseCommand):
    help = (
        "Run the built-in stream processors until stopped: live_vehicles (with schedule deviation), "
        "surge, delay, breakdown, bunching and silent-vehicle alerts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", default="",
            help=f"comma-separated processors to run (default all: {', '.join(roles.PROCESSORS)}); "
                 "with ksqlDB running the scripts in ksql/, run --only bunching,vehicle-alerts",
        )

    def handle(self, *args, **options):
        only = [n.strip() for n in options["only"].split(",") if n.strip()] or None
        bus = get_bus()
        roles.ensure_topics(bus)
        try:
            role_list, workers = roles.processors(bus, only=only)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        run_until_signalled(role_list, bus, lambda: roles.worker_status(workers), self.stdout)
