"""clip_match under randomised edits (issue 13): every video edit family of buildtasks/media_edits.py, with
parameters drawn from its range under fixed seeds, applied to refuted clips; unrelated clips made from real photos and
the fixture non-matches match nothing. The bench (`build.py bench media`) runs many more seeds and prints recall per
family with its 95% bound."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest

from buildtasks import media_edits
from server.verify import av_decode
from server.verify import image_hashing as ih
from server.verify.checks import clip_match
from server.verify.types import Limits

from media_fixtures import FIXTURES, fixture_path

CI_SEED = 1313
# Two short originals keep the suite cheap; the bench uses all seven.
ORIGINALS = ("video/match/originals/v02_waterfall_portrait.mp4", "video/match/originals/v05_asl_again.mkv")


class _Rows:
    """The refuted_media rows ClipIndex reads, built in memory from reference_hashes."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.items = []
        for i, name in enumerate(names, start=1):
            hashes = clip_match.reference_hashes(fixture_path(name).read_bytes(), Limits())
            self.items.append(type("Row", (), {"id": i, "refutation_id": i, "sha256": name, "content_url": None,
                                               "hashes": hashes}))

    def refuted_media(self) -> list[Any]:
        return self.items


@pytest.fixture(scope="module")
def index() -> clip_match.ClipIndex:
    idx = clip_match.ClipIndex(_Rows(ORIGINALS))
    idx.references()
    return idx


def _matches(index: clip_match.ClipIndex, data: bytes) -> set[str]:
    """The references a clip matches, by the check's own two stages (frame PDQ, then keyframe keypoints)."""
    analysis = av_decode.analyse(data, Limits())
    refs = index.references()
    query = clip_match.query_video_hashes(analysis) if analysis.samples else []
    found = {r.sha256 for r in refs if query and r.vpdq is not None and
             clip_match.match_video(query, r.vpdq, r.vpdq_regions, r.vpdq_times, r.duration_s)["matched"]}
    if not found and analysis.samples:
        keyed = clip_match.match_keypoints(analysis.samples, index, refs)
        if keyed is not None:
            found.add(keyed[0].sha256)
    return found


def test_clip_match_random_edit_families_found(index: clip_match.ClipIndex) -> None:
    """One copy per family (14 families) from a fixed seed; at most one miss, each miss printed with its seed."""
    photos = sorted((FIXTURES / "photos").glob("*.jpg"))
    rng = np.random.default_rng(CI_SEED)
    misses = []
    for family in media_edits.VIDEO_FAMILIES:
        name = ORIGINALS[int(rng.integers(0, len(ORIGINALS)))]
        seed = CI_SEED * 100 + zlib.crc32(family.encode()) % 100
        data, params = media_edits.edit_clip(fixture_path(name).read_bytes(), family, seed, photos)
        if _matches(index, data) != {name}:
            misses.append((name, params))
    assert len(misses) <= 1, misses


def test_clip_match_unrelated_clips_not_detected(index: clip_match.ClipIndex) -> None:
    """Pans over real photos (seeded) and the fixture non-matches."""
    photos = sorted((FIXTURES / "photos").glob("*.jpg"))[::12]
    clips = [media_edits.unrelated_clip(p, CI_SEED + i, seconds=2.0) for i, p in enumerate(photos)]
    clips += [p.read_bytes() for p in sorted((FIXTURES / "video" / "match" / "nonmatch").iterdir())]
    false_matches = [i for i, data in enumerate(clips) if _matches(index, data)]
    assert not false_matches, false_matches


def test_clip_match_same_shot_other_moment_not_detected(index: clip_match.ClipIndex) -> None:
    """Another sign by the same signer, same background and camera: the keypoints fit, the aligned frames' PDQ does
    not (clip_match._same_content); this was the false match of issue 13."""
    assert not _matches(index, fixture_path("video/match/nonmatch/n02_asl_yes.mkv").read_bytes())


def test_clip_match_legacy_bit_order_fingerprint_still_matches() -> None:
    """Version-1 rows stored PDQ in pdqhash's bit order: they load converted and still match."""
    data = fixture_path(ORIGINALS[1]).read_bytes()
    hashes = clip_match.reference_hashes(data, Limits())
    packed = np.frombuffer(bytes.fromhex("".join(hashes[clip_match.VPDQ]["hashes"])), np.uint8).reshape(-1, 32)
    legacy = np.packbits(np.unpackbits(packed, axis=1)[:, ::-1], axis=1)
    hashes[clip_match.VPDQ] = {**hashes[clip_match.VPDQ], "v": 1, "hashes": [h.tobytes().hex() for h in legacy]}
    del hashes[clip_match.VPDQ]["keyframes"]  # stored before keyframes were kept
    idx = clip_match.ClipIndex(type("S", (), {"refuted_media": lambda self: [
        type("Row", (), {"id": 1, "refutation_id": 1, "sha256": "old", "content_url": None, "hashes": hashes})]})())
    ref = idx.references()[0]
    assert np.array_equal(ref.vpdq, packed) and ref.keyframes is None
    assert _matches(idx, fixture_path("video/match/variants/v05_asl_again__letterbox.mp4").read_bytes()) == {"old"}


def test_clip_match_pdq_is_the_image_hashing_pdq() -> None:
    """One PDQ: a clip frame hash is image_hashing.pdq's ThreatExchange-order digest."""
    rgb = np.asarray(media_edits.to_rgb((FIXTURES / "refutation" / "originals" / "kodak_kodim03.jpg").read_bytes()))
    assert clip_match.pdq(rgb)[0].tobytes() == ih.pdq(rgb)[0]
