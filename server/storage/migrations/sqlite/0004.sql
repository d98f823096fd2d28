-- 4: perceptual hashes of refuted media, one row per (kind, region) as raw bytes, so the matcher loads a million of them with one scan and later reads only rows newer than the last it saw; the stored original's file name.
CREATE TABLE media_hashes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    media_id INTEGER NOT NULL REFERENCES refuted_media(id) ON DELETE CASCADE,
    refutation_id INTEGER NOT NULL REFERENCES refutations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    region TEXT NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX media_hashes_kind ON media_hashes (kind, id);
ALTER TABLE refuted_media ADD COLUMN stored_name TEXT;
