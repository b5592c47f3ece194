-- Part 2: every report joined with the scheduled arrival of the last stop it served (a stream-table
-- join on an expression: ksqlDB repartitions the reports by it), and the live_vehicles table built
-- from it. delay_seconds here is measured at each report against the last stop served: exact while
-- the vehicle is at the stop, higher by the running time since then between stops. The built-in
-- processor measures from the first report past the stop (see docs/ksqldb.md).
--
-- Time: a report's time is its `timestamp` (event time, see 010). A stream-table join looks the key
-- up in the table as of the report: Kafka Streams takes the records of the reports and of the
-- schedule in the order of their Kafka timestamps, so a report finds a schedule row only if the
-- row's record timestamp is not after the report's. The simulator stamps each schedule row with the
-- simulated time it publishes it at (before the first report of its trip), not the wall clock.
--
-- The result key must be the table's key column selected as such (ksqlDB 0.29 refuses the same
-- CONCAT expression under that name): s.`schedule_key`, which the join sets for every report.

CREATE STREAM IF NOT EXISTS sc_vehicle_progress WITH (
    KAFKA_TOPIC = '${prefix}streamcity_ksql_vehicle_progress', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON'
) AS SELECT
    s.`schedule_key` AS `schedule_key`,
    v.`vehicle_id` AS `vehicle_id`,
    v.`vehicle_type` AS `vehicle_type`,
    v.`route_id` AS `route_id`,
    v.`trip_id` AS `trip_id`,
    v.`latitude` AS `latitude`,
    v.`longitude` AS `longitude`,
    v.`bearing` AS `bearing`,
    v.`speed` AS `speed`,
    v.`passenger_count` AS `passenger_count`,
    v.`capacity` AS `capacity`,
    v.`status` AS `status`,
    v.`stop_sequence` AS `stop_sequence`,
    v.`next_stop_id` AS `next_stop_id`,
    v.`timestamp` AS `timestamp`,
    v.ROWTIME AS `reported_ms`,
    s.`stop_id` AS `scheduled_stop_id`,
    STRINGTOTIMESTAMP(s.`scheduled_arrival`, 'yyyy-MM-dd''T''HH:mm:ss[.SSSSSS]X') AS `scheduled_ms`,
    CAST((v.ROWTIME - STRINGTOTIMESTAMP(s.`scheduled_arrival`, 'yyyy-MM-dd''T''HH:mm:ss[.SSSSSS]X')) / 1000 AS INT)
        AS `delay_seconds`
FROM sc_vehicle_locations v
LEFT JOIN sc_stop_schedule s
    ON CONCAT(COALESCE(v.`trip_id`, '-'), ':', COALESCE(CAST(v.`stop_sequence` AS VARCHAR), '-')) = s.`schedule_key`
EMIT CHANGES;

-- Latest state per vehicle (by offset: a report that arrives late overwrites a newer one; the
-- built-in processor keeps the newest by event time). Key: vehicle_id, as live_vehicles expects.
CREATE TABLE IF NOT EXISTS sc_live_vehicles WITH (
    KAFKA_TOPIC = '${prefix}live_vehicles', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON'
) AS SELECT
    `vehicle_id` AS `vehicle_key`,
    AS_VALUE(`vehicle_id`) AS `vehicle_id`,
    LATEST_BY_OFFSET(`vehicle_type`) AS `vehicle_type`,
    LATEST_BY_OFFSET(`route_id`, false) AS `route_id`,
    LATEST_BY_OFFSET(`trip_id`, false) AS `trip_id`,
    LATEST_BY_OFFSET(`latitude`) AS `latitude`,
    LATEST_BY_OFFSET(`longitude`) AS `longitude`,
    LATEST_BY_OFFSET(`bearing`) AS `bearing`,
    LATEST_BY_OFFSET(`speed`) AS `speed`,
    LATEST_BY_OFFSET(`passenger_count`) AS `passenger_count`,
    LATEST_BY_OFFSET(`capacity`) AS `capacity`,
    LATEST_BY_OFFSET(`status`) AS `status`,
    LATEST_BY_OFFSET(`stop_sequence`, false) AS `stop_sequence`,
    LATEST_BY_OFFSET(`next_stop_id`, false) AS `next_stop_id`,
    LATEST_BY_OFFSET(`delay_seconds`, false) AS `delay_seconds`,
    LATEST_BY_OFFSET(`timestamp`) AS `timestamp`
FROM sc_vehicle_progress
GROUP BY `vehicle_id`
EMIT CHANGES;
