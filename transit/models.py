from django.db import models


class VehicleState(models.Model):
    """The latest known state of one vehicle, written by the bridge from `live_vehicles`."""

    class Status(models.TextChoices):
        IN_SERVICE = "in_service", "In service"
        BROKEN_DOWN = "broken_down", "Broken down"
        OUT_OF_SERVICE = "out_of_service", "Out of service"

    vehicle_id = models.CharField(max_length=128, primary_key=True)
    vehicle_type = models.CharField(max_length=16)
    route_id = models.CharField(max_length=128, null=True, blank=True)
    trip_id = models.CharField(max_length=128, null=True, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    bearing = models.FloatField(default=0)
    speed = models.FloatField(default=0, help_text="metres per second")
    passenger_count = models.PositiveIntegerField(default=0)
    capacity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_SERVICE)
    stop_sequence = models.IntegerField(null=True, blank=True)
    next_stop_id = models.CharField(max_length=128, null=True, blank=True)
    delay_seconds = models.IntegerField(null=True, blank=True)
    timestamp = models.DateTimeField(help_text="event time reported by the vehicle")
    updated_at = models.DateTimeField(db_index=True, help_text="when the bridge wrote this row")

    class Meta:
        ordering = ["vehicle_id"]

    def __str__(self):
        return f"{self.vehicle_id} ({self.route_id or 'no route'})"
