-- 10: records are deleted after their retention period (server/retention.py), only while the marker row exists
CREATE TABLE records_prune (active INTEGER NOT NULL);
CREATE FUNCTION verity_records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM records_prune) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'records are append-only (deleted only by retention)'
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
DROP TRIGGER records_no_change ON records;
CREATE TRIGGER records_no_change BEFORE UPDATE OR DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION verity_records_guard();
