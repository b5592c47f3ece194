-- Part 5: breakdowns reported by the vehicle: the transition to status broken_down. One alert per
-- vehicle and trip (or day, without a trip), "breakdown:<vehicle>:<trip>" as the built-in
-- processor, detected at the first broken_down report and re-sent with each later one. Stalled
-- vehicles (no movement away from a stop) and "cleared" need per-vehicle timers and ordering that
-- ksqlDB lacks: only the built-in processor finds those.

CREATE TABLE IF NOT EXISTS sc_breakdowns WITH (
    KAFKA_TOPIC = '${prefix}streamcity_ksql_breakdowns', KEY_FORMAT = 'JSON', VALUE_FORMAT = 'JSON'
) AS SELECT
    `vehicle_id`,
    COALESCE(`trip_id`, SUBSTRING(`timestamp`, 1, 10)) AS `episode`,
    MIN(ROWTIME) AS `since_ms`,
    MAX(ROWTIME) AS `last_ms`,
    LATEST_BY_OFFSET(`route_id`, false) AS `route_id`,
    LATEST_BY_OFFSET(`trip_id`, false) AS `trip_id`,
    LATEST_BY_OFFSET(`latitude`) AS `latitude`,
    LATEST_BY_OFFSET(`longitude`) AS `longitude`
FROM sc_vehicle_locations
WHERE `status` = 'broken_down'
GROUP BY `vehicle_id`, COALESCE(`trip_id`, SUBSTRING(`timestamp`, 1, 10))
EMIT CHANGES;

CREATE STREAM IF NOT EXISTS sc_breakdown_changes (
    `vehicle_id` VARCHAR KEY,
    `episode` VARCHAR KEY,
    `since_ms` BIGINT,
    `last_ms` BIGINT,
    `route_id` VARCHAR,
    `trip_id` VARCHAR,
    `latitude` DOUBLE,
    `longitude` DOUBLE
) WITH (KAFKA_TOPIC = '${prefix}streamcity_ksql_breakdowns', KEY_FORMAT = 'JSON', VALUE_FORMAT = 'JSON');

CREATE STREAM IF NOT EXISTS sc_breakdown_alerts WITH (
    KAFKA_TOPIC = '${prefix}breakdown_alerts', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON'
) AS SELECT
    CONCAT('breakdown:', `vehicle_id`, ':', `episode`) AS `record_key`,
    AS_VALUE(CONCAT('breakdown:', `vehicle_id`, ':', `episode`)) AS `alert_key`,
    'open' AS `state`,
    4 AS `severity`,
    `route_id` AS `route_id`,
    `trip_id` AS `trip_id`,
    `vehicle_id` AS `vehicle_id`,
    `latitude` AS `latitude`,
    `longitude` AS `longitude`,
    CONCAT(`vehicle_id`, ' (route ', COALESCE(`route_id`, '?'), ') reported broken down') AS `summary`,
    TIMESTAMPTOSTRING(`since_ms`, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''', 'UTC') AS `detected_at`,
    TIMESTAMPTOSTRING(`last_ms`, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''', 'UTC') AS `timestamp`,
    'reported' AS `reason`
FROM sc_breakdown_changes
PARTITION BY CONCAT('breakdown:', `vehicle_id`, ':', `episode`)
EMIT CHANGES;
