from imgkit.errors import InvalidParameterError, ProviderError, UnknownNameError, redact


def test_invalid_parameter_message_names_field_value_and_allowed():
    err = InvalidParameterError("quality", "ultra", ["low", "medium", "high"], context="gpt-image-1-mini")
    assert str(err) == "quality='ultra' is not allowed for gpt-image-1-mini; allowed: low, medium, high"


def test_unknown_name_suggests_close_matches():
    err = UnknownNameError("model", "gpt-image-1-mni", ["gpt-image-1-mini", "gpt-image-1", "dall-e-3"])
    assert "did you mean gpt-image-1-mini" in str(err)


def test_redact_hides_keys_and_signed_url_queries(monkeypatch):
    monkeypatch.setenv("FAL_KEY", "abc123:secretsecret")
    text = "Bearer sk-test-0123456789abcdef key abc123:secretsecret https://x/y.png?sig=deadbeef&w=1"
    out = redact(text)
    assert "sk-test" not in out and "secretsecret" not in out and "deadbeef" not in out
    assert "w=1" in out


def test_provider_error_message_is_redacted(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-ABCDEFGHIJKLMNOPQRST")
    err = ProviderError(
        "bad key sk-fake-ABCDEFGHIJKLMNOPQRST", provider="openai", status=401, request_id="req_1"
    )
    assert "ABCDEFGHIJKLMNOPQRST" not in str(err) and "req_1" in str(err)
