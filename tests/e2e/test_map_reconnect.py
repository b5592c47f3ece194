"""The socket reconnects after the server restarts, and the map resynchronises from a new snapshot."""

import pytest

from .conftest import base_env, manage
from .test_browser import POSITIONS, chromium, open_map, wait_for_count  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_the_map_reconnects_after_a_server_restart(embedded, procs, tmp_path, chromium):
    page = open_map(chromium, embedded.url)
    try:
        wait_for_count(page, 40)
        snapshots = int(page.get_attribute("#live-map", "data-snapshots"))
        assert embedded.stop() == 0  # a restart: stopped with SIGTERM while the page is connected,
        # then started again on the same port with the same database
        page.wait_for_function("() => document.getElementById('live-map').dataset.connected === 'false'",
                               timeout=10_000)
        assert "offline" in page.inner_text("#connection")

        port = embedded.url.rsplit(":", 1)[1]
        again = procs.start("runstreamcity-again", manage("runstreamcity", "--port", port, "--vehicles", "40"),
                            base_env(tmp_path))
        again.wait_for_output("StreamCity is running at", timeout=90)
        page.wait_for_function("() => document.getElementById('live-map').dataset.connected === 'true'", timeout=45_000)
        page.wait_for_function(
            f"() => Number(document.getElementById('live-map').dataset.snapshots) > {snapshots}", timeout=10_000
        )
        assert page.inner_text("#connection") == "live"
        wait_for_count(page, 40)
        before = page.evaluate(POSITIONS)
        moved = 0
        for _ in range(20):  # live again: they move (a restarted run begins with some laying over at terminals)
            page.wait_for_timeout(1000)
            after = page.evaluate(POSITIONS)
            moved = sum(before[k] != after.get(k) for k in before)
            if moved >= 10:
                break
        assert moved >= 10, f"only {moved} of {len(before)} vehicles moved in 20 s"
        assert page.errors == []
    finally:
        page.close()
