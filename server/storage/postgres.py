"""PostgreSQL engine for the storage (chosen by VERIFY_DATABASE_URL=postgresql://...), through psycopg 3.

The queries are SQLStorage's, unchanged: this module supplies connections that accept SQLite's `?` placeholders and
give rows indexable by position and by name, a write transaction with SQLite's "one writer at a time" semantics, and
the schema as PostgreSQL DDL (numbered like storage.MIGRATIONS, recorded in the table verity_schema).

Why one writer at a time: every write transaction (`transaction()`) takes the same transaction-scoped advisory lock,
as SQLite's BEGIN IMMEDIATE takes its write lock. The read-then-write code (the audit chain head, report dedup and
decisions, account changes) then stays correct without per-statement row locking, and rows with increasing ids commit
in id order, which the matchers' incremental loads (`media_hashes(after_id=...)`) rely on across processes. The audit
chain serialises every audited write anyway (each entry links to the previous one), so the global lock costs little
beyond it; plain statements outside `transaction()` (the verdict cache, sessions, jobs) do not take it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg

from .base import MIGRATIONS, SQLStorage, StorageUnavailable, load_migrations, refuse_nul

log = logging.getLogger(__name__)

WRITE_LOCK_KEY = 0x5645524954590001  # "VERITY" + 1: the advisory lock every write transaction takes
CONNECT_TIMEOUT_S = 10

# Append-only migrations, one numbered .sql file each in migrations/postgresql/: never edit one that has shipped; add the next.
PG_MIGRATIONS: list[str] = load_migrations("postgresql")
assert len(PG_MIGRATIONS) == len(MIGRATIONS), "every migration needs its PostgreSQL form"


class Row:
    """A result row read like sqlite3.Row: row[0], row["name"], keys(), dict(row), unpacking."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values, self._index = tuple(values), index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values))!r})"


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or [])}
    return lambda values: Row(values, index)


@lru_cache(maxsize=1024)
def _translate(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s` (a literal % doubled). The queries hold no `?` in literals."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection in autocommit mode speaking the sqlite3 subset the storage code uses."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, args: Sequence[Any] | None = None, /) -> psycopg.Cursor[Row]:
        cur = self.raw.cursor(row_factory=_row_factory)
        try:
            if args:
                refuse_nul(args)
                cur.execute(_translate(sql), tuple(args))
            else:
                cur.execute(sql)  # type: ignore[arg-type]  # without parameters psycopg reads no placeholders
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc
        return cur

    def executemany(self, sql: str, rows: Any, /) -> psycopg.Cursor[Row]:
        cur = self.raw.cursor(row_factory=_row_factory)
        rows = [tuple(r) for r in rows]
        for row in rows:
            refuse_nul(row)
        try:
            cur.executemany(_translate(sql), rows)
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc
        return cur

    def close(self) -> None:
        self.raw.close()


def _unavailable(exc: Exception) -> StorageUnavailable:
    """The client learns only that the database did not answer; host, user and server messages go to the log."""
    log.warning("database unavailable: %s", exc)
    return StorageUnavailable("The database did not answer; try again shortly.")


class _Holder:
    """Closes a thread's connection when the thread ends (its threading.local slot is dropped)."""

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def __del__(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class PostgresStorage(SQLStorage):
    """PostgreSQL, one autocommit connection per thread; write transactions serialised (see the module docstring)."""

    dialect = "postgresql"
    IntegrityError = (psycopg.IntegrityError,)

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._holders: weakref.WeakSet[_Holder] = weakref.WeakSet()
        self.migrate()

    def connect(self) -> PgConnection:  # type: ignore[override]
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is None or holder.conn.raw.closed or holder.conn.raw.broken:
            try:
                raw = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                      application_name="verity")
            except psycopg.OperationalError as exc:
                raise _unavailable(exc) from exc
            holder = _Holder(PgConnection(raw))
            self._local.holder = holder
            self._holders.add(holder)
        return holder.conn

    def like(self) -> str:
        return "ILIKE"

    def group_concat_distinct(self, expr: str) -> str:
        return f"string_agg(DISTINCT {expr}, ',')"

    def migrate(self) -> int:
        """Apply pending migrations under the write lock (workers starting together migrate once)."""
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS verity_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM verity_schema").fetchone()
            version = int(row[0] or 0)
            for number, script in enumerate(PG_MIGRATIONS[version:], start=version + 1):
                conn.raw.execute(script)  # several statements, no parameters
                conn.execute("INSERT INTO verity_schema (version) VALUES (?)", (number,))
        return len(PG_MIGRATIONS)

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[PgConnection]:  # type: ignore[override]
        """One committed transaction, holding the write lock until it ends.

        durable=False commits without waiting for the WAL flush (synchronous_commit=off): like SQLite's
        synchronous=NORMAL, a crash of the database server can lose the newest such commits, never corrupt them.
        """
        conn = self.connect()
        conn.execute("BEGIN")
        outer, committed = self._open_hooks(), False
        try:
            if not durable:
                conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK_KEY,))
            yield conn
            conn.execute("COMMIT")
            committed = True
        except BaseException:
            if not conn.raw.broken:
                conn.execute("ROLLBACK")
            raise
        finally:
            hooks = self._close_hooks(outer)
        if committed:
            for hook in hooks:
                hook(durable)

    def close(self) -> None:
        for holder in list(self._holders):
            holder.conn.close()
        self._local = threading.local()
