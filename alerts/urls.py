from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("ops/", views.ops_map, name="ops-map"),
    path("api/alerts/", views.alerts_api, name="alerts-api"),
    path("api/alerts/<int:pk>/acknowledge/", views.alert_action, {"action": "acknowledge"}, name="alert-acknowledge"),
    path("api/alerts/<int:pk>/resolve/", views.alert_action, {"action": "resolve"}, name="alert-resolve"),
]
