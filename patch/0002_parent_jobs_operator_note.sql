-- A free-text note operators can leave on a job. Nullable, no default: the running
-- services neither read nor write it, so they tolerate it before and after a rollout.
ALTER TABLE cosims.parent_jobs ADD COLUMN IF NOT EXISTS operator_note text;
COMMENT ON COLUMN cosims.parent_jobs.operator_note IS 'free text left by an operator (csi upgrade sample)';
