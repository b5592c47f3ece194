"""The ksqlDB scripts against the schema module: topics, source columns, event time, statements.

The planner rules are checked by the checker (test_check.py), what the scripts write by the schema
contract (test_contract.py); here: every statement is idempotent, names only topics of
streamcity/kernel/schemas.py (or its own internal ones), and declares the source columns and the event time
the producers write.
"""

import re
import shutil
import subprocess

import msgspec
import pytest

from alerts.detection.keys import key_time
from alerts.ksql import scripts
from streamcity.kernel.schemas import TOPICS, utc

from ..alerts.detection_scenarios import at

PREFIX = "pfx."
VARIABLES = {"prefix": PREFIX, "grace_seconds": 30, "surge_window_seconds": 300, "surge_threshold": 60,
             "late_seconds": 300}
TS_FORMAT = "yyyy-MM-dd''T''HH:mm:ss[.SSSSSS]X"


@pytest.fixture(scope="module")
def stmts():
    return scripts.statements(VARIABLES)


@pytest.fixture(scope="module")
def sources(stmts):
    return scripts.check_scripts(stmts, VARIABLES).sources


def test_every_statement_is_idempotent(stmts):
    assert len(stmts) >= 12
    for s in stmts:
        assert re.match(r"CREATE (OR REPLACE )?(STREAM|TABLE) IF NOT EXISTS sc_[a-z_]+ ", s.text), s


def test_every_variable_has_a_value_and_none_is_left(stmts):
    assert not any("${" in s.text for s in stmts)
    with pytest.raises(KeyError, match="surge_threshold"):
        scripts.statements({k: v for k, v in VARIABLES.items() if k != "surge_threshold"})


def test_only_the_schema_topics_and_internal_ones_are_named(sources):
    named = {s.topic for s in sources.values()}
    assert all(t.startswith(PREFIX) for t in named)
    schema_topics = {t[len(PREFIX):] for t in named if not t[len(PREFIX):].startswith("streamcity_ksql_")}
    assert schema_topics <= set(TOPICS)
    assert schema_topics == {"vehicle_locations", "rider_tapped_on", "traffic_incidents", "stop_schedule",
                             "live_vehicles", "surge_alerts", "delay_alerts", "breakdown_alerts"}


SQL_TYPE_OF = {msgspec.inspect.StrType: "VARCHAR", msgspec.inspect.FloatType: "DOUBLE", msgspec.inspect.IntType: "INT",
               msgspec.inspect.DateTimeType: "VARCHAR", msgspec.inspect.DateType: "VARCHAR",
               msgspec.inspect.LiteralType: "VARCHAR"}


def test_source_columns_are_fields_of_their_schema(sources):
    declared = [s for s in sources.values() if s.query is None and s.topic[len(PREFIX):] in TOPICS]
    assert len(declared) == 4
    for source in declared:
        schema = TOPICS[source.topic[len(PREFIX):]].schema
        fields = {f.name: f for f in msgspec.inspect.type_info(schema).fields}
        assert [(c.type, c.name in fields) for c in source.key] == [("VARCHAR", False)]  # the record key, a string
        for c in source.value:
            assert c.name in fields, f"{source.name}: {c.name} is not a field of {schema.__name__}"
            info = fields[c.name].type
            if isinstance(info, msgspec.inspect.UnionType):  # X | None
                info = next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType))
            assert c.type == SQL_TYPE_OF[type(info)], f"{source.name}: {c.name} is {c.type}, the schema has {info}"


def test_event_time_is_the_timestamp_field_in_msgspec_format(sources):
    timed = {s.name: s.plan.properties for s in sources.values() if "TIMESTAMP" in s.plan.properties}
    assert set(timed) == {"SC_VEHICLE_LOCATIONS", "SC_RIDER_TAPPED_ON", "SC_TRAFFIC_INCIDENTS"}
    for props in timed.values():
        assert props["TIMESTAMP"] == "`timestamp`" and props["TIMESTAMP_FORMAT"] == TS_FORMAT.replace("''", "'")


def test_the_model_of_the_timestamp_format_reads_what_msgspec_writes():
    """the dry run's reading of the pattern (the Java check below is the real one, where Java is)."""
    from alerts.ksql.dryrun import format_timestamp, parse_timestamp

    pattern = TS_FORMAT.replace("''", "'")
    for ts in (utc(at(1.123)), utc(at(60))):
        assert parse_timestamp(msgspec.json.decode(encode_ts(ts)), pattern) == int(ts.timestamp() * 1000)
    assert format_timestamp(int(at(1500).timestamp() * 1000), "yyyy-MM-dd'T'HH:mm:ss'Z'") == key_time(at(1500))
    assert format_timestamp(1795767900123, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "UTC") == "2026-11-27T08:25:00.123Z"


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
    out = subprocess.run(["java", str(src), *stamps], capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    assert [int(x) for x in out[:2]] == [int(utc(at(1.123)).timestamp() * 1000), int(at(60).timestamp() * 1000)]
    assert out[2] == key_time(at(1500))  # the alert key's time, as ksqlDB writes it


def encode_ts(ts):
    return msgspec.json.encode(ts)


def test_the_statement_splitter_respects_quotes_and_comments():
    text = "-- a comment; with a semicolon\nCREATE STREAM a (`x;y` VARCHAR) WITH (F='it''s; fine');\nDROP STREAM b;"
    assert scripts.split_statements(text) == ["CREATE STREAM a (`x;y` VARCHAR) WITH (F='it''s; fine');",
                                             "DROP STREAM b;"]
    with pytest.raises(ValueError, match="without a closing semicolon"):
        scripts.split_statements("CREATE STREAM a")

