"""Bad GTFS input through `manage.py importgtfs` on PostgreSQL: refused with file and row, old network intact."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import CommandError, call_command

from transit.models import Feed, Route, Stop, StopTime, Trip
from tests.transit.gtfs_samples import MINIMAL, cairns_path

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_required")]


def network_counts(name: str) -> tuple[int, ...]:
    counts = tuple(m.objects.filter(feed__name=name).count() for m in (Route, Stop, Trip))
    return counts + (StopTime.objects.filter(trip__feed__name=name).count(),)


def zip_folder(tables: dict[str, str], path) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in tables.items():
            z.writestr(name, text)
    return str(path)


@pytest.fixture
def imported(tmp_path):
    """A feed named `city` already imported: the real Cairns feed when it is here, else a small one."""
    source = cairns_path()
    if source is None:
        source = zip_folder(MINIMAL, tmp_path / "city.zip")
    call_command("importgtfs", str(source), "--name", "city", stdout=io.StringIO())
    counts = network_counts("city")
    assert all(counts)
    return counts


def refuse(path) -> str:
    with pytest.raises(CommandError) as exc:
        call_command("importgtfs", str(path), "--name", "city", stdout=io.StringIO())
    return str(exc.value)


def test_a_truncated_zip_is_refused_and_the_network_stays(tmp_path, imported):
    good = zip_folder(MINIMAL, tmp_path / "good.zip")
    data = open(good, "rb").read()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    message = refuse(truncated)
    print(f"\ntruncated zip: {message}")
    assert "truncated.zip: not a readable .zip archive" in message
    assert network_counts("city") == imported


def test_a_zip_whose_member_is_cut_short_names_the_file(tmp_path, imported):
    good = zip_folder(MINIMAL, tmp_path / "good.zip")
    data = bytearray(open(good, "rb").read())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("stop_times.txt")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + info.compress_size] = b"\0" * info.compress_size  # the member's bytes are garbage
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    message = refuse(damaged)
    print(f"\ndamaged member: {message}")
    assert "stop_times.txt: cannot be read from damaged.zip" in message
    assert network_counts("city") == imported


def test_a_broken_row_is_refused_with_file_row_and_column(tmp_path, imported):
    broken = dict(MINIMAL, **{"stops.txt": MINIMAL["stops.txt"].replace("S3,Third,52.3800,4.9000", "S3,Third,north,4.9000")})
    message = refuse(zip_folder(broken, tmp_path / "broken.zip"))
    print(f"\nbroken row: {message}")
    assert "stops.txt, row 4, column 'stop_lat'" in message
    assert network_counts("city") == imported


@pytest.mark.parametrize("missing", ["stops.txt", "trips.txt", "stop_times.txt", "routes.txt"])
def test_a_feed_missing_a_required_file_is_refused(tmp_path, imported, missing):
    tables = {k: v for k, v in MINIMAL.items() if k != missing}
    message = refuse(zip_folder(tables, tmp_path / "incomplete.zip"))
    print(f"\nmissing {missing}: {message}")
    assert missing in message
    assert network_counts("city") == imported
    assert Feed.objects.filter(name="city").count() == 1
