"""Refutations: the API (list/search/read/media/add with a bearer token), the verify response's `refutation` end to
end, and schema.org ClaimReview/MediaReview import/export through `build.py claims`."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from buildtasks import claims as claims_cli
from server import create_app
from server.api import openapi_document

from media_fixtures import FIXTURES

ENGINES = ("sqlite", "postgresql")  # tests using the app run on both storage engines

ORIGINALS = FIXTURES / "refutation" / "originals"
VARIANTS = FIXTURES / "refutation" / "variants"
TOKEN = "s3cret-reviewer-token"


def _validate(instance: Any, schema_name: str) -> None:
    doc = openapi_document()
    jsonschema.validate(instance, {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]})


def _problem(response: Any, status: int, slug: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    _validate(response.get_json(), "Problem")
    assert response.get_json()["type"].endswith("/" + slug)


@pytest.fixture
def writer(tmp_path: Path, database_url: str):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "REFUTATION_TOKEN": TOKEN,
                      "DATABASE_URL": database_url})
    yield app.test_client()
    app.extensions["verify"].storage.close()


def _get_bytes(client: Any, url: str) -> tuple[int, str, bytes]:
    response = client.get(url)
    try:
        return response.status_code, response.mimetype, response.data
    finally:
        response.close()  # send_file keeps the stored file open until the response is closed


def _post(client: Any, fields: dict[str, Any], files: list[Path], token: str | None = TOKEN) -> Any:
    data: dict[str, Any] = {"refutation": json.dumps(fields)}
    if files:
        data["file"] = [(io.BytesIO(p.read_bytes()), p.name) for p in files]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/v1/refutations", data=data, headers=headers, content_type="multipart/form-data")


CLAIM = {"claim": "Photo shows the flooded station this morning", "rating": "False", "fact_checker": "Example Checks",
         "review_url": "https://factcheck.example/flood", "date": "2026-11-01", "language": "en",
         "explanation": "The photo is years old and shows another place.", "original_context": "Taken in 2012."}


def test_refutations_post_without_configured_token_403(client) -> None:
    _problem(_post(client, CLAIM, []), 403, "refutation-writes-disabled")


def test_refutations_post_wrong_or_missing_token_401(writer) -> None:
    _problem(_post(writer, CLAIM, [], token="wrong"), 401, "unauthorized")
    _problem(_post(writer, CLAIM, [], token=None), 401, "unauthorized")


def test_refutations_post_missing_claim_400(writer) -> None:
    _problem(_post(writer, {**CLAIM, "claim": ""}, []), 400, "invalid-refutation")
    _problem(writer.post("/v1/refutations", data="{not json", headers={"Authorization": f"Bearer {TOKEN}"},
                         content_type="application/json"), 400, "invalid-refutation")


def test_refutations_post_undecodable_media_400(writer) -> None:
    response = writer.post("/v1/refutations", data={"refutation": json.dumps(CLAIM),
                                                    "file": (io.BytesIO(b"not an image"), "x.jpg")},
                           headers={"Authorization": f"Bearer {TOKEN}"}, content_type="multipart/form-data")
    _problem(response, 400, "invalid-refutation")
    assert writer.get("/v1/refutations").get_json()["total"] == 0


def test_refutations_post_list_get_media_200(writer) -> None:
    original = ORIGINALS / "kodak_kodim03.jpg"
    created = _post(writer, CLAIM, [original])
    assert created.status_code == 201
    body = created.get_json()
    _validate(body, "RefutationRecord")
    assert created.headers["Location"] == f"/v1/refutations/{body['id']}"
    one = writer.get(f"/v1/refutations/{body['id']}")
    assert one.status_code == 200 and one.get_json() == body
    _post(writer, {**CLAIM, "claim": "Another claim entirely"}, [])
    page = writer.get("/v1/refutations?q=flooded&per_page=1").get_json()
    _validate(page, "RefutationPage")
    assert page["total"] == 1 and page["items"][0]["id"] == body["id"]
    assert writer.get("/v1/refutations?page=2&per_page=1").get_json()["items"][0]["id"] == body["id"]
    assert _get_bytes(writer, body["media"][0]["url"]) == (200, "image/jpeg", original.read_bytes())


def test_refutations_unknown_id_and_media_404(client) -> None:
    _problem(client.get("/v1/refutations/999"), 404, "refutation-not-found")
    _problem(client.get("/v1/refutations/999/media/1"), 404, "media-not-found")
    _problem(client.get("/v1/refutations?per_page=1000"), 400, "invalid-field")


def test_verify_captioned_variant_after_refutation_added_carries_refutation_200(writer) -> None:
    """End to end: a cached verdict from before the refutation must not hide it; the original is fetchable."""
    variant = (VARIANTS / "kodak_kodim03__caption_below.jpg").read_bytes()
    before = writer.post("/v1/verify", data=variant, content_type="image/jpeg")
    assert before.status_code == 200 and before.get_json()["refutation"] is None
    created = _post(writer, CLAIM, [ORIGINALS / "kodak_kodim03.jpg"]).get_json()
    for name in ("kodak_kodim03__caption_below.jpg", "kodak_kodim03__banner_top.jpg"):
        after = writer.post("/v1/verify", data=(VARIANTS / name).read_bytes(), content_type="image/jpeg")
        assert after.status_code == 200
        body = after.get_json()
        _validate(body, "VerifyResponse")
        refutation = body["refutation"]
        assert refutation["id"] == created["id"] and refutation["claim"] == CLAIM["claim"]
        assert refutation["match"]["method"].startswith("pdq")
        assert _get_bytes(writer, refutation["match"]["original_url"])[2] == (ORIGINALS / "kodak_kodim03.jpg").read_bytes()


def test_verify_captioned_clip_after_video_refutation_posted_carries_refutation_200(writer) -> None:
    """A video posted to /v1/refutations is fingerprinted for clip_match, so a re-posted copy matches (not only the
    exact bytes)."""
    clips = ORIGINALS.parents[1] / "video" / "match"
    created = _post(writer, CLAIM, [clips / "originals" / "v01_bikes.mp4"])
    assert created.status_code == 201
    after = writer.post("/v1/verify", data=(clips / "variants" / "v01_bikes__caption.mp4").read_bytes(),
                        content_type="video/mp4")
    assert after.status_code == 200
    refutation = after.get_json()["refutation"]
    assert refutation is not None and refutation["id"] == created.get_json()["id"]
    assert refutation["match"]["method"] == "vpdq"


# --- ClaimReview / MediaReview import and export -------------------------------------------------------------------

def _jsonld(media_names: list[str]) -> dict[str, Any]:
    claim_review = {
        "@context": "https://schema.org", "@type": "ClaimReview", "url": "https://factcheck.example/otters",
        "claimReviewed": "These otters were rescued from last week's flood", "datePublished": "2026-10-02",
        "inLanguage": "en", "author": {"@type": "Organization", "name": "Example Checks", "url": "https://factcheck.example"},
        "reviewRating": {"@type": "Rating", "ratingValue": 1, "bestRating": 5, "worstRating": 1, "alternateName": "False"},
        "reviewBody": "The photo was taken at a zoo in 2019.",
        "itemReviewed": {"@type": "Claim", "appearance": [{"@type": "ImageObject", "contentUrl": media_names[0]}]},
    }
    media_review = {
        "@context": "https://schema.org", "@type": "MediaReview", "url": "https://factcheck.example/tea",
        "name": "Tea gardens shown as a disaster area", "datePublished": "2026-10-05", "inLanguage": "zh",
        "author": {"@type": "Organization", "name": "示例核查"},
        "mediaAuthenticityCategory": "OriginalMediaContent",
        "originalMediaContextDescription": "拍摄于2015年的茶园照片。",
        "reviewRating": {"@type": "Rating", "alternateName": "Missing context"},
        "itemReviewed": {"@type": "MediaReviewItem", "contentUrl": media_names[1],
                         "mediaItemAppearance": [{"@type": "ImageObjectSnapshot", "contentUrl": media_names[1]}]},
    }
    return {"@context": "https://schema.org", "@graph": [claim_review, media_review]}


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    for name in ("budgie_oakland-zoo-otters.jpg", "budgie_tea-gardens.jpg"):
        shutil.copy(ORIGINALS / name, folder / name)
    return folder


def _cli(monkeypatch: pytest.MonkeyPatch, data_dir: Path, *args: str) -> int:
    monkeypatch.setenv("VERIFY_DATA_DIR", str(data_dir))
    return claims_cli.main(list(args))


@pytest.fixture
def served_data_dir(tmp_path: Path):
    """A real HTTP server (werkzeug, 127.0.0.1) of a Verity instance on tmp_path/db1: its media URLs are fetchable."""
    import threading

    from werkzeug.serving import make_server

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "db1"), "LOAD_MODELS": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path / "db1", f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["verify"].storage.close()


def _without_urls(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_urls(n) for n in node]
    if isinstance(node, dict):
        return {k: ("<url>" if k == "contentUrl" else _without_urls(v)) for k, v in node.items()}
    return node


def test_claims_import_export_import_round_trip_loses_nothing(tmp_path: Path, media_dir: Path, served_data_dir,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db1, base = served_data_dir
    source = tmp_path / "reviews.jsonld"
    original = _jsonld(["budgie_oakland-zoo-otters.jpg", "budgie_tea-gardens.jpg"])
    source.write_text(json.dumps(original), encoding="utf-8")
    assert _cli(monkeypatch, db1, "import", str(source), "--media", str(media_dir)) == 0
    first = tmp_path / "export1.jsonld"
    # relative contentUrls cannot be exported as they are: the export names the server's copies
    assert _cli(monkeypatch, db1, "export", "--out", str(first)) == 1
    assert _cli(monkeypatch, db1, "export", "--out", str(first), "--base-url", base) == 0
    exported = json.loads(first.read_text(encoding="utf-8"))
    # every item has @context (the @graph's was shared), every contentUrl is absolute, nothing else changed
    assert all(item["@context"] == "https://schema.org" for item in exported)
    assert _without_urls(exported) == _without_urls(original["@graph"])
    urls = [a["contentUrl"] for a in exported[0]["itemReviewed"]["appearance"]] + [exported[1]["itemReviewed"]["contentUrl"]]
    assert all(u.startswith(base + "/v1/refutations/") for u in urls)

    # a fresh instance imports the export by fetching the first server's originals (a local test network)
    monkeypatch.setenv("VERIFY_FETCH_ALLOW_PRIVATE", "true")
    assert _cli(monkeypatch, tmp_path / "db2", "import", str(first)) == 0
    second = tmp_path / "export2.jsonld"
    assert _cli(monkeypatch, tmp_path / "db2", "export", "--out", str(second), "--base-url", "https://verity.example") == 0
    assert _without_urls(json.loads(second.read_text(encoding="utf-8"))) == _without_urls(exported)

    old = create_app({"TESTING": True, "DATA_DIR": str(db1), "LOAD_MODELS": False}).test_client()
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "db2")})
    client = app.test_client()
    fields = ("claim", "rating", "fact_checker", "review_url", "date", "language", "explanation", "original_context",
              "media_authenticity_category")

    def same(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((*(i[f] for f in fields), tuple(sorted(m["sha256"] for m in i["media"]))) for i in items)

    items = client.get("/v1/refutations").get_json()["items"]
    assert same(items) == same(old.get("/v1/refutations").get_json()["items"])
    media_review = next(i for i in items if i["fact_checker"] == "示例核查")
    assert media_review["rating"] == "Missing context" and media_review["original_context"] == "拍摄于2015年的茶园照片。"
    assert media_review["media_authenticity_category"] == "OriginalMediaContent"
    assert len(media_review["media"]) == 1
    # the imported media is matched: a meme-bannered re-post of the MediaReview's picture
    body = client.post("/v1/verify", data=(VARIANTS / "budgie_tea-gardens__banner_top.jpg").read_bytes(),
                       content_type="image/jpeg").get_json()
    assert body["refutation"]["id"] == media_review["id"]
    assert body["verdict"]["refuted"] is True and body["verdict"]["summary"].startswith("Refuted by 示例核查")
    assert body["verdict"]["label"] == "unknown"  # the label stays about AI


def test_claims_import_review_without_media_skipped_and_reported(tmp_path: Path, media_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    doc = _jsonld(["budgie_oakland-zoo-otters.jpg", "budgie_tea-gardens.jpg"])
    # the usual feed shape: the claim's appearance is the post's page, no media
    doc["@graph"][0]["itemReviewed"] = {"@type": "Claim", "appearance": [{"@type": "CreativeWork",
                                                                          "url": "https://social.example/post/1"}]}
    source = tmp_path / "feed.jsonld"
    source.write_text(json.dumps(doc), encoding="utf-8")
    assert _cli(monkeypatch, tmp_path / "db", "import", str(source), "--media", str(media_dir)) == 0
    out = capsys.readouterr().out
    assert "imported 1 refutations" in out
    assert "skipped item 0 (https://factcheck.example/otters): names no media" in out


def test_claims_import_invalid_item_names_item_and_field_nothing_imported(tmp_path: Path, media_dir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    doc = _jsonld(["budgie_oakland-zoo-otters.jpg", "budgie_tea-gardens.jpg"])
    del doc["@graph"][1]["author"]
    source = tmp_path / "bad.jsonld"
    source.write_text(json.dumps(doc), encoding="utf-8")
    assert _cli(monkeypatch, tmp_path / "db", "import", str(source), "--media", str(media_dir)) == 1
    err = capsys.readouterr().err
    assert "item 1 (https://factcheck.example/tea)" in err and "author.name" in err and "nothing was imported" in err
    assert _cli(monkeypatch, tmp_path / "db", "export") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_claims_import_missing_media_file_nothing_imported(tmp_path: Path, media_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "missing.jsonld"
    source.write_text(json.dumps(_jsonld(["budgie_oakland-zoo-otters.jpg", "../../etc/passwd"])), encoding="utf-8")
    assert _cli(monkeypatch, tmp_path / "db", "import", str(source), "--media", str(media_dir)) == 1
    assert "item 1" in capsys.readouterr().err
    assert _cli(monkeypatch, tmp_path / "db", "export") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_claims_import_not_json_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "broken.jsonld"
    source.write_text("{", encoding="utf-8")
    assert _cli(monkeypatch, tmp_path / "db", "import", str(source)) == 2
    assert "is not JSON" in capsys.readouterr().err


def test_claims_import_single_item_and_array_accepted(tmp_path: Path, media_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _jsonld(["budgie_oakland-zoo-otters.jpg", "budgie_tea-gardens.jpg"])
    single, array = tmp_path / "one.jsonld", tmp_path / "many.jsonld"
    single.write_text(json.dumps(doc["@graph"][0]), encoding="utf-8")
    array.write_text(json.dumps(doc["@graph"]), encoding="utf-8")
    assert _cli(monkeypatch, tmp_path / "db", "import", str(single), "--media", str(media_dir)) == 0
    assert _cli(monkeypatch, tmp_path / "db", "import", str(array), "--media", str(media_dir)) == 0


def test_claims_import_private_address_refused_nothing_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """claims import reads remote media through the safe fetcher: a loopback or metadata address is refused."""
    doc = _jsonld(["http://127.0.0.1:9/a.jpg", "http://169.254.169.254/latest/meta-data/"])
    source = tmp_path / "ssrf.jsonld"
    source.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.delenv("VERIFY_FETCH_ALLOW_PRIVATE", raising=False)
    assert _cli(monkeypatch, tmp_path / "db", "import", str(source)) == 1
    err = capsys.readouterr().err
    assert "private network address" in err and "nothing was imported" in err


def test_claims_import_review_page_media_with_fetch_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A review that gives only the post's page: with --fetch-pages its og:image is read, stored and matched."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    photo = (ORIGINALS / "budgie_tea-gardens.jpg").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body, kind = ((b'<html><head><meta property="og:image" content="/photo.jpg"></head></html>', "text/html")
                          if self.path == "/post/1" else (photo, "image/jpeg"))
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = f"http://127.0.0.1:{server.server_address[1]}/post/1"
        doc = _jsonld(["x.jpg", "y.jpg"])["@graph"][0]
        doc["itemReviewed"] = {"@type": "Claim", "appearance": [{"@type": "SocialMediaPosting", "url": page}]}
        source = tmp_path / "feed.jsonld"
        source.write_text(json.dumps(doc), encoding="utf-8")
        monkeypatch.setenv("VERIFY_FETCH_ALLOW_PRIVATE", "true")
        assert _cli(monkeypatch, tmp_path / "db", "import", str(source)) == 0
        assert "skipped item 0" in capsys.readouterr().out
        assert _cli(monkeypatch, tmp_path / "db", "import", str(source), "--fetch-pages") == 0
        assert "imported 1 refutations" in capsys.readouterr().out
    finally:
        server.shutdown()
        server.server_close()
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "db")}).test_client()
    body = client.post("/v1/verify", data=(VARIANTS / "budgie_tea-gardens__banner_top.jpg").read_bytes(),
                       content_type="image/jpeg").get_json()
    assert body["verdict"]["refuted"] is True
    assert body["refutation"]["match"]["original_url"]
