"""The one refutation ingestion path. Every source calls it: POST /v1/refutations, `claims import`, the review UI's
"refute" and "synthetic" decisions, and feeds.

Why one path: the review UI once built its refutations by hand, with PDQ bits in the opposite order and no region,
keypoint or clip hashes, and its refutations matched 0 of 50 edited copies that imported ones matched. Here the media
is hashed by `refutation_index.describe_original` (the image hash family and keypoint source for images, the clip
fingerprint for video, Chromaprint for audio), its bytes are kept for the side-by-side view and the geometric check,
and the refutation, its media, its hashes and an audit entry commit in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..audit import AuditLog
from ..storage import Connection, Refutation, RefutedMedia, SQLStorage
from ..verify.image_hashing import bits_to_bytes, pdq_hex
from ..verify.media import load_media
from ..verify.refutation_index import RefutationMatcher, describe_original
from ..verify.types import Limits, MediaError, MediaKind

log = logging.getLogger(__name__)


class IngestError(ValueError):
    """A refutation's media cannot be read (nothing was stored); the message names the item and the field."""


@dataclass(frozen=True, slots=True)
class MediaSource:
    """Bytes a refutation covers, and the URL they came from (None for uploads)."""

    data: bytes
    content_url: str | None = None


class RefutationIngest:
    """Hash, store and audit refutations; one per process (VerifyState.ingest)."""

    def __init__(self, storage: SQLStorage, matcher: RefutationMatcher, limits: Limits) -> None:
        self.storage, self.matcher, self.limits = storage, matcher, limits
        self.audit = AuditLog(storage)

    def describe(self, sources: Iterable[MediaSource], label: str = "refutation") -> list[RefutedMedia]:
        """Hash each media file and keep its bytes (content-addressed, so harmless if the refutation is not stored).

        Raises:
            IngestError: a file is not readable media within the limits.
        """
        out = []
        for source in sources:
            try:
                _, item = describe_original(source.data, self.limits)
            except MediaError as exc:
                raise IngestError(f"{label}: field contentUrl ({source.content_url or 'upload'}): {exc}") from exc
            self.matcher.store_file(source.data, item.stored_name or item.sha256)
            out.append(replace(item, content_url=source.content_url))
        return out

    def add(self, batch: list[tuple[Refutation, list[RefutedMedia]]], *, source: str, actor: str,
            conn: Connection | None = None) -> list[int]:
        """Store refutations with their described media, each with an audit entry, in one transaction.

        With `conn` the rows join the caller's open write transaction (a review decision and its refutation commit
        together); the caller then calls `committed()` after its commit. Returns the new refutation ids.
        """
        if conn is None:
            with self.storage.transaction() as own:
                ids = self.add(batch, source=source, actor=actor, conn=own)
            self.committed()
            return ids
        ids = self.storage.insert_refutations(conn, batch)
        for rid, (refutation, media) in zip(ids, batch, strict=True):
            self.audit.append("refutation", actor, f"refutation:{rid}", {
                "source": source, "claim": refutation.claim[:500], "rating": refutation.rating,
                "fact_checker": refutation.fact_checker, "review_url": refutation.review_url,
                "media": [{"sha256": m.sha256, "media_type": m.media_type, "hashes": sorted(m.hashes)} for m in media]},
                conn=conn)
        return ids

    def committed(self) -> None:
        """Make refutations committed in this process searchable at once (other processes sync on their own)."""
        self.matcher.sync()

    def ingest(self, refutation: Refutation, sources: list[MediaSource], *, source: str, actor: str,
               label: str = "refutation") -> int:
        """describe + add for one refutation; returns its id.

        Raises:
            IngestError: a media file is unreadable (nothing is stored).
        """
        return self.add([(refutation, self.describe(sources, label))], source=source, actor=actor)[0]

    def rehash_pending(self, byte_dirs: list[Path]) -> int:
        """Recompute hashes that predate this path (storage migration 7) from the stored bytes; returns how many rows
        it touched (a matcher loaded before must be rebuilt). Rows whose bytes are gone keep their hashes (exact sha256
        matching still works)."""
        done = 0
        while rows := self.storage.media_to_rehash():
            for item in rows:
                data = self._bytes(item.sha256, [self.matcher.media_dir / (item.stored_name or item.sha256), *(
                    d / item.sha256[:2] / item.sha256 for d in byte_dirs)])
                updated = replace(item, hashes=_reordered_pdq(item.hashes))  # bytes gone: at least the bit order
                if data is not None:
                    try:
                        _, described = describe_original(data, self.limits)
                    except MediaError as exc:
                        log.warning("refuted media %d: cannot rehash (%s); its PDQ is only reordered", item.id, exc)
                    else:
                        self.matcher.store_file(data, described.stored_name or described.sha256)
                        updated = replace(item, hashes=described.hashes, width=described.width,
                                          height=described.height, stored_name=described.stored_name)
                with self.storage.transaction() as conn:
                    self.storage.replace_media_hashes(conn, updated)
                    self.audit.append("refutation_rehash", "system", f"refutation:{item.refutation_id}",
                                      {"media_id": item.id, "sha256": item.sha256, "from_bytes": data is not None,
                                       "hashes": sorted(updated.hashes)}, conn=conn)
                done += 1
        while items := self.storage.report_items_to_rehash():
            for item_id, sha256 in items:
                self.storage.set_report_pdq(item_id, self._report_pdq(sha256, byte_dirs))
        return done

    def _report_pdq(self, sha256: str, byte_dirs: list[Path]) -> str | None:
        data = self._bytes(sha256, [d / sha256[:2] / sha256 for d in byte_dirs])
        if data is None:
            return None
        try:
            media = load_media(data, self.limits)
            return pdq_hex(media.image())[0] if media.kind is MediaKind.IMAGE else None
        except MediaError:
            return None

    @staticmethod
    def _bytes(sha256: str, paths: list[Path]) -> bytes | None:
        import hashlib

        for path in paths:
            if path.is_file():
                data = path.read_bytes()
                if hashlib.sha256(data).hexdigest() == sha256:
                    return data
        return None


def _reordered_pdq(hashes: dict[str, Any]) -> dict[str, Any]:
    """Hashes of the review UI's old format ({"pdq": ["hex", ...]}, bits packed first-bit-first) in the one order
    (ThreatExchange hex, last bit first) and the region form the matcher stores."""
    values = hashes.get("pdq")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return hashes
    reordered = []
    for value in values:
        try:
            bits = np.unpackbits(np.frombuffer(bytes.fromhex(value), dtype=np.uint8))
        except ValueError:
            continue
        reordered.append({"region": "full", "hash": bits_to_bytes(bits).hex(), "quality": hashes.get("pdq_quality")})
    return {**{k: v for k, v in hashes.items() if k != "pdq_quality"}, "pdq": reordered}
