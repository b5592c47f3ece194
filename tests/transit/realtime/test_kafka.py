"""The poller against the real broker: the reports, their trips' schedule and the alerts reach Kafka."""

from __future__ import annotations


from streamcity.kernel.bus import topic_specs
from streamcity.kernel.schemas import SERVICE_ALERTS, STOP_SCHEDULE, VEHICLE_LOCATIONS, ServiceAlert, StopSchedule, \
    VehicleLocation, decode
from transit.gtfs.parse import parse_feed
from transit.gtfs.reader import FeedSource
from transit.realtime.poller import RealtimePoller
from transit.realtime.static import StaticIndex

from .conftest import GTFS, rt_file


def test_bart_trip_updates_and_alerts_through_kafka(kafka_bus, unique):
    with FeedSource(GTFS / "bart" / "gtfs.zip") as src:
        index = StaticIndex.from_feed("bart", parse_feed(src))
    kafka_bus.ensure_topics(topic_specs(2))
    poller = RealtimePoller(kafka_bus, index, trip_updates=str(rt_file("bart", "trip-updates")),
                            alerts=str(rt_file("bart", "alerts")), settle=0)
    result = poller.poll()
    assert result.published == poller.last.matched > 0 and result.alerts == 1
    got: dict[str, list] = {}
    schemas = {VEHICLE_LOCATIONS.name: VehicleLocation, STOP_SCHEDULE.name: StopSchedule,
               SERVICE_ALERTS.name: ServiceAlert}
    with kafka_bus.consumer(f"test-{unique}", list(schemas)) as c:
        for _ in range(60):
            for r in c.consume(1000, 1.0):
                got.setdefault(r.topic, []).append(decode(schemas[r.topic], r.value))
            if len(got.get(VEHICLE_LOCATIONS.name, [])) >= result.published and SERVICE_ALERTS.name in got \
                    and len(got.get(STOP_SCHEDULE.name, [])) >= result.schedule_rows:
                break
    reports = got[VEHICLE_LOCATIONS.name]
    assert {r.vehicle_id for r in reports} == set(poller.last.reports)
    assert all(r.trip_id and r.reported_delay_seconds is not None for r in reports)
    assert {s.trip_id for s in got[STOP_SCHEDULE.name]} == {r.trip_id for r in reports}
    assert got[SERVICE_ALERTS.name][0].cause == "MEDICAL_EMERGENCY"
