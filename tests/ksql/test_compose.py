"""docker-compose.yml's ksqlDB path, read without a Docker engine: ksqlDB 0.29 is started, the scripts
are applied by a one-shot service once it is healthy and the topics exist, and the processors run
only what ksqlDB does not compute."""

import re
from pathlib import Path

import pytest
import yaml

from streamcity.kernel.registry import registry

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.fixture(scope="module")
def services():
    return yaml.safe_load(COMPOSE.read_text())["services"]


def only(command: str) -> set[str]:
    """The processors a `runprocessors --only X` command runs, with ${VAR:-default} at its default."""
    m = re.search(r"--only (\S+)", command)
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", m.group(1))
    return set(value.split(","))


def test_ksqldb_029_runs_with_a_health_check(services):
    ksqldb = services["ksqldb"]
    assert ksqldb["image"] == "confluentinc/ksqldb-server:0.29.0"
    assert ksqldb["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert ksqldb["environment"]["KSQL_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "http://localhost:8088/healthcheck" in " ".join(ksqldb["healthcheck"]["test"])
    assert "profiles" not in ksqldb  # part of `docker compose up`


def test_a_one_shot_service_applies_the_scripts_once_ksqldb_is_healthy_and_the_topics_exist(services):
    apply = services["ksql-apply"]
    assert apply["command"].startswith("python manage.py ksql apply") and "--wait" in apply["command"]
    assert apply["restart"] == "no" and "profiles" not in apply
    assert apply["depends_on"] == {"ksqldb": {"condition": "service_healthy"},
                                   "migrate": {"condition": "service_completed_successfully"}}
    assert "manage.py createtopics" in services["migrate"]["command"]
    assert apply["environment"]["KSQLDB_URL"] == "http://ksqldb:8088"  # from the app's shared settings
    assert services["ksqldb"]["environment"]["KSQL_LISTENERS"].endswith(":8088")


def test_the_processors_leave_to_ksqldb_what_it_computes(services):
    assert only(services["processors"]["command"]) == {"stop-events", "vehicle-alerts", "bunching"}
    assert only(services["processors"]["command"]) <= set(registry.processor_names())
    assert services["surges"]["profiles"] == ["builtin"]  # the built-in surges only on the built-in path
    assert not any("live-vehicles" in str(s.get("command", "")) and "profiles" not in s
                   for s in services.values())


def test_the_broker_takes_event_time_record_timestamps_ahead_of_its_clock(services):
    assert int(services["kafka"]["environment"]["KAFKA_LOG_MESSAGE_TIMESTAMP_AFTER_MAX_MS"]) == 2**63 - 1


def test_every_dependency_is_a_service_and_none_is_circular(services):
    def deps(name):
        return set(services[name].get("depends_on", {}))

    for name in services:
        assert deps(name) <= set(services), name
        seen, todo = set(), list(deps(name))
        while todo:
            d = todo.pop()
            assert d != name, f"{name} depends on itself"
            if d not in seen:
                seen.add(d)
                todo.extend(deps(d))


def test_every_consumer_runs_once_and_the_history_writer_apart(services):
    """The consumers' process skips the history writer, a process of its own runs it: every registered
    consumer runs exactly once across the services."""
    def consumers(command: str) -> set[str]:
        words = command.split()
        known = set(registry.consumer_names())
        if "--only" in words:
            return set(words[words.index("--only") + 1].split(","))
        if "--skip" in words:
            return known - set(words[words.index("--skip") + 1].split(","))
        return known

    runs = [consumers(s["command"]) for s in services.values() if "runconsumers" in str(s.get("command", ""))]
    assert sorted(n for r in runs for n in r) == sorted(registry.consumer_names())
    assert {"history"} in runs
