-- Part 3: passenger surges. Taps per stop per tumbling window with an explicit grace period; a
-- window at or over the threshold becomes a surge alert keyed by stop and window start, the same
-- key the built-in processor uses ("surge:<stop>:<window start, UTC to the second>"). Every
-- further tap re-sends that alert with the new count (an update, not a new alert). ksqlDB sends
-- no "cleared": the built-in processor does, when the following window closes.
--
-- Surges here keep the simple fixed threshold per stop (STREAMCITY_SURGE_THRESHOLD): no station
-- grouping and no baseline. The built-in processor (alerts.detection.surge) counts per station (a
-- parent station and its platforms) against the usual demand for that place and time.
--
-- The counts table is windowed (its key is stop and window), and ksqlDB 0.29 refuses to repartition
-- a windowed source. So the table carries the stop and the window bounds in its value too, and its
-- changelog is read again as a stream of values only (KEY_FORMAT 'NONE': the windowed key is not
-- read), which the alerts stream then keys by the alert key.

CREATE TABLE IF NOT EXISTS sc_surge_counts WITH (
    KAFKA_TOPIC = '${prefix}streamcity_ksql_surge_counts', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON'
) AS SELECT
    `stop_id` AS `stop_key`,
    AS_VALUE(`stop_id`) AS `stop_id`,
    COUNT(*) AS `tap_count`,
    LATEST_BY_OFFSET(`latitude`) AS `latitude`,
    LATEST_BY_OFFSET(`longitude`) AS `longitude`,
    MAX(ROWTIME) AS `last_ms`,
    WINDOWSTART AS `window_start_ms`,
    WINDOWEND AS `window_end_ms`
FROM sc_rider_tapped_on
WINDOW TUMBLING (SIZE ${surge_window_seconds} SECONDS, GRACE PERIOD ${grace_seconds} SECONDS)
GROUP BY `stop_id`
EMIT CHANGES;

-- The table's changelog read as a stream of its values (without the windowed key).
CREATE STREAM IF NOT EXISTS sc_surge_changes (
    `stop_id` VARCHAR,
    `tap_count` BIGINT,
    `latitude` DOUBLE,
    `longitude` DOUBLE,
    `last_ms` BIGINT,
    `window_start_ms` BIGINT,
    `window_end_ms` BIGINT
) WITH (
    KAFKA_TOPIC = '${prefix}streamcity_ksql_surge_counts', KEY_FORMAT = 'NONE', VALUE_FORMAT = 'JSON'
);

CREATE STREAM IF NOT EXISTS sc_surge_alerts WITH (
    KAFKA_TOPIC = '${prefix}surge_alerts', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON'
) AS SELECT
    CONCAT('surge:', `stop_id`, ':', TIMESTAMPTOSTRING(`window_start_ms`, 'yyyy-MM-dd''T''HH:mm:ss''Z''', 'UTC'))
        AS `record_key`,
    AS_VALUE(CONCAT('surge:', `stop_id`, ':',
                    TIMESTAMPTOSTRING(`window_start_ms`, 'yyyy-MM-dd''T''HH:mm:ss''Z''', 'UTC'))) AS `alert_key`,
    'open' AS `state`,
    CASE
        WHEN `tap_count` >= 3 * ${surge_threshold} THEN 5
        WHEN `tap_count` >= 2 * ${surge_threshold} THEN 4
        WHEN 2 * `tap_count` >= 3 * ${surge_threshold} THEN 3
        ELSE 2
    END AS `severity`,
    `stop_id` AS `stop_id`,
    `latitude` AS `latitude`,
    `longitude` AS `longitude`,
    CONCAT(CAST(`tap_count` AS VARCHAR), ' taps at stop ', `stop_id`, ' (threshold ${surge_threshold})') AS `summary`,
    TIMESTAMPTOSTRING(`window_start_ms`, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''', 'UTC') AS `detected_at`,
    TIMESTAMPTOSTRING(`last_ms`, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''', 'UTC') AS `timestamp`,
    TIMESTAMPTOSTRING(`window_start_ms`, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''', 'UTC') AS `window_start`,
    TIMESTAMPTOSTRING(`window_end_ms`, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''', 'UTC') AS `window_end`,
    `tap_count` AS `tap_count`,
    ${surge_threshold} AS `threshold`
FROM sc_surge_changes
WHERE `tap_count` >= ${surge_threshold}
PARTITION BY CONCAT('surge:', `stop_id`, ':',
                    TIMESTAMPTOSTRING(`window_start_ms`, 'yyyy-MM-dd''T''HH:mm:ss''Z''', 'UTC'))
EMIT CHANGES;
