from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/ops/", consumers.OpsAlertsConsumer.as_asgi()),
]
