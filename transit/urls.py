from django.urls import path

from . import views

app_name = "transit"

urlpatterns = [
    path("", views.live_map, name="live-map"),
    path("api/vehicles/", views.vehicles_api, name="vehicles-api"),
    path("api/vehicles/<path:vehicle_id>/", views.vehicle_api, name="vehicle-api"),
    path("api/network/", views.network_api, name="network-api"),
    path("api/stops/", views.stops_api, name="stops-api"),
    path("api/stops/<path:stop_id>/arrivals/", views.stop_arrivals_api, name="stop-arrivals-api"),
    path("api/search/", views.search_api, name="search-api"),
    path("api/service/", views.service_api, name="service-api"),
]
