"""clip_match's `match.transform`: which path matched (border trim, caption band, crop, mirror, trimmed start), and a
summary that says which frames matched, at what times."""

from __future__ import annotations

import hashlib
import io

import av
import numpy as np
import pytest

from server.storage import Refutation, RefutedMedia
from server.verify.checks import clip_match
from server.verify.media import load_media
from server.verify.types import Limits, Outcome

from media_fixtures import fixture_path

ORIGINAL = "video/match/originals/v05_asl_again.mkv"


def _store(app, data: bytes, hashes: dict) -> None:
    app.extensions["verify"].storage.add_refutation(
        Refutation(0, "Shows a signer at yesterday's briefing", "False", "Example Checks"),
        [RefutedMedia(0, 0, hashlib.sha256(data).hexdigest(), "video", hashes=hashes)])


def _check(app, ctx, data: bytes):
    _store(app, fixture_path(ORIGINAL).read_bytes(),
           clip_match.reference_hashes(fixture_path(ORIGINAL).read_bytes(), Limits()))
    return clip_match.check(load_media(data, Limits()), ctx)


def _mirrored(name: str) -> bytes:
    """The fixture clip flipped left-right, re-encoded (H.264, PyAV's bundled libx264)."""
    out = io.BytesIO()
    with av.open(str(fixture_path(name))) as src, av.open(out, mode="w", format="mp4") as dst:
        stream = dst.add_stream("libx264", rate=15)
        stream.pix_fmt = "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:, ::-1])
            if i == 0:
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(("variant", "words"), [
    ("v05_asl_again__crop_10pct.mp4", "cropped"),
    ("v05_asl_again__letterbox.mp4", "black borders trimmed"),
    ("v05_asl_again__caption.mp4", "caption band ignored"),
    ("v05_asl_again__trim_start_1s.mp4", "trimmed: starts 1.0 s into the original"),
    ("v05_asl_again__scale_0.5x.mp4", "whole frame"),
])
def test_clip_match_variant_transform_names_path(variant, words, app, ctx):
    result = _check(app, ctx, fixture_path(f"video/match/variants/{variant}").read_bytes())
    assert result.outcome is Outcome.DETECTED
    assert words in result.evidence["refutation"]["match"]["transform"]
    assert result.evidence["video"]["transform"] == result.evidence["refutation"]["match"]["transform"]


def test_clip_match_mirrored_copy_transform_mirrored(app, ctx):
    result = _check(app, ctx, _mirrored(ORIGINAL))
    assert result.outcome is Outcome.DETECTED
    assert "mirrored" in result.evidence["refutation"]["match"]["transform"]


def test_clip_match_summary_names_frames_and_times(app, ctx):
    result = _check(app, ctx, fixture_path("video/match/variants/v05_asl_again__letterbox.mp4").read_bytes())
    video = result.evidence["video"]
    assert f"{video['frames_matched']} of its {video['frames_sampled']} sampled frames" in result.summary
    assert f"{video['times'][0]:.1f}-{video['times'][-1]:.1f} s" in result.summary
    assert "black borders trimmed" in result.summary and "Example Checks: False" in result.summary


def test_clip_match_fingerprint_without_regions_still_matches(app, ctx):
    hashes = clip_match.reference_hashes(fixture_path(ORIGINAL).read_bytes(), Limits())
    del hashes[clip_match.VPDQ]["regions"], hashes[clip_match.VPDQ]["times"]  # as stored before they were kept
    _store(app, fixture_path(ORIGINAL).read_bytes(), hashes)
    result = clip_match.check(load_media(fixture_path("video/match/variants/v05_asl_again__letterbox.mp4")
                                         .read_bytes(), Limits()), ctx)
    assert result.outcome is Outcome.DETECTED
    assert result.evidence["refutation"]["match"]["transform"] == "black borders trimmed"


def test_clip_match_identical_clip_transform_identical(app, ctx):
    result = _check(app, ctx, fixture_path(ORIGINAL).read_bytes())
    assert result.evidence["refutation"]["match"]["transform"] == "identical"
