"""Money: the one scale and type of every amount imgkit prices, logs, sums or projects.

Amounts are ``Decimal`` in Python, never binary floats. Where amounts are stored or computed in bulk (the
request log, re-costing, performance tables, projections) they are exact decimals at :data:`MONEY_SCALE` =
10 decimal places, 1e-10 USD: finer than any published rate (a per-token rate such as $2.50 per 1M tokens is
2.5e-6 USD), so a price that does not fit is refused (:func:`to_units`), never rounded.

One scale, two polars precisions, for a reason:

* :data:`MONEY` (``Decimal(20, 10)``): **one amount**: a price, one request's quote or bill, a budget. Ten
  integer digits (below $10,000,000,000) is more than any single request; the request log's money columns
  have this type.
* :data:`MONEY_TOTAL` (``Decimal(38, 10)``, the widest polars decimal): **sums and products of many
  amounts**: a table's total spend and cost per image, a projection's monthly totals over millions of
  requests. polars widens a sum of :data:`MONEY` to this type itself.

**Budget** (:class:`Budget`): a spending cap that holds at any concurrency and under retries: every attempt
reserves its quote before it is sent, and settles after. ``committed = spent + reserved``. A reservation is
refused when ``committed + quote`` would pass the limit, so concurrent requests can never jointly overshoot.
Settling replaces the reservation by the actual cost; an unknown actual cost keeps the quote as spent
(conservative, never a silent 0). A retry is a new reservation like any other: refused when it no longer
fits, so the conservative spend (known bills plus the quotes of attempts whose bill is unknown) never passes
the cap. The provider client holds it per attempt, the runner per run.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import polars as pl

from imgkit.errors import BudgetExceededError, PricingError

__all__ = [
    "MONEY",
    "MONEY_LIMIT",
    "MONEY_PRECISION",
    "MONEY_QUANTUM",
    "MONEY_SCALE",
    "MONEY_TOTAL",
    "MONEY_TOTAL_PRECISION",
    "UNITS_PER_USD",
    "Budget",
    "Reservation",
    "plain_usd",
    "round_money",
    "to_units",
    "usd_text",
]

#: decimal places of every stored or vectorised amount: 1e-10 USD
MONEY_SCALE = 10
#: digits of one amount (a price, a request's cost, a budget): below $10,000,000,000
MONEY_PRECISION = 20
#: digits of sums and products of many amounts (the widest polars decimal)
MONEY_TOTAL_PRECISION = 38
#: polars type of one amount (the request log's money columns)
MONEY = pl.Decimal(MONEY_PRECISION, MONEY_SCALE)
#: polars type of sums, per-image costs from sums, projections
MONEY_TOTAL = pl.Decimal(MONEY_TOTAL_PRECISION, MONEY_SCALE)
#: the smallest amount: 1e-10 USD
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
#: integer units of the vectorised path per USD
UNITS_PER_USD = 10**MONEY_SCALE
#: one amount of type :data:`MONEY` is below this in absolute value
MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


def plain_usd(amount: Decimal) -> Decimal:
    """``amount`` without trailing zeros (``0.0050000000`` -> ``0.005``), never in exponent form (``100``)."""
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount.normalize()


def usd_text(amount: Any, missing: str = "?", *, plain: bool = True) -> str:
    """An exact amount as text, every digit kept: ``$0.005``; ``missing`` for ``None``.

    ``plain`` drops trailing zeros (``0.0050000000`` from a money column -> ``$0.005``); without it the amount
    is shown as written (a budget of ``0.50`` -> ``$0.50``). ``amount`` may be a ``Decimal``, an ``int`` or a
    decimal string (a journal's money field).
    """
    if amount is None:
        return missing
    value = Decimal(str(amount))
    return f"${plain_usd(value) if plain else value:f}"


def round_money(amount: Decimal) -> Decimal:
    """``amount`` at the money scale (1e-10 USD), half to even: for derived amounts (shares, growth)."""
    return amount.quantize(MONEY_QUANTUM, ROUND_HALF_EVEN)


def to_units(usd: Decimal | None) -> int | None:
    """USD -> integer units of 1e-10 USD; an amount finer than that is refused (``PricingError``), not rounded."""
    if usd is None:
        return None
    units = usd * UNITS_PER_USD
    if units != units.to_integral_value():
        raise PricingError(f"price {usd} is finer than the log's money scale (1e-{MONEY_SCALE} USD)")
    return int(units)


# --- a spending cap -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    """An amount held in a :class:`Budget` until it is settled or released."""

    id: int
    amount_usd: Decimal


class Budget:
    """Thread-safe (and so asyncio-safe) reservation ledger in exact USD. ``limit_usd=None`` = no cap."""

    def __init__(self, limit_usd: Decimal | None, *, spent_usd: Decimal = Decimal(0)) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = Decimal(spent_usd)
        self._reserved: dict[int, Decimal] = {}
        self._reserved_total = Decimal(0)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def reserved_usd(self) -> Decimal:
        with self._lock:
            return self._reserved_total

    @property
    def committed_usd(self) -> Decimal:
        with self._lock:
            return self.spent_usd + self._reserved_total

    @property
    def remaining_usd(self) -> Decimal | None:
        return None if self.limit_usd is None else self.limit_usd - self.committed_usd

    def reserve(self, amount_usd: Decimal) -> Reservation:
        """Hold ``amount_usd`` or raise :class:`BudgetExceededError` (nothing is held then)."""
        return self.reserve_all((amount_usd,))[0]

    def reserve_all(self, amounts_usd: Sequence[Decimal]) -> list[Reservation]:
        """Hold every amount, or none of them (:class:`BudgetExceededError`): the calls of one request."""
        amounts = [Decimal(a) for a in amounts_usd]
        with self._lock:
            committed = self.spent_usd + self._reserved_total
            wanted = sum(amounts, Decimal(0))
            if self.limit_usd is not None and committed + wanted > self.limit_usd:
                raise BudgetExceededError(self.limit_usd, committed, wanted)
            out = []
            for amount in amounts:
                rid = next(self._ids)
                self._reserved[rid] = amount
                out.append(Reservation(rid, amount))
            self._reserved_total += wanted
            return out

    def hold_committed(self, amount_usd: Decimal) -> Reservation:
        """Hold an amount already committed, never refused: a batch an earlier session created is running
        and may bill up to its quote whatever the cap is now."""
        with self._lock:
            rid = next(self._ids)
            self._reserved[rid] = Decimal(amount_usd)
            self._reserved_total += Decimal(amount_usd)
            return Reservation(rid, Decimal(amount_usd))

    def settle(self, reservation: Reservation, actual_usd: Decimal | None) -> None:
        """Replace a reservation by the actual cost (``None`` = unknown: the quote counts as spent)."""
        with self._lock:
            held = self._reserved.pop(reservation.id)
            self._reserved_total -= held
            self.spent_usd += held if actual_usd is None else Decimal(actual_usd)

    def release(self, reservation: Reservation) -> None:
        """Drop a reservation for a request that was never sent (or was certainly not billed)."""
        with self._lock:
            held = self._reserved.pop(reservation.id, None)
            if held is not None:
                self._reserved_total -= held
