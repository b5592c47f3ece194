"""A short run of `manage.py benchmark` on the in-process bus: the figures are there and sane.

No speed is asserted here (the targets are the benchmark's, measured and reported in the README).
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
                 replay_seconds=10, json=str(out))
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
