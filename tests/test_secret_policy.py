"""The one secrets policy (imgkit.secret_policy): parts and re-encodings of a configured key are redacted
everywhere text is shown, and every part that takes parameters agrees on which names and values are secrets."""

from __future__ import annotations

import base64
import json
import random
import string
from urllib.parse import quote

import pytest

from imgkit import reports, secret_policy
from imgkit.catalog import load_catalog
from imgkit.errors import ProviderError, SecretParameterError, SpecError, redact
from imgkit.keys import Secret, scrub, scrub_all
from imgkit.params import ImageRequest, resolve
from imgkit.reports import check_no_secrets, redact_environment_secrets
from imgkit.runs.spec import parse_spec

RNG = random.Random(20261206)


def random_text(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


FAL_KEY = "3f2a1b4c-5d6e-7f80-91a2-b3c4d5e6f708:" + random_text(32, "0123456789abcdef")
LF_KEY = "lf-" + random_text(48)
OPENAI_KEY = "sk-proj-" + random_text(120, string.ascii_letters + string.digits + "-_")


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("FAL_KEY", FAL_KEY)
    monkeypatch.setenv("LUMENFALL_API_KEY", LF_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def basic(user: str, key: str) -> tuple[str, str]:
    """A Basic auth header and the part of it that depends on the key alone (past the user, before the end)."""
    encoded = b64(f"{user}:{key}")
    return f"Basic {encoded}", encoded[-(-(len(user) + 1) // 3) * 4 + 4 : -4]


LEAKS = {  # what a log may show: (the text, what must not survive of it)
    "the fal secret half alone": FAL_KEY.partition(":")[2],
    "the fal key id half alone": FAL_KEY.partition(":")[0],
    "a lumenfall key without its lf- prefix": LF_KEY[3:],
    "a 20-character prefix": OPENAI_KEY[:20],
    "the last 30 characters": OPENAI_KEY[-30:],
    "12 characters from the middle": OPENAI_KEY[50:62],
    "the whole key": OPENAI_KEY,
    "URL-encoded": quote(FAL_KEY, safe=""),
    "URL-encoded, a part": quote(FAL_KEY, safe="")[20:50],
    "base64": b64(LF_KEY),
    "base64 in basic auth (offset 2)": basic("u", FAL_KEY),
    "base64 in basic auth (offset 0)": basic("us", LF_KEY),
    "base64 in basic auth (offset 1)": basic("user", OPENAI_KEY),
    "URL-safe base64 of a part": base64.urlsafe_b64encode(OPENAI_KEY[10:70].encode()).decode(),
}


@pytest.mark.parametrize("leak", list(LEAKS.values()), ids=list(LEAKS))
def test_parts_and_encodings_of_a_configured_key_are_redacted(keys, leak):
    leak, secret = leak if isinstance(leak, tuple) else (leak, leak)
    text = f"before {leak} after"
    for shown in (scrub(text), redact(text), *scrub_all([text, "second field"])[:1]):
        assert shown.startswith("before ") and shown.endswith(" after")
        assert "[REDACTED]" in shown
        for i in range(len(secret) - 11):  # no 12 characters of it survive
            assert secret[i : i + 12] not in shown


def test_a_key_read_by_imgkit_is_redacted_in_part_without_the_environment():
    key = "opaque" + random_text(40)
    Secret(key, "keys.yaml:fal")
    assert scrub(f"echo {key[7:27]} done") == "echo [REDACTED] done"


def test_eleven_characters_of_a_key_are_not_a_match(keys):
    """Shorter parts are too likely to be ordinary text; a configured key's 12 are not."""
    part = OPENAI_KEY[40:51]
    assert scrub(f"x {part} y") == f"x {part} y"
    assert scrub(f"x {OPENAI_KEY[40:52]} y") == "x [REDACTED] y"


def test_a_short_key_is_redacted_whole_only(monkeypatch):
    monkeypatch.setenv("IMGKIT_API_KEY", "Zq7x9Lk")
    assert scrub("key=Zq7x9Lk; Zq7x9") == "key=[REDACTED]; Zq7x9"


def test_ordinary_log_text_is_untouched_with_keys_configured(keys):
    sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    texts = [
        "gpt-image-1-mini/openai/low/1024x1024",
        json.dumps({"model": "gpt-image-1-mini", "prompt": "a lighthouse at dusk", "size": "1024x1024"}),
        json.dumps([{"sha256": sha, "path": f"images/9f/{sha}.png", "width": 1024}]),
        "[openai HTTP 429 rate_limit_exceeded] Rate limit reached (request id req_0123456789abcdef)",
    ]
    assert scrub_all(texts) == texts


def test_adjacent_parts_of_two_keys_become_one_redaction(keys):
    text = f"{OPENAI_KEY[:30]}{FAL_KEY[-20:]}!"
    assert scrub(text) == "[REDACTED]!"


def test_scrub_all_from_memory_equals_scrub_and_follows_a_changed_key(monkeypatch):
    first = "first" + random_text(30)
    monkeypatch.setenv("FAL_KEY", first)
    texts = ["same field every record", f"leaks {first[5:25]}"]
    assert scrub_all(texts) == scrub_all(texts) == [scrub(t) for t in texts]
    assert scrub_all(texts)[1] == "leaks [REDACTED]"
    second = "second" + random_text(30)
    monkeypatch.setenv("FAL_KEY", second)  # the remembered answer for the old keys is not reused
    assert scrub_all(texts)[1] == f"leaks {first[5:25]}"
    assert scrub_all([f"now {second[3:20]}", "x"])[0] == "now [REDACTED]"


def test_a_new_secret_named_environment_variable_is_redacted(monkeypatch):
    token = "hf_" + random_text(34)
    assert scrub(f"t {token[2:30]}") == f"t {token[2:30]}"
    monkeypatch.setenv("HF_TOKEN", token)
    assert scrub(f"t {token[2:30]}") == "t [REDACTED]"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PWD", "/work/some/long/directory"),
        ("AUTH_URL", "https://login.example.com/oauth"),
        ("KEY_HINT", "two words here"),
    ],
)
def test_paths_urls_and_phrases_in_secret_named_variables_are_not_keys(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert value not in secret_policy.configured_keys()
    assert scrub(f"at {value}") == f"at {value}"


def test_every_text_imgkit_shows_goes_through_the_policy(keys, monkeypatch):
    part = FAL_KEY.partition(":")[2]
    assert part not in str(ProviderError(f"upstream said {part}", provider="fal", status=401))
    assert redact_environment_secrets(f"cell output {LF_KEY[3:]}") == "cell output [REDACTED]"
    assert redact_environment_secrets(f"{part}", secrets=[FAL_KEY]) == "[REDACTED]"


def test_the_catalog_key_variables_are_secret_named_and_known():
    for provider in load_catalog().providers.values():
        for name in provider.auth.env:
            assert secret_policy.is_secret_name(name) and name in secret_policy.KEY_ENV_VARS


# --- one policy for names and values -------------------------------------------------------------------------


def spec_with_option(name: str, value: object) -> dict:
    return {
        "name": "t",
        "prompts": [{"id": "a", "text": "a fox"}],
        "targets": [{"model": "flux-1-dev", "provider": "fal", "options": {name: value}}],
    }


def refused_by(name: str, value: object) -> dict[str, bool]:
    """Whether each part that takes parameters refuses ``name: value``."""
    out = {}
    try:
        parse_spec(spec_with_option(name, value))
        out["spec options"] = False
    except SpecError as exc:
        out["spec options"] = "looks like a secret" in str(exc)
    try:
        check_no_secrets({name: value})
        out["report parameters"] = False
    except SecretParameterError:
        out["report parameters"] = True
    try:
        resolve(ImageRequest("flux-1-dev", "x", extra={name: value}))
        out["request extra"] = False
    except SecretParameterError:
        out["request extra"] = True
    except Exception:  # refused for another reason (an unknown field): not a secrets verdict
        out["request extra"] = False
    return out


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("max_tokens", 4096, False),  # spec.py refused any name containing "token"
        ("keyword", "fox", False),
        ("num_inference_steps", 20, False),
        ("seed", 7, False),
        ("api_key", "x", True),
        ("apiKey", "x", True),
        ("access_token", "x", True),
        ("client_secret", "x", True),
        ("Authorization", "x", True),
        ("note", "sk-proj-AbCdEf0123456789xyz", True),
        ("note", "Bearer abcdefgh12345678", True),
        ("note", "0123456789abcdef0123456789abcdef", True),  # a long opaque token
        (
            "note",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            False,
        ),  # a sha256 digest
    ],
)
def test_every_part_agrees_on_what_is_a_secret(name, value, secret):
    verdicts = refused_by(name, value)
    assert verdicts["spec options"] == verdicts["report parameters"] == secret, verdicts
    assert (secret_policy.secret_reason(name, value) is not None) == secret
    if name not in ("max_tokens", "keyword", "note"):  # fal takes these extras; others are refused by name
        assert verdicts["request extra"] == secret, verdicts


def test_a_configured_key_part_as_a_value_is_refused_everywhere(keys):
    value = f"label {FAL_KEY[-20:]}"
    assert secret_policy.secret_value_reason(value) == "it holds a configured key"
    assert all(refused_by("note", value).values())


def test_the_reports_module_uses_the_policy_function():
    assert reports.secret_reason is secret_policy.secret_reason


def test_secret_headers_are_one_list():
    assert all(secret_policy.is_secret_header(h) for h in ("Authorization", "x-api-key", "Cookie"))
    assert not secret_policy.is_secret_header("content-type")
