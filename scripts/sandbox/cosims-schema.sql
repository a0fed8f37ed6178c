-- A cosims-like schema for the HR-S&I sandbox and for csi's tests.
--
-- Written from the documented facts of the production database (schema
-- `cosims`, job tables, status history with a transition-checking trigger,
-- single-row system parameters with a history trigger). It is not a copy of
-- the production DDL: it only has to behave like it where csi cares.
--
-- Load as a superuser into an empty database, after cosims-roles.sql:
--     psql -X -v ON_ERROR_STOP=1 -d cosims -f cosims-schema.sql
-- All objects are owned by the role cosims_admin.
--
-- Functions qualify every name (pg_dump/pg_dumpall run with an empty
-- search_path) and pin their own search_path.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

BEGIN;

CREATE SCHEMA cosims AUTHORIZATION cosims_admin;
COMMENT ON SCHEMA cosims IS 'HR-S&I production database (sandbox copy)';

SET LOCAL ROLE cosims_admin;
SET LOCAL search_path = cosims, pg_catalog;

-- ---------------------------------------------------------------------------
-- Job statuses and their authorized transitions
-- ---------------------------------------------------------------------------

CREATE TABLE cosims.job_status (
    id   smallint PRIMARY KEY,
    name text NOT NULL UNIQUE
);

INSERT INTO cosims.job_status (id, name) VALUES
    (1,  'initialized'),
    (2,  'configured'),
    (3,  'ready'),
    (4,  'queued'),
    (5,  'started'),
    (6,  'pre_processing'),
    (7,  'processing'),
    (8,  'post_processing'),
    (9,  'processed'),
    (10, 'start_publication'),
    (11, 'published'),
    (12, 'done'),
    (13, 'internal_error'),
    (14, 'external_error'),
    (15, 'error_checked'),
    (16, 'cancelled');

-- from_status NULL = the job has no status yet (its first status).
CREATE TABLE cosims.job_status_transitions (
    from_status smallint NULL REFERENCES cosims.job_status (id),
    to_status   smallint NOT NULL REFERENCES cosims.job_status (id)
);
-- NULLS NOT DISTINCT (PostgreSQL 15+) so that (NULL, x) is unique too.
CREATE UNIQUE INDEX job_status_transitions_unique
    ON cosims.job_status_transitions (from_status, to_status) NULLS NOT DISTINCT;
COMMENT ON TABLE cosims.job_status_transitions IS
    'authorized job status transitions; from_status NULL = first status of a job';

INSERT INTO cosims.job_status_transitions (from_status, to_status)
SELECT f, t
FROM (VALUES
    (NULL::smallint, ARRAY[1, 5, 13, 16]),
    (1,  ARRAY[2, 13, 14, 16]),
    (2,  ARRAY[3, 13, 16]),
    (3,  ARRAY[4, 13, 14, 16]),
    (4,  ARRAY[5, 13]),
    (5,  ARRAY[6, 13, 14, 16]),
    (6,  ARRAY[7, 13, 14, 16]),
    (7,  ARRAY[8, 13, 14, 16]),
    (8,  ARRAY[9, 13, 14, 16]),
    (9,  ARRAY[10, 12, 13, 14, 16]),
    (10, ARRAY[11, 13, 14, 16]),
    (11, ARRAY[12]),
    (12, ARRAY[13, 14]),
    (13, ARRAY[13, 14, 15]),
    (14, ARRAY[5, 13, 14, 15]),
    (15, ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
    (16, ARRAY[13])
) AS v (f, allowed)
CROSS JOIN LATERAL unnest(v.allowed::smallint[]) AS t;

-- ---------------------------------------------------------------------------
-- Jobs
-- ---------------------------------------------------------------------------

CREATE TABLE cosims.parent_jobs (
    id                      bigserial PRIMARY KEY,
    name                    text NOT NULL,           -- job type, e.g. 'fsc_rlie_job'
    priority                text NOT NULL DEFAULT 'nrt'
                            CHECK (priority IN ('nrt', 'delayed', 'reprocessing')),
    tile_id                 text,
    nomad_job_dispatch      text,                    -- id of the dispatched Nomad batch job
    last_status_id          smallint REFERENCES cosims.job_status (id),
    last_status_change_date timestamptz,
    error_raised            boolean NOT NULL DEFAULT false,
    creation_date           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parent_jobs_name_status_idx ON cosims.parent_jobs (name, last_status_id);
CREATE INDEX parent_jobs_last_status_idx ON cosims.parent_jobs (last_status_id, last_status_change_date);

-- FSC/RLIE from Sentinel-2 L1C/L2A.
CREATE TABLE cosims.fsc_rlie_jobs (
    id                         bigserial PRIMARY KEY,
    fk_parent_job_id           bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    nomad_job_id               text,
    tile_id                    text NOT NULL,
    l1c_id                     text,
    l1c_path                   text,
    l1c_cloud_cover            double precision,
    l1c_esa_creation_date      timestamptz,
    l1c_esa_publication_date   timestamptz,
    l2a_path                   text,
    measurement_date           timestamptz NOT NULL,
    fsc_id                     text,
    rlie_id                    text,
    fsc_path                   text,
    rlie_path                  text,
    fsc_completion_date        timestamptz,
    rlie_completion_date       timestamptz,
    fsc_json_publication_date  timestamptz,
    rlie_json_publication_date timestamptz,
    reprocessing_context       text
);
CREATE INDEX fsc_rlie_jobs_parent_idx ON cosims.fsc_rlie_jobs (fk_parent_job_id);
CREATE INDEX fsc_rlie_jobs_tile_date_idx ON cosims.fsc_rlie_jobs (tile_id, measurement_date);

-- RLIE from Sentinel-1.
CREATE TABLE cosims.rlies1_jobs (
    id                           bigserial PRIMARY KEY,
    fk_parent_job_id             bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    nomad_job_id                 text,
    tile_id                      text NOT NULL,
    s1grd_id                     text,
    s1grd_path                   text,
    esa_s1grd_publication_date   timestamptz,
    measurement_date             timestamptz NOT NULL,
    rlies1_id                    text,
    rlies1_path                  text,
    rlies1_completion_date       timestamptz,
    rlies1_json_publication_date timestamptz,
    reprocessing_context         text
);
CREATE INDEX rlies1_jobs_parent_idx ON cosims.rlies1_jobs (fk_parent_job_id);

-- RLIE from Sentinel-1 + Sentinel-2 (searches backwards a window of days).
CREATE TABLE cosims.rlies1s2_jobs (
    id                             bigserial PRIMARY KEY,
    fk_parent_job_id               bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    nomad_job_id                   text,
    tile_id                        text NOT NULL,
    process_date                   timestamptz,
    measurement_date               timestamptz NOT NULL,
    search_window_days             smallint,
    rlies1_product_ids             text,   -- JSON list
    rlie_product_ids               text,   -- JSON list
    rlies1s2_id                    text,
    rlies1s2_path                  text,
    rlies1s2_completion_date       timestamptz,
    rlies1s2_json_publication_date timestamptz
);
CREATE INDEX rlies1s2_jobs_parent_idx ON cosims.rlies1s2_jobs (fk_parent_job_id);

-- Wet snow (SWS) from Sentinel-1 and wet/dry snow (WDS) from S1 + FSC.
CREATE TABLE cosims.sws_wds_jobs (
    id                         bigserial PRIMARY KEY,
    fk_parent_job_id           bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    nomad_job_id               text,
    tile_id                    text NOT NULL,
    s1grd_id                   text,
    s1grd_path                 text,
    esa_s1grd_publication_date timestamptz,
    fsc_id                     text,
    measurement_date           timestamptz NOT NULL,
    sws_id                     text,
    wds_id                     text,
    sws_path                   text,
    wds_path                   text,
    sws_completion_date        timestamptz,
    wds_completion_date        timestamptz,
    sws_json_publication_date  timestamptz,
    wds_json_publication_date  timestamptz
);
CREATE INDEX sws_wds_jobs_parent_idx ON cosims.sws_wds_jobs (fk_parent_job_id);

-- Daily gap-filled FSC.
CREATE TABLE cosims.gfsc_jobs (
    id                         bigserial PRIMARY KEY,
    fk_parent_job_id           bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    nomad_job_id               text,
    tile_id                    text NOT NULL,
    measurement_date           timestamptz NOT NULL,   -- the day of the product
    aggregation_timespan       smallint NOT NULL DEFAULT 7,
    fsc_id_list                text,   -- JSON list
    wds_id_list                text,   -- JSON list
    sws_id_list                text,   -- JSON list
    triggering_job_id          bigint,
    gfsc_id                    text,
    gfsc_path                  text,
    gfsc_completion_date       timestamptz,
    gfsc_json_publication_date timestamptz
);
CREATE INDEX gfsc_jobs_parent_idx ON cosims.gfsc_jobs (fk_parent_job_id);
CREATE INDEX gfsc_jobs_tile_date_idx ON cosims.gfsc_jobs (tile_id, measurement_date);

-- Persistent snow area / aggregated RLIE (seasonal products).
CREATE TABLE cosims.psa_arlie_jobs (
    id                          bigserial PRIMARY KEY,
    fk_parent_job_id            bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    nomad_job_id                text,
    tile_id                     text,
    product_type                text NOT NULL CHECK (product_type IN ('PSA', 'ARLIE')),
    hydrological_year           text,
    first_product_date          timestamptz,
    last_product_date           timestamptz,
    measurement_date            timestamptz NOT NULL,
    product_path                text,
    completion_date             timestamptz,
    psa_json_publication_date   timestamptz,
    arlie_json_publication_date timestamptz
);
CREATE INDEX psa_arlie_jobs_parent_idx ON cosims.psa_arlie_jobs (fk_parent_job_id);

-- Test jobs (used to check the processing chain end to end).
CREATE TABLE cosims.test_jobs (
    id                        bigserial PRIMARY KEY,
    fk_parent_job_id          bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    nomad_job_id              text,
    tile_id                   text,
    measurement_date          timestamptz NOT NULL,
    sleep_seconds             integer NOT NULL DEFAULT 10,
    result_path               text,
    test_json_publication_date timestamptz
);
CREATE INDEX test_jobs_parent_idx ON cosims.test_jobs (fk_parent_job_id);

-- Anything else.
CREATE TABLE cosims.other_jobs (
    id                          bigserial PRIMARY KEY,
    fk_parent_job_id            bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    nomad_job_id                text,
    job_kind                    text NOT NULL,
    tile_id                     text,
    measurement_date            timestamptz NOT NULL,
    payload                     text,
    other_json_publication_date timestamptz
);
CREATE INDEX other_jobs_parent_idx ON cosims.other_jobs (fk_parent_job_id);

-- ---------------------------------------------------------------------------
-- Status history, with the transition check
-- ---------------------------------------------------------------------------

CREATE TABLE cosims.job_status_changes (
    id               bigserial PRIMARY KEY,
    fk_parent_job_id bigint NOT NULL REFERENCES cosims.parent_jobs (id),
    time             timestamptz NOT NULL DEFAULT now(),
    error_subtype    text,
    error_message    text,
    job_status       smallint NOT NULL REFERENCES cosims.job_status (id)
);
CREATE INDEX job_status_changes_parent_time_idx
    ON cosims.job_status_changes (fk_parent_job_id, time);

CREATE FUNCTION cosims.check_job_status_transition() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_from      smallint;
    v_from_name text;
    v_to_name   text;
    v_allowed   text;
BEGIN
    IF NEW.fk_parent_job_id IS NULL THEN
        RAISE EXCEPTION 'job status change without a parent job id';
    END IF;
    IF NEW.job_status IS NULL THEN
        RAISE EXCEPTION 'job status change for job % without a status', NEW.fk_parent_job_id;
    END IF;

    -- Lock the job so that concurrent changes of the same job are serialized.
    SELECT p.last_status_id INTO v_from
    FROM cosims.parent_jobs p
    WHERE p.id = NEW.fk_parent_job_id
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job status change for unknown parent job %', NEW.fk_parent_job_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    IF NOT EXISTS (
        SELECT 1 FROM cosims.job_status_transitions t
        WHERE t.from_status IS NOT DISTINCT FROM v_from
          AND t.to_status = NEW.job_status
    ) THEN
        SELECT format('%s (%s)', s.name, s.id) INTO v_to_name
        FROM cosims.job_status s WHERE s.id = NEW.job_status;
        IF v_from IS NULL THEN
            v_from_name := 'none';
        ELSE
            SELECT format('%s (%s)', s.name, s.id) INTO v_from_name
            FROM cosims.job_status s WHERE s.id = v_from;
        END IF;
        SELECT string_agg(format('%s (%s)', s.name, s.id), ', ' ORDER BY s.id) INTO v_allowed
        FROM cosims.job_status_transitions t
        JOIN cosims.job_status s ON s.id = t.to_status
        WHERE t.from_status IS NOT DISTINCT FROM v_from;
        RAISE EXCEPTION 'unauthorized job status transition for job %: % -> %',
                NEW.fk_parent_job_id, v_from_name, coalesce(v_to_name, NEW.job_status::text)
            USING ERRCODE = 'check_violation',
                  HINT = format('allowed from %s: %s', v_from_name, coalesce(v_allowed, 'nothing'));
    END IF;

    IF NEW.time IS NULL THEN
        NEW.time := now();
    END IF;

    UPDATE cosims.parent_jobs p
    SET last_status_id = NEW.job_status,
        last_status_change_date = NEW.time,
        error_raised = CASE WHEN NEW.job_status IN (13, 14) THEN true ELSE p.error_raised END
    WHERE p.id = NEW.fk_parent_job_id;

    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION cosims.check_job_status_transition() IS
    'rejects job status changes not listed in cosims.job_status_transitions and keeps parent_jobs.last_status_* up to date';

CREATE TRIGGER job_status_changes_check_transition
    BEFORE INSERT ON cosims.job_status_changes
    FOR EACH ROW EXECUTE FUNCTION cosims.check_job_status_transition();

-- ---------------------------------------------------------------------------
-- System parameters (exactly one row) and their history
-- ---------------------------------------------------------------------------

CREATE TABLE cosims.system_parameters (
    id                                    smallint PRIMARY KEY DEFAULT 1
                                          CONSTRAINT system_parameters_single_row CHECK (id = 1),
    max_number_of_worker_instances        smallint NOT NULL DEFAULT 210,
    max_number_of_vcpus                   smallint NOT NULL DEFAULT 920,
    max_ratio_of_vcpus_to_be_used         double precision NOT NULL DEFAULT 0.95,
    job_types_list                        text NOT NULL
                                          DEFAULT '["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job", "gfsc_job"]',
    docker_image_for_si_processing        text,
    docker_image_for_gfsc_processing      text,
    docker_image_for_sws_wds_processing   text,
    docker_image_for_rliepart2_processing text,
    docker_image_for_test_job_processing  text,
    rabbitmq_communication_endpoint       text,
    ssp_aux_version                       text,
    job_creation_loop_sleep               smallint NOT NULL DEFAULT 5,
    job_configuration_loop_sleep          smallint NOT NULL DEFAULT 5,
    job_execution_loop_sleep              smallint NOT NULL DEFAULT 5,
    job_publication_loop_sleep            smallint NOT NULL DEFAULT 5,
    rlies1s2_min_search_window_days       smallint NOT NULL DEFAULT 7,
    rlies1s2_max_search_window_days       smallint NOT NULL DEFAULT 31,
    rlies1s2_earliest_date                timestamp,
    gfsc_daily_jobs_creation_start_date   timestamp NULL DEFAULT NULL,
    activate_backward_reprocessing        boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE cosims.system_parameters IS
    'exactly one row (id = 1); re-read by the running services; every change is copied to system_parameters_history';

-- Same columns as system_parameters (without its constant id), plus a history id and date.
CREATE TABLE cosims.system_parameters_history (
    id                                    bigserial PRIMARY KEY,
    history_date                          timestamptz NOT NULL DEFAULT now(),
    max_number_of_worker_instances        smallint,
    max_number_of_vcpus                   smallint,
    max_ratio_of_vcpus_to_be_used         double precision,
    job_types_list                        text,
    docker_image_for_si_processing        text,
    docker_image_for_gfsc_processing      text,
    docker_image_for_sws_wds_processing   text,
    docker_image_for_rliepart2_processing text,
    docker_image_for_test_job_processing  text,
    rabbitmq_communication_endpoint       text,
    ssp_aux_version                       text,
    job_creation_loop_sleep               smallint,
    job_configuration_loop_sleep          smallint,
    job_execution_loop_sleep              smallint,
    job_publication_loop_sleep            smallint,
    rlies1s2_min_search_window_days       smallint,
    rlies1s2_max_search_window_days       smallint,
    rlies1s2_earliest_date                timestamp,
    gfsc_daily_jobs_creation_start_date   timestamp,
    activate_backward_reprocessing        boolean
);
CREATE INDEX system_parameters_history_date_idx ON cosims.system_parameters_history (history_date);

-- Copies the whole new row, column by column by name, so that a schema patch
-- adding a column to both tables needs no change here.
CREATE FUNCTION cosims.record_system_parameters_history() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    h cosims.system_parameters_history;
BEGIN
    h := jsonb_populate_record(NULL::cosims.system_parameters_history, to_jsonb(NEW) - 'id');
    h.id := nextval(pg_get_serial_sequence('cosims.system_parameters_history', 'id'));
    h.history_date := now();
    INSERT INTO cosims.system_parameters_history SELECT (h).*;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION cosims.record_system_parameters_history() IS
    'copies every inserted/updated cosims.system_parameters row into cosims.system_parameters_history';

CREATE TRIGGER system_parameters_history_trigger
    AFTER INSERT OR UPDATE ON cosims.system_parameters
    FOR EACH ROW EXECUTE FUNCTION cosims.record_system_parameters_history();

COMMIT;
