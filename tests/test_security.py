"""The security review's promises, one test each (docs/security.md links every threat to its test here)."""

from __future__ import annotations

import io
import json
import socket
import threading
from pathlib import Path

import pytest
from PIL import Image

from server import create_app

from media_fixtures import fixture_path

TOKEN = "security-test-token"
PHOTO = "photos/" + sorted(p.name for p in fixture_path("photos").glob("*.jpg"))[0]


def _app(tmp_path: Path, **config):
    # The test client is a loopback client: the local-install limits (tests/test_rate_limits_local.py) are off here.
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "LOAD_MODELS": False,
                       "LOCAL_API_RATE_LIMIT": "", "LOCAL_VERIFY_RATE_LIMIT": "", **config})


def _png_with_html() -> bytes:
    """A real, decodable PNG with an HTML page after its IEND chunk (a polyglot a browser could sniff as HTML)."""
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buf, "PNG")
    return buf.getvalue() + b"<html><body><script>alert(document.domain)</script></body></html>"


# --- CORS -------------------------------------------------------------------------------------------------------------

def test_cors_default_no_cross_origin_access(client) -> None:
    response = client.get("/v1/checks", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options("/v1/verify", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_cors_configured_origin_allowed_others_not(tmp_path: Path) -> None:
    client = _app(tmp_path, CORS_ORIGINS="https://desk.example, https://tools.example/").test_client()
    ok = client.get("/v1/checks", headers={"Origin": "https://tools.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://tools.example"
    assert "Access-Control-Allow-Credentials" not in ok.headers
    other = client.get("/v1/checks", headers={"Origin": "https://desk.example.evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    review = client.get("/review/login", headers={"Origin": "https://tools.example"})
    assert "Access-Control-Allow-Origin" not in review.headers  # only /v1 is ever shared


def test_cors_wildcard_origin_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must list origins"):
        _app(tmp_path, CORS_ORIGINS="*")


# --- headers ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [("GET", "/v1/checks"), ("GET", "/v1/health"), ("GET", "/v1/verdicts/" + "0" * 64),
                                         ("GET", "/v1/verdicts/nothex"), ("POST", "/v1/verify"), ("GET", "/nowhere"),
                                         ("GET", "/review/login"), ("GET", "/v1/openapi.json")])
def test_security_headers_every_response_present(client, method: str, path: str) -> None:
    response = client.open(path, method=method, data=b"not media" if method == "POST" else None)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_review_pages_strict_csp_no_inline_script(client) -> None:
    csp = client.get("/review/login").headers["Content-Security-Policy"]
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


# --- rate limits ------------------------------------------------------------------------------------------------------

LIMITED_BLUEPRINTS = {"api", "refutations", "jobs", "reports", "review"}


def test_rate_limits_every_public_route_covered(app) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if not rule.endpoint.endswith("static")}
    uncovered = [e for e in endpoints if e.split(".")[0] not in LIMITED_BLUEPRINTS]
    assert uncovered == []


@pytest.mark.parametrize("path", ["/v1/checks", "/v1/verdicts/" + "a" * 64, "/v1/refutations", "/v1/refutations/1",
                                  "/v1/jobs/" + "b" * 32, "/v1/reports/" + "c" * 20 + "?receipt=x", "/review/login"])
def test_rate_limit_public_get_route_429(tmp_path: Path, path: str) -> None:
    client = _app(tmp_path, API_RATE_LIMIT="3 per minute").test_client()
    statuses = [client.get(path).status_code for _ in range(4)]
    assert 429 not in statuses[:3] and statuses[3] == 429
    body = client.get(path).get_json()
    assert body["type"].endswith("/too-many-requests")


def test_rate_limit_verify_stricter_limit_429(tmp_path: Path) -> None:
    client = _app(tmp_path, VERIFY_RATE_LIMIT="2 per minute").test_client()
    statuses = [client.post("/v1/verify", data=b"not media").status_code for _ in range(3)]
    assert statuses == [415, 415, 429]
    assert client.get("/v1/checks").status_code == 200  # the stricter limit is the expensive route's only


def test_rate_limit_defaults_allow_hash_first_page_of_images(client) -> None:
    # a page with 300 images: the extension asks for each by hash first
    statuses = {client.get(f"/v1/verdicts/{i:064x}").status_code for i in range(300)}
    assert statuses == {404}


# --- SSRF: user-supplied URLs are never fetched -----------------------------------------------------------------------

@pytest.fixture
def listener():
    """A loopback TCP server that counts the connections made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append("connection")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    server.close()


def test_verify_source_and_page_url_never_fetched_200(client, listener) -> None:
    base, accepted = listener
    data = fixture_path(PHOTO).read_bytes()
    response = client.post("/v1/verify", data={"file": (io.BytesIO(data), "a.jpg"), "source_url": base + "/image.jpg",
                                                "page_url": base + "/page"})
    assert response.status_code == 200
    report = client.post("/v1/reports", json={"sha256": response.get_json()["sha256"], "category": "other",
                                              "source_url": base + "/image.jpg", "page_url": base + "/page"})
    assert report.status_code == 201
    assert accepted == []


def test_refutations_jsonld_url_only_media_refused_400(tmp_path: Path, listener) -> None:
    base, accepted = listener
    client = _app(tmp_path, REFUTATION_TOKEN=TOKEN).test_client()
    doc = {"@context": "https://schema.org", "@type": "ClaimReview", "claimReviewed": "x",
           "author": {"name": "Desk"}, "reviewRating": {"alternateName": "False"},
           "itemReviewed": {"@type": "Claim", "appearance": [{"contentUrl": base + "/fake.jpg"}]}}
    response = client.post("/v1/refutations", json=doc, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400
    assert response.get_json()["type"].endswith("/media-urls-not-fetched")
    assert accepted == []
    assert client.get("/v1/refutations").get_json()["total"] == 0


# --- reviewer endpoints need credentials ------------------------------------------------------------------------------

def test_reviewer_endpoints_without_credentials_refused(app) -> None:
    client = app.test_client()
    assert client.get("/v1/reports").status_code == 401
    assert client.post("/v1/refutations", json={"claim": "x", "rating": "y", "fact_checker": "z"}).status_code == 403
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/review") or rule.endpoint in ("review.login", "review.login_post", "review.static"):
            continue
        path = rule.rule.replace("<int:item_id>", "1").replace("<sha256>", "d" * 64)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method)
            assert response.status_code in (302, 401, 403), (method, path, response.status_code)
            if response.status_code == 302:
                assert "/review/login" in response.headers["Location"]


def test_refutation_writes_with_token_configured_but_missing_401(tmp_path: Path) -> None:
    client = _app(tmp_path, REFUTATION_TOKEN=TOKEN).test_client()
    body = {"claim": "x", "rating": "y", "fact_checker": "z"}
    assert client.post("/v1/refutations", json=body).status_code == 401
    assert client.post("/v1/refutations", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401


# --- stored uploads are never served back as something executable -----------------------------------------------------

def test_refutation_media_html_polyglot_served_as_image_nosniff_sandboxed(tmp_path: Path) -> None:
    client = _app(tmp_path, REFUTATION_TOKEN=TOKEN).test_client()
    data = _png_with_html()
    response = client.post("/v1/refutations", data={"refutation": json.dumps({"claim": "x", "rating": "False",
                                                                              "fact_checker": "Desk"}),
                                                    "file": (io.BytesIO(data), "page.html")},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 201, response.get_json()
    media = client.get(response.get_json()["media"][0]["url"])
    assert media.status_code == 200
    assert media.mimetype == "image/png"
    assert media.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in media.headers["Content-Security-Policy"]
    assert media.data == data
    media.close()  # send_file streams from the open file


@pytest.mark.parametrize("name,data", [
    ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("page.html", b"<!doctype html><html><script>alert(1)</script></html>"),
    ("image.gif", b"GIF89a<html><script>alert(1)</script></html>"),
])
def test_refutation_upload_script_content_refused_4xx(tmp_path: Path, name: str, data: bytes) -> None:
    client = _app(tmp_path, REFUTATION_TOKEN=TOKEN).test_client()
    response = client.post("/v1/refutations", data={"refutation": json.dumps({"claim": "x", "rating": "False",
                                                                              "fact_checker": "Desk"}),
                                                    "file": (io.BytesIO(data), name)},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert 400 <= response.status_code < 500
    assert client.get("/v1/refutations").get_json()["total"] == 0


def test_rate_limit_shared_in_redis_across_servers_429(tmp_path: Path, redis_url: str) -> None:
    """Behind several hosts the limits live in Redis (VERIFY_RATELIMIT_STORAGE_URI): a client cannot multiply its
    allowance by spreading requests over servers."""
    one = _app(tmp_path / "one", API_RATE_LIMIT="3 per minute", RATELIMIT_STORAGE_URI=redis_url).test_client()
    two = _app(tmp_path / "two", API_RATE_LIMIT="3 per minute", RATELIMIT_STORAGE_URI=redis_url).test_client()
    statuses = [one.get("/v1/checks").status_code, two.get("/v1/checks").status_code,
                one.get("/v1/checks").status_code, two.get("/v1/checks").status_code]
    assert statuses == [200, 200, 200, 429]
