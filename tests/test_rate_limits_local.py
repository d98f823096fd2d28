"""Rate limits that fit a feed page: loopback clients of a local install get LOCAL_* limits; others keep theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import create_app
from server.security import is_loopback

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def _client(tmp_path: Path, **config):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "LOAD_MODELS": False,
                      "VERIFY_RATE_LIMIT": "2 per minute", "LOCAL_VERIFY_RATE_LIMIT": "5 per minute", **config})
    return app.test_client()


def _statuses(client, n: int, environ: dict | None = None) -> list[int]:
    return [client.post("/v1/verify", data=b"not media", environ_base=environ or {}).status_code for _ in range(n)]


def test_rate_limit_local_install_loopback_client_gets_local_limit_429(tmp_path: Path) -> None:
    client = _client(tmp_path)  # HOST defaults to 127.0.0.1, as build.py run binds
    assert _statuses(client, 6) == [415] * 5 + [429]


def test_rate_limit_local_install_outside_client_keeps_limit_429(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert _statuses(client, 3, OUTSIDE) == [415, 415, 429]


def test_rate_limit_exposed_server_loopback_keeps_limit_429(tmp_path: Path) -> None:
    client = _client(tmp_path, HOST="0.0.0.0", REQUIRE_KEYS="false")  # a proxy on the same host: all would look local
    assert _statuses(client, 3) == [415, 415, 429]


def test_rate_limit_defaults_fit_a_300_image_page_from_loopback(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "LOAD_MODELS": False})
    client = app.test_client()
    assert set(_statuses(client, 300)) == {415}


@pytest.mark.parametrize(("address", "loopback"), [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True),
                                                   ("::ffff:127.0.0.1", True), ("10.0.0.1", False), ("", False),
                                                   ("0.0.0.0", False), ("not an address", False)])
def test_rate_limit_is_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback
