-- 6: the verdict cache revalidates instead of flushing: each verdict keeps the refutation generation it was computed at and the perceptual hashes its refutation lookup searched with (server/verdict_cache.py)
ALTER TABLE verdicts ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE verdicts ADD COLUMN probe TEXT;
