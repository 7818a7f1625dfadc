"""Comparison grids: a run's images side by side, rows × columns, each cell captioned with cost, latency, size.

``make_grid(run_dir, rows="prompt", cols="model,quality")`` writes a PNG (and an HTML page whose cells link
to the full-size images). Failed cells are drawn as failed with their error class. The layout is
deterministic: axis values follow the spec's order when the run directory holds its spec, else a natural
sort (qualities low < medium < high < auto). Large grids are downscaled to ``max_width_px``.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from PIL import Image, ImageDraw, ImageFont

from imgkit.errors import InvalidParameterError
from imgkit.money import usd_text
from imgkit.records.rundir import RunDirectory

__all__ = ["AXES", "GridResult", "grid_cells", "make_grid"]

#: axis name -> log column
AXES = {
    "prompt": "prompt_id",
    "category": "category",
    "model": "model",
    "provider": "provider",
    "quality": "quality",
    "size": "size",
    "target": "target",
    "repeat": "repeat",
    "mode": "mode",
}
_QUALITY_ORDER = {"low": 0, "medium": 1, "standard": 1, "high": 2, "hd": 2, "xhigh": 3, "max": 4, "auto": 5}
_BG, _FG, _MUTED, _FAIL = (255, 255, 255), (20, 20, 20), (90, 90, 90), (190, 40, 40)


@dataclass(frozen=True)
class GridResult:
    png: Path
    html: Path | None
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: int
    failed: int
    provenance: str = ""


def _axis_list(value: str | Sequence[str]) -> list[str]:
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    for name in names:
        if name not in AXES:
            raise InvalidParameterError("grid axis", name, sorted(AXES))
    if not names:
        raise InvalidParameterError("grid axis", value, sorted(AXES))
    return names


def _spec_order(run: RunDirectory) -> dict[str, list[str]]:
    """Axis orders from the spec as run (prompt ids, targets, models, qualities in spec order)."""
    raw = run.spec_as_run()
    order: dict[str, list[str]] = {"prompt_id": [], "model": [], "provider": [], "quality": [], "size": []}
    for p in raw.get("prompts", []):
        if isinstance(p, dict) and "id" in p:
            order["prompt_id"].append(str(p["id"]))
    for t in raw.get("targets", []):
        if not isinstance(t, dict):
            continue
        for key in ("model", "provider", "quality", "size"):
            values = t.get(key)
            for v in values if isinstance(values, list) else [values]:
                if v is not None and str(v) not in order[key]:
                    order[key].append(str(v))
    return order


def _sort_key(column: str, order: dict[str, list[str]]):
    known = order.get(column, [])

    def key(value: Any) -> tuple:
        s = "" if value is None else str(value)
        if s in known:
            return (0, known.index(s), s)
        if column == "quality":
            return (1, _QUALITY_ORDER.get(s, 99), s)
        return (2, 0, s)

    return key


def grid_cells(frame: pl.DataFrame, rows: Sequence[str], cols: Sequence[str], order=None) -> dict[str, Any]:
    """Arrange final attempts into cells: ``{"rows": [...], "cols": [...], "cells": {(r, c): cell}}``."""
    order = order or {}
    rcols, ccols = [AXES[a] for a in rows], [AXES[a] for a in cols]
    for c in {*rcols, *ccols}:
        if c not in frame.columns:
            raise InvalidParameterError(
                "grid axis", c, [a for a, col in AXES.items() if col in frame.columns]
            )

    def label(rec: dict[str, Any], columns: Sequence[str]) -> tuple:
        return tuple("" if rec.get(c) is None else str(rec.get(c)) for c in columns)

    records = frame.to_dicts()
    row_keys = sorted(
        {label(r, rcols) for r in records},
        key=lambda t: [_sort_key(c, order)(v) for c, v in zip(rcols, t, strict=True)],
    )
    col_keys = sorted(
        {label(r, ccols) for r in records},
        key=lambda t: [_sort_key(c, order)(v) for c, v in zip(ccols, t, strict=True)],
    )
    cells: dict[tuple, dict[str, Any]] = {}
    for rec in sorted(records, key=lambda r: (str(r.get("item_id")), r.get("repeat") or 0)):
        key = (label(rec, rcols), label(rec, ccols))
        cell = cells.setdefault(key, {"ok": [], "failed": [], "images": []})
        (cell["ok"] if rec.get("outcome") == "ok" else cell["failed"]).append(rec)
        for img in json.loads(rec.get("images") or "[]"):
            cell["images"].append(img)
    return {"rows": row_keys, "cols": col_keys, "cells": cells}


def _caption(cell: dict[str, Any]) -> tuple[str, bool]:
    ok, failed = cell["ok"], cell["failed"]
    if not ok:
        errors = sorted({str(r.get("outcome")) for r in failed})
        return "FAILED: " + ", ".join(errors), True
    rec = ok[0]
    cost = rec.get("actual_cost_usd")
    cost_s = "cost ?" if cost is None else usd_text(cost)
    lat = rec.get("latency_ms")
    lat_s = "" if lat is None else (f"{lat / 1000:.1f} s" if lat >= 1000 else f"{lat:.0f} ms")
    extra = len(cell["images"]) - 1
    more = f" (+{extra})" if extra > 0 else ""
    fails = f" · {len(failed)} failed" if failed else ""
    return " · ".join(p for p in (cost_s, lat_s, rec.get("size") or "") if p) + more + fails, False


def _provenance_line(frame: pl.DataFrame) -> str:
    """Where the captions' figures come from, e.g. ``figures: simulated (20 requests)``."""
    if "provenance" not in frame.columns or frame.height == 0:
        return "figures: provenance not recorded"
    counts = frame.group_by("provenance").len().sort("provenance")
    parts = [
        f"{row['provenance'] or 'unlabelled'} ({row['len']} requests)" for row in counts.iter_rows(named=True)
    ]
    note = " · latency and cost are not real provider figures" if "simulated" in counts["provenance"] else ""
    return "figures: " + ", ".join(parts) + note


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def make_grid(
    run_dir: str | Path,
    *,
    rows: str | Sequence[str] = "prompt",
    cols: str | Sequence[str] = "model,quality",
    out: str | Path | None = None,
    cell_px: int = 256,
    max_width_px: int = 2400,
    html_page: bool = True,
    frame: pl.DataFrame | None = None,
) -> GridResult:
    """Draw the comparison grid of a run directory (or of ``frame``, final attempts in the log schema)."""
    run = RunDirectory(run_dir)
    row_axes, col_axes = _axis_list(rows), _axis_list(cols)
    frame = run.final_attempts() if frame is None else frame
    layout = grid_cells(frame, row_axes, col_axes, _spec_order(run))
    row_keys, col_keys, cells = layout["rows"], layout["cols"], layout["cells"]
    label_w = 200
    cell = max(64, min(cell_px, (max_width_px - label_w) // max(1, len(col_keys))))
    caption_h, header_h, footer_h = 34, 22 * len(col_axes) + 8, 24
    width = label_w + cell * len(col_keys)
    height = header_h + (cell + caption_h) * len(row_keys) + footer_h
    provenance = _provenance_line(frame)
    canvas = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(canvas)
    font, small = _font(14), _font(11)
    for j, ck in enumerate(col_keys):
        for level, value in enumerate(ck):
            draw.text(
                (label_w + j * cell + 6, 4 + 22 * level),
                _fit_text(draw, value, font, cell - 12),
                fill=_FG,
                font=font,
            )
    failed = 0
    for i, rk in enumerate(row_keys):
        y = header_h + i * (cell + caption_h)
        for level, value in enumerate(rk):
            draw.text(
                (6, y + 6 + 20 * level), _fit_text(draw, value, font, label_w - 12), fill=_FG, font=font
            )
        for j, ck in enumerate(col_keys):
            x = label_w + j * cell
            c = cells.get((rk, ck))
            draw.rectangle([x + 2, y + 2, x + cell - 3, y + cell - 3], outline=(220, 220, 220))
            if c is None:
                draw.text((x + 8, y + cell // 2), "no item", fill=_MUTED, font=small)
                continue
            text, is_failed = _caption(c)
            failed += is_failed
            img_path = run.image_file(c["images"][0]) if c["images"] else None
            if img_path is not None and img_path.is_file():
                with Image.open(img_path) as im:
                    thumb = im.convert("RGB")
                    thumb.thumbnail((cell - 8, cell - 8))
                    canvas.paste(thumb, (x + (cell - thumb.width) // 2, y + (cell - thumb.height) // 2))
            elif is_failed:
                draw.rectangle([x + 4, y + 4, x + cell - 5, y + cell - 5], fill=(250, 235, 235))
                draw.text((x + 10, y + cell // 2 - 8), "failed", fill=_FAIL, font=font)
            draw.text(
                (x + 4, y + cell + 4),
                _fit_text(draw, text, small, cell - 8),
                fill=_FAIL if is_failed else _MUTED,
                font=small,
            )
    draw.text(
        (6, height - footer_h + 4), _fit_text(draw, provenance, small, width - 12), fill=_MUTED, font=small
    )
    png = Path(out) if out else run.path / "grid.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(png)
    html_path = (
        _write_html(png.with_suffix(".html"), run, row_axes, col_axes, layout, provenance)
        if html_page
        else None
    )
    return GridResult(png, html_path, tuple(row_axes), tuple(col_axes), len(cells), failed, provenance)


def _write_html(path: Path, run: RunDirectory, row_axes, col_axes, layout, provenance: str) -> Path:
    """An HTML table of the grid; each cell links to its full-size image (paths relative to the page)."""
    esc = html.escape
    head = "".join(f"<th>{esc(' / '.join(ck))}</th>" for ck in layout["cols"])
    body = []
    for rk in layout["rows"]:
        tds = []
        for ck in layout["cols"]:
            c = layout["cells"].get((rk, ck))
            if c is None:
                tds.append("<td class=empty>no item</td>")
                continue
            text, is_failed = _caption(c)
            if c["images"]:
                rel = os.path.relpath(run.image_file(c["images"][0]), path.parent)
                img = f'<a href="{esc(rel)}"><img src="{esc(rel)}" loading=lazy></a>'
            else:
                img = "<div class=failed>failed</div>"
            cls = " class=failed" if is_failed else ""
            tds.append(f"<td>{img}<div{cls}>{esc(text)}</div></td>")
        body.append(f"<tr><th>{esc(' / '.join(rk))}</th>{''.join(tds)}</tr>")
    doc = f"""<!doctype html><meta charset=utf-8><title>Comparison grid: {esc(run.path.name)}</title>
<style>body{{font:14px system-ui,sans-serif}} table{{border-collapse:collapse}} td,th{{border:1px solid #ddd;padding:4px;vertical-align:top}}
img{{max-width:256px;max-height:256px;display:block}} .failed{{color:#b22}} .empty{{color:#999}}</style>
<h1>Comparison grid: {esc(run.path.name)}</h1><p>rows: {esc(", ".join(row_axes))} · columns: {esc(", ".join(col_axes))}</p>
<table><tr><th></th>{head}</tr>{"".join(body)}</table>
<p class=empty>{esc(provenance)}</p>
"""
    path.write_text(doc, encoding="utf-8")
    return path
