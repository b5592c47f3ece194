"""Delete history older than the retention (STREAMCITY_HISTORY_RETENTION_DAYS, or --days)."""

from django.core.management.base import BaseCommand, CommandError

from transit.history.retention import prune_history, retention_cutoff


class Command(BaseCommand):
    help = "Delete stop events, vehicle positions and scheduled trips older than the history retention."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=None,
                            help="keep this many days (default: STREAMCITY_HISTORY_RETENTION_DAYS)")

    def handle(self, *args, days=None, **options):
        try:
            cutoff = retention_cutoff(days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        deleted = prune_history(days=days)
        parts = ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in deleted.items())
        self.stdout.write(f"Deleted history before {cutoff:%Y-%m-%d %H:%M:%S %Z}: {parts}.")
