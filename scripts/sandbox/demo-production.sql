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
SET LOCAL ROLE cosims_admin;

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
            SELECT id, last_status_id
            FROM cosims.parent_jobs
            WHERE name = job_type
              AND priority = 'nrt'
              AND (last_status_id IS NULL OR last_status_id BETWEEN 1 AND 10)
            ORDER BY id
        LOOP
            FOREACH status IN ARRAY usual_path LOOP
                CONTINUE WHEN status <= coalesce(open_job.last_status_id, 0);
                INSERT INTO cosims.job_status_changes (fk_parent_job_id, time, job_status)
                VALUES (open_job.id, clock_timestamp(), status);
            END LOOP;
            finished := finished + 1;
        END LOOP;

        INSERT INTO cosims.parent_jobs (name, priority, tile_id, creation_date)
        VALUES (job_type, 'nrt', '32TLR', clock_timestamp())
        RETURNING id INTO new_job;
        -- The type's own row, when its table takes one with just these columns.
        BEGIN
            EXECUTE format(
                'INSERT INTO cosims.%I (fk_parent_job_id, tile_id, measurement_date) VALUES ($1, $2, $3)',
                job_type || 's')
            USING new_job, '32TLR', date_trunc('hour', now()) - interval '1 hour';
        EXCEPTION WHEN undefined_table OR not_null_violation OR check_violation THEN
            NULL;
        END;
        FOREACH status IN ARRAY usual_path[1:11] LOOP
            INSERT INTO cosims.job_status_changes (fk_parent_job_id, time, job_status)
            VALUES (new_job, clock_timestamp(), status);
        END LOOP;

        INSERT INTO produced VALUES (job_type, finished, new_job);
    END LOOP;
END
$produce$;

SELECT format('%s: %s open NRT jobs finished, job %s published', job_type, finished, published)
FROM produced
ORDER BY job_type;

COMMIT;
