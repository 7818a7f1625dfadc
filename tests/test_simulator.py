"""The simulated provider over real loopback HTTP: OpenAI Images and fal queue protocols, usage from the
published token tables, deterministic images, profiles fitted to published figures, injected faults, and
conformance with the official ``openai`` SDK."""

from __future__ import annotations

import base64
import io
import json
import math
import random
import signal
import subprocess
import sys
from decimal import Decimal

import httpx
import openai
import pytest
from PIL import Image

from imgkit.provenance import Provenance
from imgkit.simulator import FaultPlan, LogNormal, Profile, default_profiles, lognormal_from_p50_p95

HTTP = httpx.Client(timeout=10.0)  # one pool for the module: a client per call costs more than the call
BEARER = {"Authorization": "Bearer sk-simulator-test-key-0001"}
FAL_KEY = {"Authorization": "Key fal-simulator-test-key:0001"}


# --- helpers ----------------------------------------------------------------------------------------------------


def png_bytes(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (10, 20, 30, 0) if mode == "RGBA" else (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def generate(sim, timeout: float = 10.0, base: str | None = None, **body) -> httpx.Response:
    return HTTP.post(f"{base or sim.base_url}/images/generations", json=body, headers=BEARER, timeout=timeout)


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(event name, data) pairs of an SSE body, checking the framing of every event."""
    events = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ") and len(lines) == 2
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events


# --- OpenAI generations ---------------------------------------------------------------------------------------

GENERATIONS = [
    # body, echoed (size, quality, output_format, background), image mode
    ({"model": "gpt-image-1-mini", "quality": "low"}, ("1024x1024", "low", "png", "opaque"), "RGB"),
    (
        {"model": "gpt-image-1", "size": "1536x1024", "quality": "high", "output_format": "jpeg"},
        ("1536x1024", "high", "jpeg", "opaque"),
        "RGB",
    ),
    (
        {"model": "gpt-image-1.5", "size": "1024x1536", "output_format": "webp", "background": "transparent"},
        ("1024x1536", "medium", "webp", "transparent"),
        "RGBA",
    ),
    (
        {"model": "gpt-image-2", "size": "2048x1152", "quality": "low"},
        ("2048x1152", "low", "png", "opaque"),
        "RGB",
    ),
]


@pytest.mark.parametrize(("body", "echoed", "mode"), GENERATIONS)
def test_generation_echoes_resolved_values_and_returns_a_real_image_of_that_size(
    simulator, body, echoed, mode
):
    r = generate(simulator, prompt="a lighthouse at dusk", **body)
    assert r.status_code == 200
    data = r.json()
    assert (data["size"], data["quality"], data["output_format"], data["background"]) == echoed
    image = decode(data["data"][0]["b64_json"])
    assert f"{image.width}x{image.height}" == echoed[0]
    assert image.format.lower() == echoed[2]
    assert image.mode == mode


def test_a_transparent_png_has_fully_transparent_background_pixels(simulator):
    r = generate(simulator, model="gpt-image-1-mini", prompt="a sticker", background="transparent")
    image = decode(r.json()["data"][0]["b64_json"])
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0
    assert image.getextrema()[3] == (0, 255)


@pytest.mark.parametrize(
    ("quality", "size", "tokens_per_image"),
    [("low", "1024x1024", 272), ("medium", "1024x1536", 1584), ("high", "1536x1024", 6208)],
)
@pytest.mark.parametrize("n", [1, 3])
def test_usage_output_tokens_are_the_published_table_times_n(simulator, quality, size, tokens_per_image, n):
    prompt = "a red bicycle leaning on a wall"  # 31 characters: ceil(31 / 4) = 8 text tokens
    usage = generate(simulator, model="gpt-image-1", prompt=prompt, quality=quality, size=size, n=n).json()[
        "usage"
    ]
    assert usage["output_tokens"] == n * tokens_per_image
    assert usage["output_tokens_details"] == {"image_tokens": n * tokens_per_image, "text_tokens": 0}
    assert usage["input_tokens_details"] == {"text_tokens": n * 8, "image_tokens": 0}
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_gpt_image_2_outside_the_table_scales_the_1024_square_count_by_pixels(simulator):
    usage = generate(simulator, model="gpt-image-2", prompt="x", quality="low", size="2048x2048").json()[
        "usage"
    ]
    assert usage["output_tokens"] == 4 * 272


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-image-1-mini", "size": "999x999"}, "size"),
        ({"model": "gpt-image-1-mini", "quality": "hd"}, "quality"),
        ({"model": "dall-e-3", "n": 2}, "n"),
        ({"model": "gpt-image-1-mini", "n": 11}, "n"),
        ({"model": "gpt-image-2", "size": "1000x1000"}, "size"),
        ({"model": "gpt-image-1-mini", "partial_images": 4, "stream": True}, "partial_images"),
        ({"model": "gpt-image-1-mini", "output_format": "jpeg", "background": "transparent"}, "background"),
        ({"model": "gpt-image-1-mini", "seed": 3}, "seed"),
        ({"model": "gpt-image-1-mini", "prompt": ""}, "prompt"),
    ],
)
def test_invalid_values_are_400s_in_the_openai_error_envelope_naming_the_field(simulator, body, param):
    r = generate(simulator, **{"prompt": "a cat", **body})
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_an_unknown_model_is_a_404_model_not_found(simulator):
    r = generate(simulator, model="gpt-image-9", prompt="x")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "model_not_found")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Key abc"}])
def test_a_bearer_token_is_required(simulator, headers):
    r = HTTP.post(
        f"{simulator.base_url}/images/generations",
        json={"model": "gpt-image-1", "prompt": "x"},
        headers=headers,
    )
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_every_response_says_it_is_simulated_with_the_profile_provenance(simulator):
    published = generate(simulator, model="gpt-image-1-mini", prompt="x")
    assumed = generate(simulator, model="gpt-image-1", prompt="x")
    assert published.headers["x-imgkit-simulated"] == assumed.headers["x-imgkit-simulated"] == "true"
    assert published.headers["x-imgkit-profile-provenance"] == "simulated"
    assert assumed.headers["x-imgkit-profile-provenance"] == "assumed"
    assert published.headers["x-request-id"].startswith("req_")
    assert published.headers["x-request-id"] != assumed.headers["x-request-id"]


# --- url vs b64 ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "delivery"),
    [
        ({"model": "gpt-image-1-mini"}, "b64_json"),
        ({"model": "gpt-image-1-mini", "response_format": "url"}, "url"),
        ({"model": "dall-e-3"}, "url"),
        ({"model": "dall-e-3", "response_format": "b64_json"}, "b64_json"),
        ({"model": "dall-e-2", "size": "256x256"}, "url"),
    ],
)
def test_images_arrive_as_b64_or_as_a_url_served_by_the_simulator(simulator, body, delivery):
    item = generate(simulator, prompt="a fox", **body).json()["data"][0]
    assert set(item) - {"revised_prompt"} == {delivery}
    if delivery == "url":
        assert item["url"].startswith(simulator.url + "/files/")
        download = HTTP.get(item["url"])
        assert download.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(download.content))
    else:
        image = decode(item["b64_json"])
    assert image.size == ((256, 256) if body.get("size") == "256x256" else (1024, 1024))


def test_dall_e_3_returns_revised_prompt_and_no_usage(simulator):
    data = generate(simulator, model="dall-e-3", prompt="a fox", quality="hd").json()
    assert data["data"][0]["revised_prompt"] == "a fox"
    assert "usage" not in data


# --- edits ------------------------------------------------------------------------------------------------------

# Published tile rule (OAI-VISION): scale the short side to 512, count 512-px tiles, 65 + 129 per tile.
EDIT_INPUTS = [((1024, 1024), 65 + 129 * 1), ((1536, 1024), 65 + 129 * 2), ((512, 2048), 65 + 129 * 4)]


def edit_files(inputs=EDIT_INPUTS, mask_size=(1024, 1024)):
    files = [
        ("image[]", (f"in{i}.png", png_bytes(w, h), "image/png")) for i, ((w, h), _) in enumerate(inputs)
    ]
    if mask_size:
        files.append(("mask", ("mask.png", png_bytes(*mask_size, mode="RGBA"), "image/png")))
    return files


@pytest.mark.parametrize(
    ("model", "fidelity", "extra_per_image"),
    [
        ("gpt-image-1-mini", None, (0, 0, 0)),
        ("gpt-image-1.5", "low", (0, 0, 0)),
        ("gpt-image-1.5", "high", (4160, 6240, 6240)),  # published extra: 4160 square, 6240 otherwise
    ],
)
def test_multipart_edit_with_three_images_and_a_mask_counts_input_tokens_by_the_tile_rule(
    simulator, model, fidelity, extra_per_image
):
    data = {"model": model, "prompt": "put them on a table", "quality": "low"}
    if fidelity:
        data["input_fidelity"] = fidelity
    r = HTTP.post(f"{simulator.base_url}/images/edits", data=data, files=edit_files(), headers=BEARER)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = sum(t for _, t in EDIT_INPUTS) + sum(extra_per_image)
    assert body["usage"]["input_tokens_details"] == {"image_tokens": expected, "text_tokens": 5}
    assert body["usage"]["output_tokens"] == 272
    assert body["size"] == "1024x1024"  # the multipart default size
    assert decode(body["data"][0]["b64_json"]).size == (1024, 1024)


def test_edit_accepts_a_single_image_field_and_size_auto_follows_its_aspect(simulator):
    files = [("image", ("in.png", png_bytes(1200, 800), "image/png"))]
    r = HTTP.post(
        f"{simulator.base_url}/images/edits",
        data={"model": "gpt-image-1", "prompt": "x", "size": "auto"},
        files=files,
        headers=BEARER,
    )
    assert r.json()["size"] == "1536x1024"


def test_json_edit_takes_data_urls_and_defaults_to_size_auto(simulator):
    ref = {"image_url": "data:image/png;base64," + base64.b64encode(png_bytes(1024, 1536)).decode()}
    body = {"model": "gpt-image-1.5", "prompt": "x", "images": [ref, ref], "quality": "low"}
    r = HTTP.post(f"{simulator.base_url}/images/edits", json=body, headers=BEARER)
    assert r.status_code == 200, r.text
    assert r.json()["size"] == "1024x1536"
    assert r.json()["usage"]["input_tokens_details"]["image_tokens"] == 2 * (65 + 129 * 2)


@pytest.mark.parametrize(
    ("files", "param"),
    [
        (edit_files(mask_size=(512, 512)), "mask"),
        ([("image[]", ("x.png", b"not an image", "image/png"))], "image"),
        (edit_files(inputs=[((64, 64), 0)] * 17, mask_size=None), "image"),
    ],
)
def test_bad_edit_inputs_are_400s(simulator, files, param):
    r = HTTP.post(
        f"{simulator.base_url}/images/edits",
        data={"model": "gpt-image-1", "prompt": "x"},
        files=files,
        headers=BEARER,
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


# --- streaming ------------------------------------------------------------------------------------------------

PARTIAL_FIELDS = {
    "type",
    "b64_json",
    "created_at",
    "size",
    "quality",
    "background",
    "output_format",
    "partial_image_index",
}
COMPLETED_FIELDS = PARTIAL_FIELDS - {"partial_image_index"} | {"usage"}


@pytest.mark.parametrize("partials", [0, 1, 3])
def test_stream_sends_partials_in_order_then_completed_with_every_required_field(simulator, partials):
    r = generate(
        simulator,
        model="gpt-image-1-mini",
        prompt="a boat",
        quality="low",
        stream=True,
        partial_images=partials,
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert names == ["image_generation.partial_image"] * partials + ["image_generation.completed"]
    for name, data in events:
        assert data["type"] == name
        assert set(data) == (COMPLETED_FIELDS if name.endswith("completed") else PARTIAL_FIELDS)
        assert decode(data["b64_json"]).size == (1024, 1024)
    assert [d["partial_image_index"] for _, d in events[:-1]] == list(range(partials))
    usage = events[-1][1]["usage"]
    assert usage["output_tokens"] == 272 + 100 * partials
    assert "output_tokens_details" not in usage


def test_edit_stream_uses_image_edit_events(simulator):
    files = [("image", ("in.png", png_bytes(1024, 1024), "image/png"))]
    data = {"model": "gpt-image-1.5", "prompt": "x", "stream": "true", "partial_images": "2"}
    r = HTTP.post(f"{simulator.base_url}/images/edits", data=data, files=files, headers=BEARER)
    names = [name for name, _ in sse_events(r.text)]
    assert names == ["image_edit.partial_image"] * 2 + ["image_edit.completed"]


# --- gateway flavour ----------------------------------------------------------------------------------------------


def test_gateway_adds_id_and_metadata_cost_from_the_published_gateway_price(simulator):
    r = generate(
        simulator,
        base=simulator.gateway_base_url,
        model="gpt-image-1-mini",
        prompt="a cat",
        quality="low",
        size="1024x1024",
        response_format="b64_json",
    )
    body = r.json()
    assert body["id"] == r.headers["x-request-id"]
    meta = body["metadata"]
    assert (meta["model"], meta["provider"], meta["cost_currency"]) == ("gpt-image-1-mini", "openai", "USD")
    # seed page: $0.0050 per low 1024x1024 image, plus 2 prompt tokens at $2.00 / 1M text input tokens
    assert Decimal(str(meta["cost"])) == Decimal("0.0050") + 2 * Decimal("2.00") / 1_000_000
    assert "b64_json" in body["data"][0]


def test_the_gateway_flag_serves_the_gateway_flavour_on_v1_with_cost_as_a_string(simulator_factory):
    sim = simulator_factory(gateway=True, gateway_cost_as="string")
    body = generate(sim, model="openai/gpt-image-1-mini", prompt="a cat", quality="low").json()
    assert isinstance(body["metadata"]["cost"], str)
    assert body["metadata"]["provider"] == "openai"
    assert "url" in body["data"][0]  # the gateway's default response_format


def test_gateway_errors_use_its_own_codes(simulator):
    # was size 7x7: the gateway converts a WxH the model lacks (next test); a size that is no WxH is refused
    r = generate(
        simulator, base=simulator.gateway_base_url, model="gpt-image-1-mini", prompt="x", size="huge"
    )
    assert r.status_code == 400
    assert set(r.json()["error"]) == {"message", "type", "code"}
    assert r.json()["error"]["code"] == "INVALID_REQUEST"
    assert (
        generate(simulator, base=simulator.gateway_base_url, model="nope", prompt="x").json()["error"]["code"]
        == "MODEL_NOT_FOUND"
    )


@pytest.mark.parametrize(
    ("model", "size", "converted"),
    [
        ("gpt-image-1-mini", "1920x1080", "1536x1024"),
        ("gpt-image-1-mini", "7x7", "1024x1024"),
        ("gpt-image-2", "1000x1000", "1008x1008"),
    ],
)
def test_the_gateway_converts_an_unsupported_size_to_the_nearest_and_openai_refuses_it(
    simulator, model, size, converted
):
    """The seed page: a WxH size is "converted", dimensions clamped keeping the aspect ratio (imgkit.params)."""
    r = generate(
        simulator,
        base=simulator.gateway_base_url,
        model=model,
        prompt="x",
        size=size,
        response_format="b64_json",
    )
    assert r.status_code == 200 and r.json()["size"] == converted
    assert decode(r.json()["data"][0]["b64_json"]).size == tuple(map(int, converted.split("x")))
    strict = generate(simulator, model=model, prompt="x", size=size)
    assert (strict.status_code, strict.json()["error"]["param"]) == (400, "size")


# --- fal queue -----------------------------------------------------------------------------------------------


def fal_submit(sim, endpoint: str, body: dict) -> dict:
    r = HTTP.post(f"{sim.fal_base_url}/{endpoint}", json=body, headers=FAL_KEY)
    assert r.status_code == 200, r.text
    return r.json()


def test_fal_queue_submit_status_result_with_owner_alias_urls(simulator_factory):
    sim = simulator_factory(fal_min_polls=3)
    sub = fal_submit(
        sim,
        "fal-ai/flux/dev",
        {"prompt": "a cabin", "image_size": "landscape_16_9", "num_images": 2, "seed": 7},
    )
    app = f"{sim.fal_base_url}/fal-ai/flux/requests/{sub['request_id']}"  # the subpath /dev is dropped
    assert (sub["status_url"], sub["response_url"], sub["cancel_url"]) == (
        f"{app}/status",
        app,
        f"{app}/cancel",
    )
    statuses = [HTTP.get(sub["status_url"], headers=FAL_KEY).json() for _ in range(3)]
    assert [s["status"] for s in statuses] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    assert statuses[0]["queue_position"] == 0
    assert "inference_time" in statuses[2]["metrics"]
    result = HTTP.get(sub["response_url"], headers=FAL_KEY)
    assert result.headers["x-fal-request-id"] == sub["request_id"]
    body = result.json()
    assert set(body) == {"images", "seed", "has_nsfw_concepts", "timings", "prompt"}
    assert (body["seed"], body["has_nsfw_concepts"], body["prompt"]) == (7, [False, False], "a cabin")
    for image in body["images"]:
        assert (image["width"], image["height"], image["content_type"]) == (1024, 576, "image/jpeg")
        assert Image.open(io.BytesIO(HTTP.get(image["url"]).content)).size == (1024, 576)


def test_fal_result_before_completion_is_refused(simulator_factory):
    sim = simulator_factory(fal_min_polls=2)
    sub = fal_submit(sim, "fal-ai/flux/schnell", {"prompt": "x"})
    assert HTTP.get(sub["response_url"], headers=FAL_KEY).status_code == 400


def test_fal_gpt_image_edit_endpoint_takes_data_uris_and_returns_images_only(simulator):
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(1024, 1536)).decode()
    sub = fal_submit(
        simulator,
        "fal-ai/gpt-image-1-mini/edit",
        {"prompt": "x", "image_urls": [uri], "output_format": "webp"},
    )
    body = HTTP.get(sub["response_url"], headers=FAL_KEY).json()
    assert set(body) == {"images"}
    assert (body["images"][0]["width"], body["images"][0]["height"]) == (1024, 1536)  # auto follows the input
    assert body["images"][0]["content_type"] == "image/webp"


def test_fal_sync_mode_returns_the_image_as_a_data_uri(simulator):
    sub = fal_submit(
        simulator, "fal-ai/flux/schnell", {"prompt": "x", "image_size": "square", "sync_mode": True}
    )
    image = HTTP.get(sub["response_url"], headers=FAL_KEY).json()["images"][0]
    head, _, payload = image["url"].partition(",")
    assert head == "data:image/jpeg;base64"
    assert decode(payload).size == (512, 512)


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        ({"prompt": "x", "num_images": 9}, ["body", "num_images"], "less_than_equal"),
        ({"num_images": 1}, ["body", "prompt"], "missing"),
        ({"prompt": "x", "image_size": "huge"}, ["body", "image_size"], "value_error"),
    ],
)
def test_fal_validation_errors_complete_with_error_and_a_422_detail_list(simulator, body, loc, error_type):
    sub = fal_submit(simulator, "fal-ai/flux/dev", body)
    status = HTTP.get(sub["status_url"], headers=FAL_KEY).json()
    assert status["status"] == "COMPLETED" and status["error_type"] == error_type
    result = HTTP.get(sub["response_url"], headers=FAL_KEY)
    assert result.status_code == 422
    (detail,) = result.json()["detail"]
    assert (detail["loc"], detail["type"]) == (loc, error_type)
    assert set(detail) == {"loc", "msg", "type", "url", "input", "ctx"}


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [("500", 500, "runner_server_error"), ("503", 503, "runner_scheduling_failure")],
)
def test_fal_infrastructure_errors_have_a_string_detail_error_type_and_header(
    simulator, fault, status, error_type
):
    simulator.faults.fail_next(1, fault)
    sub = fal_submit(simulator, "fal-ai/flux/dev", {"prompt": "x"})
    result = HTTP.get(sub["response_url"], headers=FAL_KEY)
    assert result.status_code == status
    assert result.headers["x-fal-error-type"] == error_type
    body = result.json()
    assert isinstance(body["detail"], str) and body["error_type"] == error_type


def test_fal_moderation_is_a_422_content_policy_violation(simulator):
    simulator.faults.fail_next(1, "moderation")
    sub = fal_submit(simulator, "fal-ai/flux/dev", {"prompt": "x"})
    result = HTTP.get(sub["response_url"], headers=FAL_KEY)
    assert (result.status_code, result.json()["detail"][0]["type"]) == (422, "content_policy_violation")


def test_fal_cancel_works_only_while_queued(simulator_factory):
    sim = simulator_factory(fal_min_polls=2)
    queued = fal_submit(sim, "fal-ai/flux/dev", {"prompt": "x"})
    cancel = HTTP.put(queued["cancel_url"], headers=FAL_KEY)
    assert (cancel.status_code, cancel.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert HTTP.get(queued["status_url"], headers=FAL_KEY).json()["error_type"] == "client_cancelled"
    assert HTTP.get(queued["response_url"], headers=FAL_KEY).status_code == 499
    done = fal_submit(simulator_factory(), "fal-ai/flux/dev", {"prompt": "x"})
    late = HTTP.put(done["cancel_url"], headers=FAL_KEY)
    assert (late.status_code, late.json()) == (400, {"status": "ALREADY_COMPLETED"})


@pytest.mark.parametrize("headers", [{}, BEARER])
def test_fal_requires_a_key_authorization(simulator, headers):
    r = HTTP.post(f"{simulator.fal_base_url}/fal-ai/flux/dev", json={"prompt": "x"}, headers=headers)
    assert r.status_code == 401 and isinstance(r.json()["detail"], str)


def test_fal_unknown_endpoint_is_404(simulator):
    r = HTTP.post(f"{simulator.fal_base_url}/fal-ai/nope", json={"prompt": "x"}, headers=FAL_KEY)
    assert r.status_code == 404


# --- faults ---------------------------------------------------------------------------------------------------

ERROR_FAULTS = [
    ("429", "rate_limit", 429, "rate_limit_exceeded"),
    ("500", "server_error", 500, None),
    ("503", "unavailable", 503, None),
    ("moderation", "moderation", 400, "moderation_blocked"),
    ("auth", "auth", 401, "invalid_api_key"),
]


@pytest.mark.parametrize(("fault", "kind", "status", "code"), ERROR_FAULTS)
def test_error_faults_answer_in_the_openai_error_shape(simulator, fault, kind, status, code):
    simulator.faults.fail_next(1, fault)
    r = generate(simulator, model="gpt-image-1-mini", prompt="x")
    assert r.status_code == status
    error = r.json()["error"]
    assert {"message", "type", "param", "code"} <= set(error)
    assert error["code"] == code
    assert simulator.requests[-1].fault == kind


def test_rate_limit_carries_retry_after_and_retry_after_ms(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["429"], retry_after_ms=2500))
    r = generate(sim, model="gpt-image-1-mini", prompt="x")
    assert (r.headers["retry-after"], r.headers["retry-after-ms"]) == ("3", "2500")


def test_moderation_block_carries_moderation_details(simulator):
    simulator.faults.fail_next(1, "moderation")
    error = generate(simulator, model="gpt-image-1-mini", prompt="x").json()["error"]
    assert error["type"] == "image_generation_user_error"
    assert error["moderation_details"]["moderation_stage"] in ("input", "output", "unknown")


def test_malformed_fault_is_a_200_whose_body_is_not_json(simulator):
    simulator.faults.fail_next(1, "malformed")
    r = generate(simulator, model="gpt-image-1-mini", prompt="x")
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()


@pytest.mark.parametrize("fault", ["truncated", "drop"])
def test_truncated_and_dropped_responses_break_the_connection(simulator, fault):
    simulator.faults.fail_next(1, fault)
    with pytest.raises(httpx.RemoteProtocolError):
        generate(simulator, model="gpt-image-1-mini", prompt="x")
    assert generate(simulator, model="gpt-image-1-mini", prompt="x").status_code == 200


def test_timeout_fault_holds_the_request_past_the_client_timeout(simulator):
    simulator.faults.fail_next(1, "timeout")
    with pytest.raises(httpx.ReadTimeout):
        generate(simulator, timeout=0.3, model="gpt-image-1-mini", prompt="x")


@pytest.mark.parametrize(
    ("fault", "error"), [("drop", httpx.RemoteProtocolError), ("truncated", httpx.RemoteProtocolError)]
)
def test_stream_faults_cut_the_stream_after_the_first_event(simulator, fault, error):
    simulator.faults.fail_next(1, fault)
    received = b""
    with (
        pytest.raises(error),
        httpx.stream(
            "POST",
            f"{simulator.base_url}/images/generations",
            headers=BEARER,
            json={"model": "gpt-image-1-mini", "prompt": "x", "stream": True, "partial_images": 2},
        ) as r,
    ):
        for chunk in r.iter_bytes():
            received += chunk
    assert received.count(b"event: ") == 1


def test_malformed_stream_event_is_not_json(simulator):
    simulator.faults.fail_next(1, "malformed")
    r = generate(simulator, model="gpt-image-1-mini", prompt="x", stream=True, partial_images=1)
    with pytest.raises(json.JSONDecodeError):
        sse_events(r.text)


@pytest.mark.parametrize(("fault", "status"), [("429", 429), ("500", 500), ("503", 502), ("moderation", 400)])
def test_gateway_faults_use_gateway_statuses(simulator, fault, status):
    simulator.faults.fail_next(1, fault)
    r = generate(simulator, base=simulator.gateway_base_url, model="gpt-image-1-mini", prompt="x")
    assert r.status_code == status and "code" in r.json()["error"]


def test_a_script_is_consumed_in_order_and_per_model_scripts_take_precedence(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["429", "ok", "500"], per_model={"gpt-image-1": ["503"]}))
    statuses = [
        generate(sim, model=m, prompt="x").status_code
        for m in ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1")
    ]
    assert statuses == [503, 429, 200, 500, 200]
    assert [r.fault for r in sim.requests] == ["unavailable", "rate_limit", None, "server_error", None]


def test_validation_errors_do_not_consume_scripted_faults(simulator):
    simulator.faults.fail_next(1, "500")
    assert generate(simulator, model="gpt-image-1-mini", prompt="x", size="1x1").status_code == 400
    assert generate(simulator, model="gpt-image-1-mini", prompt="x").status_code == 500


def test_random_faults_follow_the_seed(simulator_factory):
    def statuses(seed: int) -> list[int]:
        sim = simulator_factory(seed=seed, faults=FaultPlan(rates={"500": 0.5}))
        return [generate(sim, model="gpt-image-1-mini", prompt="x").status_code for _ in range(24)]

    first = statuses(1)
    assert first == statuses(1)
    assert first != statuses(2)
    assert set(first) == {200, 500}


def test_published_success_rate_fails_some_requests_when_enabled(simulator_factory):
    sim = simulator_factory(
        apply_success_rate=True, profiles=[Profile.instant("openai", "gpt-image-1", success_rate=0.5)]
    )
    results = [generate(sim, model="gpt-image-1", prompt="x").status_code for _ in range(30)]
    assert 200 in results and {429, 500, 503} & set(results)
    assert {r.fault_source for r in sim.requests if r.fault} == {"profile"}


@pytest.mark.parametrize(
    "bad", [{"script": ["418"]}, {"rates": {"500": 1.5}}, {"rates": {"500": 0.6}, "fault_rate": 0.6}]
)
def test_fault_plan_rejects_unknown_kinds_and_impossible_probabilities(bad):
    from imgkit.errors import InvalidParameterError

    script = bad.pop("script", ())
    with pytest.raises(InvalidParameterError):
        FaultPlan(script, **bad)


# --- determinism, recording ---------------------------------------------------------------------------------------


def test_images_are_deterministic_per_seed_prompt_and_index(simulator_factory):
    a, b, c = simulator_factory(seed=0), simulator_factory(seed=0), simulator_factory(seed=1)

    def images(sim, prompt):
        return [
            d["b64_json"] for d in generate(sim, model="gpt-image-1-mini", prompt=prompt, n=2).json()["data"]
        ]

    assert images(a, "a fox") == images(b, "a fox")
    assert images(a, "a fox") != images(a, "a hen")
    assert images(a, "a fox") != images(c, "a fox")
    first, second = images(a, "a fox")
    assert first != second


def test_requests_are_recorded_with_the_key_redacted_and_reset_forgets_them(simulator):
    generate(simulator, model="gpt-image-1-mini", prompt="x")
    HTTP.post(f"{simulator.fal_base_url}/fal-ai/flux/dev", json={"prompt": "x"}, headers=FAL_KEY)
    assert simulator.request_count == 2
    openai_req, fal_req = simulator.requests
    assert (openai_req.kind, openai_req.model, openai_req.status) == ("generate", "gpt-image-1-mini", 200)
    assert (fal_req.kind, fal_req.provider, fal_req.model) == ("fal_submit", "fal", "flux-1-dev")
    assert openai_req.headers["authorization"] == "Bearer [REDACTED]"
    assert fal_req.headers["authorization"] == "Key [REDACTED]"
    assert "simulator-test-key" not in repr(simulator.requests)
    simulator.reset()
    assert (simulator.request_count, simulator.requests) == (0, [])


# --- profiles ---------------------------------------------------------------------------------------------------


def test_lognormal_fit_to_the_published_gpt_image_1_mini_figures():
    mu, sigma = lognormal_from_p50_p95(17840, 46372)
    assert mu == pytest.approx(math.log(17840))
    assert sigma == pytest.approx((math.log(46372) - math.log(17840)) / 1.6448536)
    fitted = LogNormal(mu, sigma)
    assert (fitted.p50_ms, fitted.p95_ms) == (pytest.approx(17840), pytest.approx(46372))


def test_default_profile_of_gpt_image_1_mini_is_fitted_to_the_seed_figures():
    profile = default_profiles().get("openai", "gpt-image-1-mini")
    assert profile.provenance == Provenance.SIMULATED
    assert profile.success_rate == pytest.approx(133 / 137)
    assert (profile.ttfb_ms.p50_ms, profile.ttfb_ms.p95_ms) == (pytest.approx(17216), pytest.approx(45544))
    draws = [profile.draw(random.Random(i)) for i in range(4000)]
    totals = sorted(d.total_ms for d in draws)
    assert totals[2000] == pytest.approx(17840, rel=0.05)
    assert totals[3800] == pytest.approx(46372, rel=0.1)
    assert all(d.ttfb_ms <= d.total_ms for d in draws)


def test_models_without_published_figures_get_assumed_profiles():
    profiles = default_profiles()
    assert profiles.get("openai", "gpt-image-1").provenance == Provenance.ASSUMED
    p95_only = profiles.get("lumenfall", "gpt-image-1.5")
    assert p95_only.provenance == Provenance.ASSUMED
    assert p95_only.latency_ms.p95_ms == pytest.approx(78000)


def test_gateway_figures_per_provider_are_fitted_first_copy_first():
    profiles = default_profiles()
    gemini = profiles.get(
        "gemini-api", "gemini-3-pro-image"
    )  # copy A: 19,586 / 35,647 ms, TTFB p50 19,405, 93.0%
    assert (
        gemini.provenance == Provenance.SIMULATED
        and "LF-PERF:google/gemini-3-pro-image-preview#A" in gemini.basis
    )
    assert (gemini.latency_ms.p50_ms, gemini.latency_ms.p95_ms) == (
        pytest.approx(19586),
        pytest.approx(35647),
    )
    assert gemini.success_rate == pytest.approx(0.93)
    # a TTFB published as a p50 alone keeps the total's spread
    assert gemini.ttfb_ms.p50_ms == pytest.approx(19405) and gemini.ttfb_ms.sigma == gemini.latency_ms.sigma
    # copy B of the same page (21,949 ms, 69.2 %) is kept in the data but not fitted
    assert profiles.get("vertex-ai", "gemini-3-pro-image").latency_ms.p50_ms == pytest.approx(25988)
    # no TTFB published: the total (Vertex's gemini-3.1-flash-image, copy A)
    vertex = profiles.get("vertex-ai", "gemini-3.1-flash-image")
    assert vertex.ttfb_ms == vertex.latency_ms and "TTFB not published" in vertex.basis
    # the gateway measured these providers; it gets no profile of its own from them
    assert profiles.get("lumenfall", "gpt-image-1.5").provenance == Provenance.ASSUMED
    # BFL's own API has no published figures: its FLUX.2 [pro] borrows another provider's, labelled assumed
    bfl = profiles.get("bfl", "flux-2-pro")
    assert bfl.provenance == Provenance.ASSUMED and "flux-2-pro at" in bfl.basis


# --- conformance: the official openai SDK ---------------------------------------------------------------------


@pytest.fixture
def sdk(simulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=simulator.base_url, api_key="sk-simulator-test-key-0001", max_retries=0)


def test_sdk_generate_parses_every_field(sdk):
    r = sdk.images.generate(
        model="gpt-image-1-mini",
        prompt="a lighthouse",
        quality="low",
        size="1536x1024",
        output_format="jpeg",
        background="opaque",
        n=2,
    )
    assert (r.size, r.quality, r.output_format, r.background) == ("1536x1024", "low", "jpeg", "opaque")
    assert r.usage.output_tokens == 2 * 400
    assert r.usage.input_tokens_details.text_tokens == 2 * 3
    assert r.usage.output_tokens_details.image_tokens == 800
    assert r.created > 0 and len(r.data) == 2
    assert all(decode(d.b64_json).size == (1536, 1024) for d in r.data)
    assert r._request_id.startswith("req_")


def test_sdk_edit_with_three_images_and_a_mask(sdk, simulator):
    images = [(f"in{i}.png", png_bytes(w, h), "image/png") for i, ((w, h), _) in enumerate(EDIT_INPUTS)]
    r = sdk.images.edit(
        model="gpt-image-1.5",
        prompt="arrange them",
        image=images,
        mask=("mask.png", png_bytes(1024, 1024, "RGBA"), "image/png"),
        quality="medium",
        size="1024x1536",
        output_format="png",
        background="transparent",
    )
    assert (r.size, r.quality, r.output_format, r.background) == ("1024x1536", "medium", "png", "transparent")
    assert r.usage.input_tokens_details.image_tokens == sum(t for _, t in EDIT_INPUTS)
    assert r.usage.output_tokens == 1584
    assert decode(r.data[0].b64_json).mode == "RGBA"
    assert simulator.requests[-1].headers["content-type"].startswith("multipart/form-data")


def test_sdk_streaming_with_two_partial_images(sdk):
    events = list(
        sdk.images.generate(
            model="gpt-image-1-mini", prompt="a kite", quality="low", stream=True, partial_images=2
        )
    )
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    done = events[-1]
    assert (done.size, done.quality, done.output_format, done.background) == (
        "1024x1024",
        "low",
        "png",
        "opaque",
    )
    assert done.usage.output_tokens == 272 + 2 * 100
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens
    assert all(decode(e.b64_json).size == (1024, 1024) for e in events)


def test_sdk_edit_streaming(sdk):
    events = list(
        sdk.images.edit(
            model="gpt-image-1-mini",
            prompt="x",
            image=("a.png", png_bytes(512, 512), "image/png"),
            stream=True,
            partial_images=1,
        )
    )
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert events[-1].usage.input_tokens_details.image_tokens == 65 + 129


@pytest.mark.parametrize(
    ("fault", "exception", "code"),
    [
        ("429", openai.RateLimitError, "rate_limit_exceeded"),
        ("moderation", openai.BadRequestError, "moderation_blocked"),
        ("auth", openai.AuthenticationError, "invalid_api_key"),
        ("500", openai.InternalServerError, None),
    ],
)
def test_sdk_maps_fault_shapes_to_its_exceptions(sdk, simulator, fault, exception, code):
    simulator.faults.fail_next(1, fault)
    with pytest.raises(exception) as info:
        sdk.images.generate(model="gpt-image-1-mini", prompt="x")
    assert info.value.code == code
    assert info.value.request_id == simulator.requests[-1].request_id


def test_sdk_retries_a_429_after_retry_after_ms_and_succeeds(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["429", "ok"], retry_after_ms=1))
    client = openai.OpenAI(base_url=sim.base_url, api_key="sk-simulator-test-key-0001", max_retries=1)
    assert client.images.generate(model="gpt-image-1-mini", prompt="x").data
    assert [r.status for r in sim.requests] == [429, 200]
    assert [r.headers["x-stainless-retry-count"] for r in sim.requests] == ["0", "1"]


# --- CLI ------------------------------------------------------------------------------------------------------


def test_cli_serve_prints_its_urls_and_serves_until_interrupted():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from imgkit.cli import main; raise SystemExit(main())",
            "simulate",
            "serve",
            "--port",
            "0",
            "--time-scale",
            "0",
            "--no-failures",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or lines[-1] != "}\n":
            lines.append(proc.stdout.readline())
        urls = json.loads("".join(lines))
        assert urls["provenance"] == "simulated"
        r = HTTP.post(
            f"{urls['openai_base_url']}/images/generations",
            headers=BEARER,
            json={"model": "gpt-image-1-mini", "prompt": "x", "quality": "low"},
        )
        assert r.json()["usage"]["output_tokens"] == 272
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
