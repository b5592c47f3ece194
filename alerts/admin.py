import datetime as dt
import functools

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from .models import Alert, AlertChange, BreakdownAlert, Notification, SurgeAlert
from .selectors import display_timezone, open_counts_by_kind
from .selectors import alert_payloads
from .services import (
    OPERATORS,
    AlertTransitionError,
    alert_acknowledge,
    alert_assign,
    alert_resolve,
    alert_snooze,
    alert_unsnooze,
)
from .streams import ops_broadcast

SEVERITY_COLOURS = {1: "#607d8b", 2: "#1976d2", 3: "#f9a825", 4: "#ef6c00", 5: "#c62828"}


class AlertChangeInline(admin.TabularInline):
    model = AlertChange
    extra = 0
    can_delete = False
    fields = ["at", "action", "actor", "from_status", "to_status", "note"]
    readonly_fields = fields
    verbose_name_plural = "audit trail"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ["channel", "state", "attempts", "sent_at", "last_error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ResolveForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False,
                           help_text="What was done; kept in the audit trail.")


def _in_feed_time(view):
    """Render the admin view with times in the running feed's time zone (alerts.selectors.
    display_timezone), not UTC: what the city clock reads."""
    @functools.wraps(view)
    def wrapped(self, request, *args, **kwargs):
        with timezone.override(display_timezone()):
            response = view(self, request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    return wrapped


class SnoozedFilter(admin.SimpleListFilter):
    """Snoozed now (a snooze runs out by itself: compared with the clock, not a stored flag)."""

    title = "snoozed"
    parameter_name = "snoozed"

    def lookups(self, request, model_admin):
        return [("yes", "Snoozed now"), ("no", "Not snoozed")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(snoozed_until__gt=now)
        if self.value() == "no":
            return queryset.exclude(snoozed_until__gt=now)
        return queryset


def operators_queryset():
    return get_user_model().objects.filter(is_active=True).filter(
        Q(groups__name=OPERATORS) | Q(is_superuser=True)).distinct()


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    change_list_template = "admin/alerts/alert/change_list.html"
    change_form_template = "admin/alerts/alert/change_form.html"
    list_display = ["kind_badge", "summary", "severity_badge", "status", "condition_open", "route_id", "vehicle_id",
                    "stop_id", "detected_at", "assigned_to", "snoozed"]
    list_display_links = ["kind_badge", "summary"]
    list_filter = ["kind", "status", SnoozedFilter, "severity", "condition_open", "route_id", "detected_at",
                   "assigned_to"]
    search_fields = ["alert_key", "summary", "route_id", "vehicle_id", "stop_id", "trip_id"]
    date_hierarchy = "detected_at"
    list_per_page = 50
    list_select_related = ["assigned_to", "snoozed_by"]
    actions = ["acknowledge", "resolve_with_note", "assign_to_me", "snooze_for_an_hour", "unsnooze"]
    inlines = [AlertChangeInline, NotificationInline]
    fieldsets = [
        (None, {"fields": ["kind", "summary", "severity", "status", "condition_open", "assigned_to"]}),
        ("Subject", {"fields": ["route_id", "trip_id", "vehicle_id", "stop_id", "latitude", "longitude"]}),
        ("Lifecycle", {"fields": ["detected_at", "last_event_at", "update_count", "created_at", "acknowledged_by",
                                  "acknowledged_at", "resolved_by", "resolved_at", "resolution_note",
                                  "snoozed_until", "snoozed_by"]}),
        ("Detection data", {"fields": ["alert_key", "payload"], "classes": ["collapse"]}),
    ]
    readonly_fields = ["kind", "summary", "severity", "status", "condition_open", "route_id", "trip_id", "vehicle_id",
                       "stop_id", "latitude", "longitude", "detected_at", "last_event_at", "update_count", "created_at",
                       "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "alert_key", "payload",
                       "snoozed_until", "snoozed_by"]

    kind_filter: str | None = None

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.filter(kind=self.kind_filter) if self.kind_filter else qs

    @admin.display(description="kind", ordering="kind")
    def kind_badge(self, obj):
        return obj.get_kind_display()

    @admin.display(description="severity", ordering="severity")
    def severity_badge(self, obj):
        return format_html('<b style="color:{}">{}</b> ({})', SEVERITY_COLOURS.get(obj.severity, "#000"),
                           obj.severity_label, obj.severity)

    @admin.display(description="snoozed", ordering="snoozed_until")
    def snoozed(self, obj):
        if not obj.snoozed_at():
            return ""
        until = timezone.localtime(obj.snoozed_until)
        return f"until {until:%H:%M}" + (f" by {obj.snoozed_by.get_username()}" if obj.snoozed_by_id else "")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assigned_to":
            kwargs["queryset"] = operators_queryset()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return False  # alerts come from the detectors

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @_in_feed_time
    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "open_counts": open_counts_by_kind(),
                         "kind_labels": dict(Alert.Kind.choices)}
        return super().changelist_view(request, extra_context)

    @_in_feed_time
    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "leaflet_tiles": settings.LEAFLET_CONFIG["TILES"]}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        """The change page only assigns, acknowledges and resolves — each through its service."""
        try:
            if "assigned_to" in form.changed_data:
                alert_assign(alert=obj, user=request.user, assignee=form.cleaned_data["assigned_to"])
            if "_acknowledge" in request.POST:
                alert_acknowledge(alert=obj, user=request.user)
            if "_resolve" in request.POST:
                alert_resolve(alert=obj, user=request.user, note=form.cleaned_data.get("resolution_note", ""))
        except AlertTransitionError as exc:
            self.message_user(request, str(exc), messages.WARNING)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status in Alert.CLOSED:
            fields += ["assigned_to", "resolution_note"]
        return fields

    @admin.action(description="Acknowledge selected alerts", permissions=["change"])
    def acknowledge(self, request, queryset):
        self._apply(request, queryset, lambda a: alert_acknowledge(alert=a, user=request.user), "acknowledged")

    @admin.action(description="Assign selected alerts to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        self._apply(request, queryset, lambda a: alert_assign(alert=a, user=request.user, assignee=request.user), "assigned to you")

    @admin.action(description="Resolve selected alerts (with a note)…", permissions=["change"])
    def resolve_with_note(self, request, queryset):
        if "apply" in request.POST:
            form = ResolveForm(request.POST)
            if form.is_valid():
                note = form.cleaned_data["note"]
                self._apply(request, queryset, lambda a: alert_resolve(alert=a, user=request.user, note=note), "resolved")
                return None
        else:
            form = ResolveForm()
        context = {**self.admin_site.each_context(request), "title": "Resolve alerts", "alerts": queryset,
                   "form": form, "opts": self.model._meta, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
        return TemplateResponse(request, "admin/alerts/alert/resolve.html", context)

    @admin.action(description="Snooze selected alerts for an hour", permissions=["change"])
    def snooze_for_an_hour(self, request, queryset):
        hour = dt.timedelta(hours=1)
        self._apply(request, queryset, lambda a: alert_snooze(alert=a, user=request.user, duration=hour),
                    "snoozed for an hour", broadcast=True)

    @admin.action(description="Wake selected alerts (end their snooze)", permissions=["change"])
    def unsnooze(self, request, queryset):
        self._apply(request, queryset, lambda a: alert_unsnooze(alert=a, user=request.user), "woken", broadcast=True)

    def _apply(self, request, queryset, action, verb, *, broadcast=False):
        done, skipped, changed = 0, [], []
        for alert in queryset:
            try:
                changed.append(action(alert))
                done += 1
            except AlertTransitionError as exc:
                skipped.append(f"{alert}: {exc}")
        if broadcast and changed:  # the shift pages show a snooze at once
            ops_broadcast(alert_payloads(Alert.objects.filter(pk__in=[a.pk for a in changed])
                                         .select_related("acknowledged_by", "resolved_by", "assigned_to",
                                                         "snoozed_by")))
        if done:
            self.message_user(request, f"{done} alert(s) {verb}.", messages.SUCCESS)
        for s in skipped[:10]:
            self.message_user(request, s, messages.WARNING)


@admin.register(SurgeAlert)
class SurgeAlertAdmin(AlertAdmin):
    kind_filter = Alert.Kind.SURGE
    list_filter = ["status", "severity", "stop_id", "detected_at"]


@admin.register(BreakdownAlert)
class BreakdownAlertAdmin(AlertAdmin):
    kind_filter = Alert.Kind.BREAKDOWN
    list_filter = ["status", "severity", "route_id", "detected_at"]


from . import user_admin  # noqa: E402,F401  (operator accounts: Django's UserAdmin with least privilege)
