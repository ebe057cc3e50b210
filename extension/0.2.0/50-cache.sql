------------------------------------------------------------------------------
-- Reads that never wait: billy.get_* and billy.list_* answer from the mirror
-- with their freshness; adaptive TTLs per row; access counts flushed from
-- shared memory; refresh-ahead within an API budget; cache performance.
-- The C side is src/cache*.c (cache.c's header says how the pieces fit).
------------------------------------------------------------------------------

-- The cache's clock (src/clock.c): ages the cache computes, and its "now";
-- billy._set_clock_rate (95-testing.sql) makes it run faster for benchmarks.
CREATE FUNCTION billy._cache_now() RETURNS timestamptz
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_cache_now';
COMMENT ON FUNCTION billy._cache_now() IS
'The cache''s now: the current time (a confirmation made during the statement is not in the future), on the test clock when billy._set_clock_rate() made it run faster. Internal.';

CREATE FUNCTION billy._cache_age(ts timestamptz) RETURNS interval
LANGUAGE C STABLE STRICT
AS 'MODULE_PATHNAME', 'billy_cache_age';
COMMENT ON FUNCTION billy._cache_age(timestamptz) IS
'How old a timestamp is to the cache (now - ts, times the test clock''s rate). Internal.';

------------------------------------------------------------------------------
-- Freshness: the one formula, and a row's state for its TTL
------------------------------------------------------------------------------

CREATE FUNCTION billy.effective_confirmed_at(resource text, row_confirmed_at timestamptz, is_paid boolean,
                                             last_complete_scan_at timestamptz, last_hot_scan_at timestamptz)
RETURNS timestamptz
LANGUAGE C IMMUTABLE
AS 'MODULE_PATHNAME', 'billy_effective_confirmed_at';
COMMENT ON FUNCTION billy.effective_confirmed_at(text, timestamptz, boolean, timestamptz, timestamptz) IS
'When a mirror row was last known to equal Billy''s record: the latest of its own confirmed_at (set when it is written or looked up on its own), the last complete scan of its resource (a scan confirms every unchanged record without writing it), and the last hot scan when the row is in the hot set (unpaid or draft invoices and bills; is_paid is the row''s is_paid, NULL for other resources). Pass billy.sync_state''s last_complete_scan_at and last_hot_scan_at for the row''s organization and resource. Every freshness billy reports comes from this function.';

CREATE FUNCTION billy.cache_state(resource text, record jsonb) RETURNS text
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_cache_state';
COMMENT ON FUNCTION billy.cache_state(text, jsonb) IS
'The class of a record that its freshness window depends on, from its JSON: invoices and bills draft, open (approved, unpaid), paid, voided, or old (approved, unpaid, entered more than a year ago); contacts and products active or archived; bank payments booked or voided. billy.ttl_rules has a window per class. The read path computes the same in C from the row it reads.';

CREATE FUNCTION billy._cache_state_keys(resource text) RETURNS text[]
LANGUAGE C IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'billy_cache_state_keys';
COMMENT ON FUNCTION billy._cache_state_keys(text) IS
'The keys of a record of the resource that billy.cache_state reads (none: a resource without classes). Internal.';

-- _cache_state_sql: billy.cache_state of a mirror row m from its typed
-- columns (billy.resource_columns of the keys it reads), so that a policy
-- recomputation does not detoast raw; raw only when a key has no column
CREATE FUNCTION billy._cache_state_sql(res text, m text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN format('billy.cache_state(%L, %s)', res, coalesce(
    (SELECT CASE WHEN cardinality(billy._cache_state_keys(res)) = 0 THEN '''{}''::jsonb'
                 ELSE 'jsonb_build_object(' || string_agg(format('%L, %I.%I', c.json_key, m, c.column_name), ', '
                                                          ORDER BY c.position) || ')' END
     FROM billy.resource_columns c
     WHERE c.resource = res AND c.child = '' AND c.json_key = ANY (billy._cache_state_keys(res))
     HAVING count(*) = cardinality(billy._cache_state_keys(res))),
    format('%I.raw', m)));
COMMENT ON FUNCTION billy._cache_state_sql(text, text) IS
'The SQL of billy.cache_state(res, ...) for the mirror row m of the resource, from the typed columns of the keys it reads (billy._cache_state_keys), or m.raw when one has no column. Internal.';

------------------------------------------------------------------------------
-- Freshness windows: billy.ttl_rules and billy.freshness_window
------------------------------------------------------------------------------

CREATE TABLE billy.ttl_rules (
    state text PRIMARY KEY,
    ttl   interval NOT NULL CHECK (ttl OPERATOR(pg_catalog.>) '0'::pg_catalog.interval),
    note  text
);
COMMENT ON TABLE billy.ttl_rules IS
'How long a mirror row counts as fresh after Billy last confirmed it (its freshness window), by how likely it is to change: the rule of its class (see billy.cache_state; ''*'' for a class without a rule), shortened to the ''recent'' rule when billy saw the record change within the last hour. Read by billy.freshness_window, which every read uses; backends keep a copy that a change here refreshes at commit. Administrators may change the rules.';
INSERT INTO billy.ttl_rules (state, ttl, note) VALUES
    ('draft', '15 seconds', 'drafts get approved, edited or deleted at any moment'),
    ('open', '15 seconds', 'approved unpaid invoices and bills get paid, credited or voided at any moment'),
    ('recent', '60 seconds', 'any record billy saw change within the last hour: it may change again'),
    ('active', '10 minutes', 'contacts and products in use change now and then'),
    ('paid', '6 hours', 'paid documents barely change'),
    ('old', '6 hours', 'approved unpaid documents more than a year old barely change'),
    ('archived', '6 hours', 'archived contacts and products barely change'),
    ('booked', '6 hours', 'a booked bank payment changes only when voided'),
    ('voided', '24 hours', 'voided documents and payments do not change'),
    ('*', '2 minutes', 'anything else');
GRANT SELECT ON billy.ttl_rules TO billy_reader;
GRANT INSERT, UPDATE, DELETE ON billy.ttl_rules TO billy_admin;
CREATE TRIGGER invalidate_cached AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billy.ttl_rules
    FOR EACH STATEMENT EXECUTE FUNCTION billy._invalidate_cached();

CREATE FUNCTION billy.freshness_window(state text, changed_at timestamptz DEFAULT NULL,
                                       first_seen_at timestamptz DEFAULT NULL) RETURNS interval
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_freshness_window';
COMMENT ON FUNCTION billy.freshness_window(text, timestamptz, timestamptz) IS
'The freshness window of a mirror row of the given class (billy.cache_state) that billy last saw change at changed_at (pass the row''s changed_at and first_seen_at: the insert that first stored it is no change): the billy.ttl_rules rule of the class (else ''*''), at most the ''recent'' rule when the change is less than an hour old. A read answers fresh: true only when the row was confirmed by Billy within this window (or within the max_age the caller passed instead); e.g. an unpaid invoice 15 seconds, a paid one 6 hours, a product 10 minutes, one changed 5 minutes ago 60 seconds.';
------------------------------------------------------------------------------
-- Access statistics and per-row policy (written by the worker)
------------------------------------------------------------------------------

CREATE TABLE billy.cache_stats (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource        text NOT NULL,
    record_id       text NOT NULL,
    hour            timestamptz NOT NULL,
    reads           bigint NOT NULL DEFAULT 0,
    fresh           bigint NOT NULL DEFAULT 0,
    stale           bigint NOT NULL DEFAULT 0,
    misses          bigint NOT NULL DEFAULT 0,
    refetches       bigint NOT NULL DEFAULT 0,
    api_calls       bigint NOT NULL DEFAULT 0,
    refresh_calls   bigint NOT NULL DEFAULT 0,
    last_access     timestamptz,
    PRIMARY KEY (organization_id, resource, record_id, hour)
);
CREATE INDEX cache_stats_hour ON billy.cache_stats (hour);
COMMENT ON TABLE billy.cache_stats IS
'Reads of the mirror per record and hour, flushed from shared memory by the worker every billy.cache_flush_interval_ms (counts not yet flushed are lost in a crash): reads, answered fresh, answered stale, misses (not in the mirror: Billy asked), refetches (older than their window and confirmed for a reader that asked: max_age or billy.read_confirm), the API calls the reads made and, on the row with record_id '''' (the resource as a whole: list reads too), the calls the worker''s refreshes made. Kept 7 days.';

CREATE TABLE billy.cache_policy (
    organization_id   text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource          text NOT NULL,
    record_id         text NOT NULL,
    state             text,
    accesses_per_hour double precision NOT NULL DEFAULT 0,
    changes_per_day   double precision,
    ttl               interval NOT NULL,
    last_access       timestamptz,
    refresh_wanted    boolean NOT NULL DEFAULT false,
    refresh_queued_at timestamptz,
    computed_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (organization_id, resource, record_id)
);
COMMENT ON TABLE billy.cache_policy IS
'Per mirror row that has been read: its reads per hour (over the last 24 hours, at least one hour), its changes per day (updates and deletions in billy.changes over the last 7 days), its class (billy.cache_state) and its freshness window when recomputed (billy.freshness_window; reads compute it themselves, so a row never read has the same window); refresh_wanted when a read found it stale and the worker has not refreshed it yet. The access rate decides which rows the worker refreshes ahead of reads. Recomputed by the worker; forgotten 7 days after the last read.';

CREATE TABLE billy._cache_budget (
    organization_id text PRIMARY KEY REFERENCES billy.organizations (id) ON DELETE CASCADE,
    tokens          double precision NOT NULL,
    updated_at      timestamptz NOT NULL
);
COMMENT ON TABLE billy._cache_budget IS
'The worker''s API budget per organization (a token bucket refilled at billy.api_budget_per_minute). Internal.';

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cache_stats', 'cache_policy']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
        EXECUTE pg_catalog.format('GRANT SELECT ON billy.%I TO billy_reader', t);
    END LOOP;
END
$rls$;

-- the counters not flushed yet (shared memory)
CREATE FUNCTION billy._cache_counters(
    OUT organization_id text, OUT resource text, OUT record_id text, OUT reads bigint,
    OUT fresh bigint, OUT stale bigint, OUT misses bigint, OUT refetches bigint,
    OUT api_calls bigint, OUT refresh_calls bigint, OUT last_access timestamptz,
    OUT refresh_wanted boolean)
RETURNS SETOF record
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_cache_counters';
COMMENT ON FUNCTION billy._cache_counters() IS
'The read counters in shared memory that the worker has not flushed into billy.cache_stats yet, like pg_stat_statements. Internal.';

CREATE FUNCTION billy._cache_count_list(org text, res text, stale_ids text[]) RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_cache_count_list';
COMMENT ON FUNCTION billy._cache_count_list(text, text, text[]) IS
'Counts one list read of a resource in shared memory and asks for a refresh of the stale rows it returned. Internal.';

CREATE FUNCTION billy._cache_request_refresh(org text, res text, ids text[]) RETURNS void
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'billy_cache_request_refresh';
COMMENT ON FUNCTION billy._cache_request_refresh(text, text, text[]) IS
'Asks the worker to refresh these rows at its next round (shared memory, no write). Internal.';

-- _cache_recompute_sql: the statement that recomputes the policies of one
-- resource's rows ($1, $2, $3: organizations, resources, ids; $4 the
-- resource; $5 the cache's now; $6, $7 the rows' last reads and refreshes
-- asked for, or NULL), in one write per row.  Each row's reads, changes and
-- policy are found by an index probe of its own (lateral; the policy then
-- by ctid) and new policies by the arbiter index (ON CONFLICT), whatever
-- the planner estimates: a join of the aggregated reads by a filter, which
-- an estimate of 60 rows for 12,000 led to, made a flush of 12,000 rows
-- take 70 s, and a NOT EXISTS planned while the table was empty scanned the
-- policies it had just written once per row.  The class comes from the
-- typed columns (billy._cache_state_sql), not from raw.
CREATE FUNCTION billy._cache_recompute_sql(res text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN format($q$
    WITH c AS MATERIALIZED (
        SELECT w.o, w.i, w.la, w.wt, cls.state,
               coalesce(rd.reads, 0)::double precision
                 / greatest(1, least(24, extract(epoch FROM $5 - rd.since) / 3600)) AS aph,
               ch.n::double precision
                 / greatest(1, least(7, extract(epoch FROM billy._cache_age(m.first_seen_at)) / 86400)) AS cpd,
               billy.freshness_window(cls.state, m.changed_at, m.first_seen_at) AS ttl
        FROM (SELECT u.o, u.i, max(u.la) AS la, coalesce(bool_or(u.wt), false) AS wt
              FROM unnest($1, $2, $3, $6, $7) AS u(o, r, i, la, wt) WHERE u.r = $4 GROUP BY u.o, u.i) w
        JOIN billy.%I m ON m.organization_id = w.o AND m.id = w.i AND m.deleted_at IS NULL
        CROSS JOIN LATERAL (SELECT %s AS state OFFSET 0) cls
        CROSS JOIN LATERAL (
            SELECT sum(s.reads) AS reads, min(s.hour) AS since FROM billy.cache_stats s
            WHERE s.organization_id = w.o AND s.resource = $4 AND s.record_id = w.i
              AND s.hour > $5 - interval '24 hours') rd
        CROSS JOIN LATERAL (
            SELECT count(*) AS n FROM billy.changes c
            -- none unless the row changed since first seen, within 7 days
            WHERE m.changed_at > m.first_seen_at AND billy._cache_age(m.changed_at) < interval '7 days'
              AND c.organization_id = w.o AND c.resource = $4 AND c.record_id = w.i
              AND c.operation <> 'insert' AND billy._cache_age(c.changed_at) < interval '7 days') ch
    ), updated AS (
        UPDATE billy.cache_policy p SET state = c.state, accesses_per_hour = c.aph,
            changes_per_day = c.cpd, ttl = c.ttl, computed_at = now(),
            last_access = greatest(p.last_access, c.la), refresh_wanted = p.refresh_wanted OR c.wt
        FROM (SELECT c.*, (SELECT q.ctid FROM billy.cache_policy q
                           WHERE q.organization_id = c.o AND q.resource = $4 AND q.record_id = c.i) AS t
              FROM c) c
        WHERE p.ctid = c.t
        RETURNING 1
    ), inserted AS (
        INSERT INTO billy.cache_policy (organization_id, resource, record_id, state,
            accesses_per_hour, changes_per_day, ttl, computed_at, last_access, refresh_wanted)
        SELECT c.o, $4, c.i, c.state, c.aph, c.cpd, c.ttl, now(), c.la, c.wt FROM c
        ON CONFLICT (organization_id, resource, record_id) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)$q$,
    billy._resource_table(res), billy._cache_state_sql(res, 'm'));
COMMENT ON FUNCTION billy._cache_recompute_sql(text) IS
'The statement billy._cache_recompute runs for the rows of one resource. Internal.';

-- _cache_recompute: accesses per hour, changes per day, state and TTL of
-- rows, planned each time (the tables grow from empty)
CREATE FUNCTION billy._cache_recompute(orgs text[], resources text[], ids text[],
                                       last_accesses timestamptz[] DEFAULT NULL, wanted boolean[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    res text;
    n integer := 0;
    k integer;
    cnow timestamptz := billy._cache_now();
BEGIN
    FOR res IN SELECT r.name FROM billy.resources r
               WHERE r.read_function IS NOT NULL AND r.name = ANY (resources) ORDER BY r.sync_order LOOP
        EXECUTE billy._cache_recompute_sql(res) INTO k USING orgs, resources, ids, res, cnow, last_accesses, wanted;
        n := n + k;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy._cache_recompute(text[], text[], text[], timestamptz[], boolean[]) IS
'Recomputes billy.cache_policy for the given rows: reads per hour over the last 24 hours (at least one hour), changes per day over the last 7 days (at least one day, at most since the row was first seen), state and TTL; with last_accesses and wanted (aligned with the rows, NULL: none) also their last read and a refresh asked for. Internal.';

-- _cache_flush: the worker writes what it drained from shared memory
CREATE FUNCTION billy._cache_flush(orgs text[], resources text[], ids text[], n_reads bigint[],
                                   n_fresh bigint[], n_stale bigint[], n_misses bigint[],
                                   n_refetches bigint[], n_api bigint[], n_refresh bigint[],
                                   last_accesses jsonb, wanted_flags jsonb)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bucket timestamptz := date_trunc('hour', billy._cache_now());
    n integer;
    stale_orgs text[];
    stale_res text[];
    stale_ids text[];
    stale_last timestamptz[];
    stale_wanted boolean[];
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS cache_drained (
        o text, r text, i text, reads bigint, fresh bigint, stale bigint, misses bigint,
        refetches bigint, api bigint, refresh bigint, last_access timestamptz, wanted boolean
    ) ON COMMIT DELETE ROWS;
    DELETE FROM cache_drained;  -- an earlier flush in the same transaction (bench/cache)
    INSERT INTO cache_drained
    SELECT u.o, u.r, u.i, u.a, u.b, u.c, u.d, u.e, u.f, u.g,
           (last_accesses ->> (u.k::integer - 1))::timestamptz, (wanted_flags ->> (u.k::integer - 1))::boolean
    FROM unnest(orgs, resources, ids, n_reads, n_fresh, n_stale, n_misses, n_refetches, n_api, n_refresh)
         WITH ORDINALITY AS u(o, r, i, a, b, c, d, e, f, g, k)
    WHERE EXISTS (SELECT 1 FROM billy.organizations o WHERE o.id = u.o);

    INSERT INTO billy.cache_stats AS s (organization_id, resource, record_id, hour, reads, fresh, stale,
        misses, refetches, api_calls, refresh_calls, last_access)
    SELECT o, r, i, bucket, reads, fresh, stale, misses, refetches, api, refresh, last_access
    FROM cache_drained
    WHERE reads + api + refresh > 0
    ON CONFLICT (organization_id, resource, record_id, hour) DO UPDATE SET
        reads = s.reads + EXCLUDED.reads, fresh = s.fresh + EXCLUDED.fresh,
        stale = s.stale + EXCLUDED.stale, misses = s.misses + EXCLUDED.misses,
        refetches = s.refetches + EXCLUDED.refetches, api_calls = s.api_calls + EXCLUDED.api_calls,
        refresh_calls = s.refresh_calls + EXCLUDED.refresh_calls,
        last_access = greatest(s.last_access, EXCLUDED.last_access);
    GET DIAGNOSTICS n = ROW_COUNT;

    -- the rows read since the last flush (with their last read and the
    -- refreshes asked for), and the rows not recomputed for a while (their
    -- access rate decays): new TTLs, one write per row
    SELECT array_agg(o), array_agg(r), array_agg(i), array_agg(la), array_agg(wt)
    INTO stale_orgs, stale_res, stale_ids, stale_last, stale_wanted
    FROM (SELECT o, r, i, last_access AS la, wanted AS wt FROM cache_drained WHERE i <> '' AND (reads > 0 OR wanted)
          UNION ALL
          (SELECT organization_id, resource, record_id, NULL, NULL FROM billy.cache_policy
           WHERE billy._cache_age(computed_at) > interval '1 hour'
           ORDER BY computed_at LIMIT 500)) t;
    IF stale_orgs IS NOT NULL THEN
        PERFORM billy._cache_recompute(stale_orgs, stale_res, stale_ids, stale_last, stale_wanted);
    END IF;
    -- the rest (planned now, not once in the worker's life: the tables grow from empty)
    EXECUTE $q$
        UPDATE billy.cache_policy p SET
            last_access = greatest(p.last_access, d.last_access),
            refresh_wanted = p.refresh_wanted OR d.wanted
        FROM cache_drained d
        WHERE p.organization_id = d.o AND p.resource = d.r AND p.record_id = d.i
          AND d.last_access IS NOT NULL AND NOT (d.i <> '' AND (d.reads > 0 OR d.wanted))$q$;

    -- kept 7 days
    DELETE FROM billy.cache_stats WHERE hour < bucket - interval '7 days';
    DELETE FROM billy.cache_policy
    WHERE billy._cache_age(coalesce(last_access, computed_at)) > interval '7 days' AND NOT refresh_wanted;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy._cache_flush(text[], text[], text[], bigint[], bigint[], bigint[], bigint[], bigint[], bigint[], bigint[], jsonb, jsonb) IS
'Adds the counts the worker drained from shared memory to billy.cache_stats (this hour''s bucket), recomputes the policy of the rows read and of rows not recomputed for an hour, records the refreshes reads asked for, and forgets what is older than 7 days. Internal.';

------------------------------------------------------------------------------
-- Refresh planning: stale reads and hot rows, within the API budget
------------------------------------------------------------------------------

-- _cache_candidates: the rows of an organization due a refresh, hottest first
CREATE FUNCTION billy._cache_candidates(org text, lookahead interval)
RETURNS TABLE (resource text, record_id text, in_hot_set boolean, wanted boolean, accesses_per_hour double precision,
               contact_id text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    res text;
BEGIN
    FOR res IN SELECT r.name FROM billy.resources r WHERE r.read_function IS NOT NULL ORDER BY r.sync_order LOOP
        RETURN QUERY EXECUTE format($q$
            SELECT p.resource, p.record_id,
                   %s AS in_hot_set, p.refresh_wanted, p.accesses_per_hour, %s
            FROM billy.cache_policy p
            JOIN billy.%I m ON m.organization_id = p.organization_id AND m.id = p.record_id
            CROSS JOIN LATERAL (SELECT billy.freshness_window(%s, m.changed_at, m.first_seen_at) AS w OFFSET 0) win
            LEFT JOIN billy.sync_state s ON s.organization_id = p.organization_id AND s.resource = p.resource
            WHERE p.organization_id = $1 AND p.resource = $2 AND m.deleted_at IS NULL
              AND (p.refresh_queued_at IS NULL OR billy._cache_age(p.refresh_queued_at) > interval '1 minute')
              AND billy._cache_age(billy.effective_confirmed_at(p.resource, m.confirmed_at, %s,
                      s.last_complete_scan_at, s.last_hot_scan_at)) + $3 >= win.w
              AND (p.refresh_wanted OR p.accesses_per_hour * extract(epoch FROM win.w) / 3600 >= 0.5)$q$,
            coalesce((SELECT '(' || r.hot_where || ')' FROM billy.resources r WHERE r.name = res), 'false'),
            coalesce((SELECT 'm.' || quote_ident(c.column_name) FROM billy.resource_columns c
                      WHERE c.resource = res AND c.child = '' AND c.json_key = 'contactId'), 'NULL::text'),
            billy._resource_table(res),
            billy._cache_state_sql(res, 'm'),
            -- effective_confirmed_at's is_paid: true when the row is out of the hot set
            coalesce((SELECT '(NOT (' || r.hot_where || '))' FROM billy.resources r WHERE r.name = res), 'NULL::boolean'))
            USING org, res, lookahead;
    END LOOP;
END
$$;
COMMENT ON FUNCTION billy._cache_candidates(text, interval) IS
'The rows of an organization that need a refresh within lookahead: a read found them stale, or they are hot (expected to be read at least every other TTL) and expire soon; none whose refresh was queued less than a minute ago. Internal.';

CREATE FUNCTION billy._contact_page_fits(org text, res text, contact text, page_size integer) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM billy.%I WHERE organization_id = $1 AND %I = $2', billy._resource_table(res),
                   (SELECT c.column_name FROM billy.resource_columns c
                    WHERE c.resource = res AND c.child = '' AND c.json_key = 'contactId'))
        INTO n USING org, contact;
    RETURN n <= page_size;
END
$$;
COMMENT ON FUNCTION billy._contact_page_fits(text, text, text, integer) IS
'Whether a contact''s records of a resource (its column whose JSON key is contactId, from billy.resource_columns) fit on one page of a list request. Internal.';

CREATE FUNCTION billy._cache_scan_instead(org text, res text, scan_mode text, due bigint, tokens double precision)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pages integer;
BEGIN
    EXECUTE format('SELECT ceil(count(*)::numeric / $2)::integer FROM billy.%I '
                   'WHERE organization_id = $1 AND deleted_at IS NULL%s', billy._resource_table(res),
                   CASE WHEN scan_mode = 'hot' THEN ' AND ' || (SELECT r.hot_where FROM billy.resources r WHERE r.name = res) ELSE '' END)
        INTO pages USING org, current_setting('billy.sync_page_size')::integer;
    pages := greatest(pages, 1);
    IF due <= pages OR tokens < pages THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM billy.jobs j
               WHERE j.kind = 'sync' AND j.organization_id = org
                 AND j.state IN ('queued', 'running') AND j.args ->> 'resource' = res) THEN
        RETURN 0;
    END IF;
    PERFORM billy._enqueue('sync', org, jsonb_build_object('resource', res, 'mode', scan_mode, 'reason', 'cache'), NULL, 40);
    RETURN pages;
END
$$;
COMMENT ON FUNCTION billy._cache_scan_instead(text, text, text, bigint, double precision) IS
'Whether one scan of a resource (hot: its unpaid list; full: all of it), a request per page, refreshes due rows in fewer requests than looking them up one by one, within tokens: then it is queued (reason: cache) unless a sync of the resource is queued or running. Returns the pages it costs (0: one was queued already), or NULL to look the rows up instead. Internal.';

CREATE FUNCTION billy._cache_plan(budget_per_minute integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record;
    g record;
    tokens double precision;
    jobs integer := 0;
    lookahead interval := 2 * current_setting('billy.cache_flush_interval_ms')::interval;
    page_size integer := current_setting('billy.sync_page_size')::integer;
    spent integer;
    picked text[];
    n integer;
    by_contact jsonb;
    n_lists integer;
BEGIN
    IF budget_per_minute <= 0 THEN
        RETURN 0;
    END IF;
    FOR o IN SELECT id FROM billy.organizations
             WHERE disconnected_at IS NULL
               AND id IN (SELECT DISTINCT organization_id FROM billy.cache_policy)
               AND id NOT IN (SELECT organization_id FROM billy.breaker_status() WHERE state <> 'closed')
    LOOP
        CREATE TEMP TABLE IF NOT EXISTS cache_due (resource text, record_id text, in_hot_set boolean,
                                                   wanted boolean, aph double precision, contact_id text)
            ON COMMIT DELETE ROWS;
        TRUNCATE cache_due;
        INSERT INTO cache_due SELECT * FROM billy._cache_candidates(o.id, lookahead);
        CONTINUE WHEN NOT FOUND;

        -- the budget: a bucket of budget_per_minute tokens, refilled continuously
        SELECT least(budget_per_minute, b.tokens
                     + budget_per_minute * extract(epoch FROM billy._cache_age(b.updated_at)) / 60)
        INTO tokens FROM billy._cache_budget b WHERE b.organization_id = o.id;
        tokens := coalesce(tokens, budget_per_minute);

        -- unpaid invoices and bills: one hot scan (a filtered list, isPaid=false)
        -- instead of many single GETs, when it costs fewer requests
        FOR g IN SELECT d.resource, count(*) AS n FROM cache_due d WHERE d.in_hot_set GROUP BY d.resource LOOP
            spent := billy._cache_scan_instead(o.id, g.resource, 'hot', g.n, tokens);
            IF spent IS NOT NULL THEN
                jobs := jobs + sign(spent)::integer;
                tokens := tokens - spent;
                UPDATE billy.cache_policy p SET refresh_wanted = false, refresh_queued_at = now()
                FROM cache_due d
                WHERE d.in_hot_set AND d.resource = g.resource
                  AND p.organization_id = o.id AND p.resource = d.resource AND p.record_id = d.record_id;
                DELETE FROM cache_due d WHERE d.in_hot_set AND d.resource = g.resource;
            END IF;
        END LOOP;

        -- the rest: invoices and bills of one contact due together by one
        -- list request (contactId=..., when the contact's fit on a page),
        -- the others one by one; asked-for first, then the hottest, as the
        -- budget allows
        FOR g IN SELECT d.resource, count(*) AS due FROM cache_due d GROUP BY d.resource ORDER BY max(d.aph) DESC LOOP
            n := floor(tokens)::integer;
            EXIT WHEN n <= 0;
            -- more rows due than the whole list has pages: one full scan
            -- (a request per page) confirms them all
            spent := billy._cache_scan_instead(o.id, g.resource, 'full', g.due, n);
            IF spent IS NOT NULL THEN
                jobs := jobs + sign(spent)::integer;
                tokens := tokens - spent;
                UPDATE billy.cache_policy p SET refresh_wanted = false, refresh_queued_at = now()
                FROM cache_due d
                WHERE d.resource = g.resource
                  AND p.organization_id = o.id AND p.resource = d.resource AND p.record_id = d.record_id;
                CONTINUE;
            END IF;
            SELECT array_agg(record_id) INTO picked FROM (
                SELECT d.record_id FROM cache_due d WHERE d.resource = g.resource
                ORDER BY d.wanted DESC, d.aph DESC, d.record_id) t;
            SELECT coalesce(jsonb_object_agg(c.contact_id, c.ids), '{}'), coalesce(sum(1), 0)
            INTO by_contact, n_lists
            FROM (SELECT d.contact_id, jsonb_agg(d.record_id) AS ids
                  FROM cache_due d
                  WHERE (SELECT r.contact_filter FROM billy.resources r WHERE r.name = g.resource)
                    AND d.resource = g.resource AND d.contact_id IS NOT NULL
                  GROUP BY d.contact_id HAVING count(*) >= 2
                  ORDER BY max(d.aph) DESC LIMIT n) c
            WHERE billy._contact_page_fits(o.id, g.resource, c.contact_id, page_size);
            picked := ARRAY(SELECT x FROM unnest(picked) x
                            WHERE NOT EXISTS (SELECT 1 FROM jsonb_each(by_contact) b
                                              WHERE b.value ? x)
                            LIMIT greatest(n - n_lists, 0));
            PERFORM billy._enqueue('cache_refresh', o.id,
                jsonb_build_object('resource', g.resource, 'ids', to_jsonb(picked), 'contacts', by_contact), NULL, 30);
            jobs := jobs + 1;
            tokens := tokens - cardinality(picked) - n_lists;
            UPDATE billy.cache_policy p SET refresh_wanted = false, refresh_queued_at = now()
            WHERE p.organization_id = o.id AND p.resource = g.resource
              AND (p.record_id = ANY (picked)
                   OR EXISTS (SELECT 1 FROM jsonb_each(by_contact) b WHERE b.value ? p.record_id));
        END LOOP;

        INSERT INTO billy._cache_budget AS b (organization_id, tokens, updated_at)
        VALUES (o.id, tokens, now())
        ON CONFLICT (organization_id) DO UPDATE SET tokens = EXCLUDED.tokens, updated_at = EXCLUDED.updated_at;
    END LOOP;
    RETURN jobs;
END
$$;
COMMENT ON FUNCTION billy._cache_plan(integer) IS
'The worker''s refresh planning, after each flush: per organization whose breaker is closed, the rows due a refresh (billy._cache_candidates) within a token bucket of budget_per_minute API calls; unpaid invoices and bills due together are refreshed by one hot scan (a list filtered on isPaid=false) when that takes fewer requests than looking them up one by one; when more rows of a resource are due than its whole list has pages, one full scan (a request per page) refreshes them; the others are queued as one cache_refresh job per resource: rows of one contact due together by one list request filtered on contactId (resources whose billy.resources.contact_filter says Billy filters them so; when they fit on a page), the rest one by one; the rows reads asked for first, then the hottest. Returns the number of jobs queued. Internal.';

------------------------------------------------------------------------------
-- Lists
------------------------------------------------------------------------------

-- Confirming on demand (src/cache_confirm.c): what a read that wants a fresher
-- answer than the mirror holds does, with the fewest requests, shared by
-- concurrent reads
CREATE FUNCTION billy._cache_confirming(max_age interval) RETURNS boolean
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_cache_confirming';
COMMENT ON FUNCTION billy._cache_confirming(interval) IS
'Whether a read confirms stale rows before answering: the caller passed max_age, or billy.read_confirm is on (billy.mcp turns it on for its tool calls). Internal.';

CREATE FUNCTION billy._cache_confirm_hot(org text, res text, max_age interval) RETURNS text
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_cache_confirm_hot';
COMMENT ON FUNCTION billy._cache_confirm_hot(text, text, interval) IS
'When the read wants confirmed answers (billy._cache_confirming) and the unpaid invoices (or bills) of org were last confirmed longer ago than max_age (else the window of open documents), confirms them all now: one hot scan (isPaid=false, a request per page; the unpaid ones it no longer lists are looked up). Concurrent reads wait for one scan and share it. Returns NULL, or why they could not be confirmed. Internal.';

CREATE FUNCTION billy._cache_confirm_rows(org text, res text, ids text[]) RETURNS text
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_cache_confirm_rows';
COMMENT ON FUNCTION billy._cache_confirm_rows(text, text, text[]) IS
'Confirms these rows now in the fewest requests: unpaid invoices and bills by one hot scan; the others by a full scan of the resource when it has fewer pages than rows to confirm, else one GET each. Returns NULL, or why they could not be confirmed. Internal.';

-- the max_age argument of the MCP read tools (extension/0.2.0/90-mcp.sql)
CREATE FUNCTION billy._mcp_max_age_arg() RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_object('max_age', jsonb_build_object('type', 'number', 'minimum', 0, 'maximum', 604800));
COMMENT ON FUNCTION billy._mcp_max_age_arg() IS
'The max_age property of the MCP read tools'' input schemas: seconds, passed to the read functions'' max_age interval (a number of seconds is an interval). It carries no description: billy.mcp_instructions says once what it means, which keeps tools/list within its budget. Internal.';

-- _cache_page: a list page's rows and their freshness (src/cache.c)
CREATE FUNCTION billy._cache_page(org text, res text, ids text[], max_age interval,
                                  OUT rows jsonb, OUT n_stale integer, OUT stale_ids text[],
                                  OUT confirmed_at timestamptz, OUT age interval, OUT win interval)
RETURNS record
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_cache_page';
COMMENT ON FUNCTION billy._cache_page(text, text, text[], interval) IS
'A list page''s rows from the mirror, in the order of ids (those the caller may read), as a JSON array of Billy''s records, with their freshness: how many and which are older than their window (max_age when given, else billy.freshness_window of their class), and the effective confirmation, age and window of the row with the least time left in its window. By index look-ups as the caller, no query planned. Internal.';

-- _cache_list_answer: the answer of a list function for a page of ids (in order)
CREATE FUNCTION billy._cache_list_answer(org text, res text, ids text[], total bigint,
                                         page_limit integer, page_offset integer, max_age interval)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    complete_at timestamptz;
    reason text;
BEGIN
    FOR attempt IN 1..2 LOOP
        -- every row's confirmation and window; the row with the least time
        -- left in its window speaks for the page
        p := billy._cache_page(org, res, ids, max_age);
        -- a caller that wants it confirmed (max_age, or billy.read_confirm,
        -- which MCP turns on): refresh the stale rows now, in the fewest
        -- requests, and look again
        EXIT WHEN p.n_stale = 0 OR attempt = 2 OR NOT billy._cache_confirming(max_age);
        reason := billy._cache_confirm_rows(org, res, p.stale_ids);
        EXIT WHEN reason IS NOT NULL;
    END LOOP;
    SELECT s.last_complete_scan_at INTO complete_at FROM billy.sync_state s
    WHERE s.organization_id = org AND s.resource = res;
    PERFORM billy._cache_count_list(org, res, p.stale_ids);
    RETURN billy._list_total(total, page_limit, page_offset) || jsonb_build_object(
        res, p.rows, 'limit', page_limit, 'offset', page_offset,
        'freshness', jsonb_strip_nulls(jsonb_build_object(
            'source', 'mirror',
            'fresh', p.n_stale = 0 AND complete_at IS NOT NULL,
            'confirmed_at', coalesce(p.confirmed_at, complete_at),
            'age_seconds', round(extract(epoch FROM coalesce(p.age, billy._cache_age(complete_at)))::numeric, 3),
            'max_age_seconds', round(extract(epoch FROM p.win)::numeric, 3),
            'complete_scan_at', complete_at,
            'stale_rows', p.n_stale,
            'refresh', CASE WHEN p.n_stale > 0 THEN 'queued' END,
            'stale_reason', reason,
            'note', CASE WHEN complete_at IS NULL THEN 'no complete sync of ' || res || ' yet: the list may be incomplete' END)));
END
$$;
COMMENT ON FUNCTION billy._cache_list_answer(text, text, text[], bigint, integer, integer, interval) IS
'Builds a list function''s answer for a page of record ids: the records, the total (billy._list_total), and the page''s freshness: fresh when every row was confirmed within its window (max_age when given, else billy.freshness_window of its class); confirmed_at, age_seconds and max_age_seconds of the row with the least time left in its window; stale_rows. When the caller wants confirmed answers (billy._cache_confirming) the stale rows are refreshed first, in the fewest requests (billy._cache_confirm_rows); otherwise the worker refreshes them. Counts the read. Internal.';

CREATE FUNCTION billy._check_page(page_limit integer, page_offset integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF page_limit IS NULL OR page_limit < 1 OR page_limit > 1000 THEN
        RAISE EXCEPTION 'limit must be between 1 and 1000, not %', coalesce(page_limit::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF page_offset IS NULL OR page_offset < 0 THEN
        RAISE EXCEPTION 'offset must be 0 or more, not %', coalesce(page_offset::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION billy._check_page(integer, integer) IS 'Checks a list function''s limit and offset. Internal.';

-- a list counts its matches only so far past its page (billy.list_total_limit):
-- an exact count of a large organization's invoices read every one of them
CREATE FUNCTION billy._list_count_cap(page_limit integer, page_offset integer) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN page_offset::bigint + page_limit + current_setting('billy.list_total_limit')::bigint;
COMMENT ON FUNCTION billy._list_count_cap(integer, integer) IS
'How many matching rows a list counts at most: its offset and limit and billy.list_total_limit more. Internal.';

CREATE FUNCTION billy._list_total(counted bigint, page_limit integer, page_offset integer) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN counted >= billy._list_count_cap(page_limit, page_offset)
            THEN jsonb_build_object('total_at_least', counted)
            ELSE jsonb_build_object('total', counted) END;
COMMENT ON FUNCTION billy._list_total(bigint, integer, integer) IS
'A list answer''s count of its matches, counted up to billy._list_count_cap: {"total": n} when the count stopped short of the cap, else {"total_at_least": cap}. Internal.';

CREATE FUNCTION billy._check_dates(from_date date, to_date date) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF from_date > to_date THEN
        RAISE EXCEPTION 'from_date (%) is after to_date (%)', from_date, to_date USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION billy._check_dates(date, date) IS 'Checks a list function''s date range. Internal.';

CREATE FUNCTION billy._check_doc_state(state text, kind text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF state IS NOT NULL AND state NOT IN ('draft', 'approved', 'voided') THEN
        RAISE EXCEPTION 'state must be draft, approved or voided, not "%"', state
            USING ERRCODE = '22023', HINT = 'paid => true and overdue => true filter ' || kind || ' by payment.';
    END IF;
END
$$;
COMMENT ON FUNCTION billy._check_doc_state(text, text) IS 'Checks a list function''s state filter. Internal.';

CREATE FUNCTION billy._contains_pattern(search text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN '%' || replace(replace(replace(search, '\', '\\'), '%', '\%'), '_', '\_') || '%';
COMMENT ON FUNCTION billy._contains_pattern(text) IS
'The ILIKE pattern that matches text containing search literally (its \, % and _ escaped); NULL for NULL. Internal.';

CREATE FUNCTION billy.list_invoices(org text DEFAULT NULL, state text DEFAULT NULL, paid boolean DEFAULT NULL,
                                    overdue boolean DEFAULT NULL, contact text DEFAULT NULL,
                                    from_date date DEFAULT NULL, to_date date DEFAULT NULL,
                                    search text DEFAULT NULL, "limit" integer DEFAULT 50,
                                    "offset" integer DEFAULT 0, max_age interval DEFAULT NULL,
                                    min_amount numeric DEFAULT NULL, max_amount numeric DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o text := billy._resolve_org(org);
    ids text[];
    total bigint;
    pattern text := billy._contains_pattern(search);
BEGIN
    PERFORM billy._check_page("limit", "offset");
    PERFORM billy._check_dates(from_date, to_date);
    PERFORM billy._check_doc_state(state, 'invoices');
    IF min_amount > max_amount THEN
        RAISE EXCEPTION 'min_amount % is above max_amount %', min_amount, max_amount USING ERRCODE = '22023',
            HINT = 'Give the smaller amount as min_amount, or leave one of them out.';
    END IF;
    -- unpaid ones may have been paid since: confirmed first when asked
    PERFORM billy._cache_confirm_hot(o, 'invoices', max_age);
    -- not materialized: the count and the page are each planned with the
    -- filters, so indexes serve both (written so that a filter left NULL
    -- folds away and a given one matches the partial indexes)
    WITH matching AS NOT MATERIALIZED (
        SELECT i.id, i.entry_date, i.invoice_no FROM billy.invoices i
        WHERE i.organization_id = o AND i.deleted_at IS NULL
          AND (list_invoices.state IS NULL OR i.state = list_invoices.state)
          AND (paid IS NULL OR (paid AND i.is_paid IS TRUE) OR (NOT paid AND i.is_paid IS NOT TRUE))
          AND (overdue IS NULL
               OR (overdue AND i.state = 'approved' AND i.is_paid IS NOT TRUE AND i.due_date < current_date)
               OR (NOT overdue AND NOT (i.state = 'approved' AND i.is_paid IS NOT TRUE AND i.due_date < current_date)))
          AND (contact IS NULL OR i.contact_id = contact OR i.contact_id IN (
                SELECT c.id FROM billy.contacts c WHERE c.organization_id = o AND lower(c.name) = lower(contact)))
          AND (from_date IS NULL OR i.entry_date >= from_date)
          AND (to_date IS NULL OR i.entry_date <= to_date)
          AND (min_amount IS NULL OR i.gross_amount >= min_amount)
          AND (max_amount IS NULL OR i.gross_amount <= max_amount)
          AND (search IS NULL OR i.invoice_no ILIKE pattern OR i.order_no ILIKE pattern
               OR i.line_description ILIKE pattern OR i.external_id ILIKE pattern
               OR EXISTS (SELECT 1 FROM billy.contacts c WHERE c.organization_id = o
                          AND c.id = i.contact_id AND c.name ILIKE pattern))
    )
    SELECT (SELECT count(*) FROM (SELECT FROM matching LIMIT billy._list_count_cap("limit", "offset")) capped),
           ARRAY(SELECT m.id FROM matching m ORDER BY m.entry_date DESC, m.invoice_no DESC, m.id
                 LIMIT "limit" OFFSET "offset")
    INTO total, ids;
    RETURN billy._cache_list_answer(o, 'invoices', ids, total, "limit", "offset", max_age);
END
$$;
COMMENT ON FUNCTION billy.list_invoices(text, text, boolean, boolean, text, date, date, text, integer, integer, interval, numeric, numeric) IS
'Invoices and credit notes of an organization from the mirror, newest first, as {"invoices": [Billy''s JSON, lines and balance modifiers embedded], "total" (counted up to billy.list_total_limit rows past the page; beyond, "total_at_least" instead), "limit", "offset", "freshness": {"source", "fresh", "confirmed_at", "age_seconds", "max_age_seconds", "complete_scan_at", "stale_rows", "refresh"}}. Filters: state (draft, approved, voided), paid, overdue (approved, unpaid, past due), contact (id or exact name), from_date/to_date (entry date), min_amount/max_amount (gross amount, with VAT, in the invoice''s currency), search (invoice number, order number, line text, external id or contact name, case-insensitive). fresh is true only when every row was confirmed by Billy within its window (billy.freshness_window, or max_age); the other fields are those of the row with the least time left. By default it never calls Billy: stale rows are answered, flagged, and refreshed by the worker. With max_age (or billy.read_confirm on, as in MCP tool calls) it confirms first, in the fewest requests: one list of unpaid invoices (isPaid=false, a request per page) confirms every unpaid one, and stale rows are looked up one by one or by a scan of the whole list, whichever takes fewer requests; concurrent reads share them.';

CREATE FUNCTION billy.list_bills(org text DEFAULT NULL, state text DEFAULT NULL, paid boolean DEFAULT NULL,
                                 overdue boolean DEFAULT NULL, contact text DEFAULT NULL,
                                 from_date date DEFAULT NULL, to_date date DEFAULT NULL,
                                 search text DEFAULT NULL, "limit" integer DEFAULT 50,
                                 "offset" integer DEFAULT 0, max_age interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o text := billy._resolve_org(org);
    ids text[];
    total bigint;
    pattern text := billy._contains_pattern(search);
BEGIN
    PERFORM billy._check_page("limit", "offset");
    PERFORM billy._check_dates(from_date, to_date);
    PERFORM billy._check_doc_state(state, 'bills');
    -- unpaid ones may have been paid since: confirmed first when asked
    PERFORM billy._cache_confirm_hot(o, 'bills', max_age);
    -- not materialized, as in list_invoices
    WITH matching AS NOT MATERIALIZED (
        SELECT b.id, b.entry_date, b.voucher_no FROM billy.bills b
        WHERE b.organization_id = o AND b.deleted_at IS NULL
          AND (list_bills.state IS NULL OR b.state = list_bills.state)
          AND (paid IS NULL OR (paid AND b.is_paid IS TRUE) OR (NOT paid AND b.is_paid IS NOT TRUE))
          AND (overdue IS NULL
               OR (overdue AND b.state = 'approved' AND b.is_paid IS NOT TRUE AND b.due_date < current_date)
               OR (NOT overdue AND NOT (b.state = 'approved' AND b.is_paid IS NOT TRUE AND b.due_date < current_date)))
          AND (contact IS NULL OR b.contact_id = contact OR lower(b.contact_name) = lower(contact))
          AND (from_date IS NULL OR b.entry_date >= from_date)
          AND (to_date IS NULL OR b.entry_date <= to_date)
          AND (search IS NULL OR b.suppliers_invoice_no ILIKE pattern OR b.voucher_no ILIKE pattern
               OR b.line_description ILIKE pattern OR b.contact_name ILIKE pattern)
    )
    SELECT (SELECT count(*) FROM (SELECT FROM matching LIMIT billy._list_count_cap("limit", "offset")) capped),
           ARRAY(SELECT m.id FROM matching m ORDER BY m.entry_date DESC, m.voucher_no DESC, m.id
                 LIMIT "limit" OFFSET "offset")
    INTO total, ids;
    RETURN billy._cache_list_answer(o, 'bills', ids, total, "limit", "offset", max_age);
END
$$;
COMMENT ON FUNCTION billy.list_bills(text, text, boolean, boolean, text, date, date, text, integer, integer, interval) IS
'Bills (purchases) of an organization from the mirror, newest first, as {"bills": [...], "total", "limit", "offset", "freshness": {...}} (see billy.list_invoices). Filters: state, paid, overdue, contact (id or supplier name), from_date/to_date, search (supplier''s invoice number, voucher number, line text, supplier name).';

CREATE FUNCTION billy.list_contacts(org text DEFAULT NULL, search text DEFAULT NULL,
                                    customer boolean DEFAULT NULL, supplier boolean DEFAULT NULL,
                                    archived boolean DEFAULT false, "limit" integer DEFAULT 50,
                                    "offset" integer DEFAULT 0, max_age interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o text := billy._resolve_org(org);
    ids text[];
    total bigint;
    pattern text := billy._contains_pattern(search);
BEGIN
    PERFORM billy._check_page("limit", "offset");
    -- not materialized, as in list_invoices
    WITH matching AS NOT MATERIALIZED (
        SELECT c.id, c.name FROM billy.contacts c
        WHERE c.organization_id = o AND c.deleted_at IS NULL
          AND (customer IS NULL OR coalesce(c.is_customer, false) = customer)
          AND (supplier IS NULL OR coalesce(c.is_supplier, false) = supplier)
          AND (archived IS NULL OR coalesce(c.is_archived, false) = archived)
          AND (search IS NULL OR c.name ILIKE pattern OR c.contact_no ILIKE pattern
               OR c.registration_no ILIKE pattern OR c.city ILIKE pattern
               OR EXISTS (SELECT 1 FROM billy.contact_persons p WHERE p.organization_id = o
                          AND p.contact_id = c.id AND (p.email ILIKE pattern OR p.name ILIKE pattern)))
    )
    SELECT (SELECT count(*) FROM (SELECT FROM matching LIMIT billy._list_count_cap("limit", "offset")) capped),
           ARRAY(SELECT m.id FROM matching m ORDER BY lower(m.name), m.id LIMIT "limit" OFFSET "offset")
    INTO total, ids;
    RETURN billy._cache_list_answer(o, 'contacts', ids, total, "limit", "offset", max_age);
END
$$;
COMMENT ON FUNCTION billy.list_contacts(text, text, boolean, boolean, boolean, integer, integer, interval) IS
'Contacts of an organization from the mirror, by name, as {"contacts": [Billy''s JSON, contact persons embedded], "total", "limit", "offset", "freshness": {...}} (see billy.list_invoices). Filters: search (name, contact number, CVR/VAT number, city, a person''s name or e-mail), customer, supplier, archived (default false; NULL for all).';

CREATE FUNCTION billy.list_products(org text DEFAULT NULL, search text DEFAULT NULL,
                                    archived boolean DEFAULT false, "limit" integer DEFAULT 50,
                                    "offset" integer DEFAULT 0, max_age interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o text := billy._resolve_org(org);
    ids text[];
    total bigint;
    pattern text := billy._contains_pattern(search);
BEGIN
    PERFORM billy._check_page("limit", "offset");
    -- not materialized, as in list_invoices
    WITH matching AS NOT MATERIALIZED (
        SELECT p.id, p.name FROM billy.products p
        WHERE p.organization_id = o AND p.deleted_at IS NULL
          AND (archived IS NULL OR coalesce(p.is_archived, false) = archived)
          AND (search IS NULL OR p.name ILIKE pattern OR p.product_no ILIKE pattern
               OR p.description ILIKE pattern)
    )
    SELECT (SELECT count(*) FROM (SELECT FROM matching LIMIT billy._list_count_cap("limit", "offset")) capped),
           ARRAY(SELECT m.id FROM matching m ORDER BY lower(m.name), m.id LIMIT "limit" OFFSET "offset")
    INTO total, ids;
    RETURN billy._cache_list_answer(o, 'products', ids, total, "limit", "offset", max_age);
END
$$;
COMMENT ON FUNCTION billy.list_products(text, text, boolean, integer, integer, interval) IS
'Products of an organization from the mirror, by name, as {"products": [Billy''s JSON, prices embedded], "total", "limit", "offset", "freshness": {...}} (see billy.list_invoices). Filters: search (name, product number, description), archived (default false; NULL for all).';

CREATE FUNCTION billy.list_bank_payments(org text DEFAULT NULL, contact text DEFAULT NULL,
                                         from_date date DEFAULT NULL, to_date date DEFAULT NULL,
                                         side text DEFAULT NULL, voided boolean DEFAULT false,
                                         "limit" integer DEFAULT 50, "offset" integer DEFAULT 0,
                                         max_age interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o text := billy._resolve_org(org);
    ids text[];
    total bigint;
BEGIN
    PERFORM billy._check_page("limit", "offset");
    PERFORM billy._check_dates(from_date, to_date);
    IF side IS NOT NULL AND side NOT IN ('debit', 'credit') THEN
        RAISE EXCEPTION 'side must be debit (money in) or credit (money out), not "%"', side USING ERRCODE = '22023';
    END IF;
    -- not materialized, as in list_invoices
    WITH matching AS NOT MATERIALIZED (
        SELECT b.id, b.entry_date FROM billy.bank_payments b
        WHERE b.organization_id = o AND b.deleted_at IS NULL
          AND (contact IS NULL OR b.contact_id = contact OR b.contact_id IN (
                SELECT c.id FROM billy.contacts c WHERE c.organization_id = o AND lower(c.name) = lower(contact)))
          AND (from_date IS NULL OR b.entry_date >= from_date)
          AND (to_date IS NULL OR b.entry_date <= to_date)
          AND (side IS NULL OR b.cash_side = side)
          AND (voided IS NULL OR coalesce(b.is_voided, false) = voided)
    )
    SELECT (SELECT count(*) FROM (SELECT FROM matching LIMIT billy._list_count_cap("limit", "offset")) capped),
           ARRAY(SELECT m.id FROM matching m ORDER BY m.entry_date DESC, m.id LIMIT "limit" OFFSET "offset")
    INTO total, ids;
    RETURN billy._cache_list_answer(o, 'bankPayments', ids, total, "limit", "offset", max_age);
END
$$;
COMMENT ON FUNCTION billy.list_bank_payments(text, text, date, date, text, boolean, integer, integer, interval) IS
'Bank payments of an organization from the mirror, newest first, as {"bankPayments": [Billy''s JSON, associations embedded], "total", "limit", "offset", "freshness": {...}} (see billy.list_invoices). Filters: contact (id or exact name), from_date/to_date, side (debit: money in; credit: money out), voided (default false; NULL for all).';

------------------------------------------------------------------------------
-- Single reads
------------------------------------------------------------------------------

CREATE FUNCTION billy.get_invoice(org text, id text, max_age interval DEFAULT NULL) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_get';
CREATE FUNCTION billy.get_bill(org text, id text, max_age interval DEFAULT NULL) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_get';
CREATE FUNCTION billy.get_contact(org text, id text, max_age interval DEFAULT NULL) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_get';
CREATE FUNCTION billy.get_product(org text, id text, max_age interval DEFAULT NULL) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_get';
CREATE FUNCTION billy.get_bank_payment(org text, id text, max_age interval DEFAULT NULL) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_get';

DO $c$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM (VALUES ('get_invoice', 'invoice', 'invoice', 'lines and balance modifiers embedded'),
                                   ('get_bill', 'bill', 'bill', 'lines and balance modifiers embedded'),
                                   ('get_contact', 'contact', 'contact', 'contact persons embedded'),
                                   ('get_product', 'product', 'product', 'prices embedded'),
                                   ('get_bank_payment', 'bank payment', 'bankPayment', 'associations embedded')) v(fn, what, root, embeds)
    LOOP
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION billy.%I(text, text, interval) IS %L', f.fn,
            'One ' || f.what || ' (org: id or name, NULL when only one is connected; id: Billy''s id) as {"' || f.root
            || '": Billy''s JSON (' || f.embeds || '), "freshness": {"source": "mirror" or "api", "fresh", "confirmed_at", '
            || '"age_seconds", "max_age_seconds", "refresh": "queued" when a stale copy was answered, "stale_reason" and "error" '
            || 'when Billy could not be asked}}. fresh is true only when Billy confirmed the record within max_age_seconds: the '
            || 'max_age passed, else the window of its class (billy.freshness_window: seconds for unpaid and draft documents, '
            || 'hours for paid ones). By default it never waits on Billy for a row the mirror has: a stale one is answered, '
            || 'flagged, while the worker refreshes it. With max_age (or billy.read_confirm on, as in MCP tool calls) a stale '
            || 'row is confirmed first in the fewest requests (unpaid documents: one list of every unpaid one; others: one GET), '
            || 'shared by concurrent reads; if Billy cannot answer then, the copy is answered with the reason. A row the mirror '
            || 'does not have costs one GET; an error is raised only when there is no copy. A deleted one raises no_data_found.');
    END LOOP;
END
$c$;

------------------------------------------------------------------------------
-- Performance and warming
------------------------------------------------------------------------------

CREATE FUNCTION billy._cache_hot_scan_jobs() RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT j.id FROM billy.jobs j WHERE j.kind = 'sync' AND j.args ->> 'reason' = 'cache' $$;
COMMENT ON FUNCTION billy._cache_hot_scan_jobs() IS 'The sync jobs the cache queued (hot scans instead of single look-ups). Internal.';

CREATE FUNCTION billy.cache_performance(org text DEFAULT NULL, since interval DEFAULT '24 hours')
RETURNS TABLE (resource text, reads bigint, fresh_hits bigint, stale_hits bigint, misses bigint,
               refetches bigint, hit_rate numeric, fresh_hit_rate numeric, api_calls bigint,
               api_calls_saved bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
    from_hour timestamptz := date_trunc('hour', billy._cache_now() - since);
BEGIN
    IF since IS NULL OR since <= interval '0' THEN
        RAISE EXCEPTION 'since must be a positive interval' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    WITH counts AS (
        SELECT s.resource AS r, s.reads AS rd, s.fresh AS f, s.stale AS st, s.misses AS m,
               s.refetches AS rf, s.api_calls + s.refresh_calls AS calls
        FROM billy.cache_stats s
        WHERE (o IS NULL OR s.organization_id = o) AND s.hour >= from_hour
        UNION ALL   -- not flushed yet
        SELECT c.resource, c.reads, c.fresh, c.stale, c.misses, c.refetches, c.api_calls + c.refresh_calls
        FROM billy._cache_counters() c
        WHERE (o IS NULL OR c.organization_id = o)
          AND ((SELECT billy._sees_all()) OR c.organization_id = ANY ((SELECT billy._visible_orgs())::text[]))
        UNION ALL   -- hot scans the cache queued instead of single look-ups
        SELECT r.resource, 0, 0, 0, 0, 0, r.requests::bigint
        FROM billy.sync_runs r
        WHERE r.job_id IN (SELECT j FROM billy._cache_hot_scan_jobs() j)
          AND (o IS NULL OR r.organization_id = o)
          AND billy._cache_age(r.started_at) <= since
    )
    SELECT coalesce(c.r, 'all'), sum(c.rd)::bigint, sum(c.f)::bigint, sum(c.st)::bigint, sum(c.m)::bigint,
           sum(c.rf)::bigint,
           round((sum(c.f) + sum(c.st)) / nullif(sum(c.rd), 0), 4),
           round(sum(c.f) / nullif(sum(c.rd), 0), 4),
           sum(c.calls)::bigint, (sum(c.rd) - sum(c.calls))::bigint
    FROM counts c
    GROUP BY GROUPING SETS ((c.r), ())
    ORDER BY GROUPING(c.r) DESC, c.r;
END
$$;
COMMENT ON FUNCTION billy.cache_performance(text, interval) IS
'How the mirror served reads (billy.get_* and billy.list_*) of an organization (NULL: every one you see) over the last since (to the hour): overall (''all'', the first row) and per resource, reads, fresh hits (answered fresh), stale hits (answered stale while the worker refreshed), misses (not in the mirror: Billy asked), refetches (older than their window and confirmed for a reader that asked: max_age or billy.read_confirm), hit_rate ((fresh + stale) / reads), fresh_hit_rate, api_calls (made by reads, by the worker''s refreshes and by hot scans it queued for them; syncs are not counted) and api_calls_saved (reads - api_calls: what a client calling Billy for every read would have spent more).';

CREATE FUNCTION billy._cache_hottest(org text, top_n integer)
RETURNS TABLE (resource text, record_id text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.resource, p.record_id FROM billy.cache_policy p
    WHERE p.organization_id = org
    ORDER BY p.accesses_per_hour DESC, p.last_access DESC NULLS LAST, p.record_id
    LIMIT top_n
$$;
COMMENT ON FUNCTION billy._cache_hottest(text, integer) IS 'The most read rows of an organization. Internal.';

CREATE FUNCTION billy.warm_cache(org text DEFAULT NULL, top_n integer DEFAULT 100) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_warm_cache';
COMMENT ON FUNCTION billy.warm_cache(text, integer) IS
'Refreshes now, in this session, the organization''s top_n most read rows (by reads per hour, from billy.cache_policy): each is looked up in Billy (GET, billy.sync_concurrency at a time) and stored as the sync stores it, unchanged ones confirmed. Returns what it did: {"refreshed": {"<resource>": {"looked_up", "unchanged", "changed", "gone", "failed", "requests"}}, "rows", "ms"}. Use it after a restore or an outage, or before a busy period.';

GRANT EXECUTE ON FUNCTION billy.effective_confirmed_at(text, timestamptz, boolean, timestamptz, timestamptz) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.cache_state(text, jsonb) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.freshness_window(text, timestamptz, timestamptz) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_now() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_age(timestamptz) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_counters() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_count_list(text, text, text[]) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_confirming(interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_confirm_hot(text, text, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_confirm_rows(text, text, text[]) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_list_answer(text, text, text[], bigint, integer, integer, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_page(text, text, text[], interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._cache_hot_scan_jobs() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._check_page(integer, integer), billy._list_count_cap(integer, integer),
    billy._list_total(bigint, integer, integer) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._resource_table(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._check_dates(date, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._check_doc_state(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._contains_pattern(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.get_invoice(text, text, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.get_bill(text, text, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.get_contact(text, text, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.get_product(text, text, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.get_bank_payment(text, text, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.list_invoices(text, text, boolean, boolean, text, date, date, text, integer, integer, interval, numeric, numeric) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.list_bills(text, text, boolean, boolean, text, date, date, text, integer, integer, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.list_contacts(text, text, boolean, boolean, boolean, integer, integer, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.list_products(text, text, boolean, integer, integer, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.list_bank_payments(text, text, date, date, text, boolean, integer, integer, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.cache_performance(text, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.warm_cache(text, integer), billy._cache_hottest(text, integer) TO billy_admin;
