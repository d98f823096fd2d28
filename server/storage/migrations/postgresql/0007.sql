-- 7: hashes made before the single ingestion path (server/refutations/ingest.py) are recomputed from the stored bytes:
-- refutations made in the review UI carried PDQ in the opposite bit order and no region, keypoint or clip hashes, and
-- report items' PDQ used that order too. Rows at version 0 are rehashed at start-up, then set to 1.
ALTER TABLE refuted_media ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
UPDATE refuted_media SET hash_version = 0
    WHERE refutation_id IN (SELECT id FROM refutations WHERE extra LIKE '%"source": "verity-review"%');
ALTER TABLE report_items ADD COLUMN pdq_version INTEGER NOT NULL DEFAULT 1;
UPDATE report_items SET pdq_version = 0 WHERE pdq IS NOT NULL;
-- jobs: who submitted them (a keyed pseudonym, for the per-client cap), and finding a running job by its bytes
ALTER TABLE jobs ADD COLUMN client TEXT;
CREATE INDEX jobs_sha256 ON jobs (sha256, status);
-- reports: the media bytes each report stored (the per-client storage quota)
ALTER TABLE reports ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
