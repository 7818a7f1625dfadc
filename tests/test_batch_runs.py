"""Runs through the Batch API (``batch: true``) against the simulator over real loopback HTTP: half price from
usage tokens and published rates, one logged attempt per item, kill -9 and resume without a second submission or
a second payment, a lost create answer, an unrecorded upload, partial failures, expiry, failed validation,
the budget cutting a batch, Ctrl-C detaching and ``--cancel-batches``; the ledger's torn lines."""

from __future__ import annotations

import hashlib
import io
import json
import signal
from collections import Counter
from decimal import Decimal
from pathlib import Path

import openai
import polars as pl
import pytest
import yaml

from imgkit.cli import main
from imgkit.errors import RunDirectoryError, SpecError
from imgkit.pricing import count_prompt_tokens
from imgkit.providers import OpenAIBatchAPI
from imgkit.records.batches import BatchLedger
from imgkit.records.journal import RequestLog
from imgkit.runs.plan import plan_run
from imgkit.runs.runner import run_experiment
from imgkit.runs.spec import load_spec
from imgkit.simulator import FaultPlan
from tests.test_runner import imgkit_subprocess, wait_for

#: gpt-image-2 at OpenAI (../shared/reference/PRICING.md, the catalog's OAI-PRICING): $5 / 1M text input
#: tokens, $30 / 1M image output tokens; 272 output tokens for low 1024x1024 (the gpt-image table, assumed for
#: gpt-image-2, which publishes none); the Batch API halves every rate (PRICING.md "Batch API = exactly half")
TEXT_IN_PER_TOKEN = Decimal("5.00") / 1_000_000
IMAGE_IN_PER_TOKEN = Decimal("8.00") / 1_000_000
IMAGE_OUT_PER_TOKEN = Decimal("30.00") / 1_000_000
LOW_1024_TOKENS = 272
BATCH = Decimal("0.5")
FAST_POLLS = {"poll_s": 0.02, "max_poll_s": 0.1}


def prompts(n: int) -> list[dict]:
    return [{"id": f"p{i}", "text": f"A lighthouse at dusk, study {i}"} for i in range(n)]


def write_spec(tmp_path: Path, sim, *, n: int = 6, batch=None, **overrides) -> Path:
    spec = {
        "name": "b",
        "prompts": prompts(n),
        "targets": [{"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"}],
        "simulate": {"url": sim.url},
        "output_dir": "run",
        "batch": FAST_POLLS if batch is None else batch,
        **overrides,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def edit_target(tmp_path: Path) -> dict:
    """A gpt-image-2 edit target of the input image ``room`` (``input_images: {room: room.png}``), written."""
    from imgkit.simulator import ImageSpec, render_image

    (tmp_path / "room.png").write_bytes(render_image(ImageSpec("1" * 32, 0, 96, 64)))
    return {
        "model": "gpt-image-2",
        "provider": "openai",
        "mode": "edit",
        "images": ["room"],
        "quality": "low",
    }


def journal(run_dir: Path) -> pl.DataFrame:
    return RequestLog(run_dir / "log.jsonl").scan().collect()


def usage_price(row: dict) -> Decimal:
    """An answer's interactive price from its usage tokens and the published rates."""
    return (
        row["input_text_tokens"] * TEXT_IN_PER_TOKEN
        + (row["input_image_tokens"] or 0) * IMAGE_IN_PER_TOKEN
        + row["output_image_tokens"] * IMAGE_OUT_PER_TOKEN
    )


def assert_half_price(frame: pl.DataFrame) -> None:
    ok = frame.filter(pl.col("outcome") == "ok")
    assert ok.height and ok["batch_id"].null_count() == 0
    for row in ok.iter_rows(named=True):
        assert row["output_image_tokens"] == LOW_1024_TOKENS
        assert row["actual_cost_usd"] == usage_price(row) * BATCH, row


def assert_images_match(run_dir: Path, frame: pl.DataFrame) -> None:
    for row in frame.filter(pl.col("outcome") == "ok").iter_rows(named=True):
        (image,) = json.loads(row["images"])
        path = Path(image["path"])
        path = path if path.is_absolute() else run_dir / path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == image["sha256"]


def ran_once(sim) -> Counter:
    """How many times each custom_id got an answer that ran (output files of every batch)."""
    client = openai.OpenAI(base_url=sim.base_url, api_key="sk-test", max_retries=0)
    ran: Counter = Counter()
    for batch in client.batches.list(limit=100):
        if batch.output_file_id:
            for line in client.files.content(batch.output_file_id).text.splitlines():
                ran[json.loads(line)["custom_id"]] += 1
    return ran


def ledger_kinds(run_dir: Path) -> list[str]:
    path = run_dir / "batches.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["kind"] for line in path.read_text().splitlines() if line.endswith("}")]


def sim_status(sim) -> list[str]:
    return [b.status for b in sim.batch_service.batches.values()]


# --- planning -----------------------------------------------------------------------------------------------


def test_dry_run_quotes_the_batch_price_and_groups_the_batches(tmp_path, simulator, capsys):
    edit = edit_target(tmp_path)
    targets = [
        {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"},
        {**edit, "size": "1024x1024", "batch": False},
        {**edit, "size": "1024x1024"},
    ]
    path = write_spec(
        tmp_path,
        simulator,
        n=8,
        targets=targets,
        batch={"max_requests": 3},
        input_images={"room": "room.png"},
    )
    assert main(["run", str(path), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    gi2, interactive, batched = plan["targets"]
    assert (gi2["batch"], interactive["batch"], batched["batch"]) == (True, False, True)
    assert batched["target"].endswith("/batch") and not interactive["target"].endswith("/batch")
    tokens = [count_prompt_tokens(p["text"]) for p in prompts(8)]
    full = sum(LOW_1024_TOKENS * IMAGE_OUT_PER_TOKEN + t * TEXT_IN_PER_TOKEN for t in tokens)
    assert Decimal(gi2["subtotal_usd"]) == full * BATCH
    assert Decimal(batched["subtotal_usd"]) * 2 == Decimal(interactive["subtotal_usd"])
    # by provider, endpoint and model, at most max_requests per batch
    groups = [(b["endpoint"], b["items"]) for b in plan["batches"]]
    gen, edits = "/v1/images/generations", "/v1/images/edits"
    assert groups == [(gen, 3), (gen, 3), (edits, 3), (edits, 3), (gen, 2), (edits, 2)]
    assert {b["model"] for b in plan["batches"]} == {"gpt-image-2"}
    assert sum(Decimal(b["quote_usd"]) for b in plan["batches"] if b["endpoint"] == gen) == full * BATCH
    assert main(["run", str(path), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "batches (Batch API, results within 24 h): 6" in text and "(batch price)" in text
    assert simulator.request_count == 0 and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ({"model": "flux-1-schnell", "provider": "fal"}, "fal has no Batch API"),
        ({"model": "gemini-3-pro-image", "provider": "lumenfall"}, "lumenfall has no Batch API"),
        ({"model": "gpt-image-2", "options": {"stream": True, "partial_images": 1}}, "streamed"),
        (
            {"model": "gpt-image-2.5-flare", "provider": "openai", "quality": "low", "size": "1024x1024"},
            "batch price",
        ),
    ],
)
def test_a_target_no_batch_api_takes_fails_before_anything_is_sent(tmp_path, simulator, target, problem):
    path = write_spec(tmp_path, simulator, targets=[target])
    with pytest.raises(SpecError) as exc:
        run_experiment(load_spec(path), progress=False)
    assert exc.value.key_path == "targets[0].batch" and problem in exc.value.problem
    assert simulator.request_count == 0


def test_batch_settings_are_checked(tmp_path, simulator):
    path = write_spec(tmp_path, simulator, batch={"poll_s": 10, "max_poll_s": 1})
    with pytest.raises(SpecError, match="max_poll_s 1 is below poll_s 10"):
        load_spec(path)
    path = write_spec(tmp_path, simulator, batch={"on_expired": "again"})
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert exc.value.key_path == "batch.on_expired"


# --- a run --------------------------------------------------------------------------------------------------


def test_a_batched_run_pays_half_the_usage_price_and_logs_one_attempt_per_item(tmp_path, simulator, capsys):
    path = write_spec(tmp_path, simulator, n=12, budget_usd="1.00")
    assert main(["run", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "batches: 1 created" in out
    run_dir = tmp_path / "run"
    frame = journal(run_dir)
    assert frame.height == 12 and set(frame["outcome"]) == {"ok"} and frame["final"].all()
    assert frame["batch_id"].n_unique() == 1 and frame["ttfb_ms"].is_null().all()
    assert (frame["latency_ms"] >= 0).all()  # the turnaround: submitted -> result available
    assert_half_price(frame)
    assert_images_match(run_dir, frame)
    (ids,) = simulator.batches.values()
    assert sorted(ids) == sorted(frame["item_id"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert Decimal(summary["spent_usd"]) == sum(frame["actual_cost_usd"], Decimal(0))
    assert summary["complete"] and summary["batches_created"] == 1
    assert ledger_kinds(run_dir) == ["planned", "uploaded", "creating", "created", "ended", "collected"]
    assert not list((run_dir / "batches").iterdir())  # the input file is gone once the batch exists
    # the sent JSONL held the resolved bodies
    client = openai.OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)
    (batch,) = client.batches.list()
    first = json.loads(client.files.content(batch.input_file_id).text.splitlines()[0])
    assert first["body"] == {
        "model": "gpt-image-2",
        "prompt": first["body"]["prompt"],
        "n": 1,
        "size": "1024x1024",
        "quality": "low",
    }
    assert batch.metadata["imgkit_run"] == summary["run_id"]


def test_batched_edits_send_their_images_in_the_json_edit_body(tmp_path, simulator):
    target = {**edit_target(tmp_path), "size": "1536x1024"}
    path = write_spec(tmp_path, simulator, n=3, targets=[target], input_images={"room": "room.png"})
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.complete
    frame = journal(tmp_path / "run")
    assert (frame["input_image_tokens"] > 0).all() and set(frame["mode"]) == {"edit"}
    for row in frame.iter_rows(named=True):
        assert row["actual_cost_usd"] == usage_price(row) * BATCH
    client = openai.OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)
    (batch,) = client.batches.list()
    line = json.loads(client.files.content(batch.input_file_id).text.splitlines()[0])
    assert batch.endpoint == line["url"] == "/v1/images/edits"
    assert line["body"]["images"][0]["image_url"].startswith("data:image/png;base64,")


def test_kill_9_while_the_batch_runs_then_resume_pays_every_item_once_at_half_price(
    tmp_path, simulator_factory
):
    sim = simulator_factory(time_scale=0.03)  # validating ~1 s, then ~2 s in progress
    path = write_spec(tmp_path, sim, n=40)
    run_dir = tmp_path / "run"
    proc = imgkit_subprocess("run", str(path), "--no-progress")
    wait_for(lambda: "created" in ledger_kinds(run_dir) and "in_progress" in sim_status(sim), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(sim.batches) == 1 and journal(run_dir).height == 0

    summary = run_experiment(load_spec(path), resume=True, progress=False)
    assert (summary.batches_created, summary.batches_reattached, summary.sent, summary.ok) == (0, 1, 40, 40)
    assert summary.complete and summary.in_open_batches == 40
    frame = journal(run_dir)
    assert Counter(frame["item_id"]) == dict.fromkeys(frame["item_id"], 1) and frame.height == 40
    assert_half_price(frame)
    assert_images_match(run_dir, frame)
    (ids,) = sim.batches.values()  # the simulator lists each item in exactly one batch
    assert Counter(ids) == dict.fromkeys(frame["item_id"], 1)
    assert ran_once(sim) == dict.fromkeys(ids, 1)
    # a second resume finds nothing to do
    again = run_experiment(load_spec(path), resume=True, progress=False)
    assert (again.sent, again.skipped_finished, len(sim.batches)) == (0, 40, 1)


def test_kill_9_while_the_create_is_unanswered_then_resume_finds_the_batch(tmp_path, simulator_factory):
    sim = simulator_factory(time_scale=0.01, faults=FaultPlan(batches=["timeout"], hang_s=60))
    path = write_spec(tmp_path, sim, n=8)
    run_dir = tmp_path / "run"
    proc = imgkit_subprocess("run", str(path), "--no-progress")
    wait_for(lambda: len(sim.batches) == 1 and ledger_kinds(run_dir)[-1:] == ["creating"], proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    summary = run_experiment(load_spec(path), resume=True, progress=False)
    assert summary.complete and summary.batches_created == 0 and len(sim.batches) == 1
    assert [r.kind for r in sim.requests].count("batch_create") == 1
    assert_half_price(journal(run_dir))


def test_a_create_whose_answer_is_lost_is_found_in_the_same_session(tmp_path, simulator_factory):
    sim = simulator_factory(faults=FaultPlan(batches=["timeout"], hang_s=5))
    path = write_spec(tmp_path, sim, n=4, simulate={"url": sim.url, "hang_s": 0.5})  # read timeout 0.5 s
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.complete and summary.batches_created == 1 and len(sim.batches) == 1
    assert [r.kind for r in sim.requests].count("batch_create") == 1


def test_an_upload_the_ledger_never_recorded_is_found_by_its_name(tmp_path, simulator):
    path = write_spec(tmp_path, simulator, n=5, budget_usd="0")
    first = run_experiment(load_spec(path), progress=False)  # nothing fits: the run directory only
    assert first.skipped_budget == 5 and simulator.request_count == 0
    # what a process killed between the upload and its ledger record leaves: planned, and the file uploaded
    spec = load_spec(path)
    plan = plan_run(spec)
    items = list(spec.items())
    ledger = BatchLedger(tmp_path / "run" / "batches.jsonl")
    name = f"imgkit-{first.run_id}-b0001-test.jsonl"
    ledger.plan(
        "b0001-test",
        provider="openai",
        model="gpt-image-2",
        endpoint="/v1/images/generations",
        attempt=1,
        filename=name,
        items=[i.item_id for i in items],
        quotes_usd=[plan.quote_for(i) for i in items],
    )
    ledger.close()
    data = b"".join(
        OpenAIBatchAPI.encode_line(i.item_id, plan.resolve(i), plan.resolve(i).body) for i in items
    )
    client = openai.OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)
    client.files.create(file=(name, io.BytesIO(data), "application/jsonl"), purpose="batch")

    summary = run_experiment(load_spec(path), resume=True, budget_usd=Decimal("1"), progress=False)
    assert summary.complete and summary.batches_reattached == 1
    assert [r.kind for r in simulator.requests].count("file_upload") == 1  # found, not uploaded again
    assert len(simulator.batches) == 1


# --- failures -----------------------------------------------------------------------------------------------


def test_failed_lines_are_classified_like_interactive_failures_and_not_billed(tmp_path, simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["ok", "moderation", "429", "ok", "500", "ok"]))
    path = write_spec(tmp_path, sim, n=6)
    summary = run_experiment(load_spec(path), progress=False)
    assert (summary.ok, summary.failed) == (3, 3)
    assert summary.failures == {"content_policy": 1, "rate_limit": 1, "unavailable": 1}
    frame = journal(tmp_path / "run")
    failed = frame.filter(pl.col("outcome") != "ok")
    assert (failed["actual_cost_usd"] == 0).all() and set(failed["cost_method"]) == {"not_billed"}
    assert set(failed["http_status"]) == {400, 429, 500}
    # a resume sends the retryable ones again, in a new batch; the policy block needs a change of spec
    again = run_experiment(load_spec(path), resume=True, progress=False)
    assert (again.sent, again.ok, again.skipped_not_retried, again.batches_created) == (2, 2, 1, 1)
    assert sorted(len(ids) for ids in sim.batches.values()) == [2, 6]


@pytest.mark.parametrize("on_expired", ["rebatch", "report"])
def test_an_expired_batch_rebatches_its_unrun_items_once_or_reports_them(
    tmp_path, simulator_factory, on_expired
):
    sim = simulator_factory(faults=FaultPlan(batches=["expired"]))
    path = write_spec(tmp_path, sim, n=6, batch={**FAST_POLLS, "on_expired": on_expired})
    summary = run_experiment(load_spec(path), progress=False)
    frame = journal(tmp_path / "run")
    expired = frame.filter(pl.col("outcome") == "expired")
    assert expired.height == 3 and (expired["actual_cost_usd"] == 0).all()
    if on_expired == "rebatch":
        assert summary.complete and len(sim.batches) == 2 and not expired["final"].any()
        first, second = sim.batches.values()
        assert sorted(second) == sorted(expired["item_id"]) and set(second) < set(first)
        assert ran_once(sim) == dict.fromkeys(first, 1)  # every item ran once
        assert frame.filter(pl.col("final"))["outcome"].to_list() == ["ok"] * 6
    else:
        assert summary.failures == {"expired": 3} and expired["final"].all() and len(sim.batches) == 1
        again = run_experiment(load_spec(path), resume=True, progress=False)
        assert again.complete and again.sent == 3
    assert_half_price(frame)


def test_a_rebatched_batch_that_expires_again_is_reported(tmp_path, simulator_factory):
    sim = simulator_factory(faults=FaultPlan(batches=["expired", "expired"]))
    path = write_spec(tmp_path, sim, n=4)
    summary = run_experiment(load_spec(path), progress=False)
    assert len(sim.batches) == 2 and summary.failures == {"expired": 1}
    finals = journal(tmp_path / "run").filter(pl.col("final"))
    assert Counter(finals["outcome"]) == {"ok": 3, "expired": 1}


def test_a_batch_that_fails_validation_logs_every_item_unbilled(tmp_path, simulator_factory):
    sim = simulator_factory(faults=FaultPlan(batches=["failed"]))
    path = write_spec(tmp_path, sim, n=4)
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.failures == {"rate_limit": 4} and summary.spent_usd == 0
    frame = journal(tmp_path / "run")
    assert frame["error_message"].str.contains("token_limit_exceeded").all()
    assert (frame["actual_cost_usd"] == 0).all()
    again = run_experiment(load_spec(path), resume=True, progress=False)  # "not now": sent again
    assert again.complete and len(sim.batches) == 2


# --- money --------------------------------------------------------------------------------------------------


def test_the_budget_cuts_a_batch_to_the_items_whose_quotes_fit(tmp_path, simulator):
    spec = load_spec(write_spec(tmp_path, simulator, n=40))
    per_item = plan_run(spec).targets[0].high_usd
    budget = per_item * 5 + per_item / 2
    summary = run_experiment(spec, budget_usd=budget, progress=False)
    assert (summary.ok, summary.skipped_budget) == (5, 35)
    assert summary.spent_usd <= budget
    (ids,) = simulator.batches.values()
    assert len(ids) == 5
    more = run_experiment(
        load_spec(tmp_path / "spec.yaml"), resume=True, budget_usd=Decimal(1), progress=False
    )
    assert more.complete and more.sent == 35 and len(simulator.batches) == 2


# --- interrupting -------------------------------------------------------------------------------------------


def test_ctrl_c_detaches_and_cancel_batches_cancels_then_resume_finishes(tmp_path, simulator_factory):
    sim = simulator_factory(time_scale=0.1)  # validating 3 s, then 6 s in the queue before a line is done
    path = write_spec(tmp_path, sim, n=6)
    run_dir = tmp_path / "run"
    proc = imgkit_subprocess("run", str(path), "--no-progress")
    wait_for(lambda: "created" in ledger_kinds(run_dir), proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "1 batches still running at the provider (6 items" in out and "--cancel-batches" in out
    assert sim_status(sim)[0] in ("validating", "in_progress") and journal(run_dir).height == 0

    done = imgkit_subprocess("run", str(path), "--cancel-batches", "--no-progress", "--json")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 1, err
    summary = json.loads(out)
    assert (summary["cancelled"], summary["batches_created"], summary["sent"]) == (6, 0, 6)
    assert sim_status(sim) == ["cancelled"]
    frame = journal(run_dir)
    assert set(frame["outcome"]) == {"cancelled"} and (frame["actual_cost_usd"] == 0).all()
    assert ledger_kinds(run_dir)[-3:] == ["cancel", "ended", "collected"]

    fast = simulator_factory()
    path = write_spec(tmp_path, fast, n=6)  # the same run, served by another simulator
    again = run_experiment(load_spec(path), resume=True, progress=False)
    assert again.complete and again.sent == 6 and len(fast.batches) == 1


def test_a_new_run_in_a_directory_that_holds_batches_is_refused(tmp_path, simulator):
    path = write_spec(tmp_path, simulator, n=2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "batches.jsonl").write_text('{"v":1,"kind":"abandoned","key":"x"}\n')
    with pytest.raises(RunDirectoryError, match=r"batches\.jsonl"):
        run_experiment(load_spec(path), progress=False)


# --- the ledger ---------------------------------------------------------------------------------------------


def test_the_ledger_ignores_and_cuts_a_torn_last_line(tmp_path):
    ledger = BatchLedger(tmp_path / "batches.jsonl")
    ledger.plan(
        "k1",
        provider="openai",
        model="m",
        endpoint="/v1/images/generations",
        attempt=1,
        filename="f.jsonl",
        items=["a", "b"],
        quotes_usd=[Decimal("0.01"), None],
    )
    ledger.append("uploaded", "k1", file_id="file-1", bytes=10)
    ledger.close()
    with (tmp_path / "batches.jsonl").open("ab") as fh:
        fh.write(b'{"v":1,"kind":"created","key":"k1","bat')  # a kill mid-write
    (batch,) = BatchLedger(tmp_path / "batches.jsonl").batches().values()
    assert (batch.stage, batch.file_id, batch.items, batch.quote_usd) == (
        "uploaded",
        "file-1",
        ("a", "b"),
        None,
    )
    again = BatchLedger(tmp_path / "batches.jsonl")
    again.append("created", "k1", batch_id="batch_1")
    again.close()
    lines = (tmp_path / "batches.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)
    assert BatchLedger(tmp_path / "batches.jsonl").batches()["k1"].batch_id == "batch_1"


def test_a_damaged_or_newer_ledger_is_one_error_naming_the_line(tmp_path):
    path = tmp_path / "batches.jsonl"
    path.write_text('{"v":1,"kind":"abandoned","key":"x"}\nnot json\n{"v":1,"kind":"abandoned","key":"y"}\n')
    with pytest.raises(SpecError) as exc:
        BatchLedger(path).batches()
    assert exc.value.key_path == "line 1" and "never planned" in exc.value.problem
    path.write_text('{"v":1,"kind":"cancel","key":"x"}\nnot json\n')
    with pytest.raises(SpecError) as exc:
        list(BatchLedger(path).records())
    assert exc.value.key_path == "line 2" and "damaged" in exc.value.problem
    path.write_text('{"v":9,"kind":"abandoned","key":"x"}\n')
    with pytest.raises(SpecError, match="ledger version 9 is newer"):
        BatchLedger(path).batches()


# --- analysis -----------------------------------------------------------------------------------------------


def test_perf_reports_batch_turnaround_apart_and_recosting_keeps_the_batch_price(tmp_path, simulator, capsys):
    from imgkit.pricing import cost_from_record, recost

    spec = {
        "name": "mixed",
        "targets": [
            {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"},
            {
                "model": "gpt-image-2",
                "provider": "openai",
                "quality": "low",
                "size": "1024x1024",
                "batch": False,
            },
        ],
    }
    path = write_spec(tmp_path, simulator, n=5, **spec)
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.complete and summary.sent == 10
    log = tmp_path / "run" / "log.jsonl"
    assert main(["perf", str(log), "--json"]) == 0
    rows = {r["delivery"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert (rows["batch"]["requests"], rows["interactive"]["requests"]) == (5, 5)
    assert rows["batch"]["ttfb_p50_ms"] is None and rows["interactive"]["ttfb_p50_ms"] is not None
    # the same images cost half through the Batch API
    assert Decimal(rows["batch"]["cost_per_image_usd"]) * 2 == Decimal(
        rows["interactive"]["cost_per_image_usd"]
    )
    assert main(["perf", str(log)]) == 0
    text = capsys.readouterr().out
    assert "Batch API: turnaround from submission to result" in text and "turnaround_p50" in text
    frame = journal(tmp_path / "run")
    again = recost(frame.drop("actual_cost_usd", "cost_method"))
    assert again["actual_cost_usd"].to_list() == frame["actual_cost_usd"].to_list()
    assert [cost_from_record(r).total_usd for r in frame.to_dicts()] == frame["actual_cost_usd"].to_list()


def test_the_projection_takes_the_measured_batch_share_and_turnaround(tmp_path, simulator, capsys):
    targets = [
        {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"},
        {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024", "batch": False},
    ]
    path = write_spec(tmp_path, simulator, n=4, targets=targets)
    assert run_experiment(load_spec(path), progress=False).complete
    workload = {
        "name": "w",
        "volume": {"requests_per_month": 1000},
        "mix": [{"label": "all", "share": "1", "quality": "low", "size": "1024x1024"}],
        "targets": [{"model": "gpt-image-2", "provider": "openai"}],
    }
    wpath = tmp_path / "w.yaml"
    wpath.write_text(yaml.safe_dump(workload))
    log = str(tmp_path / "run" / "log.jsonl")
    runs = {}
    for flags in ([], ["--batch-share-from-log"]):
        assert main(["project", str(wpath), "--months", "1", "--log", log, "--json", *flags]) == 0
        runs[bool(flags)] = json.loads(capsys.readouterr().out)
    assumed, measured = (next(r for r in runs[k]["rows"] if r["kind"] == "usage") for k in (False, True))
    assert Decimal(assumed["batch_share"]) == 0 and Decimal(measured["batch_share"]) == Decimal("0.5")
    assert measured["batch_provenance"] == "simulated" and measured["batch_turnaround_p50_ms"] >= 0
    assert assumed["batch_turnaround_p95_ms"] == measured["batch_turnaround_p95_ms"]
    # half the requests at half price: three quarters of the cost
    assert Decimal(measured["cost_usd"]) * 4 == Decimal(assumed["cost_usd"]) * 3
    assert main(["project", str(wpath), "--months", "1", "--log", log]) == 0
    assert "Batch API turnaround measured in the log" in capsys.readouterr().out


def test_the_example_batch_spec_runs_offline_end_to_end(tmp_path, capsys):
    spec = load_spec(
        Path(__file__).resolve().parents[1] / "examples" / "offline_batch.yaml", output_dir=tmp_path / "run"
    )
    assert spec.simulate and spec.batched
    summary = run_experiment(spec, progress=False)
    assert summary.complete and summary.batches_created == 2 and summary.items == 24
    frame = journal(tmp_path / "run")
    assert_half_price(frame.filter(pl.col("provider") == "openai"))
    assert frame.filter(pl.col("provider") == "gemini-api")["batch_id"].n_unique() == 1
    assert set(frame["provenance"]) == {"simulated"}
