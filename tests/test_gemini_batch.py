"""The Gemini API's Batch Mode against the simulator with the official google-genai SDK over loopback: inline
requests and an uploaded JSON Lines file, the batch polled to a terminal state, its results inline or in a
responses file, list, cancel, delete; the Files API's resumable upload; then imgkit runs a batched Gemini target
at half the interactive usage price."""

from __future__ import annotations

import base64
import json
import signal
import time
from collections import Counter
from decimal import Decimal

import polars as pl
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from imgkit.pricing import count_prompt_tokens
from imgkit.records.journal import RequestLog
from imgkit.runs.plan import plan_run
from imgkit.runs.runner import run_experiment
from imgkit.runs.spec import load_spec
from imgkit.simulator import FaultPlan
from tests.test_batch_runs import FAST_POLLS, assert_images_match, ledger_kinds, prompts, write_spec
from tests.test_runner import imgkit_subprocess, wait_for

KEY = "gemini-sdk-test-key-0001"
MODEL = "gemini-3.1-flash-image"
#: Gemini 3.1 Flash Image at the Gemini API (the catalog's GEMINI-PRICING-QUOTED / VERTEX-31FI-A, MARKET.md):
#: $0.50 / 1M text input tokens, $60 / 1M image output tokens, 1,120 output tokens at 1K; Batch Mode halves
#: every rate (Google's Batch Mode announcement, 2025-07-07)
TEXT_IN_PER_TOKEN = Decimal("0.50") / 1_000_000
IMAGE_OUT_PER_TOKEN = Decimal("60") / 1_000_000
TOKENS_1K = 1120
TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


def gemini(sim) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=sim.gemini_base_url))


def request(i: int) -> dict:
    return {
        "contents": [{"parts": [{"text": f"A lighthouse at dusk, study {i}"}], "role": "user"}],
        "config": {"response_modalities": ["IMAGE"], "image_config": {"aspect_ratio": "1:1"}},
    }


def wait(client: genai.Client, name: str) -> types.BatchJob:
    deadline = time.monotonic() + 20
    while True:
        job = client.batches.get(name=name)
        if job.state.name in TERMINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def image_of(response: types.GenerateContentResponse) -> bytes:
    (part,) = response.candidates[0].content.parts
    return part.inline_data.data


def test_inline_requests_through_the_official_sdk(simulator):
    client = gemini(simulator)
    job = client.batches.create(
        model=MODEL,
        src=[{**request(i), "metadata": {"key": f"item-{i}"}} for i in range(3)],
        config={"display_name": "imgkit-inline"},
    )
    assert job.name.startswith("batches/") and job.display_name == "imgkit-inline"
    assert job.state.name in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
    done = wait(client, job.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED" and done.end_time is not None
    responses = done.dest.inlined_responses
    assert [r.metadata for r in responses] == [{"key": f"item-{i}"} for i in range(3)]  # input order
    for r in responses:
        assert image_of(r.response).startswith(b"\x89PNG")
        usage = r.response.usage_metadata
        assert usage.candidates_token_count == TOKENS_1K
    listed = list(client.batches.list(config={"page_size": 1}))
    assert [b.name for b in listed] == [job.name]


def test_a_file_uploaded_then_a_responses_file(simulator, tmp_path):
    client = gemini(simulator)
    path = tmp_path / "requests.jsonl"
    lines = [
        {
            "key": f"k{i}",
            "request": {
                "contents": [{"parts": [{"text": f"A lighthouse, study {i}"}]}],
                "generationConfig": {"responseModalities": ["IMAGE"]},
            },
        }
        for i in range(4)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    uploaded = client.files.upload(
        file=str(path), config={"display_name": "imgkit-file", "mime_type": "application/jsonl"}
    )
    assert uploaded.name.startswith("files/") and uploaded.size_bytes == path.stat().st_size
    assert [f.display_name for f in client.files.list()] == ["imgkit-file"]
    job = client.batches.create(model=MODEL, src=uploaded.name)
    done = wait(client, job.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED" and done.dest.file_name.startswith("files/")
    content = client.files.download(file=done.dest.file_name).decode().splitlines()
    answers = [json.loads(line) for line in content]
    assert [a["key"] for a in answers] == ["k0", "k1", "k2", "k3"]
    for a in answers:
        part = a["response"]["candidates"][0]["content"]["parts"][0]
        assert base64.b64decode(part["inlineData"]["data"]).startswith(b"\x89PNG")


def test_cancel_and_delete(simulator_factory):
    sim = simulator_factory(time_scale=1.0)  # the batch stays pending long enough to be cancelled
    client = gemini(sim)
    job = client.batches.create(model=MODEL, src=[request(0), request(1)])
    client.batches.cancel(name=job.name)
    assert client.batches.get(name=job.name).state.name == "JOB_STATE_RUNNING"  # cancelling
    sim.gemini_batches.batches[job.name.removeprefix("batches/")].cancel_mono = time.monotonic() - 60
    done = client.batches.get(name=job.name)
    assert done.state.name == "JOB_STATE_CANCELLED"
    assert [r.error.code for r in done.dest.inlined_responses] == [499, 499]
    client.batches.delete(name=job.name)
    with pytest.raises(genai_errors.ClientError) as exc:
        client.batches.get(name=job.name)
    assert exc.value.code == 404


def test_failed_lines_and_a_failed_batch(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["server_error"], batches=["ok", "failed"]))
    client = gemini(sim)
    done = wait(client, client.batches.create(model=MODEL, src=[request(0), request(1)]).name)
    first, second = done.dest.inlined_responses
    assert first.error.code == 500 and first.response is None
    assert image_of(second.response).startswith(b"\x89PNG")
    failed = wait(client, client.batches.create(model=MODEL, src=[request(2)]).name)
    assert failed.state.name == "JOB_STATE_FAILED"


def test_a_key_is_required(simulator):
    import httpx

    resp = httpx.get(f"{simulator.gemini_base_url}/v1beta/batches")
    assert resp.status_code == 403 and resp.json()["error"]["status"] == "PERMISSION_DENIED"
    ok = httpx.get(f"{simulator.gemini_base_url}/v1beta/batches", headers={"x-goog-api-key": KEY})
    assert ok.status_code == 200 and ok.json() == {"operations": []}


# --- imgkit's batched Gemini runs ---------------------------------------------------------------------------


def gemini_target() -> dict:
    return {"model": MODEL, "provider": "gemini-api", "size": "1024x1024"}


def test_a_batched_gemini_target_runs_at_half_the_interactive_usage_price(tmp_path, simulator):
    path = write_spec(tmp_path, simulator, n=6, targets=[gemini_target()])
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.complete and summary.batches_created == 1
    frame = RequestLog(tmp_path / "run" / "log.jsonl").scan().collect()
    assert frame.height == 6 and frame["batch_id"].n_unique() == 1
    assert frame["batch_id"][0].startswith("batches/")
    for row in frame.iter_rows(named=True):
        assert row["output_image_tokens"] == TOKENS_1K
        full = row["input_text_tokens"] * TEXT_IN_PER_TOKEN + row["output_image_tokens"] * IMAGE_OUT_PER_TOKEN
        assert row["input_text_tokens"] == count_prompt_tokens(prompts(6)[int(row["prompt_id"][1:])]["text"])
        assert row["actual_cost_usd"] == full / 2
    assert_images_match(tmp_path / "run", frame)
    # each item's reservation covers its usage bill (the per-image price $0.067 / 2 is below the token math)
    spec = load_spec(path)
    plan = plan_run(spec)
    bills = dict(zip(frame["item_id"], frame["actual_cost_usd"], strict=True))
    assert all(bills[i.item_id] <= plan.quote_for(i) for i in spec.items())
    # the simulator holds one batch, from one uploaded file, naming each item once
    (batch,) = simulator.gemini_batches.batches.values()
    assert sorted(batch.custom_ids) == sorted(frame["item_id"].to_list())
    client = gemini(simulator)
    (job,) = client.batches.list()
    assert job.state.name == "JOB_STATE_SUCCEEDED" and job.display_name.startswith("imgkit ")


def test_a_mixed_spec_groups_by_provider(tmp_path, simulator, capsys):
    from imgkit.cli import main

    targets = [
        {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"},
        gemini_target(),
    ]
    path = write_spec(tmp_path, simulator, n=3, targets=targets, batch={**FAST_POLLS, "max_requests": 2})
    assert main(["run", str(path), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [(b["provider"], b["items"]) for b in plan["batches"]] == [
        ("openai", 2),
        ("gemini-api", 2),
        ("openai", 1),
        ("gemini-api", 1),
    ]
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.complete and summary.batches_created == 4


def test_kill_9_while_the_gemini_batch_runs_then_resume_pays_every_item_once_at_half_price(
    tmp_path, simulator_factory
):
    sim = simulator_factory(time_scale=0.03)  # pending ~1 s, then ~2 s running
    path = write_spec(tmp_path, sim, n=40, targets=[gemini_target()])
    run_dir = tmp_path / "run"
    proc = imgkit_subprocess("run", str(path), "--no-progress")
    running = sim.gemini_batches.batches
    wait_for(
        lambda: (
            "created" in ledger_kinds(run_dir) and any(b.status == "in_progress" for b in running.values())
        ),
        proc,
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(running) == 1 and not (run_dir / "log.jsonl").read_text().strip()

    summary = run_experiment(load_spec(path), resume=True, progress=False)
    assert (summary.batches_created, summary.batches_reattached, summary.sent, summary.ok) == (0, 1, 40, 40)
    frame = RequestLog(run_dir / "log.jsonl").scan().collect()
    assert Counter(frame["item_id"]) == dict.fromkeys(frame["item_id"], 1) and frame.height == 40
    for row in frame.iter_rows(named=True):
        full = row["input_text_tokens"] * TEXT_IN_PER_TOKEN + row["output_image_tokens"] * IMAGE_OUT_PER_TOKEN
        assert row["actual_cost_usd"] == full / 2
    assert_images_match(run_dir, frame)
    (batch,) = running.values()  # the simulator holds each item in exactly one batch
    assert Counter(batch.custom_ids) == dict.fromkeys(frame["item_id"], 1)
    kinds = [r.kind for r in sim.requests]
    assert (kinds.count("file_upload"), kinds.count("batch_create")) == (1, 1)
    again = run_experiment(load_spec(path), resume=True, progress=False)
    assert (again.sent, again.skipped_finished, len(running)) == (0, 40, 1)


def test_an_expired_gemini_batch_rebatches_what_never_ran(tmp_path, simulator_factory):
    sim = simulator_factory(faults=FaultPlan(batches=["expired"]))
    path = write_spec(tmp_path, sim, n=6, targets=[gemini_target()])
    summary = run_experiment(load_spec(path), progress=False)
    assert summary.complete and summary.batches_created == 2
    frame = RequestLog(tmp_path / "run" / "log.jsonl").scan().collect()
    expired = frame.filter(pl.col("outcome") == "expired")
    assert expired.height == 3 and (expired["actual_cost_usd"] == 0).all() and not expired["final"].any()
    assert frame.filter(pl.col("outcome") == "ok").height == 6
