"""The simulated fal.ai protocol as fal's own Python client (``fal-client``) sees it, over loopback HTTP.

fal-client builds its URLs from two module constants (``https://queue.fal.run/`` and ``https://fal.run/``, or
the ``FAL_QUEUE_RUN_HOST`` / ``FAL_RUN_HOST`` hosts, always over https); the fixture points them at the
simulator's plain-HTTP roots. Everything else is the SDK as shipped: its polling, retries, status parsing,
error mapping and its httpx transport.
"""

from __future__ import annotations

import asyncio
import base64
import io

import fal_client
import fal_client.client
import httpx
import pytest
from PIL import Image

from imgkit.params import ImageRequest
from imgkit.providers import FAL_RUN_URL, ImageClient
from tests.protocol_client import CAT, client_for, run

KEY = "fal-simulator-test-key:0001"
HTTP = httpx.Client(timeout=10.0)


@pytest.fixture
def fal_sim(simulator_factory, monkeypatch):
    """A simulator whose fal jobs are queued on the first poll and in progress until the third."""
    sim = simulator_factory(fal_min_polls=3)
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", f"{sim.fal_base_url}/")
    monkeypatch.setattr(fal_client.client, "RUN_URL_FORMAT", f"{sim.fal_run_url}/")
    return sim


def decoded(image: dict) -> Image.Image:
    """The image behind a fal ``Image`` object (a URL the simulator serves), decoded by Pillow."""
    picture = Image.open(io.BytesIO(HTTP.get(image["url"]).content))
    picture.load()
    return picture


def assert_flux_result(result: dict, size: tuple[int, int], n: int = 1) -> None:
    assert set(result) == {"images", "seed", "has_nsfw_concepts", "timings", "prompt"}
    assert len(result["images"]) == n
    for image in result["images"]:
        assert (image["width"], image["height"]) == size
        picture = decoded(image)
        assert (picture.format, picture.size) == ("JPEG", size)


# --- sync client ---------------------------------------------------------------------------------------------


def test_subscribe_with_logs_sees_the_queue_then_logs_then_a_decodable_result(fal_sim):
    updates = []
    result = fal_client.SyncClient(key=KEY).subscribe(
        "fal-ai/flux/dev",
        {"prompt": "a lighthouse", "image_size": "landscape_16_9", "num_images": 2},
        with_logs=True,
        on_queue_update=updates.append,
        interval=0.01,
    )
    assert [type(u).__name__ for u in updates] == ["Queued", "InProgress", "Completed"]
    assert updates[0].position == 0
    for update in updates[1:]:  # fal_client asks with logs=true: the simulator must answer with logs
        assert update.logs and {"message", "level", "source", "timestamp"} <= set(update.logs[0])
    assert updates[2].metrics["inference_time"] is not None and updates[2].error is None
    assert_flux_result(result, (1024, 576), n=2)


def test_status_without_logs_has_none(fal_sim):
    client = fal_client.SyncClient(key=KEY)
    handle = client.submit("fal-ai/flux/schnell", {"prompt": "x"})
    client.status("fal-ai/flux/schnell", handle.request_id)  # queued
    assert client.status("fal-ai/flux/schnell", handle.request_id).logs is None


def test_submit_status_result_by_request_id(fal_sim):
    client = fal_client.SyncClient(key=KEY)
    handle = client.submit("fal-ai/flux/schnell", {"prompt": "a cabin", "image_size": "square"})
    statuses = [client.status("fal-ai/flux/schnell", handle.request_id, with_logs=True) for _ in range(3)]
    assert isinstance(statuses[-1], fal_client.Completed)
    assert_flux_result(client.result("fal-ai/flux/schnell", handle.request_id), (512, 512))


def test_run_answers_with_the_result_directly(fal_sim):
    result = fal_client.SyncClient(key=KEY).run("fal-ai/flux/dev", {"prompt": "a cabin", "seed": 7})
    assert_flux_result(result, (1024, 768))  # landscape_4_3, the endpoint's default
    assert (result["seed"], result["prompt"]) == (7, "a cabin")
    (recorded,) = [r for r in fal_sim.requests if r.kind == "fal_run"]
    assert (recorded.path, recorded.status, recorded.model) == ("/fal-run/fal-ai/flux/dev", 200, "flux-1-dev")


def test_run_of_a_gpt_image_endpoint_returns_images_only(fal_sim):
    result = fal_client.SyncClient(key=KEY).run(
        "fal-ai/gpt-image-1.5", {"prompt": "x", "image_size": "1536x1024", "output_format": "png"}
    )
    assert set(result) == {"images"}
    picture = decoded(result["images"][0])
    assert (picture.format, picture.size) == ("PNG", (1536, 1024))


def test_run_with_sync_mode_returns_a_data_uri(fal_sim):
    result = fal_client.SyncClient(key=KEY).run(
        "fal-ai/flux/schnell", {"prompt": "x", "image_size": "square", "sync_mode": True}
    )
    head, _, payload = result["images"][0]["url"].partition(",")
    assert head == "data:image/jpeg;base64"
    assert Image.open(io.BytesIO(base64.b64decode(payload))).size == (512, 512)


# --- errors, as fal_client raises them ------------------------------------------------------------------------

GPT_SIZES = "'auto', '1024x1024', '1536x1024' or '1024x1536'"


def assert_fal_image_size_error(exc: fal_client.FalClientHTTPError, given: object) -> None:
    assert exc.status_code == 422
    (detail,) = exc.message  # fal_client's message is the body's `detail`: a list for validation errors
    assert detail["loc"] == ["body", "image_size"]
    assert detail["type"] == "enum" and detail["input"] == given
    assert detail["msg"] == f"Input should be {GPT_SIZES}"
    assert detail["ctx"] == {"expected": GPT_SIZES}
    assert "'size'" not in detail["msg"] and "Supported values" not in detail["msg"]  # not OpenAI's wording


@pytest.mark.parametrize("given", [{"width": 800, "height": 600}, "800x600"])
def test_a_bad_image_size_is_a_fal_422_about_image_size_through_run(fal_sim, given):
    with pytest.raises(fal_client.FalClientHTTPError) as err:
        fal_client.SyncClient(key=KEY).run("fal-ai/gpt-image-1.5", {"prompt": "x", "image_size": given})
    assert_fal_image_size_error(err.value, given)


def test_a_bad_image_size_completes_with_an_error_and_raises_on_the_result(fal_sim):
    given = {"width": 800, "height": 600}
    updates = []
    with pytest.raises(fal_client.FalClientHTTPError) as err:
        fal_client.SyncClient(key=KEY).subscribe(
            "fal-ai/gpt-image-1.5",
            {"prompt": "x", "image_size": given},
            on_queue_update=updates.append,
            interval=0.01,
        )
    assert updates[-1].error_type == "enum" and "image_size" not in updates[-1].error  # the msg only
    assert_fal_image_size_error(err.value, given)


def test_a_flux_size_beyond_the_limits_names_image_size_and_the_limit(fal_sim):
    with pytest.raises(fal_client.FalClientHTTPError) as err:
        fal_client.SyncClient(key=KEY).run(
            "fal-ai/flux/dev", {"prompt": "x", "image_size": {"width": 4096, "height": 1024}}
        )
    (detail,) = err.value.message
    assert (err.value.status_code, detail["loc"], detail["type"]) == (
        422,
        ["body", "image_size"],
        "value_error",
    )
    assert "4096x1024" in detail["msg"] and "at most 2048 px" in detail["msg"]


def test_an_infrastructure_error_of_a_run_has_its_error_type(fal_sim):
    fal_sim.faults.fail_next(1, "500")
    with pytest.raises(fal_client.FalClientHTTPError) as err:
        fal_client.SyncClient(key=KEY).run("fal-ai/flux/dev", {"prompt": "x"})
    assert (err.value.status_code, err.value.error_type) == (500, "runner_server_error")
    assert isinstance(err.value.message, str)


def test_run_retries_a_429_and_succeeds(fal_sim):
    fal_sim.faults.fail_next(1, "429")
    result = fal_client.SyncClient(key=KEY).run("fal-ai/flux/schnell", {"prompt": "x"})
    assert_flux_result(result, (1024, 768))
    assert [r.status for r in fal_sim.requests if r.kind == "fal_run"] == [429, 200]


def test_a_cancelled_job_reports_no_inference_time(simulator_factory, monkeypatch):
    sim = simulator_factory(fal_min_polls=3, time_scale=1.0)  # a job of real-size latency, cancelled at once
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", f"{sim.fal_base_url}/")
    client = fal_client.SyncClient(key=KEY)
    handle = client.submit("fal-ai/flux/dev", {"prompt": "x"})
    handle.cancel()
    status = handle.status(with_logs=True)
    assert isinstance(status, fal_client.Completed)
    assert status.error_type == "client_cancelled"
    assert status.metrics == {"inference_time": None}
    with pytest.raises(fal_client.FalClientHTTPError) as err:
        handle.get(interval=0.01)
    assert (err.value.status_code, err.value.error_type) == (499, "client_cancelled")


# --- async client ---------------------------------------------------------------------------------------------


def test_async_subscribe_submit_status_result_and_run(fal_sim):
    async def scenario() -> tuple[list, dict, list, dict, dict]:
        client = fal_client.AsyncClient(key=KEY)
        updates: list = []
        subscribed = await client.subscribe(
            "fal-ai/flux/dev",
            {"prompt": "a lighthouse", "image_size": "portrait_4_3"},
            with_logs=True,
            on_queue_update=updates.append,
            interval=0.01,
        )
        handle = await client.submit("fal-ai/flux/schnell", {"prompt": "x", "image_size": "square_hd"})
        statuses = [await handle.status(with_logs=True) for _ in range(3)]
        fetched = await client.result("fal-ai/flux/schnell", handle.request_id)
        ran = await client.run("fal-ai/flux/schnell", {"prompt": "x", "image_size": "landscape_4_3"})
        return updates, subscribed, statuses, fetched, ran

    updates, subscribed, statuses, fetched, ran = asyncio.run(scenario())
    assert [type(u).__name__ for u in updates] == ["Queued", "InProgress", "Completed"]
    assert all(u.logs for u in updates[1:])
    assert_flux_result(subscribed, (768, 1024))
    assert isinstance(statuses[-1], fal_client.Completed) and statuses[-1].logs
    assert_flux_result(fetched, (1024, 1024))
    assert_flux_result(ran, (1024, 768))


def test_async_run_raises_the_fal_error_shape(fal_sim):
    async def scenario() -> None:
        await fal_client.AsyncClient(key=KEY).run(
            "fal-ai/gpt-image-1.5", {"prompt": "x", "image_size": {"width": 800, "height": 600}}
        )

    with pytest.raises(fal_client.FalClientHTTPError) as err:
        asyncio.run(scenario())
    assert_fal_image_size_error(err.value, {"width": 800, "height": 600})


# --- the market's newer endpoints, and imgkit's adapter on the run endpoint -----------------------------------


def test_nano_banana_pro_is_sized_by_aspect_ratio_and_resolution(fal_sim):
    result = fal_client.SyncClient(key=KEY).subscribe(
        "fal-ai/nano-banana-pro",
        {"prompt": "a kite", "aspect_ratio": "16:9", "resolution": "2K"},
        interval=0.01,
    )
    [image] = result["images"]
    expected = CAT.offered_model("gemini-3-pro-image", "fal").sizes.aspect_ratios["16:9"]["2K"]
    picture = decoded(image)
    assert (picture.format, f"{picture.width}x{picture.height}") == (
        "PNG",
        expected,
    )  # the model makes PNG only
    with pytest.raises(fal_client.FalClientHTTPError) as err:
        fal_client.SyncClient(key=KEY).run("fal-ai/nano-banana-pro", {"prompt": "x", "aspect_ratio": "7:3"})
    assert err.value.status_code == 422 and "aspect_ratio" in str(err.value)


def test_seedream_and_flux_2_endpoints_take_custom_sizes(fal_sim):
    client = fal_client.SyncClient(key=KEY)
    seedream = client.run(
        "fal-ai/bytedance/seedream/v4.5/text-to-image",
        {"prompt": "x", "image_size": {"width": 2560, "height": 1440}},
    )
    assert decoded(seedream["images"][0]).size == (2560, 1440)  # its minimum: 3,686,400 pixels
    flux2 = client.subscribe(
        "fal-ai/flux-2-pro", {"prompt": "x", "image_size": "portrait_16_9"}, interval=0.01
    )
    assert decoded(flux2["images"][0]).size == (576, 1024)


def test_imgkit_can_use_the_run_endpoint_instead_of_the_queue(simulator, tmp_path):
    client = client_for(simulator, tmp_path, fal_sync=True)
    result = run(
        client, client.generate(ImageRequest("flux-2-pro", "a cabin", provider="fal", size="1024x768"))
    )
    assert [(i.width, i.height) for i in result.images] == [(1024, 768)]
    assert [r.kind for r in simulator.requests] == ["fal_run", "file"]
    assert (
        result.cost.method == "per_megapixel"
        and result.cost.total_usd == CAT.price("flux-2-pro", "fal").megapixels[0].first_mp_usd
    )  # 0.79 fal megapixels, billed as the first one
    assert ImageClient(fal_sync=True).base_url(CAT.provider("fal")) == FAL_RUN_URL
