from django.core.management.base import BaseCommand

from benchmarks.gtfsrt import run


class Command(BaseCommand):
    help = ("Benchmark GTFS-Realtime out: ms per build and bytes of vehicle-positions.pb and trip-updates.pb, "
            "requests/s for concurrent clients (run it on a scratch database).")

    def add_arguments(self, parser):
        parser.add_argument("--vehicles", type=int, default=9000)
        parser.add_argument("--clients", type=int, default=100)
        parser.add_argument("--seconds", type=float, default=10.0, help="load per feed (default 10)")
        parser.add_argument("--no-http", action="store_true", help="measure the builds only")

    def handle(self, *args, **options):
        run(vehicles=options["vehicles"], clients=options["clients"], seconds=options["seconds"],
            http=not options["no_http"], write=self.stdout.write)
