"""Settings an admin may change in the review UI (table `settings`); each change is an audit entry.

Only the audit retention today: VERIFY_AUDIT_RETENTION_DAYS is the default until an admin sets another value, which
then holds for every process (it is read from the database at start and when changed). Everything else stays in
configuration (server/config.py), where an operator changes it.
"""

from __future__ import annotations

import time

from ..audit import AuditLog
from ..storage import SQLStorage

RETENTION = "audit_retention_days"
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 30, 3650  # below a month the audit trail stops being useful evidence


class SettingError(ValueError):
    """A refused setting value."""


class AdminSettings:
    """Admin-changeable settings over the shared database."""

    def __init__(self, storage: SQLStorage, audit: AuditLog, default_retention_days: float) -> None:
        self.storage, self.audit, self.default_retention_days = storage, audit, default_retention_days

    def retention_days(self) -> tuple[float, bool]:
        """(the audit retention in days, whether an admin set it rather than the configuration)."""
        row = self.storage.connect().execute("SELECT value FROM settings WHERE name = ?", (RETENTION,)).fetchone()
        return (float(row["value"]), True) if row else (self.default_retention_days, False)

    def set_retention_days(self, days: float, actor: str) -> int:
        """Store a new audit retention, audit the change, and prune with it now; returns the entries pruned.

        Raises:
            SettingError: outside MIN_RETENTION_DAYS..MAX_RETENTION_DAYS.
        """
        if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
            raise SettingError(f"retention must be {MIN_RETENTION_DAYS}-{MAX_RETENTION_DAYS} days")
        before, _ = self.retention_days()
        with self.storage.transaction() as conn:
            conn.execute("INSERT INTO settings (name, value, actor, time) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO"
                         " UPDATE SET value = excluded.value, actor = excluded.actor, time = excluded.time",
                         (RETENTION, repr(float(days)), actor, time.time()))
            self.audit.append("settings.retention", actor, "settings:" + RETENTION, {"from": before, "to": days},
                              conn=conn)
        return self.audit.prune(days)
