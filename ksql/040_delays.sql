-- Part 4: delays. The first report past each stop (MIN of the report time per vehicle, trip and
-- stop sequence) against that stop's scheduled arrival: the same measure as the built-in
-- processor at a stop. Over the threshold it becomes a delay alert keyed by trip and vehicle
-- ("delay:<trip>:<vehicle>", as the built-in processor), re-sent at every late stop. ksqlDB sends
-- no "cleared" and no alert between stops: the built-in processor does both.

CREATE TABLE IF NOT EXISTS sc_stop_arrivals WITH (
    KAFKA_TOPIC = '${prefix}streamcity_ksql_stop_arrivals', KEY_FORMAT = 'JSON', VALUE_FORMAT = 'JSON'
) AS SELECT
    `vehicle_id`,
    `trip_id`,
    `stop_sequence`,
    MIN(`reported_ms`) AS `arrived_ms`,
    LATEST_BY_OFFSET(`scheduled_ms`) AS `scheduled_ms`,
    LATEST_BY_OFFSET(`route_id`) AS `route_id`,
    LATEST_BY_OFFSET(`scheduled_stop_id`) AS `stop_id`,
    LATEST_BY_OFFSET(`latitude`) AS `latitude`,
    LATEST_BY_OFFSET(`longitude`) AS `longitude`
FROM sc_vehicle_progress
WHERE `trip_id` IS NOT NULL AND `stop_sequence` IS NOT NULL AND `scheduled_ms` IS NOT NULL
    AND `status` = 'in_service'
GROUP BY `vehicle_id`, `trip_id`, `stop_sequence`
EMIT CHANGES;

CREATE STREAM IF NOT EXISTS sc_stop_arrival_changes (
    `vehicle_id` VARCHAR KEY,
    `trip_id` VARCHAR KEY,
    `stop_sequence` INT KEY,
    `arrived_ms` BIGINT,
    `scheduled_ms` BIGINT,
    `route_id` VARCHAR,
    `stop_id` VARCHAR,
    `latitude` DOUBLE,
    `longitude` DOUBLE
) WITH (KAFKA_TOPIC = '${prefix}streamcity_ksql_stop_arrivals', KEY_FORMAT = 'JSON', VALUE_FORMAT = 'JSON');

CREATE STREAM IF NOT EXISTS sc_delay_alerts WITH (
    KAFKA_TOPIC = '${prefix}delay_alerts', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON'
) AS SELECT
    CONCAT('delay:', `trip_id`, ':', `vehicle_id`) AS `record_key`,
    AS_VALUE(CONCAT('delay:', `trip_id`, ':', `vehicle_id`)) AS `alert_key`,
    'open' AS `state`,
    CASE
        WHEN `arrived_ms` - `scheduled_ms` >= 6000 * ${late_seconds} THEN 5
        WHEN `arrived_ms` - `scheduled_ms` >= 3000 * ${late_seconds} THEN 4
        WHEN `arrived_ms` - `scheduled_ms` >= 2000 * ${late_seconds} THEN 3
        ELSE 2
    END AS `severity`,
    `route_id` AS `route_id`,
    `trip_id` AS `trip_id`,
    `vehicle_id` AS `vehicle_id`,
    `stop_id` AS `stop_id`,
    `latitude` AS `latitude`,
    `longitude` AS `longitude`,
    CONCAT(`vehicle_id`, ' on trip ', `trip_id`, ' ', CAST((`arrived_ms` - `scheduled_ms`) / 60000 AS VARCHAR),
           ' min late at stop ', COALESCE(`stop_id`, '?')) AS `summary`,
    TIMESTAMPTOSTRING(`arrived_ms`, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''', 'UTC') AS `detected_at`,
    TIMESTAMPTOSTRING(`arrived_ms`, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''', 'UTC') AS `timestamp`,
    CAST((`arrived_ms` - `scheduled_ms`) / 1000 AS INT) AS `delay_seconds`,
    ${late_seconds} AS `threshold_seconds`,
    `stop_sequence` AS `stop_sequence`
FROM sc_stop_arrival_changes
WHERE `arrived_ms` - `scheduled_ms` > 1000 * ${late_seconds}
PARTITION BY CONCAT('delay:', `trip_id`, ':', `vehicle_id`)
EMIT CHANGES;
