"""The originals matcher: stored originals (refuted media; the declared index), looked up by exact sha256 and then
perceptually. One matcher class (`Matcher`), two sets of originals it is built over (`RefutedOriginals`,
`DeclaredOriginals`): refutations and declarations share the hash index, the keypoint bank and the acceptance rule.

Built once at start-up (build_state) and shared through CheckContext.resources["refutations"]. It loads every stored
PDQ hash into a multi-index (`hash_index.HashIndex`) and, before each lookup, reads the hash rows written since (one
indexed SQLite query), so a refutation written by any process is searchable as soon as its write has returned.

Perceptual path (images), two candidate stages and one acceptance rule (docs/matching.md):
1. exact: the query is hashed as given and trimmed of borders/text bands, whole and with a bottom overlay cut away
   (`image_hashing.query_hashes`); every stored region hash within PDQ_RADIUS makes its original a candidate (the
   multi-index search is exact within the radius and takes ~1 ms at 1M hashes);
2. keypoints: the query's ORB keypoints are searched in the feature bank (`hash_index.FeatureBank`: every original's
   400 strongest keypoints, as is and mirrored); originals with enough votes are candidates.
A candidate of either stage is accepted when its keypoints fit one similarity transform onto the original with enough
inliers spread over it (`image_hashing.convincing`); a smooth picture with too few keypoints to judge is accepted on a
close PDQ match (PDQ_RADIUS_UNVERIFIED) alone. The bank's keypoints are stored in refuted_media.hashes["orb"] at
ingestion (`describe_original`); rows stored before have them computed from the stored file when first loaded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..storage import HashRow, RefutedMedia, Storage
from . import av_decode
from .checks import clip_match
from . import image_hashing as ih
from .hash_index import FeatureBank, HashIndex, to_codes
from .media import load_media
from .types import Limits, Media, MediaKind

log = logging.getLogger(__name__)

PDQ = "pdq"
# PDQ's customary match threshold (ThreatExchange, HMA); the index search is exact within it. One constant, owned by
# the hashing module.
PDQ_RADIUS = ih.PDQ_RADIUS
# Without a geometric verdict (a picture with too few keypoints) only a closer PDQ match is trusted.
PDQ_RADIUS_UNVERIFIED = 20
# The declared index's first-stage radius: a platform's copy (resized, re-encoded) lies within 15 bits of its declared
# original in 94 % of cases and within 31 in 99 % (issue 15, measured on the AI-declared fixtures); at 15 the
# multi-index probes one exact 16-bit chunk per table instead of 17 neighbours, so the lookup that runs on every image
# stays cheap at a million entries, and the keypoint stage still judges the rest.
DECLARED_PDQ_RADIUS = 15
MAX_CANDIDATES = 5
# Keypoints can judge only with this many tentative matches; below it the fit is inconclusive, not negative.
MIN_MATCHES_TO_JUDGE = 15

ORB = "orb"


@dataclass(frozen=True, slots=True)
class Match:
    """A stored media item that the query matched, and how."""

    media: RefutedMedia
    method: str  # "sha256" | "pdq" | "pdq+orb"
    similarity: float
    transform: str | None
    distance: int | None = None
    inliers: int | None = None
    # Where the match lies ({"query": [x0, y0, x1, y1], "original": [...]}, shares of each picture's size) and the
    # fitted transform ({"rotation_deg", "scale", "mirrored"}); None for exact and PDQ-only matches.
    region: dict[str, list[float]] | None = None
    geometry: dict[str, Any] | None = None
    # Where the original's bytes can be seen (None where only its hashes are kept: the declared index).
    original_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"method": self.method, "similarity": round(self.similarity, 4), "transform": self.transform,
               "original_sha256": self.media.sha256, "original_url": self.original_url}
        if self.region is not None:
            out["region"] = self.region
        if self.geometry is not None:
            out["geometry"] = self.geometry
        return out


def media_file_name(sha256: str, fmt: str) -> str:
    return f"{sha256}.{fmt}"


def describe_original(data: bytes, limits: Limits) -> tuple[Media, RefutedMedia]:
    """Hash media that a refutation covers (ids are 0 until stored): PDQ region hashes for images, clip fingerprints
    for video and audio.

    Raises:
        MediaError: the bytes are not readable media within `limits`.
    """
    media = load_media(data, limits)
    hashes: dict[str, Any] = {}
    width = height = None
    if media.kind is MediaKind.IMAGE:
        img = media.image()
        width, height = img.size
        rgb = ih.to_rgb_array(img)
        hashes[PDQ] = [{"region": h.region, "hash": h.hash.hex(), "quality": h.quality}
                       for h in ih.original_hashes(rgb)]
        # The keypoint bank entry (not indexed in media_hashes; the matcher reads it once per original).
        hashes[ORB] = ih.bank_to_json(ih.bank_entry(rgb))
    else:
        # Video/audio: the clip fingerprints (vPDQ-style keyframe hashes, Chromaprint) that clip_match compares with;
        # the exact sha256 is matched as for images. Undecodable clips raise MediaError like undecodable images.
        probe = av_decode.probe(media.data, limits)
        if probe.video is not None:
            width, height = probe.video.width, probe.video.height
        hashes.update(clip_match.reference_hashes(data, limits))
    return media, RefutedMedia(0, 0, media.sha256, media.kind.value, width, height, hashes, None,
                               media_file_name(media.sha256, media.format))


@dataclass
class Query:
    """One image's perceptual query, computed once per media item (Media.match_query) for every matcher: the pixels,
    the trim stages, the PDQ query hashes and, on first use, the keypoints of each frame."""

    rgb: np.ndarray
    stages: list[tuple[str, np.ndarray]]
    queries: list[tuple[int, ih.RegionHash]]
    _features: dict[str, ih.QueryFeatures]

    def features(self, frame: str, picture: np.ndarray) -> ih.QueryFeatures:
        found = self._features.get(frame)
        if found is None:  # two matchers racing here compute the same features; either result is kept
            found = self._features[frame] = ih.query_features(picture)
        return found


_QUERY_LOCK = threading.Lock()


@dataclass
class _QueryCell:
    lock: threading.Lock
    query: Query | None = None


def query_of(media: Media) -> Query:
    """The media's shared perceptual query, computed once: the matchers run at the same time, and the second waits
    for the first's query instead of hashing the picture again."""
    with _QUERY_LOCK:
        if media.match_query is None:
            media.match_query = _QueryCell(threading.Lock())
        cell: _QueryCell = media.match_query
    with cell.lock:
        if cell.query is None:
            rgb = ih.to_rgb_array(media.image())
            stages = ih.stages(rgb)
            cell.query = Query(rgb, stages, ih.query_hashes(stages), {})
        return cell.query


class Originals(Protocol):
    """The originals a Matcher searches: their indexed hash rows, and each original by id and by sha256."""

    name: str

    def hashes_after(self, after_id: int) -> list[HashRow]: ...
    def by_id(self, media_id: int) -> RefutedMedia | None: ...
    def by_sha256(self, sha256: str) -> RefutedMedia | None: ...
    def url(self, item: RefutedMedia) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RefutedOriginals:
    """Media that fact-checkers' refutations cover (withdrawn refutations' media no longer match)."""

    storage: Storage
    name: str = "refutation"

    def hashes_after(self, after_id: int) -> list[HashRow]:
        return self.storage.media_hashes(PDQ, after_id)

    def by_id(self, media_id: int) -> RefutedMedia | None:
        return self.storage.refuted_media_by_id(media_id)

    def by_sha256(self, sha256: str) -> RefutedMedia | None:
        found = self.storage.refuted_media(sha256=sha256)
        return found[0] if found else None

    def url(self, item: RefutedMedia) -> str:
        return f"/v1/refutations/{item.refutation_id}/media/{item.id}"


@dataclass(frozen=True, slots=True)
class DeclaredOriginals:
    """The declared index: media whose own declaration said AI (hashes and the declaration only, no bytes)."""

    storage: Any  # SQLStorage (the declared queries)
    name: str = "declared"

    def hashes_after(self, after_id: int) -> list[HashRow]:
        return self.storage.declared_hashes(PDQ, after_id)

    def by_id(self, media_id: int) -> RefutedMedia | None:
        item = self.storage.declared_by_id(media_id)
        return item.as_original() if item is not None else None

    def by_sha256(self, sha256: str) -> RefutedMedia | None:
        item = self.storage.declared_by_sha256(sha256)
        return item.as_original() if item is not None else None

    def url(self, item: RefutedMedia) -> None:
        return None  # the bytes are not kept


class Matcher:
    """Exact and perceptual lookup of stored originals (thread-safe; one per process and set of originals)."""

    def __init__(self, storage: Storage, media_dir: Path | None, originals: Originals, keeps_probe: bool,
                 radius: int = PDQ_RADIUS) -> None:
        self.storage = storage
        self.originals = originals
        self.radius = radius  # the first stage's PDQ search radius
        # Whether lookups leave their PDQ probe on the media (Media.match_probe, the verdict cache's revalidation of
        # refutations); one matcher per media item does, so two lookups running at once never overwrite each other.
        self.keeps_probe = keeps_probe
        self.media_dir = Path(media_dir) if media_dir is not None else None
        self._lock = threading.Lock()
        self._index = HashIndex()
        self._last_row = 0
        self._media_ids = np.zeros(0, dtype=np.int64)
        self._regions: list[str] = []
        self._bank = FeatureBank()
        self._banked: set[int] = set()
        started = time.perf_counter()
        self.sync()
        self.load_seconds = time.perf_counter() - started
        log.info("%s index: %d PDQ hashes loaded in %.2f s", originals.name, len(self._index), self.load_seconds)

    def __len__(self) -> int:
        return len(self._index)

    def sync(self) -> int:
        """Add hash rows written since the last sync (by this or any other process); returns how many."""
        with self._lock:
            rows = self.originals.hashes_after(self._last_row)
            if not rows:
                return 0
            codes = to_codes(b"".join(r.hash for r in rows))
            if len(self._index) == 0 and len(rows) > 1000:
                self._index = HashIndex(codes)  # bulk build at start-up
            else:
                self._index.add(codes)
            self._media_ids = np.concatenate([self._media_ids, np.fromiter((r.media_id for r in rows), np.int64)])
            self._regions.extend(r.region for r in rows)
            self._last_row = rows[-1].id
            for mid in dict.fromkeys(r.media_id for r in rows):
                if mid not in self._banked:
                    self._banked.add(mid)
                    entry = self._bank_entry(mid)
                    if entry is not None:
                        self._bank.add(mid, entry)
            return len(rows)

    def _bank_entry(self, media_id: int) -> ih.BankEntry | None:
        """An original's stored keypoints; computed from its stored file for rows written before they were kept."""
        item = self.originals.by_id(media_id)
        if item is None:
            return None
        entry = ih.bank_from_json((item.hashes or {}).get(ORB))
        if entry is None and (path := self.media_path(item)) is not None:
            try:
                from PIL import Image

                entry = ih.bank_entry(ih.to_rgb_array(Image.open(io.BytesIO(path.read_bytes()))))
            except Exception:  # a damaged stored file: this original is found by PDQ only
                log.exception("cannot read stored original %s", path)
        return entry

    def store_file(self, data: bytes, name: str) -> None:
        """Keep the original's bytes (content-addressed) for the side-by-side view and geometric checks."""
        if self.media_dir is None:
            raise ValueError(f"the {self.originals.name} index keeps no media files")
        self.media_dir.mkdir(parents=True, exist_ok=True)
        path = self.media_dir / name
        if not path.exists():
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)

    def media_path(self, item: RefutedMedia) -> Path | None:
        if not item.stored_name or self.media_dir is None:
            return None
        path = self.media_dir / Path(item.stored_name).name
        return path if path.is_file() else None

    def match(self, media: Media) -> Match | None:
        """The best stored match for `media`, or None.

        Stage 1 (exact within PDQ_RADIUS, scales to millions): region PDQ hashes of the query, as given and trimmed,
        searched in the multi-index. Stage 2: the query's ORB keypoints searched in the feature bank. Every candidate
        of either stage is accepted only when the keypoints fit one similarity transform onto the original.
        """
        found = self._match(media)
        return replace(found, original_url=self.originals.url(found.media)) if found is not None else None

    def _match(self, media: Media) -> Match | None:
        exact = self.originals.by_sha256(media.sha256)
        if exact is not None:
            if self.keeps_probe:
                media.match_probe = []  # the oldest exact match wins whatever is added later
            return Match(exact, "sha256", 1.0, "identical", 0)
        if media.kind is not MediaKind.IMAGE:
            return None
        self.sync()
        shared = query_of(media)
        rgb, stages, queries = shared.rgb, shared.stages, shared.queries
        best: dict[int, tuple[int, str, str]] = {}  # media id -> (distance, query region, stored region)
        with self._lock:
            index, media_ids, regions = self._index, self._media_ids, self._regions
        if self.keeps_probe:
            media.match_probe = [h.hash.hex() for _, h in queries]
        for _stage, h in queries:
            ids, dists = index.search(h.hash, self.radius)
            for i, d in zip(ids.tolist(), dists.tolist()):
                if i >= len(media_ids):
                    continue  # appended by a concurrent sync() after this lookup took its snapshot
                mid = int(media_ids[i])
                if mid not in best or d < best[mid][0]:
                    best[mid] = (d, h.region, regions[i])
        # Keypoints of the picture as given, then, when trimming removed a caption band or bars, of the trimmed
        # picture: text has many corners, which can take much of the keypoint budget. (Trimming can also cut into a
        # dark picture, so it is the second try, not the only one.)
        sources = [("", rgb)] + ([("trimmed", stages[-1][1])] if len(stages) > 1 else [])
        for frame, picture in sources:
            query = shared.features(frame, picture)
            if (m := self._match_keypoints(query, best, frame)) is not None:
                return m
        return None

    def _match_keypoints(self, query: ih.QueryFeatures, best: dict[int, tuple[int, str, str]],
                         frame: str) -> Match | None:
        """Judge the PDQ candidates (nearest first) and then the keypoint bank's candidates by their keypoint fit."""
        for mid, (dist, q_region, o_region) in sorted(best.items(), key=lambda kv: kv[1][0])[:MAX_CANDIDATES]:
            with self._lock:
                entry = self._bank.by_media.get(mid)
            via = f"PDQ {dist} bits: query {q_region or 'full'} ~ original {o_region}"
            if entry is None:  # no keypoints for this original (unreadable file): only a close PDQ match counts
                if dist <= PDQ_RADIUS_UNVERIFIED and (items := self.originals.by_id(mid)) is not None:
                    return Match(items, "pdq", max(0.0, 1.0 - dist / 128), via, dist, None)
                continue
            found = ih.match_entry(query, entry)
            if found is not None and (m := self._accept(mid, entry, query, *found, method="pdq+orb", via=via,
                                                        distance=dist, frame=frame)) is not None:
                return m
            # Smooth pictures (clouds, skies) give keypoints too few to judge: then a close PDQ match stands alone.
            inconclusive = found is None or found[0].matches < MIN_MATCHES_TO_JUDGE
            if inconclusive and dist <= PDQ_RADIUS_UNVERIFIED and (items := self.originals.by_id(mid)):
                return Match(items, "pdq", max(0.0, 1.0 - dist / 128), via, dist, None)
        with self._lock:
            candidates = self._bank.candidates(query)
            entries = [self._bank.entries[pos] for pos, _, _, _ in candidates]
        for (_pos, mirrored, src, dst), (mid, entry) in zip(candidates, entries, strict=True):
            if mid in best:
                continue  # already judged above
            fit = ih.fit_similarity(src, dst, (entry.width, entry.height))
            if fit is not None and (m := self._accept(mid, entry, query, fit, mirrored, method="orb",
                                                      frame=frame)) is not None:
                return m
        return None

    def _accept(self, mid: int, entry: ih.BankEntry, query: ih.QueryFeatures, fit: ih.Fit, mirrored: bool, *,
                method: str, via: str = "", distance: int | None = None, frame: str = "") -> Match | None:
        """A Match when `fit` is convincing: enough inliers, a fair share of the matches, spread over the original.
        `frame` "trimmed" says the query's region is relative to the picture with its bands and bars trimmed."""
        if not ih.convincing(fit):
            return None
        items = self.originals.by_id(mid)
        if items is None:
            return None
        region = ih.regions(fit, query, entry, mirrored)
        q = region["query"]
        area = (q[2] - q[0]) * (q[3] - q[1])
        parts = [f"rotated {fit.rotation_deg:+.1f} deg" if abs(fit.rotation_deg) >= 1 else "",
                 "mirrored" if mirrored else "",
                 f"the original fills {100 * area:.0f} % of the copy" if area < 0.9 else "",
                 "cropped" if _cropped(region["original"]) else ""]
        transform = "; ".join(p for p in [", ".join(p for p in parts if p) or "same framing", via] if p)
        geometry = {"rotation_deg": round(fit.rotation_deg, 2), "mirrored": mirrored,
                    "inlier_ratio": round(fit.ratio, 3), "matches": fit.matches, "query_frame": frame or "as given"}
        similarity = max(0.0, 1.0 - distance / 128) if distance is not None else min(1.0, fit.inliers / 100)
        return Match(items, method, similarity, transform, distance, fit.inliers, region, geometry)

    def candidates_since(self, probe: list[str], after_media_id: int, keypoints: bool = True) -> bool:
        """Whether media stored after `after_media_id` could match a query with this probe: only then can a verdict
        computed before it have changed (the verdict cache's revalidation).

        An empty probe (an exact match, which wins whatever is added later) never changes. Otherwise any image stored
        since with keypoints in the bank could match through stage 2, whatever the PDQ distance, so it counts; with
        `keypoints=False` only media within the PDQ radius of the probe count (the declared index, which grows with
        every declaration a server sees: see server/verdict_cache.py).
        """
        if not probe:
            return False
        self.sync()
        with self._lock:
            index, media_ids = self._index, self._media_ids
            if keypoints and any(mid > after_media_id for mid in self._bank.by_media):
                return True
        for hexdigest in probe:
            ids, _ = index.search(bytes.fromhex(hexdigest), self.radius)
            ids = ids[ids < len(media_ids)]  # entries a concurrent sync() appended after the snapshot
            if len(ids) and bool((media_ids[ids] > after_media_id).any()):
                return True
        return False

class RefutationMatcher(Matcher):
    """The refuted media (debunked_match, the verdict cache); their bytes are kept under `media_dir`."""

    def __init__(self, storage: Storage, media_dir: Path) -> None:
        super().__init__(storage, media_dir, RefutedOriginals(storage), keeps_probe=True)


class DeclaredMatcher(Matcher):
    """The declared index (declared_match); hashes only, no files. Images through this matcher; video and audio
    entries through `clips`, clip_match's one clip matcher over the declared clips (frame PDQ, keyframe keypoints,
    Chromaprint)."""

    def __init__(self, storage: Storage) -> None:
        super().__init__(storage, None, DeclaredOriginals(storage), keeps_probe=False, radius=DECLARED_PDQ_RADIUS)
        self.clips = clip_match.ClipIndex.declared(storage)


def _cropped(original_region: list[float]) -> bool:
    """Whether the copy shows less than the whole original (more than 3 % cut from some side)."""
    x0, y0, x1, y1 = original_region
    return x0 > 0.03 or y0 > 0.03 or x1 < 0.97 or y1 < 0.97


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
