"""Retention of verification records (`records`: time, sha256, label, source and page URL of each verify).

Records hold which media a user's browser met and where, so they are kept no longer than the retention period
(VERIFY_RECORDS_RETENTION_DAYS, 180 days by default, like the audit log) and then deleted outright: unlike the audit
log they are no evidence chain, so nothing stands in for the deleted rows. `build.py records prune` applies it; the
app applies it once at start. Verdicts (keyed by sha256 alone, no URL) are a cache and are not affected.
"""

from __future__ import annotations

import time

from .storage import Storage

DAY_S = 86400.0


def prune_records(storage: Storage, retention_days: float, now: float | None = None) -> int:
    """Delete records older than `retention_days`; returns how many were deleted (0 when retention is off, <= 0).

    Raises:
        ValueError: `retention_days` is not a finite number.
    """
    days = float(retention_days)
    if days != days or days in (float("inf"), float("-inf")):
        raise ValueError("retention_days must be a finite number")
    if days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - days * DAY_S
    with storage.transaction() as conn:
        # Records are append-only: the delete trigger lets deletes through only while this marker row exists, inside
        # this transaction (migration 10).
        conn.execute("INSERT INTO records_prune (active) VALUES (1)")
        deleted = int(conn.execute("DELETE FROM records WHERE time < ?", (cutoff,)).rowcount)
        conn.execute("DELETE FROM records_prune")
    return deleted
