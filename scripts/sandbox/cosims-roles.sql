-- The PostgREST roles of the HR-S&I database.
--
-- Production creates them in its schema file: `web_anonymous` (no login), the
-- role PostgREST serves anonymous requests as, and `authenticator` (login, with
-- a password, no inherit), the role PostgREST connects as and which may become
-- web_anonymous. pg_dumpall emits both in its globals, with the password hash.
--
-- Roles are cluster-global and a restored pg_dumpall archive brings them back,
-- so this file may run again over a cluster that has them. Run it as the
-- superuser, in database postgres, before cosims-schema.sql. The sandbox's
-- password is not a secret (production's is not this one).

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'web_anonymous') THEN
        CREATE ROLE web_anonymous NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator NOINHERIT LOGIN PASSWORD 'sandbox-authenticator';
    END IF;
END
$roles$;

GRANT web_anonymous TO authenticator;
