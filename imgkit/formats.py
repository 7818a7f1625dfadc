"""How a value looks to a person: one format per column kind, for the CLI, the reports and their sentences.

Analysis frames keep exact values (``Decimal`` money, float fractions, milliseconds) and ``--json`` prints
them unchanged; what a person reads goes through :func:`format_value`, so a number looks the same in
``imgkit project``, in the cost-projection report and in the sentences under it. Each column has a *kind*:

=============  ==========================================================  ===============================
kind           format                                                      examples
=============  ==========================================================  ===============================
``money``      USD to the cent with thousands separators; amounts under    ``$55,576.11``, ``$0.3083``
               $1 to 4 significant digits (a small bill never shows as
               ``$0.00``)
``price``      USD per unit (image, request) to 4 significant digits       ``$0.01746``, ``$0.005``,
               or to the cent where that is finer                          ``$1.235``
``exact_usd``  USD exactly as priced (quotes, the catalog)                 ``$0.00003``, ``$0.558795``
``percent``    a fraction shown as a percentage, one decimal               ``96.3%``
``count``      a whole number (expected counts rounded) with separators    ``3,183,425``
``ms``         a duration in milliseconds: ms under a second, else s       ``850 ms``, ``13.6 s``
``rating``     a rating on the Elo scale, one decimal                      ``1061.8``
``number``     4 significant digits, whole numbers as they are             ``0.0523``, ``12.5``, ``1,234``
``bool``       yes / no
``text``       as it is; lists joined by commas
=============  ==========================================================  ===============================

Missing values (None, NaN) show as ``—``. :func:`column_kind` infers a column's kind from its name (the
names imgkit's frames use: ``*_usd`` money, ``cost_per_image_usd`` a price, ``*_ms`` a duration,
``success_rate`` a percentage, ``requests`` a count ...) and else from its type; callers name the kinds
it cannot know. Rounding is half up (half to even for counts), on the exact decimal value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from imgkit.errors import InvalidParameterError

__all__ = ["KINDS", "MISSING", "NUMERIC_KINDS", "check_kinds", "column_kind", "format_value"]

#: what a missing value looks like
MISSING = "—"
#: every column kind :func:`format_value` knows
KINDS = ("money", "price", "exact_usd", "percent", "count", "ms", "rating", "number", "bool", "text")
#: the kinds shown right-aligned
NUMERIC_KINDS = frozenset(KINDS) - {"bool", "text"}

# columns imgkit's frames name, whose kind the name alone cannot tell by its suffix
_KIND_BY_NAME = {
    "success_ci_low": "percent",
    "success_ci_high": "percent",
    "rating": "rating",
    "ci_low": "rating",
    "ci_high": "rating",
    "elo": "rating",
    "elo_alternative": "rating",
    "online_elo": "rating",
    "published_rating": "rating",
    "cost_usd": "price",  # the cost of one image or one attempt
    "usd/image": "price",
    "quote/item": "price",
    "rank": "count",
    "of": "count",
    "requests": "count",
    "images": "count",
    "attempts": "count",
    "successes": "count",
    "failures": "count",
    "items": "count",
    "ok": "count",
    "failed": "count",
    "votes": "count",
    "quantity": "count",
    "rows": "count",
    "options": "count",
    "month": "count",
    "break_even_month": "count",
    "break_even_requests_per_month": "count",
    "published_order": "count",
    "refit_order": "count",
    "wins": "number",  # ties count half a win
    "losses": "number",
    "ties": "number",
    "retries_per_success": "number",
}
# then by the end of the name, first match wins
_KIND_BY_SUFFIX = (
    ("_per_image_usd", "price"),
    ("_per_request_usd", "price"),
    ("_usd", "money"),
    ("_ms", "ms"),
    ("_rate", "percent"),
    ("_share", "percent"),
    ("_requests", "count"),
    ("_count", "count"),
    ("_rating", "rating"),
)


# --- kinds -----------------------------------------------------------------------------------------------------


def column_kind(name: str, dtype: Any = None, sample: Any = None) -> str:
    """The kind of a column from its name, else from its polars ``dtype`` or a ``sample`` value."""
    if name in _KIND_BY_NAME:
        return _KIND_BY_NAME[name]
    for suffix, kind in _KIND_BY_SUFFIX:
        if name.endswith(suffix):
            return kind
    if dtype is not None:
        return _kind_of_dtype(dtype)
    return _kind_of_value(sample)


def _kind_of_dtype(dtype: Any) -> str:
    import polars as pl  # a polars dtype in hand: polars is loaded already

    if dtype.is_integer():
        return "count"
    if dtype.is_float() or dtype.is_decimal():
        return "number"
    if dtype == pl.Boolean:
        return "bool"
    return "text"


def _kind_of_value(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "count"
    if isinstance(value, (float, Decimal)):
        return "number"
    return "text"


def check_kinds(kinds: Mapping[str, str]) -> None:
    """Raise :class:`~imgkit.errors.InvalidParameterError` for a kind that is not in :data:`KINDS`."""
    for name, kind in kinds.items():
        if kind not in KINDS:
            raise InvalidParameterError(f"kind of column {name!r}", kind, list(KINDS))


# --- values ----------------------------------------------------------------------------------------------------


def format_value(value: Any, kind: str = "number") -> str:
    """``value`` as a person reads it in a column of ``kind`` (see the module docstring); None is ``—``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v, kind) for v in value)
    if kind == "text" or isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or kind == "bool":
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if kind not in _FORMATTERS:
        check_kinds({"value": kind})
    formatter = _FORMATTERS[kind]
    number = _decimal(value)
    if number is None:  # not a number: say what it is rather than fail
        return str(value)
    if not number.is_finite():
        return str(value)
    return formatter(number)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text of the float, not its binary expansion
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _significant(number: Decimal, digits: int, *, min_decimals: int = 0) -> str:
    """``number`` rounded (half up) to ``digits`` significant digits but never coarser than
    ``min_decimals`` decimals nor into its whole part; trailing zeros past ``min_decimals`` dropped."""
    if number == 0:
        return f"{0:.{min_decimals}f}"
    quantum = Decimal(1).scaleb(min(0, -min_decimals, number.adjusted() - digits + 1))
    rounded = number.quantize(quantum, rounding=ROUND_HALF_UP)
    exponent = rounded.normalize().as_tuple().exponent
    decimals = max(min_decimals, -exponent if isinstance(exponent, int) else 0)
    return f"{rounded:,.{decimals}f}"


def _usd(text: str) -> str:
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def _money(number: Decimal) -> str:
    if abs(number) < 1 and number != 0:
        return _usd(_significant(number, 4, min_decimals=2))
    return _usd(f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}")


def _price(number: Decimal) -> str:
    return _usd(_significant(number, 4, min_decimals=2))


def _exact_usd(number: Decimal) -> str:
    exponent = number.normalize().as_tuple().exponent
    decimals = max(2, -exponent if isinstance(exponent, int) else 0)
    return _usd(f"{number:,.{decimals}f}")


def _percent(number: Decimal) -> str:
    return f"{(number * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):.1f}%"


def _count(number: Decimal) -> str:
    return f"{number.quantize(Decimal(1), rounding=ROUND_HALF_EVEN):,.0f}"


def _ms(number: Decimal) -> str:
    if abs(number) < 1000:
        return f"{number.quantize(Decimal(1), rounding=ROUND_HALF_UP):,.0f} ms"
    seconds = number / 1000
    decimals = 2 if abs(seconds) < 10 else 1 if abs(seconds) < 100 else 0  # 3 significant digits
    return f"{seconds.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP):,.{decimals}f} s"


def _rating(number: Decimal) -> str:
    return f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):.1f}"


def _number(number: Decimal) -> str:
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return _significant(number, 4)


_FORMATTERS = {
    "money": _money,
    "price": _price,
    "exact_usd": _exact_usd,
    "percent": _percent,
    "count": _count,
    "ms": _ms,
    "rating": _rating,
    "number": _number,
}
