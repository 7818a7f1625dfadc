"""``imgkit simulate``: run the simulated provider (``serve``) and show its latency profiles (``profiles``)."""

from __future__ import annotations

import argparse
import sys

from imgkit.cli._args import non_negative, port
from imgkit.cli._output import emit_json, format_table
from imgkit.simulator import (
    BATCH_FAULT_KINDS,
    RANDOM_FAULT_KINDS,
    FaultPlan,
    SimulatorServer,
    default_profiles,
)

DEFAULT_PORT = 8800


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="a local simulated provider (OpenAI Images, Files and Batches; Gemini/Vertex, BFL, Replicate, Together "
        "and fal protocols)",
        description="A local server that speaks the OpenAI Images, Files and Batches APIs, the Gemini API and Vertex "
        "AI (generateContent, Imagen predict), Black Forest Labs, Replicate, Together and fal.ai (queue and run) "
        "protocols on one port, with latency and failures drawn from published profiles and injectable faults. Each "
        "*_base_url it prints is what that provider's official SDK takes as its base URL. Nothing is billed.",
    )
    sub = parser.add_subparsers(dest="simulate_command", metavar="SUBCOMMAND")
    sub.required = True

    serve = sub.add_parser("serve", help="serve until interrupted (Ctrl-C)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    serve.add_argument(
        "--port", type=port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)"
    )
    serve.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every simulated delay (1 = published latencies, 0 = instant)",
    )
    serve.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="probability that a request gets an injected fault, spread over --fault-kinds",
    )
    serve.add_argument(
        "--fault-kinds",
        default=",".join(RANDOM_FAULT_KINDS),
        help=f"comma-separated fault kinds (default: {','.join(RANDOM_FAULT_KINDS)})",
    )
    serve.add_argument(
        "--retry-after-ms",
        type=non_negative,
        default=None,
        help="delay a 429 asks for (default 1000 ms x time scale)",
    )
    serve.add_argument(
        "--hang-s",
        type=non_negative,
        default=None,
        help="how long a timeout fault holds a request before closing it (default: 300 s x the time scale, "
        "the read timeout of a client on the simulated clock; at time scale 0 until the client gives up)",
    )
    serve.add_argument(
        "--batch-faults",
        default="",
        metavar="KINDS",
        help="comma-separated faults of the batches created, in order (ok or "
        f"{', '.join(BATCH_FAULT_KINDS)}); e.g. ok,expired: the second batch expires halfway",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed for latencies, faults and images")
    serve.add_argument("--gateway", action="store_true", help="serve the gateway flavour on /v1 as well")
    serve.add_argument(
        "--no-failures",
        action="store_true",
        help="do not fail requests at the profiles' published success rates",
    )
    serve.add_argument("--json", action="store_true", help="print the URLs as one JSON object")
    serve.set_defaults(func=_serve)

    profiles = sub.add_parser("profiles", help="list the default latency profiles and where they come from")
    profiles.add_argument("--json", action="store_true", help="one JSON object on stdout")
    profiles.set_defaults(func=_profiles)


def _serve(args: argparse.Namespace) -> int:
    faults = FaultPlan(
        fault_rate=args.fault_rate,
        kinds=[k for k in args.fault_kinds.split(",") if k.strip()],
        retry_after_ms=args.retry_after_ms,
        hang_s=args.hang_s,
        batches=[k for k in args.batch_faults.split(",") if k.strip()],
    )
    sim = SimulatorServer(
        time_scale=args.time_scale,
        seed=args.seed,
        faults=faults,
        host=args.host,
        port=args.port,
        gateway=args.gateway,
        apply_success_rate=not args.no_failures,
    ).start()
    urls = {
        "openai_base_url": sim.base_url,
        "gateway_base_url": sim.gateway_base_url,
        "fal_base_url": sim.fal_base_url,
        "fal_run_url": sim.fal_run_url,
        "gemini_base_url": sim.gemini_base_url,
        "replicate_base_url": sim.replicate_base_url,
        "together_base_url": sim.together_base_url,
        "bfl_base_url": sim.bfl_base_url,
        "time_scale": sim.time_scale,
        "fault_rate": args.fault_rate,
        "hang_s": sim.hang_s,
        "seed": sim.seed,
        "provenance": "simulated",
    }
    if args.json:
        emit_json(urls)
    else:
        print(format_table([{"what": k, "value": v} for k, v in urls.items()]))
        print("serving; press Ctrl-C to stop", file=sys.stderr)
    sys.stdout.flush()
    sim.serve_forever()
    return 0


def _profiles(args: argparse.Namespace) -> int:
    rows = [p.describe() for p in sorted(default_profiles(), key=lambda p: (p.provider, p.model))]
    if args.json:
        emit_json(rows)
    else:
        print(format_table(rows))
    return 0
