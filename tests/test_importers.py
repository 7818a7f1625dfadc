"""Importers and reconciliation against a real PostgreSQL holding LiteLLM's table, with rows LiteLLM built.

The rows in tests/data/litellm were built by LiteLLM 1.108.7's (and 1.83.14's) own proxy code against a fake
provider (simulated; tests/data/litellm/README.md); the tests insert them as prisma does and import them.
Expected costs are computed here by hand from the usage tokens and the published rates (OpenAI's pricing
page: gpt-image-1-mini 2 / 2.5 / 8 USD per 1M text-in / image-in / image-out tokens, gpt-image-2 5 / 8 / 30,
gpt-image-1.5 5 / 8 / 32; gpt-image-1-mini low 1024x1024 $0.005 per image; fal FLUX.1 [dev] $0.025 per
megapixel, megapixels rounded up), never taken from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from imgkit.analysis.performance import performance_table
from imgkit.analysis.reconcile import reconcile, reconcile_requests
from imgkit.cli import main
from imgkit.errors import SpecError
from imgkit.records.importers import read_ledger
from imgkit.records.importers._store import ImportStore
from imgkit.records.importers.litellm import import_litellm
from imgkit.records.importers.mapped import import_mapped
from imgkit.records.importers.openai_usage import import_openai_usage
from imgkit.records.scan import scan_log
from tests.postgres_plugin import insert_spend_rows, litellm_ddl

DATA = Path(__file__).parent / "data" / "litellm"
REPO = Path(__file__).resolve().parents[1]
M = Decimal(1_000_000)


def rows(name: str = "spend_rows.jsonl") -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def load(db: str, name: str = "spend_rows.jsonl") -> list[dict]:
    data = rows(name)
    insert_spend_rows(db, data)
    return data


def rows_over_days(days: int) -> list[dict]:
    """The LiteLLM-built rows, the i-th moved i % ``days`` days earlier: ``days`` days of traffic."""
    data = rows()
    for i, row in enumerate(data):
        for key in ("startTime", "endTime", "completionStartTime"):
            if row.get(key):
                row[key] = (dt.datetime.fromisoformat(row[key]) - dt.timedelta(days=i % days)).isoformat()
    return data


def imported(out: Path) -> pl.DataFrame:
    return scan_log(out).collect().join(read_ledger(out).collect(), on=["provenance", "request_id"])


# (model group, mode, quality, size, output image tokens) -> (input text, input image, output image, output text tokens), exact USD by hand
HAND = {
    ("gpt-image-1-mini", "generate", "low", "1024x1024", 272): (
        (6, 0, 272, 0),
        6 * Decimal(2) / M + 272 * Decimal(8) / M,
    ),
    ("gpt-image-1-mini", "generate", "medium", "1024x1536", 2112): ((6, 0, 2112, 0), (6 * 2 + 2112 * 8) / M),
    ("gpt-image-1-mini", "generate", "high", "1024x1024", 4160): ((5, 0, 4160, 0), (5 * 2 + 4160 * 8) / M),
    ("gpt-image-1-mini", "edit", "low", "1024x1024", 272): (
        (5, 323, 272, 0),
        (5 * 2 + 323 * Decimal("2.5") + 272 * 8) / M,
    ),
    ("gpt-image-2", "generate", "high", "1024x1024", 6240): ((8, 0, 6240, 0), (8 * 5 + 6240 * 30) / M),
    ("gpt-image-2", "generate", "medium", "1024x1024", 1056): ((8, 0, 1056, 0), (8 * 5 + 1056 * 30) / M),
    ("gpt-image-1.5", "generate", "medium", "1024x1024", 1056): ((6, 0, 1056, 0), (6 * 5 + 1056 * 32) / M),
    ("gateway-gpt-image-2", "generate", "high", "1024x1024", 4160): (
        (7, 0, 4160, 0),
        (7 * 5 + 4160 * 30) / M,
    ),
    ("gateway-gpt-image-1-mini", "generate", "low", "1024x1024", 272): (
        (7, 0, 272, 0),
        (7 * 2 + 272 * 8) / M,
    ),
}
#: priced without usage: the no-usage gpt-image-1-mini row (table, low 1024x1024), fal FLUX.1 [dev] 1920x1080
#: (ceil(1920 * 1080 / 1,048,576) = 2 megapixels x $0.025), fal FLUX.2 [pro] 1024x768 (1 megapixel: fal's $0.03
#: for the first, FAL-PRICING-DOC) and fal's GPT Image 2 high 1024x1024 ($0.211, secondary: EZKIT-FAL-GI2,
#: LITELLM-37751)
NO_USAGE = {
    ("gpt-image-1-mini", "low"): Decimal("0.005"),
    ("fal-flux-dev", None): 2 * Decimal("0.025"),
    ("fal-flux-2-pro", None): Decimal("0.03"),
    ("fal-gpt-image-2", "high"): Decimal("0.211"),
}


def test_litellm_import_from_postgres_gives_the_documented_summary(litellm_db: str, tmp_path: Path) -> None:
    load(litellm_db)
    out = tmp_path / "imported"
    summary = import_litellm(litellm_db, out)
    assert summary == {"rows_read": 20, "imported": 20, "skipped": {}, "out": str(out)}
    frame = imported(out)
    assert frame.height == 20 and frame["request_id"].n_unique() == 20
    assert set(frame["provenance"]) == {"imported:litellm"}
    assert (REPO / "imgkit").is_dir() and not list(out.glob("*.parquet"))  # partitioned by day
    assert {p.name.split("=")[0] for p in out.iterdir() if not p.name.startswith("_")} == {"date"}


def test_reconcile_totals_equal_hand_sums_from_tokens_and_published_rates(
    litellm_db: str, tmp_path: Path
) -> None:
    load(litellm_db)
    out = tmp_path / "imported"
    import_litellm(litellm_db, out)
    frame = imported(out)
    expected_exact = Decimal(0)
    seen = 0
    for row in frame.iter_rows(named=True):
        hand = HAND.get((row["target"], row["mode"], row["quality"], row["size"], row["output_image_tokens"]))
        if row["outcome"] != "ok":
            assert row["actual_cost_usd"] == 0 and row["cost_method"] == "not_billed"
            continue
        if hand is not None:
            tokens, usd = hand
            got = tuple(
                row[c]
                for c in (
                    "input_text_tokens",
                    "input_image_tokens",
                    "output_image_tokens",
                    "output_text_tokens",
                )
            )
            assert got == tokens, row["target"]
            assert row["actual_cost_usd"] == usd
            expected_exact += usd
            seen += 1
        elif (row["target"], row["quality"]) in NO_USAGE:
            assert row["actual_cost_usd"] == NO_USAGE[(row["target"], row["quality"])]
            expected_exact += NO_USAGE[(row["target"], row["quality"])]
            seen += 1
    assert seen == 13
    result = reconcile(scan_log(out), read_ledger(out))
    assert Decimal(result.as_json()["totals"]["exact_usd"]) == expected_exact
    # recorded: LiteLLM's own floats, rounded half-even to 1e-10 from their shortest decimal form
    recorded = sum((Decimal(repr(r["spend"])).quantize(Decimal("1e-10")) for r in rows()), Decimal(0))
    assert Decimal(result.as_json()["totals"]["recorded_usd"]) == recorded
    assert (
        result.totals["unknown_requests"] == 5
    )  # gemini x3, imagen (LiteLLM's gemini provider), acme-image-9


def test_rows_recorded_at_zero_and_unknown_models_are_flagged_never_priced_at_zero(
    litellm_db: str, tmp_path: Path
) -> None:
    load(litellm_db)
    out = tmp_path / "imported"
    import_litellm(litellm_db, out)
    per = reconcile_requests(scan_log(out), read_ledger(out)).join(
        scan_log(out).select("request_id", "target").collect(), on="request_id"
    )
    zero = per.filter(pl.col("flags").list.contains("recorded_zero"))
    # the response without usage and fal's FLUX.2 [pro]: LiteLLM's $0
    assert zero["target"].to_list() == ["gpt-image-1-mini", "fal-flux-2-pro"]
    assert zero["exact_usd"].to_list() == [Decimal("0.005"), Decimal("0.03")]
    unknown = per.filter(pl.col("flags").list.contains("unknown_model"))
    assert sorted(unknown["model"]) == sorted(
        ["acme-image-9", "gemini-2.5-flash-image", "gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview",
         "imagen-4.0-generate-001"]
    )  # fmt: skip
    assert unknown["exact_usd"].null_count() == unknown.height  # null, never $0
    gateway = per.filter(pl.col("flags").list.contains("gateway_cost_dropped"))
    assert gateway["provider"].to_list() == ["lumenfall"] and gateway["target"].to_list() == [
        "gateway-gpt-image-1-mini"
    ]


def test_an_older_litellm_recording_gpt_image_2_and_fal_at_zero_is_flagged(
    litellm_db: str, tmp_path: Path
) -> None:
    load(litellm_db, "spend_rows_litellm_1.83.14.jsonl")
    out = tmp_path / "old"
    summary = import_litellm(litellm_db, out)
    # 1.83.14 logs both failures with request_id "None": the table keeps one, which cannot be keyed
    assert summary["rows_read"] == 18 and summary["imported"] == 17
    assert summary["skipped"] == {"no request id": 1}
    result = reconcile(scan_log(out), read_ledger(out), by="provider,model")
    by = {(r["provider"], r["model"]): r for r in result.as_json()["rows"]}
    gi2 = by[("openai", "gpt-image-2")]
    assert gi2["recorded_usd"] == "0" and "recorded_zero" in gi2["flags"]
    assert Decimal(gi2["exact_usd"]) == (8 * 5 + 6240 * 30 + 8 * 5 + 1056 * 30 + 7 * 5 + 4160 * 30) / M
    assert "recorded_zero" in by[("fal", "flux-1-dev")]["flags"]


def test_reimport_does_not_duplicate_and_db_equals_the_rows_file(litellm_db: str, tmp_path: Path) -> None:
    load(litellm_db)
    out = tmp_path / "imported"
    import_litellm(litellm_db, out)
    again = import_litellm(litellm_db, out)
    assert again["imported"] == 0 and again["skipped"] == {"already imported": 20}
    assert scan_log(out).collect().height == 20 and read_ledger(out).collect().height == 20
    from_file = tmp_path / "file"
    import_litellm(DATA / "spend_rows.jsonl", from_file)
    a = scan_log(out).collect().sort("request_id")
    b = scan_log(from_file).collect().sort("request_id")
    times = [c for c, t in a.schema.items() if isinstance(t, pl.Datetime)] + ["latency_ms", "ttfb_ms"]
    assert a.drop(times).equals(b.drop(times))
    # PostgreSQL's timestamp(3) keeps milliseconds; the file has microseconds
    diff = (a["started_at"] - b["started_at"]).dt.total_microseconds().abs().max()
    assert diff <= 500


def test_an_interrupted_import_resumes_at_the_day_it_stopped(litellm_db: str, tmp_path: Path) -> None:
    insert_spend_rows(litellm_db, rows_over_days(3))
    out = tmp_path / "imported"
    calls = []

    def stop_after_first_day(summary: dict) -> None:
        calls.append(summary["imported"])
        if len(calls) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_litellm(litellm_db, out, progress=stop_after_first_day)
    first = scan_log(out).collect().height
    assert 0 < first < 20
    resumed = import_litellm(litellm_db, out)
    assert resumed["rows_read"] == 20 - first  # the finished day is not read again
    assert resumed["imported"] == 20 - first and "already imported" not in resumed["skipped"]
    assert scan_log(out).collect()["request_id"].n_unique() == scan_log(out).collect().height == 20
    # a later run of the same import reads everything again and adds nothing
    assert import_litellm(litellm_db, out)["skipped"] == {"already imported": 20}


def test_days_read_on_several_connections_import_what_one_connection_does(
    litellm_db: str, tmp_path: Path, capsys
) -> None:
    insert_spend_rows(litellm_db, rows_over_days(5))
    one, three = tmp_path / "one", tmp_path / "three"
    assert import_litellm(litellm_db, one, connections=1)["imported"] == 20
    assert import_litellm(litellm_db, three, connections=3)["imported"] == 20
    a, b = (scan_log(d).collect().sort("request_id") for d in (one, three))
    assert a.equals(b) and a.get_column("started_at").dt.date().n_unique() == 5
    assert main(["import", "litellm", litellm_db, "--out", str(tmp_path / "x"), "--connections", "0"]) == 2
    assert "connections=0" in capsys.readouterr().err


def test_the_store_rolls_a_killed_commit_forward_or_back(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    import_litellm(DATA / "spend_rows.jsonl", out)
    staging = out / "_import" / "staging" / "date=2026-01-01"
    staging.mkdir(parents=True)
    pl.DataFrame({"a": [1]}).write_parquet(staging / "litellm-999999-dead.parquet")  # never committed
    with ImportStore(out, "imported:litellm") as store:
        assert not (staging / "litellm-999999-dead.parquet").exists()
        assert store.new_rows(scan_log(out).collect()).height == 0
    with open(
        out / "_import" / "manifest.jsonl", "ab"
    ) as f:  # a torn last line: a commit that never finished
        f.write(b'{"chunk": "litellm-0000')
    with ImportStore(out, "imported:litellm") as store:
        assert all("chunk" in e or "finished" in e for e in store.entries)
    assert scan_log(out).collect().height == 20


def test_a_second_import_into_the_same_directory_is_refused_while_one_runs(tmp_path: Path) -> None:
    with ImportStore(tmp_path / "x", "imported:litellm"), pytest.raises(SpecError, match="another import"):
        ImportStore(tmp_path / "x", "imported:litellm")


def test_cache_hits_are_imported_unbilled_counted_apart_and_no_attempts(
    litellm_db: str, tmp_path: Path
) -> None:
    # LiteLLM's payload builder (spend_tracking_utils.get_logging_payload): a request its cache answered is
    # logged with cache_hit = str(True), the request id + "_cache_hit<time.time()>", the cached response's
    # usage, and response_cost 0.0 (cost_calculator.response_cost_calculator returns 0.0 for a cache hit)
    data = rows()
    original = next(
        r for r in data
        if r["model_group"] == "gpt-image-1-mini" and r["status"] == "success" and r["completion_tokens"] == 272
        and r["call_type"] == "aimage_generation"
    )  # fmt: skip
    hit = json.loads(json.dumps(original))
    hit.update(request_id=original["request_id"] + "_cache_hit1796583500.123456", cache_hit="True", spend=0.0)
    for key in ("startTime", "endTime", "completionStartTime"):  # served 2 ms after it was asked
        hit[key] = (dt.datetime.fromisoformat(original["startTime"]) + dt.timedelta(seconds=30)).isoformat()
    hit["endTime"] = hit["completionStartTime"] = (
        dt.datetime.fromisoformat(hit["startTime"]) + dt.timedelta(milliseconds=2)
    ).isoformat()
    insert_spend_rows(litellm_db, data)
    plain = tmp_path / "plain"  # the same table before the cache hit
    import_litellm(litellm_db, plain)
    insert_spend_rows(litellm_db, [hit])
    out = tmp_path / "imported"
    summary = import_litellm(litellm_db, out)
    assert summary == {"rows_read": 21, "imported": 21, "cache_hits": 1, "skipped": {}, "out": str(out)}
    frame = imported(out)
    cached = frame.filter(pl.col("outcome") == "cache_hit")
    assert cached["request_id"].to_list() == [hit["request_id"]]
    row = cached.row(0, named=True)
    # never billed: $0 known, not a price; no tokens consumed, no generation time
    assert row["actual_cost_usd"] == 0 and row["cost_method"] == "not_billed"
    assert row["recorded_cost_usd"] == 0
    assert [row[c] for c in ("input_text_tokens", "input_image_tokens", "output_image_tokens")] == [None] * 3
    assert row["latency_ms"] is None and row["ttfb_ms"] is None
    # the same import without the cache hit: the performance table and the totals do not move
    with_hit = performance_table(scan_log(out), by=("provider", "model"))
    without = performance_table(scan_log(plain), by=("provider", "model"))
    columns = ["provider", "model", "requests", "attempts", "successes", "latency_p50_ms", "latency_p95_ms"]
    assert (
        with_hit.select(columns)
        .sort("provider", "model")
        .equals(without.select(columns).sort("provider", "model"))
    )
    result = reconcile(scan_log(out), read_ledger(out))
    assert result.totals["exact_usd"] == reconcile(scan_log(plain), read_ledger(plain)).totals["exact_usd"]
    flagged = reconcile_requests(scan_log(out), read_ledger(out)).filter(
        pl.col("request_id") == hit["request_id"]
    )
    assert flagged["flags"].to_list() == [[]] and flagged["exact_usd"].to_list() == [Decimal(0)]
    # the imported volume of the traffic leaves it out too (nobody paid for it)
    from imgkit.analysis.reconcile import traffic_workload

    assert traffic_workload(scan_log(out))["volume"] == traffic_workload(scan_log(plain))["volume"]
    # the same where the log lives: DuckDB's performance table and volume mix leave the cache hit out too
    from imgkit.analysis import engines

    assert engines.performance_table(str(out), "duckdb").equals(performance_table(scan_log(out)))
    assert engines.volume_mix(str(out), "duckdb").equals(engines.volume_mix(str(plain), "duckdb"))


def test_failures_with_an_empty_call_type_are_image_attempts_classified_by_error(
    litellm_db: str, tmp_path: Path
) -> None:
    load(litellm_db, "spend_rows_no_prompts.jsonl")  # LiteLLM's default: no request stored in a row
    out = tmp_path / "imported"
    import_litellm(litellm_db, out)
    frame = scan_log(out).collect()
    failed = frame.filter(pl.col("outcome") != "ok").sort("outcome")
    assert failed["outcome"].to_list() == ["content_policy", "rate_limit"]
    assert failed["latency_ms"].null_count() == 2  # LiteLLM logs a failure's moment as both times
    assert failed["http_status"].to_list()[1] == 429
    table = performance_table(frame, by=["provider", "model"])
    mini = table.filter((pl.col("provider") == "openai") & (pl.col("model") == "gpt-image-1-mini"))
    assert mini["requests"].item() == 7 and mini["successes"].item() == 5
    # without the stored request, the no-usage row has no size or quality: unpriced, not $0
    per = reconcile_requests(scan_log(out), read_ledger(out))
    no_usage = per.filter(
        (pl.col("model") == "gpt-image-1-mini")
        & (pl.col("provider") == "openai")
        & pl.col("exact_usd").is_null()
    )
    assert no_usage["flags"].to_list() == [["unpriced"]]


def test_corrupt_json_unknown_call_types_and_other_calls_are_counted_not_dropped(
    litellm_db: str, tmp_path: Path
) -> None:
    data = rows()[:3]
    corrupt = dict(data[0], request_id="corrupt-1", metadata=json.dumps("{not json"))
    chat_failure = dict(data[0], request_id="chat-1", call_type="", status="failure", model="openai/gpt-4o",
                        proxy_server_request="{}", metadata=json.dumps({"status": "failure", "error_information": {"error_code": "429"}}))  # fmt: skip
    chat = dict(data[0], request_id="chat-2", call_type="acompletion", model="openai/gpt-4o")
    routed = dict(chat_failure, request_id="chat-3", proxy_server_request=json.dumps({"metadata": {"user_api_key_auth": {"request_route": "/v1/chat/completions"}}}))  # fmt: skip
    insert_spend_rows(litellm_db, [*data, corrupt, chat_failure, chat, routed])
    out = tmp_path / "imported"
    summary = import_litellm(litellm_db, out)
    assert summary["rows_read"] == 6  # the chat completion is not an image call: never read
    assert summary["imported"] == 3
    assert summary["skipped"] == {"corrupt JSON": 1, "unknown call type": 1, "not an image call": 1}


def test_an_older_table_without_later_columns_is_read(litellm_db: str, tmp_path: Path) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(litellm_db, autocommit=True) as conn, conn.cursor() as cur:
        for column in (
            "status",
            "litellm_call_id",
            "billing_agent_id",
            "request_duration_ms",
            "proxy_server_request",
        ):
            cur.execute(f'ALTER TABLE "LiteLLM_SpendLogs" DROP COLUMN "{column}"')
    load(litellm_db, "spend_rows_litellm_1.83.14.jsonl")
    summary = import_litellm(litellm_db, tmp_path / "old")
    assert summary["imported"] == 17 and summary["skipped"] == {"no request id": 1}
    frame = scan_log(tmp_path / "old").collect()
    assert frame.filter(pl.col("outcome") == "ok").height == 17  # status from metadata.status


def test_since_reads_only_later_rows(litellm_db: str, tmp_path: Path) -> None:
    data = load(litellm_db)
    starts = sorted(dt.datetime.fromisoformat(r["startTime"]) for r in data)
    summary = import_litellm(litellm_db, tmp_path / "s", since=starts[9] + (starts[10] - starts[9]) / 2)
    assert summary["rows_read"] == 10


def test_bad_sources_are_one_line_naming_what_and_where(litellm_db: str, tmp_path: Path, capsys) -> None:
    port = litellm_db.rsplit(":", 1)[1].split("/")[0]
    cases = [
        (["import", "litellm", "postgresql://postgres@127.0.0.1:1/litellm", "--out", str(tmp_path / "a")], "cannot connect"),
        (["import", "litellm", f"postgresql://postgres@127.0.0.1:{port}/nosuchdb", "--out", str(tmp_path / "b")], "nosuchdb"),
        (["import", "litellm", litellm_db, "--table", "NoSuchTable", "--out", str(tmp_path / "c")], "table NoSuchTable: does not exist"),
        (["import", "litellm", "postgresql://u:hunter2@127.0.0.1:1/x", "--out", str(tmp_path / "d")], "u:***@"),
    ]  # fmt: skip
    for argv, needle in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err and "hunter2" not in err and "Traceback" not in err
        assert not (tmp_path / "a" / "_import" / "ledger").exists() or not list(
            (tmp_path / "a").glob("date=*")
        )


def test_database_url_is_the_default_dsn(litellm_db: str, tmp_path: Path, monkeypatch, capsys) -> None:
    load(litellm_db)
    monkeypatch.setenv("DATABASE_URL", litellm_db)
    assert main(["import", "litellm", "--out", str(tmp_path / "o"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "rows_read": 20, "imported": 20, "skipped": {}, "out": str(tmp_path / "o")
    }  # fmt: skip


# --- OpenAI usage and costs, mapped exports ---------------------------------------------------------------------

USAGE = {
    "object": "page", "has_more": False, "next_page": None,
    "data": [
        {"object": "bucket", "start_time": 1764979200, "end_time": 1765065600, "results": [
            {"object": "organization.usage.images.result", "images": 5, "num_model_requests": 3,
             "model": "gpt-image-1-mini", "size": "1024x1024", "source": "image.generation", "project_id": "p1"},
            {"object": "organization.usage.images.result", "images": 2, "num_model_requests": 2,
             "model": "dall-e-2", "size": "256x256", "source": "image.generation", "project_id": "p1"}]},
        {"object": "bucket", "start_time": 1765065600, "end_time": 1765152000, "result": []},
    ],
}  # fmt: skip
COSTS = {
    "object": "page", "data": [{"object": "bucket", "start_time": 1764979200, "end_time": 1765065600, "results": [
        {"object": "organization.costs.result", "amount": {"value": 0.0332, "currency": "usd"},
         "line_item": "gpt-image-1-mini image, output", "project_id": "p1", "quantity": 4150.0, "quantity_unit": "tokens"},
        {"object": "organization.costs.result", "amount": {"value": "0.036", "currency": "usd"},
         "line_item": "dall-e-2", "project_id": "p1"}]}],
}  # fmt: skip


def test_openai_usage_and_costs_reconcile_per_day_and_model(tmp_path: Path, capsys) -> None:
    usage, costs = tmp_path / "usage.json", tmp_path / "costs.json"
    usage.write_text(json.dumps(USAGE))
    costs.write_text(json.dumps(COSTS))
    out = tmp_path / "imported"
    summary = import_openai_usage(usage, out, costs=costs)
    assert summary == {"rows_read": 4, "imported": 5, "skipped": {}, "out": str(out)}
    frame = scan_log(out).collect().sort("request_id")
    assert frame.filter(pl.col("model") == "gpt-image-1-mini")["images_count"].to_list() == [2, 2, 1]
    assert import_openai_usage(usage, out, costs=costs)["skipped"] == {"already imported": 7}
    assert main(["reconcile", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    by_model = {r["model"]: r for r in result["rows"]}
    mini = by_model["gpt-image-1-mini"]
    assert mini["requests"] == 3 and mini["exact_usd"] is None and mini["flags"] == ["unpriced"]  # no quality
    assert mini["billed_usd"] == "0.0332"
    assert by_model["dall-e-2"]["exact_usd"] == "0.032"  # 2 x $0.016 (256x256): no quality to know
    assert result["totals"]["billed_usd"] == "0.0692" and result["totals"]["unknown_requests"] == 3


@pytest.mark.parametrize(
    ("page", "where"),
    [
        ({"data": [{"start_time": "yesterday", "results": []}]}, "data[0].start_time"),
        ({"data": [{"start_time": 1, "results": [{"images": -1, "num_model_requests": 1}]}]}, "data[0].results[0].images"),
        ({"data": [{"start_time": 1, "results": [{"images": 1, "num_model_requests": 1, "source": "image.gif"}]}]}, "source"),
        ({"nodata": []}, "<root>"),
    ],
)  # fmt: skip
def test_malformed_usage_pages_are_refused_naming_the_key(
    tmp_path: Path, capsys, page: dict, where: str
) -> None:
    usage = tmp_path / "usage.json"
    usage.write_text(json.dumps(page))
    assert main(["import", "openai-usage", str(usage), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert where in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_a_costs_page_with_an_amount_that_is_not_a_number_is_refused(tmp_path: Path, capsys) -> None:
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"data": [{"start_time": 1, "results": [{"amount": {"value": "lots"}}]}]}))
    (tmp_path / "d").mkdir()
    assert main(["reconcile", str(tmp_path / "d"), "--billed", str(costs)]) == 2
    assert "data[0].results[0].amount.value" in capsys.readouterr().err


ACTIVITY = """generation_id,created_at,cost_total,tokens_prompt,tokens_completion,model_permaslug,provider_name,cancelled,generation_time_ms,time_to_first_token_ms
gen-1,2026-06-28 03:46:57.713,0.002188,6,272,openai/gpt-image-1-mini,OpenAI,false,8123,8100
gen-2,2026-06-28 04:00:00.000,0,6,272,openai/gpt-image-1-mini,OpenAI,false,7000,6900
gen-3,2026-06-28 05:00:00.000,0.004,6,1056,openai/gpt-image-1-mini,OpenAI,true,7000,6900
,2026-06-29 05:00:00.000,0.02,6,272,openai/gpt-image-1-mini,OpenAI,false,7000,6900
"""


def test_a_gateway_export_imports_through_the_documented_mapping(tmp_path: Path, capsys) -> None:
    csv = tmp_path / "activity.csv"
    csv.write_text(ACTIVITY)
    out = tmp_path / "imported"
    argv = [
        "import",
        "csv",
        str(csv),
        "--mapping",
        str(REPO / "examples" / "import_openrouter.yaml"),
        "--out",
        str(out),
        "--json",
    ]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {
        "rows_read": 4, "imported": 3, "skipped": {"no request id": 1}, "out": str(out)
    }  # fmt: skip
    frame = imported(out).sort("request_id")
    assert frame["provenance"].unique().to_list() == ["imported:openrouter"]
    assert frame["outcome"].to_list() == ["ok", "ok", "cancelled"]
    assert frame["recorded_cost_usd"].to_list() == [Decimal("0.002188"), Decimal(0), Decimal("0.004")]
    assert main(argv) == 0 and json.loads(capsys.readouterr().out)["skipped"]["already imported"] == 3


def test_a_bad_mapping_is_refused_naming_the_key(tmp_path: Path, capsys) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text(ACTIVITY)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("source: 'has space'\nrequest_id: generation_id\n")
    assert main(["import", "csv", str(csv), "--mapping", str(mapping), "--out", str(tmp_path / "o")]) == 2
    assert "source" in capsys.readouterr().err


def _csv(tmp_path: Path, text: str, mapping: str) -> Path:
    (tmp_path / "rows.csv").write_text(text)
    (tmp_path / "map.yaml").write_text(mapping)
    out = tmp_path / "imported"
    import_mapped(tmp_path / "rows.csv", tmp_path / "map.yaml", out)
    return out


MAPPING = """source: mine
request_id: id
recorded_cost: cost
columns: {ts: started_at}
constants: {outcome: ok}
"""


def test_image_tokens_at_the_text_rate_are_flagged(tmp_path: Path) -> None:
    # gpt-image-1.5: 1056 image tokens at the text rate (10/1M) + 6 text tokens (5/1M) = 0.01059; exact 0.033822
    out = _csv(
        tmp_path,
        "id,ts,provider,model,input_text_tokens,output_image_tokens,cost\n"
        "a,2026-11-01T10:00:00Z,openai,gpt-image-1.5,6,1056,0.01059\n"
        "b,2026-11-01T11:00:00Z,openai,gpt-image-1.5,6,1056,0.033822\n",
        MAPPING,
    )
    per = reconcile_requests(scan_log(out), read_ledger(out)).sort("request_id")
    assert per["flags"].to_list() == [["image_tokens_at_text_rate"], []]
    assert per["difference_usd"].to_list() == [Decimal("0.01059") - Decimal("0.033822"), Decimal(0)]


def test_a_flat_price_for_a_size_dependent_model_is_flagged(tmp_path: Path) -> None:
    # gpt-image-1-mini low: $0.005 at 1024x1024, $0.006 at 1536x1024; the source recorded 0.005 for both
    out = _csv(
        tmp_path,
        "id,ts,provider,model,quality,size,n,cost\n"
        "a,2026-11-01T10:00:00Z,openai,gpt-image-1-mini,low,1024x1024,1,0.005\n"
        "b,2026-11-01T11:00:00Z,openai,gpt-image-1-mini,low,1536x1024,1,0.005\n",
        MAPPING,
    )
    per = reconcile_requests(scan_log(out), read_ledger(out)).sort("request_id")
    assert per["flags"].to_list() == [[], ["flat_price"]]


def test_reconcile_human_table_shows_the_largest_differences_first(
    litellm_db: str, tmp_path: Path, capsys
) -> None:
    load(litellm_db, "spend_rows_litellm_1.83.14.jsonl")
    out = tmp_path / "o"
    import_litellm(litellm_db, out)
    assert main(["reconcile", str(out), "--by", "provider,model"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:2] == ["openai", "gpt-image-2"]  # -$0.3438, the largest difference
    assert lines[-2].startswith("totals: recorded_usd: ")
    assert main(["reconcile", str(out), "--by", "colour"]) == 2
    assert "by='colour' is not allowed" in capsys.readouterr().err


def test_perf_reads_an_import_directory(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    import_litellm(DATA / "spend_rows.jsonl", out)
    assert main(["perf", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["provenance"]["kind"] == "imported:litellm" and result["provenance"]["requests"] == 20


def test_the_imported_mix_with_edits_projects_when_its_components_are_unlabelled(
    tmp_path: Path, capsys
) -> None:
    # the volume and mix of imported traffic holding edits, written as a workload file without labels (as a
    # person copies the mix): each component is named by its mode, quality, size and input images
    import yaml

    from imgkit.analysis.reconcile import traffic_workload

    out = tmp_path / "o"
    import_litellm(DATA / "spend_rows.jsonl", out)
    workload = traffic_workload(scan_log(out))
    edits = [c for c in workload["mix"] if c["mode"] == "edit"]
    assert edits, "the rows LiteLLM built hold edits"
    for component in workload["mix"]:
        del component["label"]
    path = tmp_path / "imported.yaml"
    path.write_text(yaml.safe_dump(workload, sort_keys=False))
    assert main(["project", str(path), "--log", str(out), "--months", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    text = json.dumps(result)
    edit = edits[0]
    assert f"edit {edit['quality']} {edit['size']} 1x input" in text


def test_the_ddl_is_litellms_table(litellm_db: str) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(litellm_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'LiteLLM_SpendLogs'")
        assert cur.fetchone()[0] == 36
        cur.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'LiteLLM_SpendLogs'")
        assert cur.fetchone()[0] == 7  # the primary key and LiteLLM's six indexes
    assert len(litellm_ddl()) == 7
