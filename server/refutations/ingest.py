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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..audit import AuditLog
from ..storage import Connection, Refutation, RefutedMedia, SQLStorage, Withdrawal
from ..verify.image_hashing import HASH_BYTES, from_legacy_order, pdq_hex
from ..verify.media import load_media
from ..verify.refutation_index import RefutationMatcher, describe_original
from ..verify.types import Limits, MediaError, MediaKind

log = logging.getLogger(__name__)


class IngestError(ValueError):
    """A refutation's media cannot be read (nothing was stored); the message names the item and the field."""


_HEX64 = re.compile(r"[0-9a-f]{64}")
_MEDIA_TYPES = ("image", "video", "audio")
_MAX_HASHES = 20_000  # per kind and media item: a long clip's keyframes, far below what a hostile feed could send


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

    def describe_hashes(self, items: Iterable[Mapping[str, Any]], label: str = "refutation") -> list[RefutedMedia]:
        """Media known only by precomputed hashes (another Verity's export, an HMA/ThreatExchange hash bank): each
        item is validated to the shapes `describe` produces, so the matcher reads them like its own. Nothing is
        downloaded; such media match by sha256 and by PDQ (without the geometric check, so only within the closer
        unverified radius), and clips by their fingerprints.

        Raises:
            IngestError: an item or a hash is not in the expected format (the message names the field).
        """
        return describe_hashes(items, label)

    def withdraw(self, refutation_id: int, reason: str, *, actor: str, source: str,
                 conn: Connection | None = None) -> Withdrawal:
        """Withdraw a refutation (a retracted review, an admin's decision) with its audit entry, in one transaction.

        Raises:
            RefutationNotFound, RefutationAlreadyWithdrawn: from storage.withdraw_refutation.
        """
        if conn is None:
            with self.storage.transaction() as own:
                return self.withdraw(refutation_id, reason, actor=actor, source=source, conn=own)
        withdrawal = self.storage.withdraw_refutation(refutation_id, reason, actor, conn=conn)
        self.audit.append("refutation_withdrawn", actor, f"refutation:{refutation_id}",
                          {"source": source, "reason": reason[:500]}, conn=conn)
        return withdrawal

    def replace(self, old_id: int, refutation: Refutation, media: list[RefutedMedia], *, source: str,
                actor: str, conn: Connection | None = None) -> int:
        """An updated review: the new refutation is added and the old one withdrawn ("superseded by N"), both audited,
        in one transaction. Why not an UPDATE in place: the matchers load hash rows incrementally by id and never
        forget one, so a changed media list must arrive as new rows while the old ones stop matching. With `conn`
        the caller commits, then calls `committed()`."""
        if conn is None:
            with self.storage.transaction() as own:
                new_id = self.replace(old_id, refutation, media, source=source, actor=actor, conn=own)
            self.committed()
            return new_id
        new_id = self.add([(replace(refutation, extra={**refutation.extra, "supersedes": old_id}), media)],
                          source=source, actor=actor, conn=conn)[0]
        if self.storage.withdrawal(old_id) is None:
            self.withdraw(old_id, f"superseded by refutation {new_id} (the review was updated)", actor=actor,
                          source=source, conn=conn)
        return new_id

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


def describe_hashes(items: Iterable[Mapping[str, Any]], label: str = "refutation") -> list[RefutedMedia]:
    """RefutationIngest.describe_hashes (also the declared index's import): precomputed hashes validated to the
    shapes `describe` produces.

    Raises:
        IngestError: an item or a hash is not in the expected format.
    """
    out = []
    for n, item in enumerate(items):
        where = f"{label}: media {n}"
        if not isinstance(item, Mapping):
            raise IngestError(f"{where}: expected an object")
        sha256 = item.get("sha256") or ""
        if not isinstance(sha256, str) or (sha256 and not _HEX64.fullmatch(sha256)):
            raise IngestError(f"{where}: field sha256: expected 64 lower-case hex digits")
        media_type = item.get("media_type")
        if media_type not in _MEDIA_TYPES:
            raise IngestError(f"{where}: field media_type: expected one of {', '.join(_MEDIA_TYPES)}")
        size = [item.get(k) for k in ("width", "height")]
        if not all(v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1_000_000)
                   for v in size):
            raise IngestError(f"{where}: field width/height: expected positive integers")
        hashes = _valid_hashes(item.get("hashes"), where)
        if not hashes and not sha256:
            raise IngestError(f"{where}: neither a sha256 nor a perceptual hash to match by")
        url = item.get("content_url")
        out.append(RefutedMedia(0, 0, sha256, str(media_type), size[0], size[1], hashes,
                                url if isinstance(url, str) and len(url) <= 4096 else None, None))
    return out


def _reordered_pdq(hashes: dict[str, Any]) -> dict[str, Any]:
    """Hashes of the review UI's old format ({"pdq": ["hex", ...]}, bits packed first-bit-first) in the one order
    (ThreatExchange hex, last bit first) and the region form the matcher stores."""
    values = hashes.get("pdq")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return hashes
    reordered = []
    for value in values:
        try:
            packed = np.frombuffer(bytes.fromhex(value), dtype=np.uint8)
        except ValueError:
            continue
        if packed.size == HASH_BYTES:
            reordered.append({"region": "full", "hash": from_legacy_order(packed)[0].tobytes().hex(),
                              "quality": hashes.get("pdq_quality")})
    return {**{k: v for k, v in hashes.items() if k != "pdq_quality"}, "pdq": reordered}


def _valid_hashes(hashes: Any, where: str) -> dict[str, Any]:
    """Precomputed hashes in the shapes describe_original stores ("pdq" region list, "vpdq", "chromaprint").

    Raises:
        IngestError: any other kind or shape.
    """
    if hashes is None:
        return {}
    if not isinstance(hashes, Mapping):
        raise IngestError(f"{where}: field hashes: expected an object")
    out: dict[str, Any] = {}
    for kind, value in hashes.items():
        field = f"{where}: field hashes.{kind}"
        if kind == "pdq":
            entries = value if isinstance(value, list) else [value]
            if not 0 < len(entries) <= _MAX_HASHES:
                raise IngestError(f"{field}: expected 1 to {_MAX_HASHES} hashes")
            pdq = []
            for entry in entries:
                entry = {"region": "full", "hash": entry} if isinstance(entry, str) else entry
                if not isinstance(entry, Mapping) or not isinstance(entry.get("hash"), str) \
                        or not _HEX64.fullmatch(entry["hash"].lower()):
                    raise IngestError(f"{field}: expected PDQ as 64 hex digits")
                region, quality = entry.get("region", "full"), entry.get("quality")
                if not isinstance(region, str) or not 0 < len(region) <= 80:  # "trimmed1:crop90_..._removed/mirror" is 43
                    raise IngestError(f"{field}: region: expected a short name")
                if quality is not None and (not isinstance(quality, int) or isinstance(quality, bool)
                                            or not 0 <= quality <= 100):
                    raise IngestError(f"{field}: quality: expected an integer 0..100")
                pdq.append({"region": region, "hash": entry["hash"].lower(), "quality": quality})
            out["pdq"] = pdq
        elif kind == "vpdq":
            if not isinstance(value, Mapping) or not isinstance(value.get("hashes"), list) \
                    or not 0 < len(value["hashes"]) <= _MAX_HASHES \
                    or not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in value["hashes"]):
                raise IngestError(f"{field}: expected {{hashes: [64-hex-digit frame hashes]}}")
            n = len(value["hashes"])
            regions, times = value.get("regions"), value.get("times")
            if regions is not None and (not isinstance(regions, list) or len(regions) != n
                                        or not all(isinstance(r, str) and len(r) <= 40 for r in regions)):
                raise IngestError(f"{field}.regions: expected one short name per hash")
            if times is not None and (not isinstance(times, list) or len(times) != n or not all(
                    isinstance(t, int | float) and not isinstance(t, bool) and 0 <= t < 1e7 for t in times)):
                raise IngestError(f"{field}.times: expected one time in seconds per hash")
            version = value.get("v", 1)
            if not isinstance(version, int) or isinstance(version, bool) or version not in (1, 2):
                raise IngestError(f"{field}.v: expected fingerprint version 1 or 2")
            out["vpdq"] = {k: list(v) for k, v in value.items() if k in ("hashes", "regions", "times") and v is not None}
            # the version says the bit order (clip_match reads version 1 as the legacy order); keypoints are not taken
            # from another server: without the original they could not be verified here
            out["vpdq"]["v"] = version
            duration = value.get("duration_s")
            if isinstance(duration, int | float) and not isinstance(duration, bool) and 0 < duration < 1e7:
                out["vpdq"]["duration_s"] = float(duration)
        elif kind == "chromaprint":
            fp = value.get("fp") if isinstance(value, Mapping) else None
            if not isinstance(fp, list) or not 0 < len(fp) <= 50 * _MAX_HASHES or not all(
                    isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**32 for x in fp):
                raise IngestError(f"{field}: expected {{fp: [unsigned 32-bit integers]}}")
            out["chromaprint"] = {"fp": list(fp)}
        elif kind == "orb":
            continue  # keypoints of an original this server does not hold: the geometric check needs the original
        else:
            raise IngestError(f"{field}: unknown hash kind (expected pdq, vpdq or chromaprint)")
    return out
