from alerts.detections import detection_from_event

from .conftest import T0, breakdown, incident, surge


def test_alert_events_keep_their_key_kind_and_subject():
    d = detection_from_event(surge(taps=33))
    assert (d.alert_key, d.kind, d.open) == ("surge:S1:20261127T0800", "surge", True)
    assert d.fields["stop_id"] == "S1" and d.payload["tap_count"] == 33
    assert "33 taps at stop S1" in d.summary


def test_incidents_become_incident_alerts_keyed_by_incident():
    d = detection_from_event(incident())
    assert (d.alert_key, d.kind, d.open, d.severity) == ("incident:inc-1", "incident", True, 4)
    assert d.summary == "Crash on the ring road"
    assert detection_from_event(incident(status="cleared", seconds=60)).open is False


def test_cleared_state_and_times():
    d = detection_from_event(breakdown(state="cleared", seconds=90))
    assert d.open is False and d.detected_at == T0 and (d.timestamp - T0).total_seconds() == 90
