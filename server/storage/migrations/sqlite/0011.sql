-- 11: decisions, refutations, their withdrawals (tombstones) and the media they cover are append-only at the database
-- level, as records and the audit log are. The one change the app makes to them: start-up recomputes the hashes of
-- refuted media made before the single ingestion path (migration 7, hash_version 0 -> 1, RefutationIngest.rehash_pending),
-- replacing that row's media_hashes; the identity of the row (what, which refutation, when) never changes.
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER refutations_no_update BEFORE UPDATE ON refutations
    BEGIN SELECT RAISE(ABORT, 'refutations are append-only (a withdrawal is a tombstone)'); END;
CREATE TRIGGER refutations_no_delete BEFORE DELETE ON refutations
    BEGIN SELECT RAISE(ABORT, 'refutations are append-only (a withdrawal is a tombstone)'); END;
CREATE TRIGGER refutation_withdrawals_no_update BEFORE UPDATE ON refutation_withdrawals
    BEGIN SELECT RAISE(ABORT, 'refutation withdrawals are append-only'); END;
CREATE TRIGGER refutation_withdrawals_no_delete BEFORE DELETE ON refutation_withdrawals
    BEGIN SELECT RAISE(ABORT, 'refutation withdrawals are append-only'); END;
CREATE TRIGGER refuted_media_no_update BEFORE UPDATE ON refuted_media
    WHEN NOT (OLD.hash_version = 0 AND NEW.hash_version = 1 AND NEW.id = OLD.id
              AND NEW.refutation_id = OLD.refutation_id AND NEW.sha256 = OLD.sha256
              AND NEW.media_type = OLD.media_type AND NEW.content_url IS OLD.content_url
              AND NEW.created = OLD.created)
    BEGIN SELECT RAISE(ABORT, 'refuted media are append-only (only hashes made before migration 7 are recomputed)'); END;
CREATE TRIGGER refuted_media_no_delete BEFORE DELETE ON refuted_media
    BEGIN SELECT RAISE(ABORT, 'refuted media are append-only'); END;
CREATE TRIGGER media_hashes_no_update BEFORE UPDATE ON media_hashes
    BEGIN SELECT RAISE(ABORT, 'media hashes are append-only'); END;
CREATE TRIGGER media_hashes_no_delete BEFORE DELETE ON media_hashes
    WHEN NOT EXISTS (SELECT 1 FROM refuted_media WHERE id = OLD.media_id AND hash_version = 0)
    BEGIN SELECT RAISE(ABORT, 'media hashes are append-only (only hashes made before migration 7 are recomputed)'); END;
