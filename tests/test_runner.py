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
from imgkit.errors import SpecError
from imgkit.pricing import count_prompt_tokens
from imgkit.runs.log import RequestLog
from imgkit.runs.runner import RunDirectoryError, run_experiment
from imgkit.runs.spec import load_spec
from imgkit.simulator import FaultPlan, LogNormal, Profile

REPO = Path(__file__).resolve().parents[1]
API_KINDS = ("generate", "edit", "fal_submit")
#: published prices (../shared/reference/PRICING.md): gpt-image-1-mini per image at 1024x1024, text input
MINI_LOW_1024_USD = Decimal("0.005")
MINI_TEXT_INPUT_PER_TOKEN_USD = Decimal("2.00") / 1_000_000


def write_spec(tmp_path: Path, sim, *, name: str = "t", **overrides) -> Path:
    """A spec file pointing every provider at the test's simulator (``simulate.url``)."""
    spec = {
        "name": name,
        "prompts": [{"id": f"p{i}", "text": f"A lighthouse at dusk, study {i}"} for i in range(4)],
        "targets": [
            {"model": "gpt-image-1-mini", "provider": "openai", "quality": "low", "size": "1024x1024"}
        ],
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
    path = run_dir / "log.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


# --- validation and dry runs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "key_path", "problem"),
    [
        ({"model": "gpt-image-1-mini", "quality": "ultra"}, "targets[0].quality", "quality='ultra'"),
        ({"model": "gpt-image-9"}, "targets[0].model", "gpt-image-9"),
        ({"model": "gpt-image-1-mini", "provider": "nowhere"}, "targets[0].provider", "nowhere"),
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
    prompts = [{"id": "short", "text": "a fox"}, {"id": "essay", "text": "word " * 2000}]
    path = write_spec(tmp_path, simulator, prompts=prompts, targets=[{"model": "dall-e-2"}])
    with pytest.raises(SpecError) as exc:
        run_experiment(load_spec(path), progress=False)
    assert exc.value.key_path == "prompts[1].text" and "dall-e-2" in exc.value.problem


def test_dry_run_quotes_every_target_and_sends_nothing(tmp_path, simulator, capsys):
    targets = [
        {"model": "gpt-image-1-mini", "provider": "openai", "quality": "low", "size": "1024x1024"},
        {"model": "flux-1-schnell", "provider": "fal", "size": "1024x1024", "n": 2},
    ]
    path = write_spec(tmp_path, simulator, targets=targets, repeats=2, budget_usd="0.05")
    assert main(["run", str(path), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert simulator.request_count == 0 and not (tmp_path / "run").exists()
    mini, flux = plan["targets"]
    assert (mini["items"], flux["items"]) == (8, 8)
    assert mini["resolved"]["body"]["quality"] == "low" and flux["resolved"]["body"]["num_images"] == 2
    # published: $0.005 per 1024x1024 low image plus the prompt's text tokens at $2.00 / 1M
    tokens = [count_prompt_tokens(f"A lighthouse at dusk, study {i}") for i in range(4)]
    expected_mini = sum(MINI_LOW_1024_USD + t * MINI_TEXT_INPUT_PER_TOKEN_USD for t in tokens) * 2
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
        {"model": "gpt-image-1-mini", "provider": "openai", "quality": ["low", "high"], "size": "1024x1024"},
        {"model": "gpt-image-1-mini", "provider": "lumenfall", "quality": "medium", "size": "1024x1536"},
        {"model": "gpt-image-1.5", "provider": "openai", "quality": "medium", "size": "1024x1024"},
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
    slow = Profile("openai", "gpt-image-1-mini", LogNormal.constant(1500), LogNormal.constant(100))
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
    sim = simulator_factory(faults=FaultPlan(per_model={"gpt-image-1.5": ["moderation"] * 4}))
    targets = [
        {
            "model": "gpt-image-1-mini",
            "provider": "openai",
            "quality": ["low", "medium"],
            "size": "1024x1024",
        },
        {"model": "gpt-image-1.5", "provider": "openai", "quality": "low", "size": "1024x1024"},
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
        "gpt-image-1-mini/openai/low/1024x1024",
        "gpt-image-1-mini/openai/medium/1024x1024",
        "gpt-image-1-mini/openai/high/1024x1024",
        "gpt-image-1.5/openai/low/1024x1024",
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
