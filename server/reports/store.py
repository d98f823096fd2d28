"""Reports, queue items and reviewers' decisions over the shared database (server.storage).

A report and its audit entry are written in one transaction, committed (WAL, synchronous=FULL) before the API answers
201. Reported bytes are kept content-addressed under DATA_DIR/media/, written and fsynced before that transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audit import AuditLog, canonical
from ..storage import Connection, SQLStorage, like_escape
from ..verify.image_hashing import PDQ_RADIUS, hamming

CATEGORIES = ("synthetic", "misleading_context", "manipulated", "other")
ACTIONS = {"refute": "refuted", "synthetic": "synthetic", "dismiss": "dismissed"}
STATUSES = ("open", "refuted", "synthetic", "dismissed")


class ReportNotFound(LookupError):
    """No report with this id."""


class InvalidReceipt(PermissionError):
    """The receipt does not belong to this report."""


class ItemNotFound(LookupError):
    """No queue item with this id."""


class ItemAlreadyDecided(ValueError):
    """The queue item already has a decision."""


@dataclass(frozen=True, slots=True)
class NewReport:
    id: str
    receipt: str
    item_id: int
    report_count: int


class ReportStore:
    def __init__(self, storage: SQLStorage, audit: AuditLog, media_dir: Path) -> None:
        self.storage, self.audit, self.media_dir = storage, audit, Path(media_dir)

    # -- media bytes
    def media_path(self, sha256: str) -> Path:
        return self.media_dir / sha256[:2] / sha256

    def save_media(self, sha256: str, data: bytes) -> bool:
        """Write bytes once, durably (temp file, fsync, rename, fsync of the folder); False when already held."""
        path = self.media_path(sha256)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{sha256}.{secrets.token_hex(4)}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def load_media(self, sha256: str) -> bytes | None:
        path = self.media_path(sha256)
        return path.read_bytes() if path.exists() else None

    def known_media(self, sha256: str) -> str | None:
        """The media type of bytes Verity has seen (verified, reported or refuted), else None."""
        conn = self.storage.connect()
        for sql in ("SELECT media_type FROM records WHERE sha256 = ? LIMIT 1",
                    "SELECT media_type FROM report_items WHERE sha256 = ? LIMIT 1",
                    "SELECT media_type FROM refuted_media WHERE sha256 = ? LIMIT 1"):
            row = conn.execute(sql, (sha256,)).fetchone()
            if row is not None:
                return str(row[0] or "")
        return None

    # -- reports
    def client_bytes(self, client: str, since: float) -> int:
        """Media bytes this client's reports stored since `since` (the per-client storage quota)."""
        row = self.storage.connect().execute("SELECT COALESCE(SUM(stored_bytes), 0) FROM reports"
                                             " WHERE client = ? AND time >= ?", (client, since)).fetchone()
        return int(row[0])

    def add_report(self, *, sha256: str, media_type: str | None, pdq: str | None, has_bytes: bool, category: str,
                   text: str, source_url: str | None, page_url: str | None, client: str,
                   stored_bytes: int = 0) -> NewReport:
        """Store a report (one queue item per media, counted) and its audit entry in one committed transaction."""
        report_id = secrets.token_hex(10)
        receipt = secrets.token_urlsafe(24)
        now = time.time()
        with self.storage.transaction() as conn:
            conn.execute(
                "INSERT INTO report_items (sha256, media_type, pdq, has_bytes, report_count, first_reported,"
                " last_reported) VALUES (?,?,?,?,1,?,?) ON CONFLICT (sha256) DO UPDATE SET"
                " report_count = report_items.report_count + 1, last_reported = excluded.last_reported,"
                " media_type = COALESCE(report_items.media_type, excluded.media_type),"
                " pdq = COALESCE(report_items.pdq, excluded.pdq),"
                " has_bytes = CASE WHEN excluded.has_bytes > report_items.has_bytes THEN excluded.has_bytes"
                " ELSE report_items.has_bytes END",
                (sha256, media_type, pdq, int(has_bytes), now, now))
            item = conn.execute("SELECT id, report_count FROM report_items WHERE sha256 = ?", (sha256,)).fetchone()
            conn.execute("INSERT INTO reports (id, item_id, time, category, text, source_url, page_url, receipt_sha256,"
                         " client, stored_bytes) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (report_id, item["id"], now, category, text, source_url, page_url,
                          hashlib.sha256(receipt.encode()).hexdigest(), client, stored_bytes))
            # The audit entry keeps hashes, not the reporter's text: the log is for filing, the text stays in reports.
            self.audit.append("report", "anonymous", f"report:{report_id}",
                              {"sha256": sha256, "category": category, "item_id": item["id"],
                               "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                               "source_url": source_url, "page_url": page_url}, conn=conn)
        return NewReport(report_id, receipt, int(item["id"]), int(item["report_count"]))

    def report_status(self, report_id: str, receipt: str) -> dict[str, Any]:
        """What a reporter may see of their own report.

        Raises:
            ReportNotFound: unknown id.
            InvalidReceipt: the receipt is not this report's.
        """
        conn = self.storage.connect()
        row = conn.execute("SELECT r.*, i.status, i.decision_id, i.sha256 FROM reports r"
                           " JOIN report_items i ON i.id = r.item_id WHERE r.id = ?", (report_id,)).fetchone()
        if row is None:
            raise ReportNotFound(report_id)
        given = hashlib.sha256(receipt.encode("utf-8", "surrogatepass")).hexdigest()
        if not secrets.compare_digest(given, row["receipt_sha256"]):
            raise InvalidReceipt(report_id)
        body: dict[str, Any] = {"id": row["id"], "status": row["status"], "category": row["category"],
                                "sha256": row["sha256"], "created": _iso(row["time"]), "decided": None,
                                "refutation": None}
        if row["decision_id"] is not None:
            d = conn.execute("SELECT time, refutation_id FROM decisions WHERE id = ?", (row["decision_id"],)).fetchone()
            body["decided"] = _iso(d["time"])
            if d["refutation_id"] is not None:
                ref = self.storage.get_refutation(int(d["refutation_id"]))
                body["refutation"] = ref.to_json() if ref else None
        return body

    # -- the queue
    def queue(self, status: str | None = "open", category: str | None = None, media_kind: str | None = None,
              q: str | None = None, sort: str = "count", limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Queue items, most reported first (then most recent), or most recent first with sort="recent"."""
        where, args = [], []
        if status:
            where.append("i.status = ?")
            args.append(status)
        if category:
            where.append("EXISTS (SELECT 1 FROM reports r WHERE r.item_id = i.id AND r.category = ?)")
            args.append(category)
        if media_kind:
            where.append("i.media_type LIKE ?")
            args.append(media_kind + "/%")
        if q:
            like_op = self.storage.like()
            # client text is escaped, not stripped: `q=%` finds a literal "%", never every item
            where.append(f"(i.sha256 LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM reports r WHERE r.item_id = i.id AND"
                         f" (r.source_url {like_op} ? ESCAPE '\\' OR r.page_url {like_op} ? ESCAPE '\\')))")
            like = "%" + like_escape(q) + "%"
            args += [like_escape(q.lower()) + "%", like, like]
        order = "i.last_reported DESC, i.report_count DESC" if sort == "recent" else \
            "i.report_count DESC, i.last_reported DESC"
        sql = (f"SELECT i.*, (SELECT {self.storage.group_concat_distinct('r.category')} FROM reports r"
               " WHERE r.item_id = i.id) AS categories, (SELECT COUNT(DISTINCT r.client) FROM reports r WHERE r.item_id = i.id) AS reporters"
               " FROM report_items i" + (" WHERE " + " AND ".join(where) if where else "") +
               f" ORDER BY {order}, i.id DESC LIMIT ? OFFSET ?")
        return [_item(r) for r in self.storage.connect().execute(sql, [*args, limit, offset])]

    def item(self, item_id: int) -> dict[str, Any]:
        row = self.storage.connect().execute(
            f"SELECT i.*, (SELECT {self.storage.group_concat_distinct('r.category')} FROM reports r"
            " WHERE r.item_id = i.id) AS categories,"
            " (SELECT COUNT(DISTINCT r.client) FROM reports r WHERE r.item_id = i.id) AS reporters"
            " FROM report_items i WHERE i.id = ?", (item_id,)).fetchone()
        if row is None:
            raise ItemNotFound(str(item_id))
        return _item(row)

    def item_reports(self, item_id: int) -> list[dict[str, Any]]:
        return [{"id": r["id"], "time": _iso(r["time"]), "category": r["category"], "text": r["text"],
                 "source_url": r["source_url"], "page_url": r["page_url"]}
                for r in self.storage.connect().execute("SELECT * FROM reports WHERE item_id = ? ORDER BY time DESC",
                                                        (item_id,))]

    def near_duplicates(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """Refuted media and other reported items with the same SHA-256 or a PDQ hash within the match distance."""
        conn = self.storage.connect()
        found: list[dict[str, Any]] = []
        for r in conn.execute("SELECT m.refutation_id, m.sha256, m.hashes, f.claim, f.rating FROM refuted_media m"
                              " JOIN refutations f ON f.id = m.refutation_id ORDER BY m.id DESC LIMIT 5000"):
            distance = 0 if r["sha256"] == item["sha256"] else _min_pdq(item.get("pdq"), json.loads(r["hashes"]))
            if distance is not None and distance <= PDQ_RADIUS:
                found.append({"kind": "refutation", "refutation_id": r["refutation_id"], "sha256": r["sha256"],
                              "claim": r["claim"], "rating": r["rating"], "distance": distance,
                              "method": "sha256" if distance == 0 and r["sha256"] == item["sha256"] else "pdq"})
        if item.get("pdq"):
            for r in conn.execute("SELECT id, sha256, pdq, status, report_count FROM report_items"
                                  " WHERE pdq IS NOT NULL AND id != ? ORDER BY id DESC LIMIT 5000", (item["id"],)):
                distance = hamming(item["pdq"], r["pdq"]) if _is_pdq(r["pdq"]) and _is_pdq(item["pdq"]) else 256
                if distance <= PDQ_RADIUS:
                    found.append({"kind": "report_item", "item_id": r["id"], "sha256": r["sha256"],
                                  "status": r["status"], "report_count": r["report_count"], "distance": distance,
                                  "method": "pdq"})
        return sorted(found, key=lambda d: d["distance"])

    # -- decisions
    def decide(self, item_id: int, action: str, note: str, reviewer: str, refutation_id: int | None,
               evidence: dict[str, Any], conn: Connection | None = None) -> int:
        """Record a decision, close the item and append the audit entry, in one transaction (the caller's, when
        `conn` is given: a refutation and its decision then commit together or not at all).

        Raises:
            ItemNotFound, ItemAlreadyDecided
        """
        if conn is None:
            with self.storage.transaction() as own:
                return self.decide(item_id, action, note, reviewer, refutation_id, evidence, conn=own)
        row = self.open_item(item_id, conn)
        now = time.time()
        cur = conn.execute("INSERT INTO decisions (item_id, time, action, note, reviewer, refutation_id, evidence)"
                           " VALUES (?,?,?,?,?,?,?) RETURNING id",
                           (item_id, now, action, note, reviewer, refutation_id, canonical(evidence)))
        decision_id = int(cur.fetchone()[0])
        conn.execute("UPDATE report_items SET status = ?, decision_id = ? WHERE id = ?",
                     (ACTIONS[action], decision_id, item_id))
        if refutation_id is not None:
            # The cached verdict predates the refutation; drop it so the next verification sees the refutation.
            conn.execute("DELETE FROM verdicts WHERE sha256 = ?", (row["sha256"],))
        self.audit.append("decision", f"reviewer:{reviewer}", f"decision:{decision_id}",
                          {"item_id": item_id, "action": action, "refutation_id": refutation_id,
                           "note_sha256": hashlib.sha256(note.encode("utf-8")).hexdigest(), **evidence},
                          conn=conn)
        return decision_id

    @staticmethod
    def open_item(item_id: int, conn: Connection) -> Any:
        """The queue item's row, inside a write transaction, if it is still open.

        Raises:
            ItemNotFound, ItemAlreadyDecided
        """
        row = conn.execute("SELECT status, sha256 FROM report_items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise ItemNotFound(str(item_id))
        if row["status"] != "open":
            raise ItemAlreadyDecided(str(item_id))
        return row

    def decisions(self, since: float | None = None, item_id: int | None = None) -> list[dict[str, Any]]:
        where, args = [], []
        if since is not None:
            where.append("d.time >= ?")
            args.append(since)
        if item_id is not None:
            where.append("d.item_id = ?")
            args.append(item_id)
        sql = ("SELECT d.*, i.sha256, i.media_type, i.pdq, i.report_count FROM decisions d"
               " JOIN report_items i ON i.id = d.item_id" + (" WHERE " + " AND ".join(where) if where else "") +
               " ORDER BY d.id")
        return [{"id": r["id"], "time": r["time"], "time_iso": _iso(r["time"]), "action": r["action"], "note": r["note"], "reviewer": r["reviewer"],
                 "refutation_id": r["refutation_id"], "evidence": json.loads(r["evidence"]), "item_id": r["item_id"],
                 "sha256": r["sha256"], "media_type": r["media_type"], "pdq": r["pdq"],
                 "report_count": r["report_count"]} for r in self.storage.connect().execute(sql, args)]


def _min_pdq(pdq: str | None, hashes: dict[str, Any]) -> int | None:
    """The smallest distance from `pdq` to a refuted original's stored PDQ hashes (any region of it)."""
    if not pdq:
        return None
    values = hashes.get("pdq") or []
    values = [values] if isinstance(values, (str, dict)) else values
    digests = [h["hash"] if isinstance(h, dict) else h for h in values]
    distances = [hamming(pdq, h) for h in digests if _is_pdq(h)] if _is_pdq(pdq) else []
    return min(distances) if distances else None


def _is_pdq(value: Any) -> bool:
    """A PDQ hash in hex (64 digits); anything else in a stored row is not compared."""
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def _item(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "sha256": r["sha256"], "media_type": r["media_type"], "pdq": r["pdq"],
            "has_bytes": bool(r["has_bytes"]), "status": r["status"], "report_count": r["report_count"],
            "reporters": r["reporters"], "categories": sorted((r["categories"] or "").split(",")) if r["categories"]
            else [], "first_reported": _iso(r["first_reported"]), "last_reported": _iso(r["last_reported"]),
            "decision_id": r["decision_id"]}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
