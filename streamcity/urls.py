from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("alerts.urls")),
    path("", include("alerts.console_urls")),
    path("", include("transit.urls")),
    path("", include("transit.passenger_urls")),
]
