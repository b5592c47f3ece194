from django.apps import AppConfig


class TransitConfig(AppConfig):
    name = "transit"
    verbose_name = "Transit network and live vehicles"
