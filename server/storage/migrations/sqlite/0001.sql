-- 1: verdict cache and the identification records (Art. 12/17 of the 2020 Regulations: records and logs)
CREATE TABLE verdicts (
    sha256 TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (sha256, pipeline)
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    label TEXT NOT NULL,
    source_url TEXT,
    page_url TEXT,
    cached INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX records_sha256 ON records (sha256);
CREATE TRIGGER records_no_update BEFORE UPDATE ON records
    BEGIN SELECT RAISE(ABORT, 'records are append-only'); END;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records
    BEGIN SELECT RAISE(ABORT, 'records are append-only'); END;
