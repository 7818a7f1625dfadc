"""The simulator's OpenAI Files and Batches APIs through the official ``openai`` SDK (``client.files``,
``client.batches``), over real loopback HTTP: the shapes, the status flow on the time scale, the result files,
failures, expiry, failed validation, cancellation and cursor pagination (research note protocols.md §6)."""

from __future__ import annotations

import io
import json
import time

import openai
import pytest

from imgkit.pricing import count_prompt_tokens
from imgkit.simulator import FaultPlan

KEY = "sk-simulator-test-key-0001"
#: gpt-image-2 low 1024x1024: 272 output tokens (the table of the gpt-image models, assumed for gpt-image-2)
LOW_1024_TOKENS = 272


def sdk(sim) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url, api_key=KEY, max_retries=0)


def lines(n: int, *, model: str = "gpt-image-2", url: str = "/v1/images/generations", **body) -> list[dict]:
    return [
        {
            "custom_id": f"item-{i}",
            "method": "POST",
            "url": url,
            "body": {
                "model": model,
                "prompt": f"a lighthouse, study {i}",
                "size": "1024x1024",
                "quality": "low",
                **body,
            },
        }
        for i in range(n)
    ]


def upload(client: openai.OpenAI, rows: list[dict] | bytes, name: str = "batch.jsonl"):
    data = rows if isinstance(rows, bytes) else "".join(json.dumps(r) + "\n" for r in rows).encode()
    return client.files.create(file=(name, io.BytesIO(data), "application/jsonl"), purpose="batch")


def wait_ended(client: openai.OpenAI, batch_id: str, timeout_s: float = 20.0) -> list:
    """Poll until the batch ends; every status seen, in order."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while True:
        batch = client.batches.retrieve(batch_id)
        if not seen or seen[-1].status != batch.status:
            seen.append(batch)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return seen
        assert time.monotonic() < deadline, f"batch stuck in {batch.status}"
        time.sleep(0.01)


def jsonl(client: openai.OpenAI, file_id: str) -> list[dict]:
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def test_files_upload_retrieve_list_content_delete(simulator):
    client = sdk(simulator)
    rows = lines(3)
    created = upload(client, rows, "in.jsonl")
    assert (created.object, created.purpose, created.status, created.filename) == (
        "file",
        "batch",
        "processed",
        "in.jsonl",
    )
    assert created.bytes == len("".join(json.dumps(r) + "\n" for r in rows).encode())
    assert client.files.retrieve(created.id).id == created.id
    assert client.files.content(created.id).text.splitlines() == [json.dumps(r) for r in rows]
    assert [f.id for f in client.files.list(purpose="batch")] == [created.id]
    assert client.files.delete(created.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)


def test_a_batch_input_must_be_jsonl_with_purpose_batch(simulator):
    client = sdk(simulator)
    with pytest.raises(openai.BadRequestError, match=r"Must be \.jsonl"):
        client.files.create(file=("in.txt", io.BytesIO(b"{}\n")), purpose="batch")
    vision = client.files.create(file=("x.jsonl", io.BytesIO(b"{}\n")), purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="purpose 'batch'"):
        client.batches.create(
            input_file_id=vision.id, endpoint="/v1/images/generations", completion_window="24h"
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.create(
            input_file_id="file-nope", endpoint="/v1/images/generations", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        client.batches.create(
            input_file_id=vision.id, endpoint="/v1/images/generations", completion_window="1h"
        )


def test_a_batch_moves_through_its_statuses_and_answers_every_line(simulator_factory):
    sim = simulator_factory(time_scale=0.002)
    client = sdk(sim)
    rows = lines(5)
    batch = client.batches.create(
        input_file_id=upload(client, rows).id,
        endpoint="/v1/images/generations",
        completion_window="24h",
        metadata={"imgkit_run": "r1", "imgkit_batch": "b1"},
    )
    assert (batch.status, batch.endpoint, batch.metadata, batch.request_counts.total) == (
        "validating",
        "/v1/images/generations",
        {"imgkit_run": "r1", "imgkit_batch": "b1"},
        5,
    )
    assert abs(batch.expires_at - batch.created_at - 86400 * 0.002) <= 1  # the 24-hour window, scaled
    statuses = [b.status for b in wait_ended(client, batch.id)]
    assert statuses[0] == "validating" and statuses[-1] == "completed"
    assert statuses == [s for s in ("validating", "in_progress", "finalizing", "completed") if s in statuses]
    done = client.batches.retrieve(batch.id)
    assert (done.request_counts.completed, done.request_counts.failed, done.error_file_id) == (5, 0, None)
    assert done.in_progress_at <= done.finalizing_at <= done.completed_at and done.model == "gpt-image-2"
    out = jsonl(client, done.output_file_id)
    assert sorted(o["custom_id"] for o in out) == sorted(r["custom_id"] for r in rows)
    for answer in out:
        assert answer["error"] is None and answer["response"]["status_code"] == 200
        body = answer["response"]["body"]
        assert body["data"][0]["b64_json"] and (body["size"], body["quality"]) == ("1024x1024", "low")
        prompt = rows[int(answer["custom_id"].split("-")[1])]["body"]["prompt"]
        assert body["usage"]["output_tokens"] == LOW_1024_TOKENS
        assert body["usage"]["input_tokens_details"]["text_tokens"] == count_prompt_tokens(prompt)
    assert done.usage.output_tokens == 5 * LOW_1024_TOKENS
    assert client.files.retrieve(done.output_file_id).purpose == "batch_output"


def test_failed_lines_go_to_the_error_file_in_the_images_error_shape(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["ok", "moderation", "429", "timeout"]))
    client = sdk(sim)
    rows = lines(5)
    rows[4]["body"]["quality"] = "ultra"  # refused by the Images API: a 400 line, not a failed batch
    batch = client.batches.create(
        input_file_id=upload(client, rows).id, endpoint="/v1/images/generations", completion_window="24h"
    )
    done = wait_ended(client, batch.id)[-1]
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 1, 4)
    errors = {e["custom_id"]: e["response"] for e in jsonl(client, done.error_file_id)}
    assert (
        errors["item-1"]["status_code"] == 400
        and errors["item-1"]["body"]["error"]["code"] == "moderation_blocked"
    )
    assert errors["item-2"]["status_code"] == 429
    assert errors["item-3"]["status_code"] == 500  # a wire fault cannot reach a client inside a batch
    assert errors["item-4"]["body"]["error"]["param"] == "quality"
    assert [o["custom_id"] for o in jsonl(client, done.output_file_id)] == ["item-0"]


def test_an_expired_batch_keeps_what_ran_and_reports_the_rest_as_batch_expired(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(batches=["expired"]))
    client = sdk(sim)
    batch = client.batches.create(
        input_file_id=upload(client, lines(6)).id, endpoint="/v1/images/generations", completion_window="24h"
    )
    done = wait_ended(client, batch.id)[-1]
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("expired", 3, 3)
    assert done.expired_at is not None and done.completed_at is None
    expired = jsonl(client, done.error_file_id)
    assert len(expired) == 3 and all(e["response"] is None for e in expired)
    assert {e["error"]["code"] for e in expired} == {"batch_expired"}
    ran = {o["custom_id"] for o in jsonl(client, done.output_file_id)}
    assert ran.isdisjoint(e["custom_id"] for e in expired) and len(ran) == 3


@pytest.mark.parametrize(
    ("content", "code", "line"),
    [
        (b'{"custom_id": "a", "method": "POST"\n', "invalid_json_line", 1),
        (None, "duplicate_custom_id", 2),
        (None, "url_mismatch", 1),
        (None, "model_mismatch", 2),
        (b"\n", "empty_file", None),
        (None, "token_limit_exceeded", None),
    ],
)
def test_validation_fails_the_whole_batch(simulator_factory, content, code, line):
    sim = simulator_factory(faults=FaultPlan(batches=["failed"] if code == "token_limit_exceeded" else []))
    client = sdk(sim)
    rows = lines(2)
    if code == "duplicate_custom_id":
        rows[1]["custom_id"] = rows[0]["custom_id"]
    elif code == "url_mismatch":
        rows[0]["url"] = "/v1/images/edits"
    elif code == "model_mismatch":
        rows[1]["body"]["model"] = "gpt-image-2.5-flare"
    batch = client.batches.create(
        input_file_id=upload(client, content or rows).id,
        endpoint="/v1/images/generations",
        completion_window="24h",
    )
    done = wait_ended(client, batch.id)[-1]
    assert done.status == "failed" and done.failed_at and not done.output_file_id and not done.error_file_id
    (error,) = [e for e in done.errors.data if e.code == code]
    assert error.line == line and error.message


def test_cancel_a_running_batch_and_a_finished_one(simulator_factory):
    sim = simulator_factory(time_scale=1.0)  # validating lasts 30 s: the cancel comes first
    client = sdk(sim)
    batch = client.batches.create(
        input_file_id=upload(client, lines(3)).id, endpoint="/v1/images/generations", completion_window="24h"
    )
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    fast = simulator_factory()
    fclient = sdk(fast)
    other = fclient.batches.create(
        input_file_id=upload(fclient, lines(2)).id, endpoint="/v1/images/generations", completion_window="24h"
    )
    assert wait_ended(fclient, other.id)[-1].status == "completed"
    with pytest.raises(openai.BadRequestError, match="status 'completed'"):
        fclient.batches.cancel(other.id)


def test_cancelled_before_it_ran_every_line_is_batch_cancelled(simulator_factory):
    sim = simulator_factory(time_scale=0.01)
    client = sdk(sim)
    batch = client.batches.create(
        input_file_id=upload(client, lines(3)).id, endpoint="/v1/images/generations", completion_window="24h"
    )
    client.batches.cancel(batch.id)
    done = wait_ended(client, batch.id)[-1]
    assert done.status == "cancelled" and done.output_file_id is None
    assert {e["error"]["code"] for e in jsonl(client, done.error_file_id)} == {"batch_cancelled"}


def test_list_pages_newest_first_with_the_after_cursor(simulator):
    client = sdk(simulator)
    file_id = upload(client, lines(1)).id
    made = [
        client.batches.create(
            input_file_id=file_id, endpoint="/v1/images/generations", completion_window="24h"
        ).id
        for _ in range(5)
    ]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == made[::-1][:2] and page.has_more
    assert [b.id for b in client.batches.list(limit=2)] == made[::-1]  # auto-paging follows `after`
    requests = [r.path for r in simulator.requests if r.kind == "batch_list"]
    assert any(f"after={made[-2]}" in p for p in requests)
    assert simulator.batches == {b: ["item-0"] for b in made}


def test_batched_edits_take_the_json_edit_body(simulator, tmp_path):
    from imgkit.simulator import ImageSpec, render_image

    png = render_image(ImageSpec("0" * 32, 0, 64, 48))
    import base64

    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    rows = lines(2, url="/v1/images/edits", images=[{"image_url": uri}], size="1536x1024")
    client = sdk(simulator)
    batch = client.batches.create(
        input_file_id=upload(client, rows).id, endpoint="/v1/images/edits", completion_window="24h"
    )
    done = wait_ended(client, batch.id)[-1]
    assert done.request_counts.completed == 2
    usage = jsonl(client, done.output_file_id)[0]["response"]["body"]["usage"]
    assert usage["input_tokens_details"]["image_tokens"] > 0


def test_a_batch_request_without_a_key_is_refused(simulator):
    import httpx

    for path in ("/batches", "/files"):
        resp = httpx.get(simulator.base_url + path)
        assert resp.status_code == 401 and "API key" in resp.json()["error"]["message"]
