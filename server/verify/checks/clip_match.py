"""Refuted-clip matching for video and audio: is this clip a copy of one a fact-checker has debunked?

What it detects: copies of a refuted video in the edit families of issue 13 (docs/matching.md has recall per family):
re-encoded (to CRF 40), downscaled, mirrored, letterboxed, colour-changed, captioned, trimmed, sped up or slowed by
+-10 %, re-timed to another frame rate, cut out of the reference or containing it (frame PDQ hashes, in the spirit of
Meta's vPDQ, with a timing check); and cropped, rotated, screenshotted or shown picture-in-picture (the keyframe
keypoint stage, `match_keypoints`). Also transcoded, re-levelled, trimmed or mildly noisy copies of refuted audio or of
a refuted video's soundtrack (Chromaprint).
What it cannot: re-filming a screen; small-detail footage (a top-down parking lot) under heavy spatial edits, since
frames are sampled at 320 px; another moment of the same static shot (same person, same background) is matched by the
keypoint stage (a known false match, docs/matching.md); clips shorter than about 3 s of audio; it says nothing about
whether an unmatched clip is authentic. Images are UNSUPPORTED here (the image refutation check handles them).

Video fingerprint ("vpdq" in refuted_media.hashes): for the *reference* (the refuted clip, hashed once at import) every
decoded frame up to `REF_FPS`, black borders trimmed, hashed over four regions (full frame, central 90 %, top and
bottom 84 %, which drop a caption band) and their mirror images; near-duplicate hashes are dropped. Hashes are
image_hashing.pdq's (ThreatExchange bit order; version-1 rows in pdqhash's order are converted on load); "keyframes"
holds ORB keypoints of one frame per second (at most 30). For the *query* only frames sampled at `Limits.sample_fps`,
full frame, top and bottom 84 %. A query frame matches when some reference hash is within
`image_hashing.PDQ_RADIUS` bits; a clip matches when at least `VIDEO_MIN_FRACTION` of its sampled frames (and at least
two, or all of a shorter clip) match the same reference in one consistent timing (one speed within +-12 %, see
`_consistent`), or when such frames span at least that share of a reference it contains.

Audio fingerprint ("chromaprint"): the raw 32-bit Chromaprint sub-fingerprints of mono 11025 Hz PCM. A clip matches
when the best-offset bit error rate over at least `AUDIO_MIN_OVERLAP` sub-fingerprints is at most `AUDIO_MAX_BER`.
Degenerate fingerprints (silence, a constant tone) are never stored or matched.

Evidence keys: `refutation` (the Refutation object of the OpenAPI contract, with `match`; `match.transform` names the
path that matched: black borders trimmed, caption band ignored, cropped, mirrored, trimmed start, or whole frame; for
the keypoint stage (`match.method` "vorb") also `match.region` {query, original} and `match.geometry`),
`video` (frames sampled, frames matched, their times, median distance, transform), `audio` (bit error rate, offset,
transform), `candidates` (how many refuted clips were compared).

Spec links: PDQ/vPDQ https://github.com/facebook/ThreatExchange/tree/main/pdq and .../tree/main/vpdq;
Chromaprint https://acoustid.org/chromaprint.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .. import av_decode
from .. import image_hashing as ih
from ..hash_index import FeatureBank, HashIndex, to_codes
from ..types import CheckContext, CheckResult, Limits, Media, MediaError, MediaKind, Outcome

log = logging.getLogger(__name__)

NAME = "clip_match"
DESCRIPTION = "Refuted clip match: video keyframe PDQ (vPDQ-style) and audio Chromaprint against debunked clips."

VPDQ, CHROMAPRINT = "vpdq", "chromaprint"
# Version 2: hashes in ThreatExchange bit order from image_hashing.pdq (version 1 stored pdqhash's own order; such
# rows still load: `_reference` converts them).
FINGERPRINT_VERSION = 2
REF_FPS = 30.0                 # reference clips: every frame up to this rate (hashed once, at import)
VIDEO_MIN_FRACTION = 0.5
# Temporal consistency: matched frames must follow the reference in order, at one speed within +-10 %; a frame is
# consistent when its predicted reference time falls within this many seconds of the matched hash's time span.
SPEEDS = tuple(np.round(np.arange(0.88, 1.1201, 0.02), 2))
TIME_TOLERANCE_S = 1.0
# Keyframe keypoint stage: reference frames kept per clip (one per interval) and their keypoints; query frames checked.
KEYFRAME_INTERVAL_S = 1.0
MAX_REF_KEYFRAMES = 30
KEYFRAME_FEATURES = 250
QUERY_KEYFRAMES = 8
CONTENT_CHECK_COVERAGE = 0.93  # share of the reference frame a copy's frame must show for the aligned-PDQ check
VORB = "vorb"
REF_DEDUPE_DISTANCE = 6        # consecutive reference hashes closer than this add nothing
CAPTION_KEEP = 0.84            # the top share of the frame kept to drop a burned-in caption banner
AUDIO_MAX_BER = 0.2
AUDIO_MIN_OVERLAP = 16         # sub-fingerprints (~2 s)
AUDIO_MIN_UNIQUE = 0.5         # share of distinct sub-fingerprints below which a fingerprint is degenerate
CHROMAPRINT_ITEM_S = 0.1238    # seconds per Chromaprint sub-fingerprint (4096-sample hop / 3 at 11025 Hz)
MIRROR_SUFFIX = "/mirrored"
TRIM_OFFSET_S = 0.5            # a median start offset above this is reported as a trim


# --- hashing --------------------------------------------------------------------------------------------------------

def trim_borders(rgb: np.ndarray, level: int = 40) -> np.ndarray:
    """Drop black (letterbox/pillarbox) bars: outer rows and columns whose brightest pixel is below `level`."""
    grey = rgb.max(axis=2)
    rows = np.flatnonzero(grey.max(axis=1) > level)
    cols = np.flatnonzero(grey.max(axis=0) > level)
    h, w = grey.shape
    if len(rows) < h * 0.3 or len(cols) < w * 0.3:  # a dark frame, not a bordered one
        return rgb
    return rgb[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def _central(rgb: np.ndarray, share: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    dy, dx = int(h * (1 - share) / 2), int(w * (1 - share) / 2)
    return rgb[dy: h - dy, dx: w - dx]


def _top(rgb: np.ndarray) -> np.ndarray:
    return rgb[: max(1, int(rgb.shape[0] * CAPTION_KEEP))]


def _bottom(rgb: np.ndarray) -> np.ndarray:
    return rgb[rgb.shape[0] - max(1, int(rgb.shape[0] * CAPTION_KEEP)):]


def pdq(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """PDQ of a frame as a (32,) uint8 array: image_hashing.pdq, the one PDQ (ThreatExchange bit order)."""
    digest, quality = ih.pdq(rgb)
    return np.frombuffer(digest, dtype=np.uint8), quality


# Reference regions: (name, crop) - each also hashed mirrored. A caption band over the bottom or top of the frame is
# dropped by comparing the other 84 %. Heavier crops, rotation, screenshots and picture-in-picture are left to the
# keyframe keypoint stage (`match_keypoints`).
_REF_REGIONS = (("full", lambda x: x), ("central90", lambda x: _central(x, 0.9)), ("top84", _top),
                ("bottom84", _bottom))
_QUERY_REGIONS = (("full", lambda x: x), ("top84", _top), ("bottom84", _bottom))


def video_reference(data: bytes, limits: Limits) -> dict[str, Any] | None:
    """The stored vPDQ-style fingerprint of a refuted clip (None when it has no video)."""
    ref_limits = dataclasses.replace(limits, sample_fps=REF_FPS, full_decode_max_frames=limits.max_frames,
                                     max_keyframes=1)
    result = av_decode.analyse(data, ref_limits)
    if not result.samples:
        return None
    kept: list[np.ndarray] = []
    labels: list[str] = []
    times: list[float] = []
    last: dict[tuple[str, bool], np.ndarray] = {}
    for sample in result.samples:
        frame = trim_borders(sample.rgb)
        for name, region in _REF_REGIONS:
            part = region(frame)
            for mirrored in (False, True):
                h, _q = pdq(part[:, ::-1] if mirrored else part)
                prev = last.get((name, mirrored))
                if prev is not None and ih.hamming_many(h, prev[None, :])[0] < REF_DEDUPE_DISTANCE:
                    continue
                last[(name, mirrored)] = h
                kept.append(h)
                labels.append(f"{name}{MIRROR_SUFFIX if mirrored else ''}")
                times.append(round(sample.time_s, 2))
    # "regions" and "times" (one per hash) say which path a match took; fingerprints stored without them still match.
    # "keyframes": ORB keypoints of one frame per KEYFRAME_INTERVAL_S (absent in rows stored before; those clips are
    # then matched by PDQ only).
    return {"v": FINGERPRINT_VERSION, "frames": len(result.samples), "duration_s": round(result.probe.duration_s, 3),
            "hashes": [h.tobytes().hex() for h in kept], "regions": labels, "times": times,
            "keyframes": keyframe_bank(result.samples)}


def keyframe_bank(samples: list[av_decode.Sample]) -> dict[str, Any]:
    """Keypoints of one reference frame per `KEYFRAME_INTERVAL_S` (at most `MAX_REF_KEYFRAMES`, evenly spread)."""
    duration = samples[-1].time_s if samples else 0.0
    n = min(MAX_REF_KEYFRAMES, int(duration / KEYFRAME_INTERVAL_S) + 1)
    interval = max(KEYFRAME_INTERVAL_S, duration / max(1, n - 1)) if n > 1 else KEYFRAME_INTERVAL_S
    times = np.array([s.time_s for s in samples])
    frames = []
    for k in range(n):
        sample = samples[int(np.abs(times - k * interval).argmin())]
        entry = ih.bank_entry(trim_borders(sample.rgb), KEYFRAME_FEATURES)
        frames.append({"t": round(sample.time_s, 2), **ih.bank_to_json(entry)})
    return {"v": 1, "interval_s": round(interval, 3), "frames": frames}


def audio_reference(data: bytes, limits: Limits) -> dict[str, Any] | None:
    """The stored Chromaprint of a refuted clip's audio (None without audio or with a degenerate fingerprint)."""
    result = av_decode.analyse(data, dataclasses.replace(limits, full_decode_max_frames=0, max_keyframes=1))
    fp = result.audio_fingerprint
    if not fp or degenerate(fp):
        return None
    return {"v": FINGERPRINT_VERSION, "seconds": round(result.audio_seconds, 3), "fp": fp}


def reference_hashes(data: bytes, limits: Limits) -> dict[str, Any]:
    """Every clip fingerprint of a refuted clip, keyed by hash kind, for refuted_media.hashes."""
    hashes: dict[str, Any] = {}
    probe = av_decode.probe(data, limits)
    if probe.video is not None and (video := video_reference(data, limits)):
        hashes[VPDQ] = video
    if probe.audio is not None and (audio := audio_reference(data, limits)):
        hashes[CHROMAPRINT] = audio
    return hashes


def degenerate(fp: list[int]) -> bool:
    return len(fp) < AUDIO_MIN_OVERLAP or len(set(fp)) < AUDIO_MIN_UNIQUE * len(fp)


# --- matching -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Reference:
    refuted_media_id: int
    refutation_id: int
    sha256: str
    content_url: str | None
    vpdq: np.ndarray | None            # N x 32 uint8
    chromaprint: np.ndarray | None     # uint32
    vpdq_regions: list[str] | None = None   # per hash: "full", "central90", "top84", each maybe "/mirrored"
    vpdq_times: list[float] | None = None   # per hash: the reference frame's time
    duration_s: float | None = None
    keyframes: list[tuple[float, ih.BankEntry]] | None = None  # (time, keypoints) per stored reference keyframe
    keyframe_interval_s: float = KEYFRAME_INTERVAL_S


class ClipIndex:
    """The refuted clips' fingerprints, loaded from storage and reloaded when refuted_media changes.

    The frame PDQ stage compares a query only with the references that have a frame hash within the radius of one of
    its own (a multi-index over every reference frame hash, `frame_candidates`); the Chromaprint stage is a linear
    scan over the references with audio (fine for thousands of clips).
    """

    def __init__(self, storage: Any, load: Callable[[], list[Any]] | None = None,
                 version: Callable[[], Any] | None = None) -> None:
        """`load` lists the originals (RefutedMedia records; default: the refuted media) and `version` says when they
        changed (default: refuted_media's count, newest id and withdrawals); `ClipIndex.declared` is the declared
        index's clips."""
        self.storage = storage
        self._load = load if load is not None else lambda: storage.refuted_media()
        self._version_fn = version if version is not None else self._refuted_version
        self._lock = threading.Lock()
        self._version: Any = None
        self._refs: list[Reference] = []
        self._bank = FeatureBank()
        self._bank_meta: list[tuple[int, float]] = []  # per bank entry: (reference position, keyframe time)
        # Every reference frame hash in one multi-index, and the reference each belongs to: the frame PDQ stage
        # compares only the references with some hash within the radius of the query's (exact pruning).
        self._frames = HashIndex()
        self._frame_owner = np.zeros(0, dtype=np.int64)

    @classmethod
    def declared(cls, storage: Any) -> ClipIndex:
        """The declared index's video and audio entries (provenance memory: clips that declared themselves AI)."""
        return cls(storage, lambda: [m.as_original() for m in storage.declared_clips()], storage.declared_clip_version)

    def loaded(self) -> int:
        """How many originals the last `references()` loaded."""
        with self._lock:
            return len(self._refs)

    def _current_version(self) -> Any:
        return self._version_fn()

    def _refuted_version(self) -> Any:
        connect = getattr(self.storage, "connect", None)
        if connect is None:
            return None
        return tuple(connect().execute("SELECT COUNT(*), MAX(id), (SELECT COUNT(*) FROM refutation_withdrawals)"
                                       " FROM refuted_media").fetchone())  # a withdrawal reloads too

    def references(self) -> list[Reference]:
        with self._lock:
            version = self._current_version()
            if version is None or version != self._version:
                self._refs = [r for m in self._load() if (r := _reference(m)) is not None]
                self._version = version
                self._bank, self._bank_meta = FeatureBank(), []
                for pos, ref in enumerate(self._refs):
                    for t, entry in ref.keyframes or []:
                        self._bank.add(len(self._bank_meta), entry)
                        self._bank_meta.append((pos, t))
                with_frames = [(pos, ref.vpdq) for pos, ref in enumerate(self._refs)
                               if ref.vpdq is not None and len(ref.vpdq)]
                codes = to_codes(np.concatenate([v for _, v in with_frames])) if with_frames else None
                self._frames = HashIndex(codes) if codes is not None and len(codes) > 1000 else HashIndex()
                if codes is not None and len(codes) <= 1000:
                    self._frames.add(codes)
                self._frame_owner = np.concatenate([np.full(len(v), pos, dtype=np.int64) for pos, v in with_frames]) \
                    if with_frames else np.zeros(0, dtype=np.int64)
            return self._refs

    def frame_candidates(self, query: list[QueryFrame], refs: list[Reference]) -> set[int] | None:
        """Positions in `refs` of the references with a frame hash within the PDQ radius of a query frame hash: the
        only ones `match_video` can match. None when `refs` is not the list this index last loaded."""
        with self._lock:
            if refs is not self._refs:
                return None
            index, owner = self._frames, self._frame_owner
        found: set[int] = set()
        for frame in query:
            for h in frame.hashes:
                ids, _ = index.search(np.ascontiguousarray(h, dtype=np.uint8).tobytes(), ih.PDQ_RADIUS)
                found.update(owner[ids[ids < len(owner)]].tolist())
        return found

    def keyframe_bank(self) -> tuple[FeatureBank, list[tuple[int, float]]]:
        """The reference keyframes' keypoints (as of the last `references()`) and, per entry, (reference, time)."""
        with self._lock:
            return self._bank, self._bank_meta


def _reference(m: Any) -> Reference | None:
    hashes = m.hashes or {}
    v, a = hashes.get(VPDQ), hashes.get(CHROMAPRINT)
    vp = np.frombuffer(bytes.fromhex("".join(v["hashes"])), dtype=np.uint8).reshape(-1, 32) \
        if v and v.get("hashes") else None
    if vp is not None and int(v.get("v", 1)) < 2:  # stored before the one PDQ bit order: same bits, reversed
        vp = ih.from_legacy_order(vp)
    cp = np.array(a["fp"], dtype=np.uint32) if a and a.get("fp") else None
    if vp is None and cp is None:
        return None
    regions = v.get("regions") if v else None
    times = v.get("times") if v else None
    ok = (vp is not None and isinstance(regions, list) and isinstance(times, list)
          and len(regions) == len(times) == len(vp))
    duration = v.get("duration_s") if v else None
    keyframes, interval = None, KEYFRAME_INTERVAL_S
    kf = v.get("keyframes") if v else None
    if isinstance(kf, dict) and kf.get("v") == 1 and isinstance(kf.get("frames"), list):
        decoded = [(float(f.get("t", 0.0)), ih.bank_from_json({**f, "v": ih.BANK_VERSION}))
                   for f in kf["frames"] if isinstance(f, dict)]
        keyframes = [(t, e) for t, e in decoded if e is not None] or None
        interval = float(kf.get("interval_s") or KEYFRAME_INTERVAL_S)
    return Reference(m.id, m.refutation_id, m.sha256, m.content_url, vp, cp,
                     [str(r) for r in regions] if ok else None, [float(t) for t in times] if ok else None,
                     float(duration) if isinstance(duration, int | float) else None, keyframes, interval)


@dataclass(frozen=True, slots=True)
class QueryFrame:
    """A sampled query frame: its time, one hash per query region, and whether black borders were trimmed."""

    time_s: float
    hashes: list[np.ndarray]
    border_trimmed: bool


def query_video_hashes(analysis: av_decode.AVAnalysis) -> list[QueryFrame]:
    """One QueryFrame per sampled frame."""
    out = []
    for sample in analysis.samples:
        frame = trim_borders(sample.rgb)
        out.append(QueryFrame(sample.time_s, [pdq(region(frame))[0] for _, region in _QUERY_REGIONS],
                              frame.shape != sample.rgb.shape))
    return out


def time_spans(regions: list[str], times: list[float]) -> np.ndarray:
    """(n, 2) [start, end] of each reference hash: it stands for its region's frames until that region's next kept
    hash (consecutive near-identical frames were deduplicated at import)."""
    spans = np.zeros((len(times), 2))
    last: dict[str, int] = {}
    for j, (region, t) in enumerate(zip(regions, times, strict=True)):
        spans[j] = (t, t)
        if region in last:
            spans[last[region], 1] = t
        last[region] = j
    for j in last.values():
        spans[j, 1] = max(spans[:, 1].max(), spans[j, 0])
    return spans


_NEAR_PER_FRAME = 8


def _consistent(q_times: np.ndarray, spans: list[np.ndarray]) -> np.ndarray:
    """Which matched frames agree on one timing: reference time = speed * query time + offset, speed within +-12 %.

    `spans[i]` holds the [start, end] spans of (up to `_NEAR_PER_FRAME`) reference hashes within the radius of frame
    i. A clip that merely looks like the reference (same kind of scene, another moment) matches frames in no
    consistent order. Vectorised over candidate offsets (one per frame and span, rounded to 0.25 s).
    """
    n, k = len(q_times), max(len(sp) for sp in spans)
    start = np.full((n, k), np.inf)
    end = np.full((n, k), -np.inf)
    for i, sp in enumerate(spans):
        start[i, : len(sp)], end[i, : len(sp)] = sp[:, 0], sp[:, 1]
    best = np.zeros(n, dtype=bool)
    for speed in SPEEDS:
        cand = (start - speed * q_times[:, None])[np.isfinite(start)]
        offsets = np.unique(np.round(cand * 4) / 4)
        pred = speed * q_times[None, :, None] + offsets[:, None, None]  # (offsets, frames, 1)
        ok = ((start[None] - TIME_TOLERANCE_S <= pred) & (pred <= end[None] + TIME_TOLERANCE_S)).any(axis=2)
        counts = ok.sum(axis=1)
        top = int(counts.argmax())
        if counts[top] > best.sum():
            best = ok[top]
    return best


def match_video(query: list[QueryFrame], ref: np.ndarray, ref_regions: list[str] | None = None,
                ref_times: list[float] | None = None, ref_duration_s: float | None = None) -> dict[str, Any]:
    """Per query frame, the nearest reference hash; the clip matches when enough frames are within the PDQ radius
    and, when the reference carries frame times, those frames follow the reference in one consistent timing.

    Enough frames: at least `VIDEO_MIN_FRACTION` of the query's (a copy of the reference, trimmed or not), or, for a
    longer video that contains the reference (a compilation, a re-cut), consistent frames spanning at least that
    share of the reference's duration.
    """
    best: list[tuple[int, int, int]] = []  # (distance, query region index, reference hash index) per query frame
    near: list[np.ndarray] = []  # per query frame: reference hashes within the radius (any query region)
    for frame in query:
        candidates = []
        within = np.zeros(len(ref), dtype=bool)
        for qi, h in enumerate(frame.hashes):
            d = ih.hamming_many(h, ref)
            j = int(d.argmin())
            candidates.append((int(d[j]), qi, j))
            within |= d <= ih.PDQ_RADIUS
        best.append(min(candidates))
        near_all = np.flatnonzero(within)
        if len(near_all) > _NEAR_PER_FRAME:
            dmin = np.min([ih.hamming_many(h, ref[near_all]) for h in frame.hashes], axis=0)
            near_all = near_all[np.argsort(dmin, kind="stable")[:_NEAR_PER_FRAME]]
        near.append(near_all)
    distances = [d for d, _, _ in best]
    matched = [i for i, d in enumerate(distances) if d <= ih.PDQ_RADIUS]
    if matched and ref_regions is not None and ref_times is not None:
        spans = time_spans(ref_regions, ref_times)
        keep = _consistent(np.array([query[i].time_s for i in matched]), [spans[near[i]] for i in matched])
        matched = [i for i, k in zip(matched, keep, strict=True) if k]
    need = min(2, len(distances))
    fraction = len(matched) / len(distances) if distances else 0.0
    ok = bool(distances) and len(matched) >= need and fraction >= VIDEO_MIN_FRACTION
    if not ok and ref_duration_s and ref_times is not None and len(matched) >= 4:
        covered = query[matched[-1]].time_s - query[matched[0]].time_s
        ok = covered >= VIDEO_MIN_FRACTION * ref_duration_s
    times = [round(query[i].time_s, 2) for i in matched]
    return {"frames_sampled": len(distances), "frames_matched": len(matched), "fraction": round(fraction, 3),
            "median_distance": float(np.median(distances)) if distances else None,
            "matched": ok, "times": times[:50],
            "transform": video_transform([query[i] for i in matched], [best[i] for i in matched], ref_regions,
                                         ref_times) if ok else None}


def video_transform(frames: list[QueryFrame], best: list[tuple[int, int, int]], ref_regions: list[str] | None,
                    ref_times: list[float] | None) -> str:
    """Which path matched, by majority over the matched frames: borders trimmed, caption band or crop, mirror, trim."""
    from collections import Counter

    parts: list[str] = []
    if sum(f.border_trimmed for f in frames) * 2 > len(frames):
        parts.append("black borders trimmed")
    query_region = Counter(_QUERY_REGIONS[qi][0] for _, qi, _ in best).most_common(1)[0][0]
    ref_region = None
    if ref_regions is not None:
        ref_region = Counter(ref_regions[j] for _, _, j in best).most_common(1)[0][0]
    base = (ref_region or "").removesuffix(MIRROR_SUFFIX)
    if query_region == "top84" or base == "top84":
        parts.append("bottom caption band ignored (top 84 % compared)")
    elif query_region == "bottom84" or base == "bottom84":
        parts.append("top caption band ignored (bottom 84 % compared)")
    if base == "central90":
        parts.append("cropped (matches the original's central 90 %)")
    if ref_region is not None and ref_region.endswith(MIRROR_SUFFIX):
        parts.append("mirrored")
    if ref_times is not None:
        offset = float(np.median([ref_times[j] - f.time_s for f, (_, _, j) in zip(frames, best, strict=True)]))
        parts.append(_offset_text(offset))
    parts = [p for p in parts if p]
    return "; ".join(parts) if parts else "whole frame (re-encoded or resized)"


def _offset_text(offset_s: float) -> str:
    """How a copy is placed in the original: positive = the copy starts that far into the original."""
    if offset_s > TRIM_OFFSET_S:
        return f"trimmed: starts {offset_s:.1f} s into the original"
    if offset_s < -TRIM_OFFSET_S:
        return f"the original starts {-offset_s:.1f} s into this clip"
    return ""


def best_offset_ber(q: np.ndarray, r: np.ndarray, min_overlap: int = AUDIO_MIN_OVERLAP) -> tuple[float, int]:
    """Lowest bit error rate of `q` slid along `r` (overlap >= min_overlap); (1.0, 0) when they cannot overlap."""
    best, best_off = 1.0, 0
    n, m = len(q), len(r)
    for off in range(-(n - min_overlap), m - min_overlap + 1):
        qs, rs = max(0, -off), max(0, off)
        length = min(n - qs, m - rs)
        if length < min_overlap:
            continue
        errors = int(np.bitwise_count(np.bitwise_xor(q[qs: qs + length], r[rs: rs + length])).sum())
        ber = errors / (32 * length)
        if ber < best:
            best, best_off = ber, off
    return best, best_off


def _same_content(rgb: np.ndarray, query: ih.QueryFeatures, fit: ih.Fit, entry: ih.BankEntry, ref: Reference,
                  t_ref: float) -> bool | None:
    """Whether the aligned frame agrees in PDQ with a reference hash of about that time; None when the copy's frame
    shows less than `CONTENT_CHECK_COVERAGE` of the reference frame (a crop), where PDQ of the aligned frame says
    nothing. Keypoints fit a static background just as well at another moment of the same shot; PDQ of the aligned
    frame sees the people and things that moved (it is noisy per frame, so `match_keypoints` asks it of the clip)."""
    if ref.vpdq is None:
        return None
    to_ref = fit.model @ np.diag([query.scale, query.scale, 1.0])  # query pixels -> reference frame pixels
    size = (entry.width, entry.height)
    covered = cv2.warpAffine(np.ones(rgb.shape[:2], np.uint8), to_ref, size, flags=cv2.INTER_NEAREST)
    if covered.mean() < CONTENT_CHECK_COVERAGE:
        return None
    warped = cv2.warpAffine(rgb, to_ref, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    h, _q = pdq(warped)
    candidates = ref.vpdq
    if ref.vpdq_times is not None:
        near = np.abs(np.array(ref.vpdq_times) - t_ref) <= ref.keyframe_interval_s + TIME_TOLERANCE_S
        candidates = ref.vpdq[near] if near.any() else ref.vpdq
    return bool(ih.hamming_many(h, candidates).min() <= ih.PDQ_RADIUS)


def match_keypoints(samples: list[av_decode.Sample], index: ClipIndex,
                    refs: list[Reference]) -> tuple[Reference, dict[str, Any]] | None:
    """Second stage for video: up to `QUERY_KEYFRAMES` evenly spread query frames, each searched in the reference
    keyframes' keypoint bank and accepted by a similarity fit (image_hashing.convincing); a reference matches when at
    least half of the checked frames (and two) fit it in one consistent timing. Finds what frame PDQ cannot: heavy and
    corner crops, rotation, screenshots, picture-in-picture, overlays on any side."""
    bank, meta = index.keyframe_bank()
    if not len(bank) or not samples:
        return None
    spread = np.linspace(0, len(samples) - 1, min(QUERY_KEYFRAMES, len(samples))).round()
    picks = [samples[int(i)] for i in np.unique(spread)]
    hits: dict[int, list[tuple[float, float, ih.Fit, bool, dict[str, list[float]], bool | None]]] = {}
    for sample in picks:
        query = ih.query_features(sample.rgb)
        seen: set[int] = set()
        for pos, mirrored, src, dst in bank.candidates(query, limit=4):
            ref_pos, t_ref = meta[pos]
            entry = bank.entries[pos][1]
            fit = ih.fit_similarity(src, dst, (entry.width, entry.height))
            if ref_pos in seen or not ih.convincing(fit):
                continue
            assert fit is not None
            seen.add(ref_pos)
            content = _same_content(sample.rgb, query, fit, entry, refs[ref_pos], t_ref)
            hits.setdefault(ref_pos, []).append((sample.time_s, t_ref, fit, mirrored,
                                                 ih.regions(fit, query, entry, mirrored), content))
    best: tuple[Reference, dict[str, Any]] | None = None
    for ref_pos, found in hits.items():
        ref = refs[ref_pos]
        q_times = np.array([f[0] for f in found])
        spans = [np.array([[f[1], f[1] + ref.keyframe_interval_s]]) for f in found]
        keep = _consistent(q_times, spans)
        good = [f for f, k in zip(found, keep, strict=True) if k]
        need = min(2, len(picks))
        fraction = len(good) / len(picks)
        covered = (good[-1][0] - good[0][0]) if good else 0.0
        ok = len(good) >= need and (fraction >= VIDEO_MIN_FRACTION or (
            ref.duration_s is not None and len(good) >= 4 and covered >= VIDEO_MIN_FRACTION * ref.duration_s))
        # Frames that show the whole reference frame were also compared in PDQ once aligned: if two or more were and
        # none agreed, this is the same place at another moment, not a copy.
        judged = [f[5] for f in good if f[5] is not None]
        ok = ok and not (len(judged) >= 2 and not any(judged))
        if not ok or (best is not None and fraction <= best[1]["fraction"]):
            continue
        mid = good[len(good) // 2]
        fit, mirrored, region = mid[2], mid[3], mid[4]
        q = region["query"]
        area = (q[2] - q[0]) * (q[3] - q[1])
        parts = [f"rotated {fit.rotation_deg:+.1f} deg" if abs(fit.rotation_deg) >= 1 else "",
                 "mirrored" if mirrored else "",
                 f"the original fills {100 * area:.0f} % of the frame" if area < 0.9 else "",
                 "cropped" if min(region["original"][:2]) > 0.03 or max(region["original"][2:]) < 0.97 else "",
                 _offset_text(float(np.median([f[1] - f[0] for f in good])))]
        transform = "keyframe keypoints: " + (", ".join(p for p in parts if p) or "same framing")
        best = (ref, {"frames_sampled": len(picks), "frames_matched": len(good), "fraction": round(fraction, 3),
                      "median_distance": None, "matched": True, "times": [round(f[0], 2) for f in good],
                      "transform": transform, "inliers": int(np.median([f[2].inliers for f in good])),
                      "region": region, "geometry": {"rotation_deg": round(fit.rotation_deg, 2), "mirrored": mirrored}})
    return best


def check(media: Media, ctx: CheckContext) -> CheckResult:
    """Match a video or audio clip against the refuted clips."""
    if media.kind is MediaKind.IMAGE:
        return CheckResult(NAME, Outcome.UNSUPPORTED, "Clip matching applies to video and audio only.")
    index: ClipIndex | None = ctx.resources.get("clip_index")
    if index is None:
        return CheckResult(NAME, Outcome.UNSUPPORTED, "No refuted-clip database is configured.")
    try:
        analysis = av_decode.analysis(media)
    except MediaError as exc:
        return CheckResult(NAME, Outcome.UNSUPPORTED, f"The file cannot be read: {exc}.")
    refs = index.references()
    evidence: dict[str, Any] = {"candidates": len(refs), "partial_decode": analysis.partial}
    if not refs:
        return CheckResult(NAME, Outcome.NOT_DETECTED, "No refuted clips to compare with yet.", evidence=evidence)
    best = find(media, analysis, index, refs)
    query_v, query_a = analysis.samples, fingerprint_of(analysis)
    if best is None:
        if not query_v and query_a is None:
            return CheckResult(NAME, Outcome.NOT_DETECTED,
                               "The clip is too short or too uniform to fingerprint; no refuted clip matched.",
                               evidence=evidence)
        return CheckResult(NAME, Outcome.NOT_DETECTED, "No refuted clip matches.", evidence=evidence)

    similarity, method, ref, found = best
    refutation = _refutation_json(ctx, ref, method, similarity, found)
    evidence["video" if method in (VPDQ, VORB) else "audio" if method == CHROMAPRINT else "exact"] = found
    if refutation is None:  # the refutation row went away between load and lookup
        return CheckResult(NAME, Outcome.NOT_DETECTED, "No refuted clip matches.", evidence=evidence)
    evidence["refutation"] = refutation
    return CheckResult(NAME, Outcome.DETECTED, _summary(method, found, refutation), score=round(similarity, 3),
                       evidence=evidence)


def fingerprint_of(analysis: av_decode.AVAnalysis) -> np.ndarray | None:
    """The query's Chromaprint (None without audio or when degenerate)."""
    fp = analysis.audio_fingerprint
    return np.array(fp, dtype=np.uint32) if fp and not degenerate(fp) else None


def find(media: Media, analysis: av_decode.AVAnalysis, index: ClipIndex,
         refs: list[Reference] | None = None) -> tuple[float, str, Reference, dict[str, Any]] | None:
    """The best original of `index` that the clip copies: (similarity, method, reference, details), or None.

    One matching path for every set of originals (refuted clips for clip_match, the declared index's clips for
    declared_match): exact bytes, frame PDQ in one consistent timing, Chromaprint, then the keyframe keypoint stage.
    """
    refs = index.references() if refs is None else refs
    best: tuple[float, str, Reference, dict[str, Any]] | None = None
    query_v = query_video_hashes(analysis) if analysis.samples else []
    query_a = fingerprint_of(analysis)
    framed = index.frame_candidates(query_v, refs) if query_v else None
    for pos, ref in enumerate(refs):
        if ref.sha256 == media.sha256:
            found = {"identical": True, "transform": "identical"}
            best = (1.0, "sha256", ref, found)
            break
        if query_v and ref.vpdq is not None and len(ref.vpdq) and (framed is None or pos in framed):
            found = match_video(query_v, ref.vpdq, ref.vpdq_regions, ref.vpdq_times, ref.duration_s)
            if found["matched"] and (best is None or found["fraction"] > best[0]):
                best = (found["fraction"], VPDQ, ref, found)
        if query_a is not None and ref.chromaprint is not None:
            ber, offset = best_offset_ber(query_a, ref.chromaprint)
            if ber <= AUDIO_MAX_BER and (best is None or 1 - ber > best[0]):
                offset_s = offset * CHROMAPRINT_ITEM_S
                best = (1 - ber, CHROMAPRINT, ref, {"bit_error_rate": round(ber, 4), "offset_s": round(offset_s, 2),
                                                    "transform": "audio: " + (_offset_text(offset_s) or "aligned")})
    if best is None and query_v:
        keyed = match_keypoints(analysis.samples, index, refs)
        if keyed is not None:
            best = (keyed[1]["fraction"], VORB, keyed[0], keyed[1])
    return best


def _summary(method: str, found: dict[str, Any], refutation: dict[str, Any]) -> str:
    """What matched and how, in one sentence: frames and their times for video, the offset for audio."""
    who = f"{refutation['fact_checker']}: {refutation['rating']}"
    if method in (VPDQ, VORB):
        times = found["times"]
        span = f"{times[0]:.1f}-{times[-1]:.1f} s" if times else "no times"
        what = (f"{found['frames_matched']} of its {found['frames_sampled']} sampled frames ({span}) match a debunked "
                f"clip ({found['transform']})")
    elif method == CHROMAPRINT:
        what = (f"its audio matches a debunked clip's (bit error rate {found['bit_error_rate']:.2f}; "
                f"{found['transform'].removeprefix('audio: ')})")
    else:
        what = "it is byte-identical to a debunked clip"
    return f"A fact-checker has refuted this clip: {what} ({who}). Claim: {refutation['claim']}"[:500]


def _refutation_json(ctx: CheckContext, ref: Reference, method: str, similarity: float,
                     found: dict[str, Any]) -> dict[str, Any] | None:
    index: ClipIndex = ctx.resources["clip_index"]
    refutation = index.storage.get_refutation(ref.refutation_id)
    if refutation is None:
        return None
    body = refutation.to_json()
    body["match"] = {"method": method, "similarity": round(float(similarity), 4), "transform": found.get("transform"),
                     "original_sha256": ref.sha256, "original_url": ref.content_url}
    for key in ("region", "geometry"):  # where the clip's frame shows the original, and the fitted transform
        if key in found:
            body["match"][key] = found[key]
    return body
