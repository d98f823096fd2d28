"""Rate limits that fit a feed page: loopback clients of a local install get LOCAL_* limits, key holders on a team
server get KEY_* limits counted per key (through real HTTP); unknown clients keep theirs."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from server import create_app
from server.keys import ApiKeys
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


# --- key holders on a team server, through real HTTP ------------------------------------------------------------------

@pytest.fixture
def team(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A team server (HOST not loopback, keys optional so unknown clients can be compared) served over real HTTP on
    loopback, with two keys; small limits so the test stays quick: unknown clients 2 verifies / 6 requests a minute,
    key holders 5 / 12, bob's own rate 3 requests a minute."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "LOAD_MODELS": False, "HOST": "0.0.0.0",
                      "REQUIRE_KEYS": "false", "VERIFY_RATE_LIMIT": "2 per minute", "API_RATE_LIMIT": "6 per minute",
                      "KEY_VERIFY_RATE_LIMIT": "5 per minute", "KEY_RATE_LIMIT": "12 per minute"})
    keys = ApiKeys(app.extensions["verify"].storage)
    held = {"alice": keys.add("alice", actor="test")[1], "carol": keys.add("carol", actor="test")[1],
            "bob": keys.add("bob", actor="test", rate_limit="3 per minute")[1]}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", held
    server.shutdown()


def _http(url: str, key: str | None = None, method: str = "POST") -> int:
    headers = {"Content-Type": "application/octet-stream", **({"X-Verity-Key": key} if key else {})}
    request = urllib.request.Request(url, data=b"not media" if method == "POST" else None, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_rate_limit_key_holder_gets_key_limit_unknown_client_keeps_its_own_429(team: Any) -> None:
    base, held = team
    assert [_http(f"{base}/v1/verify") for _ in range(3)] == [415, 415, 429]  # no key: the per-address limit
    # alice comes from the same (now exhausted) address and gets her own, larger allowance
    assert [_http(f"{base}/v1/verify", held["alice"]) for _ in range(6)] == [415] * 5 + [429]
    assert _http(f"{base}/v1/verify", held["carol"]) == 415  # counted per key, not per address
    assert _http(f"{base}/v1/verify") == 429  # the unknown client still has none left


def test_rate_limit_key_holder_api_limit_per_key_and_own_rate_429(team: Any) -> None:
    base, held = team
    assert [_http(f"{base}/v1/checks", None, "GET") for _ in range(7)] == [200] * 6 + [429]
    assert set(_http(f"{base}/v1/checks", held["alice"], "GET") for _ in range(12)) == {200}
    assert _http(f"{base}/v1/checks", held["alice"], "GET") == 429
    assert [_http(f"{base}/v1/checks", held["bob"], "GET") for _ in range(4)] == [200, 200, 200, 429]  # --rate


def test_rate_limit_invalid_key_refused_not_given_key_limits(team: Any) -> None:
    base, held = team
    assert _http(f"{base}/v1/verify", held["alice"][:-2] + "xx") == 401
