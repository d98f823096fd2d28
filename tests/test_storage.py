"""Storage on both engines (SQLite, PostgreSQL): migrations, the verdict cache keyed by pipeline, append-only records,
refutations."""

from __future__ import annotations

import sqlite3

import pytest

from server.storage import MIGRATIONS, Refutation, RefutedMedia, SQLiteStorage, open_storage

ENGINES = ("sqlite", "postgresql")


@pytest.fixture
def storage(database_url, tmp_path):
    storage = open_storage(database_url, tmp_path)
    yield storage
    storage.close()


def test_storage_fresh_sqlite_database_migrated_to_latest(tmp_path):
    storage = SQLiteStorage(tmp_path / "v.sqlite3")
    assert storage.connect().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert storage.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert SQLiteStorage(tmp_path / "v.sqlite3").migrate() == len(MIGRATIONS)  # idempotent on reopen


def test_storage_fresh_postgresql_database_migrated_to_latest(postgres_url):
    from server.storage.postgres import PostgresStorage

    storage = PostgresStorage(postgres_url)
    assert storage.connect().execute("SELECT max(version) FROM verity_schema").fetchone()[0] == len(MIGRATIONS)
    again = PostgresStorage(postgres_url)  # idempotent on reopen
    assert again.connect().execute("SELECT count(*) FROM verity_schema").fetchone()[0] == len(MIGRATIONS)
    storage.close()
    again.close()


def test_storage_verdict_cache_keyed_by_pipeline(storage):
    storage.put_verdict("a" * 64, "1:x", {"verdict": {"label": "unknown"}})
    assert storage.get_verdict("a" * 64, "1:x") == {"verdict": {"label": "unknown"}}
    assert storage.get_verdict("a" * 64, "2:x") is None
    storage.put_verdict("a" * 64, "1:x", {"verdict": {"label": "synthetic"}})  # replaced, not duplicated
    assert storage.get_verdict("a" * 64, "1:x") == {"verdict": {"label": "synthetic"}}


def test_storage_records_append_only_update_refused(storage):
    rid = storage.add_record("b" * 64, "image/jpeg", "synthetic", "https://x/a.jpg")
    assert rid > 0 and storage.add_record("b" * 64, "image/jpeg", "synthetic") == rid + 1
    with pytest.raises(storage.IntegrityError, match="append-only"):
        storage.connect().execute("UPDATE records SET label = 'unknown' WHERE id = ?", (rid,))
    with pytest.raises(storage.IntegrityError, match="append-only"):
        storage.connect().execute("DELETE FROM records")
    assert storage.records()[0].label == "synthetic"


def test_storage_refutation_with_media_round_trip(storage):
    rid = storage.add_refutation(
        Refutation(0, "Shark on the highway", "False", "Example Checks", "https://checks.example/1", "2026-01-02"),
        [RefutedMedia(0, 0, "c" * 64, "image/jpeg", 640, 480, {"pdq": ["ab" * 32]})])
    ref = storage.get_refutation(rid)
    assert ref is not None and ref.claim == "Shark on the highway" and ref.date == "2026-01-02"
    [m] = storage.refuted_media(rid)
    assert (m.sha256, m.width, m.hashes) == ("c" * 64, 640, {"pdq": ["ab" * 32]})
    assert storage.refuted_media(sha256="c" * 64)[0].refutation_id == rid
    [h] = storage.media_hashes("pdq")
    assert (h.refutation_id, h.media_id, h.region, h.hash) == (rid, m.id, "full", bytes.fromhex("ab" * 32))
    assert storage.media_hashes("pdq", after_id=h.id) == []
    assert storage.refutation_generation() == m.id


def test_storage_refutation_search_ignores_case_and_escapes_wildcards(storage):
    storage.add_refutation(Refutation(0, "Shark on the HIGHWAY", "False", "Example Checks"), [])
    storage.add_refutation(Refutation(0, "100% real moon photo", "Misleading", "Other Desk"), [])
    found, total = storage.list_refutations("highway")
    assert total == 1 and found[0].claim == "Shark on the HIGHWAY"
    found, total = storage.list_refutations("100%")
    assert total == 1 and found[0].rating == "Misleading"
    assert storage.list_refutations("_")[1] == 0  # "_" is a character, not a wildcard
    assert [r.claim for r in storage.list_refutations(limit=1, offset=1)[0]] == ["Shark on the HIGHWAY"]


def test_storage_refutation_failed_write_leaves_nothing(storage):
    bad = RefutedMedia(0, 0, None, "image/jpeg")  # type: ignore[arg-type]  # NOT NULL sha256 violated
    with pytest.raises(storage.IntegrityError):
        storage.add_refutation(Refutation(0, "c", "False", "x"), [bad])
    assert storage.connect().execute("SELECT COUNT(*) FROM refutations").fetchone()[0] == 0


def test_storage_sqlite_opened_while_another_process_writes_waits_not_fails(tmp_path):
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


def test_storage_open_storage_rejects_unknown_scheme(tmp_path):
    with pytest.raises(ValueError, match="unsupported scheme"):
        open_storage("mysql://db/verity", tmp_path)


def test_storage_engines_have_the_same_tables_and_columns(tmp_path, postgres_url):
    from server.storage.postgres import PostgresStorage

    lite = SQLiteStorage(tmp_path / "v.sqlite3").connect()
    lite_tables = {r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                   if not r[0].startswith("sqlite_")}
    lite_columns = {t: [r["name"] for r in lite.execute(f"PRAGMA table_info({t})")] for t in lite_tables}
    pg = PostgresStorage(postgres_url)
    pg_columns: dict[str, list[str]] = {}
    for r in pg.connect().execute("SELECT table_name, column_name FROM information_schema.columns"
                                  " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"):
        pg_columns.setdefault(r["table_name"], []).append(r["column_name"])
    pg_columns.pop("verity_schema")  # PostgreSQL's stand-in for PRAGMA user_version
    assert pg_columns == lite_columns
    pg.close()


def test_storage_postgresql_concurrent_writers_keep_ids_in_commit_order(postgres_url):
    """Writers on several connections: every refutation lands, and ids grow in commit order (the matcher's
    incremental load reads rows after the last id it saw)."""
    import threading

    from server.storage.postgres import PostgresStorage

    storage = PostgresStorage(postgres_url)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(10):
                storage.add_refutation(Refutation(0, f"claim {n}-{i}", "False", "x"),
                                       [RefutedMedia(0, 0, f"{n:02d}{i:062d}", "image/jpeg", hashes={"pdq": ["ab" * 32]})])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = storage.connect().execute("SELECT id, xmin::text::bigint AS tx FROM refuted_media ORDER BY id").fetchall()
    assert len(rows) == 40
    assert [r["tx"] for r in rows] == sorted(r["tx"] for r in rows)  # transaction ids follow row ids
    assert len(storage.media_hashes("pdq")) == 40
    storage.close()
