-- 10: records are deleted after their retention period (server/retention.py): deletes pass only while a marker row
-- exists inside the pruning transaction, as for the audit log; updates stay refused
CREATE TABLE records_prune (active INTEGER NOT NULL);
DROP TRIGGER records_no_delete;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records WHEN NOT EXISTS (SELECT 1 FROM records_prune)
    BEGIN SELECT RAISE(ABORT, 'records are append-only (deleted only by retention)'); END;
