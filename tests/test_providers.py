"""Provider adapters, keys, the request log and the image store.

Wire behaviour runs over real loopback HTTP against the simulated provider (``simulator`` fixture);
``httpx.MockTransport`` is used only for pieces whose input cannot be produced by the simulator (a server
echoing a key, an oversized download, a status URL on another host, exact multipart framing).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import polars as pl
import pytest
from PIL import Image

from imgkit.catalog import load_catalog
from imgkit.errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    InvalidParameterError,
    KeysFileError,
    MalformedResponseError,
    MissingKeyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    UnknownNameError,
)
from imgkit.keys import KeyResolver, Secret, scrub, scrub_all
from imgkit.money import Budget
from imgkit.params import ImageRequest, inspect_image, resolve
from imgkit.pricing import input_image_tokens, quote_request
from imgkit.providers import (
    DEFAULT_LIMITS,
    CallRequest,
    Downloads,
    FalAdapter,
    FalPolling,
    ImageClient,
    OpenAIAdapter,
    RateLimit,
    RateLimiter,
    RetryPolicy,
    error_from_fal,
    error_from_openai,
    make_http_client,
    parse_retry_after,
)
from imgkit.records.images import ImageStore
from imgkit.records.journal import RequestLog
from imgkit.records.schema import LOG_SCHEMA
from imgkit.simulator import FaultPlan
from tests.protocol_client import run

CAT = load_catalog()
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay_s=0.01, max_delay_s=0.05)
UNLIMITED = {"openai": RateLimit(), "fal": RateLimit(), "lumenfall": RateLimit()}
TEST_KEYS = {
    "openai": "sk-loopback-test-0001",
    "fal": "fal-loopback:test0001",
    "lumenfall": "lmnfl_test.0001",
}
#: an active model's request (gpt-image-1-mini served here until OpenAI shut it down on 2026-12-01)
GI2_LOW = ImageRequest("gpt-image-2", "a lighthouse at dusk", quality="low", size="1024x1024")
ERROR_CLASSES = {
    "rate_limit",
    "timeout",
    "unavailable",
    "content_policy",
    "bad_request",
    "authentication",
    "malformed_response",
}


def png_bytes(width: int, height: int, mode: str = "RGB", color=(10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, "PNG")
    return out.getvalue()


def client_for(sim, tmp_path: Path, **kw) -> ImageClient:
    options = {
        "base_urls": {"openai": sim.base_url, "fal": sim.fal_base_url, "lumenfall": sim.gateway_base_url},
        "keys": TEST_KEYS,
        "store": tmp_path / "images",
        "log": tmp_path / "log.jsonl",
        "limits": UNLIMITED,
        "retry": FAST_RETRY,
    }
    return ImageClient(**{**options, **kw})


# --- OpenAI-compatible generations over loopback -----------------------------------------------------------


def test_generation_stores_the_image_and_logs_one_attempt_with_usage_and_cost(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    result = run(client, client.generate(GI2_LOW, item_id="lighthouse"))
    [image] = result.images
    assert (image.width, image.height, image.format) == (1024, 1024, "png")
    assert image.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.path == tmp_path / "images" / image.sha256[:2] / f"{image.sha256[2:]}.png"
    assert (result.quality, result.size, result.output_format) == ("low", "1024x1024", "png")
    assert result.request_id == simulator.requests[-1].request_id
    # gpt-image-2 low 1024x1024: 272 image output tokens (gpt-image-1's published table, assumed) at $30 / 1M
    assert result.usage["output_tokens"] == 272
    assert result.cost.method == "tokens"
    assert Decimal("0.00816") in [line.amount_usd for line in result.cost.lines]  # 272 x $30 / 1M
    assert Decimal("0.00816") in [
        line.amount_usd for line in result.estimated_cost.lines
    ]  # no per-image table
    [row] = RequestLog(tmp_path / "log.jsonl").scan().collect().to_dicts()
    assert row["item_id"] == "lighthouse" and row["attempt"] == 1 and row["final"] is True
    assert (row["outcome"], row["http_status"], row["provenance"]) == ("ok", 200, "simulated")
    assert (row["output_image_tokens"], row["actual_cost_usd"]) == (272, result.cost.total_usd)
    assert row["ttfb_ms"] <= row["latency_ms"]
    assert json.loads(row["images"])[0]["sha256"] == image.sha256
    assert json.loads(row["resolved_params"])["model"] == "gpt-image-2"


def test_edit_sends_three_images_and_a_mask_and_is_billed_for_every_input(simulator, tmp_path):
    inputs = tuple(
        inspect_image(png_bytes(1024, 1024, color=(60 * i, 0, 0)), name=f"in{i}.png") for i in range(3)
    )
    mask = inspect_image(png_bytes(1024, 1024, "RGBA", (0, 0, 0, 0)), name="mask.png")
    request = ImageRequest(
        "gpt-image-1-mini",
        "make it night",
        mode="edit",
        quality="low",
        size="1024x1024",
        input_images=inputs,
        mask=mask,
    )
    client = client_for(simulator, tmp_path)
    result = run(client, client.generate(request))
    assert len(result.images) == 1
    row = result.attempts[0]
    # every input is billed by the tile rule: 194 tokens per 1024x1024 input for gpt-image-1-mini
    assert (
        row["input_image_tokens"] == 3 * input_image_tokens(CAT.model("gpt-image-1-mini"), 1024, 1024) == 582
    )
    assert row["resolved_params"]["image[]"] == ["in0.png", "in1.png", "in2.png"]
    assert row["mode"] == "edit" and row["resolved_params"]["mask"] == "mask.png"


def test_multipart_edit_repeats_image_brackets_once_per_file_and_adds_the_mask():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["body"], seen["type"] = request.read(), request.headers["content-type"]
        return httpx.Response(200, json={"created": 1, "data": [{"b64_json": ""}]})

    inputs = tuple(inspect_image(png_bytes(64, 64), name=f"in{i}.png") for i in range(3))
    mask = inspect_image(png_bytes(64, 64, "RGBA", (0, 0, 0, 0)), name="mask.png")
    resolved = resolve(ImageRequest("gpt-image-1-mini", "p", mode="edit", input_images=inputs, mask=mask))
    from imgkit.providers import InputFile

    call = CallRequest(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        resolved.provider,
        "http://testserver/v1",
        Secret("sk-multipart-test-01"),
        resolved,
        dict(resolved.body),
        tuple(InputFile.from_input(i) for i in inputs),
        InputFile.from_input(mask),
    )
    request = OpenAIAdapter().build(call)
    assert request.url.path == "/v1/images/edits"
    body = request.read()
    assert body.count(b'name="image[]"') == 3 and body.count(b'name="mask"') == 1
    assert b'name="model"\r\n\r\ngpt-image-1-mini' in body
    assert request.headers["authorization"] == "Bearer sk-multipart-test-01"


def test_streaming_marks_first_byte_and_first_partial_before_completion(simulator_factory, tmp_path):
    sim = simulator_factory(time_scale=0.002)  # published latencies x 0.002: tens of milliseconds
    client = client_for(sim, tmp_path)
    request = ImageRequest(
        "gpt-image-1-mini", "a fox", quality="low", size="1024x1024", stream=True, partial_images=2
    )
    result = run(client, client.generate(request))
    t = result.timings
    assert result.partial_images == 2 and len(result.images) == 1
    assert t.ttfb_ms <= t.first_partial_ms < t.latency_ms
    row = result.attempts[0]
    assert row["streamed"] is True and row["partial_images"] == 2 and row["first_partial_at"] is not None
    assert result.cost.method == "tokens"


def test_url_responses_are_downloaded_without_credentials(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    result = run(client, client.generate(ImageRequest("dall-e-3", "a cat", response_format="url")))
    [image] = result.images
    assert (image.width, image.height) == (1024, 1024)
    download = [r for r in simulator.requests if r.kind == "file"]
    assert len(download) == 1 and "authorization" not in download[0].headers
    assert result.cost.total_usd == Decimal("0.04")  # dall-e-3 standard 1024x1024, published


def test_gateway_metadata_cost_is_the_bill(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    result = run(
        client,
        client.generate(ImageRequest("gpt-image-1-mini", "a cat", provider="lumenfall", size="1024x1024")),
    )
    assert result.cost.method == "gateway_metadata" and result.cost.total_usd > 0
    assert result.attempts[0]["cost_method"] == "gateway_metadata"


# --- fal queue over loopback -------------------------------------------------------------------------------


def test_fal_queue_polls_until_completed_and_downloads_the_images(simulator_factory, tmp_path):
    sim = simulator_factory(fal_min_polls=3)
    client = client_for(sim, tmp_path, fal_polling=FalPolling(poll_interval_s=0.01))
    result = run(client, client.generate(ImageRequest("flux-1-dev", "a castle", size="1024x768")))
    kinds = [r.kind for r in sim.requests]
    assert kinds[0] == "fal_submit" and kinds.count("fal_status") >= 3 and "fal_result" in kinds
    assert all(r.headers["authorization"] == "Key [REDACTED]" for r in sim.requests if r.kind != "file")
    [image] = result.images
    assert (image.width, image.height, image.format) == (1024, 768, "jpeg")  # fal FLUX's default format
    # flux-1-dev: $0.025 per megapixel, megapixels rounded up per image: 1024x768 is 1 MP
    assert result.cost.method == "per_megapixel" and result.cost.total_usd == Decimal("0.025")


@pytest.mark.parametrize(
    ("fault", "error", "attempts", "cost_method"),
    [
        ("moderation", ContentPolicyError, 1, "unknown"),  # fal 422: may be billed, never retried
        ("server_error", ProviderUnavailableError, 3, "not_billed"),  # fal 5xx: not billed, retried
    ],
)
def test_fal_job_failures_map_to_classified_errors(
    simulator_factory, tmp_path, fault, error, attempts, cost_method
):
    sim = simulator_factory(faults=FaultPlan([fault] * 3))
    client = client_for(sim, tmp_path)
    with pytest.raises(error) as caught:
        run(client, client.generate(ImageRequest("flux-1-dev", "a castle", size="1024x768"), item_id="f"))
    assert caught.value.request_id and caught.value.provider == "fal"
    rows = RequestLog(tmp_path / "log.jsonl").scan().collect()
    assert rows.height == attempts and rows["final"].to_list() == [False] * (attempts - 1) + [True]
    assert rows["cost_method"][-1] == cost_method


@pytest.mark.parametrize(
    ("server", "message", "retryable", "cost_method"),
    [
        ({"time_scale": 1.0}, "cancelled while queued", True, "not_billed"),  # seconds in the queue
        ({"fal_min_polls": 10_000}, "it was running", False, "unknown"),  # in progress after one poll
    ],
)
def test_fal_timeout_cancels_the_job_and_says_whether_it_may_be_billed(
    simulator_factory, tmp_path, server, message, retryable, cost_method
):
    sim = simulator_factory(**server)
    polling = FalPolling(poll_interval_s=0.01, poll_max_interval_s=0.02, timeout_s=0.1)
    client = client_for(sim, tmp_path, fal_polling=polling, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ProviderTimeoutError, match=message) as caught:
        run(client, client.generate(ImageRequest("flux-1-dev", "a castle")))
    assert caught.value.retryable is retryable
    assert [r.kind for r in sim.requests].count("fal_cancel") == 1
    assert RequestLog(tmp_path / "log.jsonl").scan().collect()["cost_method"].to_list() == [cost_method]


# --- emulation ---------------------------------------------------------------------------------------------


def test_n_beyond_the_provider_maximum_runs_as_parallel_calls(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    request = ImageRequest("flux-1-dev", "a castle", size="1024x768", n=6)  # fal flux: at most 4 per call
    result = run(client, client.generate(request, item_id="six"))
    assert len(result.images) == 6
    assert sorted(r["item_id"] for r in result.attempts) == ["six#call1of2", "six#call2of2"]
    assert sorted(r["n"] for r in result.attempts) == [2, 4]
    assert [r.kind for r in simulator.requests].count("fal_submit") == 2
    assert result.cost.total_usd == Decimal("0.150")  # 6 images x 1 MP x $0.025
    assert RequestLog(tmp_path / "log.jsonl").finished_items() == {"six"}


def test_output_format_the_provider_cannot_produce_is_converted_locally(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    request = ImageRequest(
        "flux-1-dev", "a castle", size="1024x768", output_format="webp", output_compression=60
    )
    result = run(client, client.generate(request))
    [image] = result.images
    with Image.open(image.path) as im:
        assert (im.format, im.size) == ("WEBP", (1024, 768))
    assert image.path.suffix == ".webp" and result.output_format == "webp"


def test_transparent_background_needs_png_or_webp():
    with pytest.raises(InvalidParameterError, match="transparent"):
        resolve(ImageRequest("gpt-image-1-mini", "a logo", background="transparent", output_format="jpeg"))


# --- retries and pacing ------------------------------------------------------------------------------------


def test_retry_after_is_honoured_before_the_next_attempt(simulator_factory, tmp_path):
    sim = simulator_factory(faults=FaultPlan(["429", "ok"], retry_after_ms=200))
    client = client_for(sim, tmp_path)
    result = run(client, client.generate(GI2_LOW))
    first, second = result.attempts
    assert (first["outcome"], first["final"], first["retry_after_s"]) == ("rate_limit", False, 0.2)
    assert (second["outcome"], second["attempt"]) == ("ok", 2)
    assert (second["started_at"] - first["ended_at"]).total_seconds() >= 0.2


def test_requests_per_minute_limit_spaces_the_requests(simulator, tmp_path):
    client = client_for(simulator, tmp_path, limits={"openai": RateLimit(requests_per_minute=600)})

    async def burst():
        return await asyncio.gather(*(client.generate(GI2_LOW) for _ in range(5)))

    results = run(client, burst())
    starts = sorted(r.timings.started_at for r in results)
    assert (starts[-1] - starts[0]).total_seconds() >= 4 * 60 / 600 - 0.005  # 5 requests at 0.1 s spacing


def test_rate_schedule_books_slots_and_images_debt():
    limiter = RateLimiter({"openai": RateLimit(requests_per_minute=600, images_per_minute=60)})
    provider = CAT.provider("openai")
    pace = limiter._pace(provider, "gpt-image-1")
    delays = [pace.requests.reserve(1, now=100.0) for _ in range(4)]
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert pace.images.reserve(10, now=100.0) == 0.0  # a request worth 10 images goes at once ...
    assert pace.images.reserve(1, now=100.0) == pytest.approx(10.0)  # ... and the next waits for the debt
    assert limiter.limit_for(CAT.provider("fal"), "flux-1-dev") == RateLimit(concurrency=2)  # catalog default


RETRY_CASES = [
    # error, attempt, retried?
    (RateLimitError("x", status=429), 1, True),
    (ProviderUnavailableError("x", status=503), 2, True),
    (ProviderUnavailableError("x", status=503), 3, False),  # attempts exhausted
    (BadRequestError("x", status=400), 1, False),
    (AuthenticationError("x", status=401), 1, False),
    (ContentPolicyError("x", status=400, retryable=True), 1, False),  # never, whatever the server says
    (RateLimitError("x", status=429, retry_after_s=121), 1, False),  # over the 120 s cap
    (ProviderUnavailableError("x", status=500, retryable=False), 1, False),  # x-should-retry: false
]


@pytest.mark.parametrize(("error", "attempt", "retried"), RETRY_CASES)
def test_retry_policy(error, attempt, retried):
    assert RetryPolicy().should_retry(error, attempt) is retried


def test_read_timeouts_of_billed_posts_are_not_retried_unless_asked():
    err = ProviderTimeoutError("read timeout")
    err.billed_read_timeout = True
    assert RetryPolicy().should_retry(err, 1) is False
    assert RetryPolicy(retry_read_timeouts=True).should_retry(err, 1) is True


def test_backoff_doubles_from_half_a_second_to_eight_with_a_quarter_jitter():
    policy = RetryPolicy()
    for retries, nominal in enumerate([0.5, 1, 2, 4, 8, 8]):
        waits = [policy.delay_s(retries) for _ in range(50)]
        assert all(0.75 * nominal <= w <= nominal for w in waits)
    assert policy.delay_s(0, retry_after_s=3.0) == 3.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "200"}, 0.2),
        ({"retry-after-ms": "200", "retry-after": "5"}, 0.2),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_headers(headers, seconds):
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.UTC).timestamp()
    assert parse_retry_after(headers, now=now) == (pytest.approx(seconds) if seconds else None)


def test_200_requests_with_20_percent_faults_each_end_classified_with_a_complete_log(
    simulator_factory, tmp_path
):
    sim = simulator_factory(faults=FaultPlan(fault_rate=0.2, retry_after_ms=5, hang_s=5), seed=7)
    client = client_for(
        sim,
        tmp_path,
        limits={"openai": RateLimit(concurrency=32)},
        timeout=httpx.Timeout(2.0, read=0.5),
    )
    resolved = resolve(GI2_LOW)

    async def everything():
        return await asyncio.gather(
            *(client.generate(resolved, item_id=f"i{i}", raise_on_error=False) for i in range(200))
        )

    results = run(client, everything())
    rows = RequestLog(tmp_path / "log.jsonl").scan().collect()
    assert rows.height == sum(len(r.attempts) for r in results)
    assert set(rows["outcome"]) - {"ok"} <= ERROR_CLASSES and rows["outcome"].null_count() == 0
    for result in results:
        mine = rows.filter(pl.col("item_id") == result.item_id).sort("attempt")
        assert mine["attempt"].to_list() == list(range(1, mine.height + 1))
        assert mine["final"].to_list() == [False] * (mine.height - 1) + [True]
        assert (mine["outcome"][-1] == "ok") is result.ok
        if not result.ok:
            assert result.error.error_class == mine["outcome"][-1]
        assert mine["started_at"].null_count() == 0 and mine["ended_at"].null_count() == 0
    faults = {r.fault for r in sim.requests if r.fault}
    assert {"rate_limit", "server_error", "unavailable", "moderation"} <= faults
    assert 0.7 * 200 < sum(r.ok for r in results) < 200
    assert RequestLog(tmp_path / "log.jsonl").finished_items() == {r.item_id for r in results if r.ok}


# --- money per attempt: reservations, sent records, cancellation --------------------------------------------


def gi2_low_quote() -> Decimal:
    """The quote of one gpt-image-2 low 1024x1024 image with GI2_LOW's prompt (catalog prices)."""
    return quote_request(resolve(GI2_LOW).priced()).total_usd


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_attempt_reserves_its_quote_and_a_retry_that_no_longer_fits_is_not_sent(
    simulator_factory, tmp_path
):
    sim = simulator_factory(faults=FaultPlan(["drop", "drop", "drop", "drop"]))
    client = client_for(sim, tmp_path, retry=RetryPolicy(max_attempts=4, initial_delay_s=0.001))
    q = gi2_low_quote()
    budget = Budget(q * 2 + q / 2)  # room for two attempts whose bill is unknown, not three
    result = run(client, client.generate(GI2_LOW, item_id="a", raise_on_error=False, budget=budget))
    assert result.error.error_class == "unavailable" and result.retries_refused == 1
    assert sim.request_count == 2  # the third attempt was never sent
    # a dropped response may have been billed: each attempt's quote counts, and never more than the cap
    assert budget.spent_usd == 2 * q <= budget.limit_usd and budget.reserved_usd == 0
    lines = log_lines(tmp_path / "log.jsonl")
    assert [(r["outcome"], r["attempt"], r["final"]) for r in lines] == [
        ("sent", 1, False),
        ("unavailable", 1, False),
        ("sent", 2, False),
        ("unavailable", 2, True),
    ]
    assert "not retried: budget_usd=" in lines[-1]["error_message"]
    assert all(Decimal(r["estimated_cost_usd"]) == q for r in lines)


def test_the_first_attempts_of_a_request_are_reserved_all_or_none(simulator, tmp_path):
    # fal flux-1-dev takes at most 4 images per call: n=6 is two calls, quoted $0.10 and $0.05
    # (published $0.025 per megapixel, each 1024x768 image billed as 1 MP: PRICING.md E10, E13)
    request = ImageRequest("flux-1-dev", "a castle", size="1024x768", n=6)
    client = client_for(simulator, tmp_path)
    budget = Budget(Decimal("0.14"))
    with pytest.raises(BudgetExceededError, match=r"this request is quoted at 0\.15"):
        run(client, client.generate(request, budget=budget))
    assert simulator.request_count == 0 and budget.committed_usd == 0
    assert not (tmp_path / "log.jsonl").exists()
    budget = Budget(Decimal("0.15"))
    result = run(client, client.generate(request, budget=budget))
    assert result.ok and len(result.images) == 6 and budget.spent_usd <= Decimal("0.15")
    assert len([r for r in simulator.requests if r.kind == "fal_submit"]) == 2


def test_each_attempt_is_announced_before_it_is_sent_and_readers_count_only_attempts(
    simulator_factory, tmp_path
):
    from imgkit.analysis.performance import performance_table
    from imgkit.records.scan import scan_log

    sim = simulator_factory(faults=FaultPlan(["server_error"]))
    client = client_for(sim, tmp_path)
    result = run(client, client.generate(GI2_LOW, item_id="x", raise_on_error=False))
    assert result.ok
    lines = log_lines(tmp_path / "log.jsonl")
    assert [(r["outcome"], r["attempt"]) for r in lines] == [
        ("sent", 1),
        ("unavailable", 1),
        ("sent", 2),
        ("ok", 2),
    ]
    sent = lines[0]
    assert sent["started_at"] == lines[1]["started_at"] and sent["final"] is False
    assert (sent["model"], sent["n"], sent["item_id"]) == ("gpt-image-2", 1, "x")
    assert Decimal(sent["estimated_cost_usd"]) == gi2_low_quote()
    log = RequestLog(tmp_path / "log.jsonl")
    assert log.scan().collect()["outcome"].to_list() == ["unavailable", "ok"]
    assert log.scan(include_sent=True).collect().height == 4 and log.unanswered_sent().collect().height == 0
    table = performance_table(scan_log(tmp_path / "log.jsonl")).row(0, named=True)
    assert (table["requests"], table["attempts"], table["successes"]) == (1, 2, 1)
    assert log.finished_items() == {"x"}


def test_a_cancelled_call_says_whether_its_request_was_in_flight(simulator_factory, tmp_path):
    q = gi2_low_quote()

    async def cancel_when(client, budget, condition):
        task = asyncio.create_task(client.generate(GI2_LOW, item_id="c", budget=budget))
        while not condition():
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    # hung at the provider: in flight, its bill unknown, its quote spent
    sim = simulator_factory(faults=FaultPlan(["timeout"]))
    client = client_for(sim, tmp_path / "a")
    budget = Budget(Decimal("1"))
    run(client, cancel_when(client, budget, lambda: sim.request_count == 1))
    lines = log_lines(tmp_path / "a" / "log.jsonl")
    assert [(r["outcome"], r["attempt"], r["final"]) for r in lines] == [
        ("sent", 1, False),
        ("cancelled", 1, True),
    ]
    assert (
        lines[1]["cost_method"],
        lines[1]["actual_cost_usd"],
        Decimal(lines[1]["estimated_cost_usd"]),
    ) == (
        "unknown",
        None,
        q,
    )
    assert (budget.spent_usd, budget.reserved_usd) == (q, 0)

    # waiting to retry a 500: nothing in flight, the retry's reservation released
    sim = simulator_factory(faults=FaultPlan(["server_error"]))
    client = client_for(sim, tmp_path / "b", retry=RetryPolicy(max_attempts=3, initial_delay_s=30))
    budget = Budget(Decimal("1"))
    log = tmp_path / "b" / "log.jsonl"
    run(client, cancel_when(client, budget, lambda: log.exists() and log.read_bytes().count(b"\n") == 2))
    lines = log_lines(log)
    assert [(r["outcome"], r["attempt"], r["final"]) for r in lines] == [
        ("sent", 1, False),
        ("unavailable", 1, False),
        ("cancelled", 2, True),
    ]
    assert (lines[2]["cost_method"], lines[2]["actual_cost_usd"]) == ("not_billed", "0")
    assert (budget.spent_usd, budget.reserved_usd) == (0, 0) and sim.request_count == 1


def test_a_hung_request_is_held_for_the_real_read_timeout_on_the_simulated_clock(simulator_factory):
    # 300 s (a client's read timeout) x 0.001 = 0.3 s, then the server closes the connection unanswered
    sim = simulator_factory(time_scale=0.001, faults=FaultPlan(["timeout"]))
    assert sim.hang_s == pytest.approx(0.3)
    t0 = time.monotonic()
    with pytest.raises(httpx.TransportError):
        httpx.post(
            f"{sim.base_url}/images/generations",
            json={"model": "gpt-image-1-mini", "prompt": "x"},
            headers={"authorization": "Bearer sk-test"},
            timeout=30,
        )
    assert 0.25 < time.monotonic() - t0 < 10
    assert simulator_factory(time_scale=0.001, faults=FaultPlan(hang_s=0.05)).hang_s == 0.05
    assert simulator_factory(time_scale=0).hang_s is None  # no simulated clock: until the client gives up


# --- crash safety ----------------------------------------------------------------------------------------------

KILLED_WRITER = """
import asyncio, sys
from imgkit.params import ImageRequest
from imgkit.providers import ImageClient, RateLimit

base, log, store = sys.argv[1:4]
client = ImageClient(base_urls={"openai": base}, keys={"openai": "sk-killed-writer-01"}, log=log, store=store,
                     limits={"openai": RateLimit(concurrency=8)})
request = ImageRequest("gpt-image-2", "a lighthouse", quality="low", size="1024x1024")

async def worker(w):
    for i in range(10**6):
        await client.generate(request, item_id=f"w{w}-{i}", raise_on_error=False)

async def main():
    await asyncio.gather(*(worker(w) for w in range(8)))

asyncio.run(main())
"""


def test_kill_9_mid_run_leaves_a_readable_log_of_every_paid_attempt(simulator, tmp_path, repo_dir):
    log_path = tmp_path / "log.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, simulator.base_url, str(log_path), str(tmp_path / "images")],
        cwd=repo_dir,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            not log_path.exists() or log_path.read_bytes().count(b'"outcome":"ok"') < 40
        ):
            assert proc.poll() is None, "the writer died on its own"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    log = RequestLog(log_path)
    rows = log.scan().collect()
    assert rows.height >= 40 and rows.schema == pl.Schema(LOG_SCHEMA)
    ok = rows.filter(pl.col("outcome") == "ok")
    assert ok.height == rows.height  # no faults were injected: every logged attempt is a paid image
    assert all(Path(json.loads(i)[0]["path"]).is_file() for i in ok["images"])
    assert log.finished_items() == set(ok["item_id"])
    # every request that reached the provider was announced first: those without an outcome are known
    announced = log.scan(include_sent=True).filter(pl.col("outcome") == "sent").collect()
    assert announced.height >= simulator.request_count >= ok.height
    in_flight = log.unanswered_sent().collect()
    assert simulator.request_count - ok.height <= in_flight.height <= 8  # the writer's concurrency
    assert in_flight["estimated_cost_usd"].null_count() == 0 and not set(in_flight["item_id"]) & set(
        ok["item_id"]
    )
    # a resumed writer cuts any torn tail and appends after the last complete line
    log.append({**rows.row(0, named=True), "item_id": "resumed", "attempt": 1})
    log.close()
    assert RequestLog(log_path).scan().collect().height == rows.height + 1


# --- secrets -----------------------------------------------------------------------------------------------------

FAKE_KEY = "sk-imgkit-fake-key-9f8e7d6c5b4a3210"


def test_a_key_from_the_environment_reaches_no_log_exception_or_output(
    simulator_factory, tmp_path, monkeypatch, capsys, caplog
):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    sim = simulator_factory(faults=FaultPlan(["ok", "500", "500", "500", "auth"]))
    client = client_for(sim, tmp_path, keys=None)  # the default resolver: environment, then keys file
    caplog.set_level(logging.DEBUG)
    texts = []

    async def calls():
        texts.append(repr(await client.generate(GI2_LOW)))
        for _ in range(2):
            try:
                await client.generate(GI2_LOW)
            except ProviderError as exc:
                texts.extend([str(exc), repr(exc)])
                logging.getLogger("test").exception("call failed: %s", exc)

    run(client, calls())
    print(*texts, repr(client), repr(client.keys(CAT.provider("openai"))))
    assert any("HTTP 500" in t for t in texts) and any("HTTP 401" in t for t in texts)
    out = capsys.readouterr()
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".png")
    for place in (out.out, out.err, caplog.text, written.decode(errors="replace"), *texts):
        assert FAKE_KEY not in place and FAKE_KEY[3:] not in place


def test_a_key_echoed_by_a_server_is_redacted_from_the_error():
    body = {
        "error": {
            "message": f"Incorrect API key provided: {FAKE_KEY}.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    err = error_from_openai(401, json.dumps(body).encode(), {"x-request-id": "req_9"}, "openai")
    assert isinstance(err, AuthenticationError) and FAKE_KEY not in str(err) and "req_9" in str(err)


def test_the_key_is_not_sent_to_a_status_url_on_another_host(tmp_path):
    hosts = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append((request.url.host, request.headers.get("authorization")))
        return httpx.Response(
            200,
            json={
                "request_id": "r1",
                "status_url": "https://elsewhere.example/x/status",
                "response_url": "https://elsewhere.example/x",
                "cancel_url": "https://elsewhere.example/x/cancel",
            },
        )

    resolved = resolve(ImageRequest("flux-1-dev", "a castle"))
    call = CallRequest(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        resolved.provider,
        "https://queue.fal.test",
        Secret("fal-secret:abcdef"),
        resolved,
        dict(resolved.body),
    )
    with pytest.raises(MalformedResponseError, match="status_url"):
        asyncio.run(FalAdapter().call(call))
    assert hosts == [("queue.fal.test", "Key fal-secret:abcdef")]


def test_downloads_are_capped_and_carry_no_credentials():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("generations"):
            return httpx.Response(
                200, json={"created": 1, "data": [{"url": "https://cdn.test/a.png?sig=s3cr3t"}]}
            )
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, content=b"\0" * 2048)

    resolved = resolve(ImageRequest("dall-e-3", "a cat", response_format="url"))
    call = CallRequest(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        resolved.provider,
        "https://api.test/v1",
        Secret("sk-download-test-01"),
        resolved,
        dict(resolved.body),
    )
    with pytest.raises(MalformedResponseError, match="download cap") as caught:
        asyncio.run(OpenAIAdapter(Downloads(max_bytes=1024)).call(call))
    assert seen == [None] and "s3cr3t" not in str(caught.value)


def test_secret_repr_and_scrub_hide_the_value():
    secret = Secret("opaque-token-without-a-known-shape", "MY_VAR")
    assert "opaque" not in repr(secret) and "opaque" not in str(secret) and "MY_VAR" in repr(secret)
    assert scrub("got opaque-token-without-a-known-shape back") == "got [REDACTED] back"
    assert scrub("https://cdn/x.png?X-Amz-Signature=abc&t=1 ok") == "https://cdn/x.png ok"


def test_scrubbing_a_records_texts_together_equals_scrubbing_each(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    texts = [
        "Bearer",  # a token split over two fields is two harmless fields, not one match
        "abcdefghijklmnop",
        f"error with {FAKE_KEY} inside",
        "GET https://v3.fal.media/a.png?token=t0k3n&x=1 failed",
        '{"url":"https://cdn.example/x.png?X-Amz-Signature=abc","n":1}',
        "data:image/png;base64," + "A" * 40,
        "api key",
        "sk-proj-abcdefgh12345678 leaked",
        "plain text",
    ]
    assert scrub_all(texts) == [scrub(t) for t in texts]
    assert scrub_all(texts)[:2] == ["Bearer", "abcdefghijklmnop"]
    assert FAKE_KEY not in "".join(scrub_all(texts))
    odd = ["has \n\x00\n the separator", "sk-proj-abcdefgh12345678"]
    assert scrub_all(odd) == [scrub(t) for t in odd]


# --- keys ------------------------------------------------------------------------------------------------------


def test_keys_come_from_the_environment_first_then_the_0600_keys_file(tmp_path, monkeypatch):
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text("OPENAI_API_KEY: sk-from-file-0001\nfal: fal-from-file:0001\n")
    keys_file.chmod(0o600)
    monkeypatch.setenv("IMGKIT_HOME", str(tmp_path))
    resolver = KeyResolver()
    assert resolver(CAT.provider("openai")).reveal() == "sk-from-file-0001"
    assert resolver(CAT.provider("fal")).reveal() == "fal-from-file:0001"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0001")
    assert resolver(CAT.provider("openai")).reveal() == "sk-from-env-0001"  # read at call time


def test_a_keys_file_others_can_read_is_refused(tmp_path, monkeypatch):
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text("OPENAI_API_KEY: sk-from-file-0001\n")
    keys_file.chmod(0o644)
    monkeypatch.setenv("IMGKIT_HOME", str(tmp_path))
    with pytest.raises(KeysFileError, match="chmod 600"):
        KeyResolver()(CAT.provider("openai"))


def test_a_missing_key_names_where_to_put_it():
    with pytest.raises(MissingKeyError, match="LUMENFALL_API_KEY"):
        KeyResolver()(CAT.provider("lumenfall"))


# --- error shapes ------------------------------------------------------------------------------------------------

OPENAI_ERRORS = [
    (
        400,
        {
            "error": {
                "message": "Your request was rejected by the safety system.",
                "type": "image_generation_user_error",
                "param": None,
                "code": "moderation_blocked",
            }
        },
        {},
        ContentPolicyError,
    ),
    (
        400,
        {
            "error": {
                "message": "Prompt flagged",
                "type": "invalid_request_error",
                "code": "CONTENT_POLICY_VIOLATION",
            }
        },
        {},
        ContentPolicyError,
    ),
    (
        400,
        {
            "error": {
                "message": "Invalid size",
                "type": "invalid_request_error",
                "param": "size",
                "code": None,
            }
        },
        {},
        BadRequestError,
    ),
    (
        401,
        {"error": {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}},
        {},
        AuthenticationError,
    ),
    (
        429,
        {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
        {"retry-after": "2"},
        RateLimitError,
    ),
    (
        502,
        {"error": {"message": "All providers failed", "type": "upstream", "code": "ALL_PROVIDERS_EXHAUSTED"}},
        {},
        ProviderUnavailableError,
    ),
    (504, b"<html>gateway timeout</html>", {}, ProviderTimeoutError),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls"), OPENAI_ERRORS)
def test_openai_shaped_errors(status, body, headers, cls):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    err = error_from_openai(status, raw, {"x-request-id": "req_1", **headers}, "openai")
    assert type(err) is cls and err.status == status and "req_1" in str(err)
    assert err.retryable is (cls in (RateLimitError, ProviderUnavailableError, ProviderTimeoutError))


FAL_ERRORS = [
    (
        422,
        {"detail": [{"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}]},
        {},
        ContentPolicyError,
        True,
    ),
    (
        422,
        {"detail": [{"loc": ["body", "image_size"], "msg": "too big", "type": "value_error"}]},
        {},
        BadRequestError,
        True,
    ),
    (504, {"detail": "Request timed out", "error_type": "request_timeout"}, {}, ProviderTimeoutError, False),
    (
        503,
        {"detail": "No runner", "error_type": "runner_scheduling_failure"},
        {},
        ProviderUnavailableError,
        False,
    ),
    (500, {"detail": "boom"}, {"x-fal-retryable": "false"}, ProviderUnavailableError, False),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls", "may_be_billed"), FAL_ERRORS)
def test_fal_error_shapes(status, body, headers, cls, may_be_billed):
    err = error_from_fal(status, json.dumps(body).encode(), {"x-fal-request-id": "f-1", **headers}, "fal")
    assert type(err) is cls and "f-1" in str(err) and err.may_be_billed is may_be_billed
    if headers:
        assert err.retryable is False


def test_an_error_event_inside_a_stream_is_raised_with_its_class():
    stream = (
        b'event: image_generation.partial_image\ndata: {"type":"image_generation.partial_image","b64_json":"",'
        b'"partial_image_index":0}\n\n'
        b'event: error\ndata: {"error":{"message":"Your request was rejected by the safety system.",'
        b'"code":"moderation_blocked"}}\n\n'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream)

    resolved = resolve(ImageRequest("gpt-image-1-mini", "p", stream=True, partial_images=1))
    call = CallRequest(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        resolved.provider,
        "https://api.test/v1",
        Secret("sk-stream-test-001"),
        resolved,
        dict(resolved.body),
    )
    with pytest.raises(ContentPolicyError):
        asyncio.run(OpenAIAdapter().call(call))
    assert call.clock.first_partial is not None


# --- the request log and the image store ---------------------------------------------------------------------


def record(item_id: str, attempt: int = 1, outcome: str = "ok", final: bool = True, **kw):
    return {
        "run_id": "r1",
        "item_id": item_id,
        "attempt": attempt,
        "outcome": outcome,
        "final": final,
        "started_at": dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC),
        **kw,
    }


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"colour": "red"}, UnknownNameError),
        ({"actual_cost_usd": 0.12}, InvalidParameterError),  # money is never a float
        ({"actual_cost_usd": Decimal("0.00000000001")}, InvalidParameterError),  # finer than the column
        ({"started_at": dt.datetime(2026, 11, 1)}, InvalidParameterError),  # naive time
        ({"attempt": True}, InvalidParameterError),
        ({"outcome": "fine"}, InvalidParameterError),
        ({"run_id": None}, InvalidParameterError),
    ],
)
def test_log_records_are_validated_against_the_canonical_columns(tmp_path, change, error):
    with pytest.raises(error):
        RequestLog(tmp_path / "log.jsonl").append({**record("a"), **change})


def test_log_scan_has_canonical_dtypes_and_exact_money(tmp_path):
    log = RequestLog(tmp_path / "log.jsonl")
    log.append(record("a", actual_cost_usd=Decimal("0.011"), latency_ms=12.5, requested_params={"n": 1}))
    frame = log.scan().collect()
    assert frame.schema == pl.Schema(LOG_SCHEMA)
    assert frame["actual_cost_usd"][0] == Decimal("0.011") and frame["requested_params"][0] == '{"n":1}'


def test_log_strips_signed_url_queries_and_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "fal-secret-id:fal-secret-value")
    log = RequestLog(tmp_path / "log.jsonl")
    log.append(
        record(
            "a",
            outcome="bad_request",
            error_message="GET https://v3.fal.media/a.png?token=t0k3n with fal-secret-id:fal-secret-value",
        )
    )
    text = (tmp_path / "log.jsonl").read_text()
    assert "t0k3n" not in text and "fal-secret-value" not in text and "https://v3.fal.media/a.png" in text


@pytest.mark.parametrize("commit", ["write", "fsync"])
def test_log_is_safe_with_threads_and_tasks_at_once(tmp_path, commit):
    log = RequestLog(tmp_path / "log.jsonl", commit=commit)

    def thread_writer(t):
        for i in range(100):
            log.append(record(f"t{t}-{i}"))

    async def task_writers():
        await asyncio.gather(*(log.append_async(record(f"a{i}")) for i in range(200)))

    threads = [threading.Thread(target=thread_writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    asyncio.run(task_writers())
    for th in threads:
        th.join()
    lines = (tmp_path / "log.jsonl").read_text().splitlines()  # read before close(): on disk on return
    assert len(lines) == 600 and len({json.loads(line)["item_id"] for line in lines}) == 600
    log.close()
    log.append(record("after-close"))  # appending again reopens the journal
    log.close()
    assert (tmp_path / "log.jsonl").read_text().count("\n") == 601


def test_an_unknown_commit_mode_is_refused_with_the_allowed_ones(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"commit.*fsync"):
        RequestLog(tmp_path / "log.jsonl", commit="sometimes")


def test_sharded_transport_splits_the_limits_and_spreads_requests_over_shards(simulator):
    from imgkit.providers._pool import ShardedTransport

    transport = ShardedTransport(16, limits=DEFAULT_LIMITS)
    shard_limits = transport._transports[0]._pool  # httpcore pool of one shard
    assert (shard_limits._max_connections, shard_limits._max_keepalive_connections) == (16, 8)
    seen: list[tuple[int, ...]] = []

    async def main():
        async with make_http_client(transport=transport) as http:

            async def one():
                async with http.stream("GET", simulator.base_url + "/models") as resp:
                    seen.append(transport.in_flight)
                    await resp.aread()

            await asyncio.gather(*(one() for _ in range(64)))

    asyncio.run(main())
    assert transport.in_flight == (0,) * 16  # every response closed gave its slot back
    assert max(max(s) for s in seen) <= 4 and max(sum(s) for s in seen) > 16  # spread, not piled on one pool


def test_a_torn_last_line_is_skipped_and_cut_before_the_next_append(tmp_path):
    path = tmp_path / "log.jsonl"
    log = RequestLog(path)
    log.append(record("a"))
    log.close()
    with path.open("ab") as fh:
        fh.write(b'{"run_id":"r1","item_id":"b","att')
    assert RequestLog(path).scan().collect()["item_id"].to_list() == ["a"]
    log = RequestLog(path)
    log.append(record("c"))
    assert log.scan().collect()["item_id"].to_list() == ["a", "c"]


def test_finished_items_need_the_last_final_attempt_ok_and_every_call_done(tmp_path):
    log = RequestLog(tmp_path / "log.jsonl")
    for rec in [
        record("retried", 1, "rate_limit", final=False),
        record("retried", 2),
        record("failed", 1, "content_policy"),
        record("failed-then-resumed", 1, "unavailable"),
        record("failed-then-resumed", 1),
        record("split#call1of2"),
        record("split#call2of2"),
        record("half#call1of2"),
        record("half#call2of2", 1, "timeout"),
        record("unfinished", 1, "rate_limit", final=False),
    ]:
        log.append(rec)
    assert log.finished_items() == {"retried", "failed-then-resumed", "split"}


def test_parquet_export_reads_back_the_same_rows(tmp_path):
    log = RequestLog(tmp_path / "log.jsonl")
    log.append(record("a", provider="openai", actual_cost_usd=Decimal("0.005")))
    log.append(record("b", provider="fal", actual_cost_usd=Decimal("0.025")))
    out = log.to_parquet(tmp_path / "parquet")
    from imgkit.records.scan import scan_log

    back = scan_log(out).sort("item_id").collect()
    assert back["actual_cost_usd"].to_list() == [Decimal("0.005"), Decimal("0.025")]
    assert sorted(p.name for p in out.iterdir()) == ["provider=fal", "provider=openai"]


def test_image_store_is_content_addressed_and_atomic(tmp_path):
    store = ImageStore(tmp_path)
    data = png_bytes(32, 16)
    first, again = store.put(data), store.put(data)
    assert first == again and first.sha256 in store
    assert first.path == tmp_path / first.sha256[:2] / f"{first.sha256[2:]}.png"
    assert (first.width, first.height, first.bytes, first.format) == (32, 16, len(data), "png")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [
        first.path.name
    ]  # no temporary files left
    with pytest.raises(InvalidParameterError):
        store.put(b"not an image")
