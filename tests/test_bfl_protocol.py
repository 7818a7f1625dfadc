"""Black Forest Labs' API over loopback. BFL has no official Python SDK (the ``blackforest`` PyPI client only knows
FLUX.1 and drops a base URL's path), so its documented protocol is tested with plain HTTP: submit, poll the
``polling_url``, read ``result.sample``; then imgkit's adapter (the task's own cost as the bill, moderation, the
polling URL's host, BFL's 24 active tasks).
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest

from imgkit.errors import ContentPolicyError, MalformedResponseError
from imgkit.params import ImageRequest, inspect_image
from imgkit.pricing import cost_from_record
from imgkit.providers import ImageClient, RateLimit
from imgkit.records.journal import RequestLog
from imgkit.simulator import FaultPlan
from tests.protocol_client import CAT, TEST_KEYS, client_for, decoded, png_bytes, run

KEY = {"x-key": "bfl-loopback-test-key-0001"}


def submit(sim, model: str, body: dict, headers=KEY) -> httpx.Response:
    return httpx.post(f"{sim.bfl_base_url}/v1/{model}", json=body, headers=headers)


def poll(url: str) -> dict:
    return httpx.get(url, headers=KEY).json()


# --- the documented protocol over plain HTTP ------------------------------------------------------------------


def test_a_task_is_pending_then_ready_with_a_sample_of_the_size_asked(simulator_factory):
    sim = simulator_factory(min_polls=3)
    task = submit(
        sim, "flux-2-pro", {"prompt": "a fox", "width": 1024, "height": 1024, "output_format": "png"}
    ).json()
    assert task["polling_url"] == f"{sim.bfl_base_url}/v1/get_result?id={task['id']}"
    # 3 credits for the first megapixel, 1.5 per additional one, counted fractionally (BFL's rounding is unpublished)
    assert Decimal(str(task["cost"])) == Decimal("3") + Decimal("0.048576") * Decimal("1.5")
    assert (task["input_mp"], task["output_mp"]) == (0, 1.0486)
    statuses = [poll(task["polling_url"]) for _ in range(3)]
    assert [s["status"] for s in statuses] == ["Pending", "Pending", "Ready"]
    assert statuses[0]["progress"] is not None and statuses[2]["result"]["seed"] is not None
    picture = decoded(httpx.get(statuses[2]["result"]["sample"]).content)
    assert (picture.format, picture.size) == ("PNG", (1024, 1024))


def test_kontext_takes_an_aspect_ratio_and_a_base64_input_image(simulator):
    b64 = __import__("base64").b64encode(png_bytes(300, 200)).decode()
    task = submit(
        simulator, "flux-kontext-pro", {"prompt": "make it red", "aspect_ratio": "16:9", "input_image": b64}
    )
    assert Decimal(str(task.json()["cost"])) == 4  # 4 credits per image
    sample = poll(task.json()["polling_url"])["result"]["sample"]
    ratio = CAT.offered_model("flux-1-kontext-pro", "bfl").sizes.aspect_ratios["16:9"]["1K"]
    assert decoded(httpx.get(sample).content).size == tuple(map(int, ratio.split("x")))


def test_errors_are_bfls_detail_shapes(simulator):
    assert submit(simulator, "flux-2-pro", {"prompt": "x"}, headers={}).json() == {
        "detail": "Not authenticated"
    }
    bad = submit(simulator, "flux-2-pro", {"prompt": "x", "width": 1000, "height": 1024})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "width"]
    assert submit(simulator, "flux-9-nonexistent", {"prompt": "x"}).status_code == 404
    missing = poll(f"{simulator.bfl_base_url}/v1/get_result?id=no-such-task")
    assert missing["status"] == "Task not found"


def test_a_25th_active_task_of_one_key_is_a_429(simulator_factory):
    sim = simulator_factory(min_polls=100)
    answers = [submit(sim, "flux-2-klein-4b", {"prompt": f"p{i}"}) for i in range(25)]
    assert [a.status_code for a in answers] == [200] * 24 + [429]
    assert "24" in answers[-1].json()["detail"] and "retry-after" in answers[-1].headers
    other_key = {"x-key": "another-bfl-key-0000000"}
    assert submit(sim, "flux-2-klein-4b", {"prompt": "x"}, headers=other_key).status_code == 200


def test_the_root_paths_serve_bfls_own_client_which_drops_the_prefix(simulator):
    task = httpx.post(f"{simulator.url}/v1/flux-pro-1.1", json={"prompt": "x"}, headers=KEY).json()
    assert task["polling_url"] == f"{simulator.url}/v1/get_result?id={task['id']}"
    assert poll(task["polling_url"])["status"] == "Ready"


@pytest.mark.parametrize(("fault", "status"), [("moderation", "Content Moderated"), ("500", "Error")])
def test_failures_after_submit_are_task_statuses(simulator_factory, fault, status):
    sim = simulator_factory(faults=FaultPlan([fault]))
    task = submit(sim, "flux-2-pro", {"prompt": "x"}).json()
    answer = poll(task["polling_url"])
    assert answer["status"] == status and answer["result"] is None and answer["details"]


# --- imgkit's adapter ----------------------------------------------------------------------------------------


def test_imgkit_bills_the_tasks_own_cost_and_a_recost_keeps_it(simulator_factory, tmp_path):
    sim = simulator_factory(min_polls=2)
    edit = inspect_image(png_bytes(1000, 1000), name="room.png")
    request = ImageRequest("flux-2-pro", "make it night", provider="bfl", mode="edit", input_images=(edit,))
    client = client_for(sim, tmp_path)
    result = run(client, client.generate(request))
    # 3 credits + 0.048576 additional MP x 1.5 + 1.0 input MP x 1.5, at $0.01 a credit
    assert result.cost.total_usd == Decimal("0.04572864") and result.cost.method == "provider_charge"
    # the catalog alone can only give a range here (BFL's megapixel rounding is unpublished)
    assert result.estimated_cost.total_usd is None and result.estimated_cost.high_usd > result.cost.total_usd
    [row] = RequestLog(tmp_path / "log.jsonl").scan().collect().to_dicts()
    assert (row["cost_method"], row["actual_cost_usd"]) == ("provider_charge", Decimal("0.04572864"))
    assert cost_from_record(row).total_usd == Decimal("0.04572864")
    assert row["resolved_params"] and json.loads(row["resolved_params"])["input_image"] == ["room.png"]
    assert [r.kind for r in sim.requests] == ["bfl_submit", "bfl_result", "bfl_result", "file"]
    assert "x-key" not in sim.requests[-1].headers  # the sample is downloaded without the key
    assert sim.requests[0].headers["x-key"] == "[REDACTED]"  # and the simulator never records it


def test_content_moderation_is_a_content_policy_error_and_a_task_error_is_retried(
    simulator_factory, tmp_path
):
    sim = simulator_factory(faults=FaultPlan(["moderation", "500", "ok"]))
    client = client_for(sim, tmp_path)
    with pytest.raises(ContentPolicyError, match="Content Moderated") as caught:
        run(client, client.generate(ImageRequest("flux-2-pro", "x", provider="bfl")))
    assert caught.value.may_be_billed
    client = client_for(sim, tmp_path / "second")
    result = run(client, client.generate(ImageRequest("flux-2-pro", "x", provider="bfl")))
    assert [r["outcome"] for r in result.attempts] == ["unavailable", "ok"]


def test_the_key_goes_only_to_polling_urls_on_bfl_hosts(tmp_path):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("x-key")))
        if request.method == "POST":
            host = "api.eu2.bfl.ai" if request.url.path.endswith("klein-4b") else "bfl.attacker.example"
            return httpx.Response(
                200, json={"id": "t1", "polling_url": f"https://{host}/v1/get_result?id=t1"}
            )
        if request.url.path == "/v1/get_result":
            return httpx.Response(
                200,
                json={"id": "t1", "status": "Ready", "result": {"sample": "https://delivery.bfl.ai/s.png"}},
            )
        return httpx.Response(200, content=png_bytes(64, 64), headers={"content-type": "image/png"})

    async def both():
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        client = ImageClient(
            keys=TEST_KEYS, http=http, store=tmp_path / "images", limits={"bfl": RateLimit()}
        )
        ok = await client.generate(ImageRequest("flux-2-klein-4b", "x", provider="bfl"))
        with pytest.raises(MalformedResponseError, match="the key is not sent elsewhere"):
            await client.generate(ImageRequest("flux-2-klein-9b", "x", provider="bfl"))
        await http.aclose()
        return ok

    assert asyncio.run(both()).ok
    key = TEST_KEYS["bfl"]
    assert seen[:3] == [("api.bfl.ai", key), ("api.eu2.bfl.ai", key), ("delivery.bfl.ai", None)]
    assert seen[3:] == [("api.bfl.ai", key)]  # nothing was sent to the other host


def test_the_catalogs_24_task_cap_keeps_40_requests_clear_of_429s(simulator_factory, tmp_path):
    assert RateLimit.from_provider(CAT.provider("bfl")).concurrency == 24
    sim = simulator_factory(min_polls=3)
    client = client_for(sim, tmp_path, limits={}, retry=None)  # the catalog's limits

    async def many():
        return await asyncio.gather(
            *(client.generate(ImageRequest("flux-2-klein-4b", f"p{i}", provider="bfl")) for i in range(40))
        )

    results = run(client, many())
    assert all(r.ok and len(r.attempts) == 1 for r in results)
    assert not [r for r in sim.requests if r.status == 429]
