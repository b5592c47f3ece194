"""Punctuality: the one definition of early, on time and late, used by the processors, the APIs,
the pages and the map's JavaScript (served to it in the page config).

On time is from `early_seconds` early to `late_seconds` late (settings STREAMCITY_EARLY_SECONDS and
STREAMCITY_LATE_SECONDS); a delay past `late_seconds` opens a delay alert.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

EARLY, ON_TIME, LATE, UNKNOWN = "early", "on_time", "late", "unknown"


@dataclass(frozen=True, slots=True)
class Punctuality:
    early_seconds: int = 60
    late_seconds: int = 300

    def classify(self, delay_seconds: int | None) -> str:
        """"early", "on_time", "late", or "unknown" when the deviation is not known."""
        if delay_seconds is None:
            return UNKNOWN
        if delay_seconds < -self.early_seconds:
            return EARLY
        if delay_seconds > self.late_seconds:
            return LATE
        return ON_TIME

    def as_config(self) -> dict:
        """What the pages and the map's JavaScript are given."""
        return asdict(self)


@lru_cache(maxsize=1)
def _from(early: int, late: int) -> Punctuality:
    return Punctuality(early_seconds=early, late_seconds=late)


def punctuality_setting() -> Punctuality:
    """The thresholds from the settings."""
    from django.conf import settings

    return _from(settings.STREAMCITY_EARLY_SECONDS, settings.STREAMCITY_LATE_SECONDS)


def punctuality(delay_seconds: int | None, *, early_seconds: int, late_seconds: int) -> str:
    """The class of `delay_seconds` under the given thresholds (see Punctuality.classify)."""
    return _from(early_seconds, late_seconds).classify(delay_seconds)
