"""Malformed files and arguments, as users hand them to the real command line: each one refused.

A table of cases, one per malformed input, grouped by the kind of file (spec, prompts, votes, workload,
request log, report parameters) or argument. Each runs ``imgkit.cli.main`` in a scratch directory and must
end with exit status 2 and exactly one line on stderr that names the file (its base name) and the field
(key path, line number or column), no traceback, and nothing written: no run directory, no report folder,
no changed file.

``python tests/test_bad_input.py`` prints how many cases of each kind are refused that way (the measure of
issue 12), and the cases that are not.
"""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imgkit.analysis.performance import GROUPABLE_COLUMNS, performance_table
from imgkit.analysis.projection import check_horizon, load_workload, project
from imgkit.catalog import load_yaml
from imgkit.cli import main
from imgkit.errors import InvalidParameterError, SpecError
from imgkit.records.scan import scan_log
from imgkit.report_params import NOTEBOOK_RULES
from imgkit.reports import find_notebooks, parse_value, report_parameters, resolve_notebook

REPO = Path(__file__).resolve().parents[1]

# --- valid files, each case breaks one thing -------------------------------------------------------------

SPEC = """\
name: bad-input
prompts:
  - {id: fox, text: "A red fox in fresh snow"}
targets:
  - {model: gpt-image-2, provider: openai, quality: low, size: 1024x1024}
simulate: {time_scale: 0}
output_dir: out
"""

PROMPTS_CSV = "id,text,category\nfox,A red fox in fresh snow,animals\nowl,An owl at night,animals\n"

VOTES = "model_a,model_b,winner\nm1,m2,model_a\nm2,m3,tie\nm1,m3,model_b\nm3,m1,model_a\n"

WORKLOAD = """\
name: tiny
volume: {requests_per_month: 1000, growth_per_month: "0.05"}
mix:
  - {share: "1", quality: low, size: 1024x1024}
reliability: {failure_rate: "0.02", max_attempts: 3}
targets:
  - {model: gpt-image-2, provider: openai}
"""


def _record(**changes: object) -> dict:
    import datetime as dt
    from decimal import Decimal

    start = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    record = {
        "run_id": "r1",
        "item_id": "i1",
        "attempt": 1,
        "final": True,
        "started_at": start,
        "ended_at": start + dt.timedelta(seconds=12),
        "latency_ms": 12000.0,
        "outcome": "ok",
        "http_status": 200,
        "provider": "openai",
        "model": "gpt-image-1-mini",
        "quality": "low",
        "n": 1,
        "images_count": 1,
        "estimated_cost_usd": Decimal("0.005"),
        "actual_cost_usd": Decimal("0.005"),
        "cost_method": "per_image_table",
        "provenance": "simulated",
    }
    record.update(changes)
    return record


def _journal(*lines: str | bytes | None, good: int = 3) -> bytes:
    """``good`` valid journal lines, then ``lines`` (None: one more valid line)."""
    from imgkit.records.journal import encode_record

    out = [encode_record(_record(item_id=f"i{k}")) for k in range(good)]
    for k, line in enumerate(lines):
        if line is None:
            out.append(encode_record(_record(item_id=f"j{k}")))
        else:
            out.append(line if isinstance(line, bytes) else line.encode())
    return b"".join(out)


def _sent(**changes: object) -> dict:
    """The ``sent`` record the client writes before a request leaves (``ImageClient._announcement``): the
    request's columns, ``final`` false, ``started_at``, outcome ``sent`` and the quote reserved for it."""
    full = _record()
    record = {k: full[k] for k in ("run_id", "item_id", "attempt", "provider", "model", "quality", "n")}
    record.update(final=False, started_at=full["started_at"], outcome="sent", provenance="simulated")
    record.update({"estimated_cost_usd": full["estimated_cost_usd"], **changes})
    return record


def _line(base: Callable[..., dict] = _record, **changes: object) -> str:
    """One journal line with raw JSON changes (None deletes the key), as a foreign writer might leave it;
    ``base`` makes the record changed (an attempt, or :func:`_sent`)."""
    import json

    from imgkit.records.journal import encode_record

    record = json.loads(encode_record(base(item_id="bad")))
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return json.dumps(record) + "\n"


JUNK = bytes(range(256)) * 4


# --- the table ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """``argv`` run in a scratch directory holding ``files``; the error line must contain ``names``."""

    kind: str
    name: str
    argv: Sequence[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    names: Sequence[str] = ()

    @property
    def id(self) -> str:
        return f"{self.kind}: {self.name}"


def _spec(body: str = SPEC, **files: str | bytes) -> dict[str, str | bytes]:
    return {"spec.yaml": body, **files}


# fmt: off
# (one case a line: the tables read better unwrapped)
def spec_cases() -> list[Case]:
    run = ["run", "spec.yaml", "--no-progress"]
    csv_spec = SPEC.replace('  - {id: fox, text: "A red fox in fresh snow"}', "  - {file: prompts.csv}")
    txt_spec = csv_spec.replace("prompts.csv", "prompts.txt")
    no_targets = SPEC.replace("targets:\n  - {model: gpt-image-2, provider: openai, quality: low, size: 1024x1024}", "targets: []")
    edit = SPEC.replace("size: 1024x1024}", "size: 1024x1024, mode: edit, images: [room]}")
    out = [
        ("binary junk", _spec(JUNK), ["spec.yaml"]),
        ("Latin-1 bytes", _spec(SPEC.replace("A red fox", "Un renard à").encode("latin-1")), ["spec.yaml", "line 3"]),
        ("UTF-16 text", _spec(SPEC.encode("utf-16")), ["spec.yaml"]),
        ("duplicate key", _spec(SPEC + "name: again\n"), ["spec.yaml", "name"]),
        ("duplicate nested key", _spec(SPEC.replace("time_scale: 0", "time_scale: 0, time_scale: 1")), ["spec.yaml", "time_scale"]),
        ("YAML syntax error", _spec(SPEC.replace("{id: fox,", "{id: fox")), ["spec.yaml", "line"]),
        ("tab indentation", _spec(SPEC.replace("  - {model", "\t- {model")), ["spec.yaml", "line"]),
        ("top level is a list", _spec("- a\n- b\n"), ["spec.yaml"]),
        ("empty file", _spec(""), ["spec.yaml"]),
        ("unknown key", _spec(SPEC + "promts: []\n"), ["spec.yaml", "promts"]),
        ("empty prompt id", _spec(SPEC.replace("id: fox", 'id: ""')), ["spec.yaml", "prompts[0].id"]),
        ("blank prompt id", _spec(SPEC.replace("id: fox", 'id: "  "')), ["spec.yaml", "prompts[0].id"]),
        ("empty prompt text", _spec(SPEC.replace('"A red fox in fresh snow"', '""')), ["spec.yaml", "prompts[0].text"]),
        ("prompt without text", _spec(SPEC.replace(', text: "A red fox in fresh snow"', "")), ["spec.yaml", "prompts[0]"]),
        ("concurrency 0", _spec(SPEC + "concurrency: 0\n"), ["spec.yaml", "concurrency"]),
        ("repeats not a number", _spec(SPEC + "repeats: many\n"), ["spec.yaml", "repeats"]),
        ("budget not a number", _spec(SPEC + "budget_usd: five\n"), ["spec.yaml", "budget_usd"]),
        ("negative budget", _spec(SPEC + 'budget_usd: "-1"\n'), ["spec.yaml", "budget_usd"]),
        ("infinite budget", _spec(SPEC + "budget_usd: .inf\n"), ["spec.yaml", "line"]),
        ("fault rate above 1", _spec(SPEC.replace("time_scale: 0", "time_scale: 0, fault_rate: 2")), ["spec.yaml", "simulate"]),
        ("simulated hang of 0 s", _spec(SPEC.replace("time_scale: 0", "time_scale: 0, hang_s: 0")), ["spec.yaml", "simulate", "hang_s"]),
        ("simulated hang not a number", _spec(SPEC.replace("time_scale: 0", "time_scale: 0, hang_s: forever")), ["spec.yaml", "simulate", "hang_s"]),
        ("simulator url not http", _spec(SPEC.replace("time_scale: 0", "url: ftp://x")), ["spec.yaml", "simulate"]),
        ("name with a space", _spec(SPEC.replace("name: bad-input", "name: bad input")), ["spec.yaml", "name"]),
        ("no targets", _spec(no_targets), ["spec.yaml", "targets"]),
        ("unknown model", _spec(SPEC.replace("model: gpt-image-2", "model: gpt-imag")), ["spec.yaml", "targets[0]"]),
        ("unknown quality", _spec(SPEC.replace("quality: low", "quality: ultra")), ["spec.yaml", "targets[0]"]),
        ("size with a minus", _spec(SPEC.replace("size: 1024x1024", "size: -1x5")), ["spec.yaml", "targets[0]"]),
        ("n is 0", _spec(SPEC.replace("size: 1024x1024}", "size: 1024x1024, n: 0}")), ["spec.yaml", "targets[0]"]),
        ("secret-looking option", _spec(SPEC.replace("size: 1024x1024}", "size: 1024x1024, options: {api_key: x}}")), ["spec.yaml", "options"]),
        ("max_attempts 0", _spec(SPEC + "retries: {max_attempts: 0}\n"), ["spec.yaml", "retries.max_attempts"]),
        ("negative rate limit", _spec(SPEC + "rate_limits: {requests_per_minute: -1}\n"), ["spec.yaml", "rate_limits"]),
        ("seed not a number", _spec(SPEC + "seed: x\n"), ["spec.yaml", "seed"]),
        ("undefined input image", _spec(edit), ["spec.yaml", "targets[0]"]),
        ("missing input image file", _spec(SPEC + "input_images: {room: room.png}\n"), ["spec.yaml", "input_images.room"]),
        ("input image not an image", _spec(edit + "input_images: {room: room.png}\n", **{"room.png": JUNK}), ["spec.yaml", "input_images.room"]),
        ("missing prompts file", _spec(csv_spec), ["spec.yaml", "prompts[0].file"]),
        ("prompts CSV row with empty text", _spec(csv_spec, **{"prompts.csv": "id,text\nfox,\n"}), ["prompts.csv", "line 2", "text"]),
        ("prompts CSV row with empty id", _spec(csv_spec, **{"prompts.csv": "id,text\n,A fox\n"}), ["prompts.csv", "line 2", "id"]),
        ("prompts CSV in Latin-1", _spec(csv_spec, **{"prompts.csv": "id,text\nfox,Un renard à la neige\n".encode("latin-1")}), ["prompts.csv", "line 2"]),
        ("prompts CSV binary junk", _spec(csv_spec, **{"prompts.csv": JUNK}), ["prompts.csv"]),
        ("prompts CSV row with an extra field", _spec(csv_spec, **{"prompts.csv": PROMPTS_CSV + "cat,A cat,animals,extra\n"}), ["prompts.csv", "line 4"]),
        ("prompts CSV row with a missing field", _spec(csv_spec, **{"prompts.csv": "id,text,category\nfox\n"}), ["prompts.csv", "line 2"]),
        ("prompts CSV without a text column", _spec(csv_spec, **{"prompts.csv": "id,prompt\nfox,A fox\n"}), ["prompts.csv", "header"]),
        ("prompts CSV with a NUL byte", _spec(csv_spec, **{"prompts.csv": b"id,text\nfox,A fox\x00 in snow\n"}), ["prompts.csv", "line 2"]),
        ("prompts CSV duplicate id", _spec(csv_spec, **{"prompts.csv": "id,text\nfox,A\nfox,B\n"}), ["spec.yaml", "prompts"]),
        ("prompts text file in Latin-1", _spec(txt_spec, **{"prompts.txt": "Un renard à la neige\n".encode("latin-1")}), ["prompts.txt", "line 1"]),
        ("output_dir is an existing file", _spec(**{"out": "not a directory\n"}), ["spec.yaml", "output_dir"]),
        ("output_dir under a file", _spec(SPEC.replace("output_dir: out", "output_dir: notes.txt/run"), **{"notes.txt": "x\n"}), ["spec.yaml", "output_dir"]),
    ]
    cases = [Case("spec", name, run, files, names) for name, files, names in out]
    cases += [
        Case("spec", "--grace -5", [*run, "--grace", "-5"], _spec(), ["--grace"]),
        Case("spec", "--grace nan", [*run, "--grace", "nan"], _spec(), ["--grace"]),
        Case("spec", "--grace not a number", [*run, "--grace", "soon"], _spec(), ["--grace"]),
        Case("spec", "--budget not an amount", [*run, "--budget", "lots"], _spec(), ["--budget"]),
        Case("spec", "--budget negative", [*run, "--budget", "-1"], _spec(), ["--budget"]),
        Case("spec", "--output-dir is a file", [*run, "--output-dir", "f.txt"], _spec(**{"f.txt": "x"}), ["f.txt"]),
        Case("spec", "spec is a directory", ["run", "specs", "--no-progress"], {"specs/keep": ""}, ["specs"]),
        Case("spec", "spec does not exist", ["run", "nope.yaml", "--no-progress"], {}, ["nope.yaml"]),
    ]
    return cases


def votes_cases() -> list[Case]:
    def ratings(files: dict[str, str | bytes], names: Sequence[str], *extra: str, votes: str = "votes.csv") -> tuple:
        return ["ratings", votes, "--ci", "none", *extra], files, names

    counts = "model_a,model_b,a_wins,b_wins\n"
    out = [
        ("empty file", *ratings({"votes.csv": ""}, ["votes.csv"])),
        ("header only", *ratings({"votes.csv": "model_a,model_b,winner\n"}, ["votes.csv"])),
        ("invalid UTF-8", *ratings({"votes.csv": VOTES.replace("m3,m1", "m\xe93,m1").encode("latin-1")}, ["votes.csv", "line 5"])),
        ("binary junk", *ratings({"votes.csv": JUNK}, ["votes.csv"])),
        ("a row with an extra column", *ratings({"votes.csv": VOTES + "m1,m2,model_a,extra\n"}, ["votes.csv", "line 6"])),
        ("a row with a missing column", *ratings({"votes.csv": VOTES + "m1,m2\n"}, ["votes.csv", "row 5", "winner"])),
        ("NUL byte in a model name", *ratings({"votes.csv": VOTES.replace("m3,m1", "m3\x00,m1")}, ["votes.csv", "row 4", "model_a"])),
        ("empty model name", *ratings({"votes.csv": VOTES + ",m2,model_a\n"}, ["votes.csv", "row 5", "model_a"])),
        ("unknown winner label", *ratings({"votes.csv": VOTES + "m1,m2,left\n"}, ["votes.csv", "row 5", "winner"])),
        ("no winner column", *ratings({"votes.csv": "model_a,model_b,result\nm1,m2,model_a\n"}, ["votes.csv", "winner"])),
        ("negative count", *ratings({"votes.csv": counts + "m1,m2,3,-1\n"}, ["votes.csv", "b_wins"])),
        ("count not a number", *ratings({"votes.csv": counts + "m1,m2,3,many\n"}, ["votes.csv", "b_wins"])),
        ("duplicate column", *ratings({"votes.csv": "model_a,model_b,winner,winner\nm1,m2,model_a,tie\n"}, ["votes.csv", "winner"])),
        ("Parquet file of junk", *ratings({"votes.parquet": JUNK}, ["votes.parquet"], votes="votes.parquet")),
        ("not CSV or Parquet", *ratings({"votes.txt": VOTES}, ["votes.txt"], votes="votes.txt")),
        ("does not exist", *ratings({}, ["votes.csv"])),
        ("a directory", *ratings({"votes.csv/keep": ""}, ["votes.csv"])),
        ("unknown category", *ratings({"votes.csv": "model_a,model_b,winner,category\nm1,m2,model_a,t2i\n"}, ["votes.csv", "category"], "--category", "edit")),
        ("--bootstrap negative", ["ratings", "votes.csv", "--bootstrap", "-5"], {"votes.csv": VOTES}, ["--bootstrap"]),
        ("--anchor without a value", ["ratings", "votes.csv", "--ci", "none", "--anchor", "m1"], {"votes.csv": VOTES}, ["anchor"]),
    ]
    return [Case("votes", name, argv, files, names) for name, argv, files, names in out]


def workload_cases() -> list[Case]:
    def project(body: str | bytes, names: Sequence[str], *extra: str, **files: str | bytes) -> tuple:
        return ["project", "w.yaml", *extra], {"w.yaml": body, **files}, names

    with_log = WORKLOAD.replace("max_attempts: 3}", "max_attempts: 3, log: log.jsonl}")
    out = [
        ("binary junk", *project(JUNK, ["w.yaml"])),
        ("Latin-1 bytes", *project(WORKLOAD.replace("name: tiny", "name: café").encode("latin-1"), ["w.yaml", "line 1"])),
        ("duplicate key", *project(WORKLOAD + "name: again\n", ["w.yaml", "name"])),
        ("YAML syntax error", *project(WORKLOAD.replace("size: 1024x1024}", "size: 1024x1024"), ["w.yaml", "line"])),
        ("top level is a list", *project("- 1\n", ["w.yaml"])),
        ("empty file", *project("", ["w.yaml"])),
        ("shares do not sum to 1", *project(WORKLOAD.replace('share: "1"', 'share: "0.5"'), ["w.yaml", "mix"])),
        ("share not a number", *project(WORKLOAD.replace('share: "1"', "share: half"), ["w.yaml", "mix[0].share"])),
        ("unknown model", *project(WORKLOAD.replace("model: gpt-image-2", "model: gpt-imag"), ["w.yaml", "targets[0]"])),
        ("no volume", *project(WORKLOAD.replace('volume: {requests_per_month: 1000, growth_per_month: "0.05"}\n', ""), ["w.yaml", "volume"])),
        ("growth below -1", *project(WORKLOAD.replace('"0.05"', '"-2"'), ["w.yaml", "growth_per_month"])),
        ("failure rate above 1", *project(WORKLOAD.replace('failure_rate: "0.02"', 'failure_rate: "1.5"'), ["w.yaml", "failure_rate"])),
        ("size not WxH", *project(WORKLOAD.replace("size: 1024x1024", "size: huge"), ["w.yaml", "mix[0].size"])),
        ("no targets", *project(WORKLOAD.replace("targets:\n  - {model: gpt-image-2, provider: openai}\n", "targets: []\n"), ["w.yaml", "targets"])),
        ("reliability log missing", *project(WORKLOAD.replace("max_attempts: 3}", "max_attempts: 3, log: gone.jsonl}"), ["w.yaml", "reliability.log", "gone.jsonl"])),
        ("reliability log with a garbage line", *project(with_log, ["log.jsonl", "line 2"], **{"log.jsonl": _journal("garbage\n", None, good=1)})),
        ("--months 5000", *project(WORKLOAD, ["months", "1200"], "--months", "5000")),
        ("--months past what the growth allows", *project(WORKLOAD, ["months", "tiny"], "--months", "1100")),
        ("--months 0", *project(WORKLOAD, ["months"], "--months", "0")),
        ("--months not a number", *project(WORKLOAD, ["months"], "--months", "a year")),
        ("--delta negative", *project(WORKLOAD, ["delta"], "--sensitivity", "--delta", "-0.1")),
        ("--delta not a number", *project(WORKLOAD, ["delta"], "--sensitivity", "--delta", "some")),
        ("does not exist", ["project", "nope.yaml"], {}, ["nope.yaml"]),
    ]
    return [Case("workload", name, argv, files, names) for name, argv, files, names in out]


def log_cases() -> list[Case]:
    def perf(data: bytes, names: Sequence[str], *extra: str, log: str = "log.jsonl") -> tuple:
        return ["perf", log, *extra], {log: data}, names

    at4 = ["log.jsonl", "line 4"]
    csv_head = b"started_at,latency_ms,outcome,provider,model\n"
    out = [
        ("garbage line mid-file", *perf(_journal("garbage\n", None), at4)),
        ("garbage line at the end", *perf(_journal("garbage\n"), at4)),
        ("binary junk", *perf(JUNK, ["log.jsonl", "line 1"])),
        ("binary junk after good lines", *perf(_journal(JUNK[:200] + b"\n", None), at4)),
        ('latency_ms: "fast"', *perf(_journal(_line(latency_ms="fast"), None), [*at4, "latency_ms"])),
        ("a JSON array line", *perf(_journal("[1, 2, 3]\n", None), at4)),
        ("a JSON string line", *perf(_journal('"ok"\n', None), at4)),
        ("unparseable time", *perf(_journal(_line(started_at="yesterday"), None), [*at4, "started_at"])),
        ("time without its offset", *perf(_journal(_line(started_at="2026-11-02T10:00:00"), None), [*at4, "started_at"])),
        ("time as a number", *perf(_journal(_line(ended_at=1762077612), None), [*at4, "ended_at"])),
        ("unparseable money", *perf(_journal(_line(actual_cost_usd="five cents"), None), [*at4, "actual_cost_usd"])),
        ("money as a float", *perf(_journal(_line(actual_cost_usd=0.005), None), [*at4, "actual_cost_usd"])),
        ("money as a float, last line", *perf(_journal(_line(estimated_cost_usd=0.1000000000000000055511)), [*at4, "estimated_cost_usd"])),
        ("money with too many decimals", *perf(_journal(_line(actual_cost_usd="0.000000000001"), None), [*at4, "actual_cost_usd"])),
        ("money too large", *perf(_journal(_line(actual_cost_usd="12345678901"), None), [*at4, "actual_cost_usd"])),
        ("record of a newer version", *perf(_journal(_line(v=4), None), [*at4, "v", "record version 4", "supported: 1, 2, 3"])),
        ("record version not a number", *perf(_journal(_line(v="two"), None), [*at4, "v", "allowed: 1, 2"])),
        ("no outcome", *perf(_journal(_line(outcome=None), None), [*at4, "outcome"])),
        ("unknown outcome", *perf(_journal(_line(outcome="great"), None), [*at4, "outcome"])),
        ("no item_id", *perf(_journal(_line(item_id=None), None), [*at4, "item_id"])),
        ("attempt not an integer", *perf(_journal(_line(attempt="first"), None), [*at4, "attempt"])),
        ("attempt a fraction", *perf(_journal(_line(attempt=1.5), None), [*at4, "attempt"])),
        ("final not a boolean", *perf(_journal(_line(final="yes"), None), [*at4, "final"])),
        ("NaN latency", *perf(_journal(_line(latency_ms=float("nan")), None), [*at4, "latency_ms"])),
        ("http_status too large", *perf(_journal(_line(http_status=99999999999), None), [*at4, "http_status"])),
        ("sent record: quote as a float", *perf(_journal(_line(_sent, estimated_cost_usd=0.005), None), [*at4, "estimated_cost_usd"])),
        ("sent record: quote not an amount", *perf(_journal(_line(_sent, estimated_cost_usd="a few cents"), None), [*at4, "estimated_cost_usd"])),
        ("sent record: quote with too many decimals", *perf(_journal(_line(_sent, estimated_cost_usd="0.000000000001"), None), [*at4, "estimated_cost_usd"])),
        ("sent record: no attempt", *perf(_journal(_line(_sent, attempt=None), None), [*at4, "attempt"])),
        ("sent record: garbage time", *perf(_journal(_line(_sent, started_at="now"), None), [*at4, "started_at"])),
        ("Latin-1 text in a line", *perf(_journal(_line(error_message="x").replace('"x"', '"caf\xe9"').encode("latin-1"), None), at4)),
        ("CSV log with a bad latency", *perf(csv_head + b"2026-11-02T10:00:00Z,1200,ok,openai,m\n2026-11-02T10:00:01Z,fast,ok,openai,m\n", ["log.csv", "row 2", "latency_ms"], log="log.csv")),
        ("CSV log in Latin-1", *perf(csv_head + "2026-11-02T10:00:00Z,1200,ok,openai,mé\n".encode("latin-1"), ["log.csv", "line 2"], log="log.csv")),
        ("CSV log with a bad time", *perf(csv_head + b"yesterday,1200,ok,openai,m\n", ["log.csv", "started_at"], log="log.csv")),
        ("CSV log with a ragged row", *perf(csv_head + b"2026-11-02T10:00:00Z,1200,ok,openai,m,extra\n", ["log.csv", "line 2"], log="log.csv")),
        ("empty CSV log", *perf(b"", ["log.csv"], log="log.csv")),
        ("Parquet log of junk", *perf(JUNK, ["log.parquet"], log="log.parquet")),
        ("--since banana", *perf(_journal(), ["since"], "--since", "banana")),
        ("--by unknown column", *perf(_journal(), ["by"], "--by", "colour")),
        ("mapping file YAML error", ["perf", "log.csv", "--mapping", "map.yaml"], {"log.csv": "a,b\n1,2\n", "map.yaml": "columns: {a: latency_ms\n"}, ["map.yaml", "line"]),
        ("mapping file unknown canonical column", ["perf", "log.csv", "--mapping", "map.yaml"], {"log.csv": "a,b\n1,2\n", "map.yaml": "columns: {a: speed}\n"}, ["map.yaml", "columns.a"]),
        ("mapping constant of the wrong type", ["perf", "log.csv", "--mapping", "map.yaml"], {"log.csv": "a,status\n1,200\n", "map.yaml": "columns: {a: latency_ms, status: http_status}\nconstants: {attempt: first}\n"}, ["map.yaml", "constants.attempt"]),
        ("does not exist", ["perf", "gone.jsonl"], {}, ["gone.jsonl"]),
    ]
    cases = [Case("log", name, argv, files, names) for name, argv, files, names in out]
    resume = ["run", "spec.yaml", "--resume", "--no-progress"]
    cases += [
        Case("log", "run --resume on a log with a garbage line mid-file", resume, {"spec.yaml": SPEC, "out/log.jsonl": _journal("garbage\n", None)}, ["log.jsonl", "line 4"]),
        Case("log", "run --resume on a log with float money", resume, {"spec.yaml": SPEC, "out/log.jsonl": _journal(_line(actual_cost_usd=0.005))}, ["log.jsonl", "line 4", "actual_cost_usd"]),
        Case("log", "run --resume on a log with a sent record's quote as a float", resume, {"spec.yaml": SPEC, "out/log.jsonl": _journal(_line(_sent, estimated_cost_usd=0.005))}, ["log.jsonl", "line 4", "estimated_cost_usd"]),
    ]
    return cases


def report_cases() -> list[Case]:
    def report(name: str, *params: str, files: dict | None = None, names: Sequence[str] = ()) -> tuple:
        argv = ["report", name, "--out", "reports", "--no-progress"]
        for k in range(0, len(params), 2):
            argv += ["-p", params[k], params[k + 1]]
        return argv, files or {}, names

    def with_file(body: str | bytes, names: Sequence[str]) -> tuple:
        return ["report", "--all", "-f", "params.yaml", "--out", "reports", "--no-progress"], {"params.yaml": body}, names

    out = [
        ("-p bootstrap -5", *report("model_ratings", "bootstrap", "-5", names=["model_ratings", "bootstrap"])),
        ("-p months -3", *report("cost_projection", "months", "-3", names=["cost_projection", "months"])),
        ("-p months 5000", *report("cost_projection", "months", "5000", names=["cost_projection", "months"])),
        ("-p months past what the growth allows", *report("cost_projection", "months", "600", names=["months", "458"])),
        ("-p months not a number", *report("cost_projection", "months", "a year", names=["cost_projection", "months"])),
        ("-p since banana", *report("provider_performance", "since", "banana", names=["provider_performance", "since"])),
        ("-p until banana", *report("provider_performance", "until", "banana", names=["provider_performance", "until"])),
        ("missing log_path", *report("provider_performance", "log_path", "gone.jsonl", names=["log_path", "gone.jsonl"])),
        ("log_path with a garbage line", *report("provider_performance", "log_path", "log.jsonl", files={"log.jsonl": _journal("garbage\n", None)}, names=["log.jsonl", "line 4"])),
        ("-p by unknown column", *report("provider_performance", "by", "colour", names=["provider_performance", "by"])),
        ("-p period month", *report("provider_performance", "period", "month", names=["provider_performance", "period"])),
        ("-p latency_kind pie", *report("provider_performance", "latency_kind", "pie", names=["provider_performance", "latency_kind"])),
        ("missing votes_path", *report("model_ratings", "votes_path", "gone.csv", names=["votes_path", "gone.csv"])),
        ("votes_path empty file", *report("model_ratings", "votes_path", "votes.csv", files={"votes.csv": ""}, names=["votes.csv"])),
        ("votes_path with an unknown winner", *report("model_ratings", "votes_path", "votes.csv", files={"votes.csv": VOTES + "m1,m2,left\n"}, names=["votes.csv", "row 5", "winner"])),
        ("-p category unknown", *report("model_ratings", "category", "sculpture", names=["category", "sculpture"])),
        ("-p votes_provenance guessed", *report("model_ratings", "votes_provenance", "guessed", names=["model_ratings", "votes_provenance"])),
        ("-p anchor without a value", *report("model_ratings", "anchor", "SDXL", names=["model_ratings", "anchor"])),
        ("workload_path binary junk", *report("cost_projection", "workload_path", "w.yaml", files={"w.yaml": JUNK}, names=["w.yaml"])),
        ("-p sensitivity_delta -1", *report("cost_projection", "sensitivity_delta", "-1", names=["cost_projection", "sensitivity_delta"])),
        ("-p option unknown", *report("cost_projection", "option", "cheapest", names=["option", "cheapest"])),
        ("-p objective fastest", *report("elo_vs_speed", "objective", "fastest", names=["elo_vs_speed", "objective"])),
        ("-p cost_from invoice", *report("elo_vs_speed", "cost_from", "invoice", names=["elo_vs_speed", "cost_from"])),
        ("-p cost_from log without a log", *report("elo_vs_speed", "cost_from", "log", "log_path", "None", names=["elo_vs_speed", "cost_from"])),
        ("-p size 10x", *report("elo_vs_speed", "size", "10x", names=["elo_vs_speed", "size"])),
        ("-p quality_floor high", *report("elo_vs_speed", "quality_floor", "high", names=["elo_vs_speed", "quality_floor"])),
        ("-p budget_usd_per_image cheap", *report("elo_vs_speed", "budget_usd_per_image", "cheap", names=["elo_vs_speed", "budget_usd_per_image"])),
        ("-p leaderboard unknown", *report("elo_vs_speed", "leaderboard", "videoarena", names=["leaderboard", "videoarena", "lmarena"])),
        ("-p board video", *report("elo_vs_speed", "board", "video", names=["elo_vs_speed", "board", "image-edit"])),
        ("-p today not a date", *report("elo_vs_speed", "today", "2026-13-01", names=["elo_vs_speed", "today"])),
        ("-p aliases not YAML", *report("elo_vs_speed", "aliases", "{a: b", names=["elo_vs_speed", "aliases"])),
        ("-p cell_px 0", *report("comparison_grid", "cell_px", "0", names=["comparison_grid", "cell_px"])),
        ("-p rows colour", *report("comparison_grid", "rows", "colour", names=["comparison_grid", "rows"])),
        ("missing run_dir", *report("comparison_grid", "run_dir", "gone", names=["run_dir", "gone"])),
        ("run_dir without a log", *report("comparison_grid", "run_dir", "run", files={"run/keep": ""}, names=["run_dir", "log.jsonl"])),
        ("example_spec not simulated", *report("comparison_grid", "example_spec", "spec.yaml", files={"spec.yaml": SPEC.replace("simulate: {time_scale: 0}\n", "")}, names=["example_spec", "simulate"])),
        ("parameters file YAML syntax error", *with_file("since: 7d\nprovider_performance: {by: provider\n", ["params.yaml", "line"])),
        ("parameters file duplicate key", *with_file("since: 7d\nsince: 30d\n", ["params.yaml", "since"])),
        ("parameters file Latin-1", *with_file("votes_source: café\n".encode("latin-1"), ["params.yaml", "line 1"])),
        ("parameters file value out of range", *with_file("cost_projection: {months: -3}\n", ["params.yaml", "cost_projection.months"])),
        ("parameters file common value out of range", *with_file("bootstrap: -5\n", ["params.yaml", "bootstrap"])),
        ("parameters file float money", *with_file("elo_vs_speed: {budget_usd_per_image: cheap}\n", ["params.yaml", "elo_vs_speed.budget_usd_per_image"])),
        ("parameters file unknown section", *with_file("cost_projektion: {months: 3}\n", ["params.yaml", "cost_projektion"])),
    ]
    return [Case("report", name, argv, files, names) for name, argv, files, names in out]


def argument_cases() -> list[Case]:
    out = [
        ("quote --size -1x5", ["quote", "gpt-image-1-mini", "--size", "-1x5"], {}, ["size", "-1x5"]),
        ("resolve --size -1x5", ["resolve", "gpt-image-2", "--size", "-1x5"], {}, ["size", "-1x5"]),
        ("resolve --aspect-ratio -16:9", ["resolve", "gpt-image-2", "--aspect-ratio", "-16:9"], {}, ["aspect_ratio"]),
        ("quote --n not a number", ["quote", "gpt-image-1-mini", "--n", "two"], {}, ["--n"]),
        ("quote --on not a date", ["quote", "gpt-image-1-mini", "--on", "tomorrow"], {}, ["on"]),
        ("unknown command", ["qoute", "gpt-image-1-mini"], {}, ["qoute"]),
        ("unknown option", ["quote", "gpt-image-1-mini", "--colour", "red"], {}, ["--colour"]),
        ("cost of binary junk", ["cost", "r.json", "--model", "gpt-image-1-mini"], {"r.json": JUNK}, ["r.json"]),
        ("cost of an empty file", ["cost", "r.json", "--model", "gpt-image-1-mini"], {"r.json": ""}, ["r.json"]),
        ("cost of a JSON list", ["cost", "r.json", "--model", "gpt-image-1-mini"], {"r.json": "[1]"}, ["r.json"]),
        ("vote on a missing run", ["vote", "gone", "--plan"], {}, ["gone"]),
        ("grid of a missing run", ["grid", "gone"], {}, ["gone"]),
        ("input image of junk", ["quote", "gpt-image-1.5", "--input-image", "in.png"], {"in.png": JUNK}, ["in.png"]),
    ]
    return [Case("args", name, argv, files, names) for name, argv, files, names in out]
# fmt: on


CASES = spec_cases() + votes_cases() + workload_cases() + log_cases() + report_cases() + argument_cases()
KINDS = ("spec", "votes", "workload", "log", "report", "args")


# --- running a case ----------------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (-1, 0)
        for p in root.rglob("*")
    }


def run_case(case: Case, root: Path) -> list[str]:
    """Run ``case`` in the empty directory ``root``; the ways it falls short of a clean refusal."""
    import os

    for rel, content in case.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    before = _tree(root)
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(case.argv))
            except SystemExit as exc:
                status = exc.code
            except Exception:  # what a user would see as a traceback
                traceback.print_exc()
                status = "traceback"
    finally:
        os.chdir(cwd)
    problems = []
    text = err.getvalue()
    if status != 2:
        problems.append(f"exit status {status!r}, not 2")
    if "Traceback" in text:
        problems.append("traceback: " + text.strip().splitlines()[-1][:300])
    elif text.count("\n") != 1 or not text.endswith("\n"):
        problems.append(f"{text.count(chr(10))} lines on stderr: {text[:300]!r}")
    for name in case.names:
        if name not in text:
            problems.append(f"the error does not name {name!r}: {text.strip()[:300]!r}")
    after = _tree(root)
    if after != before:
        changed = sorted(set(after.items()) ^ set(before.items()))
        problems.append(f"wrote or changed {sorted({c[0] for c in changed})[:5]}")
    return problems


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_malformed_input_is_refused_in_one_line(case: Case, tmp_path: Path) -> None:
    assert run_case(case, tmp_path) == []


# --- the same refusals seen from outside, and the rules behind them ----------------------------------------


def _cli(*args: str, **kwargs: object) -> subprocess.Popen:
    imgkit = Path(sys.executable).with_name("imgkit")  # the console script, as a user runs it
    return subprocess.Popen([imgkit, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_a_closed_pipe_ends_the_command_silently_with_status_2():
    # `imgkit prices --json | head -c 100`: the reader goes away after a few bytes
    proc = _cli("prices", "--json")
    proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 2
    assert err == b""


@pytest.mark.parametrize("command", ["simulate", "vote"])
def test_a_busy_port_is_one_line_and_status_2(command, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        if command == "simulate":
            proc = _cli("simulate", "serve", "--port", str(port))
        else:
            (tmp_path / "spec.yaml").write_text(SPEC.replace("quality: low", "quality: [low, high]"))
            assert main(["run", str(tmp_path / "spec.yaml"), "--no-progress"]) == 0
            proc = _cli("vote", str(tmp_path / "out"), "--port", str(port))
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.decode() == (
        f"imgkit: error: port {port} is already in use on 127.0.0.1; allowed: a free port (--port), "
        "or --port 0 for any free one\n"
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port", "99999"], "argument --port: '99999'"),
        (["--hang-s", "-1"], "argument --hang-s: '-1'"),
        (["--retry-after-ms", "nan"], "argument --retry-after-ms: 'nan'"),
        (["--fault-rate", "2"], "fault_rate=2.0"),
        (["--host", "300.1.1.1"], "--host='300.1.1.1'"),
    ],
)
def test_a_simulator_refuses_bad_settings_before_it_serves(args, named):
    proc = _cli("simulate", "serve", "--port", "0", *args)  # a server that started would never return
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and err.decode().count("\n") == 1 and named in err.decode()


def test_a_value_that_starts_with_a_dash_reaches_the_check_of_its_option(capsys):
    assert main(["resolve", "gpt-image-2", "--size", "-1x5"]) == 2
    assert "size='-1x5' is not allowed" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["resolve", "gpt-image-2", "--sise", "1024x1024"])  # a mistyped option is still refused
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --sise" in err


def test_only_a_torn_last_line_is_cut_silently(tmp_path):
    from imgkit.records.journal import RequestLog

    path = tmp_path / "log.jsonl"
    path.write_bytes(_journal(None, good=2) + b'{"run_id":"r1","item_id":"torn","att')  # killed mid-write
    assert RequestLog(path).scan().collect()["item_id"].to_list() == ["i0", "i1", "j0"]
    path.write_bytes(_journal("garbage\n", None, good=2) + b'{"run_id":"r1","item_id":"torn","att')
    with pytest.raises(SpecError) as err:
        RequestLog(path).finished_items()  # what a resume reads first
    assert err.value.key_path == "line 3"


def test_a_torn_sent_last_line_is_cut_silently_and_a_sent_record_without_a_quote_is_valid(tmp_path):
    # killed while announcing a request: it never left, so nothing may have been billed for it
    from decimal import Decimal

    from imgkit.records.journal import RequestLog, encode_record

    path = tmp_path / "log.jsonl"
    torn = encode_record(_sent(item_id="torn"))[:-30]
    path.write_bytes(_journal(good=2) + encode_record(_sent(item_id="s")) + torn)
    log = RequestLog(path)
    assert log.scan().collect()["item_id"].to_list() == ["i0", "i1"]  # sent records are not attempts
    assert log.scan(include_sent=True).collect()["item_id"].to_list() == ["i0", "i1", "s"]
    assert log.unanswered_sent().collect()["item_id"].to_list() == ["s"]
    assert main(["perf", str(path), "--json"]) == 0
    # the client announces a request it has no quote for (no budget, not priced) with a null quote
    path.write_bytes(_journal(good=1) + encode_record(_sent(item_id="s", estimated_cost_usd=None)))
    assert log.scan(include_sent=True).collect()["estimated_cost_usd"].to_list() == [Decimal("0.005"), None]
    path.write_bytes(_journal(good=1) + _line(_sent, estimated_cost_usd=None).encode())  # key left out
    assert log.unanswered_sent().collect()["estimated_cost_usd"].to_list() == [None]


def test_a_bad_line_deep_in_a_long_journal_is_found_by_halving(tmp_path):
    path = tmp_path / "log.jsonl"
    lines = [_line(item_id=f"i{k}") for k in range(2000)]
    lines[1333] = _line(item_id="bad", latency_ms="slow")
    lines[1500] = "garbage\n"
    path.write_text("".join(lines))
    with pytest.raises(SpecError) as err:
        scan_log(path)
    assert (err.value.key_path, err.value.problem) == ("line 1334, latency_ms", "'slow' is not a number")


def test_money_as_imgkit_writes_it_reads_back_exactly(tmp_path):
    # str(Decimal) writes small amounts with an exponent; a money key inside a JSON text column is not money
    from decimal import Decimal

    from imgkit.records.journal import RequestLog

    log = RequestLog(tmp_path / "log.jsonl")
    log.append(_record(actual_cost_usd=Decimal("0.0000001"), requested_params={"estimated_cost_usd": 1}))
    log.append(_record(item_id="i2", actual_cost_usd=Decimal("9999999999.9999999999")))
    log.close()
    costs = log.scan().collect()["actual_cost_usd"].to_list()
    assert costs == [Decimal("0.0000001"), Decimal("9999999999.9999999999")]


@pytest.mark.parametrize("by", GROUPABLE_COLUMNS)
def test_every_groupable_column_groups(by):
    log = scan_log(REPO / "data" / "samples" / "provider_log.parquet")
    table = performance_table(log, by=by)
    assert table.columns[0] == by and table["requests"].sum() == 1000
    assert table.columns.count("provenance") == 1


def test_yaml_merge_keys_are_not_duplicates_but_a_repeated_key_is(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("base: &base {quality: low, n: 1}\nt: {<<: *base, n: 2}\n")
    assert load_yaml(path, error=SpecError)["t"] == {"quality": "low", "n": 2}
    path.write_text("t:\n  n: 1\n  q: low\n  n: 2\n")
    with pytest.raises(SpecError) as err:
        load_yaml(path, error=SpecError)
    assert (err.value.key_path, err.value.problem.split(";")[0]) == (
        "line 4, column 3",
        "duplicate key 'n' (first at line 2)",
    )


def test_the_horizon_is_as_long_as_the_money_columns_hold_exactly():
    workload = load_workload(REPO / "data" / "workloads" / "example.yaml")  # 200,000 requests, +5 % a month
    check_horizon(workload, 458)
    with pytest.raises(InvalidParameterError) as err:
        check_horizon(workload, 459)
    assert err.value.allowed == "1 to 458 for example-product-images"
    frame = project(workload, 458)  # the longest horizon still projects, exactly
    assert frame["cost_usd"].sum() > 0


def test_every_notebook_parameter_has_a_rule_its_default_passes():
    for notebook in find_notebooks():
        rules = NOTEBOOK_RULES[notebook.name]
        assert set(rules) == set(notebook.parameters), notebook.name
        for name, default in notebook.parameters.items():
            assert rules[name].check(default, notebook.path.parent) is None, (notebook.name, name, default)


def test_a_parameter_given_as_none_is_none_and_its_rule_decides():
    assert parse_value("None", "text-to-image") is None and parse_value("null", 1050.0) is None
    notebook = resolve_notebook("model_ratings")
    assert report_parameters(notebook, {"category": "None"}) == {"category": None}  # all votes together
    with pytest.raises(InvalidParameterError) as err:
        report_parameters(notebook, {"votes_source": "None"})
    assert (err.value.field, err.value.context) == ("votes_source", "report model_ratings")


@pytest.mark.parametrize(
    ("notebook", "default", "given"),
    [
        ("cost_projection", '"workload_path = \\"../data/workloads/example.yaml\\"', {"months": "6"}),
        ("comparison_grid", '"example_spec = \\"../examples/offline_tiers.yaml\\"', {"run_dir": "None"}),
    ],
)
def test_a_notebook_copy_whose_path_default_is_none_is_refused_naming_the_path(
    tmp_path, notebook, default, given
):
    """A notebook of your own under a bundled name, its path parameter defaulting to None: the parameter is
    named (before, the loader was handed None and failed with a TypeError)."""
    text = (resolve_notebook(notebook).path).read_text()
    assert text.count(default) == 1
    name = default.split(" = ")[0].lstrip('"')
    (tmp_path / f"{notebook}.ipynb").write_text(text.replace(default, f'"{name} = None'))
    copy = resolve_notebook(notebook, tmp_path)
    assert copy.parameters[name] is None
    with pytest.raises(InvalidParameterError) as err:
        report_parameters(copy, given)
    assert (err.value.field, err.value.value, err.value.context) == (name, None, f"report {notebook}")


def count(cases: Sequence[Case] = CASES, report: Callable[[str], None] = print) -> dict[str, tuple[int, int]]:
    """Refused cleanly / all, per kind; prints the cases that are not."""
    import tempfile

    done: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            problems = run_case(case, Path(tmp))
        total[case.kind] += 1
        if problems:
            report(f"NOT REFUSED {case.id}: {'; '.join(problems)}")
        else:
            done[case.kind] += 1
    return {kind: (done[kind], total[kind]) for kind in KINDS if total[kind]}


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    counts = count()
    print("\n".join(f"{kind}: {ok}/{n}" for kind, (ok, n) in counts.items()))
    ok, n = sum(v[0] for v in counts.values()), sum(v[1] for v in counts.values())
    print(f"all: {ok}/{n}")
