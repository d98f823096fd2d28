"""Hash exchange: the refutation hash bank in and out, for other Verity instances and for HMA / ThreatExchange.

Verity to Verity: `export_page` is GET /v1/refutations/export (paged, with an ETag): each standing refutation as its
schema.org JSON-LD plus `verity:id` and `verity:media` (every media item's sha256, type, size and hashes, in the form
RefutationIngest.describe_hashes validates), then the declared index's entries as a second kind of element
({"@type": "verity:DeclaredMedia", "verity:id", "verity:declared": hashes with keypoints, declaration, kind, when
seen}). Another instance subscribes to it as a feed (feeds.py) and matches by those hashes without downloading any
media; its declared_match then recognises copies of what this instance saw declared.

HMA / ThreatExchange (`build.py hashes export|import --format te|hma`):
  te   ThreatExchange's signal file, one `<signal type> <signal>` per line ("pdq <64 hex>"), the format HMA's and
       python-threatexchange's local-file exchange (LocalFileSignalExchangeAPI) load into a bank. One line per media
       item: its whole-image PDQ. It carries no quality and no metadata; an import names the bank as fact-checker.
  hma  JSON: {"bank": NAME, "signal_types": ["pdq"], "content": [{"id", "signals": {"pdq": hex}, "quality",
       "metadata": {...}}]}: per content item exactly the body HMA's `POST /c/bank/<bank>/signal` takes ({"pdq": hex}),
       with the PDQ quality and the bank's content metadata (the refutation's claim, rating, fact-checker, review URL,
       the media's sha256, and Verity's extra region hashes so a Verity -> HMA file -> Verity trip loses nothing).
vPDQ (video) is not exchanged: Verity's clip fingerprints are not the vpdq package's format (see README).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..storage import DeclaredMedia, Refutation, RefutedMedia, SQLStorage
from .claims import to_jsonld
from .ingest import IngestError, RefutationIngest

FORMATS = ("te", "hma")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_NOT_WITHDRAWN = "id NOT IN (SELECT refutation_id FROM refutation_withdrawals)"


class ExchangeError(ValueError):
    """A hash bank file is not in the named format; the message names the line or item."""


def standing_refutations(storage: SQLStorage, limit: int, offset: int) -> tuple[list[Refutation], int]:
    """Refutations not withdrawn, oldest first (a stable order for paging), and how many there are."""
    from ..storage.base import _refutation

    conn = storage.connect()
    total = int(conn.execute("SELECT count(*) FROM refutations WHERE " + _NOT_WITHDRAWN).fetchone()[0])
    rows = conn.execute("SELECT * FROM refutations WHERE " + _NOT_WITHDRAWN + " ORDER BY id LIMIT ? OFFSET ?",
                        (limit, offset)).fetchall()
    return [_refutation(r) for r in rows], total


DECLARED_TYPE = "verity:DeclaredMedia"


def bank_version(storage: SQLStorage) -> str:
    """Changes whenever a refutation is added or withdrawn, or the declared index gains or drops an entry: the
    export's ETag is built from it."""
    row = storage.connect().execute(
        "SELECT (SELECT coalesce(max(id), 0) FROM refutations), (SELECT count(*) FROM refutation_withdrawals),"
        " (SELECT coalesce(max(id), 0) FROM declared_media), (SELECT count(*) FROM declared_media)"
    ).fetchone()
    return f"{int(row[0])}-{int(row[1])}-{int(row[2])}-{int(row[3])}"


def declared_item(entry: DeclaredMedia) -> dict[str, Any]:
    """One declared-index entry as an export element (hashes and declaration; never bytes)."""
    return {"@type": DECLARED_TYPE, "verity:id": f"declared:{entry.sha256}", "verity:declared": entry.to_json()}


def media_json(m: RefutedMedia) -> dict[str, Any]:
    return {"sha256": m.sha256, "media_type": m.media_type, "width": m.width, "height": m.height,
            "content_url": m.content_url, "hashes": m.hashes}


def export_item(storage: SQLStorage, refutation: Refutation) -> dict[str, Any]:
    """One refutation as JSON-LD with its id and its media's hashes."""
    media = storage.refuted_media(refutation_id=refutation.id)
    node = dict(to_jsonld(refutation, media))
    node.setdefault("@context", "https://schema.org")
    node["verity:id"] = refutation.id
    node["verity:media"] = [media_json(m) for m in media]
    return node


def export_page(storage: SQLStorage, page: int, per_page: int) -> tuple[dict[str, Any], int]:
    """A schema.org DataFeed page of the export and the total count: the standing refutations, then the declared
    index's entries, in one sequence of pages."""
    offset = (page - 1) * per_page
    items, refuted = standing_refutations(storage, per_page, offset)
    elements = [export_item(storage, r) for r in items]
    if len(elements) < per_page:
        elements += [declared_item(e) for e in storage.declared_entries(
            0, per_page - len(elements), max(0, offset - refuted))]
    total = refuted + storage.declared_count()
    return {"@context": "https://schema.org", "@type": "DataFeed", "verity:page": page, "verity:total": total,
            "dataFeedElement": elements}, total


def etag_for(version: str, page: int, per_page: int) -> str:
    return '"' + hashlib.sha256(f"{version}:{page}:{per_page}".encode()).hexdigest()[:32] + '"'


# --- HMA / ThreatExchange ---------------------------------------------------------------------------------------------

def _full_pdq(m: RefutedMedia) -> dict[str, Any] | None:
    entries = m.hashes.get("pdq") or []
    entries = [{"region": "full", "hash": e} if isinstance(e, str) else e for e in entries]
    full = [e for e in entries if e.get("region") == "full"]
    return (full or entries or [None])[0]


def export_bank(storage: SQLStorage, fmt: str, bank: str = "VERITY_REFUTATIONS") -> str:
    """The standing refutations' image hashes as a bank file in `fmt` (te or hma)."""
    if fmt not in FORMATS:
        raise ExchangeError(f"unknown format {fmt!r} (use {' or '.join(FORMATS)})")
    lines: list[str] = []
    content: list[dict[str, Any]] = []
    offset = 0
    while True:
        page, total = standing_refutations(storage, 500, offset)
        for r in page:
            for m in storage.refuted_media(refutation_id=r.id):
                full = _full_pdq(m)
                if full is None:
                    continue
                lines.append(f"pdq {full['hash']}")
                content.append({"id": m.id, "signals": {"pdq": full["hash"]}, "quality": full.get("quality"),
                                "metadata": {"refutation_id": r.id, "claim": r.claim, "rating": r.rating,
                                             "fact_checker": r.fact_checker, "review_url": r.review_url,
                                             "sha256": m.sha256, "media_type": m.media_type, "width": m.width,
                                             "height": m.height, "content_url": m.content_url,
                                             "verity_pdq": m.hashes.get("pdq")}})
        offset += len(page)
        if not page or offset >= total:
            break
    if fmt == "te":
        return "".join(line + "\n" for line in lines)
    return json.dumps({"bank": bank, "signal_types": ["pdq"], "content": content}, ensure_ascii=False, indent=1)


def import_bank(text: str, fmt: str, ingest: RefutationIngest, *, bank: str, actor: str) -> list[int]:
    """Load a te or hma bank file: one refutation per content item, stored through the one ingestion path with
    precomputed hashes (validated; nothing downloaded). All or nothing.

    Raises:
        ExchangeError: not a bank file of that format (the message names the line or item).
    """
    items: list[tuple[Refutation, list[dict[str, Any]]]] = []
    if fmt == "te":
        for n, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, signal = line.partition(" ")
            if kind != "pdq":
                raise ExchangeError(f"line {n}: signal type {kind!r} is not supported (only pdq)")
            if not _HEX64.fullmatch(signal.strip()):
                raise ExchangeError(f"line {n}: a PDQ signal is 64 hex digits")
            items.append((Refutation(0, f"Listed in the hash bank {bank}", "listed in hash bank", bank,
                                     extra={"hash_bank": bank}),
                          [{"media_type": "image", "hashes": {"pdq": [{"region": "full",
                                                                       "hash": signal.strip().lower()}]}}]))
    elif fmt == "hma":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ExchangeError(f"not JSON: {exc}") from None
        content = doc.get("content") if isinstance(doc, dict) else None
        if not isinstance(content, list):
            raise ExchangeError("field content: expected a list of bank content items")
        for n, entry in enumerate(content):
            signals = entry.get("signals") if isinstance(entry, dict) else None
            if not isinstance(signals, dict) or not isinstance(signals.get("pdq"), str):
                raise ExchangeError(f"content {n}: field signals.pdq: expected a PDQ hex string")
            meta = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
            quality = entry.get("quality")
            pdq = meta.get("verity_pdq") or [{"region": "full", "hash": signals["pdq"], "quality": quality}]
            text_of = lambda k, d: meta.get(k) if isinstance(meta.get(k), str) and meta.get(k) else d  # noqa: E731
            items.append((Refutation(0, text_of("claim", f"Listed in the hash bank {bank}"),
                                     text_of("rating", "listed in hash bank"), text_of("fact_checker", bank),
                                     review_url=text_of("review_url", None), extra={"hash_bank": bank}),
                          [{"sha256": meta.get("sha256") or "", "media_type": meta.get("media_type") or "image",
                            "width": meta.get("width"), "height": meta.get("height"),
                            "content_url": meta.get("content_url"), "hashes": {"pdq": pdq}}]))
    else:
        raise ExchangeError(f"unknown format {fmt!r} (use {' or '.join(FORMATS)})")
    batch = []
    for n, (refutation, media) in enumerate(items):
        try:
            batch.append((refutation, ingest.describe_hashes(media, f"content {n}")))
        except IngestError as exc:
            raise ExchangeError(str(exc)) from None
    return ingest.add(batch, source=f"hash-bank:{fmt}", actor=actor) if batch else []
