"""`manage.py runrealtime`: options parsed, the poller run, clear errors."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from .conftest import GTFS, rt_file

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_required")]


def test_once_polls_publishes_and_prints_the_status(imported):
    imported("usf-bullrunner")
    out = io.StringIO()
    call_command("runrealtime", "--feed", "usf-bullrunner", "--vehicle-positions",
                 f"file://{rt_file('usf-bullrunner', 'vehicle-positions')}", "--once", stdout=out)
    assert "gtfs-rt usf-bullrunner: 1 polls | 10 vehicles" in out.getvalue()
    assert "unmatched: 10 no trip" in out.getvalue() and "10 reports sent" in out.getvalue()


def test_gtfs_imports_the_static_feed_first(db):
    out = io.StringIO()
    call_command("runrealtime", "--gtfs", str(GTFS / "caltrain" / "gtfs.zip"), "--feed", "ct",
                 "--trip-updates", str(rt_file("caltrain", "trip-updates")), "--once", stdout=out)
    assert "gtfs-rt ct: 1 polls" in out.getvalue()


@pytest.mark.parametrize("args, message", [
    (["--feed", "nowhere", "--alerts", "x.pb"], "no imported feed 'nowhere'"),
    (["--feed", "nowhere"], "at least one of --vehicle-positions"),
    (["--alerts", "x.pb"], "--feed NAME (or --gtfs PATH) is required"),
])
def test_clear_errors(db, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("runrealtime", *args, "--once")


def test_a_bad_header_is_an_argument_error(db):
    with pytest.raises(CommandError, match="not a header"):
        call_command("runrealtime", "--feed", "x", "--alerts", "x.pb", "--header", "s3cr3t", "--once")
