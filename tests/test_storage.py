"""SQLite storage: migrations, the verdict cache keyed by pipeline, append-only records, refutations."""

from __future__ import annotations

import sqlite3

import pytest

from server.storage import MIGRATIONS, Refutation, RefutedMedia, SQLiteStorage


def test_storage_fresh_database_migrated_to_latest(tmp_path):
    storage = SQLiteStorage(tmp_path / "v.sqlite3")
    assert storage.connect().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert storage.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert SQLiteStorage(tmp_path / "v.sqlite3").migrate() == len(MIGRATIONS)  # idempotent on reopen


def test_storage_verdict_cache_keyed_by_pipeline(tmp_path):
    storage = SQLiteStorage(tmp_path / "v.sqlite3")
    storage.put_verdict("a" * 64, "1:x", {"verdict": {"label": "unknown"}})
    assert storage.get_verdict("a" * 64, "1:x") == {"verdict": {"label": "unknown"}}
    assert storage.get_verdict("a" * 64, "2:x") is None


def test_storage_records_append_only_update_refused(tmp_path):
    storage = SQLiteStorage(tmp_path / "v.sqlite3")
    rid = storage.add_record("b" * 64, "image/jpeg", "synthetic", "https://x/a.jpg")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        storage.connect().execute("UPDATE records SET label = 'unknown' WHERE id = ?", (rid,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        storage.connect().execute("DELETE FROM records")
    assert storage.records()[0].label == "synthetic"


def test_storage_refutation_with_media_round_trip(tmp_path):
    storage = SQLiteStorage(tmp_path / "v.sqlite3")
    rid = storage.add_refutation(
        Refutation(0, "Shark on the highway", "False", "Example Checks", "https://checks.example/1", "2026-01-02"),
        [RefutedMedia(0, 0, "c" * 64, "image/jpeg", 640, 480, {"pdq": ["ab" * 32]})])
    ref = storage.get_refutation(rid)
    assert ref is not None and ref.claim == "Shark on the highway" and ref.date == "2026-01-02"
    [m] = storage.refuted_media(rid)
    assert (m.sha256, m.width, m.hashes) == ("c" * 64, 640, {"pdq": ["ab" * 32]})
    assert storage.refuted_media(sha256="c" * 64)[0].refutation_id == rid


def test_storage_refutation_failed_write_leaves_nothing(tmp_path):
    storage = SQLiteStorage(tmp_path / "v.sqlite3")
    bad = RefutedMedia(0, 0, None, "image/jpeg")  # type: ignore[arg-type]  # NOT NULL sha256 violated
    with pytest.raises(sqlite3.IntegrityError):
        storage.add_refutation(Refutation(0, "c", "False", "x"), [bad])
    assert storage.connect().execute("SELECT COUNT(*) FROM refutations").fetchone()[0] == 0


def test_storage_opened_while_another_process_writes_waits_not_fails(tmp_path):
    """Two gunicorn workers start on a new database at once: the second must wait for the first's lock (SQLite
    refuses the switch to WAL at once, without its busy handler, while another connection writes)."""
    import threading
    import time

    path = tmp_path / "v.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other_writer (x)")

    def release() -> None:
        time.sleep(0.5)
        holder.execute("COMMIT")

    thread = threading.Thread(target=release)
    thread.start()
    storage = SQLiteStorage(path)
    thread.join()
    holder.close()
    assert storage.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert storage.connect().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
