"""Bradley–Terry ratings from blind pairwise votes, with intervals, ranks, guards and online Elo alongside.

Method (``../shared/reference/RATINGS.md``): P(a beats b) = σ(θ_a − θ_b); ties and "both bad" count as half a
win for each side; ratings on the Elo scale, R = 1000 + (400 / ln 10)·θ, centred on a mean of 1000. Votes are
aggregated per unordered pair into (wins, ties, losses) counts, which are sufficient statistics, so a million
votes over 50 models become at most 1,225 pairs. The point estimate is the full-data maximum-likelihood fit
(L-BFGS with the analytic gradient and tight tolerances, polished by Newton steps). Intervals come from a
multinomial bootstrap over the unique (pair, outcome) rows — identical in law to resampling votes — refitted by
a batched Newton solver warm-started at the point estimate, or from the sandwich covariance. An anchor
(``MODEL=VALUE``) is one shift of point and bounds after the intervals, so widths do not change.

Guards (RATINGS.md §7.4): when the directed win graph is not strongly connected (a model with only wins or
only losses, groups that never met, groups whose votes run one way) no finite MLE exists. This is detected
before fitting; the fit then adds a small L2 term, and every affected model is flagged with a reason.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from imgkit._files import decode_utf8, first_ragged_csv_row
from imgkit.errors import ImgkitError, InvalidParameterError, SpecError, UnknownNameError, first_line
from imgkit.stats import Z_95, wilson_interval

__all__ = [
    "CENTRE_RATING",
    "ELO_PER_NAT",
    "POSITION_ALPHA",
    "WINNER_OUTCOMES",
    "RatingsResult",
    "VoteDiagnostics",
    "Votes",
    "WinRateGap",
    "anchor_ratings",
    "category_leaderboards",
    "compare_with_published",
    "fit_bradley_terry",
    "fit_by_category",
    "normalise_votes",
    "online_elo",
    "parse_anchor",
    "rank_by_interval",
    "read_votes",
    "vote_diagnostics",
    "win_rate_gap",
    "win_rate_matrices",
]

#: Elo points per natural-log unit of strength: 400 points per factor of 10 in odds.
ELO_PER_NAT = 400.0 / math.log(10.0)
#: Mean rating of a centred fit.
CENTRE_RATING = 1000.0
#: Winner label → outcome for model_a. Anything else is rejected.
WINNER_OUTCOMES: Mapping[str, float] = {
    "model_a": 1.0,
    "model_b": 0.0,
    "tie": 0.5,
    "tie (bothbad)": 0.5,
    "both_bad": 0.5,
}
#: evalica's seat names, accepted only in a file whose model columns are ``left``/``right``.
_SEAT_OUTCOMES: Mapping[str, float] = {"left": 1.0, "right": 0.0}
_TEXT_COLUMNS = (
    "model_a",
    "model_b",
    "left",
    "right",
    "winner",
    "category",
    "voter",
    "prompt_id",
    "pair_id",
    "judge",
)
_CONTEXT_COLUMNS = ("category", "voter", "prompt_id", "pair_id", "timestamp")
_COUNT_COLUMNS = ("a_wins", "b_wins", "ties")
_SANDWICH_RIDGE = 1e-5  # arena-rank hessian_reg, times the total weight
_BOOTSTRAP_CHUNK = 250  # replicates per generator; fixed so results do not depend on the thread count


# --- votes ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Votes:
    """Votes in one canonical shape: weighted rows ``model_a, model_b, outcome (1 / 0.5 / 0), weight``.

    ``per_vote`` is True when every row is one vote in file (or timestamp) order, which online Elo needs;
    aggregated counts give up to three weighted rows per pair. Context columns (category, voter, prompt_id,
    timestamp) are kept when present.
    """

    frame: pl.DataFrame
    per_vote: bool
    self_pairs_dropped: float = 0.0
    origin: str = ""  # the file the votes were read from, for messages ("" when handed a frame)

    @property
    def n_votes(self) -> float:
        return float(self.frame["weight"].sum()) if self.frame.height else 0.0


def read_votes(path: str | Path) -> pl.DataFrame:
    """Read votes (or any table of them, such as ratings) from a CSV, TSV or Parquet file.

    Model, winner and context columns are read as text. A file that cannot be read as such a table is a
    :class:`~imgkit.errors.SpecError` naming the file and where: not UTF-8 (line, column), empty, no rows,
    a column named twice, a row with more fields than the header (its line), a NUL byte in a text column
    (its row). Whether the rows are valid votes is :func:`normalise_votes`' part.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError("votes", str(path), "an existing CSV or Parquet file")
    file = str(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except pl.exceptions.ComputeError as exc:
            raise SpecError(file, "", f"not a readable Parquet file ({first_line(exc)})") from None
    elif suffix in (".csv", ".tsv"):
        frame = _read_votes_csv(path, "\t" if suffix == ".tsv" else ",")
    else:
        raise InvalidParameterError("votes", file, ".csv, .tsv or .parquet file")
    if frame.height == 0:
        raise SpecError(
            file, "", f"no rows (columns {', '.join(frame.columns) or 'none'}); allowed: one row per vote"
        )
    for column, dtype in frame.schema.items():
        if dtype == pl.String:
            bad = _first_bad_row(frame, pl.col(column).str.contains("\x00", literal=True), column)
            if bad:
                raise SpecError(file, f"row {bad[0]}, {column}", "holds a NUL byte; allowed: text")
    return frame


def _read_votes_csv(path: Path, separator: str) -> pl.DataFrame:
    file = str(path)
    data = path.read_bytes()
    text = decode_utf8(data, file, SpecError)
    if not text.strip():
        raise SpecError(
            file, "", "empty file; allowed: a header (model_a,model_b,winner) and one row per vote"
        )
    header = next(csv.reader(io.StringIO(text), delimiter=separator))
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise SpecError(file, "header", f"column {twice[0]!r} appears twice; allowed: each column once")
    overrides = {c: pl.String for c in header if c in _TEXT_COLUMNS}
    try:
        return pl.read_csv(data, separator=separator, schema_overrides=overrides)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        ragged = first_ragged_csv_row(text, separator)
        if ragged:
            line, fields, width = ragged
            raise SpecError(
                file, f"line {line}", f"{fields} fields; allowed: {width}, one per column of the header"
            ) from None
        raise SpecError(file, "", f"not readable as CSV ({first_line(exc)})") from None


def _as_frame(data: Any) -> tuple[pl.DataFrame, str]:
    """The votes as a frame, and the file they come from ("" when handed a frame)."""
    if isinstance(data, pl.DataFrame):
        return data, ""
    if isinstance(data, pl.LazyFrame):
        return data.collect(), ""
    if isinstance(data, (str, Path)):
        return read_votes(data), str(data)
    if type(data).__module__.startswith("pandas"):
        return pl.from_pandas(data), ""
    raise InvalidParameterError(
        "votes", type(data).__name__, "a polars or pandas DataFrame, or a CSV/Parquet path"
    )


def _first_bad_row(frame: pl.DataFrame, bad: pl.Expr, column: str) -> tuple[int, Any] | None:
    hit = frame.select(pl.col(column), bad.alias("_bad")).with_row_index("_row").filter(pl.col("_bad"))
    if hit.height == 0:
        return None
    return int(hit["_row"][0]) + 1, hit[column][0]


def _bad_vote(
    origin: str, field: str, row: int | None, value: Any, allowed: Any, hint: str = ""
) -> ImgkitError:
    """A refused value of the votes: naming the file and the row when they come from one."""
    if not origin:
        return InvalidParameterError(f"{field} (row {row})" if row else field, value, allowed, hint=hint)
    allowed = allowed if isinstance(allowed, str) else ", ".join(map(str, allowed))
    where = f"row {row}, {field}" if row else field
    return SpecError(
        origin, where, f"{value!r} is not allowed; allowed: {allowed}" + (f" ({hint})" if hint else "")
    )


def normalise_votes(data: Any, *, category: str | None = None) -> Votes:
    """Validate votes and bring them to the canonical weighted-row shape (see :class:`Votes`).

    Accepts one row per vote (``model_a, model_b, winner`` with winner in :data:`WINNER_OUTCOMES`; evalica's
    ``left, right, winner ∈ {left, right, tie}`` also reads) or aggregated counts (``model_a, model_b,
    a_wins, b_wins[, ties]``, non-negative, fractional allowed). Unknown winner labels raise
    ``InvalidParameterError`` naming the 1-based data row, the value and the allowed labels (a
    ``SpecError`` naming the file too, when ``data`` is a path). Self-pairs are dropped and counted.
    ``category`` keeps only the votes of that category.
    """
    if isinstance(data, Votes):
        votes = data
        frame = votes.frame
        if category is not None:
            frame = _filter_category(frame, category, votes.origin)
        return Votes(frame, votes.per_vote, votes.self_pairs_dropped, votes.origin)
    frame, origin = _as_frame(data)
    columns = set(frame.columns)
    outcomes = dict(WINNER_OUTCOMES)
    if not {"model_a", "model_b"} <= columns and {"left", "right"} <= columns:
        frame = frame.rename({"left": "model_a", "right": "model_b"})
        outcomes.update(_SEAT_OUTCOMES)
        columns = set(frame.columns)
    per_vote = "winner" in columns
    needed = {"model_a", "model_b", "winner"} if per_vote else {"model_a", "model_b", "a_wins", "b_wins"}
    if not needed <= columns:
        missing = sorted(needed - columns)
        raise _bad_vote(
            origin,
            "header" if origin else "votes columns",
            None,
            sorted(columns),
            "model_a, model_b, winner (one row per vote) or model_a, model_b, a_wins, b_wins[, ties] (counts)",
            hint=f"missing {', '.join(missing)}",
        )
    frame = frame.with_columns(pl.col("model_a", "model_b").cast(pl.String))
    for col in ("model_a", "model_b"):
        blank = pl.col(col).is_null() | (pl.col(col).str.strip_chars() == "")
        bad = _first_bad_row(frame, blank, col)
        if bad:
            raise _bad_vote(origin, col, bad[0], bad[1], "a model name")
    context = [c for c in _CONTEXT_COLUMNS if c in columns]
    rows = _vote_rows(frame, outcomes, context, origin) if per_vote else _count_rows(frame, context, origin)
    if category is not None:
        rows = _filter_category(rows, category, origin)
    self_pair = (rows["model_a"] == rows["model_b"]).to_numpy()
    if not self_pair.any():
        return Votes(rows, per_vote, 0.0, origin)
    dropped = float(rows["weight"].to_numpy()[self_pair].sum())
    return Votes(rows.filter(~self_pair), per_vote, dropped, origin)


def _filter_category(frame: pl.DataFrame, category: str, origin: str = "") -> pl.DataFrame:
    if "category" not in frame.columns:
        raise InvalidParameterError(
            "category", category, "votes that have a 'category' column", context=origin or "these votes"
        )
    known = frame["category"].cast(pl.String).drop_nulls().unique().sort().to_list()
    if category not in known:
        raise UnknownNameError("category", category, known, context=origin)
    return frame.filter(pl.col("category").cast(pl.String) == category)


def _vote_rows(
    frame: pl.DataFrame, outcomes: Mapping[str, float], context: list[str], origin: str
) -> pl.DataFrame:
    labels = list(outcomes)
    codes = frame["winner"].cast(pl.String).cast(pl.Enum(labels), strict=False)
    if codes.null_count():
        winner = pl.col("winner").cast(pl.String)
        bad = _first_bad_row(frame, winner.is_null() | ~winner.is_in(labels), "winner")
        row, value = bad if bad is not None else (None, None)  # a code is null only where the winner is bad
        raise _bad_vote(origin, "winner", row, value, labels, hint="map other labels before rating")
    outcome = np.array([outcomes[x] for x in labels])[codes.to_physical().to_numpy()]
    return (
        frame.select("model_a", "model_b", *context)
        .with_columns(outcome=pl.Series(outcome), weight=pl.lit(1.0))
        .select("model_a", "model_b", "outcome", "weight", *context)
    )


def _count_rows(frame: pl.DataFrame, context: list[str], origin: str) -> pl.DataFrame:
    if "ties" not in frame.columns:
        frame = frame.with_columns(ties=pl.lit(0.0))
    for col in _COUNT_COLUMNS:
        as_float = pl.col(col).cast(pl.Float64, strict=False)
        invalid = as_float.is_null() | as_float.is_nan() | (as_float < 0) | as_float.is_infinite()
        bad = _first_bad_row(frame, invalid, col)
        if bad:
            raise _bad_vote(origin, col, bad[0], bad[1], "a non-negative count")
    keep = [c for c in context if c != "timestamp"]
    parts = [
        frame.select("model_a", "model_b", *keep, outcome=pl.lit(y), weight=pl.col(col).cast(pl.Float64))
        for col, y in (("a_wins", 1.0), ("b_wins", 0.0), ("ties", 0.5))
    ]
    rows = pl.concat(parts).filter(pl.col("weight") > 0)
    return rows.select("model_a", "model_b", "outcome", "weight", *keep)


# --- aggregation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pairs:
    """Sufficient statistics per unordered pair i < j, from i's side: wins, ties, losses (vote weights)."""

    models: list[str]
    i: np.ndarray
    j: np.ndarray
    counts: np.ndarray  # (P, 3): i wins, ties, j wins

    @property
    def n(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    @property
    def score(self) -> np.ndarray:
        return self.counts[:, 0] + 0.5 * self.counts[:, 1]


def _encode(votes: Votes) -> tuple[list[str], np.ndarray, np.ndarray]:
    frame = votes.frame
    models = sorted(set(frame["model_a"].unique().to_list()) | set(frame["model_b"].unique().to_list()))
    enum = pl.Enum(models)
    a = frame["model_a"].cast(enum).to_physical().to_numpy().astype(np.int64)
    b = frame["model_b"].cast(enum).to_physical().to_numpy().astype(np.int64)
    return models, a, b


def _aggregate(models: list[str], a: np.ndarray, b: np.ndarray, y: np.ndarray, w: np.ndarray) -> _Pairs:
    m = len(models)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    y_lo = np.where(a < b, y, 1.0 - y)
    outcome = 2 - np.rint(2.0 * y_lo).astype(np.int64)  # 0: lo wins, 1: tie, 2: hi wins
    pair = lo * m + hi
    if m * m * 3 <= 10_000_000:
        table = np.bincount(pair * 3 + outcome, weights=w, minlength=m * m * 3).reshape(m * m, 3)
        keys = np.flatnonzero(table.sum(axis=1) > 0)
        counts = table[keys]
    else:
        keys, inverse = np.unique(pair, return_inverse=True)
        counts = np.bincount(inverse * 3 + outcome, weights=w, minlength=len(keys) * 3).reshape(-1, 3)
    return _Pairs(models, keys // m, keys % m, counts)


# --- guards --------------------------------------------------------------------------------------------------


@dataclass
class _Diagnosis:
    identified: bool
    flags: list[list[str]]
    notes: list[list[str]]
    component: np.ndarray  # weakly connected component of each model
    warnings: list[str] = field(default_factory=list)


def _win_graph(m: int, i: np.ndarray, j: np.ndarray, counts: np.ndarray) -> sparse.csr_array:
    """Directed edge u → v when u has positive win weight (a win or a tie) over v."""
    fwd = (counts[:, 0] + counts[:, 1]) > 0
    bwd = (counts[:, 2] + counts[:, 1]) > 0
    src = np.concatenate([i[fwd], j[bwd]])
    dst = np.concatenate([j[fwd], i[bwd]])
    return sparse.csr_array((np.ones(len(src)), (src, dst)), shape=(m, m))


def _strongly_connected(m: int, i: np.ndarray, j: np.ndarray, counts: np.ndarray) -> bool:
    n_strong, _ = connected_components(_win_graph(m, i, j, counts), directed=True, connection="strong")
    return n_strong == 1


def _names(models: list[str], idx: np.ndarray, limit: int = 6) -> str:
    names = [models[k] for k in idx]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _diagnose(pairs: _Pairs, per_model: np.ndarray, min_votes: float, l2: float) -> _Diagnosis:
    """Find the models without a finite maximum-likelihood rating, before fitting, and say why."""
    models, m = pairs.models, len(pairs.models)
    graph = _win_graph(m, pairs.i, pairs.j, pairs.counts)
    n_strong, strong = connected_components(graph, directed=True, connection="strong")
    n_weak, weak = connected_components(graph, directed=False, connection="weak")
    flags: list[list[str]] = [[] for _ in range(m)]
    notes: list[list[str]] = [[] for _ in range(m)]
    wins, losses, ties, votes = per_model.T
    if n_strong > 1:
        dense = graph.toarray() > 0
        for k in range(m):
            if ties[k] == 0 and losses[k] == 0:
                flags[k].append("only_wins")
                notes[k].append(
                    f"only wins ({wins[k]:g}, no losses or ties): its rating has no finite estimate"
                )
            elif ties[k] == 0 and wins[k] == 0:
                flags[k].append("only_losses")
                notes[k].append(
                    f"only losses ({losses[k]:g}, no wins or ties): its rating has no finite estimate"
                )
        if n_weak > 1:
            for g in range(n_weak):
                members = np.flatnonzero(weak == g)
                for k in members.tolist():
                    flags[k].append("disconnected")
                    notes[k].append(
                        f"group {g + 1} of {n_weak} ({_names(models, members)}) never met the other models: "
                        "ratings compare only within the group"
                    )
        for s in range(n_strong):
            members = np.flatnonzero(strong == s)
            if len(members) == 1 and flags[members[0]][:1] in (["only_wins"], ["only_losses"]):
                continue
            same_group = weak == weak[members[0]]
            outside = np.flatnonzero(same_group & (strong != s))
            if len(outside) == 0:
                continue
            beaten_by_outside = dense[np.ix_(outside, members)].any()
            beats_outside = dense[np.ix_(members, outside)].any()
            if not beaten_by_outside:
                why = f"never lost to or tied with {_names(models, outside)}"
            elif not beats_outside:
                why = f"never beat or tied with {_names(models, outside)}"
            else:
                why = "votes with the other groups run one way only"
            for k in members.tolist():
                flags[k].append("one_way_group")
                notes[k].append(f"group ({_names(models, members)}) {why}: no finite estimate")
        for k in range(m):
            flags[k].append("regularised")
            notes[k].append(
                f"fitted with an L2 term ({l2:g} per natural unit²) because a finite MLE does not exist"
            )
    for k in range(m):
        if votes[k] < min_votes:
            flags[k].append("few_votes")
            notes[k].append(f"only {votes[k]:g} vote{'s' if votes[k] != 1 else ''}: provisional")
    diag = _Diagnosis(n_strong == 1, flags, notes, weak)
    if n_strong > 1:
        structural = {"only_wins", "only_losses", "disconnected", "one_way_group"}
        affected = [models[k] for k in range(m) if structural & set(flags[k])]
        diag.warnings.append(
            f"no finite maximum-likelihood ratings: the win graph splits into {n_strong} groups that do not "
            f"beat each other both ways (affected: {', '.join(affected[:8])}"
            f"{' …' if len(affected) > 8 else ''}); fitted with a small L2 term ({l2:g}); flagged ratings "
            "are indicative only"
        )
    if n_weak > 1:
        diag.warnings.append(f"{n_weak} groups of models never met each other; ranks are within each group")
    return diag


# --- fitting -------------------------------------------------------------------------------------------------


def _neg_loglik(theta: np.ndarray, pairs: _Pairs, l2: float, total: float) -> tuple[float, np.ndarray]:
    n, s = pairs.n, pairs.score
    d = theta[pairs.i] - theta[pairs.j]
    r = n * expit(d) - s
    m = theta.shape[0]
    grad = np.bincount(pairs.i, r, m) - np.bincount(pairs.j, r, m) + l2 * theta
    value = float(np.sum(n * np.logaddexp(0.0, d) - s * d) + 0.5 * l2 * theta @ theta)
    return value / total, grad / total


def _pair_operators(m: int, i: np.ndarray, j: np.ndarray) -> tuple[sparse.csr_array, sparse.csr_array]:
    """Sparse maps from per-pair values: ``incidence.T @ r`` is the gradient (+r at i, −r at j) and
    ``laplacian @ w`` the flattened weighted pair Laplacian (+w at (i,i), (j,j); −w at (i,j), (j,i))."""
    pairs = np.arange(len(i))
    incidence = sparse.csr_array(
        (np.r_[np.ones(len(i)), -np.ones(len(j))], (np.r_[pairs, pairs], np.r_[i, j])), shape=(len(i), m)
    )
    cells = np.r_[i * m + i, j * m + j, i * m + j, j * m + i]
    signs = np.r_[np.ones(2 * len(i)), -np.ones(2 * len(i))]
    laplacian = sparse.csr_array((signs, (cells, np.tile(pairs, 4))), shape=(m * m, len(i)))
    return incidence, laplacian


def _newton(
    theta: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    n: np.ndarray,
    s: np.ndarray,
    l2: float,
    *,
    tol: float = 1e-6,
    max_iter: int = 60,
    chord_start: bool = False,
) -> np.ndarray:
    """Batched Newton on the pair likelihood: rows of ``theta`` (B, M) with pair stats ``n``, ``s`` (B, P).

    The Hessian is the weighted pair Laplacian; without a penalty its null direction (a common shift) is
    removed by adding the all-ones matrix, which keeps the sum of θ fixed. Steps are capped at 2 natural
    units. A row stops after a step smaller than ``tol``: convergence is quadratic there, so the error left
    is of order tol² (1e-12 natural units). Rows that do not converge in ``max_iter`` steps come back NaN.
    ``chord_start``: all rows start at the same θ (bootstrap warm start); one step with the Hessian of the
    mean counts there, factorised once, brings every row close before the per-row Newton steps.
    """
    theta = theta.copy()
    b, m = theta.shape
    incidence, laplacian = _pair_operators(m, i, j)
    ridge = np.full((m, m), 0.0 if l2 > 0 else 1.0) + l2 * np.eye(m)
    if chord_start and b:
        p = expit(theta[0, i] - theta[0, j])
        shared = (laplacian @ (n.mean(axis=0) * p * (1.0 - p))).reshape(m, m) + ridge
        grad = (incidence.T @ (n * p - s).T).T + l2 * theta
        theta -= np.linalg.solve(shared, grad.T).T
    active = np.arange(b)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th = theta[active]
        p = expit(th[:, i] - th[:, j])
        na = n[active]
        grad = (incidence.T @ (na * p - s[active]).T).T + l2 * th
        hess = (laplacian @ (na * p * (1.0 - p)).T).T.reshape(-1, m, m) + ridge
        try:
            step = np.linalg.solve(hess, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a numerically singular replicate: least squares, row by row
            step = np.stack(
                [np.linalg.lstsq(hk, gk, rcond=None)[0] for hk, gk in zip(hess, grad, strict=True)]
            )
        size = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, 2.0 / np.maximum(size, 1e-300))[:, None]
        theta[active] = th - step
        active = active[~(size < tol)]
    theta[active] = np.nan
    return theta


def _fit_point(pairs: _Pairs, l2: float) -> np.ndarray:
    """Full-data fit: L-BFGS (gtol 1e-10, ftol 1e-15) from zeros, then Newton polish; centred."""
    m, total = len(pairs.models), float(pairs.n.sum())
    res = optimize.minimize(
        _neg_loglik,
        np.zeros(m),
        args=(pairs, l2, total),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-15},
    )
    theta = res.x - res.x.mean()
    polished = _newton(theta[None], pairs.i, pairs.j, pairs.n[None], pairs.score[None], l2, tol=1e-12)[0]
    if np.all(np.isfinite(polished)):
        theta = polished
    return theta - theta.mean()


def _fit_one(pairs: _Pairs, counts: np.ndarray, start: np.ndarray, l2: float) -> np.ndarray:
    one = _Pairs(pairs.models, pairs.i, pairs.j, counts)
    res = optimize.minimize(
        _neg_loglik,
        start,
        args=(one, l2, max(float(one.n.sum()), 1.0)),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-15},
    )
    return res.x if res.success else np.full_like(start, np.nan)


def _bootstrap(
    pairs: _Pairs, theta_hat: np.ndarray, l2: float, rounds: int, seed: int | None, identified: bool
) -> tuple[np.ndarray, int]:
    """Multinomial bootstrap over unique (pair, outcome) rows; returns centred θ replicates and the number
    of degenerate ones (no finite MLE: left out as NaN when the full data is identified)."""
    m, n_pairs = len(pairs.models), len(pairs.i)
    cells = pairs.counts.ravel()
    used = np.flatnonzero(cells > 0)
    probs = cells[used] / cells[used].sum()
    draws_total = round(float(cells.sum()))
    win_edge = (pairs.counts[:, 0] + pairs.counts[:, 1]) > 0
    loss_edge = (pairs.counts[:, 2] + pairs.counts[:, 1]) > 0
    chunk = max(8, min(_BOOTSTRAP_CHUNK, 4_000_000 // (m * m)))
    sizes = [min(chunk, rounds - start) for start in range(0, rounds, chunk)]
    streams = np.random.SeedSequence(seed).spawn(len(sizes))

    def run(k: int) -> tuple[np.ndarray, int]:
        size = sizes[k]
        flat = np.zeros((size, n_pairs * 3))
        flat[:, used] = np.random.default_rng(streams[k]).multinomial(draws_total, probs, size=size)
        counts = flat.reshape(size, n_pairs, 3)
        if identified:
            lost_edge = (win_edge & (counts[:, :, 0] + counts[:, :, 1] == 0)) | (
                loss_edge & (counts[:, :, 2] + counts[:, :, 1] == 0)
            )
            degenerate = np.zeros(size, dtype=bool)
            for r in np.flatnonzero(lost_edge.any(axis=1)):
                degenerate[r] = not _strongly_connected(m, pairs.i, pairs.j, counts[r])
            fit = ~degenerate
        else:  # every replicate of unidentified data is unidentified too: edges can only disappear
            degenerate = np.ones(size, dtype=bool)
            fit = degenerate
        theta = np.full((size, m), np.nan)
        sub = counts[fit]
        start = np.broadcast_to(theta_hat, (len(sub), m))
        theta[fit] = _newton(
            start, pairs.i, pairs.j, sub.sum(axis=2), sub[:, :, 0] + 0.5 * sub[:, :, 1], l2, chord_start=True
        )
        for r in np.flatnonzero(fit & np.isnan(theta).any(axis=1)):
            theta[r] = _fit_one(pairs, counts[r], theta_hat, l2)
        return theta, int(degenerate.sum())

    workers = max(1, min(2, os.cpu_count() or 1, len(sizes)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(run, range(len(sizes))))
    theta = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, m))
    valid = np.isfinite(theta).all(axis=1)
    theta[valid] -= theta[valid].mean(axis=1, keepdims=True)
    return theta, sum(p[1] for p in parts)


def _sandwich_half_width(pairs: _Pairs, theta: np.ndarray, l2: float) -> np.ndarray:
    """95 % half-width on the Elo scale from the robust covariance H⁻¹ G H⁻¹ (arena-rank, RATINGS §7.2)."""
    m = len(pairs.models)
    p = expit(theta[pairs.i] - theta[pairs.j])
    wins, ties, losses = pairs.counts.T
    _, laplacian = _pair_operators(m, pairs.i, pairs.j)
    hess = (laplacian @ (pairs.n * p * (1 - p))).reshape(m, m)
    hess += (l2 + _SANDWICH_RIDGE * float(pairs.n.sum())) * np.eye(m)
    meat = (laplacian @ (wins * (1 - p) ** 2 + ties * (0.5 - p) ** 2 + losses * p**2)).reshape(m, m)
    inv = np.linalg.inv(hess)
    cov = inv @ meat @ inv
    return Z_95 * np.sqrt(np.clip(np.diag(cov), 0.0, None)) * ELO_PER_NAT


def _online_elo(a: np.ndarray, b: np.ndarray, y: np.ndarray, m: int, k: float, initial: float) -> np.ndarray:
    """Sequential Elo (FastChat ``compute_elo``): base 10, scale 400, every rating starts at ``initial``."""
    ratings = [initial] * m
    for x, z, s in zip(a.tolist(), b.tolist(), y.tolist(), strict=True):
        ra, rb = ratings[x], ratings[z]
        delta = k * (s - 1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0)))
        ratings[x] = ra + delta
        ratings[z] = rb - delta
    return np.asarray(ratings)


def _vote_order(votes: Votes) -> pl.DataFrame:
    frame = votes.frame
    if "timestamp" in frame.columns:
        frame = frame.sort("timestamp", nulls_last=True, maintain_order=True)
    return frame


def online_elo(votes: Any, *, k: float = 4.0, initial: float = CENTRE_RATING) -> pl.DataFrame:
    """Online Elo in timestamp order (file order without timestamps): ``model, online_elo``.

    Order dependent by nature (RATINGS.md §6); shown only beside the Bradley–Terry ratings. Needs one row
    per vote: aggregated counts have no order.
    """
    votes = normalise_votes(votes)
    if not votes.per_vote:
        raise InvalidParameterError(
            "votes", "aggregated counts", "one row per vote (online Elo needs an order)"
        )
    ordered = _vote_order(votes)
    models, a, b = _encode(Votes(ordered, True))
    elo = _online_elo(a, b, ordered["outcome"].to_numpy(), len(models), k, initial)
    return pl.DataFrame({"model": models, "online_elo": elo})


# --- ranks and anchors ---------------------------------------------------------------------------------------


def rank_by_interval(
    lower: Sequence[float] | np.ndarray, upper: Sequence[float] | np.ndarray, groups: Any = None
) -> np.ndarray:
    """rank_i = 1 + #{j : lower_j > upper_i} (FastChat "Rank* (UB)"); only within the same group if given."""
    lo, up = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    better = lo[None, :] > up[:, None]
    if groups is not None:
        g = np.asarray(groups)
        better &= g[None, :] == g[:, None]
    return 1 + better.sum(axis=1)


def parse_anchor(text: str) -> tuple[str, float]:
    """``"MODEL=VALUE"`` → (model, value); the last ``=`` splits, so model names may contain ``=``."""
    model, sep, value = str(text).rpartition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not model or not math.isfinite(number):
        raise InvalidParameterError("anchor", text, "MODEL=VALUE with a finite number, e.g. dall-e-3=978")
    return model, number


def anchor_ratings(
    frame: pl.DataFrame, model: str, value: float, columns: Sequence[str] = ("rating", "ci_low", "ci_high")
) -> pl.DataFrame:
    """Shift ``columns`` by one constant so that ``model`` shows ``value``; differences and widths unchanged."""
    names = frame["model"].to_list()
    if model not in names:
        raise UnknownNameError("anchor", model, names)
    shift = value - float(frame["rating"][names.index(model)])
    return frame.with_columns(pl.col(c) + shift for c in columns if c in frame.columns)


# --- result --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingsResult:
    """A leaderboard and how it was made.

    ``table``: one row per model, best first: model, rating, ci_low, ci_high, rank, votes, wins, losses, ties
    (vote weights; ties are also in votes), online_elo (null for aggregated counts), flags (codes such as
    only_wins, only_losses, disconnected, one_way_group, regularised, few_votes), note (the reasons in words).
    ``pairwise``: one row per ordered pair that met: votes, wins, losses, ties, observed_win_rate (ties as
    half) and predicted_win_rate. ``replicates``: bootstrap ratings (rounds × models in ``table`` order).
    """

    table: pl.DataFrame
    pairwise: pl.DataFrame
    n_votes: float
    method: str
    ci_method: str
    bootstrap_rounds: int
    degenerate_replicates: int
    seed: int | None
    anchor: tuple[str, float] | None
    category: str | None
    l2: float
    self_pairs_dropped: float
    warnings: tuple[str, ...]
    replicates: np.ndarray | None = field(default=None, repr=False)

    def caption(self, source: str = "measured") -> str:
        """A provenance line for figures, e.g. ``measured: 1,451 votes, bootstrap 1000, seed 0``."""
        parts = [f"{source}: {_count(self.n_votes)} votes"]
        if self.category:
            parts.append(f"category {self.category}")
        if self.ci_method == "bootstrap":
            parts.append(f"bootstrap {self.bootstrap_rounds}, seed {self.seed}")
        elif self.ci_method == "sandwich":
            parts.append("sandwich 95 % intervals")
        if self.anchor:
            parts.append(f"anchor {self.anchor[0]} = {self.anchor[1]:g}")
        if self.l2:
            parts.append("regularised (see flags)")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"ratings": [...], "n_votes", "method", ..., "warnings"}``."""
        return {
            "ratings": self.table.to_dicts(),
            "n_votes": _number(self.n_votes),
            "n_models": self.table.height,
            "method": self.method,
            "ci_method": self.ci_method,
            "bootstrap_rounds": self.bootstrap_rounds,
            "degenerate_replicates": self.degenerate_replicates,
            "seed": self.seed,
            "anchor": {"model": self.anchor[0], "rating": self.anchor[1]} if self.anchor else None,
            "category": self.category,
            "l2": self.l2,
            "self_pairs_dropped": _number(self.self_pairs_dropped),
            "warnings": list(self.warnings),
        }


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def _count(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.1f}"


def win_rate_matrices(result: RatingsResult) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(models best first, observed, predicted): cell (r, c) is the rate at which row beats column.

    Observed counts ties as half (NaN where the pair never met and on the diagonal); predicted is
    1 / (1 + 10^((R_c − R_r)/400)), so P_rc + P_cr = 1 and P_rr = 0.5.
    """
    models = result.table["model"].to_list()
    index = {name: k for k, name in enumerate(models)}
    observed = np.full((len(models), len(models)), np.nan)
    pw = result.pairwise
    rows = np.array([index[x] for x in pw["model"].to_list()], dtype=np.int64)
    cols = np.array([index[x] for x in pw["opponent"].to_list()], dtype=np.int64)
    observed[rows, cols] = pw["observed_win_rate"].to_numpy()
    rating = result.table["rating"].to_numpy()
    predicted = 1.0 / (1.0 + 10.0 ** ((rating[None, :] - rating[:, None]) / 400.0))
    return models, observed, predicted


@dataclass(frozen=True)
class WinRateGap:
    """How far the ratings' predicted win rates are from the observed ones.

    ``weighted``: the mean of |observed − predicted| over the pairs that met (each pair once), weighted by
    their votes; ``worst``: that pair's row of ``pairwise`` with the largest gap (``model, opponent, votes,
    observed_win_rate, predicted_win_rate, gap``).
    """

    weighted: float
    worst: dict[str, Any]


def win_rate_gap(result: RatingsResult) -> WinRateGap:
    """:class:`WinRateGap` of a fit: do the ratings describe the votes they come from?"""
    pairs = result.pairwise.filter(pl.col("model") < pl.col("opponent"))
    pairs = pairs.with_columns(
        (pl.col("observed_win_rate") - pl.col("predicted_win_rate")).abs().alias("gap")
    )
    weighted = float((pairs["gap"] * pairs["votes"]).sum()) / float(pairs["votes"].sum())
    return WinRateGap(weighted, pairs.sort("gap", descending=True).row(0, named=True))


def compare_with_published(table: pl.DataFrame, published: str | Path | pl.DataFrame) -> pl.DataFrame:
    """A refit's ratings beside published ones (a ``model, rating`` table or its file), for the models in
    both: ``model, rating, rank, published_rating, difference`` (refit − published), ``published_order``
    and ``refit_order`` (1 = best)."""
    if not isinstance(published, pl.DataFrame):
        published = read_votes(published)
    published = published.select("model", pl.col("rating").alias("published_rating"))
    return (
        table.select("model", "rating", "rank")
        .join(published, on="model", how="inner")
        .with_columns(
            (pl.col("rating") - pl.col("published_rating")).alias("difference"),
            pl.col("published_rating").rank(descending=True).cast(pl.Int64).alias("published_order"),
            pl.col("rating").rank(descending=True).cast(pl.Int64).alias("refit_order"),
        )
    )


# --- the fit -------------------------------------------------------------------------------------------------

_CI_METHODS = ("bootstrap", "sandwich", "none")


def fit_bradley_terry(
    votes: Any,
    *,
    bootstrap: int = 1000,
    seed: int | None = 0,
    ci: str = "bootstrap",
    anchor: str | tuple[str, float] | None = None,
    category: str | None = None,
    online: bool = True,
    k: float = 4.0,
    min_votes: float = 4,
    l2_if_degenerate: float = 0.01,
) -> RatingsResult:
    """Bradley–Terry ratings (ties as half wins, Elo scale, mean 1000) with 95 % intervals and ranks.

    ``votes``: anything :func:`normalise_votes` takes. ``ci``: ``bootstrap`` (``bootstrap`` multinomial
    rounds, seeded; percentile 2.5/97.5 around the full-data point), ``sandwich`` (robust covariance) or
    ``none``. ``anchor``: ``"MODEL=VALUE"`` or a tuple, one shift after the intervals. ``category`` refits on
    that category's votes. ``online`` adds online Elo (K = ``k``) in timestamp/file order. Models with fewer
    than ``min_votes`` votes are flagged ``few_votes``. When no finite MLE exists the fit adds
    ``l2_if_degenerate``·‖θ‖²/2 (natural units) and flags why (see the module docstring).
    """
    if ci not in _CI_METHODS:
        raise InvalidParameterError("ci", ci, _CI_METHODS)
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise InvalidParameterError("bootstrap", bootstrap, "a whole number of rounds >= 0")
    if not l2_if_degenerate > 0:
        raise InvalidParameterError("l2_if_degenerate", l2_if_degenerate, "a positive number")
    anchor_pair = parse_anchor(anchor) if isinstance(anchor, str) else anchor
    normalised = normalise_votes(votes, category=category)
    frame = _vote_order(normalised) if normalised.per_vote else normalised.frame
    ordered = Votes(frame, normalised.per_vote, normalised.self_pairs_dropped, normalised.origin)
    if frame.height == 0 or ordered.n_votes <= 0:
        raise InvalidParameterError(
            "votes",
            normalised.origin or "no votes between two different models",
            "at least one vote between two models",
            hint="none between two different models" if normalised.origin else "",
        )
    models, a, b = _encode(ordered)
    m = len(models)
    y, w = frame["outcome"].to_numpy(), frame["weight"].to_numpy()
    pairs = _aggregate(models, a, b, y, w)
    per_model = _per_model_counts(pairs)
    diag = _diagnose(pairs, per_model, min_votes, l2_if_degenerate)
    l2 = 0.0 if diag.identified else float(l2_if_degenerate)
    warnings = list(diag.warnings)
    if ordered.self_pairs_dropped:
        warnings.append(
            f"{_count(ordered.self_pairs_dropped)} self-pair votes (a model against itself) dropped"
        )

    theta = _fit_point(pairs, l2)
    rating = CENTRE_RATING + ELO_PER_NAT * theta
    low = high = None
    replicates, degenerate, rounds = None, 0, 0
    if ci == "bootstrap" and bootstrap > 0:
        rounds = int(bootstrap)
        reps, degenerate = _bootstrap(pairs, theta, l2, rounds, seed, diag.identified)
        replicates = CENTRE_RATING + ELO_PER_NAT * reps
        valid = np.isfinite(replicates).all(axis=1)
        if diag.identified and degenerate:
            warnings.append(
                f"{degenerate} of {rounds} bootstrap replicates had no finite MLE and were left out of the "
                "percentiles"
            )
        if valid.sum() >= 2:
            low, high = np.percentile(replicates[valid], [2.5, 97.5], axis=0)
            low, high = np.minimum(low, rating), np.maximum(high, rating)
        else:
            warnings.append("too few usable bootstrap replicates for an interval; intervals are empty")
    elif ci == "sandwich":
        half = _sandwich_half_width(pairs, theta, l2)
        low, high = rating - half, rating + half
    ci_method = "bootstrap" if rounds else ("sandwich" if ci == "sandwich" else "none")
    ranks = rank_by_interval(
        rating if low is None else low, rating if high is None else high, groups=diag.component
    )
    elo = None
    if online and ordered.per_vote:
        elo = _online_elo(a, b, y, m, k, CENTRE_RATING)
    elif online:
        warnings.append("online Elo needs one row per vote in order; not computed for aggregated counts")

    counts = {name: per_model[:, col] for col, name in enumerate(("wins", "losses", "ties", "votes"))}
    integral = bool(np.all(np.equal(np.mod(w, 1), 0)))
    table = pl.DataFrame(
        {
            "model": models,
            "rating": rating,
            "ci_low": low,
            "ci_high": high,
            "rank": ranks.astype(np.int64),
            **{name: counts[name] for name in ("votes", "wins", "losses", "ties")},
            "online_elo": elo,
            "flags": pl.Series(diag.flags, dtype=pl.List(pl.String)),
            "note": ["; ".join(n) for n in diag.notes],
        },
        schema_overrides={"ci_low": pl.Float64, "ci_high": pl.Float64, "online_elo": pl.Float64},
    )
    if integral:
        table = table.with_columns(pl.col("votes", "wins", "losses", "ties").cast(pl.Int64))
    order = np.lexsort((np.array(models, dtype=object), -rating))
    table = table[order.tolist()]
    if replicates is not None:
        replicates = replicates[:, order]
    if anchor_pair:
        shifted = anchor_ratings(table, *anchor_pair)
        if replicates is not None:
            replicates = replicates + float(shifted["rating"][0] - table["rating"][0])
        table = shifted
    return RatingsResult(
        table=table,
        pairwise=_pairwise_frame(pairs, theta),
        n_votes=ordered.n_votes,
        method="bradley_terry",
        ci_method=ci_method,
        bootstrap_rounds=rounds,
        degenerate_replicates=degenerate,
        seed=seed if rounds else None,
        anchor=anchor_pair,
        category=category,
        l2=l2,
        self_pairs_dropped=ordered.self_pairs_dropped,
        warnings=tuple(warnings),
        replicates=replicates,
    )


def _per_model_counts(pairs: _Pairs) -> np.ndarray:
    """(M, 4): wins, losses, ties, votes per model."""
    m = len(pairs.models)
    win_i, tie, win_j = pairs.counts.T
    wins = np.bincount(pairs.i, win_i, m) + np.bincount(pairs.j, win_j, m)
    losses = np.bincount(pairs.i, win_j, m) + np.bincount(pairs.j, win_i, m)
    ties = np.bincount(pairs.i, tie, m) + np.bincount(pairs.j, tie, m)
    return np.column_stack([wins, losses, ties, wins + losses + ties])


def _pairwise_frame(pairs: _Pairs, theta: np.ndarray) -> pl.DataFrame:
    names = np.array(pairs.models, dtype=object)
    win_i, tie, win_j = pairs.counts.T
    p = expit(theta[pairs.i] - theta[pairs.j])
    n = pairs.n
    frame = pl.DataFrame(
        {
            "model": np.r_[names[pairs.i], names[pairs.j]].tolist(),
            "opponent": np.r_[names[pairs.j], names[pairs.i]].tolist(),
            "votes": np.r_[n, n],
            "wins": np.r_[win_i, win_j],
            "losses": np.r_[win_j, win_i],
            "ties": np.r_[tie, tie],
            "observed_win_rate": np.r_[(win_i + 0.5 * tie) / n, (win_j + 0.5 * tie) / n],
            "predicted_win_rate": np.r_[p, 1.0 - p],
        }
    )
    return frame.sort("model", "opponent")


def fit_by_category(
    votes: Any, *, categories: Sequence[str] | None = None, **fit_options: Any
) -> dict[str, RatingsResult]:
    """One leaderboard per category, each refitted on that category's votes only (FastChat, LMArena)."""
    normalised = normalise_votes(votes)
    if "category" not in normalised.frame.columns:
        raise InvalidParameterError("category", None, "votes that have a 'category' column")
    known = normalised.frame["category"].cast(pl.String).drop_nulls().unique().sort().to_list()
    return {c: fit_bradley_terry(normalised, category=c, **fit_options) for c in (categories or known)}


def category_leaderboards(
    votes: Any, *, categories: Sequence[str] | None = None, **fit_options: Any
) -> pl.DataFrame:
    """:func:`fit_by_category` as one tidy frame with a leading ``category`` column."""
    results = fit_by_category(votes, categories=categories, **fit_options)
    return pl.concat(
        [r.table.select(pl.lit(c).alias("category"), pl.all()) for c, r in results.items()], how="vertical"
    )


# --- how trustworthy are the votes? ------------------------------------------------------------------------

#: a side preference is reported when the two-sided binomial test rejects "either side equally" at this level
POSITION_ALPHA = 0.01


@dataclass(frozen=True)
class VoteDiagnostics:
    """Checks on the votes themselves, before their ratings are believed.

    *Position*: in per-vote data ``model_a`` is the side shown first (left, or "A"); with sides drawn at
    random, A should win about half of the decisive votes. ``a_share`` is A's share with a Wilson 95 %
    interval and an exact two-sided binomial p-value (``None`` for aggregated counts, which carry no seats).
    *Agreement*: where two or more voters judged the same item (``pair_id`` from ``imgkit vote``, else the
    same prompt and pair of models), the share of voter pairs that gave the same answer (the same winner,
    or both a tie).
    """

    decisive: float
    a_wins: float
    ties: float
    a_share: float | None
    a_share_ci: tuple[float, float] | None
    position_p_value: float | None
    side_bias: bool
    per_voter: tuple[dict[str, Any], ...] = ()
    shared_items: int = 0
    voter_pairs: int = 0
    agreement: float | None = None

    def lines(self) -> list[str]:
        """One line per check, in words."""
        out = []
        if self.a_share is None:
            out.append("position: not checked (aggregated counts carry no seats)")
        elif self.decisive:
            low, high = self.a_share_ci or (math.nan, math.nan)
            verdict = (
                f"side bias: A is chosen {'more' if self.a_share > 0.5 else 'less'} often than chance"
                if self.side_bias
                else "no side bias detected"
            )
            out.append(
                f"position: A won {self.a_share:.1%} of {self.decisive:,.0f} decisive votes "
                f"(95 % CI {low:.1%}–{high:.1%}, p = {self.position_p_value:.3g}): {verdict}"
            )
        if self.agreement is not None:
            out.append(
                f"agreement: {self.agreement:.1%} of {self.voter_pairs:,} voter pairs answered alike on "
                f"{self.shared_items:,} items judged by two or more voters"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisive": _number(self.decisive),
            "a_wins": _number(self.a_wins),
            "ties": _number(self.ties),
            "a_share": self.a_share,
            "a_share_ci": list(self.a_share_ci) if self.a_share_ci else None,
            "position_p_value": self.position_p_value,
            "side_bias": self.side_bias,
            "per_voter": list(self.per_voter),
            "shared_items": self.shared_items,
            "voter_pairs": self.voter_pairs,
            "agreement": self.agreement,
        }


def vote_diagnostics(votes: Any, *, category: str | None = None) -> VoteDiagnostics:
    """Position (side) bias and, with ``voter`` and ``prompt_id`` columns, agreement between voters."""
    from scipy.stats import binomtest

    normalised = normalise_votes(votes, category=category)
    rows = normalised.frame
    weight = rows["weight"].to_numpy()
    outcome = rows["outcome"].to_numpy()
    a_wins = float(weight[outcome == 1.0].sum())
    b_wins = float(weight[outcome == 0.0].sum())
    ties = float(weight[outcome == 0.5].sum())
    decisive = a_wins + b_wins
    a_share: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    if normalised.per_vote and decisive:
        a_share = a_wins / decisive
        low, high = wilson_interval(int(a_wins), int(decisive))
        if low is not None and high is not None:  # None only for no votes: decisive > 0 here
            ci = (low, high)
        p_value = float(binomtest(int(a_wins), int(decisive), 0.5).pvalue)
    per_voter: list[dict[str, Any]] = []
    if normalised.per_vote and "voter" in rows.columns:
        per = (
            rows.group_by("voter")
            .agg(
                pl.len().alias("votes"),
                (pl.col("outcome") == 1.0).sum().alias("a_wins"),
                (pl.col("outcome") != 0.5).sum().alias("decisive"),
            )
            .sort("voter")
        )
        per_voter = [
            {**r, "a_share": r["a_wins"] / r["decisive"] if r["decisive"] else None}
            for r in per.iter_rows(named=True)
        ]
    shared = pairs = agree = 0
    # an item: the pair as imgkit vote showed it (pair_id), else the prompt and the two models
    item = ["pair_id"] if "pair_id" in rows.columns else ["prompt_id", "first", "second"]
    if (
        normalised.per_vote
        and "voter" in rows.columns
        and set(item) - {"first", "second"} <= set(rows.columns)
    ):
        answer = (
            pl.when(pl.col("outcome") == 1.0)
            .then(pl.col("model_a"))
            .when(pl.col("outcome") == 0.0)
            .then(pl.col("model_b"))
            .otherwise(pl.lit("(tie)"))
        )
        judged = rows.with_columns(
            pl.min_horizontal("model_a", "model_b").alias("first"),
            pl.max_horizontal("model_a", "model_b").alias("second"),
            answer.alias("answer"),
        ).unique(subset=["voter", *item], keep="last")  # a voter's last answer on an item
        items = judged.group_by(item).agg(pl.col("answer"))
        for answers in items["answer"].to_list():
            if len(answers) < 2:
                continue
            shared += 1
            for x, y in zip(*np.triu_indices(len(answers), 1), strict=True):
                pairs += 1
                agree += answers[x] == answers[y]
    return VoteDiagnostics(
        decisive=decisive,
        a_wins=a_wins,
        ties=ties,
        a_share=a_share,
        a_share_ci=ci,
        position_p_value=p_value,
        side_bias=p_value is not None and p_value < POSITION_ALPHA,
        per_voter=tuple(per_voter),
        shared_items=shared,
        voter_pairs=pairs,
        agreement=agree / pairs if pairs else None,
    )
