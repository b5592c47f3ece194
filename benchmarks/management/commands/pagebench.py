from django.core.management.base import BaseCommand

from benchmarks.pages import run


class Command(BaseCommand):
    help = ("Time the passenger and console pages (stop page, search, near me, route page) with N vehicles in the "
            "live table (run it on a scratch database).")

    def add_arguments(self, parser):
        parser.add_argument("--vehicles", type=int, default=9000)
        parser.add_argument("--repeat", type=int, default=30)

    def handle(self, *args, **options):
        run(vehicles=options["vehicles"], repeat=options["repeat"], write=self.stdout.write)
