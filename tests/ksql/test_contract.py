"""The schema contract between the ksqlDB scripts and StreamCity's consumers, derived from the scripts.

Two ways, both from the checker's reading of the scripts (alerts/ksql/planner.py), nothing
written twice by hand:
- statically: each output topic's projection (column names, SQL types mapped to JSON types, which
  may be null, the key) against the msgspec schema its consumer decodes with;
- by running them: the simulator's records through the scripts' queries (alerts/ksql/dryrun.py)
  and every record they write decoded with streamcity.kernel.schemas.decode, as the alert consumer and the
  bridge decode, keys compared with the built-in processors' keys, then handed to the alert consumer
  and the bridge (into the database) as their Worker hands records over.
"""

import datetime as dt
import json
import shutil
import subprocess

import msgspec
import pytest

from alerts.detection.keys import alert_key, key_time
from alerts.ksql import dryrun, planner, scripts
from alerts.models import Alert
from alerts.streams import AlertSink, alert_feed
from simulators.engine import Simulation
from streamcity.kernel.bus import Decoded, Record
from streamcity.kernel.bus.memory import MemoryBus
from streamcity.kernel.schemas import (
    ALERT_TOPICS,
    BREAKDOWN_ALERTS,
    DELAY_ALERTS,
    LIVE_VEHICLES,
    RIDER_TAPPED_ON,
    STOP_SCHEDULE,
    SURGE_ALERTS,
    TOPICS,
    VEHICLE_LOCATIONS,
    decode,
)
from transit.models import VehicleState
from transit.streams import VehicleBridge, vehicle_frames

from ..simulators.conftest import WEEKDAY, city, city_feed  # noqa: F401 (fixtures)

PREFIX = "pfx."
SINKS = [LIVE_VEHICLES, SURGE_ALERTS, DELAY_ALERTS, BREAKDOWN_ALERTS]
# JSON type of a column -> the msgspec types a field may have to take it
ACCEPTS = {
    "string": (msgspec.inspect.StrType, msgspec.inspect.DateTimeType, msgspec.inspect.DateType,
               msgspec.inspect.LiteralType),
    "integer": (msgspec.inspect.IntType, msgspec.inspect.FloatType),
    "number": (msgspec.inspect.FloatType,),
    "boolean": (msgspec.inspect.BoolType,),
}


def checked(variables):
    result = scripts.check_scripts(scripts.statements(variables), variables)
    assert result.problems == []
    return result


@pytest.fixture(scope="module")
def result():
    return checked({"prefix": PREFIX, "grace_seconds": 30, "surge_window_seconds": 300, "surge_threshold": 60,
                    "late_seconds": 300})


def field_types(schema):
    """name -> (msgspec type info without None, whether None is allowed, required)."""
    out = {}
    for f in msgspec.inspect.type_info(schema).fields:
        t, nullable = f.type, False
        if isinstance(t, msgspec.inspect.UnionType):
            nullable = any(isinstance(x, msgspec.inspect.NoneType) for x in t.types)
            [t] = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        out[f.name] = (t, nullable, f.required)
    return out


# -- statically ----------------------------------------------------------------------------------

@pytest.mark.parametrize("topic", SINKS, ids=lambda t: t.name)
def test_each_output_projection_fits_its_consumers_schema(result, topic):
    sink = result.by_topic(PREFIX + topic.name)
    fields = field_types(topic.schema)
    # the key: one string, written raw (KAFKA format), equal to the value's key field
    [key] = sink.key
    assert (sink.key_format, key.type, key.json_type) == ("KAFKA", "VARCHAR", "string")
    [carrier] = [c for c in sink.value if c.name == topic.key_field]
    assert str(carrier.expr) == f"AS_VALUE({key.expr})", f"{topic.key_field} is not the record key's copy"
    # the value: fields of the schema, each of a JSON type the field takes, null only where allowed
    names = [c.name for c in sink.value]
    assert set(names) <= set(fields), set(names) - set(fields)
    assert {n for n, (_, _, required) in fields.items() if required} <= set(names)
    for c in sink.value:
        ftype, nullable, _ = fields[c.name]
        assert isinstance(ftype, ACCEPTS[c.json_type]), f"{c.name}: {c.type} ({c.json_type}) into {ftype}"
        assert nullable or not c.nullable, f"{c.name} may be null ({c.expr}); {topic.schema.__name__} refuses null"
    assert sink.value_format == "JSON"


def test_the_contract_check_sees_a_wrong_type_and_a_nullable_required_field(result):
    """What the static contract catches, on a broken copy of the breakdown alerts' projection."""
    texts = [s.statement.text for s in result.sources.values()]
    i = next(i for i, t in enumerate(texts) if "'reported' AS `reason`" in t)
    broken = checked_texts(texts[:i] + [texts[i].replace("4 AS `severity`", "'high' AS `severity`")
                                        .replace("`vehicle_id` AS `vehicle_id`", "`trip_id` AS `vehicle_id`")])
    sink = broken.by_topic(PREFIX + BREAKDOWN_ALERTS.name)
    fields = field_types(BREAKDOWN_ALERTS.schema)
    severity = next(c for c in sink.value if c.name == "severity")
    assert not isinstance(fields["severity"][0], ACCEPTS[severity.json_type])
    vehicle = next(c for c in sink.value if c.name == "vehicle_id")
    assert vehicle.nullable and not fields["vehicle_id"][1]


def checked_texts(texts):
    counts, non_null = scripts.topic_facts(PREFIX, 6)
    found = planner.check(texts, counts, non_null)
    assert found.problems == []
    return found


def test_every_alert_topic_the_scripts_leave_out_is_one_only_the_processors_make(result):
    written = {s.topic[len(PREFIX):] for s in result.sources.values() if s.query is not None}
    # bunching and silent vehicles come from the processors; service alerts from runrealtime (GTFS-RT)
    assert {t.name for t in ALERT_TOPICS} - written == {"bunching_alerts", "silent_vehicle_alerts", "service_alerts"}
    assert written & set(TOPICS) == {t.name for t in SINKS}


# -- by running them -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def emitted(city):  # noqa: F811
    """Every topic after the scripts ran over 20 simulated minutes of a lively city (low thresholds,
    so every kind of alert fires)."""
    variables = {"prefix": PREFIX, "grace_seconds": 30, "surge_window_seconds": 300, "surge_threshold": 12,
                 "late_seconds": 60}
    bus = MemoryBus(partitions=1, retention=10**7)
    sim = Simulation(city, seed=11, start=dt.time(7, 50), date=WEEKDAY, vehicles=12, breakdown_rate=2.0,
                     incident_rate=0.0, surge_rate=4.0, demand_scale=2.0)
    for _ in range(120):
        sim.publish(bus, sim.tick(10.0))
    inputs = {}
    with bus.consumer("contract", [STOP_SCHEDULE.name, VEHICLE_LOCATIONS.name, RIDER_TAPPED_ON.name]) as c:
        total = sum(sum(bus.end_offsets(t).values()) for t in (STOP_SCHEDULE.name, VEHICLE_LOCATIONS.name,
                                                                  RIDER_TAPPED_ON.name))
        got = []
        while len(got) < total:
            batch = c.consume(50_000, 0.5)
            assert batch, "the bus stopped short"
            got.extend(batch)
    for r in got:
        inputs.setdefault(PREFIX + r.topic, []).append(dryrun.Rec(r.key, json.loads(r.value), r.timestamp_ms))
    return dryrun.run(checked(variables), inputs)


@pytest.mark.parametrize("topic", SINKS, ids=lambda t: t.name)
def test_what_the_scripts_write_decodes_as_the_consumers_decode_it(emitted, topic):
    records = emitted.get(PREFIX + topic.name, [])
    assert len(records) >= 3, f"no {topic.name} to check: make the simulated city livelier"
    for r in records:
        event = decode(topic.schema, json.dumps(r.value).encode())  # the consumers' decoder
        assert isinstance(r.key, str) and r.key == getattr(event, topic.key_field)


def test_alert_keys_are_the_built_in_processors_keys(emitted):
    def events(topic):
        return [decode(topic.schema, json.dumps(r.value).encode()) for r in emitted[PREFIX + topic.name]]

    for e in events(SURGE_ALERTS):
        assert e.alert_key == alert_key("surge", e.stop_id, key_time(e.window_start))
        assert e.tap_count >= e.threshold == 12 and e.window_end - e.window_start == dt.timedelta(minutes=5)
    for e in events(DELAY_ALERTS):
        assert e.alert_key == alert_key("delay", e.trip_id, e.vehicle_id) and e.delay_seconds > 60
    for e in events(BREAKDOWN_ALERTS):
        assert e.alert_key == alert_key("breakdown", e.vehicle_id, e.trip_id or e.timestamp.date().isoformat())
        assert e.reason == "reported" and e.detected_at <= e.timestamp


def test_live_vehicles_carry_the_schedule_deviation(emitted):
    rows = [decode(LIVE_VEHICLES.schema, json.dumps(r.value).encode()) for r in emitted[PREFIX + LIVE_VEHICLES.name]]
    in_trip = [v for v in rows if v.trip_id is not None and v.stop_sequence is not None]
    assert in_trip and all(v.delay_seconds is not None for v in in_trip)  # the join found every schedule row
    assert max(abs(v.delay_seconds) for v in in_trip) < 3600


# -- into the consumers --------------------------------------------------------------------------

def decoded(emitted, topic):
    """The records ksqlDB would write to `topic`, as the consumers' Worker hands them over."""
    out = []
    for offset, r in enumerate(emitted[PREFIX + topic.name]):
        value = json.dumps(r.value).encode()
        out.append(Decoded(Record(topic.name, 0, offset, r.key, value, r.timestamp_ms), decode(topic.schema, value)))
    return out


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_the_alert_consumer_stores_every_alert_the_scripts_write(emitted):
    batch = [d for t in (SURGE_ALERTS, DELAY_ALERTS, BREAKDOWN_ALERTS) for d in decoded(emitted, t)]
    sink = AlertSink(alert_feed())
    for i in range(0, len(batch), 500):  # in the alert Worker's batches
        sink(batch[i:i + 500])
    keys = {(d.event.kind, d.event.alert_key) for d in batch}
    assert set(Alert.objects.values_list("kind", "alert_key")) == keys
    # a table's update that changes nothing the alert shows (a delay re-sent at each report at the
    # same stop) is a redelivery to the consumer: ignored, as the built-in processors' re-sends are
    seen, resent = set(), 0
    for d in batch:
        resent += d.record.value in seen
        seen.add(d.record.value)
    assert sink.created == len(keys) and sink.ignored == resent
    last = {d.event.alert_key: d.event for d in batch}  # updates (later tap counts) reach the rows
    for alert in Alert.objects.filter(kind="surge"):
        update = last[alert.alert_key]  # the row's text is in people's words (alerts.wording), from the last update
        assert f"{update.tap_count} taps" in alert.summary and alert.severity == update.severity


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_the_bridge_writes_the_live_vehicles_the_scripts_write(emitted):
    batch = decoded(emitted, LIVE_VEHICLES)
    bridge = VehicleBridge(vehicle_frames(), write_interval=0)
    bridge(batch)
    bridge.write()
    last = {d.event.vehicle_id: d.event for d in batch}
    rows = {v.vehicle_id: v for v in VehicleState.objects.all()}
    assert set(rows) == set(last)
    for vehicle_id, event in last.items():
        assert (rows[vehicle_id].delay_seconds, rows[vehicle_id].timestamp, rows[vehicle_id].stop_sequence) == \
            (event.delay_seconds, event.timestamp, event.stop_sequence)


@pytest.mark.skipif(not shutil.which("java"), reason="no Java to compare the model's java.time patterns with")
def test_the_models_time_patterns_agree_with_java_time(result, tmp_path):
    """Every TIMESTAMPTOSTRING / STRINGTOTIMESTAMP pattern of the scripts, formatted and parsed by
    java.time (what ksqlDB uses) and by the dry run (alerts.ksql.dryrun), on instants with and without milliseconds."""
    calls = {(f.name, f.args[1].value) for s in result.sources.values() for c in s.columns if c.expr is not None
             for f in planner.walk(c.expr) if isinstance(f, planner.Func)
             and f.name in ("TIMESTAMPTOSTRING", "STRINGTOTIMESTAMP")}
    formats = sorted(p for name, p in calls if name == "TIMESTAMPTOSTRING")
    parses = sorted(p for name, p in calls if name == "STRINGTOTIMESTAMP")
    assert formats and parses
    instants = [1795767900000, 1795767901123, 1795589400007]
    texts = ["2026-11-27T08:25:00Z", "2026-11-27T08:25:01.123000Z", "2026-11-25T06:50:00.007000Z"]  # msgspec's
    src = tmp_path / "Patterns.java"
    src.write_text(
        "import java.time.*; import java.time.format.*;\n"
        "public class Patterns { public static void main(String[] a) {\n"
        "  int nf = Integer.parseInt(a[0]), np = Integer.parseInt(a[1]), ni = Integer.parseInt(a[2]);\n"
        "  for (int f = 0; f < nf; f++) for (int i = 0; i < ni; i++) System.out.println("
        "DateTimeFormatter.ofPattern(a[3 + f]).withZone(ZoneId.of(\"UTC\"))"
        ".format(Instant.ofEpochMilli(Long.parseLong(a[3 + nf + np + i]))));\n"
        "  for (int p = 0; p < np; p++) for (int i = 0; i < ni; i++) System.out.println("
        "ZonedDateTime.parse(a[3 + nf + np + ni + i],"
        " DateTimeFormatter.ofPattern(a[3 + nf + p]).withZone(ZoneOffset.UTC))"
        ".toInstant().toEpochMilli());\n"
        "}}\n")
    args = [str(len(formats)), str(len(parses)), str(len(instants)), *formats, *parses, *map(str, instants), *texts]
    out = subprocess.run(["java", str(src), *args], capture_output=True, text=True, timeout=120,
                         check=True).stdout.split("\n")
    model = [dryrun.format_timestamp(ms, p, "UTC") for p in formats for ms in instants]
    model += [str(dryrun.parse_timestamp(t, p, "UTC")) for p in parses for t in texts]
    assert out[:len(model)] == model
