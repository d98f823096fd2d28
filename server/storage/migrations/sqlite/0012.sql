-- 11: the declared index (provenance memory): media whose verification ended in an AI declaration, kept as hashes and
-- the declaration's summary only (never the bytes), so stripped copies can be recognised; cached verdicts keep the
-- declared generation they were computed at
CREATE TABLE declared_media (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    hashes TEXT NOT NULL,
    declaration TEXT NOT NULL,
    declaration_kind TEXT NOT NULL,
    seen_at REAL NOT NULL,
    origin TEXT NOT NULL
);
CREATE UNIQUE INDEX declared_media_sha256 ON declared_media (sha256);
CREATE INDEX declared_media_seen ON declared_media (seen_at);
CREATE TABLE declared_hashes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    media_id INTEGER NOT NULL REFERENCES declared_media(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    region TEXT NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX declared_hashes_kind ON declared_hashes (kind, id);
CREATE INDEX declared_hashes_media ON declared_hashes (media_id);
ALTER TABLE verdicts ADD COLUMN declared_generation INTEGER NOT NULL DEFAULT 0;
