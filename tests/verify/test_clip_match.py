"""clip_match: refuted video/audio clips found again after re-encoding, resizing, cropping, letterboxing, captions,
trimming, transcoding, volume change and noise (fixtures video/match, audio/match); nothing else matched."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from server.storage import Refutation, RefutedMedia
from server.verify import av_decode
from server.verify.checks import clip_match
from server.verify.types import Limits, Outcome

from media_fixtures import expected, fixture_path

OPENAPI = json.loads((Path(__file__).resolve().parents[2] / "server" / "openapi.json").read_text())


def _entries(kind: str, category: str) -> list[dict]:
    return [e for e in expected(kind)["files"] if e["category"] == category]


def _refs(kind: str) -> dict[str, dict]:
    return {e["file"]: clip_match.reference_hashes(fixture_path(f"{kind}/{e['file']}").read_bytes(), Limits())
            for e in _entries(kind, "match_original")}


def _matches(kind: str, refs: dict[str, dict], path: str) -> set[str]:
    """The originals a clip matches, by the check's own decision rule."""
    analysis = av_decode.analyse(fixture_path(f"{kind}/{path}").read_bytes(), Limits())
    qv = clip_match.query_video_hashes(analysis) if analysis.samples else []
    fp = analysis.audio_fingerprint
    qa = np.array(fp, dtype=np.uint32) if fp and not clip_match.degenerate(fp) else None
    found = set()
    for name, hashes in refs.items():
        if qv and clip_match.VPDQ in hashes:
            ref = np.frombuffer(bytes.fromhex("".join(hashes[clip_match.VPDQ]["hashes"])), np.uint8).reshape(-1, 32)
            if clip_match.match_video(qv, ref)["matched"]:
                found.add(name)
        if qa is not None and clip_match.CHROMAPRINT in hashes:
            ber, _ = clip_match.best_offset_ber(qa, np.array(hashes[clip_match.CHROMAPRINT]["fp"], dtype=np.uint32))
            if ber <= clip_match.AUDIO_MAX_BER:
                found.add(name)
    return found


@pytest.fixture(scope="module")
def video_refs():
    return _refs("video")


@pytest.fixture(scope="module")
def audio_refs():
    return _refs("audio")


@pytest.mark.parametrize("kind", ["video", "audio"])
def test_clip_match_quality_bar_met(kind, request):
    refs = request.getfixturevalue(f"{kind}_refs")
    per_family: dict[str, list[bool]] = defaultdict(list)
    false_matches = comparisons = 0
    for entry in _entries(kind, "match_variant") + _entries(kind, "match_nonmatch"):
        found = _matches(kind, refs, entry["file"])
        want = entry["match_of"]
        if want:
            per_family[want].append(want in found)
        false_matches += len(found - {want})
        comparisons += len(refs) - (1 if want else 0)
    rates = {family: sum(hits) / len(hits) for family, hits in per_family.items()}
    assert len(rates) == len(refs)
    assert min(rates.values()) >= 0.95, rates
    assert false_matches / comparisons <= 0.001, (false_matches, comparisons)


def test_clip_match_misnamed_copies_match_their_original(video_refs, audio_refs):
    assert _matches("video", video_refs, "bad/mp4_data_named.webm") == {"match/originals/v01_bikes.mp4"}
    assert _matches("audio", audio_refs, "bad/mp3_data_named.wav") == {"match/originals/m06_vibe_ace_000-012.mp3"}


def test_clip_match_silence_reference_not_stored():
    data = fixture_path("audio/match/nonmatch/n08_digital_silence_10s.mp3").read_bytes()
    assert clip_match.reference_hashes(data, Limits()) == {}


def _store(app, path: str) -> int:
    storage = app.extensions["verify"].storage
    data = fixture_path(path).read_bytes()
    import hashlib

    return storage.add_refutation(
        Refutation(0, "This clip shows the event described", "False", "Example Fact Check",
                   review_url="https://factcheck.example/review/1"),
        [RefutedMedia(0, 0, hashlib.sha256(data).hexdigest(), "video", hashes=clip_match.reference_hashes(data, Limits()),
                      content_url=None)])


def _refutation_schema() -> dict:
    schema = dict(OPENAPI["components"]["schemas"]["Refutation"])
    schema["components"] = OPENAPI["components"]
    return schema


def test_clip_match_letterboxed_variant_detected_with_refutation(app, media, ctx):
    rid = _store(app, "video/match/originals/v04_bottle_detection_010-018.mp4")
    result = clip_match.check(media("video/match/variants/v04_bottle_detection_010-018__letterbox.mp4"), ctx)
    assert result.outcome is Outcome.DETECTED
    refutation = result.evidence["refutation"]
    assert refutation["id"] == rid and refutation["match"]["method"] == "vpdq"
    jsonschema.validate(refutation, _refutation_schema())
    assert result.evidence["video"]["frames_matched"] >= 2


def test_clip_match_video_soundtrack_matches_refuted_audio(app, media, ctx):
    _store(app, "audio/match/originals/s01_jfk_inaugural.mp3")
    result = clip_match.check(media("audio/match/variants/s01_jfk_inaugural__opus_32k.opus"), ctx)
    assert result.outcome is Outcome.DETECTED and result.evidence["refutation"]["match"]["method"] == "chromaprint"
    assert result.evidence["audio"]["bit_error_rate"] <= clip_match.AUDIO_MAX_BER


def test_clip_match_other_clip_not_detected(app, media, ctx):
    _store(app, "video/match/originals/v03_car_detection_000-008.mp4")
    result = clip_match.check(media("video/match/nonmatch/n06_car_detection_020-028.mp4"), ctx)
    assert result.outcome is Outcome.NOT_DETECTED and result.evidence["candidates"] == 1


def test_clip_match_empty_database_not_detected(media, ctx):
    assert clip_match.check(media("video/match/originals/v05_asl_again.mkv"), ctx).outcome is Outcome.NOT_DETECTED


def test_clip_match_image_unsupported(media, ctx):
    assert clip_match.check(media("c2pa/no_manifest.jpg"), ctx).outcome is Outcome.UNSUPPORTED


def test_verify_refuted_clip_variant_has_refutation(app, client):
    _store(app, "video/match/originals/v07_person_walk_055-063.mp4")
    data = fixture_path("video/match/variants/v07_person_walk_055-063__caption.mp4").read_bytes()
    body = client.post("/v1/verify", data=data, content_type="video/mp4").get_json()
    assert body["refutation"]["claim"] == "This clip shows the event described"
