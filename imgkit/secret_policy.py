"""The one secrets policy: which names and values look like secrets, and how text is made safe to show.

Every part that prints, logs, records or stores text (errors, the request log, reports, the simulator's
records) and every part that takes parameters (``params``, experiment specs, report parameters) asks this
module, so a name or a value is secret-looking everywhere or nowhere.

**Names** (:func:`is_secret_name`): split into words (``OPENAI_API_KEY``, ``openaiApiKey``, ``client-secret``), a
name is secret-looking when a word is one of :data:`SECRET_NAME_WORDS` (``key``, ``token``, ``secret``,
``password``, ``auth``, ...) or the joined words contain one of :data:`SECRET_NAME_FRAGMENTS` (``apikey``,
``accesstoken``, ...). ``max_tokens`` (its word is ``tokens``) and ``keyword`` do not count.

**Configured keys** (:func:`configured_keys`): every key imgkit read for a provider (:func:`register_key`, done by
:class:`imgkit.keys.Secret`), and the values of environment variables with a secret-looking name (at least
:data:`MIN_KEY_CHARS` characters; for names outside :data:`KEY_ENV_VARS` at least :data:`MIN_MATCH_CHARS`, and
not a path, a URL or text with spaces).

**Values** (:func:`secret_value_reason`): a value is secret-looking when it holds a configured key or any part
of one (below), has a known key shape (``sk-…``, ``lmnfl_…``, ``Bearer …``, fal's ``uuid:hex``, a JWT, a
signed-URL signature), or is one long opaque token (32+ hex digits other than a sha1/sha256 digest, or 32+
characters of mixed-case base64 with digits).

**Redaction** (:func:`redact`, :func:`scrub`): replaces with ``[REDACTED]`` every configured key, **every
substring of at least** :data:`MIN_MATCH_CHARS` **characters of one** (a fal key's secret half, a key without
its ``lf-`` prefix, the first 20 or the last 30 characters), the same parts of its URL-encoded and base64
forms (standard and URL-safe alphabets, at each of the three byte alignments a key can have inside a longer
base64 text, as in ``Basic base64(user:key)``), and the key shapes above. :func:`scrub` also drops URL query
strings (signed URLs carry credentials there) and elides inline ``data:`` payloads.

How "any part of at least 12 characters" stays cheap on every log record: a text holds such a part exactly when
one of its 12-character windows is one of the keys' 12-grams (a longer match is made of them). Each window
of 12 characters contains a position that is a multiple of :data:`_STRIDE` = 8 followed by 5 characters inside
the window, so the fast path looks up only the 5-grams at every 8th position in a set of the keys' 5-grams
(one C-level pass, no Python loop); only a text with a hit is scanned window by window. A text of 800
characters costs about 100 set lookups, whatever the number of keys. :func:`scrub_all` (every log record)
also remembers the strings it scrubbed for the current keys, since a record repeats most of them (run,
target, model, the prompt's parameters).
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast
from urllib.parse import quote

__all__ = [
    "KEY_ENV_VARS",
    "MIN_KEY_CHARS",
    "MIN_MATCH_CHARS",
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_NAME_FRAGMENTS",
    "SECRET_NAME_WORDS",
    "configured_keys",
    "is_secret_header",
    "is_secret_name",
    "name_words",
    "redact",
    "redact_keys",
    "register_key",
    "scrub",
    "scrub_all",
    "secret_reason",
    "secret_value_reason",
    "strip_url_queries",
]

REDACTED = "[REDACTED]"
#: a configured key shorter than this is never one (nor redacted: "abc" would blank half of every log)
MIN_KEY_CHARS = 6
#: any substring of a configured key at least this long is redacted (and shorter keys only whole)
MIN_MATCH_CHARS = 12

# --- names ---------------------------------------------------------------------------------------------------

#: a name with one of these words is secret-looking
SECRET_NAME_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "cookie",
    }
)
#: a name whose joined words contain one of these is secret-looking (``openaiapikey``, ``githubaccesstoken``)
SECRET_NAME_FRAGMENTS = ("secret", "password", "passwd", "apikey", "accesstoken", "authtoken", "bearer")
#: the environment variables that hold provider keys (the catalog's ``auth.env`` names, and imgkit's own)
KEY_ENV_VARS = (
    "OPENAI_API_KEY",
    "FAL_KEY",
    "FAL_API_KEY",
    "LUMENFALL_API_KEY",
    "IMGKIT_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "VERTEX_ACCESS_TOKEN",
    "BFL_API_KEY",
    "REPLICATE_API_TOKEN",
    "TOGETHER_API_KEY",
    "STABILITY_API_KEY",
)
#: HTTP headers whose values are credentials
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
        "x-key",
    }
)


def name_words(name: str) -> list[str]:
    """``"openaiApiKey"`` -> ``["openai", "api", "key"]``; ``"OPENAI_API_KEY"`` -> the same."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [p for p in re.split(r"[^a-z0-9]+", snake.lower()) if p]


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a parameter, option, field or environment variable name looks like it holds a secret."""
    words = name_words(str(name))
    return bool(SECRET_NAME_WORDS.intersection(words)) or any(
        f in "".join(words) for f in SECRET_NAME_FRAGMENTS
    )


def is_secret_header(name: str) -> bool:
    """Whether an HTTP header carries a credential (its value is never recorded)."""
    return name.lower() in SECRET_HEADERS


# --- configured keys ---------------------------------------------------------------------------------------------

_registered: set[str] = set()
_lock = threading.Lock()


def register_key(value: str) -> None:
    """Redact ``value`` (a key imgkit read) from everything shown from now on, in this process."""
    global _registered_keys
    value = value.strip()
    if len(value) >= MIN_KEY_CHARS and value not in _registered:
        with _lock:
            _registered.add(value)
            _registered_keys = tuple(_registered)


_registered_keys: tuple[str, ...] = ()


def _env_value_is_key(name: str, value: str) -> bool:
    if name in KEY_ENV_VARS:
        return len(value.strip()) >= MIN_KEY_CHARS
    return (
        len(value) >= MIN_MATCH_CHARS
        and not value.startswith(("/", "~", "."))
        and "://" not in value
        and not re.search(r"\s", value)
    )


class _Environment:
    """The environment's secret-named variables, found again whenever the number of variables changes; their
    values are read on every call (a key set, changed or removed by a test or a process is seen at once).

    Reads CPython's dict behind ``os.environ`` when there is one: a lookup of the raw values costs about a
    tenth of ``os.environ.get`` (which encodes the name and decodes the value), and this runs on every log
    record.
    """

    def __init__(self) -> None:
        self.size = -1
        self.names: tuple[str, ...] = ()
        self.raw_names: tuple[Any, ...] = ()
        self.raw_values: tuple[Any, ...] | None = None
        self.keys: tuple[str, ...] = ()

    def current(self) -> tuple[str, ...]:
        """The keys now in the environment (the same tuple object while nothing changed)."""
        environ = os.environ
        data = getattr(environ, "_data", None)
        if len(environ) != self.size:
            self.size = len(environ)
            self.names = tuple(sorted({n for n in environ if is_secret_name(n)} | set(KEY_ENV_VARS)))
            self.raw_names = tuple(map(environ.encodekey, self.names)) if data is not None else self.names
            self.raw_values = None
        raw = tuple(map((data if data is not None else environ).get, self.raw_names))
        if raw != self.raw_values:
            self.raw_values = raw
            values = map(environ.get, self.names)
            self.keys = tuple(
                v.strip() for n, v in zip(self.names, values, strict=True) if v and _env_value_is_key(n, v)
            )
        return self.keys


_environment = _Environment()


@lru_cache(maxsize=16)
def _union(env: tuple[str, ...], registered: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({*env, *registered}, key=lambda k: (-len(k), k)))


def configured_keys() -> tuple[str, ...]:
    """Every configured key: those registered by imgkit and those in secret-named environment variables."""
    return _union(_environment.current(), _registered_keys)


# --- the key index -------------------------------------------------------------------------------------------

_STRIDE = 8
_PROBE = MIN_MATCH_CHARS - _STRIDE + 1  # 5: every 12-window holds a probe at a multiple of the stride
#: the probes of a text, found in C: the 5 characters at every multiple of 8
_PROBES = re.compile(rf"(?s)(.{{{_PROBE}}}).{{0,{_STRIDE - _PROBE}}}")


def _encoded_forms(key: str) -> list[str]:
    """The key, its URL encoding, and its base64 encodings (both alphabets) at each byte offset it can have
    inside a longer base64 text, less the first group of an offset one (it mixes in the bits before the key)."""
    forms = [key, quote(key, safe="")]
    raw = key.encode()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.append(encode(b"\0" * offset + raw).decode().rstrip("=")[4 if offset else 0 :])
    return list(dict.fromkeys(f for f in forms if len(f) >= MIN_MATCH_CHARS))


class _KeyIndex:
    """The 12-grams of every encoded form of some keys (exact matching) and their 5-grams (the probe)."""

    def __init__(self, keys: Iterable[str]) -> None:
        keys = tuple(keys)
        self.short = tuple(sorted((k for k in keys if len(k) < MIN_MATCH_CHARS), key=len, reverse=True))
        grams: set[str] = set()
        for key in keys:
            if len(key) >= MIN_MATCH_CHARS:
                for form in _encoded_forms(key):
                    grams.update(
                        form[i : i + MIN_MATCH_CHARS] for i in range(len(form) - MIN_MATCH_CHARS + 1)
                    )
        self.grams = frozenset(grams)
        self.probes = frozenset(g[i : i + _PROBE] for g in grams for i in range(MIN_MATCH_CHARS - _PROBE + 1))

    def redact(self, text: str) -> str:
        for key in self.short:
            if key in text:
                text = text.replace(key, REDACTED)
        if not self.grams or len(text) < MIN_MATCH_CHARS:
            return text
        if self.probes.isdisjoint(_PROBES.findall(text)):  # the fast path: no 12-window can be a key's
            return text
        return self._redact_windows(text)

    def _redact_windows(self, text: str) -> str:
        """Replace each maximal run of characters covered by a key's 12-gram with one ``[REDACTED]``."""
        grams, size = self.grams, MIN_MATCH_CHARS
        out: list[str] = []
        done = 0  # text[:done] is in out
        start = end = -1  # the run being covered
        for i in range(len(text) - size + 1):
            if text[i : i + size] in grams:
                if i > end:
                    if end >= 0:
                        out += (text[done:start], REDACTED)
                        done = end
                    start = i
                end = i + size
        if end < 0:
            return text
        out += (text[done:start], REDACTED, text[end:])
        return "".join(out)


@lru_cache(maxsize=64)
def _index(keys: tuple[str, ...]) -> _KeyIndex:
    return _KeyIndex(keys)


_state: tuple[Any, Any, _KeyIndex | None] = (None, None, None)  # (environment keys, registered keys, index)


def _configured_index() -> _KeyIndex | None:
    """The index of the configured keys (``None`` without any), rebuilt only when they change."""
    global _state
    env, registered = _environment.current(), _registered_keys
    if _state[0] is not env or _state[1] is not registered:
        keys = _union(env, registered)
        _state = (env, registered, _index(keys) if keys else None)
    return _state[2]


def redact_keys(text: str, keys: Sequence[str] | None = None) -> str:
    """``text`` with every configured key (or every key of ``keys``) redacted: whole, any part of at least
    :data:`MIN_MATCH_CHARS` characters, and those parts of its URL-encoded and base64 forms."""
    index = _configured_index() if keys is None else (_index(tuple(keys)) if keys else None)
    return index.redact(text) if index is not None and text else text


# --- key shapes ------------------------------------------------------------------------------------------------

_SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"lmnfl_[A-Za-z0-9_.\-]{8,}"),
    re.compile(r"(?i)(bearer|key)\s+[A-Za-z0-9_.:\-]{8,}"),
    re.compile(r"(?i)([?&](?:sig|signature|token|key|x-amz-signature|x-goog-signature)=)[^&\s\"']+"),
]
#: a text without any of these (case-insensitively) cannot match a pattern above
_SECRET_MARKERS = ("sk-", "lmnfl_", "bearer", "key", "?", "&")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")
_UUID_COLON_HEX = re.compile(r"[0-9a-fA-F-]{32,36}:[0-9a-fA-F]{16,}")  # fal.ai's key shape
_LONG_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_DIGEST_LENGTHS = (40, 64)  # sha1, sha256: content digests (imgkit names images by sha256), not keys
_BASE64_LIKE = re.compile(r"[A-Za-z0-9+/_\-]{32,}={0,2}")


def _redact_shapes(text: str) -> str:
    low = text.lower()  # substring tests: far faster than one case-insensitive alternation regex
    if not any(marker in low for marker in _SECRET_MARKERS):  # one scan instead of one per pattern
        return text
    for pat in _SECRET_PATTERNS:
        if pat.groups:
            text = pat.sub(lambda m: m.group(1) + ("" if m.group(1).endswith("=") else " ") + REDACTED, text)
        else:
            text = pat.sub(REDACTED, text)
    return text


def redact(text: str) -> str:
    """``text`` with every configured key (whole, in part, URL-encoded or base64) and every key shape
    (``sk-…``, ``lmnfl_…``, ``Bearer …`` / ``Key …``, signed-URL signatures) replaced by ``[REDACTED]``."""
    if not text:
        return text
    return _redact_shapes(redact_keys(text))


# --- scrubbing for logs ------------------------------------------------------------------------------------------

_URL_QUERY = re.compile(r"((?:https?|wss?)://[^\s\"'<>?#]+)[?#][^\s\"'<>]*", re.IGNORECASE)
_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?(;[\w=.+-]+)*,[A-Za-z0-9+/=%_-]{16,}")


def strip_url_queries(text: str) -> str:
    """Drop the query string and fragment of every URL in ``text`` (signed URLs carry credentials there)."""
    return _URL_QUERY.sub(r"\1", text)


def scrub(text: str) -> str:
    """``text`` safe for a log or a message: :func:`redact`, URL queries stripped, ``data:`` payloads elided."""
    return _scrub(text, _configured_index())


def _scrub(text: str, index: _KeyIndex | None) -> str:
    if not text:
        return text
    if index is not None:
        text = index.redact(text)
    if "data:" in text:
        text = _DATA_URI.sub(lambda m: f"data:{m.group(1) or ''}[...]", text)
    if "://" in text:
        text = strip_url_queries(text)
    return _redact_shapes(text)


#: joins texts for one scrub pass: every pattern stops at a newline or NUL and no key holds one, so no match
#: can span it
_SEPARATOR = "\n\x00\n"
#: scrubbed log strings by their text, for the configured keys of the moment (a record repeats most of its
#: strings: run, target, model, prompt parameters); bounded, emptied when full or when the keys change
_memo: dict[str, str] = {}
_memo_index: object = None
_MEMO_ITEMS = 2048
_MEMO_TEXT_CHARS = 1024  # at most about 4 MB held


def _scrub_together(texts: Sequence[str], index: _KeyIndex | None) -> list[str]:
    if len(texts) < 2 or any(_SEPARATOR in t for t in texts):
        return [_scrub(t, index) for t in texts]
    out = _scrub(_SEPARATOR.join(texts), index).split(_SEPARATOR)
    return out if len(out) == len(texts) else [_scrub(t, index) for t in texts]


def scrub_all(texts: Sequence[str]) -> list[str]:
    """:func:`scrub` of each text (a log record's strings): those seen before from memory, the others in one
    pass over all of them."""
    global _memo_index
    index = _configured_index()
    if index is not _memo_index:
        _memo.clear()
        _memo_index = index
    out: list[str | None] = list(map(_memo.get, texts))
    if None not in out:
        return cast("list[str]", out)  # every text was in the memo
    todo = [t for t, o in zip(texts, out, strict=True) if o is None]
    done = iter(_scrub_together(todo, index))
    if len(_memo) > _MEMO_ITEMS:
        _memo.clear()
    for i, (text, known) in enumerate(zip(texts, out, strict=True)):
        if known is None:
            out[i] = clean = next(done)
            if len(text) <= _MEMO_TEXT_CHARS:
                _memo[text] = clean
    return cast("list[str]", out)  # each None was replaced above


# --- values ---------------------------------------------------------------------------------------------------


def secret_value_reason(text: str) -> str | None:
    """Why a string looks like a secret (module doc: Values), or ``None``."""
    text = text.strip()
    if len(text) < MIN_KEY_CHARS:
        return None
    if redact_keys(text) != text:
        return "it holds a configured key"
    if _redact_shapes(text) != text or _JWT.search(text) or _UUID_COLON_HEX.fullmatch(text):
        return "it has an API key's shape"
    if _LONG_HEX.fullmatch(text) and len(text) not in _DIGEST_LENGTHS:
        return "it is a long opaque token"
    if _BASE64_LIKE.fullmatch(text) and ("/" not in text or "+" in text):
        if re.search(r"\d", text) and re.search(r"[a-z]", text) and re.search(r"[A-Z]", text):
            return "it is a long opaque token"
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _strings(v)


def secret_reason(name: str, value: Any) -> str | None:
    """Why a named parameter looks like a secret: ``"its name"``, ``"its value"`` (strings inside lists and
    mappings included), or ``None``. Never says what the value is."""
    if is_secret_name(str(name)):
        return "its name"
    return "its value" if any(secret_value_reason(v) for v in _strings(value)) else None
