"""ClaimReview/MediaReview import of video and audio: the clip fingerprints are stored, so clip_match finds a
transformed copy of an imported refuted clip (fixtures read in place from ../shared/fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from buildtasks import claims as claims_cli
from server import create_app
from server.verify.checks import clip_match

from media_fixtures import FIXTURES


def _media_review(content_url: str, name: str) -> dict[str, Any]:
    return {
        "@context": "https://schema.org", "@type": "MediaReview", "url": f"https://factcheck.example/{name}",
        "name": f"{name} presented as footage of today's protest", "datePublished": "2026-10-05", "inLanguage": "en",
        "author": {"@type": "Organization", "name": "Example Checks"},
        "mediaAuthenticityCategory": "TransformedContent",
        "reviewRating": {"@type": "Rating", "alternateName": "Out of context"},
        "itemReviewed": {"@type": "MediaReviewItem", "contentUrl": content_url},
    }


def _import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, original: str) -> Any:
    source = tmp_path / "reviews.jsonld"
    source.write_text(json.dumps(_media_review(original, Path(original).stem)), encoding="utf-8")
    monkeypatch.setenv("VERIFY_DATA_DIR", str(tmp_path / "data"))
    media = FIXTURES / kind / "match" / "originals"
    assert claims_cli.main(["import", str(source), "--media", str(media)]) == 0
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data")})


def test_claims_import_video_stores_clip_fingerprint_variant_matched(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    app = _import(tmp_path, monkeypatch, "video", "v03_car_detection_000-008.mp4")
    stored = app.extensions["verify"].storage.refuted_media()
    assert len(stored) == 1 and stored[0].media_type == "video" and stored[0].width == 768
    assert clip_match.VPDQ in stored[0].hashes
    variant = FIXTURES / "video" / "match" / "variants" / "v03_car_detection_000-008__letterbox.mp4"
    body = app.test_client().post("/v1/verify", data=variant.read_bytes(), content_type="video/mp4").get_json()
    refutation = body["refutation"]
    assert refutation["rating"] == "Out of context"
    assert refutation["match"]["method"] == "vpdq"
    assert "black borders trimmed" in refutation["match"]["transform"]
    reasons = [r for r in body["verdict"]["reasons"] if r["signal"] == "refuted"]
    assert reasons and reasons[0]["check"] == "clip_match" and "sampled frames" in reasons[0]["text"]
    assert body["verdict"]["label"] == "unknown"


def test_claims_import_audio_stores_chromaprint_transcode_matched(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app = _import(tmp_path, monkeypatch, "audio", "m02_lets_go_fishin_010-022.mp3")
    stored = app.extensions["verify"].storage.refuted_media()
    assert clip_match.CHROMAPRINT in stored[0].hashes and clip_match.VPDQ not in stored[0].hashes
    variant = FIXTURES / "audio" / "match" / "variants" / "m02_lets_go_fishin_010-022__opus_32k.opus"
    body = app.test_client().post("/v1/verify", data=variant.read_bytes(), content_type="audio/ogg").get_json()
    assert body["refutation"]["match"]["method"] == "chromaprint"
    assert body["refutation"]["match"]["transform"].startswith("audio: ")


def test_claims_import_undecodable_clip_nothing_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.jsonld"
    source.write_text(json.dumps(_media_review("corrupt_moov.mp4", "bad")), encoding="utf-8")
    monkeypatch.setenv("VERIFY_DATA_DIR", str(tmp_path / "data"))
    assert claims_cli.main(["import", str(source), "--media", str(FIXTURES / "video" / "bad")]) == 1
    assert "contentUrl" in capsys.readouterr().err
