"""Shared fixtures: the app on a temporary SQLite file, and media from ../shared/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import create_app
from server.verify.media import load_media
from server.verify.types import Limits, Media

from media_fixtures import FIXTURES, ROOT, expected, expected_label, fixture_path  # noqa: F401 (re-exported)


@pytest.fixture
def app(tmp_path: Path):
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data")})


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
