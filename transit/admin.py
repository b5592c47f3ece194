from django.contrib import admin

from .models import VehicleState


@admin.register(VehicleState)
class VehicleStateAdmin(admin.ModelAdmin):
    list_display = ["vehicle_id", "vehicle_type", "route_id", "status", "passenger_count", "capacity", "timestamp"]
    list_filter = ["vehicle_type", "status", "route_id"]
    search_fields = ["vehicle_id", "route_id", "trip_id"]
    readonly_fields = [f.name for f in VehicleState._meta.fields]
