"""argparse value types that refuse out-of-range numbers in the house wording (one line, exit status 2), and
the option values the commands share."""

from __future__ import annotations

import argparse
import datetime as dt
import math

from imgkit.errors import InvalidParameterError


def port(text: str) -> int:
    """A TCP port: 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed; allowed: a port from 0 to 65535 (0: any free one)"
        )
    return value


def non_negative(text: str) -> float:
    """A finite number, 0 or more (seconds, milliseconds)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: a number, 0 or more")
    return value


def price_date(value: str | None) -> dt.date | None:
    """``--on YYYY-MM-DD``: the date prices are looked up for (None: today)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidParameterError("on", value, "a date YYYY-MM-DD") from None


def provider_option(text: str) -> tuple[str, object]:
    """``NAME=VALUE``: a provider field sent as is (``true``/``false`` as booleans, whole numbers as integers)."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed; allowed: NAME=VALUE (a provider field, e.g. enable_web_search=true)"
        )
    value: object = {"true": True, "false": False}.get(raw.strip().lower(), raw)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    return name.strip(), value


def add_option_argument(parser, what: str) -> None:
    """``--option NAME=VALUE`` (repeatable) on ``parser``; ``what`` says what the command does with it."""
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        type=provider_option,
        metavar="NAME=VALUE",
        help=f"a provider field (repeatable); {what}",
    )
