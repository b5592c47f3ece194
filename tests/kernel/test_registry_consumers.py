"""`runconsumers --only / --skip`: the history writer can run in a process of its own."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from streamcity.kernel.registry import registry


def test_the_consumers_are_the_bridge_the_alerts_and_the_history():
    assert registry.consumer_names() == ["bridge", "alerts", "history"]


def test_only_and_skip_pick_the_roles(memory_bus):
    bus = memory_bus
    history, _ = registry.consumers(bus, only=["history"])
    assert [r.name for r in history] == ["history"]
    rest, workers = registry.consumers(bus, skip=["history"])
    assert "history" not in [r.name for r in rest] and {"bridge", "frames", "alerts"} <= {r.name for r in rest}
    assert "history" not in [w.name for w in workers]


def test_an_unknown_name_is_refused_with_the_known_ones(memory_bus):
    with pytest.raises(ValueError, match=r"unknown consumers: histroy \(known: bridge, alerts, history\)"):
        registry.consumers(memory_bus, skip=["histroy"])


def test_the_command_refuses_bad_names_and_an_empty_selection():
    with pytest.raises(CommandError, match="unknown consumers: nope"):
        call_command("runconsumers", "--only", "nope")
    with pytest.raises(CommandError, match="no consumer left to run"):
        call_command("runconsumers", "--only", "history", "--skip", "history")
