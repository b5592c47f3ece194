"""How the vehicle view words a deviation: minutes, late or early, by the one punctuality window."""

import pytest

from transit.templatetags.passenger import deviation_label


@pytest.mark.parametrize(("delay", "text"), [
    (None, "deviation unknown"),
    (658, "11 min late"),
    (301, "5 min late"),  # past the 300 s window: late
    (290, "on time (5 min late)"),  # inside it: on time, with how much
    (20, "on time"),
    (-45, "on time (1 min early)"),
    (-61, "1 min early"),
    (-600, "10 min early"),
])
def test_deviation_reads_as_a_dispatcher_says_it(delay, text, settings):
    settings.STREAMCITY_EARLY_SECONDS, settings.STREAMCITY_LATE_SECONDS = 60, 300
    assert deviation_label(delay) == text
