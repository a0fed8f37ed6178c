-- Seed data for the sandbox's cosims schema (load after cosims-schema.sql, in
-- the same database).
--
-- Shaped like production:
-- * the system_parameters row (id = 1, created by the schema) gets the images
--   and endpoint a running system has, through UPDATEs, so its history trigger
--   writes a history row as production's did;
-- * every job type of the schema has jobs over the last ~5 days: a parent_jobs
--   row named job_<id> (its own name; the type is the table holding the job)
--   and a row in the type's table with that type's own date columns
--   (measurement_date, measurement_date_start/_end, measurement_date_rlies1s2,
--   product_date, ...); NRT jobs, delayed and backward (MAJA `backward`) ones,
--   reprocessing ones; the services' own jobs in other_jobs;
-- * statuses are walked through real inserts into cosims.job_status_changes, so
--   the production trigger checks every step and keeps parent_jobs.last_status_*
--   in step: most old jobs are done, recent ones still in progress, a few
--   published, in internal/external error, repaired (internal_error ->
--   error_checked -> ready -> ... -> done), cancelled, or stuck in processing
--   for more than a day.
-- Times are `timestamp` in UTC, relative to now(), so the sandbox looks live.
-- The helper functions live in pg_temp and disappear with the session.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

BEGIN;
SET LOCAL TIME ZONE 'UTC';

UPDATE cosims.system_parameters SET
    docker_image_for_si_processing = 'registry.sandbox.invalid/cosims/cosims/si_processing:git-4f2a91c7',
    docker_image_for_gfsc_processing = 'registry.sandbox.invalid/cosims/cosims/gfsc_processing:git-4f2a91c7',
    docker_image_for_sws_wds_processing = 'registry.sandbox.invalid/cosims/cosims/sws_wds_processing:git-4f2a91c7',
    docker_image_for_rliepart2_processing = 'registry.sandbox.invalid/cosims/cosims/rliepart2_processing:git-4f2a91c7',
    docker_image_for_test_job_processing = 'registry.sandbox.invalid/cosims/cosims/test_job_processing:git-4f2a91c7',
    rabbitmq_communication_endpoint = 'amqp://rabbitmq.service.consul:5672/cosims',
    worker_init_package_tag = 'git-hash-4f2a91c7'
WHERE id = 1;

-- Typical minutes spent before entering each status (index = status id).
CREATE FUNCTION pg_temp.step_minutes(p_status smallint) RETURNS integer
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT (ARRAY[0, 2, 1, 1, 3, 1, 4, 25, 3, 1, 2, 1, 9, 9, 180, 1])[p_status]
$$;

-- Inserts the given statuses for a job, one after the other, starting at
-- p_start, each step taking step_minutes * p_scale. Stops before any step that
-- would lie in the future. Returns the last status inserted.
CREATE FUNCTION pg_temp.walk(
    p_job bigint,
    p_statuses smallint[],
    p_start timestamp,
    p_scale double precision,
    p_error_subtype text DEFAULT NULL,
    p_error_message text DEFAULT NULL
) RETURNS smallint
    LANGUAGE plpgsql
AS $$
DECLARE
    s smallint;
    t timestamp := p_start;
    last smallint;
    first boolean := true;
BEGIN
    FOREACH s IN ARRAY p_statuses LOOP
        IF NOT first THEN
            t := t + make_interval(secs => pg_temp.step_minutes(s) * 60 * p_scale);
        END IF;
        EXIT WHEN t > now() AT TIME ZONE 'UTC' - interval '30 seconds' AND NOT first;
        INSERT INTO cosims.job_status_changes
            (fk_parent_job_id, time, job_status, error_subtype, error_message)
        VALUES (
            p_job, t, s,
            CASE WHEN s IN (13, 14) THEN p_error_subtype END,
            CASE WHEN s IN (13, 14) THEN p_error_message END
        );
        last := s;
        first := false;
    END LOOP;
    RETURN last;
END
$$;

DO $seed$
DECLARE
    tiles   text[] := ARRAY['32TLR', '31TGM', '32TMS', '31TCH', '33TUN', '32TNS', '30TYN', '31TGL'];
    types   text[] := ARRAY['fsc_rlie', 'rlies1', 'rlies1s2', 'sws_wds', 'gfsc'];
    counts  int[]  := ARRAY[40, 30, 24, 30, 30];
    scales  double precision[] := ARRAY[1.0, 0.8, 1.5, 1.2, 2.0];
    nomad   text[] := ARRAY['si_processing', 'rlies1_processing', 'rlies1s2_processing', 'ws_processing', 'gfsc_processing'];
    -- status paths
    p_done       smallint[] := ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    p_published  smallint[] := ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    p_no_publish smallint[] := ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 12];
    p_int_error  smallint[] := ARRAY[1, 2, 3, 4, 5, 6, 7, 13];
    p_ext_error  smallint[] := ARRAY[1, 2, 3, 4, 5, 14];
    p_repaired   smallint[] := ARRAY[1, 2, 3, 4, 5, 6, 7, 13, 15, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    p_checked    smallint[] := ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 13, 15];
    p_cancelled  smallint[] := ARRAY[1, 2, 16];
    p_stuck      smallint[] := ARRAY[1, 2, 3, 4, 5, 6, 7];
    k int; i int; n int;
    jt text; tile text; created timestamp; meas timestamp; age interval;
    path smallint[]; subtype text; message text; prio text; backward boolean;
    job bigint; sat text; stamp text; context text;
    now_utc timestamp := now() AT TIME ZONE 'UTC';
BEGIN
    FOR k IN 1 .. array_length(types, 1) LOOP
        jt := types[k];
        n := counts[k];
        FOR i IN 0 .. n - 1 LOOP
            tile := tiles[1 + (i * 3 + k) % array_length(tiles, 1)];
            -- spread over the last 5 days, the newest a few minutes ago
            created := now_utc - interval '5 days'
                       + (interval '5 days' - interval '4 minutes') * i / (n - 1)
                       - make_interval(mins => k);
            age := now_utc - created;
            meas := date_trunc('second', created - interval '3 hours' - make_interval(mins => (i * 7) % 50));
            IF jt IN ('gfsc', 'rlies1s2') THEN
                meas := date_trunc('day', created) - interval '1 day';
            END IF;
            prio := CASE WHEN i % 25 = 12 THEN 'reprocessing'
                         WHEN i % 10 = 4 THEN 'delayed'
                         ELSE 'nrt' END;
            backward := jt = 'fsc_rlie' AND prio = 'delayed';
            context := CASE WHEN prio = 'reprocessing' THEN 'reprocessing_2021' ELSE 'None' END;
            subtype := NULL;
            message := NULL;

            IF i % 11 = 3 THEN
                path := p_int_error;
                subtype := 'processing_error';
                message := format('%s_job on tile %s: worker exited with code 1 (see Nomad allocation logs)', jt, tile);
            ELSIF i % 13 = 5 THEN
                path := p_ext_error;
                subtype := 'input_download_failed';
                message := format('could not download the input product for tile %s: HTTP 503 from the data provider', tile);
            ELSIF i % 17 = 7 AND age > interval '1 day' THEN
                path := p_repaired;
                subtype := 'nomad_job_lost';
                message := 'the Nomad allocation disappeared (node drained)';
            ELSIF i % 19 = 9 AND age > interval '1 day' THEN
                path := p_checked;
                subtype := 'processing_timeout';
                message := format('%s_job exceeded its 6h timeout', jt);
            ELSIF i % 23 = 11 AND age > interval '1 day' THEN
                path := p_stuck;
            ELSIF i % 29 = 14 THEN
                path := p_cancelled;
            ELSIF i % 7 = 6 AND age > interval '1 day' THEN
                path := p_published;
            ELSIF jt = 'gfsc' AND i % 5 = 2 THEN
                path := p_no_publish;
            ELSE
                path := p_done;
            END IF;

            INSERT INTO cosims.parent_jobs (priority, tile_id, next_log_level, print_to_orch, si_processing_image)
            VALUES (prio, tile, 20, false,
                    CASE WHEN jt = 'fsc_rlie' THEN 'registry.sandbox.invalid/cosims/cosims/si_processing:git-4f2a91c7' END)
            RETURNING id INTO job;
            UPDATE cosims.parent_jobs SET name = format('job_%s', job) WHERE id = job;

            sat := CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END;
            stamp := to_char(meas, 'YYYYMMDD"T"HH24MISS');

            IF jt = 'fsc_rlie' THEN
                INSERT INTO cosims.fsc_rlie_jobs
                    (fk_parent_job_id, nrt, l1c_id, l1c_cloud_cover, l1c_snow_cover, l1c_path,
                     l2a_status, measurement_date, l1c_sensing_time, l1c_esa_creation_date,
                     l1c_esa_publication_date, l1c_dias_publication_date, maja_mode,
                     backward_reprocessing_run, reprocessing_context)
                VALUES (
                    job, prio = 'nrt',
                    format('S2%s_MSIL1C_%s_N0509_R%s_T%s_%s', sat, stamp, lpad(((i * 13) % 143 + 1)::text, 3, '0'), tile, stamp),
                    ((i * 37) % 100)::numeric, ((i * 11) % 60)::numeric,
                    format('/eodata/Sentinel-2/MSI/L1C/%s/S2%s_MSIL1C_%s_T%s.SAFE', to_char(meas, 'YYYY/MM/DD'), sat, stamp, tile),
                    'pending', meas, meas,
                    meas + interval '70 minutes', meas + interval '95 minutes', meas + interval '110 minutes',
                    CASE WHEN backward THEN 'backward' WHEN i % 9 = 0 THEN 'init' ELSE 'nominal' END,
                    backward, context);
            ELSIF jt = 'rlies1' THEN
                INSERT INTO cosims.rlies1_jobs
                    (fk_parent_job_id, s1grd_id, measurement_date_start, measurement_date_end,
                     s1grd_esa_publication_date, s1grd_dias_publication_date, s2tile_ids_json,
                     reprocessing_context)
                VALUES (
                    job,
                    format('S1%s_IW_GRDH_1SDV_%s_%s', sat, stamp, upper(substr(md5(job::text), 1, 6))),
                    meas, meas + interval '25 seconds',
                    meas + interval '50 minutes', meas + interval '65 minutes',
                    format('["%s"]', tile), context);
            ELSIF jt = 'rlies1s2' THEN
                INSERT INTO cosims.rlies1s2_jobs
                    (fk_parent_job_id, process_date, tile_id_dup, measurement_date_rlies1s2,
                     rlies1_publication_latest_date, rlies2_publication_latest_date,
                     reprocessing_context)
                VALUES (
                    job, meas, tile, meas,
                    meas + interval '20 hours', meas + interval '21 hours', context);
            ELSIF jt = 'sws_wds' THEN
                INSERT INTO cosims.sws_wds_jobs
                    (fk_parent_job_id, nrt, measurement_date, s1_id_list, s1_esa_publication_latest_date,
                     s1_dias_publication_latest_date, assembly_id, assembly_status, fsc_id_list,
                     reprocessing_context)
                VALUES (
                    job, prio = 'nrt', meas,
                    format('["S1%s_IW_GRDH_1SDV_%s_%s"]', sat, stamp, upper(substr(md5(job::text), 1, 6))),
                    meas + interval '50 minutes', meas + interval '65 minutes',
                    format('ASSEMBLY_%s_%s', stamp, job), 'generated',
                    format('["FSC_%s_S2A_T%s_V102_1"]', to_char(meas, 'YYYYMMDD"T"103021'), tile),
                    context);
            ELSE
                INSERT INTO cosims.gfsc_jobs
                    (fk_parent_job_id, nrt, missions, triggering_product_id, fsc_id_list, wds_id_list,
                     sws_id_list, gfsc_id, sensing_start_date, sensing_end_date, product_date,
                     aggregation_timespan, reprocessing_context)
                VALUES (
                    job, prio = 'nrt', 'S1-S2',
                    format('FSC_%s_S2A_T%s_V102_1', to_char(meas, 'YYYYMMDD"T"103021'), tile),
                    format('["FSC_%s_S2A_T%s_V102_1"]', to_char(meas, 'YYYYMMDD"T"103021'), tile),
                    format('["WDS_%s_S1A_T%s_V101_1"]', to_char(meas, 'YYYYMMDD"T"053012'), tile),
                    format('["SWS_%s_S1A_T%s_V101_1"]', to_char(meas, 'YYYYMMDD"T"053012'), tile),
                    format('GFSC_%s-007_S1-S2_T%s_V101_1', to_char(meas, 'YYYYMMDD'), tile),
                    meas - interval '6 days', meas + interval '1 day' - interval '1 second', meas,
                    7, context);
            END IF;

            PERFORM pg_temp.walk(job, path, created, scales[k], subtype, message);
            UPDATE cosims.parent_jobs SET nomad_id = format('%s/dispatch-%s-%s', nomad[k],
                   extract(epoch FROM created)::bigint, substr(md5(job::text), 1, 8))
            WHERE id = job AND last_status_id >= 4;
        END LOOP;
    END LOOP;

    -- Seasonal products and their request.
    INSERT INTO cosims.job_creation_request (request_status, create_job, hydro_year, month)
    VALUES ('closed', 'PSA-LAEA', '2024-10-01', NULL);
    FOR i IN 1 .. 2 LOOP
        created := now_utc - make_interval(hours => 40 * i);
        INSERT INTO cosims.parent_jobs (priority, tile_id, next_log_level)
        VALUES ('delayed', tiles[i], 20) RETURNING id INTO job;
        UPDATE cosims.parent_jobs SET name = format('job_%s', job) WHERE id = job;
        INSERT INTO cosims.psa_arlie_jobs
            (fk_parent_job_id, reprocessing, request_id, product_type, hydro_year,
             first_product_measurement_date, last_product_measurement_date)
        VALUES (job, false, 1, CASE WHEN i = 1 THEN 'PSA-LAEA' ELSE 'ARLIE' END, '2024-10-01',
                '2024-10-01', '2025-09-30');
        PERFORM pg_temp.walk(job, p_done, created, 0.5);
    END LOOP;

    -- Test jobs.
    FOR i IN 1 .. 2 LOOP
        created := now_utc - make_interval(hours => 30 * i);
        INSERT INTO cosims.parent_jobs (priority, tile_id, next_log_level)
        VALUES ('delayed', '32TLR', 10) RETURNING id INTO job;
        UPDATE cosims.parent_jobs SET name = format('job_%s', job) WHERE id = job;
        INSERT INTO cosims.test_jobs (fk_parent_job_id, measurement_date)
        VALUES (job, created - interval '1 hour');
        PERFORM pg_temp.walk(job, p_done, created, 0.2);
    END LOOP;

    -- The services' own jobs: started once, when the system was last started.
    FOR i IN 1 .. 4 LOOP
        INSERT INTO cosims.parent_jobs (name, tile_id, next_log_level, print_to_orch)
        VALUES ((ARRAY['job-creation', 'job-configuration', 'job-execution', 'job-publication'])[i],
                'None', 20, true)
        RETURNING id INTO job;
        INSERT INTO cosims.other_jobs (fk_parent_job_id) VALUES (job);
        INSERT INTO cosims.job_status_changes (fk_parent_job_id, time, job_status)
        VALUES (job, now_utc - interval '6 days', 5);
        INSERT INTO cosims.execution_info (fk_parent_job_id, min_log_level, log_file_path)
        VALUES (job, 20, format('/var/log/csi/%s.log', (SELECT name FROM cosims.parent_jobs WHERE id = job)));
    END LOOP;
    INSERT INTO cosims.execution_messages (body) VALUES ('loop started'), ('no new input product');
    INSERT INTO cosims.execution_info_to_messages
        (fk_execution_info_id, fk_execution_message_id, fk_parent_job_id, time, log_level)
    SELECT e.id, m.id, e.fk_parent_job_id, now_utc - interval '1 hour', 20
    FROM cosims.execution_info e CROSS JOIN cosims.execution_messages m;
END
$seed$;

-- Completion dates at "processed", publication dates at "published".
CREATE TEMP VIEW job_milestones AS
SELECT p.id,
       max(c.time) FILTER (WHERE c.job_status = 9)  AS processed,
       max(c.time) FILTER (WHERE c.job_status = 11) AS published
FROM cosims.parent_jobs p
JOIN cosims.job_status_changes c ON c.fk_parent_job_id = p.id
GROUP BY p.id;

UPDATE cosims.fsc_rlie_jobs j
SET l2a_status = CASE WHEN m.processed IS NOT NULL THEN 'generated' ELSE j.l2a_status END,
    l2a_path_out = CASE WHEN m.processed IS NOT NULL THEN format('/hrsi/l2a/%s', j.l1c_id) END,
    fsc_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-fsc/%s/FSC_%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.l1c_id) END,
    rlie_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-rlie/%s/RLIE_%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.l1c_id) END,
    fsc_completion_date = m.processed,
    rlie_completion_date = m.processed,
    fsc_json_publication_date = m.published,
    rlie_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.rlies1_jobs j
SET product_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-rlies1/%s/%s', to_char(j.measurement_date_start, 'YYYY/MM/DD'), j.s1grd_id) END,
    rlies1_products_completion_date = m.processed,
    rlies1_products_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.rlies1s2_jobs j
SET rlies1s2_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-rlies1s2/%s/RLIE_%s_S1S2_T%s', to_char(j.measurement_date_rlies1s2, 'YYYY/MM/DD'), to_char(j.measurement_date_rlies1s2, 'YYYYMMDD'), j.tile_id_dup) END,
    rlies1s2_completion_date = m.processed,
    publication_date_rlies1s2 = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.sws_wds_jobs j
SET sws_completion_date = m.processed,
    wds_completion_date = m.processed,
    sws_json_publication_date = m.published,
    wds_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.gfsc_jobs j
SET gfsc_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-gfsc/%s/%s', to_char(j.product_date, 'YYYY/MM/DD'), j.gfsc_id) END,
    completion_date = m.processed,
    gfsc_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.psa_arlie_jobs j
SET result_completion_date = m.processed,
    result_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.test_jobs j
SET completion_date = m.processed
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

DROP VIEW job_milestones;

COMMIT;

ANALYZE;
