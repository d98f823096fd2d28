"""The declared index (provenance memory): the one path that adds to it, and the declaration summary it keeps.

Why: platforms strip metadata and re-encode what people upload, so the Content Credentials, IPTC label or GB 45438
`AIGC` field that made an image `synthetic` on the generator's page is gone by the time the image circulates. Verity
has seen the declared original; remembering its hashes (never its bytes) with what it declared lets `declared_match`
recognise stripped copies (`likely_synthetic`, never `synthetic`: the copy itself declares nothing).

Every verification whose verdict is `synthetic` on the strength of a declared check (c2pa_manifest's AI source types,
metadata_labels, watermark, visible_label, av_labels, audio_cue, keyframes) comes here from the verification service;
feeds, Verity-to-Verity sync and `build.py declared import` come here with precomputed hashes. Hashing is
`refutation_index.describe_original`, the one hashing path refutations use; hash-only entries are validated by the
refutation ingestion's `describe_hashes` rules. Bounded by VERIFY_DECLARED_MAX entries and VERIFY_DECLARED_RETENTION_DAYS.

Images keep PDQ region hashes and keypoints; video and audio keep the clip fingerprints refutations keep (frame PDQ
and keyframe keypoints, Chromaprint: clip_match.reference_hashes), matched by clip_match's one clip matcher. Hashing a
clip decodes every frame up to 30 fps, so a declared video's own verification takes that much longer once (median
2.2 s for a 6 s clip on the shared 2-core host, `build.py bench declared`); a clip already in the index is not hashed
again, and its copies are not slowed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..audit import AuditLog
from ..storage import DeclaredMedia, SQLStorage, StorageError
from ..verify.declarations import DECLARATION_KINDS, declaration_of
from ..verify.image_hashing import BANK_VERSION, bank_from_json
from ..verify.refutation_index import DeclaredMatcher, describe_original
from ..verify.types import Limits, Media, MediaError, MediaKind
from .ingest import IngestError, describe_hashes

log = logging.getLogger(__name__)

# A picture whose full-frame PDQ quality is below this (ThreatExchange's match threshold) is featureless (a flat
# calibration grey): its hash would match every flat picture, so it is not remembered.
MIN_PDQ_QUALITY = 50
_PRUNE_EVERY = 100  # additions between two prunes (each prune counts the table)
_MAX_TEXT = 300


class DeclaredImportError(IngestError):
    """An imported declared entry is malformed (the message names the entry and the field)."""


@dataclass
class DeclaredIndex:
    """Adds to the declared index and keeps it bounded; one per process (VerifyState.declared)."""

    storage: SQLStorage
    matcher: DeclaredMatcher
    limits: Limits
    max_entries: int = 100_000
    retention_days: float = 365.0
    _added: int = 0

    def __post_init__(self) -> None:
        self.audit = AuditLog(self.storage)

    def remember(self, media: Media, body: Mapping[str, Any]) -> int | None:
        """Add the verified media to the index when its verdict rests on its own declaration; returns the new entry
        id (None: nothing declared, already known, or it could not be hashed: a featureless picture, a clip without
        a fingerprint; a failure here never fails the verification)."""
        found = declaration_of(body)
        if found is None:
            return None
        if self.storage.declared_by_sha256(media.sha256) is not None:
            return None
        declaration, kind = found
        try:
            _, described = describe_original(media.data, self.limits)
        except MediaError as exc:
            log.info("declared index: %s not hashed (%s)", media.sha256, exc)
            return None
        if media.kind is not MediaKind.IMAGE:
            if not described.hashes:  # no frames, or a silent / constant-tone soundtrack: nothing to match by
                log.info("declared index: %s not kept (no clip fingerprint)", media.sha256)
                return None
        elif not (full := [h.get("quality") for h in described.hashes.get("pdq", []) if h.get("region") == "full"]) \
                or (full[0] or 0) < MIN_PDQ_QUALITY:
            log.info("declared index: %s not kept (featureless picture, PDQ quality %s)", media.sha256, full)
            return None
        entry = DeclaredMedia(0, described.sha256, described.media_type, described.width, described.height,
                              described.hashes, declaration, kind, time.time(), "local")
        try:
            ids = self.add([entry], actor="verification")
        except StorageError:
            log.exception("declared index: cannot store %s", media.sha256)
            return None
        return ids[0] if ids else None

    def add(self, entries: list[DeclaredMedia], *, actor: str, source: str = "local") -> list[int]:
        """Store entries (hashes and declaration) with one audit entry each, then make them searchable."""
        with self.storage.transaction() as conn:
            stored = self.storage.add_declared(entries, conn=conn)
            by_sha = {e.sha256: e for e in entries}
            for sha256, mid in stored.items():
                entry = by_sha[sha256]
                self.audit.append("declared", actor, f"sha256:{entry.sha256}",
                                  {"id": mid, "source": source, "kind": entry.declaration_kind,
                                   "check": entry.declaration.get("check")}, conn=conn)
        self.matcher.sync()
        ids = list(stored.values())
        self._added += len(ids)
        if self._added >= _PRUNE_EVERY:
            self._added = 0
            self.prune()
        return ids

    def prune(self) -> int:
        """Apply VERIFY_DECLARED_MAX and VERIFY_DECLARED_RETENTION_DAYS (0 days = kept however old)."""
        older = time.time() - self.retention_days * 86400 if self.retention_days > 0 else None
        return self.storage.prune_declared(self.max_entries, older)

    def import_entries(self, items: Iterable[Any], *, origin: str, actor: str) -> list[int]:
        """Entries from another Verity (export file, feed, sync): validated like hash-only refutation media.

        Raises:
            DeclaredImportError: an entry or a field is malformed (nothing is stored).
        """
        entries = []
        for n, item in enumerate(items):
            where = f"declared entry {n}"
            if not isinstance(item, Mapping):
                raise DeclaredImportError(f"{where}: expected an object")
            try:
                media = describe_hashes([item], where)[0]
            except IngestError as exc:
                raise DeclaredImportError(str(exc)) from exc
            if not media.sha256:
                raise DeclaredImportError(f"{where}: field sha256: required")
            hashes = dict(media.hashes)
            orb = item.get("hashes", {}).get("orb") if isinstance(item.get("hashes"), Mapping) else None
            if orb is not None:  # keypoints travel with declared entries (no original to recompute them from)
                if bank_from_json(orb) is None:
                    raise DeclaredImportError(f"{where}: field hashes.orb: expected keypoints as `describe` stores them")
                hashes["orb"] = orb
            vpdq = item["hashes"].get("vpdq") if isinstance(item.get("hashes"), Mapping) else None
            keyframes = vpdq.get("keyframes") if isinstance(vpdq, Mapping) else None
            if keyframes is not None and "vpdq" in hashes:  # a clip's keyframe keypoints travel the same way
                frames = keyframes.get("frames") if isinstance(keyframes, Mapping) else None
                if not isinstance(frames, list) or len(frames) > 100 or not all(
                        isinstance(f, Mapping) and isinstance(f.get("t"), int | float)
                        and bank_from_json({**f, "v": BANK_VERSION}) is not None for f in frames):
                    raise DeclaredImportError(f"{where}: field hashes.vpdq.keyframes: expected keyframe keypoints "
                                              "as `describe` stores them")
                hashes["vpdq"] = {**hashes["vpdq"], "keyframes": dict(keyframes)}
            declaration, kind = item.get("declaration"), item.get("declaration_kind")
            if kind not in DECLARATION_KINDS:
                raise DeclaredImportError(f"{where}: field declaration_kind: expected one of "
                                          f"{', '.join(DECLARATION_KINDS)}")
            if not isinstance(declaration, Mapping) or not isinstance(declaration.get("check"), str):
                raise DeclaredImportError(f"{where}: field declaration: expected an object with a check name")
            clean = {k: (str(v)[:_MAX_TEXT] if v is not None else None) for k, v in declaration.items()
                     if k in ("check", "by", "digital_source_type", "summary")}
            seen = item.get("seen_at")
            seen_at = float(seen) if isinstance(seen, int | float) and not isinstance(seen, bool) \
                and 0 < seen < 1e11 else time.time()
            entries.append(DeclaredMedia(0, media.sha256, media.media_type, media.width, media.height, hashes,
                                         clean, str(kind), seen_at, origin[:200]))
        return self.add(entries, actor=actor, source=origin) if entries else []

    def export(self, after_id: int = 0, limit: int = 1000, keypoints: bool = True) -> list[dict[str, Any]]:
        """A page of entries in the exchanged form (hashes and declaration, never bytes)."""
        return [e.to_json(keypoints) | {"id": e.id} for e in self.storage.declared_entries(after_id, limit)]
