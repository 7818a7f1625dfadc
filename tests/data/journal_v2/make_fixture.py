"""How the files beside this one were made: run once at commit fd239a6 (journal schema version 2, records
carrying ``"v": 2``, before the ``batch_id`` column), with that commit's writer and readers
(``imgkit.records.journal``, ``imgkit.records.scan``, ``imgkit.analysis.performance``), its source unpacked
with ``git archive fd239a6`` and put first on ``PYTHONPATH``. Kept as the record of how they were made; it
does not run on later commits. The files are never edited by hand.

    PYTHONPATH=FD239A6_SOURCE .venv/bin/python tests/data/journal_v2/make_fixture.py RUN_DIR

RUN_DIR is the run directory of ``imgkit run SPEC --output-dir RUN_DIR`` on ``spec.yaml`` beside this file (simulated, seeded, with
faults; run in a scratch folder). Its journal is written again here, record by record, through the same
writer, with image paths made relative to the run directory (the run's absolute paths name the machine it
ran on); then one ``sent`` record no outcome follows (a request in flight when its process was killed) and a
torn last line (the first 100 bytes of another record's line, as a kill mid-write leaves it). The expected
results are that commit's readers' answers on the journal.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from imgkit.analysis.performance import log_summary, performance_table
from imgkit.records.journal import RequestLog, encode_record, scan_journal
from imgkit.records.scan import scan_log
from imgkit.records.schema import LOG_SCHEMA, TS

HERE = Path(__file__).resolve().parent


def typed(record: dict) -> dict:
    """A record as the writer takes it: times as datetimes, without the version (the writer adds its own)."""
    out = {}
    for name, value in record.items():
        if name == "v":
            continue
        if value is not None and LOG_SCHEMA[name] == TS:
            value = dt.datetime.fromisoformat(value)
        out[name] = value
    return out


def main(run_dir: Path) -> None:
    journal = HERE / "log.jsonl"
    journal.unlink(missing_ok=True)
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    with RequestLog(journal) as log:
        for record in records:
            if record["images"]:
                images = json.loads(record["images"])
                for image in images:
                    image["path"] = str(Path(image["path"]).relative_to(run_dir))
                record["images"] = json.dumps(images, separators=(",", ":"))
            log.append(typed(record))
        in_flight = {**typed(records[0]), "item_id": "killed-in-flight", "repeat": 9}
        log.append(in_flight)  # a sent record: no outcome follows
    torn = encode_record({**typed(records[0]), "item_id": "torn", "repeat": 10})[:100]
    with journal.open("ab") as fh:
        fh.write(torn)
    scan_journal(journal, include_sent=True).collect().write_parquet(HERE / "expected_scan.parquet")
    attempts = scan_log(journal)
    performance_table(attempts, by="target").write_parquet(HERE / "expected_table.parquet")
    reader = RequestLog(journal)
    summary = log_summary(attempts)
    expected = {
        "finished_items": sorted(reader.finished_items()),
        "unanswered_sent": reader.unanswered_sent().collect()["item_id"].to_list(),
        "log_summary": {
            "requests": summary.requests,
            "attempts": summary.attempts,
            "first_started_at": summary.first_started_at.isoformat(),
            "last_started_at": summary.last_started_at.isoformat(),
            "provenance": list(summary.provenance),
        },
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
