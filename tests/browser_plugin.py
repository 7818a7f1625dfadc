"""pytest plugin: one real headless Chromium for the whole session, driven by Playwright.

The browser is Debian's ``chromium`` (``make system`` installs it when missing), never a download of
Playwright's own: ``executable_path`` points at the system binary. The flags keep it off the network (this
machine's network is closed; only loopback pages are opened).

* ``browser``: the session's :class:`playwright.sync_api.Browser`.
* ``page``: a fresh page in a fresh context per test (no cookies, cache or storage shared between tests);
  console errors and failed requests are collected on ``page.problems`` so a test can assert there are none.

Playwright's sync API keeps its event loop marked as running in the main thread between calls, so once the
browser is up, ``asyncio.run()`` there refuses to start. Every test that does not use the browser gets the
mark lifted for its duration (and put back after); a browser test runs its asyncio code in another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("IMGKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is missing: `make system` installs Debian's chromium package")
    return found


@contextlib.contextmanager
def _no_running_loop_mark(item: pytest.Item) -> Iterator[None]:
    if {"browser", "page"} & set(getattr(item, "fixturenames", ())):
        yield
        return
    marked = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(marked)


# setup, call and teardown of every test that does not use the browser (module- and session-scoped fixtures set
# up or torn down on its behalf included) run without the mark
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _no_running_loop_mark(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _no_running_loop_mark(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if nextitem is None:  # the session's fixtures (the browser among them) are torn down here
        return (yield)
    with _no_running_loop_mark(item):
        return (yield)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    pg.problems = problems
    yield pg
    context.close()
