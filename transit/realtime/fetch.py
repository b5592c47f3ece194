"""Reading a GTFS-Realtime feed's bytes: HTTP(S) with headers (API keys), a file path or file://.

`fetch()` raises FetchError with a message a human can act on; the message never contains a
header's value (an API key must not reach the logs).
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

MAX_BYTES = 64 * 1024 * 1024  # the largest agency feeds are a few MB; refuse anything absurd


class FetchError(Exception):
    """The feed could not be read (HTTP error, timeout, missing file...)."""


class NotModified(Exception):
    """The server answered 304 to a conditional request: the feed has not changed."""


def parse_header(text: str) -> tuple[str, str]:
    """"Name: value" -> (name, value). Raises ValueError (without the value) when malformed."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(c.isspace() for c in name):
        # not echoed: a malformed header is most likely a key pasted without its name
        raise ValueError("not a header 'Name: value' (the text is not shown: it may hold a key)")
    return name, value.strip()


def is_remote(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme in ("http", "https")


def describe(source: str) -> str:
    """`source` fit for a log line: a URL without its query string and user info (keys travel there too)."""
    parts = urllib.parse.urlsplit(source)
    if parts.scheme in ("http", "https"):
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "…" if parts.query else "", ""))
    return source


def fetch(source: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0,
          validators: dict[str, str] | None = None) -> bytes:
    """The body at `source`: an http(s) URL (GET with `headers`), a file:// URL or a file path.

    `validators`: a dict kept between calls for one URL: the response's ETag and Last-Modified are
    stored in it and sent back (If-None-Match, If-Modified-Since), and a 304 raises NotModified:
    an agency's server is not made to send the same feed twice."""
    parts = urllib.parse.urlsplit(source)
    if parts.scheme in ("http", "https"):
        sent = {"Accept": "application/x-protobuf, */*", **(headers or {})}
        if validators:
            if validators.get("etag"):
                sent["If-None-Match"] = validators["etag"]
            if validators.get("modified"):
                sent["If-Modified-Since"] = validators["modified"]
        request = urllib.request.Request(source, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only)
                body = response.read(MAX_BYTES + 1)
                if validators is not None:
                    validators["etag"] = response.headers.get("ETag", "")
                    validators["modified"] = response.headers.get("Last-Modified", "")
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and validators:
                raise NotModified() from None
            raise FetchError(f"HTTP {exc.code} {exc.reason}") from None
        except (TimeoutError, socket.timeout):
            raise FetchError(f"timed out after {timeout:g}s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise FetchError(f"timed out after {timeout:g}s") from None
            raise FetchError(f"cannot connect: {reason}") from None
        except (OSError, ValueError) as exc:  # connection reset mid-body, bad chunking...
            raise FetchError(f"read failed: {exc}") from None
    elif parts.scheme in ("file", ""):
        path = Path(urllib.request.url2pathname(parts.path) if parts.scheme == "file" else source)
        try:
            with open(path, "rb") as f:
                body = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    else:
        raise FetchError(f"unsupported scheme {parts.scheme!r} (http, https, file or a path)")
    if len(body) > MAX_BYTES:
        raise FetchError(f"body larger than {MAX_BYTES // (1024 * 1024)} MB")
    return body
