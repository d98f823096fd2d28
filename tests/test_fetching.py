"""server/fetching.py against real HTTP servers on 127.0.0.1 (allow_private=True there, as a closed test network)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server.fetching import (FetchHTTPError, FetchPolicy, FetchTimeout, PrivateAddress, ResponseTooLarge,
                             SchemeNotAllowed, TooManyRedirects, address_allowed, fetch, policy_from_config)

BODY = b"x" * 5000
SEEN_COOKIES: list[str | None] = []


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        SEEN_COOKIES.append(self.headers.get("Cookie"))
        port = self.server.server_address[1]
        path = self.path
        if path == "/ok":
            self._send(200, BODY, {"Set-Cookie": "session=secret"})
        elif path == "/slow":
            # one byte a second, forever: only a total deadline ends it
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
        elif path == "/slow-headers":
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(100):
                    self.wfile.write(b"X: y\r\n")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
        elif path == "/loop-a":
            self._redirect("/loop-b")
        elif path == "/loop-b":
            self._redirect("/loop-a")
        elif path.startswith("/chain/"):
            n = int(path.rsplit("/", 1)[1])
            self._redirect(f"/chain/{n + 1}" if n < 20 else "/ok")
        elif path == "/to-ok":
            self._redirect("/ok", {"Set-Cookie": "tracker=1"})
        elif path == "/to-private":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif path == "/to-loopback-alias":
            self._redirect(f"http://127.0.0.2:{port}/ok")
        elif path == "/to-file":
            self._redirect("file:///etc/passwd")
        elif path == "/big-declared":
            self._send(200, b"y" * 100, {"Content-Length": "999999999"}, length=False)
        elif path == "/big-chunked":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"z" * 10_000)
            except OSError:
                pass
        elif path == "/missing":
            self._send(404, b"no")
        else:
            self._send(500, b"error")

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(302, b"", {"Location": location, **(headers or {})})

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: bool = True) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


LOCAL = FetchPolicy(max_bytes=100_000, deadline_s=5.0, allow_private=True)


def test_fetch_local_server_allowed_private_returns_body(server):
    progress: list[tuple[int, int | None]] = []
    got = fetch(f"{server}/ok", LOCAL, progress=lambda n, total: progress.append((n, total)))
    assert got.data == BODY and got.status == 200
    assert progress[-1] == (len(BODY), len(BODY))


def test_fetch_loopback_refused_by_default(server):
    with pytest.raises(PrivateAddress) as err:
        fetch(f"{server}/ok", FetchPolicy())
    assert "private network address" in str(err.value)


def test_fetch_slow_one_byte_per_second_hits_total_deadline(server):
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as err:
        fetch(f"{server}/slow", FetchPolicy(deadline_s=2.0, allow_private=True))
    assert time.monotonic() - started < 4.0
    assert "2 seconds" in str(err.value)


def test_fetch_slow_headers_hit_total_deadline(server):
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetch(f"{server}/slow-headers", FetchPolicy(deadline_s=2.0, allow_private=True))
    assert time.monotonic() - started < 4.0


def test_fetch_redirect_loop_refused(server):
    with pytest.raises(TooManyRedirects) as err:
        fetch(f"{server}/loop-a", LOCAL)
    assert "loop" in str(err.value)


def test_fetch_redirect_chain_over_limit_refused(server):
    with pytest.raises(TooManyRedirects):
        fetch(f"{server}/chain/0", LOCAL)


def test_fetch_redirect_to_link_local_refused(server):
    # 127.0.0.1 is allowed as a network here; the redirect target (cloud metadata address) is not
    policy = FetchPolicy(deadline_s=5.0, allow_networks=("127.0.0.1/32",))
    with pytest.raises(PrivateAddress) as err:
        fetch(f"{server}/to-private", policy)
    assert "169.254.169.254" in str(err.value)


def test_fetch_redirect_to_other_loopback_address_refused(server):
    policy = FetchPolicy(deadline_s=5.0, allow_networks=("127.0.0.1/32",))
    assert fetch(f"{server}/ok", policy).data == BODY
    with pytest.raises(PrivateAddress):
        fetch(f"{server}/to-loopback-alias", policy)


def test_fetch_redirect_to_file_scheme_refused(server):
    with pytest.raises(SchemeNotAllowed):
        fetch(f"{server}/to-file", LOCAL)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/", "http://user:pw@x/"])
def test_fetch_non_http_refused(url):
    with pytest.raises(SchemeNotAllowed):
        fetch(url, LOCAL)


def test_fetch_oversize_declared_refused(server):
    with pytest.raises(ResponseTooLarge) as err:
        fetch(f"{server}/big-declared", LOCAL)
    assert "limit" in str(err.value)


def test_fetch_oversize_undeclared_stops_at_bound(server):
    with pytest.raises(ResponseTooLarge):
        fetch(f"{server}/big-chunked", FetchPolicy(max_bytes=50_000, deadline_s=5.0, allow_private=True))


def test_fetch_http_error_status(server):
    with pytest.raises(FetchHTTPError) as err:
        fetch(f"{server}/missing", LOCAL)
    assert err.value.status == 404 and "404" in str(err.value)


def test_fetch_sends_no_cookies_after_redirect(server):
    SEEN_COOKIES.clear()
    assert fetch(f"{server}/to-ok", LOCAL).data == BODY
    fetch(f"{server}/ok", LOCAL)
    assert SEEN_COOKIES == [None, None, None]


@pytest.mark.parametrize("address,allowed", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False), ("169.254.169.254", False),
    ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False), ("240.0.0.1", False), ("::1", False),
    ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False), ("ff02::1", False),
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True)])
def test_fetch_address_policy(address, allowed):
    assert address_allowed(address, FetchPolicy()) is allowed


def test_fetch_policy_from_config_defaults_refuse_private():
    from server import load_config

    policy = policy_from_config(load_config())
    assert policy.allow_private is False and policy.allow_networks == ()
    assert policy.deadline_s == 30.0


@pytest.mark.parametrize("exc,status,slug", [
    (PrivateAddress("http://10.0.0.1/", "refused."), 400, "fetch-refused"),
    (SchemeNotAllowed("file:///x", "refused."), 400, "fetch-refused"),
    (TooManyRedirects("http://a/", "loops."), 502, "fetch-too-many-redirects"),
    (FetchTimeout("http://a/", "slow."), 504, "fetch-timeout"),
    (ResponseTooLarge("http://a/", "big."), 413, "fetch-too-large"),
    (FetchHTTPError("http://a/", "404.", 404), 502, "fetch-http-error")])
def test_fetch_errors_become_problem_json_at_the_edge(exc, status, slug, tmp_path):
    from server import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "LOAD_MODELS": False})

    def boom():
        raise exc

    app.add_url_rule("/test-fetch", "test_fetch", boom)
    response = app.test_client().get("/test-fetch")
    assert response.status_code == status and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == f"/v1/problems/{slug}" and body["detail"] == str(exc)
    assert app.test_client().get(body["type"]).status_code == 200


def test_fetch_remote_manifests_setting_off_by_default_on_gives_fetcher(tmp_path):
    from server import build_state, load_config

    off = build_state(load_config({"DATA_DIR": str(tmp_path / "a"), "LOAD_MODELS": False}))
    assert "remote_manifests" not in off.ctx.resources
    on = build_state(load_config({"DATA_DIR": str(tmp_path / "b"), "LOAD_MODELS": False, "FETCH_REMOTE_MANIFESTS": True}))
    assert callable(on.ctx.resources["remote_manifests"])
    assert on.pipeline == off.pipeline + "+remote-manifests"  # verdicts made with remote manifests are cached apart
    with pytest.raises(PrivateAddress):
        on.ctx.resources["remote_manifests"]("http://127.0.0.1:9/manifest.c2pa")
    off.storage.close()
    on.storage.close()
