"""Request records: a journal written by an earlier version of imgkit reads as it did then."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from imgkit.analysis.performance import log_summary, performance_table
from imgkit.records.journal import RequestLog, scan_journal
from imgkit.records.scan import scan_log

#: a journal of version 1 (records without a version), written by commit a2dcf8a's writer: a simulated run
#: with retries and refusals, its sent records, one sent record no outcome follows and a torn last line;
#: beside it what that commit's readers answered (make_fixture.py says how)
V1 = Path(__file__).parent / "data" / "journal_v1"


def v1_journal(tmp_path: Path) -> Path:
    """A copy of the v1 journal (a writer cuts its torn tail: the fixture stays as it is)."""
    path = tmp_path / "log.jsonl"
    shutil.copyfile(V1 / "log.jsonl", path)
    return path


def test_a_v1_journal_reads_as_its_own_version_of_imgkit_read_it(tmp_path):
    path = v1_journal(tmp_path)
    assert_frame_equal(
        scan_journal(path, include_sent=True).collect(), pl.read_parquet(V1 / "expected_scan.parquet")
    )
    attempts = scan_log(path)
    assert_frame_equal(
        performance_table(attempts, by="target"), pl.read_parquet(V1 / "expected_table.parquet")
    )
    expected = json.loads((V1 / "expected.json").read_text())
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
