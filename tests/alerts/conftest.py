import datetime as dt

import pytest

from alerts.services import operator_create
from streamcity.kernel.schemas import BreakdownAlert, SurgeAlert, TrafficIncident

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)
PASSWORD = "correct-horse-battery-42"


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def surge(taps=30, seconds=0, state="open", stop="S1"):
    return SurgeAlert(alert_key=f"surge:{stop}:{T0:%Y%m%dT%H%M}", stop_id=stop, window_start=T0,
                      window_end=at(300), tap_count=taps, threshold=20, state=state, severity=3,
                      latitude=52.37, longitude=4.9, detected_at=T0, timestamp=at(seconds))


def breakdown(vehicle="bus-7", seconds=0, state="open"):
    return BreakdownAlert(alert_key=f"breakdown:{vehicle}:{T0:%Y%m%dT%H%M%S}", vehicle_id=vehicle, route_id="10",
                          latitude=52.36, longitude=4.88, severity=4, state=state, detected_at=T0, timestamp=at(seconds))


def incident(status="active", seconds=0):
    return TrafficIncident(incident_id="inc-1", type="accident", latitude=52.37, longitude=4.9, radius=200,
                           severity=4, description="Crash on the ring road", status=status, timestamp=at(seconds))


@pytest.fixture
def operator(db):
    return operator_create(username="olga", password=PASSWORD)


@pytest.fixture
def supervisor(db):
    return operator_create(username="sam", password=PASSWORD, supervisor=True)
