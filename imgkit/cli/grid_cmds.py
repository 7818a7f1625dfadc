"""``imgkit grid RUN_DIR``: a run's images side by side (PNG, and an HTML page linking the full-size images).

``--json`` prints ``{"png", "html", "rows", "cols", "cells", "failed"}``.
"""

from __future__ import annotations

import argparse

from imgkit.cli._output import emit_json


def register(sub: argparse._SubParsersAction) -> None:
    from imgkit.grids import AXES

    axes = ", ".join(AXES)
    p = sub.add_parser(
        "grid",
        help="comparison grid of a run: rows x columns of images captioned with cost, latency, size",
        description=f"Draw a run directory's images as a grid. Axes: {axes}. Failed cells show the error class.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (holds log.jsonl and images/)")
    p.add_argument("--rows", default="prompt", help="comma-separated row axes (default: prompt)")
    p.add_argument(
        "--cols", default="model,quality", help="comma-separated column axes (default: model,quality)"
    )
    p.add_argument("--out", metavar="FILE.png", help="where to write the PNG (default RUN_DIR/grid.png)")
    p.add_argument("--cell-px", type=int, default=256, help="largest cell size in pixels (default 256)")
    p.add_argument(
        "--max-width-px", type=int, default=2400, help="wider grids get smaller cells (default 2400)"
    )
    p.add_argument("--no-html", action="store_true", help="do not write the HTML page beside the PNG")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_grid)


def cmd_grid(args: argparse.Namespace) -> int:
    from imgkit.grids import make_grid

    result = make_grid(
        args.run_dir,
        rows=args.rows,
        cols=args.cols,
        out=args.out,
        cell_px=args.cell_px,
        max_width_px=args.max_width_px,
        html_page=not args.no_html,
    )
    if args.json:
        emit_json(
            {
                "png": result.png,
                "html": result.html,
                "rows": result.rows,
                "cols": result.cols,
                "cells": result.cells,
                "failed": result.failed,
            }
        )
        return 0
    print(f"grid: {result.png}")
    if result.html:
        print(f"html: {result.html}")
    print(
        f"{result.cells} cells ({', '.join(result.rows)} x {', '.join(result.cols)}), {result.failed} failed"
    )
    return 0
