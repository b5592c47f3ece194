"""The static checker of the ksqlDB scripts (alerts/ksql/planner.py): each planner rule of
ksqlDB 0.29 it checks, fed a statement ksqlDB refuses (the broken forms of issue 18 where there is
one), and the scripts in ksql/ passing them all."""

import re

import pytest
from django.core.management import CommandError, call_command

from alerts.ksql import planner, scripts

PREFIX = "pfx."
VARIABLES = {"prefix": PREFIX, "grace_seconds": 30, "surge_window_seconds": 300, "surge_threshold": 60,
             "late_seconds": 300}


@pytest.fixture(scope="module")
def stmts():
    return scripts.statements(VARIABLES)


@pytest.fixture(scope="module")
def sources_sql(stmts):
    """The four CREATE statements over StreamCity's topics (010_sources.sql)."""
    return [s.text for s in stmts if s.script == "010_sources.sql"]


def problems(texts, partitions=6, **counts):
    topics = {PREFIX + t: partitions for t in ("vehicle_locations", "rider_tapped_on", "traffic_incidents",
                                                "stop_schedule")}
    topics.update({PREFIX + t: n for t, n in counts.items()})
    return planner.check(texts, topics).problems


def only(found, check):
    assert [p.check for p in found] == [check], found
    return found[0].message


# -- the scripts ---------------------------------------------------------------------------------

def test_every_script_statement_passes_every_check(stmts):
    result = scripts.check_scripts(stmts, VARIABLES)
    assert result.problems == []
    assert len(result.sources) == len(stmts) == 15


def test_the_command_checks_without_a_server(settings, capsys):
    settings.KSQLDB_URL = ""
    call_command("ksql", "check")
    assert "15 statements pass the ksqlDB 0.29 checks" in capsys.readouterr().out


def test_apply_refuses_scripts_that_break_a_rule_before_contacting_a_server(tmp_path, settings):
    settings.KSQLDB_URL = "http://127.0.0.1:9"  # nothing listens: apply must not get that far
    (tmp_path / "010_sources.sql").write_text((scripts.SCRIPTS_DIR / "010_sources.sql").read_text())
    (tmp_path / "020_bad.sql").write_text(JOIN_KEY_AS_EXPRESSION)
    with pytest.raises(CommandError) as err:
        call_command("ksql", "apply", "--scripts", str(tmp_path))
    assert "nothing was sent" in str(err.value) and "[join-key]" in str(err.value)
    assert "cannot reach" not in str(err.value)


# -- join-key ------------------------------------------------------------------------------------

# 020 as issue 18 found it: the key expression selected under the table key's name.
JOIN_KEY_AS_EXPRESSION = """CREATE STREAM IF NOT EXISTS sc_vehicle_progress WITH (
    KAFKA_TOPIC = '${prefix}streamcity_ksql_vehicle_progress', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON'
) AS SELECT
    CONCAT(COALESCE(v.`trip_id`, '-'), ':', COALESCE(CAST(v.`stop_sequence` AS VARCHAR), '-')) AS `schedule_key`,
    v.`vehicle_id` AS `vehicle_id`,
    s.`stop_id` AS `scheduled_stop_id`
FROM sc_vehicle_locations v
LEFT JOIN sc_stop_schedule s
    ON CONCAT(COALESCE(v.`trip_id`, '-'), ':', COALESCE(CAST(v.`stop_sequence` AS VARCHAR), '-')) = s.`schedule_key`
EMIT CHANGES;"""


def test_join_key_must_be_projected_as_the_plain_column(sources_sql):
    message = only(problems([*sources_sql, JOIN_KEY_AS_EXPRESSION.replace("${prefix}", PREFIX)]), "join-key")
    assert "S.`schedule_key`" in message
    fixed = JOIN_KEY_AS_EXPRESSION.replace(
        "CONCAT(COALESCE(v.`trip_id`, '-'), ':', COALESCE(CAST(v.`stop_sequence` AS VARCHAR), '-')) AS `schedule_key`",
        "s.`schedule_key` AS `schedule_key`", 1)
    assert problems([*sources_sql, fixed.replace("${prefix}", PREFIX)]) == []


def test_a_join_on_two_columns_accepts_either_side_as_the_key():
    texts = ["CREATE STREAM a (`k` VARCHAR KEY, `x` INT) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON', PARTITIONS=2);",
             "CREATE TABLE b (`k` VARCHAR PRIMARY KEY, `y` INT) "
             "WITH (KAFKA_TOPIC='b', VALUE_FORMAT='JSON', PARTITIONS=2);"]
    good = "CREATE STREAM c AS SELECT a.`k` AS `k`, b.`y` FROM a JOIN b ON a.`k` = b.`k` EMIT CHANGES;"
    assert problems([*texts, good]) == []
    bad = "CREATE STREAM c AS SELECT a.`x`, b.`y` FROM a JOIN b ON a.`k` = b.`k` EMIT CHANGES;"
    assert "A.`k` or B.`k`" in only(problems([*texts, bad]), "join-key")


# -- key-once ------------------------------------------------------------------------------------

# 050 as issue 18 found it: the PARTITION BY expression selected twice.
KEY_TWICE = """CREATE STREAM IF NOT EXISTS sc_breakdown_alerts WITH (
    KAFKA_TOPIC = 'pfx.breakdown_alerts', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON'
) AS SELECT
    CONCAT('breakdown:', `vehicle_id`, ':', `status`) AS `record_key`,
    CONCAT('breakdown:', `vehicle_id`, ':', `status`) AS `alert_key`,
    'open' AS `state`
FROM sc_vehicle_locations
PARTITION BY CONCAT('breakdown:', `vehicle_id`, ':', `status`)
EMIT CHANGES;"""


def test_a_key_expression_is_projected_once(sources_sql):
    message = only(problems([*sources_sql, KEY_TWICE]), "key-once")
    assert "more than once, aliased as: alert_key and record_key" in message
    fixed = KEY_TWICE.replace("CONCAT('breakdown:', `vehicle_id`, ':', `status`) AS `alert_key`",
                              "AS_VALUE(CONCAT('breakdown:', `vehicle_id`, ':', `status`)) AS `alert_key`")
    assert problems([*sources_sql, fixed]) == []


def test_a_group_by_key_left_out_of_the_projection_is_refused(sources_sql):
    text = ("CREATE TABLE t AS SELECT COUNT(*) AS `n` FROM sc_rider_tapped_on GROUP BY `stop_id` EMIT CHANGES;")
    assert "key missing from the projection" in only(problems([*sources_sql, text]), "key-once")


def test_a_table_needs_a_primary_key():
    text = "CREATE TABLE t (`a` VARCHAR) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');"
    only(problems([text]), "key-once")


# -- windowed-repartition ------------------------------------------------------------------------

WINDOWED = """CREATE TABLE IF NOT EXISTS sc_surge_counts WITH (KAFKA_TOPIC = 'pfx.counts', VALUE_FORMAT = 'JSON') AS
SELECT `stop_id`, COUNT(*) AS `tap_count`, WINDOWSTART AS `window_start_ms`
FROM sc_rider_tapped_on WINDOW TUMBLING (SIZE 300 SECONDS, GRACE PERIOD 30 SECONDS)
GROUP BY `stop_id` EMIT CHANGES;"""
# 030 as issue 18 found it: the windowed changelog, declared windowed, then repartitioned.
WINDOWED_CHANGES = """CREATE STREAM IF NOT EXISTS sc_surge_changes (
    `stop_id` VARCHAR KEY, `tap_count` BIGINT, `window_start_ms` BIGINT
) WITH (KAFKA_TOPIC = 'pfx.counts', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON',
        WINDOW_TYPE = 'TUMBLING', WINDOW_SIZE = '300 SECONDS');"""
SURGE_ALERTS = """CREATE STREAM IF NOT EXISTS sc_surge_alerts
WITH (KAFKA_TOPIC = 'pfx.surge_alerts', VALUE_FORMAT = 'JSON') AS SELECT
    CONCAT('surge:', `stop_id`, ':', TIMESTAMPTOSTRING(`window_start_ms`, 'yyyy-MM-dd''T''HH:mm:ss''Z''', 'UTC'))
        AS `record_key`,
    `tap_count` AS `tap_count`
FROM sc_surge_changes
PARTITION BY CONCAT('surge:', `stop_id`, ':',
                    TIMESTAMPTOSTRING(`window_start_ms`, 'yyyy-MM-dd''T''HH:mm:ss''Z''', 'UTC'))
EMIT CHANGES;"""


def test_partition_by_on_a_windowed_source_is_refused(sources_sql):
    message = only(problems([*sources_sql, WINDOWED, WINDOWED_CHANGES, SURGE_ALERTS]), "windowed-repartition")
    assert "implicit repartitioning of windowed sources is not supported" in message
    unwindowed = WINDOWED_CHANGES.replace("`stop_id` VARCHAR KEY", "`stop_id` VARCHAR").replace(
        ",\n        WINDOW_TYPE = 'TUMBLING', WINDOW_SIZE = '300 SECONDS'", "").replace("KEY_FORMAT = 'KAFKA', ", "")
    assert problems([*sources_sql, WINDOWED, unwindowed, SURGE_ALERTS]) == []


def test_group_by_on_a_windowed_source_is_refused(sources_sql):
    regroup = ("CREATE TABLE per_count AS SELECT `tap_count`, COUNT(*) AS `stops` FROM sc_surge_changes "
               "GROUP BY `tap_count` EMIT CHANGES;")
    message = only(problems([*sources_sql, WINDOWED, WINDOWED_CHANGES, regroup]), "windowed-repartition")
    assert message.startswith("GROUP BY")


def test_no_persistent_query_reads_a_windowed_table(sources_sql):
    text = "CREATE TABLE again AS SELECT `stop_id`, `tap_count` FROM sc_surge_counts EMIT CHANGES;"
    only(problems([*sources_sql, WINDOWED, text]), "windowed-repartition")


# -- co-partition --------------------------------------------------------------------------------

def _fixed_join():
    return JOIN_KEY_AS_EXPRESSION.replace("${prefix}", PREFIX).replace(
        "CONCAT(COALESCE(v.`trip_id`, '-'), ':', COALESCE(CAST(v.`stop_sequence` AS VARCHAR), '-')) AS `schedule_key`",
        "s.`schedule_key` AS `schedule_key`", 1)


def test_join_sources_need_one_partition_count(sources_sql):
    message = only(problems([*sources_sql, _fixed_join()], stop_schedule=3), "co-partition")
    assert "SC_VEHICLE_LOCATIONS has 6 partitions, SC_STOP_SCHEDULE 3" in message


def test_join_sources_of_unknown_partition_count_are_refused():
    texts = ["CREATE STREAM a (`k` VARCHAR KEY) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');",
             "CREATE TABLE b (`k` VARCHAR PRIMARY KEY, `y` INT) WITH (KAFKA_TOPIC='b', VALUE_FORMAT='JSON');",
             "CREATE STREAM c AS SELECT a.`k`, b.`y` FROM a JOIN b ON a.`k` = b.`k` EMIT CHANGES;"]
    assert "unknown" in only(planner.check(texts).problems, "co-partition")


def test_a_table_is_joined_on_its_primary_key(sources_sql):
    text = _fixed_join().replace("= s.`schedule_key`", "= s.`stop_id`")
    assert "must be joined on its PRIMARY KEY (schedule_key)" in only(problems([*sources_sql, text]), "co-partition")


def test_join_expressions_have_one_type(sources_sql):
    text = _fixed_join().replace(
        "ON CONCAT(COALESCE(v.`trip_id`, '-'), ':', COALESCE(CAST(v.`stop_sequence` AS VARCHAR), '-'))",
        "ON v.`stop_sequence`")
    assert "different types" in only(problems([*sources_sql, text]), "co-partition")


# -- functions -----------------------------------------------------------------------------------

def test_only_ksqldb_functions(sources_sql):
    text = ("CREATE STREAM g AS SELECT `vehicle_key`, GEOHASH(`latitude`, `longitude`, 7) AS `cell` "
            "FROM sc_vehicle_locations EMIT CHANGES;")
    assert "GEOHASH is not a function of ksqlDB 0.29" in only(problems([*sources_sql, text]), "functions")


def test_aggregates_only_with_group_by(sources_sql):
    text = "CREATE STREAM g AS SELECT `vehicle_key`, MAX(`speed`) AS `top` FROM sc_vehicle_locations EMIT CHANGES;"
    assert "without GROUP BY" in only(problems([*sources_sql, text]), "functions")


def test_function_arguments_have_the_types_ksqldb_takes(sources_sql):
    text = ("CREATE STREAM g AS SELECT `vehicle_key`, CONCAT('at ', `stop_sequence`) AS `where` "
            "FROM sc_vehicle_locations EMIT CHANGES;")
    assert "CONCAT takes strings" in only(problems([*sources_sql, text]), "functions")


def test_the_function_list_has_what_the_scripts_and_the_docs_name():
    assert {"AS_VALUE", "LATEST_BY_OFFSET", "TIMESTAMPTOSTRING", "STRINGTOTIMESTAMP", "COUNT"} <= \
        planner.KSQLDB_FUNCTIONS
    assert "GEOHASH" not in planner.KSQLDB_FUNCTIONS and "GEO_DISTANCE" in planner.KSQLDB_FUNCTIONS


# -- references ----------------------------------------------------------------------------------

def test_sources_are_created_before_they_are_read(stmts):
    texts = [s.text for s in stmts]
    live = next(i for i, s in enumerate(stmts) if s.created == ("TABLE", "sc_live_vehicles"))
    swapped = texts[:live - 1] + [texts[live], texts[live - 1]] + texts[live + 1:]
    found = problems(swapped)
    assert found[0].check == "references" and "SC_VEHICLE_PROGRESS does not exist" in found[0].message


def test_columns_exist_in_their_source(sources_sql):
    text = "CREATE STREAM g AS SELECT `vehicle_key`, `altitude` FROM sc_vehicle_locations EMIT CHANGES;"
    assert "`altitude` is not in SC_VEHICLE_LOCATIONS" in only(problems([*sources_sql, text]), "references")


def test_a_name_created_twice_is_refused(sources_sql):
    assert "created twice" in only(problems([*sources_sql, sources_sql[0]]), "references")


# -- grammar -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "CREATE STREAM s AS SELECT FROM x EMIT CHANGES;",
    "CREATE STREAM s (`a` VARCHAR KEY) WITH (KAFKA_TOPIC='t') AS SELECT 1 FROM x EMIT CHANGES; extra",
    "CREATE VIEW v AS SELECT 1 FROM x;",
    "CREATE STREAM s (`a` GEOMETRY) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');",
])
def test_statements_outside_the_grammar_are_refused(text):
    only(problems([text]), "grammar")


def test_the_parser_reads_quoted_names_case_and_escaped_quotes():
    parsed = planner.parse("CREATE STREAM Low (`MiXed` VARCHAR KEY, plain INT) WITH (KAFKA_TOPIC='it''s');")
    assert parsed.name == "LOW" and [c.name for c in parsed.columns] == ["MiXed", "PLAIN"]
    assert parsed.properties["KAFKA_TOPIC"] == "it's"


def test_a_none_key_format_with_key_columns_is_refused():
    text = "CREATE STREAM s (`k` VARCHAR KEY, `v` INT) WITH (KAFKA_TOPIC='t', KEY_FORMAT='NONE', VALUE_FORMAT='JSON');"
    assert "NONE" in only(problems([text]), "grammar")


# -- group-by ------------------------------------------------------------------------------------

@pytest.mark.parametrize("item", [
    "`latitude`",  # a column neither grouped nor aggregated
    "`speed` * MAX(`speed`) AS `x`",  # half aggregated (ksqlDB's group-by.json: f1 * SUM(f2))
    "ROWTIME AS `t`",
    "AS_VALUE(`route_id`) AS `r`",  # as group-by.json's AS_VALUE(col1) under GROUP BY col1['foo']
])
def test_non_aggregate_columns_must_be_grouped(sources_sql, item):
    text = (f"CREATE TABLE t AS SELECT `vehicle_id`, {item}, COUNT(*) AS `n` FROM sc_vehicle_locations "
            "GROUP BY `vehicle_id` EMIT CHANGES;")
    assert "not part of GROUP BY" in only(problems([*sources_sql, text]), "group-by")


def test_grouped_columns_window_bounds_and_aggregates_may_be_selected(sources_sql):
    text = ("CREATE TABLE t AS SELECT `vehicle_id` AS `k`, AS_VALUE(`vehicle_id`) AS `vehicle_id`, "
            "CONCAT(`vehicle_id`, '!') AS `shout`, WINDOWSTART AS `ws`, MAX(`speed`) * 2 AS `top` "
            "FROM sc_vehicle_locations WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY `vehicle_id` EMIT CHANGES;")
    assert problems([*sources_sql, text]) == []


def test_the_scripts_as_issue_18_found_them_break_the_four_rules_it_names(stmts):
    """The fixes undone on today's scripts: the checker finds the four rejections of issue 18."""
    texts = []
    for s in stmts:
        text = s.text.replace("s.`schedule_key` AS `schedule_key`", JOIN_KEY_EXPRESSION + " AS `schedule_key`")
        text = re.sub(r"AS_VALUE\((CONCAT\(.*?\))\) AS `alert_key`", r"\1 AS `alert_key`", text, flags=re.S)
        text = text.replace("    `stop_id` VARCHAR,\n    `tap_count` BIGINT",
                            "    `stop_id` VARCHAR KEY,\n    `tap_count` BIGINT")
        text = text.replace("KEY_FORMAT = 'NONE', VALUE_FORMAT = 'JSON'",
                            "KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON', WINDOW_TYPE = 'TUMBLING', "
                            "WINDOW_SIZE = '300 SECONDS'")
        texts.append(text)
    found = [(p.check, p.statement.split("\n")[0]) for p in problems(texts) if p.check != "references"]
    assert found == [("join-key", "CREATE STREAM IF NOT EXISTS sc_vehicle_progress WITH ("),
                     ("windowed-repartition", "CREATE STREAM IF NOT EXISTS sc_surge_alerts WITH ("),
                     ("key-once", "CREATE STREAM IF NOT EXISTS sc_delay_alerts WITH ("),
                     ("key-once", "CREATE STREAM IF NOT EXISTS sc_breakdown_alerts WITH (")]


JOIN_KEY_EXPRESSION = "CONCAT(COALESCE(v.`trip_id`, '-'), ':', COALESCE(CAST(v.`stop_sequence` AS VARCHAR), '-'))"


def test_several_key_columns_need_a_key_format_that_holds_them(sources_sql):
    declared = ("CREATE STREAM s (`a` VARCHAR KEY, `b` VARCHAR KEY, `v` INT) "
                "WITH (KAFKA_TOPIC='t', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');")
    assert "takes one key column" in only(problems([declared]), "key-once")
    grouped = ("CREATE TABLE t WITH (KEY_FORMAT='KAFKA') AS SELECT `vehicle_id`, `trip_id`, COUNT(*) AS `n` "
               "FROM sc_vehicle_locations GROUP BY `vehicle_id`, `trip_id` EMIT CHANGES;")
    assert "use KEY_FORMAT 'JSON'" in only(problems([*sources_sql, grouped]), "key-once")
    assert problems([*sources_sql, grouped.replace("'KAFKA'", "'JSON'")]) == []
