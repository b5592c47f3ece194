-- StreamCity on ksqlDB 0.29 / Confluent Cloud, part 1: streams and tables over StreamCity's topics.
-- Column names are quoted so they keep the lower case of streamcity/kernel/schemas.py. Event time is the
-- `timestamp` field: ISO 8601 UTC as msgspec writes it, "2026-11-27T08:30:00.123000Z" (the fraction
-- is left out when it is zero, hence the optional section). ${prefix} is KAFKA_TOPIC_PREFIX.

CREATE STREAM IF NOT EXISTS sc_vehicle_locations (
    `vehicle_key` VARCHAR KEY,
    `vehicle_id` VARCHAR,
    `vehicle_type` VARCHAR,
    `route_id` VARCHAR,
    `trip_id` VARCHAR,
    `latitude` DOUBLE,
    `longitude` DOUBLE,
    `bearing` DOUBLE,
    `speed` DOUBLE,
    `passenger_count` INT,
    `capacity` INT,
    `status` VARCHAR,
    `stop_sequence` INT,
    `next_stop_id` VARCHAR,
    `timestamp` VARCHAR
) WITH (
    KAFKA_TOPIC = '${prefix}vehicle_locations', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON',
    TIMESTAMP = '`timestamp`', TIMESTAMP_FORMAT = 'yyyy-MM-dd''T''HH:mm:ss[.SSSSSS]X'
);

CREATE STREAM IF NOT EXISTS sc_rider_tapped_on (
    `stop_key` VARCHAR KEY,
    `event_id` VARCHAR,
    `rider_id` VARCHAR,
    `stop_id` VARCHAR,
    `vehicle_id` VARCHAR,
    `route_id` VARCHAR,
    `latitude` DOUBLE,
    `longitude` DOUBLE,
    `timestamp` VARCHAR
) WITH (
    KAFKA_TOPIC = '${prefix}rider_tapped_on', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON',
    TIMESTAMP = '`timestamp`', TIMESTAMP_FORMAT = 'yyyy-MM-dd''T''HH:mm:ss[.SSSSSS]X'
);

CREATE STREAM IF NOT EXISTS sc_traffic_incidents (
    `incident_key` VARCHAR KEY,
    `incident_id` VARCHAR,
    `type` VARCHAR,
    `latitude` DOUBLE,
    `longitude` DOUBLE,
    `radius` DOUBLE,
    `severity` INT,
    `description` VARCHAR,
    `status` VARCHAR,
    `timestamp` VARCHAR
) WITH (
    KAFKA_TOPIC = '${prefix}traffic_incidents', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON',
    TIMESTAMP = '`timestamp`', TIMESTAMP_FORMAT = 'yyyy-MM-dd''T''HH:mm:ss[.SSSSSS]X'
);

-- The compacted schedule: one row per "trip_id:stop_sequence".
CREATE TABLE IF NOT EXISTS sc_stop_schedule (
    `schedule_key` VARCHAR PRIMARY KEY,
    `trip_id` VARCHAR,
    `stop_sequence` INT,
    `stop_id` VARCHAR,
    `route_id` VARCHAR,
    `scheduled_arrival` VARCHAR,
    `service_date` VARCHAR
) WITH (KAFKA_TOPIC = '${prefix}stop_schedule', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON');
