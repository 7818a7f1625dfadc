"""The library logs and never prints; the command line decides what to show: warnings as one line on stderr,
information with -v, a run's progress drawn from the runner's events (a bar on a terminal, lines elsewhere)."""

from __future__ import annotations

import ast
import io
import json
import logging
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from imgkit.cli import main
from imgkit.cli._logging import OneLineFormatter, command_logging
from imgkit.cli._progress import ProgressLine, progress_text
from imgkit.money import usd_text
from imgkit.runs.progress import RunProgress
from imgkit.runs.runner import run_experiment
from imgkit.runs.spec import load_spec
from tests.test_runner import write_spec

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "imgkit"
FAKE_KEY = "sk-proj-" + "Zq8Xw2Lm4Np6Rt0Vy3Bc5Df7Gh9Jk1"


def _output_calls(path: Path) -> list[str]:
    """Where a module prints or writes to the process's own stdout/stderr: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            found.append(f"{node.lineno}: print(")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (
                (node.value.id == "sys" and node.attr in ("stdout", "stderr", "__stdout__", "__stderr__"))
                or (node.value.id == "traceback" and node.attr.startswith("print"))
            )
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return sorted(found, key=lambda f: int(f.split(":")[0]))


def test_library_code_never_prints_or_writes_to_stdout_or_stderr():
    modules = [p for p in PACKAGE.rglob("*.py") if PACKAGE / "cli" not in p.parents]
    assert len(modules) > 50
    offenders = {str(p.relative_to(REPO)): calls for p in sorted(modules) if (calls := _output_calls(p))}
    assert offenders == {}


def test_the_scan_finds_what_it_forbids(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "import sys, traceback\nprint('x')\nsys.stderr.write('y')\nout = sys.stdout\ntraceback.print_exc()\n"
    )
    assert _output_calls(module) == [
        "2: print(",
        "3: sys.stderr",
        "4: sys.stdout",
        "5: traceback.print_exc",
    ]


def test_modules_that_log_use_their_own_module_logger():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "logging.getLogger(" in text and PACKAGE / "cli" not in path.parents:
            assert "logging.getLogger(__name__)" in text, path
            assert "logging.basicConfig" not in text, path


# --- the command line's view of the logs -----------------------------------------------------------------------


def _record(level: int, message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("imgkit.x", level, __file__, 1, message, args, None)


@pytest.mark.parametrize(
    ("level", "message", "shown"),
    [
        (
            logging.WARNING,
            "the plan's quote $%s exceeds the budget",
            "imgkit: warning: the plan's quote $1 exceeds the budget",
        ),
        (logging.ERROR, "two\n  lines  \n\n", "imgkit: error: two lines"),
        (logging.INFO, "report %s: running", "report x: running"),
    ],
)
def test_a_log_record_is_one_line_with_its_level(level, message, shown):
    args = {logging.WARNING: ("1",), logging.INFO: ("x",)}.get(level, ())
    assert OneLineFormatter().format(_record(level, message, *args)) == shown


def test_a_logged_key_is_redacted_on_the_command_line(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    line = OneLineFormatter().format(_record(logging.WARNING, "sent with %s", FAKE_KEY))
    assert FAKE_KEY not in line and line.startswith("imgkit: warning: sent with ")


def test_a_logged_exception_keeps_its_traceback_below_its_line():
    try:
        raise ValueError("a simulator bug")
    except ValueError:
        record = logging.LogRecord("imgkit.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = OneLineFormatter().format(record)
    assert text.startswith("imgkit: error: failed\nTraceback") and "ValueError: a simulator bug" in text


def test_warnings_show_by_default_information_with_v_and_the_logger_is_restored(capsys):
    logger = logging.getLogger("imgkit.runs.runner")
    before = logging.getLogger("imgkit").handlers[:], logging.getLogger("imgkit").propagate
    for verbose, shown in ((0, ["imgkit: warning: w"]), (1, ["i", "imgkit: warning: w"])):
        with command_logging(verbose):
            logger.debug("d")
            logger.info("i")
            logger.warning("w")
        assert capsys.readouterr().err.splitlines() == shown
    with command_logging(2):
        logger.debug("d")
    assert capsys.readouterr().err == "d\n"
    assert (logging.getLogger("imgkit").handlers, logging.getLogger("imgkit").propagate) == before


def test_verbose_is_accepted_before_and_after_the_command(tmp_path, capsys):
    for argv in (["-v", "models"], ["models", "-v"], ["models", "--verbose"]):
        assert main(argv) == 0
    assert capsys.readouterr().err == ""


# --- a run's progress and warnings -------------------------------------------------------------------------------


def _spec(tmp_path: Path, sim, **overrides) -> Path:
    return write_spec(tmp_path, sim, **{"concurrency": 2, **overrides})


def test_a_run_sends_progress_events_from_start_to_end(tmp_path, simulator):
    events: list[RunProgress] = []
    summary = run_experiment(load_spec(_spec(tmp_path, simulator, budget_usd="1.00")), progress=events.append)
    assert events[0].event == "start" and (events[0].done, events[0].total) == (0, 4)
    items = [e for e in events if e.event == "item"]
    assert [e.done for e in items] == [1, 2, 3, 4] and all(e.failed == 0 for e in items)
    assert events[-1].event == "end" and events[-1].done == 4 and events[-1].eta_s is None
    assert events[-1].spent_usd == summary.spent_usd > 0
    assert {e.budget_usd for e in events} == {Decimal("1.00")}
    assert [e.elapsed_s for e in events] == sorted(e.elapsed_s for e in events)


def test_a_failing_progress_callback_is_logged_once_and_the_run_goes_on(tmp_path, simulator, caplog):
    calls = []

    def broken(p: RunProgress) -> None:
        calls.append(p)
        raise RuntimeError("display gone")

    summary = run_experiment(load_spec(_spec(tmp_path, simulator)), progress=broken)
    assert summary.ok == 4 and len(calls) == 1
    failed = [r for r in caplog.records if "progress callback failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].name == "imgkit.runs.progress"


def test_eta_is_the_average_pace_over_the_items_left():
    p = RunProgress("item", total=10, done=4, failed=1, spent_usd=Decimal(0), budget_usd=None, elapsed_s=8.0)
    assert p.eta_s == pytest.approx(12.0)
    assert RunProgress("start", 10, 0, 0, Decimal(0), None, 1.0).eta_s is None


def test_the_progress_line_says_done_failed_spend_and_eta():
    p = RunProgress("item", 40, 12, 1, Decimal("0.0600000000"), Decimal("1.00"), 5.2)
    assert progress_text(p) == "12/40 done, 1 failed, spent $0.06 of $1.00, 00:05, ETA 00:12"
    done = RunProgress("end", 40, 40, 0, Decimal("0.2"), None, 75.0)
    assert progress_text(done) == "40/40 done, 0 failed, spent $0.2, 01:15"  # exact, as the summary line


def test_off_a_terminal_the_progress_is_a_line_every_interval_and_one_at_the_end():
    out = io.StringIO()
    with ProgressLine(out, every_s=60) as line:
        line(RunProgress("start", 4, 0, 0, Decimal(0), None, 0.0))
        for done in (1, 2, 3):
            line(RunProgress("item", 4, done, 0, Decimal("0.005") * done, None, float(done)))
        line(RunProgress("end", 4, 4, 0, Decimal("0.02"), None, 4.0))
    assert out.getvalue().splitlines() == [
        "1/4 done, 0 failed, spent $0.005, 00:01, ETA 00:03",
        "4/4 done, 0 failed, spent $0.02, 00:04",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_updates_in_place_and_warnings_are_written_above_it(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with command_logging(0), ProgressLine() as line:
        line(RunProgress("start", 4, 0, 0, Decimal(0), None, 0.0))
        line.every_s = 0  # no wait between redraws in a test
        line(RunProgress("item", 4, 1, 0, Decimal("0.005"), None, 1.0))
        logging.getLogger("imgkit.runs.runner").warning("interrupted: no new requests")
        line(RunProgress("end", 4, 4, 0, Decimal("0.02"), None, 4.0))
    text = terminal.getvalue()
    assert "\r1/4 done, 0 failed, spent $0.005, 00:01, ETA 00:03 |" in text
    assert "\rimgkit: warning: interrupted: no new requests\n" in text  # the bar cleared, then redrawn
    assert text.endswith("\r4/4 done, 0 failed, spent $0.02, 00:04 |##########|\n")


def test_imgkit_run_warns_in_one_line_when_the_plan_exceeds_the_budget(tmp_path, simulator, capsys):
    path = _spec(tmp_path, simulator, budget_usd="0.012")
    assert main(["run", str(path), "--no-progress"]) == 1  # two items left unsent by the budget
    err = capsys.readouterr().err
    assert err == (
        "imgkit: warning: the plan's quote $0.0328 exceeds the budget left $0.012; "
        "the run stops before the budget would be exceeded\n"
    )


def run_summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "run" / "summary.json").read_text())


def test_imgkit_run_shows_progress_lines_on_stderr_and_the_table_on_stdout(tmp_path, simulator, capsys):
    assert main(["run", str(_spec(tmp_path, simulator))]) == 0
    captured = capsys.readouterr()
    spent = usd_text(run_summary(tmp_path)["spent_usd"])
    assert captured.err.splitlines()[-1].startswith(f"4/4 done, 0 failed, spent {spent}, ")
    assert "done," not in captured.out and "run directory:" in captured.out


def test_a_simulator_bug_is_logged_with_its_traceback_and_answered_500(simulator, monkeypatch, caplog):
    import httpx

    async def broken(req, ex):
        raise ZeroDivisionError("simulator bug")

    monkeypatch.setattr(simulator, "_serve_file", broken)
    with caplog.at_level(logging.ERROR, logger="imgkit.simulator"):
        response = httpx.get(simulator.url.rstrip("/") + "/files/anything.png")
    assert response.status_code == 500 and "see its log" in response.text
    (record,) = [r for r in caplog.records if r.name == "imgkit.simulator._server"]
    assert record.getMessage() == "simulator internal error answering GET /files/anything.png"
    assert record.exc_info[0] is ZeroDivisionError


def test_a_retried_attempt_is_information_shown_with_v(tmp_path, simulator_factory, capsys):
    from imgkit.simulator import FaultPlan

    sim = simulator_factory(faults=FaultPlan(["rate_limit", "ok", "rate_limit"], retry_after_ms=5))
    path = _spec(tmp_path, sim, prompts=[{"id": "p0", "text": "a lighthouse"}])
    assert main(["run", str(path), "--no-progress", "-v"]) == 0
    assert capsys.readouterr().err == (
        "openai gpt-image-2: attempt 1 failed (rate_limit, status 429); retrying in 0.0 s\n"
    )
    again = ["run", str(path), "--no-progress", "--output-dir", str(tmp_path / "again")]
    assert main(again) == 0  # retried the same way, without -v: nothing on stderr
    assert capsys.readouterr().err == "" and len(sim.requests) == 4
