"""Blind pairwise votes on a run's images: the step between ``imgkit run`` and ``imgkit ratings``.

:func:`plan_pairs` pairs the images that different targets drew for the same prompt (and repeat), in a
seeded random order with a random side for each. :class:`VoteServer` shows them one pair at a time on a
loopback-only web page: the prompt and two images called A and B, nothing that names a model, provider or
tier. Each answer is appended to a CSV (``model_a`` = the target shown as A) in the format
:func:`imgkit.analysis.ratings.read_votes` reads, flushed and synced before the page moves on, so a
closed browser or a killed server loses no vote; a restarted session skips the pairs its voter has
answered. Ratings then rank *targets* (model, provider, quality, size), which is what a team chooses.

Images are shown as the run stored them (a provider's JPEG stays a JPEG, sizes stay as delivered): voters
judge what users would get, so an attentive voter may still recognise a look; the order and sides are
random so that no position or sequence gives a target away.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import itertools
import json
import os
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl

from imgkit.errors import InvalidParameterError

__all__ = [
    "CHOICES",
    "VOTE_COLUMNS",
    "Contender",
    "Pair",
    "VoteServer",
    "VoteStore",
    "contenders",
    "plan_pairs",
]

#: A voter's answer → the ``winner`` written for it (``model_a`` is the image shown as A).
CHOICES = {"a": "model_a", "b": "model_b", "tie": "tie", "bothbad": "tie (bothbad)"}
#: Columns of the votes CSV; the first seven are what ``imgkit ratings`` reads.
VOTE_COLUMNS = (
    "model_a",
    "model_b",
    "winner",
    "category",
    "prompt_id",
    "voter",
    "timestamp",
    "pair_id",
    "run_id",
)
_IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class Contender:
    """One image a target drew for a prompt: ``option`` is the target's label in the run."""

    option: str
    prompt_id: str
    repeat: int
    category: str | None
    prompt: str
    image: Path
    image_format: str
    run_id: str
    inputs: tuple[Path, ...] = ()  # the images an edit target was given (and its mask), in order


@dataclass(frozen=True)
class Pair:
    """Two targets' images for the same prompt and repeat, in the order they are shown (A, then B)."""

    pair_id: str
    a: Contender
    b: Contender


def contenders(run_dir: str | Path) -> list[Contender]:
    """The first image of every successful item of a run directory (its latest final attempt)."""
    from imgkit.grids import final_attempts, image_file

    run = Path(run_dir)
    frame = final_attempts(run).filter(pl.col("outcome") == "ok")
    prompts = _prompt_texts(run)
    inputs = _target_inputs(run)
    found = []
    for rec in frame.iter_rows(named=True):
        images = json.loads(rec.get("images") or "[]")
        if not images:
            continue
        path = image_file(images[0], run)
        if not path.is_file():
            continue  # an image deleted since the run cannot be judged
        found.append(
            Contender(
                option=str(rec["target"]),
                prompt_id=str(rec["prompt_id"]),
                repeat=int(rec.get("repeat") or 0),
                category=rec.get("category"),
                prompt=prompts.get(str(rec["prompt_id"]), ""),
                image=path,
                image_format=str(images[0].get("format") or path.suffix.lstrip(".")).lower(),
                run_id=str(rec.get("run_id") or ""),
                inputs=inputs.get(str(rec["target"]), ()),
            )
        )
    return found


def _prompt_texts(run: Path) -> dict[str, str]:
    """Prompt id → text, from the spec as run (prompts are inline there)."""
    import yaml

    spec = run / "spec.yaml"
    if not spec.is_file():
        return {}
    data = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
    return {str(p["id"]): str(p.get("text", "")) for p in data.get("prompts") or () if isinstance(p, dict)}


def _target_inputs(run: Path) -> dict[str, tuple[Path, ...]]:
    """Target label → the input images (then the mask) of its edits, from the spec as run (copied to
    ``inputs/``); empty when the spec no longer loads: the outputs can still be judged."""
    from imgkit.errors import ImgkitError
    from imgkit.runs.spec import load_spec

    spec_path = run / "spec.yaml"
    if not spec_path.is_file():
        return {}
    try:
        spec = load_spec(spec_path)
    except ImgkitError:
        return {}
    found = {}
    for target in spec.targets:
        names = [*target.images, *([target.mask] if target.mask else [])]
        paths = tuple(spec.input_images[n] for n in names if n in spec.input_images)
        if paths:
            found[target.label] = paths
    return found


def _pair_id(a: Contender, b: Contender) -> str:
    """The same id whichever side each image is shown on."""
    first, second = sorted((a.option, b.option))
    key = f"{a.run_id}\0{a.prompt_id}\0{a.repeat}\0{first}\0{second}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def plan_pairs(
    found: Iterable[Contender], *, seed: int = 0, skip: Iterable[str] = (), limit: int | None = None
) -> list[Pair]:
    """Every pair of different targets' images for the same prompt and repeat, minus the ids in ``skip``.

    The order and each pair's sides are drawn from ``seed``, so a session can be repeated; the order mixes
    prompts, so the first votes already cover many of them. ``limit`` keeps the first ``limit`` pairs.
    """
    if limit is not None and limit < 1:
        raise InvalidParameterError("limit", limit, "1 or more pairs, or no limit")
    groups: dict[tuple[str, str, int], dict[str, Contender]] = {}
    for c in found:
        groups.setdefault((c.run_id, c.prompt_id, c.repeat), {}).setdefault(c.option, c)
    rng = random.Random(seed)
    done = set(skip)
    pairs = []
    for key in sorted(groups):
        options = groups[key]
        for first, second in itertools.combinations(sorted(options), 2):
            a, b = options[first], options[second]
            if rng.random() < 0.5:
                a, b = b, a
            pair_id = _pair_id(a, b)
            if pair_id not in done:
                pairs.append(Pair(pair_id, a, b))
    rng.shuffle(pairs)
    return pairs[:limit] if limit is not None else pairs


class VoteStore:
    """The votes CSV: one row per answer, appended, flushed and synced before the next page is shown."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if self.path.exists():
            with self.path.open(newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), None)
            if header is not None and tuple(header) != VOTE_COLUMNS:
                raise InvalidParameterError(
                    "votes file", str(self.path), f"a votes CSV with the columns {', '.join(VOTE_COLUMNS)}"
                )

    def answered(self, voter: str) -> set[str]:
        """Pair ids ``voter`` has answered (another voter's answers do not count: each judges every pair)."""
        if not self.path.is_file():
            return set()
        with self.path.open(newline="", encoding="utf-8") as f:
            return {row["pair_id"] for row in csv.DictReader(f) if row.get("voter") == voter}

    def append(self, pair: Pair, choice: str, voter: str) -> dict[str, str]:
        if choice not in CHOICES:
            raise InvalidParameterError("choice", choice, list(CHOICES))
        row = {
            "model_a": pair.a.option,
            "model_b": pair.b.option,
            "winner": CHOICES[choice],
            "category": pair.a.category or "",
            "prompt_id": pair.a.prompt_id,
            "voter": voter,
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "pair_id": pair.pair_id,
            "run_id": pair.a.run_id,
        }
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=VOTE_COLUMNS, lineterminator="\n")
        with self._lock:
            new = not self.path.exists() or self.path.stat().st_size == 0
            if new:
                writer.writeheader()
            writer.writerow(row)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8", newline="") as f:
                f.write(buffer.getvalue())  # one write: a kill leaves whole rows
                f.flush()
                os.fsync(f.fileno())
        return row


class VoteServer:
    """A loopback web page that asks one voter to judge ``pairs`` blind, one at a time.

    ``GET /`` shows the next unanswered pair; ``POST /vote`` (``pair_id``, ``choice`` in :data:`CHOICES`)
    records an answer and shows the next (``choice=skip`` records nothing and puts the pair last); ``GET /image/<pair_id>/<a|b>`` serves an image. Nothing sent to
    the browser names a target: images are addressed by pair and side, not by file name.
    """

    def __init__(
        self,
        pairs: Sequence[Pair],
        store: VoteStore,
        *,
        voter: str = "anonymous",
        host: str = "127.0.0.1",
        port: int = 0,
        title: str = "imgkit blind vote",
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise InvalidParameterError("host", host, "a loopback address (127.0.0.1, localhost or ::1)")
        if not voter.strip() or any(ch in voter for ch in "\r\n,"):
            raise InvalidParameterError("voter", voter, "a non-empty name without commas or line breaks")
        self.pairs = {p.pair_id: p for p in pairs}
        self.order = [p.pair_id for p in pairs]
        self.store, self.voter, self.title = store, voter, title
        self.answered = store.answered(voter) & set(self.order)
        self.votes_this_session = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def next_pair(self) -> Pair | None:
        with self._lock:
            for pair_id in self.order:
                if pair_id not in self.answered:
                    return self.pairs[pair_id]
        return None

    def skip(self, pair_id: str) -> None:
        """Put a pair last in this session's order (nothing is recorded: it comes back after the others)."""
        if pair_id not in self.pairs:
            raise InvalidParameterError("pair_id", pair_id, "a pair of this session")
        with self._lock:
            self.order.remove(pair_id)
            self.order.append(pair_id)

    def record(self, pair_id: str, choice: str) -> dict[str, str]:
        pair = self.pairs.get(pair_id)
        if pair is None:
            raise InvalidParameterError("pair_id", pair_id, "a pair of this session")
        with self._lock:
            if pair_id in self.answered:
                raise InvalidParameterError("pair_id", pair_id, "a pair not yet answered by this voter")
            row = self.store.append(pair, choice, self.voter)
            self.answered.add(pair_id)
            self.votes_this_session += 1
        return row

    def progress(self) -> tuple[int, int]:
        with self._lock:
            return len(self.answered), len(self.order)

    def start(self) -> VoteServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="imgkit-vote", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (the CLI)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                time.sleep(0.5)
        finally:
            self.stop()

    def __enter__(self) -> VoteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(server: VoteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI reports progress
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/":
                self._send(HTTPStatus.OK, _page(server), "text/html; charset=utf-8")
            elif path.startswith("/image/"):
                self._image(path.removeprefix("/image/"))
            elif path.startswith("/input/"):
                self._input(path.removeprefix("/input/"))
            else:
                self._send(HTTPStatus.NOT_FOUND, "not found\n", "text/plain; charset=utf-8")

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/vote":
                self._send(HTTPStatus.NOT_FOUND, "not found\n", "text/plain; charset=utf-8")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > 4096:
                self._send(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "form too large\n", "text/plain; charset=utf-8"
                )
                return
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            pair_id, choice = form.get("pair_id", [""])[0], form.get("choice", [""])[0]
            try:
                if choice == "skip":
                    server.skip(pair_id)
                else:
                    server.record(pair_id, choice)
            except InvalidParameterError as exc:
                self._send(HTTPStatus.BAD_REQUEST, f"{exc}\n", "text/plain; charset=utf-8")
                return
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _image(self, rest: str) -> None:
            pair_id, _, side = rest.partition("/")
            pair = server.pairs.get(pair_id)
            if pair is None or side not in ("a", "b"):
                self._send(HTTPStatus.NOT_FOUND, "no such image\n", "text/plain; charset=utf-8")
                return
            contender = pair.a if side == "a" else pair.b
            body = contender.image.read_bytes()
            kind = _IMAGE_TYPES.get(contender.image_format, "application/octet-stream")
            self._send(HTTPStatus.OK, body, kind, cache=True)

        def _input(self, rest: str) -> None:
            pair_id, _, rest = rest.partition("/")
            side, _, index = rest.partition("/")
            pair = server.pairs.get(pair_id)
            inputs = (
                () if pair is None or side not in ("a", "b") else (pair.a if side == "a" else pair.b).inputs
            )
            if not index.isdigit() or int(index) >= len(inputs):
                self._send(HTTPStatus.NOT_FOUND, "no such input image\n", "text/plain; charset=utf-8")
                return
            path = inputs[int(index)]
            kind = _IMAGE_TYPES.get(path.suffix.lower().lstrip("."), "application/octet-stream")
            self._send(HTTPStatus.OK, path.read_bytes(), kind, cache=True)

        def _send(self, status: HTTPStatus, body: str | bytes, kind: str, cache: bool = False) -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "private, max-age=3600" if cache else "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _inputs_row(pair: Pair) -> str:
    """The edit inputs: once when both sides were given the same, else under each side's letter."""
    if not pair.a.inputs and not pair.b.inputs:
        return ""

    def thumbs(side: str, inputs: tuple[Path, ...]) -> str:
        return "".join(
            f"<img class='input' src='/input/{pair.pair_id}/{side}/{i}' alt='input {i + 1}'>"
            for i in range(len(inputs))
        )

    if pair.a.inputs == pair.b.inputs:
        return f"<div class='inputs'>edited from: {thumbs('a', pair.a.inputs)}</div>"
    parts = [
        f"{letter}: {thumbs(side, c.inputs) or 'no input'}"
        for letter, side, c in (("A", "a", pair.a), ("B", "b", pair.b))
    ]
    return f"<div class='inputs'>edited from, {' · '.join(parts)}</div>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1400px;padding:0 1rem;color:#222}
h1{font-size:1.1rem;font-weight:600;margin:0 0 .25rem} .meta{color:#666;font-size:.9rem}
.prompt{font-size:1.15rem;margin:1rem 0} .pair{display:flex;gap:1rem}
figure{flex:1;margin:0;text-align:center} img{max-width:100%;max-height:70vh;border:1px solid #ddd}
figcaption{font-weight:600;margin-top:.3rem} form{display:flex;gap:.6rem;justify-content:center;margin:1rem 0}
button{font-size:1rem;padding:.5rem 1.1rem;cursor:pointer} kbd{font-size:.8rem;color:#666}
.inputs{color:#666;font-size:.9rem;margin:.5rem 0} img.input{max-height:18vh;margin:0 .3rem;vertical-align:middle}
"""


def _page(server: VoteServer) -> str:
    done, total = server.progress()
    pair = server.next_pair()
    head = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(server.title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(server.title)}</h1>"
        f"<div class='meta'>voter {html.escape(server.voter)} · {done} of {total} pairs answered</div>"
    )
    if pair is None:
        return head + (
            "<p class='prompt'>Every pair is answered. Thank you.</p>"
            f"<p class='meta'>Votes are in <code>{html.escape(str(server.store.path))}</code>; rate them with "
            f"<code>imgkit ratings {html.escape(str(server.store.path))}</code>.</p></body></html>"
        )
    buttons = "".join(
        f"<button name='choice' value='{value}' accesskey='{key}'>{label} <kbd>{key}</kbd></button>"
        for value, label, key in (
            ("a", "A is better", "1"),
            ("b", "B is better", "2"),
            ("tie", "Tie", "3"),
            ("bothbad", "Both bad", "4"),
            ("skip", "Skip for now", "5"),
        )
    )
    keys = "{'1':'a','2':'b','3':'tie','4':'bothbad','5':'skip'}"
    return head + (
        f"<p class='prompt'>{html.escape(pair.a.prompt or pair.a.prompt_id)}</p>"
        f"{_inputs_row(pair)}"
        "<div class='pair'>"
        f"<figure><img src='/image/{pair.pair_id}/a' alt='image A'><figcaption>A</figcaption></figure>"
        f"<figure><img src='/image/{pair.pair_id}/b' alt='image B'><figcaption>B</figcaption></figure>"
        "</div>"
        f"<form method='post' action='/vote'><input type='hidden' name='pair_id' value='{pair.pair_id}'>"
        f"{buttons}</form>"
        "<p class='meta'>Which image follows the prompt better and looks better? Keys 1–4 answer; 5 skips "
        "(the pair comes back after the others, nothing is recorded).</p>"
        "<script>document.addEventListener('keydown',e=>{const c="
        f"{keys}[e.key];if(c){{const b=document.querySelector(`button[value='${{c}}']`);if(b)b.click();}}}});"
        "</script></body></html>"
    )
