"""The blind vote page in a real headless Chromium, against a real vote server on loopback over a simulated run.

Which target a displayed image belongs to is read from the page itself: each ``<img>`` is drawn to a canvas
and its pixels are matched to the run's original files (the simulator draws different pictures for
different targets), so a test checks the recorded row against what the voter actually saw, browser cache
included.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgkit.votes import VoteServer, VoteStore, contenders, plan_pairs
from tests.test_votes import CLI, PROMPTS, make_run

# a target whose simulated images are PNG (about 18 KB) and one whose images are JPEG (about 45 KB)
PNG_AND_JPEG = [
    {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"},
    {"model": "flux-1-schnell", "provider": "fal", "size": "1024x1024"},
]


def run_beside_the_browser(*args) -> Path:
    """:func:`make_run` in its own thread: Playwright's event loop runs in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(make_run, *args).result()


@pytest.fixture
def run_dir(tmp_path: Path, simulator) -> Path:
    """4 prompts x 3 targets: 12 pairs."""
    return run_beside_the_browser(tmp_path, simulator.url)


@pytest.fixture
def one_pair_run(tmp_path: Path, simulator) -> Path:
    """One prompt drawn by a PNG target and a JPEG target: a single pair."""
    return run_beside_the_browser(tmp_path, simulator.url, PNG_AND_JPEG, PROMPTS[:1])


def wait_ready(page) -> None:
    """Until both images are decoded and key presses answer."""
    page.wait_for_function("document.body.dataset.ready === '1'")


def press(page, *keys: str) -> None:
    """Press ``keys`` in a row (as fast as the browser takes them) and wait for the next page."""
    with page.expect_navigation():
        for key in keys:
            page.keyboard.press(key)


def displayed(page) -> list[Image.Image]:
    """The pixels of the images shown as A and B, as the browser decoded them (cache or network)."""
    urls = page.evaluate(
        """() => [...document.querySelectorAll('figure img')].map(img => {
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            c.getContext('2d').drawImage(img, 0, 0);
            return c.toDataURL('image/png');
        })"""
    )
    return [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))).convert("RGB") for u in urls]


def _small(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB").resize((48, 48), Image.Resampling.BOX), dtype=float)


def shown_targets(page, run: Path) -> tuple[str, str]:
    """The targets whose images the page shows as A and B, by the nearest original of the shown prompt."""
    prompt = page.inner_text("p.prompt")
    originals = {c.option: _small(Image.open(c.image)) for c in contenders(run) if c.prompt == prompt}
    found = []
    for image in displayed(page):
        distance = {option: np.abs(_small(image) - pixels).mean() for option, pixels in originals.items()}
        best, second = sorted(distance.values())[:2]
        assert best < 2 and second > 10, distance  # a clear match: the re-encoding, not another picture
        found.append(min(distance, key=distance.get))
    return found[0], found[1]


def pair_id(page) -> str:
    return page.get_attribute("input[name=pair_id]", "value")


def rows(votes: Path) -> list[dict[str, str]]:
    if not votes.exists():
        return []
    with votes.open(newline="") as f:
        return list(csv.DictReader(f))


def both_ways(run: Path) -> tuple[list, list]:
    """The single pair of ``run`` as seed 0 draws it, and as the first seed that swaps its sides."""
    found = contenders(run)
    first = plan_pairs(found, seed=0)
    return first, next(p for s in range(1, 100) if (p := plan_pairs(found, seed=s))[0].a == first[0].b)


def open_page(page, server: VoteServer, run: Path) -> tuple[str, str]:
    """Open the vote page; the targets it shows as A and B once it is ready."""
    page.goto(server.url)
    wait_ready(page)
    return shown_targets(page, run)


def test_a_key_press_votes_for_the_target_whose_image_was_shown_also_after_a_restart_with_other_sides(
    one_pair_run, tmp_path, page
):
    votes = tmp_path / "votes.csv"
    first, swapped = both_ways(one_pair_run)
    expected = []
    with VoteServer(first, VoteStore(votes), voter="ana") as server:
        port = server.port
        a, b = open_page(page, server, one_pair_run)
        assert (a, b) == (first[0].a.option, first[0].b.option)
        press(page, "1")
        expected.append((a, b, "model_a"))
    # restarted on the same port with a seed that draws the sides the other way; same browser, same cache
    with VoteServer(swapped, VoteStore(votes), voter="ben", port=port) as server:
        a, b = open_page(page, server, one_pair_run)
        assert (a, b) == (swapped[0].a.option, swapped[0].b.option)  # not the cached picture of the old A
        press(page, "2")
        expected.append((a, b, "model_b"))
        assert "Every pair is answered" in page.inner_text("body")
    # a page opened before such a restart, answered after it: its A is the new session's B
    with VoteServer(first, VoteStore(votes), voter="carl", port=port) as server:
        a, b = open_page(page, server, one_pair_run)
    with VoteServer(swapped, VoteStore(votes), voter="carl", port=port):
        press(page, "1")
        expected.append((a, b, "model_a"))
        assert "Every pair is answered" in page.inner_text("body")
    assert [(r["model_a"], r["model_b"], r["winner"]) for r in rows(votes)] == expected
    assert page.problems == []


def test_a_double_key_press_records_one_vote_for_the_pair_shown(run_dir, tmp_path, page):
    votes = tmp_path / "votes.csv"
    expected = {}
    with VoteServer(plan_pairs(contenders(run_dir)), VoteStore(votes), voter="ana") as server:
        page.goto(server.url)
        for _ in range(8):
            wait_ready(page)
            expected[pair_id(page)] = shown_targets(page, run_dir)
            press(page, "1", "1")  # a bounced key: the second press comes within a few ms
        wait_ready(page)
        assert "8 of 12 pairs answered" in page.inner_text(".meta")
        assert pair_id(page) not in expected
    recorded = rows(votes)
    assert len(recorded) == 8 and {r["pair_id"] for r in recorded} == set(expected)
    for r in recorded:
        assert (r["model_a"], r["model_b"], r["winner"]) == (*expected[r["pair_id"]], "model_a")
    assert page.problems == []


def test_an_answer_from_a_second_tab_gives_the_next_pair_and_a_notice_not_a_second_vote(
    run_dir, tmp_path, page
):
    votes = tmp_path / "votes.csv"
    with VoteServer(plan_pairs(contenders(run_dir)), VoteStore(votes), voter="ana") as server:
        other = page.context.new_page()
        for tab in (page, other):
            tab.goto(server.url)
            wait_ready(tab)
        first = pair_id(page)
        a, b = shown_targets(page, run_dir)
        press(page, "1")
        press(other, "2")  # the same pair, already answered in the first tab
        assert "already answered" in other.inner_text(".notice") and "nothing more was recorded" in (
            other.inner_text(".notice")
        )
        wait_ready(other)
        second = pair_id(other)
        assert second == pair_id(page) != first  # the next pair
        next_a, next_b = shown_targets(other, run_dir)
        press(other, "2")  # the second tab goes on voting normally
        assert not other.locator(".notice").count()
        press(page, "3")  # now the first tab is the stale one
        assert "already answered" in page.inner_text(".notice")
    assert [(r["pair_id"], r["model_a"], r["model_b"], r["winner"]) for r in rows(votes)] == [
        (first, a, b, "model_a"),
        (second, next_a, next_b, "model_b"),
    ]
    assert page.problems == []


def test_modified_and_repeated_key_presses_are_not_votes(run_dir, tmp_path, page):
    votes = tmp_path / "votes.csv"
    shown = []
    with VoteServer(plan_pairs(contenders(run_dir)), VoteStore(votes), voter="ana") as server:
        page.goto(server.url)
        wait_ready(page)
        shown.append((pair_id(page), *shown_targets(page, run_dir)))
        for chord in ("Control+1", "Alt+1", "Meta+1", "Control+Alt+2", "Alt+4"):
            page.keyboard.press(chord)
        press(page, "3")  # the first answer is this tie
        wait_ready(page)
        shown.append((pair_id(page), *shown_targets(page, run_dir)))
        with page.expect_navigation():
            page.keyboard.down("4")  # held down: the first press answers ...
        wait_ready(page)
        shown.append((pair_id(page), *shown_targets(page, run_dir)))
        page.keyboard.down("4")  # ... its repeats, on the next pair, do not
        page.keyboard.down("4")
        page.keyboard.up("4")
        press(page, "2")
        assert "3 of 12 pairs answered" in page.inner_text(".meta")
    assert [(r["pair_id"], r["model_a"], r["model_b"], r["winner"]) for r in rows(votes)] == [
        (*shown[0], "tie"),
        (*shown[1], "tie (bothbad)"),
        (*shown[2], "model_b"),
    ]
    assert page.problems == []


def test_both_sides_are_served_in_one_format_and_a_comparable_size_when_the_originals_differ(
    one_pair_run, tmp_path, page
):
    found = contenders(one_pair_run)
    originals = {c.image_format: c.image for c in found}
    assert set(originals) == {"png", "jpeg"}
    sizes = sorted(p.stat().st_size for p in originals.values())
    assert sizes[1] > 2 * sizes[0]  # a JPEG over twice the PNG's bytes
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in originals.values()}
    responses = {}
    page.on("response", lambda r: responses.setdefault(r.url, r) if "/image/" in r.url else None)
    with VoteServer(plan_pairs(found), VoteStore(tmp_path / "votes.csv"), voter="ana") as server:
        page.goto(server.url)
        wait_ready(page)
        sources = page.eval_on_selector_all("figure img", "imgs => imgs.map(i => i.src)")
        shapes = page.eval_on_selector_all(
            "figure img", "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])"
        )
        served = [responses[src] for src in sources]
        kinds = {r.headers["content-type"] for r in served}
        lengths = sorted(len(r.body()) for r in served)
    assert len(served) == 2 and kinds == {"image/jpeg"}
    assert lengths[1] < 1.25 * lengths[0], lengths  # neither side's bytes tell its provider
    assert shapes[0] == shapes[1] == [1024, 1024]
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in originals.values()} == digests  # untouched
    assert page.problems == []


def test_two_voters_see_their_own_order_and_sides(run_dir, browser):
    voters = ("ana", "ben")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLI, "vote", str(run_dir), "--voter", voter],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for voter in voters
    ]
    context = browser.new_context()
    try:
        pages = []
        for proc in procs:
            pages.append(context.new_page())
            pages[-1].goto(proc.stdout.readline().split()[1])
        for _ in range(12):  # each voter answers every pair with A, taking turns
            for page in pages:
                wait_ready(page)
                press(page, "1")
        assert all("Every pair is answered" in page.inner_text("body") for page in pages)
    finally:
        context.close()
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
    recorded = rows(run_dir / "votes.csv")
    order = {v: [r["pair_id"] for r in recorded if r["voter"] == v] for v in voters}
    shown_as_a = {v: {r["pair_id"]: r["model_a"] for r in recorded if r["voter"] == v} for v in voters}
    assert sorted(order["ana"]) == sorted(order["ben"]) and len(set(order["ana"])) == 12
    assert order["ana"] != order["ben"]
    swapped = [p for p in order["ana"] if shown_as_a["ana"][p] != shown_as_a["ben"][p]]
    assert 0 < len(swapped) < 12  # each pair's sides are drawn per voter


def test_the_page_loads_without_console_errors_or_failed_requests_and_has_an_icon(
    one_pair_run, tmp_path, page
):
    with VoteServer(plan_pairs(contenders(one_pair_run)), VoteStore(tmp_path / "votes.csv")) as server:
        page.goto(server.url)
        wait_ready(page)
        press(page, "4")
        page.reload()
        # headless Chromium fetches no icon itself: fetch the default path, and the one the page names
        for named_by in (None, "link[rel=icon]"):
            url = (
                page.eval_on_selector(named_by, "link => link.href")
                if named_by
                else f"{server.url}favicon.ico"
            )
            icon = page.request.get(url)
            assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon", (url, icon.status)
            assert Image.open(io.BytesIO(icon.body())).size == (32, 32)
    assert page.problems == []
