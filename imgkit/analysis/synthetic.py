"""Synthetic request logs in the canonical schema: reproducible, labelled ``simulated``, shaped by profiles.

For tests, benchmarks and the notebooks' offline defaults (``data/samples/provider_log.parquet``): latency
and TTFB lognormal from a published p50/p95 pair (:func:`imgkit.stats.lognormal_from_p50_p95`), successes
at a per-request rate with retries, exact costs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import polars as pl

from imgkit.errors import InvalidParameterError
from imgkit.provenance import Provenance
from imgkit.records.schema import LOG_SCHEMA, OUTCOME_OK
from imgkit.stats import lognormal_from_p50_p95

__all__ = ["DEFAULT_SYNTHETIC_PROFILES", "SyntheticProfile", "attempt_failure_probability", "synthetic_log"]


@dataclass(frozen=True)
class SyntheticProfile:
    """How one (provider, model, quality, size) behaves in a synthetic log.

    Latency and TTFB are lognormal from their p50/p95 (TTFB shares the request's normal draw and never
    exceeds the latency). ``success_rate`` is per request (the share of items whose final attempt succeeds,
    as dashboards publish it): each attempt fails with the probability that yields it, a failure is retried
    (rate_limit, unavailable, timeout) with probability ``retry_share`` and up to ``max_attempts``, otherwise
    final (content_policy). A success bills ``cost_usd`` per image, a failure nothing (``not_billed``).
    ``weight`` is the profile's share of requests.
    """

    provider: str
    model: str
    p50_ms: float
    p95_ms: float
    ttfb_p50_ms: float
    ttfb_p95_ms: float
    success_rate: float
    cost_usd: Decimal
    quality: str | None = None
    size: str | None = "1024x1024"
    mode: str = "generate"
    weight: float = 1.0
    retry_share: float = 0.5
    max_attempts: int = 3


#: the seed page's gpt-image-1-mini via openai (17,840 / 46,372 ms, TTFB 17,216 / 45,544 ms, 133 of 137,
#: $0.005 low) and two assumed neighbours, for tests, benchmarks and notebooks
DEFAULT_SYNTHETIC_PROFILES: tuple[SyntheticProfile, ...] = (
    SyntheticProfile(
        "openai", "gpt-image-1-mini", 17_840, 46_372, 17_216, 45_544, 133 / 137, Decimal("0.005"), "low"
    ),
    SyntheticProfile(
        "openai", "gpt-image-1-mini", 24_000, 60_000, 23_000, 58_000, 0.97, Decimal("0.011"), "medium"
    ),
    SyntheticProfile("fal", "gpt-image-1-mini", 14_000, 38_000, 600, 1_500, 0.95, Decimal("0.005"), "low"),
    SyntheticProfile("fal", "flux-1-schnell", 1_800, 4_500, 300, 900, 0.99, Decimal("0.003"), None),
)
_FAILURES = ("rate_limit", "unavailable", "timeout", "content_policy")
_RETRIED_FAILURE_SHARES = (0.5, 0.3, 0.2, 0.0)  # how retried failures spread over kinds (assumed)
_BACKOFF_MS = 1_000.0


def synthetic_log(
    n: int,
    seed: int = 0,
    profiles: Sequence[SyntheticProfile] = DEFAULT_SYNTHETIC_PROFILES,
    *,
    end: dt.datetime = dt.datetime(2026, 1, 31, tzinfo=dt.UTC),
    span: dt.timedelta = dt.timedelta(days=30),
    run_id: str | None = None,
) -> pl.DataFrame:
    """A canonical-schema log of ``n`` requests (plus their retry attempts), reproducible by ``seed``.

    Requests start uniformly in ``[end - span, end)`` and are spread over ``profiles`` by weight; every
    row has ``provenance="simulated"``.
    """
    if n < 0:
        raise InvalidParameterError("n", n, "a count >= 0")
    if not profiles:
        raise InvalidParameterError("profiles", [], "one or more SyntheticProfile")
    rng = np.random.default_rng(seed)
    weights = np.array([p.weight for p in profiles], dtype=float)
    counts = rng.multinomial(n, weights / weights.sum())
    run = run_id or f"synthetic-{seed}"
    start_us = int((end - span).timestamp() * 1_000_000)
    frames, first_item = [], 0
    for profile, count in zip(profiles, counts, strict=True):
        frames.append(_synthetic_block(profile, int(count), first_item, rng, start_us, span, run))
        first_item += int(count)
    return pl.concat(frames, how="vertical").sort("started_at")


def attempt_failure_probability(request_success: float, max_attempts: int, retry_share: float) -> float:
    """Per-attempt failure probability ``f`` giving a per-request success rate under retries.

    An item fails if an attempt fails without retry (probability ``f (1 - s)``) or all ``max_attempts`` fail:
    ``P(fail) = sum_{a<M} (f s)^(a-1) f (1 - s) + (f s)^(M-1) f``, increasing in ``f``; solved by bisection.
    """
    if not 0 < request_success <= 1:
        raise InvalidParameterError("success_rate", request_success, "a probability in (0, 1]")
    if not 0 <= retry_share <= 1 or max_attempts < 1:
        raise InvalidParameterError("retry_share, max_attempts", (retry_share, max_attempts), "0..1 and >= 1")

    def item_failure(f: float) -> float:
        q = f * retry_share
        return (
            sum(q ** (a - 1) * f * (1 - retry_share) for a in range(1, max_attempts))
            + q ** (max_attempts - 1) * f
        )

    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if item_failure(mid) < 1 - request_success else (low, mid)
    return (low + high) / 2


def _synthetic_block(
    profile: SyntheticProfile,
    count: int,
    first_item: int,
    rng: np.random.Generator,
    start_us: int,
    span: dt.timedelta,
    run: str,
) -> pl.DataFrame:
    mu, sigma = lognormal_from_p50_p95(profile.p50_ms, profile.p95_ms)
    mu_t, sigma_t = lognormal_from_p50_p95(profile.ttfb_p50_ms, profile.ttfb_p95_ms)
    attempt_failure = attempt_failure_probability(
        profile.success_rate, profile.max_attempts, profile.retry_share
    )
    items = np.arange(first_item, first_item + count, dtype=np.int64)
    t_ms = rng.random(count) * (span.total_seconds() * 1000.0)
    rows: dict[str, list[np.ndarray]] = {
        k: [] for k in ("item", "attempt", "final", "failure", "start", "lat", "ttfb")
    }
    for attempt in range(1, profile.max_attempts + 1):
        k = len(items)
        if k == 0:
            break
        z = rng.standard_normal(k)
        latency = np.exp(mu + sigma * z)
        ttfb = np.minimum(np.exp(mu_t + sigma_t * z), latency)
        failed = rng.random(k) < attempt_failure
        retryable = rng.random(k) < profile.retry_share
        kind = np.where(
            retryable,
            rng.choice(len(_FAILURES), size=k, p=_RETRIED_FAILURE_SHARES),
            _FAILURES.index("content_policy"),
        )
        failure = np.where(failed, kind, -1)
        latency = np.where(failed, latency * rng.uniform(0.05, 1.0, k), latency)  # errors come back sooner
        retried = failed & retryable & (attempt < profile.max_attempts)
        for key, value in (
            ("item", items),
            ("attempt", np.full(k, attempt, dtype=np.int32)),
            ("final", ~retried),
            ("failure", failure),
            ("start", t_ms),
            ("lat", latency),
            ("ttfb", np.where(failure == _FAILURES.index("timeout"), np.nan, np.minimum(ttfb, latency))),
        ):
            rows[key].append(value)
        items, t_ms = items[retried], (t_ms + latency + _BACKOFF_MS * 2 ** (attempt - 1))[retried]
    cols = {k: np.concatenate(v) if v else np.array([]) for k, v in rows.items()}
    started = (
        pl.Series(start_us + np.round(cols["start"] * 1000).astype(np.int64))
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    lat_us = pl.Series(np.round(cols["lat"] * 1000).astype(np.int64)).cast(pl.Duration("us"))
    ttfb_us = pl.Series(np.round(np.nan_to_num(cols["ttfb"]) * 1000).astype(np.int64)).cast(pl.Duration("us"))
    outcome = pl.Series(np.asarray(cols["failure"], dtype=np.int64) + 1).replace_strict(
        {0: OUTCOME_OK, **{i + 1: f for i, f in enumerate(_FAILURES)}}, return_dtype=pl.String
    )
    base = pl.DataFrame(
        {
            "item": cols["item"],
            "attempt": cols["attempt"],
            "final": cols["final"].astype(bool),
            "started_at": started,
            "_lat": lat_us,
            "_ttfb": ttfb_us,
            "_has_ttfb": ~np.isnan(cols["ttfb"]),
            "outcome": outcome,
        }
    )
    ok = pl.col("outcome") == OUTCOME_OK
    width, height = (int(x) for x in profile.size.split("x")) if profile.size else (None, None)
    values: dict[str, pl.Expr] = {
        "run_id": pl.lit(run),
        "item_id": pl.format("{}-{}", pl.lit(run), pl.col("item")),
        "target": pl.lit(
            "/".join(str(x) for x in (profile.model, profile.provider, profile.quality, profile.size))
        ),
        "repeat": pl.lit(0),
        "attempt": pl.col("attempt"),
        "final": pl.col("final"),
        "started_at": pl.col("started_at"),
        "first_byte_at": pl.when(pl.col("_has_ttfb")).then(pl.col("started_at") + pl.col("_ttfb")),
        "ended_at": pl.col("started_at") + pl.col("_lat"),
        "latency_ms": pl.col("_lat").dt.total_microseconds() / 1000.0,
        "ttfb_ms": pl.when(pl.col("_has_ttfb")).then(pl.col("_ttfb").dt.total_microseconds() / 1000.0),
        "outcome": pl.col("outcome"),
        "http_status": pl.col("outcome").replace_strict(
            {OUTCOME_OK: 200, "rate_limit": 429, "unavailable": 503, "timeout": None, "content_policy": 400},
            return_dtype=pl.Int32,
        ),
        "provider": pl.lit(profile.provider),
        "model": pl.lit(profile.model),
        "provider_model_id": pl.lit(profile.model),
        "mode": pl.lit(profile.mode),
        "quality": pl.lit(profile.quality),
        "size": pl.lit(profile.size),
        "width": pl.lit(width),
        "height": pl.lit(height),
        "n": pl.lit(1),
        "streamed": pl.lit(False),
        "partial_images": pl.lit(0),
        "estimated_cost_usd": pl.lit(profile.cost_usd),
        "actual_cost_usd": pl.when(ok).then(pl.lit(profile.cost_usd)).otherwise(pl.lit(Decimal(0))),
        "cost_method": pl.when(ok).then(pl.lit("per_image_table")).otherwise(pl.lit("not_billed")),
        "images_count": pl.when(ok).then(1).otherwise(0),
        "provenance": pl.lit(Provenance.SIMULATED.value),
    }
    return base.select(
        [values.get(name, pl.lit(None)).cast(dtype).alias(name) for name, dtype in LOG_SCHEMA.items()]
    )
