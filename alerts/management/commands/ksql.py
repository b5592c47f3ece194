from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from alerts.detection import ksqldb


class Command(BaseCommand):
    help = (
        "Apply the ksqlDB scripts in ksql/ in order (apply), show what of them runs (status), or drop "
        "their streams and tables (drop), against the ksqlDB REST API at KSQLDB_URL."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["apply", "status", "drop"])
        parser.add_argument("--url", default="", help="ksqlDB server (default: KSQLDB_URL)")
        parser.add_argument("--print", action="store_true", dest="print_only",
                            help="print the statements with their variables filled in; contact no server")

    def handle(self, *args, action, url, print_only, **options):
        stmts = ksqldb.statements(ksqldb.script_variables())
        if print_only:
            for s in stmts:
                self.stdout.write(f"-- {s}\n{s.text}\n")
            return
        url = url or settings.KSQLDB_URL
        if not url:
            raise CommandError("no ksqlDB server: set KSQLDB_URL (or pass --url)")
        client = ksqldb.KsqlClient(url, username=settings.KSQLDB_USERNAME, password=settings.KSQLDB_PASSWORD)
        try:
            if action == "apply":
                n = ksqldb.apply(client, stmts, self.stdout.write)
                self.stdout.write(self.style.SUCCESS(f"applied {n} statements"))
            elif action == "drop":
                n = ksqldb.drop(client, stmts, self.stdout.write)
                self.stdout.write(self.style.SUCCESS(f"dropped {n} streams and tables (their topics are kept)"))
            elif ksqldb.status(client, stmts, self.stdout.write):
                raise CommandError("some streams or tables are missing: run `manage.py ksql apply`")
        except ksqldb.KsqlError as exc:
            raise CommandError(str(exc)) from None
