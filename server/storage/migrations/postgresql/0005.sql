-- 5: background verification jobs for long audio/video
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    stage TEXT NOT NULL,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    source_url TEXT,
    page_url TEXT,
    owner TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    problem TEXT,
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, created);
