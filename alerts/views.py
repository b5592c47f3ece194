from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from transit.views import live_map_config

from .ghostmap import dispatcher_config
from .models import Alert
from .selectors import alert_payload, alert_payloads, alerts_list
from .services import (
    AlertSnoozeError,
    AlertTransitionError,
    alert_acknowledge,
    alert_resolve,
    alert_snooze,
    alert_unsnooze,
    is_operator,
    snooze_duration,
)
from .streams import ops_broadcast


def _operator_or_403(request):
    if not is_operator(request.user):
        raise PermissionDenied("operators only")


@require_GET
@login_required
def ops_map(request):
    _operator_or_403(request)
    config = {**live_map_config(), "dispatcher": dispatcher_config()}  # route numbers, crowding, ghosts
    return render(request, "alerts/ops_map.html", {"live_map_config": config})


def _json_refusal(request):
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    if not is_operator(request.user):
        return JsonResponse({"error": "operators only"}, status=403)
    return None


@require_GET
def alerts_api(request):
    if refusal := _json_refusal(request):
        return refusal
    status = request.GET.get("status") or None
    kind = request.GET.get("kind") or None
    if status not in (None, "open", *Alert.Status.values) or kind not in (None, *Alert.Kind.values):
        return JsonResponse({"error": "unknown status or kind"}, status=400)
    return JsonResponse({"alerts": alert_payloads(alerts_list(status=status, kind=kind))})


@require_POST
def alert_action(request, pk: int, action: str):
    """acknowledge / resolve / snooze (`minutes`) / unsnooze from the operations and shift pages
    (CSRF-protected, operators with change permission). The changed alert goes to every ops socket."""
    if refusal := _json_refusal(request):
        return refusal
    if not request.user.has_perm("alerts.change_alert"):
        return JsonResponse({"error": "not allowed to handle alerts"}, status=403)
    alert = get_object_or_404(Alert, pk=pk)
    try:
        if action == "acknowledge":
            alert = alert_acknowledge(alert=alert, user=request.user)
        elif action == "resolve":
            alert = alert_resolve(alert=alert, user=request.user, note=request.POST.get("note", "")[:2000])
        elif action == "snooze":
            duration = snooze_duration(request.POST.get("minutes"))
            alert = alert_snooze(alert=alert, user=request.user, duration=duration)
        else:
            alert = alert_unsnooze(alert=alert, user=request.user)
    except AlertSnoozeError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except AlertTransitionError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    alert = Alert.objects.select_related("acknowledged_by", "resolved_by", "assigned_to", "snoozed_by").get(pk=alert.pk)
    payload = alert_payload(alert)
    ops_broadcast([payload])
    return JsonResponse({"alert": payload})
