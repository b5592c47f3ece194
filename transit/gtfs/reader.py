"""A GTFS feed's files from a folder, a .zip or an http(s) URL, read as rows with line numbers.

Feeds come from outside: every file is streamed with bounds on its size, the feed's size and a zip
member's compression ratio; a URL is downloaded with bounds on its bytes and its total time, and
never from loopback, private or link-local addresses (nor redirected there) unless allowed. URLs are
logged and stored with their credentials masked (streamcity.kernel.security.redact_url).

Real feeds are messy: CRLF or LF line ends, a UTF-8 byte-order mark, columns in any order, extra
columns, spaces around values, files inside a subfolder of the zip. All of that is read here;
anything that cannot be read raises `GtfsError` naming the file, the line and the column.
"""

from __future__ import annotations

import base64
import codecs
import csv
import hashlib
import http.client
import io
import ipaddress
import logging
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from streamcity.kernel.security import redact_url

logger = logging.getLogger(__name__)

csv.field_size_limit(16 * 1024 * 1024)


class GtfsError(ValueError):
    """A feed that cannot be imported; says where: file, line (row) and column."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column, self.reason = file, row, column, message
        where = [file] if file else []
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass(frozen=True)
class Limits:
    """How much a feed may be (settings STREAMCITY_GTFS_*): every bound is checked while streaming."""

    max_file_bytes: int = 1 << 30
    max_total_bytes: int = 2 << 30
    max_ratio: float = 100.0
    max_download_bytes: int = 512 << 20
    download_seconds: float = 300.0
    allow_private_network: bool = False

    @classmethod
    def from_settings(cls, **overrides) -> Limits:
        from django.conf import settings

        values = {
            "max_file_bytes": settings.STREAMCITY_GTFS_MAX_FILE_BYTES,
            "max_total_bytes": settings.STREAMCITY_GTFS_MAX_TOTAL_BYTES,
            "max_ratio": settings.STREAMCITY_GTFS_MAX_RATIO,
            "max_download_bytes": settings.STREAMCITY_GTFS_MAX_DOWNLOAD_BYTES,
            "download_seconds": settings.STREAMCITY_GTFS_DOWNLOAD_SECONDS,
        }
        return cls(**{**values, **overrides})


# A member smaller than this is never refused for its ratio (a small file of repeated text compresses well).
RATIO_FLOOR_BYTES = 1 << 20
CHUNK = 1 << 16


def _mib(n: float) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


class FeedSource:
    """The files of one feed. `rows(name)` yields (line number, {column: value}) per data row.

    Files are streamed, never read whole: memory stays bounded whatever the feed's size, and the
    limits (`Limits`: one file's and the feed's uncompressed bytes, a zip member's compression
    ratio, a download's bytes and seconds) are checked as the bytes come, so a zip bomb or an endless
    download is refused early with a GtfsError naming the file and the setting.
    """

    def __init__(self, path: str | Path, *, limits: Limits | None = None, allow_private_network: bool = False):
        self.location = str(path)
        self.limits = limits or Limits.from_settings()
        if allow_private_network:
            self.limits = replace(self.limits, allow_private_network=True)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._zip = None
        self._sizes: dict[str, int] = {}  # bytes read of each file (its largest read): the feed's total
        self._encodings: dict[str, str] = {}
        if self.location.startswith(("http://", "https://")):
            path = download(self.location, self._tmpdir() / "feed.zip", self.limits)
        path = Path(path)
        self.path = path
        if path.is_dir():
            self._names = {p.name: p for p in path.iterdir() if p.is_file() and p.suffix == ".txt"}
            self._check_declared({name: (p.stat().st_size, None) for name, p in self._names.items()})
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise GtfsError(f"{path.name}: not a readable .zip archive (truncated or corrupt: {exc})") from None
            self._names = {}
            for info in self._zip.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if base.endswith(".txt") and not info.is_dir() and base not in self._names:
                    self._names[base] = info.filename
            self._check_declared({name: (self._zip.getinfo(member).file_size, self._zip.getinfo(member).compress_size)
                                  for name, member in self._names.items()})
        else:
            raise GtfsError(f"no GTFS folder or .zip file at {redact_url(self.location)}")

    def _tmpdir(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="gtfs-")
        return Path(self._tmp.name)

    # -- limits ---------------------------------------------------------------------------------------

    def _where(self) -> str:
        return Path(self.path).name

    def _check_declared(self, sizes: dict[str, tuple[int, int | None]]) -> None:
        """The sizes the zip's directory (or the folder) declares, before a byte is decompressed."""
        for name, (size, compressed) in sorted(sizes.items()):
            self._check_size(name, size)
            if compressed is not None:
                self._check_ratio(name, size, compressed)
        total = sum(size for size, _ in sizes.values())
        if total > self.limits.max_total_bytes:
            raise GtfsError(f"{self._where()}: its files hold {_mib(total)} uncompressed, more than the "
                            f"{_mib(self.limits.max_total_bytes)} allowed (STREAMCITY_GTFS_MAX_TOTAL_BYTES)")

    def _check_size(self, name: str, size: int) -> None:
        if size > self.limits.max_file_bytes:
            raise GtfsError(f"more than {_mib(self.limits.max_file_bytes)} uncompressed in {self._where()} "
                            f"(STREAMCITY_GTFS_MAX_FILE_BYTES)", file=name)

    def _check_ratio(self, name: str, size: int, compressed: int) -> None:
        if size > RATIO_FLOOR_BYTES and size > self.limits.max_ratio * max(compressed, 1):
            raise GtfsError(f"compressed {size / max(compressed, 1):,.0f}:1 in {self._where()}, more than "
                            f"{self.limits.max_ratio:g}:1 (STREAMCITY_GTFS_MAX_RATIO): a zip bomb?", file=name)

    def _account(self, name: str, size: int) -> None:
        """Called as a file's bytes are read: the file's and the feed's totals within their limits."""
        self._check_size(name, size)
        if size > self._sizes.get(name, 0):
            self._sizes[name] = size
            total = sum(self._sizes.values())
            if total > self.limits.max_total_bytes:
                raise GtfsError(f"{self._where()}: more than {_mib(self.limits.max_total_bytes)} uncompressed "
                                f"(STREAMCITY_GTFS_MAX_TOTAL_BYTES)", file=name)

    # -- reading --------------------------------------------------------------------------------------

    def open(self, name: str) -> io.BufferedReader:
        """A file of the feed as a binary stream that enforces the limits as it is read."""
        if self._zip is not None:
            info = self._zip.getinfo(self._names[name])
            try:
                raw = self._zip.open(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise GtfsError(f"{name}: cannot be read from {self.path.name} "
                                f"(truncated or corrupt archive: {exc})") from None
            return io.BufferedReader(_BoundedReader(self, name, raw, info.compress_size), CHUNK)
        return io.BufferedReader(_BoundedReader(self, name, open(self._names[name], "rb"), None), CHUNK)

    def chunks(self, name: str) -> Iterator[bytes]:
        with self.open(name) as f:
            while chunk := f.read(CHUNK):
                yield chunk

    @property
    def default_name(self) -> str:
        """A feed name from the path: the folder's name or the zip's stem."""
        if self.location.startswith(("http://", "https://")):
            stem = self.location.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            return stem.removesuffix(".zip") or "feed"
        p = Path(self.location).resolve()
        return p.stem if p.is_file() else p.name

    def has(self, name: str) -> bool:
        return name in self._names

    def files(self) -> list[str]:
        return sorted(self._names)

    def fingerprint(self) -> str:
        """SHA-256 over every table's name and bytes: the same feed gives the same fingerprint.

        The same pass finds each file's encoding (UTF-8, else Windows-1252), so `rows` need not read twice.
        """
        h = hashlib.sha256()
        for name in self.files():
            h.update(name.encode())
            check = _EncodingCheck(name)
            for chunk in self.chunks(name):
                h.update(chunk)
                check.feed(chunk)
            self._encodings[name] = check.result()
        return h.hexdigest()

    def _encoding(self, name: str) -> str:
        if name not in self._encodings:
            check = _EncodingCheck(name)
            for chunk in self.chunks(name):
                check.feed(chunk)
            self._encodings[name] = check.result()
        return self._encodings[name]

    def rows(self, name: str) -> Iterator[tuple[int, dict[str, str]]]:
        """Data rows of `name` as dicts of stripped values; the header is line 1."""
        encoding = self._encoding(name)
        with io.TextIOWrapper(self.open(name), encoding=encoding, errors="replace", newline="") as text:
            yield from self._rows(name, csv.reader(text))

    @staticmethod
    def _rows(name: str, reader) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise GtfsError(f"malformed CSV: {exc}", file=name, row=1) from None
        columns = [c.strip().lstrip("\ufeff") for c in header]
        seen = set()
        for c in columns:
            if c and c in seen:
                raise GtfsError("duplicate column", file=name, row=1, column=c)
            seen.add(c)
        width = len(columns)
        try:
            for values in reader:
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue  # blank line
                if len(values) > width and any(v.strip() for v in values[width:]):
                    raise GtfsError(f"{len(values)} values but {width} columns", file=name, row=reader.line_num)
                yield reader.line_num, {c: v.strip() for c, v in zip(columns, values)}
        except csv.Error as exc:
            raise GtfsError(f"malformed CSV: {exc}", file=name, row=reader.line_num) from None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _BoundedReader(io.RawIOBase):
    """One file's bytes, counted against the limits as they are read (decompressed)."""

    def __init__(self, source: FeedSource, name: str, raw, compressed: int | None):
        self.source, self.name, self.raw, self.compressed = source, name, raw, compressed
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            n = self.raw.readinto(buffer)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise GtfsError(f"{self.name}: cannot be read from {self.source.path.name} "
                            f"(truncated or corrupt archive: {exc})") from None
        self.count += n or 0
        self.source._account(self.name, self.count)
        if self.compressed is not None:
            self.source._check_ratio(self.name, self.count, self.compressed)
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


class _EncodingCheck:
    """Whether a file streamed through `feed` is UTF-8; where the first bad byte is if not."""

    def __init__(self, name: str):
        self.name = name
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.lines = 1
        self.bad_line: int | None = None

    def feed(self, chunk: bytes) -> None:
        if self.bad_line is not None:
            return
        try:
            self.decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            self.bad_line = self.lines + chunk[: max(exc.start, 0)].count(b"\n")
            return
        self.lines += chunk.count(b"\n")

    def result(self) -> str:
        if self.bad_line is None:
            try:
                self.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.bad_line = self.lines
        if self.bad_line is None:
            return "utf-8-sig"
        logger.warning("%s is not UTF-8 (first bad byte on line %d); reading it as Windows-1252",
                       self.name, self.bad_line)
        return "cp1252"


# -- downloads ----------------------------------------------------------------------------------------

class _Refused(OSError):
    """A connection the download may not make (an internal address)."""


def address_is_public(address: str) -> bool:
    """Whether a download may connect to `address`: a globally routable unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _Guard:
    """Connections of one download: to allowed addresses only; all closed when the time is up."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.sockets: list[socket.socket] = []
        self.expired = False
        self._lock = threading.Lock()

    def create_connection(self, address, timeout=None, source_address=None, *args, **kwargs):
        host, port = address[0], address[1]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host}: {exc}") from None
        if not self.limits.allow_private_network:
            for *_, sockaddr in infos:
                if not address_is_public(sockaddr[0]):
                    shown = host if host == sockaddr[0] else f"{host} ({sockaddr[0]})"
                    raise _Refused(f"{shown} is a loopback, private or link-local address: "
                                   "refused (importgtfs --allow-private-network allows it)")
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            with self._lock:
                if self.expired:
                    sock.close()
                    break
                self.sockets.append(sock)
            try:
                if timeout is not None and timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                    sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        raise error or OSError(f"cannot connect to {host}")

    def expire(self) -> None:
        """The total time is up: whatever the download is waiting for, it stops now."""
        with self._lock:
            self.expired = True
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, guard: _Guard, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = guard.create_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, guard: _Guard, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = guard.create_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, guard: _Guard):
        super().__init__()
        self.guard = guard

    def http_open(self, req):
        return self.do_open(partial(_GuardedHTTPConnection, guard=self.guard), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, guard: _Guard):
        super().__init__()
        self.guard = guard

    def https_open(self, req):
        return self.do_open(partial(_GuardedHTTPSConnection, guard=self.guard), req, context=self._context)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def http_error_302(self, req, fp, code, msg, headers):
        location = headers.get("location") or headers.get("uri") or ""
        newurl = urllib.parse.urljoin(req.full_url, location)
        if location and not newurl.lower().startswith(("http://", "https://")):
            raise GtfsError(f"the feed's server redirected to {redact_url(newurl)}: only http(s) is followed")
        logger.info("redirected to %s", redact_url(newurl))
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def download(url: str, target: Path, limits: Limits) -> Path:
    """Fetch `url` into `target`: at most limits.max_download_bytes, in limits.download_seconds in all.

    Every connection (redirects included) goes through _Guard: no internal address unless allowed.
    No proxy from the environment is used (a proxy would hide where the request really goes).
    """
    shown = redact_url(url)
    guard = _Guard(limits)
    opener = urllib.request.OpenerDirector()
    for handler in (_HTTPHandler(guard), _HTTPSHandler(guard), _RedirectHandler(),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    started = time.monotonic()
    deadline = started + limits.download_seconds
    timer = threading.Timer(limits.download_seconds, guard.expire)
    timer.daemon = True
    timer.start()
    received = 0

    def too_slow() -> GtfsError:
        return GtfsError(f"downloading {shown} took more than {limits.download_seconds:g} s "
                         f"(STREAMCITY_GTFS_DOWNLOAD_SECONDS); {_mib(received)} received")

    def too_big() -> GtfsError:
        return GtfsError(f"{shown} is larger than {_mib(limits.max_download_bytes)} "
                         f"(STREAMCITY_GTFS_MAX_DOWNLOAD_BYTES)")

    logger.info("downloading %s", shown)
    parts = urllib.parse.urlsplit(url)
    request = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])),
                                     headers={"User-Agent": "StreamCity-GTFS-import"})
    if parts.username is not None:  # user:password@ in the URL: basic auth, to this host only (not on redirects)
        token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        request.add_unredirected_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
    try:
        with opener.open(request, timeout=min(60.0, limits.download_seconds)) as response, open(target, "wb") as out:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limits.max_download_bytes:
                raise too_big()
            while True:
                if time.monotonic() > deadline:
                    raise too_slow()
                chunk = response.read1(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
                if received > limits.max_download_bytes:
                    raise too_big()
                out.write(chunk)
    except GtfsError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if guard.expired or time.monotonic() > deadline:
            raise too_slow() from None
        reason = exc.reason if isinstance(exc, urllib.error.URLError) and not isinstance(
            exc, urllib.error.HTTPError) else exc
        raise GtfsError(f"cannot download {shown}: {reason}") from None
    finally:
        timer.cancel()
    if guard.expired:
        raise too_slow()
    logger.info("downloaded %s: %s in %.1f s", shown, _mib(received), time.monotonic() - started)
    return target
