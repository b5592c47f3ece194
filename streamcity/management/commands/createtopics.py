from django.core.management.base import BaseCommand

from streamcity.kernel.bus import get_bus, topic_specs


class Command(BaseCommand):
    help = "Create every StreamCity topic and its dead-letter topic (existing ones are left alone)."

    def add_arguments(self, parser):
        parser.add_argument("--partitions", type=int, default=None)

    def handle(self, *args, partitions=None, **options):
        specs = topic_specs(partitions)
        get_bus().ensure_topics(specs)
        for s in specs:
            self.stdout.write(f"{s.name}: {s.partitions} partitions{' (compacted)' if s.compacted else ''}")
