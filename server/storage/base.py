"""The storage interface and the queries, written once.

The queries live once, in `SQLStorage`, written with `?` placeholders and SQL both engines accept; an engine supplies
its connections (`connect()`), its serialised write transaction (`transaction()`) and its migrations. SQLite records
the schema version in `PRAGMA user_version`; PostgreSQL (postgres.py) in a table, with DDL of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def load_migrations(engine: str) -> list[str]:
    """The engine's numbered migration scripts (migrations/<engine>/NNNN.sql), in order."""
    scripts = sorted((MIGRATIONS_DIR / engine).glob("[0-9][0-9][0-9][0-9].sql"))
    return [path.read_text(encoding="utf-8") for path in scripts]


# Append-only migrations, one numbered .sql file each in migrations/sqlite/: never edit one that has shipped.
MIGRATIONS: list[str] = load_migrations("sqlite")


def like_escape(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally: `\\`, `%` and `_` escaped for `ESCAPE '\\'`.

    Every LIKE built from client text uses this with `ESCAPE '\\'` (refutation search, the review queue search), so
    a search for `%` finds a literal percent sign instead of everything.
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class StorageError(Exception):
    """Base of the storage errors the API answers with a problem (server/errors.py)."""


class TextContainsNul(StorageError, ValueError):
    """A text value holds a NUL character: PostgreSQL refuses it, so both engines refuse it, before any write."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or stays locked (a restarting PostgreSQL, a lost connection): retry later."""


class RefutationNotFound(StorageError, LookupError):
    """No refutation has this id (404)."""


class RefutationAlreadyWithdrawn(StorageError):
    """The refutation was withdrawn before (409); a withdrawal is never repeated or undone."""


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """The tombstone of a withdrawn refutation: who withdrew it, when and why."""

    refutation_id: int
    reason: str
    actor: str
    time: float


# Refuted media of a withdrawn refutation no longer matches: every query the matchers use adds this condition.
_NOT_WITHDRAWN = "refutation_id NOT IN (SELECT refutation_id FROM refutation_withdrawals)"


def refuse_nul(args: Any) -> None:
    for value in args.values() if isinstance(args, dict) else args:
        if isinstance(value, str) and "\x00" in value:
            raise TextContainsNul("text must not contain NUL characters")


@dataclass(frozen=True, slots=True)
class Refutation:
    """A fact-checker's refutation. `extra` keeps schema.org fields Verity does not model (JSON-safe)."""

    id: int
    claim: str
    rating: str
    fact_checker: str
    review_url: str | None = None
    date: str | None = None
    language: str | None = None
    explanation: str | None = None
    original_context: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "claim": self.claim, "rating": self.rating, "fact_checker": self.fact_checker,
                "review_url": self.review_url, "date": self.date, "language": self.language,
                "explanation": self.explanation, "original_context": self.original_context}


@dataclass(frozen=True, slots=True)
class RefutedMedia:
    """Media a refutation covers.

    `hashes` holds perceptual hashes by kind: {"pdq": [{"region": "full", "hash": "<64 hex>"}, ...]} (a bare hex
    string is region "full"). Each kind is one hash family (images: "pdq"; video and audio add their own kinds).
    `stored_name` is the file name of the stored original under the data folder's media/ directory.
    """

    id: int
    refutation_id: int
    sha256: str
    media_type: str
    width: int | None = None
    height: int | None = None
    hashes: dict[str, Any] = field(default_factory=dict)
    content_url: str | None = None
    stored_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "sha256": self.sha256, "media_type": self.media_type, "width": self.width,
                "height": self.height, "content_url": self.content_url}


@dataclass(frozen=True, slots=True)
class HashRow:
    """One stored perceptual hash (a row of media_hashes)."""

    id: int
    media_id: int
    refutation_id: int
    region: str
    hash: bytes


@dataclass(frozen=True, slots=True)
class CachedVerdict:
    """A cached verdict body with the refutation generation it was computed at and its refutation probe (or None),
    and the declared generation (the newest declared_media id then)."""

    body: dict[str, Any]
    generation: int
    probe: dict[str, Any] | None
    declared_generation: int = 0


@dataclass(frozen=True, slots=True)
class DeclaredMedia:
    """One entry of the declared index (provenance memory): media whose own declaration said it is AI-generated or
    AI-edited, kept as its hashes and the declaration's summary, never its bytes.

    `hashes` has the shapes `refutation_index.describe_original` produces ("pdq" regions, "orb" keypoints, "vpdq",
    "chromaprint"). `declaration` summarises what declared it ({check, by, digital_source_type, summary, ...});
    `declaration_kind` says what was declared: "generated" (the whole item is AI output) or "edited" (an AI edit or
    composite of other media, e.g. C2PA compositeWithTrainedAlgorithmicMedia: its source photo is not AI, so a match
    says little about a copy). `origin` is "local" or the feed/peer it came from.
    """

    id: int
    sha256: str
    media_type: str
    width: int | None
    height: int | None
    hashes: dict[str, Any]
    declaration: dict[str, Any]
    declaration_kind: str
    seen_at: float
    origin: str = "local"

    def as_original(self) -> RefutedMedia:
        """The matcher's view of the entry (the same record the refutation originals use; no refutation, no file)."""
        return RefutedMedia(self.id, 0, self.sha256, self.media_type, self.width, self.height, self.hashes)

    def to_json(self, keypoints: bool = True) -> dict[str, Any]:
        """The exchanged form (export, feeds, Verity-to-Verity sync): hashes and the declaration only. The keypoints
        ("orb", ~40 kB an image) let the receiver verify a match geometrically as the sender does; without them it
        accepts only close PDQ matches."""
        return {"sha256": self.sha256, "media_type": self.media_type, "width": self.width, "height": self.height,
                "hashes": {k: v for k, v in self.hashes.items() if keypoints or k != "orb"},
                "declaration": self.declaration, "declaration_kind": self.declaration_kind, "seen_at": self.seen_at}


@dataclass(frozen=True, slots=True)
class Record:
    id: int
    time: float
    sha256: str
    media_type: str
    label: str
    source_url: str | None
    page_url: str | None
    cached: bool


class Cursor(Protocol):
    """What callers use of a cursor (sqlite3.Cursor and psycopg's cursor both have it)."""

    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """One thread's connection: `?` placeholders; rows indexable by position and by column name."""

    def execute(self, sql: str, args: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, rows: Any, /) -> Cursor: ...


class Storage(Protocol):
    dialect: str
    IntegrityError: tuple[type[BaseException], ...]

    def connect(self) -> Connection: ...
    def transaction(self, durable: bool = True) -> Any: ...
    def like(self) -> str: ...
    def group_concat_distinct(self, expr: str) -> str: ...
    def get_verdict(self, sha256: str, pipeline: str) -> dict[str, Any] | None: ...
    def put_verdict(self, sha256: str, pipeline: str, body: dict[str, Any]) -> None: ...
    def add_record(self, sha256: str, media_type: str, label: str, source_url: str | None = None,
                   page_url: str | None = None, cached: bool = False, conn: Connection | None = None,
                   client: str | None = None) -> int: ...
    def records(self, sha256: str | None = None, limit: int = 100) -> list[Record]: ...
    def add_refutation(self, refutation: Refutation, media: list[RefutedMedia]) -> int: ...
    def add_refutations(self, batch: list[tuple[Refutation, list[RefutedMedia]]]) -> list[int]: ...
    def get_refutation(self, refutation_id: int) -> Refutation | None: ...
    def refuted_media(self, refutation_id: int | None = None, sha256: str | None = None,
                      include_withdrawn: bool = False) -> list[RefutedMedia]: ...
    def refuted_media_by_id(self, media_id: int, include_withdrawn: bool = False) -> RefutedMedia | None: ...
    def withdraw_refutation(self, refutation_id: int, reason: str, actor: str,
                            conn: Connection | None = None) -> Withdrawal: ...
    def withdrawal(self, refutation_id: int) -> Withdrawal | None: ...
    def list_refutations(self, query: str | None = None, limit: int = 20, offset: int = 0) -> tuple[list[Refutation], int]: ...
    def media_hashes(self, kind: str, after_id: int = 0) -> list[HashRow]: ...
    def refutation_generation(self) -> int: ...
    def close(self) -> None: ...


class SQLStorage:
    """The queries, shared by the engines. Subclasses provide connect(), transaction() and migrate()."""

    dialect = "sql"
    IntegrityError: tuple[type[BaseException], ...] = ()
    # Where the audit chain's head is anchored outside the database (server/audit.py AnchorFile); set by open_storage
    # to DATA_DIR/audit-anchor.json. None (a storage opened on its own): the chain is not anchored.
    anchor_path: Path | None = None

    def connect(self) -> Connection:
        raise NotImplementedError

    def on_commit(self, fn: Callable[[bool], None]) -> None:
        """Run `fn(durable)` once the write transaction open on this thread has committed; dropped if it rolls back.
        With no transaction open, the write was its own autocommitted statement, already durable: run at once.

        Why: what must follow a commit and not precede it (the audit anchor written outside the database must never
        name an entry that a rollback, or a non-durable commit lost on power failure, took back)."""
        hooks: list[Callable[[bool], None]] | None = getattr(self._local, "commit_hooks", None)  # type: ignore[attr-defined]
        if hooks is None:
            fn(True)
        else:
            hooks.append(fn)

    def _open_hooks(self) -> list[Callable[[bool], None]] | None:
        """Start collecting commit hooks for a transaction on this thread; returns the enclosing collection."""
        outer = getattr(self._local, "commit_hooks", None)  # type: ignore[attr-defined]
        self._local.commit_hooks = []  # type: ignore[attr-defined]
        return outer

    def _close_hooks(self, outer: list[Callable[[bool], None]] | None) -> list[Callable[[bool], None]]:
        """Stop collecting; returns this transaction's hooks."""
        hooks: list[Callable[[bool], None]] = getattr(self._local, "commit_hooks", None) or []  # type: ignore[attr-defined]
        self._local.commit_hooks = outer  # type: ignore[attr-defined]
        return hooks

    def transaction(self, durable: bool = True) -> Any:
        raise NotImplementedError

    def like(self) -> str:
        """The case-insensitive LIKE operator (SQLite's LIKE already ignores ASCII case)."""
        return "LIKE"

    def group_concat_distinct(self, expr: str) -> str:
        return f"GROUP_CONCAT(DISTINCT {expr})"

    def get_verdict(self, sha256: str, pipeline: str) -> dict[str, Any] | None:
        row = self.connect().execute("SELECT body FROM verdicts WHERE sha256 = ? AND pipeline = ?",
                                     (sha256, pipeline)).fetchone()
        return json.loads(row["body"]) if row else None

    def put_verdict(self, sha256: str, pipeline: str, body: dict[str, Any], generation: int = 0,
                    probe: dict[str, Any] | None = None, declared_generation: int = 0) -> None:
        self.connect().execute(
            "INSERT INTO verdicts (sha256, pipeline, body, created, generation, probe, declared_generation)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (sha256, pipeline) DO UPDATE SET body = excluded.body, created = excluded.created,"
            " generation = excluded.generation, probe = excluded.probe,"
            " declared_generation = excluded.declared_generation",
            (sha256, pipeline, json.dumps(body, separators=(",", ":")), time.time(), generation,
             json.dumps(probe, separators=(",", ":")) if probe is not None else None, declared_generation))

    def get_cached_verdict(self, sha256: str, pipeline: str) -> CachedVerdict | None:
        row = self.connect().execute("SELECT body, generation, probe, declared_generation FROM verdicts"
                                     " WHERE sha256 = ? AND pipeline = ?", (sha256, pipeline)).fetchone()
        if row is None:
            return None
        return CachedVerdict(json.loads(row["body"]), int(row["generation"]),
                             json.loads(row["probe"]) if row["probe"] else None, int(row["declared_generation"]))

    def revalidate_verdict(self, sha256: str, pipeline: str, generation: int, declared_generation: int = 0) -> None:
        """Record that a cached verdict still holds at `generation` and `declared_generation` (only move forward)."""
        self.connect().execute(
            "UPDATE verdicts SET generation = CASE WHEN generation < ? THEN ? ELSE generation END,"
            " declared_generation = CASE WHEN declared_generation < ? THEN ? ELSE declared_generation END"
            " WHERE sha256 = ? AND pipeline = ?",
            (generation, generation, declared_generation, declared_generation, sha256, pipeline))


    def refuted_since(self, after_id: int, sha256: str | None = None) -> bool:
        """Whether refuted media was added after row `after_id` (with this sha256, when given)."""
        sql = "SELECT 1 FROM refuted_media WHERE id > ?" + (" AND sha256 = ?" if sha256 else "") + " LIMIT 1"
        return self.connect().execute(sql, (after_id, sha256) if sha256 else (after_id,)).fetchone() is not None

    def add_record(self, sha256: str, media_type: str, label: str, source_url: str | None = None,
                   page_url: str | None = None, cached: bool = False, conn: Connection | None = None,
                   client: str | None = None) -> int:
        """One identification record; `client` names the API key the request came with (a team server)."""
        cur = (conn or self.connect()).execute(
            "INSERT INTO records (time, sha256, media_type, label, source_url, page_url, cached, client)"
            " VALUES (?,?,?,?,?,?,?,?) RETURNING id",
            (time.time(), sha256, media_type, label, source_url, page_url, int(cached), client))
        return int(cur.fetchone()[0])

    def records(self, sha256: str | None = None, limit: int = 100) -> list[Record]:
        sql = "SELECT * FROM records" + (" WHERE sha256 = ?" if sha256 else "") + " ORDER BY id DESC LIMIT ?"
        args: tuple[Any, ...] = (sha256, limit) if sha256 else (limit,)
        return [Record(r["id"], r["time"], r["sha256"], r["media_type"], r["label"], r["source_url"],
                       r["page_url"], bool(r["cached"])) for r in self.connect().execute(sql, args)]

    def add_refutation(self, refutation: Refutation, media: list[RefutedMedia]) -> int:
        """Store a refutation and its media in one transaction; returns the new refutation id (ids in the arguments are ignored)."""
        return self.add_refutations([(refutation, media)])[0]

    def add_refutations(self, batch: list[tuple[Refutation, list[RefutedMedia]]]) -> list[int]:
        """Store several refutations with their media and hashes in one transaction (all or nothing)."""
        # One writer at a time (transaction()): ids then commit in order, so a matcher that reads rows "after the last
        # id it saw" never skips a row committed late with a smaller id.
        with self.transaction() as conn:
            return self.insert_refutations(conn, batch)

    def insert_refutations(self, conn: Connection, batch: list[tuple[Refutation, list[RefutedMedia]]]) -> list[int]:
        """The inserts of add_refutations inside the caller's write transaction; returns the new refutation ids."""
        ids = []
        now = time.time()
        for refutation, media in batch:
            cur = conn.execute(
                "INSERT INTO refutations (claim, rating, fact_checker, review_url, date, language, explanation,"
                " original_context, extra, created) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (refutation.claim, refutation.rating, refutation.fact_checker, refutation.review_url,
                 refutation.date, refutation.language, refutation.explanation, refutation.original_context,
                 json.dumps(refutation.extra), now))
            rid = int(cur.fetchone()[0])
            ids.append(rid)
            for m in media:
                mcur = conn.execute(
                    "INSERT INTO refuted_media (refutation_id, sha256, media_type, width, height, hashes,"
                    " content_url, created, stored_name) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
                    (rid, m.sha256, m.media_type, m.width, m.height, json.dumps(m.hashes), m.content_url, now,
                     m.stored_name))
                self._insert_hash_rows(conn, int(mcur.fetchone()[0]), rid, m.hashes)
        return ids

    @staticmethod
    def _insert_hash_rows(conn: Connection, media_id: int, refutation_id: int, hashes: dict[str, Any]) -> None:
        rows = [(media_id, refutation_id, kind, region, digest) for kind, region, digest in _hash_rows(hashes)]
        if rows:
            conn.executemany("INSERT INTO media_hashes (media_id, refutation_id, kind, region, hash) VALUES (?,?,?,?,?)",
                             rows)

    def media_to_rehash(self, limit: int = 100) -> list[RefutedMedia]:
        """Refuted media whose hashes predate the single ingestion path (migration 7), oldest first."""
        rows = self.connect().execute("SELECT * FROM refuted_media WHERE hash_version = 0 ORDER BY id LIMIT ?",
                                      (limit,)).fetchall()
        return [_refuted_media(r) for r in rows]

    def replace_media_hashes(self, conn: Connection, media: RefutedMedia) -> None:
        """Give a refuted media row the hashes recomputed from its bytes (and mark it current).

        The old hash rows go first: the append-only triggers (migration 11) let them be deleted only while their
        media row is still at hash_version 0, and let the row itself change only from version 0 to 1."""
        conn.execute("DELETE FROM media_hashes WHERE media_id = ?", (media.id,))
        conn.execute("UPDATE refuted_media SET hashes = ?, width = ?, height = ?, stored_name = ?, hash_version = 1"
                     " WHERE id = ?", (json.dumps(media.hashes), media.width, media.height, media.stored_name,
                                       media.id))
        self._insert_hash_rows(conn, media.id, media.refutation_id, media.hashes)

    def report_items_to_rehash(self, limit: int = 100) -> list[tuple[int, str]]:
        """(item id, sha256) of report items whose PDQ predates the single hashing module (migration 7)."""
        return [(int(r["id"]), r["sha256"]) for r in self.connect().execute(
            "SELECT id, sha256 FROM report_items WHERE pdq_version = 0 ORDER BY id LIMIT ?", (limit,))]

    def set_report_pdq(self, item_id: int, pdq: str | None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE report_items SET pdq = ?, pdq_version = 1 WHERE id = ?", (pdq, item_id))

    def get_refutation(self, refutation_id: int) -> Refutation | None:
        row = self.connect().execute("SELECT * FROM refutations WHERE id = ?", (refutation_id,)).fetchone()
        return _refutation(row) if row is not None else None

    def refuted_media(self, refutation_id: int | None = None, sha256: str | None = None,
                      include_withdrawn: bool = False) -> list[RefutedMedia]:
        """Refuted media, in id order; those of withdrawn refutations only with `include_withdrawn` (display)."""
        where, args = [] if include_withdrawn else [_NOT_WITHDRAWN], []
        if refutation_id is not None:
            where.append("refutation_id = ?")
            args.append(refutation_id)
        if sha256 is not None:
            where.append("sha256 = ?")
            args.append(sha256)
        sql = "SELECT * FROM refuted_media" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [_refuted_media(r) for r in self.connect().execute(sql, args)]

    def refuted_media_by_id(self, media_id: int, include_withdrawn: bool = False) -> RefutedMedia | None:
        """One refuted media item by its id (None for a withdrawn refutation's unless `include_withdrawn`)."""
        sql = "SELECT * FROM refuted_media WHERE id = ?" + ("" if include_withdrawn else " AND " + _NOT_WITHDRAWN)
        row = self.connect().execute(sql, (media_id,)).fetchone()
        return _refuted_media(row) if row is not None else None

    def withdraw_refutation(self, refutation_id: int, reason: str, actor: str,
                            conn: Connection | None = None) -> Withdrawal:
        """Withdraw a wrongful refutation: an append-only tombstone (who, when, why); the refutation row stays.

        From then on its media no longer match (refuted_media, refuted_media_by_id and media_hashes skip it), and
        cached verdicts are dropped, since any of them may have matched it (withdrawals are rare; additions, which
        are frequent, revalidate instead). With `conn`, the caller's transaction is used, so an audit entry can
        commit with it.

        Raises:
            RefutationNotFound: no such refutation.
            RefutationAlreadyWithdrawn: it was withdrawn before.
            TextContainsNul: the reason holds NUL.
        """
        if conn is None:
            with self.transaction() as own:
                return self.withdraw_refutation(refutation_id, reason, actor, conn=own)
        if conn.execute("SELECT 1 FROM refutations WHERE id = ?", (refutation_id,)).fetchone() is None:
            raise RefutationNotFound(f"no refutation {refutation_id}")
        if conn.execute("SELECT 1 FROM refutation_withdrawals WHERE refutation_id = ?",
                        (refutation_id,)).fetchone() is not None:
            raise RefutationAlreadyWithdrawn(f"refutation {refutation_id} was already withdrawn")
        withdrawal = Withdrawal(refutation_id, reason, actor, time.time())
        conn.execute("INSERT INTO refutation_withdrawals (refutation_id, reason, actor, time) VALUES (?, ?, ?, ?)",
                     (withdrawal.refutation_id, withdrawal.reason, withdrawal.actor, withdrawal.time))
        conn.execute("DELETE FROM verdicts")
        return withdrawal

    def withdrawal(self, refutation_id: int) -> Withdrawal | None:
        """The tombstone of a withdrawn refutation, or None while it stands."""
        row = self.connect().execute("SELECT * FROM refutation_withdrawals WHERE refutation_id = ?",
                                     (refutation_id,)).fetchone()
        return Withdrawal(int(row["refutation_id"]), row["reason"], row["actor"], float(row["time"])) if row else None

    def list_refutations(self, query: str | None = None, limit: int = 20,
                         offset: int = 0) -> tuple[list[Refutation], int]:
        """A page of refutations, newest first, optionally those whose texts contain `query`; and the total count."""
        where, args = "", []
        if query:
            like = "%" + like_escape(query) + "%"
            where = " WHERE " + " OR ".join(f"{column} {self.like()} ? ESCAPE '\\'" for column in
                                            ("claim", "explanation", "fact_checker", "original_context", "rating"))
            args = [like] * 5
        conn = self.connect()
        total = int(conn.execute("SELECT count(*) FROM refutations" + where, args).fetchone()[0])
        rows = conn.execute("SELECT * FROM refutations" + where + " ORDER BY id DESC LIMIT ? OFFSET ?",
                            [*args, limit, offset]).fetchall()
        return [_refutation(r) for r in rows], total

    def media_hashes(self, kind: str, after_id: int = 0) -> list[HashRow]:
        """Stored hashes of one kind with row id above `after_id`, in id order (the matcher's incremental load)."""
        rows = self.connect().execute(
            "SELECT id, media_id, refutation_id, region, hash FROM media_hashes WHERE kind = ? AND id > ? AND "
            + _NOT_WITHDRAWN + " ORDER BY id", (kind, after_id))
        return [HashRow(*r) for r in rows]

    def refutation_generation(self) -> int:
        """Grows with every refutation write: part of the verdict cache key, so a new refutation is never hidden."""
        row = self.connect().execute("SELECT coalesce(max(id), 0) FROM refuted_media").fetchone()
        return int(row[0])

    # --- the declared index (provenance memory) ------------------------------------------------------------------

    def add_declared(self, items: list[DeclaredMedia], conn: Connection | None = None) -> dict[str, int]:
        """Store declared-index entries with their indexed hash rows; an sha256 already present is kept as it was
        (the first declaration seen stays). Returns {sha256: new id} of the entries stored now."""
        if conn is None:
            with self.transaction() as own:
                return self.add_declared(items, conn=own)
        ids: dict[str, int] = {}
        for item in items:
            row = conn.execute(
                "INSERT INTO declared_media (sha256, media_type, width, height, hashes, declaration, declaration_kind,"
                " seen_at, origin) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (sha256) DO NOTHING RETURNING id",
                (item.sha256, item.media_type, item.width, item.height, json.dumps(item.hashes),
                 json.dumps(item.declaration), item.declaration_kind, item.seen_at, item.origin)).fetchone()
            if row is None:
                continue
            mid = ids[item.sha256] = int(row[0])
            rows = [(mid, kind, region, digest) for kind, region, digest in _hash_rows(item.hashes)
                    if region.split(":")[-1] in DECLARED_INDEXED_REGIONS]
            if rows:
                conn.executemany("INSERT INTO declared_hashes (media_id, kind, region, hash) VALUES (?,?,?,?)", rows)
        return ids

    def declared_hashes(self, kind: str, after_id: int = 0) -> list[HashRow]:
        """Declared-index hash rows of one kind above `after_id`, in id order (the matcher's incremental load)."""
        rows = self.connect().execute("SELECT id, media_id, 0, region, hash FROM declared_hashes WHERE kind = ?"
                                      " AND id > ? ORDER BY id", (kind, after_id))
        return [HashRow(*r) for r in rows]

    def declared_by_id(self, media_id: int) -> DeclaredMedia | None:
        row = self.connect().execute("SELECT * FROM declared_media WHERE id = ?", (media_id,)).fetchone()
        return _declared(row) if row is not None else None

    def declared_by_sha256(self, sha256: str) -> DeclaredMedia | None:
        row = self.connect().execute("SELECT * FROM declared_media WHERE sha256 = ?", (sha256,)).fetchone()
        return _declared(row) if row is not None else None

    def declared_entries(self, after_id: int = 0, limit: int = 1000, offset: int = 0) -> list[DeclaredMedia]:
        """Entries above `after_id`, oldest first (export, feeds, sync pages)."""
        rows = self.connect().execute("SELECT * FROM declared_media WHERE id > ? ORDER BY id LIMIT ? OFFSET ?",
                                      (after_id, limit, offset)).fetchall()
        return [_declared(r) for r in rows]

    def declared_clips(self) -> list[DeclaredMedia]:
        """The video and audio entries (their clip fingerprints are matched by clip_match's one matching path)."""
        rows = self.connect().execute("SELECT * FROM declared_media WHERE media_type IN ('video', 'audio')"
                                      " ORDER BY id").fetchall()
        return [_declared(r) for r in rows]

    def declared_clip_version(self) -> tuple[int, int]:
        """Changes whenever a video or audio entry is added or pruned: (count, newest id)."""
        row = self.connect().execute("SELECT count(*), coalesce(max(id), 0) FROM declared_media"
                                     " WHERE media_type IN ('video', 'audio')").fetchone()
        return int(row[0]), int(row[1])

    def declared_count(self) -> int:
        return int(self.connect().execute("SELECT count(*) FROM declared_media").fetchone()[0])

    def declared_generation(self) -> int:
        """Grows with every declared-index write (the newest entry id): cached verdicts keep the one they saw."""
        return int(self.connect().execute("SELECT coalesce(max(id), 0) FROM declared_media").fetchone()[0])

    def declared_since(self, after_id: int, sha256: str | None = None, media_type: str | None = None) -> bool:
        """Whether an entry was added after `after_id` (with this sha256 or of this media type, when given)."""
        sql, args = "SELECT 1 FROM declared_media WHERE id > ?", [after_id]
        for column, value in (("sha256", sha256), ("media_type", media_type)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        return self.connect().execute(sql + " LIMIT 1", args).fetchone() is not None

    def prune_declared(self, max_entries: int, older_than: float | None) -> int:
        """Bound the declared index: drop entries seen before `older_than` (a time), then the oldest beyond
        `max_entries`. Returns how many were dropped (their hash rows go with them)."""
        with self.transaction() as conn:
            dropped = 0
            if older_than is not None:
                conn.execute("DELETE FROM declared_hashes WHERE media_id IN"
                             " (SELECT id FROM declared_media WHERE seen_at < ?)", (older_than,))
                dropped += conn.execute("DELETE FROM declared_media WHERE seen_at < ?", (older_than,)).rowcount
            total = int(conn.execute("SELECT count(*) FROM declared_media").fetchone()[0])
            if max_entries >= 0 and total > max_entries:
                cut = conn.execute("SELECT seen_at, id FROM declared_media ORDER BY seen_at DESC, id DESC"
                                   " LIMIT 1 OFFSET ?", (max_entries,)).fetchone()
                doomed = "(seen_at < ? OR (seen_at = ? AND id <= ?))"
                args = (cut["seen_at"], cut["seen_at"], cut["id"])
                conn.execute("DELETE FROM declared_hashes WHERE media_id IN (SELECT id FROM declared_media WHERE "
                             + doomed + ")", args)
                dropped += conn.execute("DELETE FROM declared_media WHERE " + doomed, args).rowcount
            return dropped

def _refutation(row: Any) -> Refutation:
    return Refutation(row["id"], row["claim"], row["rating"], row["fact_checker"], row["review_url"], row["date"],
                      row["language"], row["explanation"], row["original_context"], json.loads(row["extra"]))


def _declared(r: Any) -> DeclaredMedia:
    return DeclaredMedia(int(r["id"]), r["sha256"], r["media_type"], r["width"], r["height"], json.loads(r["hashes"]),
                         json.loads(r["declaration"]), r["declaration_kind"], float(r["seen_at"]), r["origin"])


def _refuted_media(r: Any) -> RefutedMedia:
    return RefutedMedia(r["id"], r["refutation_id"], r["sha256"], r["media_type"], r["width"], r["height"],
                        json.loads(r["hashes"]), r["content_url"], r["stored_name"])


# Hash kinds copied into media_hashes for the in-memory index; other kinds (e.g. a clip's "vpdq" frame list or a
# "chromaprint" fingerprint) and metadata (e.g. "pdq_quality") stay in refuted_media.hashes only.
INDEXED_HASH_KINDS = frozenset({"pdq"})


# The region hashes of a declared entry that go into the index (of each trim stage; the others stay in the JSON and
# are exported): a platform's copy keeps the whole picture, so the full frame and the central 90 % find it within the
# PDQ radius, and the keypoint stage finds heavier crops, mirroring and overlays. Four rows an entry at most instead of
# ~34 keep the declared lookup's first stage to a few milliseconds at a million entries (`build.py bench declared`).
DECLARED_INDEXED_REGIONS = frozenset({"full", "crop90_center"})


def _hash_rows(hashes: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """(kind, region, raw bytes) for every indexed hash in a RefutedMedia.hashes mapping."""
    out = []
    for kind, entries in hashes.items():
        if kind not in INDEXED_HASH_KINDS:
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            region, hexdigest = ("full", entry) if isinstance(entry, str) else (entry["region"], entry["hash"])
            out.append((kind, region, bytes.fromhex(hexdigest)))
    return out


