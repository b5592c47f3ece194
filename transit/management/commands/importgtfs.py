import time

from django.core.management.base import BaseCommand, CommandError

from streamcity.kernel.security import redact_url
from transit.gtfs.reader import GtfsError
from transit.gtfs.services import feed_import


class Command(BaseCommand):
    help = "Import a GTFS feed (a folder, a .zip or an http(s) URL) into the transit models."

    def add_arguments(self, parser):
        parser.add_argument("path", help="GTFS folder, .zip file or http(s) URL")
        parser.add_argument("--name", help="feed name (default: the folder's or zip's name); same name = replace")
        parser.add_argument("--if-changed", action="store_true", help="do nothing when the same feed is imported")
        parser.add_argument(
            "--allow-private-network", action="store_true",
            help="let a URL (or a redirect) reach loopback, private or link-local addresses (refused by default)",
        )

    def handle(self, *args, path, name, if_changed, allow_private_network, **options):
        tty = self.stdout.isatty()
        started = time.perf_counter()
        last = [0.0]

        def progress(what: str, rows: int) -> None:
            now = time.perf_counter()
            if tty and now - last[0] > 0.1:
                last[0] = now
                self.stdout.write(f"\r{now - started:5.1f}s  {what}: {rows} rows\033[K", ending="")
                self.stdout.flush()

        try:
            summary = feed_import(source=path, name=name, progress=progress, if_changed=if_changed,
                                  allow_private_network=allow_private_network)
        except GtfsError as exc:
            raise CommandError(f"cannot import {redact_url(path)}: {exc} (nothing was changed)") from None
        finally:
            if tty:
                self.stdout.write("\r\033[K", ending="")
        feed = summary.feed
        if summary.skipped:
            self.stdout.write(f"feed {feed.name} is already imported from the same files; nothing to do")
            return
        for warning in summary.warnings:
            self.stderr.write(f"warning: {warning}")
        verb = "replaced" if summary.replaced else "imported"
        self.stdout.write(f"{verb} feed {feed.name} ({feed.timezone}, service {feed.start_date} to {feed.end_date})")
        width = max(len(k) for k in summary.counts)
        for table, count in summary.counts.items():
            self.stdout.write(f"  {table:<{width}}  {count:>8}")
        self.stdout.write(self.style.SUCCESS(f"done in {summary.seconds:.2f}s"))
