"""Exact Hamming-radius search over 256-bit hashes (PDQ) at million scale: multi-index hashing.

Pigeonhole: split the 256 bits into 16 chunks of 16 bits. Two hashes within distance d differ in at least one chunk by
at most floor(d / 16) bits. So the candidates are the entries that share, in some chunk, a value within that many bits
of the query's chunk; each chunk has a table (counting sort into CSR: `offsets[value]..offsets[value+1]` into
`postings`) and the candidates are then checked with an exact popcount. Recall within the radius is exact by
construction; only the candidate count depends on the data. (Norouzi, Punjani, Fleet: "Fast search in Hamming space
with multi-index hashing", CVPR 2012.)

New entries go into a small delta that is scanned by brute force and merged into the tables when it grows, so a write is
searchable as soon as it is added.
"""

from __future__ import annotations

import threading
from itertools import combinations
from typing import Any

import numpy as np

from . import image_hashing as ih

CHUNKS = 16
CHUNK_BITS = 16
WORDS = 4  # 256 bits as 4 uint64
_DELTA_MERGE = 50_000


def _neighbour_masks(radius: int) -> np.ndarray:
    """Every 16-bit mask with at most `radius` bits set."""
    masks = [0]
    for r in range(1, radius + 1):
        for bits in combinations(range(CHUNK_BITS), r):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.int64)


def to_codes(hashes: bytes | np.ndarray) -> np.ndarray:
    """32-byte hashes (concatenated bytes or an (n, 32) uint8 array) -> (n, 4) uint64 (big-endian words)."""
    arr = np.frombuffer(hashes, dtype=np.uint8) if isinstance(hashes, bytes | bytearray) else np.asarray(hashes, np.uint8)
    return arr.reshape(-1, 32).view(">u8").astype(np.uint64)


def _chunks(codes: np.ndarray) -> np.ndarray:
    """(n, 4) uint64 -> (n, 16) int64 16-bit chunk values."""
    shifts = np.array([48, 32, 16, 0], dtype=np.uint64)
    parts = (codes[:, :, None] >> shifts[None, None, :]) & np.uint64(0xFFFF)
    return parts.reshape(len(codes), CHUNKS).astype(np.int64)


class HashIndex:
    """Exact radius search over 256-bit hashes; ids are positions in insertion order (0..n-1)."""

    def __init__(self, codes: np.ndarray | None = None) -> None:
        self._lock = threading.Lock()
        self._codes = np.zeros((0, WORDS), dtype=np.uint64)
        self._indexed = 0  # entries [0, _indexed) are in the tables; the rest is the delta
        self._offsets = np.zeros((CHUNKS, (1 << CHUNK_BITS) + 1), dtype=np.int64)
        self._postings = np.zeros((CHUNKS, 0), dtype=np.int32)
        self._masks: dict[int, np.ndarray] = {}
        self._offset_base = (np.arange(CHUNKS, dtype=np.int64) * ((1 << CHUNK_BITS) + 1))[:, None]
        self._posting_base = np.zeros(CHUNKS, dtype=np.int64)
        if codes is not None and len(codes):
            self._codes = np.ascontiguousarray(codes, dtype=np.uint64)
            self._rebuild()

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def nbytes(self) -> int:
        """Memory held by the codes and the tables."""
        return int(self._codes.nbytes + self._offsets.nbytes + self._postings.nbytes)

    def _rebuild(self) -> None:
        n = len(self._codes)
        chunks = _chunks(self._codes)
        postings = np.empty((CHUNKS, n), dtype=np.int32)
        offsets = np.empty((CHUNKS, (1 << CHUNK_BITS) + 1), dtype=np.int64)
        for c in range(CHUNKS):
            col = chunks[:, c]
            postings[c] = np.argsort(col, kind="stable").astype(np.int32)
            counts = np.bincount(col, minlength=1 << CHUNK_BITS)
            offsets[c, 0] = 0
            np.cumsum(counts, out=offsets[c, 1:])
        self._postings, self._offsets, self._indexed = postings, offsets, n
        self._posting_base = np.arange(CHUNKS, dtype=np.int64) * n

    def add(self, codes: np.ndarray) -> None:
        """Append entries (searchable at once); the tables are rebuilt when the delta grows large."""
        with self._lock:
            self._codes = np.concatenate([self._codes, np.asarray(codes, dtype=np.uint64).reshape(-1, WORDS)])
            if len(self._codes) - self._indexed > _DELTA_MERGE:
                self._rebuild()

    def _masks_for(self, radius: int) -> np.ndarray:
        masks = self._masks.get(radius)
        if masks is None:
            masks = self._masks[radius] = _neighbour_masks(radius)
        return masks

    def search(self, query: bytes | np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and distances of every entry within `radius` bits of one 32-byte query, nearest first."""
        q = to_codes(query) if isinstance(query, bytes | bytearray) else np.asarray(query, np.uint64).reshape(1, WORDS)
        codes, indexed, offsets, postings = self._codes, self._indexed, self._offsets, self._postings
        parts = []
        if indexed:
            sub = radius // CHUNKS
            # Flat positions into offsets/postings: chunk c's table starts at c * (65536 + 1) / c * indexed.
            values = (_chunks(q)[0][:, None] ^ self._masks_for(sub)[None, :]) + self._offset_base  # (16, m)
            flat_offsets = offsets.reshape(-1)
            starts = flat_offsets[values].ravel()
            lengths = flat_offsets[values + 1].ravel() - starts
            total = int(lengths.sum())
            if total:
                keep = lengths > 0
                lengths = lengths[keep]
                # postings are flat too: the start already points into chunk c's row via the posting base.
                starts = starts[keep] + np.repeat(self._posting_base, values.shape[1])[keep]
                pos = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
                parts.append(postings.reshape(-1)[pos])
        if len(codes) > indexed:
            parts.append(np.arange(indexed, len(codes), dtype=np.int64))
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        cand = np.concatenate(parts).astype(np.int64)
        dist = np.bitwise_count(codes[cand] ^ q).sum(axis=1).astype(np.int64)
        hit = dist <= radius
        # A candidate found through several chunks appears several times: keep each once (duplicates are rare
        # among hits, so deduplicating after the distance filter is cheaper than before it).
        cand, first = np.unique(cand[hit], return_index=True)
        dist = dist[hit][first]
        order = np.argsort(dist, kind="stable")
        return cand[order], dist[order]


# Feature-bank search: a query keypoint votes for the original whose stored keypoint is nearest, if it is within
# `BANK_MAX_DISTANCE` bits and clearly nearer than the second nearest (Lowe's ratio test).
BANK_MAX_DISTANCE = 64
BANK_RATIO = 0.85
BANK_MIN_VOTES = 8
BANK_CANDIDATES = 3
class FeatureBank:
    """Every stored original's keypoints in one approximate nearest-neighbour index (faiss binary IVF).

    Approximate is enough here: a true copy shares dozens of keypoints with its original, and missing a few of them in
    the search changes no decision. The inverted lists are retrained whenever the bank has doubled since the last
    training (a few k-means iterations on a sample); keypoints added in between go into the trained lists at
    once, so a new original is searchable as soon as it is stored. Not thread-safe by itself: RefutationMatcher
    serialises access with its lock.
    """

    def __init__(self) -> None:
        self.entries: list[tuple[int, ih.BankEntry]] = []  # (media id, keypoints)
        self.by_media: dict[int, ih.BankEntry] = {}
        self._desc = np.zeros((0, 32), dtype=np.uint8)
        self._owner = np.zeros(0, dtype=np.int32)  # per stored keypoint: position in `entries`
        self._mirrored = np.zeros(0, dtype=bool)
        self._points = np.zeros((0, 2), dtype=np.float32)
        self._index: Any = None
        self._trained_at = 0

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def nbytes(self) -> int:
        """Memory of the stored keypoints (the IVF lists hold one more copy of the descriptors and their ids)."""
        return int(self._desc.nbytes * 2 + self._owner.nbytes + self._points.nbytes + len(self._desc) * 8)

    def add(self, media_id: int, entry: ih.BankEntry) -> None:
        pos = len(self.entries)
        self.entries.append((media_id, entry))
        self.by_media[media_id] = entry
        parts = [(entry.plain, False), (entry.mirrored, True)]
        desc = np.concatenate([k.descriptors for k, _ in parts]).astype(np.uint8)
        if not len(desc):
            return
        self._desc = np.concatenate([self._desc, desc])
        self._owner = np.concatenate([self._owner, np.full(len(desc), pos, np.int32)])
        self._mirrored = np.concatenate([self._mirrored] + [np.full(len(k.descriptors), m) for k, m in parts])
        self._points = np.concatenate([self._points] + [k.points for k, _ in parts])
        if self._index is None or len(self._desc) >= 2 * self._trained_at:
            self._index = None  # retrained on the next search: a bulk load trains once, not per original
        else:
            self._index.add(np.ascontiguousarray(desc))

    def _trained(self) -> Any:
        if self._index is None:
            import faiss

            # One query's keypoints are a small batch: OpenMP threads cost more in start-up and spinning than they
            # save, and on a busy host they contend with the request threads.
            faiss.omp_set_num_threads(1)
            n = len(self._desc)
            nlist = max(4, min(1024, n // 128))
            index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, nlist)
            # Coarse lists need no converged k-means: a few iterations on a sample keep training well under a second
            # per 100k keypoints, and the lists only have to be roughly balanced.
            index.cp.niter = 4
            take = min(n, 40 * nlist)
            sample = self._desc if take == n else self._desc[np.random.default_rng(0).choice(n, take, replace=False)]
            index.train(np.ascontiguousarray(sample))
            index.add(np.ascontiguousarray(self._desc))
            index.nprobe = max(4, nlist // 32)
            self._index, self._trained_at = index, n
        return self._index

    def candidates(self, query: ih.QueryFeatures,
                   limit: int = BANK_CANDIDATES) -> list[tuple[int, bool, np.ndarray, np.ndarray]]:
        """(entry position, mirrored, query points, original points) of the originals with the most votes."""
        desc = query.keypoints.descriptors
        if not len(self.entries) or desc is None or len(desc) < BANK_MIN_VOTES:
            return []
        dist, ids = self._trained().search(np.ascontiguousarray(desc, np.uint8), 2)
        d0, d1, i0 = dist[:, 0], dist[:, 1], ids[:, 0]
        valid = i0 >= 0
        same = np.zeros(len(i0), bool)
        same[valid] = (ids[valid, 1] >= 0) & (self._owner[i0[valid]] == self._owner[np.maximum(ids[valid, 1], 0)])
        good = valid & (d0 <= BANK_MAX_DISTANCE) & ((d0 < BANK_RATIO * d1) | same)
        if good.sum() < BANK_MIN_VOTES:
            return []
        q_idx = np.flatnonzero(good)
        hit = i0[good]
        key = self._owner[hit].astype(np.int64) * 2 + self._mirrored[hit]
        keys, counts = np.unique(key, return_counts=True)
        out = []
        for k in keys[np.argsort(-counts)][:limit]:
            sel = key == k
            if sel.sum() < BANK_MIN_VOTES:
                break
            out.append((int(k // 2), bool(k % 2), query.keypoints.points[q_idx[sel]], self._points[hit[sel]]))
        return out
