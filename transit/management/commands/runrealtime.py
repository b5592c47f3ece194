from django.core.management.base import BaseCommand

from streamcity.kernel.registry import ensure_topics
from streamcity.kernel.bus import get_bus
from streamcity.kernel.runtime import Role, run_until_signalled
from transit.realtime.options import add_arguments, poller_from_options


class Command(BaseCommand):
    help = ("Mirror an agency's GTFS-Realtime feeds: poll them and publish vehicle_locations, stop_schedule "
            "and service_alerts as the simulator would.")

    def add_arguments(self, parser):
        add_arguments(parser)
        parser.add_argument("--once", action="store_true", help="poll once, publish, print the status and exit")

    def handle(self, *args, **options):
        bus = get_bus()
        ensure_topics(bus)
        poller = poller_from_options(bus, options)
        if options["once"]:
            poller.poll()
            bus.flush()
            self.stdout.write(poller.status())
            return
        run_until_signalled([Role("gtfs-rt", poller.run)], bus, poller.status, self.stdout)
