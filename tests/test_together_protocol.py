"""Together AI's image generation over loopback: the official ``together`` SDK against the simulator, then imgkit's
adapter. The SDK takes ``http://HOST:PORT/together`` as its ``base_url`` and adds ``/v1/images/generations``;
Together's ``response_format`` is ``base64`` or ``url`` (not OpenAI's ``b64_json``) and items carry a ``type``.
"""

from __future__ import annotations

import base64

import httpx
import pytest
import together

from imgkit.errors import ContentPolicyError
from imgkit.params import ImageRequest
from imgkit.simulator import FaultPlan
from tests.protocol_client import CAT, client_for, decoded, run

KEY = "together-loopback-test-key-0001"
SCHNELL = "black-forest-labs/FLUX.1-schnell"


def sdk(sim, **kw) -> together.Together:
    return together.Together(api_key=KEY, base_url=sim.together_base_url, **kw)


def test_images_generate_with_base64_returns_images_that_decode(simulator):
    response = sdk(simulator).images.generate(
        model=SCHNELL, prompt="a lighthouse", width=1024, height=768, n=2, steps=4, response_format="base64"
    )
    assert [item.type for item in response.data] == ["b64_json", "b64_json"]
    for item in response.data:
        picture = decoded(base64.b64decode(item.b64_json))
        assert (picture.format, picture.size) == ("JPEG", (1024, 768))  # Together's default output_format
    [rec] = simulator.requests
    assert (rec.path, rec.model) == ("/together/v1/images/generations", "flux-1-schnell")
    assert rec.headers["authorization"] == "Bearer [REDACTED]"


def test_url_responses_point_at_files_the_server_serves(simulator):
    response = sdk(simulator).images.generate(model=SCHNELL, prompt="x", output_format="png")
    [item] = response.data
    assert item.type == "url" and decoded(httpx.get(item.url).content).format == "PNG"


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        ("429", together.RateLimitError),
        ("auth", together.AuthenticationError),
        ("moderation", together.UnprocessableEntityError),
        ("500", together.InternalServerError),
    ],
)
def test_faults_surface_as_the_sdks_own_exceptions(simulator_factory, fault, cls):
    sim = simulator_factory(faults=FaultPlan([fault] * 3, retry_after_ms=1))
    with pytest.raises(cls):
        sdk(sim, max_retries=0).images.generate(model=SCHNELL, prompt="x", response_format="base64")


def test_openais_b64_json_and_sizes_beyond_the_limits_are_refused(simulator):
    client = sdk(simulator, max_retries=0)
    with pytest.raises(together.UnprocessableEntityError, match="response_format"):
        client.images.generate(model=SCHNELL, prompt="x", response_format="b64_json")
    with pytest.raises(together.UnprocessableEntityError, match="width"):
        client.images.generate(model=SCHNELL, prompt="x", width=4096, height=1024)


def test_imgkit_asks_for_base64_and_bills_the_catalogs_price(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    result = run(client, client.generate(ImageRequest("flux-1-schnell", "a fox", provider="together", n=2)))
    assert [(i.width, i.height, i.format) for i in result.images] == [(1024, 1024, "jpeg")] * 2
    assert result.attempts[-1]["resolved_params"]["response_format"] == "base64"
    per_image = CAT.price("flux-1-schnell", "together").per_image[0].usd
    assert result.cost.total_usd == 2 * per_image and result.cost.method == "per_image_table"
    assert result.request_id == simulator.requests[-1].request_id


def test_a_safety_checker_block_is_a_content_policy_error(simulator_factory, tmp_path):
    sim = simulator_factory(faults=FaultPlan(["moderation"]))
    client = client_for(sim, tmp_path)
    with pytest.raises(ContentPolicyError):
        run(client, client.generate(ImageRequest("flux-1-dev", "x", provider="together")))
    assert len(sim.requests) == 1
