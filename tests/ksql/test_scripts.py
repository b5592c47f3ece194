"""The ksqlDB scripts against the schema module: topics, fields, formats, functions, statements.

No ksqlDB server can run here; what can be checked without one is checked: every statement is
idempotent, names only topics of streamcity/schemas.py (or its own internal ones), reads only
fields the schemas define, and writes exactly the fields the consumers decode.
"""

import re
import shutil
import subprocess

import msgspec
import pytest

from alerts.detection import ksqldb
from alerts.detection.keys import key_time
from streamcity.schemas import ALERT_TOPICS, LIVE_VEHICLES, TOPICS, utc

from ..alerts.detection_scenarios import at

PREFIX = "pfx."
VARIABLES = {"prefix": PREFIX, "grace_seconds": 30, "surge_window_seconds": 300, "surge_threshold": 60, "late_seconds": 300}
TS_FORMAT = "yyyy-MM-dd''T''HH:mm:ss[.SSSSSS]X"
KEY_COLUMNS = {"record_key", "vehicle_key"}  # the Kafka record key of a sink; not part of the value
# Built-in functions of ksqlDB 0.29 the scripts may use (docs: reference/sql/functions). A name not
# listed here is a function ksqlDB does not have (the seed scripts called a GEOHASH that does not exist).
KSQL_FUNCTIONS = {"AS_VALUE", "CAST", "COALESCE", "CONCAT", "COUNT", "LATEST_BY_OFFSET", "MAX", "MIN",
                  "STRINGTOTIMESTAMP", "SUBSTRING", "TIMESTAMPTOSTRING"}
SQL_WORDS = {"AS", "AND", "OR", "NOT", "ON", "IN", "IS", "WITH", "EXISTS", "TUMBLING", "VALUES", "BY", "KEY", "END"}


@pytest.fixture(scope="module")
def stmts():
    return ksqldb.statements(VARIABLES)


def topic_of(text):
    m = re.search(r"KAFKA_TOPIC\s*=\s*'([^']+)'", text)
    return m.group(1) if m else None


def source_columns(text):
    """(name, type, is_key) of a CREATE with a column list."""
    body = text[text.index("(") + 1: text.index(") WITH")]
    cols = []
    for line in body.split(","):
        m = re.match(r"\s*`([a-z_]+)`\s+([A-Z]+)(\s+(PRIMARY\s+)?KEY)?", line)
        assert m, line
        cols.append((m.group(1), m.group(2), bool(m.group(3))))
    return cols


def projection_aliases(text):
    select = text[text.index(" AS SELECT") + len(" AS SELECT"): text.index("\nFROM ")]
    return re.findall(r"AS `([a-z_]+)`,?\s*$", select, re.M)


def test_every_statement_is_idempotent(stmts):
    assert len(stmts) >= 12
    for s in stmts:
        assert re.match(r"CREATE (OR REPLACE )?(STREAM|TABLE) IF NOT EXISTS sc_[a-z_]+ ", s.text), s


def test_every_variable_has_a_value_and_none_is_left(stmts):
    assert not any("${" in s.text for s in stmts)
    with pytest.raises(KeyError, match="surge_threshold"):
        ksqldb.statements({k: v for k, v in VARIABLES.items() if k != "surge_threshold"})


def test_only_the_schema_topics_and_internal_ones_are_named(stmts):
    named = {topic_of(s.text) for s in stmts}
    assert all(t.startswith(PREFIX) for t in named)
    schema_topics = {t[len(PREFIX):] for t in named if not t[len(PREFIX):].startswith("streamcity_ksql_")}
    assert schema_topics <= set(TOPICS)
    assert schema_topics == {"vehicle_locations", "rider_tapped_on", "traffic_incidents", "stop_schedule",
                             "live_vehicles", "surge_alerts", "delay_alerts", "breakdown_alerts"}


KSQL_TYPES = {"VARCHAR": (str,), "DOUBLE": (float, int), "INT": (int,), "BIGINT": (int,)}


def field_types(schema):
    hints = msgspec.inspect.type_info(schema)
    return {f.name: f for f in hints.fields}


def test_source_columns_are_fields_of_their_schema(stmts):
    checked = 0
    for s in stmts:
        topic = topic_of(s.text)[len(PREFIX):]
        if topic not in TOPICS or " AS SELECT" in s.text:
            continue
        fields = field_types(TOPICS[topic].schema)
        for name, ktype, is_key in source_columns(s.text):
            if is_key:
                continue
            assert name in fields, f"{s}: {name} is not a field of {TOPICS[topic].schema.__name__}"
            info = fields[name].type
            if isinstance(info, msgspec.inspect.UnionType):  # X | None
                info = next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType))
            py = {msgspec.inspect.StrType: "VARCHAR", msgspec.inspect.FloatType: "DOUBLE", msgspec.inspect.IntType: "INT",
                  msgspec.inspect.DateTimeType: "VARCHAR", msgspec.inspect.DateType: "VARCHAR",
                  msgspec.inspect.LiteralType: "VARCHAR"}[type(info)]
            assert ktype == py, f"{s}: {name} is {ktype}, the schema has {py}"
        checked += 1
    assert checked == 4


def sample(field):
    info = field.type
    if isinstance(info, msgspec.inspect.UnionType):
        info = next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType))
    if isinstance(info, msgspec.inspect.LiteralType):
        return info.values[0]
    return {msgspec.inspect.StrType: "x", msgspec.inspect.FloatType: 1.0, msgspec.inspect.IntType: 1,
            msgspec.inspect.DateTimeType: "2026-11-27T08:30:00.123Z", msgspec.inspect.DateType: "2026-11-27"}[type(info)]


@pytest.mark.parametrize("topic", [LIVE_VEHICLES.name, "surge_alerts", "delay_alerts", "breakdown_alerts"])
def test_each_sink_writes_exactly_fields_its_consumers_decode(stmts, topic):
    [sink] = [s for s in stmts if topic_of(s.text) == PREFIX + topic]
    schema = TOPICS[topic].schema
    fields = field_types(schema)
    written = [a for a in projection_aliases(sink.text) if a not in KEY_COLUMNS]
    assert len(written) == len(set(written))
    assert set(written) <= set(fields), set(written) - set(fields)
    required = {f.name for f in fields.values() if f.required}
    assert required <= set(written), required - set(written)
    # a record with these fields (as JSON) decodes as the topic's payload
    msgspec.json.decode(msgspec.json.encode({name: sample(fields[name]) for name in written}), type=schema)


def test_bunching_and_silent_vehicles_are_left_to_the_built_in_processors(stmts):
    sinks = {topic_of(s.text)[len(PREFIX):] for s in stmts if " AS SELECT" in s.text}
    assert {t.name for t in ALERT_TOPICS} - sinks == {"bunching_alerts", "silent_vehicle_alerts", "service_alerts"}


def test_only_functions_ksqldb_has_are_called(stmts):
    for s in stmts:
        code = re.sub(r"'(?:[^']|'')*'", "''", s.text)  # no string literals
        called = set(re.findall(r"\b([A-Z_]{2,})\s*\(", code)) - SQL_WORDS
        assert called <= KSQL_FUNCTIONS, f"{s}: {called - KSQL_FUNCTIONS}"


def test_event_time_is_the_timestamp_field_in_msgspec_format(stmts):
    for s in stmts:
        if "TIMESTAMP = " in s.text:
            assert "TIMESTAMP = '`timestamp`'" in s.text and f"TIMESTAMP_FORMAT = '{TS_FORMAT}'" in s.text


def test_alert_keys_are_built_like_the_built_in_processors(stmts):
    text = "\n".join(s.text for s in stmts)
    assert "CONCAT('surge:', `stop_id`, ':', TIMESTAMPTOSTRING(`window_start_ms`, 'yyyy-MM-dd''T''HH:mm:ss''Z''', 'UTC'))" in text
    assert key_time(at(1500)) == "2026-11-27T08:25:00Z"  # what that format gives
    assert "CONCAT('delay:', `trip_id`, ':', `vehicle_id`)" in text
    assert "CONCAT('breakdown:', `vehicle_id`, ':', `episode`)" in text


@pytest.mark.skipif(not shutil.which("java"), reason="no Java to check the formats with java.time")
def test_the_timestamp_format_parses_what_msgspec_writes(tmp_path):
    """ksqlDB parses TIMESTAMP_FORMAT with java.time.DateTimeFormatter: try it on our encoder's output."""
    stamps = [msgspec.json.decode(encode_ts(ts)) for ts in (utc(at(1.123)), utc(at(60)))]
    assert stamps == ["2026-11-27T08:00:01.123000Z", "2026-11-27T08:01:00Z"]
    src = tmp_path / "Check.java"
    pattern = TS_FORMAT.replace("''", "'")
    src.write_text(
        "import java.time.*; import java.time.format.*;\n"
        "public class Check { public static void main(String[] a) {\n"
        f"  DateTimeFormatter f = DateTimeFormatter.ofPattern(\"{pattern}\");\n"
        "  for (String s : a) System.out.println(ZonedDateTime.parse(s, f).toInstant().toEpochMilli());\n"
        "  System.out.println(DateTimeFormatter.ofPattern(\"yyyy-MM-dd'T'HH:mm:ss'Z'\").withZone(ZoneId.of(\"UTC\"))"
        ".format(Instant.ofEpochMilli(Long.parseLong(\"1795767900000\"))));\n"
        "}}\n"
    )
    out = subprocess.run(["java", str(src), *stamps], capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert [int(x) for x in out[:2]] == [int(utc(at(1.123)).timestamp() * 1000), int(at(60).timestamp() * 1000)]
    assert out[2] == key_time(at(1500))  # the alert key's time, as ksqlDB writes it


def encode_ts(ts):
    return msgspec.json.encode(ts)


def test_the_statement_splitter_respects_quotes_and_comments():
    text = "-- a comment; with a semicolon\nCREATE STREAM a (`x;y` VARCHAR) WITH (F='it''s; fine');\nDROP STREAM b;"
    assert ksqldb.split_statements(text) == ["CREATE STREAM a (`x;y` VARCHAR) WITH (F='it''s; fine');", "DROP STREAM b;"]
    with pytest.raises(ValueError, match="without a closing semicolon"):
        ksqldb.split_statements("CREATE STREAM a")

