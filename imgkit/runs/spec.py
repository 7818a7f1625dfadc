"""Experiment specs: prompts × targets × repeats, validated before anything runs.

A spec is YAML::

    name: tier-comparison
    prompts:                       # inline, or {file: prompts.csv} (columns id,text[,category]) / .txt (one per line)
      - {id: fox, text: "A red fox in fresh snow", category: animals}
    input_images: {room: images/room.png}   # named inputs for edit targets (paths relative to the spec)
    targets:                       # list values expand to every combination
      - {model: gpt-image-2, provider: openai, quality: [low, medium, high], size: 1024x1024}
      - {model: flux-1-schnell, provider: fal, aspect_ratio: "16:9", n: 2}
      - {model: gpt-image-2, mode: edit, images: [room], quality: low, options: {moderation: low}}
    repeats: 1
    concurrency: 8
    rate_limits: {requests_per_minute: 60, images_per_minute: 60}
    retries: {max_attempts: 4}
    budget_usd: "5.00"
    simulate: true                 # offline: every provider is served by the local simulated provider
    output_dir: runs/tier-comparison
    batch: false                   # true: every target through its provider's Batch API (half price, within
                                   # 24 h); a target's own ``batch:`` overrides it

``batch`` is ``true``/``false`` or a mapping of batch settings (any mapping means true)::

    batch:
      on_expired: rebatch          # items a batch could not run before its window ended (or that a cancel
                                   # stopped elsewhere) go into one more batch in the same session; report:
                                   # log them as expired (a --resume sends them again)
      max_requests: 50000          # requests per batch (the provider's limit is the ceiling)
      poll_s: 30                   # first wait between status polls, seconds; doubled up to max_poll_s
      max_poll_s: 300              # (an in-process simulator's runs scale both by its time_scale)

``simulate`` is ``true``/``false`` or a mapping of simulator settings::

    simulate:
      time_scale: 0.01             # multiply the published latencies (default 0.01: a 17 s image takes 0.17 s)
      failures: false              # fail requests at the profiles' published success rates (default false)
      fault_rate: 0.05             # probability of an injected fault per request (default 0)
      hang_s: 1.5                  # a timeout fault: the client's read timeout in this run (default
                                   # 300 s x time_scale, at least 2 s: the simulated clock's five minutes)
      url: http://127.0.0.1:8800   # use a simulator already serving (``imgkit simulate serve``) instead

Errors name the file and the key path (:class:`~imgkit.errors.SpecError`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from imgkit._files import read_utf8
from imgkit._strict import Strict, key_path
from imgkit.catalog import load_yaml
from imgkit.errors import InvalidParameterError, SpecError
from imgkit.secret_policy import secret_reason

__all__ = [
    "BatchSettings",
    "ExperimentSpec",
    "Prompt",
    "SimulatorSettings",
    "Target",
    "WorkItem",
    "load_simulated_spec",
    "load_spec",
    "parse_spec",
]

_MATRIX_KEYS = ("model", "provider", "quality", "size", "aspect_ratio", "resolution", "n", "mode")


class Prompt(Strict):
    id: str
    text: str
    category: str | None = None

    @field_validator("id")
    @classmethod
    def _id_is_a_name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a prompt id must not be empty; allowed: a short name such as fox or p1")
        if any(ord(c) < 32 for c in v):
            raise ValueError(f"prompt id {v!r} holds a control character; allowed: printable text")
        return v

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the prompt text must not be empty")
        if "\x00" in v:
            raise ValueError("the prompt text holds a NUL byte; allowed: text")
        return v


class PromptFile(Strict):
    file: str


class TargetSpec(Strict):
    """One target line; list values expand into several targets."""

    model: str | list[str]
    provider: str | list[str] | None = None
    mode: Literal["generate", "edit"] | list[Literal["generate", "edit"]] = "generate"
    quality: str | list[str] | None = None
    size: str | list[str] | None = None
    aspect_ratio: str | list[str] | None = None
    resolution: str | list[str] | None = None
    n: int | list[int] = 1
    images: list[str] = Field(default_factory=list)
    mask: str | None = None
    label: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    batch: bool | None = None

    @field_validator("options")
    @classmethod
    def _no_secrets_in_options(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            reason = secret_reason(key, value)  # the one secrets policy (imgkit.secret_policy)
            if reason:
                raise ValueError(
                    f"option {key!r} looks like a secret ({reason}); keys are read from the environment"
                )
        return v


class RateLimitSpec(Strict):
    requests_per_minute: int | None = Field(default=None, gt=0)
    images_per_minute: int | None = Field(default=None, gt=0)


class RetrySpec(Strict):
    max_attempts: int = Field(default=4, ge=1, le=20)


class SimulateSpec(Strict):
    time_scale: float = Field(default=0.01, ge=0)
    failures: bool = False
    fault_rate: float = Field(default=0.0, ge=0, le=1)
    hang_s: float | None = Field(default=None, gt=0, le=3600)
    url: str | None = Field(default=None, pattern=r"^https?://")


class BatchSpec(Strict):
    on_expired: Literal["rebatch", "report"] = "rebatch"
    max_requests: int = Field(default=50_000, ge=1, le=50_000)
    poll_s: float = Field(default=30.0, gt=0, le=3600)
    max_poll_s: float = Field(default=300.0, gt=0, le=3600)

    @field_validator("max_poll_s")
    @classmethod
    def _poll_order(cls, v: float, info: Any) -> float:
        poll_s = info.data.get("poll_s")
        if poll_s is not None and v < poll_s:
            raise ValueError(f"max_poll_s {v:g} is below poll_s {poll_s:g}; allowed: poll_s or more")
        return v


class SpecModel(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str | None = None
    prompts: list[Prompt | PromptFile] = Field(min_length=1)
    input_images: dict[str, str] = Field(default_factory=dict)
    targets: list[TargetSpec] = Field(min_length=1)
    repeats: int = Field(default=1, ge=1, le=1000)
    concurrency: int = Field(default=4, ge=1, le=256)
    rate_limits: RateLimitSpec = RateLimitSpec()
    retries: RetrySpec = RetrySpec()
    budget_usd: Decimal | None = Field(default=None, ge=0)
    simulate: bool | SimulateSpec = False
    output_dir: str | None = None
    seed: int = 0
    batch: bool | BatchSpec = False

    @field_validator("budget_usd", mode="before")
    @classmethod
    def _budget_not_float(cls, v: Any) -> Any:
        if isinstance(v, float):
            raise ValueError('write the budget as a string or an integer (e.g. "5.00"), not a binary float')
        return v

    @model_validator(mode="after")
    def _images_exist(self) -> SpecModel:
        for i, t in enumerate(self.targets):
            for name in [*t.images, *([t.mask] if t.mask else [])]:
                if name not in self.input_images:
                    known = ", ".join(sorted(self.input_images)) or "(none defined)"
                    raise ValueError(
                        f"targets[{i}]: input image {name!r} is not defined in input_images; defined: {known}"
                    )
        return self


@dataclass(frozen=True)
class Target:
    """One concrete target after matrix expansion."""

    model: str
    provider: str | None
    mode: Literal["generate", "edit"] = "generate"
    quality: str | None = None
    size: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    n: int = 1
    images: tuple[str, ...] = ()
    mask: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    label: str = ""
    spec_index: int = 0  # position of the target line in the spec, for error key paths
    batch: bool = False  # sent through the provider's Batch API

    def describe(self) -> str:
        parts = [self.model, self.provider or "default", self.mode if self.mode != "generate" else ""]
        parts += [self.quality or "", self.size or self.aspect_ratio or "", self.resolution or ""]
        parts += [f"n{self.n}" if self.n != 1 else "", "batch" if self.batch else ""]
        return "/".join(p for p in parts if p)


@dataclass(frozen=True)
class WorkItem:
    """One request to make: a prompt for a target, one repeat. ``item_id`` is stable across resumes."""

    item_id: str
    prompt: Prompt
    target: Target
    repeat: int
    order: int


@dataclass(frozen=True)
class SimulatorSettings:
    """How an offline run is served: an in-process simulator, or one already listening at ``url``."""

    time_scale: float = 0.01
    failures: bool = False
    fault_rate: float = 0.0
    hang_s: float | None = None
    url: str | None = None


@dataclass(frozen=True)
class BatchSettings:
    """How batched targets run (module doc): expired items, batch size, polling."""

    on_expired: str = "rebatch"
    max_requests: int = 50_000
    poll_s: float = 30.0
    max_poll_s: float = 300.0


@dataclass
class ExperimentSpec:
    """A validated spec with its prompts loaded and its targets expanded."""

    path: Path | None
    name: str
    prompts: list[Prompt]
    targets: list[Target]
    input_images: dict[str, Path]
    repeats: int
    concurrency: int
    requests_per_minute: int | None
    images_per_minute: int | None
    max_attempts: int
    budget_usd: Decimal | None
    simulate: bool
    output_dir: Path
    seed: int
    raw: dict[str, Any] = field(default_factory=dict)
    simulator: SimulatorSettings = SimulatorSettings()
    batch: BatchSettings = BatchSettings()

    @property
    def batched(self) -> bool:
        """Whether any target goes through a Batch API."""
        return any(t.batch for t in self.targets)

    def items(self) -> Iterator[WorkItem]:
        """Every work item in a deterministic order: target, then prompt, then repeat."""
        order = 0
        for target in self.targets:
            for prompt in self.prompts:
                for r in range(self.repeats):
                    key = json.dumps([prompt.id, target.label, r], separators=(",", ":"))
                    item_id = hashlib.sha256(key.encode()).hexdigest()[:16]
                    yield WorkItem(item_id, prompt, target, r, order)
                    order += 1

    @property
    def n_items(self) -> int:
        return len(self.prompts) * len(self.targets) * self.repeats


def load_spec(path: str | Path, *, output_dir: str | Path | None = None) -> ExperimentSpec:
    """Read and validate a spec file; prompts files and input images resolve relative to it."""
    path = Path(path)
    return parse_spec(load_yaml(path, error=SpecError), path=path, output_dir=output_dir)


def parse_spec(
    data: Any, *, path: Path | None = None, output_dir: str | Path | None = None
) -> ExperimentSpec:
    """Validate an already-parsed spec (a dict); ``path`` names it in errors and anchors relative paths."""
    fname = str(path) if path else "<spec>"
    if not isinstance(data, dict):
        raise SpecError(fname, "", "expected a mapping at the top level")
    # a spec as run (RUN_DIR/spec.yaml) carries the record of its run under `run:`; the runner reads that
    # from the run directory itself, so loading the file to resume it ignores the record
    data = {k: v for k, v in data.items() if k != "run"}
    try:
        spec = SpecModel.model_validate(data)
    except ValidationError as exc:
        err = _most_specific_error(exc.errors())
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        raise SpecError(fname, key_path(loc), _pydantic_msg(err)) from None
    base = path.parent if path else Path.cwd()
    prompts = _load_prompts(spec, base, fname)
    targets = _expand_targets(spec, fname)
    images = {}
    for name, rel in spec.input_images.items():
        p = (base / rel).resolve()
        if not p.is_file():
            raise SpecError(fname, f"input_images.{name}", f"file not found: {p}")
        images[name] = p
    out = (
        Path(output_dir)
        if output_dir
        else (Path(os.path.normpath(base / spec.output_dir)) if spec.output_dir else Path("runs") / spec.name)
    )
    _check_output_dir(out, fname, "output_dir" if spec.output_dir and not output_dir else "")
    return ExperimentSpec(
        path=path,
        name=spec.name,
        prompts=prompts,
        targets=targets,
        input_images=images,
        repeats=spec.repeats,
        concurrency=spec.concurrency,
        requests_per_minute=spec.rate_limits.requests_per_minute,
        images_per_minute=spec.rate_limits.images_per_minute,
        max_attempts=spec.retries.max_attempts,
        budget_usd=spec.budget_usd,
        simulate=spec.simulate is not False,
        output_dir=out,
        seed=spec.seed,
        raw=data,
        simulator=SimulatorSettings(**spec.simulate.model_dump())
        if isinstance(spec.simulate, SimulateSpec)
        else SimulatorSettings(),
        batch=BatchSettings(**spec.batch.model_dump())
        if isinstance(spec.batch, BatchSpec)
        else BatchSettings(),
    )


def _check_output_dir(out: Path, fname: str, key: str) -> None:
    """``out`` is a directory or can be created as one: no existing file in its way (nothing is created)."""
    for path in (out, *out.parents):
        if path.is_dir():
            return
        if path.exists() or path.is_symlink():
            what = f"{path} is a file" if path == out else f"{path} is a file in the way of {out}"
            allowed = "a directory (created when missing)"
            if key:
                raise SpecError(fname, key, f"{what}, not a directory; allowed: {allowed}")
            raise InvalidParameterError("output_dir", str(out), allowed, hint=what)


#: names pydantic puts in error locations for the branches of a union
_UNION_TAGS = ("Prompt", "PromptFile", "SimulateSpec", "BatchSpec", "bool")


def _most_specific_error(errors: list[ErrorDetails]) -> ErrorDetails:
    """The first error; inside a union, the branch error that got deepest (the branch the user meant)."""
    first = errors[0]
    tag_at = next((i for i, p in enumerate(first["loc"]) if isinstance(p, str) and p in _UNION_TAGS), None)
    if tag_at is None:
        return first
    same_value = [e for e in errors if e["loc"][:tag_at] == first["loc"][:tag_at]]
    return max(same_value, key=lambda e: len(e["loc"]))


def _load_prompts(spec: SpecModel, base: Path, fname: str) -> list[Prompt]:
    prompts: list[Prompt] = []
    for i, entry in enumerate(spec.prompts):
        if isinstance(entry, Prompt):
            prompts.append(entry)
            continue
        p = base / entry.file
        if not p.is_file():
            raise SpecError(fname, f"prompts[{i}].file", f"file not found: {p}")
        text = read_utf8(p, SpecError)
        prompts += _csv_prompts(text, str(p)) if p.suffix.lower() == ".csv" else _text_prompts(text, p)
    seen: set[str] = set()
    for j, pr in enumerate(prompts):
        if pr.id in seen:
            raise SpecError(fname, f"prompts[{j}].id", f"duplicate prompt id {pr.id!r}")
        seen.add(pr.id)
    return prompts


def _csv_prompts(text: str, file: str) -> list[Prompt]:
    """Prompts from CSV text (columns id,text[,category]); errors name the line and the column."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not {"id", "text"} <= set(header):
            raise SpecError(file, "header", f"needs columns id,text[,category]; found {header}")
        prompts = []
        for row in reader:
            where = f"line {reader.line_num}"
            if row == []:
                continue  # a blank line
            if len(row) != len(header):
                raise SpecError(
                    file, where, f"{len(row)} fields; allowed: {len(header)}, one per column of the header"
                )
            values = dict(zip(header, row, strict=True))
            try:
                prompts.append(
                    Prompt(id=values["id"], text=values["text"], category=values.get("category") or None)
                )
            except ValidationError as exc:
                err = exc.errors()[0]
                raise SpecError(file, f"{where}, {err['loc'][0]}", _pydantic_msg(err)) from None
    except csv.Error as exc:
        raise SpecError(file, f"line {reader.line_num}", f"not valid CSV: {exc}") from None
    return prompts


def _text_prompts(text: str, path: Path) -> list[Prompt]:
    """Prompts from a text file, one per non-empty line (ids ``<stem>-<n>``)."""
    prompts: list[Prompt] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "\x00" in line:
            raise SpecError(str(path), f"line {number}", "holds a NUL byte; allowed: text")
        if line.strip():
            prompts.append(Prompt(id=f"{path.stem}-{len(prompts) + 1}", text=line.strip()))
    return prompts


def _pydantic_msg(err: ErrorDetails) -> str:
    return err["msg"].removeprefix("Value error, ")


def _expand_targets(spec: SpecModel, fname: str) -> list[Target]:
    targets: list[Target] = []
    for index, t in enumerate(spec.targets):
        axes = {
            k: (v if isinstance(v, list) else [v]) for k, v in t.model_dump().items() if k in _MATRIX_KEYS
        }
        keys = list(axes)
        for combo in itertools.product(*(axes[k] for k in keys)):
            values = dict(zip(keys, combo, strict=True))
            target = Target(
                model=values["model"],
                provider=values["provider"],
                mode=values["mode"],
                quality=values["quality"],
                size=values["size"],
                aspect_ratio=values["aspect_ratio"],
                resolution=values["resolution"],
                n=values["n"],
                images=tuple(t.images),
                mask=t.mask,
                options=tuple(sorted(t.options.items())),
                spec_index=index,
                batch=t.batch if t.batch is not None else spec.batch is not False,
            )
            label = (
                t.label
                if (t.label and len(list(itertools.product(*axes.values()))) == 1)
                else target.describe()
            )
            targets.append(Target(**{**target.__dict__, "label": label}))
    labels = [t.label for t in targets]
    for i, label in enumerate(labels):
        if labels.count(label) > 1:
            raise SpecError(
                fname, f"targets (expanded #{i})", f"two targets expand to the same label {label!r}"
            )
    return targets


def load_simulated_spec(
    path: str | Path, *, output_dir: str | Path, parameter: str = "example_spec", context: str = ""
) -> ExperimentSpec:
    """:func:`load_spec` of a spec that runs offline only (``simulate``), refused otherwise: a report or a
    demo never spends money on its own. ``parameter`` and ``context`` name where the path was given."""
    spec = load_spec(path, output_dir=output_dir)
    if not spec.simulate:
        raise InvalidParameterError(
            parameter,
            str(path),
            "a spec with simulate: true",
            context=context,
            hint="a report never spends money on its own: run a real spec with imgkit run, then pass its run_dir",
        )
    return spec
