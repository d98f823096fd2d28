"""The audit log: every verification, report, decision, sign-in and account change, hash-chained (Art. 12/14/17).

Each entry stores the SHA-256 of the entry before it (`prev_hash`) and its own hash over
`[seq, time, kind, actor, subject, data, prev_hash]` (canonical JSON). Editing an entry breaks its own hash; deleting
or reordering entries breaks the sequence or the link to the previous hash. `verify()` walks the chain and names the
first broken entry. The hash is unkeyed on purpose, so anyone holding an export can check it; someone who can rewrite
the whole database could recompute every hash, so the head hash (`verify().head_hash`, also written into every
filing package) is what to anchor outside this machine.

Retention: `prune(days)` deletes entries older than the period and, in the same transaction, appends a `checkpoint`
entry recording the sequence number and hash of the last pruned entry. The first remaining entry then chains to that
recorded hash, so the shortened chain still verifies end to end.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from .storage import Connection, SQLStorage

GENESIS = "0" * 64


def canonical(data: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(seq: int, at: float, kind: str, actor: str, subject: str | None, data: str, prev_hash: str) -> str:
    """The hash of one entry; `data` is the stored canonical JSON text."""
    return hashlib.sha256(canonical([seq, at, kind, actor, subject, data, prev_hash]).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    time: float
    kind: str
    actor: str
    subject: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, "kind": self.kind, "actor": self.actor, "subject": self.subject,
                "data": self.data, "prev_hash": self.prev_hash, "hash": self.hash}


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of `AuditLog.verify()`. `first_broken` is the seq of the first entry that fails, else None."""

    ok: bool
    entries: int
    first_broken: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str = GENESIS


class AuditLog:
    """Append-only, hash-chained log in the same database as everything else."""

    def __init__(self, storage: SQLStorage) -> None:
        self.storage = storage

    def append(self, kind: str, actor: str, subject: str | None = None, data: dict[str, Any] | None = None,
               conn: Connection | None = None) -> AuditEntry:
        """Append one entry. With `conn`, the caller's open transaction is used (so the entry commits with the
        change it records); otherwise the entry is its own committed transaction."""
        if conn is not None:
            return self._append(conn, kind, actor, subject, data or {})
        with self.storage.transaction() as own:
            return self._append(own, kind, actor, subject, data or {})

    @staticmethod
    def _append(conn: Connection, kind: str, actor: str, subject: str | None,
                data: dict[str, Any]) -> AuditEntry:
        last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (int(last["seq"]) + 1, last["hash"]) if last else (1, GENESIS)
        at = time.time()
        text = canonical(data)
        digest = entry_hash(seq, at, kind, actor, subject, text, prev)
        conn.execute("INSERT INTO audit_log (seq, time, kind, actor, subject, data, prev_hash, hash)"
                     " VALUES (?,?,?,?,?,?,?,?)", (seq, at, kind, actor, subject, text, prev, digest))
        return AuditEntry(seq, at, kind, actor, subject, data, prev, digest)

    def entries(self, since: float | None = None, kind: str | None = None) -> list[AuditEntry]:
        where, args = [], []
        if since is not None:
            where.append("time >= ?")
            args.append(since)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
        return [_entry(r) for r in self.storage.connect().execute(sql, args)]

    def verify(self) -> ChainReport:
        """Walk the chain in seq order; report the first entry whose hash, sequence or link is wrong."""
        rows = self.storage.connect().execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        if not rows:
            return ChainReport(True, 0)
        checkpoints: set[tuple[int, str]] = set()
        for r in rows:
            if r["kind"] == "checkpoint":
                try:
                    d = json.loads(r["data"])
                    checkpoints.add((int(d["pruned_through_seq"]), str(d["pruned_last_hash"])))
                except (ValueError, KeyError, TypeError):
                    pass  # a damaged checkpoint fails its own hash below
        prev_seq, prev_hash = None, None
        for r in rows:
            seq = int(r["seq"])
            if entry_hash(seq, r["time"], r["kind"], r["actor"], r["subject"], r["data"], r["prev_hash"]) != r["hash"]:
                return _broken(len(rows), seq, "its content does not match its hash (edited or moved)", rows)
            if prev_seq is None:
                if not (seq == 1 and r["prev_hash"] == GENESIS) and (seq - 1, r["prev_hash"]) not in checkpoints:
                    return _broken(len(rows), seq, "earlier entries are missing and no checkpoint records them", rows)
            else:
                if seq != prev_seq + 1:
                    return _broken(len(rows), seq, f"entries {prev_seq + 1}..{seq - 1} are missing", rows)
                if r["prev_hash"] != prev_hash:
                    return _broken(len(rows), seq, "it does not chain to the entry before it", rows)
            prev_seq, prev_hash = seq, r["hash"]
        return ChainReport(True, len(rows), head_seq=prev_seq, head_hash=str(prev_hash))

    def prune(self, retention_days: float, now: float | None = None) -> int:
        """Delete entries older than `retention_days` behind a checkpoint entry; returns how many were deleted."""
        cutoff = (now if now is not None else time.time()) - retention_days * 86400.0
        with self.storage.transaction() as conn:
            last = conn.execute("SELECT seq, hash FROM audit_log WHERE time < ? ORDER BY seq DESC LIMIT 1",
                                (cutoff,)).fetchone()
            if last is None:
                return 0
            count = conn.execute("SELECT COUNT(*) FROM audit_log WHERE seq <= ?", (last["seq"],)).fetchone()[0]
            # The delete trigger lets deletes through only while this marker row exists, inside this transaction.
            conn.execute("INSERT INTO audit_prune (active) VALUES (1)")
            conn.execute("DELETE FROM audit_log WHERE seq <= ?", (last["seq"],))
            conn.execute("DELETE FROM audit_prune")
            self._append(conn, "checkpoint", "system", None,
                         {"pruned_through_seq": int(last["seq"]), "pruned_last_hash": last["hash"],
                          "pruned_count": int(count), "retention_days": retention_days, "cutoff": cutoff})
        return int(count)


def _entry(r: Any) -> AuditEntry:
    return AuditEntry(int(r["seq"]), r["time"], r["kind"], r["actor"], r["subject"], json.loads(r["data"]),
                      r["prev_hash"], r["hash"])


def _broken(total: int, seq: int, reason: str, rows: list[Any]) -> ChainReport:
    return ChainReport(False, total, first_broken=seq, reason=reason, head_seq=int(rows[-1]["seq"]),
                       head_hash=rows[-1]["hash"])


def log_event(kind: str, actor: str, subject: str | None = None, data: dict[str, Any] | None = None,
              conn: Connection | None = None) -> None:
    """Append an entry from inside a request, when the app has an audit log (server.reports.init_app).
    With `conn`, the entry commits with the caller's open transaction."""
    from flask import current_app

    audit: AuditLog | None = current_app.extensions.get("verity_audit")
    if audit is not None:
        audit.append(kind, actor, subject, data, conn=conn)
