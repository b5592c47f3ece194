from django.core.management.base import BaseCommand

from streamcity.kernel.bus import get_bus
from streamcity.kernel.registry import ensure_topics, registry, worker_status
from streamcity.kernel.runtime import run_until_signalled


class Command(BaseCommand):
    help = "Run the consumers: live_vehicles -> rows and map frames; alerts -> rows, ops feed, notifications."

    def handle(self, *args, **options):
        bus = get_bus()
        ensure_topics(bus)
        role_list, workers = registry.consumers(bus)
        run_until_signalled(role_list, bus, lambda: worker_status(workers), self.stdout)
