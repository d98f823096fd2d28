"""Refutations that arrive by themselves: fact-check feeds, synced on a schedule.

A feed is a URL (`build.py feeds add URL --name NAME --every 6h`) serving one of:
  - ClaimReview / MediaReview JSON-LD: one item, an array, an `@graph`, or a schema.org `DataFeed` whose
    `dataFeedElement` holds the reviews (or `DataFeedItem`s with an `item`);
  - an HTML article with the review embedded as `<script type="application/ld+json">`;
  - another Verity's export (GET /v1/refutations/export, paged with `Link: rel=next`): its items carry the media's
    hashes (`verity:media`), so nothing is downloaded and the hashes go in through `RefutationIngest.describe_hashes`.

Every sync is a conditional GET (If-None-Match / If-Modified-Since from the last answer); a 304 changes nothing. Each
review is keyed in its feed (its `@id`, else its `url`, else its claim and author) and remembered with a digest of its
JSON: a new key is added, a changed digest replaces the refutation (`RefutationIngest.replace`: the old one withdrawn
"superseded", both audited), and a key that is gone from a feed read in full is withdrawn ("retracted"). A feed that
cannot be fetched or parsed changes nothing and records its error; one bad review is skipped and named in the error
while the others sync. Media (`contentUrl`) and feeds are fetched through one `Fetch` (default: server/fetching.py,
which refuses private addresses, bounds bytes and time, re-checks redirects and keeps no cookies).

Everything is stored through the one ingestion path (ingest.py); this module writes only its own tables (feeds,
feed_items, leases). `FeedScheduler` runs the syncs in a daemon thread; a lease row in the database lets one process
at a time sync, so several gunicorn workers or hosts can all run one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import urljoin

from ..storage import Connection, Refutation, RefutationAlreadyWithdrawn, RefutationNotFound, SQLStorage
from .claims import ClaimsError, parse_item, review_items
from .exchange import DECLARED_TYPE
from .ingest import IngestError, MediaSource, RefutationIngest

log = logging.getLogger(__name__)

MAX_PAGES = 200  # pages of one paged feed (a Verity export): bounded even if a server links pages in a circle
MIN_EVERY_S = 60.0
LEASE = "feeds"
LEASE_S = 600.0
MEDIA_TYPE_ACCEPT = "application/ld+json, application/json;q=0.9, text/html;q=0.8, */*;q=0.1"
VERITY_KEYS = ("verity:id", "verity:media")  # what an export adds to a review; not kept in the stored JSON-LD


class FeedError(Exception):
    """A feed could not be read (fetch, parse or size); the message is a plain sentence naming the URL."""


class FeedNotFound(FeedError, LookupError):
    """No feed has this name."""


class Fetch(Protocol):
    """The one way feeds read a URL. The default is `SafeFetch` (server/fetching.py); the lead reconciles this
    interface with the fetcher of the "answer" branch at merge.

    Returns (status, response headers with lower-case names, body): 200, or 304 to a conditional request.

    Raises:
        FeedError: refused URL, network error, error status, over `max_bytes` or over `timeout_s` in total.
    """

    def fetch(self, url: str, *, max_bytes: int, timeout_s: float,
              headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]: ...


@dataclass(frozen=True, slots=True)
class SafeFetch:
    """`Fetch` through server/fetching.py: http(s) only, private addresses refused unless allowed, bounded."""

    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()

    def fetch(self, url: str, *, max_bytes: int, timeout_s: float,
              headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        from ..fetching import FetchError, FetchPolicy, fetch

        policy = FetchPolicy(max_bytes=max_bytes, deadline_s=timeout_s, allow_private=self.allow_private,
                             allow_networks=self.allow_networks, accept=headers.get("Accept", "*/*"))
        try:
            got = fetch(url, policy, headers={k: v for k, v in headers.items() if k != "Accept"})
        except FetchError as exc:
            raise FeedError(str(exc)) from None
        return got.status, got.headers, got.data

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SafeFetch:
        nets = config.get("FETCH_ALLOW_NETWORKS") or ""
        return cls(flag(config.get("FETCH_ALLOW_PRIVATE", False)),
                   tuple(n.strip() for n in (nets.split(",") if isinstance(nets, str) else nets) if n.strip()))


def flag(value: Any) -> bool:
    """A VERIFY_ boolean: True/False, or the strings 1/true/yes/on."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")


def parse_every(text: str) -> float:
    """'6h', '30m', '1d', '90s' or plain seconds -> seconds (at least a minute).

    Raises:
        ValueError: not a duration.
    """
    m = _DURATION.fullmatch(text.strip().lower())
    if not m:
        raise ValueError(f"{text!r} is not a duration like 30m, 6h or 1d")
    seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if seconds < MIN_EVERY_S:
        raise ValueError(f"feeds sync at most once a minute (got {text!r})")
    return seconds


def format_every(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


@dataclass(frozen=True, slots=True)
class Feed:
    """A subscribed feed and its state."""

    id: int
    name: str
    url: str
    every_s: float
    api_key: str | None
    etag: str | None
    last_modified: str | None
    last_sync: float | None
    last_ok: float | None
    next_sync: float
    items: int
    last_error: str | None
    errors: int

    def to_json(self) -> dict[str, Any]:
        """The state shown by `feeds list` and the review UI (never the key)."""
        return {"name": self.name, "url": self.url, "every": format_every(self.every_s), "last_sync": self.last_sync,
                "last_ok": self.last_ok, "items": self.items, "last_error": self.last_error, "errors": self.errors}


@dataclass(slots=True)
class SyncResult:
    """What one sync did."""

    feed: str
    not_modified: bool = False
    added: int = 0
    updated: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    declared: int = 0  # declared-index entries added (a Verity export's second kind of entry)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.not_modified:
            return f"{self.feed}: not modified"
        text = (f"{self.feed}: {self.added} added, {self.updated} updated, {self.withdrawn} withdrawn, "
                f"{self.unchanged} unchanged" + (f", {self.declared} declared entries" if self.declared else ""))
        return text + (f"; {len(self.errors)} error(s): {self.errors[0]}" if self.errors else "")


def _feed(row: Any) -> Feed:
    return Feed(int(row["id"]), row["name"], row["url"], float(row["every_s"]), row["api_key"], row["etag"],
                row["last_modified"], row["last_sync"], row["last_ok"], float(row["next_sync"]), int(row["items"]),
                row["last_error"], int(row["errors"]))


class FeedStore:
    """The feeds, their items and the sync lease in the database (the feed tables only)."""

    def __init__(self, storage: SQLStorage) -> None:
        self.storage = storage

    def add(self, name: str, url: str, every_s: float, api_key: str | None = None) -> Feed:
        """Subscribe; due at once.

        Raises:
            FeedError: the name is taken, or the URL is not http(s).
        """
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
            raise FeedError(f"feed name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        if not re.match(r"https?://", url, re.I) or len(url) > 4096:
            raise FeedError(f"{url}: a feed URL is an http(s) URL")
        with self.storage.transaction() as conn:
            if conn.execute("SELECT 1 FROM feeds WHERE name = ?", (name,)).fetchone():
                raise FeedError(f"a feed named {name!r} exists; remove it first or choose another name")
            conn.execute("INSERT INTO feeds (name, url, every_s, api_key, next_sync, created) VALUES (?,?,?,?,?,?)",
                         (name, url, every_s, api_key, 0.0, time.time()))
        return self.get(name)

    def get(self, name: str) -> Feed:
        row = self.storage.connect().execute("SELECT * FROM feeds WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise FeedNotFound(f"no feed named {name!r} (see `build.py feeds list`)")
        return _feed(row)

    def all(self) -> list[Feed]:
        return [_feed(r) for r in self.storage.connect().execute("SELECT * FROM feeds ORDER BY name")]

    def due(self, now: float) -> list[Feed]:
        return [_feed(r) for r in self.storage.connect().execute(
            "SELECT * FROM feeds WHERE next_sync <= ? ORDER BY next_sync", (now,))]

    def remove(self, name: str) -> list[int]:
        """Unsubscribe; returns the ids of the refutations the feed brought (they stay unless withdrawn)."""
        feed = self.get(name)
        with self.storage.transaction() as conn:
            ids = [int(r[0]) for r in conn.execute(
                "SELECT refutation_id FROM feed_items WHERE feed_id = ? AND refutation_id IS NOT NULL", (feed.id,))]
            conn.execute("DELETE FROM feed_items WHERE feed_id = ?", (feed.id,))
            conn.execute("DELETE FROM feeds WHERE id = ?", (feed.id,))
        return ids

    def items(self, feed_id: int) -> dict[str, tuple[str, int | None]]:
        """item key -> (digest, refutation id)."""
        return {r["item_key"]: (r["digest"], r["refutation_id"]) for r in self.storage.connect().execute(
            "SELECT item_key, digest, refutation_id FROM feed_items WHERE feed_id = ?", (feed_id,))}

    @staticmethod
    def set_item(conn: Connection, feed_id: int, key: str, digest: str, refutation_id: int | None) -> None:
        conn.execute("DELETE FROM feed_items WHERE feed_id = ? AND item_key = ?", (feed_id, key))
        conn.execute("INSERT INTO feed_items (feed_id, item_key, digest, refutation_id) VALUES (?,?,?,?)",
                     (feed_id, key, digest, refutation_id))

    @staticmethod
    def drop_item(conn: Connection, feed_id: int, key: str) -> None:
        conn.execute("DELETE FROM feed_items WHERE feed_id = ? AND item_key = ?", (feed_id, key))

    def finish(self, feed: Feed, *, ok: bool, error: str | None, etag: str | None = None,
               last_modified: str | None = None) -> None:
        """Record a sync's outcome and schedule the next (a failed one is retried sooner, within the period)."""
        now = time.time()
        retry = min(feed.every_s, 900.0) if not ok else feed.every_s
        with self.storage.transaction() as conn:
            count = int(conn.execute("SELECT count(*) FROM feed_items WHERE feed_id = ?", (feed.id,)).fetchone()[0])
            if ok:
                conn.execute("UPDATE feeds SET last_sync = ?, last_ok = ?, next_sync = ?, items = ?, last_error = ?,"
                             " errors = ?, etag = coalesce(?, etag), last_modified = coalesce(?, last_modified)"
                             " WHERE id = ?", (now, now, now + retry, count, error, 0 if error is None else 1,
                                               etag, last_modified, feed.id))
            else:
                conn.execute("UPDATE feeds SET last_sync = ?, next_sync = ?, items = ?, last_error = ?,"
                             " errors = errors + 1 WHERE id = ?", (now, now + retry, count, error, feed.id))

    def acquire_lease(self, holder: str, ttl_s: float = LEASE_S, name: str = LEASE) -> bool:
        """Take (or renew) the named lease unless another holder's has not expired; one writer at a time makes the
        read-then-write safe on both engines."""
        now = time.time()
        with self.storage.transaction() as conn:
            row = conn.execute("SELECT holder, expires FROM leases WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO leases (name, holder, expires) VALUES (?,?,?)", (name, holder, now + ttl_s))
                return True
            if row["holder"] != holder and float(row["expires"]) > now:
                return False
            conn.execute("UPDATE leases SET holder = ?, expires = ? WHERE name = ?", (holder, now + ttl_s, name))
            return True

    def release_lease(self, holder: str, name: str = LEASE) -> None:
        with self.storage.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))


# --- reading a feed document ----------------------------------------------------------------------------------------

class _JsonLdScripts(HTMLParser):
    """The text of every <script type="application/ld+json"> in an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and (dict(attrs).get("type") or "").split(";")[0].strip().lower() == "application/ld+json":
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.blocks.append("".join(self._current))
            self._current = None


def _feed_nodes(doc: Any) -> list[Any]:
    """Unwrap a schema.org DataFeed (dataFeedElement, DataFeedItem.item) into the nodes it carries."""
    if isinstance(doc, dict) and "DataFeed" in _types(doc):
        elements = doc.get("dataFeedElement", [])
        elements = elements if isinstance(elements, list) else [elements]
        return [e["item"] if isinstance(e, dict) and "DataFeedItem" in _types(e) and isinstance(e.get("item"), dict)
                else e for e in elements]
    if isinstance(doc, dict) and "@graph" in doc and isinstance(doc["@graph"], list):
        return [n for g in doc["@graph"] for n in (_feed_nodes(g) if "DataFeed" in _types(g) else [g])]
    return doc if isinstance(doc, list) else [doc]


def _types(node: Any) -> list[str]:
    t = node.get("@type") if isinstance(node, dict) else None
    return [t] if isinstance(t, str) else [x for x in t if isinstance(x, str)] if isinstance(t, list) else []


def parse_document(body: bytes, content_type: str, url: str) -> list[dict[str, Any]]:
    """The ClaimReview/MediaReview nodes of a fetched feed document (JSON-LD, DataFeed, or HTML with JSON-LD).

    Raises:
        FeedError: neither JSON nor HTML with JSON-LD, or JSON that holds no review list.
    """
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    is_html = "html" in content_type.lower() or text.lstrip()[:1] == "<"
    docs: list[Any] = []
    if is_html:
        parser = _JsonLdScripts()
        parser.feed(text)
        parser.close()
        for block in parser.blocks:
            try:
                docs.append(json.loads(block))
            except ValueError:
                continue  # a page may carry broken JSON-LD of other kinds; only reviews matter
        if not docs:
            raise FeedError(f"{url}: the page has no readable JSON-LD")
    else:
        try:
            docs.append(json.loads(text))
        except (ValueError, RecursionError) as exc:
            raise FeedError(f"{url}: not JSON ({str(exc)[:120]})") from None
    nodes: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict | list):
            raise FeedError(f"{url}: the document is not a JSON-LD object or array")
        found = _feed_nodes(doc)
        declared = [n for n in found if DECLARED_TYPE in _types(n)] if isinstance(found, list) else []
        nodes.extend(declared)  # a Verity export's second kind of entry: the declared index (exchange.py)
        if declared and len(declared) == len(found):
            continue
        try:
            nodes.extend(review_items([n for n in found if DECLARED_TYPE not in _types(n)] if declared else found))
        except ClaimsError:
            if not is_html:
                raise FeedError(f"{url}: no ClaimReview or MediaReview items in the document") from None
    return nodes


def _next_link(headers: Mapping[str, str], url: str) -> str | None:
    for part in headers.get("link", "").split(","):
        m = re.match(r'\s*<([^>]+)>\s*;(.*)', part)
        if m and re.search(r'rel\s*=\s*"?next"?', m.group(2)):
            return urljoin(url, m.group(1))
    return None


def item_key(node: dict[str, Any]) -> str:
    """A review's identity within its feed: Verity id, @id, url, else its claim and author."""
    for key in ("verity:id", "@id", "url"):
        value = node.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return f"{key}:{value}"
    author = node.get("author")
    author = author.get("name") if isinstance(author, dict) else author
    basis = json.dumps([node.get("claimReviewed"), author], sort_keys=True, default=str)
    return "claim:" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def digest(node: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(node, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


# --- syncing ----------------------------------------------------------------------------------------------------------

@dataclass
class FeedSync:
    """Reads feeds and brings their reviews in through the one ingestion path."""

    store: FeedStore
    ingest: RefutationIngest
    fetcher: Fetch
    max_feed_bytes: int = 20 * 1024 * 1024
    max_media_bytes: int = 50 * 1024 * 1024
    timeout_s: float = 60.0
    max_items: int = 5000
    declared: Any = None  # server.refutations.declared.DeclaredIndex (None: declared_match is off; entries skipped)

    @classmethod
    def from_state(cls, state: Any, config: Mapping[str, Any], fetcher: Fetch | None = None) -> FeedSync:
        return cls(FeedStore(state.storage), state.ingest, fetcher or SafeFetch.from_config(config),
                   max_feed_bytes=int(float(config.get("FEED_MAX_MB", 20)) * 1024 * 1024),
                   max_media_bytes=state.settings.max_upload_bytes,
                   timeout_s=float(config.get("FEED_TIMEOUT_S", 60)), max_items=int(config.get("FEED_MAX_ITEMS", 5000)),
                   declared=getattr(state, "declared", None))

    def sync_due(self, now: float | None = None) -> list[SyncResult]:
        return [self.sync(feed) for feed in self.store.due(time.time() if now is None else now)]

    def sync(self, feed: Feed) -> SyncResult:
        """One sync of one feed; never raises for what the feed serves (the error is recorded on the feed)."""
        result = SyncResult(feed.name)
        try:
            fetched = self._read(feed)
        except FeedError as exc:
            result.errors.append(str(exc))
            self.store.finish(feed, ok=False, error=str(exc))
            log.warning("feed %s: %s", feed.name, exc)
            return result
        if fetched is None:
            result.not_modified = True
            self.store.finish(feed, ok=True, error=None)
            return result
        nodes, complete, etag, last_modified = fetched
        if not nodes and self.store.items(feed.id):
            # A feed that suddenly serves nothing is more often a broken server than a fact-checker retracting every
            # review at once: nothing is withdrawn (remove the feed to drop it).
            error = f"{feed.url}: the feed is empty now; nothing was withdrawn"
            result.errors.append(error)
            self.store.finish(feed, ok=False, error=error)
            return result
        if not complete:
            result.errors.append(f"{feed.url}: more than {self.max_items} reviews; the rest were ignored and nothing"
                                 " was withdrawn")
        self._apply(feed, nodes, complete, result)
        self.store.finish(feed, ok=True, error=result.errors[0][:1000] if result.errors else None, etag=etag,
                          last_modified=last_modified)
        log.info("feed %s", result.summary())
        return result

    def _headers(self, feed: Feed, conditional: bool) -> dict[str, str]:
        headers = {"Accept": MEDIA_TYPE_ACCEPT}
        if feed.api_key:
            headers["X-Verity-Key"] = feed.api_key
        if conditional and feed.etag:
            headers["If-None-Match"] = feed.etag
        if conditional and feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        return headers

    def _read(self, feed: Feed) -> tuple[list[dict[str, Any]], bool, str | None, str | None] | None:
        """Every page's reviews, whether all were read, and the first page's validators; None when not modified."""
        nodes: list[dict[str, Any]] = []
        url: str | None = feed.url
        etag = last_modified = None
        seen: set[str] = set()
        deadline = time.monotonic() + self.timeout_s * 4  # all pages together
        for page in range(MAX_PAGES):
            if url is None:
                return nodes, True, etag, last_modified
            if url in seen or time.monotonic() > deadline:
                raise FeedError(f"{feed.url}: its pages loop or take too long")
            seen.add(url)
            status, headers, body = self.fetcher.fetch(url, max_bytes=self.max_feed_bytes, timeout_s=self.timeout_s,
                                                       headers=self._headers(feed, conditional=page == 0))
            if status == 304 and page == 0:
                return None
            if status != 200:
                raise FeedError(f"{url}: the server answered {status}")
            if page == 0:
                etag, last_modified = headers.get("etag"), headers.get("last-modified")
            nodes.extend(parse_document(body, headers.get("content-type", ""), url))
            if len(nodes) > self.max_items:
                return nodes[:self.max_items], False, etag, last_modified
            url = _next_link(headers, url)
        raise FeedError(f"{feed.url}: more than {MAX_PAGES} pages")

    def _apply(self, feed: Feed, nodes: list[dict[str, Any]], complete: bool, result: SyncResult) -> None:
        known = self.store.items(feed.id)
        seen: set[str] = set()
        source = actor = f"feed:{feed.name}"
        for position, node in enumerate(nodes):
            key = item_key(node)
            if key in seen:
                key = f"{key}#{position}"
            seen.add(key)
            node_digest = digest(node)
            old = known.get(key)
            if old is not None and old[0] == node_digest:
                result.unchanged += 1
                continue
            label = f"item {position}" + (f" ({node['url']})" if isinstance(node.get("url"), str) else "")
            if DECLARED_TYPE in _types(node):
                self._apply_declared(feed, node, key, node_digest, label, result)
                continue
            try:
                refutation, media = self._describe(feed, node, position, label)
            except (ClaimsError, IngestError, FeedError) as exc:
                result.errors.append(f"{feed.name}: {exc}")
                continue
            with self.store.storage.transaction() as conn:
                if old is not None and old[1] is not None:
                    rid = self.ingest.replace(old[1], refutation, media, source=source, actor=actor, conn=conn)
                    result.updated += 1
                else:
                    rid = self.ingest.add([(refutation, media)], source=source, actor=actor, conn=conn)[0]
                    result.added += 1
                self.store.set_item(conn, feed.id, key, node_digest, rid)
            self.ingest.committed()
        if not complete:
            return
        for key, (_, rid) in known.items():
            if key in seen:
                continue
            with self.store.storage.transaction() as conn:
                if rid is not None:
                    try:
                        self.ingest.withdraw(rid, f"retracted: the review is no longer in feed {feed.name}",
                                             actor=actor, source=source, conn=conn)
                        result.withdrawn += 1
                    except (RefutationAlreadyWithdrawn, RefutationNotFound):
                        pass  # withdrawn by an admin meanwhile: nothing more to do
                self.store.drop_item(conn, feed.id, key)

    def _apply_declared(self, feed: Feed, node: dict[str, Any], key: str, node_digest: str, label: str,
                        result: SyncResult) -> None:
        """A declared-index entry of another Verity: into the declared index's one path (hashes only). Entries are
        kept when they later leave the feed: the index's own bounds (size, retention) drop them."""
        if self.declared is None:
            return  # this server runs without declared_match
        from .declared import DeclaredImportError

        try:
            added = self.declared.import_entries([node.get("verity:declared")], origin=f"feed:{feed.name}",
                                                 actor=f"feed:{feed.name}")
        except DeclaredImportError as exc:
            result.errors.append(f"{feed.name}: {label}: {exc}")
            return
        with self.store.storage.transaction() as conn:
            self.store.set_item(conn, feed.id, key, node_digest, None)
        result.declared += len(added)

    def _describe(self, feed: Feed, node: dict[str, Any], position: int, label: str) -> tuple[Refutation, list[Any]]:
        """Parse a review and describe its media: precomputed hashes from a Verity export, else the downloaded
        contentUrls (relative ones resolved against the feed URL)."""
        clean = {k: v for k, v in node.items() if k not in VERITY_KEYS}
        item = parse_item(clean, position)
        refutation = item.refutation
        refutation = Refutation(0, refutation.claim, refutation.rating, refutation.fact_checker, refutation.review_url,
                                refutation.date, refutation.language, refutation.explanation,
                                refutation.original_context, {**refutation.extra, "feed": feed.name})
        hashed = node.get("verity:media")
        if hashed is not None:
            if not isinstance(hashed, list):
                raise IngestError(f"{label}: field verity:media: expected a list")
            return refutation, self.ingest.describe_hashes(hashed, label)
        sources = []
        for url in item.content_urls:
            absolute = urljoin(feed.url, url)
            status, _, data = self.fetcher.fetch(absolute, max_bytes=self.max_media_bytes, timeout_s=self.timeout_s,
                                                 headers={"Accept": "image/*, video/*, audio/*, */*;q=0.1"})
            if status != 200 or not data:
                raise FeedError(f"{label}: field contentUrl: {absolute}: nothing downloaded (status {status})")
            sources.append(MediaSource(data, absolute))
        return refutation, self.ingest.describe(sources, label)


class FeedScheduler:
    """A daemon thread syncing due feeds every `poll_s`, while it holds the database lease (one process at a time)."""

    def __init__(self, sync: FeedSync, poll_s: float = 30.0) -> None:
        self.sync, self.poll_s = sync, poll_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[SyncResult] | None:
        """Sync what is due if this process gets the lease; None when another holds it."""
        if not self.sync.store.acquire_lease(self.holder):
            return None
        try:
            results = []
            for feed in self.sync.store.due(time.time()):
                results.append(self.sync.sync(feed))
                if not self.sync.store.acquire_lease(self.holder):  # renew between feeds; lost it: stop
                    break
            return results
        finally:
            self.sync.store.release_lease(self.holder)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.run_once()
            except Exception:  # a database hiccup must not end the thread; the next round retries
                log.exception("feed sync round failed")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="verity-feeds", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_scheduler(app: Any) -> FeedScheduler:
    """Start the feed scheduler for an app (create_app calls it unless VERIFY_FEED_SYNC is false, the app is testing,
    or a job queue is configured: then `build.py worker` runs it)."""
    scheduler = FeedScheduler(FeedSync.from_state(app.extensions["verify"], app.config))
    app.extensions["verity_feeds"] = scheduler
    scheduler.start()
    return scheduler
