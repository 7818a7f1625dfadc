"""Experiment specs are validated before anything runs; the budget ledger never overshoots."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from imgkit.errors import BudgetExceededError, SpecError
from imgkit.money import Budget
from imgkit.runs.spec import load_spec

GOOD = """
name: tiers
prompts:
  - {id: fox, text: "A red fox in snow", category: animals}
  - {file: more.csv}
targets:
  - {model: gpt-image-1-mini, provider: openai, quality: [low, medium, high], size: 1024x1024}
  - {model: flux-1-schnell, provider: fal, aspect_ratio: "16:9", n: 2}
repeats: 2
budget_usd: "1.50"
"""


def _write(tmp_path, text, name="spec.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_matrix_expands_and_items_are_stable(tmp_path):
    (tmp_path / "more.csv").write_text("id,text,category\nowl,An owl at dusk,animals\n")
    spec = load_spec(_write(tmp_path, GOOD))
    assert [t.label for t in spec.targets] == [
        "gpt-image-1-mini/openai/low/1024x1024",
        "gpt-image-1-mini/openai/medium/1024x1024",
        "gpt-image-1-mini/openai/high/1024x1024",
        "flux-1-schnell/fal/16:9/n2",
    ]
    items = list(spec.items())
    assert spec.n_items == len(items) == 4 * 2 * 2
    assert len({i.item_id for i in items}) == len(items)
    assert [i.item_id for i in load_spec(tmp_path / "spec.yaml").items()] == [i.item_id for i in items]
    assert spec.budget_usd == Decimal("1.50")


@pytest.mark.parametrize(
    ("text", "key_path", "problem"),
    [
        (GOOD.replace("repeats: 2", "repeats: 0"), "repeats", "greater than or equal to 1"),
        (GOOD.replace('budget_usd: "1.50"', "budget_usd: -1"), "budget_usd", "greater than or equal to 0"),
        (
            GOOD.replace("quality: [low", "qualiti: [low"),
            "targets[0].qualiti",
            "Extra inputs are not permitted",
        ),
        (GOOD.replace("{file: more.csv}", "{file: missing.csv}"), "prompts[1].file", "file not found"),
        (GOOD.replace('text: "A red fox in snow"', 'text: ""'), "prompts[0].text", "must not be empty"),
        (GOOD + "targets_extra: 1\n", "targets_extra", "Extra inputs are not permitted"),
        (GOOD.replace("n: 2}", "n: 2, options: {api_key: x}}"), "targets[1].options", "looks like a secret"),
        (GOOD.replace("n: 2}", "n: 2, images: [room]}"), "", "input image 'room' is not defined"),
    ],
)
def test_spec_errors_name_file_and_key_path(tmp_path, text, key_path, problem):
    (tmp_path / "more.csv").write_text("id,text\nowl,An owl\n")
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert exc.value.file == str(path)
    assert exc.value.key_path == key_path
    assert problem in exc.value.problem


def test_budget_refuses_the_request_that_would_overshoot():
    b = Budget(Decimal("0.10"))
    r1 = b.reserve(Decimal("0.06"))
    with pytest.raises(BudgetExceededError, match=r"budget_usd=0\.10 would be exceeded: 0\.06 already"):
        b.reserve(Decimal("0.05"))
    b.settle(r1, Decimal("0.04"))  # actual cheaper than the quote frees room
    b.reserve(Decimal("0.05"))
    assert b.committed_usd == Decimal("0.09")


def test_budget_unknown_actual_keeps_the_quote_as_spent():
    b = Budget(Decimal("1"))
    b.settle(b.reserve(Decimal("0.30")), None)
    assert b.spent_usd == Decimal("0.30") and b.reserved_usd == 0


def test_budget_never_exceeded_under_contention():
    b = Budget(Decimal("1.00"))
    costs = [Decimal("0.013"), Decimal("0.07"), Decimal("0.0051"), Decimal("0.25")] * 200

    def worker(chunk):
        for c in chunk:
            try:
                r = b.reserve(c)
            except BudgetExceededError:
                continue
            b.settle(r, c)

    threads = [threading.Thread(target=worker, args=(costs[i::32],)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Decimal("0.75") < b.spent_usd <= Decimal("1.00")


def test_budget_from_python_must_not_be_a_float(tmp_path):
    from imgkit.runs.spec import parse_spec

    data = {
        "name": "x",
        "prompts": [{"id": "a", "text": "t"}],
        "targets": [{"model": "dall-e-3"}],
        "budget_usd": 1.5,
    }
    with pytest.raises(SpecError, match="not a binary float"):
        parse_spec(data)


def test_a_spec_that_would_spend_money_is_refused_where_only_a_simulated_one_may_run(tmp_path):
    from imgkit.errors import InvalidParameterError
    from imgkit.runs.spec import load_simulated_spec

    (tmp_path / "more.csv").write_text("id,text,category\nowl,An owl at dusk,animals\n")
    real = _write(tmp_path, GOOD)
    with pytest.raises(InvalidParameterError, match=r"example_spec=.*a spec with simulate: true") as caught:
        load_simulated_spec(real, output_dir=tmp_path / "run", context="report comparison_grid")
    assert "never spends money on its own" in str(caught.value) and "comparison_grid" in str(caught.value)
    offline = _write(tmp_path, GOOD + "simulate: true\n", "offline.yaml")
    spec = load_simulated_spec(offline, output_dir=tmp_path / "run")
    assert spec.simulate and spec.output_dir == tmp_path / "run"
