"""``SimulatorServer``: the simulated provider on a local port, in a background thread or in the foreground.

Routes (``{prefix}`` = ``/v1`` for OpenAI, ``/lumenfall/v1`` for the gateway flavour)::

    POST {prefix}/images/generations            JSON
    POST {prefix}/images/edits                  multipart (image, image[], mask) or JSON (images, mask)
    POST /fal/{endpoint_id...}                  fal queue submit        (https://queue.fal.run/...)
    GET  /fal/{owner}/{alias}/requests/{id}/status
    GET  /fal/{owner}/{alias}/requests/{id}     result
    PUT  /fal/{owner}/{alias}/requests/{id}/cancel
    POST /fal-run/{endpoint_id...}              fal synchronous run     (https://fal.run/...)
    GET  /files/{name}                          images returned as URLs (re-rendered on demand)
    /v1/files[/{id}[/content]], /v1/batches[/{id}[/cancel]]   the Files and Batches APIs (``_batches``)

Every response carries ``x-imgkit-simulated: true`` and ``x-imgkit-profile-provenance``; OpenAI-style
responses carry ``x-request-id``, fal responses ``x-fal-request-id``. Timing: the response head is sent at the
drawn TTFB and the body at the drawn total latency (a stream's first event at the TTFB, partial images spread
evenly, the completed event at the total), all multiplied by ``time_scale``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from imgkit.catalog import Catalog, load_catalog
from imgkit.errors import ImgkitError, InvalidParameterError, redact
from imgkit.params import PricedRequest
from imgkit.pricing import Cost, quote_request
from imgkit.secret_policy import SECRET_HEADERS
from imgkit.simulator._batches import BatchService
from imgkit.simulator._bfl import BflProtocol
from imgkit.simulator._fal import FalEndpoint, FalError, FalInput, FalJob, fal_endpoints, parse_fal_input
from imgkit.simulator._faults import FaultPlan
from imgkit.simulator._gemini_batches import GeminiBatchService, is_gemini_batch_path
from imgkit.simulator._google import GoogleProtocol
from imgkit.simulator._http import (
    DEFAULT_HEAD_TIMEOUT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    Exchange,
    HttpServer,
    Request,
)
from imgkit.simulator._images import ImageCache, ImageSpec, image_digest
from imgkit.simulator._openai import (
    ApiError,
    ImageJob,
    parse_image_request,
    require_bearer,
    response_body,
    stream_event,
)
from imgkit.simulator._profiles import Draw, Profile, ProfileSet, default_profiles
from imgkit.simulator._replicate import ReplicateProtocol
from imgkit.simulator._together import TogetherProtocol
from imgkit.simulator._wire import JSON_HEADER, Verbatim, send_timed
from imgkit.simulator._wire import dumps as _dumps

__all__ = ["SIMULATED_VERTEX_PROJECT", "RecordedRequest", "SimulatorServer", "simulated_base_urls"]

logger = logging.getLogger(__name__)

#: share of a fal job's total latency spent IN_QUEUE (assumed; fal publishes no queue-time figures)
FAL_QUEUE_SHARE = 0.1
#: the delay a 429 asks for when the fault plan gives none (multiplied by the time scale, at least 1 ms)
DEFAULT_RETRY_AFTER_MS = 1000.0
#: how long a hung request (a ``timeout`` fault) is held when the fault plan gives no ``hang_s``, multiplied by
#: the time scale: the read timeout of imgkit's client (300 s), so the hang lasts what a real one would
DEFAULT_HANG_MS = 300_000.0
_FAL_REQUEST = re.compile(r"^/fal/(?P<app>[^/]+/[^/]+)/requests/(?P<id>[^/]+)(?P<op>/status|/cancel)?/?$")
_JSON = JSON_HEADER


#: the Vertex project and location imgkit's client names when it calls the simulator
SIMULATED_VERTEX_PROJECT = ("imgkit-simulated", "global")


def simulated_base_urls(root: str, catalog: Catalog, *, fal_sync: bool = False) -> dict[str, str]:
    """The base URL imgkit's client uses for each catalog provider the simulator at ``root`` serves.

    These are imgkit's base URLs (what each adapter appends its endpoint to), not the SDKs' (see the
    server's ``*_base_url`` properties): Gemini API ``{root}/gemini/v1beta``, Vertex AI the
    ``{root}/gemini/v1/projects/imgkit-simulated/locations/global/publishers/google/models`` collection,
    Together ``{root}/together/v1``, Replicate and BFL their roots, fal its queue (or run) root, OpenAI
    ``{root}/v1`` and every other OpenAI-compatible provider the gateway flavour.
    """
    root = root.rstrip("/")
    project, location = SIMULATED_VERTEX_PROJECT
    by_adapter = {
        "fal": f"{root}/fal-run" if fal_sync else f"{root}/fal",
        "gemini": f"{root}/gemini/v1beta",
        "vertex": f"{root}/gemini/v1/projects/{project}/locations/{location}/publishers/google/models",
        "replicate": f"{root}/replicate",
        "bfl": f"{root}/bfl",
        "together": f"{root}/together/v1",
    }
    out = {}
    for provider in catalog.providers.values():
        if provider.adapter in by_adapter:
            out[provider.id] = by_adapter[provider.adapter]
        elif provider.adapter == "openai":
            out[provider.id] = f"{root}/v1" if provider.id == "openai" else f"{root}/lumenfall/v1"
    return out


@dataclass
class RecordedRequest:
    """One request as the simulator saw it (secrets redacted) and how it answered."""

    method: str
    path: str
    #: generate | edit | fal_submit | fal_status | fal_result | fal_cancel | fal_run | file | other, and the
    #: Files and Batches APIs: file_upload | file_list | file_retrieve | file_content | file_delete |
    #: batch_create | batch_list | batch_retrieve | batch_cancel
    kind: str
    headers: dict[str, str]
    provider: str | None = None
    model: str | None = None
    status: int | None = None
    fault: str | None = None
    fault_source: str | None = None  # script | rate | profile
    request_id: str | None = None
    received_at: float = field(default_factory=time.time)


def _redacted_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers (names lower-case, as parsed) with credential values replaced (the secrets policy's list)."""
    out = {}
    for name, value in headers.items():
        if name in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} [REDACTED]" if rest else "[REDACTED]"
        out[name] = value
    return out


def _sse(event: str, payload: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


class SimulatorServer:
    """The simulated provider (module doc). Use as a context manager or ``start()`` / ``stop()``.

    ``profiles``: ``None`` for :func:`default_profiles`, profiles replacing defaults for their (provider, model),
    or a whole :class:`ProfileSet`. ``time_scale`` multiplies every delay (0 = instant). ``seed`` makes
    latencies, faults, ids and images reproducible. ``faults``: a :class:`FaultPlan`. ``gateway``: serve the
    gateway flavour on ``/v1`` too. ``apply_success_rate``: fail requests at the profiles' published rates.
    ``fal_min_polls``: a fal job reports IN_QUEUE on its first status poll and IN_PROGRESS until this many
    polls have been made (tests of queue clients at time scale 0); ``min_polls`` does the same for Replicate
    predictions (``starting``, then ``processing``) and BFL tasks (``Pending``). ``gateway_cost_as``: ``"number"`` or
    ``"string"`` for ``metadata.cost``. ``record_limit``: how many requests :attr:`requests` keeps.
    ``head_timeout_s`` / ``idle_timeout_s``: how long a begun request head (or a stalled body) and an idle
    connection are waited for (:class:`~imgkit.simulator._http.HttpServer`).
    """

    def __init__(
        self,
        profiles: ProfileSet | Iterable[Profile] | None = None,
        *,
        time_scale: float = 0.0,
        seed: int = 0,
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        catalog: Catalog | None = None,
        gateway: bool = False,
        apply_success_rate: bool = True,
        fal_min_polls: int = 0,
        min_polls: int = 0,
        gateway_cost_as: str = "number",
        record_limit: int = 4096,
        image_cache_bytes: int = 64 * 1024 * 1024,
        head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        if time_scale < 0:
            raise InvalidParameterError("time_scale", time_scale, "0 or more")
        for name, value in (("head_timeout_s", head_timeout_s), ("idle_timeout_s", idle_timeout_s)):
            if not value > 0:
                raise InvalidParameterError(name, value, "more than 0 seconds")
        if gateway_cost_as not in ("number", "string"):
            raise InvalidParameterError("gateway_cost_as", gateway_cost_as, ("number", "string"))
        self.catalog = catalog or load_catalog()
        if isinstance(profiles, ProfileSet):
            self.profiles = profiles
        else:
            self.profiles = default_profiles(self.catalog).with_overrides(profiles or ())
        self.time_scale, self.seed = float(time_scale), int(seed)
        self.faults = faults or FaultPlan()
        self.host, self.port = host, port
        self.gateway, self.apply_success_rate = gateway, apply_success_rate
        self.fal_min_polls, self.gateway_cost_as = int(fal_min_polls), gateway_cost_as
        self.images = ImageCache(image_cache_bytes)
        self.fal = fal_endpoints(self.catalog)
        self.min_polls = int(min_polls)
        self.google = GoogleProtocol(self, self.catalog)
        self.replicate = ReplicateProtocol(self, self.catalog)
        self.together = TogetherProtocol(self, self.catalog)
        self.bfl = BflProtocol(self, self.catalog)
        self._records: deque[RecordedRequest] = deque(maxlen=record_limit)
        self._count = 0
        self._counters: dict[tuple[str, str], int] = {}
        self._jobs: OrderedDict[str, FalJob] = OrderedDict()
        self.batch_service = BatchService(self)
        self.gemini_batches = GeminiBatchService(self, self.google)
        self._http = HttpServer(
            self._handle, host, port, head_timeout_s=head_timeout_s, idle_timeout_s=idle_timeout_s
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> SimulatorServer:
        """Start serving in a background thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self.port = loop.run_until_complete(self._http.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="imgkit-sim-render")
        self._loop = loop
        self._thread = threading.Thread(target=run, name="imgkit-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread, self._loop = None, None
            loop.close()
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving: open connections are closed, held (timeout) requests released."""
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._http.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            loop.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._thread, self._loop, self._executor = None, None, None

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (the CLI)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                time.sleep(0.5)  # not Thread.join: a KeyboardInterrupt inside join corrupts the thread state
        finally:
            self.stop()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests read ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-compatible root (``…/v1``)."""
        return f"{self.url}/v1"

    @property
    def gateway_base_url(self) -> str:
        """The gateway flavour's OpenAI-compatible root (``…/lumenfall/v1``)."""
        return f"{self.url}/lumenfall/v1"

    @property
    def fal_base_url(self) -> str:
        """The fal queue root (``…/fal``, fal's ``https://queue.fal.run``): submit to ``{fal_base_url}/{endpoint_id}``."""
        return f"{self.url}/fal"

    @property
    def fal_run_url(self) -> str:
        """The fal synchronous root (``…/fal-run``, fal's ``https://fal.run``): POST ``{fal_run_url}/{endpoint_id}``
        answers with the result once the model is done."""
        return f"{self.url}/fal-run"

    @property
    def gemini_base_url(self) -> str:
        """Google's root (``…/gemini``): google-genai's ``http_options.base_url`` in Gemini API and Vertex mode
        alike (the SDK adds ``/v1/models/…`` or ``/v1beta1/publishers/google/models/…`` itself)."""
        return f"{self.url}/gemini"

    @property
    def replicate_base_url(self) -> str:
        """Replicate's root (``…/replicate``, Replicate's ``https://api.replicate.com``): replicate-python's
        ``base_url`` (it adds ``/v1/…``)."""
        return f"{self.url}/replicate"

    @property
    def together_base_url(self) -> str:
        """Together's root (``…/together``, Together's ``https://api.together.ai``): the together SDK's
        ``base_url`` (it adds ``/v1/images/generations``)."""
        return f"{self.url}/together"

    @property
    def bfl_base_url(self) -> str:
        """Black Forest Labs' root (``…/bfl``, BFL's ``https://api.bfl.ai``): submit to
        ``{bfl_base_url}/v1/{model}``, then poll the ``polling_url`` it answers."""
        return f"{self.url}/bfl"

    def client_base_urls(self, *, fal_sync: bool = False) -> dict[str, str]:
        """imgkit's base URL for every provider this server simulates (:func:`simulated_base_urls`)."""
        return simulated_base_urls(self.url, self.catalog, fal_sync=fal_sync)

    @property
    def request_count(self) -> int:
        """Every HTTP request received (API calls, fal polls and file downloads alike)."""
        return self._count

    @property
    def requests(self) -> list[RecordedRequest]:
        """The most recent requests (up to ``record_limit``), oldest first, secrets redacted."""
        return list(self._records)

    @property
    def batches(self) -> dict[str, list[str]]:
        """Every batch created (oldest first) and the ``custom_id`` of each line of its input file."""
        return self.batch_service.items()

    def reset(self, faults: FaultPlan | None = None) -> None:
        """Forget recorded requests, fal jobs and per-model draw counters (and replace the fault plan)."""
        self._records.clear()
        self._count = 0
        self._counters.clear()
        self._jobs.clear()
        self.replicate.jobs.clear()
        self.bfl.jobs.clear()
        self.batch_service.reset()
        self.gemini_batches.reset()
        if faults is not None:
            self.faults = faults

    # --- shared helpers ----------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return hashlib.sha256(f"{self.seed}|{self._count}|{time.monotonic_ns()}".encode()).hexdigest()

    def _decide(
        self, provider: str, model: str, keys: Iterable[str]
    ) -> tuple[Profile, Draw, str | None, str | None]:
        """The profile, the latency draw and the fault of the next request of ``model`` at ``provider``."""
        k = self._counters.get((provider, model), 0)
        self._counters[(provider, model)] = k + 1
        rng = random.Random(f"{self.seed}|{provider}|{model}|{k}")
        profile = self.profiles.get(provider, model)
        draw = profile.draw(rng)
        fault, source = self.faults.next_fault(keys, rng)
        if fault is None and self.apply_success_rate and draw.fails and draw.failure_kind:
            fault, source = draw.failure_kind, "profile"
        return profile, draw, fault, (source if fault else None)

    async def _sleep(self, ms: float) -> None:
        seconds = ms * self.time_scale / 1000.0
        if seconds > 0:
            await asyncio.sleep(seconds)

    @property
    def hang_s(self) -> float | None:
        """Seconds a ``timeout`` fault holds its request before closing it unanswered: the fault plan's
        ``hang_s``, else :data:`DEFAULT_HANG_MS` on the simulated clock; ``None`` (until the client gives up)
        at time scale 0."""
        if self.faults.hang_s is not None:
            return self.faults.hang_s
        return DEFAULT_HANG_MS * self.time_scale / 1000.0 if self.time_scale > 0 else None

    def _retry_after_headers(self) -> list[tuple[str, str]]:
        ms = self.faults.retry_after_ms
        if ms is None:
            ms = max(1.0, DEFAULT_RETRY_AFTER_MS * self.time_scale)
        return [("retry-after", str(max(1, -(-int(ms) // 1000)))), ("retry-after-ms", f"{ms:g}")]

    async def _file_bytes(self, spec: ImageSpec) -> bytes:
        if self.images.cached(spec) or self._loop is None:
            return self.images.file(spec)
        return await self._loop.run_in_executor(self._executor, self.images.file, spec)

    async def _b64(self, spec: ImageSpec) -> str:
        if self.images.cached(spec) or self._loop is None:
            return self.images.b64(spec)
        return await self._loop.run_in_executor(self._executor, self.images.b64, spec)

    async def _b64_all(self, specs: list[ImageSpec]) -> list[str]:
        return [await self._b64(spec) for spec in specs]

    def _origin(self, req: Request) -> str:
        return f"http://{req.header('host') or f'{self.host}:{self.port}'}"

    def local_file_spec(self, url: str) -> ImageSpec | None:
        """The image behind a ``/files/`` URL of this server (edit inputs may point at earlier outputs)."""
        parts = urlsplit(url)
        if parts.port != self.port or not parts.path.startswith("/files/"):
            return None
        if parts.hostname not in (self.host, "127.0.0.1", "localhost"):
            return None
        return ImageSpec.from_file_name(parts.path.rsplit("/", 1)[-1])

    # --- dispatch ----------------------------------------------------------------------------------------

    async def _handle(self, req: Request, ex: Exchange) -> None:
        self._count += 1
        rec = RecordedRequest(
            req.method,
            redact(req.raw_target) if "?" in req.raw_target else req.path,
            "other",
            _redacted_headers(req.headers),
        )
        self._records.append(rec)
        ex.on_status = lambda status: setattr(rec, "status", status)  # recorded before the client can see it
        path = req.path
        try:
            if path.startswith("/files/"):
                rec.kind = "file"
                await self._serve_file(req, ex)
            elif path.startswith(("/fal/", "/fal-run/")):
                await self._fal(req, ex, rec)
            elif path.rstrip("/") in ("/v1/files", "/v1/batches") or path.startswith(
                ("/v1/files/", "/v1/batches/")
            ):
                await self.batch_service.handle(req, ex, rec, self._origin(req))
            elif is_gemini_batch_path(path):
                await self.gemini_batches.handle(req, ex, rec, self._origin(req))
            elif path.startswith("/gemini/"):
                await self.google.handle(req, ex, rec)
            elif path.startswith("/replicate/"):
                await self.replicate.handle(req, ex, rec)
            elif path.startswith("/together/"):
                await self.together.handle(req, ex, rec)
            elif path.startswith(
                ("/bfl/", "/v1/flux-", "/v1/get_result")
            ):  # the root: BFL's blackforest client
                await self.bfl.handle(req, ex, rec)
            else:
                for prefix, gateway in (("/lumenfall/v1", True), ("/v1", self.gateway)):
                    if path.startswith(prefix + "/images/"):
                        mode = {"generations": "generate", "edits": "edit"}.get(
                            path[len(prefix) + 8 :].strip("/")
                        )
                        if mode and req.method == "POST":
                            rec.kind = mode
                            await self._openai(req, ex, rec, mode, gateway)
                            break
                else:
                    err = ApiError(
                        404,
                        f"Unknown request URL: {req.method} {path}.",
                        kind="not_found",
                        code="unknown_url",
                    )
                    await ex.send(404, [_JSON, ("x-imgkit-simulated", "true")], _dumps(err.body()))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:  # a simulator bug must not look like a provider answer
            logger.exception("simulator internal error answering %s %s", req.method, path)
            if not ex.head_sent:
                err = ApiError(
                    500,
                    "imgkit simulator internal error (see its log)",
                    kind="server_error",
                    type="server_error",
                )
                await ex.send(500, [_JSON, ("x-imgkit-simulated", "true")], _dumps(err.body()))
            else:
                ex.abort()

    async def _serve_file(self, req: Request, ex: Exchange) -> None:
        spec = ImageSpec.from_file_name(req.path[len("/files/") :])
        headers = [("x-imgkit-simulated", "true")]
        if spec is None or req.method != "GET":
            await ex.send(404, [("content-type", "text/plain"), *headers], b"file not found")
            return
        data = await self._file_bytes(spec)
        headers += [("content-type", spec.content_type), ("cache-control", "private, max-age=3600")]
        await ex.send(200, headers, data)

    # --- OpenAI Images -----------------------------------------------------------------------------------

    async def _openai(
        self, req: Request, ex: Exchange, rec: RecordedRequest, mode: str, gateway: bool
    ) -> None:
        provider = "lumenfall" if gateway else "openai"
        rec.provider = provider
        rec.request_id = request_id = ("lf_" if gateway else "req_") + self._new_id()[:32]
        headers = [("x-request-id", request_id), ("x-imgkit-simulated", "true")]
        try:
            require_bearer(req)
            job = parse_image_request(
                req, mode, catalog=self.catalog, gateway=gateway, local_file_spec=self.local_file_spec
            )
        except ApiError as err:
            await ex.send(err.status, [_JSON, *headers, *err.headers], _dumps(err.body(gateway)))
            return
        rec.model = job.model.id
        if gateway and req.query.get("dryRun", "").lower() == "true":
            await ex.send(200, [_JSON, *headers], self._dry_run(job))
            return
        profile, draw, fault, source = self._decide(provider, job.model.id, (job.model.id, job.model_id))
        rec.fault, rec.fault_source = fault, source
        headers += [
            ("x-imgkit-profile-provenance", str(profile.provenance)),
            ("openai-processing-ms", str(round(draw.total_ms * self.time_scale))),
        ]
        target = (job.model.id, provider, job.quality or "", f"{job.width}x{job.height}")
        digest = image_digest(self.seed, job.prompt, target)
        if fault in ("rate_limit", "auth", "moderation", "server_error", "unavailable"):
            await self._openai_error(ex, fault, job, draw, headers, gateway)
        elif fault == "timeout":
            await ex.hold(self.hang_s)
        elif fault == "drop" and not job.stream:
            await self._sleep(draw.ttfb_ms)
            await ex.write_raw(b"HTTP/1.1 200 OK\r\ncontent-type: appli")
            ex.abort()
        elif job.stream:
            await self._stream(ex, job, draw, headers, fault, digest)
        else:
            await self._respond_images(req, ex, job, draw, headers, fault, digest, request_id, gateway)

    async def _openai_error(
        self,
        ex: Exchange,
        fault: str,
        job: ImageJob,
        draw: Draw,
        headers: list[tuple[str, str]],
        gateway: bool,
    ) -> None:
        if fault == "rate_limit":
            retry = self._retry_after_headers()
            err = ApiError(
                429,
                f"Rate limit reached for {job.model.id} on images per minute (IPM). "
                f"Please try again in {retry[1][1]}ms.",
                kind="rate_limit",
                type="requests",
                code="rate_limit_exceeded",
                headers=[*retry, ("x-ratelimit-remaining-requests", "0")],
            )
        elif fault == "auth":
            err = ApiError(
                401,
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                kind="auth",
                code="invalid_api_key",
            )
        elif fault == "moderation":
            err = ApiError(
                400,
                "Your request was rejected by the safety system. If you believe this is an "
                "error, contact us at help.openai.com and include the request ID. "
                "safety_violations=[violence].",
                kind="moderation",
                type="image_generation_user_error",
                code="moderation_blocked",
                extra={"moderation_details": {"moderation_stage": "input", "categories": ["violence"]}},
            )
        elif fault == "server_error":
            await self._sleep(draw.ttfb_ms)
            err = ApiError(
                500,
                "The server had an error while processing your request. Sorry about that!",
                kind="server_error",
                type="server_error",
            )
        else:
            await self._sleep(draw.ttfb_ms)
            status = 502 if gateway else 503
            err = ApiError(
                status, "The server is overloaded or not ready yet.", kind="unavailable", type="server_error"
            )
        await ex.send(err.status, [_JSON, *headers, *err.headers], _dumps(err.body(gateway)))

    async def _respond_images(
        self,
        req: Request,
        ex: Exchange,
        job: ImageJob,
        draw: Draw,
        headers: list[tuple[str, str]],
        fault: str | None,
        digest: str,
        request_id: str,
        gateway: bool,
    ) -> None:
        specs = [job.spec(digest, index) for index in range(job.n)]
        # images render while the simulated time to first byte passes
        rendering = asyncio.ensure_future(self._b64_all([] if job.response_format == "url" else specs))
        zero_latency = draw.total_ms * self.time_scale <= 0 and fault != "truncated"
        if not zero_latency:
            await self._sleep(draw.ttfb_ms)
        encoded = await rendering
        if job.response_format == "url":
            data: list[dict[str, str | Verbatim]] = [
                {"url": f"{self._origin(req)}/files/{spec.file_name}"} for spec in specs
            ]
        else:
            data = [{"b64_json": Verbatim(b64)} for b64 in encoded]
        body_obj = response_body(job, data, int(time.time()))
        if gateway:
            body_obj = {"id": request_id, **body_obj, "metadata": self._metadata(job, draw)}
        body = _dumps(body_obj, self.gateway_cost_as)
        waited = 0.0 if zero_latency else draw.ttfb_ms
        await send_timed(self, ex, 200, [_JSON, *headers], body, draw, fault, waited_ms=waited)

    async def _stream(
        self,
        ex: Exchange,
        job: ImageJob,
        draw: Draw,
        headers: list[tuple[str, str]],
        fault: str | None,
        digest: str,
    ) -> None:
        created = int(time.time())
        steps = job.partial_images
        gap_ms = (draw.total_ms - draw.ttfb_ms) / max(steps, 1)
        specs = [job.spec(digest, 0, stage=index if index < steps else 4) for index in range(steps + 1)]
        rendering = asyncio.ensure_future(self._b64_all(specs))
        await self._sleep(draw.ttfb_ms)
        encoded = await rendering
        await ex.send_head(
            200,
            [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"), *headers],
            None,
        )
        for index in range(steps + 1):
            completed = index == steps
            if index:
                await self._sleep(gap_ms)
            elif completed:
                await self._sleep(draw.total_ms - draw.ttfb_ms)
            event = stream_event(job, encoded[index], created, None if completed else index)
            event["b64_json"] = Verbatim(event["b64_json"])
            payload = _sse(event["type"], _dumps(event))
            if fault == "malformed":
                payload = _sse(
                    event["type"], b'{"type": "' + event["type"].encode() + b'", "b64_json": iVBOR'
                )
            if fault == "truncated":
                await ex.write(payload[: len(payload) // 2])
                await ex.close_after_flush()
                return
            await ex.write(payload)
            if fault == "drop":
                await ex.close_after_flush()
                return
            if fault == "malformed":
                break
        await ex.end()

    def _cost(self, job: ImageJob) -> Cost | None:
        provider = "lumenfall" if ("lumenfall", job.model.id) in self.catalog.offerings else job.provider
        try:
            request = PricedRequest(
                model=job.model,
                provider=self.catalog.provider(provider),
                offering=self.catalog.offering(job.model.id, provider),
                mode=job.mode,
                size=job.size,
                quality=job.quality,
                n=job.n,
                partial_images=job.partial_images,
                input_images=tuple((i.width, i.height) for i in job.inputs),
                input_fidelity=job.fidelity or "low",
                prompt=job.prompt,
            )
            cost = quote_request(request)
        except ImgkitError:
            return None
        return cost if cost.total_usd is not None else None

    def _metadata(self, job: ImageJob, draw: Draw) -> dict[str, Any]:
        """The gateway's ``metadata``: what served the request and what it cost (priced by imgkit.pricing)."""
        provider = self.catalog.providers.get(job.provider)
        meta: dict[str, Any] = {
            "model": job.model_id.partition("/")[2] or job.model_id,
            "provider": job.provider,
            "provider_name": provider.name if provider else job.provider,
            "attempts": [
                {
                    "provider": job.provider,
                    "status": "success",
                    "duration_ms": round(draw.total_ms * self.time_scale),
                }
            ],
        }
        cost = self._cost(job)
        if cost is not None:
            meta.update(cost=cost.total_usd, cost_currency="USD")
        return meta

    def _dry_run(self, job: ImageJob) -> bytes:
        cost = self._cost(job)
        if cost is None:
            err = ApiError(400, f"No price known for {job.model.id}.", code="INVALID_REQUEST")
            return _dumps(err.body(gateway=True))
        assert cost.total_usd is not None  # _cost keeps priced costs only
        micros = (cost.total_usd * 1_000_000).quantize(Decimal(1), ROUND_HALF_UP)
        components = [
            {
                "metric": ln.item,
                "quantity": ln.quantity,
                "billable_quantity": ln.quantity,
                "unit_price": ln.rate_usd,
            }
            for ln in cost.lines
        ]
        return _dumps(
            {
                "estimated": True,
                "total_cost_micros": int(micros),
                "currency": "USD",
                "model": job.model.id,
                "provider": job.provider,
                "components": components,
            },
            self.gateway_cost_as,
        )

    # --- fal queue ---------------------------------------------------------------------------------------

    async def _fal_send(
        self, ex: Exchange, status: int, body: Any, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        await ex.send(status, [_JSON, ("x-imgkit-simulated", "true"), *headers], _dumps(body))

    async def _fal(self, req: Request, ex: Exchange, rec: RecordedRequest) -> None:
        rec.provider = "fal"
        run = req.path.startswith("/fal-run/")
        auth = req.header("authorization")
        if not auth.lower().startswith("key ") or not auth[4:].strip():
            rec.kind = "fal_run" if run else "fal_submit" if req.method == "POST" else "fal_status"
            err = FalError(401, "Authentication required: send 'Authorization: Key <FAL_KEY>'.")
            await self._fal_send(ex, 401, err.body())
            return
        if run:
            rec.kind = "fal_run"
            if req.method != "POST":
                await self._fal_send(ex, 405, {"detail": f"Method {req.method} not allowed"})
                return
            await self._fal_run(req, ex, rec)
            return
        if req.method == "POST":
            rec.kind = "fal_submit"
            await self._fal_submit(req, ex, rec)
            return
        m = _FAL_REQUEST.match(req.path)
        op = (m.group("op") or "") if m else ""
        rec.kind = {"/status": "fal_status", "/cancel": "fal_cancel", "": "fal_result"}[op]
        job = self._jobs.get(m.group("id")) if m else None
        if m is None or job is None or job.endpoint.app != m.group("app"):
            await self._fal_send(ex, 404, {"detail": "Request not found"})
            return
        rec.model, rec.request_id, rec.fault = job.endpoint.model.id, job.request_id, job.fault
        headers = [("x-fal-request-id", job.request_id)]
        if op == "/status" and req.method == "GET":
            await self._fal_status(req, ex, job, headers)
        elif op == "/cancel" and req.method == "PUT":
            if job.phase(time.monotonic(), self.fal_min_polls) == "IN_QUEUE":
                job.cancelled = True
                await self._fal_send(ex, 202, {"status": "CANCELLATION_REQUESTED"}, headers)
            else:
                await self._fal_send(ex, 400, {"status": "ALREADY_COMPLETED"}, headers)
        elif op == "" and req.method == "GET":
            await self._fal_result(req, ex, job, headers)
        else:
            await self._fal_send(ex, 405, {"detail": f"Method {req.method} not allowed"}, headers)

    async def _fal_accept(
        self, req: Request, ex: Exchange, rec: RecordedRequest, prefix: str
    ) -> tuple[FalJob, Draw, list[tuple[str, str]]] | None:
        """A submit or a run: the endpoint, the body, the draw and the fault of the request, as a job.

        Answers (and returns ``None``) when the request ends here: an unknown endpoint, a body that is not
        JSON, or a fault that strikes before the job exists (429, 401, a hang, a dropped connection).
        """
        endpoint_id = req.path[len(prefix) :].strip("/")
        endpoint = self.fal.get(endpoint_id)
        if endpoint is None:
            await self._fal_send(ex, 404, {"detail": f"Application '{endpoint_id}' not found"})
            return None
        try:
            body = req.json()
        except Exception:
            err = FalError.infrastructure("bad_request", "Request body is not valid JSON")
            await self._fal_send(ex, err.status, err.body(), err.headers)
            return None
        rec.model = endpoint.model.id
        profile, draw, fault, source = self._decide(
            "fal", endpoint.model.id, (endpoint.model.id, endpoint_id)
        )
        rec.fault, rec.fault_source = fault, source
        request_id = self._new_id()
        request_id = "-".join(
            (request_id[:8], request_id[8:12], request_id[12:16], request_id[16:20], request_id[20:32])
        )
        rec.request_id = request_id
        headers = [("x-fal-request-id", request_id), ("x-imgkit-profile-provenance", str(profile.provenance))]
        if fault == "rate_limit":
            await self._fal_send(
                ex,
                429,
                {"detail": "Too many requests, please retry later"},
                [*headers, *self._retry_after_headers()],
            )
            return None
        if fault == "auth":
            await self._fal_send(ex, 401, {"detail": "Invalid key"}, headers)
            return None
        if fault == "timeout":
            await ex.hold(self.hang_s)
            return None
        if fault == "drop":
            await ex.write_raw(b"HTTP/1.1 200 OK\r\ncontent-ty")
            ex.abort()
            return None
        total_s = draw.total_ms * self.time_scale / 1000.0
        job = FalJob(request_id, endpoint, body, time.monotonic(), total_s * FAL_QUEUE_SHARE, total_s, fault)
        return job, draw, headers

    async def _fal_submit(self, req: Request, ex: Exchange, rec: RecordedRequest) -> None:
        accepted = await self._fal_accept(req, ex, rec, "/fal/")
        if accepted is None:
            return
        job, _, headers = accepted
        self._jobs[job.request_id] = job
        while len(self._jobs) > 20_000:
            self._jobs.popitem(last=False)
        await self._fal_send(
            ex,
            200,
            {
                "status": "IN_QUEUE",
                "request_id": job.request_id,
                **job.urls(self._origin(req) + "/fal"),
                "queue_position": self._queue_position(job),
            },
            headers,
        )

    async def _fal_run(self, req: Request, ex: Exchange, rec: RecordedRequest) -> None:
        """fal's synchronous run: no queue, the answer (result or error) once the model is done."""
        accepted = await self._fal_accept(req, ex, rec, "/fal-run/")
        if accepted is None:
            return
        job, draw, headers = accepted
        await self._sleep(draw.total_ms)
        await self._fal_answer(req, ex, job, headers)

    def _queue_position(self, job: FalJob) -> int:
        now = time.monotonic()
        ahead = 0
        for other in reversed(self._jobs.values()):
            if (
                other is not job
                and other.submitted_s <= job.submitted_s
                and other.phase(now, 0) == "IN_QUEUE"
            ):
                ahead += 1
            if now - other.submitted_s > 3600:
                break
        return ahead

    def _fal_outcome(self, job: FalJob) -> FalInput | FalError:
        if job.outcome is None:
            if job.cancelled:
                job.outcome = FalError.infrastructure("client_cancelled", "Request was cancelled")
            elif job.fault == "server_error":
                job.outcome = FalError.infrastructure("runner_server_error", "Internal server error")
            elif job.fault == "unavailable":
                job.outcome = FalError.infrastructure("runner_scheduling_failure", "No runner available")
            elif job.fault == "moderation":
                job.outcome = FalError.validation(
                    ["prompt"],
                    "The content could not be processed because it "
                    "contained material flagged by a content checker.",
                    "content_policy_violation",
                    None,
                )
            else:
                try:
                    job.outcome = parse_fal_input(job.endpoint, job.body, self.local_file_spec)
                except FalError as err:
                    job.outcome = err
        return job.outcome

    async def _fal_status(
        self, req: Request, ex: Exchange, job: FalJob, headers: list[tuple[str, str]]
    ) -> None:
        job.polls += 1
        phase = job.phase(time.monotonic(), self.fal_min_polls)
        body: dict[str, Any] = {
            "status": phase,
            "request_id": job.request_id,
            **job.urls(self._origin(req) + "/fal"),
        }
        logs = (
            [
                {
                    "message": "simulated",
                    "level": "INFO",
                    "source": "user",
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                }
            ]
            if req.query.get("logs", "").lower() in ("1", "true")  # fal_client sends logs=true
            else None
        )
        if phase == "IN_QUEUE":
            body["queue_position"] = self._queue_position(job)
        else:
            body["logs"] = logs
        if phase == "COMPLETED":
            # a job cancelled in the queue never ran: no inference time
            inference_s = None if job.cancelled else round(job.total_s * (1 - FAL_QUEUE_SHARE), 6)
            body["metrics"] = {"inference_time": inference_s}
            outcome = self._fal_outcome(job)
            if isinstance(outcome, FalError):
                body["error"] = outcome.message
                body["error_type"] = outcome.error_type or (
                    outcome.detail[0]["type"] if isinstance(outcome.detail, list) else None
                )
        await self._fal_send(ex, 200, body, headers)

    async def _fal_result(
        self, req: Request, ex: Exchange, job: FalJob, headers: list[tuple[str, str]]
    ) -> None:
        if job.phase(time.monotonic(), self.fal_min_polls) != "COMPLETED":
            await self._fal_send(ex, 400, {"detail": "Request is still in progress"}, headers)
            return
        await self._fal_answer(req, ex, job, headers)

    async def _fal_answer(
        self, req: Request, ex: Exchange, job: FalJob, headers: list[tuple[str, str]]
    ) -> None:
        """A finished job's answer: the result, or its error in fal's shape (and the job's wire fault)."""
        outcome = self._fal_outcome(job)
        if isinstance(outcome, FalError):
            await self._fal_send(ex, outcome.status, outcome.body(), [*headers, *outcome.headers])
            return
        body = _dumps(await self._fal_result_body(req, job.endpoint, outcome, job))
        all_headers = [_JSON, ("x-imgkit-simulated", "true"), *headers]
        if job.fault == "malformed":
            await ex.send(200, all_headers, body[: len(body) // 3] + b"\n<html>502 Bad Gateway</html>")
        elif job.fault == "truncated":
            await ex.send_head(200, all_headers, len(body))
            await ex.write(body[: len(body) // 2])
            await ex.close_after_flush()
        else:
            await ex.send(200, all_headers, body)

    async def _fal_result_body(
        self, req: Request, ep: FalEndpoint, inp: FalInput, job: FalJob
    ) -> dict[str, Any]:
        seed = inp.seed if inp.seed is not None else self.seed
        digest = image_digest(
            seed, inp.prompt, (ep.model.id, "fal", ep.endpoint_id, f"{inp.width}x{inp.height}")
        )
        images = []
        for index in range(inp.n):
            spec = ImageSpec(digest, index, inp.width, inp.height, inp.fmt, inp.transparent)
            url: str | Verbatim
            if inp.sync_mode:
                url = Verbatim(f"data:{spec.content_type};base64,{await self._b64(spec)}")
            else:
                url = f"{self._origin(req)}/files/{spec.file_name}"
            images.append(
                {
                    "url": url,
                    "width": inp.width,
                    "height": inp.height,
                    "content_type": spec.content_type,
                    "file_name": spec.file_name,
                }
            )
        if ep.model.family == "gpt-image":
            return {"images": images}
        return {
            "images": images,
            "timings": {"inference": round(job.total_s * (1 - FAL_QUEUE_SHARE), 6)},
            "seed": inp.seed if inp.seed is not None else int(digest[:8], 16),
            "has_nsfw_concepts": [False] * inp.n,
            "prompt": inp.prompt,
        }
