"""A spending cap that holds at any concurrency and under retries: every attempt reserves its quote before
it is sent, and settles after.

``committed = spent + reserved``. A reservation is refused when ``committed + quote`` would pass the limit,
so concurrent requests can never jointly overshoot. Settling replaces the reservation by the actual cost;
an unknown actual cost keeps the quote as spent (conservative, never a silent 0). A retry is a new
reservation like any other: refused when it no longer fits, so the conservative spend (known bills plus the
quotes of attempts whose bill is unknown) never passes the cap.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from imgkit.errors import BudgetExceededError

__all__ = ["Budget", "Reservation"]


@dataclass(frozen=True)
class Reservation:
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
