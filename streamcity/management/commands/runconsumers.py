from django.core.management.base import BaseCommand, CommandError

from streamcity.kernel.bus import get_bus
from streamcity.kernel.registry import ensure_topics, registry, worker_status
from streamcity.kernel.runtime import run_until_signalled


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


class Command(BaseCommand):
    help = ("Run the consumers: live_vehicles -> rows and map frames (bridge); alerts -> rows, ops feed, "
            "notifications (alerts); stop events and positions -> the history and its KPI roll-up (history).")

    def add_arguments(self, parser):
        names = ", ".join(registry.consumer_names())
        parser.add_argument("--only", default="", help=f"comma-separated consumers to run (default all: {names})")
        parser.add_argument("--skip", default="",
                            help="comma-separated consumers not to run here; at scale the history writer runs in a "
                                 "process of its own (`--skip history` here, `--only history` there) so its "
                                 "database writes never hold up the map frames")

    def handle(self, *args, **options):
        bus = get_bus()
        try:
            role_list, workers = registry.consumers(bus, only=_names(options["only"]) or None,
                                                    skip=_names(options["skip"]))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not role_list:
            raise CommandError("no consumer left to run (--only and --skip exclude them all)")
        ensure_topics(bus)
        run_until_signalled(role_list, bus, lambda: worker_status(workers), self.stdout)
