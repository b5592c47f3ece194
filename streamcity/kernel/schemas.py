"""Event schemas: the one definition of every topic's payload.

Every producer and consumer encodes and decodes through this module. Decoders are built
once per type; `decode()` validates types, required fields and ranges and raises
`SchemaError` with a reason a human can act on.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, ClassVar, Literal

import msgspec

SCHEMA_VERSION = 1

Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Bearing = Annotated[float, msgspec.Meta(ge=0, le=360)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
# Every string of a payload is bounded (a record cannot carry a megabyte in a field we store or
# show): an optional identifier as Identifier, free text at TEXT_LIMIT characters.
OptionalId = Annotated[str, msgspec.Meta(max_length=128)] | None
TEXT_LIMIT = 2000
Text = Annotated[str, msgspec.Meta(max_length=TEXT_LIMIT)]
# Nesting the decoder accepts: our payloads are flat objects; an unknown field (kept for forward
# compatibility) may hold a structure, but not one deeper than this. Checked before decoding, so the
# bound does not depend on how much of the interpreter's recursion limit the calling thread has left.
MAX_JSON_DEPTH = 32

VehicleType = Literal["bus", "tram", "rail", "ferry", "subway", "cable", "other"]
# in_service: on a trip, with a schedule deviation; layover: at the first stop of its next trip before
# that trip's departure (never early, late only once the departure is due); deadhead: driving empty
# to the start of its next trip; broken_down; out_of_service: done for the day or towed away.
VehicleStatus = Literal["in_service", "layover", "deadhead", "broken_down", "out_of_service"]
IncidentType = Literal["accident", "road_closure", "heavy_traffic"]
IncidentStatus = Literal["active", "cleared"]


class SchemaError(ValueError):
    """A record that does not match its topic's schema."""


class Event(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False, gc=False):
    """Base of every payload. `v` is the schema version, so consumers can refuse the unknown.

    Events hold scalars, strings and datetimes only, so they are not tracked by the garbage
    collector (gc=False): processors keep hundreds of thousands in their buffers, and full
    collections scanning them paused every thread of the pipeline (see docs/benchmarks.md).
    """

    v: int = SCHEMA_VERSION


class VehicleLocation(Event, frozen=True, kw_only=True):
    """An AVL report from a vehicle. Key: vehicle_id."""

    vehicle_id: Identifier
    vehicle_type: VehicleType
    route_id: OptionalId = None
    trip_id: OptionalId = None
    latitude: Latitude
    longitude: Longitude
    bearing: Bearing = 0.0
    speed: NonNegative = 0.0  # metres per second
    passenger_count: Count = 0
    capacity: Count = 0
    status: VehicleStatus = "in_service"
    stop_sequence: int | None = None  # last stop served on the trip
    next_stop_id: OptionalId = None
    timestamp: dt.datetime
    # The delay the operator's own system predicts at the next stop (GTFS-Realtime TripUpdates,
    # transit.realtime): when set, the processors take it instead of measuring one. Simulated
    # vehicles never set it (their lateness is derived from their stop progress).
    reported_delay_seconds: int | None = None
    # Riders at the last stop served who could not board because the vehicle was full (the simulator
    # knows; real AVL rarely does). Optional: records without it decode as 0.
    left_behind: Count = 0


class RiderTappedOn(Event, frozen=True, kw_only=True):
    """A rider's tap-on at a stop (or on board). Key: stop_id (co-partitions per-stop windows)."""

    event_id: Identifier
    rider_id: Identifier
    stop_id: Identifier
    vehicle_id: OptionalId = None
    route_id: OptionalId = None
    latitude: Latitude
    longitude: Longitude
    timestamp: dt.datetime
    # The station the stop belongs to (its parent station, else the stop itself), when the producer knows it:
    # a surge is counted per station, its platforms together.
    station_id: OptionalId = None
    # The taps per hour normal at this stop at this time (the simulator's demand model, surges left out),
    # when the producer knows it: the surge rule's baseline. Without it the rule learns one.
    expected_per_hour: NonNegative | None = None


class TrafficIncident(Event, frozen=True, kw_only=True):
    """A traffic incident and its lifecycle. Key: incident_id."""

    incident_id: Identifier
    type: IncidentType
    latitude: Latitude
    longitude: Longitude
    radius: NonNegative  # metres
    severity: Annotated[int, msgspec.Meta(ge=1, le=5)]
    description: Text = ""
    status: IncidentStatus = "active"
    timestamp: dt.datetime


class StopSchedule(Event, frozen=True, kw_only=True):
    """Scheduled arrival of one stop of one trip on the service day. Key: trip_id:stop_sequence."""

    trip_id: Identifier
    stop_sequence: int
    stop_id: Identifier
    route_id: OptionalId = None
    scheduled_arrival: dt.datetime
    service_date: dt.date
    scheduled_departure: dt.datetime | None = None  # when it differs from the arrival (a layover, a dwell)
    timepoint: bool = True  # False: the times here are approximate (GTFS timepoint=0), no one is early against them
    direction_id: Annotated[int, msgspec.Meta(ge=0, le=1)] | None = None  # GTFS direction_id, where known


class LiveVehicle(VehicleLocation, frozen=True, kw_only=True):
    """Latest state of a vehicle (compacted topic live_vehicles): its last report plus the schedule
    deviation the processors derived. Key: vehicle_id."""

    delay_seconds: int | None = None  # None until a schedule is known

    @classmethod
    def of(cls, report: VehicleLocation, *, delay_seconds: int | None) -> LiveVehicle:
        return cls(**msgspec.structs.asdict(report), delay_seconds=delay_seconds)


class StopEvent(Event, frozen=True, kw_only=True):
    """A vehicle's call at one stop of its trip, derived from its reports (topic stop_events), sent
    once its departure is seen (or the trip moved on without it). Key: vehicle_id.

    `trip_start` (the trip's first scheduled arrival) tells two runs of one trip_id apart;
    `arrival` is None when the vehicle was first seen already at the stop; `departure` is None
    at a trip's last stop and when the vehicle never left (a breakdown). `observed` is False for
    a stop passed between two reports (its times are interpolated from the schedule)."""

    vehicle_id: Identifier
    trip_id: Identifier
    route_id: OptionalId = None
    direction_id: int | None = None
    stop_id: Identifier
    stop_sequence: int
    trip_start: dt.datetime
    scheduled: dt.datetime  # the scheduled departure (the arrival at a trip's last stop)
    arrival: dt.datetime | None = None
    departure: dt.datetime | None = None
    passenger_count: Count = 0  # on board when leaving (or arriving, without a departure)
    capacity: Count = 0
    timepoint: bool | None = None
    observed: bool = True
    timestamp: dt.datetime  # event time it was derived at (the departure, or what ended the call)
    left_behind: Count = 0  # riders who could not board at this stop: the vehicle was full


AlertState = Literal["open", "cleared"]


class AlertEvent(Event, frozen=True, kw_only=True):
    """Common part of every derived alert. Key: alert_key.

    `alert_key` is deterministic (kind + subject + window or episode), so a replay or a restarted
    processor updates the same alert instead of creating another. An update to an open alert is
    sent with the same key; `state="cleared"` when the condition is over.
    """

    kind: ClassVar[str]
    alert_key: Identifier
    state: AlertState = "open"
    severity: Annotated[int, msgspec.Meta(ge=1, le=5)] = 3
    route_id: OptionalId = None
    trip_id: OptionalId = None
    vehicle_id: OptionalId = None
    stop_id: OptionalId = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    summary: Text = ""
    detected_at: dt.datetime  # event time the episode began
    timestamp: dt.datetime  # event time of this update


class SurgeAlert(AlertEvent, frozen=True, kw_only=True):
    """Taps at one station (stop_id: the parent station, or a stop without one) over a tumbling window,
    well above what is usual there then (see alerts.detection.surge)."""

    kind: ClassVar[str] = "surge"
    stop_id: Identifier
    window_start: dt.datetime
    window_end: dt.datetime
    tap_count: Count
    threshold: Count  # the count at which this window surges
    expected: NonNegative | None = None  # taps usual in the window; None: a fixed threshold
    baseline: Literal["simulated", "learned", "fixed"] = "fixed"


class DelayAlert(AlertEvent, frozen=True, kw_only=True):
    """A trip running later than the threshold against its schedule."""

    kind: ClassVar[str] = "delay"
    vehicle_id: Identifier
    delay_seconds: int
    threshold_seconds: int
    stop_sequence: int | None = None


class BreakdownAlert(AlertEvent, frozen=True, kw_only=True):
    """A vehicle reported broken down, or stalled in service away from a stop."""

    kind: ClassVar[str] = "breakdown"
    vehicle_id: Identifier
    reason: Literal["reported", "stalled"] = "reported"


class BunchingAlert(AlertEvent, frozen=True, kw_only=True):
    """Headway to the vehicle ahead below 75 % (bunching) or above 125 % (gap) of the schedule."""

    kind: ClassVar[str] = "bunching"
    vehicle_id: Identifier
    condition: Literal["bunching", "gap"]
    leader_vehicle_id: OptionalId = None
    headway_seconds: NonNegative
    scheduled_headway_seconds: NonNegative


class SilentVehicleAlert(AlertEvent, frozen=True, kw_only=True):
    """An in-service vehicle that stopped reporting."""

    kind: ClassVar[str] = "silent"
    vehicle_id: Identifier
    last_seen: dt.datetime
    silent_seconds: NonNegative


class InformedEntity(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """What a service alert applies to (GTFS-Realtime EntitySelector): at least one field set."""

    agency_id: OptionalId = None
    route_id: OptionalId = None
    route_type: int | None = None
    direction_id: int | None = None
    trip_id: OptionalId = None
    stop_id: OptionalId = None


class ActivePeriod(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """[start, end] in POSIX seconds; None: open-ended."""

    start: int | None = None
    end: int | None = None


class ServiceAlert(AlertEvent, frozen=True, kw_only=True):
    """A passenger-facing service alert from a transit agency (GTFS-Realtime Alerts, transit.realtime):
    state "cleared" once it is no longer in the agency's feed. Cause and effect are the GTFS-RT names."""

    kind: ClassVar[str] = "service"
    feed: Identifier  # the static feed its ids belong to
    cause: Annotated[str, msgspec.Meta(max_length=64)] = "UNKNOWN_CAUSE"
    effect: Annotated[str, msgspec.Meta(max_length=64)] = "UNKNOWN_EFFECT"
    header: Text = ""
    description: Text = ""
    url: Text = ""
    language: Annotated[str, msgspec.Meta(max_length=35)] = ""  # a BCP 47 tag
    active_periods: Annotated[tuple[ActivePeriod, ...], msgspec.Meta(max_length=64)] = ()
    informed_entities: Annotated[tuple[InformedEntity, ...], msgspec.Meta(max_length=512)] = ()


class Topic(msgspec.Struct, frozen=True):
    """A topic's name, payload type, key field and whether it is compacted."""

    name: str
    schema: type[Event]
    key_field: str
    compacted: bool = False


VEHICLE_LOCATIONS = Topic("vehicle_locations", VehicleLocation, "vehicle_id")
RIDER_TAPPED_ON = Topic("rider_tapped_on", RiderTappedOn, "stop_id")
TRAFFIC_INCIDENTS = Topic("traffic_incidents", TrafficIncident, "incident_id")
STOP_SCHEDULE = Topic("stop_schedule", StopSchedule, "trip_id", compacted=True)
LIVE_VEHICLES = Topic("live_vehicles", LiveVehicle, "vehicle_id", compacted=True)
STOP_EVENTS = Topic("stop_events", StopEvent, "vehicle_id")
SURGE_ALERTS = Topic("surge_alerts", SurgeAlert, "alert_key")
DELAY_ALERTS = Topic("delay_alerts", DelayAlert, "alert_key")
BREAKDOWN_ALERTS = Topic("breakdown_alerts", BreakdownAlert, "alert_key")
BUNCHING_ALERTS = Topic("bunching_alerts", BunchingAlert, "alert_key")
SILENT_VEHICLE_ALERTS = Topic("silent_vehicle_alerts", SilentVehicleAlert, "alert_key")
SERVICE_ALERTS = Topic("service_alerts", ServiceAlert, "alert_key")

TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        VEHICLE_LOCATIONS,
        RIDER_TAPPED_ON,
        TRAFFIC_INCIDENTS,
        STOP_SCHEDULE,
        LIVE_VEHICLES,
        STOP_EVENTS,
        SURGE_ALERTS,
        DELAY_ALERTS,
        BREAKDOWN_ALERTS,
        BUNCHING_ALERTS,
        SILENT_VEHICLE_ALERTS,
        SERVICE_ALERTS,
    )
}

# The derived alert topics, which the alert consumer persists.
ALERT_TOPICS: tuple[Topic, ...] = (SURGE_ALERTS, DELAY_ALERTS, BREAKDOWN_ALERTS, BUNCHING_ALERTS, SILENT_VEHICLE_ALERTS,
                                   SERVICE_ALERTS)


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return f"{topic}.dlq"


def _enc_hook(obj):
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_decoders: dict[type, msgspec.json.Decoder] = {}


def _decoder(schema: type[Event]) -> msgspec.json.Decoder:
    dec = _decoders.get(schema)
    if dec is None:
        dec = _decoders[schema] = msgspec.json.Decoder(schema)
    return dec


def encode(event: Event) -> bytes:
    """Encode an event as UTF-8 JSON."""
    return _encoder.encode(event)


# A LiveVehicle is its report's fields, in order, then delay_seconds (a test checks it): its JSON is
# the report's JSON with delay_seconds appended, so the live-vehicles processor encodes the report
# instead of copying every field into a LiveVehicle first.


def encode_live(report: VehicleLocation, delay_seconds: int | None, raw: bytes | None = None) -> bytes:
    """encode(LiveVehicle.of(report, delay_seconds=delay_seconds)), byte for byte.

    `raw`: the bytes `report` was decoded (and validated) from, if at hand: a JSON object, which
    gets delay_seconds appended instead of the report being encoded again (most of the cost of
    encoding it). Byte for byte the same when they were encoded here (the simulators'); from another
    producer, its formatting is kept and the record decodes to the same LiveVehicle."""
    if type(report) is LiveVehicle:
        return _encoder.encode(msgspec.structs.replace(report, delay_seconds=delay_seconds))
    tail = b',"delay_seconds":null}' if delay_seconds is None else b',"delay_seconds":%d}' % delay_seconds
    if raw is not None and raw[-1:] == b"}":
        return raw[:-1] + tail
    return _encoder.encode(report)[:-1] + tail


_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth(data: bytes | str, limit: int | None = None) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count).
    Iterative, so any input is measured without recursion; malformed JSON gets a number too. With
    `limit`, stops as soon as the depth is past it (and returns that depth)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    break
        elif token in (b"]", b"}"):
            depth = max(0, depth - 1)
    return deepest


def decode(schema: type[Event], data: bytes | None) -> Event:
    """Decode and validate `data` as `schema`; raise SchemaError with the reason."""
    if data is None:
        raise SchemaError("empty value (tombstone) where a record was expected")
    # A flat object has no "[" and no "{" after its first byte (two scans in C, cheap per record);
    # anything else is measured before msgspec recurses into it.
    if (b"[" in data or data.rfind(b"{") > 0) and json_depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise SchemaError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep (the limit)")
    if b"\\u0000" in data:  # PostgreSQL refuses NUL in text: the record's fault, not the handler's
        raise SchemaError("a string holds a NUL character (\\u0000), which no field accepts")
    try:
        event = _decoder(schema).decode(data)
    except msgspec.ValidationError as exc:
        raise SchemaError(f"invalid {schema.__name__}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise SchemaError(f"malformed JSON: {exc}") from None
    except RecursionError:  # a backstop: json_depth bounds what reaches the decoder
        raise SchemaError("JSON nested too deep for the decoder") from None
    if event.v != SCHEMA_VERSION:
        raise SchemaError(f"unknown schema version {event.v} (this build reads {SCHEMA_VERSION})")
    ts = getattr(event, "timestamp", None)
    if ts is not None and ts.tzinfo is None:
        raise SchemaError("timestamp has no time zone (ISO 8601 UTC expected)")
    return event


def event_key(topic: Topic, event: Event) -> str:
    """The record key of `event` on `topic`."""
    if topic is STOP_SCHEDULE:
        return f"{event.trip_id}:{event.stop_sequence}"
    return str(getattr(event, topic.key_field))


def utc(ts: dt.datetime) -> dt.datetime:
    """`ts` in UTC rounded to milliseconds (the wire precision)."""
    ts = ts.astimezone(dt.timezone.utc)
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)
