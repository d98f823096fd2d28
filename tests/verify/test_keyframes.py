"""keyframes: a video's keyframes through the image checks, aggregated per clip (clips made here from fixtures)."""

from __future__ import annotations

import dataclasses
import io
import json

import av
import jsonschema
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from buildtasks import label_samples
from server.storage import Refutation
from server.verify.checks import ai_detector, keyframes
from server.verify.media import load_media
from server.verify.pipeline import verify
from server.verify.refutation_index import describe_original
from server.verify.types import CheckContext, Limits, Outcome, Signal

from media_fixtures import ROOT, fixture_path

OPENAPI = json.loads((ROOT / "server" / "openapi.json").read_text(encoding="utf-8"))


def _schema(name: str) -> dict:
    return dict(OPENAPI["components"]["schemas"][name], components=OPENAPI["components"])

needs_fonts = pytest.mark.skipif(not label_samples.CJK_FONT.exists(),
                                 reason="fonts-wqy-zenhei is needed (build.py test installs it)")


def _encode(frames: list[Image.Image], fps: int = 10) -> bytes:
    """An H.264 MP4 of `frames`, in memory (PyAV's bundled libx264)."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].width // 2 * 2, frames[0].height // 2 * 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.asarray(img.convert("RGB").crop((0, 0, stream.width, stream.height))),
                                               format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def _decode(name: str, max_frames: int = 30) -> list[Image.Image]:
    with av.open(str(fixture_path(name))) as container:
        return [f.to_image() for f, _ in zip(container.decode(video=0), range(max_frames))]


def _burn_label(img: Image.Image, text: str) -> Image.Image:
    """A corner label as platforms draw it: white text on a dark box, 8 % of the shortest side tall."""
    img = img.convert("RGB").copy()
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(label_samples.CJK_FONT), max(16, int(min(img.size) * 0.08)))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left, bottom - top
    x, y = img.width - w - 24, img.height - h - 24
    draw.rectangle((x - 8, y - 8, x + w + 8, y + h + 8), fill=(20, 20, 20))
    draw.text((x - left, y - top), text, font=font, fill=(255, 255, 255))
    return img


def _video(data: bytes):
    return load_media(data, Limits())


@needs_fonts
def test_keyframes_burned_in_ai_label_declared_synthetic(ctx):
    frames = [_burn_label(f, "AI生成") for f in _decode("video/match/originals/v05_asl_again.mkv", 20)]
    result = keyframes.check(_video(_encode(frames)), ctx)
    assert result.outcome is Outcome.DETECTED and result.signal is Signal.DECLARED_SYNTHETIC
    label = result.evidence["checks"]["visible_label"]
    assert label["labels"] == ["AI生成"] and label["detected"]
    assert result.evidence["frames"][0]["findings"][0]["check"] == "visible_label"
    assert "AI生成" in result.summary and "0.0 s" in result.summary
    # a declared label decides: the detector is not run on the frames
    assert result.evidence["checks"]["ai_detector"]["frames_checked"] == 0


@needs_fonts
def test_keyframes_label_verdict_synthetic_through_pipeline(ctx):
    frames = [_burn_label(f, "AI生成") for f in _decode("video/match/originals/v05_asl_again.mkv", 20)]
    report = verify(_video(_encode(frames)), ctx)
    assert report.verdict.label == "synthetic"
    assert [r["check"] for r in report.verdict.reasons] == ["keyframes"]


def _still_clip(photo: str, seconds: int = 2) -> bytes:
    """A clip that shows a still photo (the way debunked images are re-posted as video), 640 px wide."""
    img = Image.open(fixture_path(photo)).convert("RGB")
    img = img.resize((640, round(img.height * 640 / img.width / 2) * 2))
    return _encode([img] * (10 * seconds))


def _refute_image(app, photo: str) -> int:
    state = app.extensions["verify"]
    raw = fixture_path(photo).read_bytes()
    _, item = describe_original(raw, Limits())
    matcher = state.ctx.resources["refutations"]
    matcher.store_file(raw, item.stored_name or "")
    rid = state.storage.add_refutation(Refutation(0, "This photo shows the flood of 2024", "False", "Example Checkers"),
                                       [item])
    matcher.sync()
    return rid


def test_keyframes_clip_of_refuted_still_has_refutation(app, ctx):
    rid = _refute_image(app, "refutation/originals/kodak_kodim03.jpg")
    result = keyframes.check(_video(_still_clip("refutation/originals/kodak_kodim03.jpg")), ctx)
    assert result.outcome is Outcome.DETECTED and result.signal is None
    refutation = result.evidence["refutation"]
    assert refutation["id"] == rid
    assert refutation["match"]["frames"] == [0.0]
    assert refutation["match"]["transform"].startswith("video keyframe at 0.0 s")
    jsonschema.validate(refutation, _schema("Refutation"))
    assert "Example Checkers" in result.summary and "0.0 s" in result.summary


def test_keyframes_refuted_still_explained_in_reasons_label_unchanged(app, ctx):
    _refute_image(app, "refutation/originals/kodak_kodim03.jpg")
    report = verify(_video(_still_clip("refutation/originals/kodak_kodim03.jpg")), ctx)
    body = report.to_json()
    assert body["verdict"]["label"] == "unknown"
    assert body["refutation"]["match"]["frames"] == [0.0]
    refuted = [r for r in body["verdict"]["reasons"] if r["signal"] == "refuted"]
    assert [r["check"] for r in refuted] == ["keyframes"] and "keyframe" in refuted[0]["text"]
    jsonschema.validate(body, _schema("VerifyResponse"))


def test_keyframes_plain_clip_no_signal(app, ctx):
    _refute_image(app, "refutation/originals/kodak_kodim03.jpg")  # a database to search, holding something else
    result = keyframes.check(load_media(fixture_path("video/match/originals/v05_asl_again.mkv").read_bytes(),
                                        Limits()), ctx)
    assert result.outcome is Outcome.NOT_DETECTED and result.signal is None
    assert "refutation" not in result.evidence
    assert result.evidence["checks"]["debunked_match"]["frames_checked"] == result.evidence["keyframes"] >= 1


def test_keyframes_subset_reported_when_reduced(ctx):
    result = keyframes.check(load_media(fixture_path("video/match/originals/v01_bikes.mp4").read_bytes(), Limits()),
                             ctx)
    n = result.evidence["keyframes"]
    assert n > keyframes.MAX_OCR_FRAMES
    assert result.evidence["checks"]["visible_label"]["frames_checked"] == keyframes.MAX_OCR_FRAMES
    assert result.evidence["checks"]["watermark"]["frames_checked"] == n
    assert "OCR on 3" in result.evidence["reduced"]


@pytest.mark.parametrize("name", ["c2pa/no_manifest.jpg", "audio/labels/label_none_human_control.mp3"])
def test_keyframes_image_and_audio_unsupported(name, media, ctx):
    assert keyframes.check(media(name), ctx).outcome is Outcome.UNSUPPORTED


def test_keyframes_spread_keeps_ends():
    assert keyframes.spread(21, 3) == [0, 10, 20]
    assert keyframes.spread(2, 3) == [0, 1]


def _with_threshold(ctx, threshold: float) -> CheckContext:
    detector = ctx.resources.get("ai_detector") or ai_detector.shared()
    spec = json.loads(json.dumps(detector.spec))
    spec["threshold"] = threshold
    return dataclasses.replace(ctx, resources={**ctx.resources, "ai_detector": dataclasses.replace(detector, spec=spec)},
                               checks=(*(ctx.checks or ()), "ai_detector"))  # off by default: enabled here


def test_keyframes_detector_on_most_frames_possibly_synthetic(ctx):
    clip = load_media(fixture_path("video/match/originals/v01_bikes.mp4").read_bytes(), Limits())
    result = keyframes.check(clip, _with_threshold(ctx, 0.0))
    assert result.outcome is Outcome.DETECTED and result.signal is Signal.POSSIBLY_SYNTHETIC
    scored = result.evidence["checks"]["ai_detector"]
    assert scored["frames_checked"] == keyframes.MAX_DETECTOR_FRAMES == len(scored["detected"])
    assert "learned detector" in result.summary and "hint, not proof" in result.summary


def test_keyframes_detector_off_by_default_skipped(ctx):
    clip = load_media(fixture_path("video/match/originals/v01_bikes.mp4").read_bytes(), Limits())
    entry = keyframes.check(clip, ctx).evidence["checks"]["ai_detector"]
    assert entry["frames_checked"] == 0 and "off by default" in entry["skipped"]


def test_keyframes_detector_on_one_frame_of_two_no_signal(ctx):
    clip = load_media(fixture_path("video/match/originals/v01_bikes.mp4").read_bytes(), Limits())
    scores = sorted(s["score"] for s in keyframes.check(clip, _with_threshold(ctx, 0.92)).evidence["checks"]["ai_detector"]["scores"])
    assert len(scores) == 2 and scores[0] < scores[1]
    result = keyframes.check(clip, _with_threshold(ctx, (scores[0] + scores[1]) / 2))
    assert result.outcome is Outcome.NOT_DETECTED and result.signal is None
    assert len(result.evidence["checks"]["ai_detector"]["detected"]) == 1


@needs_fonts
def test_keyframes_label_only_in_first_two_seconds_between_keyframes_declared(ctx):
    """GB 45438: a label in the first 2 s. Shown from 0.3 s to 1.8 s of a 6 s clip whose keyframes are 0, 3 s:
    no keyframe carries it, the edge frames do."""
    base = Image.open(fixture_path("photos/wiki_035.jpg")).convert("RGB").resize((640, 360))
    labelled = _burn_label(base, "AI生成")
    fps = 10
    frames = [labelled if 0.3 <= i / fps < 1.8 else base for i in range(6 * fps)]
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast", "g": "30", "keyint_min": "30", "sc_threshold": "0"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(img), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    result = keyframes.check(_video(out.getvalue()), ctx)
    edges = result.evidence["checks"]["visible_label_edges"]
    assert edges["edges"] == ["end", "start"] and edges["frames_checked"] == 2 * keyframes.EDGE_FRAMES
    assert edges["detected"] and all(0.3 <= d["time_s"] < 1.9 and d["edge"] == "start" for d in edges["detected"])
    assert result.outcome is Outcome.DETECTED and result.signal is Signal.DECLARED_SYNTHETIC
    assert "AI生成" in result.summary
