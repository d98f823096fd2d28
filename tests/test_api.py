"""The HTTP API end to end on real fixtures: labels, the JSON contract, the cache and the records."""

from __future__ import annotations

import hashlib
import io

import jsonschema
import pytest
from media_fixtures import FIXTURES, expected, expected_label, fixture_path

from server.api import openapi_document

ENGINES = ("sqlite", "postgresql")  # tests using the app run on both storage engines

LABELLED = expected("c2pa") + expected("metadata")
PHOTOS = sorted(p.name for p in (FIXTURES / "photos").glob("*.jpg"))


def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    doc = openapi_document()
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]})


def _post(client, name: str, **form):
    return client.post("/v1/verify", data={"file": (io.BytesIO(fixture_path(name).read_bytes()), name.split("/")[-1]), **form})


@pytest.mark.parametrize("entry", LABELLED, ids=[e["file"] for e in LABELLED])
def test_verify_fixture_expected_label_200(entry, client):
    response = _post(client, entry["file"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["verdict"]["label"] == expected_label(entry), body["verdict"]
    _validator("VerifyResponse").validate(body)
    if body["verdict"]["label"] != "unknown":
        assert body["verdict"]["reasons"], "a label is always explained"


@pytest.mark.parametrize("name", PHOTOS)
def test_verify_real_photo_not_labelled_200(name, client):
    body = _post(client, f"photos/{name}").get_json()
    assert body["verdict"]["label"] in ("unknown", "has_provenance"), body["verdict"]


def test_verify_c2pa_ai_names_signer_200(client):
    body = _post(client, "c2pa/adobe_firefly_2023_butterfly.jpg").get_json()
    assert body["verdict"]["label"] == "synthetic"
    assert "Adobe Inc." in body["verdict"]["reasons"][0]["text"]
    assert body["checks"][0]["check"] == "c2pa_manifest"
    assert body["refutation"] is None
    assert body["media_type"] == "image/jpeg"
    assert body["sha256"] == hashlib.sha256(fixture_path("c2pa/adobe_firefly_2023_butterfly.jpg").read_bytes()).hexdigest()


def test_verify_raw_body_200(client):
    data = fixture_path("c2pa/adobe_firefly_2023_butterfly.jpg").read_bytes()
    response = client.post("/v1/verify", data=data, content_type="image/jpeg")
    assert response.status_code == 200
    assert response.get_json()["verdict"]["label"] == "synthetic"


def test_verify_declared_type_is_not_trusted_200(client):
    """A PNG sent as image/jpeg is read as what its bytes are."""
    data = fixture_path("c2pa/adobe_photoshop_2023_edit.png").read_bytes()
    body = client.post("/v1/verify", data=data, content_type="image/jpeg").get_json()
    assert body["media_type"] == "image/png"


def test_verify_repeat_served_from_cache_then_by_hash_200(client):
    first = _post(client, "c2pa/bfl_flux2.jpg")
    second = _post(client, "c2pa/bfl_flux2.jpg")
    assert first.headers["X-Verity-Cache"] == "miss"
    assert second.headers["X-Verity-Cache"] == "hit"
    assert first.get_json() == second.get_json()
    sha = first.get_json()["sha256"]
    by_hash = client.get(f"/v1/verdicts/{sha}")
    assert by_hash.status_code == 200
    assert by_hash.get_json() == first.get_json()
    assert client.get(f"/v1/verdicts/{sha.upper()}").status_code == 200


def test_verdict_unknown_hash_404(client):
    response = client.get("/v1/verdicts/" + "0" * 64)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/verdict-not-found")


def test_verdict_malformed_hash_400(client):
    response = client.get("/v1/verdicts/not-a-hash")
    assert response.status_code == 400
    assert response.get_json()["type"].endswith("/invalid-sha256")


def test_verify_records_each_request_with_source_url(client, app):
    _post(client, "photos/wiki_035.jpg", source_url="https://example.org/a.jpg", page_url="https://example.org/")
    _post(client, "photos/wiki_035.jpg")
    records = app.extensions["verify"].storage.records()
    assert [r.cached for r in records] == [True, False]
    assert records[1].source_url == "https://example.org/a.jpg"
    assert records[1].page_url == "https://example.org/"
    assert records[1].label == "unknown"


def test_checks_lists_registry_200(client):
    body = client.get("/v1/checks").get_json()
    _validator("ChecksList").validate(body)
    names = [c["name"] for c in body["checks"]]
    assert names[:2] == ["c2pa_manifest", "metadata_labels"]


def test_openapi_document_is_valid_openapi_200(client):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
    assert "/v1/verify" in doc["paths"] and "/v1/verdicts/{sha256}" in doc["paths"]


@pytest.mark.parametrize("fmt,mime", [("HEIF", "image/heic"), ("AVIF", "image/avif"), ("TIFF", "image/tiff"),
                                      ("WEBP", "image/webp"), ("GIF", "image/gif"), ("BMP", "image/bmp")])
def test_verify_other_image_formats_decoded_200(fmt, mime, client):
    from PIL import Image

    image = Image.open(fixture_path("photos/wiki_035.jpg")).convert("RGB").resize((256, 200))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    response = client.post("/v1/verify", data={"file": (io.BytesIO(buffer.getvalue()), "x")})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["media_type"] == mime
    assert body["verdict"]["label"] == "unknown"
    assert body["checks"][0]["outcome"] in ("not_detected", "unsupported")


def test_verify_response_carries_verification_id_time_pipeline_200(client):
    from server.verify import PIPELINE_VERSION, pipeline_id

    body = _post(client, "photos/wiki_035.jpg").get_json()
    verification = body["verification"]
    assert len(verification["id"]) == 32 and verification["pipeline_version"] == PIPELINE_VERSION
    assert verification["pipeline"] == pipeline_id() and verification["verified_at"].endswith("+00:00")
    other = _post(client, "c2pa/testsigner_CA.jpg").get_json()
    assert other["verification"]["id"] != verification["id"]
    # a cached answer names the verification that produced it
    assert _post(client, "photos/wiki_035.jpg").get_json()["verification"] == verification


def test_verify_untrusted_signer_neutral_label_200(client):
    body = _post(client, "c2pa/testsigner_CA.jpg").get_json()
    assert body["verdict"]["label"] == "untrusted_provenance"
    assert "public C2PA test certificate" in body["verdict"]["summary"]
    assert body["verdict"]["refuted"] is False and body["verdict"]["not_meaning"]
    _validator("VerifyResponse").validate(body)


def test_openapi_check_names_enum_and_evidence_schema_per_check_200(client):
    from server.verify import CHECKS

    doc = client.get("/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert schemas["CheckName"]["enum"] == list(CHECKS)
    for name in CHECKS:
        assert schemas[f"Evidence_{name}"]["properties"], name
    from server.verify.verdict import LABELS

    assert set(schemas["Verdict"]["properties"]["label"]["enum"]) == set(LABELS)
    bad = {"check": "c2pa_manifest", "outcome": "detected", "summary": "", "score": None,
           "evidence": {"validation_state": 3}}
    with pytest.raises(jsonschema.ValidationError):
        _validator("CheckResult").validate(bad)
    with pytest.raises(jsonschema.ValidationError):
        _validator("CheckResult").validate({**bad, "check": "no_such_check", "evidence": {}})


def test_problem_type_uris_are_served_pages_200(client):
    """Every problem slug raised anywhere in server/ has a page at its `type` URI."""
    import re

    from media_fixtures import ROOT

    from server.errors import _HTTP_SLUGS, DOMAIN_PROBLEMS, PROBLEM_PAGES

    slugs = {slug for _, slug, _ in DOMAIN_PROBLEMS.values()} | set(_HTTP_SLUGS.values()) | {"internal-error"}
    for path in (ROOT / "server").rglob("*.py"):
        slugs |= set(re.findall(r'Problem\(\s*\d{3},\s*"([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    assert slugs <= set(PROBLEM_PAGES), slugs - set(PROBLEM_PAGES)
    problem = client.get("/v1/verdicts/not-a-hash").get_json()
    page = client.get(problem["type"])
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"64 hexadecimal" in page.data
    assert client.get("/v1/problems/no-such-problem").status_code == 404
