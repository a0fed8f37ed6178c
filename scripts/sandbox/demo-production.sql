-- Near-real-time production, for rehearsing the wave restart on the sandbox
-- (`scripts/sandbox.sh produce`; never part of the schema or the seed).
--
-- For every job type in system_parameters.job_types_list, as the running services
-- would after catching up:
--   * each of its NRT jobs still unfinished (no status, or 1..10) is walked to done;
--   * one new NRT job is created and walked to published.
-- Every status goes through cosims.job_status_changes, so the transition trigger
-- checks each step and keeps parent_jobs.last_status_* up to date. Steps are stamped
-- with clock_timestamp(): the production is "now", after the wave that enabled the
-- type began, which is what the restart's gate looks for.
--
-- Prints one line per job type: "<type>: <n> open NRT jobs finished, job <id> published".

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

BEGIN;
SET LOCAL TIME ZONE 'UTC';

CREATE TEMP TABLE produced (
    job_type  text PRIMARY KEY,
    finished  integer NOT NULL,
    published bigint NOT NULL
) ON COMMIT DROP;

DO $produce$
DECLARE
    usual_path smallint[] := ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    job_type   text;
    open_job   record;
    status     smallint;
    finished   integer;
    new_job    bigint;
BEGIN
    FOR job_type IN
        SELECT m[1]
        FROM cosims.system_parameters p,
             regexp_matches(p.job_types_list, '([A-Za-z0-9_]+)', 'g') AS m
        WHERE p.id = 1
    LOOP
        finished := 0;
        FOR open_job IN
            -- A job's type is the table holding it (fsc_rlie_job: cosims.fsc_rlie_jobs).
            EXECUTE format(
                'SELECT p.id, p.last_status_id FROM cosims.parent_jobs p
                 JOIN cosims.%I t ON t.fk_parent_job_id = p.id
                 WHERE p.priority = ''nrt''
                   AND (p.last_status_id IS NULL OR p.last_status_id BETWEEN 1 AND 10)
                 ORDER BY p.id', job_type || 's')
        LOOP
            FOREACH status IN ARRAY usual_path LOOP
                CONTINUE WHEN status <= coalesce(open_job.last_status_id, 0);
                INSERT INTO cosims.job_status_changes (fk_parent_job_id, time, job_status)
                VALUES (open_job.id, clock_timestamp() AT TIME ZONE 'UTC', status);
            END LOOP;
            finished := finished + 1;
        END LOOP;

        new_job := nextval('cosims.parent_jobs_id_seq');
        INSERT INTO cosims.parent_jobs (id, name, priority, tile_id, next_log_level)
        VALUES (new_job, format('job_%s', new_job), 'nrt', '32TLR', 20);
        -- The type's own row, with what production requires of it.
        IF job_type = 'fsc_rlie_job' THEN
            INSERT INTO cosims.fsc_rlie_jobs (fk_parent_job_id, nrt, l1c_id, l1c_cloud_cover,
                                              l1c_snow_cover, l1c_path, measurement_date)
            VALUES (new_job, true, format('L1C_DEMO_%s', new_job), 10, 5,
                    format('/eodata/L1C_DEMO_%s', new_job), date_trunc('hour', now() AT TIME ZONE 'UTC'));
        ELSE
            EXECUTE format('INSERT INTO cosims.%I (fk_parent_job_id) VALUES ($1)', job_type || 's')
            USING new_job;
        END IF;
        FOREACH status IN ARRAY usual_path[1:11] LOOP
            INSERT INTO cosims.job_status_changes (fk_parent_job_id, time, job_status)
            VALUES (new_job, clock_timestamp() AT TIME ZONE 'UTC', status);
        END LOOP;

        INSERT INTO produced VALUES (job_type, finished, new_job);
    END LOOP;
END
$produce$;

SELECT format('%s: %s open NRT jobs finished, job %s published', job_type, finished, published)
FROM produced
ORDER BY job_type;

COMMIT;
