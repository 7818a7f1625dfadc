"""Build LiteLLM_SpendLogs rows with LiteLLM's own proxy code, offline (the test fixtures and the report sample).

What runs unchanged: the LiteLLM proxy app (auth with the master key, router, provider clients, cost calculator
reading LiteLLM's bundled price map, the DB logger's success and failure hooks, ``get_logging_payload``,
``DBSpendUpdateWriter.update_database``) against ``fake_images_server.py`` on loopback. What is replaced: the
proxy gets no DATABASE_URL (prisma-client-python downloads its engine from the internet), so
``DBSpendUpdateWriter._insert_spend_log_to_db`` -- the one call that would queue the row for prisma -- keeps the
row after the transforms the proxy's flush applies before ``create_many`` (the metadata retention filter and
``PrismaClient.jsonify_object``). Each row is what prisma would insert into ``LiteLLM_SpendLogs``.

    python build_spend_rows.py --out spend_rows.jsonl                  # the fixture cases (CASES below)
    python build_spend_rows.py --no-store-prompts --out spend_rows_no_prompts.jsonl
    python build_spend_rows.py --sample 240 --days 92 --out sample.jsonl  # the report sample (see data/samples)

``--sample N`` sends N requests drawn (seeded) from SAMPLE_MIX and moves each row's times back by a seeded
offset of up to ``--days`` days (durations kept), so that a report has months to show; nothing else of a row
is touched. Every row is simulated: LiteLLM's real code, a fake provider. Needs ``litellm[proxy]`` (the rows
here: 1.108.7, in a separate virtual environment: it is not an imgkit dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# The fixture cases: (model group, endpoint, body extras). Prompt markers drive fake_images_server.py.
REQUESTS = [
    (
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a red fox, watercolor", "quality": "low", "size": "1024x1024"},
    ),
    (
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a red fox, two of them", "quality": "medium", "size": "1024x1536", "n": 2},
    ),
    (
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a red fox [no-otd]", "quality": "high", "size": "1024x1024"},
    ),
    (
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a red fox [no-usage]", "quality": "low", "size": "1024x1024"},
    ),
    (
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a red fox [fail:429]", "quality": "low", "size": "1024x1024"},
    ),
    (
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a red fox [fail:400]", "quality": "low", "size": "1024x1024"},
    ),
    ("gpt-image-1-mini", "edits", {"prompt": "make the fox blue", "quality": "low", "size": "1024x1024"}),
    (
        "gpt-image-2",
        "generations",
        {"prompt": "a lighthouse at dusk", "quality": "high", "size": "1024x1024", "_out": 6240},
    ),
    (
        "gpt-image-2",
        "generations",
        {"prompt": "a lighthouse at dusk [no-otd]", "quality": "medium", "size": "1024x1024"},
    ),
    (
        "gpt-image-1.5",
        "generations",
        {"prompt": "a teapot, studio light", "quality": "medium", "size": "1024x1024"},
    ),
    (
        "gateway-gpt-image-2",
        "generations",
        {"prompt": "a robot reading [gw:0.211]", "quality": "high", "size": "1024x1024"},
    ),
    (
        "gateway-gpt-image-1-mini",
        "generations",
        {"prompt": "a robot reading [gw:0.005]", "quality": "low", "size": "1024x1024"},
    ),
    ("my-unknown-image-model", "generations", {"prompt": "a cat", "size": "1024x1024"}),
    ("nano-banana", "generations", {"prompt": "a bowl of ramen"}),
    ("nano-banana-pro", "generations", {"prompt": "an infographic of the water cycle"}),
    ("nano-banana-2", "generations", {"prompt": "a city at night"}),
    ("imagen-4", "generations", {"prompt": "a mountain lake"}),
    ("fal-gpt-image-2", "generations", {"prompt": "a robot reading", "quality": "high", "size": "1024x1024"}),
    ("fal-flux-dev", "generations", {"prompt": "a sailboat", "size": "1920x1080"}),
    ("fal-flux-2-pro", "generations", {"prompt": "a sailboat"}),
]


# The report sample: (weight, model group, endpoint, body extras)
SAMPLE_MIX = [
    (
        30,
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a product shot", "quality": "low", "size": "1024x1024"},
    ),
    (12, "gpt-image-1-mini", "generations", {"prompt": "a banner", "quality": "medium", "size": "1536x1024"}),
    (
        5,
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a hero image", "quality": "high", "size": "1024x1024"},
    ),
    (
        4,
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a product shot [no-usage]", "quality": "low", "size": "1024x1024"},
    ),
    (
        3,
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a product shot [fail:429]", "quality": "low", "size": "1024x1024"},
    ),
    (
        1,
        "gpt-image-1-mini",
        "generations",
        {"prompt": "a product shot [fail:400]", "quality": "low", "size": "1024x1024"},
    ),
    (6, "gpt-image-1-mini", "edits", {"prompt": "make it blue", "quality": "low", "size": "1024x1024"}),
    (8, "gpt-image-2", "generations", {"prompt": "a poster", "quality": "medium", "size": "1024x1024"}),
    (
        3,
        "gpt-image-2",
        "generations",
        {"prompt": "a poster [out:6240]", "quality": "high", "size": "1024x1024"},
    ),
    (6, "gpt-image-1.5", "generations", {"prompt": "a teapot", "quality": "medium", "size": "1024x1024"}),
    (
        5,
        "gateway-gpt-image-1-mini",
        "generations",
        {"prompt": "a robot [gw:0.005]", "quality": "low", "size": "1024x1024"},
    ),
    (6, "nano-banana", "generations", {"prompt": "a bowl of ramen"}),
    (3, "imagen-4", "generations", {"prompt": "a mountain lake"}),
    (5, "fal-flux-dev", "generations", {"prompt": "a sailboat", "size": "1024x1024"}),
    (3, "fal-gpt-image-2", "generations", {"prompt": "a robot", "quality": "high", "size": "1024x1024"}),
    (2, "my-unknown-image-model", "generations", {"prompt": "a cat", "size": "1024x1024"}),
]


def _sample(n: int, seed: int) -> list[tuple[str, str, dict]]:
    import random

    rng = random.Random(seed)
    weights = [w for w, *_ in SAMPLE_MIX]
    return [tuple(rng.choices(SAMPLE_MIX, weights)[0][1:]) for _ in range(n)]


def _shift_times(rows: list[dict], days: int, seed: int) -> None:
    """Move each row back by a seeded offset of up to ``days`` days; its durations stay as measured."""
    import random
    from datetime import timedelta

    rng = random.Random(seed + 1)
    for row in rows:
        back = timedelta(seconds=rng.uniform(0, days * 86400))
        for key in ("startTime", "endTime", "completionStartTime"):
            if row.get(key) is None:
                continue
            value = datetime.fromisoformat(row[key]) if isinstance(row[key], str) else row[key]
            row[key] = (value - back).isoformat()


def _config(no_store_prompts: bool) -> Path:
    src = HERE / "proxy_config.yaml"
    if not no_store_prompts:
        return src
    import tempfile

    text = src.read_text().replace("store_prompts_in_spend_logs: true", "store_prompts_in_spend_logs: false")
    dst = Path(tempfile.mkdtemp()) / "proxy_config.yaml"
    dst.write_text(text)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(HERE / "spend_rows.jsonl"))
    ap.add_argument("--sample", type=int, default=0, help="send N requests drawn from SAMPLE_MIX instead")
    ap.add_argument("--days", type=int, default=92, help="--sample: spread the rows over this many days")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--print", type=int, default=0, dest="n_print")
    ap.add_argument(
        "--no-store-prompts",
        action="store_true",
        help="general_settings.store_prompts_in_spend_logs: false (LiteLLM's default)",
    )
    args = ap.parse_args()

    fake_port = free_port()
    fake = subprocess.Popen(
        [sys.executable, str(HERE / "fake_images_server.py"), str(fake_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None and fake.stdout.readline().startswith("ready")
    os.environ.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # do not fetch the price map from GitHub
            "FAKE_OPENAI_BASE": f"http://127.0.0.1:{fake_port}/v1",
            "FAKE_GEMINI_BASE": f"http://127.0.0.1:{fake_port}/v1beta",
            "FAKE_FAL_BASE": f"http://127.0.0.1:{fake_port}",
            "FAKE_LUMENFALL_BASE": f"http://127.0.0.1:{fake_port}/lumenfall/v1",
            "CONFIG_FILE_PATH": str(_config(args.no_store_prompts)),
            "LITELLM_LOG": "ERROR",
            "DISABLE_SCHEMA_UPDATE": "True",
            "LITELLM_TELEMETRY": "False",
        }
    )
    os.environ.pop("DATABASE_URL", None)

    import httpx
    import litellm
    import uvicorn
    from litellm.proxy.db.db_spend_update_writer import DBSpendUpdateWriter
    from litellm.proxy.utils import PrismaClient

    try:  # newer proxies filter metadata keys before create_many (general_settings.spend_logs_metadata_fields)
        from litellm.proxy.spend_tracking.spend_tracking_utils import (
            configured_spend_logs_metadata_fields,
            spend_log_row_with_retained_metadata,
        )
    except ImportError:  # older versions (e.g. 1.83) write the payload as built

        def configured_spend_logs_metadata_fields():
            return None

        def spend_log_row_with_retained_metadata(row, fields):
            return row

    captured: list[dict] = []

    async def capture(self, payload, prisma_client=None, spend_logs_url=None, llm_router=None):
        # == proxy.utils.update_spend_logs: retention filter, then jsonify_object, then prisma create_many(data=rows)
        row = spend_log_row_with_retained_metadata(payload, configured_spend_logs_metadata_fields())
        row = PrismaClient.jsonify_object(None, dict(row))  # type: ignore[arg-type]  # self is unused
        captured.append(row)
        return None

    DBSpendUpdateWriter._insert_spend_log_to_db = capture  # type: ignore[method-assign]

    from litellm.proxy.proxy_server import app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.1)
    assert server.started, "proxy did not start"
    # the proxy registers its DB logger only when prisma_client exists (proxy_server.cost_tracking); do it here
    from litellm.proxy.hooks import proxy_track_cost_callback as ptc

    db_logger = getattr(ptc, "ProxyDBLogger", None) or ptc._ProxyDBLogger
    litellm.logging_callback_manager.add_litellm_callback(db_logger())
    litellm.logging_callback_manager.add_litellm_async_success_callback(db_logger())

    headers = {"Authorization": "Bearer sk-probe-master-1234"}
    statuses = []
    requests = _sample(args.sample, args.seed) if args.sample else REQUESTS
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as c:
        for group, endpoint, extra in requests:
            body = {k: v for k, v in extra.items() if not k.startswith("_")}
            if "_out" in extra:
                body["prompt"] += f" [out:{extra['_out']}]"
            if endpoint == "generations":
                r = c.post("/v1/images/generations", json={"model": group, **body})
            else:
                files = {"image": ("fox.png", bytes.fromhex("89504e470d0a1a0a"), "image/png")}
                data = {"model": group, **{k: str(v) for k, v in body.items()}}
                r = c.post("/v1/images/edits", data=data, files=files)
            statuses.append((group, endpoint, r.status_code))
            time.sleep(0.3 if not args.sample else 0.05)  # callbacks run after the response
    deadline = time.time() + 15
    while len(captured) < len(requests) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    server.should_exit = True
    th.join(timeout=10)
    fake.terminate()

    for s in statuses:
        print("HTTP", *s, file=sys.stderr)
    from importlib.metadata import version

    print(
        f"captured {len(captured)} rows for {len(requests)} requests (litellm {version('litellm')})",
        file=sys.stderr,
    )
    if args.sample:
        _shift_times(captured, args.days, args.seed)

    def default(o):
        if isinstance(o, datetime):
            return o.isoformat()
        return str(o)

    with open(args.out, "w") as f:
        for row in captured:
            f.write(json.dumps(row, default=default) + "\n")
    for row in captured[: args.n_print]:
        print(json.dumps(row, default=default, indent=1))


if __name__ == "__main__":
    main()
