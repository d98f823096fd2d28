"""Every bad request is an RFC 9457 problem with a stable type and the right status; never a 500."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from media_fixtures import fixture_path

from server import create_app
from server.api import openapi_document


def _assert_problem(response, status: int, slug: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug), body
    assert body["title"]
    import jsonschema

    jsonschema.validate(body, {"$ref": "#/components/schemas/Problem", "components": openapi_document()["components"]})


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_verify_no_file_400(client):
    response = client.post("/v1/verify", data={"other": (io.BytesIO(b"x"), "a.jpg")})
    _assert_problem(response, 400, "no-file")


def test_verify_form_without_file_400(client):
    _assert_problem(client.post("/v1/verify", data={"source_url": "https://a"}), 400, "no-file")


def test_verify_empty_body_400(client):
    _assert_problem(client.post("/v1/verify", data=b"", content_type="image/jpeg"), 400, "empty-body")


def test_verify_empty_file_400(client):
    _assert_problem(client.post("/v1/verify", data={"file": (io.BytesIO(b""), "a.jpg")}), 400, "empty-body")


def test_verify_text_file_415(client):
    _assert_problem(client.post("/v1/verify", data={"file": (io.BytesIO(b"<html>hello</html>"), "a.jpg")}), 415,
                    "unsupported-media-type")


def test_verify_too_large_413(tmp_path):
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "MAX_UPLOAD_MB": 0.01}).test_client()
    data = fixture_path("photos/wiki_035.jpg").read_bytes()
    _assert_problem(client.post("/v1/verify", data=data, content_type="image/jpeg"), 413, "media-too-large")


def test_verify_far_too_large_body_413(tmp_path):
    """Over the request limit (media limit + multipart slack): refused by the framework, still a problem."""
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "MAX_UPLOAD_MB": 0.01}).test_client()
    data = b"\xff\xd8\xff" + b"\x00" * (3 * 1024 * 1024)
    _assert_problem(client.post("/v1/verify", data={"file": (io.BytesIO(data), "a.jpg")}), 413, "media-too-large")


def test_verify_pixel_bomb_413(client):
    _assert_problem(client.post("/v1/verify", data=_png_header(100_000, 100_000), content_type="image/png"), 413,
                    "media-too-large")


def test_verify_truncated_jpeg_422(client):
    data = fixture_path("photos/wiki_035.jpg").read_bytes()[:2000]
    _assert_problem(client.post("/v1/verify", data=data, content_type="image/jpeg"), 422, "undecodable-media")


def test_verify_garbage_png_422(client):
    _assert_problem(client.post("/v1/verify", data=_png_header(10, 10)[:40], content_type="image/png"), 422,
                    "undecodable-media")


def test_unknown_route_404(client):
    _assert_problem(client.get("/v1/nothing-here"), 404, "not-found")


def test_verify_wrong_method_405(client):
    _assert_problem(client.get("/v1/verify"), 405, "method-not-allowed")


def test_verify_overlong_source_url_400(client):
    data = {"file": (io.BytesIO(fixture_path("photos/wiki_035.jpg").read_bytes()), "a.jpg"), "source_url": "h" * 5000}
    _assert_problem(client.post("/v1/verify", data=data), 400, "invalid-field")


def test_check_crash_is_error_outcome_not_500(app, client, monkeypatch):
    from server import verify as registry

    def boom(media, ctx):
        raise RuntimeError("simulated bug")

    monkeypatch.setitem(registry.CHECKS, "metadata_labels", boom)
    response = client.post("/v1/verify", data=fixture_path("photos/wiki_049.jpg").read_bytes(), content_type="image/jpeg")
    assert response.status_code == 200
    errored = [c for c in response.get_json()["checks"] if c["outcome"] == "error"]
    assert [c["check"] for c in errored] == ["metadata_labels"]
    assert "could not run" in response.get_json()["verdict"]["summary"]


def test_check_overrun_is_error_outcome_not_hang(tmp_path, monkeypatch):
    import threading

    from server import verify as registry

    release = threading.Event()

    def slow(media, ctx):
        release.wait(5)
        raise RuntimeError("released")

    monkeypatch.setitem(registry.CHECKS, "metadata_labels", slow)
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CHECK_TIMEOUT_S": 0.2}).test_client()
    try:
        response = client.post("/v1/verify", data=fixture_path("photos/wiki_042.jpg").read_bytes(), content_type="image/jpeg")
    finally:
        release.set()
    check = next(c for c in response.get_json()["checks"] if c["check"] == "metadata_labels")
    assert check["outcome"] == "error" and check["evidence"]["error"] == "timeout"


@pytest.mark.parametrize("blob", [b"\x00" * 100, b"RIFF\x00\x00\x00\x00WEBP" + b"\x00" * 50, b"GIF89a" + b"\x00" * 20])
def test_verify_malformed_bytes_never_500(client, blob):
    response = client.post("/v1/verify", data=blob, content_type="application/octet-stream")
    assert response.status_code in (400, 413, 415, 422)
    assert response.mimetype == "application/problem+json"
