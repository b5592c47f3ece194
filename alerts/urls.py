from django.urls import path, register_converter

from streamcity.kernel.security import ExternalIdConverter

from . import history_views, views

register_converter(ExternalIdConverter, "vehicle_ref")  # transit registers it as external_id

app_name = "alerts"

urlpatterns = [
    path("ops/", views.ops_map, name="ops-map"),
    path("ops/kpis/", history_views.kpis, name="kpis"),
    path("ops/playback/", history_views.playback, name="playback"),
    path("api/history/at/", history_views.history_at, name="history-at"),
    path("api/history/range/", history_views.history_range, name="history-range"),
    path("api/history/vehicles/<vehicle_ref:vehicle_id>/track/", history_views.vehicle_track,
         name="vehicle-track"),
    path("api/alerts/", views.alerts_api, name="alerts-api"),
    path("api/alerts/<int:pk>/acknowledge/", views.alert_action, {"action": "acknowledge"}, name="alert-acknowledge"),
    path("api/alerts/<int:pk>/resolve/", views.alert_action, {"action": "resolve"}, name="alert-resolve"),
    path("api/alerts/<int:pk>/snooze/", views.alert_action, {"action": "snooze"}, name="alert-snooze"),
    path("api/alerts/<int:pk>/unsnooze/", views.alert_action, {"action": "unsnooze"}, name="alert-unsnooze"),
]
