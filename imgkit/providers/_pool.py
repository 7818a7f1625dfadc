"""A connection pool that stays fast at high concurrency: several small httpcore pools behind one transport.

httpcore 1.0's pool re-scans every connection for every queued request each time a request starts or
ends (``AsyncConnectionPool._assign_requests_to_connections``, O(connections² + connections × requests),
with a socket probe per idle connection). At 64 image requests in flight over HTTP/1.1 that scan, not the
network, bounds throughput: about 50 requests/s on one pool against a local server that answers at once.
The fix is upstream but not in httpcore (encode/httpcore#1035, open; pydantic/httpx2#974 and #1075, merged
in the httpx2 fork). Until it lands, :class:`ShardedTransport` spreads requests over ``shards`` ordinary
``httpx.AsyncHTTPTransport`` pools, each sent to the shard with the fewest requests in flight, so each pool
holds a handful of connections and its scan is cheap. Only public httpx APIs are used; the limits are split
between the shards (``max_connections`` 256 over 16 shards = 16 each).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx

__all__ = ["ShardedTransport"]


class _Tracked(httpx.AsyncByteStream):
    """A response body that gives its shard's slot back when it is closed (once)."""

    def __init__(self, stream: httpx.AsyncByteStream, release) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class ShardedTransport(httpx.AsyncBaseTransport):
    """``shards`` HTTP transports sharing ``limits``; each request goes to the least busy one (module doc)."""

    def __init__(self, shards: int = 16, *, limits: httpx.Limits | None = None, **transport_kw: Any) -> None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, not {shards}")
        limits = limits or httpx.Limits()
        self.shards = shards
        self.limits = limits
        share = httpx.Limits(
            max_connections=_split(limits.max_connections, shards),
            max_keepalive_connections=_split(limits.max_keepalive_connections, shards),
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._transports = [httpx.AsyncHTTPTransport(limits=share, **transport_kw) for _ in range(shards)]
        self._in_flight = [0] * shards

    @property
    def in_flight(self) -> tuple[int, ...]:
        """Requests each shard is serving now (sent and not yet closed)."""
        return tuple(self._in_flight)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        counts = self._in_flight
        shard = counts.index(min(counts))
        counts[shard] += 1

        def release() -> None:
            counts[shard] -= 1

        try:
            response = await self._transports[shard].handle_async_request(request)
        except BaseException:
            release()
            raise
        response.stream = _Tracked(response.stream, release)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()


def _split(limit: int | None, shards: int) -> int | None:
    return None if limit is None else max(1, math.ceil(limit / shards))
