"""Injected faults: what can go wrong on the wire, scripted for tests or drawn at random for load runs.

Fault kinds (each answered in the serving provider's real error shape, see ``_openai`` and ``_fal``):

==============  ===========================================================================================
``rate_limit``  429 with ``retry-after`` (whole seconds, at least 1) and ``retry-after-ms``
``server_error`` 500
``unavailable`` 503 (the gateway: 502 ``ALL_PROVIDERS_EXHAUSTED``; fal: ``runner_scheduling_failure``)
``timeout``     the server does not answer (for ``hang_s``, then it closes the connection): a read timeout
                when the client gives up first
``drop``        the status line and part of the headers are sent, then the socket is reset
``malformed``   200 with a body that is not valid JSON (in a stream: an event whose data is not JSON)
``truncated``   200 whose body stops early and the connection closes (in a stream: mid-event)
``moderation``  400 ``moderation_blocked`` (gateway ``CONTENT_POLICY_VIOLATION``, fal 422
                ``content_policy_violation``)
``auth``        401 as if the key were wrong
==============  ===========================================================================================

``"ok"`` in a script means "no fault". HTTP status codes are accepted as aliases (``"429"``, ``"500"``,
``"503"``, ``"400"``, ``"401"``).

A batch (the Batches API, :mod:`imgkit.simulator._batches`) runs each of its lines through the same plan, one
entry per line; the wire faults that cannot happen inside a batch (``timeout``, ``drop``, ``malformed``,
``truncated``) fail the line with a 500. Faults of a whole batch come from their own script (``batches=``):

==============  ===========================================================================================
``expired``     the completion window ends halfway through the batch's run: the lines done by then are in
                the output file (and billed), the rest in the error file as ``batch_expired``
``failed``      validation fails (``token_limit_exceeded``, as when a queue's enqueued-token limit is hit):
                status ``failed``, nothing runs, nothing is billed
``timeout``     the batch is created, but the create request gets no answer (held for ``hang_s``, then
                closed): the client does not learn the batch's id
==============  ===========================================================================================
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable, Mapping

from imgkit.errors import InvalidParameterError

__all__ = [
    "BATCH_FAULT_KINDS",
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "FaultPlan",
    "normalise_batch_fault",
    "normalise_fault",
]

FAULT_KINDS = (
    "rate_limit",
    "server_error",
    "unavailable",
    "timeout",
    "drop",
    "malformed",
    "truncated",
    "moderation",
    "auth",
)
#: kinds spread evenly by ``fault_rate`` (``auth`` is left out: it is a configuration error, not a fault)
RANDOM_FAULT_KINDS = FAULT_KINDS[:-1]
_ALIASES = {
    "429": "rate_limit",
    "500": "server_error",
    "503": "unavailable",
    "400": "moderation",
    "401": "auth",
    "hang": "timeout",
    "read_timeout": "timeout",
    "dropped": "drop",
}


def normalise_fault(kind: str) -> str | None:
    """The canonical fault kind for ``kind`` (an alias or status code); ``None`` for ``"ok"``."""
    key = str(kind).strip().lower()
    if key in ("ok", "none", ""):
        return None
    key = _ALIASES.get(key, key)
    if key not in FAULT_KINDS:
        raise InvalidParameterError("fault", kind, ("ok", *FAULT_KINDS, *_ALIASES))
    return key


#: faults of a whole batch (module doc)
BATCH_FAULT_KINDS = ("expired", "failed", "timeout")


def normalise_batch_fault(kind: str) -> str | None:
    """The batch fault kind for ``kind``; ``None`` for ``"ok"``."""
    key = str(kind).strip().lower()
    if key in ("ok", "none", ""):
        return None
    key = {"expire": "expired", "fail": "failed", "failed_validation": "failed", "hang": "timeout"}.get(
        key, key
    )
    if key not in BATCH_FAULT_KINDS:
        raise InvalidParameterError("batch fault", kind, ("ok", *BATCH_FAULT_KINDS))
    return key


def _probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise InvalidParameterError(name, value, "a probability between 0 and 1")
    return value


class FaultPlan:
    """Which requests fail and how: scripts first, then random rates.

    ``script`` is consumed one entry per API request (generation, edit or fal submit) whatever the model;
    ``per_model`` scripts (keyed by catalog model id, fal endpoint id or provider model id) take precedence
    for their model. When the scripts are exhausted, ``rates`` (kind -> probability) and ``fault_rate``
    (spread evenly over ``kinds``) decide at random, from the request's seeded generator.

    ``retry_after_ms``: the delay a 429 asks for; an explicit value is sent verbatim (a test can measure that
    it was honoured), the default of 1000 ms is multiplied by the server's time scale (at least 1 ms).
    ``hang_s``: how long a ``timeout`` fault holds the request before closing it; ``None`` = the server's
    default: 300 s (a client's read timeout) times its time scale, so a hang follows the simulated clock
    (at time scale 0: until the client disconnects or the server stops).

    ``batches``: a script of whole-batch faults (:data:`BATCH_FAULT_KINDS` or ``"ok"``), one entry per batch
    created; the lines of a batch take their faults from the request script and rates like any request.
    """

    def __init__(
        self,
        script: Iterable[str] = (),
        *,
        per_model: Mapping[str, Iterable[str]] | None = None,
        rates: Mapping[str, float] | None = None,
        fault_rate: float = 0.0,
        kinds: Iterable[str] = RANDOM_FAULT_KINDS,
        retry_after_ms: float | None = None,
        hang_s: float | None = None,
        batches: Iterable[str] = (),
    ) -> None:
        self._lock = threading.Lock()
        self._batches: deque[str | None] = deque(normalise_batch_fault(k) for k in batches)
        self._script: deque[str | None] = deque(normalise_fault(k) for k in script)
        self._per_model: dict[str, deque[str | None]] = {
            model: deque(normalise_fault(k) for k in steps) for model, steps in (per_model or {}).items()
        }
        self.rates: dict[str, float] = {}
        for kind, p in (rates or {}).items():
            canonical = normalise_fault(kind)
            if canonical is None:
                raise InvalidParameterError("rates", kind, FAULT_KINDS)
            self.rates[canonical] = self.rates.get(canonical, 0.0) + _probability(f"rates[{kind}]", p)
        self.fault_rate = _probability("fault_rate", fault_rate)
        self.kinds = tuple(k for k in (normalise_fault(k) for k in kinds) if k)
        if self.fault_rate and not self.kinds:
            raise InvalidParameterError("kinds", (), FAULT_KINDS)
        if sum(self.rates.values()) + self.fault_rate > 1.0 + 1e-9:
            raise InvalidParameterError(
                "rates + fault_rate",
                sum(self.rates.values()) + self.fault_rate,
                "a total probability of at most 1",
            )
        if retry_after_ms is not None and retry_after_ms < 0:
            raise InvalidParameterError("retry_after_ms", retry_after_ms, "0 or more")
        self.retry_after_ms = retry_after_ms
        self.hang_s = hang_s

    def fail_next(self, n: int, kind: str, *, model: str | None = None) -> FaultPlan:
        """Append ``n`` faults of ``kind`` to the global script (or to ``model``'s script); returns self."""
        canonical = normalise_fault(kind)
        with self._lock:
            queue = self._script if model is None else self._per_model.setdefault(model, deque())
            queue.extend([canonical] * int(n))
        return self

    def fail_next_batches(self, *kinds: str) -> FaultPlan:
        """Append whole-batch faults (or ``"ok"``) to the batch script; returns self."""
        with self._lock:
            self._batches.extend(normalise_batch_fault(k) for k in kinds)
        return self

    def next_batch_fault(self) -> str | None:
        """The fault of the next batch created (``None``: it runs normally)."""
        with self._lock:
            return self._batches.popleft() if self._batches else None

    def pending(self, model: str | None = None) -> int:
        """Scripted entries not yet consumed (globally, or for ``model``)."""
        with self._lock:
            return len(self._script if model is None else self._per_model.get(model, ()))

    def next_fault(self, model_keys: Iterable[str], rng: random.Random) -> tuple[str | None, str]:
        """The fault for the next request of a model (known by any of ``model_keys``) and where it came from.

        Returns ``(kind or None, source)`` with source ``"script"``, ``"rate"`` or ``"none"``.
        """
        with self._lock:
            for key in model_keys:
                queue = self._per_model.get(key)
                if queue:
                    return queue.popleft(), "script"
            if self._script:
                return self._script.popleft(), "script"
        roll = rng.random()
        for kind, p in self.rates.items():
            if roll < p:
                return kind, "rate"
            roll -= p
        if roll < self.fault_rate:
            return self.kinds[int(roll / self.fault_rate * len(self.kinds)) % len(self.kinds)], "rate"
        return None, "none"
