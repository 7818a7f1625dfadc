"""The experiment runner over real loopback HTTP against the simulated provider: dry runs send nothing, the
budget holds at concurrency 32, a killed run resumes without paying twice, Ctrl-C stops cleanly, grids show
failures, and the example spec runs offline end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import yaml
from PIL import Image

from imgkit.cli import main
from imgkit.errors import RunDirectoryError, SpecError
from imgkit.pricing import count_prompt_tokens
from imgkit.records.journal import RequestLog
from imgkit.runs.runner import run_experiment
from imgkit.runs.spec import load_spec, parse_spec
from imgkit.simulator import FaultPlan, LogNormal, Profile

REPO = Path(__file__).resolve().parents[1]
API_KINDS = ("generate", "edit", "fal_submit")
#: gpt-image-2 low 1024x1024: 272 output tokens (gpt-image-1's published count, assumed for gpt-image-2: it
#: publishes none) at $30 / 1M image output, and text input at $5 / 1M (OAI-GI2-PAGE, OAI-PRICING). The runs below
#: used gpt-image-1-mini ($0.005 per image, PRICING.md) until OpenAI shut it down on 2026-12-01
GI2_LOW_1024_USD = Decimal(272) * 30 / 1_000_000
GI2_TEXT_INPUT_PER_TOKEN_USD = Decimal("5.00") / 1_000_000


def write_spec(tmp_path: Path, sim, *, name: str = "t", **overrides) -> Path:
    """A spec file pointing every provider at the test's simulator (``simulate.url``)."""
    spec = {
        "name": name,
        "prompts": [{"id": f"p{i}", "text": f"A lighthouse at dusk, study {i}"} for i in range(4)],
        "targets": [{"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"}],
        "concurrency": 4,
        "simulate": {"url": sim.url},
        "output_dir": "run",
        **overrides,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def api_requests(sim) -> list:
    return [r for r in sim.requests if r.kind in API_KINDS]


def log_frame(run_dir: Path) -> pl.DataFrame:
    return RequestLog(run_dir / "log.jsonl").scan().collect()


def ok_per_item(frame: pl.DataFrame) -> Counter:
    return Counter(frame.filter(pl.col("outcome") == "ok")["item_id"].to_list())


def imgkit_subprocess(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from imgkit.cli import main; sys.exit(main())", *args],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"condition not reached (exit {proc.returncode}): {out}\n{err}")
        time.sleep(0.02)


def log_lines(run_dir: Path) -> int:
    """Attempts logged (the ``sent`` records announcing requests are not attempts)."""
    path = run_dir / "log.jsonl"
    if not path.exists():
        return 0
    data = path.read_bytes()
    return data.count(b"\n") - data.count(b'"outcome":"sent"')


# --- validation and dry runs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "key_path", "problem"),
    [
        ({"model": "gpt-image-2", "quality": "ultra"}, "targets[0].quality", "quality='ultra'"),
        ({"model": "gpt-image-9"}, "targets[0].model", "gpt-image-9"),
        ({"model": "gpt-image-2", "provider": "nowhere"}, "targets[0].provider", "nowhere"),
        ({"model": "dall-e-3", "size": "999x999"}, "targets[0].size", "999x999"),
    ],
)
def test_a_target_the_catalog_cannot_serve_fails_before_anything_is_sent(
    tmp_path, simulator, capsys, target, key_path, problem
):
    path = write_spec(tmp_path, simulator, targets=[target])
    with pytest.raises(SpecError) as exc:
        run_experiment(load_spec(path), progress=False)
    assert (exc.value.file, exc.value.key_path) == (str(path), key_path)
    assert problem in exc.value.problem
    assert main(["run", str(path)]) == 2
    assert f"{path}: {key_path}:" in capsys.readouterr().err
    assert simulator.request_count == 0 and not (tmp_path / "run").exists()


def test_a_prompt_too_long_for_a_model_points_at_the_prompt(tmp_path, simulator):
    # Qwen-Image 2.0 takes prompts of 1,000 tokens (FAL-QWEN2-LEARN; dall-e-2's 1,000 characters until its shutdown)
    prompts = [{"id": "short", "text": "a fox"}, {"id": "essay", "text": "word " * 2000}]
    path = write_spec(tmp_path, simulator, prompts=prompts, targets=[{"model": "qwen-image-2"}])
    with pytest.raises(SpecError) as exc:
        run_experiment(load_spec(path), progress=False)
    assert exc.value.key_path == "prompts[1].text" and "qwen-image-2" in exc.value.problem


def test_dry_run_quotes_every_target_and_sends_nothing(tmp_path, simulator, capsys):
    targets = [
        {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"},
        {"model": "flux-1-schnell", "provider": "fal", "size": "1024x1024", "n": 2},
    ]
    path = write_spec(tmp_path, simulator, targets=targets, repeats=2, budget_usd="0.05")
    assert main(["run", str(path), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert simulator.request_count == 0 and not (tmp_path / "run").exists()
    mini, flux = plan["targets"]
    assert (mini["items"], flux["items"]) == (8, 8)
    assert mini["resolved"]["body"]["quality"] == "low" and flux["resolved"]["body"]["num_images"] == 2
    # $0.00816 per 1024x1024 low image (272 tokens x $30 / 1M) plus the prompt's text tokens at $5.00 / 1M
    tokens = [count_prompt_tokens(f"A lighthouse at dusk, study {i}") for i in range(4)]
    expected_mini = sum(GI2_LOW_1024_USD + t * GI2_TEXT_INPUT_PER_TOKEN_USD for t in tokens) * 2
    assert Decimal(mini["subtotal_usd"]) == expected_mini
    assert Decimal(flux["subtotal_usd"]) == Decimal("0.003") * 2 * 8  # $0.003 per megapixel, 2 images
    assert Decimal(plan["total_usd"]) == expected_mini + Decimal("0.048")
    assert plan["within_budget"] is False
    assert main(["run", str(path), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "OVER the budget" in text and "no request was sent" in text and simulator.request_count == 0


# --- money -------------------------------------------------------------------------------------------------------------


def test_budget_is_never_exceeded_at_concurrency_32_with_varying_costs(tmp_path, simulator):
    targets = [
        {"model": "gpt-image-2", "provider": "openai", "quality": ["low", "high"], "size": "1024x1024"},
        {"model": "gemini-3-pro-image", "provider": "lumenfall", "size": "1376x768"},
        {"model": "gpt-image-2.5-flare", "provider": "openai", "quality": "medium", "size": "1024x1024"},
        {"model": "flux-1-schnell", "provider": "fal", "size": "1024x1024"},
    ]
    prompts = [{"id": f"p{i}", "text": "a lighthouse " * (1 + i % 7)} for i in range(24)]
    budget = Decimal("0.60")
    path = write_spec(
        tmp_path, simulator, targets=targets, prompts=prompts, concurrency=32, budget_usd=str(budget)
    )
    summary = run_experiment(load_spec(path), progress=False)
    frame = log_frame(tmp_path / "run")
    billed = sum(frame["actual_cost_usd"].drop_nulls().to_list(), Decimal(0))
    assert frame["actual_cost_usd"].null_count() == 0
    assert billed == summary.spent_total_usd <= budget
    assert summary.skipped_budget > 0 and summary.sent + summary.skipped_budget == summary.items == 120
    assert len(api_requests(simulator)) == frame.height  # every request sent was logged
    assert (tmp_path / "run" / "summary.json").is_file()


def test_a_run_directory_with_a_log_is_not_run_again_without_resume(tmp_path, simulator, capsys):
    path = write_spec(tmp_path, simulator)
    assert main(["run", str(path), "--no-progress"]) == 0
    capsys.readouterr()
    with pytest.raises(RunDirectoryError, match="--resume"):
        run_experiment(load_spec(path), progress=False)
    assert main(["run", str(path)]) == 2
    assert "already holds a run log" in capsys.readouterr().err
    assert len(api_requests(simulator)) == 4


def test_the_spec_as_run_resumes_its_own_run_directory_without_paying_again(tmp_path, simulator, capsys):
    # RUN_DIR/spec.yaml says "imgkit run THIS_FILE --resume continues the run in this directory"
    path = write_spec(tmp_path, simulator, input_images={"room": "room.png"})
    Image.new("RGB", (64, 64), (200, 100, 50)).save(tmp_path / "room.png")
    assert main(["run", str(path), "--no-progress"]) == 0
    as_run = tmp_path / "run" / "spec.yaml"
    assert "run" in yaml.safe_load(as_run.read_text())  # the record of the run, ignored when loading
    spec = load_spec(as_run)
    assert (
        spec.output_dir == tmp_path / "run"
        and spec.input_images["room"] == tmp_path / "run" / "inputs" / "room.png"
    )
    capsys.readouterr()
    assert main(["run", str(as_run), "--resume", "--no-progress"]) == 0
    assert "skipped 4 items finished earlier (not paid again)" in capsys.readouterr().out
    assert len(api_requests(simulator)) == 4


def fast_retry_client(sim, run_dir: Path, max_attempts: int = 4):
    """The client a simulated run makes, with millisecond retry delays (the spec's are seconds)."""
    from imgkit.providers import ImageClient, RateLimit, RetryPolicy

    return ImageClient(
        base_urls={"openai": sim.base_url, "lumenfall": sim.gateway_base_url, "fal": sim.fal_base_url},
        keys={"openai": "sk-sim", "lumenfall": "sk-sim", "fal": "sk-sim"},
        store=run_dir / "images",
        retry=RetryPolicy(max_attempts=max_attempts, initial_delay_s=0.002, max_delay_s=0.01),
        limits={"openai": RateLimit()},
        simulated=True,
    )


def conservative_spend(run_dir: Path) -> Decimal:
    """What the log says the run may have spent: known bills, quotes of unknown bills and of requests in
    flight at a kill (``sent`` without an outcome); failures that were not billed count 0."""
    from imgkit.runs.runner import attempt_spend_usd

    log = RequestLog(run_dir / "log.jsonl")
    attempts = log.scan().select("actual_cost_usd", "estimated_cost_usd", "cost_method").collect()
    spend = sum((attempt_spend_usd(*row) for row in attempts.iter_rows()), Decimal(0))
    return spend + sum(log.unanswered_sent().collect()["estimated_cost_usd"], Decimal(0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_budget_holds_when_retried_faults_leave_bills_unknown(tmp_path, simulator_factory, seed):
    # the run: 40 % of responses dropped or truncated (each may have been billed: its quote counts),
    # 100 prompts x gpt-image-2 low/medium at concurrency 32, a $0.72 cap
    sim = simulator_factory(faults=FaultPlan(fault_rate=0.4, kinds=("drop", "truncated")), seed=seed)
    prompts = [{"id": f"p{i}", "text": f"A lighthouse at dusk, study {i}"} for i in range(100)]
    targets = [
        {"model": "gpt-image-2", "provider": "openai", "quality": ["low", "medium"], "size": "1024x1024"}
    ]
    budget = Decimal("0.72")
    path = write_spec(tmp_path, sim, prompts=prompts, targets=targets, concurrency=32, budget_usd=str(budget))
    run_dir = tmp_path / "run"
    summary = run_experiment(load_spec(path), progress=False, client=fast_retry_client(sim, run_dir))
    assert conservative_spend(run_dir) == summary.spent_total_usd <= budget
    assert summary.skipped_budget > 0 and summary.unknown_cost_attempts > 0
    # one count, derived from the other: the run's unknown bills are the targets' unknown bills
    assert summary.unknown_cost_attempts == sum(t["unknown_cost_attempts"] for t in summary.targets)
    saved = json.loads((run_dir / "summary.json").read_text())
    assert saved["unknown_cost_attempts"] == sum(t["unknown_cost_attempts"] for t in saved["targets"])
    assert len(api_requests(sim)) == log_frame(run_dir).height  # every request sent was logged


def test_an_unpriced_request_is_quoted_unknown_never_0_in_a_run_without_a_budget(tmp_path, simulator, capsys):
    # gpt-image-2.5-flare with quality and size auto: a range whose high end has no price, so no quote. Without
    # budget_usd nothing is held against a cap, and the $0 the budget holds for it is no price: the sent
    # record and the outcome record say null (unknown), never 0
    target = {"model": "gpt-image-2.5-flare", "provider": "openai", "quality": "auto", "size": "auto"}
    path = write_spec(tmp_path, simulator, targets=[target])
    assert main(["run", str(path), "--dry-run"]) == 0
    assert "no price for gpt-image-2.5-flare/openai/auto/auto" in capsys.readouterr().out  # the note
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.ok == 4 and summary.budget_usd is None
    run_dir = tmp_path / "run"
    journal = RequestLog(run_dir / "log.jsonl").scan(include_sent=True).collect()
    sent = journal.filter(pl.col("outcome") == "sent")
    assert sent.height == 4 and sent["estimated_cost_usd"].null_count() == 4
    answered = journal.filter(pl.col("outcome") == "ok")
    assert answered["estimated_cost_usd"].null_count() == 4
    assert answered["cost_method"].to_list() == ["tokens"] * 4  # the bill itself is known, from usage
    assert all(cost > 0 for cost in answered["actual_cost_usd"])
    # a request of it in flight when a session died: its possibly-billed quote is unknown, not $0
    line = next(
        json.loads(raw)
        for raw in (run_dir / "log.jsonl").read_text().splitlines()
        if '"outcome":"sent"' in raw
    )
    with (run_dir / "log.jsonl").open("a") as fh:
        fh.write(json.dumps({**line, "attempt": 7}, separators=(",", ":")) + "\n")
    resumed = run_experiment(load_spec(path), resume=True, progress=False)
    assert resumed.possibly_billed_attempts == 1 and resumed.possibly_billed_usd is None
    assert main(["run", str(path), "--resume"]) == 0
    assert "their quotes, unknown," in capsys.readouterr().out


@pytest.mark.parametrize(
    ("simulate", "hang_s"),
    [
        ({"time_scale": 0.005}, 2.0),  # 300 s x 0.005 = 1.5 s, at least 2 s
        ({"time_scale": 0.005, "hang_s": 0.4}, 0.4),
    ],
)
def test_a_timeout_fault_in_a_spec_follows_the_simulated_clock(tmp_path, simulate, hang_s):
    # every request gets a fault (spread over the kinds): seed 3 gives timeouts among the first 24 requests
    spec = {
        "name": "hang",
        "prompts": [{"id": f"p{i}", "text": f"a fox, study {i}"} for i in range(24)],
        "targets": [{"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"}],
        "concurrency": 24,
        "retries": {"max_attempts": 1},
        "seed": 3,
        "simulate": {**simulate, "fault_rate": 1.0},
        "output_dir": str(tmp_path / "run"),
    }
    summary = run_experiment(parse_spec(spec), progress=False)
    assert summary.ok == 0 and summary.failures.get("timeout", 0) >= 1
    hung = log_frame(tmp_path / "run").filter(pl.col("outcome") == "timeout")
    # a read timeout at the simulated clock's five minutes (or hang_s), not at the real 300 s
    assert hung["latency_ms"].min() >= hang_s * 1000 * 0.95
    assert hung["latency_ms"].max() < hang_s * 1000 + 5000
    assert hung["cost_method"].to_list() == ["unknown"] * hung.height  # a read timeout may have been billed


def test_a_second_resume_on_a_directory_in_use_sends_and_writes_nothing(tmp_path, simulator_factory):
    slow = Profile("openai", "gpt-image-2", LogNormal.constant(300), LogNormal.constant(20))
    sim = simulator_factory(time_scale=1.0, profiles=[slow])
    prompts = [{"id": f"p{i}", "text": f"a lighthouse, study {i}"} for i in range(200)]
    path = write_spec(tmp_path, sim, prompts=prompts, concurrency=2)  # 30 s of work: stopped long before
    run_dir = tmp_path / "run"
    first = imgkit_subprocess("run", str(path), "--no-progress")
    wait_for(lambda: log_lines(run_dir) >= 2, first)
    as_run = (run_dir / "spec.yaml").read_bytes()
    second = imgkit_subprocess("run", str(path), "--resume", "--no-progress")
    second_out, second_err = second.communicate(timeout=30)
    assert second.returncode == 2 and first.poll() is None, "the first run should still be running"
    assert (run_dir / "spec.yaml").read_bytes() == as_run  # the second wrote no run record
    first.send_signal(signal.SIGINT)  # the requests in flight finish and are logged
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130, err
    frame = log_frame(run_dir)
    assert len(api_requests(sim)) == frame.height < 200  # every request was the first run's, and logged
    assert set(frame["outcome"]) == {"ok"}
    assert len(yaml.safe_load((run_dir / "spec.yaml").read_text())["run"]["sessions"]) == 1
    assert "being written by another imgkit run" in second_err and second_out == ""


def test_kill_9_with_requests_in_flight_then_resume_counts_them_as_possibly_billed(
    tmp_path, simulator_factory, capsys
):
    slow = Profile("openai", "gpt-image-2", LogNormal.constant(400), LogNormal.constant(50))
    sim = simulator_factory(time_scale=1.0, profiles=[slow])
    prompts = [{"id": f"p{i}", "text": f"a lighthouse, study {i}"} for i in range(12)]
    path = write_spec(tmp_path, sim, prompts=prompts, concurrency=4, budget_usd="1.00")
    run_dir = tmp_path / "run"
    proc = imgkit_subprocess("run", str(path), "--no-progress")
    # kill while requests are in flight: some answered and logged, more sent than logged
    wait_for(lambda: log_lines(run_dir) >= 4 and len(api_requests(sim)) > log_lines(run_dir), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    log = RequestLog(run_dir / "log.jsonl")
    ok = log.scan().filter(pl.col("outcome") == "ok").collect()
    in_flight = log.unanswered_sent().collect()
    # every request that reached the provider without a logged outcome is known: it was announced first
    time.sleep(0.5)  # bytes the killed process had written still reach the server
    received = len(api_requests(sim))
    assert 0 <= received - ok.height <= in_flight.height <= 4 and in_flight.height >= 1
    quoted = sum(in_flight["estimated_cost_usd"], Decimal(0))
    billed = sum(ok["actual_cost_usd"], Decimal(0))
    assert quoted > 0 and not set(in_flight["item_id"]) & set(ok["item_id"])

    assert main(["run", str(path), "--resume", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert f"possibly billed: {in_flight.height} requests were in flight" in text
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["possibly_billed_attempts"] == in_flight.height
    assert Decimal(summary["possibly_billed_usd"]) == quoted
    assert Decimal(summary["spent_before_usd"]) == billed + quoted  # counted against the budget
    assert summary["skipped_finished"] == ok.height and summary["sent"] == 12 - ok.height
    assert summary["complete"] and ok_per_item(log_frame(run_dir)) == dict.fromkeys(
        ok_per_item(log_frame(run_dir)), 1
    )
    # the in-flight items were sent again; readers count attempts, never the sent records
    after = log.scan(include_sent=True).collect()
    attempts = after.filter(pl.col("outcome") != "sent")
    assert len(api_requests(sim)) == received + attempts.height - ok.height  # the resume's, all logged
    assert main(["perf", str(run_dir / "log.jsonl"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert (row["attempts"], row["requests"], row["successes"]) == (attempts.height, 12, 12)
    from imgkit.grids import make_grid

    assert make_grid(run_dir, html_page=False, out=tmp_path / "g.png").cells == 12


# --- crashes, resume, Ctrl-C ------------------------------------------------------------------------------------------


def test_kill_9_mid_run_then_resume_pays_every_item_exactly_once(tmp_path, simulator_factory):
    sim = simulator_factory(time_scale=0.004)  # about 70 ms per image
    prompts = [{"id": f"p{i}", "text": f"a lighthouse, study {i}"} for i in range(40)]
    path = write_spec(tmp_path, sim, prompts=prompts, concurrency=4)
    run_dir = tmp_path / "run"
    proc = imgkit_subprocess("run", str(path), "--no-progress")
    wait_for(lambda: log_lines(run_dir) >= 8, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    before = log_frame(run_dir)
    finished = set(before.filter(pl.col("outcome") == "ok")["item_id"])
    assert 8 <= len(finished) < 40
    sent_before = len(api_requests(sim))
    # requests answered but not logged can only be those in flight when the process died
    assert sent_before - len(finished) <= 4

    summary = run_experiment(load_spec(path), resume=True, progress=False)
    after = log_frame(run_dir)
    assert summary.skipped_finished == len(finished) and summary.sent == 40 - len(finished)
    assert len(api_requests(sim)) - sent_before == 40 - len(finished)  # finished items were not sent again
    assert ok_per_item(after) == dict.fromkeys(ok_per_item(after), 1) and len(ok_per_item(after)) == 40
    assert summary.complete and after["run_id"].n_unique() == 1


def test_ctrl_c_lets_requests_in_flight_finish_and_sends_no_more(tmp_path, simulator_factory):
    slow = Profile("openai", "gpt-image-2", LogNormal.constant(1500), LogNormal.constant(100))
    sim = simulator_factory(time_scale=1.0, profiles=[slow])
    path = write_spec(tmp_path, sim, concurrency=2)
    proc = imgkit_subprocess("run", str(path), "--grace", "20")
    wait_for(lambda: len(api_requests(sim)) == 2, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "--resume" in out
    frame = log_frame(tmp_path / "run")
    assert frame["outcome"].to_list() == ["ok", "ok"] and len(api_requests(sim)) == 2


def test_ctrl_c_cancels_hung_requests_after_the_grace_period_and_resume_sends_them_again(
    tmp_path, simulator_factory
):
    sim = simulator_factory(faults=FaultPlan(["ok", "ok", "timeout", "timeout"]))
    path = write_spec(tmp_path, sim, concurrency=2)
    run_dir = tmp_path / "run"
    proc = imgkit_subprocess("run", str(path), "--grace", "0.3", "--json")
    wait_for(lambda: log_lines(run_dir) == 2 and len(api_requests(sim)) == 4, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert (summary["ok"], summary["cancelled"], summary["interrupted"]) == (2, 2, True)
    frame = log_frame(run_dir)
    assert sorted(frame["outcome"].to_list()) == ["cancelled", "cancelled", "ok", "ok"]
    cancelled = frame.filter(pl.col("outcome") == "cancelled")
    assert cancelled["final"].all() and cancelled["actual_cost_usd"].is_null().all()
    # the bill of a cancelled request is unknown: its quote counts as spent
    assert Decimal(summary["spent_usd"]) == sum(frame["actual_cost_usd"].drop_nulls(), Decimal(0)) + sum(
        cancelled["estimated_cost_usd"], Decimal(0)
    )

    again = run_experiment(load_spec(path), resume=True, progress=False)
    assert (again.sent, again.ok, again.skipped_finished) == (2, 2, 2) and again.complete
    assert len(api_requests(sim)) == 6


# --- grids and non-retried failures -------------------------------------------------------------------------------


def test_a_grid_shows_failed_cells_and_resume_does_not_retry_policy_blocks(tmp_path, simulator_factory):
    sim = simulator_factory(faults=FaultPlan(per_model={"gpt-image-2.5-flare": ["moderation"] * 4}))
    targets = [
        {
            "model": "gpt-image-2",
            "provider": "openai",
            "quality": ["low", "medium"],
            "size": "1024x1024",
        },
        {"model": "gpt-image-2.5-flare", "provider": "openai", "quality": "low", "size": "1024x1024"},
    ]
    path = write_spec(tmp_path, sim, targets=targets)
    run_dir = tmp_path / "run"
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.failures == {"content_policy": 4} and summary.ok == 8 and not summary.complete
    assert main(["grid", str(run_dir), "--rows", "prompt", "--cols", "model,quality", "--json"]) == 0

    from imgkit.grids import make_grid

    grid = make_grid(run_dir, rows="prompt", cols="model,quality", out=tmp_path / "g.png")
    assert (grid.cells, grid.failed) == (12, 4)
    assert grid.provenance.startswith("figures: simulated (12 requests)")
    with Image.open(grid.png) as png:
        assert png.format == "PNG" and png.width > 3 * 64
    page = grid.html.read_text()
    assert page.count("FAILED: content_policy") == 4
    links = [part.split('"')[0] for part in page.split('<a href="')[1:]]
    assert len(links) == 8 and all((grid.html.parent / link).is_file() for link in links)
    assert "figures: simulated (12 requests)" in page

    sent = len(api_requests(sim))
    again = run_experiment(load_spec(path), resume=True, progress=False)
    assert again.not_retried == {"content_policy": 4} and again.sent == 0 and len(api_requests(sim)) == sent


# --- the example ---------------------------------------------------------------------------------------------------------


def test_the_example_spec_runs_offline_end_to_end(tmp_path, capsys):
    spec = load_spec(REPO / "examples" / "offline_tiers.yaml", output_dir=tmp_path / "run")
    assert spec.simulate and spec.simulator.url is None
    summary = run_experiment(spec, progress=False)
    assert summary.complete and summary.items == 20 and summary.simulated
    assert summary.spent_total_usd <= spec.budget_usd
    assert [row["target"] for row in summary.targets] == [
        "gpt-image-2/openai/low/1024x1024",
        "gpt-image-2/openai/medium/1024x1024",
        "gpt-image-2/openai/high/1024x1024",
        "gpt-image-2.5-flare/openai/low/1024x1024",
        "flux-1-schnell/fal/1024x1024",
    ]
    assert all(row["ok"] == row["images"] == 4 for row in summary.targets)
    frame = log_frame(tmp_path / "run")
    assert set(frame["provenance"]) == {"simulated"}
    assert frame.filter(pl.col("final"))["estimated_cost_usd"].null_count() == 0
    recorded = yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())
    assert [p["id"] for p in recorded["prompts"]] == ["fox", "lighthouse", "menu", "robot"]
    assert recorded["run"]["run_id"] == frame["run_id"][0]
    assert main(["grid", str(tmp_path / "run"), "--no-html"]) == 0
    assert "20 cells" in capsys.readouterr().out


def test_repeats_of_a_target_and_prompt_share_one_resolution_another_catalog_resolves_again(
    tmp_path, simulator
):
    from imgkit.catalog import load_catalog
    from imgkit.params import resolve
    from imgkit.runs.plan import plan_run, request_for

    spec = load_spec(write_spec(tmp_path, simulator, repeats=3))
    catalog = load_catalog()
    plan = plan_run(spec, catalog)
    items = list(spec.items())
    first = {}
    for item in items:
        resolved = plan.resolve(item, catalog)
        same = first.setdefault((item.target.label, item.prompt.id), resolved)
        assert resolved is same  # one object per (target, prompt), however many repeats
        assert resolved == resolve(request_for(spec, item.target, item.prompt.text, plan.images), catalog)
    assert len(first) < len(items)
    # another catalog argument (here None: the default one) is resolved against, not served from the cache
    assert plan.resolve(items[0], None) is not first[items[0].target.label, items[0].prompt.id]
