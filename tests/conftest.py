"""Shared fixtures: paths to the repository and to ../shared, and an isolated imgkit home per test."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.simulator_plugin", "tests.browser_plugin", "tests.postgres_plugin"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VOTES = SHARED / "data" / "votes"


@pytest.fixture
def repo_dir() -> Path:
    return REPO


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared is missing beside the repository (looked at {SHARED})")
    return SHARED


@pytest.fixture
def votes_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "votes"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real keys file or run directories; never inherit real API keys."""
    home = tmp_path_factory.mktemp("imgkit-home")
    monkeypatch.setenv("IMGKIT_HOME", str(home))
    for name in ("OPENAI_API_KEY", "FAL_KEY", "FAL_API_KEY", "LUMENFALL_API_KEY", "IMGKIT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
