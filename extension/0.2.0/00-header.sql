-- billy 0.2.0: the sync engine.  Mirror tables for Billy's resources, kept
-- current by full and hot scans; the change log; sync jobs, status, runs
-- and progress; row-level security per organization.
--
-- This upgrade script is assembled from extension/0.2.0/*.sql, one file per
-- concern.  Every name is schema-qualified (operators too, outside function
-- bodies); every function body runs with search_path = pg_catalog, pg_temp.

\echo Use "ALTER EXTENSION billy UPDATE TO '0.2.0'" to load this file. \quit
