------------------------------------------------------------------------------
-- Sync bookkeeping: runs, state per organization and resource, the change log
------------------------------------------------------------------------------

CREATE TABLE billy.sync_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource        text NOT NULL,
    mode            text NOT NULL CHECK (mode OPERATOR(pg_catalog.=) ANY (ARRAY['full', 'hot'])),
    job_id          bigint,
    started_by      name NOT NULL DEFAULT CURRENT_USER,
    state           text NOT NULL DEFAULT 'running'
                    CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'succeeded', 'failed'])),
    started_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    finished_at     timestamptz,
    pages           integer NOT NULL DEFAULT 0,
    page_count      integer,
    requests        integer NOT NULL DEFAULT 0,
    bytes           bigint NOT NULL DEFAULT 0,
    rows_seen       bigint NOT NULL DEFAULT 0,
    rows_inserted   bigint NOT NULL DEFAULT 0,
    rows_updated    bigint NOT NULL DEFAULT 0,
    rows_deleted    bigint NOT NULL DEFAULT 0,
    rows_verified   bigint NOT NULL DEFAULT 0,
    rows_failed     bigint NOT NULL DEFAULT 0,
    failed_records  jsonb,
    complete        boolean NOT NULL DEFAULT false,
    error           text,
    error_cause     text,
    error_detail    text,
    error_sqlstate  text
);
CREATE INDEX sync_runs_org ON billy.sync_runs (organization_id, resource, id);
COMMENT ON TABLE billy.sync_runs IS
'One row per scan of one resource of one organization. Recorded as running before the scan starts (a crash leaves it running, and the next scan of that resource marks it failed). complete: every page was read, so deletions were decided. rows_verified: records missing from the scan that were looked up one by one before being marked deleted. rows_failed: records the mirror refused (a value it cannot store, a constraint): the rest of their page was stored, the next scan tries them again; failed_records lists the first 20 as {id, error, sqlstate}. On failure, error_cause is short and stable (connect, timeout, transfer, http_401, http_429, http_5xx, invalid_json, too_large, ...). Kept as long as billy.changes.';

CREATE TABLE billy.sync_state (
    organization_id         text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource                text NOT NULL,
    last_started_at         timestamptz,
    last_finished_at        timestamptz,
    last_success_at         timestamptz,
    last_complete_scan_at   timestamptz,
    last_hot_scan_at        timestamptz,
    consecutive_failures    integer NOT NULL DEFAULT 0,
    backoff_until           timestamptz,
    last_run_id             bigint,
    last_error              text,
    last_error_cause        text,
    last_error_at           timestamptz,
    PRIMARY KEY (organization_id, resource)
);
COMMENT ON TABLE billy.sync_state IS
'Per organization and resource: the last scans and the failure streak. last_complete_scan_at is when the last complete full scan started: every record of the resource not written since was confirmed upstream at that moment. backoff_until: after consecutive failures, queued syncs wait until then (exponential, up to an hour).';

CREATE TABLE billy.changes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text NOT NULL,
    resource        text NOT NULL,
    record_id       text NOT NULL,
    operation       text NOT NULL CHECK (operation OPERATOR(pg_catalog.=) ANY (ARRAY['insert', 'update', 'delete'])),
    changed_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sync_run_id     bigint
);
CREATE INDEX changes_record ON billy.changes (organization_id, resource, record_id, changed_at);
CREATE INDEX changes_time ON billy.changes (changed_at);
COMMENT ON TABLE billy.changes IS
'Every insert, update and deletion billy saw upstream: organization, resource, record id, operation, when, and the sync run. Kept billy.changes_retention_days days.';

-- A first sync of invoices, bills or transactions fills the tables derived
-- from them (analytics rollups, VAT lines; the ledger's rollup) in one
-- set-based pass at the end of its
-- scan instead of page by page: while an organization's row is here, the
-- triggers that keep those tables current skip its rows of that resource,
-- and the next scan of the resource that finishes rebuilds them from the
-- mirror (billy._derived_finish) and removes the row.  A crash in the
-- middle leaves the row, so the state is always either complete or marked.
CREATE TABLE billy.derived_pending (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource        text NOT NULL CHECK (resource OPERATOR(pg_catalog.=) ANY (ARRAY['invoices', 'bills', 'daybookTransactions', 'transactions'])),
    since           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sync_run_id     bigint,
    PRIMARY KEY (organization_id, resource)
);
COMMENT ON TABLE billy.derived_pending IS
'Organizations and resources (invoices, bills, daybookTransactions, transactions) whose derived tables (the analytics rollups and VAT lines of those documents; the VAT lines of journal entries; the ledger rollup billy.ledger_sums of the transactions'' postings) are being built in one pass at the end of a first sync, or were left to rebuild by a first sync cut short: until the row goes, they are incomplete for that organization. The next scan of the resource that finishes rebuilds them from the mirror and removes the row, and so do billy.analytics_rebuild, billy.vat_rebuild_lines and billy.ledger_rebuild. sync_run_id: the run that started it.';

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sync_runs', 'sync_state', 'changes', 'derived_pending']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
        EXECUTE pg_catalog.format('GRANT SELECT ON billy.%I TO billy_reader', t);
    END LOOP;
END
$rls$;

------------------------------------------------------------------------------
-- Applying a page: one function per resource, called by the sync engine (C)
-- with the page's changed records (a jsonb array) and their content hashes.
-- Parents are upserted, their children replaced, each change logged.
-- Returns {inserted, updated}.
------------------------------------------------------------------------------

CREATE FUNCTION billy._log_changes(org text, res text, run bigint, ids text[], inserted boolean[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO billy.changes (organization_id, resource, record_id, operation, sync_run_id)
    SELECT org, res, u.id, CASE WHEN u.ins THEN 'insert' ELSE 'update' END, run
    FROM unnest(ids, inserted) AS u(id, ins);
END;
COMMENT ON FUNCTION billy._log_changes(text, text, bigint, text[], boolean[]) IS 'Records applied changes in billy.changes. Internal.';

-- billy._apply_<table>: generated from the resource catalog (15-resources.sql)

-- _sync_analyze: the planner's statistics of the tables a page of the
-- resource writes and its triggers read, refreshed while a sync writes many
-- rows.  Without them (a first sync: empty tables, autovacuum behind) the
-- triggers' lookups by primary key became scans of the organization's rows
-- through another index (bills_contact for every payment of a bill), and the
-- sync quadratic.  Only the columns lookups and joins go by, from a small
-- sample (3,000 rows; autovacuum's ANALYZE later makes finer ones).  The sync
-- engine calls it each time a scan has written as many rows as the resource
-- had when it last did (so O(log n) times in a first sync).  ANALYZE also
-- makes the cached plans of the trigger functions be planned again.
CREATE FUNCTION billy._sync_analyze(res text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET default_statistics_target = 10
SET client_min_messages = error
AS $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT u.t FROM billy.resources r, unnest(coalesce(r.statistics, ARRAY(
            SELECT format('billy.%I (organization_id, id)', r.table_name)
            UNION ALL
            SELECT format('billy.%I (organization_id, id, %I)', c.table_name, c.parent_column)
            FROM billy.resource_children c WHERE c.resource = r.name AND c.table_name IS NOT NULL))) AS u(t)
        WHERE r.name = res
    LOOP
        -- SKIP_LOCKED: its lock lasts until the page commits (in billy.sync_now,
        -- until the caller's transaction does); another sync analyzing the
        -- same table, or a VACUUM, is not waited for (nor warned about: the
        -- next doubling analyzes it)
        EXECUTE 'ANALYZE (SKIP_LOCKED) ' || t;
    END LOOP;
END
$$;
COMMENT ON FUNCTION billy._sync_analyze(text) IS 'Refreshes the planner''s statistics of the tables a sync of the resource writes (the key columns only), so that plans made while a first sync fills them stay index lookups. Called by the sync engine as a scan doubles a resource. Internal.';

CREATE FUNCTION billy._mark_deleted(org text, res text, run bigint, ids text[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl text := billy._resource_table(res);
    gone text[];
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'unknown resource "%"', res USING ERRCODE = '22023';
    END IF;
    EXECUTE format('WITH d AS (UPDATE billy.%I SET deleted_at = now(), changed_at = now(), sync_run_id = $3 '
                   'WHERE organization_id = $1 AND id = ANY ($2) AND deleted_at IS NULL RETURNING id) '
                   'SELECT array_agg(id) FROM d', tbl)
        INTO gone USING org, ids, run;
    INSERT INTO billy.changes (organization_id, resource, record_id, operation, sync_run_id)
    SELECT org, res, g, 'delete', run FROM unnest(gone) g;
    RETURN coalesce(array_length(gone, 1), 0);
END
$$;
COMMENT ON FUNCTION billy._mark_deleted(text, text, bigint, text[]) IS
'Marks records deleted (deleted_at) that a complete scan no longer found and a look-up confirmed gone; logs the deletions. Never deletes rows. Internal.';

------------------------------------------------------------------------------
-- Run bookkeeping, called by the sync engine
------------------------------------------------------------------------------

CREATE FUNCTION billy._sync_lock_key(org text, res text) RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN hashtext(org || '/' || res);
COMMENT ON FUNCTION billy._sync_lock_key(text, text) IS 'The advisory lock key of one resource of one organization (class: hashtext(''billy sync'')). Internal.';

CREATE FUNCTION billy._begin_sync_run(org text, res text, scan_mode text, job bigint, session_lock boolean)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run bigint;
    got boolean;
BEGIN
    IF session_lock THEN
        got := pg_try_advisory_lock(hashtext('billy sync'), billy._sync_lock_key(org, res));
    ELSE
        got := pg_try_advisory_xact_lock(hashtext('billy sync'), billy._sync_lock_key(org, res));
    END IF;
    IF NOT got THEN
        RETURN NULL;
    END IF;
    -- with the lock held, a run still marked running was cut short
    UPDATE billy.sync_runs SET state = 'failed', finished_at = now(),
        error = 'interrupted: the process running this scan stopped (crash, restart or cancel)',
        error_cause = 'interrupted'
    WHERE organization_id = org AND resource = res AND state = 'running';
    -- started_at: this moment, not the transaction's start (a scan a read
    -- runs inside a long transaction confirms as of when it starts)
    INSERT INTO billy.sync_runs (organization_id, resource, mode, job_id, started_at)
    VALUES (org, res, scan_mode, job, clock_timestamp()) RETURNING id INTO run;
    INSERT INTO billy.sync_state AS s (organization_id, resource, last_started_at, last_run_id)
    VALUES (org, res, now(), run)
    ON CONFLICT (organization_id, resource) DO UPDATE SET last_started_at = now(), last_run_id = run;
    RETURN run;
END
$$;
COMMENT ON FUNCTION billy._begin_sync_run(text, text, text, bigint, boolean) IS
'Takes the scan lock of a resource (NULL when another scan holds it), closes runs a crash left open, and records a new run. Internal.';

CREATE FUNCTION billy._release_sync_lock(org text, res text) RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN pg_advisory_unlock(hashtext('billy sync'), billy._sync_lock_key(org, res));
COMMENT ON FUNCTION billy._release_sync_lock(text, text) IS 'Releases the scan lock of a resource. Internal.';

CREATE FUNCTION billy._end_sync_run(run bigint, ok boolean, n_pages integer, n_page_count integer,
                                    n_requests integer, n_bytes bigint, seen bigint, ins bigint,
                                    upd bigint, del bigint, ver bigint, was_complete boolean,
                                    scan_mode text, note text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r billy.sync_runs;
BEGIN
    UPDATE billy.sync_runs SET
        state = CASE WHEN ok THEN 'succeeded' ELSE 'failed' END, finished_at = now(),
        pages = n_pages, page_count = n_page_count, requests = n_requests, bytes = n_bytes,
        rows_seen = seen, rows_inserted = ins, rows_updated = upd, rows_deleted = del,
        rows_verified = ver, complete = was_complete, error = note
    WHERE id = run
    RETURNING * INTO r;
    IF ok THEN
        UPDATE billy.sync_state SET
            last_finished_at = now(), last_success_at = now(), last_run_id = run,
            consecutive_failures = 0, backoff_until = NULL,
            last_complete_scan_at = CASE WHEN was_complete AND scan_mode = 'full'
                                         THEN r.started_at ELSE last_complete_scan_at END,
            last_hot_scan_at = CASE WHEN was_complete AND scan_mode = 'hot'
                                    THEN r.started_at ELSE last_hot_scan_at END
        WHERE organization_id = r.organization_id AND resource = r.resource;
    END IF;
END
$$;
COMMENT ON FUNCTION billy._end_sync_run(bigint, boolean, integer, integer, integer, bigint, bigint, bigint, bigint, bigint, bigint, boolean, text, text) IS
'Records a scan''s counts and outcome. Internal.';

CREATE FUNCTION billy._sync_record_failed(run bigint, record_id text, msg text, sqlstate text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.sync_runs SET
        rows_failed = rows_failed + 1,
        failed_records = CASE WHEN rows_failed < 20
            THEN COALESCE(failed_records, '[]'::jsonb)
                 || jsonb_build_array(jsonb_build_object('id', record_id, 'error', left(msg, 500), 'sqlstate', sqlstate))
            ELSE failed_records END
    WHERE id = run;
END;
COMMENT ON FUNCTION billy._sync_record_failed(bigint, text, text, text) IS
'Notes in a run a record the mirror refused (its id, the error and its SQLSTATE; the first 20 kept). Internal.';

CREATE FUNCTION billy._fail_sync_run(run bigint, msg text, cause text, detail text, sqlstate text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r billy.sync_runs;
BEGIN
    UPDATE billy.sync_runs SET state = 'failed', finished_at = now(), error = msg,
        error_cause = cause, error_detail = detail, error_sqlstate = sqlstate
    WHERE id = run
    RETURNING * INTO r;
    UPDATE billy.sync_state SET
        last_finished_at = now(), last_error = msg, last_error_cause = cause, last_error_at = now(),
        consecutive_failures = consecutive_failures + 1,
        backoff_until = now() + make_interval(secs => least(3600, 30 * power(2, consecutive_failures)))
    WHERE organization_id = r.organization_id AND resource = r.resource;
END
$$;
COMMENT ON FUNCTION billy._fail_sync_run(bigint, text, text, text, text) IS
'Records why a scan failed and lengthens the resource''s backoff (30 s doubling, at most an hour). Internal.';

CREATE FUNCTION billy._sync_targets(org text, resources text[]) RETURNS TABLE (organization_id text, resource text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wanted text[] := billy._sync_resource_list(resources);
    target text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
BEGIN
    RETURN QUERY
    SELECT o.id, r.res
    FROM billy.organizations o, unnest(wanted) WITH ORDINALITY AS r(res, n)
    WHERE o.disconnected_at IS NULL AND (target IS NULL OR o.id = target)
    ORDER BY o.id, r.n;
    IF NOT FOUND THEN
        IF target IS NOT NULL THEN
            RAISE EXCEPTION 'organization "%" is not connected', org
                USING ERRCODE = '55000', HINT = 'Call billy.connect() with an access token for it.';
        END IF;
        RAISE EXCEPTION 'no Billy organization is connected'
            USING ERRCODE = '55000', HINT = 'Call billy.connect(api_token) first.';
    END IF;
END
$$;
COMMENT ON FUNCTION billy._sync_targets(text, text[]) IS 'The organizations and resources billy.sync_now covers, in order. Internal.';
