"""SQLite engine for the storage: the embedded default (WAL, one connection per thread), in DATA_DIR/verity.sqlite3."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .base import MIGRATIONS, SQLStorage, StorageUnavailable, refuse_nul


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
        outer, committed = self._open_hooks(), False
        try:
            yield conn
            conn.execute("COMMIT")
            committed = True
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            hooks = self._close_hooks(outer)
            if not durable:
                conn.execute("PRAGMA synchronous=FULL")
        if committed:
            for hook in hooks:
                hook(durable)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


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
