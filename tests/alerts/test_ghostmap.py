"""The operations map's dispatcher layers (alerts.ghostmap): its live-map-config options and the ghost
layer's API, on the small feed of tests/alerts/test_console.py."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from tests.alerts.test_console import city  # noqa: F401  (the fixture)
from tests.transit.test_passenger import NOW

pytestmark = pytest.mark.django_db

BOX = "4.89,52.36,4.91,52.39"


def test_the_ghost_api_is_for_operators_and_refuses_bad_boxes(client, city, operator):  # noqa: F811
    assert client.get("/api/ops/ghosts/", {"bbox": BOX}).status_code == 401
    client.force_login(get_user_model().objects.create_user(username="pat", password="x-long-enough-pass-1"))
    assert client.get("/api/ops/ghosts/", {"bbox": BOX}).status_code == 403
    client.force_login(operator)
    for bbox, error in (("", "four numbers"), ("1,2,3", "four numbers"), ("4.9,52,4.8,52.1", "west < east"),
                        ("0,40,3,55", "too large")):
        response = client.get("/api/ops/ghosts/", {"bbox": bbox})
        assert response.status_code == 400 and error in response.json()["error"], (bbox, response.json())
    data = client.get("/api/ops/ghosts/", {"bbox": BOX}).json()
    assert [r["route"]["route_id"] for r in data["routes"]] == ["R1", "R2"]
    assert data["worked_trips"] == ["T1"]  # V1 works T1
    assert data["now"] == int(NOW.timestamp())


def test_ghost_data_is_the_ladder_s_trips_around_now_bounded(city, monkeypatch):  # noqa: F811
    from alerts import ghostmap
    from alerts.console import ladder_data

    area = tuple(float(x) for x in BOX.split(","))
    now = NOW + dt.timedelta(minutes=8)  # 08:09: T1 (08:05-08:15) and T2 (08:07-08:12) run, T1b leaves 08:20
    data = ghostmap.ghost_map_data(area=area, now=now)
    r1 = next(r for r in data["routes"] if r["route"]["route_id"] == "R1")
    ladder = ladder_data(["R1"], now=now)["routes"][0]
    # the ladder's own trips (same scheduled times at the same pattern stops), those around now only
    assert r1["trips"] == [{k: t[k] for k in ("trip_id", "direction_id", "headsign", "start", "end", "calls")}
                           for t in ladder["trips"] if t["trip_id"] in ("T1", "T1b")]
    assert [s["stop_id"] for s in r1["directions"][0]["stops"]] == ["P1", "S2", "S3"]
    assert data["ghost_grace_s"] == 120 and not data["truncated"]
    later = ghostmap.ghost_map_data(area=area, now=NOW + dt.timedelta(hours=2))
    assert all(not r["trips"] for r in later["routes"])  # nothing runs at 10:01
    assert ghostmap.ghost_map_data(area=(5.5, 52.0, 5.6, 52.1), now=now)["routes"] == []  # no stop in that box
    assert [r["route"]["route_id"] for r in ghostmap.ghost_map_data(area=area, route_ids=["R2"], now=now)["routes"]] \
        == ["R2"]
    monkeypatch.setattr(ghostmap, "MAX_ROUTES", 1)
    capped = ghostmap.ghost_map_data(area=area, now=now)
    assert len(capped["routes"]) == 1 and capped["truncated"]
    monkeypatch.setattr(ghostmap, "MAX_TRIPS", 1)
    assert ghostmap.ghost_map_data(area=area, now=now, route_ids=["R1"])["truncated"]


def test_only_the_operations_map_gets_the_dispatcher_options(client, city, operator):  # noqa: F811
    client.force_login(operator)
    ops = client.get("/ops/").content.decode()
    assert '"dispatcher": {"labels_min_zoom": 15, "crowding": true, "ghosts": {"url": "/api/ops/ghosts/"' in ops
    assert '"dispatcher"' not in client.get("/").content.decode()


def test_the_label_zoom_is_a_setting_and_a_bad_one_is_refused(settings):
    from django.core.exceptions import ImproperlyConfigured

    from alerts.ghostmap import dispatcher_config

    settings.STREAMCITY_LABELS_MIN_ZOOM = 16
    assert dispatcher_config()["labels_min_zoom"] == 16
    settings.STREAMCITY_LABELS_MIN_ZOOM = 40
    with pytest.raises(ImproperlyConfigured, match="zoom level 0-22"):
        dispatcher_config()
