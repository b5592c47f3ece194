"""`/gtfs-rt/[FEED/]{vehicle-positions,trip-updates,alerts}.pb`: the twin's live state as GTFS-Realtime.

Protobuf by default, `?format=json` for people (the protobuf JSON mapping). ETag and
Last-Modified with conditional requests (304), gzip when the client accepts it. The bytes come
from `feed.cache`: built at most once per frame interval whatever the number of clients.
"""

from __future__ import annotations

import asyncio
import logging
import math

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_safe
from google.protobuf import json_format

from . import feed as out

logger = logging.getLogger(__name__)

_refreshing: set = set()  # background rebuilds this process has started (keeps their tasks alive)


def _not_modified(request, etag: str, modified: float) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:
        return etag in [m.strip() for m in match.split(",")] or match.strip() == "*"
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and int(modified) <= since


async def _built(kind: str, feed: str | None):
    """The latest build, without waiting for a rebuild when there is one (see FeedCache)."""
    cache = out.cache
    built, due = cache.current(kind, feed)
    build = sync_to_async(cache.get, thread_sensitive=False)
    if built is None:
        return await build(kind, feed)
    if due:
        task = asyncio.ensure_future(build(kind, feed))
        _refreshing.add(task)
        task.add_done_callback(lambda t: _rebuilt(t, kind, feed))
    return built


def _rebuilt(task: asyncio.Task, kind: str, feed: str | None) -> None:
    _refreshing.discard(task)
    exc = None if task.cancelled() else task.exception()
    if isinstance(exc, out.UnknownFeed):
        out.cache.forget(kind, feed)  # the feed was deleted: the next request gets its 404
    elif exc is not None:
        logger.error("GTFS-RT %s%s: rebuild failed, serving the previous build: %r", f"{feed}/" if feed else "",
                     kind, exc)


@require_safe
async def gtfs_rt(request, kind: str, feed: str | None = None):
    if request.GET.get("format") not in (None, "json", "pb"):
        return JsonResponse({"error": "format is json or pb"}, status=400)
    as_json = request.GET.get("format") == "json"
    try:
        built = await _built(kind, feed)
    except out.UnknownFeed:
        return JsonResponse({"error": f"no feed {feed!r}"}, status=404)
    etag = built.etag[:-1] + '-json"' if as_json else built.etag
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(math.floor(built.modified)),
        "Cache-Control": f"public, max-age={max(1, math.ceil(settings.STREAMCITY_FRAME_INTERVAL))}",
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
    }
    if _not_modified(request, etag, built.modified):
        response = HttpResponseNotModified()
        for k, v in headers.items():
            response[k] = v
        return response
    if as_json:
        if built.json is None:  # seconds for a large fleet: not in the event loop
            built.json = await sync_to_async(json_format.MessageToJson, thread_sensitive=False)(
                built.message, preserving_proto_field_name=True, indent=1)
        return HttpResponse(built.json, content_type="application/json", headers=headers)
    accepts = request.headers.get("Accept-Encoding", "")
    if "gzip" in [p.split(";")[0].strip() for p in accepts.split(",")]:
        headers["Content-Encoding"] = "gzip"
        return HttpResponse(built.gzipped, content_type="application/x-protobuf", headers=headers)
    return HttpResponse(built.body, content_type="application/x-protobuf", headers=headers)
