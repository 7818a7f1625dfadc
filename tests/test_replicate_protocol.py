"""Replicate's predictions API over loopback: the official ``replicate`` SDK against the simulator, then imgkit's
adapter (synchronous mode, polling, cancel, failures and bills from the catalog).

replicate-python takes ``http://HOST:PORT/replicate`` as its ``base_url`` and adds ``/v1/...`` itself; it needs
``id``, ``model``, ``version`` and ``status`` in every prediction, treats any status but ``starting`` as final
after a ``Prefer: wait`` create, and turns only ``https:`` and ``data:`` outputs into ``FileOutput``.
"""

from __future__ import annotations

import httpx
import pytest
import replicate
from replicate.exceptions import ModelError, ReplicateError

from imgkit.errors import ContentPolicyError, ProviderTimeoutError
from imgkit.params import ImageRequest, inspect_image
from imgkit.providers import Polling
from imgkit.records.journal import RequestLog
from imgkit.simulator import FaultPlan
from tests.protocol_client import CAT, client_for, decoded, png_bytes, run

TOKEN = "r8_loopback_test_token_0001"
SCHNELL = "black-forest-labs/flux-schnell"


@pytest.fixture(autouse=True)
def _fast_sdk_polls(monkeypatch):
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")


def sdk(sim) -> replicate.Client:
    return replicate.Client(api_token=TOKEN, base_url=sim.replicate_base_url)


# --- the official SDK ----------------------------------------------------------------------------------------


def test_run_waits_and_returns_file_outputs_that_decode(simulator):
    output = sdk(simulator).run(SCHNELL, input={"prompt": "a cube", "num_outputs": 2, "aspect_ratio": "16:9"})
    assert [type(o).__name__ for o in output] == ["FileOutput", "FileOutput"]
    size = tuple(
        map(
            int, CAT.offered_model("flux-1-schnell", "replicate").sizes.aspect_ratios["16:9"]["1K"].split("x")
        )
    )
    for item in output:
        picture = decoded(item.read())
        assert (picture.format, picture.size) == ("WEBP", size)  # Replicate's default output_format
    [rec] = simulator.requests  # synchronous mode: one request, no poll
    assert (rec.path, rec.kind) == (f"/replicate/v1/models/{SCHNELL}/predictions", "replicate_create")
    assert rec.headers["authorization"] == "Bearer [REDACTED]" and rec.headers["prefer"] == "wait"


def test_predictions_create_then_wait_polls_until_succeeded(simulator_factory):
    sim = simulator_factory(min_polls=3)
    client = sdk(sim)
    prediction = client.predictions.create(model=SCHNELL, input={"prompt": "a cabin", "output_format": "png"})
    assert prediction.status == "starting" and prediction.output is None
    prediction.wait()
    assert prediction.status == "succeeded" and prediction.metrics["predict_time"] > 0
    [url] = prediction.output
    assert decoded(httpx.get(url).content).format == "PNG"
    assert [r.kind for r in sim.requests][:4] == ["replicate_create", *["replicate_get"] * 3]


def test_run_with_a_version_creates_by_version_then_reads_its_schema(simulator):
    client = sdk(simulator)
    model = client.models.get(SCHNELL)
    output = client.run(f"{SCHNELL}:{model.latest_version.id}", input={"prompt": "a boat"})
    assert decoded(output[0].read()).size == (1024, 1024)
    assert [r.path for r in simulator.requests][-2:] == [
        "/replicate/v1/predictions",
        f"/replicate/v1/models/{SCHNELL}/versions/{model.latest_version.id}",
    ]


def test_a_prediction_can_be_cancelled(simulator_factory):
    sim = simulator_factory(min_polls=5)
    client = sdk(sim)
    prediction = client.predictions.create(model=SCHNELL, input={"prompt": "x"})
    prediction.cancel()
    assert prediction.status == "canceled"


def test_an_nsfw_failure_is_the_sdks_model_error(simulator_factory):
    sim = simulator_factory(faults=FaultPlan(["moderation"]))
    with pytest.raises(ModelError, match="NSFW content detected"):
        sdk(sim).run(SCHNELL, input={"prompt": "x"})


@pytest.mark.parametrize(("fault", "status"), [("429", 429), ("auth", 401), ("500", 500), ("503", 503)])
def test_http_errors_are_replicate_errors_with_problem_details(simulator_factory, fault, status):
    sim = simulator_factory(faults=FaultPlan([fault], retry_after_ms=1))
    with pytest.raises(ReplicateError) as caught:
        sdk(sim).predictions.create(model=SCHNELL, input={"prompt": "x"})
    assert caught.value.status == status and caught.value.title


def test_invalid_input_is_a_422_naming_the_field(simulator):
    with pytest.raises(ReplicateError) as caught:
        sdk(simulator).predictions.create(model=SCHNELL, input={"prompt": "x", "num_outputs": 9})
    assert caught.value.status == 422 and "input.num_outputs" in caught.value.detail


# --- imgkit's adapter ----------------------------------------------------------------------------------------


def test_imgkit_gets_outputs_in_synchronous_mode_and_bills_per_image(simulator, tmp_path):
    client = client_for(simulator, tmp_path)
    result = run(client, client.generate(ImageRequest("flux-1-schnell", "a fox", provider="replicate", n=3)))
    assert len(result.images) == 3 and len(simulator.requests) == 1  # no poll, no download
    per_image = CAT.price("flux-1-schnell", "replicate").per_image[0].usd
    assert result.cost.total_usd == 3 * per_image and result.cost.method == "per_image_table"
    assert result.request_id == simulator.requests[0].request_id


def test_imgkit_polls_a_prediction_not_done_in_the_wait_window_and_downloads_without_the_token(
    simulator_factory, tmp_path
):
    sim = simulator_factory(min_polls=3)
    client = client_for(sim, tmp_path)
    result = run(client, client.generate(ImageRequest("flux-2-max", "a fox", provider="replicate")))
    kinds = [r.kind for r in sim.requests]
    assert kinds == ["replicate_create", "replicate_get", "replicate_get", "replicate_get", "file"]
    assert "authorization" not in sim.requests[-1].headers  # output files are fetched without credentials
    # $0.04 per run + $0.03 per (fractional) megapixel: 0.04 + 1.048576 x 0.03
    assert str(result.cost.total_usd) == "0.07145728" and result.cost.method == "per_megapixel"
    [row] = RequestLog(tmp_path / "log.jsonl").scan().collect().to_dicts()
    assert row["ttfb_ms"] <= row["latency_ms"] and row["request_id"] == sim.requests[0].request_id


def test_an_edit_sends_its_inputs_as_data_uris(simulator, tmp_path):
    edit = inspect_image(png_bytes(800, 600), name="photo.png")
    request = ImageRequest(
        "flux-2-max", "make it snow", provider="replicate", mode="edit", input_images=(edit,)
    )
    client = client_for(simulator, tmp_path)
    result = run(client, client.generate(request))
    assert result.ok
    sent = result.attempts[-1]["resolved_params"]
    assert sent["input"]["input_images"] == ["photo.png"]  # the log names the input, never its bytes


def test_an_nsfw_failure_is_a_content_policy_error_that_may_be_billed(simulator_factory, tmp_path):
    sim = simulator_factory(faults=FaultPlan(["moderation"]))
    client = client_for(sim, tmp_path)
    with pytest.raises(ContentPolicyError, match="NSFW") as caught:
        run(client, client.generate(ImageRequest("flux-1-schnell", "x", provider="replicate")))
    assert caught.value.may_be_billed and len(sim.requests) == 1  # never retried


def test_a_prediction_past_its_time_limit_is_cancelled(simulator_factory, tmp_path):
    sim = simulator_factory(min_polls=1000)
    client = client_for(
        sim, tmp_path, polling=Polling(poll_interval_s=0.001, poll_max_interval_s=0.002, timeout_s=0.05)
    )
    with pytest.raises(ProviderTimeoutError, match="did not finish") as caught:
        run(client, client.generate(ImageRequest("flux-1-schnell", "x", provider="replicate")))
    assert sim.requests[-1].kind == "replicate_cancel" and caught.value.may_be_billed
