"""Robust perceptual hashing for re-posted images: canonical trimming, region PDQ hashes and geometric verification.

Plain PDQ survives re-encoding and resizing but not the edits debunked pictures travel with: a caption strip or meme
band added outside the picture, letterbox bars, crops and mirroring. This module makes PDQ robust to them:

1. `canonicalize`: trim uniform borders (letterbox bars) and text bands (caption strips, meme banners: rows of one
   background colour broken only by text) from every side. Originals and queries go through the same step.
2. `original_hashes`: several PDQ hashes per stored original: the whole canonical picture, centre crops, corner crops,
   each also mirrored. A cropped re-post then lands near one of them.
3. `query_hashes`: the query's canonical picture, plus crops of it that undo an overlay near its edges.
4. `verify_geometry`: ORB keypoints + RANSAC homography between a candidate original and the query; a candidate is
   accepted only if enough keypoints agree on one plane-to-plane mapping. This keeps false matches near zero even with a
   loose PDQ candidate radius.

Hashes are the `pdqhash` package's (Meta PDQ), so they are interchangeable with ThreatExchange / HMA hash banks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pdqhash
from PIL import Image

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
# PDQ is computed on a downscaled copy: 512 px is what the PDQ reference downsamples to anyway, at a tenth of the cost.
_PDQ_SIDE = 512
# Trimming: a pixel is "background" within this distance (max over RGB) of the edge colour.
_BG_TOLERANCE = 16
# A pure background row: nearly every pixel is background. A text row: most of it still is.
_PURE_ROW = 0.985
_TEXT_ROW = 0.2
# Never trim more than this share from one side (letterbox bars plus a dark sky can reach 60%).
_MAX_TRIM = 0.7


@dataclass(frozen=True, slots=True)
class RegionHash:
    """One PDQ hash of one region of an image: `region` names the transformation path (e.g. "crop90_center/mirror")."""

    region: str
    hash: bytes
    quality: int


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """RGB uint8 array of a Pillow image (alpha composited on white)."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        base = Image.new("RGB", img.size, (255, 255, 255))
        base.paste(img.convert("RGBA"), mask=img.convert("RGBA").split()[-1])
        img = base
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _band_depth(lines: np.ndarray) -> int:
    """How many leading lines (rows of `lines`, each a run of RGB pixels) form a uniform border or text band.

    The band's colour is the first line's median. Lines are consumed while they are mostly that colour (text rows
    allowed); the band ends after the last *pure* background line, so a band ends cleanly at the picture.
    """
    n = lines.shape[0]
    if n < 8:
        return 0
    colour = np.median(lines[0], axis=0)
    close = (np.abs(lines.astype(np.int16) - colour.astype(np.int16)).max(axis=2) <= _BG_TOLERANCE).mean(axis=1)
    if close[0] < _PURE_ROW:
        return 0
    last_pure = 0
    limit = int(n * _MAX_TRIM)
    for i in range(limit):
        if close[i] >= _PURE_ROW:
            last_pure = i
        elif close[i] < _TEXT_ROW:
            break
    return last_pure + 1 if last_pure >= 1 else 0


def trim_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the picture inside uniform borders and text bands."""
    small = _shrink(rgb, 384)
    sh, sw = small.shape[:2]
    top = _band_depth(small)
    bottom = _band_depth(small[::-1])
    left = _band_depth(small.transpose(1, 0, 2))
    right = _band_depth(small.transpose(1, 0, 2)[::-1])
    if top + bottom >= sh * 0.9 or left + right >= sw * 0.9:
        return 0, 0, rgb.shape[1], rgb.shape[0]
    fy, fx = rgb.shape[0] / sh, rgb.shape[1] / sw
    # One extra small-image pixel: resampling blurs the band's edge into the picture.
    pad_t, pad_b, pad_l, pad_r = (1 if top else 0), (1 if bottom else 0), (1 if left else 0), (1 if right else 0)
    return (round((left + pad_l) * fx), round((top + pad_t) * fy),
            round((sw - right - pad_r) * fx), round((sh - bottom - pad_b) * fy))


def trim_stages(rgb: np.ndarray, rounds: int = 3) -> list[np.ndarray]:
    """The picture after 1, 2, ... rounds of trimming borders and text bands (only rounds that changed something).

    Bands stack (a caption strip below a photo with its own dark bottom edge), so trimming repeats; but a picture's
    own edges can look like a border (night sky, snow), so every stage is kept and hashed: whichever stage of the
    original meets whichever stage of the re-post wins.
    """
    stages = []
    for _ in range(rounds):
        left, top, right, bottom = trim_box(rgb)
        if (left, top, right, bottom) == (0, 0, rgb.shape[1], rgb.shape[0]):
            break
        rgb = rgb[top:bottom, left:right]
        stages.append(rgb)
    return stages


def canonicalize(rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    """The fully trimmed picture; the flag says whether anything was trimmed."""
    stages = trim_stages(rgb)
    return (stages[-1], True) if stages else (rgb, False)


def pdq(rgb: np.ndarray) -> tuple[bytes, int]:
    """PDQ hash (32 bytes, big-endian bit order as in ThreatExchange hex) and its quality (0..100)."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(_shrink(rgb, _PDQ_SIDE)))
    return bits_to_bytes(bits), int(quality)


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """pdqhash's 256-element bit vector -> 32 bytes in the ThreatExchange hex order (bit 255 first)."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)[::-1]).tobytes()


def _crop(rgb: np.ndarray, fx0: float, fy0: float, fx1: float, fy1: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    return rgb[round(h * fy0):round(h * fy1), round(w * fx0):round(w * fx1)]


# Stored regions of an original: crops a re-post commonly shows. Each is also stored mirrored.
_ORIGINAL_REGIONS: dict[str, tuple[float, float, float, float]] = {
    "full": (0, 0, 1, 1),
    "crop90_center": (0.05, 0.05, 0.95, 0.95),
    "crop80_center": (0.10, 0.10, 0.90, 0.90),
    "crop90_top_left_removed": (0.10, 0.10, 1, 1),
    "crop90_bottom_right_removed": (0, 0, 0.90, 0.90),
    "crop90_top_right_removed": (0, 0.10, 0.90, 1),
    "crop90_bottom_left_removed": (0.10, 0, 1, 0.90),
}

# Regions of the query: the whole canonical picture, and crops that cut away text drawn over its top or bottom.
_QUERY_REGIONS: dict[str, tuple[float, float, float, float]] = {
    "full": (0, 0, 1, 1),
    "overlay_bottom_removed": (0, 0, 1, 0.85),
    "overlay_top_removed": (0, 0.15, 1, 1),
    # Meme text drawn over a portrait picture wraps onto two or three lines.
    "overlay_bottom_removed_30": (0, 0, 1, 0.70),
}


def stages(rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The picture as given and, when trimming changed it, trimmed. Both are hashed: trimming is not perfectly
    stable on pictures whose own edges look like a border (night sky, snow), and then the untrimmed pair still meets."""
    return [("", _shrink(rgb, 1024))] + [(f"trimmed{i}:", _shrink(pic, 1024))
                                           for i, pic in enumerate(trim_stages(rgb), start=1)]


def original_hashes(rgb: np.ndarray) -> list[RegionHash]:
    """The region hashes stored for a database original (as given and trimmed; crops; mirrored)."""
    out: list[RegionHash] = []
    for prefix, pic0 in stages(rgb):
        for mirrored in (False, True):
            pic = pic0[:, ::-1] if mirrored else pic0
            for name, box in _ORIGINAL_REGIONS.items():
                digest, quality = pdq(np.ascontiguousarray(_crop(pic, *box)))
                out.append(RegionHash(prefix + name + ("/mirror" if mirrored else ""), digest, quality))
        # The overlay crops of the original too, so a query crop that cut away an overlay meets its twin.
        for name in ("overlay_bottom_removed", "overlay_top_removed", "overlay_bottom_removed_30"):
            digest, quality = pdq(np.ascontiguousarray(_crop(pic0, *_QUERY_REGIONS[name])))
            out.append(RegionHash(prefix + name, digest, quality))
    return _unique(out)


def query_hashes(query_stages: list[tuple[str, np.ndarray]]) -> list[tuple[int, RegionHash]]:
    """The hashes a lookup searches with, each with the index of its stage (see `stages`): the picture as given and
    trimmed, each whole and with edge overlays cut away."""
    out: list[tuple[int, RegionHash]] = []
    seen: set[bytes] = set()
    for i, (prefix, pic) in enumerate(query_stages):
        for name, box in _QUERY_REGIONS.items():
            digest, quality = pdq(np.ascontiguousarray(_crop(pic, *box)))
            if digest not in seen:
                seen.add(digest)
                out.append((i, RegionHash(prefix + name, digest, quality)))
    return out


def _unique(hashes: list[RegionHash]) -> list[RegionHash]:
    seen: set[bytes] = set()
    return [h for h in hashes if not (h.hash in seen or seen.add(h.hash))]  # type: ignore[func-returns-value]


# --- geometric verification -------------------------------------------------------------------------------------

_ORB_SIDE = 640


@dataclass(frozen=True, slots=True)
class Keypoints:
    """ORB keypoint coordinates and descriptors of one image (at most `_ORB_SIDE` px on its long side)."""

    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray | None  # (n, 32) uint8


def keypoints(rgb: np.ndarray) -> Keypoints:
    """ORB features of an image, computed on a grey copy of bounded size."""
    grey = cv2.cvtColor(_shrink(rgb, _ORB_SIDE), cv2.COLOR_RGB2GRAY)
    kps, desc = cv2.ORB_create(nfeatures=1500, fastThreshold=12).detectAndCompute(grey, None)
    if len(kps) < 200:
        # Smooth pictures (clouds, skies) have few strong corners: look again with a lower corner threshold.
        kps, desc = cv2.ORB_create(nfeatures=1500, fastThreshold=4).detectAndCompute(grey, None)
    pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)
    return Keypoints(pts, desc)


@dataclass(frozen=True, slots=True)
class Geometry:
    inliers: int
    matches: int
    mirrored: bool

    @property
    def ratio(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


def _consistent(a: Keypoints, b: Keypoints) -> tuple[int, int]:
    if a.descriptors is None or b.descriptors is None or len(a.points) < 8 or len(b.points) < 8:
        return 0, 0
    pairs = _MATCHER.knnMatch(a.descriptors, b.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance and p[0].distance <= 64]
    if len(good) < 8:
        return 0, len(good)
    src = a.points[[m.queryIdx for m in good]]
    dst = b.points[[m.trainIdx for m in good]]
    # A similarity transform (scale, rotation, shift): re-posts are resized and cropped, not warped. Mirroring is
    # handled by matching against the mirrored keypoints, since a reflection is not a similarity.
    model, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0,
                                              maxIters=2000, confidence=0.995)
    if model is None or mask is None:
        return 0, len(good)
    scale = float(np.hypot(model[0, 0], model[1, 0]))
    if not 0.2 <= scale <= 5.0:
        return 0, len(good)
    return int(mask.sum()), len(good)


def verify_geometry(original: Keypoints, original_mirrored: Keypoints | None, query: Keypoints) -> Geometry:
    """How many query keypoints map onto the original by one similarity transform (plain or mirrored)."""
    inliers, matches = _consistent(query, original)
    best = Geometry(inliers, matches, False)
    if original_mirrored is not None and inliers < 40:
        m_inliers, m_matches = _consistent(query, original_mirrored)
        if m_inliers > inliers:
            best = Geometry(m_inliers, m_matches, True)
    return best


# The one PDQ match radius (bits of 256): ThreatExchange's recommended threshold, used by every PDQ comparison.
MATCH_RADIUS = 31


def pdq_hex(img: Image.Image) -> tuple[str, int]:
    """PDQ of a whole decoded image as ThreatExchange hex (64 digits), and its quality (0-100)."""
    digest, quality = pdq(to_rgb_array(img))
    return digest.hex(), quality


def hamming_hex(a: str, b: str) -> int:
    """Bits that differ between two hex hashes (HASH_BITS when either is not a hash of that size)."""
    try:
        if len(a) != len(b) or len(a) != HASH_BYTES * 2:
            return HASH_BITS
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return HASH_BITS
