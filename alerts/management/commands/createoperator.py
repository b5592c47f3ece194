import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from alerts.services import operator_create


class Command(BaseCommand):
    help = "Create (or reset) an operator account: staff, in the operators group. Password from a prompt or STREAMCITY_OPERATOR_PASSWORD."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--supervisor", action="store_true", help="also a supervisor (manages operators)")
        parser.add_argument("--email", default="")

    def handle(self, *args, username, supervisor, email, **options):
        password = os.environ.get("STREAMCITY_OPERATOR_PASSWORD")
        if not password:
            if not options.get("interactive", True) or not os.isatty(0):
                raise CommandError("no password: set STREAMCITY_OPERATOR_PASSWORD or run in a terminal")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the passwords do not match")
        try:
            operator_create(username=username, password=password, supervisor=supervisor, email=email)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        role = "supervisor" if supervisor else "operator"
        self.stdout.write(self.style.SUCCESS(f"{role} {username!r} is ready: log in at /accounts/login/"))
