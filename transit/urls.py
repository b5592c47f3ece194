from django.urls import path

from . import views

app_name = "transit"

urlpatterns = [
    path("", views.live_map, name="live-map"),
    path("api/vehicles/", views.vehicles_api, name="vehicles-api"),
]
