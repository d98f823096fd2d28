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

import numpy as np

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


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two equal-length hashes."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
