-- Seed data for the cosims-like sandbox schema (load after cosims-schema.sql).
--
-- * the single system_parameters row (which also writes the first history row);
-- * a small, deterministic production history: a few dozen jobs per main job
--   type over the last ~5 days. Statuses are walked through real inserts into
--   cosims.job_status_changes, so the transition trigger checks every step and
--   maintains parent_jobs.last_status_*. Times are relative to now() so that the
--   sandbox looks live: old jobs are done, recent ones are still in progress,
--   and a few are published, in internal/external error, repaired
--   (internal_error -> error_checked -> ready -> ... -> done), cancelled, or
--   stuck in processing for more than a day.
--
-- Everything is created as cosims_admin; the helper functions live in pg_temp
-- and disappear with the session (they are not part of the schema or of dumps).

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

BEGIN;
SET LOCAL ROLE cosims_admin;

INSERT INTO cosims.system_parameters (
    id,
    docker_image_for_si_processing,
    docker_image_for_gfsc_processing,
    docker_image_for_sws_wds_processing,
    docker_image_for_rliepart2_processing,
    docker_image_for_test_job_processing,
    rabbitmq_communication_endpoint,
    ssp_aux_version,
    rlies1s2_earliest_date
) VALUES (
    1,
    'registry.sandbox.invalid/cosims/cosims/si_processing:git-4f2a91c7',
    'registry.sandbox.invalid/cosims/cosims/gfsc_processing:git-4f2a91c7',
    'registry.sandbox.invalid/cosims/cosims/sws_wds_processing:git-4f2a91c7',
    'registry.sandbox.invalid/cosims/cosims/rliepart2_processing:git-4f2a91c7',
    'registry.sandbox.invalid/cosims/cosims/test_job_processing:git-4f2a91c7',
    'amqp://rabbitmq.service.consul:5672/cosims',
    'V20211119',
    '2021-09-01 00:00:00'
);

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
    p_start timestamptz,
    p_scale double precision,
    p_error_subtype text DEFAULT NULL,
    p_error_message text DEFAULT NULL
) RETURNS smallint
    LANGUAGE plpgsql
AS $$
DECLARE
    s smallint;
    t timestamptz := p_start;
    last smallint;
    first boolean := true;
BEGIN
    FOREACH s IN ARRAY p_statuses LOOP
        IF NOT first THEN
            t := t + make_interval(secs => pg_temp.step_minutes(s) * 60 * p_scale);
        END IF;
        EXIT WHEN t > now() - interval '30 seconds' AND NOT first;
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
    types   text[] := ARRAY['fsc_rlie_job', 'rlies1_job', 'rlies1s2_job', 'sws_wds_job', 'gfsc_job'];
    counts  int[]  := ARRAY[40, 30, 24, 30, 30];
    scales  double precision[] := ARRAY[1.0, 0.8, 1.5, 1.2, 2.0];
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
    jt text; tile text; created timestamptz; meas timestamptz; age interval;
    path smallint[]; subtype text; message text; prio text;
    job bigint; sat text; stamp text;
BEGIN
    FOR k IN 1 .. array_length(types, 1) LOOP
        jt := types[k];
        n := counts[k];
        FOR i IN 0 .. n - 1 LOOP
            tile := tiles[1 + (i * 3 + k) % array_length(tiles, 1)];
            -- spread over the last 5 days, the newest a few minutes ago
            created := now() - interval '5 days'
                       + (interval '5 days' - interval '4 minutes') * i / (n - 1)
                       - make_interval(mins => k);
            age := now() - created;
            meas := date_trunc('second', created - interval '3 hours' - make_interval(mins => (i * 7) % 50));
            IF jt = 'gfsc_job' OR jt = 'rlies1s2_job' THEN
                meas := date_trunc('day', created) - interval '1 day';
            END IF;
            prio := CASE WHEN i % 25 = 12 THEN 'reprocessing'
                         WHEN i % 10 = 4 THEN 'delayed'
                         ELSE 'nrt' END;
            subtype := NULL;
            message := NULL;

            IF i % 11 = 3 THEN
                path := p_int_error;
                subtype := 'processing_error';
                message := format('%s on tile %s: worker exited with code 1 (see Nomad allocation logs)', jt, tile);
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
                message := format('%s exceeded its 6h timeout', jt);
            ELSIF i % 23 = 11 AND age > interval '1 day' THEN
                path := p_stuck;
            ELSIF i % 29 = 14 THEN
                path := p_cancelled;
            ELSIF i % 7 = 6 AND age > interval '1 day' THEN
                path := p_published;
            ELSIF jt = 'gfsc_job' AND i % 5 = 2 THEN
                path := p_no_publish;
            ELSE
                path := p_done;
            END IF;

            INSERT INTO cosims.parent_jobs (name, priority, tile_id, creation_date)
            VALUES (jt, prio, tile, created)
            RETURNING id INTO job;

            sat := CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END;
            stamp := to_char(meas AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS');

            IF jt = 'fsc_rlie_job' THEN
                INSERT INTO cosims.fsc_rlie_jobs
                    (fk_parent_job_id, tile_id, l1c_id, l1c_path, l1c_cloud_cover,
                     l1c_esa_creation_date, l1c_esa_publication_date, measurement_date,
                     fsc_id, rlie_id)
                VALUES (
                    job, tile,
                    format('S2%s_MSIL1C_%s_N0509_R%s_T%s_%s', sat, stamp, lpad(((i * 13) % 143 + 1)::text, 3, '0'), tile, stamp),
                    format('/eodata/Sentinel-2/MSI/L1C/%s/S2%s_MSIL1C_%s_T%s.SAFE', to_char(meas, 'YYYY/MM/DD'), sat, stamp, tile),
                    ((i * 37) % 100)::double precision,
                    meas + interval '70 minutes',
                    meas + interval '95 minutes',
                    meas,
                    format('FSC_%s_S2%s_T%s_V102_1', stamp, sat, tile),
                    format('RLIE_%s_S2%s_T%s_V102_1', stamp, sat, tile));
            ELSIF jt = 'rlies1_job' THEN
                INSERT INTO cosims.rlies1_jobs
                    (fk_parent_job_id, tile_id, s1grd_id, s1grd_path,
                     esa_s1grd_publication_date, measurement_date, rlies1_id)
                VALUES (
                    job, tile,
                    format('S1%s_IW_GRDH_1SDV_%s_%s', sat, stamp, upper(substr(md5(job::text), 1, 6))),
                    format('/eodata/Sentinel-1/SAR/GRD/%s/S1%s_IW_GRDH_1SDV_%s.SAFE', to_char(meas, 'YYYY/MM/DD'), sat, stamp),
                    meas + interval '50 minutes',
                    meas,
                    format('RLIE_%s_S1%s_T%s_V100_1', stamp, sat, tile));
            ELSIF jt = 'rlies1s2_job' THEN
                INSERT INTO cosims.rlies1s2_jobs
                    (fk_parent_job_id, tile_id, process_date, measurement_date,
                     search_window_days, rlies1s2_id)
                VALUES (
                    job, tile, created, meas, 7,
                    format('RLIE_%s_S1S2_T%s_V100_1', to_char(meas, 'YYYYMMDD'), tile));
            ELSIF jt = 'sws_wds_job' THEN
                INSERT INTO cosims.sws_wds_jobs
                    (fk_parent_job_id, tile_id, s1grd_id, s1grd_path,
                     esa_s1grd_publication_date, measurement_date, sws_id, wds_id)
                VALUES (
                    job, tile,
                    format('S1%s_IW_GRDH_1SDV_%s_%s', sat, stamp, upper(substr(md5(job::text), 1, 6))),
                    format('/eodata/Sentinel-1/SAR/GRD/%s/S1%s_IW_GRDH_1SDV_%s.SAFE', to_char(meas, 'YYYY/MM/DD'), sat, stamp),
                    meas + interval '50 minutes',
                    meas,
                    format('SWS_%s_S1%s_T%s_V101_1', stamp, sat, tile),
                    format('WDS_%s_S1%s_T%s_V101_1', stamp, sat, tile));
            ELSE
                INSERT INTO cosims.gfsc_jobs
                    (fk_parent_job_id, tile_id, measurement_date, aggregation_timespan,
                     fsc_id_list, wds_id_list, sws_id_list, gfsc_id)
                VALUES (
                    job, tile, meas, 7,
                    format('["FSC_%s_S2A_T%s_V102_1"]', to_char(meas, 'YYYYMMDD"T"103021'), tile),
                    format('["WDS_%s_S1A_T%s_V101_1"]', to_char(meas, 'YYYYMMDD"T"053012'), tile),
                    format('["SWS_%s_S1A_T%s_V101_1"]', to_char(meas, 'YYYYMMDD"T"053012'), tile),
                    format('GFSC_%s-007_S1-S2_T%s_V101_1', to_char(meas, 'YYYYMMDD'), tile));
            END IF;

            PERFORM pg_temp.walk(job, path, created, scales[k], subtype, message);
        END LOOP;
    END LOOP;

    -- A couple of test jobs.
    FOR i IN 1 .. 2 LOOP
        created := now() - make_interval(hours => 30 * i);
        INSERT INTO cosims.parent_jobs (name, priority, tile_id, creation_date)
        VALUES ('test_job', 'delayed', '32TLR', created)
        RETURNING id INTO job;
        INSERT INTO cosims.test_jobs (fk_parent_job_id, tile_id, measurement_date, sleep_seconds)
        VALUES (job, '32TLR', created - interval '1 hour', 30);
        PERFORM pg_temp.walk(job, p_done, created, 0.2);
    END LOOP;
END
$seed$;

-- Derived columns: Nomad dispatch ids once queued, completion dates at
-- "processed", publication dates at "published".
UPDATE cosims.parent_jobs p
SET nomad_job_dispatch = format('%s/dispatch-%s-%s',
        CASE p.name WHEN 'gfsc_job' THEN 'gfsc_processing'
                    WHEN 'sws_wds_job' THEN 'sws_wds_processing'
                    WHEN 'rlies1_job' THEN 'rlies1_processing'
                    WHEN 'rlies1s2_job' THEN 'rlies1s2_processing'
                    WHEN 'test_job' THEN 'test_job_processing'
                    ELSE 'si_processing' END,
        extract(epoch FROM c.time)::bigint,
        substr(md5(p.id::text), 1, 8))
FROM (SELECT fk_parent_job_id, min(time) AS time
      FROM cosims.job_status_changes WHERE job_status = 4
      GROUP BY fk_parent_job_id) c
WHERE c.fk_parent_job_id = p.id;

CREATE TEMP VIEW job_milestones AS
SELECT p.id,
       p.nomad_job_dispatch,
       max(c.time) FILTER (WHERE c.job_status = 9)  AS processed,
       max(c.time) FILTER (WHERE c.job_status = 11) AS published
FROM cosims.parent_jobs p
JOIN cosims.job_status_changes c ON c.fk_parent_job_id = p.id
GROUP BY p.id, p.nomad_job_dispatch;

UPDATE cosims.fsc_rlie_jobs j
SET nomad_job_id = m.nomad_job_dispatch,
    l2a_path = CASE WHEN m.processed IS NOT NULL THEN format('/hrsi/l2a/%s/%s', j.tile_id, j.l1c_id) END,
    fsc_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-fsc/%s/%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.fsc_id) END,
    rlie_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-rlie/%s/%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.rlie_id) END,
    fsc_completion_date = m.processed,
    rlie_completion_date = m.processed,
    fsc_json_publication_date = m.published,
    rlie_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.rlies1_jobs j
SET nomad_job_id = m.nomad_job_dispatch,
    rlies1_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-rlies1/%s/%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.rlies1_id) END,
    rlies1_completion_date = m.processed,
    rlies1_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.rlies1s2_jobs j
SET nomad_job_id = m.nomad_job_dispatch,
    rlies1_product_ids = format('["RLIE_%s_S1A_T%s_V100_1"]', to_char(j.measurement_date, 'YYYYMMDD"T"053012'), j.tile_id),
    rlie_product_ids = format('["RLIE_%s_S2B_T%s_V102_1"]', to_char(j.measurement_date, 'YYYYMMDD"T"103021'), j.tile_id),
    rlies1s2_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-rlies1s2/%s/%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.rlies1s2_id) END,
    rlies1s2_completion_date = m.processed,
    rlies1s2_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.sws_wds_jobs j
SET nomad_job_id = m.nomad_job_dispatch,
    sws_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-sws/%s/%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.sws_id) END,
    wds_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-wds/%s/%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.wds_id) END,
    sws_completion_date = m.processed,
    wds_completion_date = m.processed,
    sws_json_publication_date = m.published,
    wds_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.gfsc_jobs j
SET nomad_job_id = m.nomad_job_dispatch,
    gfsc_path = CASE WHEN m.processed IS NOT NULL THEN format('s3://hrsi-gfsc/%s/%s', to_char(j.measurement_date, 'YYYY/MM/DD'), j.gfsc_id) END,
    gfsc_completion_date = m.processed,
    gfsc_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

UPDATE cosims.test_jobs j
SET nomad_job_id = m.nomad_job_dispatch,
    result_path = CASE WHEN m.processed IS NOT NULL THEN format('/tmp/test_job_%s.txt', j.id) END,
    test_json_publication_date = m.published
FROM job_milestones m WHERE m.id = j.fk_parent_job_id;

DROP VIEW job_milestones;

COMMIT;

ANALYZE;
