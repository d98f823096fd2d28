"""Storage behind one interface; SQLite (WAL) is the embedded default. Tests use a temporary SQLite file.

Schema changes are numbered migrations applied in order and recorded in `PRAGMA user_version`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
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
]


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
