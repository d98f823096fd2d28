"""Robust perceptual hashing for re-posted images: canonical trimming, region PDQ hashes and geometric verification.

Plain PDQ survives re-encoding and resizing but not the edits debunked pictures travel with: a caption strip or meme
band added outside the picture, letterbox bars, crops and mirroring. This module makes PDQ robust to them:

1. `canonicalize`: trim uniform borders (letterbox bars) and text bands (caption strips, meme banners: rows of one
   background colour broken only by text) from every side. Originals and queries go through the same step.
2. `original_hashes`: several PDQ hashes per stored original: the whole canonical picture, centre crops, corner crops,
   each also mirrored. A cropped re-post then lands near one of them.
3. `query_hashes`: the query's canonical picture, plus crops of it that undo an overlay near its edges.
4. Keypoints: ORB features of each original (`bank_entry`, stored) and of the query (`query_features`); a candidate
   is accepted only when enough of them fit one similarity transform (`fit_similarity`, `convincing`), which also says
   where the copy shows the original (`regions`), its rotation and whether it is mirrored.

The one hashing module (STYLE.md, "one concept, one home"): PDQ (`pdq`, `pdq_hex`) in ThreatExchange bit order, the
match radius `PDQ_RADIUS`, `hamming`; clip_match, reports, import and the benches call these. Hashes are the `pdqhash`
package's (Meta PDQ), so they are interchangeable with ThreatExchange / HMA hash banks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pdqhash
from PIL import Image

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
# THE PDQ match radius (ThreatExchange / HMA's customary threshold): images, clip keyframes and reports use it.
PDQ_RADIUS = 31
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
    colour = np.median(lines[0], axis=0).astype(np.int16)
    # Most pictures have no band: decide that from the first line before measuring the others.
    if (np.abs(lines[0].astype(np.int16) - colour).max(axis=1) <= _BG_TOLERANCE).mean() < _PURE_ROW:
        return 0
    limit = int(n * _MAX_TRIM)
    close = (np.abs(lines[:limit].astype(np.int16) - colour).max(axis=2) <= _BG_TOLERANCE).mean(axis=1)
    last_pure = 0
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
    """PDQ hash (32 bytes, big-endian bit order as in ThreatExchange hex) and its quality (0..100).

    The one PDQ function of the code base: image refutations, clip keyframes, reports and the benches all call it, so
    every stored hash has the same bit order and can be compared with `hamming` and exchanged as ThreatExchange hex.
    """
    bits, quality = pdqhash.compute(np.ascontiguousarray(_shrink(rgb, _PDQ_SIDE)))
    return bits_to_bytes(bits), int(quality)


def pdq_hex(img: Image.Image) -> tuple[str, int]:
    """PDQ of a Pillow image as 64 ThreatExchange hex digits, and its quality."""
    digest, quality = pdq(to_rgb_array(img))
    return digest.hex(), quality


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """pdqhash's 256-element bit vector -> 32 bytes in the ThreatExchange hex order (bit 255 first)."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)[::-1]).tobytes()


def from_legacy_order(packed: np.ndarray) -> np.ndarray:
    """(n, 32) hashes packed in pdqhash's bit order (bit 0 first; clip fingerprints before version 2) -> the
    ThreatExchange order that `pdq` returns: the same 256 bits, reversed."""
    bits = np.unpackbits(np.asarray(packed, dtype=np.uint8).reshape(-1, 32), axis=1)
    return np.packbits(bits[:, ::-1], axis=1)


def hamming(a: bytes | str, b: bytes | str) -> int:
    """Bits that differ between two PDQ hashes (32 bytes or 64 hex digits)."""
    x = bytes.fromhex(a) if isinstance(a, str) else a
    y = bytes.fromhex(b) if isinstance(b, str) else b
    return (int.from_bytes(x, "big") ^ int.from_bytes(y, "big")).bit_count()


def hamming_many(h: np.ndarray, many: np.ndarray) -> np.ndarray:
    """Distances from one (32,) uint8 hash to each row of an (n, 32) uint8 array."""
    return np.bitwise_count(np.bitwise_xor(many, h)).sum(axis=1)


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


# The query regions searched in stage 1: the rest of the overlay cases are left to the keypoint stage, which finds
# them anyway, so a lookup hashes at most 2 regions per stage (PDQ is the costliest step of stage 1).
_QUERY_SEARCH = ("full", "overlay_bottom_removed")


def stages(rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The picture as given and, when trimming changed it, trimmed. Both are hashed: trimming is not perfectly
    stable on pictures whose own edges look like a border (night sky, snow), and then the untrimmed pair still meets."""
    small = _shrink(rgb, _PDQ_SIDE)  # PDQ hashes at this size anyway; trimming a small copy is cheaper
    return [("", small)] + [(f"trimmed{i}:", pic) for i, pic in enumerate(trim_stages(small), start=1)]


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
        for name in _QUERY_SEARCH:
            box = _QUERY_REGIONS[name]
            digest, quality = pdq(np.ascontiguousarray(_crop(pic, *box)))
            if digest not in seen:
                seen.add(digest)
                out.append((i, RegionHash(prefix + name, digest, quality)))
    return out


def _unique(hashes: list[RegionHash]) -> list[RegionHash]:
    seen: set[bytes] = set()
    return [h for h in hashes if not (h.hash in seen or seen.add(h.hash))]  # type: ignore[func-returns-value]


@dataclass(frozen=True, slots=True)
class Keypoints:
    """ORB keypoint coordinates and descriptors of one picture."""

    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, 32) uint8


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


# --- local-feature bank: candidates that survive crops, rotation, screenshots and overlays --------------------------
#
# PDQ sees the picture as one block of pixels, so a copy that is a 25 % corner crop, rotated, or a screenshot where the
# picture fills half the frame lands far from every stored region hash. ORB keypoints are local: most of them survive
# those edits. Each stored original keeps its `BANK_FEATURES` strongest keypoints (and those of its mirror image); a
# query's keypoints are searched among all of them (`refutation_index`), the originals that collect votes are
# candidates, and a similarity transform fitted with RANSAC decides.

BANK_FEATURES = 400
BANK_VERSION = 1
_BANK_SIDE = 640
_QUERY_FEATURES = 1000
_QUERY_SIDE = 640
# Small queries (a 0.3x copy) are enlarged before ORB: its finest pyramid level then still sees the original's scale.
_QUERY_MIN_SIDE = 480
# Geometric acceptance, in the original's bank coordinates (long side `_BANK_SIDE` px).
FIT_THRESHOLD_PX = 5.0
MAX_ROTATION_DEG = 20.0
MIN_SCALE, MAX_SCALE = 0.15, 8.0


def _grey_at(rgb: np.ndarray, side: int, min_side: int = 0) -> tuple[np.ndarray, float]:
    """A grey copy with its long side at most `side` (and at least `min_side`), and the scale applied."""
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if min_side and max(h, w) * scale < min_side:
        scale = min_side / max(h, w)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    if scale != 1.0:
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return grey, scale


def _orb(grey: np.ndarray, n: int) -> Keypoints:
    kps, desc = cv2.ORB_create(nfeatures=n, fastThreshold=12).detectAndCompute(grey, None)
    if len(kps) < n // 3:
        kps, desc = cv2.ORB_create(nfeatures=n, fastThreshold=4).detectAndCompute(grey, None)
    pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)
    return Keypoints(pts, desc if desc is not None else np.zeros((0, 32), np.uint8))


@dataclass(frozen=True, slots=True)
class BankEntry:
    """The stored keypoints of one original: as is and mirrored, in coordinates of the picture scaled by `scale`."""

    plain: Keypoints
    mirrored: Keypoints
    width: int  # of the scaled picture
    height: int


def bank_entry(rgb: np.ndarray, n: int = BANK_FEATURES) -> BankEntry:
    """The keypoints an original (or a reference clip's frame) contributes to a feature bank."""
    grey, _ = _grey_at(rgb, _BANK_SIDE)
    return BankEntry(_orb(grey, n), _orb(np.ascontiguousarray(grey[:, ::-1]), n), grey.shape[1], grey.shape[0])


def bank_to_json(entry: BankEntry) -> dict[str, object]:
    """The stored form (refuted_media.hashes["orb"]): base64 of float16 points and uint8 descriptors."""
    import base64

    def enc(k: Keypoints) -> dict[str, str]:
        return {"points": base64.b64encode(k.points.astype(np.float16).tobytes()).decode(),
                "desc": base64.b64encode(np.ascontiguousarray(k.descriptors, np.uint8).tobytes()).decode()}

    return {"v": BANK_VERSION, "size": [entry.width, entry.height], "plain": enc(entry.plain),
            "mirrored": enc(entry.mirrored)}


def bank_from_json(value: object) -> BankEntry | None:
    """The inverse of `bank_to_json`; None for a missing or unknown version (then it is recomputed from the file)."""
    import base64

    if not isinstance(value, dict) or value.get("v") != BANK_VERSION:
        return None
    try:
        def dec(d: dict[str, str]) -> Keypoints:
            pts = np.frombuffer(base64.b64decode(d["points"]), np.float16).astype(np.float32).reshape(-1, 2)
            desc = np.frombuffer(base64.b64decode(d["desc"]), np.uint8).reshape(-1, 32)
            return Keypoints(pts, desc)

        w, h = value["size"]
        return BankEntry(dec(value["plain"]), dec(value["mirrored"]), int(w), int(h))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class QueryFeatures:
    """A query's keypoints (in the scaled copy's coordinates), and the scale and size of the query as given."""

    keypoints: Keypoints
    scale: float
    width: int
    height: int


def query_features(rgb: np.ndarray) -> QueryFeatures:
    """ORB keypoints of a query picture, at a size where a copy's details match the stored originals'."""
    grey, scale = _grey_at(rgb, _QUERY_SIDE, _QUERY_MIN_SIDE)
    return QueryFeatures(_orb(grey, _QUERY_FEATURES), scale, rgb.shape[1], rgb.shape[0])


@dataclass(frozen=True, slots=True)
class Fit:
    """A similarity transform from query (scaled) to original (bank) coordinates, supported by `inliers` matches."""

    inliers: int
    matches: int
    model: np.ndarray  # 2x3
    scale: float
    rotation_deg: float  # of the copy relative to the original, counter-clockwise positive
    spread: float  # share of the original's bank picture covered by the inliers' bounding box

    @property
    def ratio(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0


def fit_similarity(src: np.ndarray, dst: np.ndarray, bank_size: tuple[int, int]) -> Fit | None:
    """RANSAC similarity (rotation, uniform scale, shift) from query points to original points, or None when no
    plausible one exists (a re-post is not rotated by more than `MAX_ROTATION_DEG` nor scaled absurdly)."""
    if len(src) < 6:
        return None
    model, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=FIT_THRESHOLD_PX,
                                              maxIters=2000, confidence=0.995)
    if model is None or mask is None:
        return None
    scale = float(np.hypot(model[0, 0], model[1, 0]))
    rotation = float(np.degrees(np.arctan2(model[1, 0], model[0, 0])))
    if not MIN_SCALE <= scale <= MAX_SCALE or abs(rotation) > MAX_ROTATION_DEG:
        return None
    keep = mask.ravel().astype(bool)
    inl = dst[keep]
    w, h = bank_size
    spread = float((np.ptp(inl[:, 0]) * np.ptp(inl[:, 1])) / max(1, w * h)) if len(inl) else 0.0
    # `model` maps the copy onto the original (y down); the copy's own rotation relative to the original, counted
    # counter-clockwise as seen on screen, has the same sign as this angle.
    return Fit(int(keep.sum()), len(src), model, 1 / scale if scale else 0.0, rotation, spread)


# Acceptance of any candidate: enough keypoints agree on one similarity transform, they are a fair share of its
# matches, and they are spread over the original (not one repeated texture patch).
MIN_INLIERS = 15
MIN_INLIER_RATIO = 0.25
MIN_SPREAD = 0.02



def convincing(fit: Fit | None) -> bool:
    """The one acceptance rule for a keypoint fit (images and video frames alike)."""
    return fit is not None and fit.inliers >= MIN_INLIERS and fit.ratio >= MIN_INLIER_RATIO and fit.spread >= MIN_SPREAD


def regions(fit: Fit, query: QueryFeatures, entry: BankEntry, mirrored: bool) -> dict[str, list[float]]:
    """Where the match lies, as [x0, y0, x1, y1] shares of each picture: the original's outline mapped into the copy,
    and the copy's outline mapped into the original (what the report page outlines on both pictures)."""
    qw, qh = query.width * query.scale, query.height * query.scale
    m = np.vstack([fit.model, [0, 0, 1]])
    inv = np.linalg.inv(m)

    def box(points: np.ndarray, tr: np.ndarray, w: float, h: float) -> list[float]:
        p = points @ tr[:2, :2].T + tr[:2, 2]
        x0, y0 = p.min(axis=0)
        x1, y1 = p.max(axis=0)
        return [round(float(np.clip(v, 0, 1)), 4) for v in (x0 / w, y0 / h, x1 / w, y1 / h)]

    orig_corners = np.array([[0, 0], [entry.width, 0], [entry.width, entry.height], [0, entry.height]], np.float64)
    query_corners = np.array([[0, 0], [qw, 0], [qw, qh], [0, qh]], np.float64)
    in_query = box(orig_corners, inv, qw, qh)
    in_original = box(query_corners, m, entry.width, entry.height)
    if mirrored:
        in_original = [round(1 - in_original[2], 4), in_original[1], round(1 - in_original[0], 4), in_original[3]]
    return {"query": in_query, "original": in_original}


def match_entry(query: QueryFeatures, entry: BankEntry) -> tuple[Fit, bool] | None:
    """The best similarity fit of a query onto one original (as is or mirrored), by ratio-tested nearest keypoints."""
    best: tuple[Fit, bool] | None = None
    for keypoints, mirrored in ((entry.plain, False), (entry.mirrored, True)):
        q = query.keypoints
        if len(q.descriptors) < 8 or len(keypoints.descriptors) < 8:
            continue
        pairs = _MATCHER.knnMatch(q.descriptors, keypoints.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.85 * p[1].distance and p[0].distance <= 64]
        if len(good) < 8:
            continue
        fit = fit_similarity(q.points[[m.queryIdx for m in good]], keypoints.points[[m.trainIdx for m in good]],
                             (entry.width, entry.height))
        if fit is not None and (best is None or fit.inliers > best[0].inliers):
            best = (fit, mirrored)
    return best
