-- 8: sign-in failures are counted per account and client (a keyed hash of the client's rate-limit key), so wrong passwords from one place do not lock the account everywhere; and withdrawn refutations: an admin's audited tombstone (the refutation row stays; the matcher's queries skip it); settings an admin changes in the review UI (audit retention)
ALTER TABLE login_failures ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX login_failures_name_client ON login_failures (name, client, time);
CREATE INDEX login_failures_time ON login_failures (time);
CREATE TABLE refutation_withdrawals (
    refutation_id INTEGER PRIMARY KEY REFERENCES refutations(id),
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    actor TEXT NOT NULL,
    time REAL NOT NULL
);
