"""A static checker of the ksqlDB scripts: the planner rules of ksqlDB 0.29 that matter here.

`check(statements, partitions, non_null)` parses every statement (the subset of ksqlDB's grammar the scripts
use: CREATE STREAM/TABLE with columns, CREATE ... AS SELECT with one JOIN, WINDOW, WHERE,
GROUP BY, PARTITION BY), builds the catalog of streams and tables statement by statement, and
reports the rules a ksqlDB 0.29 server would refuse a statement for:

- ``grammar``: a statement outside that subset; KEY_FORMAT 'NONE' with key columns.
- ``references``: every stream or table named in FROM or JOIN was created by an earlier statement;
  every column named exists in its source.
- ``functions``: only functions ksqlDB 0.29 has (KSQLDB_FUNCTIONS, from its function reference),
  aggregates only in an aggregating query, arguments of types the function takes.
- ``join-key``: a join's result key is one of the join criteria that is a plain column, and the
  projection selects it as such (the same expression under the key's name does not count).
- ``key-once``: the result key (GROUP BY, PARTITION BY or join key expression, or the source key)
  is in the projection exactly once; a copy in the value goes through AS_VALUE(). A table has a
  PRIMARY KEY; several key columns need a key format that holds them (JSON).
- ``group-by``: in an aggregating query every column outside an aggregate is (part of) a GROUP BY
  expression.
- ``windowed-repartition``: no PARTITION BY, GROUP BY or join that repartitions a windowed source;
  no persistent query reads a windowed table.
- ``co-partition``: a stream-table join joins on the table's PRIMARY KEY, with join expressions of
  one type, over topics with one partition count.

Each rule follows ksqlDB 0.29's planner and its query-validation tests (joins.json,
partition-by.json, group-by.json, windowed-source.json, as_value.json); the code is this project's.
It also derives each query's output schema (`Source.columns`: name, SQL type, key or not,
nullable or not, the expression), which the schema contract test maps to JSON types.
What it cannot know without a server (topics that exist, their data, serde errors at run time)
is listed in docs/ksqldb.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .grammar import (
    AGGREGATE_FUNCTIONS,
    JSON_TYPES,
    KSQLDB_FUNCTIONS,
    NUMERIC_RANK,
    PSEUDO_COLUMNS,
    SQL_TYPES,
    WINDOW_BOUNDS,
    BinOp,
    Case,
    Cast,
    Col,
    Func,
    IsNull,
    KsqlSyntaxError,
    Lit,
    Parsed,
    Query,
    Unary,
    children,
    parse,
    walk,
)

# The rules, in the order check() applies them (docstring above).
CHECKS = ("grammar", "references", "functions", "join-key", "key-once", "group-by", "windowed-repartition",
          "co-partition")


# -- catalog ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    type: str  # VARCHAR, INT, BIGINT, DOUBLE, BOOLEAN
    key: bool = False
    nullable: bool = True
    expr: object | None = None  # what a query computes it from

    @property
    def json_type(self) -> str:
        return JSON_TYPES[self.type]


@dataclass
class Source:
    kind: str  # STREAM or TABLE
    name: str
    columns: list[Column]
    topic: str
    key_format: str
    value_format: str
    windowed: bool
    partitions: int | None
    statement: object = None  # the scripts.Statement that created it
    query: Query | None = None
    plan: Plan | None = None  # the query's clauses, columns qualified by their source's alias

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def key(self) -> list[Column]:
        return [c for c in self.columns if c.key]

    @property
    def value(self) -> list[Column]:
        return [c for c in self.columns if not c.key]


@dataclass(frozen=True)
class Plan:
    """A query's clauses with every column qualified (dryrun.py runs them)."""

    where: object | None
    group_by: tuple
    partition_by: tuple
    join_on: tuple | None  # (left side's expression, right side's expression)
    window: tuple | None  # (type, size ms, grace ms or None)
    properties: Mapping


@dataclass(frozen=True)
class Problem:
    check: str
    statement: str
    message: str

    def __str__(self):
        return f"{self.statement}: [{self.check}] {self.message}"


@dataclass
class Result:
    sources: dict[str, Source] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def by_topic(self, topic: str) -> Source:
        """The source a query writes to `topic`."""
        [s] = [s for s in self.sources.values() if s.topic == topic and s.query is not None]
        return s


class _Refused(Exception):
    def __init__(self, check: str, message: str):
        super().__init__(message)
        self.check = check


def check(statements: Iterable, partitions: Mapping[str, int] | None = None,
          non_null: Mapping[str, Iterable[str]] | None = None) -> Result:
    """Check `statements` (scripts.Statement, or plain text) in order. `partitions`: the partition
    count of each existing topic the scripts read (physical names), for the co-partition rule;
    `non_null`: the fields every record of an existing topic has (physical topic -> names), so the
    derived schemas know which columns cannot be null."""
    result = Result()
    for st in statements:
        text = getattr(st, "text", st)
        label = str(st) if hasattr(st, "text") else text.split("\n", 1)[0][:60]
        try:
            parsed = parse(text)
        except KsqlSyntaxError as exc:
            result.problems.append(Problem("grammar", label, str(exc)))
            continue
        try:
            source = _build(parsed, result.sources, partitions or {}, non_null or {})
        except _Refused as exc:
            result.problems.append(Problem(exc.check, label, str(exc)))
            continue
        source.statement = st
        result.sources[parsed.name] = source
    return result


def _props(parsed: Parsed):
    p = parsed.properties
    topic = p.get("KAFKA_TOPIC")
    key_format = str(p.get("KEY_FORMAT") or p.get("FORMAT") or "KAFKA").upper()
    value_format = str(p.get("VALUE_FORMAT") or p.get("FORMAT") or "").upper()
    return topic, key_format, value_format


def _build(parsed: Parsed, sources: dict[str, Source], partitions: Mapping[str, int],
           non_null: Mapping[str, Iterable[str]]) -> Source:
    topic, key_format, value_format = _props(parsed)
    if parsed.name in sources:
        raise _Refused("references", f"{parsed.name} is created twice")
    if parsed.query is None:
        if not topic:
            raise _Refused("grammar", "a source needs KAFKA_TOPIC")
        if parsed.kind == "TABLE" and not any(c.key for c in parsed.columns):
            raise _Refused("key-once", "a table needs a PRIMARY KEY column")
        present = set(non_null.get(topic, ()))
        writer = next((s for s in sources.values() if s.topic == topic and s.query is not None), None)
        if writer is not None:  # a query's output read again: its columns say what can be null
            present |= {c.name for c in writer.columns if not c.nullable}
        columns = [Column(c.name, c.type, c.key, (not c.key or parsed.kind == "STREAM") and c.name not in present)
                   for c in parsed.columns]
        if key_format == "NONE" and any(c.key for c in columns):
            raise _Refused("grammar", "KEY_FORMAT 'NONE' with key columns")
        _one_kafka_key(key_format, [c for c in columns if c.key])
        if not any(c.key for c in columns):
            key_format = "NONE"
        declared = parsed.properties.get("PARTITIONS") or partitions.get(topic) or next(
            (s.partitions for s in sources.values() if s.topic == topic and s.query is not None), None)
        return Source(parsed.kind, parsed.name, columns, topic, key_format, value_format,
                      bool(parsed.properties.get("WINDOW_TYPE")), declared,
                      plan=Plan(None, (), (), None, None, parsed.properties))
    return _QueryPlan(parsed, sources).build(topic or parsed.name, key_format, value_format)


class _Scope:
    """The columns a query can name: one source, or both sides of a join."""

    def __init__(self, sides: list[tuple[str, Source, bool]], windowed_aggregate: bool):
        self.sides = sides  # (alias, source, nullable side)
        self.windowed_aggregate = windowed_aggregate
        self.not_null: set[Col] = set()

    def resolve(self, col: Col) -> tuple[Col, Column]:
        if col.qualifier is None and col.name in PSEUDO_COLUMNS:
            return col, Column(col.name, PSEUDO_COLUMNS[col.name], nullable=False)
        if col.qualifier is None and col.name in WINDOW_BOUNDS:
            if self.windowed_aggregate or any(s.windowed for _, s, _ in self.sides):
                return col, Column(col.name, "BIGINT", nullable=False)
            raise _Refused("references", f"{col.name} outside a windowed query")
        matches = []
        for alias, source, outer in self.sides:
            if col.qualifier not in (None, alias):
                continue
            if col.name in PSEUDO_COLUMNS:
                matches.append((Col(alias, col.name), Column(col.name, PSEUDO_COLUMNS[col.name], nullable=outer)))
                continue
            c = source.column(col.name)
            if c is not None:
                nullable = c.nullable or outer
                matches.append((Col(alias, col.name), Column(c.name, c.type, c.key, nullable)))
        if not matches:
            raise _Refused("references", f"column {col} is not in {', '.join(a for a, _, _ in self.sides)}")
        if len(matches) > 1:
            raise _Refused("references", f"column {col} is ambiguous")
        ref, column = matches[0]
        if ref in self.not_null or Col(None, ref.name) in self.not_null:
            column = Column(column.name, column.type, column.key, False)
        return ref, column

    def normal(self, expr):
        """`expr` with every column qualified by its source's alias (to compare expressions)."""
        if isinstance(expr, Col):
            return self.resolve(expr)[0]
        if isinstance(expr, Func):
            return Func(expr.name, tuple(self.normal(a) for a in expr.args), expr.star)
        if isinstance(expr, Cast):
            return Cast(self.normal(expr.expr), expr.type)
        if isinstance(expr, Unary):
            return Unary(expr.op, self.normal(expr.expr))
        if isinstance(expr, IsNull):
            return IsNull(self.normal(expr.expr), expr.negated)
        if isinstance(expr, BinOp):
            return BinOp(expr.op, self.normal(expr.left), self.normal(expr.right))
        if isinstance(expr, Case):
            whens = tuple((self.normal(c), self.normal(v)) for c, v in expr.whens)
            return Case(whens, self.normal(expr.default) if expr.default is not None else None)
        return expr


class _QueryPlan:
    def __init__(self, parsed: Parsed, sources: dict[str, Source]):
        self.parsed = parsed
        self.q = parsed.query
        self.sources = sources

    def source(self, name: str) -> Source:
        s = self.sources.get(name)
        if s is None:
            raise _Refused("references", f"{name} does not exist: no earlier statement creates it")
        return s

    def build(self, topic: str, key_format: str, value_format: str) -> Source:
        q, parsed = self.q, self.parsed
        self.join_sides = None
        left = self.source(q.source)
        sides = [(q.alias, left, q.join is not None and q.join.kind in ("RIGHT", "FULL"))]
        right = None
        if q.join:
            right = self.source(q.join.source)
            sides.append((q.join.alias, right, q.join.kind in ("LEFT", "FULL")))
        aggregate = bool(q.group_by)
        scope = _Scope(sides, windowed_aggregate=aggregate and q.window is not None)
        self.scope = scope
        if q.window and not aggregate:
            raise _Refused("grammar", "WINDOW clause requires a GROUP BY clause")
        if left.kind == "TABLE" and left.windowed or (right and right.kind == "TABLE" and right.windowed):
            raise _Refused("windowed-repartition", "ksqlDB runs no persistent query on a windowed table")
        for e in [i.expr for i in q.items] + [q.where, q.having, *q.group_by, *q.partition_by] + (
                [q.join.on] if q.join else []):
            if e is not None:
                self.functions(e, aggregate)
        if q.where is not None:
            scope.not_null = {scope.normal(c.expr) for c in _conjuncts(q.where)
                              if isinstance(c, IsNull) and c.negated and isinstance(c.expr, Col)}
        key_exprs, key_rule = self.key_expressions(left, right)
        items = [(scope.normal(i.expr), i) for i in q.items]
        if aggregate:
            loose = [str(e) for e, _ in items if not _grouped(e, key_exprs)]
            if q.having is not None and not _grouped(scope.normal(q.having), key_exprs):
                loose.append(f"HAVING {q.having}")
            if loose:
                raise _Refused("group-by", "non-aggregate SELECT expression(s) not part of GROUP BY: "
                               + ", ".join(loose))
        columns: list[Column] = []
        seen_key: dict[object, list[str]] = {}
        for n, (expr, item) in enumerate(items):
            name = item.alias or (item.expr.name if isinstance(item.expr, Col) else f"KSQL_COL_{n}")
            sql_type, nullable = self.type_of(expr)
            is_key = expr in key_exprs
            if is_key:
                seen_key.setdefault(expr, []).append(name)
                nullable = False
            if any(c.name == name for c in columns):
                raise _Refused("references", f"the projection names {name} twice")
            columns.append(Column(name, sql_type, is_key, nullable, expr))
        for expr in key_exprs:
            names = seen_key.get(expr, [])
            if len(names) > 1:
                raise _Refused("key-once", f"the projection contains the key {expr} more than once, aliased as: "
                               f"{' and '.join(sorted(names))}; copy it into the value with AS_VALUE()")
        if key_rule == "join":
            if not seen_key:
                raise _Refused("join-key", "key missing from the projection: the query must select the join key "
                               f"{' or '.join(map(str, key_exprs))} as a plain column")
        elif key_exprs and not all(e in seen_key for e in key_exprs):
            missing = [str(e) for e in key_exprs if e not in seen_key]
            raise _Refused("key-once", f"key missing from the projection: {', '.join(missing)} must be selected")
        if not any(not c.key for c in columns):
            raise _Refused("key-once", "the projection has no value columns")
        if parsed.kind == "TABLE" and not aggregate and left.kind == "STREAM":
            raise _Refused("grammar", "a table from a stream needs GROUP BY")
        if not any(c.key for c in columns):
            key_format = "NONE"
        _one_kafka_key(key_format, [c for c in columns if c.key])
        partitions = parsed.properties.get("PARTITIONS") or (right.partitions if right else left.partitions)
        plan = Plan(scope.normal(q.where) if q.where is not None else None,
                    tuple(scope.normal(e) for e in q.group_by), tuple(scope.normal(e) for e in q.partition_by),
                    self.join_sides, q.window, parsed.properties)
        return Source(parsed.kind, parsed.name, columns, topic, key_format, value_format,
                      windowed=q.window is not None, partitions=partitions, query=q, plan=plan)

    def functions(self, expr, aggregate: bool):
        for e in walk(expr):
            if not isinstance(e, Func):
                continue
            if e.name not in KSQLDB_FUNCTIONS:
                raise _Refused("functions", f"{e.name} is not a function of ksqlDB 0.29")
            if e.name in AGGREGATE_FUNCTIONS and not aggregate:
                raise _Refused("functions", f"aggregate {e.name} in a query without GROUP BY")

    def key_expressions(self, left: Source, right: Source | None) -> tuple[list, str]:
        """The expressions the result is keyed by, and which rule picked them."""
        q, scope = self.q, self.scope
        if q.group_by:
            exprs = [scope.normal(e) for e in q.group_by]
            sources = [left] if not q.join else [left, right]
            if any(s.windowed for s in sources) and not _is_key_of(exprs, left, q.alias):
                raise _Refused("windowed-repartition", f"GROUP BY {', '.join(map(str, exprs))} repartitions the "
                               "windowed source: implicit repartitioning of windowed sources is not supported")
            return exprs, "group"
        if q.partition_by:
            exprs = [scope.normal(e) for e in q.partition_by]
            if exprs == [Lit(None, "NULL")]:
                return [], "partition"
            if left.windowed and not _is_key_of(exprs, left, q.alias):
                raise _Refused("windowed-repartition", f"PARTITION BY {', '.join(map(str, exprs))} repartitions the "
                               "windowed source: implicit repartitioning of windowed sources is not supported")
            return exprs, "partition"
        if q.join:
            return self.join_key(left, right), "join"
        return [Col(q.alias, c.name) for c in left.key], "source"

    def join_key(self, left: Source, right: Source) -> list:
        q, scope = self.q, self.scope
        on = q.join.on
        if not (isinstance(on, BinOp) and on.op == "="):
            raise _Refused("co-partition", f"join criteria {on}: ksqlDB joins on one equality")
        lhs, rhs = scope.normal(on.left), scope.normal(on.right)
        owner = [{c.qualifier for c in walk(e) if isinstance(c, Col)} for e in (lhs, rhs)]
        if owner[0] == {q.join.alias} and owner[1] == {q.alias}:
            lhs, rhs = rhs, lhs
        elif not (owner[0] == {q.alias} and owner[1] == {q.join.alias}):
            raise _Refused("co-partition", f"join criteria {on} must compare an expression of each side")
        ltype, rtype = self.type_of(lhs)[0], self.type_of(rhs)[0]
        if ltype != rtype:
            raise _Refused("co-partition", f"join expressions of different types: {lhs} {ltype}, {rhs} {rtype}")
        for side, expr in ((left, lhs), (right, rhs)):
            repartitioned = not _is_key_of([expr], side, expr.qualifier if isinstance(expr, Col) else None)
            if repartitioned and side.kind == "TABLE":
                raise _Refused("co-partition", f"{side.name} is a table: it must be joined on its PRIMARY KEY "
                               f"({', '.join(c.name for c in side.key)}), not on {expr}")
            if repartitioned and side.windowed:
                raise _Refused("windowed-repartition", f"joining {side.name} on {expr} repartitions a windowed source")
        if left.partitions is None or right.partitions is None:
            unknown = left.topic if left.partitions is None else right.topic
            raise _Refused("co-partition", f"partition count of {unknown} is unknown: declare PARTITIONS or pass "
                           "the topic's count")
        if left.partitions != right.partitions:
            raise _Refused("co-partition", f"{left.name} has {left.partitions} partitions, {right.name} "
                           f"{right.partitions}: the join's sources must have as many")
        if left.key_format != right.key_format and left.key_format != "NONE" and _is_key_of([lhs], left, q.alias):
            raise _Refused("co-partition", f"key formats differ: {left.key_format} and {right.key_format}")
        self.join_sides = (lhs, rhs)
        if q.join.kind == "FULL":
            return []
        return [e for e in (lhs, rhs) if isinstance(e, Col)]

    # -- types ---------------------------------------------------------------------------------

    def type_of(self, expr) -> tuple[str, bool]:
        """(SQL type, may be null) of a normalised expression."""
        if isinstance(expr, Lit):
            return ("VARCHAR" if expr.type == "NULL" else expr.type), expr.value is None
        if isinstance(expr, Col):
            if expr.name in WINDOW_BOUNDS and expr.qualifier is None:
                return self.scope.resolve(expr)[1].type, False
            column = self.scope.resolve(expr)[1]
            return column.type, column.nullable
        if isinstance(expr, Cast):
            inner, nullable = self.type_of(expr.expr)
            return expr.type, nullable
        if isinstance(expr, IsNull):
            return "BOOLEAN", False
        if isinstance(expr, Unary):
            inner, nullable = self.type_of(expr.expr)
            return ("BOOLEAN" if expr.op == "NOT" else inner), nullable
        if isinstance(expr, BinOp):
            (lt, ln), (rt, rn) = self.type_of(expr.left), self.type_of(expr.right)
            if expr.op in ("AND", "OR", "=", "<>", "<", "<=", ">", ">="):
                return "BOOLEAN", ln or rn
            if lt not in NUMERIC_RANK or rt not in NUMERIC_RANK:
                raise _Refused("functions", f"arithmetic on {lt} and {rt}: {expr}")
            by_zero = expr.op in ("/", "%") and not (isinstance(expr.right, Lit) and expr.right.value)
            return max(lt, rt, key=NUMERIC_RANK.get), ln or rn or by_zero  # x / 0 is NULL
        if isinstance(expr, Case):
            typed = [self.type_of(v) for _, v in expr.whens]
            typed.append(self.type_of(expr.default) if expr.default is not None else ("NULL", True))
            types = {t for t, _ in typed} - {"NULL"}
            if len(types) != 1:
                raise _Refused("functions", f"CASE branches of types {sorted(types)}")
            return types.pop(), any(n for _, n in typed)
        if isinstance(expr, Func):
            return self.func_type(expr)
        raise _Refused("grammar", f"cannot type {expr}")

    def func_type(self, f: Func) -> tuple[str, bool]:
        args = [self.type_of(a) for a in f.args]
        name = f.name

        def need(*types):
            got = tuple(t for t, _ in args)
            if len(got) != len(types) or any(t not in want for t, want in zip(got, types)):
                raise _Refused("functions", f"{f}: arguments {', '.join(got) or 'none'} do not fit {name}")

        text = ("VARCHAR",)
        if name == "COUNT":
            return "BIGINT", False
        if name in ("AS_VALUE",):
            need(tuple(SQL_TYPES.values()))
            return args[0]
        if name in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"):
            if len(args) == 2:
                need(tuple(SQL_TYPES.values()), ("BOOLEAN",))
            else:
                need(tuple(SQL_TYPES.values()))
            return args[0]
        if name in ("MIN", "MAX", "SUM"):
            need(tuple(NUMERIC_RANK))
            return args[0]
        if name == "CONCAT":
            if len(args) < 2 or any(t != "VARCHAR" for t, _ in args):
                raise _Refused("functions", f"{f}: CONCAT takes strings (CAST the others to VARCHAR)")
            return "VARCHAR", False  # a NULL argument is taken as ''
        if name in ("COALESCE", "IFNULL"):
            types = {t for t, _ in args}
            if len(types) != 1:
                raise _Refused("functions", f"{f}: arguments of types {sorted(types)}")
            return args[0][0], all(n for _, n in args)
        if name == "SUBSTRING":
            need(text, ("INT",), ("INT",)) if len(args) == 3 else need(text, ("INT",))
            return "VARCHAR", args[0][1]
        if name == "STRINGTOTIMESTAMP":
            need(text, text, text) if len(args) == 3 else need(text, text)
            return "BIGINT", args[0][1]
        if name == "TIMESTAMPTOSTRING":
            need(("BIGINT", "INT"), text, text) if len(args) == 3 else need(("BIGINT", "INT"), text)
            return "VARCHAR", args[0][1]
        if name in ("UCASE", "LCASE", "TRIM"):
            need(text)
            return "VARCHAR", args[0][1]
        if name == "LEN":
            need(text)
            return "INT", args[0][1]
        if name == "ABS":
            need(tuple(NUMERIC_RANK))
            return args[0]
        raise _Refused("functions", f"{name} is a ksqlDB function this checker has no type for: add it")


def _one_kafka_key(key_format: str, keys: list[Column]) -> None:
    if key_format in ("KAFKA", "DELIMITED") and len(keys) > 1:
        raise _Refused("key-once", f"the {key_format} key format takes one key column, not "
                       f"{', '.join(c.name for c in keys)}: use KEY_FORMAT 'JSON'")


def _conjuncts(expr):
    if isinstance(expr, BinOp) and expr.op == "AND":
        yield from _conjuncts(expr.left)
        yield from _conjuncts(expr.right)
    else:
        yield expr


def _grouped(expr, group_by: list) -> bool:
    """Whether every column `expr` names outside an aggregate is inside one of the GROUP BY expressions."""
    if expr in group_by or isinstance(expr, Lit):
        return True
    if isinstance(expr, Func) and expr.name in AGGREGATE_FUNCTIONS:
        return True
    if isinstance(expr, Col):
        return expr.qualifier is None and expr.name in WINDOW_BOUNDS
    return all(_grouped(child, group_by) for child in children(expr))


def _is_key_of(exprs: list, source: Source, alias: str | None) -> bool:
    """Whether `exprs` are exactly the key columns of `source`: keying by them needs no repartition."""
    names = [e.name for e in exprs if isinstance(e, Col) and e.qualifier in (None, alias)]
    return len(names) == len(exprs) and names == [c.name for c in source.key]
