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


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_imgkit_error_is_defined_in_errors_and_named_in_its_tree():
    import importlib
    import pkgutil

    import imgkit
    from imgkit import errors

    for info in pkgutil.walk_packages(imgkit.__path__, "imgkit."):
        importlib.import_module(info.name)  # every module, so every subclass anywhere is loaded
    found = set(_subclasses(errors.ImgkitError))
    assert {c for c in found if c.__module__ != "imgkit.errors"} == set()
    tree = errors.__doc__.split("::", 1)[1]
    assert {c.__name__ for c in found} <= {word for line in tree.splitlines() for word in line.split()}
    assert {c.__name__ for c in found} <= set(errors.__all__)


def test_provider_error_attributes_are_declared_by_its_constructor():
    from imgkit.errors import ProviderTimeoutError, RateLimitError

    plain = RateLimitError("slow down", provider="openai", status=429)
    assert (plain.retryable, plain.may_be_billed, plain.billed_read_timeout, plain.simulated) == (
        True,
        False,
        False,
        False,
    )
    billed = ProviderTimeoutError(
        "read timeout", may_be_billed=True, billed_read_timeout=True, simulated=True
    )
    assert (billed.may_be_billed, billed.billed_read_timeout, billed.simulated) == (True, True, True)
    assert ProviderTimeoutError("queued", retryable=False).retryable is False
