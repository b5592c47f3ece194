"""`manage.py historybench` at a tiny size on PostgreSQL: it runs end to end, its roll-up equals the stop
events, and it prints every figure the docs quote (its speed is not asserted: that is the benchmark's job)."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_required")]


def test_a_tiny_day_runs_and_reports_every_figure(tmp_path, capsys):
    out = tmp_path / "out.json"
    call_command("historybench", "--vehicles", "40", "--day-hours", "2", "--sample-hours", "0.1",
                 "--sink-batches", "1", "--json", str(out))
    printed = capsys.readouterr().out
    results = json.loads(out.read_text())
    kpi = results["kpi_seconds"]
    assert set(kpi) >= {"raw", "rollup", "page", "rollup_one_route", "rollup_equals_raw"}
    assert kpi["rollup_equals_raw"] is True
    assert results["stop_events"]["day_bytes"] > 0 and results["rollup"]["bytes"] > 0
    assert "the KPI page's tables at once" in printed and "the roll-up's tables equal the stop events' tables: True" \
        in printed
    with connection.cursor() as c:  # its schema is dropped afterwards (no --keep)
        c.execute("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'historybench'")
        assert c.fetchone()[0] == 0


def test_bad_options_are_refused_clearly():
    with pytest.raises(CommandError, match="--vehicles must be positive"):
        call_command("historybench", "--vehicles", "0")
