-- Roles of the cosims-like sandbox database.
--
-- Roles are cluster-global and pg_dumpall dumps them, so this file must be
-- safe to run again over a cluster where they already exist (for example
-- after a restore of a pg_dumpall archive). Run it as a superuser, in any
-- database, before cosims-schema.sql.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'cosims_admin') THEN
        CREATE ROLE cosims_admin LOGIN;
    END IF;
END
$roles$;

-- Attributes are (re)applied every time, whether the role was just created
-- or restored from a dump made with other attributes.
ALTER ROLE cosims_admin WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION;
COMMENT ON ROLE cosims_admin IS 'owner of the cosims schema (HR-S&I sandbox)';
