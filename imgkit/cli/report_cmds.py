"""``imgkit report [NAME ...]``: execute report notebooks with Papermill into ``reports/<name>/<timestamp>/``.

No names (or ``--all``) runs every notebook in ``notebooks/``. ``-p KEY VALUE`` sets a parameter of every
named notebook that declares it (values are converted to the type of the notebook's default); ``-f FILE``
reads a YAML parameters file (common values and per-notebook sections, e.g. ``schedules/weekly.yaml``).
Every notebook runs even when one fails; the command ends by printing the path of ``reports/index.html`` and
exits 1 naming each failing notebook and cell. ``--list`` shows the notebooks and their parameters. Progress
on stderr: Papermill's per-cell bar and a line as each notebook starts and ends (``--no-progress``: none).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from imgkit.cli._logging import show_info
from imgkit.errors import InvalidParameterError, ReportError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="run report notebooks (Papermill) into reports/<name>/<timestamp>/ with HTML, PNG figures, index",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="notebook names (default: every notebook)")
    p.add_argument("--all", action="store_true", help="run every notebook in notebooks/")
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="set a notebook parameter (repeatable); never a key: keys come from the environment",
    )
    p.add_argument("-f", "--params-file", type=Path, metavar="PARAMS.yaml", help="YAML parameters file")
    p.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR", help="reports folder")
    p.add_argument("--kernel", default=None, help="Jupyter kernel name (default: imgkit)")
    p.add_argument("--start-timeout", type=int, default=60, metavar="S", help="kernel start timeout, seconds")
    p.add_argument(
        "--no-progress", action="store_true", help="no per-cell progress bar, no line per notebook"
    )
    p.add_argument("--list", action="store_true", help="list the notebooks and their parameters, run nothing")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from imgkit.reports import (
        DEFAULT_KERNEL,
        check_no_secrets,
        find_notebooks,
        load_params_file,
        report_parameters,
        resolve_notebook,
        run_report,
    )

    notebooks = [resolve_notebook(n) for n in args.names] if args.names and not args.all else find_notebooks()
    if args.list:
        for nb in notebooks:
            print(nb.name)
            for key, default in nb.parameters.items():
                note = f"  # {nb.help[key]}" if nb.help.get(key) else ""
                print(f"    {key} = {default!r}{note}")
        return 0
    overrides = dict(args.parameter)
    check_no_secrets(overrides)
    params_file = load_params_file(args.params_file) if args.params_file else None
    for key in overrides:
        if not any(key in nb.parameters for nb in notebooks):
            declared = sorted({k for nb in notebooks for k in nb.parameters})
            raise InvalidParameterError("-p", key, declared, hint="no selected notebook declares it")
    # every notebook's parameters are checked (types, secrets) before the first one runs
    plans = [(nb, {k: v for k, v in overrides.items() if k in nb.parameters}) for nb in notebooks]
    for nb, own in plans:
        report_parameters(nb, own, params_file)
    failures: list[ReportError] = []
    index = None
    with contextlib.nullcontext() if args.no_progress else show_info("imgkit.reports"):
        for nb, own in plans:
            try:
                run = run_report(
                    nb.path,
                    own,
                    params_file,
                    out_dir=args.out,
                    kernel_name=args.kernel or DEFAULT_KERNEL,
                    start_timeout=args.start_timeout,
                    progress=not args.no_progress,
                )
                index = run.index
            except ReportError as exc:
                failures.append(exc)
                index = exc.run.index if exc.run is not None else index
    if index is not None:
        print(index.resolve())
    for failure in failures:
        print(f"imgkit: error: {failure}", file=sys.stderr)
    return 1 if failures else 0
