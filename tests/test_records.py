"""Request records: every journal record carries its schema version, a journal written by an earlier version of
imgkit reads as it did then (its records upgraded by one migration per version), and a record of a version
newer than imgkit knows is refused in one line."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from imgkit.analysis.performance import log_summary, performance_table
from imgkit.cli import main
from imgkit.errors import InvalidParameterError, SpecError
from imgkit.records.journal import JOURNAL_NAME, RequestLog, encode_record, scan_journal
from imgkit.records.migrations import MIGRATIONS, SUPPORTED_VERSIONS, upgrade
from imgkit.records.rundir import RunDirectory
from imgkit.records.scan import scan_log
from imgkit.records.schema import LOG_SCHEMA, SCHEMA_VERSION, TS, VERSION_FIELD

#: a journal of version 1 (records without a version), written by commit a2dcf8a's writer: a simulated run
#: with retries and refusals, its sent records, one sent record no outcome follows and a torn last line;
#: beside it what that commit's readers answered (make_fixture.py says how)
V1 = Path(__file__).parent / "data" / "journal_v1"
#: a journal of version 2 (``"v": 2``, before ``batch_id``), written alike by commit fd239a6's writer
V2 = Path(__file__).parent / "data" / "journal_v2"
T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def fixture_journal(tmp_path: Path, fixture: Path = V1) -> Path:
    """A copy of a fixture's journal (a writer cuts its torn tail: the fixture stays as it is)."""
    path = tmp_path / "log.jsonl"
    shutil.copyfile(fixture / "log.jsonl", path)
    return path


def v1_records() -> list[dict[str, Any]]:
    """The v1 journal's complete records as the writer takes them (times as datetimes), torn tail left out."""
    lines = (V1 / "log.jsonl").read_text().split("\n")[:-1]  # after the last newline: the torn line
    records = []
    for line in lines:
        record = json.loads(line)
        assert VERSION_FIELD not in record  # version 1: no version field
        for name, dtype in LOG_SCHEMA.items():
            if dtype == TS and record[name] is not None:
                record[name] = dt.datetime.fromisoformat(record[name])
        records.append(record)
    return records


def expected_scan(fixture: Path = V1) -> pl.DataFrame:
    """What the fixture's own imgkit read, in today's columns: those a later version added are null (every
    record of an earlier version was sent interactively: no ``batch_id``)."""
    frame = pl.read_parquet(fixture / "expected_scan.parquet")
    return frame.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in LOG_SCHEMA.items()
        if name not in frame.columns
    ).select(list(LOG_SCHEMA))


def new_attempt(item: str) -> dict[str, Any]:
    return {"run_id": "r2", "item_id": item, "attempt": 1, "final": True, "outcome": "ok", "started_at": T0}


@pytest.mark.parametrize("fixture", [V1, V2], ids=["v1", "v2"])
def test_an_older_journal_reads_as_its_own_version_of_imgkit_read_it(tmp_path, fixture):
    path = fixture_journal(tmp_path, fixture)
    assert_frame_equal(scan_journal(path, include_sent=True).collect(), expected_scan(fixture))
    attempts = scan_log(path)
    assert_frame_equal(
        performance_table(attempts, by="target"), pl.read_parquet(fixture / "expected_table.parquet")
    )
    expected = json.loads((fixture / "expected.json").read_text())
    log = RequestLog(path)
    assert sorted(log.finished_items()) == expected["finished_items"]
    assert log.unanswered_sent().collect()["item_id"].to_list() == expected["unanswered_sent"]
    summary = log_summary(attempts)
    assert {
        "requests": summary.requests,
        "attempts": summary.attempts,
        "first_started_at": summary.first_started_at.isoformat(),
        "last_started_at": summary.last_started_at.isoformat(),
        "provenance": list(summary.provenance),
    } == expected["log_summary"]


def test_every_record_is_written_with_the_current_version_first_and_read_without_it(tmp_path):
    line = encode_record(new_attempt("a"))
    assert line.startswith(b'{"v":%d,"run_id":"r2",' % SCHEMA_VERSION) and SCHEMA_VERSION == 3
    with RequestLog(tmp_path / "log.jsonl") as log:
        log.append(new_attempt("a"))
    frame = scan_journal(tmp_path / "log.jsonl").collect()
    assert frame.schema == pl.Schema(LOG_SCHEMA) and frame["item_id"].to_list() == ["a"]


def test_the_v1_records_written_again_as_v2_read_the_same(tmp_path):
    with RequestLog(tmp_path / "log.jsonl") as log:
        for record in v1_records():
            log.append(record)
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert {json.loads(line)[VERSION_FIELD] for line in lines} == {SCHEMA_VERSION}
    assert_frame_equal(scan_journal(tmp_path / "log.jsonl", include_sent=True).collect(), expected_scan())
    assert_frame_equal(
        performance_table(scan_log(tmp_path / "log.jsonl"), by="target"),
        pl.read_parquet(V1 / "expected_table.parquet"),
    )


def test_a_v1_journal_continued_by_this_writer_holds_both_versions_and_reads_as_one(tmp_path):
    # a run begun by an older imgkit and resumed by this one: the torn tail cut, v2 records after v1 ones
    path = fixture_journal(tmp_path)
    with RequestLog(path) as log:
        log.append(new_attempt("resumed"))
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r.get(VERSION_FIELD) for r in raw] == [None] * (len(raw) - 1) + [SCHEMA_VERSION]
    both = scan_journal(path, include_sent=True).collect()
    assert_frame_equal(both.head(-1), expected_scan())
    assert both.row(-1, named=True)["item_id"] == "resumed"
    assert "resumed" in RequestLog(path).finished_items()


def test_a_v2_journal_continued_by_this_writer_reads_as_one(tmp_path):
    path = fixture_journal(tmp_path, V2)
    with RequestLog(path) as log:
        log.append({**new_attempt("batched"), "batch_id": "batch_1"})
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r[VERSION_FIELD] for r in raw[:-1]} == {2} and raw[-1][VERSION_FIELD] == SCHEMA_VERSION
    both = scan_journal(path, include_sent=True).collect()
    assert_frame_equal(both.head(-1), expected_scan(V2))
    assert both["batch_id"].to_list() == [None] * (both.height - 1) + ["batch_1"]


@pytest.mark.parametrize("continued", [False, True], ids=["v1", "v1 then v2"])
def test_a_bad_line_is_named_by_its_line_whatever_the_versions_around_it(tmp_path, continued):
    path = fixture_journal(tmp_path)
    if continued:
        with RequestLog(path) as log:
            log.append(new_attempt("resumed"))
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(9, '{"run_id": "r1", "item_id": "x", "attempt": 1, "outcome": "great"}\n')
    path.write_text("".join(lines))
    with pytest.raises(SpecError) as err:
        scan_log(path)
    assert (err.value.file, err.value.key_path) == (str(path), "line 10, outcome")


def test_a_record_of_a_newer_version_is_refused_naming_the_file_line_and_versions(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    newer = {**json.loads(encode_record(new_attempt("b"))), VERSION_FIELD: 4, "cost_usd_v4": "0.01"}
    path.write_bytes(encode_record(new_attempt("a")) + json.dumps(newer).encode() + b"\n")
    with pytest.raises(SpecError) as err:
        scan_journal(path)
    assert (err.value.file, err.value.key_path) == (str(path), "line 2, v")
    assert err.value.problem.startswith(
        "record version 4 is newer than this imgkit reads; supported: 1, 2, 3"
    )
    assert main(["perf", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"imgkit: error: {path}: line 2, v: record version 4 is newer")


@pytest.mark.parametrize("version", [0, -1, "2", 2.5, True])
def test_a_version_that_is_no_version_is_refused(tmp_path, version):
    path = tmp_path / "log.jsonl"
    record = {**json.loads(encode_record(new_attempt("a"))), VERSION_FIELD: version}
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(SpecError, match=r"line 1, v: .* is not a record version; allowed: 1, 2, 3"):
        scan_journal(path)


def test_one_migration_per_version_in_order():
    assert len(MIGRATIONS) == SCHEMA_VERSION - 1 and list(SUPPORTED_VERSIONS) == [1, 2, 3]
    assert [m.__name__[:4] for m in MIGRATIONS] == [f"m{k:03d}" for k in range(1, SCHEMA_VERSION)]
    assert all(m.__doc__ for m in MIGRATIONS)


def test_a_migration_upgrades_the_records_of_its_version_only():
    stored = pl.LazyFrame({VERSION_FIELD: [1, 2, 1], "item_id": ["a", "b", "c"]})
    upgraded = upgrade(stored, oldest=1).collect()
    assert upgraded.to_dict(as_series=False) == {VERSION_FIELD: [3, 3, 3], "item_id": ["a", "b", "c"]}
    assert upgrade(stored, oldest=2).collect()[VERSION_FIELD].to_list() == [1, 3, 1]  # version 2 only
    assert upgrade(stored, oldest=SCHEMA_VERSION) is stored  # a current journal: no migration runs


# --- the run directory ---------------------------------------------------------------------------------------


def v1_run(tmp_path: Path, spec_as_run: str) -> Path:
    """A run directory holding the v1 journal and ``spec_as_run`` as its spec.yaml."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(V1 / "log.jsonl", run / "log.jsonl")
    (run / "spec.yaml").write_text(spec_as_run)
    return run


@pytest.mark.parametrize(
    ("damage", "where"),
    [
        ("prompts: [{id: fox, text: a fox}\nname: x\n", "line 2"),  # a YAML syntax error
        ("name: a\nname: b\n", "line 2, column 1"),  # a key written twice
        ("- a list\n", ""),  # not a mapping
    ],
    ids=["syntax", "duplicate key", "a list"],
)
def test_a_damaged_spec_as_run_is_one_line_for_grid_vote_and_resume(tmp_path, capsys, damage, where):
    run = v1_run(tmp_path, damage)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: again\nprompts: [{id: fox, text: A red fox}]\n"
        "targets: [{model: gpt-image-2, provider: openai, quality: low, size: 1024x1024}]\n"
        "simulate: {time_scale: 0}\noutput_dir: run\n"
    )
    for argv in (["grid", str(run)], ["vote", str(run), "--plan"], ["run", str(spec), "--resume"]):
        assert main(argv) == 2, argv
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"imgkit: error: {run / 'spec.yaml'}: {where}"), (argv, line)
    assert (run / "spec.yaml").read_text() == damage  # the resume stopped before writing it again


def test_the_run_directory_names_its_files_once(tmp_path):
    run = RunDirectory(tmp_path / "offline")
    assert JOURNAL_NAME == "log.jsonl"
    assert (run.log_path.name, run.log_label) == (JOURNAL_NAME, "offline/log.jsonl")
    assert [
        p.name for p in (run.spec_path, run.summary_path, run.votes_path, run.images_dir, run.inputs_dir)
    ] == [
        "spec.yaml",
        "summary.json",
        "votes.csv",
        "images",
        "inputs",
    ]
    assert run.spec_as_run() == {} and run.run_record() == {} and not run.has_log()
    with pytest.raises(InvalidParameterError, match=r"a run directory holding log\.jsonl"):
        run.final_attempts()
