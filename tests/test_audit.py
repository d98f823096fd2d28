"""The hash-chained audit log: intact chains verify; an edited, a deleted and a reordered entry are each caught."""

from __future__ import annotations

import json
import time
from io import BytesIO

import pytest

from buildtasks import audit as audit_cli
from media_fixtures import fixture_path
from server.audit import AuditLog

ENGINES = ("sqlite", "postgresql")  # tests using the app run on both storage engines


@pytest.fixture
def audit(app) -> AuditLog:
    log = app.extensions["verity_audit"]
    for i in range(5):
        log.append("test", "tester", f"thing:{i}", {"n": i})
    return log


def _tamper(audit: AuditLog, *sql: tuple) -> None:
    """What someone with write access to the file could do: drop the append-only triggers, then edit."""
    conn = audit.storage.connect()
    if audit.storage.dialect == "postgresql":
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    else:
        conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    for statement in sql:
        conn.execute(*statement)


def test_audit_intact_chain_ok(audit):
    report = audit.verify()
    assert report.ok and report.entries == 5 and report.head_seq == 5 and report.first_broken is None


def test_audit_update_and_delete_refused_by_triggers(audit):
    conn = audit.storage.connect()
    with pytest.raises(audit.storage.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
    with pytest.raises(audit.storage.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 2")


def test_audit_edited_entry_detected(audit):
    _tamper(audit, ("UPDATE audit_log SET data = ? WHERE seq = 3", (json.dumps({"n": 99}),)))
    report = audit.verify()
    assert not report.ok and report.first_broken == 3 and "hash" in report.reason


def test_audit_edited_entry_with_recomputed_hash_detected_at_next(audit):
    from server.audit import entry_hash

    row = audit.storage.connect().execute("SELECT * FROM audit_log WHERE seq = 3").fetchone()
    forged = entry_hash(3, row["time"], row["kind"], "someone-else", row["subject"], row["data"], row["prev_hash"])
    _tamper(audit, ("UPDATE audit_log SET actor = 'someone-else', hash = ? WHERE seq = 3", (forged,)))
    report = audit.verify()
    assert not report.ok and report.first_broken == 4 and "chain" in report.reason


def test_audit_deleted_entry_detected(audit):
    _tamper(audit, ("DELETE FROM audit_log WHERE seq = 3",))
    report = audit.verify()
    assert not report.ok and report.first_broken == 4 and "missing" in report.reason


def test_audit_deleted_first_entries_detected(audit):
    _tamper(audit, ("DELETE FROM audit_log WHERE seq <= 2",))
    report = audit.verify()
    assert not report.ok and report.first_broken == 3


def test_audit_reordered_entries_detected(audit):
    _tamper(audit, ("UPDATE audit_log SET seq = -2 WHERE seq = 2",), ("UPDATE audit_log SET seq = 2 WHERE seq = 3",),
            ("UPDATE audit_log SET seq = 3 WHERE seq = -2",))
    report = audit.verify()
    assert not report.ok and report.first_broken == 2


def test_audit_prune_behind_checkpoint_still_verifies(audit):
    later = time.time() + 10 * 86400
    assert audit.prune(5, now=later) == 5
    entries = audit.entries()
    assert [e.kind for e in entries] == ["checkpoint"]
    assert entries[0].data["pruned_through_seq"] == 5
    audit.append("test", "tester", "after", {})
    report = audit.verify()
    assert report.ok and report.entries == 2
    assert audit.prune(5) == 0  # nothing old enough now


def test_audit_prune_partial_then_tamper_detected(audit):
    conn = audit.storage.connect()
    cut = conn.execute("SELECT time FROM audit_log WHERE seq = 3").fetchone()[0]
    # Entries 1-2 are older than the retention period, counted from a `now` just after entry 2.
    assert audit.prune(1, now=(cut + conn.execute("SELECT time FROM audit_log WHERE seq = 2").fetchone()[0]) / 2
                       + 86400) == 2
    assert audit.verify().ok
    _tamper(audit, ("DELETE FROM audit_log WHERE seq = 3",))
    report = audit.verify()
    assert not report.ok and report.first_broken == 4


def test_audit_records_every_kind_of_event(app, client):
    photo = fixture_path("photos/deb_mate_Dune.jpg").read_bytes()
    client.post("/v1/verify", data=photo, content_type="image/jpeg")
    client.post("/v1/reports", data={"file": (BytesIO(photo), "a.jpg"), "category": "synthetic"},
                content_type="multipart/form-data")
    app.extensions["verity_reports"].accounts.add_user("ava", "admin", "a fine long password")
    kinds = [e.kind for e in app.extensions["verity_audit"].entries()]
    assert kinds == ["verification", "report", "account.add"]
    assert app.extensions["verity_audit"].verify().ok


def test_audit_cli_verify_names_first_broken_entry(app, audit, monkeypatch, capsys):
    monkeypatch.setenv("VERIFY_DATA_DIR", str(app.extensions["verify"].settings.data_dir))
    monkeypatch.setenv("VERIFY_DATABASE_URL", app.config["DATABASE_URL"])
    assert audit_cli.main(["verify"]) == 0
    assert "OK: 5 entries" in capsys.readouterr().out
    _tamper(audit, ("UPDATE audit_log SET kind = 'other' WHERE seq = 4",))
    assert audit_cli.main(["verify"]) == 1
    assert "BROKEN at entry #4" in capsys.readouterr().err


def test_audit_cli_export_writes_filing_package(app, audit, monkeypatch, tmp_path):
    from server.storage import Refutation, RefutedMedia

    storage = app.extensions["verify"].storage
    storage.add_refutation(Refutation(0, "claim", "False", "Example checker"),
                           [RefutedMedia(0, 0, "ab" * 32, "image/jpeg", hashes={"pdq": ["00" * 32]})])
    monkeypatch.setenv("VERIFY_DATA_DIR", str(app.extensions["verify"].settings.data_dir))
    monkeypatch.setenv("VERIFY_DATABASE_URL", app.config["DATABASE_URL"])
    out = tmp_path / "filing"
    assert audit_cli.main(["export", "--since", "2020-01-01", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["decisions.csv", "decisions.jsonl", "manifest.json",
                                                     "refutations.csv", "refutations.jsonl"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["refutations"] == 1 and manifest["audit_chain"]["ok"]
    row = json.loads((out / "refutations.jsonl").read_text().splitlines()[0])
    assert row["media_sha256"] == ["ab" * 32] and row["media_hashes"] == [{"pdq": ["00" * 32]}]
    assert "ab" * 32 in (out / "refutations.csv").read_text()
