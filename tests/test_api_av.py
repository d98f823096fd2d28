"""POST /v1/verify with audio and video: damaged files get a clear problem, valid ones a verdict; the worker stays up."""

from __future__ import annotations

import pytest

from media_fixtures import expected, fixture_path

# Files FFmpeg decodes completely are accepted: two are valid media under a wrong extension (sniffing reads the
# bytes, not the name), two are RIFF-parser bombs for C2PA readers that decode cleanly as audio.
ACCEPTED = {"video/bad/mp4_data_named.webm", "audio/bad/mp3_data_named.wav",
            "audio/bad/found_c2pa-rs_riff_bomb_1000.wav", "audio/bad/found_c2pa-rs_sample3.invalid.wav"}
# Files that decode only in part are checked as far as they can be read: a verdict that says the file is damaged.
PARTLY_READ = {"video/bad/truncated_40pct.mp4", "audio/bad/truncated_40pct.wav", "audio/bad/huge_datasize_header.wav",
               "audio/bad/truncated_mid_frame.mp3"}
BAD = [f"{kind}/{e['file']}" for kind in ("video", "audio") for e in expected(kind)["files"] if e["bad_input"]]
PROBLEM_TYPES = {400: "empty-body", 413: "media-too-large", 415: "unsupported-media-type", 422: "undecodable-media"}


@pytest.mark.parametrize("name", BAD)
def test_verify_bad_av_file_problem_or_verdict(name, client):
    r = client.post("/v1/verify", data=fixture_path(name).read_bytes(), content_type="application/octet-stream")
    if name in ACCEPTED:
        assert r.status_code == 200, r.get_json()
        return
    if name in PARTLY_READ:
        assert r.status_code == 200, r.get_json()
        assert any(reason["signal"] == "damaged" for reason in r.get_json()["verdict"]["reasons"])
        return
    assert r.status_code in PROBLEM_TYPES, r.get_data(as_text=True)
    body = r.get_json(force=True)
    assert r.mimetype == "application/problem+json"
    assert body["type"].endswith("/" + PROBLEM_TYPES[r.status_code]) and body["detail"]
    # the worker is still up and serving
    ok = client.post("/v1/verify", data=fixture_path("audio/labels/label_none_human_control.mp3").read_bytes(),
                     content_type="audio/mpeg")
    assert ok.status_code == 200


@pytest.mark.parametrize("name", ["video/match/originals/v05_asl_again.mkv", "audio/human/en_jfk_inaugural_1961.flac",
                                  "audio/human/en_librispeech_198-209-0000.ogg",
                                  "audio/match/variants/s01_jfk_inaugural__aac_64k.m4a",
                                  "audio/match/variants/s01_jfk_inaugural__opus_32k.opus",
                                  "video/c2pa/found_c2pa-rs_dashinit.mp4"])
def test_verify_av_formats_200(name, client):
    r = client.post("/v1/verify", data=fixture_path(name).read_bytes(), content_type="application/octet-stream")
    assert r.status_code == 200, r.get_json()
    assert {c["check"]: c["outcome"] for c in r.get_json()["checks"]}["clip_match"] != "error"


def test_verify_av_over_duration_limit_413(tmp_path):
    from server import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "AV_MAX_DURATION_S": 5})
    r = app.test_client().post("/v1/verify", data=fixture_path("video/match/originals/v01_bikes.mp4").read_bytes(),
                               content_type="video/mp4")
    assert r.status_code == 413 and r.get_json()["type"].endswith("/media-too-large")


def test_verify_av_decode_budget_413(tmp_path):
    from server import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "AV_MAX_DECODE_S": 0})
    r = app.test_client().post("/v1/verify", data=fixture_path("video/match/originals/v01_bikes.mp4").read_bytes(),
                               content_type="video/mp4")
    assert r.status_code == 413 and r.get_json()["type"].endswith("/decode-budget-exceeded")


def test_verify_av_label_synthetic_verdict(client):
    r = client.post("/v1/verify", data=fixture_path("audio/labels/label_id3_aigc_gb45438_piper.mp3").read_bytes(),
                    content_type="audio/mpeg")
    assert r.get_json()["verdict"]["label"] == "synthetic"
