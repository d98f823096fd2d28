"""schema.org ClaimReview / MediaReview <-> Verity refutations, and adding refutations with their media.

Import accepts JSON-LD as fact-checkers publish it: one item, an array, or an `@graph`. An item's media is the
`contentUrl` of its `itemReviewed` (MediaReview; also `itemReviewed.mediaItemAppearance[]`) or of its claim's
`appearance` / `firstAppearance` (ClaimReview). The whole item is kept in `extra["jsonld"]`, so an export gives back
what was imported (MediaReview's `mediaAuthenticityCategory` and `originalMediaContextDescription` included) and
import -> export -> import loses nothing.

Every item is validated and every media file read and hashed before anything is written; the writes are one
transaction. Errors name the item (its position and its url) and the field.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..storage import Refutation, RefutedMedia
from ..verify.refutation_index import RefutationMatcher
from .ingest import IngestError, MediaSource, RefutationIngest

REVIEW_TYPES = ("ClaimReview", "MediaReview")


class ClaimsError(ValueError):
    """Invalid JSON-LD or unreadable media; the message names the item and the field."""


@dataclass(frozen=True, slots=True)
class Item:
    """One parsed review: the refutation and the contentUrls of its media."""

    refutation: Refutation
    content_urls: list[str]


def _types(node: Any) -> list[str]:
    t = node.get("@type") if isinstance(node, dict) else None
    return [t] if isinstance(t, str) else [x for x in t if isinstance(x, str)] if isinstance(t, list) else []


def review_items(doc: Any) -> list[dict[str, Any]]:
    """The ClaimReview/MediaReview nodes of a JSON-LD document (one item, an array, or an @graph)."""
    nodes = doc if isinstance(doc, list) else doc.get("@graph", [doc]) if isinstance(doc, dict) else None
    if not isinstance(nodes, list):
        raise ClaimsError("the document is not a JSON-LD object, array or @graph")
    items = [n for n in nodes if set(_types(n)) & set(REVIEW_TYPES)]
    others = [i for i, n in enumerate(nodes) if not (set(_types(n)) & set(REVIEW_TYPES))]
    if others and not items:
        raise ClaimsError(f"item {others[0]}: field @type: expected ClaimReview or MediaReview")
    return items


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return _text(value.get("name") or value.get("@value"))
    if isinstance(value, list) and value:
        return _text(value[0])
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _content_urls(node: dict[str, Any]) -> list[str]:
    item = node.get("itemReviewed")
    urls: list[str] = []
    for reviewed in _as_list(item):
        if not isinstance(reviewed, dict):
            continue
        candidates = [reviewed] + _as_list(reviewed.get("mediaItemAppearance")) + _as_list(reviewed.get("appearance")) \
            + _as_list(reviewed.get("firstAppearance"))
        for c in candidates:
            if isinstance(c, dict) and isinstance(c.get("contentUrl"), str) and c["contentUrl"] not in urls:
                urls.append(c["contentUrl"])
    return urls


def parse_item(node: dict[str, Any], position: int) -> Item:
    """One ClaimReview/MediaReview node -> Item.

    Raises:
        ClaimsError: a required field is missing or has the wrong type.
    """
    label = f"item {position}" + (f" ({node['url']})" if isinstance(node.get("url"), str) else "")

    def need(field: str, value: str | None) -> str:
        if not value:
            raise ClaimsError(f"{label}: field {field}: missing or not text")
        return value

    is_media = "MediaReview" in _types(node)
    claim_node = node.get("itemReviewed") if isinstance(node.get("itemReviewed"), dict) else {}
    claim = _text(node.get("claimReviewed")) or _text(node.get("name")) or _text(node.get("headline")) \
        or (_text(claim_node.get("name")) if is_media else None) \
        or (_text(node.get("originalMediaContextDescription")) if is_media else None)
    rating_node = node.get("reviewRating")
    if rating_node is not None and not isinstance(rating_node, dict):
        raise ClaimsError(f"{label}: field reviewRating: expected a Rating object")
    rating = _text((rating_node or {}).get("alternateName")) or _text((rating_node or {}).get("ratingExplanation")) \
        or (_text(node.get("mediaAuthenticityCategory")) if is_media else None)
    author = node.get("author")
    if author is not None and not isinstance(author, dict | list | str):
        raise ClaimsError(f"{label}: field author: expected an Organization or Person")
    for field in ("url", "datePublished", "reviewBody"):
        if field in node and not isinstance(node[field], str):
            raise ClaimsError(f"{label}: field {field}: expected text")
    urls = _content_urls(node)
    for u in urls:
        if not u.strip():
            raise ClaimsError(f"{label}: field itemReviewed.contentUrl: empty")
    refutation = Refutation(
        id=0,
        claim=need("claimReviewed" if not is_media else "claimReviewed/name", claim),
        rating=need("reviewRating.alternateName" if not is_media else "reviewRating.alternateName/mediaAuthenticityCategory",
                    rating),
        fact_checker=need("author.name", _text(author)),
        review_url=_text(node.get("url")),
        date=_text(node.get("datePublished")),
        language=_text(node.get("inLanguage")),
        explanation=_text(node.get("reviewBody")) or _text(node.get("description")),
        original_context=_text(node.get("originalMediaContextDescription")),
        extra={"jsonld": node},
    )
    return Item(refutation, urls)


def to_jsonld(refutation: Refutation, media: list[RefutedMedia]) -> dict[str, Any]:
    """A refutation as schema.org JSON-LD: the imported item as it was, or a ClaimReview built from the fields."""
    stored = refutation.extra.get("jsonld")
    if isinstance(stored, dict):
        return stored
    node: dict[str, Any] = {
        "@context": "https://schema.org", "@type": "ClaimReview", "claimReviewed": refutation.claim,
        "author": {"@type": "Organization", "name": refutation.fact_checker},
        "reviewRating": {"@type": "Rating", "alternateName": refutation.rating},
    }
    for key, value in (("url", refutation.review_url), ("datePublished", refutation.date),
                       ("inLanguage", refutation.language), ("reviewBody", refutation.explanation)):
        if value:
            node[key] = value
    appearances = [{"@type": "MediaObject", "contentUrl": m.content_url or m.stored_name, "sha256": m.sha256}
                   for m in media if m.content_url or m.stored_name]
    if appearances:
        node["itemReviewed"] = {"@type": "Claim", "appearance": appearances}
    if refutation.original_context:
        node["originalMediaContextDescription"] = refutation.original_context
    return node


Fetcher = Callable[[str], bytes]


def media_fetcher(media_dir: Path | None, max_bytes: int, timeout_s: float) -> Fetcher:
    """Reads a contentUrl: a path under `media_dir`, or an http(s) URL downloaded within `max_bytes` and `timeout_s`."""

    def fetch(url: str) -> bytes:
        if url.startswith(("http://", "https://")):
            request = urllib.request.Request(url, headers={"User-Agent": "Verity-claims-import/1"})
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (scheme checked above)
                data: bytes = response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise ClaimsError(f"{url}: larger than {max_bytes} bytes")
            return data
        if "://" in url:
            raise ClaimsError(f"{url}: only http(s) URLs or paths relative to --media are read")
        if media_dir is None:
            raise ClaimsError(f"{url}: a relative media path needs --media DIR")
        root = media_dir.resolve()
        path = (root / url).resolve()
        if root not in path.parents:
            raise ClaimsError(f"{url}: outside the --media folder")
        if not path.is_file():
            raise ClaimsError(f"{url}: no such file under {media_dir}")
        if path.stat().st_size > max_bytes:
            raise ClaimsError(f"{url}: larger than {max_bytes} bytes")
        return path.read_bytes()

    return fetch


def import_document(doc: Any, fetch: Fetcher, ingest: RefutationIngest, actor: str = "import") -> list[int]:
    """Validate every item and read its media, then store them all in one transaction through the one ingestion path
    (server/refutations/ingest.py); returns the new ids.

    Raises:
        ClaimsError: invalid JSON-LD or unreadable media (nothing is stored).
    """
    nodes = review_items(doc)
    if not nodes:
        raise ClaimsError("no ClaimReview or MediaReview item in the document")
    batch = []
    for position, node in enumerate(nodes):
        item = parse_item(node, position)
        label = f"item {position}" + (f" ({item.refutation.review_url})" if item.refutation.review_url else "")
        sources = []
        for url in item.content_urls:
            try:
                sources.append(MediaSource(fetch(url), url))
            except ClaimsError as exc:
                raise ClaimsError(f"{label}: field contentUrl: {exc}") from exc
            except OSError as exc:
                raise ClaimsError(f"{label}: field contentUrl: {url}: {exc}") from exc
        try:
            batch.append((item.refutation, ingest.describe(sources, label)))
        except IngestError as exc:
            raise ClaimsError(str(exc)) from exc
    return ingest.add(batch, source="import", actor=actor)


def export_document(matcher: RefutationMatcher) -> list[dict[str, Any]]:
    """Every stored refutation as JSON-LD, oldest first."""
    storage = matcher.storage
    out, offset = [], 0
    while True:
        page, total = storage.list_refutations(limit=500, offset=offset)
        out.extend(to_jsonld(r, storage.refuted_media(refutation_id=r.id)) for r in page)
        offset += len(page)
        if not page or offset >= total:
            break
    return list(reversed(out))


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1)
