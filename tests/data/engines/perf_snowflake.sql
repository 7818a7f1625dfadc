-- imgkit perf on snowflake: percentiles exact, PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x): linear interpolation between the two nearest values
-- error: equal to polars within 1e-9 relative (Snowflake's documented method; not run here)
-- rates, the Wilson interval, retries per success and cost per image are computed from its rows
SELECT
  "t1"."provider",
  "t1"."model",
  COUNT_IF("t1"."final") AS "requests",
  COUNT(*) AS "attempts",
  COUNT_IF("t1"."_ok") AS "successes",
  SUM(IFF("t1"."_ok", "t1"."_delivered", NULL)) AS "images",
  COUNT_IF("t1"."_ok" AND (
    "t1"."_delivered" IS NULL
  )) AS "_images_unknown",
  COUNT_IF("t1"."actual_cost_usd" IS NULL) AS "cost_unknown_attempts",
  COUNT("t1"."provenance") AS "_provenance_rows",
  SUM("t1"."actual_cost_usd") AS "_cost_sum",
  ARRAY_AGG(DISTINCT "t1"."provenance") AS "_provenance_kinds",
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
    "t1"."_ok_latency_ms") AS "latency_p50_ms",
  PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY
    "t1"."_ok_latency_ms") AS "latency_p95_ms",
  PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY
    "t1"."_ok_latency_ms") AS "latency_p99_ms",
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
    "t1"."_ok_ttfb_ms") AS "ttfb_p50_ms",
  PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY
    "t1"."_ok_ttfb_ms") AS "ttfb_p95_ms"
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
    IFF(
      "t0"."final"
      AND (
        "t0"."outcome" = 'ok'
      )
      AND (
        "t0"."latency_ms" IS NOT NULL
      )
      AND NOT (
        "t0"."latency_ms" = CAST('NaN' AS DOUBLE)
      ),
      "t0"."latency_ms",
      CAST(NULL AS DOUBLE)
    ) AS "_ok_latency_ms",
    IFF(
      "t0"."final"
      AND (
        "t0"."outcome" = 'ok'
      )
      AND (
        "t0"."ttfb_ms" IS NOT NULL
      )
      AND NOT (
        "t0"."ttfb_ms" = CAST('NaN' AS DOUBLE)
      ),
      "t0"."ttfb_ms",
      CAST(NULL AS DOUBLE)
    ) AS "_ok_ttfb_ms"
  FROM "LOGS"."PUBLIC"."IMAGE_LOG" AS "t0"
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
