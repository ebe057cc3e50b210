------------------------------------------------------------------------------
-- Syncing: queue, run inline, see status, schedule, publish
------------------------------------------------------------------------------

CREATE FUNCTION billy._sync_resources() RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN ARRAY['organization'] || ARRAY(SELECT r.name FROM billy.resources r ORDER BY r.sync_order);
COMMENT ON FUNCTION billy._sync_resources() IS 'The resources a sync covers, in the order a full sync takes them: the organization, then billy.resources by sync_order. Internal.';

-- _sync_resource_list checks and normalizes a user's resource list:
-- Billy's names (bankPayments) and billy's table names (bank_payments) both work.
CREATE FUNCTION billy._sync_resource_list(resources text[]) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    known text[] := billy._sync_resources();
    result text[] := '{}';
    r text;
    k text;
    found_one boolean;
BEGIN
    IF resources IS NULL THEN
        RETURN known;
    END IF;
    FOREACH r IN ARRAY resources LOOP
        found_one := false;
        FOREACH k IN ARRAY known LOOP
            IF lower(replace(r, '_', '')) = lower(k) THEN
                IF NOT k = ANY (result) THEN
                    result := result || k;
                END IF;
                found_one := true;
            END IF;
        END LOOP;
        IF NOT found_one THEN
            RAISE EXCEPTION 'unknown resource "%"', r
                USING ERRCODE = '22023', HINT = 'Known resources: ' || array_to_string(known, ', ') || '.';
        END IF;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._sync_resource_list(text[]) IS 'Checks a list of resource names and returns Billy''s names for them. Internal.';

CREATE FUNCTION billy._warn_if_unserved(action text) RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_warn_if_unserved_sql';
COMMENT ON FUNCTION billy._warn_if_unserved(text) IS 'Warns, naming the action and what to set, when this is not the database billy''s worker serves (billy.database_name). Internal.';

CREATE FUNCTION billy.sync(org text DEFAULT NULL, resources text[] DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wanted text[] := billy._sync_resource_list(resources);
    target text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
    o record;
    r text;
    n bigint := 0;
    orgs integer := 0;
BEGIN
    PERFORM billy._warn_if_unserved('billy.sync()');
    FOR o IN SELECT id FROM billy.organizations
             WHERE disconnected_at IS NULL AND (target IS NULL OR id = target) ORDER BY id
    LOOP
        orgs := orgs + 1;
        FOREACH r IN ARRAY wanted LOOP
            IF NOT EXISTS (SELECT 1 FROM billy.jobs j
                           WHERE j.kind = 'sync' AND j.organization_id = o.id AND j.state = 'queued'
                             AND j.args ->> 'resource' = r AND j.args ->> 'mode' = 'full') THEN
                PERFORM billy._enqueue('sync', o.id, jsonb_build_object('resource', r, 'mode', 'full'),
                    (SELECT s.backoff_until FROM billy.sync_state s
                     WHERE s.organization_id = o.id AND s.resource = r AND s.backoff_until > now()),
                    50);
                n := n + 1;
            END IF;
        END LOOP;
    END LOOP;
    IF target IS NOT NULL AND orgs = 0 THEN
        RAISE EXCEPTION 'organization "%" is not connected', org
            USING ERRCODE = '55000', HINT = 'Call billy.connect() with an access token for it.';
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy.sync(text, text[]) IS
'Queues a full sync of each resource (default: all, in dependency order) of each connected organization (default: all; org is an id or a name) and wakes the worker at commit. A resource already queued is not queued twice; one that keeps failing waits for its backoff (billy.sync_status.backoff_until). Returns how many jobs were queued; billy.sync_status and billy.sync_progress show them run. pg_cron calls this every 15 minutes (billy.schedule_sync).';

CREATE FUNCTION billy.sync_now(org text DEFAULT NULL, resources text[] DEFAULT NULL)
RETURNS TABLE (organization_id text, resource text, rows_seen bigint, rows_inserted bigint,
               rows_updated bigint, rows_deleted bigint, pages integer, bytes bigint,
               duration interval)
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_sync_now';
COMMENT ON FUNCTION billy.sync_now(text, text[]) IS
'Syncs now, in this session and transaction, with a NOTICE per page, and returns a row per organization and resource: records seen, inserted, updated and deleted, pages, bytes, duration. Everything commits or rolls back with the calling transaction. Ignores the failure backoff and the circuit breaker, which hold back queued syncs only. For large organizations prefer billy.sync(), which commits page by page in the background.';

CREATE FUNCTION billy._queued_sync_at(org text, res text) RETURNS timestamptz
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_queued_sync_at';
COMMENT ON FUNCTION billy._queued_sync_at(text, text) IS 'When the next queued sync of a resource may start; NULL for an organization the caller does not see. Reads billy.jobs as the extension owner. Internal.';

-- as the caller: billy.sync_runs has row-level security
CREATE FUNCTION billy._running_sync(org text, res text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT 1 FROM billy.sync_runs r
               WHERE r.organization_id = org AND r.resource = res AND r.state = 'running'
                 AND r.id = (SELECT max(id) FROM billy.sync_runs x
                             WHERE x.organization_id = org AND x.resource = res));
COMMENT ON FUNCTION billy._running_sync(text, text) IS 'Whether the latest scan of a resource is running; false for an organization the caller does not see (it runs as the caller). Internal.';

CREATE FUNCTION billy.breaker_status(
    OUT organization_id text, OUT state text, OUT consecutive_failures integer,
    OUT opened_at timestamptz, OUT retry_at timestamptz, OUT failures_total bigint)
RETURNS SETOF record
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_breaker_status';
COMMENT ON FUNCTION billy.breaker_status() IS
'The circuit breaker of each organization, from shared memory: closed (calls flow), open (queued syncs wait until retry_at after billy.breaker_failures consecutive failed scans) or half_open (one trial scan may run). Reset when the server restarts.';

CREATE VIEW billy.sync_status WITH (security_invoker = true) AS
SELECT s.organization_id, o.name AS organization, s.resource,
       CASE WHEN billy._running_sync(s.organization_id, s.resource) THEN 'running'
            WHEN s.backoff_until > pg_catalog.now() THEN 'backoff'
            WHEN s.consecutive_failures OPERATOR(pg_catalog.>) 0 THEN 'failing'
            WHEN s.last_success_at IS NULL THEN 'never'
            ELSE 'ok' END AS state,
       s.last_started_at, s.last_finished_at, s.last_success_at, s.last_complete_scan_at,
       s.last_hot_scan_at,
       r.mode AS last_mode, r.rows_seen, r.rows_inserted, r.rows_updated, r.rows_deleted,
       r.pages, r.bytes, r.finished_at OPERATOR(pg_catalog.-) r.started_at AS duration,
       s.last_error, s.last_error_cause, s.last_error_at, s.consecutive_failures, s.backoff_until,
       COALESCE(billy._queued_sync_at(s.organization_id, s.resource), s.backoff_until) AS next_due,
       COALESCE(b.state, 'closed') AS breaker,
       r.rows_failed, r.failed_records,
       EXISTS (SELECT 1 FROM billy.derived_pending p
               WHERE p.organization_id OPERATOR(pg_catalog.=) s.organization_id
                 AND p.resource OPERATOR(pg_catalog.=) s.resource) AS derived_pending
FROM billy.sync_state s
JOIN billy.organizations o ON o.id OPERATOR(pg_catalog.=) s.organization_id
LEFT JOIN billy.sync_runs r ON r.id OPERATOR(pg_catalog.=) s.last_run_id
LEFT JOIN billy.breaker_status() b ON b.organization_id OPERATOR(pg_catalog.=) s.organization_id;
COMMENT ON VIEW billy.sync_status IS
'Per organization and resource: state (ok, running, failing, backoff, never), the last start, finish and success, the last complete scan (every unchanged record was confirmed then), the last run''s rows seen, inserted, updated and deleted, pages, bytes and duration, the last error with its cause, the failure streak and backoff, when the next queued sync may start, the organization''s circuit breaker, the records the last run could not store (rows_failed, failed_records: id, error, SQLSTATE; the rest was stored and the next run tries them again), and derived_pending: the tables derived from this resource (the analytics rollups and VAT lines of invoices or bills, the ledger rollup of transactions) are being built by a first sync, or left to rebuild by one cut short (billy.derived_pending).';

CREATE FUNCTION billy._sync_progress(
    OUT pid integer, OUT organization_id text, OUT resource text, OUT mode text, OUT phase text,
    OUT started_at timestamptz, OUT pages_done integer, OUT pages_total integer,
    OUT rows_seen bigint, OUT rows_written bigint, OUT bytes bigint)
RETURNS SETOF record
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_sync_progress';
COMMENT ON FUNCTION billy._sync_progress() IS 'The scans running now, from shared memory; billy.sync_progress shows them. Internal.';

CREATE VIEW billy.sync_progress WITH (security_invoker = true) AS
SELECT p.pid, p.organization_id, p.resource, p.mode, p.phase, p.started_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) p.started_at AS elapsed,
       p.pages_done, p.pages_total, p.rows_seen, p.rows_written, p.bytes
FROM billy._sync_progress() p
WHERE (SELECT billy._sees_all()) OR p.organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]);
COMMENT ON VIEW billy.sync_progress IS
'The scans running right now, like pg_stat_progress_*: process, organization, resource, mode (full or hot), phase (listing, verifying, finishing), pages done of the total, rows seen and written, bytes downloaded.';

CREATE FUNCTION billy.schedule_sync(schedule text DEFAULT '*/15 * * * *') RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cron_db text := current_setting('cron.database_name', true);
    job bigint;
BEGIN
    PERFORM billy._warn_if_unserved('billy.schedule_sync()');
    -- pg_cron takes two steps: the server loads it (shared_preload_libraries,
    -- cron.database_name), then CREATE EXTENSION pg_cron in that database
    IF to_regnamespace('cron') IS NULL THEN
        IF cron_db IS NULL THEN
            RAISE EXCEPTION 'pg_cron is not loaded'
                USING ERRCODE = '55000',
                      DETAIL = 'pg_cron takes two steps: the server loads it at start, then CREATE EXTENSION pg_cron creates its schema in the database named by cron.database_name.',
                      HINT = format('1. Install pg_cron (Debian: postgresql-15-cron) and set in postgresql.conf: shared_preload_libraries = ''pg_cron,billy'' and cron.database_name = %L; restart the server. 2. In database %s: CREATE EXTENSION pg_cron; then call billy.schedule_sync() again. Without pg_cron, queue syncs yourself with SELECT billy.sync().',
                                    current_database(), current_database());
        ELSIF cron_db <> current_database() THEN
            RAISE EXCEPTION 'pg_cron runs in database "%", not in "%"', cron_db, current_database()
                USING ERRCODE = '55000',
                      DETAIL = 'pg_cron keeps its jobs in the database named by cron.database_name and creates its schema there only.',
                      HINT = format('Either set cron.database_name = %L in postgresql.conf, restart the server, run CREATE EXTENSION pg_cron here and call billy.schedule_sync() again; or in database %s run: CREATE EXTENSION IF NOT EXISTS pg_cron; SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                    current_database(), cron_db, 'billy-sync', schedule, 'SELECT billy.sync()', current_database());
        ELSE
            RAISE EXCEPTION 'pg_cron is loaded but not created in this database'
                USING ERRCODE = '55000',
                      DETAIL = 'Step 1 of pg_cron''s two is done (the server loads it); step 2 creates its schema here.',
                      HINT = 'CREATE EXTENSION pg_cron; then call billy.schedule_sync() again.';
        END IF;
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job USING 'billy-sync', schedule, 'SELECT billy.sync()';
    RETURN job;
END
$$;
COMMENT ON FUNCTION billy.schedule_sync(text) IS
'Creates or updates the pg_cron job "billy-sync" that queues a full sync (SELECT billy.sync()) on the given cron schedule, every 15 minutes by default; returns the pg_cron job id. Explains pg_cron''s two steps (preload with cron.database_name, then CREATE EXTENSION pg_cron) when one is missing, what to do when pg_cron runs in another database, and warns when the worker serves another database than this one.';

CREATE FUNCTION billy.unschedule_sync() RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done boolean;
BEGIN
    IF to_regnamespace('cron') IS NULL THEN
        RETURN false;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'billy-sync') THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' INTO done USING 'billy-sync';
    RETURN done;
END
$$;
COMMENT ON FUNCTION billy.unschedule_sync() IS 'Removes the pg_cron job "billy-sync". Returns whether there was one.';

CREATE FUNCTION billy.enable_realtime() RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pub text;
    t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        pub := 'supabase_realtime';
    ELSE
        pub := 'billy_realtime';
        IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = pub) THEN
            EXECUTE 'CREATE PUBLICATION billy_realtime';
        END IF;
    END IF;
    FOR t IN SELECT 'organizations' UNION ALL SELECT billy._mirror_tables()
             UNION ALL SELECT unnest(ARRAY['sync_state', 'changes'])
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_publication_tables
                       WHERE pubname = pub AND schemaname = 'billy' AND tablename = t) THEN
            EXECUTE format('ALTER PUBLICATION %I ADD TABLE billy.%I', pub, t);
        END IF;
    END LOOP;
    RETURN pub;
END
$$;
COMMENT ON FUNCTION billy.enable_realtime() IS
'Adds the mirror tables (and sync_state, changes) to the supabase_realtime publication when it exists, else to a billy_realtime publication it creates; returns the publication''s name. Supabase dashboards then see changes as they are synced. Logical decoding needs wal_level = logical.';

-- hot scans: the worker queues them for organizations due one
CREATE FUNCTION billy._queue_hot_scans(every interval) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := 0;
    o record;
    r text;
BEGIN
    FOR o IN SELECT id FROM billy.organizations WHERE disconnected_at IS NULL LOOP
        FOR r IN SELECT x.name FROM billy.resources x WHERE x.hot_filter IS NOT NULL ORDER BY x.sync_order LOOP
            IF EXISTS (SELECT 1 FROM billy.sync_state s
                       WHERE s.organization_id = o.id AND s.resource = r
                         AND s.last_complete_scan_at IS NOT NULL
                         AND greatest(s.last_complete_scan_at, coalesce(s.last_hot_scan_at, '-infinity')) < now() - every
                         AND coalesce(s.backoff_until, '-infinity') < now())
               AND NOT EXISTS (SELECT 1 FROM billy.jobs j
                               WHERE j.kind = 'sync' AND j.organization_id = o.id
                                 AND j.state IN ('queued', 'running') AND j.args ->> 'resource' = r) THEN
                PERFORM billy._enqueue('sync', o.id, jsonb_build_object('resource', r, 'mode', 'hot'), NULL, 60);
                n := n + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy._queue_hot_scans(interval) IS
'Queues a hot scan (unpaid and draft documents only) of each resource that has one (billy.resources.hot_filter: invoices and bills) for each organization whose last scan is older than every. The worker calls it. Internal.';

-- maintenance: the change log and run history are kept for a while
CREATE FUNCTION billy._forget_old_changes(days integer) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    DELETE FROM billy.changes WHERE changed_at < now() - make_interval(days => days);
    DELETE FROM billy.sync_runs r WHERE r.finished_at < now() - make_interval(days => days)
        AND NOT EXISTS (SELECT 1 FROM billy.sync_state s WHERE s.last_run_id = r.id);
END;
COMMENT ON FUNCTION billy._forget_old_changes(integer) IS 'Deletes change log entries and finished runs older than the retention. Internal.';

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;
GRANT SELECT ON billy.sync_status, billy.sync_progress TO billy_reader;
GRANT SELECT ON billy.organization_grants TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._sees_all() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._visible_orgs() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._queued_sync_at(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._running_sync(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.breaker_status() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._sync_progress() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._sync_resources() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._sync_resource_list(text[]) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy._warn_if_unserved(text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.sync(text, text[]) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.sync_now(text, text[]) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.grant_organization(name, text, boolean) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.revoke_organization(name, text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.schedule_sync(text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.unschedule_sync() TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.enable_realtime() TO billy_admin;
GRANT INSERT, UPDATE, DELETE ON billy.organization_grants TO billy_admin;

