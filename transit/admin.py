from django.contrib import admin

from streamcity.kernel.security import redact_url

from .gtfs.tables import format_time
from .models import Agency, Calendar, CalendarDate, Feed, Frequency, Route, Shape, Stop, StopTime, Trip, VehicleState


@admin.register(VehicleState)
class VehicleStateAdmin(admin.ModelAdmin):
    list_display = ["vehicle_id", "vehicle_type", "route_id", "status", "passenger_count", "capacity", "timestamp"]
    list_filter = ["vehicle_type", "status", "route_id"]
    search_fields = ["vehicle_id", "route_id", "trip_id"]
    readonly_fields = [f.name for f in VehicleState._meta.fields]


# -- The imported network: browsable, not editable (re-import the feed to change it). -----------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Feed)
class FeedAdmin(ReadOnlyAdmin):
    list_display = ["name", "timezone", "start_date", "end_date", "imported_at", "import_seconds", "source_shown"]
    # the source as imports store it (credentials masked), masked again for rows stored before they were
    readonly_fields = [f.name if f.name != "source" else "source_shown" for f in Feed._meta.fields]
    exclude = ["source"]

    @admin.display(description="source")
    def source_shown(self, obj):
        return redact_url(obj.source)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser  # deleting a feed removes its whole network


@admin.register(Agency)
class AgencyAdmin(ReadOnlyAdmin):
    list_display = ["name", "agency_id", "feed", "timezone"]
    list_filter = ["feed"]


@admin.register(Route)
class RouteAdmin(ReadOnlyAdmin):
    list_display = ["route_id", "short_name", "long_name", "vehicle_type", "route_type", "feed"]
    list_filter = ["feed", "vehicle_type"]
    search_fields = ["route_id", "short_name", "long_name"]


@admin.register(Stop)
class StopAdmin(ReadOnlyAdmin):
    list_display = ["stop_id", "name", "latitude", "longitude", "location_type", "feed"]
    list_filter = ["feed", "location_type"]
    search_fields = ["stop_id", "name", "code"]


@admin.register(Trip)
class TripAdmin(ReadOnlyAdmin):
    list_display = ["trip_id", "route", "service_id", "headsign", "direction_id", "block_id", "feed"]
    list_filter = ["feed", "direction_id"]
    search_fields = ["trip_id", "headsign", "block_id", "route__route_id", "route__short_name"]
    list_select_related = ["route", "feed"]
    raw_id_fields = ["route", "shape"]


@admin.register(StopTime)
class StopTimeAdmin(ReadOnlyAdmin):
    list_display = ["trip", "stop_sequence", "stop", "arrival", "departure", "timepoint"]
    search_fields = ["trip__trip_id", "stop__stop_id"]
    list_select_related = ["trip", "stop"]
    raw_id_fields = ["trip", "stop"]

    @admin.display(ordering="arrival_time")
    def arrival(self, obj):
        return format_time(obj.arrival_time)

    @admin.display(ordering="departure_time")
    def departure(self, obj):
        return format_time(obj.departure_time)


@admin.register(Calendar)
class CalendarAdmin(ReadOnlyAdmin):
    list_display = ["service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                    "start_date", "end_date", "feed"]
    list_filter = ["feed"]


@admin.register(CalendarDate)
class CalendarDateAdmin(ReadOnlyAdmin):
    list_display = ["service_id", "date", "exception_type", "feed"]
    list_filter = ["feed", "exception_type"]


@admin.register(Shape)
class ShapeAdmin(ReadOnlyAdmin):
    list_display = ["shape_id", "feed", "point_count"]
    list_filter = ["feed"]
    exclude = ["points"]

    def point_count(self, obj):
        return len(obj.points)


@admin.register(Frequency)
class FrequencyAdmin(ReadOnlyAdmin):
    list_display = ["trip_id", "start_time", "end_time", "headway_secs", "exact_times", "feed"]
    list_filter = ["feed"]
