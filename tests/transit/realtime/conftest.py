"""Running the in-process pipeline (processors, bridge, alert consumer) for GTFS-Realtime tests."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_until  # noqa: F401 - the tests here import it from this conftest

GTFS = Path("/work/shared/gtfs")
if not GTFS.exists():  # the shared data sets live beside the repository
    GTFS = Path(__file__).resolve().parents[4] / "shared" / "gtfs"
RT_FEEDS = ("bart", "caltrain", "usf-bullrunner")


def rt_file(feed: str, kind: str) -> Path | None:
    p = GTFS / feed / "rt" / f"{kind}.pb"
    return p if p.exists() else None


@pytest.fixture
def pipeline(memory_bus):
    """The processors and consumers of `runstreamcity` on an in-process bus, in threads."""
    from streamcity.kernel.registry import ensure_topics, registry
    from streamcity.kernel.runtime import RoleThreads

    bus = memory_bus
    ensure_topics(bus)
    processor_roles, workers = registry.processors(bus)
    consumer_roles, consumer_workers = registry.consumers(bus)
    stop = threading.Event()
    threads = RoleThreads(processor_roles + consumer_roles, stop)
    threads.start()
    bus.workers = workers + consumer_workers
    yield bus
    stop.set()
    threads.join(10)
    assert not threads.failed, f"roles crashed: {threads.failed}"


@pytest.fixture
def imported(db):
    """import_feed(name): the shared feed `name` imported (once per test database state)."""
    from transit.gtfs.services import feed_import

    def import_feed(name: str):
        return feed_import(source=GTFS / name / "gtfs.zip", name=name, if_changed=True).feed

    return import_feed
