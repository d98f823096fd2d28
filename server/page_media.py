"""The media of a web page (a social post or an article): what a journalist means by "verify this post".

Read, in this order, from the page's HTML (no JavaScript is run): Open Graph `og:image` / `og:video` (and their
`:url` / `:secure_url` forms), Twitter cards `twitter:image` / `twitter:player:stream`, schema.org JSON-LD `image`,
`video`, `thumbnailUrl`, `contentUrl` (in any node, `@graph` included), then the `<img>`, `<video>`, `<source>` and
`<audio>` of the article's main content (`<article>`, else `<main>`, else the body), skipping icons and tracking
pixels whose declared size is under MIN_SIDE. URLs are made absolute against the page (and its `<base href>`),
deduplicated, http(s) only, at most `limit`.

Why stdlib html.parser: pages are untrusted input and this only needs attributes; it never builds a DOM and has no
network access. Fetching the page and each media file is the caller's, through server/fetching.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

MIN_SIDE = 100          # declared width/height below this: an icon, avatar or pixel, not the post's media
DEFAULT_LIMIT = 20
_META = {
    "og:image": "og:image", "og:image:url": "og:image", "og:image:secure_url": "og:image",
    "og:video": "og:video", "og:video:url": "og:video", "og:video:secure_url": "og:video",
    "twitter:image": "twitter:image", "twitter:image:src": "twitter:image",
    "twitter:player:stream": "twitter:player:stream",
}
_JSONLD_KEYS = ("contentUrl", "image", "video", "thumbnailUrl", "associatedMedia")


@dataclass(frozen=True, slots=True)
class PageMedia:
    """One media URL found on a page, and where on the page it was found."""

    url: str
    source: str   # og:image, og:video, twitter:image, json-ld, article:img, article:video, ...


def looks_like_html(content_type: str, data: bytes) -> bool:
    """Whether fetched bytes are a web page rather than media."""
    if "html" in content_type.lower():
        return True
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<head" in head


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.meta: list[tuple[str, str]] = []
        self.jsonld: list[str] = []
        self._in_jsonld = False
        self._buffer: list[str] = []
        self.depth = {"article": 0, "main": 0}
        self.media: dict[str, list[tuple[str, str]]] = {"article": [], "main": [], "body": []}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"]
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or "").strip().lower()
            if key in _META and a.get("content"):
                self.meta.append((_META[key], a["content"].strip()))
        elif tag == "script" and a.get("type", "").strip().lower() == "application/ld+json":
            self._in_jsonld, self._buffer = True, []
        elif tag in self.depth:
            self.depth[tag] += 1
        elif tag in ("img", "video", "source", "audio"):
            if _too_small(a):
                return
            url = a.get("src") or a.get("data-src") or _largest_srcset(a.get("srcset") or a.get("data-srcset") or "")
            if url:
                kind = "img" if tag in ("img",) else "video" if tag in ("video", "source") else "audio"
                place = "article" if self.depth["article"] else "main" if self.depth["main"] else "body"
                self.media[place].append((f"{place}:{kind}", url.strip()))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_jsonld:
            self._in_jsonld = False
            self.jsonld.append("".join(self._buffer))
        elif tag in self.depth and self.depth[tag] > 0:
            self.depth[tag] -= 1

    def handle_data(self, data: str) -> None:
        if self._in_jsonld:
            self._buffer.append(data)


def _too_small(attrs: dict[str, str]) -> bool:
    for key in ("width", "height"):
        value = attrs.get(key, "").strip().removesuffix("px")
        if value.isdigit() and int(value) < MIN_SIDE:
            return True
    return False


def _largest_srcset(srcset: str) -> str:
    """The candidate with the largest width (or density) descriptor."""
    best, best_size = "", -1.0
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        size = 1.0
        if len(bits) > 1:
            try:
                size = float(bits[1].rstrip("wx"))
            except ValueError:
                size = 1.0
        if size > best_size:
            best, best_size = bits[0], size
    return best


def _jsonld_urls(node: Any, out: list[str], depth: int = 0) -> None:
    """Media URLs of a JSON-LD node: its own contentUrl, and image/video/thumbnailUrl/associatedMedia values (text, a
    MediaObject's contentUrl or url, or lists of these), in any nested node or @graph."""
    if depth > 8:
        return
    if isinstance(node, list):
        for item in node:
            _jsonld_urls(item, out, depth + 1)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("contentUrl"), str):
        out.append(node["contentUrl"])
    for key in _JSONLD_KEYS[1:]:
        for value in node.get(key) if isinstance(node.get(key), list) else [node.get(key)]:
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, dict):
                if not isinstance(value.get("contentUrl"), str) and isinstance(value.get("url"), str):
                    out.append(value["url"])
                _jsonld_urls(value, out, depth + 1)
    if isinstance(node.get("@graph"), list):
        _jsonld_urls(node["@graph"], out, depth + 1)


def extract_media(html: str, page_url: str, limit: int = DEFAULT_LIMIT) -> list[PageMedia]:
    """The page's media URLs, most telling first (see the module docstring)."""
    parser = _Parser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some malformed markup: keep what it read
        pass
    base = urljoin(page_url, parser.base) if parser.base else page_url
    found: list[tuple[str, str]] = list(parser.meta)
    for block in parser.jsonld:
        try:
            doc = json.loads(block)
        except ValueError:
            continue
        urls: list[str] = []
        _jsonld_urls(doc, urls)
        found.extend(("json-ld", u) for u in urls)
    main = parser.media["article"] or parser.media["main"] or parser.media["body"]
    found.extend(main)
    out: list[PageMedia] = []
    seen: set[str] = set()
    for source, raw in found:
        url = urljoin(base, raw.strip())
        if urlsplit(url).scheme not in ("http", "https") or url in seen or url == page_url:
            continue
        seen.add(url)
        out.append(PageMedia(url, source))
        if len(out) >= limit:
            break
    return out


def decode_html(data: bytes, content_type: str) -> str:
    """Page bytes as text: the charset the server declared, else UTF-8 (replacing what does not decode)."""
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip().strip('"')
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")
