"""Shared fixtures: the app on a temporary SQLite file, and media from ../shared/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_fixtures import FIXTURES, ROOT, expected, expected_label, fixture_path  # noqa: F401 (re-exported)

from server import create_app
from server.verify.media import load_media
from server.verify.types import Limits, Media


def pytest_generate_tests(metafunc):
    """A module with `ENGINES = ("sqlite", "postgresql")` runs each test that uses the app (or `engine`) on both."""
    engines = getattr(metafunc.module, "ENGINES", None)
    if engines and "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", engines)


@pytest.fixture
def engine() -> str:
    """The storage engine under test: "sqlite" unless the module's ENGINES parametrises it."""
    return "sqlite"


@pytest.fixture
def database_url(engine, request) -> str:
    """VERIFY_DATABASE_URL for the engine: empty (SQLite in DATA_DIR) or a fresh PostgreSQL database."""
    return request.getfixturevalue("postgres_url") if engine == "postgresql" else ""


@pytest.fixture
def app(tmp_path: Path, database_url: str):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url})
    yield app
    app.extensions["verify"].storage.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    return app.extensions["verify"].ctx


@pytest.fixture
def media():
    """media("c2pa/no_manifest.jpg") -> Media."""

    def load(name: str) -> Media:
        return load_media(fixture_path(name).read_bytes(), Limits())

    return load


def _service(start):
    """Start a server from tests/services.py, or skip (fail under build.py test) when its package is missing."""
    import services

    try:
        return start()
    except services.ServiceUnavailable as exc:
        services._unavailable(str(exc))


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster for the whole session (tests/services.py)."""
    import services

    server = _service(services.start_postgres)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return postgres_server.new_database()


@pytest.fixture(scope="session")
def redis_server():
    """A Redis server for the whole session (tests/services.py)."""
    import services

    server = _service(services.start_redis)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's Redis, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
