"""An :class:`~imgkit.providers.ImageClient` wired to a simulator for every protocol it speaks (test helper)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from PIL import Image

from imgkit.catalog import load_catalog
from imgkit.providers import ImageClient, Polling, RateLimit, RetryPolicy

CAT = load_catalog()
#: a key per provider, long enough to be redacted wherever it could appear
TEST_KEYS = {pid: f"{pid}-loopback-test-key-0001" for pid in CAT.providers}
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay_s=0.01, max_delay_s=0.05)
FAST_POLLING = Polling(poll_interval_s=0.001, poll_max_interval_s=0.01, timeout_s=10.0)


def client_for(sim, tmp_path: Path, **kw) -> ImageClient:
    """Every provider at ``sim``, keys given in code, no pacing, fast retries and polls."""
    options = {
        "base_urls": sim.client_base_urls(fal_sync=kw.get("fal_sync", False)),
        "keys": TEST_KEYS,
        "store": tmp_path / "images",
        "log": tmp_path / "log.jsonl",
        "limits": {pid: RateLimit() for pid in CAT.providers},
        "retry": FAST_RETRY,
        "polling": FAST_POLLING,
        "fal_polling": FAST_POLLING,
    }
    return ImageClient(**{**options, **kw})


def run(client: ImageClient, coro):
    """Run a coroutine and close the client's HTTP pool on the same loop."""

    async def main():
        try:
            return await coro
        finally:
            await client.aclose()

    return asyncio.run(main())


def decoded(data: bytes) -> Image.Image:
    """The image ``data`` holds, fully decoded by Pillow (a broken file raises)."""
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def png_bytes(width: int, height: int, color=(10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()
