"""Reports: the project's parameterised notebooks executed by Papermill into dated, immutable folders.

``run_report("model_ratings", {"bootstrap": 200})`` executes ``notebooks/model_ratings.ipynb`` with the
``imgkit`` kernel and writes::

    reports/model_ratings/20260124T101530Z/
        model_ratings.ipynb     the executed notebook: the immutable record of the run
        model_ratings.html      self-contained page (nbconvert template imgkit/templates/imgkit_report:
                                figures embedded, nothing fetched; code hidden, a button shows it)
        figures/fig-01-cell07.png ...   every figure of the run as PNG
        run.json                name, status, UTC start, duration, parameters, failing cell
    reports/index.html          every run, newest first, regenerated from the folders

Parameters, lowest precedence first: the notebook's own defaults (its one cell tagged ``parameters``), a
parameters file (YAML; see :func:`load_params_file`), then explicit ``parameters``. A relative path given as
a parameter is made absolute when it names an existing file or directory relative to where it was given (the
caller's working directory, or the parameters file's folder), because the notebook itself runs in
``notebooks/`` as it does in JupyterLab. A notebook declaring a ``report_dir`` parameter (default None) is
given its run folder there, so that what it writes (e.g. a simulated run) stays with the report. Parameters
that look like secrets are refused (:class:`~imgkit.errors.SecretParameterError`): notebooks read keys from
the environment. As a second guard,
the values of secret-looking environment variables are replaced by ``[REDACTED]`` in everything written.

A failing cell marks the run ``failed`` in ``run.json`` and the index, keeps the partial output notebook and
its HTML, and raises :class:`~imgkit.errors.ReportError` naming the cell.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import datetime as dt
import html
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from imgkit._files import write_atomically
from imgkit.catalog import load_yaml
from imgkit.errors import (
    InvalidParameterError,
    ReportError,
    SecretParameterError,
    SpecError,
    UnknownNameError,
    redact,
)
from imgkit.report_params import check_parameters
from imgkit.secret_policy import configured_keys, redact_keys, secret_reason

__all__ = [
    "DEFAULT_KERNEL",
    "NOTEBOOKS_DIR",
    "REPORT_DIR_PARAMETER",
    "Notebook",
    "ParamsFile",
    "ReportRun",
    "check_no_secrets",
    "find_notebooks",
    "load_params_file",
    "load_runs",
    "parse_value",
    "redact_environment_secrets",
    "report_parameters",
    "resolve_notebook",
    "run_report",
    "secret_reason",
    "write_index",
]

logger = logging.getLogger(__name__)

#: the project's notebooks (a checkout or an editable install)
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
#: the Jupyter kernel ``make install`` registers inside the venv
DEFAULT_KERNEL = "imgkit"
_RUN_FILE = "run.json"
_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_PARAMETERS_TAG = "parameters"
#: a notebook declaring this parameter gets its run folder in it (files it writes belong to the report run)
REPORT_DIR_PARAMETER = "report_dir"


# --- notebooks and their parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class Notebook:
    """A report notebook: its name (file stem), path, and declared parameters with their default values."""

    name: str
    path: Path
    parameters: Mapping[str, Any]
    help: Mapping[str, str] = field(default_factory=dict)


def _declared_parameters(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Parameters of the cell tagged ``parameters``: name -> default value (a Python literal) and comment."""
    import papermill

    try:
        found = papermill.inspect_notebook(str(path))
    except ValueError as exc:  # no kernelspec in the notebook metadata
        raise ReportError(f"{path}: {exc}", notebook=str(path)) from None
    defaults, helps = {}, {}
    for name, spec in found.items():
        try:
            defaults[name] = ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):
            defaults[name] = spec["default"]  # an expression: keep its source text
        helps[name] = spec.get("help") or ""
    return defaults, helps


def find_notebooks(notebooks_dir: str | Path | None = None) -> list[Notebook]:
    """Every ``*.ipynb`` in ``notebooks_dir`` (default :data:`NOTEBOOKS_DIR`), sorted by name."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    return [_notebook(path) for path in sorted(folder.glob("*.ipynb"))]


def _notebook(path: Path) -> Notebook:
    defaults, helps = _declared_parameters(path)
    return Notebook(path.stem, path, defaults, helps)


def resolve_notebook(name: str | Path, notebooks_dir: str | Path | None = None) -> Notebook:
    """A notebook by name (``model_ratings``) from ``notebooks_dir``, or by path to an ``.ipynb`` file."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    text = str(name)
    as_path = Path(text)
    if text.endswith(".ipynb") and as_path.is_file():
        return _notebook(as_path.resolve())
    candidate = folder / f"{text.removesuffix('.ipynb')}.ipynb"
    if candidate.is_file():
        return _notebook(candidate)
    raise UnknownNameError("report", text, [p.stem for p in sorted(folder.glob("*.ipynb"))])


def _dates_as_text(value: Any) -> Any:
    """YAML reads ``2027-03-01`` as a date; a notebook parameter is injected as a literal, so it stays text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    return value


def parse_value(text: str, default: Any, *, field: str = "parameter value", context: str = "") -> Any:
    """A parameter value typed on the command line, converted to the type of the notebook's default.

    ``None`` (or ``null``) is None; strings stay strings (so ``"5.00"`` stays exact money text); ints, floats
    and booleans are parsed; anything else (a ``None`` default, lists, mappings) is read as YAML
    (``null``, ``[a, b]``, ``7d``; a date stays its ISO text). Whether the value is allowed is the notebook's rule
    (:mod:`imgkit.report_params`). ``field`` and ``context`` name it in errors.
    """
    if text.strip() in ("None", "null"):
        return None
    if isinstance(default, str):
        return text
    try:
        if isinstance(default, bool):
            value = yaml.safe_load(text)
            if not isinstance(value, bool):
                raise ValueError(text)
            return value
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        return _dates_as_text(yaml.safe_load(text)) if text.strip() else text
    except (ValueError, yaml.YAMLError):
        kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(
            type(default), "a YAML value"
        )
        like = f", like the default {default!r}" if default is not None else ""
        raise InvalidParameterError(field, text, f"{kind}{like}", context=context) from None


# --- parameters files ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamsFile:
    """A parameters file: ``common`` values for every notebook declaring them, ``sections`` per notebook."""

    path: Path
    common: Mapping[str, Any]
    sections: Mapping[str, Mapping[str, Any]]


def load_params_file(path: str | Path, notebooks_dir: str | Path | None = None) -> ParamsFile:
    """Read a YAML parameters file (one per schedule)::

        since: 7d                     # top-level values: every notebook that declares the parameter
        provider_performance:         # a notebook's name: values for that notebook only
          log_path: /var/log/imgkit/log.jsonl
        cost_projection:
          images_per_month: 250000

    Relative paths are read relative to the file's folder (when they exist there). Unknown notebook
    sections and parameters no notebook declares are :class:`SpecError` naming the key.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError("params file", str(path), "an existing YAML file")
    raw = load_yaml(path, error=SpecError) or {}  # numbers exact: converted per notebook (_from_file)
    if not isinstance(raw, dict):
        raise SpecError(str(path), "", "a mapping of parameter names (or notebook names) to values")
    notebooks = {nb.name: nb for nb in find_notebooks(notebooks_dir)}
    declared = {p for nb in notebooks.values() for p in nb.parameters}
    base = path.resolve().parent
    common: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        key = str(key)
        check_no_secrets(value if key in notebooks and isinstance(value, dict) else {key: value})
        if key in notebooks and isinstance(value, dict):
            section = {str(k): _absolute_if_exists(_dates_as_text(v), base) for k, v in value.items()}
            unknown = sorted(set(section) - set(notebooks[key].parameters))
            if unknown:
                raise SpecError(
                    str(path),
                    f"{key}.{unknown[0]}",
                    f"not a parameter of {key}; its parameters: {', '.join(notebooks[key].parameters)}",
                )
            sections[key] = section
        elif key in declared:
            common[key] = _absolute_if_exists(_dates_as_text(value), base)
        else:
            raise SpecError(
                str(path),
                key,
                "neither a notebook name nor a parameter any notebook declares; "
                f"notebooks: {', '.join(notebooks)}",
            )
    return ParamsFile(path, common, sections)


def _absolute_if_exists(value: Any, base: Path) -> Any:
    """A relative path that exists under ``base`` becomes absolute; any other value is returned unchanged."""
    if not isinstance(value, str) or not value or "\n" in value or len(value) > 4096:
        return value
    candidate = Path(value).expanduser()
    if candidate.is_absolute():
        return value
    try:
        resolved = base / candidate
        return str(resolved.resolve()) if resolved.exists() else value
    except OSError:
        return value


def report_parameters(
    notebook: Notebook,
    parameters: Mapping[str, Any] | None = None,
    params_file: ParamsFile | str | Path | None = None,
    *,
    base: Path | None = None,
) -> dict[str, Any]:
    """The parameters to inject: file common values it declares, its file section, then ``parameters``.

    ``parameters`` must all be declared by the notebook (a typo is an error, not a silent default); string
    values are converted to the declared default's type (:func:`parse_value`) and relative paths that exist
    under ``base`` (default: the working directory) made absolute. Secret-looking names or values raise
    :class:`SecretParameterError`.
    """
    if params_file is not None and not isinstance(params_file, ParamsFile):
        params_file = load_params_file(params_file, notebook.path.parent)
    merged: dict[str, Any] = {}
    origins: dict[str, tuple[str, str]] = {}  # values from the parameters file: (file, key) for messages
    if params_file is not None:
        common = {k: v for k, v in params_file.common.items() if k in notebook.parameters}
        section = params_file.sections.get(notebook.name, {})
        for name, value in {**common, **section}.items():
            merged[name] = _from_file(value, notebook.parameters[name])
            origins[name] = (str(params_file.path), f"{notebook.name}.{name}" if name in section else name)
    base = base or Path.cwd()
    check_no_secrets(parameters or {})  # before the name check: a key passed by mistake is named as such
    for name, value in (parameters or {}).items():
        if name not in notebook.parameters:
            raise UnknownNameError("parameter", name, list(notebook.parameters), context=notebook.name)
        if isinstance(value, str):
            value = parse_value(
                value, notebook.parameters[name], field=name, context=f"report {notebook.name}"
            )
        merged[name] = _absolute_if_exists(value, base)
        origins.pop(name, None)
    check_no_secrets(merged)
    check_parameters(
        notebook.name, merged, defaults=notebook.parameters, folder=notebook.path.parent, origins=origins
    )
    return merged


def _from_file(value: Any, default: Any) -> Any:
    """A parameters file's value for a notebook: YAML numbers are read exactly, then given as the notebook
    takes them (text where its default is text, so money stays exact; else a float)."""
    if isinstance(value, Decimal):
        return format(value, "f") if isinstance(default, str) else float(value)
    if isinstance(value, list):
        return [_from_file(v, None) for v in value]
    if isinstance(value, dict):
        return {k: _from_file(v, None) for k, v in value.items()}
    return value


# --- secrets (the policy, names and values alike, is imgkit.secret_policy) ---------------------------------------


def check_no_secrets(parameters: Mapping[str, Any]) -> None:
    """Raise :class:`SecretParameterError` naming the first parameter that looks like a secret (never its value)."""
    for name, value in parameters.items():
        reason = secret_reason(name, value)
        if reason:
            raise SecretParameterError(
                f"parameter {name!r} looks like a secret ({reason}); notebooks read API keys from the "
                "environment (OPENAI_API_KEY, FAL_KEY, LUMENFALL_API_KEY), never from parameters"
            )


def _secret_environment_values() -> list[str]:
    """The configured keys (:func:`imgkit.secret_policy.configured_keys`), longest first."""
    return list(configured_keys())


def redact_environment_secrets(text: str, secrets: Sequence[str] | None = None) -> str:
    """``text`` with every configured key (or every key of ``secrets``) redacted, whole or any part of it."""
    return redact_keys(text, secrets)


# --- running ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRun:
    """One execution of a report notebook and the files it left."""

    name: str
    status: str  # "ok" | "failed"
    run_dir: Path
    notebook: Path
    html: Path | None
    figures: tuple[Path, ...]
    parameters: Mapping[str, Any]
    started_at: dt.datetime
    duration_s: float
    index: Path
    error: str | None = None
    failed_cell: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    known = KernelSpecManager().find_kernel_specs()
    if kernel_name not in known:
        raise InvalidParameterError(
            "kernel_name",
            kernel_name,
            sorted(known),
            hint="`make install` registers the imgkit kernel in the venv "
            "(python -m ipykernel install --sys-prefix --name imgkit)",
        )


def _new_run_dir(out_dir: Path, name: str, now: dt.datetime) -> Path:
    stamp = now.strftime(_STAMP_FORMAT)
    for k in range(1000):
        run_dir = out_dir / name / (stamp if k == 0 else f"{stamp}-{k}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
    raise ReportError(f"{out_dir / name}: too many runs started at {stamp}", notebook=name)


def run_report(
    name: str | Path,
    parameters: Mapping[str, Any] | None = None,
    params_file: ParamsFile | str | Path | None = None,
    out_dir: str | Path = Path("reports"),
    kernel_name: str = DEFAULT_KERNEL,
    start_timeout: int = 60,
    progress: bool = False,
    *,
    notebooks_dir: str | Path | None = None,
) -> ReportRun:
    """Execute a report notebook with Papermill and write its run folder, HTML, figures and the index.

    ``name``: a notebook in ``notebooks_dir`` (default ``notebooks/``) or a path to an ``.ipynb``. The kernel
    starts in the notebook's folder, as in JupyterLab. ``progress`` shows Papermill's per-cell bar on stderr
    (``imgkit report`` turns it on); the start and the end of each run are logged (INFO, logger
    ``imgkit.reports``). Raises :class:`ReportError` (with ``.run``) naming the failing cell.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = resolve_notebook(name, notebooks_dir)
    values = report_parameters(notebook, parameters, params_file)
    _check_kernel(kernel_name)
    out_dir = Path(out_dir)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run_dir = _new_run_dir(out_dir, notebook.name, started)
    if REPORT_DIR_PARAMETER in notebook.parameters and values.get(REPORT_DIR_PARAMETER) is None:
        values[REPORT_DIR_PARAMETER] = str(run_dir.resolve())
    output = run_dir / f"{notebook.name}.ipynb"
    record: dict[str, Any] = {
        "name": notebook.name,
        "status": "running",
        "started_at": started.isoformat(),
        "duration_s": None,
        "parameters": values,
        "kernel": kernel_name,
        "source": str(notebook.path),
        "error": None,
        "failed_cell": None,
    }
    _write_record(run_dir, record)
    logger.info("report %s: running (kernel %s) -> %s", notebook.name, kernel_name, run_dir)
    clock = time.perf_counter()
    error = failed_cell = None
    try:
        with _kernel_sockets() as kernel_options:
            papermill.execute_notebook(
                str(notebook.path),
                str(output),
                parameters=values,
                kernel_name=kernel_name,
                start_timeout=start_timeout,
                progress_bar=progress,
                cwd=str(notebook.path.parent),
                request_save_on_cell_execute=True,
                **kernel_options,
            )
    except PapermillExecutionError as exc:
        failed_cell = _cell_name(exc)
        error = f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, start timeout, ...: the run is failed, its folder kept
        error = f"{type(exc).__name__}: {exc}"
    duration = time.perf_counter() - clock
    secrets = _secret_environment_values()
    error = redact(redact_environment_secrets(error, secrets)) if error else None
    failed_cell = redact_environment_secrets(failed_cell, secrets) if failed_cell else None
    html_path, figures = _render_outputs(output, notebook.name, record, secrets)
    record.update(
        status="failed" if error else "ok",
        duration_s=round(duration, 2),
        error=error,
        failed_cell=failed_cell,
        figures=[str(p.relative_to(run_dir)) for p in figures],
    )
    _write_record(run_dir, record)
    index = write_index(out_dir)
    run = ReportRun(
        notebook.name,
        record["status"],
        run_dir,
        output,
        html_path,
        tuple(figures),
        values,
        started,
        duration,
        index,
        error,
        failed_cell,
    )
    logger.info(
        "report %s: %s in %.1f s%s",
        notebook.name,
        run.status,
        duration,
        f" ({failed_cell}: {error})" if error else f", {len(figures)} figures",
    )
    if error:
        where = f" at {failed_cell}" if failed_cell else ""
        raise ReportError(
            f"report {notebook.name} failed{where}: {error} (partial output kept: {output})",
            notebook=notebook.name,
            cell=failed_cell or "",
            output=str(output),
            run=run,
        )
    return run


@contextlib.contextmanager
def _kernel_sockets() -> Iterator[dict[str, Any]]:
    """Papermill options that connect to the kernel over Unix domain sockets in a private folder (0700).

    Nothing then listens on a TCP port, not even on loopback, and the kernel has no reason to print its
    "running over TCP without encryption" warning for every report. Windows has no such sockets: TCP there.
    """
    if os.name == "nt":
        yield {}
        return
    from traitlets.config import Config

    # a Unix socket path must stay under ~104 bytes: fall back to /tmp when TMPDIR is deep
    base = tempfile.gettempdir()
    with tempfile.TemporaryDirectory(
        prefix="imgkit-kernel-", dir=base if len(base) < 60 or not os.path.isdir("/tmp") else "/tmp"
    ) as folder:
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = os.path.join(folder, "kernel")
        yield {"config": config}


def _cell_name(exc: Any) -> str:
    """``cell In [7] "fit = fit_bradley_terry(votes, ..."``: the execution count and the cell's first line."""
    first = next((line.strip() for line in str(exc.source or "").splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    count = f"In [{exc.exec_count}]" if exc.exec_count is not None else f"#{exc.cell_index + 1}"
    return f"cell {count}" + (f' "{first}"' if first else "")


def _write_record(run_dir: Path, record: Mapping[str, Any]) -> None:
    text = json.dumps(record, indent=2, default=str, ensure_ascii=False)
    write_atomically(run_dir / _RUN_FILE, redact_environment_secrets(text) + "\n")


# --- outputs: redaction, figures, HTML ------------------------------------------------------------------------------


def _render_outputs(
    output: Path, name: str, record: Mapping[str, Any], secrets: Sequence[str]
) -> tuple[Path | None, list[Path]]:
    """Redact the executed notebook in place, extract its PNG figures and export its HTML page."""
    import nbformat

    if not output.is_file():  # the kernel never started: nothing was written
        return None, []
    nb = nbformat.read(str(output), as_version=4)
    if secrets:
        _redact_notebook(nb, secrets)
        nbformat.write(nb, str(output))
    figures = _extract_figures(nb, output.parent / "figures")
    html_path = output.with_suffix(".html")
    write_atomically(html_path, redact_environment_secrets(_to_html(nb, name, record), secrets))
    return html_path, figures


def _redact_notebook(nb: Any, secrets: Sequence[str]) -> None:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redact_environment_secrets(value, secrets)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            for k in list(value):
                value[k] = clean(value[k])
            return value
        return value

    for cell in nb.cells:
        cell.source = clean(cell.source)
        for out in cell.get("outputs", []):
            clean(out)


def _extract_figures(nb: Any, folder: Path) -> list[Path]:
    """Every ``image/png`` output as ``figures/fig-NN-cellMM.png`` in notebook order."""
    figures: list[Path] = []
    for position, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get("image/png")
            if not data:
                continue
            folder.mkdir(exist_ok=True)
            path = folder / f"fig-{len(figures) + 1:02d}-cell{position:02d}.png"
            text = "".join(data) if isinstance(data, list) else data
            path.write_bytes(base64.b64decode(text))
            figures.append(path)
    return figures


#: nbconvert template of the report pages (``imgkit/templates/imgkit_report``): nbconvert's lab template made
#: self-contained (no CDN scripts), with the run banner and the show/hide-code button
_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_TEMPLATE = "imgkit_report"


def _to_html(nb: Any, name: str, record: Mapping[str, Any]) -> str:
    """A self-contained page (figures embedded as data URIs, no script or style fetched from elsewhere) with a
    run banner and a show/hide-code button, rendered by the ``imgkit_report`` nbconvert template."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=_TEMPLATE,
        extra_template_basedirs=[str(_TEMPLATE_DIR)],
        embed_images=True,
    )
    status = "failed" if record.get("error") else "ok"
    params = ", ".join(f"{k} = {v!r}" for k, v in (record.get("parameters") or {}).items()) or "defaults"
    failure = (
        f"failed at {record.get('failed_cell') or '?'}: {record.get('error') or ''}"
        if status == "failed"
        else ""
    )
    nb.metadata["title"] = f"{name} · imgkit report"
    run = {
        "name": name,
        "started": _display_time(record.get("started_at")),
        "status": status,
        "failure": failure,
        "parameters": params,
        "notebook": f"{name}.ipynb",
    }
    body, _ = exporter.from_notebook_node(nb, resources={"imgkit": run})
    return body


def _display_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return iso


# --- the index ------------------------------------------------------------------------------------------------------


def load_runs(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every run folder's ``run.json`` under ``out_dir`` (with its ``run_dir``), newest first."""
    out_dir = Path(out_dir)
    runs = []
    for path in out_dir.glob(f"*/*/{_RUN_FILE}"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            record = {"name": path.parent.parent.name, "status": "unreadable", "started_at": None}
        record["run_dir"] = path.parent
        runs.append(record)
    runs.sort(key=lambda r: (r.get("started_at") or "", r["run_dir"].name), reverse=True)
    return runs


def write_index(out_dir: str | Path) -> Path:
    """Regenerate ``out_dir/index.html`` from the run folders: every run, newest first, with its links."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    esc = html.escape
    rows = []
    for run in load_runs(out_dir):
        rel = run["run_dir"].relative_to(out_dir).as_posix()
        name = str(run.get("name", run["run_dir"].parent.name))
        status = str(run.get("status", "?"))
        links = [
            f'<a href="{esc(rel)}/{esc(file)}">{label}</a>'
            for file, label in ((f"{name}.html", "HTML"), (f"{name}.ipynb", "notebook"))
            if (run["run_dir"] / file).is_file()
        ]
        figures = run.get("figures") or []
        if figures:
            links.append(f'<a href="{esc(rel)}/figures/">{len(figures)} figures</a>')
        detail = ""
        if status == "failed":
            detail = f"{run.get('failed_cell') or ''}: {run.get('error') or ''}".strip(": ")
        duration = run.get("duration_s")
        rows.append(
            f'<tr class="{esc(status)}"><td>{esc(name)}</td><td>{esc(_display_time(run.get("started_at")))}</td>'
            f'<td class="status">{esc(status)}</td><td>{"" if duration is None else f"{duration:.1f} s"}</td>'
            f"<td>{' · '.join(links)}</td><td>{esc(detail)}</td></tr>"
        )
    others = _other_reports(out_dir)
    doc = f"""<!doctype html>
<html lang="en"><meta charset="utf-8"><title>imgkit reports</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ text-align: left; padding: 4px 12px; border-bottom: 1px solid #eee; }}
tr.failed .status {{ color: #b00020; font-weight: 600; }} tr.ok .status {{ color: #1b7f3b; }}
tr.running .status {{ color: #a36b00; }}
</style>
<h1>imgkit reports</h1>
<p>Every report run, newest first. Each folder holds the executed notebook (the record of the run), its HTML
page and its figures as PNG.</p>
<table><tr><th>report</th><th>started</th><th>status</th><th>duration</th><th>files</th><th>failure</th></tr>
{"".join(rows) or '<tr><td colspan="6">no runs yet</td></tr>'}
</table>
{others}
</html>
"""
    return write_atomically(out_dir / "index.html", doc)  # a scheduled run may rewrite it while it is served


def _other_reports(out_dir: Path) -> str:
    """Links to other documents under ``out_dir`` that are not report runs (e.g. ``imgkit prices --out``)."""
    links = []
    for folder in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        if any(folder.glob(f"*/{_RUN_FILE}")):
            continue
        for file in sorted(folder.iterdir()):
            if file.suffix in (".html", ".md", ".csv"):
                rel = file.relative_to(out_dir).as_posix()
                links.append(f'<li><a href="{html.escape(rel)}">{html.escape(rel)}</a></li>')
    return f"<h2>Other reports</h2><ul>{''.join(links)}</ul>" if links else ""
