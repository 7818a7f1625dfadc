"""Shared fixtures: paths to the repository and to ../shared, and an isolated imgkit home per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgkit.secret_policy import KEY_ENV_VARS

pytest_plugins = ["tests.simulator_plugin", "tests.browser_plugin", "tests.postgres_plugin"]

#: settings a developer's shell may hold that would point a test's client or SDK elsewhere
PROVIDER_SETTINGS = (
    "VERTEX_ACCESS_TOKEN_COMMAND",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_API_VERSION",
    "REPLICATE_BASE_URL",
    "TOGETHER_BASE_URL",
    "OPENAI_BASE_URL",
    "BFL_BASE_URL",
)
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
    for name in (*KEY_ENV_VARS, *PROVIDER_SETTINGS):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (``local[2]``) for the whole test run: its start-up is most of what a Spark
    test costs. imgkit's settings (UI off, session time zone UTC) with 2 shuffle partitions and a JVM tuned
    for short runs."""
    from imgkit.analysis.engines import spark_session

    session = spark_session(
        "local[2]",
        {
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        },
    )
    yield session
    session.stop()
