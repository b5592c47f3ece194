import threading

from django.core.management.base import BaseCommand

from streamcity import roles
from streamcity.bus import get_bus
from streamcity.runtime import RoleThreads, stop_on_signals


class Command(BaseCommand):
    help = "Run the consumers: live_vehicles -> rows and map frames; alerts -> rows, ops feed, notifications."

    def handle(self, *args, **options):
        bus = get_bus()
        roles.ensure_topics(bus)
        role_list, workers = roles.consumers(bus)
        stop = threading.Event()
        stop_on_signals(stop)
        threads = RoleThreads(role_list, stop)
        threads.start()
        threads.wait(lambda: roles.worker_status(workers), self.stdout)
        threads.join()
        bus.close()
        if threads.failed:
            raise SystemExit(1)
