"""The checked ksqlDB scripts run in Python over a few records, the way ksqlDB 0.29 runs them, so what
they write can be decoded with the project's schemas without a server (tests/ksql/test_contract.py).

`run(result, inputs)` takes the checker's result (planner.check) and the records of the topics the
scripts read, and returns every topic's records after each query ran in statement order: declared
sources read JSON values (and the event time of their TIMESTAMP column), joins look keys up in the
table as of each stream record's timestamp (records taken in timestamp order, as Kafka Streams
does), aggregations emit one changelog record per input record (no cache), tumbling windows drop
records past their grace period, PARTITION BY re-keys. Only the functions the scripts use are
implemented; any other raises DryRunError. It is a model for testing the scripts' output shape and
key and time rules, not a stream processor: no repartition topics, no caching, one partition.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .grammar import AGGREGATE_FUNCTIONS, BinOp, Case, Cast, Col, Func, IsNull, Lit, Unary
from .planner import Result, Source


class DryRunError(ValueError):
    """A record or expression the model cannot take (ksqlDB would log a processing error)."""


@dataclass(frozen=True)
class Rec:
    """A Kafka record as ksqlDB reads and writes it: key (str for KAFKA, dict for JSON, None for
    NONE), the JSON value as a dict, the record timestamp, and the window of a windowed key."""

    key: object
    value: dict | None
    timestamp_ms: int
    window: tuple[int, int] | None = None


Env = dict  # {(qualifier or None, column name): value}


def run(result: Result, inputs: Mapping[str, list[Rec]]) -> dict[str, list[Rec]]:
    topics: dict[str, list[Rec]] = {t: list(rs) for t, rs in inputs.items()}
    rows: dict[str, list[tuple[int, Env]]] = {}
    for source in result.sources.values():
        if source.query is None:
            rows[source.name] = [_read(source, r) for r in topics.get(source.topic, []) if r.value is not None]
            continue
        out = _run_query(source, result, rows)
        rows[source.name] = [(ts, {(None, c.name): v for c, v in zip(source.columns, values)} | {(None, "ROWTIME"): ts})
                             for ts, values, _ in out]
        topics.setdefault(source.topic, []).extend(_record(source, ts, values, window) for ts, values, window in out)
    return topics


def _read(source: Source, rec: Rec) -> tuple[int, Env]:
    env: Env = {}
    lowered = {k.lower(): v for k, v in rec.value.items()}
    keys = source.key
    for c in source.columns:
        if c.key:
            raw = rec.key if len(keys) == 1 and not isinstance(rec.key, dict) else (rec.key or {}).get(c.name)
        else:
            raw = rec.value.get(c.name, lowered.get(c.name.lower()))
        env[(None, c.name)] = _coerce(raw, c.type, f"{source.name}.{c.name}")
    ts_column = source.plan.properties.get("TIMESTAMP") if source.plan else None
    ts = rec.timestamp_ms
    if ts_column:
        name = ts_column.strip("`")
        text = env.get((None, name))
        fmt = source.plan.properties.get("TIMESTAMP_FORMAT")
        if text is None:
            raise DryRunError(f"{source.name}: no {name} to take the event time from")
        ts = parse_timestamp(text, fmt) if fmt else int(text)
    env[(None, "ROWTIME")] = ts
    if rec.window:
        env[(None, "WINDOWSTART")], env[(None, "WINDOWEND")] = rec.window
    return ts, env


def _coerce(value, sql_type: str, what: str):
    if value is None:
        return None
    ok = {"VARCHAR": isinstance(value, str), "BOOLEAN": isinstance(value, bool),
          "INT": isinstance(value, int) and not isinstance(value, bool),
          "BIGINT": isinstance(value, int) and not isinstance(value, bool),
          "DOUBLE": isinstance(value, int | float) and not isinstance(value, bool)}[sql_type]
    if not ok:
        raise DryRunError(f"{what}: {value!r} is not {sql_type}")
    return float(value) if sql_type == "DOUBLE" else value


def _record(source: Source, ts: int, values: list, window) -> Rec:
    key_cols = [(c, v) for c, v in zip(source.columns, values) if c.key]
    value = {c.name: v for c, v in zip(source.columns, values) if not c.key}
    if source.key_format == "NONE" or not key_cols:
        key = None
    elif source.key_format == "KAFKA" and len(key_cols) == 1:
        key = key_cols[0][1]
    elif source.key_format == "JSON":
        key = {c.name: v for c, v in key_cols} if len(key_cols) > 1 else key_cols[0][1]
    else:
        raise DryRunError(f"{source.name}: key format {source.key_format} with {len(key_cols)} columns")
    return Rec(key, value, ts, window)


def _scoped(alias: str, env: Env) -> Env:
    out = {(alias, name): v for (_, name), v in env.items()}
    out[(None, "ROWTIME")] = env[(None, "ROWTIME")]
    for bound in ("WINDOWSTART", "WINDOWEND"):
        if (None, bound) in env:
            out[(None, bound)] = env[(None, bound)]
    return out


def _run_query(source: Source, result: Result, rows) -> list[tuple[int, list, tuple | None]]:
    q, plan = source.query, source.plan
    left = [(ts, _scoped(q.alias, env)) for ts, env in rows[q.source]]
    if q.join:
        left = _join(source, result, rows, left)
    out = []
    groups: dict[tuple, list[Env]] = {}
    stream_time = None
    for ts, env in left:
        if plan.where is not None and evaluate(plan.where, env) is not True:
            continue
        if not plan.group_by:
            out.append((ts, [evaluate(c.expr, env) for c in source.columns], None))
            continue
        key = tuple(evaluate(e, env) for e in plan.group_by)
        if any(k is None for k in key):
            continue  # ksqlDB drops records with a NULL grouping key
        window = None
        if plan.window:
            wtype, size, grace = plan.window
            if wtype != "TUMBLING":
                raise DryRunError(f"{wtype} windows are not modelled")
            stream_time = ts if stream_time is None else max(stream_time, ts)
            start = ts - ts % size
            window = (start, start + size)
            if start + size + (grace if grace is not None else 86_400_000) <= stream_time:
                continue  # past the window's grace period: dropped
            env = {**env, (None, "WINDOWSTART"): window[0], (None, "WINDOWEND"): window[1]}
        group = groups.setdefault((key, window), [])
        group.append(env)
        values = [evaluate(c.expr, env, group) for c in source.columns]
        out.append((max(e[(None, "ROWTIME")] for e in group), values, window))
    return out


def _join(source: Source, result: Result, rows, left):
    q, plan = source.query, source.plan
    right = result.sources[q.join.source]
    if right.kind != "TABLE" or q.join.kind not in ("LEFT", "INNER"):
        raise DryRunError("only stream-table LEFT and INNER joins are modelled")
    lhs, _ = plan.join_on
    [key_col] = right.key
    events = [(ts, 0, i, env) for i, (ts, env) in enumerate(rows[q.join.source])]
    events += [(ts, 1, i, env) for i, (ts, env) in enumerate(left)]
    table: dict = {}
    out = []
    for ts, kind, _, env in sorted(events, key=lambda e: (e[0], e[1], e[2])):
        if kind == 0:
            table[env[(None, key_col.name)]] = env
            continue
        match = table.get(evaluate(lhs, env))
        if match is None and q.join.kind == "INNER":
            continue
        joined = dict(env)
        for c in right.columns:
            joined[(q.join.alias, c.name)] = match[(None, c.name)] if match else None
        joined[(q.join.alias, "ROWTIME")] = match[(None, "ROWTIME")] if match else None
        out.append((ts, joined))
    return out


# -- expressions -----------------------------------------------------------------------------------

def evaluate(expr, env: Env, group: list[Env] | None = None):
    if isinstance(expr, Lit):
        return expr.value
    if isinstance(expr, Col):
        if (expr.qualifier, expr.name) in env:
            return env[(expr.qualifier, expr.name)]
        if expr.qualifier is not None and (None, expr.name) in env and expr.name == "ROWTIME":
            return env[(None, "ROWTIME")]
        raise DryRunError(f"no value for {expr}")
    if isinstance(expr, Cast):
        return _cast(evaluate(expr.expr, env, group), expr.type)
    if isinstance(expr, IsNull):
        return (evaluate(expr.expr, env, group) is None) != expr.negated
    if isinstance(expr, Unary):
        v = evaluate(expr.expr, env, group)
        return None if v is None else (not v) if expr.op == "NOT" else -v
    if isinstance(expr, BinOp):
        return _binop(expr, env, group)
    if isinstance(expr, Case):
        for cond, value in expr.whens:
            if evaluate(cond, env, group) is True:
                return evaluate(value, env, group)
        return evaluate(expr.default, env, group) if expr.default is not None else None
    if isinstance(expr, Func):
        if expr.name in AGGREGATE_FUNCTIONS:
            return _aggregate(expr, group if group is not None else [env])
        args = [evaluate(a, env, group) for a in expr.args]
        return _call(expr.name, args)
    raise DryRunError(f"cannot evaluate {expr}")


def _binop(expr: BinOp, env, group):
    if expr.op in ("AND", "OR"):
        a, b = evaluate(expr.left, env, group), evaluate(expr.right, env, group)
        if expr.op == "AND":
            return False if a is False or b is False else None if a is None or b is None else True
        return True if a is True or b is True else None if a is None or b is None else False
    a, b = evaluate(expr.left, env, group), evaluate(expr.right, env, group)
    if a is None or b is None:
        return None
    op = expr.op
    if op in ("=", "<>", "<", "<=", ">", ">="):
        return {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    integral = isinstance(a, int) and isinstance(b, int)
    if b == 0:
        return None  # ksqlDB: NULL for an integer division by zero
    if op == "/":
        return int(a / b) if integral else a / b  # Java: integer division truncates toward zero
    if op == "%":
        return int(abs(a) % abs(b)) * (1 if a >= 0 else -1) if integral else a % b
    raise DryRunError(f"operator {op}")


def _cast(v, sql_type: str):
    if v is None:
        return None
    if sql_type == "VARCHAR":
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    if sql_type in ("INT", "BIGINT"):
        return int(v) if not isinstance(v, str) else int(v.strip())
    if sql_type == "DOUBLE":
        return float(v)
    if sql_type == "BOOLEAN":
        return v if isinstance(v, bool) else str(v).lower() == "true"
    raise DryRunError(f"CAST AS {sql_type}")


def _call(name: str, args: list):
    if name == "CONCAT":
        return "".join("" if a is None else a for a in args)
    if name in ("COALESCE", "IFNULL"):
        return next((a for a in args if a is not None), None)
    if name == "AS_VALUE":
        return args[0]
    if name == "SUBSTRING":
        s, pos = args[0], args[1]
        if s is None or pos is None:
            return None
        start = pos - 1 if pos > 0 else max(len(s) + pos, 0)
        return s[start:] if len(args) == 2 else s[start:start + args[2]]
    if name == "STRINGTOTIMESTAMP":
        return None if args[0] is None else parse_timestamp(args[0], args[1], args[2] if len(args) > 2 else "UTC")
    if name == "TIMESTAMPTOSTRING":
        return None if args[0] is None else format_timestamp(args[0], args[1], args[2] if len(args) > 2 else "UTC")
    raise DryRunError(f"{name} is not modelled: add it to alerts.ksql.dryrun._call")


def _aggregate(f: Func, group: list[Env]):
    if f.name == "COUNT":
        return len(group) if f.star else sum(1 for e in group if evaluate(f.args[0], e) is not None)
    values = [evaluate(f.args[0], e) for e in group]
    if f.name in ("MIN", "MAX"):
        present = [v for v in values if v is not None]
        return (min if f.name == "MIN" else max)(present) if present else None
    if f.name in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"):
        ignore_nulls = evaluate(f.args[1], group[-1]) if len(f.args) > 1 else True
        if ignore_nulls:
            values = [v for v in values if v is not None]
        if not values:
            return None
        return values[-1] if f.name == "LATEST_BY_OFFSET" else values[0]
    raise DryRunError(f"aggregate {f.name} is not modelled")


# -- java.time patterns (the subset the scripts use) -----------------------------------------------

_PATTERN = re.compile(r"'((?:[^']|'')*)'|(y+|M+|d+|H+|m+|s+|S+|X+)|(\[)|(\])|(.)")


def _pattern(fmt: str):
    for m in _PATTERN.finditer(fmt):
        quoted, letters, opening, closing, other = m.groups()
        if quoted is not None:
            yield "text", quoted.replace("''", "'") if quoted else "'"
        elif letters:
            yield "field", letters
        elif opening:
            yield "open", "["
        elif closing:
            yield "close", "]"
        elif other.isalpha():
            raise DryRunError(f"pattern letter {other!r} is not modelled")
        else:
            yield "text", other


def _zone(tz: str | None) -> dt.tzinfo:
    if tz in (None, "UTC", "Z"):
        return dt.timezone.utc
    import zoneinfo

    return zoneinfo.ZoneInfo(tz)


def format_timestamp(ms: int, fmt: str, tz: str | None = "UTC") -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, _zone(tz))
    out = []
    for kind, v in _pattern(fmt):
        if kind == "text":
            out.append(v)
        elif kind == "field":
            c, n = v[0], len(v)
            if c == "S":
                out.append(f"{t.microsecond:06d}{'0' * max(0, n - 6)}"[:n])
            elif c == "X":
                off = t.utcoffset()
                total = int(off.total_seconds()) // 60
                out.append("Z" if total == 0 else f"{'+' if total > 0 else '-'}{abs(total) // 60:02d}"
                           + (f"{abs(total) % 60:02d}" if n > 1 or abs(total) % 60 else ""))
            else:
                value = {"y": t.year, "M": t.month, "d": t.day, "H": t.hour, "m": t.minute, "s": t.second}[c]
                out.append(f"{value:0{n}d}")
    return "".join(out)


def parse_timestamp(text: str, fmt: str, tz: str | None = "UTC") -> int:
    regex = []
    for kind, v in _pattern(fmt):
        if kind == "text":
            regex.append(re.escape(v))
        elif kind == "open":
            regex.append("(?:")
        elif kind == "close":
            regex.append(")?")
        else:
            c, n = v[0], len(v)
            regex.append({"y": r"(?P<y>\d{4})", "M": r"(?P<M>\d{2})", "d": r"(?P<d>\d{2})", "H": r"(?P<H>\d{2})",
                          "m": r"(?P<m>\d{2})", "s": r"(?P<s>\d{2})", "S": rf"(?P<S>\d{{{n}}})",
                          "X": r"(?P<X>Z|[+-]\d{2}(?::?\d{2})?)"}[c])
    m = re.fullmatch("".join(regex), text)
    if not m:
        raise DryRunError(f"{text!r} does not match the pattern {fmt!r}")
    g = m.groupdict()
    zone = _zone(tz)
    if g.get("X"):
        x = g["X"]
        zone = dt.timezone.utc if x == "Z" else dt.timezone(
            (1 if x[0] == "+" else -1) * dt.timedelta(hours=int(x[1:3]), minutes=int(x[-2:]) if len(x) > 3 else 0))
    frac = g.get("S") or "0"
    t = dt.datetime(int(g["y"]), int(g["M"]), int(g["d"]), int(g.get("H") or 0), int(g.get("m") or 0),
                    int(g.get("s") or 0), int(frac.ljust(6, "0")[:6]), tzinfo=zone)
    return (t - _EPOCH) // dt.timedelta(milliseconds=1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
