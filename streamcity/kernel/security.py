"""Hostile input at the edge: request validation, credentials kept out of error reports and logs,
the client's address behind trusted reverse proxies.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.views.debug import SafeExceptionReporterFilter

REDACTED = "***"
# Query parameters that carry credentials in feed, webhook and API URLs (key=, api_key=, token=, ...).
SECRET_QUERY = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session", re.I)


def redact_url(url: str) -> str:
    """`url` with its credentials masked: the password of user:password@, values of key/token/... parameters.

    Anything that does not parse as a URL comes back as it was. Used for logs, error messages and the
    admin: a feed URL `https://u:p@host/feed.zip?api_key=K` shows as `https://u:***@host/feed.zip?api_key=***`.
    """
    if not isinstance(url, str) or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(SECRET_QUERY.search(k) for k, _ in pairs):
                query = "&".join(
                    f"{k}={REDACTED if SECRET_QUERY.search(k) else v}" for k, v in pairs
                )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return REDACTED


class SettingsFilter(SafeExceptionReporterFilter):
    """Django's filter, also masking every URL that can carry credentials (error pages and mails).

    Whole values: database and broker URLs, REDIS_URL, KSQLDB_URL, webhook URLs (a Slack webhook's
    secret is its path), Kafka's SASL settings. Any other string that is a URL loses its userinfo
    password and its key/token parameters (redact_url).
    """

    hidden_settings = re.compile(
        r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|WEBHOOK|SASL|CREDENTIAL|DATABASE_URL|REDIS_URL"
        r"|KSQLDB_URL|EMAIL_URL|BROKER|_DSN$",
        re.I,
    )

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str) and "://" in cleansed:
            return redact_url(cleansed)
        return cleansed


# -- request validation ---------------------------------------------------------------------------

def _bad(request, message: str):
    if request.path_info.startswith("/api/"):
        return JsonResponse({"error": message}, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RequestValidationMiddleware:
    """Refuses (400) a path or query value with a NUL or another control character, or over-long.

    At the root, for every view: PostgreSQL refuses NUL in a string (a 500 before), and nothing
    StreamCity serves needs a path segment or query value longer than the limits
    (STREAMCITY_MAX_PATH_LENGTH, STREAMCITY_MAX_SEGMENT_LENGTH, STREAMCITY_MAX_QUERY_LENGTH,
    STREAMCITY_MAX_QUERY_VALUE_LENGTH).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = self.problem(request)
        if problem:
            return _bad(request, problem)
        return self.get_response(request)

    @staticmethod
    def problem(request) -> str | None:
        path = request.path_info
        if CONTROL.search(path):
            return "the path contains a control character"
        if len(path) > settings.STREAMCITY_MAX_PATH_LENGTH:
            return f"the path is longer than {settings.STREAMCITY_MAX_PATH_LENGTH} characters"
        limit = settings.STREAMCITY_MAX_SEGMENT_LENGTH
        if any(len(segment) > limit for segment in path.split("/")):
            return f"a path segment is longer than {limit} characters"
        query = request.META.get("QUERY_STRING", "")
        if len(query) > settings.STREAMCITY_MAX_QUERY_LENGTH:
            return f"the query string is longer than {settings.STREAMCITY_MAX_QUERY_LENGTH} characters"
        limit = settings.STREAMCITY_MAX_QUERY_VALUE_LENGTH
        for key, values in request.GET.lists():
            for value in [key, *values]:
                if CONTROL.search(value):
                    return f"query parameter {key[:40]!r} contains a control character"
                if len(value) > limit:
                    return f"query parameter {key[:40]!r} is longer than {limit} characters"
        return None


class ExternalIdConverter:
    """A feed's id in a path (vehicle, stop): any printable characters, slashes included, at most 128."""

    regex = r"[^\x00-\x1f\x7f]{1,128}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


# -- the client's address --------------------------------------------------------------------------

def _address(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's address for django-axes (AXES_CLIENT_IP_CALLABLE).

    With STREAMCITY_TRUSTED_PROXIES = N > 0, StreamCity runs behind N reverse proxies, each appending
    the address it received the request from to X-Forwarded-For: the client is the N-th address from
    the right (what the outermost proxy saw). Anything left of it may be forged by the client and is
    ignored. With N = 0 (default), X-Forwarded-For is ignored: the address is the connection's.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.STREAMCITY_TRUSTED_PROXIES
    if count <= 0:
        return remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < count:
        return remote  # not through every proxy: the connection's own address
    return _address(hops[-count]) or remote
