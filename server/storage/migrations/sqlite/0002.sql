-- 2: refutations (Art. 13 rumor refutation) and the media they cover
CREATE TABLE refutations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    claim TEXT NOT NULL,
    rating TEXT NOT NULL,
    fact_checker TEXT NOT NULL,
    review_url TEXT,
    date TEXT,
    language TEXT,
    explanation TEXT,
    original_context TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE TABLE refuted_media (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    refutation_id INTEGER NOT NULL REFERENCES refutations(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    hashes TEXT NOT NULL DEFAULT '{}',
    content_url TEXT,
    created REAL NOT NULL
);
CREATE INDEX refuted_media_sha256 ON refuted_media (sha256);
CREATE INDEX refuted_media_refutation ON refuted_media (refutation_id);
