from django.core.management.base import BaseCommand

from streamcity import roles
from streamcity.bus import get_bus
from streamcity.runtime import run_until_signalled


class Command(BaseCommand):
    help = "Run the consumers: live_vehicles -> rows and map frames; alerts -> rows, ops feed, notifications."

    def handle(self, *args, **options):
        bus = get_bus()
        roles.ensure_topics(bus)
        role_list, workers = roles.consumers(bus)
        run_until_signalled(role_list, bus, lambda: roles.worker_status(workers), self.stdout)
