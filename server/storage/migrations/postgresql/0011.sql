-- 11: decisions, refutations, their withdrawals (tombstones) and the media they cover are append-only at the database
-- level, as records and the audit log are. The one change the app makes to them: start-up recomputes the hashes of
-- refuted media made before the single ingestion path (migration 7, hash_version 0 -> 1, RefutationIngest.rehash_pending),
-- replacing that row's media_hashes; the identity of the row (what, which refutation, when) never changes.
CREATE TRIGGER decisions_no_change BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION verity_refuse_change('decisions are append-only');
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION verity_refuse_change('decisions are append-only');
CREATE TRIGGER refutations_no_change BEFORE UPDATE OR DELETE ON refutations
    FOR EACH ROW EXECUTE FUNCTION verity_refuse_change('refutations are append-only (a withdrawal is a tombstone)');
CREATE TRIGGER refutations_no_truncate BEFORE TRUNCATE ON refutations
    FOR EACH STATEMENT EXECUTE FUNCTION verity_refuse_change('refutations are append-only (a withdrawal is a tombstone)');
CREATE TRIGGER refutation_withdrawals_no_change BEFORE UPDATE OR DELETE ON refutation_withdrawals
    FOR EACH ROW EXECUTE FUNCTION verity_refuse_change('refutation withdrawals are append-only');
CREATE TRIGGER refutation_withdrawals_no_truncate BEFORE TRUNCATE ON refutation_withdrawals
    FOR EACH STATEMENT EXECUTE FUNCTION verity_refuse_change('refutation withdrawals are append-only');
CREATE FUNCTION verity_refuted_media_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash_version = 0 AND NEW.hash_version = 1 AND NEW.id = OLD.id
            AND NEW.refutation_id = OLD.refutation_id AND NEW.sha256 = OLD.sha256
            AND NEW.media_type = OLD.media_type AND NEW.content_url IS NOT DISTINCT FROM OLD.content_url
            AND NEW.created = OLD.created THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'refuted media are append-only (only hashes made before migration 7 are recomputed)'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RAISE EXCEPTION 'refuted media are append-only' USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER refuted_media_no_change BEFORE UPDATE OR DELETE ON refuted_media
    FOR EACH ROW EXECUTE FUNCTION verity_refuted_media_guard();
CREATE TRIGGER refuted_media_no_truncate BEFORE TRUNCATE ON refuted_media
    FOR EACH STATEMENT EXECUTE FUNCTION verity_refuse_change('refuted media are append-only');
CREATE FUNCTION verity_media_hashes_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM refuted_media WHERE id = OLD.media_id AND hash_version = 0) THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'media hashes are append-only (only hashes made before migration 7 are recomputed)'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RAISE EXCEPTION 'media hashes are append-only' USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER media_hashes_no_change BEFORE UPDATE OR DELETE ON media_hashes
    FOR EACH ROW EXECUTE FUNCTION verity_media_hashes_guard();
CREATE TRIGGER media_hashes_no_truncate BEFORE TRUNCATE ON media_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION verity_refuse_change('media hashes are append-only');
