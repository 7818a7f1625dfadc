"""Bradley–Terry ratings with bootstrap intervals: imgkit vs the per-vote LogisticRegression of arena notebooks.

Synthetic, seeded votes (true strengths ~ N(0, 0.8²) natural units, 20 % ties, pairs uniform over 50 models).

- imgkit: ``fit_bradley_terry(frame, bootstrap=1000, seed=0)`` on a polars frame of string labels: the whole
  call (validation, aggregation, L-BFGS point fit, 1,000 multinomial bootstrap refits, online Elo), median of
  ``--repeats`` runs.
- baseline (RATINGS.md §5(a): FastChat ``compute_elo_mle_with_tie`` of January 2024 as copied by GenAI-Arena
  and imgsys): every vote entered twice, a dense (2N × M) design with ±ln 10, scikit-learn
  ``LogisticRegression(fit_intercept=False, C=inf, tol=1e-8)`` (``C=inf`` is scikit-learn ≥ 1.8's spelling of
  ``penalty=None``), and a row bootstrap (``battles.sample(frac=1, replace=True)``) of 100 rounds, each
  rebuilding the design and refitting. When 100 rounds would take too long, ``--baseline-measured-rounds``
  rounds are run and the bootstrap time is extrapolated linearly to 100 (printed as such).

Goal: imgkit under 2 s, at least 50× faster than the baseline, point ratings within 0.5 Elo (both centred).

    .venv/bin/python bench/bench_ratings.py [--votes 1000000] [--models 50] [--baseline-measured-rounds 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np
import pandas as pd
import polars as pl

from imgkit.analysis.ratings import fit_bradley_terry

GOAL_SECONDS = 2.0
GOAL_SPEEDUP = 50.0
GOAL_MAX_DIFF = 0.5


def synthetic_votes(votes: int, models: int, seed: int = 0, tie_rate: float = 0.2) -> pl.DataFrame:
    """One row per vote: model_a, model_b, winner, drawn from a Bradley–Terry model with seeded strengths."""
    rng = np.random.default_rng(seed)
    names = np.array([f"model-{k:03d}" for k in range(models)])
    theta = rng.normal(0.0, 0.8, models)
    a = rng.integers(0, models, votes)
    b = (a + rng.integers(1, models, votes)) % models
    a_wins = rng.random(votes) < 1.0 / (1.0 + np.exp(theta[b] - theta[a]))
    tie = rng.random(votes) < tie_rate
    winner = np.where(tie, "tie", np.where(a_wins, "model_a", "model_b"))
    return pl.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


def notebook_bt(battles: pd.DataFrame, scale: float = 400, base: float = 10, init_rating: float = 1000):
    """The notebooks' per-vote MLE (duplicated rows, dense design, one row per vote), unpenalised."""
    from sklearn.linear_model import LogisticRegression

    names = pd.concat([battles["model_a"], battles["model_b"]]).unique()
    models = pd.Series(np.arange(len(names)), index=names)
    battles = pd.concat([battles, battles], ignore_index=True)
    n, p = battles.shape[0], len(models)
    x = np.zeros([n, p])
    x[np.arange(n), models[battles["model_a"]]] = +math.log(base)
    x[np.arange(n), models[battles["model_b"]]] = -math.log(base)
    y = np.zeros(n)
    y[battles["winner"] == "model_a"] = 1.0
    tie_idx = ((battles["winner"] == "tie") | (battles["winner"] == "tie (bothbad)")).to_numpy(copy=True)
    tie_idx[len(tie_idx) // 2 :] = False
    y[tie_idx] = 1.0
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8)
    lr.fit(x, y)
    return pd.Series(scale * lr.coef_[0] + init_rating, index=models.index)


def main(
    votes: int = 1_000_000,
    models: int = 50,
    rounds: int = 1000,
    baseline_rounds: int = 100,
    baseline_measured_rounds: int = 3,
    repeats: int = 3,
    seed: int = 0,
) -> dict:
    """Run both paths on the same votes; return times (s), speed-up, rating difference and goal flags."""
    frame = synthetic_votes(votes, models, seed)
    fit_bradley_terry(frame.head(1000), bootstrap=10)  # warm-up: imports, polars thread pool
    runs, runs_no_online = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fit_bradley_terry(frame, bootstrap=rounds, seed=seed)
        runs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fit_bradley_terry(frame, bootstrap=rounds, seed=seed, online=False)
        runs_no_online.append(time.perf_counter() - t0)
    imgkit_s = statistics.median(runs)

    battles = frame.to_pandas()
    t0 = time.perf_counter()
    baseline = notebook_bt(battles)
    baseline_fit_s = time.perf_counter() - t0
    measured = min(baseline_measured_rounds, baseline_rounds)
    t0 = time.perf_counter()
    for r in range(measured):
        notebook_bt(battles.sample(frac=1.0, replace=True, random_state=seed + r))
    measured_s = time.perf_counter() - t0
    baseline_boot_s = measured_s / max(measured, 1) * baseline_rounds
    baseline_s = baseline_fit_s + baseline_boot_s

    ours = dict(result.table.select("model", "rating").iter_rows())
    centred = baseline - baseline.mean() + 1000.0
    diff = max(abs(ours[m] - centred[m]) for m in ours)
    return {
        "votes": votes,
        "models": models,
        "rounds": rounds,
        "imgkit_s": imgkit_s,
        "imgkit_runs_s": runs,
        "imgkit_without_online_elo_s": statistics.median(runs_no_online),
        "load_average_1min": os.getloadavg()[0],
        "baseline_fit_s": baseline_fit_s,
        "baseline_rounds": baseline_rounds,
        "baseline_measured_rounds": measured,
        "baseline_bootstrap_s": baseline_boot_s,
        "baseline_extrapolated": measured < baseline_rounds,
        "baseline_s": baseline_s,
        "baseline_mean_rating": float(baseline.mean()),
        "speedup": baseline_s / imgkit_s,
        "max_rating_diff": diff,
        "goal_time_met": imgkit_s < GOAL_SECONDS,
        "goal_speedup_met": baseline_s / imgkit_s >= GOAL_SPEEDUP,
        "goal_equal_met": diff <= GOAL_MAX_DIFF,
    }


def _print(r: dict) -> None:
    extrapolated = (
        f" ({r['baseline_measured_rounds']} rounds measured, scaled linearly to {r['baseline_rounds']})"
        if r["baseline_extrapolated"]
        else ""
    )
    print(
        f"Bradley–Terry ratings: {r['votes']:,} votes over {r['models']} models"
        f" (load average at the end: {r['load_average_1min']:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"{'path':<58}{'seconds':>10}")
    print(
        f"{'imgkit fit + ' + format(r['rounds'], ',') + ' bootstrap rounds (median)':<58}{r['imgkit_s']:>10.3f}"
        f"   runs: {', '.join(f'{t:.3f}' for t in r['imgkit_runs_s'])}"
    )
    print(f"{'imgkit, same without online Elo (median)':<58}{r['imgkit_without_online_elo_s']:>10.3f}")
    print(f"{'notebook LogisticRegression: one fit':<58}{r['baseline_fit_s']:>10.3f}")
    print(
        f"{'notebook LogisticRegression: ' + str(r['baseline_rounds']) + ' bootstrap rounds':<58}"
        f"{r['baseline_bootstrap_s']:>10.3f}{extrapolated}"
    )
    print(f"{'notebook LogisticRegression: fit + bootstrap':<58}{r['baseline_s']:>10.3f}")
    print(
        f"speed-up: {r['speedup']:.0f}x (imgkit does {r['rounds'] // max(r['baseline_rounds'], 1)}x the rounds)"
        f"   max |point rating difference|: {r['max_rating_diff']:.2g} Elo"
        f" (baseline centred; its mean was {r['baseline_mean_rating']:.4f})"
    )
    goals = {
        f"imgkit < {GOAL_SECONDS:g} s": r["goal_time_met"],
        f">= {GOAL_SPEEDUP:g}x faster": r["goal_speedup_met"],
        f"ratings within {GOAL_MAX_DIFF:g} Elo": r["goal_equal_met"],
    }
    print("goals: " + "; ".join(f"{goal}: {'met' if met else 'NOT met'}" for goal, met in goals.items()))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--votes", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--baseline-rounds", type=int, default=100)
    ap.add_argument("--baseline-measured-rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    _print(
        main(a.votes, a.models, a.rounds, a.baseline_rounds, a.baseline_measured_rounds, a.repeats, a.seed)
    )
