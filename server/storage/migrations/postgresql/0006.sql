-- 6: verdicts keep the refutation generation they were computed at and their refutation probe
ALTER TABLE verdicts ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE verdicts ADD COLUMN probe TEXT;
