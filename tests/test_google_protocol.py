"""Google's image protocols (Gemini API and Vertex AI) over loopback: the official ``google-genai`` SDK against the
simulator, then imgkit's own adapters, their exact token bills, safety blocks and retries.

google-genai 3.x takes ``http://HOST:PORT/gemini`` as its base URL in both modes and adds the version itself
(``v1`` with an API key, ``v1beta1`` in Vertex mode); Imagen's ``generate_images`` exists only in Vertex mode
(express: an API key and no project). Expected sizes, token counts and rates come from the catalog.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.oauth2.credentials import Credentials

from imgkit.catalog import parse_wxh
from imgkit.errors import ContentPolicyError, MissingKeyError, RateLimitError
from imgkit.params import ImageRequest, inspect_image
from imgkit.pricing import count_prompt_tokens
from imgkit.providers import gemini_usage, vertex_base_url
from imgkit.records.journal import RequestLog
from imgkit.simulator import FaultPlan
from tests.protocol_client import CAT, client_for, decoded, png_bytes, run

KEY = "gemini-sdk-test-key-0001"
#: google-genai 3.6 warns that generate_images is deprecated (not before 2027-01-01), once per process
IMAGEN_DEPRECATED = pytest.mark.filterwarnings("ignore:The generate_images method is deprecated")
PRO = "gemini-3-pro-image"


def gemini(sim) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=sim.gemini_base_url))


def vertex_express(sim) -> genai.Client:
    return genai.Client(vertexai=True, api_key=KEY, http_options={"base_url": sim.gemini_base_url})


def table_size(model: str, provider: str, ratio: str, tier: str) -> tuple[int, int]:
    return parse_wxh(CAT.offered_model(model, provider).sizes.aspect_ratios[ratio][tier])


# --- the official SDK ----------------------------------------------------------------------------------------


def test_generate_content_returns_one_image_of_the_ratio_and_tier_asked(simulator):
    client = gemini(simulator)
    response = client.models.generate_content(
        model=PRO,
        contents="a red cube on a table",
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio="16:9", image_size="2K"),
        ),
    )
    [part] = response.candidates[0].content.parts
    picture = decoded(part.inline_data.data)
    assert (picture.format, picture.size) == ("PNG", table_size(PRO, "gemini-api", "16:9", "2K"))
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    tokens = CAT.model(PRO).output_tokens.per_resolution["2K"]
    assert [(d.modality.value, d.token_count) for d in usage.candidates_tokens_details] == [("IMAGE", tokens)]
    assert usage.prompt_token_count == count_prompt_tokens("a red cube on a table")
    [rec] = simulator.requests
    assert (rec.path, rec.provider, rec.model) == (
        f"/gemini/v1/models/{PRO}:generateContent",
        "gemini-api",
        PRO,
    )
    assert rec.headers["x-goog-api-key"] == "[REDACTED]"


def test_an_edit_sends_its_input_as_a_part_and_is_counted_in_the_prompt(simulator):
    client = gemini(simulator)
    response = client.models.generate_content(
        model=PRO,
        contents=[types.Part.from_bytes(data=png_bytes(640, 480), mime_type="image/png"), "make it night"],
        config={"response_modalities": ["IMAGE"]},
    )
    assert decoded(response.candidates[0].content.parts[0].inline_data.data).format == "PNG"
    per_input = CAT.price(PRO, "gemini-api").input_image_tokens_per_image  # 560 for Gemini 3 Pro Image
    details = {d.modality.value: d.token_count for d in response.usage_metadata.prompt_tokens_details}
    assert details == {"TEXT": count_prompt_tokens("make it night"), "IMAGE": per_input}


@IMAGEN_DEPRECATED
def test_generate_images_in_vertex_express_mode_returns_two_images(simulator):
    client = vertex_express(simulator)  # kept: a garbage-collected genai.Client closes its pool
    response = client.models.generate_images(
        model="imagen-4.0-generate-001",
        prompt="a lighthouse at dusk",
        config=types.GenerateImagesConfig(number_of_images=2, aspect_ratio="16:9"),
    )
    assert len(response.generated_images) == 2
    size = table_size("imagen-4", "vertex-ai", "16:9", "1K")
    for generated in response.generated_images:
        assert decoded(generated.image.image_bytes).size == size
    assert (
        simulator.requests[-1].path
        == "/gemini/v1beta1/publishers/google/models/imagen-4.0-generate-001:predict"
    )


def test_vertex_project_mode_sends_a_bearer_token(simulator):
    client = genai.Client(
        vertexai=True,
        project="my-project",
        location="us-central1",
        credentials=Credentials(token="ya29.loopback-test-token"),
        http_options={"base_url": simulator.gemini_base_url},
    )
    response = client.models.generate_content(
        model=PRO, contents="a cat", config={"response_modalities": ["IMAGE"]}
    )
    assert decoded(response.candidates[0].content.parts[0].inline_data.data).size == (1024, 1024)
    rec = simulator.requests[-1]
    assert (
        rec.path
        == f"/gemini/v1beta1/projects/my-project/locations/us-central1/publishers/google/models/{PRO}:generateContent"
    )
    assert rec.headers["authorization"] == "Bearer [REDACTED]" and rec.provider == "vertex-ai"


def test_the_async_client_gets_images_too(simulator):
    async def both():
        client = gemini(simulator)
        return await asyncio.gather(
            *(client.aio.models.generate_content(model=PRO, contents=f"cube {i}") for i in range(3))
        )

    for response in asyncio.run(both()):
        assert decoded(response.candidates[0].content.parts[0].inline_data.data).format == "PNG"


@pytest.mark.parametrize(
    ("fault", "cls", "code", "status"),
    [
        ("429", genai_errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
        ("auth", genai_errors.ClientError, 400, "INVALID_ARGUMENT"),
        ("500", genai_errors.ServerError, 500, "INTERNAL"),
        ("503", genai_errors.ServerError, 503, "UNAVAILABLE"),
    ],
)
def test_faults_surface_as_the_sdks_own_exceptions(simulator_factory, fault, cls, code, status):
    sim = simulator_factory(faults=FaultPlan([fault]))
    client = gemini(sim)
    with pytest.raises(cls) as caught:
        client.models.generate_content(model=PRO, contents="x")
    assert (caught.value.code, caught.value.status) == (code, status)


def test_an_unknown_model_and_a_missing_key_are_google_errors(simulator):
    client = gemini(simulator)
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_content(model="gemini-0-nonexistent", contents="x")
    assert caught.value.code == 404 and "not found" in caught.value.message
    resp = httpx.post(
        f"{simulator.gemini_base_url}/v1beta/models/{PRO}:generateContent", json={"contents": []}
    )
    assert (resp.status_code, resp.json()["error"]["status"]) == (403, "PERMISSION_DENIED")


def test_safety_blocks_come_back_as_http_200_in_both_of_googles_shapes(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["moderation", "moderation"]))
    client = gemini(sim)
    blocked = client.models.generate_content(model=PRO, contents="x")
    assert blocked.candidates is None and blocked.prompt_feedback.block_reason.value == "PROHIBITED_CONTENT"
    withheld = client.models.generate_content(model=PRO, contents="x")
    assert (
        withheld.candidates[0].finish_reason.value == "IMAGE_SAFETY"
        and withheld.candidates[0].content is None
    )


@IMAGEN_DEPRECATED
def test_imagen_refuses_a_prompt_with_a_responsible_ai_400(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["moderation"]))
    client = vertex_express(sim)
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_images(model="imagen-4.0-fast-generate-001", prompt="x")
    assert caught.value.code == 400 and "Responsible AI" in caught.value.message


# --- imgkit's adapters ---------------------------------------------------------------------------------------


def test_imgkit_bills_gemini_exactly_from_usage_metadata_per_modality(simulator, tmp_path):
    edit = inspect_image(png_bytes(512, 512), name="room.png")
    prompt = "make the room look like night"
    request = ImageRequest(
        PRO, prompt, provider="gemini-api", mode="edit", input_images=(edit,), aspect_ratio="3:4"
    )
    client = client_for(simulator, tmp_path)
    result = run(client, client.generate(request))
    [image] = result.images
    assert (image.width, image.height) == table_size(PRO, "gemini-api", "3:4", "1K")
    rates = CAT.price(PRO, "gemini-api").tokens
    text_in, image_in = count_prompt_tokens(prompt), CAT.price(PRO, "gemini-api").input_image_tokens_per_image
    image_out = CAT.model(PRO).output_tokens.per_resolution["1K"]
    exact = (text_in * rates.text_in + image_in * rates.image_in + image_out * rates.image_out) / 1_000_000
    assert result.cost.method == "tokens" and result.cost.total_usd == exact
    [row] = RequestLog(tmp_path / "log.jsonl").scan().collect().to_dicts()
    assert (row["input_text_tokens"], row["input_image_tokens"], row["output_image_tokens"]) == (
        text_in,
        image_in,
        image_out,
    )
    assert row["actual_cost_usd"] == exact and row["provenance"] == "simulated"
    # the log names the input beside the prompt's part, never its bytes
    assert json.loads(row["resolved_params"])["contents"][0]["parts"] == [{"text": prompt}, "room.png"]


def test_usage_metadata_becomes_the_logs_usage_with_thinking_at_the_text_rate():
    meta = {
        "promptTokenCount": 130,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 10},
            {"modality": "IMAGE", "tokenCount": 120},
        ],
        "candidatesTokenCount": 1140,
        "candidatesTokensDetails": [
            {"modality": "IMAGE", "tokenCount": 1120},
            {"modality": "TEXT", "tokenCount": 20},
        ],
        "thoughtsTokenCount": 800,
    }
    assert gemini_usage(meta) == {
        "input_tokens": 130,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 120},
        "output_tokens": 1940,
        "output_tokens_details": {"image_tokens": 1120, "text_tokens": 820},
        "total_tokens": 2070,
    }
    # without details: the prompt is text, the candidates image tokens (never under-billed)
    assert gemini_usage({"promptTokenCount": 7, "candidatesTokenCount": 1290})["output_tokens_details"] == {
        "image_tokens": 1290,
        "text_tokens": 0,
    }


def test_a_safety_block_is_a_content_policy_error_that_is_never_retried(simulator_factory, tmp_path):
    sim = simulator_factory(faults=FaultPlan(["moderation"]))
    client = client_for(sim, tmp_path)
    with pytest.raises(ContentPolicyError) as caught:
        run(client, client.generate(ImageRequest(PRO, "x", provider="gemini-api")))
    assert caught.value.code == "PROHIBITED_CONTENT" and caught.value.may_be_billed  # its prompt tokens
    records = RequestLog(tmp_path / "log.jsonl").scan().collect().to_dicts()
    assert [(r["attempt"], r["outcome"], r["cost_method"]) for r in records] == [
        (1, "content_policy", "unknown")
    ]


def test_a_429_waits_for_its_retry_info_delay_and_is_retried(simulator_factory, tmp_path):
    sim = simulator_factory(faults=FaultPlan(["429", "ok"], retry_after_ms=50))
    client = client_for(sim, tmp_path)
    result = run(client, client.generate(ImageRequest(PRO, "x", provider="gemini-api")))
    first, second = result.attempts
    assert (first["outcome"], first["retry_after_s"], second["outcome"]) == ("rate_limit", 0.05, "ok")
    assert (second["started_at"] - first["ended_at"]).total_seconds() >= 0.05
    with pytest.raises(RateLimitError):  # and a lasting one ends the call with its class
        sim.reset(FaultPlan(["429"] * 3, retry_after_ms=1))
        run(client, client.generate(ImageRequest(PRO, "x", provider="gemini-api")))


def test_imagen_n_beyond_four_is_split_into_predict_calls(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    result = run(client, client.generate(ImageRequest("imagen-4", "a fox", provider="vertex-ai", n=6)))
    assert len(result.images) == 6 and [r["n"] for r in result.attempts] == [4, 2]
    assert [r.path for r in simulator.requests] == [
        "/gemini/v1/projects/imgkit-simulated/locations/global/publishers/google/models/imagen-4.0-generate-001:predict"
    ] * 2
    per_image = CAT.price("imagen-4", "vertex-ai").per_image[0].usd
    assert result.cost.total_usd == 6 * per_image and result.cost.method == "per_image_table"


def test_vertex_takes_its_project_location_and_token_from_the_environment(simulator, tmp_path, monkeypatch):
    template = CAT.provider("vertex-ai").base_url
    env = {"GOOGLE_CLOUD_PROJECT": "p1"}
    assert vertex_base_url(template, env).startswith(
        "https://aiplatform.googleapis.com/v1/projects/p1/locations/global/"
    )
    env["GOOGLE_CLOUD_LOCATION"] = "us-central1"
    assert vertex_base_url(template, env).startswith(
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/"
    )
    env["GOOGLE_CLOUD_LOCATION"] = "eu"
    assert vertex_base_url(template, env).startswith("https://aiplatform.eu.rep.googleapis.com/")
    with pytest.raises(MissingKeyError, match="GOOGLE_CLOUD_PROJECT"):
        vertex_base_url(template, {})
    token = "ya29.from-a-command-0123456789"
    monkeypatch.setenv("VERTEX_ACCESS_TOKEN_COMMAND", f"{sys.executable} -c \"print('{token}')\"")
    client = client_for(simulator, tmp_path, keys=None)  # the default resolver: environment, command, file
    result = run(client, client.generate(ImageRequest(PRO, "a cat", provider="vertex-ai")))
    assert result.ok and simulator.requests[-1].headers["authorization"] == "Bearer [REDACTED]"
    written = (tmp_path / "log.jsonl").read_text()
    assert token not in written and token[6:] not in written


def test_every_gemini_and_vertex_offering_answers_with_decodable_images(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    for provider, model in CAT.offerings:
        if provider not in ("gemini-api", "vertex-ai"):
            continue
        result = run(client, client.generate(ImageRequest(model, "a bowl of fruit", provider=provider)))
        assert result.ok and len(result.images) == 1, (provider, model)
        assert decoded(result.images[0].path.read_bytes()).format == "PNG"
        cost = result.cost
        assert (cost.total_usd is None and cost.unknown_reason) or cost.total_usd > 0, (provider, model)
