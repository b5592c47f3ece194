from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from alerts.ksql import planner
from alerts.ksql import scripts as ksqldb


class Command(BaseCommand):
    help = (
        "Check the ksqlDB scripts in ksql/ against ksqlDB 0.29's planner rules (check, no server), apply "
        "them in order (apply: checks first), show what of them runs (status), or drop their streams and "
        "tables (drop), against the ksqlDB REST API at KSQLDB_URL."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["check", "apply", "status", "drop"])
        parser.add_argument("--url", default="", help="ksqlDB server (default: KSQLDB_URL)")
        parser.add_argument("--print", action="store_true", dest="print_only",
                            help="print the statements with their variables filled in; contact no server")
        parser.add_argument("--scripts", default="", help="directory of the scripts (default: ksql/)")
        parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                            help="wait up to SECONDS for the server to answer before the first statement")

    def handle(self, *args, action, url, print_only, scripts, wait, **options):
        variables = ksqldb.script_variables()
        try:
            stmts = ksqldb.statements(variables, Path(scripts)) if scripts else ksqldb.statements(variables)
        except (KeyError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if not stmts:
            raise CommandError(f"no statements in {scripts or ksqldb.SCRIPTS_DIR}")
        if print_only:
            for s in stmts:
                self.stdout.write(f"-- {s}\n{s.text}\n")
            return
        if action in ("check", "apply"):
            try:
                ksqldb.refuse_problems(ksqldb.check_scripts(stmts, variables))
            except ksqldb.KsqlError as exc:
                raise CommandError(str(exc)) from None
            if action == "check":
                self.stdout.write(self.style.SUCCESS(
                    f"{len(stmts)} statements pass the ksqlDB 0.29 checks ({', '.join(planner.CHECKS)})"))
                return
        url = url or settings.KSQLDB_URL
        if not url:
            raise CommandError("no ksqlDB server: set KSQLDB_URL (or pass --url)")
        client = ksqldb.KsqlClient(url, username=settings.KSQLDB_USERNAME, password=settings.KSQLDB_PASSWORD)
        try:
            if wait:
                info = ksqldb.wait_for(client, wait)
                self.stdout.write(f"ksqlDB {info.get('version', '?')} at {client.url} is up")
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
