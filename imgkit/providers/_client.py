"""``ImageClient``: resolved requests in, stored images and logged attempts out.

Per request: the key is read (environment or keys file) before anything is sent; ``n`` beyond the
provider's maximum runs as parallel calls (``ResolvedRequest.calls``); each call paces itself (requests and
images per minute, a concurrency cap, per provider and model), retries by the :class:`RetryPolicy`, and
logs every attempt, durably, before the next one starts. Images are converted locally when the resolved
request says so (``emulate``), then stored by sha256; the log and the result hold references only. The bill
comes from :func:`imgkit.pricing.bill_response`, the estimate from :func:`imgkit.pricing.quote_request`, both of
the request's :class:`~imgkit.params.PricedRequest` (no catalog look-up per attempt), or is the provider's
own (BFL's ``cost``). The adapter is the provider's catalog ``adapter``: ``openai``, ``fal``, ``gemini``,
``vertex``, ``replicate``, ``bfl``, ``together``.

Money per attempt: with a ``budget`` (:class:`~imgkit.money.Budget`), every attempt reserves its quote
before it is sent (the first attempts of all calls of a request at once, or none of them) and settles it
with its bill after; a retry is a new reservation, and one that no longer fits is not sent (the call ends
with the error it had). With a log, each attempt is announced by a ``sent`` record, written before the
request leaves (one ``write(2)``), so a process killed with requests in flight leaves a journal that says
which of them may have been billed. A cancelled call (its task cancelled) logs a final ``cancelled`` record:
its bill unknown when its request was in flight, nothing when it was not.

One shared ``httpx.AsyncClient`` serves every call of an event loop (pass your own with ``http=``);
:meth:`ImageClient.generate_sync` runs on a private loop in a thread, so it also works inside Jupyter.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import datetime as dt
import json
import logging
import threading
import uuid
import weakref
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import httpx

from imgkit.catalog import Catalog, Provider, load_catalog
from imgkit.errors import (
    BudgetExceededError,
    ImgkitError,
    InvalidParameterError,
    PricingError,
    ProviderError,
    UnknownNameError,
)
from imgkit.keys import KeySource, Secret, as_key_resolver, scrub
from imgkit.money import Budget, Reservation
from imgkit.params import ImageRequest, PricedRequest, ResolvedRequest, get_path, put_path, resolve
from imgkit.pricing import Cost, CostLine, bill_response, quote_request
from imgkit.provenance import Provenance
from imgkit.providers._bfl import BflAdapter
from imgkit.providers._convert import TRANSPARENT_FORMATS, convert_image
from imgkit.providers._errors import malformed
from imgkit.providers._fal import FAL_RUN_URL, FalAdapter, FalPolling
from imgkit.providers._google import GeminiAdapter, VertexAdapter, vertex_base_url
from imgkit.providers._http import (
    DEFAULT_TIMEOUT,
    CallRequest,
    Downloads,
    InputFile,
    input_field,
    make_http_client,
)
from imgkit.providers._limits import RateLimit, RateLimiter
from imgkit.providers._openai import OpenAIAdapter
from imgkit.providers._polling import Polling
from imgkit.providers._replicate import ReplicateAdapter
from imgkit.providers._retry import RetryPolicy
from imgkit.providers._together import TogetherAdapter
from imgkit.providers._types import AttemptClock, CallOutput, ImageResult, Timings
from imgkit.records.images import ImageStore, StoredImage, sniff_image
from imgkit.records.journal import RequestLog, call_item_id
from imgkit.records.schema import OUTCOME_CANCELLED, OUTCOME_OK, OUTCOME_SENT

__all__ = ["LABELS", "ImageClient"]

logger = logging.getLogger(__name__)

#: run columns a caller may set on every record of a request
LABELS = ("prompt_id", "target", "repeat", "category")
_DEFAULT = object()
#: images up to this many bytes per call are hashed and written on the event loop (a thread hop costs more)
INLINE_STORE_BYTES = 1 << 20


@dataclasses.dataclass
class _Request:
    """One request in flight: what every call and record of it shares."""

    resolved: ResolvedRequest
    priced: PricedRequest  # what its quotes and bills price
    provider: Provider
    key: Secret | None
    base_url: str
    http: httpx.AsyncClient
    inputs: tuple[InputFile, ...]
    mask: InputFile | None
    run_id: str
    item_id: str
    labels: dict[str, Any]
    log: RequestLog | None
    requested_json: str
    n_field: str | None
    budget: Budget | None = None
    estimates: dict[int, Cost | None] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _CallResult:
    images: list[StoredImage]
    output: CallOutput | None
    timings: Timings
    records: list[dict[str, Any]]
    costs: list[Cost]
    error: ProviderError | None
    retry_refused: bool = False  # a retry was due but did not fit the budget


class _LoopThread:
    """A private event loop in a daemon thread: the synchronous façade runs coroutines there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="imgkit-client-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


#: adapters whose bill is computed from the response's token usage
USAGE_BILLED = ("openai", "gemini", "vertex")


def cover_token_bill(estimate: Cost, part: PricedRequest, *, batch: bool = False) -> Cost:
    """``estimate`` whose high end is raised to the token math when that is higher (see ``_estimate``);
    ``batch``: both at the Batch API price."""
    if estimate.method == "tokens" or part.offering.price_on().tokens is None:
        return estimate
    try:
        tokens = quote_request(part, method="tokens", batch=batch)
    except ImgkitError:
        return estimate
    high, token_high = estimate.reserve_usd, tokens.reserve_usd
    if high is None or token_high is None or token_high <= high:
        return estimate
    note = f"billed from token usage: reserved at the token math {token_high} (the published price is {high})"
    return dataclasses.replace(estimate, total_usd=None, high_usd=token_high, notes=(*estimate.notes, note))


def _not_billed(note: str) -> Cost:
    return Cost(Decimal(0), Decimal(0), Decimal(0), "not_billed", (), (note,))


def _unknown_cost(reason: str) -> Cost:
    return Cost(None, None, None, "unknown", (), (), reason)


class _Adapter(Protocol):
    """What the client asks of a provider's adapter: one call (the request sent, its response read)."""

    async def call(self, call: CallRequest) -> CallOutput: ...


def sum_costs(costs: list[Cost | None]) -> Cost | None:
    """The bill of several attempts or calls: lines and notes joined, totals added (unknown if any is).

    Attempts that were not billed add nothing and are left out when anything else was billed.
    """
    known = [c for c in costs if c is not None]
    billed = [c for c in known if c.method != "not_billed"]
    known = billed or known[-1:]
    if not known:
        return None
    if len(known) == 1:
        return known[0]
    lines: tuple[CostLine, ...] = tuple(ln for c in known for ln in c.lines)
    notes = tuple(dict.fromkeys(n for c in known for n in c.notes))
    methods = {c.method for c in known}
    method = methods.pop() if len(methods) == 1 else "mixed"

    def add(values: list[Decimal | None]) -> Decimal | None:
        known_values = [v for v in values if v is not None]
        return None if len(known_values) < len(values) else sum(known_values, Decimal(0))

    reasons = [c.unknown_reason for c in known if c.unknown_reason]
    return Cost(
        add([c.total_usd for c in known]),
        add([c.low_usd for c in known]),
        add([c.high_usd for c in known]),
        method if all(c.total_usd is not None for c in known) else "unknown",
        lines,
        notes,
        "; ".join(reasons) or None,
    )


def _token_columns(usage: Mapping[str, Any] | None) -> dict[str, int | None]:
    """The log's four token columns from an ``ImageGenUsage`` (output without details = image tokens)."""
    if not usage:
        return {}
    inp = usage.get("input_tokens_details") or {}
    out = usage.get("output_tokens_details")
    cols = {
        "input_text_tokens": inp.get("text_tokens"),
        "input_image_tokens": inp.get("image_tokens"),
        "output_image_tokens": out.get("image_tokens") if out else usage.get("output_tokens"),
        "output_text_tokens": out.get("text_tokens") if out else None,
    }
    return {k: int(v) for k, v in cols.items() if isinstance(v, int) and not isinstance(v, bool)}


def _size_of(text: Any) -> tuple[int, int] | None:
    parts = str(text or "").lower().split("x")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


class ImageClient:
    """Calls image providers (module doc).

    ``base_urls`` overrides a provider's base URL by provider id (a proxy, the simulator). ``keys``: a
    :class:`~imgkit.keys.KeyResolver`, a callable ``provider -> Secret``, or a mapping of provider id to key
    for keys given in code (default: environment, then keys file). ``store``: an :class:`ImageStore` or its
    root (default ``$IMGKIT_HOME/images``). ``log``: a :class:`RequestLog` or its path; every attempt is
    appended there (``None``: records are only returned). ``limits``: :class:`RateLimit` overrides keyed by
    provider id or ``provider/model``. ``timeout``: the shared client's timeouts (connect 5 s, read 300 s).
    ``fal_polling`` / ``polling``: how fal's queue / Replicate's predictions and BFL's tasks are watched;
    ``fal_sync``: call fal's synchronous run endpoint (``https://fal.run``) instead of its queue.
    ``simulated``: every base URL given is the simulator, so records are labelled ``simulated`` from the
    first one (otherwise from the first response that says so).
    """

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        base_urls: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
        keys: KeySource | None = None,
        store: ImageStore | str | Path | None = None,
        log: RequestLog | str | Path | None = None,
        retry: RetryPolicy | None = None,
        limits: Mapping[str, RateLimit] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        downloads: Downloads | None = None,
        fal_polling: FalPolling | None = None,
        polling: Polling | None = None,
        fal_sync: bool = False,
        run_id: str | None = None,
        simulated: bool = False,
    ) -> None:
        self.catalog = catalog or load_catalog()
        self.base_urls = dict(base_urls or {})
        for pid in self.base_urls:
            self.catalog.provider(pid)
        self.keys = as_key_resolver(keys)
        self.store = store if isinstance(store, ImageStore) else ImageStore(store)
        self.log = log if log is None or isinstance(log, RequestLog) else RequestLog(log)
        self.retry = retry or RetryPolicy()
        self.limiter = RateLimiter(limits)
        self.timeout = timeout
        self.fal_sync = fal_sync
        self.downloads = downloads or Downloads()
        self.adapters: dict[str, _Adapter] = {
            "openai": OpenAIAdapter(self.downloads),
            "fal": FalAdapter(self.downloads, fal_polling, sync=fal_sync),
            "gemini": GeminiAdapter(),
            "vertex": VertexAdapter(),
            "replicate": ReplicateAdapter(self.downloads, polling),
            "bfl": BflAdapter(self.downloads, polling),
            "together": TogetherAdapter(self.downloads),
        }
        self.run_id = run_id or uuid.uuid4().hex
        self._http = http
        self._owned: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._sync: _LoopThread | None = None
        self._sync_lock = threading.Lock()
        self._simulated_bases: set[str] = set(self.base_urls.values()) if simulated else set()

    def __repr__(self) -> str:
        return f"ImageClient(run_id={self.run_id!r}, base_urls={self.base_urls!r})"

    # --- plumbing -------------------------------------------------------------------------------------------

    def base_url(self, provider: Provider) -> str:
        """Where ``provider`` is called: the override, else the catalog's URL (fal's run host when
        ``fal_sync``; Vertex's project and location filled from the environment)."""
        url = self.base_urls.get(provider.id)
        if url is None:
            url = FAL_RUN_URL if provider.adapter == "fal" and self.fal_sync else provider.base_url
        return vertex_base_url(url) if provider.adapter == "vertex" else url

    def _client(self) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http
        loop = asyncio.get_running_loop()
        client = self._owned.get(loop)
        if client is None:
            client = self._owned[loop] = make_http_client(self.timeout)
        return client

    async def aclose(self) -> None:
        """Close the HTTP client this loop owns (a client passed in stays open)."""
        client = self._owned.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        """Stop the synchronous façade's loop and close its HTTP client."""
        with self._sync_lock:
            sync, self._sync = self._sync, None
        if sync is not None:
            with contextlib.suppress(Exception):
                sync.run(self.aclose())
            sync.stop()

    async def __aenter__(self) -> ImageClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> ImageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what the batch client shares (imgkit.providers._batch) -----------------------------------------------

    def http_client(self) -> httpx.AsyncClient:
        """The HTTP client of the running event loop (shared by every call on it)."""
        return self._client()

    def is_simulated(self, base_url: str) -> bool:
        """Whether answers from ``base_url`` are known to come from imgkit's simulator."""
        return base_url in self._simulated_bases

    def note_simulated(self, base_url: str, headers: Mapping[str, str]) -> None:
        """Remember ``base_url`` as the simulator when an answer from it carries the simulator's mark."""
        if headers.get("x-imgkit-simulated") == "true":
            self._simulated_bases.add(base_url)

    def prepare(
        self, resolved: ResolvedRequest, *, item_id: str, run_id: str | None, labels: Mapping[str, Any]
    ) -> _Request:
        """What every record of one request shares (its key read now); for requests sent in a batch."""
        return self._prepare(resolved, item_id, run_id, labels, None)

    async def store_output(self, output: CallOutput, resolved: ResolvedRequest) -> list[StoredImage]:
        """Convert (when emulated) and store the images of one answer, in a thread when that is heavy."""
        if self._heavy(output, resolved):
            return await asyncio.to_thread(self._materialize, output, resolved)
        return self._materialize(output, resolved)

    def attempt_record(self, ctx: _Request, *args: Any) -> dict[str, Any]:
        """One canonical log record of an attempt (the arguments of the interactive path's record)."""
        return self._record(ctx, *args)

    # --- requests ---------------------------------------------------------------------------------------------

    def generate_sync(self, request: ImageRequest | ResolvedRequest, **kw: Any) -> ImageResult:
        """:meth:`generate` from synchronous code (scripts, notebooks with a running loop)."""
        with self._sync_lock:
            if self._sync is None:
                self._sync = _LoopThread()
            sync = self._sync
        return sync.run(self.generate(request, **kw))

    async def generate(
        self,
        request: ImageRequest | ResolvedRequest,
        *,
        item_id: str | None = None,
        run_id: str | None = None,
        labels: Mapping[str, Any] | None = None,
        log: Any = _DEFAULT,
        raise_on_error: bool = True,
        budget: Budget | None = None,
    ) -> ImageResult:
        """Send one request (all its calls) and return its images, timings, costs and attempt records.

        A call that ends in an error raises it (a :class:`~imgkit.errors.ProviderError` subclass) unless
        ``raise_on_error`` is false; then the result carries ``error`` and whatever the other calls
        delivered. ``labels`` sets the run columns (``prompt_id``, ``target``, ``repeat``, ``category``).
        ``budget``: every attempt reserves its quote there before it is sent (module doc); the request's
        first attempts that do not fit raise :class:`~imgkit.errors.BudgetExceededError` before anything is
        sent, a retry that does not fit is not sent (``ImageResult.retries_refused``).
        """
        resolved = request if isinstance(request, ResolvedRequest) else resolve(request, self.catalog)
        ctx = self._prepare(resolved, item_id, run_id, labels, self.log if log is _DEFAULT else log)
        calls = resolved.calls or (resolved.n,)
        held: list[Reservation | None] = [None] * len(calls)
        if budget is not None:
            ctx.budget = budget
            held = list(budget.reserve_all([self._reserve_usd(ctx, n) for n in calls]))
        if len(calls) == 1:  # the usual case: no task to schedule
            results = [await self._run_call(ctx, 0, calls[0], held[0])]
        else:
            results = await asyncio.gather(*(self._run_call(ctx, i, n, held[i]) for i, n in enumerate(calls)))
        result = self._combine(ctx, results)
        if result.error is not None and raise_on_error:
            raise result.error
        return result

    def _prepare(
        self,
        resolved: ResolvedRequest,
        item_id: str | None,
        run_id: str | None,
        labels: Mapping[str, Any] | None,
        log: RequestLog | str | Path | None,
    ) -> _Request:
        req = resolved.request
        for name in labels or {}:
            if name not in LABELS:
                raise UnknownNameError("label", name, LABELS)
        fmt = resolved.emulate.get("output_format") or resolved.body.get("output_format")
        if req.background == "transparent" and fmt and fmt not in TRANSPARENT_FORMATS:
            raise InvalidParameterError(
                "background", "transparent", f"only with output_format {', '.join(TRANSPARENT_FORMATS)}"
            )
        if resolved.provider.adapter not in self.adapters:
            raise UnknownNameError("adapter", resolved.provider.adapter, list(self.adapters))
        provider = resolved.provider
        key = self.keys(provider)  # at call time, before anything is sent
        n_field = next((a.sent_as for a in resolved.actions if a.field == "n" and a.sent_as), None)
        if log is not None and not isinstance(log, RequestLog):
            log = RequestLog(log)
        requested = resolved.summary()["requested"]
        return _Request(
            resolved=resolved,
            priced=resolved.priced(),
            provider=provider,
            key=key,
            base_url=self.base_url(provider),
            http=self._client(),
            inputs=tuple(InputFile.from_input(i) for i in req.input_images),
            mask=InputFile.from_input(req.mask) if req.mask is not None else None,
            run_id=run_id or self.run_id,
            item_id=item_id or uuid.uuid4().hex,
            labels=dict(labels or {}),
            log=log,
            requested_json=json.dumps(requested, default=str, separators=(",", ":"), ensure_ascii=False),
            n_field=n_field,
        )

    def _estimate(self, ctx: _Request, count: int) -> Cost | None:
        """The quote for one call of ``count`` images (cached per count).

        Where the bill comes from the response's token usage (OpenAI, Gemini, Vertex) and the published
        per-image price is below the token math (Gemini 3 Pro Image: $0.134 against 1,120 x $120 / 1M =
        $0.1344), the quote's high end is the token math, so what an attempt reserves covers its bill.
        """
        if count not in ctx.estimates:
            part = dataclasses.replace(ctx.priced, n=count, calls=(count,))
            try:
                estimate = quote_request(part)
            except ImgkitError:
                estimate = None
            if estimate is not None and ctx.provider.adapter in USAGE_BILLED:
                estimate = cover_token_bill(estimate, part)
            ctx.estimates[count] = estimate
        return ctx.estimates[count]

    def _quoted_usd(self, ctx: _Request, count: int) -> Decimal | None:
        """What one attempt of a call of ``count`` images reserves (the high end of a range), if priced; None
        for an unpriced request. This, never a reservation's amount, is the quote a record carries: without a
        budget cap an unpriced request holds $0 (:meth:`_reserve_usd`), which is no price."""
        estimate = self._estimate(ctx, count)
        return estimate.reserve_usd if estimate is not None else None

    def _reserve_usd(self, ctx: _Request, count: int) -> Decimal:
        """:meth:`_quoted_usd` for a budget; an unpriced request cannot be held against a cap."""
        amount = self._quoted_usd(ctx, count)
        if amount is not None:
            return amount
        if ctx.budget is None or ctx.budget.limit_usd is None:
            return Decimal(0)
        estimate = self._estimate(ctx, count)
        reason = (estimate.unknown_reason if estimate is not None else None) or "no price in the catalog"
        raise PricingError(
            f"{ctx.resolved.model.id} at {ctx.provider.id} has no quote ({reason}): "
            "the budget cannot be enforced"
        )

    async def _run_call(self, ctx: _Request, index: int, count: int, held: Reservation | None) -> _CallResult:
        """One provider call with its retries; each attempt is reserved (``held`` is the first attempt's
        reservation), announced by a ``sent`` record, and logged before the next one starts."""
        resolved, provider = ctx.resolved, ctx.provider
        adapter = self.adapters[provider.adapter]
        body = dict(resolved.body)
        if ctx.n_field and "." not in ctx.n_field:
            body[ctx.n_field] = count
        elif ctx.n_field:  # a nested field (Imagen's parameters.sampleCount, Replicate's input.num_outputs)
            body = copy.deepcopy(body)
            put_path(body, ctx.n_field, count)
        call_id = call_item_id(ctx.item_id, index, len(resolved.calls or (resolved.n,)))
        records: list[dict[str, Any]] = []
        costs: list[Cost] = []
        attempt = logged = 0  # the attempt under way; the last one whose outcome record was handed to the log
        in_flight = False  # its sent record is written and its outcome is not
        closed = False  # the call's final record was handed to the log
        clock: AttemptClock | None = None
        try:
            while True:
                attempt += 1
                slot = await self.limiter.acquire(provider, resolved.model.id, count)
                clock = AttemptClock()
                call = CallRequest(
                    ctx.http, provider, ctx.base_url, ctx.key, resolved, body, ctx.inputs, ctx.mask, clock
                )
                output: CallOutput | None = None
                images: list[StoredImage] = []
                error: ProviderError | None = None
                try:
                    in_flight = True
                    if ctx.log is not None:
                        quoted = self._quoted_usd(ctx, count)
                        await ctx.log.append_async(
                            self._announcement(ctx, call_id, attempt, count, clock, quoted)
                        )
                    output = await adapter.call(call)
                except ProviderError as exc:
                    error = exc
                finally:
                    slot.release()
                if output is not None:
                    if output.headers.get("x-imgkit-simulated") == "true":
                        self._simulated_bases.add(ctx.base_url)
                    try:
                        if self._heavy(output, resolved):
                            images = await asyncio.to_thread(self._materialize, output, resolved)
                        else:  # a thread hop costs more than hashing and writing a small image
                            images = self._materialize(output, resolved)
                    except InvalidParameterError as exc:
                        error = malformed(
                            f"the provider's image is unusable: {exc}",
                            provider=provider.id,
                            status=output.status,
                            headers=output.headers,
                        )
                clock.end()
                if error is not None and error.retry_after_s and error.retry_after_s > 0:
                    self.limiter.back_off(
                        provider, resolved.model.id, min(error.retry_after_s, self.retry.max_retry_after_s)
                    )
                retry = error is not None and self.retry.should_retry(error, attempt)
                cost = self._cost(ctx, output, error, clock)
                costs.append(cost)
                quoted = self._quoted_usd(ctx, count)
                if held is not None:
                    assert ctx.budget is not None  # a reservation is held in the request's budget
                    ctx.budget.settle(held, cost.total_usd)
                    held = None
                refused: BudgetExceededError | None = None
                if retry and ctx.budget is not None:
                    try:  # the retry is a new reservation: made now, so a refusal makes this record final
                        held = ctx.budget.reserve(self._reserve_usd(ctx, count))
                    except BudgetExceededError as exc:
                        retry, refused = False, exc
                record = self._record(
                    ctx, call_id, attempt, not retry, clock, body, count, output, images, error, cost, quoted
                )
                if refused is not None:
                    record["error_message"] += f" (not retried: {refused})"
                records.append(record)
                in_flight, logged, closed = False, attempt, not retry
                if ctx.log is not None:
                    await ctx.log.append_async(record)
                if not retry:
                    return _CallResult(
                        images,
                        output if error is None else None,
                        clock.timings(),
                        records,
                        costs,
                        error,
                        refused is not None,
                    )
                assert error is not None  # only a failed attempt is retried
                delay_s = self.retry.delay_s(attempt - 1, error.retry_after_s)
                logger.info(
                    "%s %s: attempt %d failed (%s, status %s); retrying in %.1f s",
                    provider.id,
                    resolved.model.id,
                    attempt,
                    error.error_class,
                    error.status,
                    delay_s,
                )
                await asyncio.sleep(delay_s)
        except asyncio.CancelledError:
            if closed:  # cancelled while its final record was being committed: nothing more to say
                raise
            if in_flight:  # the request may have reached the provider: its bill is unknown
                quoted = self._quoted_usd(ctx, count)
                self._log_cancelled(ctx, call_id, attempt, count, clock, quoted)
            else:  # waiting for a slot or a retry: nothing was sent for the next attempt
                self._log_cancelled(ctx, call_id, logged + 1, count, None, None)
            raise
        finally:
            if held is not None:  # an attempt that did not end normally (cancelled, or an unexpected error)
                assert ctx.budget is not None  # a reservation is held in the request's budget
                if in_flight:
                    ctx.budget.settle(held, None)
                else:
                    ctx.budget.release(held)

    def _request_columns(self, ctx: _Request, call_id: str, attempt: int, count: int) -> dict[str, Any]:
        """The columns every record of one call shares (what was asked, of whom)."""
        resolved = ctx.resolved
        return {
            "run_id": ctx.run_id,
            "item_id": call_id,
            **ctx.labels,
            "attempt": attempt,
            "provider": ctx.provider.id,
            "model": resolved.model.id,
            "provider_model_id": resolved.endpoint,
            "mode": resolved.mode,
            "quality": resolved.quality,
            "size": resolved.size,
            "width": resolved.width,
            "height": resolved.height,
            "n": count,
        }

    def _announcement(
        self,
        ctx: _Request,
        call_id: str,
        attempt: int,
        count: int,
        clock: AttemptClock,
        quoted: Decimal | None,
    ) -> dict[str, Any]:
        """The ``sent`` record of an attempt about to leave: what may be billed if no outcome follows."""
        record = self._request_columns(ctx, call_id, attempt, count)
        record.update(
            final=False,
            started_at=clock.started_at,
            outcome=OUTCOME_SENT,
            estimated_cost_usd=quoted,
        )
        if ctx.base_url in self._simulated_bases:
            record["provenance"] = Provenance.SIMULATED.value
        return record

    def _log_cancelled(
        self,
        ctx: _Request,
        call_id: str,
        attempt: int,
        count: int,
        clock: AttemptClock | None,
        quoted: Decimal | None,
    ) -> None:
        """The final ``cancelled`` record of a call whose task was cancelled (written at once: the task is
        going away). ``clock`` is the attempt in flight (bill unknown), ``None`` when nothing was sent."""
        if ctx.log is None:
            return
        now = dt.datetime.now(dt.UTC)
        in_flight = clock is not None
        record = self._request_columns(ctx, call_id, attempt, count)
        record.update(
            final=True,
            started_at=clock.started_at if clock is not None else now,
            ended_at=now,
            outcome=OUTCOME_CANCELLED,
            estimated_cost_usd=quoted if in_flight else self._quoted_usd(ctx, count),
            actual_cost_usd=None if in_flight else Decimal(0),
            cost_method="unknown" if in_flight else "not_billed",
            images_count=0,
            error_message="cancelled while the request was in flight: it may have been billed"
            if in_flight
            else "cancelled before the request was sent: not billed",
        )
        simulated = ctx.base_url in self._simulated_bases
        record["provenance"] = (Provenance.SIMULATED if simulated else Provenance.MEASURED).value
        with contextlib.suppress(ImgkitError):
            ctx.log.append(record)

    @staticmethod
    def _heavy(output: CallOutput, resolved: ResolvedRequest) -> bool:
        """Whether storing this call's images is worth a worker thread (conversion, or megabytes to hash)."""
        if "output_format" in resolved.emulate or "output_compression" in resolved.emulate:
            return True
        return sum(len(i.data) for i in output.images) > INLINE_STORE_BYTES

    def _materialize(self, output: CallOutput, resolved: ResolvedRequest) -> list[StoredImage]:
        """Convert (when emulated) and store the images of one call."""
        fmt = resolved.emulate.get("output_format")
        compression = resolved.emulate.get("output_compression")
        stored = []
        for raw in output.images:
            data = raw.data
            if fmt is not None or compression is not None:
                data = convert_image(data, fmt or sniff_image(data)[0], compression)
            stored.append(self.store.put(data))
        return stored

    def _cost(
        self, ctx: _Request, output: CallOutput | None, error: ProviderError | None, clock: AttemptClock
    ) -> Cost:
        """The bill of one attempt: from the response, or what an error implies (API.md §1.11, §2.5)."""
        if error is not None:
            if error.may_be_billed:
                return _unknown_cost(
                    f"{error.error_class} after the request reached the provider: it may have been billed"
                )
            return _not_billed(f"{error.error_class}: nothing delivered")
        assert output is not None  # an attempt without an error has its response
        if output.charge is not None:  # the provider's own bill (BFL's cost)
            return output.charge
        try:
            return bill_response(output.body, ctx.priced, on=clock.started_at)
        except PricingError as exc:
            return _unknown_cost(str(exc))

    def _record(
        self,
        ctx: _Request,
        call_id: str,
        attempt: int,
        final: bool,
        clock: AttemptClock,
        body: Mapping[str, Any],
        count: int,
        output: CallOutput | None,
        images: list[StoredImage],
        error: ProviderError | None,
        cost: Cost,
        quoted: Decimal | None,
    ) -> dict[str, Any]:
        """One canonical log record (imgkit.records.schema) for one attempt (``quoted``: what it reserved)."""
        resolved, t = ctx.resolved, clock.timings()
        echo = output.body if output is not None else {}
        size = echo.get("size") if _size_of(echo.get("size")) else None
        if size is None and images:
            size = f"{images[0].width}x{images[0].height}"
        size = size or resolved.size
        wh = _size_of(size) or (resolved.width, resolved.height)
        quality = echo.get("quality") if echo.get("quality") not in (None, "auto") else resolved.quality
        sent = dict(body)
        if ctx.inputs:  # the inputs' names where their bytes went
            default = "image[]" if ctx.provider.adapter == "openai" else "image_urls"
            field, names = input_field(resolved, default), [f.name for f in ctx.inputs]
            if "." in field:  # a nested field (Replicate's input.image, Gemini's contents[0].parts)
                sent = copy.deepcopy(sent)
                there = get_path(sent, field)
                put_path(sent, field, [*there, *names] if isinstance(there, list) else names)
            else:
                sent[field] = names
        if ctx.mask is not None:
            sent["mask"] = ctx.mask.name
        simulated = (error is not None and error.simulated) or ctx.base_url in self._simulated_bases
        record = self._request_columns(ctx, call_id, attempt, count)
        record.update(
            {
                "final": final,
                "started_at": t.started_at,
                "first_byte_at": t.first_byte_at,
                "first_partial_at": t.first_partial_at,
                "ended_at": t.ended_at,
                "latency_ms": t.latency_ms,
                "ttfb_ms": t.ttfb_ms,
                "first_partial_ms": t.first_partial_ms,
                "outcome": OUTCOME_OK if error is None else error.error_class,
                "http_status": output.status
                if output is not None
                else error.status
                if error is not None
                else None,
                "quality": quality,
                "size": size,
                "width": wh[0],
                "height": wh[1],
                "streamed": bool(body.get("stream")),
                "partial_images": int(resolved.request.partial_images or 0),
                "requested_params": ctx.requested_json,
                "resolved_params": sent,
                "request_id": (output.request_id if output is not None else None)
                or (error.request_id if error else None),
                **_token_columns(output.usage if output is not None else None),
                "estimated_cost_usd": quoted,
                "actual_cost_usd": cost.total_usd,
                "cost_method": cost.method,
                "images_count": len(images),
                "images": [i.as_dict() for i in images],
                "error_message": scrub(str(error)) if error is not None else None,
                "retry_after_s": error.retry_after_s if error is not None else None,
                "provenance": (Provenance.SIMULATED if simulated else Provenance.MEASURED).value,
            }
        )
        return record

    def _combine(self, ctx: _Request, results: list[_CallResult]) -> ImageResult:
        images = tuple(i for r in results for i in r.images)
        outputs = [r.output for r in results if r.output is not None]
        first = outputs[0].body if outputs else {}
        usage: dict[str, int] = {}
        for out in outputs:
            for k, v in (out.usage or {}).items():
                if isinstance(v, int) and not isinstance(v, bool):
                    usage[k] = usage.get(k, 0) + v
        times = [r.timings for r in results]

        def earliest(values: list[Any]) -> Any:
            present = [v for v in values if v is not None]
            return min(present) if present else None

        timings = Timings(
            min(t.started_at for t in times),
            earliest([t.first_byte_at for t in times]),
            earliest([t.first_partial_at for t in times]),
            max(t.ended_at for t in times),
        )
        fmt = ctx.resolved.emulate.get("output_format") or first.get("output_format")
        if fmt is None and images:
            fmt = images[0].format
        request_ids = tuple(o.request_id for o in outputs if o.request_id)
        errors = [r.error for r in results if r.error is not None]
        size = first.get("size") if _size_of(first.get("size")) else None
        if size is None and images:
            size = f"{images[0].width}x{images[0].height}"
        if len(results) == 1:
            estimated = self._estimate(ctx, ctx.resolved.n)
        else:
            try:
                estimated = quote_request(ctx.priced)
            except ImgkitError:
                estimated = None
        return ImageResult(
            resolved=ctx.resolved,
            run_id=ctx.run_id,
            item_id=ctx.item_id,
            images=images,
            timings=timings,
            usage=usage or None,
            quality=first.get("quality") or ctx.resolved.quality,
            size=size or ctx.resolved.size,
            output_format=fmt,
            background=first.get("background"),
            request_id=request_ids[0] if request_ids else None,
            request_ids=request_ids,
            cost=sum_costs([c for r in results for c in r.costs]),
            estimated_cost=estimated,
            attempts=tuple(rec for r in results for rec in r.records),
            partial_images=sum(o.partial_images for o in outputs),
            error=errors[0] if errors else None,
            notes=ctx.resolved.notes,
            retries_refused=sum(r.retry_refused for r in results),
        )
