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

Anchoring (issue 17 item 11). The chain alone cannot show that its end was cut off (the shortened chain is still a
valid chain), nor that a prefix was deleted behind a forged checkpoint (anyone can append a checkpoint naming the last
deleted entry). So the chain's state is also written outside the database, to `DATA_DIR/audit-anchor.json`
(`AnchorFile`): the head (seq + hash), where the history starts, and every checkpoint retention wrote. The head moves
after each durable commit that appended (never before: a rollback or a non-durable commit lost on power failure must
not leave the file naming an entry the database does not have; a durable commit also makes every earlier entry
durable). A checkpoint is anchored *before* its prune commits, so a crash between the two leaves it known. The file is
replaced atomically (write, fsync, rename) under an exclusive lock, so gunicorn workers, the job worker and the CLI,
on either engine, serialise their updates; the head only moves forward. Each filing package (`build.py audit export`)
carries the same anchor in manifest.json, to keep off this machine.

`verify()` compares the chain with the anchor file (and with any export's anchor given): an anchored head beyond the
chain's end is a cut tail; an anchored head whose hash differs is a rewrite; a chain that does not start where the
anchored history starts, or at a checkpoint the anchor knows, lost its prefix; a checkpoint entry the anchor does not
know is forged. The first anchor is made from the chain as it stands (trust on first use). Someone who can rewrite
both the database and DATA_DIR can defeat the file; the exports are the anchor against that.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .storage import Connection, SQLStorage

GENESIS = "0" * 64
log = logging.getLogger(__name__)


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
    anchors: tuple[str, ...] = ()  # the anchors the chain was compared with, e.g. "audit-anchor.json (head #12)"


class AnchorError(Exception):
    """An anchor (file or export) that cannot be read."""


@dataclass(frozen=True, slots=True)
class AnchoredCheckpoint:
    """A checkpoint entry retention wrote: its own seq and hash, and the last entry it pruned."""

    seq: int
    hash: str
    through_seq: int
    through_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "through_seq": self.through_seq, "through_hash": self.through_hash}


@dataclass(slots=True)
class Anchor:
    """The chain's state as recorded outside the database. `start_seq`/`start_prev_hash`: where the anchored history
    begins (entry 1 after GENESIS, or the entry after the last settled prune); None in an old export that kept only
    the head."""

    head_seq: int
    head_hash: str
    start_seq: int | None = 1
    start_prev_hash: str | None = GENESIS
    checkpoints: list[AnchoredCheckpoint] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "head_seq": self.head_seq, "head_hash": self.head_hash, "start_seq": self.start_seq,
                "start_prev_hash": self.start_prev_hash, "checkpoints": [c.to_json() for c in self.checkpoints]}

    @classmethod
    def from_json(cls, data: Any) -> Anchor:
        """Read an anchor file's object, or a filing package's manifest.json (its `audit_chain`).

        Raises:
            AnchorError: neither.
        """
        try:
            if isinstance(data, dict) and "audit_chain" in data:
                chain = data["audit_chain"]
                data = chain.get("anchor") or {"head_seq": chain["head_seq"], "head_hash": chain["head_hash"],
                                               "start_seq": None, "start_prev_hash": None}
            start = data.get("start_seq")
            return cls(int(data["head_seq"] or 0), str(data["head_hash"]),
                       int(start) if start is not None else None,
                       str(data["start_prev_hash"]) if data.get("start_prev_hash") is not None else None,
                       [AnchoredCheckpoint(int(c["seq"]), str(c["hash"]), int(c["through_seq"]),
                                           str(c["through_hash"])) for c in data.get("checkpoints", [])])
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise AnchorError(f"not an audit anchor ({type(exc).__name__}: {exc})") from exc


class AnchorFile:
    """DATA_DIR/audit-anchor.json: the chain's head, start and checkpoints, outside the database (module docstring).
    Every change is a read-modify-write under an exclusive lock on a sibling lock file, replaced atomically.

    One instance per file and process (`at`): threads that commit while another holds the lock note their entry,
    and the next holder writes the newest noted one for all of them (one disk flush instead of one each)."""

    _instances: ClassVar[dict[str, AnchorFile]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._noted_lock = threading.Lock()
        self._noted: tuple[int, str] | None = None  # the newest durable entry this process committed

    @classmethod
    def at(cls, path: Path) -> AnchorFile:
        """The process's one AnchorFile for `path`."""
        key = os.path.abspath(path)
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(Path(key))
            return cls._instances[key]

    def read(self) -> Anchor | None:
        """The anchor, or None when there is none yet.

        Raises:
            AnchorError: the file exists but is not an anchor.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AnchorError(f"{self.path} cannot be read: {exc}") from exc
        try:
            return Anchor.from_json(json.loads(text))
        except ValueError as exc:
            raise AnchorError(f"{self.path} is not an audit anchor: {exc}") from exc

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, anchor: Anchor, durable_rename: bool = False) -> None:
        """Replace the file atomically: the new text is on disk before the rename, so a crash leaves the old anchor or
        the new one, never a torn file. The folder is not fsynced after the rename on purpose (one disk flush per
        update, not two): a crash can then at worst bring back the previous anchor, which lags and so only weakens
        the check; it never names an entry the database lacks. A checkpoint (`durable_rename`) is the exception: it
        must outlive the prune it is anchored before, so the folder is fsynced too."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(anchor.to_json(), indent=1) + "\n")
            f.flush()
            os.fdatasync(f.fileno())
        os.replace(tmp, self.path)
        if durable_rename:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @staticmethod
    def _from_chain(conn: Connection, head: tuple[int, str] | None) -> Anchor:
        """The first anchor, from the chain as it stands (trust on first use); `head` overrides the newest row."""
        first = conn.execute("SELECT seq, prev_hash FROM audit_log ORDER BY seq LIMIT 1").fetchone()
        last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        checkpoints = [AnchoredCheckpoint(int(r["seq"]), r["hash"], *pruned) for r in conn.execute(
            "SELECT seq, hash, data FROM audit_log WHERE kind = 'checkpoint' ORDER BY seq")
            if (pruned := _pruned_through(r["data"])) is not None]
        head_seq, head_hash = head or ((int(last["seq"]), last["hash"]) if last else (0, GENESIS))
        start = (int(first["seq"]), first["prev_hash"]) if first else (1, GENESIS)
        return Anchor(head_seq, head_hash, start[0], start[1], checkpoints)

    def ensure(self, conn: Connection) -> None:
        """Make the first anchor from the chain if there is none (read through `conn`, e.g. before a prune)."""
        with self._locked():
            if self.read() is None:
                self._write(self._from_chain(conn, None))

    def advance(self, storage: SQLStorage, seq: int, digest: str) -> None:
        """Record a committed, durable entry as the head (only ever forward, and only over the anchored head: a chain
        whose tail was cut and then grew again must not carry the anchor past the evidence).

        Raises:
            AnchorError: the anchored head is no longer in the chain as anchored; the file is left as it is.
        """
        with self._noted_lock:
            if self._noted is None or seq > self._noted[0]:
                self._noted = (seq, digest)
        with self._locked():
            with self._noted_lock:
                seq, digest = self._noted  # this entry, or a newer one committed while this thread waited
            anchor = self.read()
            if anchor is None:
                anchor = self._from_chain(storage.connect(), (seq, digest))
            elif seq > anchor.head_seq:
                if anchor.head_seq > 0:
                    conn = storage.connect()
                    row = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (anchor.head_seq,)).fetchone()
                    first = conn.execute("SELECT MIN(seq) FROM audit_log").fetchone()[0]
                    pruned = row is None and first is not None and int(first) > anchor.head_seq
                    if (row is None and not pruned) or (row is not None and row["hash"] != anchor.head_hash):
                        raise AnchorError(f"the anchored head #{anchor.head_seq} is no longer in the chain as "
                                          "anchored (cut or rewritten); the anchor keeps it (run build.py audit verify)")
                anchor.head_seq, anchor.head_hash = seq, digest
            else:
                return
            self._write(anchor)

    def add_checkpoint(self, conn: Connection, checkpoint: AnchoredCheckpoint) -> None:
        """Anchor a checkpoint before its prune commits (a rolled-back one names an entry the chain never has)."""
        with self._locked():
            anchor = self.read() or self._from_chain(conn, None)
            anchor.checkpoints.append(checkpoint)
            self._write(anchor, durable_rename=True)

    def settle(self, checkpoint: AnchoredCheckpoint) -> None:
        """After the prune committed: the anchored history now starts after the pruned entries."""
        with self._locked():
            anchor = self.read()
            if anchor is None:
                return
            if anchor.start_seq is None or checkpoint.through_seq + 1 > anchor.start_seq:
                anchor.start_seq, anchor.start_prev_hash = checkpoint.through_seq + 1, checkpoint.through_hash
            anchor.checkpoints = [c for c in anchor.checkpoints if c.seq >= anchor.start_seq]
            if checkpoint.seq > anchor.head_seq:
                anchor.head_seq, anchor.head_hash = checkpoint.seq, checkpoint.hash
            self._write(anchor)


class AuditLog:
    """Append-only, hash-chained log in the same database as everything else, its head anchored outside it."""

    def __init__(self, storage: SQLStorage) -> None:
        self.storage = storage
        self.anchor = AnchorFile.at(storage.anchor_path) if storage.anchor_path is not None else None

    def append(self, kind: str, actor: str, subject: str | None = None, data: dict[str, Any] | None = None,
               conn: Connection | None = None) -> AuditEntry:
        """Append one entry. With `conn`, the caller's open transaction is used (so the entry commits with the
        change it records); otherwise the entry is its own committed transaction."""
        if conn is not None:
            return self._append(conn, kind, actor, subject, data or {})
        with self.storage.transaction() as own:
            return self._append(own, kind, actor, subject, data or {})

    def _append(self, conn: Connection, kind: str, actor: str, subject: str | None,
                data: dict[str, Any], after: tuple[int, str] | None = None) -> AuditEntry:
        """`after`: the (seq, hash) to chain to when the table no longer holds it (a prune that took every entry)."""
        if after is None:
            last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            after = (int(last["seq"]), last["hash"]) if last else (0, GENESIS)
        seq, prev = after[0] + 1, after[1]
        at = time.time()
        text = canonical(data)
        digest = entry_hash(seq, at, kind, actor, subject, text, prev)
        conn.execute("INSERT INTO audit_log (seq, time, kind, actor, subject, data, prev_hash, hash)"
                     " VALUES (?,?,?,?,?,?,?,?)", (seq, at, kind, actor, subject, text, prev, digest))
        if self.anchor is not None:
            self.storage.on_commit(lambda durable: self._anchor_head(durable, seq, digest))
        return AuditEntry(seq, at, kind, actor, subject, data, prev, digest)

    def _anchor_head(self, durable: bool, seq: int, digest: str) -> None:
        """After commit: move the anchored head. A non-durable commit (verification records) is anchored by the next
        durable one, which makes it durable too. The entry is committed either way, so a file error is logged, not
        raised: the anchor lags, and `verify()` still checks what it holds."""
        if not durable or self.anchor is None:
            return
        try:
            self.anchor.advance(self.storage, seq, digest)
        except (OSError, AnchorError) as exc:
            log.error("audit anchor %s not updated to #%d: %s", self.anchor.path, seq, exc)

    def _settle(self, checkpoint: AnchoredCheckpoint) -> None:
        """After a prune committed. A file error only leaves the anchored start where it was: the checkpoint, anchored
        before the commit, still accounts for the new start."""
        if self.anchor is None:
            return
        try:
            self.anchor.settle(checkpoint)
        except (OSError, AnchorError) as exc:
            log.error("audit anchor %s: start not moved past checkpoint #%d: %s", self.anchor.path, checkpoint.seq, exc)

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

    def verify(self, anchors: Sequence[tuple[str, Anchor]] = ()) -> ChainReport:
        """Walk the chain in seq order; report the first entry whose hash, sequence or link is wrong; then compare it
        with the anchor file (when there is one) and with each named anchor given (an export's), in that order."""
        rows = self.storage.connect().execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        report = self._verify_rows(rows)
        if not report.ok:
            return report
        # (label, anchor, whether it knows every checkpoint): the anchor file learns each checkpoint before its prune
        # commits, so it must know every one in the chain; an export knows those up to its own head.
        named: list[tuple[str, Anchor, bool]] = []
        if self.anchor is not None:
            try:
                local = self.anchor.read()
            except AnchorError as exc:
                return ChainReport(False, len(rows), first_broken=report.head_seq, reason=str(exc),
                                   head_seq=report.head_seq, head_hash=report.head_hash)
            if local is not None:
                named.append((f"the anchor file {self.anchor.path}", local, True))
        named.extend((label, anchor, False) for label, anchor in anchors)
        known = {(c.seq, c.hash) for _, a, _ in named for c in a.checkpoints}
        for label, anchor, knows_all in named:
            problem = compare_with_anchor(rows, anchor, label, known, knows_all_checkpoints=knows_all)
            if problem is not None:
                return ChainReport(False, len(rows), first_broken=problem[0], reason=problem[1],
                                   head_seq=report.head_seq, head_hash=report.head_hash)
        return ChainReport(True, report.entries, head_seq=report.head_seq, head_hash=report.head_hash,
                           anchors=tuple(f"{label} (head #{a.head_seq})" for label, a, _ in named))

    def anchor_for_export(self) -> Anchor | None:
        """The anchor a filing package carries: the anchored history and checkpoints, with the chain's verified head
        as it is now. None while the chain is broken (an export must not vouch for it)."""
        report = self.verify()
        if not report.ok:
            return None
        local = self.anchor.read() if self.anchor is not None else None
        if local is None:
            local = AnchorFile._from_chain(self.storage.connect(), None)
        return Anchor(report.head_seq or 0, report.head_hash, local.start_seq, local.start_prev_hash,
                      list(local.checkpoints))

    @staticmethod
    def _verify_rows(rows: list[Any]) -> ChainReport:
        if not rows:
            return ChainReport(True, 0)
        # a damaged checkpoint (None here) fails its own hash below
        checkpoints = {pruned for r in rows if r["kind"] == "checkpoint" and (pruned := _pruned_through(r["data"]))}
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
            if self.anchor is not None:
                self.anchor.ensure(conn)  # a first anchor is made from the chain before anything is pruned
            head = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            count = conn.execute("SELECT COUNT(*) FROM audit_log WHERE seq <= ?", (last["seq"],)).fetchone()[0]
            # The delete trigger lets deletes through only while this marker row exists, inside this transaction.
            conn.execute("INSERT INTO audit_prune (active) VALUES (1)")
            conn.execute("DELETE FROM audit_log WHERE seq <= ?", (last["seq"],))
            conn.execute("DELETE FROM audit_prune")
            entry = self._append(conn, "checkpoint", "system", None,
                                 {"pruned_through_seq": int(last["seq"]), "pruned_last_hash": last["hash"],
                                  "pruned_count": int(count), "retention_days": retention_days, "cutoff": cutoff},
                                 after=(int(head["seq"]), head["hash"]))  # numbering and chain go on, even if all went
            if self.anchor is not None:
                # Anchored before the commit (an error here rolls the prune back): after a crash between the two the
                # checkpoint is still known; once committed, the anchored history starts after the pruned entries.
                checkpoint = AnchoredCheckpoint(entry.seq, entry.hash, int(last["seq"]), last["hash"])
                self.anchor.add_checkpoint(conn, checkpoint)
                self.storage.on_commit(lambda durable: self._settle(checkpoint))
        return int(count)


def compare_with_anchor(rows: list[Any], anchor: Anchor, label: str, known: set[tuple[int, str]],
                        knows_all_checkpoints: bool) -> tuple[int, str] | None:
    """Compare a chain that verified on its own (`rows`, in seq order) with an anchor; (seq, reason) of the first
    disagreement, or None. `known`: the (seq, hash) of every checkpoint any anchor at hand records."""
    hashes = {int(r["seq"]): r["hash"] for r in rows}
    first_seq = int(rows[0]["seq"]) if rows else None
    head_seq = int(rows[-1]["seq"]) if rows else 0
    if anchor.head_seq > head_seq:
        return (head_seq + 1, f"the chain ends at #{head_seq} but {label} records entry #{anchor.head_seq} "
                              f"({anchor.head_hash[:16]}…): entries {head_seq + 1}..{anchor.head_seq} were cut off "
                              "the end")
    if anchor.head_seq in hashes and hashes[anchor.head_seq] != anchor.head_hash:
        return (anchor.head_seq, f"entry #{anchor.head_seq} is not the one {label} records "
                                 f"({anchor.head_hash[:16]}…): the chain was rewritten from there or before")
    if first_seq is None:
        return None
    first_prev = rows[0]["prev_hash"]
    starts = {(c.through_seq + 1, c.through_hash) for c in anchor.checkpoints if hashes.get(c.seq) == c.hash}
    if anchor.start_seq is not None:
        starts.add((anchor.start_seq, anchor.start_prev_hash))
        if (first_seq, first_prev) not in starts:
            missing = (f"entries {anchor.start_seq}..{first_seq - 1} are gone" if first_seq > anchor.start_seq
                       else "it does not link to the anchored history")
            return (first_seq, f"the chain starts at #{first_seq} but the history {label} records starts at "
                               f"#{anchor.start_seq}, and no checkpoint it anchors accounts for the difference: "
                               f"{missing} (a deleted prefix behind a forged checkpoint)")
    for r in rows:
        seq = int(r["seq"])
        if r["kind"] == "checkpoint" and (seq, r["hash"]) not in known and (knows_all_checkpoints
                                                                           or seq <= anchor.head_seq):
            return (seq, f"checkpoint #{seq} is not anchored in {label}: retention did not write it (forged)")
    return None


def _pruned_through(data: str) -> tuple[int, str] | None:
    """(seq, hash) of the last entry a checkpoint entry's data says it pruned; None when it does not say."""
    try:
        d = json.loads(data)
        return int(d["pruned_through_seq"]), str(d["pruned_last_hash"])
    except (ValueError, KeyError, TypeError):
        return None


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
