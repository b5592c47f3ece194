"""Fixtures for fault-injection tests: a private Kafka broker, numbered incident streams."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
from pathlib import Path

import pytest

# The process fixtures of the end-to-end tests serve the reliability tests too.
from tests.e2e.conftest import embedded, procs  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "tests" / "services" / "kafka.sh"


def free_port_pair() -> int:
    """A port p such that p and p+1 are both free (broker and controller)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65000:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


class Broker:
    """A Kafka broker of the test's own (tests/services/kafka.sh on free ports), so it can be killed."""

    def __init__(self):
        self.port = free_port_pair()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(self.port + 1)}

    def _run(self, action: str) -> None:
        subprocess.run(["bash", str(KAFKA_SH), action], env=self.env, check=True, timeout=180)

    def start(self):
        self._run("start")

    def kill9(self):
        self._run("kill9")

    def reset(self):
        self._run("reset")


@pytest.fixture
def private_kafka(kafka_bootstrap):  # needs the same tooling as the shared broker
    broker = Broker()
    broker.start()
    yield broker
    broker.reset()


T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def numbered_incident(i: int, run: str):
    """Incident number `i` of a run: one alert per incident, so the database can count them."""
    from streamcity.kernel.schemas import TrafficIncident

    return TrafficIncident(
        incident_id=f"{run}-{i:06d}", type="heavy_traffic", latitude=52.3 + (i % 100) / 1000, longitude=4.9,
        radius=100, severity=2, description=f"incident {i}", timestamp=T0 + dt.timedelta(milliseconds=i),
    )
