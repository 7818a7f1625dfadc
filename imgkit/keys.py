"""API keys: read at call time from the environment or a private keys file, never shown, never logged.

Where a provider's key comes from, first match wins:

1. the environment variables the catalog names for the provider (``auth.env``, e.g. ``OPENAI_API_KEY``);
2. for a provider whose key is a short-lived token (Vertex AI), the command in the variable its catalog
   ``auth.command_env`` names, e.g. ``VERTEX_ACCESS_TOKEN_COMMAND='gcloud auth print-access-token'``: run
   without a shell, its first output line is the token, reused for :data:`COMMAND_TOKEN_TTL_S` (Google's
   tokens last an hour) and never shown (a failing command is named with its exit status, not its output);
3. the keys file ``$IMGKIT_HOME/keys.yaml`` (when ``IMGKIT_HOME`` is set) or ``~/.config/imgkit/keys.yaml``,
   a YAML mapping keyed by those variable names or by provider id::

       OPENAI_API_KEY: sk-...
       fal: "key-id:key-secret"

   The file must be readable by its owner only (``chmod 600``); any other mode is refused with
   :class:`~imgkit.errors.KeysFileError` rather than read.

Keys are wrapped in :class:`Secret`, whose ``repr``/``str`` never show the value and which refuses to be
pickled; every key read is registered with :mod:`imgkit.secret_policy`. :func:`scrub` (from that module, the
one secrets policy) is the function every log line and error message goes through: it redacts keys (by
shape, and every configured key whole, in part, URL-encoded or base64), signed-URL query strings and inline
``data:`` payloads.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from imgkit.catalog import Provider
from imgkit.errors import KeysFileError, MissingKeyError
from imgkit.secret_policy import register_key, scrub, scrub_all, strip_url_queries

__all__ = [
    "COMMAND_TOKEN_TTL_S",
    "KeyResolver",
    "Secret",
    "keys_file_path",
    "load_keys_file",
    "scrub",
    "scrub_all",
    "strip_url_queries",
]


class Secret:
    """A secret string: ``reveal()`` gives the value; ``repr``/``str`` show only where it came from."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        if not isinstance(value, str) or not value.strip():
            raise MissingKeyError(f"empty key from {source or 'an unnamed source'}")
        self._value = value.strip()
        self.source = source
        register_key(self._value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source or 'key'}, '********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


# --- the keys file --------------------------------------------------------------------------------------------


def keys_file_path(env: Mapping[str, str] | None = None) -> Path:
    """``$IMGKIT_HOME/keys.yaml`` when ``IMGKIT_HOME`` is set, else ``~/.config/imgkit/keys.yaml``."""
    env = os.environ if env is None else env
    home = env.get("IMGKIT_HOME")
    if home:
        return Path(home) / "keys.yaml"
    return Path.home() / ".config" / "imgkit" / "keys.yaml"


def load_keys_file(path: str | Path | None = None) -> dict[str, Secret]:
    """The keys in the keys file (empty when there is none); refuses a file others can read or write."""
    path = Path(path) if path is not None else keys_file_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KeysFileError(f"keys file {path}: cannot stat: {exc.strerror}") from None
    mode = stat.S_IMODE(st.st_mode)
    if os.name == "posix" and mode & 0o077:
        raise KeysFileError(
            f"keys file {path} has mode {mode:04o}; it must be readable by its owner only "
            f"(run: chmod 600 {path})"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeysFileError(f"keys file {path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError:
        # the parser's message quotes the offending text, which may be a key: say where, not what
        raise KeysFileError(f"keys file {path} is not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise KeysFileError(f"keys file {path}: expected a mapping of names to keys")
    out = {}
    for name, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise KeysFileError(f"keys file {path}: {name}: expected a non-empty string")
        out[str(name)] = Secret(value, f"{path.name}:{name}")
    return out


#: how long a token printed by a key command is reused before the command runs again (seconds)
COMMAND_TOKEN_TTL_S = 45 * 60.0
#: how long a key command may take
COMMAND_TIMEOUT_S = 60.0
_command_tokens: dict[str, tuple[Secret, float]] = {}
_command_lock = threading.Lock()


def token_from_command(command: str, variable: str, provider: str) -> Secret:
    """The token ``command`` prints (its first line), cached for :data:`COMMAND_TOKEN_TTL_S`."""
    with _command_lock:
        cached = _command_tokens.get(command)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            done = subprocess.run(
                shlex.split(command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise MissingKeyError(
                f"the key command in {variable} could not run ({type(exc).__name__})", provider=provider
            ) from None
        token = (done.stdout or "").strip().splitlines()[0].strip() if (done.stdout or "").strip() else ""
        if done.returncode != 0 or not token:
            raise MissingKeyError(
                f"the key command in {variable} exited with status {done.returncode}"
                + ("" if token else " and printed no token"),
                provider=provider,
            )
        secret = Secret(token, f"command:{variable}")
        _command_tokens[command] = (secret, time.monotonic() + COMMAND_TOKEN_TTL_S)
        return secret


class KeyResolver:
    """Finds a provider's key at call time (environment, then the keys file); see the module doc.

    ``overrides`` maps provider ids to keys (or ``Secret``s) given in code, e.g. a throwaway key for a local
    simulator; they win over the environment. Nothing is cached: a key rotated in the environment or the
    file is used by the next call.
    """

    def __init__(
        self,
        overrides: Mapping[str, str | Secret] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        keys_file: str | Path | None = None,
    ) -> None:
        self._overrides = {
            pid: v if isinstance(v, Secret) else Secret(v, f"override:{pid}")
            for pid, v in (overrides or {}).items()
        }
        self._env = env
        self._keys_file = keys_file

    def __call__(self, provider: Provider) -> Secret | None:
        """The key for ``provider`` (``None`` when its auth scheme is ``none``); ``MissingKeyError`` if absent."""
        if provider.auth.scheme == "none":
            return None
        if provider.id in self._overrides:
            return self._overrides[provider.id]
        env = os.environ if self._env is None else self._env
        for name in provider.auth.env:
            value = env.get(name)
            if value and value.strip():
                return Secret(value, name)
        command_env = provider.auth.command_env
        if command_env and (env.get(command_env) or "").strip():
            return token_from_command(env[command_env], command_env, provider.id)
        from_file = load_keys_file(self._keys_file)
        for name in (*provider.auth.env, provider.id):
            if name in from_file:
                return from_file[name]
        where = " or ".join(provider.auth.env) or "a key"
        if provider.auth.command_env:
            where += f" (or a command that prints one in {provider.auth.command_env})"
        raise MissingKeyError(
            f"no API key for {provider.name}: set {where} in the environment, or add it to "
            f"{Path(self._keys_file) if self._keys_file else keys_file_path(env)} (mode 0600)",
            provider=provider.id,
        )


KeySource = KeyResolver | Callable[[Provider], Secret | None] | Mapping[str, str | Secret]


def as_key_resolver(keys: KeySource | None) -> Callable[[Provider], Secret | None]:
    """A resolver from what a client was given: ``None`` (default), a mapping of overrides or a callable."""
    if keys is None:
        return KeyResolver()
    if isinstance(keys, Mapping):
        return KeyResolver(keys)
    return keys
