"""The built-in city is valid GTFS: MobilityData's canonical validator (gtfs-validator-main 6.0.0, from
Maven Central, run on java by tests/services/gtfs_validator.sh) finds no error in the generated feed."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from simulators.city import write_city

from ..conftest import REQUIRE

pytestmark = pytest.mark.slow  # about 30 s (a JVM, 120,000 stop times)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "services" / "gtfs_validator.sh"


def test_the_generated_city_passes_the_canonical_gtfs_validator_with_no_error(tmp_path):
    if not (shutil.which("java") and shutil.which("mvn")):
        message = "java and mvn are needed for MobilityData's GTFS validator"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    feed = write_city(tmp_path / "city")
    (feed / "VERSION").unlink()  # the generator's marker, not part of the feed
    out = tmp_path / "report"
    run = subprocess.run([str(SCRIPT), str(feed), str(out), "2026-11-25"], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    errors = [(n["code"], n["totalNotices"], n["sampleNotices"][:2]) for n in report["notices"]
              if n["severity"] == "ERROR"]
    assert errors == []
    assert report["summary"]["counts"]["Trips"] > 1000  # it read the whole city
