"""Blind pairwise votes on a run's images: the step between ``imgkit run`` and ``imgkit ratings``.

:func:`plan_pairs` pairs the images that different targets drew for the same prompt (and repeat), in a
random order with a random side for each, drawn from a seed and the voter's name (each voter gets their own
order and sides, so position effects average out). :class:`VoteServer` shows them one pair at a time on a
loopback-only web page: the prompt and two images called A and B, nothing that names a model, provider or
tier. Each answer is appended to a CSV (``model_a`` = the target shown as A) in the format
:func:`imgkit.analysis.ratings.read_votes` reads, flushed and synced before the page moves on, so a
closed browser or a killed server loses no vote; a restarted session skips the pairs its voter has
answered. Ratings then rank *targets* (model, provider, quality, size), which is what a team chooses.

Images are shown re-encoded, both sides alike (:class:`DisplayImages`: one format, quality and size), so
neither the file format, nor its byte size, nor its pixel size gives a provider away; the run's files are
never changed. Each image is served under the hash of its bytes, so a browser's cache can never show a
picture other than the one the answer is recorded for, and each answer names the images the page showed:
it is recorded for the targets on those sides, or, from an out-of-date page or a second tab, not at all
(the page then shows the next pair with a short notice). An attentive voter may still recognise a model's
look; nothing else tells the targets apart.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import html
import io
import itertools
import json
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl
from PIL import Image, ImageOps

from imgkit.errors import ImgkitError, InvalidParameterError
from imgkit.records.rundir import RunDirectory
from imgkit.runs.spec import load_spec

__all__ = [
    "ANSWER_OUTCOMES",
    "CHOICES",
    "DISPLAY_JPEG_QUALITY",
    "INPUT_THUMBNAIL_EDGE",
    "MAX_DISPLAY_EDGE",
    "VOTE_COLUMNS",
    "Contender",
    "DisplayImages",
    "Pair",
    "VoteServer",
    "VoteStore",
    "contenders",
    "display_jpeg",
    "plan_pairs",
    "voter_seed",
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
#: The vote page shows every image as a JPEG of this quality (4:4:4), whatever the provider delivered.
DISPLAY_JPEG_QUALITY = 90
#: Longer edge (px) above which both sides of a pair are shown scaled down.
MAX_DISPLAY_EDGE = 2048
#: Longer edge (px) of an edit's input images shown beside the pair.
INPUT_THUMBNAIL_EDGE = 512


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
    run = RunDirectory(run_dir)
    frame = run.final_attempts().filter(pl.col("outcome") == "ok")
    prompts = _prompt_texts(run)
    inputs = _target_inputs(run)
    found = []
    for rec in frame.iter_rows(named=True):
        images = json.loads(rec.get("images") or "[]")
        if not images:
            continue
        path = run.image_file(images[0])
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


def _prompt_texts(run: RunDirectory) -> dict[str, str]:
    """Prompt id → text, from the spec as run (prompts are inline there)."""
    data = run.spec_as_run()
    return {str(p["id"]): str(p.get("text", "")) for p in data.get("prompts") or () if isinstance(p, dict)}


def _target_inputs(run: RunDirectory) -> dict[str, tuple[Path, ...]]:
    """Target label → the input images (then the mask) of its edits, from the spec as run (copied to
    ``inputs/``); empty when the spec no longer loads: the outputs can still be judged."""
    if not run.spec_path.is_file():
        return {}
    try:
        spec = load_spec(run.spec_path)
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


def voter_seed(seed: int, voter: str) -> int:
    """The seed of ``voter``'s own order and sides: each voter sees the pairs in a different order and
    each pair on different sides, so position and sequence effects average out over voters."""
    return int.from_bytes(hashlib.sha256(f"{seed}\x00{voter}".encode()).digest()[:8], "big")


def plan_pairs(
    found: Iterable[Contender],
    *,
    seed: int = 0,
    voter: str | None = None,
    skip: Iterable[str] = (),
    limit: int | None = None,
) -> list[Pair]:
    """Every pair of different targets' images for the same prompt and repeat, minus the ids in ``skip``.

    The order and each pair's sides are drawn from ``seed`` and, when given, ``voter`` (:func:`voter_seed`;
    ``imgkit vote`` always gives it), so a voter's session can be repeated and two voters see different
    orders and sides. The order mixes prompts, so the first votes already cover many of them. ``limit``
    keeps the first ``limit`` pairs of that order. A pair's id does not depend on the order or the sides.
    """
    if limit is not None and limit < 1:
        raise InvalidParameterError("limit", limit, "1 or more pairs, or no limit")
    groups: dict[tuple[str, str, int], dict[str, Contender]] = {}
    for c in found:
        groups.setdefault((c.run_id, c.prompt_id, c.repeat), {}).setdefault(c.option, c)
    rng = random.Random(seed if voter is None else voter_seed(seed, voter))
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


class DisplayImages:
    """What the page shows: every image re-encoded the same way, addressed by the hash of the bytes served.

    Both sides of a pair become a JPEG (quality :data:`DISPLAY_JPEG_QUALITY`, transparency flattened on the
    page's white) of the same longer edge: the larger of the two originals', at most
    :data:`MAX_DISPLAY_EDGE` px. So a provider's format, compression or pixel size does not give its
    images away, and both are seen at the same size. The run's files are only read. An image's URL is
    ``/image/<sha256 of the served bytes>.jpg``: it can be cached for good (the same URL is always the
    same picture, whatever the seed or session), and a page's answer names exactly what the voter saw.
    Encoded images are kept up to ``max_bytes`` (least recently used dropped, re-encoded when asked again).
    """

    def __init__(self, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, bytes] = OrderedDict()  # image id -> served bytes
        self._bytes = 0
        self._ids: dict[tuple[Path, int], str] = {}  # (original, longer edge) -> image id
        self._sources: dict[str, tuple[Path, int]] = {}  # image id -> (original, longer edge)
        self._edges: dict[Path, int] = {}
        self._lock = threading.Lock()

    def longer_edge(self, path: Path) -> int:
        """The original's longer edge in px (read from its header)."""
        with self._lock:
            edge = self._edges.get(path)
        if edge is None:
            with Image.open(path) as im:
                edge = max(im.size)
            with self._lock:
                self._edges[path] = edge
        return edge

    def image_id(self, path: Path, longer_edge: int) -> str:
        """The id (URL name) of ``path`` shown at ``longer_edge`` px, encoding it when not yet known."""
        with self._lock:
            found = self._ids.get((path, longer_edge))
        if found is not None:
            return found
        data = display_jpeg(path, longer_edge)
        image_id = hashlib.sha256(data).hexdigest()[:32]
        self._keep(image_id, data, (path, longer_edge))
        return image_id

    def get(self, image_id: str) -> bytes | None:
        """The bytes of an id this server handed out, or None."""
        with self._lock:
            data = self._data.get(image_id)
            if data is not None:
                self._data.move_to_end(image_id)
                return data
            source = self._sources.get(image_id)
        if source is None:
            return None
        data = display_jpeg(*source)
        self._keep(image_id, data, source)
        return data

    def _keep(self, image_id: str, data: bytes, source: tuple[Path, int]) -> None:
        with self._lock:
            self._ids[source], self._sources[image_id] = image_id, source
            if image_id not in self._data:
                self._data[image_id] = data
                self._bytes += len(data)
            while self._bytes > self.max_bytes and len(self._data) > 1:
                _, dropped = self._data.popitem(last=False)
                self._bytes -= len(dropped)


def display_jpeg(path: str | Path, longer_edge: int) -> bytes:
    """``path`` re-encoded for the vote page: RGB JPEG (transparency on white), longer edge ``longer_edge``
    px (aspect ratio kept; EXIF orientation applied, as a browser would)."""
    with Image.open(path) as original:
        im = ImageOps.exif_transpose(original)
        if "A" in im.getbands() or "transparency" in im.info:
            rgba = im.convert("RGBA")
            im = Image.new("RGB", rgba.size, (255, 255, 255))
            im.paste(rgba, mask=rgba.getchannel("A"))
        else:
            im = im.convert("RGB")
    w, h = im.size
    if max(w, h) != longer_edge:
        scale = longer_edge / max(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        im = im.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=DISPLAY_JPEG_QUALITY, subsampling=0)
    return out.getvalue()


#: What :meth:`VoteServer.answer` did with an answer from the page.
ANSWER_OUTCOMES = ("recorded", "skipped", "answered", "stale")
_NOTICES = {
    "answered": "That pair was already answered (a second tab or a repeated key press): nothing more was "
    "recorded. Here is the next pair.",
    "stale": "That answer came from an out-of-date page (the vote was restarted, or the pair is not in this "
    "session): nothing was recorded for it. Here is the current pair.",
}
#: What Pillow raises for a file it cannot decode.
_UNDECODABLE = (OSError, ValueError, Image.DecompressionBombError)
#: Key presses that answer (a press with Ctrl, Alt or Meta held, or a held key's repeats, do not).
_KEYS = {"1": "a", "2": "b", "3": "tie", "4": "bothbad", "5": "skip"}


class VoteServer:
    """A loopback web page that asks one voter to judge ``pairs`` blind, one at a time.

    ``GET /`` shows the next unanswered pair; ``POST /vote`` (``pair_id``, ``choice`` in :data:`CHOICES` or
    ``skip``, and ``image_a``/``image_b``: the image ids the page showed) answers it through
    :meth:`answer` and redirects to the next pair, with a short notice when the answer was a repeat or came
    from an out-of-date page. ``GET /image/<id>.jpg`` serves an image as :class:`DisplayImages` made it.
    Nothing sent to the browser names a target, an original file or its format.
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
        self.unreadable: list[str] = []  # pairs left out because an image could not be decoded
        self.votes_this_session = 0
        self.images = DisplayImages()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        bound_host, self.port = self._httpd.server_address[:2]
        self.host = bound_host if isinstance(bound_host, str) else bound_host.decode()
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

    def shown(self, pair: Pair) -> tuple[str, str]:
        """The image ids the page shows for ``pair``, A then B (both at the same longer edge)."""
        edge = min(
            MAX_DISPLAY_EDGE,
            max(self.images.longer_edge(pair.a.image), self.images.longer_edge(pair.b.image)),
        )
        return self.images.image_id(pair.a.image, edge), self.images.image_id(pair.b.image, edge)

    def answer(self, pair_id: str, choice: str, shown: tuple[str, str] | None = None) -> str:
        """Record ``choice`` on a pair as the voter saw it; one of :data:`ANSWER_OUTCOMES`.

        ``shown`` is the page's (image A, image B) ids: the answer is recorded for the targets whose images
        were on those sides, also when this session draws the pair's sides the other way (a page from
        before a restart with another seed). Nothing is recorded for a pair this voter already answered
        (``"answered"``: a second tab, a repeated press), nor for a pair this session does not have or
        images it did not show with it (``"stale"``). ``skip`` records nothing and puts the pair last.
        ``shown=None`` takes the sides as planned.
        """
        if choice != "skip" and choice not in CHOICES:
            raise InvalidParameterError("choice", choice, [*CHOICES, "skip"])
        pair = self.pairs.get(pair_id)
        if pair is None:
            return "stale"
        try:
            planned = self.shown(pair) if shown is not None else None
        except _UNDECODABLE:
            return "stale"
        if shown is None or shown == planned:
            as_shown = pair
        elif planned is not None and shown == planned[::-1]:
            as_shown = Pair(pair.pair_id, pair.b, pair.a)
        else:
            return "stale"
        with self._lock:
            if pair_id in self.answered:
                return "answered"
            if choice == "skip":
                self.order.remove(pair_id)
                self.order.append(pair_id)
                return "skipped"
            self.store.append(as_shown, choice, self.voter)
            self.answered.add(pair_id)
            self.votes_this_session += 1
        return "recorded"

    def leave_out(self, pair_id: str) -> None:
        """Drop a pair from this session (an image of it cannot be decoded)."""
        with self._lock:
            if pair_id in self.order:
                self.order.remove(pair_id)
                self.unreadable.append(pair_id)

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


_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_IMMUTABLE = "private, max-age=31536000, immutable"


def _handler(server: VoteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI reports progress
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/":
                notice = parse_qs(parts.query).get("notice", [""])[0]
                self._send(HTTPStatus.OK, _page(server, _NOTICES.get(notice, "")), _HTML)
            elif parts.path == "/favicon.ico":
                self._send(HTTPStatus.OK, _favicon(), "image/x-icon", cache="private, max-age=86400")
            elif parts.path.startswith("/image/") and parts.path.endswith(".jpg"):
                data = server.images.get(parts.path.removeprefix("/image/").removesuffix(".jpg"))
                if data is None:
                    self._send(HTTPStatus.NOT_FOUND, "no such image\n", _TEXT)
                else:
                    self._send(HTTPStatus.OK, data, "image/jpeg", cache=_IMMUTABLE)
            else:
                self._send(HTTPStatus.NOT_FOUND, "not found\n", _TEXT)

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/vote":
                self._send(HTTPStatus.NOT_FOUND, "not found\n", _TEXT)
                return
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit() or int(length) > 4096:
                self._error(HTTPStatus.BAD_REQUEST, "a vote form of at most 4096 bytes is expected")
                return
            form = parse_qs(self.rfile.read(int(length)).decode("utf-8", "replace"))
            field = {name: form.get(name, [""])[0] for name in ("pair_id", "choice", "image_a", "image_b")}
            try:
                outcome = server.answer(
                    field["pair_id"], field["choice"], (field["image_a"], field["image_b"])
                )
            except InvalidParameterError as exc:
                self._error(HTTPStatus.BAD_REQUEST, str(exc))
                return
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", f"/?notice={outcome}" if outcome in _NOTICES else "/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _error(self, status: HTTPStatus, message: str) -> None:
            body = (
                f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(server.title)}</title>"
                f"{_ICON_LINK}</head><body><p>{html.escape(message, quote=False)}</p>"
                "<p><a href='/'>Back to the vote</a></p></body></html>"
            )
            self._send(status, body, _HTML)

        def _send(self, status: HTTPStatus, body: str | bytes, kind: str, cache: str = "no-store") -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", cache)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@functools.cache
def _favicon() -> bytes:
    """A 32 px icon of two panes (A and B), drawn once."""
    icon = Image.new("RGB", (32, 32), (255, 255, 255))
    icon.paste((70, 110, 200), (2, 6, 15, 26))
    icon.paste((220, 130, 50), (17, 6, 30, 26))
    out = io.BytesIO()
    icon.save(out, "ICO", sizes=[(32, 32)])
    return out.getvalue()


def _inputs_row(server: VoteServer, pair: Pair) -> str:
    """The edit inputs: once when both sides were given the same, else under each side's letter."""
    if not pair.a.inputs and not pair.b.inputs:
        return ""

    def thumbs(inputs: tuple[Path, ...]) -> str:
        return "".join(
            f"<img class='input' src='/image/{_thumbnail_id(server, path)}.jpg' alt='input {i + 1}'>"
            for i, path in enumerate(inputs)
        )

    if pair.a.inputs == pair.b.inputs:
        return f"<div class='inputs'>edited from: {thumbs(pair.a.inputs)}</div>"
    parts = [f"{letter}: {thumbs(c.inputs) or 'no input'}" for letter, c in (("A", pair.a), ("B", pair.b))]
    return f"<div class='inputs'>edited from, {' · '.join(parts)}</div>"


def _thumbnail_id(server: VoteServer, path: Path) -> str:
    return server.images.image_id(path, min(INPUT_THUMBNAIL_EDGE, server.images.longer_edge(path)))


_ICON_LINK = "<link rel='icon' href='/favicon.ico'>"
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1400px;padding:0 1rem;color:#222}
h1{font-size:1.1rem;font-weight:600;margin:0 0 .25rem} .meta{color:#666;font-size:.9rem}
.notice{background:#fff6d6;border:1px solid #e6cf7a;padding:.5rem .8rem;margin:.8rem 0}
.prompt{font-size:1.15rem;margin:1rem 0} .pair{display:flex;gap:1rem}
figure{flex:1;margin:0;text-align:center} img{max-width:100%;max-height:70vh;border:1px solid #ddd}
figcaption{font-weight:600;margin-top:.3rem} form{display:flex;gap:.6rem;justify-content:center;margin:1rem 0}
button{font-size:1rem;padding:.5rem 1.1rem;cursor:pointer} kbd{font-size:.8rem;color:#666}
.inputs{color:#666;font-size:.9rem;margin:.5rem 0} img.input{max-height:18vh;margin:0 .3rem;vertical-align:middle}
"""
# Keys answer once both images are decoded and on screen for a moment (a bounced or repeated press, or one
# with Ctrl/Alt/Meta, does not); a form is sent once (a double click or press sends nothing more).
_SCRIPT = """
(() => {
  if (location.search) history.replaceState(null, '', '/');  // a notice is shown once, not on reload
  const form = document.querySelector('form.vote');
  const keys = %s;
  let ready = false;
  Promise.all([...document.images].map(i => i.decode().catch(() => null))).then(() => setTimeout(() => {
    ready = true; document.body.dataset.ready = '1';
  }, %d));
  form.addEventListener('submit', e => {
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = '1';
  });
  document.addEventListener('keydown', e => {
    if (e.repeat || e.ctrlKey || e.altKey || e.metaKey || e.isComposing || !ready || form.dataset.sent) return;
    const choice = keys[e.key];
    if (!choice) return;
    e.preventDefault();
    form.requestSubmit(form.querySelector(`button[value='${choice}']`));
  });
})();
"""
#: ms a pair is on screen (both images decoded) before a key press answers it
_KEY_DELAY_MS = 200


def _page(server: VoteServer, notice: str = "") -> str:
    pair = server.next_pair()
    while pair is not None:
        try:
            image_a, image_b = server.shown(pair)
            inputs = _inputs_row(server, pair)
            break
        except _UNDECODABLE:
            server.leave_out(pair.pair_id)
            pair = server.next_pair()
    done, total = server.progress()
    left_out = len(server.unreadable)
    head = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(server.title)}</title>"
        f"{_ICON_LINK}<style>{_STYLE}</style></head><body><h1>{html.escape(server.title)}</h1>"
        f"<div class='meta'>voter {html.escape(server.voter)} · {done} of {total} pairs answered"
        + (f" · {left_out} left out (an image could not be decoded)" if left_out else "")
        + "</div>"
        + (f"<p class='notice' role='status'>{html.escape(notice)}</p>" if notice else "")
    )
    if pair is None:
        return head + (
            "<p class='prompt'>Every pair is answered. Thank you.</p>"
            f"<p class='meta'>Votes are in <code>{html.escape(str(server.store.path))}</code>; rate them with "
            f"<code>imgkit ratings {html.escape(str(server.store.path))}</code>.</p></body></html>"
        )
    labels = {
        "a": "A is better",
        "b": "B is better",
        "tie": "Tie",
        "bothbad": "Both bad",
        "skip": "Skip for now",
    }
    buttons = "".join(
        f"<button name='choice' value='{value}'>{labels[value]} <kbd>{key}</kbd></button>"
        for key, value in _KEYS.items()
    )
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{value}'>"
        for name, value in (("pair_id", pair.pair_id), ("image_a", image_a), ("image_b", image_b))
    )
    return head + (
        f"<p class='prompt'>{html.escape(pair.a.prompt or pair.a.prompt_id)}</p>"
        f"{inputs}"
        "<div class='pair'>"
        f"<figure><img class='shown' src='/image/{image_a}.jpg' alt='image A'><figcaption>A</figcaption></figure>"
        f"<figure><img class='shown' src='/image/{image_b}.jpg' alt='image B'><figcaption>B</figcaption></figure>"
        "</div>"
        f"<form class='vote' method='post' action='/vote'>{hidden}{buttons}</form>"
        "<p class='meta'>Which image follows the prompt better and looks better? Keys 1–4 answer; 5 skips "
        "(the pair comes back after the others, nothing is recorded).</p>"
        f"<script>{_SCRIPT % (json.dumps(_KEYS), _KEY_DELAY_MS)}</script></body></html>"
    )
