"""Short runs of `manage.py benchmark`: the figures are there and sane.

No speed is asserted here (the targets are the benchmark's, measured and reported in docs/benchmarks.md).
"""

import json

import pytest
from django.core.management import call_command

KEYS = {
    "vehicles", "clients", "events_per_s", "lag_max_s", "e2e_p50_ms", "e2e_p99_ms", "baseline_consume_per_s",
    "processor_ratio", "ws_deliveries_per_s", "ws_ratio", "cpu_percent", "rss_mb",
}


@pytest.mark.timeout(180)
def test_a_short_run_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "bench.json"
    call_command("benchmark", vehicles=60, clients=3, duration=3, warmup=1, taps=30, bus="memory",
                 replay_seconds=10, zoom="none", json=str(out))  # zoomed in: every report reaches every client
    result = json.loads(out.read_text())
    assert KEYS <= set(result)
    assert result["vehicles"] == 60 and result["clients"] == 3
    assert result["clients_connected"] == 3
    # the pipeline carried the offered load: 60 vehicles at 1 Hz + 30 taps/s
    assert 60 <= result["events_per_s"] <= 120
    assert 0 <= result["lag_max_s"] < 30
    # each of the 3 clients received the fleet's reports, stamped at most seconds before
    assert result["ws_deliveries_per_s"] > 60
    assert 0 < result["e2e_p50_ms"] <= result["e2e_p99_ms"] < 30_000
    assert result["baseline_consume_per_s"] > 0 and result["processor_ratio"] > 0
    assert result["ws_ratio"] > 0
    assert result["cpu_percent"] > 0 and result["rss_mb"] > 20
    printed = capsys.readouterr().out
    assert "measuring" in printed  # the progress line
    assert "e2e latency p99" in printed  # the table


@pytest.mark.kafka
@pytest.mark.timeout(240)
def test_a_short_run_on_kafka_with_the_processors_in_two_processes(tmp_path, kafka_bootstrap):
    """The default on Kafka: the vehicle stages and the surges each in a processors process (as two
    `runprocessors --only ...`); their figures come back merged, in the live phase and the replay."""
    out = tmp_path / "bench.json"
    call_command("benchmark", vehicles=60, clients=0, duration=3, warmup=1, taps=30, bus="kafka",
                 bootstrap=kafka_bootstrap, replay_seconds=20, json=str(out))
    result = json.loads(out.read_text())
    assert result["processor_processes"] == 2
    assert 75 <= result["events_per_s"] <= 120  # both processes' workers counted: 60 reports + 30 taps a second
    assert set(result["lag_max_s_by_worker"]) >= {"vehicles", "surges", "bridge"}
    assert set(result["capacity_s_by_worker"]) == {"vehicles", "surges", "bridge"}
    assert result["processor_capacity_per_s"] > 0 and result["baseline_consume_per_s"] > 0
    by_process = result["capacity_cpu_s_by_process"]  # the pipeline (bridge) and each processors process
    assert set(by_process) == {"pipeline", "processors-live-vehicles+stop-events+vehicle-alerts+bunching", "processors-surges"}
    assert all(seconds >= 0 for seconds in by_process.values()) and sum(by_process.values()) > 0  # 10 ms ticks



@pytest.mark.kafka
@pytest.mark.timeout(60)
def test_the_baseline_process_reads_and_decodes_every_record_of_the_topics(kafka_bus):
    """benchmarks.baseline as the benchmark runs it: the request on stdin, one JSON line out."""
    import datetime as dt
    import subprocess
    import sys

    from django.conf import settings

    from streamcity.kernel.bus import TopicSpec
    from streamcity.kernel.schemas import RIDER_TAPPED_ON, VEHICLE_LOCATIONS, RiderTappedOn, VehicleLocation, encode

    now = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)
    kafka_bus.ensure_topics([TopicSpec(VEHICLE_LOCATIONS.name, partitions=3), TopicSpec(RIDER_TAPPED_ON.name)])
    kafka_bus.produce_many(VEHICLE_LOCATIONS.name, ((f"v{i % 7}", encode(VehicleLocation(
        vehicle_id=f"v{i % 7}", vehicle_type="bus", latitude=52.0, longitude=4.0, timestamp=now))) for i in range(250)))
    kafka_bus.produce_many(RIDER_TAPPED_ON.name, (("s1", encode(RiderTappedOn(
        event_id=f"t{i}", rider_id="r1", stop_id="s1", latitude=52.0, longitude=4.0, timestamp=now)))
        for i in range(50)))
    kafka_bus.flush()
    names = (VEHICLE_LOCATIONS.name, RIDER_TAPPED_ON.name)
    request = {"config": {**kafka_bus._config, **settings.KAFKA_CONSUMER_CONFIG, "group.id": "baseline-test"},
               "topics": {kafka_bus.physical(n): n for n in names}, "records": 300, "seconds": 30}
    done = subprocess.run([sys.executable, "-m", "benchmarks.baseline"], input=json.dumps(request),
                          capture_output=True, text=True, timeout=60, cwd=str(settings.BASE_DIR))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["records"] == 300 and answer["per_s"] > 0

@pytest.mark.redis
@pytest.mark.timeout(180)
def test_a_short_run_with_a_web_process_of_its_own(tmp_path, redis_url, settings, monkeypatch):
    """--web-processes: the clients are served by a Daphne process apart from the pipeline's,
    which gets the frames through the Redis channel layer."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "streamcity.kernel.layers.RedisPubSubLayer",
                                           "CONFIG": {"hosts": [redis_url]}}}
    out = tmp_path / "bench.json"
    call_command("benchmark", vehicles=60, clients=4, duration=3, warmup=1, taps=30, bus="memory",
                 replay_seconds=5, web_processes=1, zoom="none", json=str(out))
    result = json.loads(out.read_text())
    assert result["web_processes"] == 1 and result["channel_layer"] == "RedisPubSubLayer"
    assert result["clients_connected"] == 4 and result["ws_deliveries_per_s"] > 60
    assert result["cpu_percent_web"] > 0


def test_web_processes_need_a_shared_channel_layer(settings):
    from django.core.management.base import CommandError

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with pytest.raises(CommandError, match="REDIS_URL"):
        call_command("benchmark", vehicles=10, clients=1, duration=1, bus="memory", web_processes=1)


def test_the_clients_report_the_zoom_at_which_their_view_fits_its_screen():
    from benchmarks.clients import fit_zoom, views

    city = (-0.26479, 51.42213, 0.01465, 51.59299)  # the benchmark's London, about 19 x 19 km
    assert fit_zoom(city, 1280, 800) == 12  # 19 km is 800 px at zoom 12 (24 m a pixel), 1,600 at 13
    assert fit_zoom(city, 390, 844) == 10  # 408 px wide at zoom 11 (48 m a pixel): over a phone's 390
    bbox = ",".join(map(str, city))
    assert views(bbox, "city", 2) == [(bbox, 12), (bbox, 12)]
    assert [z for _, z in views(bbox, "district", 5)] == [13] * 5  # 3 x 3 km on a phone
    assert views(bbox, "city", 1, zoom=None) == [(bbox, None)]
    assert views(bbox, "city", 1, zoom="10") == [(bbox, 10.0)]
