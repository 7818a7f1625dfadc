"""Re-cost a synthetic request log: vectorised ``pricing.recost`` vs a per-row Python loop, same run.

The log mixes providers, models, qualities and sizes: OpenAI gpt-image rows with usage, rows without usage
(per-image table, DALL·E, gpt-image-2 token estimate), fal per-megapixel FLUX rows with free sizes, fal
gpt-image rows with cent rounding, gateway rows with a kept ``metadata.cost``, failed attempts, rows of
unknown models and the market's units: Gemini output tokens per resolution tier, Vertex per image, fal first +
additional megapixels and Ideogram speed tiers, Replicate's fee + fractional megapixels, Together, Stability
credits, and BFL per megapixel with its unpublished rounding (a range, so unknown on both paths: no unit is
scalar-only; a range is never a row's cost). The baseline is ``pricing.cost_from_record`` called on every row of the same frame; when the
loop would take too long it runs on a leading slice and its time is scaled linearly (printed as such).
Results of both paths are compared on that slice.

Goal: 1,000,000 rows in under 2 s, and at least 20x faster than the loop.

    .venv/bin/python bench/bench_recost.py [--rows 1000000] [--loop-rows 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from decimal import Decimal

import numpy as np
import polars as pl

from imgkit.catalog import load_catalog
from imgkit.money import MONEY
from imgkit.pricing import cost_from_record, recost
from imgkit.records.schema import LOG_SCHEMA

GOAL_SECONDS = 2.0
GOAL_SPEEDUP = 20.0

# (provider, model, qualities, sizes, usage?) - the mix of a plausible multi-provider log
_TARGETS = [
    ("openai", "gpt-image-1-mini", ["low", "medium", "high"], ["1024x1024", "1024x1536", "1536x1024"], True),
    ("openai", "gpt-image-1.5", ["low", "medium", "high"], ["1024x1024", "1024x1536", "1536x1024"], True),
    ("openai", "gpt-image-1", ["low", "medium", "high"], ["1024x1024", "1536x1024"], False),
    ("openai", "gpt-image-2", ["low", "medium", "high"], ["1024x1024", "2048x1152", "1536x1024"], False),
    ("openai", "dall-e-3", ["standard", "hd"], ["1024x1024", "1792x1024"], False),
    ("openai", "dall-e-2", ["standard"], ["256x256", "512x512"], False),
    ("fal", "flux-1-dev", [None], ["1024x768", "1920x1080", "1025x1024", "512x512"], False),
    ("fal", "flux-1-schnell", [None], ["1024x768", "2048x2048"], False),
    ("fal", "flux-1-pro", [None], ["1024x1024", "1440x816"], False),
    ("fal", "flux-1.1-pro", [None], ["1024x768"], False),
    ("fal", "gpt-image-1-mini", ["low", "medium", "high"], ["1024x1024", "1024x1536"], False),
    ("fal", "gpt-image-1.5", ["low", "medium", "high"], ["1024x1024", "1536x1024"], False),
    ("lumenfall", "gpt-image-1-mini", ["low", "medium"], ["1024x1024"], True),
    # the market's units (issue 14): tokens per resolution tier, per image by tier, first + additional MP,
    # fee + fractional MP, speed tiers, credits, and BFL's unpublished MP rounding (a range: unknown on both paths)
    ("gemini-api", "gemini-3.1-flash-image", [None], ["1024x1024", "2048x2048", "1376x768"], False),
    ("gemini-api", "gemini-3-pro-image", [None], ["1024x1024", "4096x4096"], False),
    ("vertex-ai", "imagen-4", [None], ["1024x1024", "2048x2048"], False),
    ("fal", "flux-2-pro", [None], ["1024x1024", "1440x816", "2048x2048"], False),
    ("fal", "seedream-4.5", [None], ["2048x2048", "2560x1440"], False),
    ("fal", "ideogram-3", ["low", "medium", "high"], ["1024x1024"], False),
    ("replicate", "flux-2-max", [None], ["1024x1024", "1440x816"], False),
    ("together", "flux-1-schnell", [None], ["1024x1024", "1024x768"], False),
    ("stability", "sd-3.5-large", [None], ["1024x1024"], False),
    ("bfl", "flux-2-pro", [None], ["1024x1024", "1440x816"], False),
    ("bfl", "flux-1.1-pro", [None], ["1024x1024"], False),
    ("openai", "gpt-image-9-unknown", ["low"], ["1024x1024"], True),
]


def synthetic_log(rows: int, seed: int = 0) -> pl.DataFrame:
    """A canonical-schema log (the columns re-costing reads) of ``rows`` attempts, reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, len(_TARGETS), rows)
    provider = np.array([x[0] for x in _TARGETS], dtype=object)[t]
    model = np.array([x[1] for x in _TARGETS], dtype=object)[t]
    pick_q = rng.integers(0, 3, rows)
    pick_s = rng.integers(0, 4, rows)
    quality = np.array(
        [x[2][q % len(x[2])] for x, q in zip((_TARGETS[i] for i in t), pick_q, strict=True)], dtype=object
    )
    size = np.array(
        [x[3][s % len(x[3])] for x, s in zip((_TARGETS[i] for i in t), pick_s, strict=True)], dtype=object
    )
    wh = np.array([s.split("x") for s in size], dtype=np.int64)
    with_usage = np.array([x[4] for x in _TARGETS])[t]
    n = rng.integers(1, 5, rows)
    ok = rng.random(rows) > 0.03
    images = np.where(ok, n, 0)
    out_img = np.where(with_usage & ok, rng.integers(272, 6240, rows) * n, 0)
    out_txt = np.where(with_usage & ok & (model == "gpt-image-1.5"), rng.integers(0, 500, rows), 0)
    in_txt = np.where(with_usage & ok, rng.integers(5, 200, rows), 0)
    in_img = np.where(with_usage & ok & (rng.random(rows) < 0.3), 194 * n, 0)
    gateway = (provider == "lumenfall") & (rng.random(rows) < 0.5) & ok
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    frame = pl.DataFrame(
        {
            "provider": provider.tolist(),
            "model": model.tolist(),
            "quality": quality.tolist(),
            "size": size.tolist(),
            "width": wh[:, 0],
            "height": wh[:, 1],
            "n": n,
            "images_count": images,
            "partial_images": np.where(rng.random(rows) < 0.1, 2, 0),
            "outcome": np.where(ok, "ok", "rate_limit").tolist(),
            "input_text_tokens": np.where(with_usage & ok, in_txt, -1),
            "input_image_tokens": np.where(with_usage & ok, in_img, -1),
            "output_image_tokens": np.where(with_usage & ok, out_img, -1),
            "output_text_tokens": np.where(with_usage & ok, out_txt, -1),
            "started_at": pl.datetime_range(
                start, start + dt.timedelta(seconds=rows - 1), "1s", eager=True, time_zone="UTC"
            )
            if rows
            else [],
            "cost_method": np.where(gateway, "gateway_metadata", None).tolist(),
            "actual_cost_usd": [Decimal("0.0123") if g else None for g in gateway],
        }
    )
    tokens = ["input_text_tokens", "input_image_tokens", "output_image_tokens", "output_text_tokens"]
    return frame.with_columns(
        [pl.when(pl.col(c) >= 0).then(pl.col(c)) for c in tokens],
        quality=pl.col("quality"),
        actual_cost_usd=pl.col("actual_cost_usd").cast(MONEY),
    ).cast({k: v for k, v in LOG_SCHEMA.items() if k in frame.columns and k != "started_at"})


def _loop(frame: pl.DataFrame, catalog) -> list[tuple[Decimal | None, str]]:
    out = []
    for rec in frame.iter_rows(named=True):
        c = cost_from_record(rec, catalog)
        out.append((c.total_usd, c.method))
    return out


def main(rows: int = 1_000_000, loop_rows: int = 100_000, repeats: int = 3, seed: int = 0) -> dict:
    """Run both paths; return the figures (seconds, speed-up, mismatches, goal flags)."""
    catalog = load_catalog()
    frame = synthetic_log(rows, seed)
    recost(frame.head(1000), catalog)  # warm-up: catalog parsing, polars thread pool
    vec_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = recost(frame, catalog)
        vec_times.append(time.perf_counter() - t0)
    vec_s = statistics.median(vec_times)

    sample = frame.head(min(loop_rows, rows))
    t0 = time.perf_counter()
    expected = _loop(sample, catalog)
    loop_sample_s = time.perf_counter() - t0
    loop_s = loop_sample_s * rows / max(sample.height, 1)

    got = result.head(sample.height).select("actual_cost_usd", "cost_method").rows()
    mismatches = sum(1 for (gc, gm), (ec, em) in zip(got, expected, strict=True) if gc != ec or gm != em)
    methods = result.group_by("cost_method").len().sort("cost_method").rows()
    return {
        "rows": rows,
        "vectorised_s": vec_s,
        "vectorised_runs_s": vec_times,
        "loop_rows": sample.height,
        "loop_sample_s": loop_sample_s,
        "loop_s": loop_s,
        "loop_scaled": sample.height < rows,
        "speedup": loop_s / vec_s if vec_s else float("inf"),
        "mismatches": mismatches,
        "methods": dict(methods),
        "goal_time_met": vec_s < GOAL_SECONDS,
        "goal_speedup_met": loop_s / vec_s >= GOAL_SPEEDUP if vec_s else True,
    }


def _print(r: dict) -> None:
    scaled = f" (measured on {r['loop_rows']:,} rows, scaled linearly)" if r["loop_scaled"] else ""
    print(f"re-costing {r['rows']:,} logged requests")
    print(f"{'path':<34}{'seconds':>10}")
    print(
        f"{'vectorised recost (median)':<34}{r['vectorised_s']:>10.3f}   runs: {', '.join(f'{t:.3f}' for t in r['vectorised_runs_s'])}"
    )
    print(f"{'per-row cost_from_record loop':<34}{r['loop_s']:>10.3f}{scaled}")
    print(
        f"speed-up: {r['speedup']:.1f}x   mismatches on the compared {r['loop_rows']:,} rows: {r['mismatches']}"
    )
    print(f"cost methods: {r['methods']}")
    print(
        f"goal < {GOAL_SECONDS:g} s: {'met' if r['goal_time_met'] else 'NOT met'}; "
        f">= {GOAL_SPEEDUP:g}x: {'met' if r['goal_speedup_met'] else 'NOT met'}; "
        f"equal results: {'yes' if r['mismatches'] == 0 else 'NO'}"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--loop-rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    _print(main(a.rows, a.loop_rows, a.repeats, a.seed))
