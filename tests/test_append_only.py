"""Decisions, refutations, withdrawals and refuted media are append-only in the database itself (migration 11):
UPDATE and DELETE are refused by triggers on both engines, except the one change the app makes (start-up rehash of
media hashed before migration 7). Withdrawing a refutation is a tombstone row and still works."""

from __future__ import annotations

import dataclasses
import time

import pytest

from server.storage import Refutation, RefutedMedia

ENGINES = ("sqlite", "postgresql")

@pytest.fixture
def storage(app):
    storage = app.extensions["verify"].storage
    rid = storage.add_refutation(Refutation(0, "claim", "False", "Example checker"),
                                 [RefutedMedia(0, 0, "ab" * 32, "image/jpeg", hashes={"pdq": ["00" * 32]})])
    with storage.transaction() as conn:
        conn.execute("INSERT INTO report_items (sha256, first_reported, last_reported) VALUES (?, ?, ?)",
                     ("cd" * 32, time.time(), time.time()))
        item = conn.execute("SELECT id FROM report_items WHERE sha256 = ?", ("cd" * 32,)).fetchone()[0]
        conn.execute("INSERT INTO decisions (item_id, time, action, note, reviewer, refutation_id)"
                     " VALUES (?, ?, 'refute', 'n', 'rita', ?)", (item, time.time(), rid))
    storage.refutation_id = rid  # for the tests below
    return storage

REFUSED = [
    ("UPDATE decisions SET note = 'changed'", "decisions are append-only"),
    ("DELETE FROM decisions", "decisions are append-only"),
    ("UPDATE refutations SET rating = 'True'", "refutations are append-only"),
    ("DELETE FROM refutations", "refutations are append-only"),
    ("UPDATE refuted_media SET sha256 = 'ef'", "refuted media are append-only"),
    ("UPDATE refuted_media SET hashes = '{}'", "refuted media are append-only"),  # hash_version is 1: not pending
    ("UPDATE refuted_media SET hash_version = 0", "refuted media are append-only"),
    ("DELETE FROM refuted_media", "refuted media are append-only"),
    ("UPDATE media_hashes SET kind = 'x'", "media hashes are append-only"),
    ("DELETE FROM media_hashes", "media hashes are append-only"),
]

@pytest.mark.parametrize("sql,message", REFUSED, ids=[s for s, _ in REFUSED])
def test_append_only_update_and_delete_refused(storage, sql, message):
    with pytest.raises(storage.IntegrityError, match=message):
        with storage.transaction() as conn:
            conn.execute(sql)
    assert storage.get_refutation(storage.refutation_id).rating == "False"
    assert len(storage.refuted_media(refutation_id=storage.refutation_id)) == 1
    assert storage.connect().execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 1

def test_append_only_truncate_refused_postgresql(storage):
    if storage.dialect != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    for table in ("decisions", "refutations", "refutation_withdrawals", "refuted_media", "media_hashes"):
        with pytest.raises(storage.IntegrityError, match="append-only"):
            with storage.transaction() as conn:
                conn.execute(f"TRUNCATE {table} CASCADE")

def test_append_only_withdrawal_is_a_tombstone_and_cannot_be_undone(storage):
    storage.withdraw_refutation(storage.refutation_id, "wrong photo", "ada")
    assert storage.refuted_media(refutation_id=storage.refutation_id) == []
    assert storage.get_refutation(storage.refutation_id) is not None  # the row stays
    for sql in ("UPDATE refutation_withdrawals SET reason = 'x'", "DELETE FROM refutation_withdrawals"):
        with pytest.raises(storage.IntegrityError, match="withdrawals are append-only"):
            with storage.transaction() as conn:
                conn.execute(sql)
    assert storage.withdrawal(storage.refutation_id).reason == "wrong photo"

def test_append_only_rehash_of_pending_media_still_allowed(storage):
    """What start-up does for media hashed before migration 7: new hashes, version 0 -> 1, hash rows replaced."""
    now = time.time()
    with storage.transaction() as conn:
        conn.execute("INSERT INTO refuted_media (refutation_id, sha256, media_type, hashes, created, hash_version)"
                     " VALUES (?, ?, 'image/jpeg', '{}', ?, 0)", (storage.refutation_id, "ef" * 32, now))
    [pending] = storage.media_to_rehash()
    pending = dataclasses.replace(pending, hashes={"pdq": [{"hash": "11" * 32, "region": "full"}]})
    with storage.transaction() as conn:
        storage.replace_media_hashes(conn, pending)
    assert storage.media_to_rehash() == []
    [media] = storage.refuted_media(sha256="ef" * 32)
    assert media.hashes == pending.hashes
    # once current, the same change is refused
    with pytest.raises(storage.IntegrityError, match="append-only"):
        with storage.transaction() as conn:
            storage.replace_media_hashes(conn, pending)
