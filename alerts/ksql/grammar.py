"""The subset of ksqlDB 0.29's grammar the scripts use: tokens, expressions, statements and the parser.

`parse(text)` reads one CREATE statement (CREATE STREAM/TABLE with columns, CREATE ... AS SELECT with one
JOIN, WINDOW, WHERE, GROUP BY, PARTITION BY) into a `Parsed`, or raises KsqlSyntaxError. The functions
ksqlDB 0.29 has and the SQL types it maps are here too; the planner rules are in planner.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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


SQL_TYPES = {"VARCHAR": "VARCHAR", "STRING": "VARCHAR", "INT": "INT", "INTEGER": "INT", "BIGINT": "BIGINT",
             "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN"}
JSON_TYPES = {"VARCHAR": "string", "INT": "integer", "BIGINT": "integer", "DOUBLE": "number", "BOOLEAN": "boolean"}
NUMERIC_RANK = {"INT": 0, "BIGINT": 1, "DOUBLE": 2}
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
            if isinstance(operand, Lit) and operand.type in NUMERIC_RANK:
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
