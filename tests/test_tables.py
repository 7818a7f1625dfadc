"""Numbers for people: one format per column kind (imgkit.formats), text tables for the CLI and great_tables
tables for the reports (imgkit.tables)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from imgkit.cli import main
from imgkit.errors import InvalidParameterError
from imgkit.formats import MISSING, column_kind, format_value
from imgkit.tables import conclusion, header, report_table, text_table


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        # money: to the cent, thousands separators; under $1 to 4 significant digits, never "$0.00"
        (Decimal("55576.1126888492"), "money", "$55,576.11"),
        (Decimal("223523.0562128807"), "money", "$223,523.06"),
        (Decimal("49.5000000000"), "money", "$49.50"),
        (Decimal("0.005"), "money", "$0.005"),
        (Decimal("0.3082909797"), "money", "$0.3083"),
        (Decimal("0.0000"), "money", "$0.00"),
        (Decimal("-12.345"), "money", "-$12.35"),  # half up on the exact decimal, not the binary float
        (1234.5, "money", "$1,234.50"),
        # price per image: 4 significant digits (or the cent, where finer)
        (Decimal("0.0174581000"), "price", "$0.01746"),
        (Decimal("0.0201085000"), "price", "$0.02011"),
        (Decimal("0.0702152000"), "price", "$0.07022"),
        (Decimal("0.005"), "price", "$0.005"),
        (Decimal("0.04"), "price", "$0.04"),
        (Decimal("1.2345"), "price", "$1.235"),
        (Decimal("1234.5678"), "price", "$1,234.57"),
        # exact: quotes and catalog prices as published
        (Decimal("0.00003"), "exact_usd", "$0.00003"),
        (Decimal("0.5587950000"), "exact_usd", "$0.558795"),
        (Decimal("8"), "exact_usd", "$8.00"),
        (Decimal("1E+1"), "exact_usd", "$10.00"),
        # percentages of fractions
        (0.9630, "percent", "96.3%"),
        (0.99555, "percent", "99.6%"),
        (1.0, "percent", "100.0%"),
        (Decimal("0.05"), "percent", "5.0%"),
        # counts: whole, separators (expected counts are fractional)
        (3183425.304089, "count", "3,183,425"),
        (Decimal("1181344.359201"), "count", "1,181,344"),
        (12, "count", "12"),
        # durations in ms
        (850.4, "ms", "850 ms"),
        (1823.0, "ms", "1.82 s"),
        (6098.0, "ms", "6.10 s"),
        (13635.2, "ms", "13.6 s"),
        (123456, "ms", "123 s"),
        # ratings, numbers
        (1061.75, "rating", "1061.8"),
        (1200, "rating", "1200.0"),
        (0.05234, "number", "0.05234"),
        (0.019305, "number", "0.01931"),
        (12.5, "number", "12.5"),
        (280.0, "number", "280"),
        (1234.56, "number", "1,235"),
        # the rest
        (True, "bool", "yes"),
        (False, "bool", "no"),
        (["photon", "recraft-v3"], "text", "photon, recraft-v3"),
        ("gpt-image-1-mini", "text", "gpt-image-1-mini"),
    ],
)
def test_values_are_shown_as_people_read_them(value, kind, shown):
    assert format_value(value, kind) == shown


@pytest.mark.parametrize("kind", ["money", "price", "percent", "count", "ms", "rating", "number", "text"])
@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_is_a_dash(kind, missing):
    assert format_value(missing, kind) == MISSING == "—"


def test_an_unknown_kind_is_refused_with_the_known_ones():
    with pytest.raises(InvalidParameterError, match=r"'cents'.*allowed: .*money.*price"):
        format_value(1, "cents")
    with pytest.raises(InvalidParameterError, match="'cents'"):
        text_table([{"a": 1}], kinds={"a": "cents"})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("total_cost_usd", "money"),
        ("swing_usd", "money"),
        ("cost_per_image_usd", "price"),
        ("cost_usd", "price"),
        ("usd/image", "price"),
        ("latency_p50_ms", "ms"),
        ("success_rate", "percent"),
        ("success_ci_low", "percent"),
        ("observed_win_rate", "percent"),
        ("ci_low", "rating"),
        ("published_rating", "rating"),
        ("requests", "count"),
        ("payback_requests", "count"),
        ("break_even_requests_per_month", "count"),
        ("wins", "number"),  # ties count half a win
    ],
)
def test_the_kind_of_imgkits_columns_comes_from_their_names(name, kind):
    assert column_kind(name) == kind


def test_other_columns_take_their_kind_from_their_type():
    assert column_kind("n", pl.Int64) == "count" and column_kind("x", pl.Float64) == "number"
    assert column_kind("cached", pl.Boolean) == "bool" and column_kind("label", pl.String) == "text"
    assert column_kind("n", sample=3) == "count" and column_kind("label", sample="a") == "text"


def test_text_table_rounds_and_aligns_numbers_right():
    rows = [
        {
            "option": "mini",
            "requests": 3183425.304089,
            "total_usd": Decimal("55576.1126888492"),
            "note": None,
        },
        {"option": "gpt-image-1.5", "requests": 12.0, "total_usd": Decimal("0.004"), "note": "x"},
    ]
    lines = text_table(rows).splitlines()
    assert lines[0].split() == ["option", "requests", "total_usd", "note"]
    assert lines[2].split() == ["mini", "3,183,425", "$55,576.11", "—"]
    assert lines[3].split() == ["gpt-image-1.5", "12", "$0.004", "x"]
    assert lines[2].index("3,183,425") + len("3,183,425") == lines[3].index(" 12") + len(" 12")  # right
    assert lines[2].rstrip("—").rstrip().endswith("$55,576.11") and lines[3].endswith("x")
    assert text_table([]) == "(no rows)"


def test_headers_drop_the_unit_shown_in_the_values():
    assert header("cost_per_image_usd") == "cost per image"
    assert header("latency_p50_ms") == "latency p50"
    assert header("usd") == "usd"


def _cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", html, re.S)]


def test_report_table_is_a_great_tables_table_for_people():
    from great_tables import GT

    frame = pl.DataFrame(
        {
            "model": ["gpt-image-1-mini", None],
            "requests": [3183425.304089, 2.0],
            "total_cost_usd": [Decimal("55576.1126888492"), None],
            "success_rate": [0.963, 1.0],
            "flags": [["disconnected", "regularised"], []],
            "note": ["<b>not bold</b>", 'say "so"'],
        },
        schema_overrides={"total_cost_usd": pl.Decimal(38, 10)},
    )
    table = report_table(frame, caption="measured from log.jsonl")
    assert isinstance(table, GT)
    html = table.as_raw_html()
    cells = _cells(html)
    assert cells[:6] == ["model", "requests", "total cost", "success rate", "flags", "note"]
    assert cells[6:12] == [
        "gpt-image-1-mini",
        "3,183,425",
        "$55,576.11",
        "96.3%",
        "disconnected, regularised",
        "&lt;b&gt;not bold&lt;/b&gt;",  # text is text, never markup
    ]
    assert cells[12:15] == ["—", "2", "—"]
    assert not {"str", "f64", "decimal[38,10]", "list[str]", "null", "None"} & set(cells)
    assert not any(c.startswith('"') for c in cells)
    assert "measured from log.jsonl" in html
    note = report_table(frame.head(1), caption="fit_bradley_terry *as is*").as_raw_html()
    assert "fit_bradley_terry *as is*" in note  # a caption is text, not Markdown
    assert "overflow-x:auto" in html.replace(" ", "") and "http" not in html  # scrolls; nothing fetched


def test_report_table_says_when_rows_are_left_out():
    html = report_table(pl.DataFrame({"n": range(5)}), max_rows=3).as_raw_html()
    assert "first 3 of 5 rows" in html and _cells(html)[1:4] == ["0", "1", "2"]
    assert len(_cells(html)) == 5  # the header, 3 rows and the note


def test_conclusion_is_a_list_in_html_and_lines_in_text():
    shown = conclusion(["Cheapest: mini at $0.005 <per image>.", "", "Fastest: schnell."])
    assert repr(shown) == "Cheapest: mini at $0.005 <per image>.\nFastest: schnell."
    assert shown._repr_html_() == (
        '<ul class="imgkit-conclusion"><li>Cheapest: mini at $0.005 &lt;per image&gt;.</li>'
        "<li>Fastest: schnell.</li></ul>"
    )


# --- every human table of the CLI ----------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
CLI_TABLES = {
    "project": [
        "project",
        "data/workloads/example.yaml",
        "--months",
        "12",
        "--monthly",
        "--break-even",
        "--sensitivity",
    ],
    "perf": ["perf", "data/samples/provider_log.parquet"],
    "prices": ["prices"],
    "frontier": ["frontier", "--all"],
    "ratings": ["ratings", "data/votes/genai_arena_20240220/votes.csv", "--bootstrap", "20"],
    "quote": [
        "quote",
        "gpt-image-2",
        "--quality",
        "high",
        "--size",
        "1536x1024",
        "--prompt",
        "a fox",
        "--n",
        "3",
    ],
    "models": ["models"],
}
PADDED = re.compile(r"\d\.\d*000\b")  # 0.0300000000: a Decimal(38, 10) printed as it is
LONG = re.compile(r"\d\.\d{7,}|(?<![\d,.])\d{5,}\.\d")  # 55576.1126888492, 3183425.304089


@pytest.mark.parametrize("command", sorted(CLI_TABLES))
def test_cli_tables_are_rounded_for_people_and_end_with_one_newline(command, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(CLI_TABLES[command]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n") and not out.endswith("\n\n")
    assert PADDED.findall(out) == []
    if command != "quote":  # a quote is exact: per-token rates have many decimals
        assert LONG.findall(out) == []
    if command in ("project", "quote", "perf"):
        assert re.search(r"\b\d{1,3}(,\d{3})+\b", out)  # counts with thousands separators
