from importlib import import_module

from django.apps import AppConfig, apps
from django.contrib.admin.apps import SimpleAdminConfig
from django.utils.module_loading import module_has_submodule


class StreamCityConfig(AppConfig):
    name = "streamcity"
    verbose_name = "StreamCity"


class AdminConfig(SimpleAdminConfig):
    """Django's admin, discovering every app's admin module except django-leaflet's.

    leaflet.admin imports django.contrib.gis, which needs the GDAL C library; StreamCity uses
    django-leaflet for its map assets and template tags only, so it does not need GIS at all.
    """

    skip = {"leaflet"}

    def ready(self):
        super().ready()
        for app in apps.get_app_configs():
            if app.name not in self.skip and module_has_submodule(app.module, "admin"):
                import_module(f"{app.name}.admin")
