"""Fixtures for the real services the suite talks to.

`tests/run.sh` starts PostgreSQL, Redis and Kafka and exports TEST_* variables. A test that needs
a service that is not there is skipped — except with STREAMCITY_REQUIRE_SERVICES (set when CI=true),
where a missing service fails the test: CI never passes by skipping.
"""

from __future__ import annotations

import os
import uuid

import pytest

REQUIRE = os.environ.get("STREAMCITY_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}

# A test that uses one of these (or is marked kafka, redis, browser or e2e) is marked `services`:
# `make check` runs the others (`pytest -m "not services and not slow"`).
SERVICE_FIXTURES = {"kafka_bootstrap", "kafka_bus", "redis_url", "chromium_path", "postgres_required"}
SERVICE_MARKS = ("kafka", "redis", "browser", "e2e")


def pytest_collection_modifyitems(config, items):
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())) or params.get("bus") == "kafka"
                or any(item.get_closest_marker(m) for m in SERVICE_MARKS)):
            item.add_marker(pytest.mark.services)


def _service(var: str, what: str) -> str:
    value = os.environ.get(var, "")
    if not value:
        message = f"{what} is not available ({var} is not set; run the suite with `make test`)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _service("TEST_KAFKA_BOOTSTRAP_SERVERS", "Kafka")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _service("TEST_REDIS_URL", "Redis")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return _service("TEST_CHROMIUM", "Chromium")


@pytest.fixture(scope="session")
def postgres_required():
    """Fails (in CI) or skips when the test database is not PostgreSQL."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        _service("TEST_DATABASE_URL", "PostgreSQL")
        if REQUIRE:
            pytest.fail("DATABASE_URL must point at PostgreSQL for this test")
        pytest.skip("the test database is not PostgreSQL")


@pytest.fixture
def unique() -> str:
    """A short unique token for topic prefixes, group ids and the like."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def kafka_bus(kafka_bootstrap, unique):
    """A KafkaBus whose topics are private to this test (a unique topic prefix)."""
    from streamcity.kernel.bus.kafka import KafkaBus

    bus = KafkaBus({"bootstrap.servers": kafka_bootstrap}, topic_prefix=f"test-{unique}-")
    yield bus
    bus.close()


@pytest.fixture
def memory_bus():
    from streamcity.kernel.bus.memory import MemoryBus

    return MemoryBus(partitions=3)


@pytest.fixture(params=["memory", "kafka"])
def bus(request):
    """Each bus implementation in turn: both must pass the same contract."""
    return request.getfixturevalue(f"{request.param}_bus")


@pytest.fixture
def operator_groups(transactional_db):
    """The operators and supervisors groups with their permissions, as migration 0002 makes them.

    A transactional test's database is flushed after each test, groups included. Re-create them
    here rather than with serialized_rollback: restoring the serialized content after a flush that
    re-created the content types fails on duplicates, depending on which test ran before."""
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth.models import Group

    migration = import_module("alerts.migrations.0002_operator_groups")
    operators, _ = Group.objects.get_or_create(name="operators")
    operators.permissions.set(migration.perms(apps, migration.OPERATOR_PERMS))
    supervisors, _ = Group.objects.get_or_create(name="supervisors")
    supervisors.permissions.set(migration.perms(apps, migration.OPERATOR_PERMS + migration.SUPERVISOR_EXTRA))
