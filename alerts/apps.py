from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.connect(_close_ops_sockets, dispatch_uid="alerts.close_ops_sockets")

        # the GTFS-Realtime alerts feed (transit.realtime) publishes our open alerts
        from transit.realtime import feed

        from .selectors import open_alerts_of_kinds

        feed.alert_source = open_alerts_of_kinds


def _close_ops_sockets(sender, request, user, **kwargs):
    if user is not None:
        from .streams import ops_sessions_end

        ops_sessions_end(user.pk)
