"""Alert keys: kind + subject + window or episode, the same on every run and every replay.

The ksqlDB scripts build the same keys (see ksql/), so either implementation updates the same
alerts downstream.
"""

from __future__ import annotations

import datetime as dt
import hashlib

MAX_KEY = 128  # schemas.Identifier


def key_time(ts: dt.datetime) -> str:
    """UTC to the second, e.g. 2026-11-27T08:30:00Z (ksqlDB: TIMESTAMPTOSTRING(ms, 'yyyy-MM-dd''T''HH:mm:ss''Z''', 'UTC'))."""
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def alert_key(kind: str, *parts: object) -> str:
    key = ":".join([kind, *(str(p) for p in parts)])
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha1(key.encode()).hexdigest()
    return f"{kind}:{digest}"


def severity(ratio: float, steps: tuple[float, ...]) -> int:
    """2 at ratio >= 1, one more per step passed, at most 5."""
    return min(5, 2 + sum(1 for s in steps if ratio >= s))
