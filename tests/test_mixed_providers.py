"""One experiment across providers that speak five different protocols, offline: the example spec resolved and
quoted (``--dry-run``), run against the in-process simulator, drawn into a grid and voted on; and
``imgkit simulate serve --json``, whose base URLs are exactly what each official SDK takes.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import fal_client
import fal_client.client
import httpx
import openai
import pytest
import replicate
import together
from google import genai

from imgkit.analysis.ratings import read_votes
from imgkit.cli import main
from imgkit.records.journal import RequestLog
from imgkit.runs.runner import run_experiment
from imgkit.runs.spec import load_spec
from imgkit.votes import VoteServer, VoteStore, contenders, plan_pairs
from tests.protocol_client import decoded

REPO = Path(__file__).resolve().parents[1]
IMGKIT = Path(sys.executable).with_name("imgkit")  # the console script, as a user runs it
EXAMPLE = REPO / "examples" / "offline_providers.yaml"
TARGETS = [
    "gpt-image-2/openai/low/1024x1024",
    "gemini-3.1-flash-image/gemini-api/1024x1024",
    "flux-2-pro/bfl/1024x1024",
    "flux-1-schnell/replicate/1024x1024",
    "seedream-4.5/fal/2048x2048",
]


def test_dry_run_resolves_and_quotes_every_target_and_sends_nothing(capsys):
    assert main(["run", str(EXAMPLE), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [t["target"] for t in plan["targets"]] == TARGETS
    assert plan["simulated"] and not plan["unpriced_targets"] and plan["within_budget"]
    by_provider = {t["provider"]: t for t in plan["targets"]}
    assert (
        by_provider["gemini-api"]["resolved"]["endpoint"] == "models/gemini-3.1-flash-image:generateContent"
    )
    assert by_provider["bfl"]["resolved"]["endpoint"] == "/v1/flux-2-pro"
    assert by_provider["replicate"]["resolved"]["body"]["input"]["aspect_ratio"] == "1:1"
    # BFL does not publish how it rounds megapixels: its quote is a range, the budget holds its high end
    assert by_provider["bfl"]["quote_is_range"] and by_provider["openai"]["quote_is_range"] is False


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> tuple[Path, object]:
    run_dir = tmp_path_factory.mktemp("mixed") / "run"
    spec = load_spec(EXAMPLE, output_dir=run_dir)
    return run_dir, run_experiment(spec, progress=False)


def test_the_mixed_example_runs_offline_with_each_providers_own_bill(mixed_run):
    run_dir, summary = mixed_run
    assert summary.complete and summary.simulated and summary.items == 20
    assert [row["target"] for row in summary.targets] == TARGETS
    assert all(row["ok"] == row["images"] == 4 for row in summary.targets)
    records = RequestLog(run_dir / "log.jsonl").scan().collect()
    final = records.filter(records["final"])
    methods = dict(zip(final["provider"], final["cost_method"], strict=True))
    assert methods == {
        "openai": "tokens",
        "gemini-api": "tokens",  # usageMetadata
        "bfl": "provider_charge",  # the task's cost in credits
        "replicate": "per_image_table",
        "fal": "per_image_table",
    }
    assert set(records["provenance"]) == {"simulated"}
    assert final["actual_cost_usd"].null_count() == 0
    assert summary.spent_total_usd == sum(final["actual_cost_usd"])


def test_the_mixed_run_draws_a_grid_and_takes_blind_votes(mixed_run, capsys):
    run_dir, _ = mixed_run
    assert main(["grid", str(run_dir), "--rows", "prompt", "--cols", "model,provider", "--no-html"]) == 0
    assert "20 cells" in capsys.readouterr().out
    assert main(["vote", str(run_dir), "--plan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"] == 4 * 10  # 4 prompts x C(5, 2) targets
    pairs = plan_pairs(contenders(run_dir), seed=0)
    votes = run_dir / "votes.csv"
    with VoteServer(pairs[:6], VoteStore(votes), voter="tester") as server, httpx.Client() as http:
        for pair in pairs[:6]:
            image_a, image_b = server.shown(pair)
            answer = {"pair_id": pair.pair_id, "choice": "a", "image_a": image_a, "image_b": image_b}
            assert http.post(f"{server.url}vote", data=answer).status_code in (200, 303)
    recorded = read_votes(votes)
    assert recorded.height == 6
    providers = {t.split("/")[1] for t in [*recorded["model_a"], *recorded["model_b"]]}
    assert providers <= {"openai", "gemini-api", "bfl", "replicate", "fal"} and len(providers) >= 3


# --- imgkit simulate serve --json: the base URL each official SDK takes ----------------------------------------


@pytest.fixture(scope="module")
def served():
    proc = subprocess.Popen(
        [IMGKIT, *"simulate serve --port 0 --time-scale 0 --no-failures --json".split()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = [proc.stdout.readline()]
    while lines[-1] not in ("}\n", ""):  # one JSON object, indented
        lines.append(proc.stdout.readline())
    if not lines[-1]:
        proc.wait(timeout=30)
        pytest.fail(f"imgkit simulate serve ended: {proc.stderr.read()[-2000:]}")
    try:
        yield json.loads("".join(lines))
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)


def test_serve_json_prints_every_base_url(served):
    root = served["openai_base_url"].removesuffix("/v1")
    assert {k: v.removeprefix(root) for k, v in served.items() if k.endswith("_url")} == {
        "openai_base_url": "/v1",
        "gateway_base_url": "/lumenfall/v1",
        "fal_base_url": "/fal",
        "fal_run_url": "/fal-run",
        "gemini_base_url": "/gemini",
        "replicate_base_url": "/replicate",
        "together_base_url": "/together",
        "bfl_base_url": "/bfl",
    }


def test_each_official_sdk_takes_its_printed_url_as_is(served, monkeypatch):
    gemini = genai.Client(api_key="g-test-key-0001", http_options={"base_url": served["gemini_base_url"]})
    g = gemini.models.generate_content(model="gemini-3.1-flash-image", contents="a kite")
    assert decoded(g.candidates[0].content.parts[0].inline_data.data).format == "PNG"

    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")
    r = replicate.Client(api_token="r8_test_key_0001", base_url=served["replicate_base_url"])
    assert decoded(r.run("black-forest-labs/flux-schnell", input={"prompt": "a kite"})[0].read()).size == (
        1024,
        1024,
    )

    t = together.Together(api_key="t-test-key-0001", base_url=served["together_base_url"])
    item = t.images.generate(
        model="black-forest-labs/FLUX.1-schnell", prompt="a kite", response_format="base64"
    )
    assert decoded(base64.b64decode(item.data[0].b64_json)).format == "JPEG"

    o = openai.OpenAI(api_key="sk-test-key-0001", base_url=served["openai_base_url"])
    assert decoded(base64.b64decode(o.images.generate(model="gpt-image-2", prompt="a kite").data[0].b64_json))

    monkeypatch.setattr(
        fal_client.client, "QUEUE_URL_FORMAT", served["fal_base_url"] + "/"
    )  # https only: see README
    f = fal_client.SyncClient(key="fal-test:key0001").subscribe(
        "fal-ai/flux-2-pro", {"prompt": "a kite"}, interval=0.01
    )
    assert decoded(httpx.get(f["images"][0]["url"]).content).size == (1024, 768)

    bfl = httpx.post(
        f"{served['bfl_base_url']}/v1/flux-2-pro", json={"prompt": "a kite"}, headers={"x-key": "k0001"}
    )
    result = httpx.get(bfl.json()["polling_url"], headers={"x-key": "k0001"}).json()
    assert result["status"] == "Ready" and decoded(httpx.get(result["result"]["sample"]).content)
