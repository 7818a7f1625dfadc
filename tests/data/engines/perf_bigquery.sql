-- imgkit perf on bigquery: percentiles approximate, APPROX_QUANTILES(x, n IGNORE NULLS)[OFFSET(k)]
-- error: BigQuery documents APPROX_QUANTILES as 'approximate quantile boundaries' with system-defined precision and states no numeric bound; it returns one of the times (no interpolation) and may differ between runs. For exact percentiles use --percentiles histogram (two more queries per time column)
-- rates, the Wilson interval, retries per success and cost per image are computed from its rows
SELECT
  `t1`.`provider`,
  `t1`.`model`,
  COUNTIF(`t1`.`final`) AS `requests`,
  COUNT(*) AS `attempts`,
  COUNTIF(`t1`.`_ok`) AS `successes`,
  SUM(IF(`t1`.`_ok`, `t1`.`_delivered`, NULL)) AS `images`,
  COUNTIF(`t1`.`_ok` AND (
    `t1`.`_delivered` IS NULL
  )) AS `_images_unknown`,
  COUNTIF(`t1`.`actual_cost_usd` IS NULL) AS `cost_unknown_attempts`,
  COUNT(`t1`.`provenance`) AS `_provenance_rows`,
  SUM(`t1`.`actual_cost_usd`) AS `_cost_sum`,
  ARRAY_AGG(DISTINCT `t1`.`provenance` IGNORE NULLS) AS `_provenance_kinds`,
  APPROX_QUANTILES(`t1`.`_ok_latency_ms`, 2 IGNORE NULLS)[1] AS `latency_p50_ms`,
  APPROX_QUANTILES(`t1`.`_ok_latency_ms`, 20 IGNORE NULLS)[19] AS `latency_p95_ms`,
  APPROX_QUANTILES(`t1`.`_ok_latency_ms`, 100 IGNORE NULLS)[99] AS `latency_p99_ms`,
  APPROX_QUANTILES(`t1`.`_ok_ttfb_ms`, 2 IGNORE NULLS)[1] AS `ttfb_p50_ms`,
  APPROX_QUANTILES(`t1`.`_ok_ttfb_ms`, 20 IGNORE NULLS)[19] AS `ttfb_p95_ms`
FROM (
  SELECT
    `t0`.`final`,
    `t0`.`started_at`,
    `t0`.`latency_ms`,
    `t0`.`ttfb_ms`,
    `t0`.`outcome`,
    `t0`.`provider`,
    `t0`.`model`,
    `t0`.`n`,
    `t0`.`actual_cost_usd`,
    `t0`.`images_count`,
    COALESCE(`t0`.`provenance`, 'measured') AS `provenance`,
    `t0`.`final` AND (
      `t0`.`outcome` = 'ok'
    ) AS `_ok`,
    COALESCE(`t0`.`images_count`, `t0`.`n`) AS `_delivered`,
    IF(
      `t0`.`final`
      AND (
        `t0`.`outcome` = 'ok'
      )
      AND (
        `t0`.`latency_ms` IS NOT NULL
      )
      AND NOT (
        IS_NAN(`t0`.`latency_ms`)
      ),
      `t0`.`latency_ms`,
      CAST(NULL AS FLOAT64)
    ) AS `_ok_latency_ms`,
    IF(
      `t0`.`final`
      AND (
        `t0`.`outcome` = 'ok'
      )
      AND (
        `t0`.`ttfb_ms` IS NOT NULL
      )
      AND NOT (
        IS_NAN(`t0`.`ttfb_ms`)
      ),
      `t0`.`ttfb_ms`,
      CAST(NULL AS FLOAT64)
    ) AS `_ok_ttfb_ms`
  FROM `proj`.`analytics`.`image_log` AS `t0`
  WHERE
    (
      (
        `t0`.`outcome` IS NULL
      ) OR (
        `t0`.`outcome` <> 'sent'
      )
    )
    AND (
      (
        `t0`.`outcome` IS NULL
      ) OR (
        `t0`.`outcome` <> 'cache_hit'
      )
    )
) AS `t1`
GROUP BY
  1,
  2
