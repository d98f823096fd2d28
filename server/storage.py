"""Storage behind one interface: SQLite (WAL) is the embedded default; PostgreSQL when VERIFY_DATABASE_URL is set.

The queries live once, in `SQLStorage`, written with `?` placeholders and SQL both engines accept; an engine supplies
its connections (`connect()`), its serialised write transaction (`transaction()`) and its migrations. SQLite records
the schema version in `PRAGMA user_version`; PostgreSQL (server/storage_pg.py) in a table, with DDL of its own.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# Append-only migrations: never edit one that has shipped; add the next.
MIGRATIONS: list[str] = [
    # 1: verdict cache and the identification records (Art. 12/17 of the 2020 Regulations: records and logs)
    """
    CREATE TABLE verdicts (
        sha256 TEXT NOT NULL,
        pipeline TEXT NOT NULL,
        body TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (sha256, pipeline)
    );
    CREATE TABLE records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time REAL NOT NULL,
        sha256 TEXT NOT NULL,
        media_type TEXT NOT NULL,
        label TEXT NOT NULL,
        source_url TEXT,
        page_url TEXT,
        cached INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX records_sha256 ON records (sha256);
    CREATE TRIGGER records_no_update BEFORE UPDATE ON records
        BEGIN SELECT RAISE(ABORT, 'records are append-only'); END;
    CREATE TRIGGER records_no_delete BEFORE DELETE ON records
        BEGIN SELECT RAISE(ABORT, 'records are append-only'); END;
    """,
    # 2: refutations (Art. 13 rumor refutation) and the media they cover
    """
    CREATE TABLE refutations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        claim TEXT NOT NULL,
        rating TEXT NOT NULL,
        fact_checker TEXT NOT NULL,
        review_url TEXT,
        date TEXT,
        language TEXT,
        explanation TEXT,
        original_context TEXT,
        extra TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    );
    CREATE TABLE refuted_media (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        refutation_id INTEGER NOT NULL REFERENCES refutations(id) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        media_type TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        hashes TEXT NOT NULL DEFAULT '{}',
        content_url TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX refuted_media_sha256 ON refuted_media (sha256);
    CREATE INDEX refuted_media_refutation ON refuted_media (refutation_id);
    """,
    # 3: reports and their review (Art. 15 complaint entry), reviewer accounts, the hash-chained audit log (Art. 12/14/17)
    """
    CREATE TABLE report_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sha256 TEXT NOT NULL UNIQUE,
        media_type TEXT,
        pdq TEXT,
        has_bytes INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'open',
        report_count INTEGER NOT NULL DEFAULT 0,
        first_reported REAL NOT NULL,
        last_reported REAL NOT NULL,
        decision_id INTEGER
    );
    CREATE INDEX report_items_queue ON report_items (status, report_count DESC, last_reported DESC);
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES report_items(id),
        time REAL NOT NULL,
        category TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        source_url TEXT,
        page_url TEXT,
        receipt_sha256 TEXT NOT NULL,
        client TEXT NOT NULL
    );
    CREATE INDEX reports_item ON reports (item_id);
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id INTEGER NOT NULL REFERENCES report_items(id),
        time REAL NOT NULL,
        action TEXT NOT NULL,
        note TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        refutation_id INTEGER REFERENCES refutations(id),
        evidence TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL
    );
    CREATE TABLE review_sessions (
        id_sha256 TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL NOT NULL
    );
    CREATE TABLE login_failures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        time REAL NOT NULL
    );
    CREATE INDEX login_failures_name ON login_failures (name, time);
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        subject TEXT,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE audit_prune (active INTEGER NOT NULL);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log WHEN NOT EXISTS (SELECT 1 FROM audit_prune)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (pruned only by retention)'); END;
    """,
    # 4: perceptual hashes of refuted media, one row per (kind, region) as raw bytes, so the matcher loads a million
    # of them with one scan and later reads only rows newer than the last it saw; the stored original's file name.
    """
    CREATE TABLE media_hashes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        media_id INTEGER NOT NULL REFERENCES refuted_media(id) ON DELETE CASCADE,
        refutation_id INTEGER NOT NULL REFERENCES refutations(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        region TEXT NOT NULL,
        hash BLOB NOT NULL
    );
    CREATE INDEX media_hashes_kind ON media_hashes (kind, id);
    ALTER TABLE refuted_media ADD COLUMN stored_name TEXT;
    """,
    # 5: background verification jobs for long audio/video (server/jobs.py)
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        media_type TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        stage TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        source_url TEXT,
        page_url TEXT,
        owner TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        problem TEXT,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX jobs_status ON jobs (status, created);
    """,
    # 6: the verdict cache revalidates instead of flushing: each verdict keeps the refutation generation it was
    # computed at and the perceptual hashes its refutation lookup searched with (server/verdict_cache.py)
    """
    ALTER TABLE verdicts ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE verdicts ADD COLUMN probe TEXT;
    """,    # 7: records are deleted after their retention period (server/retention.py): deletes pass only while a marker
    # row exists inside the pruning transaction, as for the audit log; updates stay refused
    """
    CREATE TABLE records_prune (active INTEGER NOT NULL);
    DROP TRIGGER records_no_delete;
    CREATE TRIGGER records_no_delete BEFORE DELETE ON records WHEN NOT EXISTS (SELECT 1 FROM records_prune)
        BEGIN SELECT RAISE(ABORT, 'records are append-only (deleted only by retention)'); END;
    """,
]


class StorageError(Exception):
    """Base of the storage errors the API answers with a problem (server/errors.py)."""


class TextContainsNul(StorageError, ValueError):
    """A text value holds a NUL character: PostgreSQL refuses it, so both engines refuse it, before any write."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or stays locked (a restarting PostgreSQL, a lost connection): retry later."""


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
    """A cached verdict body with the refutation generation it was computed at and its refutation probe (or None)."""

    body: dict[str, Any]
    generation: int
    probe: dict[str, Any] | None


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
                   page_url: str | None = None, cached: bool = False, conn: Connection | None = None) -> int: ...
    def records(self, sha256: str | None = None, limit: int = 100) -> list[Record]: ...
    def add_refutation(self, refutation: Refutation, media: list[RefutedMedia]) -> int: ...
    def add_refutations(self, batch: list[tuple[Refutation, list[RefutedMedia]]]) -> list[int]: ...
    def get_refutation(self, refutation_id: int) -> Refutation | None: ...
    def refuted_media(self, refutation_id: int | None = None, sha256: str | None = None) -> list[RefutedMedia]: ...
    def refuted_media_by_id(self, media_id: int) -> RefutedMedia | None: ...
    def list_refutations(self, query: str | None = None, limit: int = 20, offset: int = 0) -> tuple[list[Refutation], int]: ...
    def media_hashes(self, kind: str, after_id: int = 0) -> list[HashRow]: ...
    def refutation_generation(self) -> int: ...
    def close(self) -> None: ...


class SQLStorage:
    """The queries, shared by the engines. Subclasses provide connect(), transaction() and migrate()."""

    dialect = "sql"
    IntegrityError: tuple[type[BaseException], ...] = ()

    def connect(self) -> Connection:
        raise NotImplementedError

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
                    probe: dict[str, Any] | None = None) -> None:
        self.connect().execute(
            "INSERT INTO verdicts (sha256, pipeline, body, created, generation, probe) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (sha256, pipeline) DO UPDATE SET body = excluded.body, created = excluded.created,"
            " generation = excluded.generation, probe = excluded.probe",
            (sha256, pipeline, json.dumps(body, separators=(",", ":")), time.time(), generation,
             json.dumps(probe, separators=(",", ":")) if probe is not None else None))

    def get_cached_verdict(self, sha256: str, pipeline: str) -> CachedVerdict | None:
        row = self.connect().execute("SELECT body, generation, probe FROM verdicts WHERE sha256 = ? AND pipeline = ?",
                                     (sha256, pipeline)).fetchone()
        if row is None:
            return None
        return CachedVerdict(json.loads(row["body"]), int(row["generation"]),
                             json.loads(row["probe"]) if row["probe"] else None)

    def revalidate_verdict(self, sha256: str, pipeline: str, generation: int) -> None:
        """Record that a cached verdict still holds at `generation` (only ever moves forward)."""
        self.connect().execute("UPDATE verdicts SET generation = ? WHERE sha256 = ? AND pipeline = ? AND generation < ?",
                               (generation, sha256, pipeline, generation))

    def refuted_since(self, after_id: int, sha256: str | None = None) -> bool:
        """Whether refuted media was added after row `after_id` (with this sha256, when given)."""
        sql = "SELECT 1 FROM refuted_media WHERE id > ?" + (" AND sha256 = ?" if sha256 else "") + " LIMIT 1"
        return self.connect().execute(sql, (after_id, sha256) if sha256 else (after_id,)).fetchone() is not None

    def add_record(self, sha256: str, media_type: str, label: str, source_url: str | None = None,
                   page_url: str | None = None, cached: bool = False, conn: Connection | None = None) -> int:
        cur = (conn or self.connect()).execute(
            "INSERT INTO records (time, sha256, media_type, label, source_url, page_url, cached) VALUES (?,?,?,?,?,?,?)"
            " RETURNING id", (time.time(), sha256, media_type, label, source_url, page_url, int(cached)))
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
        ids = []
        # One writer at a time (transaction()): ids then commit in order, so a matcher that reads rows "after the last
        # id it saw" never skips a row committed late with a smaller id.
        with self.transaction() as conn:
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
                    mid = int(mcur.fetchone()[0])
                    rows = [(mid, rid, kind, region, digest) for kind, region, digest in _hash_rows(m.hashes)]
                    if rows:
                        conn.executemany(
                            "INSERT INTO media_hashes (media_id, refutation_id, kind, region, hash) VALUES (?,?,?,?,?)",
                            rows)
        return ids

    def get_refutation(self, refutation_id: int) -> Refutation | None:
        row = self.connect().execute("SELECT * FROM refutations WHERE id = ?", (refutation_id,)).fetchone()
        return _refutation(row) if row is not None else None

    def refuted_media(self, refutation_id: int | None = None, sha256: str | None = None) -> list[RefutedMedia]:
        where, args = [], []
        if refutation_id is not None:
            where.append("refutation_id = ?")
            args.append(refutation_id)
        if sha256 is not None:
            where.append("sha256 = ?")
            args.append(sha256)
        sql = "SELECT * FROM refuted_media" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [_refuted_media(r) for r in self.connect().execute(sql, args)]

    def refuted_media_by_id(self, media_id: int) -> RefutedMedia | None:
        """One refuted media item by its id."""
        row = self.connect().execute("SELECT * FROM refuted_media WHERE id = ?", (media_id,)).fetchone()
        return _refuted_media(row) if row is not None else None

    def list_refutations(self, query: str | None = None, limit: int = 20,
                         offset: int = 0) -> tuple[list[Refutation], int]:
        """A page of refutations, newest first, optionally those whose texts contain `query`; and the total count."""
        where, args = "", []
        if query:
            like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
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
            "SELECT id, media_id, refutation_id, region, hash FROM media_hashes WHERE kind = ? AND id > ? ORDER BY id",
            (kind, after_id))
        return [HashRow(*r) for r in rows]

    def refutation_generation(self) -> int:
        """Grows with every refutation write: part of the verdict cache key, so a new refutation is never hidden."""
        row = self.connect().execute("SELECT coalesce(max(id), 0) FROM refuted_media").fetchone()
        return int(row[0])

class _SQLiteConnection(sqlite3.Connection):
    """sqlite3's connection, refusing NUL in text like PostgreSQL and reporting a lock that outlasts the busy timeout
    as StorageUnavailable."""

    def execute(self, sql: str, args: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        if args:
            refuse_nul(args)
        try:
            return super().execute(sql, args)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StorageUnavailable(f"The database is busy ({exc}); try again shortly.") from exc
            raise

    def executemany(self, sql: str, rows: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        rows = list(rows)
        for row in rows:
            refuse_nul(row)
        return super().executemany(sql, rows)


class SQLiteStorage(SQLStorage):
    """SQLite in WAL mode, one connection per thread; each write is its own committed transaction."""

    dialect = "sqlite"
    IntegrityError = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.migrate()

    def connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True,
                                   factory=_SQLiteConnection)
            conn.row_factory = sqlite3.Row
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _split_sql(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(MIGRATIONS)

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One committed transaction on this thread's connection.

        durable=False commits without waiting for the disk (WAL with synchronous=NORMAL): the write survives a crash
        of the process but the newest commits can be lost on power loss. Used for the per-request verification
        records, which must stay cheap on the hash-first path; reports and decisions stay durable (FULL).
        """
        conn = self.connect()
        if not durable:
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            if not durable:
                conn.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _refutation(row: Any) -> Refutation:
    return Refutation(row["id"], row["claim"], row["rating"], row["fact_checker"], row["review_url"], row["date"],
                      row["language"], row["explanation"], row["original_context"], json.loads(row["extra"]))


def _refuted_media(r: Any) -> RefutedMedia:
    return RefutedMedia(r["id"], r["refutation_id"], r["sha256"], r["media_type"], r["width"], r["height"],
                        json.loads(r["hashes"]), r["content_url"], r["stored_name"])


# Hash kinds copied into media_hashes for the in-memory index; other kinds (e.g. a clip's "vpdq" frame list or a
# "chromaprint" fingerprint) and metadata (e.g. "pdq_quality") stay in refuted_media.hashes only.
INDEXED_HASH_KINDS = frozenset({"pdq"})


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


def _enable_wal(conn: sqlite3.Connection, attempts: int = 200) -> None:
    """Switch the database to WAL (a persistent setting: usually already done).

    The switch needs an exclusive lock and SQLite answers "database is locked" at once, without its busy handler,
    while another process (a second gunicorn worker starting at the same moment) is migrating the new file: retry.
    """
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except (sqlite3.OperationalError, StorageUnavailable) as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def open_storage(database_url: str | None, data_dir: Path) -> SQLStorage:
    """The storage VERIFY_DATABASE_URL names: empty = SQLite in DATA_DIR/verity.sqlite3 (the embedded default),
    sqlite:///<path> = SQLite at that path, postgresql://... = PostgreSQL.

    Raises:
        ValueError: any other scheme.
    """
    url = (database_url or "").strip()
    if not url:
        return SQLiteStorage(Path(data_dir) / "verity.sqlite3")
    if url.startswith("sqlite:///"):
        return SQLiteStorage(url.removeprefix("sqlite:///") or Path(data_dir) / "verity.sqlite3")
    if url.startswith(("postgresql://", "postgres://")):
        from .storage_pg import PostgresStorage

        return PostgresStorage(url)
    raise ValueError(f"VERIFY_DATABASE_URL: unsupported scheme in {url.split(':', 1)[0]!r} "
                     "(use postgresql://user@host/db or sqlite:///path)")
