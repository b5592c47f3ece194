from django.conf import settings
from django.db import models


class Alert(models.Model):
    """One operational anomaly (or traffic incident), from first detection to resolution."""

    class Kind(models.TextChoices):
        SURGE = "surge", "Passenger surge"
        DELAY = "delay", "Delay"
        BREAKDOWN = "breakdown", "Breakdown"
        BUNCHING = "bunching", "Bunching"
        GAP = "gap", "Gap"
        SILENT = "silent", "Silent vehicle"
        INCIDENT = "incident", "Traffic incident"
        SERVICE = "service", "Service alert"

    class Status(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        EXPIRED = "expired", "Expired (condition gone)"

    CLOSED = (Status.RESOLVED, Status.EXPIRED)

    alert_key = models.CharField(max_length=255, unique=True, help_text="kind + subject + window/episode")
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW, db_index=True)
    condition_open = models.BooleanField(default=True, help_text="the detector still sees the condition")
    severity = models.PositiveSmallIntegerField(default=3, db_index=True)
    summary = models.CharField(max_length=500, blank=True)
    route_id = models.CharField(max_length=128, null=True, blank=True, db_index=True)
    trip_id = models.CharField(max_length=128, null=True, blank=True)
    vehicle_id = models.CharField(max_length=128, null=True, blank=True, db_index=True)
    stop_id = models.CharField(max_length=128, null=True, blank=True, db_index=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    payload = models.JSONField(default=dict, help_text="the latest detection record")
    detected_at = models.DateTimeField(help_text="event time the condition began")
    last_event_at = models.DateTimeField(help_text="event time of the latest detection update")
    update_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_alerts"
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    snoozed_until = models.DateTimeField(
        null=True, blank=True, db_index=True,
        help_text="hidden from the shift's board until then (wall clock); it comes back by itself after",
    )
    snoozed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.summary or self.alert_key}"

    @property
    def is_open(self) -> bool:
        return self.status not in self.CLOSED

    def snoozed_at(self, now=None) -> bool:
        """Whether a snooze runs at `now` (the wall clock without it): a snooze ends by itself, nothing
        clears the field when it runs out, so every reader compares it to the clock."""
        from django.utils import timezone

        return self.snoozed_until is not None and self.snoozed_until > (now or timezone.now())

    SEVERITY_WORDS = {1: "minor", 2: "minor", 3: "major", 4: "critical", 5: "critical"}

    @property
    def severity_label(self) -> str:
        """The severity in words (minor / major / critical); the number stays in the admin."""
        return self.SEVERITY_WORDS.get(self.severity, "major")

    def age(self, now=None):
        """How long ago the condition began: against `now` (the twin's event time, see
        transit.selectors.twin_now), the wall clock without it."""
        from django.utils import timezone

        return (now or timezone.now()) - self.detected_at


class SurgeAlert(Alert):
    """Surges on their own in the admin."""

    class Meta:
        proxy = True
        verbose_name = "surge alert"


class BreakdownAlert(Alert):
    """Breakdowns on their own in the admin."""

    class Meta:
        proxy = True
        verbose_name = "breakdown alert"


class AlertChange(models.Model):
    """The audit trail: one row per change of an alert, by whom (None = the system) and when."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Detection updated"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ASSIGNED = "assigned", "Assigned"
        RESOLVED = "resolved", "Resolved"
        AUTO_RESOLVED = "auto_resolved", "Auto-resolved (condition cleared)"
        CLEARED = "cleared", "Condition cleared"
        EXPIRED = "expired", "Expired (condition no longer holds)"
        SNOOZED = "snoozed", "Snoozed"
        UNSNOOZED = "unsnoozed", "Woken (snooze ended by hand)"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=16, choices=Action.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.get_action_display()} by {self.actor or 'system'}"


class Notification(models.Model):
    """One notification of one alert through one channel: the record that keeps a restart from
    notifying twice. Created with the alert (same transaction), sent by the notifier with retries."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "channel"], name="one_notification_per_channel")]

    def __str__(self):
        return f"{self.channel} for {self.alert_id}: {self.state}"
