"""The passenger pages' URLs (included at the site's root by streamcity.urls)."""

from django.urls import path

from . import passenger_views as views

app_name = "passenger"

urlpatterns = [
    path("search/", views.search_page, name="search"),
    path("api/places/", views.places_api, name="places-api"),
    path("stops/near/", views.near_page, name="near"),
    path("stops/<external_id:stop_id>/", views.stop_page, name="stop"),
    path("api/stops/<external_id:stop_id>/board/", views.stop_board_api, name="stop-board-api"),
    path("routes/<external_id:route_id>/", views.route_page, name="route"),
]
