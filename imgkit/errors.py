"""The imgkit exception hierarchy: every exception imgkit raises on purpose is defined here.

Every error is an ``ImgkitError``. Messages name the field, the bad value and what is allowed, and never
contain a secret (API keys are redacted by :func:`redact`, from :mod:`imgkit.secret_policy`, before any message
is built from provider text). Each class declares its attributes in ``__init__``; none is attached later::

    ImgkitError
    ├── CatalogError                  a data/catalog file is malformed (file, key_path, problem)
    ├── SpecError                     an experiment spec / workload / parameters file is malformed
    │                                 (file, key_path, problem)
    ├── InvalidParameterError         a request parameter is not allowed (field, value, allowed, context, hint)
    │   ├── UnknownNameError          unknown model / provider / quality ... (+ suggestions: close matches)
    │   ├── UnsupportedParameterError the provider or model cannot honour this parameter
    │   └── InputImageError           an input image is missing, not an image, corrupt, too large, a bomb
    ├── PricingError                  no price can be computed
    │   ├── UnknownPriceError         the catalog holds no price for this combination
    │   └── RetiredOfferingError      the offering was shut down before the date asked (model, provider,
    │                                 shutdown, replacement, note)
    ├── BudgetExceededError           a request would take spend past the budget
    │                                 (budget_usd, committed_usd, request_usd)
    ├── SecretParameterError          a value that looks like a secret was passed as a parameter
    ├── KeysFileError                 the keys file is readable by others, unreadable or malformed
    ├── RunDirectoryError             a run directory cannot be used as asked (a log there without --resume,
    │                                 a run already writing it)
    ├── JournalBusyError              another process holds a request log's write lock (path)
    ├── ReportError                   a notebook failed while executing (notebook, cell, output, run)
    ├── EngineError                   an engine cannot run an analysis as asked: not installed, no
    │                                 credentials, a source it cannot read (engine, problem)
    └── ProviderError                 a provider call failed (provider, status, request_id, code, retryable,
        │                             retry_after_s, may_be_billed, billed_read_timeout, simulated)
        ├── AuthenticationError       401 / 403
        │   └── MissingKeyError       no key for the provider in the environment or the keys file
        ├── RateLimitError            429 (retry_after_s when the provider said)
        ├── ContentPolicyError        moderation block; never retried
        ├── BadRequestError           400 / 404 / 422 that is not a policy block
        ├── ProviderUnavailableError  5xx, connection refused or dropped
        ├── ProviderTimeoutError      connect / read timeout, fal queue timeout
        ├── MalformedResponseError    a body that does not parse or lacks required fields
        └── BatchExpiredError         a batched request that never ran: its batch's window ended first
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from imgkit.secret_policy import redact

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BatchExpiredError",
    "BudgetExceededError",
    "CatalogError",
    "ContentPolicyError",
    "EngineError",
    "ImgkitError",
    "InputImageError",
    "InvalidParameterError",
    "JournalBusyError",
    "KeysFileError",
    "MalformedResponseError",
    "MissingKeyError",
    "PricingError",
    "ProviderError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "RateLimitError",
    "ReportError",
    "RetiredOfferingError",
    "RunDirectoryError",
    "SecretParameterError",
    "SpecError",
    "UnknownNameError",
    "UnknownPriceError",
    "UnsupportedParameterError",
    "first_line",
    "redact",
]


class ImgkitError(Exception):
    """Root of every error imgkit raises on purpose."""


class CatalogError(ImgkitError):
    """A catalog file is malformed: names the file, the key path and the problem."""

    def __init__(self, file: str, key_path: str, problem: str) -> None:
        self.file, self.key_path, self.problem = file, key_path, problem
        super().__init__(f"{file}: {key_path or '<root>'}: {problem}")


class SpecError(ImgkitError):
    """A spec, workload or parameters file is malformed: names the file, the key path and the problem."""

    def __init__(self, file: str, key_path: str, problem: str) -> None:
        self.file, self.key_path, self.problem = file, key_path, problem
        super().__init__(f"{file}: {key_path or '<root>'}: {problem}")


def _fmt_allowed(allowed: Any) -> str:
    if allowed is None:
        return ""
    if isinstance(allowed, str):
        return allowed
    if isinstance(allowed, Iterable):
        items = [str(a) for a in allowed]
        return ", ".join(items) if items else "(nothing)"
    return str(allowed)


class InvalidParameterError(ImgkitError):
    """A parameter value is not allowed. ``field``, ``value`` and ``allowed`` are kept as attributes."""

    def __init__(self, field: str, value: Any, allowed: Any, *, context: str = "", hint: str = "") -> None:
        self.field, self.value, self.allowed, self.context, self.hint = field, value, allowed, context, hint
        where = f" for {context}" if context else ""
        msg = f"{field}={value!r} is not allowed{where}; allowed: {_fmt_allowed(allowed)}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class UnknownNameError(InvalidParameterError):
    """An unknown model, provider, quality... The message suggests the closest known names."""

    def __init__(self, field: str, value: Any, known: Sequence[str], *, context: str = "") -> None:
        self.suggestions = difflib.get_close_matches(str(value), list(known), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(field, value, sorted(known), context=context, hint=hint)


class UnsupportedParameterError(InvalidParameterError):
    """The model or provider cannot honour this parameter (and does not document ignoring it)."""


class InputImageError(InvalidParameterError):
    """An input image is missing, not an image, corrupt, too large or a decompression bomb."""


class PricingError(ImgkitError):
    """No price can be computed for the request."""


class UnknownPriceError(PricingError):
    """The catalog holds no price for this model / provider / quality / size at this date."""


class RetiredOfferingError(PricingError):
    """A quote for a date on or after an offering's shutdown (a shutdown a primary or copy source states).

    ``model``, ``provider``, ``shutdown`` (the date) and ``replacement`` (the names the vendor gives) are
    kept as attributes; ``note`` says which sources state it and their marks. The message says how to
    re-cost an older request (a date before the shutdown).
    """

    def __init__(
        self, model: str, provider: str, shutdown: Any, replacement: Sequence[str], note: str = ""
    ) -> None:
        self.model, self.provider, self.shutdown = model, provider, shutdown
        self.replacement, self.note = tuple(replacement), note
        named = f"; replacement named: {', '.join(self.replacement)}" if self.replacement else ""
        told = note or f"shut down on {shutdown}{named}"
        super().__init__(
            f"{model} at {provider}: {told}; a quote for an earlier date (on= / --on) re-costs requests made "
            "before it"
        )


class BudgetExceededError(ImgkitError):
    """Sending the request would take the spend past the budget (amounts in USD, exact)."""

    def __init__(self, budget_usd: Any, committed_usd: Any, request_usd: Any) -> None:
        self.budget_usd, self.committed_usd, self.request_usd = budget_usd, committed_usd, request_usd
        super().__init__(
            f"budget_usd={budget_usd} would be exceeded: {committed_usd} already spent or reserved, "
            f"this request is quoted at {request_usd}"
        )


class SecretParameterError(ImgkitError):
    """A parameter looks like a secret; keys are read from the environment, never passed as parameters."""


class KeysFileError(ImgkitError):
    """The keys file is readable by others, unreadable or malformed."""


class RunDirectoryError(ImgkitError):
    """The run directory cannot be used as asked (a log already there without ``resume``...)."""


class JournalBusyError(ImgkitError):
    """Another process holds the journal's write lock (it is writing the same run)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"request log {path} is being written by another process")


class EngineError(ImgkitError):
    """An engine (DuckDB, Spark, a warehouse) cannot run an analysis as asked: its extra is not installed,
    credentials are missing, or the source is not one it reads."""

    def __init__(self, engine: str, problem: str) -> None:
        self.engine = engine
        self.problem = problem
        super().__init__(f"engine {engine}: {problem}")


class ReportError(ImgkitError):
    """A notebook failed while executing; ``cell`` names the failing cell and ``output`` the kept notebook.

    ``run`` is the failed run's record (:class:`imgkit.reports.ReportRun`, with the index page it was listed
    in), or ``None`` when the failure came before there was one.
    """

    def __init__(
        self, message: str, *, notebook: str = "", cell: str = "", output: str = "", run: Any = None
    ) -> None:
        self.notebook, self.cell, self.output, self.run = notebook, cell, output, run
        super().__init__(message)


class ProviderError(ImgkitError):
    """A provider call failed.

    ``retryable``: another attempt may succeed (each subclass has its default). ``may_be_billed``: the
    request reached the provider and its bill is unknown (a read timeout, a dropped or malformed response, a
    fal 422, a failed download of a generated image). ``billed_read_timeout``: a read timeout of an image POST
    (retried only when the retry policy allows it). ``simulated``: the answer came from imgkit's simulator.
    """

    retryable: bool = False
    error_class: str = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        request_id: str | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after_s: float | None = None,
        may_be_billed: bool = False,
        billed_read_timeout: bool = False,
        simulated: bool = False,
    ) -> None:
        self.provider, self.status, self.request_id, self.code = provider, status, request_id, code
        self.retry_after_s = retry_after_s
        self.retryable = type(self).retryable if retryable is None else retryable
        self.may_be_billed = may_be_billed
        self.billed_read_timeout = billed_read_timeout
        self.simulated = simulated
        parts = [p for p in (provider, f"HTTP {status}" if status else "", code or "") if p]
        prefix = f"[{' '.join(parts)}] " if parts else ""
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(redact(f"{prefix}{message}{rid}"))


class AuthenticationError(ProviderError):
    error_class = "authentication"


class MissingKeyError(AuthenticationError):
    """No key for a provider in the environment or the keys file."""


class RateLimitError(ProviderError):
    retryable = True
    error_class = "rate_limit"


class ContentPolicyError(ProviderError):
    error_class = "content_policy"


class BadRequestError(ProviderError):
    error_class = "bad_request"


class ProviderUnavailableError(ProviderError):
    retryable = True
    error_class = "unavailable"


class ProviderTimeoutError(ProviderError):
    retryable = True
    error_class = "timeout"


class MalformedResponseError(ProviderError):
    retryable = True
    error_class = "malformed_response"


class BatchExpiredError(ProviderError):
    """A request of a batch that never ran: the batch's completion window ended first (not billed). A resumed
    run sends it again; within a run it is re-batched once when the spec says so."""

    retryable = True
    error_class = "expired"


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an exception's message (a third-party reader's error often runs to
    several lines of hints), or its class name; for one-line messages that quote it."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def provider_error_classes(*, retryable: bool | None = None) -> frozenset[str]:
    """The ``error_class`` of :class:`ProviderError` and its subclasses (only the retryable ones, or only the
    others, when ``retryable`` is given): the outcomes a request log may hold besides "ok"."""
    found, todo = set(), [ProviderError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if retryable is None or cls.retryable == retryable:
            found.add(cls.error_class)
    return frozenset(found)
