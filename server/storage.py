"""Storage behind one interface; SQLite (WAL) is the embedded default. Tests use a temporary SQLite file.

Schema changes are numbered migrations applied in order and recorded in `PRAGMA user_version`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
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
    # 3: background verification jobs for long audio/video (server/jobs.py)
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
]


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
    """Media a refutation covers. `hashes` holds perceptual hashes by name (e.g. {"pdq": [hex, ...]})."""

    id: int
    refutation_id: int
    sha256: str
    media_type: str
    width: int | None = None
    height: int | None = None
    hashes: dict[str, Any] = field(default_factory=dict)
    content_url: str | None = None


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


class Storage(Protocol):
    def get_verdict(self, sha256: str, pipeline: str) -> dict[str, Any] | None: ...
    def put_verdict(self, sha256: str, pipeline: str, body: dict[str, Any]) -> None: ...
    def add_record(self, sha256: str, media_type: str, label: str, source_url: str | None = None,
                   page_url: str | None = None, cached: bool = False) -> int: ...
    def records(self, sha256: str | None = None, limit: int = 100) -> list[Record]: ...
    def add_refutation(self, refutation: Refutation, media: list[RefutedMedia]) -> int: ...
    def get_refutation(self, refutation_id: int) -> Refutation | None: ...
    def refuted_media(self, refutation_id: int | None = None, sha256: str | None = None) -> list[RefutedMedia]: ...


class SQLiteStorage:
    """SQLite in WAL mode, one connection per thread; each write is its own committed transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.migrate()

    def connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
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

    def get_verdict(self, sha256: str, pipeline: str) -> dict[str, Any] | None:
        row = self.connect().execute("SELECT body FROM verdicts WHERE sha256 = ? AND pipeline = ?",
                                     (sha256, pipeline)).fetchone()
        return json.loads(row["body"]) if row else None

    def put_verdict(self, sha256: str, pipeline: str, body: dict[str, Any]) -> None:
        self.connect().execute(
            "INSERT OR REPLACE INTO verdicts (sha256, pipeline, body, created) VALUES (?, ?, ?, ?)",
            (sha256, pipeline, json.dumps(body, separators=(",", ":")), time.time()))

    def add_record(self, sha256: str, media_type: str, label: str, source_url: str | None = None,
                   page_url: str | None = None, cached: bool = False) -> int:
        cur = self.connect().execute(
            "INSERT INTO records (time, sha256, media_type, label, source_url, page_url, cached) VALUES (?,?,?,?,?,?,?)",
            (time.time(), sha256, media_type, label, source_url, page_url, int(cached)))
        return int(cur.lastrowid or 0)

    def records(self, sha256: str | None = None, limit: int = 100) -> list[Record]:
        sql = "SELECT * FROM records" + (" WHERE sha256 = ?" if sha256 else "") + " ORDER BY id DESC LIMIT ?"
        args: tuple[Any, ...] = (sha256, limit) if sha256 else (limit,)
        return [Record(r["id"], r["time"], r["sha256"], r["media_type"], r["label"], r["source_url"],
                       r["page_url"], bool(r["cached"])) for r in self.connect().execute(sql, args)]

    def add_refutation(self, refutation: Refutation, media: list[RefutedMedia]) -> int:
        """Store a refutation and its media in one transaction; returns the new refutation id (ids in the arguments are ignored)."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            cur = conn.execute(
                "INSERT INTO refutations (claim, rating, fact_checker, review_url, date, language, explanation,"
                " original_context, extra, created) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (refutation.claim, refutation.rating, refutation.fact_checker, refutation.review_url, refutation.date,
                 refutation.language, refutation.explanation, refutation.original_context,
                 json.dumps(refutation.extra), now))
            rid = int(cur.lastrowid or 0)
            for m in media:
                conn.execute(
                    "INSERT INTO refuted_media (refutation_id, sha256, media_type, width, height, hashes, content_url, created)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (rid, m.sha256, m.media_type, m.width, m.height, json.dumps(m.hashes), m.content_url, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return rid

    def get_refutation(self, refutation_id: int) -> Refutation | None:
        row = self.connect().execute("SELECT * FROM refutations WHERE id = ?", (refutation_id,)).fetchone()
        if row is None:
            return None
        return Refutation(row["id"], row["claim"], row["rating"], row["fact_checker"], row["review_url"], row["date"],
                          row["language"], row["explanation"], row["original_context"], json.loads(row["extra"]))

    def refuted_media(self, refutation_id: int | None = None, sha256: str | None = None) -> list[RefutedMedia]:
        where, args = [], []
        if refutation_id is not None:
            where.append("refutation_id = ?")
            args.append(refutation_id)
        if sha256 is not None:
            where.append("sha256 = ?")
            args.append(sha256)
        sql = "SELECT * FROM refuted_media" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [RefutedMedia(r["id"], r["refutation_id"], r["sha256"], r["media_type"], r["width"], r["height"],
                             json.loads(r["hashes"]), r["content_url"]) for r in self.connect().execute(sql, args)]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


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
