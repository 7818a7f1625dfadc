"""Results memoised by the identity of catalog objects (frozen, but not hashable: they hold dicts).

The pricing hot paths ask the same questions of the same few catalog objects (a model's size rules, a price
schedule) on every quote; an entry keeps the objects it was computed from, so an id is never taken for
another object while its entry lives, and a cache that grows past its limit starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def memo_by_identity(
    cache: dict, objects: tuple[Any, ...], compute: Callable[[], T], *, limit: int = 65_536
) -> T:
    """``compute()`` once per tuple of ``objects`` (compared by identity; ints and strings by value)."""
    key = tuple(o if isinstance(o, (int, str)) else id(o) for o in objects)
    hit = cache.get(key)
    if hit is not None and all(a is b or a == b for a, b in zip(hit[0], objects, strict=True)):
        return hit[1]
    if len(cache) >= limit:
        cache.clear()
    value = compute()
    cache[key] = (objects, value)
    return value
