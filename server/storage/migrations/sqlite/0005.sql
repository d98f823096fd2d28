-- 5: background verification jobs for long audio/video (server/jobs.py)
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    stage TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    source_url TEXT,
    page_url TEXT,
    owner TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    problem TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, created);
