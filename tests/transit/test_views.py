import datetime as dt

import pytest

from streamcity.schemas import LiveVehicle
from transit.services import vehicle_states_upsert

pytestmark = pytest.mark.django_db


def test_api_vehicles_returns_the_snapshot(client):
    vehicle_states_upsert(vehicles=[LiveVehicle(vehicle_id="a", vehicle_type="tram", latitude=52.0, longitude=4.0,
                                                timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))])
    response = client.get("/api/vehicles/")
    assert response.status_code == 200
    [v] = response.json()["vehicles"]
    assert (v["vehicle_id"], v["vehicle_type"], v["status"]) == ("a", "tram", "in_service")


def test_live_map_page_loads_leaflet_locally(client):
    html = client.get("/").content.decode()
    assert 'id="live-map"' in html
    assert "/static/leaflet/leaflet.js" in html and "transit/live_map.js" in html
    assert "unpkg.com" not in html and "cdn" not in html.lower()


def test_leaflet_assets_are_served(client):
    assert client.get("/static/leaflet/leaflet.js").status_code == 200
