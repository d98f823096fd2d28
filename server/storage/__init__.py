"""Storage behind one interface: SQLite (WAL) is the embedded default; PostgreSQL when VERIFY_DATABASE_URL is set.

    base.py       the interface (Storage), the row types, and the queries, written once in SQLStorage
    sqlite.py     the SQLite engine          postgres.py   the PostgreSQL engine (psycopg 3)
    migrations/   numbered .sql files per engine; the two engines keep the same tables and columns
"""

from __future__ import annotations

from pathlib import Path

from .base import (MIGRATIONS, CachedVerdict, Connection, DeclaredMedia, HashRow, Record, Refutation, RefutationAlreadyWithdrawn,
                   RefutationNotFound, RefutedMedia, SQLStorage, Storage, StorageError, StorageUnavailable,
                   TextContainsNul, Withdrawal, like_escape, refuse_nul)
from .sqlite import SQLiteStorage

__all__ = ["MIGRATIONS", "CachedVerdict", "Connection", "DeclaredMedia", "HashRow", "Record", "Refutation", "RefutationAlreadyWithdrawn",
           "RefutationNotFound", "RefutedMedia", "Withdrawal",
           "SQLStorage", "SQLiteStorage", "Storage", "StorageError", "StorageUnavailable", "TextContainsNul",
           "like_escape", "open_storage", "refuse_nul"]


AUDIT_ANCHOR_NAME = "audit-anchor.json"


def open_storage(database_url: str | None, data_dir: Path) -> SQLStorage:
    """The storage VERIFY_DATABASE_URL names: empty = SQLite in DATA_DIR/verity.sqlite3 (the embedded default),
    sqlite:///<path> = SQLite at that path, postgresql://... = PostgreSQL.

    Raises:
        ValueError: any other scheme.
    """
    url = (database_url or "").strip()
    storage: SQLStorage
    if not url:
        storage = SQLiteStorage(Path(data_dir) / "verity.sqlite3")
    elif url.startswith("sqlite:///"):
        storage = SQLiteStorage(url.removeprefix("sqlite:///") or Path(data_dir) / "verity.sqlite3")
    elif url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage

        storage = PostgresStorage(url)
    else:
        raise ValueError(f"VERIFY_DATABASE_URL: unsupported scheme in {url.split(':', 1)[0]!r} "
                         "(use postgresql://user@host/db or sqlite:///path)")
    # The audit chain's head is anchored beside the data, outside the database (server/audit.py): one file per
    # DATA_DIR, shared by every worker and host that shares the folder.
    storage.anchor_path = Path(data_dir) / AUDIT_ANCHOR_NAME
    return storage
