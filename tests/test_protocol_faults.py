"""Every fault the simulator injects, on every protocol added beside OpenAI and fal, ends classified with a
complete log: no request is lost, no key is written, a retry is a new attempt, and the budget holds."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import polars as pl
import pytest

from imgkit.money import Budget
from imgkit.params import ImageRequest, resolve
from imgkit.pricing import quote_request
from imgkit.records.journal import RequestLog
from imgkit.simulator import FAULT_KINDS, FaultPlan
from tests.protocol_client import CAT, TEST_KEYS, client_for, run

ERROR_CLASSES = {
    "rate_limit",
    "timeout",
    "unavailable",
    "content_policy",
    "bad_request",
    "authentication",
    "malformed_response",
}
REQUESTS = {
    "gemini-api": ImageRequest("gemini-3.1-flash-image", "a lighthouse", provider="gemini-api"),
    "vertex-ai": ImageRequest("gemini-3-pro-image", "a lighthouse", provider="vertex-ai"),
    "bfl": ImageRequest("flux-2-pro", "a lighthouse", provider="bfl"),
    "replicate": ImageRequest("flux-1-schnell", "a lighthouse", provider="replicate"),
    "together": ImageRequest("flux-1-schnell", "a lighthouse", provider="together"),
}


@pytest.mark.parametrize("provider", sorted(REQUESTS))
def test_every_fault_kind_ends_classified_with_a_complete_log(simulator_factory, tmp_path, provider):
    script = [kind for kind in FAULT_KINDS for _ in range(2)]  # each kind twice, then successes
    sim = simulator_factory(faults=FaultPlan(script, retry_after_ms=5, hang_s=2), seed=3)
    client = client_for(sim, tmp_path, timeout=httpx.Timeout(2.0, read=0.5))
    resolved = resolve(REQUESTS[provider], CAT)

    async def everything():
        out = []
        for i in range(len(script) // 2 + 4):  # one at a time: each script entry meets a known request
            out.append(await client.generate(resolved, item_id=f"i{i}", raise_on_error=False))
        return out

    results = run(client, everything())
    rows = RequestLog(tmp_path / "log.jsonl").scan().collect()
    assert rows.height == sum(len(r.attempts) for r in results)
    assert set(rows["outcome"]) - {"ok"} <= ERROR_CLASSES and rows["outcome"].null_count() == 0
    for result in results:
        mine = rows.filter(pl.col("item_id") == result.item_id).sort("attempt")
        assert mine["final"].to_list() == [False] * (mine.height - 1) + [True]
        assert (mine["outcome"][-1] == "ok") is result.ok
        if not result.ok:
            assert result.error.error_class == mine["outcome"][-1]
    outcomes = set(rows["outcome"])
    assert {"ok", "rate_limit", "authentication", "content_policy"} <= outcomes
    assert outcomes & {"unavailable", "timeout", "malformed_response"}
    assert results[-1].ok  # the script is spent: the provider answers again
    written = (tmp_path / "log.jsonl").read_text()
    assert TEST_KEYS[provider] not in written and TEST_KEYS[provider][8:] not in written
    for rec in sim.requests:  # the simulator's own records redact the credential headers too
        assert TEST_KEYS[provider] not in json.dumps(rec.headers)


@pytest.mark.parametrize("provider", sorted(REQUESTS))
def test_the_budget_holds_when_faults_leave_bills_unknown(simulator_factory, tmp_path, provider):
    sim = simulator_factory(faults=FaultPlan(fault_rate=0.5, retry_after_ms=1, hang_s=1), seed=11)
    client = client_for(sim, tmp_path, timeout=httpx.Timeout(2.0, read=0.3))
    resolved = resolve(REQUESTS[provider], CAT)
    quote = quote_request(resolved.priced()).reserve_usd  # what each attempt reserves
    budget = Budget(quote * 6)

    async def many():
        return await asyncio.gather(
            *(client.generate(resolved, raise_on_error=False, budget=budget) for _ in range(12)),
            return_exceptions=True,
        )

    run(client, many())
    assert budget.committed_usd <= quote * 6
    rows = RequestLog(tmp_path / "log.jsonl").scan(include_sent=True).collect()
    final = rows.filter(pl.col("final") & (pl.col("outcome") != "sent"))
    spent = sum(
        (r["actual_cost_usd"] if r["actual_cost_usd"] is not None else r["estimated_cost_usd"] or Decimal(0))
        for r in final.to_dicts()
        if r["cost_method"] != "not_billed"
    )
    assert spent <= quote * 6
