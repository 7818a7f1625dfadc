"""Blind pairwise votes on a run's images, over real loopback HTTP: the page names no target, every answer
is one synced CSV row that ``imgkit ratings`` reads, and a new session resumes where the voter stopped."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
import socket
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from PIL import Image

from imgkit.analysis.ratings import fit_bradley_terry, read_votes
from imgkit.cli import main
from imgkit.errors import InvalidParameterError
from imgkit.runs.runner import run_experiment
from imgkit.runs.spec import load_spec
from imgkit.votes import VOTE_COLUMNS, VoteServer, VoteStore, contenders, plan_pairs

TARGETS = [
    {"model": "gpt-image-2", "provider": "openai", "quality": ["low", "high"], "size": "1024x1024"},
    {"model": "flux-1-schnell", "provider": "fal", "size": "1024x1024"},
]
OPTIONS = [  # the target labels of the run
    "flux-1-schnell/fal/1024x1024",
    "gpt-image-2/openai/high/1024x1024",
    "gpt-image-2/openai/low/1024x1024",
]
CLI = "import sys; from imgkit.cli import main; sys.exit(main())"
PROMPTS = [
    {"id": f"p{i}", "text": f"A lighthouse at dusk, study {i}", "category": "scenes"} for i in range(4)
]


def make_run(folder: Path, simulator_url: str, targets=TARGETS, prompts=PROMPTS) -> Path:
    """Run ``targets`` x ``prompts`` (one image each) against the loopback simulator; the run directory."""
    spec = {
        "name": "vote-test",
        "prompts": prompts,
        "targets": targets,
        "concurrency": 4,
        "simulate": {"url": simulator_url},
        "output_dir": "run",
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    run_experiment(load_spec(path), progress=False)
    return folder / "run"


def vote_form(page: str, choice: str) -> dict[str, str]:
    """The vote form of a served page (its pair and the image ids it shows), answered with ``choice``."""
    return {**dict(re.findall(r"name='(\w+)' value='([^']*)'", page.split("<form", 1)[1])), "choice": choice}


@pytest.fixture
def run_dir(tmp_path: Path, simulator) -> Path:
    """A finished run: 4 prompts x 3 targets, one image each, from the loopback simulator."""
    return make_run(tmp_path, simulator.url)


def test_pairs_are_every_two_targets_on_the_same_prompt_and_sides_are_drawn(run_dir):
    found = contenders(run_dir)
    assert sorted({c.option for c in found}) == OPTIONS and len(found) == 12
    pairs = plan_pairs(found, seed=1)
    assert len(pairs) == 4 * 3  # C(3, 2) pairs for each of 4 prompts
    assert all(p.a.prompt_id == p.b.prompt_id and p.a.option != p.b.option for p in pairs)
    per_prompt = {
        pid: {frozenset((p.a.option, p.b.option)) for p in pairs if p.a.prompt_id == pid}
        for pid in "p0 p1 p2 p3".split()
    }
    assert all(v == {frozenset(x) for x in itertools.combinations(OPTIONS, 2)} for v in per_prompt.values())
    assert {p.a.option for p in pairs} == set(OPTIONS)  # each target is shown as A somewhere
    assert [p.pair_id for p in plan_pairs(found, seed=1)] == [p.pair_id for p in pairs]  # seeded
    assert [p.pair_id for p in plan_pairs(found, seed=2)] != [p.pair_id for p in pairs]
    assert pairs[0].a.prompt.startswith("A lighthouse at dusk, study")
    skipped = plan_pairs(found, seed=1, skip=[pairs[0].pair_id], limit=5)
    assert len(skipped) == 5 and pairs[0].pair_id not in {p.pair_id for p in skipped}


def test_the_page_names_no_target_and_serves_each_image_under_the_hash_of_its_bytes(run_dir, tmp_path):
    pairs = plan_pairs(contenders(run_dir))
    with VoteServer(pairs, VoteStore(tmp_path / "votes.csv"), voter="ana") as server:
        assert server.host == "127.0.0.1"
        page = httpx.get(server.url).text
        first = pairs[0]
        assert first.a.prompt in page and "0 of 12 pairs answered" in page
        named = [
            *OPTIONS,
            "gpt-image-2",
            "flux-1-schnell",
            "openai",
            "fal",
            "high",
            "low",
            "png",
            "jpeg",
        ]
        for word in [*named, first.a.image.stem[:12], first.b.image.stem[:12]]:
            assert not re.search(rf"\b{re.escape(word)}\b", page, flags=re.I), word
        form = vote_form(page, "a")
        assert form["pair_id"] == first.pair_id and (form["image_a"], form["image_b"]) == server.shown(first)
        for side in ("image_a", "image_b"):
            response = httpx.get(f"{server.url}image/{form[side]}.jpg")
            assert response.headers["content-type"] == "image/jpeg"  # png, or fal's jpeg: both shown alike
            assert hashlib.sha256(response.content).hexdigest()[:32] == form[side]  # content-addressed
            assert "immutable" in response.headers["cache-control"]
        assert httpx.get(f"{server.url}image/{'0' * 32}.jpg").status_code == 404
        assert httpx.get(f"{server.url}image/{first.pair_id}/a").status_code == 404


def test_each_answer_is_one_csv_row_that_imgkit_ratings_reads(run_dir, tmp_path):
    votes = tmp_path / "votes.csv"
    pairs = plan_pairs(contenders(run_dir))
    preferred = {"gpt-image-2/openai/high/1024x1024": 2, "gpt-image-2/openai/low/1024x1024": 1}
    with (
        VoteServer(pairs, VoteStore(votes), voter="ana") as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for _ in pairs:  # a voter who prefers high over low over flux, and says so through the form
            form = vote_form(client.get("/").text, "")
            pair = server.pairs[form["pair_id"]]
            a, b = preferred.get(pair.a.option, 0), preferred.get(pair.b.option, 0)
            response = client.post("/vote", data={**form, "choice": "a" if a > b else "b"})
            assert response.status_code == 303 and response.headers["location"] == "/"
        assert "Every pair is answered" in client.get("/").text
    with votes.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == VOTE_COLUMNS and len(rows) == 12
    assert {r["voter"] for r in rows} == {"ana"} and {r["category"] for r in rows} == {"scenes"}
    first = rows[0]
    shown = server.pairs[first["pair_id"]]
    assert (first["model_a"], first["model_b"]) == (shown.a.option, shown.b.option)
    result = fit_bradley_terry(read_votes(votes), bootstrap=50)
    assert result.table.sort("rating", descending=True)["model"].to_list() == [
        "gpt-image-2/openai/high/1024x1024",
        "gpt-image-2/openai/low/1024x1024",
        "flux-1-schnell/fal/1024x1024",
    ]


def test_bad_answers_are_refused_and_repeated_or_stale_ones_record_nothing(run_dir, tmp_path):
    pairs = plan_pairs(contenders(run_dir))
    votes = tmp_path / "votes.csv"
    with (
        VoteServer(pairs, VoteStore(votes), voter="ana") as server,
        httpx.Client(base_url=server.url) as client,
    ):
        form = vote_form(client.get("/").text, "left")
        bad = client.post("/vote", data=form)
        assert bad.status_code == 400 and "choice='left'" in bad.text and "bothbad" in bad.text
        assert "<a href='/'>Back to the vote</a>" in bad.text
        assert client.post("/vote", data={**form, "choice": "tie"}).status_code == 303
        for stale in (  # another tab, a page from another session, images this pair was not shown with
            {**form, "choice": "a"},
            {**form, "pair_id": "nope", "choice": "a"},
            {**vote_form(client.get("/").text, "a"), "image_a": "0" * 32},
            {"pair_id": pairs[1].pair_id, "choice": "a"},
        ):
            response = client.post("/vote", data=stale)
            notice = "answered" if stale["pair_id"] == form["pair_id"] else "stale"
            assert response.status_code == 303 and response.headers["location"] == f"/?notice={notice}"
        assert "already answered" in client.get("/?notice=answered").text
        with socket.create_connection((server.host, server.port)) as raw:  # httpx refuses to send it
            raw.sendall(b"POST /vote HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nx")
            assert raw.recv(100).startswith(b"HTTP/1.0 400 ")
    assert len(votes.read_text().splitlines()) == 2  # the header and the one accepted answer
    with pytest.raises(InvalidParameterError, match=re.escape("host='0.0.0.0'")):
        VoteServer(pairs, VoteStore(votes), host="0.0.0.0")


def test_a_new_session_skips_what_this_voter_answered_but_not_what_others_did(run_dir, tmp_path):
    votes = tmp_path / "votes.csv"
    pairs = plan_pairs(contenders(run_dir))
    with VoteServer(pairs, VoteStore(votes), voter="ana") as server:
        for pair in pairs[:5]:
            assert server.answer(pair.pair_id, "bothbad") == "recorded"
    again = VoteServer(pairs, VoteStore(votes), voter="ana")
    other = VoteServer(pairs, VoteStore(votes), voter="ben")
    try:
        assert again.progress() == (5, 12) and again.next_pair() == pairs[5]
        assert other.progress() == (0, 12)
    finally:
        again.stop()
        other.stop()
    assert read_votes(votes)["winner"].unique().to_list() == ["tie (bothbad)"]


def test_a_votes_file_of_another_shape_is_refused(tmp_path):
    other = tmp_path / "votes.csv"
    other.write_text("model_a,model_b,winner\nx,y,model_a\n")
    with pytest.raises(InvalidParameterError, match="votes file"):
        VoteStore(other)


def test_cli_plan_counts_pairs_and_answers(run_dir, capsys):
    assert main(["vote", str(run_dir), "--plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["pairs"] == 12 and plan["answered"] == 0 and plan["targets"] == OPTIONS
    assert plan["prompts"] == 4 and plan["votes"] == str(run_dir / "votes.csv")
    assert main(["vote", str(run_dir), "--plan", "--max-pairs", "5"]) == 0
    assert capsys.readouterr().out.startswith("5 pairs over 4 prompts and 3 targets; 0 answered by anonymous")


def test_cli_serves_until_interrupted_and_says_how_to_rate_the_votes(run_dir):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "vote", str(run_dir), "--voter", "cli"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = proc.stdout.readline()
        url = first_line.split()[1]
        assert first_line.startswith("open http://127.0.0.1:") and "0 of 12 pairs answered" in first_line
        form = vote_form(httpx.get(url).text, "a")
        assert httpx.post(f"{url}vote", data=form).status_code == 303
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "1 votes this session, 1 of 12 pairs answered" in err
    assert f"imgkit ratings {run_dir / 'votes.csv'}" in err
    assert read_votes(run_dir / "votes.csv")["voter"].to_list() == ["cli"]


def test_a_runs_frontier_joins_its_own_votes_costs_and_times_target_by_target(run_dir, capsys):
    from imgkit.analysis.frontier import run_targets
    from imgkit.analysis.performance import performance_table
    from imgkit.records.scan import scan_log

    assert main(["frontier", "--run", str(run_dir)]) == 2  # no votes yet: one line, exit status 2
    assert "votes.csv: none yet; imgkit vote" in capsys.readouterr().err
    store = VoteStore(run_dir / "votes.csv")
    rank = {option: i for i, option in enumerate(OPTIONS)}  # flux < high < low: any order will do
    for voter in ("ana", "ben"):
        for pair in plan_pairs(contenders(run_dir)):
            store.append(pair, "a" if rank[pair.a.option] > rank[pair.b.option] else "b", voter)
    assert main(["frontier", "--run", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    options = {o["option"]: o for o in result["options"]}
    assert sorted(options) == OPTIONS
    logged = performance_table(scan_log(run_dir / "log.jsonl"), by="target")
    for row in logged.iter_rows(named=True):
        option = options[row["target"]]
        assert Decimal(option["cost_usd"]) == row["cost_per_image_usd"]  # exact money, as logged
        assert option["p50_ms"] == pytest.approx(row["latency_p50_ms"])
        assert (option["rating_provenance"], option["cost_provenance"]) == ("measured", "simulated")
    ratings = sorted(options.values(), key=lambda o: o["rating"])
    assert [o["option"] for o in ratings] == OPTIONS  # the votes' order
    assert run_targets(run_dir)["model"].sort().to_list() == OPTIONS
    assert "cost: simulated, run/log.jsonl" in result["caption"]


@pytest.mark.slow
def test_the_quality_cost_speed_report_runs_on_a_judged_run(run_dir, tmp_path, capsys):
    import nbformat

    store = VoteStore(run_dir / "votes.csv")
    rank = {option: i for i, option in enumerate(OPTIONS)}
    for pair in plan_pairs(contenders(run_dir)):
        store.append(pair, "a" if rank[pair.a.option] > rank[pair.b.option] else "b", "ana")
    out = tmp_path / "reports"
    argv = ["report", "elo_vs_speed", "-p", "run_dir", str(run_dir), "--out", str(out), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    (folder,) = (out / "elo_vs_speed").iterdir()
    executed = nbformat.read(folder / "elo_vs_speed.ipynb", as_version=4)
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for cell in executed.cells
        for o in cell.get("outputs", [])
    )
    # the votes preferred low over high over flux: the conclusion recommends the run's own best target
    assert "Recommended: gpt-image-2/openai/low/1024x1024: highest rating" in text
    assert "rating: measured" in text and "cost: simulated" in text and "run/log.jsonl" in text


def test_skip_records_nothing_and_puts_the_pair_after_the_others(run_dir, tmp_path):
    votes = tmp_path / "votes.csv"
    pairs = plan_pairs(contenders(run_dir))
    with VoteServer(pairs, VoteStore(votes), voter="ana") as server:
        first = server.next_pair()
        assert (
            httpx.post(f"{server.url}vote", data=vote_form(httpx.get(server.url).text, "skip")).status_code
            == 303
        )
        assert server.next_pair() == pairs[1] and server.order[-1] == first.pair_id
        assert server.progress() == (0, 12) and not votes.exists()
        assert "Skip for now" in httpx.get(server.url).text


def test_edits_are_judged_beside_the_image_they_were_edited_from(tmp_path, simulator):
    Image.new("RGB", (64, 48), (200, 100, 50)).save(tmp_path / "room.png")
    spec = {
        "name": "edits",
        "prompts": [{"id": "sofa", "text": "Add a green sofa by the window"}],
        "input_images": {"room": "room.png"},
        "targets": [
            {"model": m, "provider": "openai", "mode": "edit", "images": ["room"], "quality": "low"}
            for m in ("gpt-image-2.5-flare", "gpt-image-2")
        ],
        "simulate": {"url": simulator.url},
        "output_dir": "run",
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    run_experiment(load_spec(path), progress=False)
    (pair,) = plan_pairs(contenders(tmp_path / "run"))
    copied = tmp_path / "run" / "inputs" / "room.png"
    assert pair.a.inputs == pair.b.inputs == (copied,)
    with VoteServer([pair], VoteStore(tmp_path / "votes.csv")) as server:
        page = httpx.get(server.url).text
        (thumb,) = re.findall(r"edited from: <img class='input' src='/image/(\w+)\.jpg'", page)
        shown = Image.open(io.BytesIO(httpx.get(f"{server.url}image/{thumb}.jpg").content))
        assert shown.size == (64, 48)  # small inputs are not enlarged
        original = np.asarray(Image.open(copied), dtype=float)
        assert np.abs(np.asarray(shown, dtype=float) - original).mean() < 2  # the input, re-encoded


def test_a_generation_run_shows_no_input_row(run_dir, tmp_path):
    pairs = plan_pairs(contenders(run_dir))
    assert all(not p.a.inputs and not p.b.inputs for p in pairs)
    with VoteServer(pairs, VoteStore(tmp_path / "votes.csv")) as server:
        assert "edited from" not in httpx.get(server.url).text


def test_simulated_targets_draw_different_pictures_of_a_prompt_the_same_way_every_time(
    run_dir, tmp_path, simulator_factory
):
    """An offline demo compares different pictures: each target's image of a prompt differs from the
    others' (model, provider, quality), and a run against another simulator with the same seed draws the
    very same files."""
    found = contenders(run_dir)
    for prompt_id in {c.prompt_id for c in found}:
        pixels = {
            c.option: np.asarray(Image.open(c.image).convert("RGB"), dtype=float)
            for c in found
            if c.prompt_id == prompt_id
        }
        assert sorted(pixels) == OPTIONS
        for one, other in itertools.combinations(OPTIONS, 2):
            differing = (np.abs(pixels[one] - pixels[other]).max(axis=2) > 40).mean()
            assert differing > 0.05, (prompt_id, one, other, differing)  # whole blocks, not noise
    (tmp_path / "again").mkdir()
    again = make_run(tmp_path / "again", simulator_factory(seed=0).url)
    files = {(c.option, c.prompt_id): c.image.read_bytes() for c in found}
    assert {(d.option, d.prompt_id): d.image.read_bytes() for d in contenders(again)} == files


def test_a_pair_whose_image_cannot_be_decoded_is_left_out_and_said_so(run_dir, tmp_path):
    pairs = plan_pairs(contenders(run_dir))
    broken = pairs[0].a
    broken.image.write_bytes(b"not an image")  # two pairs show it: with each of the other targets
    with VoteServer(pairs, VoteStore(tmp_path / "votes.csv"), voter="ana") as server:
        page = httpx.get(server.url).text
        assert "1 left out (an image could not be decoded)" in page
        assert vote_form(page, "a")["pair_id"] == pairs[1].pair_id
        while "<form" in page:
            assert httpx.post(f"{server.url}vote", data=vote_form(page, "a")).status_code == 303
            page = httpx.get(server.url).text
    assert "Every pair is answered" in page and "10 of 10 pairs answered · 2 left out" in page
    assert {p.pair_id for p in pairs if broken in (p.a, p.b)} == set(server.unreadable)
