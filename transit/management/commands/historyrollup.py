"""`manage.py historyrollup [--days N] [--date YYYY-MM-DD]`: rebuild the KPIs' hourly roll-up from the
stop events (transit.history.rollup.rebuild). The history consumer keeps it up to date by itself; rebuild
after changing the punctuality window (STREAMCITY_EARLY_SECONDS / STREAMCITY_LATE_SECONDS), which the KPI
page otherwise recounts from the stop events on every request."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from transit.history.kpis import Period
from transit.history.rollup import rebuild


class Command(BaseCommand):
    help = "Rebuild the KPIs' hourly roll-up from the stop events (the last N days, or one service day)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=None, help="the last N days (default: today)")
        parser.add_argument("--date", default=None, help="one service day, YYYY-MM-DD")

    def handle(self, *args, days=None, date=None, **options):
        if date is not None:
            try:
                period = Period.day(dt.date.fromisoformat(date))
            except ValueError:
                raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}") from None
            start, end = period.start, period.end
        else:
            if days is not None and days <= 0:
                raise CommandError(f"--days must be positive, not {days}")
            end = timezone.now() + dt.timedelta(hours=1)
            start = end - dt.timedelta(days=days) if days else Period.day(timezone.localdate()).start
        n = rebuild(start, end)
        self.stdout.write(f"roll-up rebuilt from {start.isoformat()} to {end.isoformat()}: {n} route hours")
