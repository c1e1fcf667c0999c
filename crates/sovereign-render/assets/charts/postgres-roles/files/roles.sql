-- Sovereign's PostgreSQL roles and publication, run on the Aurora writer as the master user:
-- by the `postgres-roles` Job on the primary's site cluster (charts/postgres-roles), and by
-- `sovereign lab` on its primary. Safe to run again: what is missing is created, passwords and
-- grants are set every time (a rotated secret takes effect on the next run).
--
-- Values come from the environment only (psql's \getenv), never from the text of this file:
--   MONITOR_PASSWORD      password of sovereign_monitor (pg_monitor: what the exporters read)
--   PUBLISH               `on` when logical replicas subscribe: sovereign_replicator and the
--                         publication `sovereign_all` (FOR ALL TABLES needs rds_superuser)
--   REPLICATOR_PASSWORD   password of sovereign_replicator (only read when PUBLISH is on)
--
-- After a switchover or a failover of the Aurora global database the promoted writer serves
-- the subscriptions with the same roles, grants and publication: they are rows of the
-- database's catalog (pg_authid, pg_publication, ...), which Aurora replicates to every member
-- cluster with the rest of the storage, so every secondary already holds them. The logical
-- replication slot is different: Aurora does not promise to carry it to the new writer, so a
-- subscription whose slot is gone is dropped and created again (see the tree's README).
\set ON_ERROR_STOP on
\set replicator sovereign_replicator
\set monitor sovereign_monitor
\set publication sovereign_all
\getenv monitor_password MONITOR_PASSWORD
\getenv publish PUBLISH
\if :{?monitor_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'MONITOR_PASSWORD is not set'; END $$;
\endif
\if :{?publish}
\else
  \set publish off
\endif

-- The monitoring role: pg_monitor reads the statistics views and replication state, nothing else.
-- (CREATE ROLE makes no superuser, creator of roles or databases; the master user, rds_superuser,
-- may not even name the SUPERUSER attribute in ALTER ROLE, so it is left alone.)
SELECT format('CREATE ROLE %I LOGIN', :'monitor')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor') \gexec
ALTER ROLE :"monitor" WITH LOGIN PASSWORD :'monitor_password';
GRANT pg_monitor TO :"monitor";

\if :publish
\getenv replicator_password REPLICATOR_PASSWORD
\if :{?replicator_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'REPLICATOR_PASSWORD is not set'; END $$;
\endif
-- The replication role: it may stream changes (rds_replication) and read the published tables
-- (the first copy of a table and the schema copy read them as this role), nothing more.
SELECT format('CREATE ROLE %I LOGIN', :'replicator')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'replicator') \gexec
ALTER ROLE :"replicator" WITH LOGIN PASSWORD :'replicator_password';
GRANT rds_replication TO :"replicator";

-- The table `sovereign verify` writes its probe rows to (postgres::write_propagation).
CREATE TABLE IF NOT EXISTS public.sovereign_probe (id text PRIMARY KEY, site text NOT NULL, written_at timestamptz NOT NULL DEFAULT now());

-- SELECT on every table the publication publishes: FOR ALL TABLES covers every schema but the
-- system ones.
SELECT format('GRANT USAGE ON SCHEMA %I TO %I', nspname, :'replicator'),
       format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', nspname, :'replicator')
  FROM pg_namespace
  WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%'
  ORDER BY nspname \gexec
-- Schemas and tables the master user creates later.
ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO :"replicator";
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO :"replicator";
-- Tables any other role creates later (the application's own role, typically): FOR ALL TABLES
-- publishes them too, and the first copy of each reads it as this role. pg_read_all_data
-- (PostgreSQL 14 and later) reads every table whoever owns it, and nothing else. Where it does
-- not exist or may not be granted, say so and what to run instead; the rest goes on.
SELECT format(
  $do$DO $body$ BEGIN EXECUTE %L; EXCEPTION WHEN insufficient_privilege THEN RAISE WARNING %L; END $body$$do$,
  format('GRANT pg_read_all_data TO %I', :'replicator'),
  format('cannot grant pg_read_all_data to %s: for tables another role creates, run ALTER DEFAULT PRIVILEGES FOR ROLE <owner> GRANT SELECT ON TABLES TO %s', :'replicator', :'replicator'))
  WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = 'pg_read_all_data') \gexec

SELECT format('CREATE PUBLICATION %I FOR ALL TABLES', :'publication')
  WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = :'publication') \gexec
\endif
