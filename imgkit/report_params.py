"""What each report notebook's parameters may be, checked before a kernel starts.

Every parameter of every notebook in ``notebooks/`` has a :class:`Rule` here (a test keeps the two in step):
what is allowed, said in words for messages, and a check of one value. Files a parameter names are read
with the package's own readers (a request log, votes, a workload, a spec), so a malformed one is refused
with the reader's error naming the file, the line and the field. Rules that tie parameters together (a
horizon the workload can hold, a log read through its mapping) run whenever one of them is given.

:func:`imgkit.reports.report_parameters` calls :func:`check_parameters`, so ``imgkit report`` and
:func:`imgkit.reports.run_report` both refuse a bad value in one line, before any folder is made or
kernel started, instead of a failing cell seconds later.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from imgkit.analysis.frontier import ARENA_CATALOG, OBJECTIVES
from imgkit.analysis.performance import group_columns, parse_time_bound
from imgkit.analysis.projection import MAX_MONTHS, check_horizon, load_workload, resolve_options
from imgkit.analysis.published import BOARDS, find_snapshot, parse_day
from imgkit.analysis.ratings import normalise_votes, parse_anchor, read_votes
from imgkit.catalog import parse_wxh
from imgkit.errors import ImgkitError, InvalidParameterError, SpecError, UnknownNameError
from imgkit.grids import AXES
from imgkit.records.importers.openai_usage import read_costs
from imgkit.records.rundir import RunDirectory
from imgkit.records.scan import scan_log
from imgkit.runs.spec import load_simulated_spec

__all__ = ["NOTEBOOK_RULES", "Rule", "check_parameters"]


@dataclass(frozen=True)
class Rule:
    """One parameter: ``allowed`` says what may be given; ``check(value, folder)`` returns None when the
    value is fine, else a reason (may be empty). ``folder`` is the notebook's, where relative paths point."""

    allowed: str
    check: Callable[[Any, Path], str | None]


def _choice(*values: Any) -> Rule:
    def check(v: Any, _: Path) -> str | None:  # by type too: 1 is not True, 0 is not False
        return None if any(type(v) is type(x) and v == x for x in values) else ""

    return Rule(", ".join(str(v) for v in values), check)


def _whole(low: int, high: int | None = None) -> Rule:
    allowed = f"a whole number from {low} to {high}" if high is not None else f"a whole number, {low} or more"

    def check(v: Any, _: Path) -> str | None:
        ok = isinstance(v, int) and not isinstance(v, bool) and low <= v and (high is None or v <= high)
        return None if ok else ""

    return Rule(allowed, check)


def _number(*, positive: bool = False, optional: bool = False) -> Rule:
    allowed = ("a number above 0" if positive else "a number") + (", or None" if optional else "")

    def check(v: Any, _: Path) -> str | None:
        if v is None and optional:
            return None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        return None if ok and (not positive or v > 0) else ""

    return Rule(allowed, check)


def _amount(low: Decimal, high: Decimal | None = None, *, optional: bool = False, what: str = "") -> Rule:
    """Exact decimal text (a YAML number is read from its text); ``high`` excluded, as is ``low`` when a
    ``high`` is given (a fraction strictly between them)."""
    span = f"between {low} and {high}" if high is not None else f"{low} or more"
    allowed = f'{what or "a decimal number"} {span}, as text such as "0.1"' + (
        ", or None" if optional else ""
    )

    def check(v: Any, _: Path) -> str | None:
        if v is None and optional:
            return None
        if isinstance(v, (float, bool)) or not isinstance(v, (str, int, Decimal)):
            return "a binary float is not exact; write the number as text" if isinstance(v, float) else ""
        try:
            number = Decimal(str(v))
        except InvalidOperation:
            return ""
        ok = number.is_finite() and (low < number < high if high is not None else number >= low)
        return None if ok else ""

    return Rule(allowed, check)


def _text(*, optional: bool = False) -> Rule:
    return Rule(
        "text" + (", or None" if optional else ""),
        lambda v, _: None if (v is None and optional) or (isinstance(v, str) and v.strip()) else "",
    )


def _path(what: str, *, folder: bool = False, optional: bool = False) -> Rule:
    allowed = (
        f"{what}{', or None' if optional else ''} (a relative path: from where it is given, else notebooks/)"
    )

    def check(v: Any, base: Path) -> str | None:
        if v is None and optional:
            return None
        if not isinstance(v, (str, Path)) or not str(v).strip():
            return ""
        path = _resolve(str(v), base)
        if folder and path.is_file():
            return f"{path} is a file, not a directory"
        if not path.exists():
            return f"not found where it was given{'' if Path(str(v)).is_absolute() else f' nor in {base}'}"
        return None

    return Rule(allowed, check)


def _resolve(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _parsed(allowed: str, parse: Callable[[Any], Any], *, optional: bool = False) -> Rule:
    """A value the package's own parser accepts (``ValueError`` is how ``parse_wxh`` refuses)."""

    def check(v: Any, _: Path) -> str | None:
        if v is None and optional:
            return None
        try:
            parse(v)
        except (ImgkitError, ValueError) as exc:
            return exc.hint if isinstance(exc, InvalidParameterError) else ""
        return None

    return Rule(allowed + (", or None" if optional else ""), check)


def _time_bound(v: Any) -> None:
    parse_time_bound(v if isinstance(v, (dt.date, dt.datetime)) else str(v), dt.datetime.now(dt.UTC))


def _grouping(v: Any) -> None:
    if not isinstance(v, str):
        raise ValueError(v)
    group_columns(v)


def _grid_axes(v: Any) -> None:
    names = [n.strip() for n in v.split(",") if n.strip()] if isinstance(v, str) else []
    if not names or any(n not in AXES for n in names):
        raise ValueError(v)


def _wxh(v: Any) -> None:
    parse_wxh(str(v))


def _anchor(v: Any) -> None:
    parse_anchor(v)


def _aliases(v: Any) -> None:
    if not isinstance(v, Mapping) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise ValueError(v)


_LOG = "a request log: log.jsonl, a Parquet file or folder, or a CSV"
_MAPPING = "a YAML column mapping file (see imgkit.records.scan)"
_VOTES = "a votes CSV or Parquet file"
_PROVENANCE = ("published", "measured", "simulated")
_BOOTSTRAP = _whole(0, 100_000)


_TIME_BOUND = _parsed("a span before now such as 30d, 12h, 2w, or an ISO date", _time_bound, optional=True)
_AXES = _parsed(f"grid axes, comma-separated ({', '.join(AXES)})", _grid_axes)

#: notebook name -> parameter name -> rule
NOTEBOOK_RULES: Mapping[str, Mapping[str, Rule]] = {
    "provider_performance": {
        "log_path": _path(_LOG),
        "log_mapping": _path(_MAPPING, optional=True),
        "by": _parsed("grouping columns, comma-separated", _grouping),
        "since": _TIME_BOUND,
        "until": _TIME_BOUND,
        "period": _choice(None, "day", "week"),
        "latency_kind": _choice("box", "violin"),
    },
    "model_ratings": {
        "votes_path": _path(_VOTES),
        "votes_provenance": _choice(*_PROVENANCE),
        "votes_source": _text(),
        "category": _text(optional=True),
        "bootstrap": _BOOTSTRAP,
        "seed": _whole(0, 2**32 - 1),
        "anchor": _parsed("MODEL=VALUE with a finite number, e.g. SDXL=1000", _anchor, optional=True),
        "published_ratings_path": _path("a CSV of published ratings (model, rating)", optional=True),
        "published_ratings_source": _text(),
    },
    "elo_vs_speed": {
        "leaderboard": _text(optional=True),
        "board": _choice(*BOARDS),
        "leaderboards_dir": _path(
            "a folder of leaderboard snapshots (YAML) with an aliases.yaml", folder=True
        ),
        "today": _parsed("a date YYYY-MM-DD", parse_day, optional=True),
        "votes_path": _path(_VOTES, optional=True),
        "run_dir": _path(
            "a run directory written by imgkit run and judged with imgkit vote",
            folder=True,
            optional=True,
        ),
        "votes_provenance": _choice(*_PROVENANCE),
        "bootstrap": _BOOTSTRAP,
        "log_path": _path(_LOG, optional=True),
        "log_mapping": _path(_MAPPING, optional=True),
        "cost_from": _choice("catalog", "log"),
        "quality": _text(),
        "size": _parsed("WIDTHxHEIGHT such as 1024x1024", _wxh),
        "aliases": _parsed("a mapping of model names to catalog model ids", _aliases),
        "quality_floor": _number(optional=True),
        "latency_ceiling_ms": _number(positive=True, optional=True),
        "budget_usd_per_image": _amount(Decimal(0), optional=True, what="an amount in USD"),
        "objective": _choice(*OBJECTIVES),
        "statistical": _choice(True, False),
    },
    "cost_projection": {
        "workload_path": _path("a workload YAML file (format: imgkit.analysis.projection)"),
        "months": _whole(1, MAX_MONTHS),
        "log_path": _path(_LOG, optional=True),
        "log_mapping": _path(_MAPPING, optional=True),
        "sensitivity_delta": _amount(Decimal(0), Decimal(1), what="a fraction"),
        "option": _text(optional=True),
    },
    "spend_reconciliation": {
        "import_dir": _path("a directory written by imgkit import", folder=True),
        "import_provenance": _choice("measured", "simulated"),
        "billed_path": _path("OpenAI Costs API page(s) as JSON", optional=True),
        "since": _TIME_BOUND,
        "top_flagged": _whole(0, 10_000),
    },
    "comparison_grid": {
        "run_dir": _path("a run directory written by imgkit run", folder=True, optional=True),
        "example_spec": _path("an experiment spec with simulate: true"),
        "rows": _AXES,
        "cols": _AXES,
        "cell_px": _whole(16, 2048),
        "report_dir": _text(optional=True),
    },
}


def check_parameters(
    notebook: str,
    given: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any],
    folder: Path,
    origins: Mapping[str, tuple[str, str]] | None = None,
) -> None:
    """Refuse the first given parameter its rule does not allow, then check the files and combinations the
    given parameters touch (with the notebook's ``defaults`` for the others).

    ``origins``: parameter -> (parameters file, key) for values read from a file, so that the error names it
    (:class:`SpecError`); other values are refused as :class:`InvalidParameterError` naming the report. A
    notebook without rules (one of your own) is not checked.
    """
    rules = NOTEBOOK_RULES.get(notebook)
    if rules is None:
        return
    origins = origins or {}
    for name, value in given.items():
        rule = rules.get(name)
        reason = rule.check(value, folder) if rule is not None else None
        if rule is None or reason is None:
            continue
        if name in origins:
            file, key = origins[name]
            more = f" ({reason})" if reason else ""
            raise SpecError(
                file, key, f"{value!r} is not allowed for report {notebook}; allowed: {rule.allowed}{more}"
            )
        raise InvalidParameterError(name, value, rule.allowed, context=f"report {notebook}", hint=reason)
    if given:
        _COMBINATIONS[notebook](set(given), {**defaults, **given}, folder, notebook)


def _path_of(values: Mapping[str, Any], name: str, folder: Path) -> Path | None:
    value = values.get(name)
    return _resolve(str(value), folder) if isinstance(value, (str, Path)) else None


def _required_path(values: Mapping[str, Any], name: str, folder: Path, notebook: str) -> Path:
    """The path ``name`` the checks must read: a notebook of this name whose own default is not a path (None)
    is refused here, naming the parameter, rather than failing inside the loader."""
    path = _path_of(values, name, folder)
    if path is None:
        rule = NOTEBOOK_RULES[notebook][name]
        raise InvalidParameterError(name, values.get(name), rule.allowed, context=f"report {notebook}")
    return path


def _check_log(given: set[str], values: Mapping[str, Any], folder: Path, log: Path | None) -> None:
    """The log is read as the notebook will read it (its mapping too): a bad line is refused now."""
    if log is None or not {"log_path", "log_mapping"} & given:
        return
    scan_log(log, mapping=_path_of(values, "log_mapping", folder))


def _check_run_dir(run_dir: Path, notebook: str, *, votes: bool) -> None:
    """A run directory holding a readable journal (and votes from ``imgkit vote``, when ``votes``)."""
    run = RunDirectory(run_dir)
    needed = (run.log_path, run.votes_path) if votes else (run.log_path,)
    for path in needed:
        if not path.is_file():
            names = " and ".join(p.name for p in needed)
            what = f"a run directory holding {names}" + (" (imgkit vote)" if votes else "")
            raise InvalidParameterError(
                "run_dir", str(run_dir), what, context=f"report {notebook}", hint=f"no {path.name}"
            )
    run.scan()
    if votes:
        normalise_votes(run.votes_path)


def _provider_performance(given: set[str], values: Mapping[str, Any], folder: Path, notebook: str) -> None:
    _check_log(given, values, folder, _path_of(values, "log_path", folder))


def _model_ratings(given: set[str], values: Mapping[str, Any], folder: Path, notebook: str) -> None:
    if {"votes_path", "category"} & given:
        normalise_votes(_path_of(values, "votes_path", folder), category=values.get("category"))
    published = _path_of(values, "published_ratings_path", folder)
    if published is not None and "published_ratings_path" in given:
        missing = {"model", "rating"} - set(read_votes(published).columns)
        if missing:
            raise SpecError(
                str(published),
                "header",
                f"needs columns model and rating; missing {', '.join(sorted(missing))}",
            )


def _elo_vs_speed(given: set[str], values: Mapping[str, Any], folder: Path, notebook: str) -> None:
    if {"leaderboard", "board", "leaderboards_dir"} & given and values.get("leaderboard") != ARENA_CATALOG:
        find_snapshot(
            values.get("leaderboard"), values["board"], _path_of(values, "leaderboards_dir", folder)
        )
    run_dir = _path_of(values, "run_dir", folder)
    if run_dir is not None and "run_dir" in given:
        _check_run_dir(run_dir, notebook, votes=True)
    votes = _path_of(values, "votes_path", folder)
    if votes is not None and "votes_path" in given:
        normalise_votes(votes)
    if values.get("cost_from") == "log" and not (values.get("log_path") or run_dir):
        raise InvalidParameterError(
            "cost_from",
            "log",
            "catalog, or log together with a log_path or run_dir",
            context=f"report {notebook}",
        )
    _check_log(given, values, folder, _path_of(values, "log_path", folder))


def _cost_projection(given: set[str], values: Mapping[str, Any], folder: Path, notebook: str) -> None:
    if not given - {"log_mapping", "log_path"} and values.get("log_path"):  # the log alone
        _check_log(given, values, folder, _path_of(values, "log_path", folder))
        return
    workload = load_workload(_required_path(values, "workload_path", folder, notebook))
    if {"workload_path", "months", "sensitivity_delta"} & given:
        check_horizon(workload, values["months"])
        check_horizon(workload, values["months"], scale=1 + Decimal(str(values["sensitivity_delta"])))
    log = _path_of(values, "log_path", folder) or (
        Path(workload.reliability_log) if workload.reliability_log else None
    )
    _check_log(given | ({"log_path"} if "workload_path" in given else set()), values, folder, log)
    if values.get("option") is not None and {"option", "workload_path"} & given:
        options, _ = resolve_options(workload)
        names = [o.name for o in options]
        if values["option"] not in names:
            raise UnknownNameError("option", values["option"], names, context=f"report {notebook}")


def _spend_reconciliation(given: set[str], values: Mapping[str, Any], folder: Path, notebook: str) -> None:
    """The import directory and the Costs pages are read as the notebook reads them."""
    directory = _path_of(values, "import_dir", folder)
    if directory is not None and "import_dir" in given:
        scan_log(directory)
    billed = _path_of(values, "billed_path", folder)
    if billed is not None and "billed_path" in given:
        read_costs(billed)


def _comparison_grid(given: set[str], values: Mapping[str, Any], folder: Path, notebook: str) -> None:
    run_dir = _path_of(values, "run_dir", folder)
    if run_dir is not None:
        if "run_dir" in given:
            _check_run_dir(run_dir, notebook, votes=False)
        return
    if {"example_spec", "run_dir"} & given:
        load_simulated_spec(
            _required_path(values, "example_spec", folder, notebook),
            output_dir=folder / "_unused",
            context=f"report {notebook}",
        )


_COMBINATIONS: Mapping[str, Callable[[set[str], Mapping[str, Any], Path, str], None]] = {
    "provider_performance": _provider_performance,
    "model_ratings": _model_ratings,
    "elo_vs_speed": _elo_vs_speed,
    "cost_projection": _cost_projection,
    "spend_reconciliation": _spend_reconciliation,
    "comparison_grid": _comparison_grid,
}
