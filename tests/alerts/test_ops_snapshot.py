"""The ops socket's snapshot: open alerts for the list, and traffic incidents while they are active on the
road whatever their alert's workflow state (resolving the alert of a closure does not reopen the road)."""

import pytest

from alerts.detections import detection_from_event
from alerts.models import Alert
from alerts.selectors import open_alert_payloads
from alerts.services import alert_resolve, alerts_apply_detections

from .conftest import breakdown, incident

pytestmark = pytest.mark.django_db


def keys(payloads):
    return sorted((p["alert_key"], p["status"], p["condition_open"]) for p in payloads)


def test_a_resolved_alert_of_an_active_incident_stays_in_the_snapshot_until_the_incident_clears(operator):
    alerts_apply_detections(detections=[detection_from_event(incident()), detection_from_event(breakdown())])
    assert keys(open_alert_payloads()) == [("breakdown:bus-7:20261127T080000", "new", True),
                                           ("incident:inc-1", "new", True)]
    for alert in Alert.objects.all():
        alert_resolve(alert=alert, user=operator, note="handled")
    # the breakdown is gone; the road is still closed: the incident is drawn, out of the list (status resolved)
    assert keys(open_alert_payloads()) == [("incident:inc-1", "resolved", True)]
    alerts_apply_detections(detections=[detection_from_event(incident(status="cleared", seconds=60))])
    assert open_alert_payloads() == []
