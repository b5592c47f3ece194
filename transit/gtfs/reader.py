"""A GTFS feed's files from a folder, a .zip or an http(s) URL, read as rows with line numbers.

Real feeds are messy: CRLF or LF line ends, a UTF-8 byte-order mark, columns in any order, extra
columns, spaces around values, files inside a subfolder of the zip. All of that is read here;
anything that cannot be read raises `GtfsError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

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


class FeedSource:
    """The files of one feed. `rows(name)` yields (line number, {column: value}) per data row."""

    def __init__(self, path: str | Path):
        self.location = str(path)
        self._tmp: tempfile.TemporaryDirectory | None = None
        if self.location.startswith(("http://", "https://")):
            path = self._download(self.location)
        path = Path(path)
        self.path = path
        if path.is_dir():
            self._zip = None
            self._names = {p.name: p for p in path.iterdir() if p.is_file() and p.suffix == ".txt"}
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
        else:
            raise GtfsError(f"no GTFS folder or .zip file at {self.location}")

    def _download(self, url: str) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="gtfs-")
        target = Path(self._tmp.name) / "feed.zip"
        logger.info("downloading %s", url)
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except OSError as exc:
            raise GtfsError(f"cannot download {url}: {exc}") from None
        return target

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

    def read_bytes(self, name: str) -> bytes:
        if self._zip is not None:
            try:
                return self._zip.read(self._names[name])
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise GtfsError(f"{name}: cannot be read from {self.path.name} (truncated or corrupt archive: {exc})") from None
        return self._names[name].read_bytes()

    def fingerprint(self) -> str:
        """SHA-256 over every table's name and bytes: the same feed gives the same fingerprint."""
        h = hashlib.sha256()
        for name in self.files():
            h.update(name.encode())
            h.update(self.read_bytes(name))
        return h.hexdigest()

    def _text(self, name: str) -> str:
        data = self.read_bytes(name)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            logger.warning("%s is not UTF-8 (first bad byte on line %d); reading it as Windows-1252", name, line)
            return data.decode("cp1252", errors="replace")

    def rows(self, name: str) -> Iterator[tuple[int, dict[str, str]]]:
        """Data rows of `name` as dicts of stripped values; the header is line 1."""
        reader = csv.reader(io.StringIO(self._text(name), newline=""))
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
