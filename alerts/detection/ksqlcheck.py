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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Built-in functions of ksqlDB 0.29, from its reference pages (docs/developer-guide/
# ksqldb-reference/scalar-functions.md, aggregate-functions.md, table-functions.md at v0.29.0).
SCALAR_FUNCTIONS = frozenset("""
ABS ACOS ASIN AS_VALUE ATAN ATAN2 CAST CBRT CEIL COS COSH COT DEGREES ENTRIES EXP FLOOR GENERATE_SERIES
GEO_DISTANCE GREATEST LEAST LN LOG PI POWER RADIANS RANDOM ROUND SIGN SIN SINH SQRT TAN TANH TRUNC
ARRAY ARRAY_CONCAT ARRAY_CONTAINS ARRAY_DISTINCT ARRAY_EXCEPT ARRAY_INTERSECT ARRAY_JOIN ARRAY_LENGTH
ARRAY_MAX ARRAY_MIN ARRAY_REMOVE ARRAY_SORT ARRAY_UNION AS_MAP ELT FIELD JSON_ARRAY_CONTAINS MAP MAP_KEYS
MAP_VALUES MAP_UNION SLICE FILTER REDUCE TRANSFORM CHR CONCAT CONCAT_WS ENCODE EXTRACTJSONFIELD FROM_BYTES
IS_JSON_STRING JSON_ARRAY_LENGTH JSON_CONCAT JSON_KEYS JSON_RECORDS JSON_ITEMS TO_JSON_STRING INITCAP INSTR
LCASE LEN LPAD MASK MASK_KEEP_LEFT MASK_KEEP_RIGHT MASK_LEFT MASK_RIGHT REPLACE REGEXP_EXTRACT
REGEXP_EXTRACT_ALL REGEXP_REPLACE REGEXP_SPLIT_TO_ARRAY RPAD SPLIT SPLIT_TO_MAP SUBSTRING TO_BYTES TRIM
UCASE UUID BIGINT_FROM_BYTES DOUBLE_FROM_BYTES INT_FROM_BYTES COALESCE IFNULL NULLIF CONVERT_TZ DATEADD
DATESUB FORMAT_DATE FORMAT_TIME FORMAT_TIMESTAMP FROM_DAYS FROM_UNIXTIME PARSE_DATE PARSE_TIME
PARSE_TIMESTAMP TIMEADD TIMESUB TIMESTAMPADD TIMESTAMPSUB UNIX_DATE UNIX_TIMESTAMP URL_DECODE_PARAM
URL_ENCODE_PARAM URL_EXTRACT_FRAGMENT URL_EXTRACT_HOST URL_EXTRACT_PARAMETER URL_EXTRACT_PATH
URL_EXTRACT_PORT URL_EXTRACT_PROTOCOL URL_EXTRACT_QUERY DATETOSTRING STRINGTODATE STRINGTOTIMESTAMP
TIMESTAMPTOSTRING
""".split())
AGGREGATE_FUNCTIONS = frozenset("""
AVG COLLECT_LIST COLLECT_SET CORRELATION COUNT COUNT_DISTINCT EARLIEST_BY_OFFSET HISTOGRAM LATEST_BY_OFFSET
MAX MIN STDDEV_SAMP STDDEV_SAMPLE SUM TOPK TOPKDISTINCT
""".split())
TABLE_FUNCTIONS = frozenset({"CUBE_EXPLODE", "EXPLODE"})
KSQLDB_FUNCTIONS = SCALAR_FUNCTIONS | AGGREGATE_FUNCTIONS | TABLE_FUNCTIONS

CHECKS = ("grammar", "references", "functions", "join-key", "key-once", "group-by", "windowed-repartition",
          "co-partition")

SQL_TYPES = {"VARCHAR": "VARCHAR", "STRING": "VARCHAR", "INT": "INT", "INTEGER": "INT", "BIGINT": "BIGINT",
             "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN"}
JSON_TYPES = {"VARCHAR": "string", "INT": "integer", "BIGINT": "integer", "DOUBLE": "number", "BOOLEAN": "boolean"}
_NUMERIC_RANK = {"INT": 0, "BIGINT": 1, "DOUBLE": 2}
PSEUDO_COLUMNS = {"ROWTIME": "BIGINT", "ROWPARTITION": "INT", "ROWOFFSET": "BIGINT"}
WINDOW_BOUNDS = ("WINDOWSTART", "WINDOWEND")


class KsqlSyntaxError(ValueError):
    """A statement outside the grammar this checker reads."""


# -- expressions -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Col:
    qualifier: str | None
    name: str

    def __str__(self):
        return f"{self.qualifier}.`{self.name}`" if self.qualifier else f"`{self.name}`"


@dataclass(frozen=True)
class Lit:
    value: object
    type: str  # VARCHAR, INT, BIGINT, DOUBLE, BOOLEAN or NULL

    def __str__(self):
        if self.type == "VARCHAR":
            return "'" + str(self.value).replace("'", "''") + "'"
        return "NULL" if self.value is None else str(self.value).upper() if self.type == "BOOLEAN" else str(self.value)


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple
    star: bool = False  # COUNT(*)

    def __str__(self):
        return f"{self.name}({'*' if self.star else ', '.join(map(str, self.args))})"


@dataclass(frozen=True)
class Cast:
    expr: object
    type: str

    def __str__(self):
        return f"CAST({self.expr} AS {self.type})"


@dataclass(frozen=True)
class Case:
    whens: tuple  # ((condition, value), ...)
    default: object | None

    def __str__(self):
        return "CASE " + " ".join(f"WHEN {c} THEN {v}" for c, v in self.whens) + f" ELSE {self.default} END"


@dataclass(frozen=True)
class BinOp:
    op: str
    left: object
    right: object

    def __str__(self):
        return f"({self.left} {self.op} {self.right})"


@dataclass(frozen=True)
class Unary:
    op: str  # NOT, -
    expr: object

    def __str__(self):
        return f"{self.op} {self.expr}"


@dataclass(frozen=True)
class IsNull:
    expr: object
    negated: bool

    def __str__(self):
        return f"{self.expr} IS {'NOT ' if self.negated else ''}NULL"


def children(expr) -> tuple:
    """The expressions directly inside `expr`."""
    if isinstance(expr, Func):
        return expr.args
    if isinstance(expr, Cast | Unary | IsNull):
        return (expr.expr,)
    if isinstance(expr, BinOp):
        return (expr.left, expr.right)
    if isinstance(expr, Case):
        return tuple(e for pair in expr.whens for e in pair) + ((expr.default,) if expr.default is not None else ())
    return ()


def walk(expr):
    """`expr` and every expression inside it."""
    yield expr
    for child in children(expr):
        yield from walk(child)


# -- tokens ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted (backticks), string, number, op, end
    value: str
    pos: int

    @property
    def upper(self) -> str:
        return self.value.upper() if self.kind == "word" else ""


_TOKEN = re.compile(r"""
    (?P<space>\s+|--[^\n]*)
  | (?P<quoted>`(?:[^`]|``)*`)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|!=|<=|>=|[(),.*+\-/%=<>;\[\]])
""", re.X)


def tokenize(text: str) -> list[Token]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise KsqlSyntaxError(f"unexpected character {text[pos]!r} at {pos}")
        kind = m.lastgroup
        if kind == "quoted":
            out.append(Token("quoted", m.group()[1:-1].replace("``", "`"), pos))
        elif kind == "string":
            out.append(Token("string", m.group()[1:-1].replace("''", "'"), pos))
        elif kind != "space":
            out.append(Token(kind, m.group(), pos))
        pos = m.end()
    out.append(Token("end", "", pos))
    return out


# -- statements ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: str
    key: bool


@dataclass(frozen=True)
class SelectItem:
    expr: object
    alias: str | None


@dataclass(frozen=True)
class Join:
    kind: str  # INNER, LEFT, RIGHT, FULL
    source: str
    alias: str
    on: object
    within: str | None


@dataclass(frozen=True)
class Query:
    items: tuple
    source: str
    alias: str
    join: Join | None
    window: tuple | None  # (type, size_ms, grace_ms)
    where: object | None
    group_by: tuple
    partition_by: tuple
    having: object | None


@dataclass(frozen=True)
class Parsed:
    kind: str  # STREAM or TABLE
    name: str
    columns: tuple  # ColumnDef, for a CREATE with a column list
    properties: Mapping
    query: Query | None


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, expected: str):
        t = self.tok
        raise KsqlSyntaxError(f"expected {expected} at {t.pos}, found {t.value or 'the end'!r}")

    def take(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def at(self, *words: str) -> bool:
        return all(self.tokens[self.i + k].upper == w or self.tokens[self.i + k].value == w
                   for k, w in enumerate(words) if self.i + k < len(self.tokens))

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str):
        if not self.accept(*words):
            self.error(" ".join(words))

    def identifier(self) -> str:
        t = self.tok
        if t.kind == "quoted":
            self.i += 1
            return t.value
        if t.kind == "word":
            self.i += 1
            return t.value.upper()  # unquoted identifiers are upper case in ksqlDB
        self.error("an identifier")

    def statement(self) -> Parsed:
        self.expect("CREATE")
        self.accept("OR", "REPLACE")
        kind = self.take().upper
        if kind not in ("STREAM", "TABLE"):
            self.i -= 1
            self.error("STREAM or TABLE")
        self.accept("IF", "NOT", "EXISTS")
        name = self.identifier()
        columns = ()
        if self.accept("("):
            columns = tuple(self.column_defs())
        properties = self.properties() if self.accept("WITH") else {}
        query = None
        if self.accept("AS"):
            query = self.query()
            self.expect("EMIT")
            self.expect("CHANGES")
        self.accept(";")
        if self.tok.kind != "end":
            self.error("the end of the statement")
        if query is None and not columns:
            raise KsqlSyntaxError(f"{kind} {name} has neither columns nor a query")
        return Parsed(kind, name, columns, properties, query)

    def column_defs(self):
        while True:
            name = self.identifier()
            word = self.take()
            sql_type = SQL_TYPES.get(word.upper)
            if sql_type is None:
                raise KsqlSyntaxError(f"column {name}: type {word.value!r} is not one this checker reads")
            key = self.accept("KEY") or self.accept("PRIMARY", "KEY")
            yield ColumnDef(name, sql_type, key)
            if self.accept(")"):
                return
            self.expect(",")

    def properties(self) -> dict:
        self.expect("(")
        props = {}
        while True:
            name = self.identifier().upper()
            self.expect("=")
            t = self.take()
            if t.kind not in ("string", "number"):
                self.i -= 1
                self.error("a property value")
            props[name] = int(t.value) if t.kind == "number" else t.value
            if self.accept(")"):
                return props
            self.expect(",")

    def query(self) -> Query:
        self.expect("SELECT")
        items = []
        while True:
            expr = self.expression()
            alias = self.identifier() if self.accept("AS") else None
            items.append(SelectItem(expr, alias))
            if not self.accept(","):
                break
        self.expect("FROM")
        source = self.identifier()
        alias = self.source_alias() or source
        join = None
        kind = next((k for k in ("INNER", "LEFT", "RIGHT", "FULL", "JOIN") if self.at(k)), None)
        if kind:
            self.accept(kind)
            self.accept("OUTER")
            if kind != "JOIN":
                self.expect("JOIN")
            right = self.identifier()
            right_alias = self.source_alias() or right
            within = None
            if self.accept("WITHIN"):
                within = f"{self.take().value} {self.take().value}"
            self.expect("ON")
            join = Join("INNER" if kind == "JOIN" else kind, right, right_alias, self.expression(), within)
        window = self.window() if self.accept("WINDOW") else None
        where = self.expression() if self.accept("WHERE") else None
        group_by = tuple(self.expression_list()) if self.accept("GROUP", "BY") else ()
        partition_by = tuple(self.expression_list()) if self.accept("PARTITION", "BY") else ()
        having = self.expression() if self.accept("HAVING") else None
        return Query(tuple(items), source, alias, join, window, where, group_by, partition_by, having)

    def source_alias(self) -> str | None:
        t = self.tok
        if t.kind == "quoted" or (t.kind == "word" and t.upper not in _CLAUSE_WORDS):
            return self.identifier()
        return None

    def window(self) -> tuple:
        wtype = self.take().upper
        if wtype not in ("TUMBLING", "HOPPING", "SESSION"):
            self.i -= 1
            self.error("TUMBLING, HOPPING or SESSION")
        self.expect("(")
        size = grace = None
        while not self.accept(")"):
            if self.accept("SIZE") or (wtype == "SESSION" and self.tok.kind == "number"):
                size = self.duration()
            elif self.accept("ADVANCE", "BY"):
                self.duration()
            elif self.accept("GRACE", "PERIOD"):
                grace = self.duration()
            elif self.accept("RETENTION"):
                self.duration()
            else:
                self.error("SIZE, ADVANCE BY, RETENTION or GRACE PERIOD")
            self.accept(",")
        return (wtype, size, grace)

    def duration(self) -> int:
        t = self.take()
        if t.kind != "number":
            self.i -= 1
            self.error("a number")
        unit = self.take().upper.rstrip("S")
        scale = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
        if unit not in scale:
            self.i -= 1
            self.error("a time unit")
        return int(t.value) * scale[unit]

    def expression_list(self):
        yield self.expression()
        while self.accept(","):
            yield self.expression()

    # precedence: OR < AND < NOT < comparison < + - < * / % < unary < primary
    def expression(self):
        left = self.conjunction()
        while self.accept("OR"):
            left = BinOp("OR", left, self.conjunction())
        return left

    def conjunction(self):
        left = self.negation()
        while self.accept("AND"):
            left = BinOp("AND", left, self.negation())
        return left

    def negation(self):
        if self.accept("NOT"):
            return Unary("NOT", self.negation())
        return self.comparison()

    def comparison(self):
        left = self.additive()
        if self.accept("IS"):
            negated = self.accept("NOT")
            self.expect("NULL")
            return IsNull(left, negated)
        if self.tok.kind == "op" and self.tok.value in ("=", "<>", "!=", "<", "<=", ">", ">="):
            op = self.take().value
            return BinOp("<>" if op == "!=" else op, left, self.additive())
        return left

    def additive(self):
        left = self.multiplicative()
        while self.tok.kind == "op" and self.tok.value in "+-":
            left = BinOp(self.take().value, left, self.multiplicative())
        return left

    def multiplicative(self):
        left = self.unary()
        while self.tok.kind == "op" and self.tok.value in ("*", "/", "%"):
            left = BinOp(self.take().value, left, self.unary())
        return left

    def unary(self):
        if self.tok.kind == "op" and self.tok.value == "-":
            self.take()
            operand = self.unary()
            if isinstance(operand, Lit) and operand.type in _NUMERIC_RANK:
                return Lit(-operand.value, operand.type)
            return Unary("-", operand)
        return self.primary()

    def primary(self):
        t = self.tok
        if t.kind == "op" and t.value == "(":
            self.take()
            e = self.expression()
            self.expect(")")
            return e
        if t.kind == "string":
            self.take()
            return Lit(t.value, "VARCHAR")
        if t.kind == "number":
            self.take()
            if re.fullmatch(r"\d+", t.value):
                n = int(t.value)
                return Lit(n, "INT" if n < 2**31 else "BIGINT")
            return Lit(float(t.value), "DOUBLE")
        if t.upper in ("TRUE", "FALSE"):
            self.take()
            return Lit(t.upper == "TRUE", "BOOLEAN")
        if t.upper == "NULL":
            self.take()
            return Lit(None, "NULL")
        if t.upper == "CASE":
            return self.case()
        if t.upper == "CAST" and self.tokens[self.i + 1].value == "(":
            self.i += 2
            e = self.expression()
            self.expect("AS")
            word = self.take()
            if word.upper not in SQL_TYPES:
                raise KsqlSyntaxError(f"CAST to {word.value!r}: not a type this checker reads")
            self.expect(")")
            return Cast(e, SQL_TYPES[word.upper])
        if t.kind in ("word", "quoted"):
            name = self.identifier()
            if t.kind == "word" and self.tok.value == "(":
                self.take()
                if self.accept("*"):
                    self.expect(")")
                    return Func(name, (), star=True)
                args = () if self.at(")") else tuple(self.expression_list())
                self.expect(")")
                return Func(name, args)
            if self.tok.value == "." and self.tokens[self.i + 1].kind in ("word", "quoted"):
                self.take()
                return Col(name, self.identifier())
            return Col(None, name)
        self.error("an expression")

    def case(self):
        self.expect("CASE")
        whens = []
        while self.accept("WHEN"):
            cond = self.expression()
            self.expect("THEN")
            whens.append((cond, self.expression()))
        default = self.expression() if self.accept("ELSE") else None
        self.expect("END")
        if not whens:
            self.error("WHEN")
        return Case(tuple(whens), default)


_CLAUSE_WORDS = {"INNER", "LEFT", "RIGHT", "FULL", "JOIN", "WINDOW", "WHERE", "GROUP", "PARTITION", "HAVING",
                 "EMIT", "ON", "WITHIN"}


def parse(text: str) -> Parsed:
    """The statement `text` (one CREATE statement), or KsqlSyntaxError."""
    return _Parser(text).statement()


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
    statement: object = None  # the ksqldb.Statement that created it
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
    """A query's clauses with every column qualified (ksqlrun.py runs them)."""

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
    """Check `statements` (ksqldb.Statement, or plain text) in order. `partitions`: the partition
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
            if lt not in _NUMERIC_RANK or rt not in _NUMERIC_RANK:
                raise _Refused("functions", f"arithmetic on {lt} and {rt}: {expr}")
            by_zero = expr.op in ("/", "%") and not (isinstance(expr.right, Lit) and expr.right.value)
            return max(lt, rt, key=_NUMERIC_RANK.get), ln or rn or by_zero  # x / 0 is NULL
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
            need(tuple(_NUMERIC_RANK))
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
            need(tuple(_NUMERIC_RANK))
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
