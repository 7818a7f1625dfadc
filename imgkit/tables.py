"""Tables for people, for the CLI (aligned text) and the reports (great_tables HTML), and report conclusions.

Values are formatted by their column's kind (:mod:`imgkit.formats`: money to the cent, prices to 4
significant digits, percentages, whole counts, durations, ``—`` for missing), the same in a terminal and in
a report. :func:`text_table` lays rows out for a terminal; :func:`report_table` returns a
`great_tables <https://posit-dev.github.io/great-tables/>`_ ``GT`` (what polars' ``DataFrame.style``
returns) that a notebook displays as a self-contained HTML table: no dtype row, no quotes, numbers
right-aligned, headers without unit suffixes, and a box that scrolls when the table is wider than the page.
:func:`conclusion` shows a report's computed conclusion as a list whose lines wrap between words.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from imgkit.formats import NUMERIC_KINDS, check_kinds, column_kind, format_value

if TYPE_CHECKING:
    import polars as pl
    from great_tables import GT

__all__ = ["Conclusion", "column_kinds", "conclusion", "header", "report_table", "text_table"]

_UNIT_SUFFIXES = ("_usd", "_ms")
#: text columns no longer than this (characters) are not wrapped in report tables
_SHORT_TEXT = 32


def column_kinds(frame: pl.DataFrame, kinds: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every column of ``frame`` with its kind: ``kinds`` where given, else :func:`~imgkit.formats.column_kind`."""
    kinds = dict(kinds or {})
    check_kinds(kinds)
    return {name: kinds.get(name) or column_kind(name, dtype) for name, dtype in frame.schema.items()}


# --- text tables (the CLI) ----------------------------------------------------------------------------------------


def text_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> str:
    """An aligned plain-text table of ``rows`` (no trailing newline); numbers right-aligned.

    Each column's kind comes from ``kinds``, else from its name or its first value (:func:`column_kind`).
    """
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    kinds = dict(kinds or {})
    check_kinds(kinds)
    column_kinds_ = [
        kinds.get(c) or column_kind(c, sample=next((r.get(c) for r in rows if r.get(c) is not None), None))
        for c in columns
    ]
    cells = [[format_value(r.get(c), k) for c, k in zip(columns, column_kinds_, strict=True)] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    right = [k in NUMERIC_KINDS for k in column_kinds_]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


# --- report tables (notebooks) --------------------------------------------------------------------------------------


def header(name: str) -> str:
    """A column name as a table header: the unit suffix (shown in the values) dropped, words spaced."""
    for suffix in _UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("_", " ")


def report_table(
    frame: pl.DataFrame,
    kinds: Mapping[str, str] | None = None,
    *,
    caption: str | None = None,
    max_rows: int | None = 200,
) -> GT:
    """``frame`` as a great_tables ``GT`` for a report: values formatted by kind, ``—`` for missing,
    numbers right-aligned and never wrapped (nor short labels), headers without unit suffixes, a box that
    scrolls when the table is wider than the page, and ``caption`` (where the numbers come from) as a
    source note.

    ``kinds`` names the kinds :func:`column_kind` cannot infer. Rows past ``max_rows`` are left out and the
    source note says how many.
    """
    from great_tables import GT, loc, style
    from great_tables import html as gt_html

    kinds_of = column_kinds(frame, kinds)
    notes = [caption] if caption else []
    if max_rows is not None and frame.height > max_rows:
        notes.append(f"first {max_rows:,} of {frame.height:,} rows")
        frame = frame.head(max_rows)
    table = GT(frame)
    for name, kind in kinds_of.items():
        table = table.fmt(_html_formatter(kind), columns=name)
    # numbers and short labels (model ids, providers) stay on one line; long text wraps, but in a column
    # wide enough to read when the table is squeezed (it scrolls instead)
    widest = {c: max((len(format_value(v, k)) for v in frame[c]), default=0) for c, k in kinds_of.items()}
    unbroken = [c for c, k in kinds_of.items() if k in NUMERIC_KINDS or widest[c] <= _SHORT_TEXT]
    wrapped = [c for c in frame.columns if c not in unbroken]
    if unbroken:
        table = table.tab_style(style.css("white-space: nowrap"), loc.body(columns=unbroken))
    if wrapped:
        table = table.tab_style(style.css("min-width: 16em"), loc.body(columns=wrapped))
    numeric = [c for c, k in kinds_of.items() if k in NUMERIC_KINDS]
    others = [c for c in frame.columns if c not in numeric]
    if numeric:
        table = table.cols_align("right", columns=numeric)
    if others:
        table = table.cols_align("left", columns=others)
    table = table.cols_label(cases={c: header(c) for c in frame.columns}).tab_options(
        container_width="100%",
        container_overflow_x="auto",
        table_margin_left="0",
        table_font_size="13px",
        column_labels_font_weight="bold",
        data_row_padding="3px",
        source_notes_font_size="11px",
    )
    for note in notes:
        table = table.tab_source_note(gt_html(html.escape(note)))  # text, not Markdown
    return table


def _html_formatter(kind: str):
    def cell(value: Any) -> str:
        return html.escape(format_value(value, kind))

    return cell


# --- conclusions -------------------------------------------------------------------------------------------------------


class Conclusion:
    """A report's conclusion: sentences shown as a list in HTML and as lines of text elsewhere."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = [str(line) for line in lines if str(line).strip()]

    def __repr__(self) -> str:
        return "\n".join(self.lines)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        return f'<ul class="imgkit-conclusion">{items}</ul>'


def conclusion(lines: Iterable[str]) -> Conclusion:
    """Display ``lines`` (computed sentences) as a report's conclusion: one list item each."""
    return Conclusion(lines)
