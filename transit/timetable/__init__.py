"""The timetable and a vehicle's place in it: what transit's live-vehicle table and alerts' rules share.

- `schedule`: the stop schedule by trip (`Schedule`), stop progress (`StopProgress`), schedule
  deviation (`deviation`, `measure`) and traffic incidents (`Incidents`).
- `reference`: the reference data one process's processors share, and the follower that loads it.
- `punctuality`: the one definition of early / on time / late.
"""

from .punctuality import Punctuality, punctuality, punctuality_setting
from .reference import ReferenceData, ReferenceFollower, shared_reference
from .schedule import (
    Incidents,
    Progress,
    Schedule,
    ScheduledStop,
    StopProgress,
    deviation,
    deviation_from_departure,
    distance_m,
    laying_over,
    measure,
)

__all__ = [
    "Incidents", "Progress", "Punctuality", "ReferenceData", "ReferenceFollower", "Schedule", "ScheduledStop",
    "StopProgress", "deviation", "deviation_from_departure", "distance_m", "laying_over", "measure",
    "punctuality", "punctuality_setting", "shared_reference",
]
