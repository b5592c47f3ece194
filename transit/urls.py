from django.urls import path, re_path, register_converter

from streamcity.kernel.security import ExternalIdConverter

from . import views
from .realtime import views as realtime_views

register_converter(ExternalIdConverter, "external_id")

app_name = "transit"

urlpatterns = [
    path("", views.live_map, name="live-map"),
    path("api/vehicles/", views.vehicles_api, name="vehicles-api"),
    path("api/vehicles/<external_id:vehicle_id>/", views.vehicle_api, name="vehicle-api"),
    path("api/network/", views.network_api, name="network-api"),
    path("api/stops/", views.stops_api, name="stops-api"),
    path("api/stops/<external_id:stop_id>/arrivals/", views.stop_arrivals_api, name="stop-arrivals-api"),
    path("api/search/", views.search_api, name="search-api"),
    re_path(r"^gtfs-rt/(?:(?P<feed>[-a-z0-9_]+)/)?(?P<kind>vehicle-positions|trip-updates|alerts)\.pb$",
            realtime_views.gtfs_rt, name="gtfs-rt"),
    path("api/service/", views.service_api, name="service-api"),
]
