"""`manage.py historybench`: storage per London-sized day and KPI query times, on PostgreSQL
(benchmarks/history.py; figures in docs/history.md)."""

import json

from django.core.management.base import BaseCommand, CommandError

from benchmarks.history import HistoryBench


class Command(BaseCommand):
    help = "Measure the history's storage per London-sized day and the KPI queries over it (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--vehicles", type=int, default=9000)
        parser.add_argument("--day-hours", type=float, default=18.0, help="hours of service in a day (default 18)")
        parser.add_argument("--sample-hours", type=float, default=1.0,
                            help="hours of positions inserted and measured, then extrapolated to the day (default 1)")
        parser.add_argument("--stop-hours", type=float, default=None,
                            help="hours of stop events inserted (default: the whole day, which the KPIs query)")
        parser.add_argument("--sink-batches", type=int, default=20,
                            help="batches of 2,000 records timed through the history consumer (default 20; 0: none)")
        parser.add_argument("--keep", action="store_true", help="keep the historybench schema afterwards")
        parser.add_argument("--json", metavar="PATH", help="write the results here too")

    def handle(self, *args, **o):
        if o["sink_batches"] < 0:
            raise CommandError("--sink-batches must be 0 or more")
        for name in ("vehicles", "day_hours", "sample_hours"):
            if o[name] <= 0:
                raise CommandError(f"--{name.replace('_', '-')} must be positive")
        if o["stop_hours"] is not None and not 0 < o["stop_hours"] <= o["day_hours"]:
            raise CommandError("--stop-hours must be positive and at most --day-hours")
        bench = HistoryBench(vehicles=o["vehicles"], day_hours=o["day_hours"], sample_hours=o["sample_hours"],
                             stop_hours=o["stop_hours"], sink_batches=o["sink_batches"])
        try:
            results = bench.run(keep=o["keep"], log=self.stdout.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"A day of {o['vehicles']:,} vehicles over {o['day_hours']:g} h: {results['day_gb']} GB "
                          f"(positions {results['positions']['day_bytes'] / 1e9:.2f} GB, stop events "
                          f"{results['stop_events']['day_bytes'] / 1e9:.2f} GB); KPI queries (warm) "
                          f"{results['kpi_seconds']['rollup']['all_warm']} s in all from the roll-up (the KPI page's tables at once: "
                          f"{results['kpi_seconds']['page']['all_warm']} s), "
                          f"{results['kpi_seconds']['raw']['all_warm']} s from the stop events")
        if o["json"]:
            with open(o["json"], "w") as f:
                json.dump(results, f, indent=2)
