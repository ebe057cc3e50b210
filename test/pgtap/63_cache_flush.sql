-- The worker's flush (billy._cache_flush -> billy._cache_recompute): the
-- class of a row from its typed columns equals the class from raw for every
-- mirror row (so the flush need not detoast raw), the recompute's plan joins
-- nothing by a filter while billy.cache_policy is empty (the plan that made
-- a flush of 12,000 rows take 70 s, and a later one that rescanned the
-- policies just written once per row), and the rows it writes: one policy
-- per row read, written once, with its last read and the refresh asked for.
-- One transaction, rolled back.
\set ON_ERROR_STOP 1
SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(15);
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['contacts', 'invoices', 'bills', 'bankPayments', 'products']);
SELECT billy_test.org(1) AS org \gset
DELETE FROM billy.cache_policy;
DELETE FROM billy.cache_stats;

-- the class from the columns, for every row of every resource the read path serves
CREATE FUNCTION pg_temp.class_mismatches(res text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM billy.%I m WHERE %s IS DISTINCT FROM billy.cache_state(%L, m.raw)',
                   billy._resource_table(res), billy._cache_state_sql(res, 'm'), res) INTO n;
    RETURN n;
END
$$;
SELECT is((SELECT array_agg(r.name) FROM billy.resources r
           WHERE r.read_function IS NOT NULL AND pg_temp.class_mismatches(r.name) > 0), NULL,
          'every resource read: the class from the columns is the class from raw, row by row');
SELECT ok(NOT bool_or(billy._cache_state_sql(r.name, 'm') LIKE '%m.raw%'),
          'the flush reads no resource''s raw for its class')
FROM billy.resources r WHERE r.read_function IS NOT NULL;
SELECT ok((SELECT count(DISTINCT billy.cache_state('invoices', raw)) >= 3 FROM billy.invoices),
          'the invoices compared have several classes');
SELECT is(billy._cache_state_sql('noSuchResource', 'm'), 'billy.cache_state(''noSuchResource'', ''{}''::jsonb)',
          'a resource without classes: no column and no raw read');

-- the plan, while the policies are empty: index probes, no join by a filter
CREATE TEMP TABLE ids AS
SELECT array_agg(organization_id) AS o, array_agg('invoices'::text) AS r, array_agg(id) AS i, count(*) AS n
FROM billy.invoices WHERE organization_id = :'org' AND deleted_at IS NULL;
CREATE FUNCTION pg_temp.recompute_plan() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    plan text;
    a record;
BEGIN
    SELECT * INTO a FROM ids;
    EXECUTE format('PREPARE recompute (text[], text[], text[], text, timestamptz, timestamptz[], boolean[]) AS %s',
                   billy._cache_recompute_sql('invoices'));
    EXECUTE format('EXPLAIN (FORMAT JSON) EXECUTE recompute(%L, %L, %L, %L, now(), NULL, NULL)', a.o, a.r, a.i, 'invoices')
    INTO plan;
    DEALLOCATE recompute;
    RETURN plan;
END
$$;
SELECT ok((SELECT n FROM ids) > 10, 'an organization''s invoices to recompute');
SELECT pg_temp.recompute_plan() AS recompute_plan \gset
SELECT ok(:'recompute_plan' NOT LIKE '%"Join Filter"%',
          'the recompute joins no rows by a filter (each row''s reads, changes and policy by an index)');
SELECT CASE WHEN :'recompute_plan' LIKE '%"Join Filter"%' THEN diag(:'recompute_plan') END;
SELECT ok(:'recompute_plan' LIKE '%"Conflict Arbiter Indexes"%',
          'new policies are found new by the primary key, not by a scan planned while the table was empty');

-- the rows it writes
SELECT is(billy._cache_recompute(o, r, i) , n::integer, 'every row gets its policy') FROM ids;
SELECT is((SELECT count(*) FROM billy.cache_policy WHERE organization_id = :'org' AND resource = 'invoices'),
          (SELECT n FROM ids), 'one policy per row');
SELECT is(billy._cache_recompute(o || o, r || r, i || i), n::integer, 'again, each row named twice: each written once') FROM ids;
SELECT is((SELECT count(*) FROM billy.cache_policy WHERE organization_id = :'org' AND resource = 'invoices'),
          (SELECT n FROM ids), 'still one policy per row');

-- a flush of reads: the counts, the last read and the refresh asked for, in the one write
SELECT billy._cache_flush(o[1:2], r[1:2], i[1:2], ARRAY[3, 0]::bigint[], ARRAY[3, 0]::bigint[], ARRAY[0, 0]::bigint[],
                          ARRAY[0, 0]::bigint[], ARRAY[0, 0]::bigint[], ARRAY[0, 0]::bigint[], ARRAY[0, 0]::bigint[],
                          jsonb_build_array(now() - interval '1 minute', NULL), '[false, true]')
FROM ids;
SELECT is((SELECT last_access FROM billy.cache_policy p, ids WHERE p.organization_id = ids.o[1] AND p.record_id = ids.i[1]),
          now() - interval '1 minute', 'a row read: its last read in its policy');
SELECT is((SELECT accesses_per_hour FROM billy.cache_policy p, ids WHERE p.organization_id = ids.o[1] AND p.record_id = ids.i[1]),
          3::double precision, 'its reads per hour (3 reads within the hour)');
SELECT ok((SELECT refresh_wanted FROM billy.cache_policy p, ids WHERE p.organization_id = ids.o[2] AND p.record_id = ids.i[2]),
          'a row a read asked a refresh of: refresh_wanted');
SELECT ok((SELECT NOT refresh_wanted FROM billy.cache_policy p, ids WHERE p.organization_id = ids.o[1] AND p.record_id = ids.i[1]),
          'the other: not');

SELECT * FROM finish();
ROLLBACK;
