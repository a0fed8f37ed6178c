-- The HR-S&I `cosims` schema, for the sandbox and csi's test beds.
--
-- It reproduces the production catalog as the real system's init_database.sql
-- creates it (eea/clms-hrsi-productionsystem, components/database/): the same
-- tables and views with the same columns, types, defaults and constraints, the
-- same sequences, indexes, functions and triggers, the `uuid-ossp` extension,
-- the grants to the PostgREST role and the single system_parameters row
-- (`id = 1`, inserted explicitly, so system_parameters_id_seq is never called).
-- The statements are written here; tests/fixtures/real_catalog.txt lists what
-- the catalog must hold and tests/sandbox_schema.rs compares the two.
--
-- Facts worth knowing before touching this file:
--   * every timestamp is `timestamp` (WITHOUT time zone);
--   * a job's type is the table holding its row (`fsc_rlie_jobs`, ...), which
--     points to `parent_jobs` by `fk_parent_job_id`; `parent_jobs.name` is the
--     job's own name, not its type;
--   * the date columns differ per type (measurement_date, measurement_date_start,
--     measurement_date_rlies1s2, product_date, ...);
--   * status changes go through job_status_changes, whose trigger refuses the
--     transitions production refuses and keeps parent_jobs.last_status_* in step.
--
-- Production loads it as the superuser into the database `postgres`
-- (`sudo -u postgres psql -f ...`), after cosims-roles.sql here:
--     psql -X -v ON_ERROR_STOP=1 -d postgres -f cosims-schema.sql
-- Everything is owned by the superuser, as in production.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

BEGIN;

CREATE SCHEMA cosims;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

-- ---------------------------------------------------------------------------
-- Reference values
-- ---------------------------------------------------------------------------

-- Log levels, numbered as Python's logging module numbers them.
CREATE TABLE cosims.log_levels (
    id   smallint NOT NULL UNIQUE,
    name text     NOT NULL UNIQUE
);
INSERT INTO cosims.log_levels VALUES
    (50, 'CRITICAL'), (40, 'ERROR'), (30, 'WARNING'), (20, 'INFO'), (10, 'DEBUG');

-- Job statuses (the services' job_status enum has the same numbers).
CREATE TABLE cosims.job_status (
    id   smallint NOT NULL UNIQUE,
    name text     NOT NULL UNIQUE
);
INSERT INTO cosims.job_status VALUES
    (1, 'initialized'), (2, 'configured'), (3, 'ready'), (4, 'queued'),
    (5, 'started'), (6, 'pre_processing'), (7, 'processing'),
    (8, 'post_processing'), (9, 'processed'), (10, 'start_publication'),
    (11, 'published'), (12, 'done'), (13, 'internal_error'),
    (14, 'external_error'), (15, 'error_checked'), (16, 'cancelled');

-- ---------------------------------------------------------------------------
-- Jobs: what every job has, then one table per job type
-- ---------------------------------------------------------------------------

CREATE TABLE cosims.parent_jobs (
    id                        bigserial PRIMARY KEY,
    unique_id                 uuid DEFAULT uuid_generate_v4(),
    name                      text,            -- the job's own name, e.g. job_42
    priority                  text CHECK (priority IN ('nrt', 'delayed', 'reprocessing')),
    nomad_id                  text,
    tile_id                   text NOT NULL,
    next_log_level            smallint NOT NULL REFERENCES cosims.log_levels (id),
    next_log_file_path        text,
    print_to_orch             boolean,
    last_status_id            smallint,        -- no foreign key in production
    last_status_change_id     bigint,
    last_status_change_date   timestamp,
    last_status_error_subtype text,
    error_raised              boolean DEFAULT false,
    si_processing_image       text
);

-- FSC and RLIE from a Sentinel-2 L1C (MAJA, then the snow processors).
CREATE TABLE cosims.fsc_rlie_jobs (
    id                             bigserial PRIMARY KEY,
    fk_parent_job_id               bigint NOT NULL UNIQUE
                                   REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    nrt                            boolean,
    l1c_id                         text NOT NULL,
    l1c_id_list                    text,
    l1c_reference_job              boolean DEFAULT true,
    l1c_cloud_cover                numeric NOT NULL,
    l1c_snow_cover                 numeric NOT NULL,
    l1c_path                       text NOT NULL,
    l1c_path_list                  text,
    l2a_path_in                    text,
    l2a_path_out                   text,
    save_full_l2a                  boolean DEFAULT false,
    job_id_for_last_valid_l2a      numeric,
    l2a_status                     text CHECK (l2a_status IN
                                   ('pending', 'generated', 'generation_aborted', 'deleted')),
    n_jobs_run_since_last_init     numeric,
    n_l2a_produced_since_last_init numeric,
    dtm_path                       text,
    fsc_infos                      json,
    rlie_infos                     json,
    fsc_path                       text,
    rlie_path                      text,
    measurement_date               timestamp,
    l1c_sensing_time               timestamp,
    l1c_esa_creation_date          timestamp,
    l1c_esa_publication_date       timestamp,
    l1c_dias_publication_date      timestamp,
    fsc_completion_date            timestamp,
    rlie_completion_date           timestamp,
    fsc_json_publication_date      timestamp,
    rlie_json_publication_date     timestamp,
    maja_mode                      text CHECK (maja_mode IN ('nominal', 'backward', 'init')),
    maja_threads                   smallint DEFAULT 1,
    maja_other_params              jsonb,
    maja_return_code               smallint,
    backward_reprocessing_run      boolean,
    reprocessing_context           text DEFAULT 'None',
    -- one NRT job per L1C; reprocessing jobs differ by their context
    UNIQUE (l1c_id, nrt, reprocessing_context)
);

-- Persistent snow area and aggregated RLIE (seasonal products); serial ids.
CREATE TABLE cosims.psa_arlie_jobs (
    id                             serial PRIMARY KEY,
    reprocessing                   boolean,
    fk_parent_job_id               integer NOT NULL UNIQUE
                                   REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    request_id                     integer,
    product_type                   text CHECK (product_type IN ('PSA-WGS84', 'PSA-LAEA', 'ARLIE')),
    hydro_year                     timestamp,
    month                          timestamp,
    first_product_measurement_date timestamp,
    last_product_measurement_date  timestamp,
    input_paths                    text,
    result_infos                   json,
    result_path                    text,
    result_completion_date         timestamp,
    result_json_publication_date   timestamp
);

-- Wet snow (SWS) and wet/dry snow (WDS) from Sentinel-1 assemblies.
CREATE TABLE cosims.sws_wds_jobs (
    id                              bigserial PRIMARY KEY,
    fk_parent_job_id                bigint NOT NULL UNIQUE
                                    REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    nrt                             boolean,
    wds_infos                       json,
    wds_path                        text,
    wds_completion_date             timestamp,
    wds_json_publication_date       timestamp,
    sws_infos                       json,
    sws_path                        text,
    sws_completion_date             timestamp,
    sws_json_publication_date       timestamp,
    measurement_date                timestamp,
    s1_id_list                      text,
    s1_path_list                    text,
    s1_esa_publication_latest_date  timestamp,
    s1_dias_publication_latest_date timestamp,
    assembly_id                     text,
    assembly_master_job_id          bigint,   -- its own id when master
    assembly_status                 text CHECK (assembly_status IN
                                    ('pending', 'generated', 'empty', 'generation_aborted', 'deleted')),
    assembly_params                 json,
    assembly_path                   text,
    assembly_return_code            integer,
    assembly_reference_job          boolean,
    fsc_id_list                     text,
    fsc_path_list                   text,
    fsc_creation_latest_date        timestamp,
    fsc_publication_latest_date     timestamp,
    reprocessing_context            text DEFAULT 'None',
    UNIQUE (s1_id_list, fsc_id_list, nrt, reprocessing_context)
);

-- Daily gap-filled FSC; its day is product_date.
CREATE TABLE cosims.gfsc_jobs (
    id                                  bigserial PRIMARY KEY,
    fk_parent_job_id                    bigint NOT NULL UNIQUE
                                        REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    nrt                                 boolean,
    missions                            text,
    triggering_product_id               text,
    triggering_product_publication_date timestamp,
    fsc_id_list                         text,
    fsc_publication_date_list           text,
    fsc_measurement_date_list           text,
    wds_id_list                         text,
    wds_publication_date_list           text,
    wds_measurement_date_list           text,
    sws_id_list                         text,
    sws_publication_date_list           text,
    sws_measurement_date_list           text,
    gfsc_id_list                        text,
    obsolete_product_id_list            text,
    gfsc_infos                          json,
    gfsc_id                             text,
    gfsc_path                           text,
    sensing_start_date                  timestamp,
    sensing_end_date                    timestamp,
    completion_date                     timestamp,
    product_date                        timestamp,
    curation_timestamp                  timestamp,
    aggregation_timespan                smallint,
    gfsc_json_publication_date          timestamp,
    overriding_job_id                   text,
    reprocessing_context                text DEFAULT 'None',
    UNIQUE (gfsc_id, nrt, reprocessing_context)
);

-- RLIE from a Sentinel-1 GRD; its dates are a range.
CREATE TABLE cosims.rlies1_jobs (
    id                                  bigserial PRIMARY KEY,
    fk_parent_job_id                    bigint NOT NULL UNIQUE
                                        REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    s1grd_id                            text,
    product_path                        text,
    measurement_date_start              timestamp,
    measurement_date_end                timestamp,
    s1grd_dias_publication_date         timestamp,
    s1grd_esa_publication_date          timestamp,
    s2tile_ids_json                     text,
    rlies1_products_completion_date     timestamp,
    rlies1_product_paths_json           text,
    rlies1_product_json_submitted_json  text,
    rlies1_products_publication_date    timestamp,
    reprocessing_context                text,
    UNIQUE (s1grd_id, measurement_date_start, s1grd_dias_publication_date, reprocessing_context)
);

-- RLIE merged from the S1 and S2 products of a day.
CREATE TABLE cosims.rlies1s2_jobs (
    id                             bigserial PRIMARY KEY,
    fk_parent_job_id               bigint NOT NULL UNIQUE
                                   REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    process_date                   timestamp,
    tile_id_dup                    text,
    rlies1_product_paths_json      text,
    rlies1_publication_latest_date timestamp,
    rlies2_product_paths_json      text,
    rlies2_publication_latest_date timestamp,
    measurement_date_rlies1s2      timestamp,
    rlies1s2_completion_date       timestamp,
    rlies1s2_path                  text,
    rlies1s2_json_submitted_json   text,
    publication_date_rlies1s2      timestamp,
    reprocessing_context           text,
    UNIQUE (process_date, tile_id_dup)
);

-- Integration test jobs; serial ids.
CREATE TABLE cosims.test_jobs (
    id               serial PRIMARY KEY,
    fk_parent_job_id integer NOT NULL UNIQUE
                     REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    measurement_date timestamp,
    completion_date  timestamp
);

-- The services themselves (job creation, configuration, ...), to attach logs to.
CREATE TABLE cosims.other_jobs (
    id               bigserial PRIMARY KEY,
    fk_parent_job_id bigint NOT NULL UNIQUE
                     REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE
);

-- ---------------------------------------------------------------------------
-- Executions and their log messages
-- ---------------------------------------------------------------------------

CREATE TABLE cosims.execution_info (
    id               bigserial PRIMARY KEY,
    fk_parent_job_id bigint NOT NULL REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    min_log_level    smallint NOT NULL REFERENCES cosims.log_levels (id),
    log_file_path    text
);

-- Distinct message bodies, shared by the executions that logged them.
CREATE TABLE cosims.execution_messages (
    id   bigserial PRIMARY KEY,
    body text NOT NULL
);

-- fk_parent_job_id repeats execution_info's, for PostgREST.
CREATE TABLE cosims.execution_info_to_messages (
    id                      bigserial PRIMARY KEY,
    fk_execution_info_id    bigint NOT NULL REFERENCES cosims.execution_info (id) ON DELETE CASCADE,
    fk_execution_message_id bigint NOT NULL REFERENCES cosims.execution_messages (id) ON DELETE CASCADE,
    fk_parent_job_id        bigint NOT NULL REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    time                    timestamp NOT NULL,
    log_level               smallint NOT NULL REFERENCES cosims.log_levels (id)
);

-- ---------------------------------------------------------------------------
-- Status history (its trigger is at the end of the file)
-- ---------------------------------------------------------------------------

CREATE TABLE cosims.job_status_changes (
    id               bigserial PRIMARY KEY,
    fk_parent_job_id bigint NOT NULL REFERENCES cosims.parent_jobs (id) ON DELETE CASCADE,
    time             timestamp DEFAULT CURRENT_TIMESTAMP,
    error_subtype    text,
    error_message    text,
    job_status       smallint NOT NULL REFERENCES cosims.job_status (id)
);

-- Requests for seasonal (PSA/ARLIE) jobs.
CREATE TABLE cosims.job_creation_request (
    id             serial PRIMARY KEY,
    request_status text CHECK (request_status IN ('open', 'closed', 'error')),
    create_job     text NOT NULL CHECK (create_job IN ('PSA-WGS84', 'PSA-LAEA', 'ARLIE')),
    hydro_year     timestamp,
    month          timestamp
);

-- ---------------------------------------------------------------------------
-- System parameters: one row (id = 1), every version kept in the history
-- ---------------------------------------------------------------------------

CREATE TABLE cosims.system_parameters (
    id                                                  bigserial PRIMARY KEY,
    max_number_of_worker_instances                      smallint DEFAULT 210,
    max_number_of_vcpus                                 smallint DEFAULT 920,
    max_time_for_worker_without_nomad_allocation        smallint DEFAULT 15,
    max_ratio_of_vcpus_to_be_used                       double precision DEFAULT 0.95,
    max_number_of_extra_large_worker_instances          smallint DEFAULT 2,
    job_types_list                                      text DEFAULT '["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job", "gfsc_job"]',
    s1_search_default_duration_in_days                  smallint DEFAULT 7,
    s1_processing_start_date                            timestamp DEFAULT '2021-06-24',
    s2_search_default_duration_in_days                  smallint DEFAULT 7,
    s2_processing_start_date                            timestamp DEFAULT '2020-05-01',
    gapfilling_search_default_duration_in_days          smallint DEFAULT 7,
    maja_consecutive_jobs_threshold_value               smallint DEFAULT 60,
    maja_backward_required_job_number                   smallint DEFAULT 8,
    activate_backward_reprocessing                      boolean DEFAULT true,
    rabbitmq_communication_endpoint                     text DEFAULT 'hidden_value',
    docker_image_for_si_processing                      text DEFAULT 'hidden_value',
    docker_image_for_test_job_processing                text DEFAULT 'hidden_value',
    docker_image_for_rliepart2_processing               text DEFAULT 'hidden_value',
    docker_image_for_gfsc_processing                    text DEFAULT 'hidden_value',
    docker_image_for_sws_wds_processing                 text DEFAULT 'hidden_value',
    worker_init_package_tag                             text DEFAULT 'hidden_value',
    ssp_aux_version                                     text DEFAULT 'V20211119',
    job_creation_loop_sleep                             smallint DEFAULT 5,
    job_configuration_loop_sleep                        smallint DEFAULT 5,
    job_execution_loop_sleep                            smallint DEFAULT 5,
    job_publication_loop_sleep                          smallint DEFAULT 5,
    rlies1s2_min_delay_from_end_of_day_hours            smallint DEFAULT 8,
    rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products smallint DEFAULT 24,
    rlies1s2_min_search_window_days                     smallint DEFAULT 7,
    rlies1s2_max_search_window_days                     smallint DEFAULT 31,
    rlies1s2_max_search_window_days_absolute            smallint,
    rlies1s2_earliest_date                              timestamp DEFAULT '2021-05-01',
    rlies1s2_sleep_seconds_between_loop                 bigint,
    gfsc_daily_jobs_creation_start_date                 timestamp,
    CONSTRAINT onerow_uni CHECK (id = 1)
);

-- The same columns after a history id and time (id keeps the parameters' id).
CREATE TABLE cosims.system_parameters_history (
    history_id                                          bigserial PRIMARY KEY,
    time                                                timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    id                                                  bigint,
    max_number_of_worker_instances                      smallint,
    max_number_of_vcpus                                 smallint,
    max_time_for_worker_without_nomad_allocation        smallint,
    max_ratio_of_vcpus_to_be_used                       double precision,
    max_number_of_extra_large_worker_instances          smallint,
    job_types_list                                      text,
    s1_search_default_duration_in_days                  smallint,
    s1_processing_start_date                            timestamp,
    s2_search_default_duration_in_days                  smallint,
    s2_processing_start_date                            timestamp,
    gapfilling_search_default_duration_in_days          smallint,
    maja_consecutive_jobs_threshold_value               smallint,
    maja_backward_required_job_number                   smallint,
    activate_backward_reprocessing                      boolean,
    rabbitmq_communication_endpoint                     text,
    docker_image_for_si_processing                      text,
    docker_image_for_test_job_processing                text,
    docker_image_for_rliepart2_processing               text,
    docker_image_for_gfsc_processing                    text,
    docker_image_for_sws_wds_processing                 text,
    worker_init_package_tag                             text,
    ssp_aux_version                                     text,
    job_creation_loop_sleep                             smallint,
    job_configuration_loop_sleep                        smallint,
    job_execution_loop_sleep                            smallint,
    job_publication_loop_sleep                          smallint,
    rlies1s2_min_delay_from_end_of_day_hours            smallint,
    rlies1s2_max_delay_from_end_of_day_hours_wait_for_rlie_products smallint,
    rlies1s2_min_search_window_days                     smallint,
    rlies1s2_max_search_window_days                     smallint,
    rlies1s2_max_search_window_days_absolute            smallint,
    rlies1s2_earliest_date                              timestamp,
    rlies1s2_sleep_seconds_between_loop                 bigint,
    gfsc_daily_jobs_creation_start_date                 timestamp
);

-- Production's trigger names each column; this one copies the new row whole
-- (same columns, same names), which inserts the same history row.
CREATE FUNCTION cosims.system_parameters_history_trigger() RETURNS trigger
    LANGUAGE plpgsql
AS $history$
BEGIN
    INSERT INTO cosims.system_parameters_history
    SELECT (jsonb_populate_record(
        NULL::cosims.system_parameters_history,
        to_jsonb(NEW)
            || jsonb_build_object('history_id', nextval('cosims.system_parameters_history_history_id_seq'),
                                  'time', CURRENT_TIMESTAMP::timestamp)
    )).*;
    RETURN NEW;
END
$history$;

CREATE TRIGGER system_parameters_history_trigger
    BEFORE INSERT OR UPDATE ON cosims.system_parameters
    FOR EACH ROW EXECUTE PROCEDURE cosims.system_parameters_history_trigger();

-- The one row, with an explicit id (the sequence stays uncalled) and the first
-- history entry.
INSERT INTO cosims.system_parameters VALUES (1);

-- Polled by the dashboard's health check.
CREATE TABLE cosims.health ();

-- ---------------------------------------------------------------------------
-- Indexes (foreign keys, and the dashboard's sort orders)
-- ---------------------------------------------------------------------------

CREATE INDEX parent_jobs_next_log_level ON cosims.parent_jobs USING btree (next_log_level);
CREATE INDEX parent_jobs_last_status_id ON cosims.parent_jobs USING btree (last_status_id);
CREATE INDEX parent_jobs_last_status_change_id ON cosims.parent_jobs USING btree (last_status_change_id);
CREATE INDEX execution_info_fk_parent_job_id ON cosims.execution_info USING btree (fk_parent_job_id);
CREATE INDEX execution_info_min_log_level ON cosims.execution_info USING btree (min_log_level);
CREATE INDEX execution_info_to_messages_fk_execution_info_id
    ON cosims.execution_info_to_messages USING btree (fk_execution_info_id);
CREATE INDEX execution_info_to_messages_fk_execution_message_id
    ON cosims.execution_info_to_messages USING btree (fk_execution_message_id);
CREATE INDEX execution_info_to_messages_fk_parent_job_id
    ON cosims.execution_info_to_messages USING btree (fk_parent_job_id);
CREATE INDEX execution_info_to_messages_log_level
    ON cosims.execution_info_to_messages USING btree (log_level);
CREATE INDEX job_status_changes_fk_parent_job_id ON cosims.job_status_changes USING btree (fk_parent_job_id);
CREATE INDEX job_status_changes_job_status ON cosims.job_status_changes USING btree (job_status);
CREATE INDEX parent_jobs_tile_id ON cosims.parent_jobs USING btree (tile_id);
CREATE INDEX parent_jobs_last_status_change_date ON cosims.parent_jobs USING btree (last_status_change_date);
CREATE INDEX fsc_rlie_jobs_l1c_esa_publication_date ON cosims.fsc_rlie_jobs USING btree (l1c_esa_publication_date);
CREATE INDEX fsc_rlie_jobs_l1c_dias_publication_date ON cosims.fsc_rlie_jobs USING btree (l1c_dias_publication_date);
CREATE INDEX fsc_rlie_jobs_maja_mode ON cosims.fsc_rlie_jobs USING btree (maja_mode);

-- ---------------------------------------------------------------------------
-- Views: each type's table with its parent job and status name
-- ---------------------------------------------------------------------------
-- The parent columns each view adds, in production's order (test_jobs_view
-- has neither tile_id nor print_to_orch).

CREATE VIEW cosims.fsc_rlie_jobs_view AS
SELECT t.*, pj.name, pj.priority, pj.nomad_id, pj.tile_id, pj.next_log_level,
       pj.next_log_file_path, pj.print_to_orch, pj.last_status_id AS status_id,
       pj.last_status_change_id, pj.last_status_change_date AS status_change_time,
       pj.error_raised AS error_occurred, pj.last_status_error_subtype AS status_error_subtype,
       js.name AS status_name
FROM cosims.fsc_rlie_jobs t
JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
JOIN cosims.job_status js ON js.id = pj.last_status_id;

CREATE VIEW cosims.test_jobs_view AS
SELECT t.*, pj.name, pj.priority, pj.nomad_id, pj.next_log_level,
       pj.next_log_file_path, pj.last_status_id AS status_id,
       pj.last_status_change_id, pj.last_status_change_date AS status_change_time,
       pj.error_raised AS error_occurred, pj.last_status_error_subtype AS status_error_subtype,
       js.name AS status_name
FROM cosims.test_jobs t
JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
JOIN cosims.job_status js ON js.id = pj.last_status_id;

CREATE VIEW cosims.sws_wds_jobs_view AS
SELECT t.*, pj.name, pj.priority, pj.nomad_id, pj.tile_id, pj.next_log_level,
       pj.next_log_file_path, pj.print_to_orch, pj.last_status_id AS status_id,
       pj.last_status_change_id, pj.last_status_change_date AS status_change_time,
       pj.error_raised AS error_occurred, pj.last_status_error_subtype AS status_error_subtype,
       js.name AS status_name
FROM cosims.sws_wds_jobs t
JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
JOIN cosims.job_status js ON js.id = pj.last_status_id;

CREATE VIEW cosims.gfsc_jobs_view AS
SELECT t.*, pj.name, pj.priority, pj.nomad_id, pj.tile_id, pj.next_log_level,
       pj.next_log_file_path, pj.print_to_orch, pj.last_status_id AS status_id,
       pj.last_status_change_id, pj.last_status_change_date AS status_change_time,
       pj.error_raised AS error_occurred, pj.last_status_error_subtype AS status_error_subtype,
       js.name AS status_name
FROM cosims.gfsc_jobs t
JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
JOIN cosims.job_status js ON js.id = pj.last_status_id;

CREATE VIEW cosims.rlies1_jobs_view AS
SELECT t.*, pj.name, pj.priority, pj.nomad_id, pj.tile_id, pj.next_log_level,
       pj.next_log_file_path, pj.print_to_orch, pj.last_status_id AS status_id,
       pj.last_status_change_id, pj.last_status_change_date AS status_change_time,
       pj.error_raised AS error_occurred, pj.last_status_error_subtype AS status_error_subtype,
       js.name AS status_name
FROM cosims.rlies1_jobs t
JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
JOIN cosims.job_status js ON js.id = pj.last_status_id;

CREATE VIEW cosims.rlies1s2_jobs_view AS
SELECT t.*, pj.name, pj.priority, pj.nomad_id, pj.tile_id, pj.next_log_level,
       pj.next_log_file_path, pj.print_to_orch, pj.last_status_id AS status_id,
       pj.last_status_change_id, pj.last_status_change_date AS status_change_time,
       pj.error_raised AS error_occurred, pj.last_status_error_subtype AS status_error_subtype,
       js.name AS status_name
FROM cosims.rlies1s2_jobs t
JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
JOIN cosims.job_status js ON js.id = pj.last_status_id;

-- ---------------------------------------------------------------------------
-- PostgREST: the anonymous role reads and writes the schema
-- (the roles themselves are in cosims-roles.sql)
-- ---------------------------------------------------------------------------

GRANT USAGE ON SCHEMA cosims TO web_anonymous;
GRANT SELECT ON cosims.log_levels, cosims.job_status TO web_anonymous;
GRANT ALL ON
    cosims.parent_jobs, cosims.fsc_rlie_jobs, cosims.rlies1_jobs, cosims.rlies1s2_jobs,
    cosims.psa_arlie_jobs, cosims.sws_wds_jobs, cosims.gfsc_jobs, cosims.test_jobs,
    cosims.job_creation_request, cosims.system_parameters_history, cosims.system_parameters,
    cosims.health, cosims.other_jobs, cosims.execution_info, cosims.execution_messages,
    cosims.execution_info_to_messages, cosims.job_status_changes,
    cosims.fsc_rlie_jobs_view, cosims.test_jobs_view, cosims.sws_wds_jobs_view,
    cosims.gfsc_jobs_view, cosims.rlies1_jobs_view, cosims.rlies1s2_jobs_view
    TO web_anonymous;
GRANT USAGE, SELECT ON SEQUENCE
    cosims.parent_jobs_id_seq, cosims.fsc_rlie_jobs_id_seq, cosims.rlies1_jobs_id_seq,
    cosims.rlies1s2_jobs_id_seq, cosims.psa_arlie_jobs_id_seq, cosims.sws_wds_jobs_id_seq,
    cosims.gfsc_jobs_id_seq, cosims.test_jobs_id_seq, cosims.job_creation_request_id_seq,
    cosims.system_parameters_history_history_id_seq, cosims.system_parameters_id_seq,
    cosims.other_jobs_id_seq, cosims.execution_info_id_seq, cosims.execution_messages_id_seq,
    cosims.execution_info_to_messages_id_seq, cosims.job_status_changes_id_seq
    TO web_anonymous;

-- ---------------------------------------------------------------------------
-- Functions the services and the dashboard call (same names, arguments and
-- results as production's)
-- ---------------------------------------------------------------------------

CREATE FUNCTION cosims.parent_jobs_with_ids(parent_job_ids bigint[])
    RETURNS SETOF cosims.parent_jobs LANGUAGE plpgsql STABLE
AS $$ BEGIN
    RETURN QUERY SELECT * FROM cosims.parent_jobs pj WHERE pj.id = ANY (parent_job_ids);
END $$;

-- The services' own parent jobs, by name.
CREATE FUNCTION cosims.job_creation_ids() RETURNS TABLE (id bigint) LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY SELECT pj.id FROM cosims.parent_jobs pj WHERE pj.name = 'job-creation';
END $$;
CREATE FUNCTION cosims.job_configuration_ids() RETURNS TABLE (id bigint) LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY SELECT pj.id FROM cosims.parent_jobs pj WHERE pj.name = 'job-configuration';
END $$;
CREATE FUNCTION cosims.job_execution_ids() RETURNS TABLE (id bigint) LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY SELECT pj.id FROM cosims.parent_jobs pj WHERE pj.name = 'job-execution';
END $$;

-- (unqualified, as in production: resolved through the caller's search_path)
CREATE FUNCTION cosims.messages_with_body(body_arg text)
    RETURNS TABLE (id bigint, body text) LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY SELECT em.id, em.body FROM execution_messages em WHERE em.body = body_arg;
END $$;

CREATE FUNCTION cosims.job_messages(parent_job_ids bigint[])
    RETURNS TABLE (parent_job_id bigint, job_name text, log_level text, "time" timestamp, body text)
    LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY
    SELECT pj.id, pj.name, ll.name, eim.time, em.body
    FROM cosims.parent_jobs pj
    JOIN cosims.execution_info ei ON ei.fk_parent_job_id = pj.id
    JOIN cosims.execution_info_to_messages eim ON eim.fk_execution_info_id = ei.id
    JOIN cosims.execution_messages em ON eim.fk_execution_message_id = em.id
    JOIN cosims.log_levels ll ON ll.id = eim.log_level
    WHERE pj.id = ANY (parent_job_ids)
    ORDER BY eim.time;
END $$;

CREATE FUNCTION cosims.job_creation_messages()
    RETURNS TABLE (log_level text, "time" timestamp, body text) LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY SELECT * FROM cosims.job_messages(array(SELECT * FROM cosims.job_creation_ids()));
END $$;
CREATE FUNCTION cosims.job_configuration_messages()
    RETURNS TABLE (log_level text, "time" timestamp, body text) LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY SELECT * FROM cosims.job_messages(array(SELECT * FROM cosims.job_configuration_ids()));
END $$;
CREATE FUNCTION cosims.job_execution_messages()
    RETURNS TABLE (log_level text, "time" timestamp, body text) LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY SELECT * FROM cosims.job_messages(array(SELECT * FROM cosims.job_execution_ids()));
END $$;

-- Every status change of the given jobs (all jobs when NULL).
CREATE FUNCTION cosims.job_status_history(parent_job_ids bigint[] DEFAULT NULL)
    RETURNS TABLE (parent_job_id bigint, job_name text, status smallint, status_name text,
                   change_id bigint, "time" timestamp)
    LANGUAGE sql STABLE
AS $$
    SELECT pj.id, pj.name, js.id, js.name, jsc.id, jsc.time
    FROM cosims.job_status js
    JOIN cosims.job_status_changes jsc ON js.id = jsc.job_status
    JOIN cosims.parent_jobs pj ON jsc.fk_parent_job_id = pj.id
    WHERE parent_job_ids IS NULL OR pj.id = ANY (parent_job_ids)
    ORDER BY pj.id, jsc.id;
$$;

-- The last change (highest id) of each job, optionally only those in the given statuses.
CREATE FUNCTION cosims.last_job_status_id(parent_job_ids bigint[] DEFAULT NULL,
                                          last_status smallint[] DEFAULT NULL)
    RETURNS TABLE (parent_job_id bigint, status smallint, change_id bigint, "time" timestamp)
    LANGUAGE sql STABLE
AS $$
    SELECT c.fk_parent_job_id, c.job_status, c.id, c.time
    FROM cosims.job_status_changes c
    JOIN (SELECT fk_parent_job_id, max(id) AS id
          FROM cosims.job_status_changes
          WHERE parent_job_ids IS NULL OR fk_parent_job_id = ANY (parent_job_ids)
          GROUP BY fk_parent_job_id) last ON c.id = last.id
    WHERE last_status IS NULL OR c.job_status = ANY (last_status);
$$;

CREATE FUNCTION cosims.last_job_status(parent_job_ids bigint[] DEFAULT NULL,
                                       last_status smallint[] DEFAULT NULL)
    RETURNS TABLE (parent_job_id bigint, job_name text, status smallint, status_name text,
                   change_id bigint, "time" timestamp)
    LANGUAGE sql STABLE
AS $$
    SELECT l.parent_job_id, pj.name, l.status, js.name, l.change_id, l.time
    FROM cosims.job_status js
    JOIN cosims.last_job_status_id(parent_job_ids, last_status) l ON l.status = js.id
    JOIN cosims.parent_jobs pj ON pj.id = l.parent_job_id;
$$;

-- Each type's jobs whose parent is in one of the given statuses.
CREATE FUNCTION cosims.fsc_rlie_jobs_with_last_status(last_status smallint[])
    RETURNS SETOF cosims.fsc_rlie_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.fsc_rlie_jobs t JOIN cosims.parent_jobs pj ON pj.id = t.fk_parent_job_id
      WHERE pj.last_status_id = ANY (last_status) $$;
CREATE FUNCTION cosims.rlies1_jobs_with_last_status(last_status smallint[])
    RETURNS SETOF cosims.rlies1_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.rlies1_jobs t JOIN cosims.parent_jobs pj ON pj.id = t.fk_parent_job_id
      WHERE pj.last_status_id = ANY (last_status) $$;
CREATE FUNCTION cosims.rlies1s2_jobs_with_last_status(last_status smallint[])
    RETURNS SETOF cosims.rlies1s2_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.rlies1s2_jobs t JOIN cosims.parent_jobs pj ON pj.id = t.fk_parent_job_id
      WHERE pj.last_status_id = ANY (last_status) $$;
CREATE FUNCTION cosims.gfsc_jobs_with_last_status(last_status smallint[])
    RETURNS SETOF cosims.gfsc_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.gfsc_jobs t JOIN cosims.parent_jobs pj ON pj.id = t.fk_parent_job_id
      WHERE pj.last_status_id = ANY (last_status) $$;
CREATE FUNCTION cosims.sws_wds_jobs_with_last_status(last_status smallint[])
    RETURNS SETOF cosims.sws_wds_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.sws_wds_jobs t JOIN cosims.parent_jobs pj ON pj.id = t.fk_parent_job_id
      WHERE pj.last_status_id = ANY (last_status) $$;
CREATE FUNCTION cosims.psa_arlie_jobs_with_last_status(last_status smallint[])
    RETURNS SETOF cosims.psa_arlie_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.psa_arlie_jobs t JOIN cosims.parent_jobs pj ON pj.id = t.fk_parent_job_id
      WHERE pj.last_status_id = ANY (last_status) $$;
CREATE FUNCTION cosims.test_jobs_with_last_status(last_status smallint[])
    RETURNS SETOF cosims.test_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.test_jobs t JOIN cosims.parent_jobs pj ON pj.id = t.fk_parent_job_id
      WHERE pj.last_status_id = ANY (last_status) $$;

CREATE FUNCTION cosims.fsc_rlie_jobs_with_status_tile_date(last_status smallint[], tile_id_ref text,
                                                           low_time_bound timestamp,
                                                           high_time_bound timestamp)
    RETURNS SETOF cosims.fsc_rlie_jobs LANGUAGE sql STABLE
AS $$
    SELECT t.* FROM cosims.fsc_rlie_jobs_with_last_status(last_status) t
    JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
    WHERE pj.tile_id = tile_id_ref
      AND t.measurement_date >= low_time_bound AND t.measurement_date < high_time_bound
$$;

-- Jobs in a range [start_date, end_date) of one date column.
CREATE FUNCTION cosims.select_date_rlies1_s1grd_dias_publication_date(start_date timestamp, end_date timestamp)
    RETURNS SETOF cosims.rlies1_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.rlies1_jobs t
      WHERE t.s1grd_dias_publication_date >= start_date AND t.s1grd_dias_publication_date < end_date $$;
CREATE FUNCTION cosims.select_date_rlies1_rlies1_products_publication_date(start_date timestamp, end_date timestamp)
    RETURNS SETOF cosims.rlies1_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.rlies1_jobs t
      WHERE t.rlies1_products_publication_date >= start_date AND t.rlies1_products_publication_date < end_date $$;
CREATE FUNCTION cosims.select_date_rlies1_measurement_date_start(start_date timestamp, end_date timestamp)
    RETURNS SETOF cosims.rlies1_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.rlies1_jobs t
      WHERE t.measurement_date_start >= start_date AND t.measurement_date_start < end_date $$;
CREATE FUNCTION cosims.select_date_rlies1s2_process_date(start_date timestamp, end_date timestamp)
    RETURNS SETOF cosims.rlies1s2_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.rlies1s2_jobs t
      WHERE t.process_date >= start_date AND t.process_date < end_date $$;
CREATE FUNCTION cosims.select_date_fsc_rlie_rlie_json_publication_date(start_date timestamp, end_date timestamp)
    RETURNS SETOF cosims.fsc_rlie_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.fsc_rlie_jobs t
      WHERE t.rlie_json_publication_date >= start_date AND t.rlie_json_publication_date < end_date $$;
CREATE FUNCTION cosims.select_date_fsc_rlie_measurement_date(start_date timestamp, end_date timestamp)
    RETURNS SETOF cosims.fsc_rlie_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.fsc_rlie_jobs t
      WHERE t.measurement_date >= start_date AND t.measurement_date < end_date $$;
-- (this one includes its end, as in production)
CREATE FUNCTION cosims.select_date_sws_wds_measurement_date(start_date timestamp, end_date timestamp)
    RETURNS SETOF cosims.sws_wds_jobs LANGUAGE sql STABLE
AS $$ SELECT t.* FROM cosims.sws_wds_jobs t
      WHERE t.measurement_date >= start_date AND t.measurement_date <= end_date $$;

CREATE FUNCTION cosims.fsc_rlie_jobs_with_tile_date(tile_id_ref text, measurement_time timestamp)
    RETURNS SETOF cosims.fsc_rlie_jobs LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN
    RETURN QUERY
    SELECT t.* FROM cosims.fsc_rlie_jobs t
    JOIN (SELECT pj.id FROM cosims.parent_jobs pj WHERE pj.tile_id = tile_id_ref) on_tile
      ON t.fk_parent_job_id = on_tile.id
    WHERE t.measurement_date = measurement_time;
END $$;

-- The latest earlier job of the tile whose L2A is (or will be) usable by MAJA.
CREATE FUNCTION cosims.get_last_job_with_usable_l2a(tile_id_ref text,
                                                    high_measurement_time_bound timestamp,
                                                    high_esa_time_bound timestamp,
                                                    l1c_id_ref text,
                                                    allow_codated_jobs boolean,
                                                    backward_triggered_job boolean)
    RETURNS SETOF cosims.fsc_rlie_jobs LANGUAGE sql STABLE
AS $$
    SELECT t.* FROM cosims.fsc_rlie_jobs t
    JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
    WHERE pj.tile_id = tile_id_ref
      AND t.measurement_date <= high_measurement_time_bound
      AND t.l1c_esa_creation_date < high_esa_time_bound
      AND t.l1c_id != l1c_id_ref
      AND (t.l2a_status = 'generated'
           OR (t.l2a_status = 'pending' AND pj.last_status_id NOT IN (13, 14, 16))
           OR (backward_triggered_job IS TRUE AND t.l2a_status = 'pending' AND pj.last_status_id != 16))
      AND (t.l1c_reference_job IS TRUE OR allow_codated_jobs IS TRUE)
    ORDER BY t.measurement_date DESC, t.l1c_esa_creation_date DESC, pj.last_status_change_id DESC
    LIMIT 1;
$$;

CREATE FUNCTION cosims.fsc_rlie_jobs_following_measurement_with_tile_id(
        tile_id_ref text, low_measurement_time_bound timestamp,
        low_l1c_esa_creation_time_bound timestamp, results_limit smallint)
    RETURNS SETOF cosims.fsc_rlie_jobs LANGUAGE sql STABLE
AS $$
    SELECT t.* FROM cosims.fsc_rlie_jobs t
    JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
    WHERE t.measurement_date >= low_measurement_time_bound
      AND t.l1c_esa_creation_date > low_l1c_esa_creation_time_bound
      AND pj.tile_id = tile_id_ref
      AND t.l1c_reference_job IS TRUE
    ORDER BY t.measurement_date
    LIMIT results_limit;
$$;

CREATE FUNCTION cosims.fsc_rlie_job_last_init_with_tile_id_no_backward(tile_id_ref text,
                                                                       high_time_bound timestamp)
    RETURNS SETOF cosims.fsc_rlie_jobs LANGUAGE sql STABLE
AS $$
    SELECT t.* FROM cosims.fsc_rlie_jobs t
    JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
    WHERE pj.tile_id = tile_id_ref
      AND t.measurement_date < high_time_bound
      AND t.maja_mode = 'init'
      AND NOT t.backward_reprocessing_run
      AND t.l2a_status = 'generated'
    ORDER BY t.measurement_date DESC
    LIMIT 1;
$$;

CREATE FUNCTION cosims.gfsc_jobs_with_status_product_date_tile(last_status smallint[],
                                                               product_date_ref timestamp,
                                                               tile_id_ref text)
    RETURNS SETOF cosims.gfsc_jobs LANGUAGE sql STABLE
AS $$
    SELECT t.* FROM cosims.gfsc_jobs t
    JOIN cosims.parent_jobs pj ON t.fk_parent_job_id = pj.id
    WHERE pj.tile_id = tile_id_ref
      AND pj.last_status_id = ANY (last_status)
      AND t.product_date = product_date_ref;
$$;

CREATE FUNCTION cosims.last_job_with_fsc_publication_latest_date()
    RETURNS SETOF cosims.sws_wds_jobs LANGUAGE sql STABLE
AS $$
    SELECT t.* FROM cosims.sws_wds_jobs t
    ORDER BY CASE WHEN t.fsc_publication_latest_date IS NULL THEN 1 ELSE 0 END,
             t.fsc_publication_latest_date DESC
    LIMIT 1;
$$;

-- Deletes every job and request (the parameters stay).
CREATE FUNCTION cosims.empty_database() RETURNS void LANGUAGE plpgsql VOLATILE
AS $$ BEGIN
    DELETE FROM cosims.parent_jobs;
    DELETE FROM cosims.fsc_rlie_jobs;
    DELETE FROM cosims.psa_arlie_jobs;
    DELETE FROM cosims.test_jobs;
    DELETE FROM cosims.rlies1_jobs;
    DELETE FROM cosims.rlies1s2_jobs;
    DELETE FROM cosims.gfsc_jobs;
    DELETE FROM cosims.sws_wds_jobs;
    DELETE FROM cosims.other_jobs;
    DELETE FROM cosims.execution_info;
    DELETE FROM cosims.execution_messages;
    DELETE FROM cosims.execution_info_to_messages;
    DELETE FROM cosims.job_status_changes;
    DELETE FROM cosims.job_creation_request;
END $$;

-- Deletes the SWS/WDS jobs with their parents (production's only use of it).
CREATE FUNCTION cosims.empty_table() RETURNS void LANGUAGE plpgsql VOLATILE
AS $$ BEGIN
    DELETE FROM cosims.parent_jobs pj USING cosims.sws_wds_jobs t WHERE pj.id = t.fk_parent_job_id;
END $$;

-- Parent jobs whose last_status_id differs from their last status change.
CREATE FUNCTION cosims.jobs_satus_unsync_jobs()
    RETURNS SETOF cosims.parent_jobs LANGUAGE sql STABLE
AS $$
    SELECT pj.* FROM cosims.parent_jobs pj
    JOIN cosims.last_job_status_id() l ON pj.id = l.parent_job_id
    WHERE l.status != pj.last_status_id;
$$;

-- Puts them back in step with their history.
CREATE FUNCTION cosims.jobs_status_manual_sync() RETURNS void LANGUAGE plpgsql VOLATILE
AS $$ BEGIN
    IF EXISTS (SELECT id FROM cosims.jobs_satus_unsync_jobs()) THEN
        UPDATE cosims.parent_jobs SET error_raised = 'true'
        FROM (SELECT fk_parent_job_id, max(job_status) FROM cosims.job_status_changes
              WHERE job_status >= 13 AND job_status <= 15
              GROUP BY fk_parent_job_id) errors
        WHERE errors.fk_parent_job_id = cosims.parent_jobs.id
          AND cosims.parent_jobs.id = ANY (SELECT id FROM cosims.jobs_satus_unsync_jobs());
        UPDATE cosims.parent_jobs SET
            last_status_id = l.status,
            last_status_change_id = l.change_id,
            last_status_change_date = l.time,
            last_status_error_subtype = c.error_subtype
        FROM cosims.last_job_status() l
        JOIN cosims.job_status_changes c ON l.change_id = c.id
        WHERE l.parent_job_id = cosims.parent_jobs.id
          AND cosims.parent_jobs.id = ANY (SELECT id FROM cosims.jobs_satus_unsync_jobs());
    END IF;
END $$;

-- ---------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------

-- The authorized transitions, as production's trigger has them: from the job's
-- last status change (none yet: 1, 5, 13 or 16), to:
--    1 -> 2 13 14 16       5 -> 6 13 14 16       9 -> 10 12 13 14 16   13 -> 13 14 15
--    2 -> 3 13 16          6 -> 7 13 14 16      10 -> 11 13 14 16      14 -> 5 13 14 15
--    3 -> 4 13 14 16       7 -> 8 13 14 16      11 -> 12               15 -> anything
--    4 -> 5 13             8 -> 9 13 14 16      12 -> 13 14            16 -> 13
-- The messages are production's. The parent job then takes the new status; an
-- error status (13, 14, 15) also sets error_raised.
CREATE FUNCTION cosims.check_status_change() RETURNS trigger
    LANGUAGE plpgsql
AS $check$
DECLARE
    old_status smallint;
    allowed    int[];
BEGIN
    SELECT status FROM cosims.last_job_status_id() WHERE parent_job_id = NEW.fk_parent_job_id
    INTO old_status;

    IF old_status IS NULL THEN
        IF NEW.job_status != ALL ('{1,5,13,16}'::int[]) THEN
            RAISE EXCEPTION 'Error : invalid job status creation %!', NEW.job_status;
        END IF;
    ELSIF old_status != 15 THEN
        allowed := CASE old_status
            WHEN 1  THEN '{2,13,14,16}'
            WHEN 2  THEN '{3,13,16}'
            WHEN 3  THEN '{4,13,14,16}'
            WHEN 4  THEN '{5,13}'
            WHEN 5  THEN '{6,13,14,16}'
            WHEN 6  THEN '{7,13,14,16}'
            WHEN 7  THEN '{8,13,14,16}'
            WHEN 8  THEN '{9,13,14,16}'
            WHEN 9  THEN '{10,12,13,14,16}'
            WHEN 10 THEN '{11,13,14,16}'
            WHEN 11 THEN '{12}'
            WHEN 12 THEN '{13,14}'
            WHEN 13 THEN '{13,14,15}'
            WHEN 14 THEN '{5,13,14,15}'
            WHEN 16 THEN '{13}'
        END::int[];
        IF allowed IS NOT NULL AND NEW.job_status != ALL (allowed) THEN
            RAISE EXCEPTION 'Error : invalid job status transition % to %!', old_status, NEW.job_status;
        END IF;
    END IF;

    UPDATE cosims.parent_jobs SET
        last_status_id = NEW.job_status,
        last_status_change_id = NEW.id,
        last_status_change_date = NEW.time,
        last_status_error_subtype = NEW.error_subtype,
        error_raised = CASE WHEN NEW.job_status IN (13, 14, 15) THEN 'true' ELSE error_raised END
    WHERE id = NEW.fk_parent_job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Fail to update parent_jobs status with id % to status %!',
            NEW.fk_parent_job_id, NEW.job_status;
    END IF;
    RETURN NEW;
END
$check$;

CREATE TRIGGER check_status_change BEFORE INSERT ON cosims.job_status_changes
    FOR EACH ROW EXECUTE PROCEDURE cosims.check_status_change();

-- PostgREST 6 cannot parse a job name with white space: refuse it.
CREATE FUNCTION cosims.check_parent_job_name() RETURNS trigger
    LANGUAGE plpgsql
AS $check$
BEGIN
    IF NEW.name ~ '[ \t\v\b\r\n\u00a0]' THEN
        RAISE EXCEPTION 'Error : invalid job name : % !', NEW.name;
    END IF;
    RETURN NEW;
END
$check$;

CREATE TRIGGER check_parent_job_name BEFORE INSERT OR UPDATE OF name ON cosims.parent_jobs
    FOR EACH ROW EXECUTE PROCEDURE cosims.check_parent_job_name();

COMMIT;
