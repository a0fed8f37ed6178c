-- Speeds up "newest status change" queries (downtime, restart gates, status).
CREATE INDEX job_status_changes_time_idx ON cosims.job_status_changes (time);
