"""Report notebooks and ``imgkit report``: layout, nbval, parameterised runs, failures, secrets, schedules.

Executing notebooks is what this file is about, so its two slow tests start kernels: nbval over every
notebook (defaults), and one ``imgkit report --all`` run with the weekly schedule plus a non-default
parameter per notebook and a fake API key in the environment, whose outputs the other tests inspect.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import polars as pl
import pytest

from imgkit.cli import main
from imgkit.errors import InvalidParameterError, SecretParameterError, SpecError
from imgkit.reports import (
    load_params_file,
    parse_value,
    report_parameters,
    resolve_notebook,
    secret_reason,
)

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
VENV_BIN = Path(sys.executable).parent
IMGKIT = str(VENV_BIN / "imgkit")
FAKE_KEY = "sk-fake-" + "7f3a9c0e5b1d4f2a8c6e0b9d3f1a7c5e"
KEY_VARS = ("OPENAI_API_KEY", "FAL_KEY", "FAL_API_KEY", "LUMENFALL_API_KEY", "IMGKIT_API_KEY")

#: per notebook: a non-default parameter for the report run and text its output must then contain
NON_DEFAULT = {
    "provider_performance": ("by", "provider,model", "groups by provider, model."),
    "model_ratings": ("category", "image-editing", "category image-editing"),
    "elo_vs_speed": ("quality_floor", "1110", "rating >= 1110"),
    "cost_projection": ("months", "6", "Over 6 months"),
    "comparison_grid": ("cols", "target", "columns: target"),
    "spend_reconciliation": ("top_flagged", "3", "first 3 of"),
}


def _cell_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    return {**env, **extra}


# --- the notebooks as committed ---------------------------------------------------------------------------------


def test_every_report_has_a_non_default_parameter_case():
    assert NAMES and sorted(NON_DEFAULT) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_with_its_question_then_one_parameters_cell(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert tagged == [1]
    assert nb.metadata.kernelspec.name == "imgkit"


@pytest.mark.parametrize("name", NAMES)
def test_papermill_reads_every_assignment_of_the_parameters_cell(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assigned = [t.id for node in ast.parse(nb.cells[1].source).body for t in node.targets]
    assert list(papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))) == assigned


@pytest.mark.parametrize("name", NAMES)
def test_default_paths_point_at_bundled_files(name):
    paths = [
        v for v in resolve_notebook(name).parameters.values() if isinstance(v, str) and v.startswith("../")
    ]
    assert paths, "every report reads bundled data by default"
    for value in paths:
        assert (NOTEBOOKS / value).exists(), value


def test_bundled_sample_log_is_small_and_simulated():
    path = REPO / "data" / "samples" / "provider_log.parquet"
    assert path.stat().st_size < 1_000_000
    assert pl.read_parquet(path)["provenance"].unique().to_list() == ["simulated"]


def test_bundled_votes_carry_source_and_licence():
    readme = (REPO / "data" / "votes" / "genai_arena_20240220" / "README.md").read_text()
    for needed in ("TIGER-AI-Lab/GenAI-Arena", "1792672eed6a4b146b194f9ba7316f25b95cb53b", "Apache", "MIT"):
        assert needed in readme


# --- parameters --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("5.00", "1.00", "5.00"),  # money stays text, exact
        ("250", 1000, 250),
        ("0.5", 1.0, 0.5),
        ("false", True, False),
        ("null", None, None),
        ("image-editing", None, "image-editing"),
        ("2027-03-01", None, "2027-03-01"),  # a date stays text: a notebook parameter is a literal
        ("[low, high]", ["low"], ["low", "high"]),
    ],
)
def test_command_line_values_take_the_type_of_the_default(text, default, expected):
    assert parse_value(text, default) == expected


def test_a_value_that_does_not_fit_the_default_type_is_refused():
    with pytest.raises(InvalidParameterError, match=r"parameter value='many'.*a whole number"):
        parse_value("many", 1000)


def test_an_undeclared_parameter_is_refused_with_the_declared_ones():
    with pytest.raises(InvalidParameterError, match=r"bootstraps.*did you mean bootstrap"):
        report_parameters(resolve_notebook("model_ratings"), {"bootstraps": "10"})


def test_an_existing_relative_path_becomes_absolute(tmp_path, monkeypatch):
    (tmp_path / "votes.csv").write_text("model_a,model_b,winner,category\nA,B,model_a,text-to-image\n")
    monkeypatch.chdir(tmp_path)
    values = report_parameters(resolve_notebook("model_ratings"), {"votes_path": "votes.csv"})
    assert values == {"votes_path": str(tmp_path / "votes.csv")}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("api_key", "x"),
        ("OPENAI_API_KEY", "x"),
        ("openaiApiKey", "x"),
        ("access_token", "x"),
        ("client_secret", "x"),
        ("password", "x"),
        ("auth_header", "x"),
        ("label", "sk-proj-AbCdEf0123456789xyz"),
        ("label", "lmnfl_live_0123456789abcdef"),
        ("label", "Bearer abcdefgh12345678"),
        ("label", "0123456789abcdef0123456789abcdef"),
        ("label", "QWxhZGRpbjpvcGVuIHNlc2FtZQ0123456789Xy"),
        ("label", "3f2a1b4c-5d6e-7f80-91a2-b3c4d5e6f708:0123456789abcdef0123456789abcdef"),
        ("label", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig"),
        ("labels", ["fine", "sk-live-0123456789abcdefgh"]),
    ],
)
def test_secret_looking_parameters_are_refused(name, value):
    assert secret_reason(name, value)
    with pytest.raises(SecretParameterError, match=re.escape(repr(name))) as caught:
        report_parameters(resolve_notebook("model_ratings"), {name: value})
    assert "sk-" not in str(caught.value) and "lmnfl_" not in str(caught.value)


def test_the_value_of_a_key_variable_in_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("FAL_KEY", "plain-words-key")
    assert secret_reason("votes_source", "plain-words-key") == "its value"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_tokens", 4096),
        ("keyword", "fox"),
        ("log_path", "../data/samples/provider_log.parquet"),
        ("log_path", "/srv/imgkit/runs/Weekly2026Comparison/log.jsonl"),
        ("by", "provider,model,quality"),
        ("since", "7d"),
        ("votes_source", "GenAI-Arena (TIGER-AI-Lab/GenAI-Arena @ 1792672e), anonymous battles"),
    ],
)
def test_ordinary_parameters_are_not_mistaken_for_secrets(name, value):
    assert secret_reason(name, value) is None


def test_report_refuses_a_key_on_the_command_line_before_running(tmp_path, capsys):
    code = main(["report", "model_ratings", "-p", "openai_api_key", FAKE_KEY, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "looks like a secret" in err and FAKE_KEY not in err
    assert list(tmp_path.iterdir()) == []


def test_params_file_refuses_unknown_notebook_parameters(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("model_ratings:\n  bootstrapp: 10\n")
    with pytest.raises(SpecError, match=r"model_ratings\.bootstrapp"):
        load_params_file(path)


def test_params_file_refuses_secrets(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(f"model_ratings:\n  votes_source: {FAKE_KEY}\n")
    with pytest.raises(SecretParameterError, match="votes_source"):
        load_params_file(path)


# --- schedules ---------------------------------------------------------------------------------------------------


def test_weekly_schedule_names_real_notebooks_and_parameters():
    schedule = load_params_file(REPO / "schedules" / "weekly.yaml")
    assert set(schedule.sections) <= set(NAMES) and schedule.sections


def test_cron_line_runs_the_weekly_schedule():
    text = (REPO / "schedules" / "README.md").read_text()
    assert re.search(r"^0 6 \* \* 1 .*imgkit report --all -f schedules/weekly\.yaml", text, re.M)


def test_airflow_dag_runs_every_report_without_airflow_at_test_time():
    source = (REPO / "schedules" / "airflow_dag.py").read_text()
    tree = ast.parse(source)
    reports = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "REPORTS"
    )
    assert sorted(ast.literal_eval(reports)) == sorted(
        set(NAMES) | {"elo_vs_speed", "cost_projection", "comparison_grid"}
    )
    assert "run_report" in source and "weekly.yaml" in source


# --- a failing notebook --------------------------------------------------------------------------------------------


def _tiny_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "imgkit", "display_name": "imgkit", "language": "python"}
    params = nbformat.v4.new_code_cell('label = "tiny"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# tiny"), params, *map(nbformat.v4.new_code_cell, cells)]
    nbformat.write(nb, str(path))
    return path


@pytest.mark.slow
def test_failing_notebook_exits_nonzero_names_the_cell_and_keeps_the_partial_run(tmp_path, capsys):
    notebook = _tiny_notebook(
        tmp_path / "breaks.ipynb", ["print('before the failure', label)", "raise ValueError('no such log')"]
    )
    out = tmp_path / "reports"
    code = main(["report", str(notebook), "-p", "label", "custom", "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert (
        "breaks" in captured.err
        and 'cell In [4] "raise ValueError' in captured.err
        and "ValueError: no such log" in captured.err
    )
    assert captured.out.strip() == str((out / "index.html").resolve())
    assert "report breaks: running" not in captured.err  # --no-progress
    (run_dir,) = (out / "breaks").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["failed_cell"].startswith("cell In [4]")
    partial = nbformat.read(run_dir / "breaks.ipynb", as_version=4)
    assert "before the failure custom" in _cell_text(partial)
    assert (run_dir / "breaks.html").is_file()
    index = (out / "index.html").read_text()
    assert re.search(r'<tr class="failed"><td>breaks</td>', index)


# --- executing every notebook ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_nbval_lax_runs_every_notebook(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider", str(NOTEBOOKS)],
        cwd=REPO,
        env=_clean_env(
            IMGKIT_HOME=str(tmp_path), TMPDIR=str(tmp_path)
        ),  # comparison_grid runs into a temp dir
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def weekly_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """``imgkit report --all`` with the weekly schedule, one non-default parameter per notebook, a fake key."""
    out = tmp_path_factory.mktemp("reports")
    args = [IMGKIT, "report", "--all", "-f", str(REPO / "schedules" / "weekly.yaml"), "--out", str(out)]
    for key, value, _ in NON_DEFAULT.values():
        args += ["-p", key, value]
    env = _clean_env(IMGKIT_HOME=str(tmp_path_factory.mktemp("home")), OPENAI_API_KEY=FAKE_KEY)
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return result, out


@pytest.mark.slow
def test_report_all_succeeds_and_prints_the_index_path(weekly_run):
    result, out = weekly_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str((out / "index.html").resolve())


@pytest.mark.slow
def test_report_all_shows_a_line_as_each_notebook_starts_and_ends(weekly_run):
    result, out = weekly_run
    for name in NAMES:
        assert re.search(
            rf"^report {name}: running \(kernel imgkit\) -> {re.escape(str(out))}/", result.stderr, re.M
        )
        assert re.search(rf"^report {name}: ok in [\d.]+ s, \d+ figures$", result.stderr, re.M)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_report_ran_with_its_non_default_parameter(weekly_run, name):
    _, out = weekly_run
    key, value, expected = NON_DEFAULT[name]
    (run_dir,) = (out / name).iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    declared = resolve_notebook(name).parameters[key]
    assert record["status"] == "ok" and record["parameters"][key] == parse_value(value, declared)
    assert expected in _cell_text(nbformat.read(run_dir / f"{name}.ipynb", as_version=4))


@pytest.mark.slow
def test_elo_vs_speed_answers_which_model_today_with_its_rule_and_what_it_passed_over(weekly_run):
    _, out = weekly_run
    (run_dir,) = (out / "elo_vs_speed").iterdir()
    text = _cell_text(nbformat.read(run_dir / "elo_vs_speed.ipynb", as_version=4))
    # the newest LMArena snapshot against catalog prices today; the gateway's published times (LF-PERF, undated)
    assert "Rule: the highest-rated option that is rated at least 1110, at most $0.05 per image" in text
    assert "Recommended: flux-2-flex @ fal" in text  # FLUX.2 [flex] at fal: $0.05, p50 15.8 s (copy A)
    assert (
        "Passed over " in text and "best gpt-image-2.5-sunburst @ openai (no generation time known)" in text
    )
    assert "without the time ceiling: gpt-image-2.5-sunburst @ openai" in text
    page = (run_dir / "elo_vs_speed.html").read_text()
    assert "lmarena-text-to-image-2026-10-07" in page and "artificial-analysis-image-edit-2026-08-18" in page


@pytest.mark.slow
def test_elo_vs_speed_calls_out_a_stale_snapshot_on_a_later_today(tmp_path):
    args = [
        IMGKIT,
        "report",
        "elo_vs_speed",
        "-p",
        "today",
        "2027-03-01",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    env = _clean_env(IMGKIT_HOME=str(tmp_path / "home"))
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "elo_vs_speed").iterdir()
    text = _cell_text(nbformat.read(run_dir / "elo_vs_speed.ipynb", as_version=4))
    stale = "stale: LMArena text-to-image of 2026-10-07, 145 days old on 2027-03-01 (over 90)"
    assert f"WARNING: {stale}" in text and f"Warning: the leaderboard is {stale}" in text
    assert stale in (run_dir / "elo_vs_speed.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_report_writes_html_with_hidden_code_and_every_figure_as_png(weekly_run, name):
    _, out = weekly_run
    (run_dir,) = (out / name).iterdir()
    nb = nbformat.read(run_dir / f"{name}.ipynb", as_version=4)
    pngs = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    figures = sorted((run_dir / "figures").glob("*.png"))
    assert pngs and len(figures) == len(pngs)
    assert all(f.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for f in figures)
    page = (run_dir / f"{name}.html").read_text()
    assert 'id="imgkit-toggle-code"' in page and "body:not(.imgkit-show-code)" in page
    assert page.count("data:image/png;base64") >= len(pngs)


@pytest.mark.slow
def test_index_lists_every_run_newest_first(weekly_run):
    _, out = weekly_run
    rows = re.findall(
        r'<tr class="(\w+)"><td>([\w-]+)</td><td>([^<]+)</td>', (out / "index.html").read_text()
    )
    assert sorted(name for _, name, _ in rows) == NAMES
    assert [t for _, _, t in rows] == sorted((t for _, _, t in rows), reverse=True)
    assert {status for status, _, _ in rows} == {"ok"}


@pytest.mark.slow
def test_the_default_grid_is_a_simulated_run_inside_its_report_folder(weekly_run):
    _, out = weekly_run
    (run_dir,) = (out / "comparison_grid").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["parameters"]["report_dir"] == str(run_dir.resolve())
    attempts = [json.loads(line) for line in (run_dir / "run" / "log.jsonl").read_text().splitlines()]
    assert len(attempts) >= 20 and {a["provenance"] for a in attempts} == {"simulated"}
    assert "against the simulated provider" in _cell_text(
        nbformat.read(run_dir / "comparison_grid.ipynb", as_version=4)
    )


@pytest.mark.slow
def test_fake_api_key_appears_in_no_report_file(weekly_run):
    _, out = weekly_run
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    leaked = [p for p in files if FAKE_KEY.encode() in p.read_bytes()]
    assert leaked == []


# --- the report pages, as a person's browser shows them -------------------------------------------------------------

#: a page narrower than the widest tables, so that they must scroll inside their box rather than the page
VIEWPORT = {"width": 900, "height": 900}
LOCAL_URL = re.compile(r"^(file://|data:|blob:|about:|https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])[:/])")
DTYPE_CELL = re.compile(
    r"^(str|bool|date|time|null|object|cat|enum|binary|[iuf](8|16|32|64|128)|decimal\[\d+,\s*\d+\]"
    r"|datetime\[.*\]|duration\[.*\]|list\[.*\]|array\[.*\]|struct\[.*\])$"
)

_TABLES_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output table')].map(t => {
  const cells = [...t.querySelectorAll('th, td')].map(c => c.innerText.trim());
  const headRows = [...t.querySelectorAll('thead tr')].map(r => [...r.children].map(c => c.innerText.trim()));
  let box = t.parentElement, scrolls = false;
  while (box && !box.classList.contains('jp-OutputArea-child')) {
    const s = getComputedStyle(box);
    if (['auto', 'scroll'].includes(s.overflowX) && box.scrollWidth > box.clientWidth) { scrolls = true; break; }
    box = box.parentElement;
  }
  const r = t.getBoundingClientRect(), b = (box || t).getBoundingClientRect();
  return {cells, headRows, width: r.width, left: r.left, right: r.right, scrolls,
          boxLeft: b.left, boxRight: b.right, visibleRight: Math.min(b.right, window.innerWidth)};
})"""

_WORDS_SPLIT_JS = """() => {
  const split = [];
  for (const root of document.querySelectorAll('ul.imgkit-conclusion, .jp-OutputArea-output pre')) {
    if (!root.offsetParent) continue;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode()); ) {
      for (const m of node.data.matchAll(/[^\\s\\-\\/]+/g)) {  // breaking after a hyphen or slash is fine
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
        if (lines.size > 1 && range.getBoundingClientRect().width < root.clientWidth) split.push(m[0]);
      }
    }
  }
  return split;
}"""


def _open_report(page, path: Path) -> list[str]:
    """Open ``path`` as file://, every request recorded; any request leaving the machine is refused."""
    requested: list[str] = []

    def route(r) -> None:
        requested.append(r.request.url)
        if LOCAL_URL.match(r.request.url):
            r.continue_()
        else:
            r.abort()

    page.context.route("**/*", route)
    page.set_viewport_size(VIEWPORT)
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    return requested


def _open_run_page(page, out: Path, name: str) -> tuple[Path, list[str]]:
    """The HTML page of report ``name``'s one run under ``out``: its folder and the URLs it requested."""
    (run_dir,) = (out / name).iterdir()
    return run_dir, _open_report(page, run_dir / f"{name}.html")


@pytest.mark.slow
def test_report_runs_print_no_tcp_encryption_warning(weekly_run):
    result, _ = weekly_run
    assert "without encryption" not in result.stderr and "TCP" not in result.stderr, result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_report_page_is_self_contained_in_a_browser(weekly_run, page, name):
    run_dir, requested = _open_run_page(page, weekly_run[1], name)
    assert [url for url in requested if not LOCAL_URL.match(url)] == []
    assert page.problems == []  # no console error, no failed request
    # every figure of the notebook is on the page and decoded
    nb = nbformat.read(run_dir / f"{name}.ipynb", as_version=4)
    pngs = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('.jp-OutputArea-output img')]"
        ".filter(i => i.complete && i.naturalWidth > 100 && i.getBoundingClientRect().width > 100).length"
    )
    assert drawn >= pngs > 0
    # the code is hidden until asked for
    assert not page.locator(".jp-CodeCell .jp-InputArea").first.is_visible()
    page.click("#imgkit-toggle-code")
    assert page.locator(".jp-CodeCell .jp-InputArea").first.is_visible()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_report_tables_are_for_people_and_fit_or_scroll(weekly_run, page, name):
    _open_run_page(page, weekly_run[1], name)
    tables = page.evaluate(_TABLES_JS)
    assert tables, "every report shows at least one table"
    for table in tables:
        assert not any(DTYPE_CELL.match(cell) for row in table["headRows"] for cell in row), table["headRows"]
        assert not [c for c in table["cells"] if re.fullmatch(r'".*"', c, re.S)], "strings shown in quotes"
        assert "null" not in table["cells"] and "None" not in table["cells"] and "NaN" not in table["cells"]
        # fits inside the page, or scrolls inside its own box that does
        assert table["scrolls"] or table["right"] <= table["visibleRight"] + 1, table["headRows"]
        assert table["boxRight"] <= VIEWPORT["width"] + 1
    widest = max(tables, key=lambda t: t["width"])
    assert widest["scrolls"] or widest["width"] <= VIEWPORT["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= VIEWPORT["width"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_report_text_wraps_between_words(weekly_run, page, name):
    _open_run_page(page, weekly_run[1], name)
    assert page.locator("ul.imgkit-conclusion li").count() >= 2  # the conclusion, one sentence a line
    assert page.evaluate(_WORDS_SPLIT_JS) == []


@pytest.mark.slow
def test_report_index_page_is_self_contained(weekly_run, page):
    _, out = weekly_run
    requested = _open_report(page, out / "index.html")
    assert [url for url in requested if not LOCAL_URL.match(url)] == [] and page.problems == []
    assert page.locator("tr.ok").count() == len(NAMES)
