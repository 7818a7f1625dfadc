"""Provider performance: reading logs, the performance table, exports, synthetic logs, the CLI and the plots."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.stats import binomtest

from imgkit.analysis.performance import describe_log, log_summary, performance_table, success_percentiles
from imgkit.analysis.synthetic import SyntheticProfile, attempt_failure_probability, synthetic_log
from imgkit.cli import main
from imgkit.errors import InvalidParameterError, SpecError, UnknownNameError
from imgkit.records.parquet import export_parquet
from imgkit.records.scan import scan_log
from imgkit.records.schema import LOG_SCHEMA
from imgkit.stats import lognormal_from_p50_p95, wilson_interval

T0 = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)
# the seed page (gpt-image-1-mini via openai, last 30 days): 133 of 137 requests succeeded
SEED_OK, SEED_REQUESTS = 133, 137
# published per-image prices of gpt-image-1-mini 1024x1024 (PRICING.md): low, medium
LOW_USD, MEDIUM_USD = Decimal("0.005"), Decimal("0.011")


def attempt(item: str, **fields: Any) -> dict[str, Any]:
    """One attempt row: an ok, final, single-attempt openai request unless told otherwise."""
    row: dict[str, Any] = {
        "run_id": "r1",
        "item_id": item,
        "attempt": 1,
        "final": True,
        "started_at": T0,
        "latency_ms": 1000.0,
        "ttfb_ms": 900.0,
        "outcome": "ok",
        "http_status": 200,
        "provider": "openai",
        "model": "gpt-image-1-mini",
        "mode": "generate",
        "quality": "low",
        "size": "1024x1024",
        "n": 1,
        "images_count": 1,
        "actual_cost_usd": LOW_USD,
        "provenance": "measured",
    }
    row.update(fields)
    if row["outcome"] != "ok":
        row.setdefault("images_count", 0)
    return row


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in LOG_SCHEMA} for r in rows], schema=LOG_SCHEMA)


def successes(**columns: Any) -> pl.DataFrame:
    """A log of final, successful attempts with the given columns (every other column null)."""
    data = pl.DataFrame({"final": True, "outcome": "ok", **columns})
    return data.with_columns(
        pl.lit(None, dtype=dtype).alias(c) for c, dtype in LOG_SCHEMA.items() if c not in data.columns
    ).select(pl.col(c).cast(dtype) for c, dtype in LOG_SCHEMA.items())


def failed(item: str, n: int = 1, **fields: Any) -> dict[str, Any]:
    failure = {"attempt": n, "final": False, "outcome": "rate_limit", "http_status": 429, "images_count": 0}
    return attempt(item, **{**failure, "actual_cost_usd": Decimal(0), **fields})


def write_journal(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Lines as imgkit's journal writes them: money as decimal strings, UTC times in ISO 8601."""

    def encode(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dt.datetime):
            return v.isoformat().replace("+00:00", "Z")
        return v

    path.write_text("".join(json.dumps({k: encode(v) for k, v in r.items()}) + "\n" for r in rows))
    return path


def seed_log() -> pl.DataFrame:
    """137 requests of which 133 succeeded (the 4 failures final after one attempt)."""
    rng = np.random.default_rng(7)
    rows = [
        attempt(f"i{i}", latency_ms=float(x), started_at=T0 + dt.timedelta(hours=i))
        for i, x in enumerate(rng.lognormal(math.log(17_840), 0.58, SEED_OK))
    ]
    rows += [
        attempt(f"f{i}", outcome="unavailable", http_status=503, actual_cost_usd=Decimal(0)) for i in range(4)
    ]
    return frame(rows)


# --- the table ---------------------------------------------------------------------------------------------


def test_seed_success_rate_is_97_1_percent():
    row = performance_table(seed_log()).row(0, named=True)
    assert (row["requests"], row["successes"]) == (SEED_REQUESTS, SEED_OK)
    assert round(row["success_rate"], 4) == 0.9708
    assert f"{100 * row['success_rate']:.1f}%" == "97.1%"


def test_wilson_interval_of_the_seed_matches_scipy_and_the_formula():
    ci = binomtest(SEED_OK, SEED_REQUESTS).proportion_ci(0.95, method="wilson")
    low, high = wilson_interval(SEED_OK, SEED_REQUESTS)
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    row = performance_table(seed_log()).row(0, named=True)
    assert (row["success_ci_low"], row["success_ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.9273, 0.9886)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [  # Newcombe (1998), Stat. Med. 17:857-872, Table II, method 3 (score interval without continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_worked_examples(successes, n, low, high):
    got = wilson_interval(successes, n)
    assert (round(got[0], 4), round(got[1], 4)) == (low, high)


def test_wilson_interval_of_no_requests_is_unknown():
    assert wilson_interval(0, 0) == (None, None)


def test_percentiles_equal_numpy_linear_on_successful_final_attempts():
    rng = np.random.default_rng(1)
    ok_latency, ok_ttfb = rng.lognormal(9, 0.6, 101), rng.lognormal(8, 0.6, 101)
    rows = [
        attempt(f"i{i}", latency_ms=float(x), ttfb_ms=float(t))
        for i, (x, t) in enumerate(zip(ok_latency, ok_ttfb, strict=True))
    ]
    # slow failures and retried attempts must not count
    rows += [attempt(f"e{i}", latency_ms=1e7, ttfb_ms=1e7, outcome="timeout") for i in range(5)]
    rows += [failed(f"i{i}", latency_ms=1e7, ttfb_ms=1e7) for i in range(3)]
    row = performance_table(frame(rows)).row(0, named=True)
    for q in (50, 95, 99):
        assert row[f"latency_p{q}_ms"] == pytest.approx(
            np.percentile(ok_latency, q, method="linear"), rel=1e-12
        )
    for q in (50, 95):
        assert row[f"ttfb_p{q}_ms"] == pytest.approx(np.percentile(ok_ttfb, q, method="linear"), rel=1e-12)


def test_percentiles_per_group_including_a_null_key_and_missing_ttfb():
    rng = np.random.default_rng(2)
    latency = {"low": rng.lognormal(9, 0.5, 40), None: rng.lognormal(8, 0.5, 30)}
    rows = [
        attempt(f"{q}{i}", quality=q, latency_ms=float(x))
        for q, xs in latency.items()
        for i, x in enumerate(xs)
    ]
    rows += [attempt("no-ttfb", quality="low", latency_ms=float(latency["low"][0]), ttfb_ms=None)]
    table = performance_table(frame(rows), by="quality")
    assert table["quality"].to_list() == ["low", None]
    expected_low = np.append(latency["low"], latency["low"][0])
    assert table["latency_p95_ms"].to_list() == pytest.approx(
        [np.percentile(expected_low, 95), np.percentile(latency[None], 95)], rel=1e-12
    )
    assert table["ttfb_p50_ms"].to_list() == [900.0, 900.0]


def test_success_percentiles_any_percentile_per_group_equal_numpy():
    log = synthetic_log(2_000, seed=6)
    table = success_percentiles(log, "provider", {"latency_ms": (1, 25, 75)})
    for provider, count, p1, p25, p75 in table.rows():
        ok = log.filter(pl.col("provider") == provider, pl.col("final"), pl.col("outcome") == "ok")[
            "latency_ms"
        ]
        assert count == ok.len()
        assert [p1, p25, p75] == pytest.approx(np.percentile(ok.to_numpy(), [1, 25, 75]), rel=1e-12)


def test_a_null_key_groups_with_the_other_nulls_and_gets_its_own_percentiles():
    log = synthetic_log(3_000, seed=7).with_columns(
        pl.when(pl.col("item_id").str.ends_with("3"))
        .then(None)
        .otherwise(pl.col("provider"))
        .alias("provider")
    )
    table = performance_table(log, by=["provider", "model"])
    assert table["provider"].null_count() > 0 and table["provider"][-1] is None  # nulls sort last
    ok = log.filter(pl.col("final"), pl.col("outcome") == "ok")
    for provider, model, p50, p99 in table.select(
        "provider", "model", "latency_p50_ms", "latency_p99_ms"
    ).rows():
        same = pl.col("provider").is_null() if provider is None else pl.col("provider") == provider
        values = ok.filter(same, pl.col("model") == model)["latency_ms"].to_numpy()
        assert [p50, p99] == np.percentile(values, [50, 99]).tolist()


def _hard_times(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Time columns that stress a histogram: one value repeated, integer milliseconds, a few huge outliers,
    negative and signed-zero values, subnormals, infinities, and values packed inside one bucket."""
    return {
        "constant": np.full(n, 1234.5),
        "integer_ms": np.round(rng.lognormal(9, 0.7, n)),
        "outliers": np.where(rng.random(n) < 0.01, 1e12, rng.lognormal(7, 0.3, n)),
        "signed": np.where(rng.random(n) < 0.2, rng.choice([-0.0, 0.0], n), rng.normal(0, 50, n)),
        "tiny": rng.random(n) * 5e-324 * 8,
        "one_bucket": 1000.0 + rng.random(n) * 1e-6,
        "infinite": np.where(rng.random(n) < 0.02, np.inf, rng.lognormal(8, 1, n)),
        "wide": np.exp(rng.uniform(-30, 30, n)),
    }


@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract:RuntimeWarning")  # numpy: inf - inf
@pytest.mark.parametrize("n", [1, 2, 5, 997, 20_000])
def test_percentiles_equal_numpy_bit_for_bit_on_hard_distributions(n):
    rng = np.random.default_rng(n)
    times = _hard_times(rng, n)
    log = successes(
        target=np.repeat(list(times), n),
        latency_ms=np.concatenate(list(times.values())),
        ttfb_ms=np.concatenate([v[::-1] for v in times.values()]),
    )
    table = performance_table(log, by="target")
    wanted = {"latency_ms": (1, 25, 50, 75, 99, 99.9, 100, 0), "ttfb_ms": (50, 95)}
    spread = success_percentiles(log, "target", wanted)
    for name, values in times.items():
        row = table.filter(pl.col("target") == name).row(0, named=True)
        same = np.testing.assert_array_equal  # bit for bit; NaN (inf - inf, as numpy has it) equals NaN
        same([row[f"latency_p{q}_ms"] for q in (50, 95, 99)], np.percentile(values, [50, 95, 99]), name)
        same([row[f"ttfb_p{q}_ms"] for q in (50, 95)], np.percentile(values[::-1], [50, 95]), name)
        got = spread.filter(pl.col("target") == name).row(0, named=True)
        same(
            [got[f"latency_p{q}_ms"] for q in wanted["latency_ms"]],
            np.percentile(values, wanted["latency_ms"]),
        )


def test_null_and_nan_times_are_left_out_and_a_group_without_times_has_none():
    rows = [attempt(f"a{i}", quality="low", latency_ms=x) for i, x in enumerate([100.0, float("nan"), 300.0])]
    rows += [attempt("b", quality="high", latency_ms=None, ttfb_ms=None)]
    table = performance_table(frame(rows), by="quality")
    assert table.select("quality", "latency_p50_ms", "ttfb_p50_ms").rows() == [
        ("high", None, None),
        ("low", 200.0, 900.0),
    ]


def bucketed_log(requests: int, seed: int) -> pl.LazyFrame:
    """A synthetic log carrying what the percentile passes read: ``_success`` and latency's bucket."""
    from imgkit.analysis import percentiles

    return (
        synthetic_log(requests, seed=seed)
        .lazy()
        .with_columns((pl.col("final") & (pl.col("outcome") == "ok")).alias("_success"))
        .with_columns(percentiles.time_bucket("latency_ms"))
    )


def test_percentiles_leave_out_rows_whose_keys_are_not_among_the_groups():
    # a log that grew between the passes: rows of a group the first pass did not see are left out
    from imgkit.analysis import percentiles

    log = bucketed_log(3_000, seed=8)
    (only_fal,) = percentiles.exact_percentiles(
        log, pl.DataFrame({"provider": ["fal"]}), {"latency_ms": (50,)}
    )
    fal = log.filter(pl.col("_success"), pl.col("provider") == "fal").collect()["latency_ms"].to_numpy()
    assert only_fal.to_list() == [np.percentile(fal, 50)]


def test_a_bucket_that_lost_its_times_between_the_passes_gives_none_not_a_wrong_number():
    from imgkit.analysis import percentiles

    log = bucketed_log(500, seed=9)
    counted = percentiles.exact_percentiles(log, pl.DataFrame({"provider": ["fal"]}), {"latency_ms": (50,)})
    histogram = (
        log.filter(pl.col("_bucket_latency_ms").is_not_null(), pl.col("provider") == "fal")
        .group_by("provider", "_bucket_latency_ms")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .collect()
    )
    shifted = histogram.with_columns(pl.col("_bucket_latency_ms") + 1_000)  # buckets no row has
    (lost,) = percentiles.exact_percentiles(
        log, pl.DataFrame({"provider": ["fal"]}), {"latency_ms": (50,)}, histograms={"latency_ms": shifted}
    )
    assert counted[0][0] is not None and lost.to_list() == [None]


def test_percentiles_interpolate_between_order_statistics():
    rows = [attempt(f"i{i}", latency_ms=x) for i, x in enumerate([100.0, 200.0, 300.0, 400.0])]
    row = performance_table(frame(rows)).row(0, named=True)
    assert (row["latency_p50_ms"], row["latency_p95_ms"]) == (250.0, pytest.approx(385.0, rel=1e-15))


def test_retries_per_success_counts_non_final_attempts():
    rows = [
        failed("a", 1), failed("a", 2), attempt("a", attempt=3),  # two retries, then ok
        attempt("b"),  # ok at once
        failed("c", 1), attempt("c", attempt=2, outcome="rate_limit", images_count=0, actual_cost_usd=Decimal(0)),
    ]  # fmt: skip
    row = performance_table(frame(rows)).row(0, named=True)
    assert (row["requests"], row["attempts"], row["successes"]) == (3, 6, 2)
    assert row["retries_per_success"] == (6 - 3) / 2


def test_cost_per_successful_image_is_exact_and_counts_every_attempt():
    rows = [
        attempt("a", quality="medium", actual_cost_usd=MEDIUM_USD),
        attempt("b", quality="medium", n=2, images_count=2, actual_cost_usd=2 * MEDIUM_USD),
        failed("c", quality="medium", actual_cost_usd=MEDIUM_USD),  # a billed failure still costs
        attempt("c", attempt=2, quality="medium", actual_cost_usd=MEDIUM_USD),
    ]
    row = performance_table(frame(rows)).row(0, named=True)
    assert row["total_cost_usd"] == 5 * MEDIUM_USD
    assert row["images"] == 4
    assert row["cost_per_image_usd"] == Decimal("0.01375")
    assert isinstance(row["cost_per_image_usd"], Decimal)


def test_cost_per_image_is_null_when_any_attempt_cost_is_unknown():
    rows = [attempt("a"), attempt("b", actual_cost_usd=None)]
    row = performance_table(frame(rows)).row(0, named=True)
    assert (row["total_cost_usd"], row["cost_per_image_usd"], row["cost_unknown_attempts"]) == (None, None, 1)


def test_a_group_without_successes_has_no_percentiles_nor_cost_per_image():
    row = performance_table(frame([attempt("a", outcome="timeout", actual_cost_usd=Decimal(0))])).row(
        0, named=True
    )
    assert (row["success_rate"], row["latency_p50_ms"], row["retries_per_success"], row["cost_per_image_usd"]) == (
        0.0, None, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        (("provider",), [("fal", 1), ("openai", 3)]),
        ("quality", [("high", 1), ("low", 3)]),
        ("size", [("1024x1024", 2), ("1536x1024", 2)]),
        (("mode",), [("edit", 1), ("generate", 3)]),
    ],
)
def test_grouping_by_any_column(by, expected):
    rows = [
        attempt("a"),
        attempt("b", size="1536x1024"),
        attempt("c", provider="fal", mode="edit", size="1536x1024"),
        attempt("d", quality="high"),
    ]
    table = performance_table(frame(rows), by=by)
    assert [tuple(r) for r in table.select(table.columns[0], "requests").rows()] == expected


def test_grouping_by_an_unknown_column_names_the_choices():
    with pytest.raises(UnknownNameError, match="provder"):
        performance_table(frame([attempt("a")]), by="provder")


@pytest.mark.parametrize(
    ("since", "until", "requests"),
    [
        ("30d", None, 3),  # 2025-12-11 onwards
        ("7d", None, 2),
        ("2w", "7d", 1),
        ("12h", None, 1),
        (dt.datetime(2026, 1, 1), None, 2),  # naive datetimes are UTC
        ("2026-01-09", "2026-01-10T11:00:00+00:00", 1),
        (None, None, 4),
    ],
)
def test_window_by_started_at_relative_to_now(since, until, requests):
    now = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    days_ago = [40, 10, 2, 0.25]
    rows = [attempt(f"i{i}", started_at=now - dt.timedelta(days=d)) for i, d in enumerate(days_ago)]
    table = performance_table(frame(rows), since=since, until=until, now=now)
    assert table["requests"].sum() == requests


def test_a_bad_window_names_what_is_allowed():
    with pytest.raises(InvalidParameterError, match="30d"):
        performance_table(frame([attempt("a")]), since="thirty days")


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("day", [dt.date(2026, 1, 4), dt.date(2026, 1, 5), dt.date(2026, 1, 6)]),
        ("week", [dt.date(2025, 12, 29), dt.date(2026, 1, 5)]),
    ],
)
def test_period_groups_by_utc_day_or_monday_week(period, expected):
    days = [dt.datetime(2026, 1, d, 23, 59, tzinfo=dt.UTC) for d in (4, 5, 6, 6)]  # 2026-01-04 is a Sunday
    table = performance_table(
        frame([attempt(f"i{i}", started_at=t) for i, t in enumerate(days)]), by="provider", period=period
    )
    assert table["period"].to_list() == expected
    assert table["requests"].sum() == 4


def test_provenance_column_says_measured_or_simulated():
    rows = [attempt("a"), attempt("b", provider="simulator", provenance="simulated")]
    table = performance_table(frame(rows), by="provider")
    assert table["provenance"].to_list() == ["measured", "simulated"]
    assert performance_table(frame(rows), by=None)["provenance"].to_list() == ["measured+simulated"]


def test_provenance_of_a_group_without_any_is_empty_whether_the_log_has_one_kind_or_more():
    unlabelled = attempt("c", provider="gateway", provenance=None)
    one_kind = [attempt("a"), attempt("b"), unlabelled]
    table = performance_table(frame(one_kind), by="provider")
    assert table.select("provider", "provenance").rows() == [("gateway", ""), ("openai", "measured")]
    assert performance_table(frame(one_kind), by=None)["provenance"].to_list() == ["measured"]
    mixed = [*one_kind, attempt("d", provenance="simulated")]
    table = performance_table(frame(mixed), by="provider")
    assert table.select("provider", "provenance").rows() == [
        ("gateway", ""),
        ("openai", "measured+simulated"),
    ]
    nothing = [unlabelled]
    assert performance_table(frame(nothing), by=None)["provenance"].to_list() == [""]


# --- reading logs ------------------------------------------------------------------------------------------


def test_journal_round_trip_keeps_exact_money_and_utc_times(tmp_path):
    rows = [attempt("a", actual_cost_usd=MEDIUM_USD), failed("b"), attempt("b", attempt=2)]
    lf = scan_log(write_journal(tmp_path / "log.jsonl", rows))
    assert lf.collect_schema() == pl.Schema(LOG_SCHEMA)
    df = lf.collect()
    assert df["actual_cost_usd"].to_list()[0] == MEDIUM_USD
    assert df["started_at"].to_list()[0] == T0


def test_torn_last_journal_line_is_skipped(tmp_path):
    path = write_journal(tmp_path / "log.jsonl", [attempt("a"), attempt("b"), attempt("c")])
    with path.open("a") as fh:
        fh.write('{"run_id": "r1", "item_id": "d", "attempt": 1, "fin')  # killed mid-write
    assert scan_log(path).collect()["item_id"].to_list() == ["a", "b", "c"]


def test_last_journal_line_without_newline_but_complete_is_kept(tmp_path):
    path = write_journal(tmp_path / "log.jsonl", [attempt("a"), attempt("b")])
    path.write_text(path.read_text().rstrip("\n"))
    assert scan_log(path).collect().height == 2


def test_a_bad_line_inside_the_journal_is_an_error(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(
        write_journal(path, [attempt("a")]).read_text() + "{not json\n" + json.dumps({"item_id": "b"}) + "\n"
    )
    with pytest.raises(SpecError) as err:
        scan_log(path)  # refused when scanned, before any analysis runs
    assert (err.value.file, err.value.key_path) == (str(path), "line 2")
    assert "not JSON" in err.value.problem


def sent(item: str, **fields: Any) -> dict[str, Any]:
    """The record the client writes before a request leaves (ImageClient._announcement): request columns,
    ``final`` false, ``started_at``, outcome ``sent`` and the quote reserved; every other column absent."""
    row = {k: attempt(item)[k] for k in ("run_id", "item_id", "attempt", "provider", "model", "mode")}
    row.update(quality="low", size="1024x1024", width=1024, height=1024, n=1, final=False, started_at=T0)
    return {**row, "outcome": "sent", "estimated_cost_usd": LOW_USD, **fields}


def test_sent_records_pass_the_journal_check_and_are_left_out_unless_asked(tmp_path):
    from imgkit.records.journal import RequestLog, scan_journal

    # b's quote is null: a client without a budget announces an unpriced request so
    rows = [sent("a"), attempt("a"), sent("b", estimated_cost_usd=None)]
    path = write_journal(tmp_path / "log.jsonl", rows)
    with path.open("a") as fh:
        fh.write(
            '{"run_id": "r1", "item_id": "c", "attempt": 1, "outcome": "sent", "estimated_cost_u'
        )  # killed
    assert scan_log(path).collect()["item_id"].to_list() == ["a"]
    everything = scan_log(path, include_sent=True).collect()
    assert everything.select("item_id", "outcome").rows() == [("a", "sent"), ("a", "ok"), ("b", "sent")]
    assert everything["estimated_cost_usd"].to_list() == [LOW_USD, None, None]
    assert scan_journal(path).collect()["outcome"].to_list() == ["ok"]
    assert (
        RequestLog(path)
        .scan(include_sent=True)
        .collect()
        .equals(scan_journal(path, include_sent=True).collect())
    )
    assert RequestLog(path).unanswered_sent().collect()["item_id"].to_list() == ["b"]


def test_a_sent_record_is_checked_like_any_other_line(tmp_path):
    path = write_journal(
        tmp_path / "log.jsonl", [attempt("a"), sent("b", estimated_cost_usd="0.00500000001")]
    )
    with pytest.raises(SpecError) as err:
        scan_log(path)
    assert (err.value.key_path, err.value.problem.split(";")[0]) == (
        "line 2, estimated_cost_usd",
        "'0.00500000001' is not allowed",
    )


def test_empty_journal_is_an_empty_canonical_frame(tmp_path):
    (tmp_path / "log.jsonl").write_text("")
    df = scan_log(tmp_path / "log.jsonl").collect()
    assert (df.height, df.schema) == (0, pl.Schema(LOG_SCHEMA))


EXTERNAL_CSV = """ts,vendor,engine,duration_s,ttfb_s,status,price_cents
2026-01-05T10:00:00Z,openai,gpt-image-1-mini,17.84,17.216,200,0.5
2026-01-05T11:00:00Z,openai,gpt-image-1-mini,20.5,19.0,200,0.5
2026-01-05T12:00:00Z,openai,gpt-image-1-mini,3.2,,429,0
2026-01-05T13:00:00Z,openai,gpt-image-1-mini,60.0,,504,0
"""
EXTERNAL_MAPPING = """
columns: {ts: started_at, vendor: provider, engine: model, duration_s: latency_ms, ttfb_s: ttfb_ms,
          status: http_status, price_cents: actual_cost_usd}
units: {latency_ms: s, ttfb_ms: s, actual_cost_usd: cents}
outcome:
  from: status
  values: {"2xx": ok, 429: rate_limit, 504: timeout}
  default: unavailable
constants: {images_count: 1}
"""


def test_external_csv_with_a_yaml_mapping_converts_units_and_outcomes(tmp_path):
    (tmp_path / "requests.csv").write_text(EXTERNAL_CSV)
    (tmp_path / "mapping.yaml").write_text(EXTERNAL_MAPPING)
    lf = scan_log(tmp_path / "requests.csv", mapping=tmp_path / "mapping.yaml")
    assert lf.collect_schema() == pl.Schema(LOG_SCHEMA)
    df = lf.collect()
    assert df["latency_ms"].to_list() == pytest.approx([17_840.0, 20_500.0, 3_200.0, 60_000.0])
    assert df["outcome"].to_list() == ["ok", "ok", "rate_limit", "timeout"]
    assert df["actual_cost_usd"].to_list()[0] == LOW_USD
    assert df["provenance"].unique().to_list() == ["measured"]
    row = performance_table(lf).row(0, named=True)
    assert (row["requests"], row["successes"], row["latency_p50_ms"], row["ttfb_p50_ms"]) == (
        4,
        2,
        19_170.0,
        18_108.0,
    )
    assert row["cost_per_image_usd"] == LOW_USD


def test_a_columns_only_mapping_and_http_status_rule(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(
        "when,ms,code\n2026-01-05T10:00:00,1200,200\n2026-01-05T10:01:00,300,401\n2026-01-05T10:02:00,300,\n"
    )
    df = scan_log(path, mapping={"when": "started_at", "ms": "latency_ms", "code": "http_status"}).collect()
    assert df["outcome"].to_list() == ["ok", "authentication", "unavailable"]
    assert df["started_at"].to_list()[0] == dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    assert (df["final"].to_list(), df["attempt"].to_list()) == ([True] * 3, [1] * 3)
    assert df["provider"].dtype == pl.String and df["provider"].null_count() == 3


def test_final_is_derived_from_attempts_per_item(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("item_id,attempt,outcome,latency_ms\nx,1,rate_limit,10\nx,2,ok,20\ny,1,ok,30\n")
    df = scan_log(path).collect().sort("item_id", "attempt")
    assert df["final"].to_list() == [False, True, True]


def test_latency_is_derived_from_timestamps_when_absent(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(
        "started_at,first_byte_at,ended_at,outcome\n2026-01-05T10:00:00Z,2026-01-05T10:00:01.5Z,2026-01-05T10:00:17.84Z,ok\n"
    )
    df = scan_log(path).collect()
    assert (df["latency_ms"][0], df["ttfb_ms"][0]) == (17_840.0, 1_500.0)


@pytest.mark.parametrize(
    ("mapping", "key_path"),
    [
        ({"columns": {"ms": "latency"}}, "columns.ms"),
        ({"columns": {"nope": "latency_ms"}}, "columns.nope"),
        ({"columns": {"ms": "latency_ms"}, "units": {"latency_ms": "minutes"}}, "units.latency_ms"),
        ({"columns": {"ms": "latency_ms"}, "outcome": "ok"}, "outcome"),
        ({"columns": {"ms": "latency_ms"}, "colums": {}}, "colums"),
    ],
)
def test_a_bad_mapping_names_the_key(tmp_path, mapping, key_path):
    path = tmp_path / "calls.csv"
    path.write_text("ms,code\n1,200\n")
    with pytest.raises(SpecError, match=key_path):
        scan_log(path, mapping=mapping)


def test_a_log_without_outcome_or_status_is_an_error(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("latency_ms\n1\n")
    with pytest.raises(SpecError, match="outcome"):
        scan_log(path)


def test_partitioned_parquet_round_trip_gives_the_same_table(tmp_path):
    log = synthetic_log(3_000, seed=5)
    out = export_parquet(log, tmp_path / "log", partition_by=("provider", "date"))
    assert sorted(p.name for p in out.iterdir()) == ["provider=fal", "provider=openai"]
    lf = scan_log(out)
    assert lf.collect_schema() == pl.Schema(LOG_SCHEMA)
    assert performance_table(lf).equals(performance_table(log))


def test_export_in_chunks_appends_to_one_dataset(tmp_path):
    first, second = synthetic_log(500, seed=1), synthetic_log(700, seed=2, run_id="r2")
    export_parquet(first, tmp_path / "log", file_stem="chunk-000")
    export_parquet(second, tmp_path / "log", file_stem="chunk-001")
    assert scan_log(tmp_path / "log").collect().height == first.height + second.height


def test_several_paths_are_one_log(tmp_path):
    a = write_journal(tmp_path / "a.jsonl", [attempt("a")])
    b = write_journal(tmp_path / "b.jsonl", [attempt("b"), attempt("c")])
    assert performance_table(scan_log([a, b]))["requests"].to_list() == [3]


# --- synthetic logs ----------------------------------------------------------------------------------------


def test_lognormal_from_the_seed_p50_p95():
    mu, sigma = lognormal_from_p50_p95(17_840, 46_372)
    assert math.exp(mu) == pytest.approx(17_840)
    assert math.exp(mu + 1.6448536 * sigma) == pytest.approx(46_372, rel=1e-7)


def test_lognormal_rejects_p95_below_p50():
    with pytest.raises(InvalidParameterError):
        lognormal_from_p50_p95(100, 50)


def test_attempt_failure_probability_reproduces_the_request_success_rate():
    f = attempt_failure_probability(SEED_OK / SEED_REQUESTS, 3, 0.5)
    q = 0.5 * f
    assert (0.5 * f + q * 0.5 * f + q * q * f) == pytest.approx(1 - SEED_OK / SEED_REQUESTS, abs=1e-12)


def test_synthetic_log_reproduces_the_seed_profile():
    profile = SyntheticProfile(
        "openai", "gpt-image-1-mini", 17_840, 46_372, 17_216, 45_544, SEED_OK / SEED_REQUESTS, LOW_USD, "low"
    )
    log = synthetic_log(40_000, seed=11, profiles=[profile])
    assert log.schema == pl.Schema(LOG_SCHEMA)
    assert log["provenance"].unique().to_list() == ["simulated"]
    row = performance_table(log).row(0, named=True)
    assert row["requests"] == 40_000
    assert row["success_rate"] == pytest.approx(SEED_OK / SEED_REQUESTS, abs=0.005)
    assert row["latency_p50_ms"] == pytest.approx(17_840, rel=0.03)
    assert row["latency_p95_ms"] == pytest.approx(46_372, rel=0.04)
    assert row["ttfb_p50_ms"] == pytest.approx(17_216, rel=0.03)
    assert row["cost_per_image_usd"] == LOW_USD
    assert row["retries_per_success"] > 0


def test_synthetic_log_is_reproducible_by_seed():
    assert synthetic_log(500, seed=3).equals(synthetic_log(500, seed=3))
    assert not synthetic_log(500, seed=3).equals(synthetic_log(500, seed=4))


def test_log_summary_and_caption():
    summary = log_summary(seed_log())
    assert (summary.requests, summary.attempts, summary.kind) == (137, 137, "measured")
    assert (
        describe_log(summary, "log.jsonl") == "measured from log.jsonl, 137 requests, 2026-01-10 – 2026-01-16"
    )


# --- CLI ---------------------------------------------------------------------------------------------------


def test_cli_perf_json(tmp_path, capsys):
    path = write_journal(tmp_path / "log.jsonl", seed_log().to_dicts())
    assert main(["perf", str(path), "--by", "provider,model", "--since", "2026-01-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["rows"]
    assert (row["provider"], row["requests"], row["successes"]) == ("openai", 137, 133)
    assert round(row["success_rate"], 3) == 0.971
    assert Decimal(row["cost_per_image_usd"]) == LOW_USD
    assert "linear interpolation" in out["percentile_method"]
    assert out["provenance"]["kind"] == "measured"
    assert out["provenance"]["caption"].startswith("measured from log.jsonl, 137 requests")
    assert out["window"]["since"] == "2026-01-01T00:00:00+00:00"


def test_cli_perf_table_with_period_and_mapping(tmp_path, capsys):
    (tmp_path / "requests.csv").write_text(EXTERNAL_CSV)
    (tmp_path / "mapping.yaml").write_text(EXTERNAL_MAPPING)
    args = [
        "perf",
        str(tmp_path / "requests.csv"),
        "--mapping",
        str(tmp_path / "mapping.yaml"),
        "--period",
        "day",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "measured from requests.csv, 4 requests, 2026-01-05" in out
    assert "50.0% (2/4)" in out and "2026-01-05" in out


def test_cli_perf_bad_since_is_one_line_exit_2(tmp_path, capsys):
    path = write_journal(tmp_path / "log.jsonl", [attempt("a")])
    assert main(["perf", str(path), "--since", "soon"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imgkit: error: since='soon'") and err.count("\n") == 1


# --- plots -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("latency_distribution", {"log_x": True}),
        ("latency_distribution", {"kind": "violin", "by": "provider"}),
        ("latency_distribution", {"metric": "ttfb_ms"}),
        ("ttfb_vs_total", {}),
        ("success_rates", {"by": ("provider", "model", "quality")}),
    ],
)
def test_plots_render_with_a_provenance_caption(tmp_path, name, kwargs):
    from PIL import Image

    import imgkit.plots.performance as plots

    log = synthetic_log(2_000, seed=9)
    fig = getattr(plots, name)(log, source="bench.parquet", **kwargs)
    fig.savefig(tmp_path / f"{name}.png", dpi=60)
    with Image.open(tmp_path / f"{name}.png") as img:
        assert img.format == "PNG" and img.width > 300
    caption = fig._supxlabel.get_text()
    assert caption.startswith("simulated from bench.parquet, 2,000 requests, 2026-01-01 – 2026-01-30")
    if kwargs.get("log_x"):
        assert fig.axes[0].get_xscale() == "log"


# --- the benchmark, smoke-run at a tiny size -----------------------------------------------------------------


@pytest.fixture(scope="module")
def bench():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_performance.py"
    spec = importlib.util.spec_from_file_location("bench_performance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_pandas_baseline_agrees_with_the_table(bench):
    result = bench.main(rows=20_000, repeats=1)["in_memory"]
    assert result["mismatched_columns"] == []
    assert result["table"]["requests"].sum() == 20_000


def test_bench_huge_path_counts_every_request_and_cleans_up(bench, tmp_path):
    figures = bench.run_huge(rows=3_000, chunks=3, seed=1, tmp=str(tmp_path), keep=False)
    assert (figures["requests"], figures["files"]) == (3_000, 6)  # 3 chunks x 2 providers
    assert figures["peak_rss_gib"] > 0
    assert figures["baseline"]["peak_rss_gib"] > 0  # polars' own quantiles on the same files agree
    assert figures["baseline"]["max_relative_difference"] < 1e-12
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 100, 101, 4_097])
def test_any_percentiles_equal_numpy_bit_for_bit(n):
    rng = np.random.default_rng(n)
    wanted = [[50, 95, 99], [50, 95], [0, 100, 25, 75], [1, 2, 3, 99.9], [33.3, 66.6, 99.99], [95, 50]]
    for trial in range(6):
        values = rng.lognormal(7, 0.8, n)
        if trial % 2:  # ties
            values = np.round(values, -2)
        log = successes(latency_ms=values)
        for percentiles in wanted:
            row = success_percentiles(log, None, {"latency_ms": percentiles}).row(0, named=True)
            got = [row[f"latency_p{q}_ms"] for q in percentiles]
            assert got == np.percentile(values, percentiles, method="linear").tolist()
