-- 3: reports and their review (Art. 15 complaint entry), reviewer accounts, the hash-chained audit log (Art. 12/14/17)
CREATE TABLE report_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    media_type TEXT,
    pdq TEXT,
    has_bytes INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'open',
    report_count INTEGER NOT NULL DEFAULT 0,
    first_reported REAL NOT NULL,
    last_reported REAL NOT NULL,
    decision_id INTEGER
);
CREATE INDEX report_items_queue ON report_items (status, report_count DESC, last_reported DESC);
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES report_items(id),
    time REAL NOT NULL,
    category TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    source_url TEXT,
    page_url TEXT,
    receipt_sha256 TEXT NOT NULL,
    client TEXT NOT NULL
);
CREATE INDEX reports_item ON reports (item_id);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES report_items(id),
    time REAL NOT NULL,
    action TEXT NOT NULL,
    note TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    refutation_id INTEGER REFERENCES refutations(id),
    evidence TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE review_sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX login_failures_name ON login_failures (name, time);
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE audit_prune (active INTEGER NOT NULL);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log WHEN NOT EXISTS (SELECT 1 FROM audit_prune)
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (pruned only by retention)'); END;
