"""The ksqlDB scripts in ksql/ and a small client for ksqlDB's REST API.

`statements()` reads the scripts in file-name order, splits them into statements and fills in
the ${name} variables (topic prefix, thresholds) from the settings, so ksqlDB and the built-in
processors work with the same values. `KsqlClient` posts each statement to /ksql on its own, so a
failure names the statement; `apply`, `status` and `drop` are what `manage.py ksql` runs.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent.parent.parent / "ksql"
STREAMS_PROPERTIES = {"ksql.streams.auto.offset.reset": "earliest"}  # new queries read the topics from the start
_VARIABLE = re.compile(r"\$\{([a-z_]+)\}")
_CREATE = re.compile(
    r"^CREATE\s+(?:OR\s+REPLACE\s+)?(STREAM|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.I)


class KsqlError(Exception):
    """ksqlDB refused a statement, or could not be reached."""


@dataclass(frozen=True)
class Statement:
    script: str  # file name
    number: int  # 1-based within the script
    text: str

    @property
    def created(self) -> tuple[str, str] | None:
        """("STREAM" | "TABLE", name) for a CREATE statement."""
        m = _CREATE.match(self.text)
        return (m.group(1).upper(), m.group(2)) if m else None

    def __str__(self) -> str:
        kind_name = self.created
        what = f"{kind_name[0]} {kind_name[1]}" if kind_name else self.text.split("\n", 1)[0][:60]
        return f"{self.script} #{self.number} ({what})"


def split_statements(text: str) -> list[str]:
    """Statements separated by `;`, ignoring `--` comments and `;` inside quotes or backticks."""
    out, current, i, n = [], [], 0, len(text)
    quote = None
    while i < n:
        c = text[i]
        if quote:
            current.append(c)
            if c == quote:
                if quote == "'" and i + 1 < n and text[i + 1] == "'":  # '' is an escaped quote
                    current.append("'")
                    i += 1
                else:
                    quote = None
        elif c in "'`":
            quote = c
            current.append(c)
        elif c == "-" and text.startswith("--", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif c == ";":
            stmt = "".join(current).strip()
            if stmt:
                out.append(stmt + ";")
            current = []
        else:
            current.append(c)
        i += 1
    if "".join(current).strip():
        raise ValueError(f"statement without a closing semicolon: {''.join(current).strip()[:80]!r}")
    return out


def substitute(text: str, variables: dict[str, object]) -> str:
    def repl(m: re.Match) -> str:
        if m.group(1) not in variables:
            raise KeyError(f"the ksql scripts use ${{{m.group(1)}}}, which has no value")
        return str(variables[m.group(1)])

    return _VARIABLE.sub(repl, text)


def script_variables() -> dict[str, object]:
    """The values the scripts' ${name} placeholders take, from the settings."""
    from django.conf import settings

    return {
        "prefix": settings.KAFKA_TOPIC_PREFIX,
        "grace_seconds": int(settings.STREAMCITY_DETECTION_GRACE_SECONDS),
        "surge_window_seconds": settings.STREAMCITY_SURGE_WINDOW_SECONDS,
        "surge_threshold": settings.STREAMCITY_SURGE_THRESHOLD,
        "late_seconds": settings.STREAMCITY_LATE_SECONDS,
    }


def statements(variables: dict[str, object], directory: Path = SCRIPTS_DIR) -> list[Statement]:
    out = []
    for path in sorted(directory.glob("*.sql")):
        for i, text in enumerate(split_statements(substitute(path.read_text(), variables)), 1):
            out.append(Statement(path.name, i, text))
    return out


def topic_facts(prefix: str, partitions: int) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Per physical topic of the schema module: its partition count, and the fields every record of
    it has (msgspec writes every field; those whose type admits no None are never null)."""
    import msgspec

    from streamcity.kernel.schemas import TOPICS

    counts, non_null = {}, {}
    for topic in TOPICS.values():
        counts[prefix + topic.name] = partitions
        fields = msgspec.inspect.type_info(topic.schema).fields
        non_null[prefix + topic.name] = {
            f.name for f in fields
            if not (isinstance(f.type, msgspec.inspect.UnionType)
                    and any(isinstance(t, msgspec.inspect.NoneType) for t in f.type.types))
        }
    return counts, non_null


def check_scripts(stmts: list[Statement], variables: dict[str, object] | None = None):
    """The checker's result (planner.Result) for `stmts`, with the topics `createtopics` makes."""
    from django.conf import settings

    from . import planner

    prefix = (variables or {}).get("prefix", settings.KAFKA_TOPIC_PREFIX)
    counts, non_null = topic_facts(str(prefix), settings.STREAMCITY_PARTITIONS)
    return planner.check(stmts, counts, non_null)


def refuse_problems(result) -> None:
    """Raise KsqlError listing the checker's problems, if any."""
    if result.problems:
        lines = "\n".join(f"  {p}" for p in result.problems)
        raise KsqlError(f"the scripts break {len(result.problems)} ksqlDB 0.29 rule(s); nothing was sent:\n{lines}")


class KsqlClient:
    """POST /ksql and GET /info against one ksqlDB server (basic auth for Confluent Cloud)."""

    def __init__(self, url: str, *, username: str = "", password: str = "", timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Accept": "application/vnd.ksql.v1+json", "Content-Type": "application/vnd.ksql.v1+json"}
        if username:
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"

    def _call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=self._headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw).get("message") or raw.decode(errors="replace")
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace")
            raise KsqlError(f"HTTP {exc.code}: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise KsqlError(f"cannot reach ksqlDB at {self.url}: {exc}") from None

    def info(self) -> dict:
        return self._call("GET", "/info") or {}

    def ksql(self, text: str, properties: dict[str, str] | None = None) -> list[dict]:
        return self._call("POST", "/ksql", {"ksql": text, "streamsProperties": dict(properties or {})}) or []


def wait_for(client: KsqlClient, seconds: float, *, interval: float = 2.0) -> dict:
    """The server's info once it answers /info, polling for up to `seconds`; KsqlError after."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return client.info().get("KsqlServerInfo", {})
        except KsqlError as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KsqlError(f"{exc} (waited {seconds:g} s)") from None
            time.sleep(min(interval, remaining))


def _result_message(results: list[dict]) -> str:
    for r in results:
        status = r.get("commandStatus") or {}
        if status.get("status") in {"ERROR", "TERMINATED"}:
            raise KsqlError(status.get("message") or str(status))
        if r.get("@type") == "statement_error":
            raise KsqlError(r.get("message", "statement error"))
        if status:
            return f"{status.get('status', '?')}: {status.get('message', '')}".strip()
        if r.get("@type") == "warning_entity" or r.get("message"):
            return r.get("message", "")
    return "ok"


def apply(client: KsqlClient, stmts: list[Statement], report: Callable[[str], None]) -> int:
    """Run `stmts` in order; report each result; raise KsqlError naming the first that fails."""
    for s in stmts:
        try:
            message = _result_message(client.ksql(s.text, STREAMS_PROPERTIES))
        except KsqlError as exc:
            raise KsqlError(f"{s} failed: {exc}") from None
        report(f"{s}: {message}")
    return len(stmts)


def drop(client: KsqlClient, stmts: list[Statement], report: Callable[[str], None]) -> int:
    """DROP every stream and table the scripts create, dependants first. Topics are kept."""
    dropped = 0
    for s in reversed(stmts):
        if s.created is None:
            continue
        kind, name = s.created
        try:
            message = _result_message(client.ksql(f"DROP {kind} IF EXISTS {name};"))
        except KsqlError as exc:
            raise KsqlError(f"DROP {kind} {name} failed: {exc}") from None
        report(f"dropped {kind.lower()} {name}: {message}")
        dropped += 1
    return dropped


def status(client: KsqlClient, stmts: list[Statement], report: Callable[[str], None]) -> list[str]:
    """Report the server version and, for each object the scripts create, whether it exists and
    the state of the queries writing it; return the names that are missing."""
    info = client.info().get("KsqlServerInfo", {})
    report(f"ksqlDB {info.get('version', '?')} at {client.url} (cluster {info.get('kafkaClusterId', '?')})")
    existing: set[str] = set()
    for listing in ("SHOW STREAMS;", "SHOW TABLES;"):
        for r in client.ksql(listing):
            for item in r.get("streams", []) + r.get("tables", []):
                existing.add(item.get("name", "").upper())
    queries: dict[str, list[str]] = {}
    for r in client.ksql("SHOW QUERIES;"):
        for q in r.get("queries", []):
            for sink in q.get("sinks", []):
                state = q.get("state") or q.get("queryType", "")
                queries.setdefault(sink.upper(), []).append(f"{q.get('id')} {state}".strip())
    missing = []
    for s in stmts:
        if s.created is None:
            continue
        kind, name = s.created
        if name.upper() in existing:
            running = ", ".join(queries.get(name.upper(), [])) or "no query (a source)"
            report(f"{kind.lower()} {name}: present, {running}")
        else:
            missing.append(name)
            report(f"{kind.lower()} {name}: MISSING")
    return missing
