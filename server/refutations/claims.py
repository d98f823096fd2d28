"""schema.org ClaimReview / MediaReview <-> Verity refutations, and adding refutations with their media.

Import accepts JSON-LD as fact-checkers publish it: one item, an array, or an `@graph`. An item's media is the
`contentUrl` of its `itemReviewed` (MediaReview; also `itemReviewed.mediaItemAppearance[]`) or of its claim's
`appearance` / `firstAppearance` (ClaimReview). The whole item is kept in `extra["jsonld"]`, so an export gives back
what was imported (MediaReview's `mediaAuthenticityCategory` and `originalMediaContextDescription` included) and
import -> export -> import loses nothing.

Every item is validated and every media file read and hashed before anything is written; the writes are one
transaction. Errors name the item (its position and its url) and the field. A review that names no media (the usual
shape in real feeds, which give only the post's page URL) can never match anything: it is skipped and reported, not
imported silently.

Export gives every item its own `@context` (an item lifted out of an imported `@graph` would otherwise lose it) and
absolute `contentUrl`s: with a base URL, each media's URL on that Verity server (/v1/refutations/<id>/media/<id>), so
importing the export into a fresh instance fetches the very same originals and reproduces the same refutations.
Remote media is read through server/fetching.py (the one safe fetcher).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fetching import FetchError, FetchPolicy, fetch
from ..storage import Refutation, RefutedMedia
from ..verify.refutation_index import RefutationMatcher
from .ingest import IngestError, MediaSource, RefutationIngest

REVIEW_TYPES = ("ClaimReview", "MediaReview")
SCHEMA_CONTEXT = "https://schema.org"


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


def appearance_pages(node: dict[str, Any]) -> list[str]:
    """The http(s) page URLs where the reviewed claim appeared (appearance / firstAppearance / mediaItemAppearance
    `url`s): feeds give these instead of media; a page's own media can then be read from it."""
    pages: list[str] = []
    for reviewed in _as_list(node.get("itemReviewed")):
        if not isinstance(reviewed, dict):
            continue
        for c in _as_list(reviewed.get("appearance")) + _as_list(reviewed.get("firstAppearance")) \
                + _as_list(reviewed.get("mediaItemAppearance")):
            url = c.get("url") if isinstance(c, dict) else c if isinstance(c, str) else None
            if isinstance(url, str) and url.startswith(("http://", "https://")) and url not in pages:
                pages.append(url)
    return pages


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
    for name in ("url", "datePublished", "reviewBody"):
        if name in node and not isinstance(node[name], str):
            raise ClaimsError(f"{label}: field {name}: expected text")
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


def media_url(base_url: str, item: RefutedMedia) -> str:
    """The URL of a stored original on a Verity server (the refutations blueprint's media route)."""
    return f"{base_url.rstrip('/')}/v1/refutations/{item.refutation_id}/media/{item.id}"


def _absolute(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("http://", "https://"))


def to_jsonld(refutation: Refutation, media: list[RefutedMedia], base_url: str | None = None) -> dict[str, Any]:
    """A refutation as schema.org JSON-LD with its own @context: the imported item as it was, or a ClaimReview built
    from the fields. With `base_url`, every media's contentUrl is its URL on that server.

    Raises:
        ClaimsError: a media would be named by a relative URL (no base_url to make it absolute).
    """
    label = f"refutation {refutation.id}"

    def url_of(m: RefutedMedia) -> str:
        if base_url:
            return media_url(base_url, m)
        if _absolute(m.content_url):
            return str(m.content_url)
        raise ClaimsError(f"{label}: its media {m.content_url or m.stored_name} has no absolute URL; export with a "
                          "base URL (the public URL of this Verity server) so the export names the server's copy")

    stored = refutation.extra.get("jsonld")
    if isinstance(stored, dict):
        node = copy.deepcopy(stored)
        node.setdefault("@context", SCHEMA_CONTEXT)
        by_url = {m.content_url: m for m in media if m.content_url}
        placed: set[int] = set()

        def rewrite(value: Any, depth: int = 0) -> None:
            if depth > 20:
                return
            if isinstance(value, list):
                for v in value:
                    rewrite(v, depth + 1)
            elif isinstance(value, dict):
                url = value.get("contentUrl")
                if isinstance(url, str) and url in by_url:
                    value["contentUrl"] = url_of(by_url[url])
                    placed.add(by_url[url].id)
                elif isinstance(url, str) and not _absolute(url) and not base_url:
                    raise ClaimsError(f"{label}: contentUrl {url} is relative; export with a base URL")
                for key, v in value.items():
                    if key != "contentUrl":
                        rewrite(v, depth + 1)

        rewrite(node.get("itemReviewed"))
        rest = [m for m in media if m.id not in placed]  # uploaded with the review: not named in the item yet
        if rest:
            reviewed = node.get("itemReviewed")
            if not isinstance(reviewed, dict):
                reviewed = node["itemReviewed"] = {"@type": "Claim"}
            reviewed["appearance"] = _as_list(reviewed.get("appearance")) + [
                {"@type": "MediaObject", "contentUrl": url_of(m), "sha256": m.sha256} for m in rest]
        return node
    node = {
        "@context": SCHEMA_CONTEXT, "@type": "ClaimReview", "claimReviewed": refutation.claim,
        "author": {"@type": "Organization", "name": refutation.fact_checker},
        "reviewRating": {"@type": "Rating", "alternateName": refutation.rating},
    }
    for key, value in (("url", refutation.review_url), ("datePublished", refutation.date),
                       ("inLanguage", refutation.language), ("reviewBody", refutation.explanation)):
        if value:
            node[key] = value
    appearances = [{"@type": "MediaObject", "contentUrl": url_of(m), "sha256": m.sha256} for m in media]
    if appearances:
        node["itemReviewed"] = {"@type": "Claim", "appearance": appearances}
    if refutation.original_context:
        node["originalMediaContextDescription"] = refutation.original_context
    return node


Fetcher = Callable[[str], bytes]


def media_fetcher(media_dir: Path | None, policy: FetchPolicy) -> Fetcher:
    """Reads a contentUrl: a path under `media_dir`, or an http(s) URL through the safe fetcher within `policy`."""

    def read(url: str) -> bytes:
        if url.startswith(("http://", "https://")):
            try:
                return fetch(url, policy).data
            except FetchError as exc:
                raise ClaimsError(str(exc)) from exc
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
        if path.stat().st_size > policy.max_bytes:
            raise ClaimsError(f"{url}: larger than {policy.max_bytes} bytes")
        return path.read_bytes()

    return read


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import stored, and the reviews it skipped (each with why)."""

    ids: list[int]
    skipped: list[str] = field(default_factory=list)


PageMediaFinder = Callable[[str], list[str]]


def import_document(doc: Any, fetch_media: Fetcher, ingest: RefutationIngest, page_media: PageMediaFinder | None = None,
                    actor: str = "import") -> ImportResult:
    """Validate every item and read its media, then store them all in one transaction through the one ingestion path
    (server/refutations/ingest.py).

    Reviews that name no media are skipped (they could never match) and listed in the result, unless `page_media`
    (page URL -> media URLs on it) finds media on their appearance pages.

    Raises:
        ClaimsError: invalid JSON-LD or unreadable media (nothing is stored).
    """
    nodes = review_items(doc)
    if not nodes:
        raise ClaimsError("no ClaimReview or MediaReview item in the document")
    batch = []
    skipped: list[str] = []
    for position, node in enumerate(nodes):
        item = parse_item(node, position)
        label = f"item {position}" + (f" ({item.refutation.review_url})" if item.refutation.review_url else "")
        urls = item.content_urls
        if not urls and page_media is not None:
            for page in appearance_pages(node):
                try:
                    urls = urls + [u for u in page_media(page) if u not in urls]
                except ClaimsError as exc:
                    skipped.append(f"{label}: its appearance page could not be read: {exc}")
        if not urls:
            if not any(s.startswith(label + ":") for s in skipped):
                skipped.append(f"{label}: names no media (no contentUrl), so it could never match anything")
            continue
        sources = []
        for url in urls:
            try:
                sources.append(MediaSource(fetch_media(url), url))
            except ClaimsError as exc:
                raise ClaimsError(f"{label}: field contentUrl: {exc}") from exc
            except OSError as exc:
                raise ClaimsError(f"{label}: field contentUrl: {url}: {exc.strerror or 'cannot be read'}") from exc
        try:
            batch.append((item.refutation, ingest.describe(sources, label)))
        except IngestError as exc:
            raise ClaimsError(str(exc)) from exc
    return ImportResult(ingest.add(batch, source="import", actor=actor) if batch else [], skipped)


def export_document(matcher: RefutationMatcher, base_url: str | None = None) -> list[dict[str, Any]]:
    """Every stored refutation as JSON-LD, oldest first; each item carries @context and absolute contentUrls.

    Raises:
        ClaimsError: a media has no absolute URL and no `base_url` was given.
    """
    storage = matcher.storage
    out, offset = [], 0
    while True:
        page, total = storage.list_refutations(limit=500, offset=offset)
        out.extend(to_jsonld(r, storage.refuted_media(refutation_id=r.id), base_url) for r in page)
        offset += len(page)
        if not page or offset >= total:
            break
    return list(reversed(out))


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1)
