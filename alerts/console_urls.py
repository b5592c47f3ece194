"""The dispatcher's console URLs (included at the site's root by streamcity.urls)."""

from django.urls import path

import transit.urls  # noqa: F401  (registers the external_id path converter)

from . import console, ghostmap

app_name = "console"

urlpatterns = [
    path("ops/alerts/", console.shift_alerts, name="shift"),
    path("ops/routes/", console.route_ladder, name="ladders"),
    path("ops/routes/<external_id:route_id>/", console.route_ladder, name="ladder"),
    path("api/ops/routes/<external_id:route_id>/ladder/", console.ladder_api, name="ladder-api"),
    path("api/ops/ghosts/", ghostmap.ghosts_api, name="ghosts-api"),
    path("ops/vehicles/<external_id:vehicle_id>/", console.vehicle_view, name="vehicle"),
]
