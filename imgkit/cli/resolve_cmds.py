"""``imgkit resolve``: the size a provider will produce and the exact fields it will receive, before any call.

``--json`` prints one JSON object (requested vs resolved values, per-field actions, the body of one call,
local emulation, notes); without it, a short report with an aligned table of field actions. Bad input
raises an ``ImgkitError``: one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from imgkit.cli._args import add_option_argument
from imgkit.cli._output import emit_json, format_table
from imgkit.params import ImageRequest, inspect_image, resolve


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resolve", help="resolve size, aspect ratio, tier and provider fields of a request")
    p.add_argument("model", help="catalog model id (see: imgkit models)")
    p.add_argument("--provider", help="default: the model's creator, else the first provider serving it")
    p.add_argument("--size", help="WxH (strict), W:H (= aspect ratio) or auto")
    p.add_argument("--aspect-ratio", help="W:H; mapped to the nearest supported ratio")
    p.add_argument("--resolution", help="tier such as 0.5K, 1K, 2K, 4K or megapixels (0.25, 1)")
    p.add_argument("--quality", help="a quality of the model, or auto")
    p.add_argument("--n", type=int, default=1, help="images wanted (default 1)")
    p.add_argument("--mode", choices=("generate", "edit"), default="generate", help="default generate")
    p.add_argument("--output-format", help="png, jpeg, webp, gif or avif (converted locally if needed)")
    p.add_argument("--output-compression", type=int, help="0-100, lossy formats only")
    p.add_argument(
        "--background", choices=("transparent", "opaque", "auto"), help="transparent needs png or webp output"
    )
    p.add_argument(
        "--input-image", action="append", default=[], metavar="FILE", help="edit input (repeatable)"
    )
    p.add_argument("--prompt", default="", help="prompt text (checked against the length limits)")
    add_option_argument(p, "mapped by the catalog's rule or passed through")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_resolve)


def cmd_resolve(args: argparse.Namespace) -> int:
    images = tuple(
        inspect_image(Path(path), field=f"input_images[{i}]") for i, path in enumerate(args.input_image)
    )
    resolved = resolve(
        ImageRequest(
            model=args.model,
            prompt=args.prompt,
            mode=args.mode,
            provider=args.provider,
            size=args.size,
            aspect_ratio=args.aspect_ratio,
            resolution=args.resolution,
            quality=args.quality,
            n=args.n,
            output_format=args.output_format,
            output_compression=args.output_compression,
            background=args.background,
            input_images=images,
            extra=dict(args.option),
        )
    )
    summary = resolved.summary()
    if args.json:
        emit_json(summary)
        return 0
    print(f"{summary['model']} at {summary['provider']}: {summary['mode']} via {summary['endpoint']}")
    dims = f"width {resolved.width}, height {resolved.height}" if resolved.width else "chosen by the model"
    print(f"size: {resolved.size} ({dims})")
    print(
        f"quality: {resolved.quality or '-'}   n: {resolved.n}   calls: {', '.join(map(str, resolved.calls))}"
    )
    for note in resolved.notes:
        print(f"note: {note}")
    rows = [
        {
            "field": a.field,
            "behaviour": a.behaviour,
            "value": _short(a.value),
            "sent_as": a.sent_as or "-",
            "sent_value": _short(a.sent_value) if a.sent_as else "-",
        }
        for a in resolved.actions
    ]
    print(format_table(rows, ("field", "behaviour", "value", "sent_as", "sent_value")))
    if resolved.emulate:
        print(f"emulated locally: {json.dumps(dict(resolved.emulate))}")
    print(f"request body (one call): {json.dumps(resolved.body, ensure_ascii=False)}")
    return 0


def _short(value: object, width: int = 48) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."
