"""Detection thresholds: one frozen dataclass, built from the settings by the processors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectionConfig:
    grace_seconds: float = 30.0  # event time: how late an event may arrive and still count
    idle_partition_seconds: float = 5.0  # wall time: a partition silent this long stops holding time back
    replay_seconds: float = 1800.0  # event time kept re-readable so a restart rebuilds its state

    surge_window_seconds: int = 300  # tumbling window per station
    surge_threshold: int = 30  # taps per station per window while no baseline is known (fixed)
    surge_multiple: float = 1.5  # a surge: at least this multiple of the usual count...
    surge_sigmas: float = 3.0  # ...plus this many Poisson standard deviations (sqrt of the usual count)...
    surge_floor: int = 15  # ...and at least this many taps
    surge_learn_windows: int = 6  # past windows of a station and hour before a learned baseline is used

    early_seconds: int = 60  # on time = from `early_seconds` early...
    late_seconds: int = 300  # ...to `late_seconds` late; later opens a delay alert
    delay_clear_margin_seconds: int = 60  # the alert clears at late_seconds - margin (hysteresis)
    delay_update_seconds: int = 60  # an open alert is re-sent when its delay moved this much

    stalled_seconds: int = 300  # no movement this long, in service, away from a stop
    stalled_radius_m: float = 30.0  # "no movement": stays within this radius
    stop_radius_m: float = 60.0  # within this of the last stop served counts as at the stop
    incident_margin_m: float = 100.0  # held inside an incident's radius plus this is not a breakdown

    silent_seconds: int = 120  # an in-service vehicle with no report this long

    bunching_low: float = 0.75  # headway below 75 % of the scheduled headway: bunching
    bunching_high: float = 1.25  # above 125 %: gap
    bunching_hysteresis: float = 0.10  # back inside by this much before the alert clears
    headway_horizon_seconds: int = 3600  # a leader older than this is not compared against
