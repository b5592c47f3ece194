from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .selectors import vehicle_snapshot


@require_GET
def live_map(request):
    return render(request, "transit/live_map.html")


@require_GET
def vehicles_api(request):
    return JsonResponse({"vehicles": vehicle_snapshot()})
