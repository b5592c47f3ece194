"""An operator logs in in Chromium and sees an alert appear on /ops/ while the pipeline runs."""

import datetime as dt
import re
import subprocess

import pytest

from streamcity.kernel.bus.kafka import KafkaBus
from streamcity.kernel.schemas import TRAFFIC_INCIDENTS, TrafficIncident, encode

from .conftest import base_env, free_port, manage
from .test_browser import ARTIFACTS, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kafka]


def test_operator_sees_a_new_alert_live_and_acknowledges_it(procs, tmp_path, kafka_bootstrap, chromium_path, unique):
    prefix = f"ops-{unique}-"
    env = base_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PREFIX=prefix, STREAMCITY_PARTITIONS="2")
    subprocess.run(manage("migrate", "--no-input", "-v0"), env=env, check=True, cwd=tmp_path)
    port = free_port()
    app = procs.start("runstreamcity", manage("runstreamcity", "--port", str(port), "--vehicles", "20", "--demo-operator"), env)
    app.wait_for_output("Operators: log in", timeout=90)
    password = re.search(r"with password '([^']+)'", app.output()).group(1)
    url = f"http://127.0.0.1:{port}"

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url + "/ops/")
            assert "/accounts/login/" in page.url  # anonymous: sent to the login page
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", password)
            page.click("form:not(.site-search) button[type=submit]")  # the login form, not the search box
            page.wait_for_url(url + "/ops/")
            page.wait_for_selector("#ops-connection.conn-on", timeout=20_000)

            bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=prefix)
            incident = TrafficIncident(
                incident_id=f"inc-{unique}", type="road_closure", latitude=52.37, longitude=4.9, radius=250,
                severity=5, description="Bridge closed", timestamp=dt.datetime.now(dt.timezone.utc),
            )
            bus.produce(TRAFFIC_INCIDENTS.name, incident.incident_id, encode(incident))
            assert bus.flush() == 0

            item = page.wait_for_selector(f'#alert-list li[data-alert-key="incident:inc-{unique}"]', timeout=30_000)
            assert "Bridge closed" in item.inner_text()
            page.wait_for_function("() => Number(document.getElementById('vehicle-count').textContent) >= 20", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "ops-map.png"))
            item.query_selector('button[data-do="acknowledge"]').click()
            page.wait_for_function(
                f"""() => {{ const li = document.querySelector('#alert-list li[data-alert-key="incident:inc-{unique}"]');
                           return li && li.querySelector('.status').textContent.startsWith('acknowledged'); }}""",
                timeout=10_000,
            )
        finally:
            browser.close()
    assert app.stop() == 0
