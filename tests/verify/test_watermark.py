"""watermark: the SD/SDXL dwtDct decoder against the watermark fixtures and the real-photo false-positive set."""

from __future__ import annotations

import pytest

from server.verify.checks import watermark
from server.verify.types import Outcome, Signal
from media_fixtures import FIXTURES, expected

WATERMARK = expected("watermark")
PHOTOS = sorted(p.relative_to(FIXTURES).as_posix() for p in (FIXTURES / "photos").glob("*.jpg"))


@pytest.mark.parametrize("entry", WATERMARK, ids=[e["file"].split("/")[-1] for e in WATERMARK])
def test_watermark_fixture_matches_reference_decoder(entry, media, ctx):
    result = watermark.check(media(entry["file"]), ctx)
    reference = entry["evidence"]["watermark"]
    got = {name: s["bits_matched"] for name, s in result.evidence["schemes"].items()}
    assert got == reference["bits_matched"], "bit counts differ from the reference imwatermark decoder"
    if reference["reference_decoder_detects"]:
        assert result.outcome is Outcome.DETECTED
        assert result.signal is Signal.DECLARED_SYNTHETIC
        assert result.evidence["detected_scheme"] == entry["expected"]["watermark"]
    else:
        assert result.outcome is Outcome.NOT_DETECTED
        assert result.signal is None
        assert "does not survive" in result.summary


def test_watermark_real_photos_no_detection(media, ctx):
    detected = [name for name in PHOTOS if watermark.check(media(name), ctx).outcome is Outcome.DETECTED]
    assert len(PHOTOS) >= 100
    assert detected == [], f"{len(detected)} false positives among {len(PHOTOS)} real photos"


def test_watermark_audio_unsupported(media, ctx):
    assert watermark.check(media("c2pa/testsigner_audio.wav"), ctx).outcome is Outcome.UNSUPPORTED


def test_watermark_haar_ll_equals_pywt_bit_for_bit(media):
    """haar_ll replaces pywt.dwt2 for speed; the bits sit on exact ties, so the values must be identical."""
    import numpy as np
    import pywt

    rng = np.random.default_rng(7)
    for u in (rng.integers(0, 256, (96, 128), dtype=np.uint8),
              np.asarray(media("photos/wiki_035.jpg").image().convert("L"))[:256, :256]):
        assert np.array_equal(watermark.haar_ll(u), pywt.dwt2(u, "haar")[0])
