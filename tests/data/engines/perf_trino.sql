-- imgkit perf on trino: percentiles approximate, approx_percentile(x, q)
-- error: Trino's function reference states no error bound; for exact percentiles use --percentiles histogram
-- rates, the Wilson interval, retries per success and cost per image are computed from its rows
SELECT
  "t1"."provider",
  "t1"."model",
  COUNT(*) FILTER(WHERE
    "t1"."final") AS "requests",
  COUNT(*) AS "attempts",
  COUNT(*) FILTER(WHERE
    "t1"."_ok") AS "successes",
  SUM("t1"."_delivered") FILTER(WHERE
    "t1"."_ok") AS "images",
  COUNT(*) FILTER(WHERE
    "t1"."_ok" AND (
      "t1"."_delivered" IS NULL
    )) AS "_images_unknown",
  COUNT(*) FILTER(WHERE
    "t1"."actual_cost_usd" IS NULL) AS "cost_unknown_attempts",
  COUNT("t1"."provenance") AS "_provenance_rows",
  SUM("t1"."actual_cost_usd") AS "_cost_sum",
  ARRAY_AGG(DISTINCT "t1"."provenance") FILTER(WHERE
    "t1"."provenance" IS NOT NULL) AS "_provenance_kinds",
  APPROX_PERCENTILE("t1"."_ok_latency_ms", CAST(0.5 AS DOUBLE)) AS "latency_p50_ms",
  APPROX_PERCENTILE("t1"."_ok_latency_ms", CAST(0.95 AS DOUBLE)) AS "latency_p95_ms",
  APPROX_PERCENTILE("t1"."_ok_latency_ms", CAST(0.99 AS DOUBLE)) AS "latency_p99_ms",
  APPROX_PERCENTILE("t1"."_ok_ttfb_ms", CAST(0.5 AS DOUBLE)) AS "ttfb_p50_ms",
  APPROX_PERCENTILE("t1"."_ok_ttfb_ms", CAST(0.95 AS DOUBLE)) AS "ttfb_p95_ms"
FROM (
  SELECT
    "t0"."final",
    "t0"."started_at",
    "t0"."latency_ms",
    "t0"."ttfb_ms",
    "t0"."outcome",
    "t0"."provider",
    "t0"."model",
    "t0"."n",
    "t0"."actual_cost_usd",
    "t0"."images_count",
    COALESCE("t0"."provenance", 'measured') AS "provenance",
    "t0"."final" AND (
      "t0"."outcome" = 'ok'
    ) AS "_ok",
    COALESCE("t0"."images_count", "t0"."n") AS "_delivered",
    IF(
      "t0"."final"
      AND (
        "t0"."outcome" = 'ok'
      )
      AND (
        "t0"."latency_ms" IS NOT NULL
      )
      AND NOT (
        IS_NAN("t0"."latency_ms")
      ),
      "t0"."latency_ms",
      CAST(NULL AS DOUBLE)
    ) AS "_ok_latency_ms",
    IF(
      "t0"."final"
      AND (
        "t0"."outcome" = 'ok'
      )
      AND (
        "t0"."ttfb_ms" IS NOT NULL
      )
      AND NOT (
        IS_NAN("t0"."ttfb_ms")
      ),
      "t0"."ttfb_ms",
      CAST(NULL AS DOUBLE)
    ) AS "_ok_ttfb_ms"
  FROM "hive"."logs"."image_log" AS "t0"
  WHERE
    (
      (
        "t0"."outcome" IS NULL
      ) OR (
        "t0"."outcome" <> 'sent'
      )
    )
    AND (
      (
        "t0"."outcome" IS NULL
      ) OR (
        "t0"."outcome" <> 'cache_hit'
      )
    )
) AS "t1"
GROUP BY
  1,
  2
