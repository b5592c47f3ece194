"""The alert consumer on both buses: rows per alert key, redelivery adds nothing, offsets after commit."""

import threading
import time

import pytest

from alerts.models import Alert, AlertChange
from alerts.streams import TOPICS, AlertSink, alert_feed
from streamcity.kernel.bus import TopicSpec, Worker
from streamcity.kernel.schemas import encode, event_key, SURGE_ALERTS, BREAKDOWN_ALERTS, TRAFFIC_INCIDENTS

from .conftest import breakdown, incident, surge

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("operator_groups"), pytest.mark.usefixtures("postgres_required")]


def produce_all(bus, events):
    for topic, event in events:
        bus.produce(topic.name, event_key(topic, event), encode(event))
    bus.flush()


def run_until(worker, condition, timeout=30):
    stop = threading.Event()
    t = threading.Thread(target=worker.run, args=(stop,))
    t.start()
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # let anything extra arrive
    stop.set()
    t.join(30)


def test_alert_consumer_persists_idempotently(bus):
    bus.ensure_topics([TopicSpec(t.name, 3) for t in TOPICS])
    events = [(SURGE_ALERTS, surge()), (BREAKDOWN_ALERTS, breakdown()), (TRAFFIC_INCIDENTS, incident()),
              (SURGE_ALERTS, surge(taps=50, seconds=60)), (TRAFFIC_INCIDENTS, incident("cleared", 300))]
    produce_all(bus, events)
    produce_all(bus, events)  # a producer retry / replay: every record twice
    feed = alert_feed()
    sink = AlertSink(feed)
    worker = Worker(bus, name="alerts", group_id="g-alerts", topics=TOPICS, handle=sink, commit_interval=0)
    run_until(worker, lambda: worker.processed >= 10)
    assert worker.processed == 10 and worker.dead_lettered == 0
    assert Alert.objects.count() == 3
    assert Alert.objects.get(kind="surge").payload["tap_count"] == 50
    assert Alert.objects.get(kind="incident").status == "resolved"
    assert AlertChange.objects.count() == 5  # 3 created, 1 surge update, 1 auto-resolve
    assert {a["kind"] for a in feed.take()} == {"surge", "breakdown", "incident"}
    # offsets were committed after the database commit: a new member has nothing to redo
    with bus.consumer("g-alerts", [t.name for t in TOPICS]) as c:
        deadline = time.monotonic() + 3
        leftovers = []
        while time.monotonic() < deadline:
            leftovers += c.consume(100, 0.2)
    assert leftovers == []
