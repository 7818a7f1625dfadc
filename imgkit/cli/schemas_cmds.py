"""``imgkit schemas``: write the JSON Schemas of the catalog files, experiment specs and workloads.

``imgkit schemas --out schemas`` (``make schemas``) regenerates the repository's committed ``schemas/``
folder from the pydantic models (:mod:`imgkit.schemas`); ``--check`` writes nothing and exits 1 naming each
file that is missing or out of date. Without ``--out`` the schemas are printed as one JSON object
``{file name: schema}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imgkit.cli._output import emit_json

#: exit status of --check when a schema file is missing or out of date
EXIT_OUT_OF_DATE = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schemas",
        help="write the JSON Schemas of catalog files, experiment specs and workloads (for editors)",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="write the schema files into DIR (e.g. schemas)")
    p.add_argument(
        "--check", action="store_true", help="with --out: write nothing, exit 1 if a file is missing or stale"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_schemas)


def cmd_schemas(args: argparse.Namespace) -> int:
    from imgkit.errors import InvalidParameterError
    from imgkit.schemas import SCHEMAS, check_schemas, json_schema, write_schemas

    if args.out is None:
        if args.check:
            raise InvalidParameterError("--check", True, "together with --out DIR (the folder to check)")
        emit_json({entry.name: json_schema(entry) for entry in SCHEMAS})
        return 0
    if args.check:
        problems = check_schemas(args.out)
        if args.json:
            emit_json({"directory": args.out, "problems": problems})
        for name, problem in problems.items():
            print(f"imgkit: {args.out / name}: {problem}; run make schemas", file=sys.stderr)
        return EXIT_OUT_OF_DATE if problems else 0
    written = write_schemas(args.out)
    if args.json:
        emit_json({"written": written})
    else:
        for path in written:
            print(f"wrote {path}")
    return 0
