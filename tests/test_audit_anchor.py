"""The audit chain's anchor (issue 17 item 11): the head, start and checkpoints written outside the database
(DATA_DIR/audit-anchor.json, and each filing package). A chain whose tail was cut, or whose prefix was deleted behind
a forged checkpoint, still verifies on its own; against the anchor it fails, naming what happened. An intact chain
verifies across restarts, pruning and concurrent appends from two processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildtasks import audit as audit_cli
from server import create_app
from server.audit import GENESIS, Anchor, AnchoredCheckpoint, AuditLog, canonical, entry_hash
from server.storage import AUDIT_ANCHOR_NAME, open_storage
from test_audit import _tamper, audit  # noqa: F401 (the fixture: an app's log with five entries)

ENGINES = ("sqlite", "postgresql")
ROOT = Path(__file__).resolve().parent.parent


def _anchor(audit: AuditLog) -> Anchor:
    assert audit.anchor is not None
    anchor = audit.anchor.read()
    assert anchor is not None
    return anchor


def _forge_checkpoint(audit: AuditLog, through: int) -> None:
    """Delete entries 1..through and append a checkpoint that names the last deleted one, with every hash right:
    the chain on its own verifies (what the old `verify()` could not tell from a real prune)."""
    conn = audit.storage.connect()
    cut = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (through,)).fetchone()[0]
    head = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, at = int(head[0]) + 1, time.time()
    data = canonical({"pruned_through_seq": through, "pruned_last_hash": cut, "pruned_count": through,
                      "retention_days": 1, "cutoff": at})
    digest = entry_hash(seq, at, "checkpoint", "system", None, data, head[1])
    _tamper(audit, ("DELETE FROM audit_log WHERE seq <= ?", (through,)),
            ("INSERT INTO audit_log (seq, time, kind, actor, subject, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
             (seq, at, "checkpoint", "system", None, data, head[1], digest)))


def _cli_env(app, monkeypatch) -> None:
    monkeypatch.setenv("VERIFY_DATA_DIR", str(app.extensions["verify"].settings.data_dir))
    monkeypatch.setenv("VERIFY_DATABASE_URL", app.config["DATABASE_URL"])


def test_audit_anchor_follows_the_head(audit):
    report = audit.verify()
    anchor = _anchor(audit)
    assert report.ok and (anchor.head_seq, anchor.head_hash) == (5, report.head_hash)
    assert (anchor.start_seq, anchor.start_prev_hash) == (1, GENESIS)
    assert report.anchors and "head #5" in report.anchors[0]


def test_audit_anchor_not_moved_by_a_rolled_back_append(audit):
    with pytest.raises(RuntimeError):
        with audit.storage.transaction() as conn:
            audit.append("test", "tester", "rolled back", {}, conn=conn)
            raise RuntimeError("the change it records failed")
    assert _anchor(audit).head_seq == 5
    assert audit.verify().ok


def test_audit_anchor_non_durable_commit_anchored_by_the_next_durable_one(audit):
    with audit.storage.transaction(durable=False) as conn:  # as verification records are written
        audit.append("verification", "anon", "x", {}, conn=conn)
    assert _anchor(audit).head_seq == 5 and audit.verify().ok
    audit.append("test", "tester", "durable", {})
    assert _anchor(audit).head_seq == 7 and audit.verify().ok


def test_audit_anchor_truncated_tail_detected(app, audit, monkeypatch, capsys):
    _tamper(audit, ("DELETE FROM audit_log WHERE seq >= 4",))
    assert AuditLog._verify_rows(audit.storage.connect().execute(
        "SELECT * FROM audit_log ORDER BY seq").fetchall()).ok  # the chain alone cannot tell
    report = audit.verify()
    assert not report.ok and report.first_broken == 4 and "cut off the end" in report.reason
    assert "entries 4..5" in report.reason
    _cli_env(app, monkeypatch)
    assert audit_cli.main(["verify"]) == 1
    err = capsys.readouterr().err
    assert "BROKEN at entry #4" in err and "cut off the end" in err


def test_audit_anchor_truncated_and_regrown_tail_detected(audit):
    """Cut the tail, then let new entries take the old numbers: the anchored entry #5 is not the one there now."""
    _tamper(audit, ("DELETE FROM audit_log WHERE seq >= 4",))
    for i in range(3):
        audit.append("test", "someone", f"new:{i}", {})
    assert _anchor(audit).head_seq == 5  # the anchor did not follow the new entries past the cut
    report = audit.verify()
    assert not report.ok and report.first_broken == 5 and "rewritten" in report.reason


def test_audit_anchor_deleted_prefix_with_forged_checkpoint_detected(app, audit, monkeypatch, capsys):
    _forge_checkpoint(audit, through=3)
    rows = audit.storage.connect().execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    assert AuditLog._verify_rows(rows).ok  # the chain alone cannot tell
    report = audit.verify()
    assert not report.ok and report.first_broken == 4
    assert "starts at #4" in report.reason and "entries 1..3 are gone" in report.reason and "forged" in report.reason
    _cli_env(app, monkeypatch)
    assert audit_cli.main(["verify"]) == 1
    assert "forged checkpoint" in capsys.readouterr().err


def test_audit_anchor_forged_checkpoint_without_deletion_detected(audit):
    """A checkpoint that retention did not write is named even before anything is deleted behind it."""
    conn = audit.storage.connect()
    head = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    two = conn.execute("SELECT hash FROM audit_log WHERE seq = 2").fetchone()[0]
    at, data = time.time(), canonical({"pruned_through_seq": 2, "pruned_last_hash": two})
    conn.execute("INSERT INTO audit_log (seq, time, kind, actor, subject, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
                 (6, at, "checkpoint", "system", None, data, head[1],
                  entry_hash(6, at, "checkpoint", "system", None, data, head[1])))
    report = audit.verify()
    assert not report.ok and report.first_broken == 6 and "checkpoint #6 is not anchored" in report.reason


def test_audit_anchor_real_prune_verifies_and_moves_the_start(audit):
    conn = audit.storage.connect()
    t3 = conn.execute("SELECT time FROM audit_log WHERE seq = 3").fetchone()[0]
    t2 = conn.execute("SELECT time FROM audit_log WHERE seq = 2").fetchone()[0]
    assert audit.prune(1, now=(t2 + t3) / 2 + 86400) == 2
    anchor = _anchor(audit)
    assert anchor.start_seq == 3 and anchor.head_seq == 6 and [c.seq for c in anchor.checkpoints] == [6]
    audit.append("test", "tester", "after", {})
    assert audit.verify().ok
    # and a prune that takes every entry keeps the numbering and the chain going
    assert audit.prune(0, now=time.time() + 10) == 5
    [checkpoint] = audit.entries()
    assert checkpoint.seq == 8 and checkpoint.data["pruned_through_seq"] == 7
    assert audit.verify().ok and _anchor(audit).start_seq == 8
    # deleting the real checkpoint's predecessor chain and forging an older one still fails
    _forge_checkpoint(audit, through=8)
    assert not audit.verify().ok


def test_audit_anchor_crash_between_prune_commit_and_settle_still_verifies(audit):
    """The checkpoint is anchored before its prune commits; a crash before the anchored start moves leaves the file
    as it was then (start #1, the checkpoint listed), and that accounts for the shortened chain."""
    before = _anchor(audit)
    conn = audit.storage.connect()
    t3, t2 = (conn.execute("SELECT time FROM audit_log WHERE seq = ?", (n,)).fetchone()[0] for n in (3, 2))
    audit.prune(1, now=(t2 + t3) / 2 + 86400)
    after = _anchor(audit)
    audit.anchor.path.write_text(json.dumps(Anchor(before.head_seq, before.head_hash, before.start_seq,
                                                   before.start_prev_hash, after.checkpoints).to_json()))
    report = audit.verify()
    assert report.ok, report.reason
    audit.append("test", "tester", "after the restart", {})
    assert audit.verify().ok and _anchor(audit).head_seq == 7


def test_audit_anchor_rolled_back_prune_leaves_a_harmless_note(audit):
    """A prune that rolled back after anchoring its checkpoint leaves a checkpoint the chain never has: its number
    goes to an ordinary entry, and the chain still verifies (the note accounts for no start)."""
    anchor = _anchor(audit)
    anchor.checkpoints.append(AnchoredCheckpoint(6, "f" * 64, 2, anchor.head_hash))
    audit.anchor.path.write_text(json.dumps(anchor.to_json()))
    audit.append("test", "tester", "takes #6", {})
    assert audit.verify().ok


def test_audit_anchor_verifies_across_restarts(tmp_path, database_url):
    config = {"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url, "LOAD_MODELS": False}
    for run in range(3):
        app = create_app(config)
        log = app.extensions["verity_audit"]
        for i in range(3):
            log.append("test", "tester", f"run{run}:{i}", {})
        report = log.verify()
        assert report.ok and report.head_seq == _anchor(log).head_seq == 3 * (run + 1)
        app.extensions["verify"].storage.close()


def test_audit_anchor_concurrent_appends_from_two_processes(app, audit):
    """Two processes (as two gunicorn workers, or a worker and the job worker) append at once: every update of the
    anchor is serialised, and it ends at the chain's head."""
    data_dir = str(app.extensions["verify"].settings.data_dir)
    script = ("import sys\nfrom pathlib import Path\nfrom server.audit import AuditLog\n"
              "from server.storage import open_storage\n"
              "storage = open_storage(sys.argv[2], Path(sys.argv[1]))\nlog = AuditLog(storage)\n"
              "for i in range(40):\n    log.append('test', sys.argv[3], str(i), {'i': i})\nstorage.close()\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, data_dir, app.config["DATABASE_URL"], name], cwd=ROOT)
             for name in ("worker-a", "worker-b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    report = audit.verify()
    assert report.ok and report.entries == 85
    assert (_anchor(audit).head_seq, _anchor(audit).head_hash) == (85, report.head_hash)


def test_audit_anchor_concurrent_appends_from_eight_threads(audit):
    """Threads of one worker that commit while another writes the anchor are anchored by the next write together."""
    import threading

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                audit.append("test", f"thread-{n}", str(i), {})
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = audit.verify()
    assert report.ok and report.entries == 125
    assert (_anchor(audit).head_seq, _anchor(audit).head_hash) == (125, report.head_hash)


def test_audit_anchor_damaged_file_fails_verification(audit):
    audit.anchor.path.write_text("{not json", encoding="utf-8")
    report = audit.verify()
    assert not report.ok and "not an audit anchor" in report.reason
    audit.append("test", "tester", "more", {})  # appends go on; the damaged file is left as evidence
    assert audit.anchor.path.read_text(encoding="utf-8") == "{not json"


def test_audit_anchor_export_carries_it_and_catches_a_cut_alone(app, audit, monkeypatch, tmp_path, capsys):
    _cli_env(app, monkeypatch)
    out = tmp_path / "filing"
    assert audit_cli.main(["export", "--since", "2020-01-01", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["audit_chain"]["anchor"]["head_seq"] == 5
    assert audit_cli.main(["verify", "--anchor", str(out / "manifest.json")]) == 0
    assert "manifest.json (head #5)" in capsys.readouterr().out
    # Someone who can also write DATA_DIR cuts the tail and deletes the anchor file: the export still tells.
    _tamper(audit, ("DELETE FROM audit_log WHERE seq >= 3",))
    audit.anchor.path.unlink()
    assert audit_cli.main(["verify"]) == 0  # nothing local left to compare with
    capsys.readouterr()
    assert audit_cli.main(["verify", "--anchor", str(out / "manifest.json")]) == 1
    assert "cut off the end" in capsys.readouterr().err


def test_audit_anchor_export_catches_a_forged_checkpoint_alone(app, audit, monkeypatch, tmp_path, capsys):
    _cli_env(app, monkeypatch)
    assert audit_cli.main(["anchor"]) == 0
    kept = tmp_path / "anchor.json"
    kept.write_text(capsys.readouterr().out, encoding="utf-8")
    _forge_checkpoint(audit, through=2)
    audit.anchor.path.unlink()
    assert audit_cli.main(["verify", "--anchor", str(kept)]) == 1
    assert "entries 1..2 are gone" in capsys.readouterr().err


def test_audit_anchor_lives_in_data_dir(app, audit):
    assert audit.anchor.path == Path(app.extensions["verify"].settings.data_dir) / AUDIT_ANCHOR_NAME
    other = open_storage(app.config["DATABASE_URL"], audit.anchor.path.parent)
    try:
        assert other.anchor_path == audit.anchor.path
    finally:
        other.close()
