-- The read path against billy-sandbox, every path: fresh, stale with a
-- refresh asked for, max_age forcing a GET, a miss (stored the way a sync
-- stores it: the next sync writes nothing), 404, deleted rows, Billy
-- failing (the copy, flagged; an error without one), the breaker open (no
-- call at all), a short timeout, privileges and bad input.  API calls are
-- counted by the sandbox (/_sandbox/stats).  Organization 1 is connected for
-- good (the worker's flush needs it); the rest is one transaction, rolled
-- back.  The circuit breaker (shared memory) is closed at the end.
\set ON_ERROR_STOP 1
SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
BEGIN;
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url'));
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(54);
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['contacts', 'invoices', 'bills', 'bankPayments', 'products']);
SELECT billy_test.org(1) AS org \gset

CREATE FUNCTION pg_temp.api_calls() RETURNS bigint LANGUAGE sql
RETURN (billy_test.sandbox('GET', '/stats')::jsonb -> 'total' ->> 'count')::bigint;
-- a record's counts: in shared memory, or already flushed by the worker
CREATE FUNCTION pg_temp.counters(rid text) RETURNS record LANGUAGE sql
RETURN (SELECT (coalesce(sum(reads), 0), coalesce(sum(fresh), 0), coalesce(sum(stale), 0), coalesce(sum(misses), 0),
                coalesce(sum(refetches), 0), coalesce(sum(api_calls), 0))
        FROM (SELECT c.reads, c.fresh, c.stale, c.misses, c.refetches, c.api_calls
              FROM billy._cache_counters() c WHERE c.record_id = rid
              UNION ALL
              SELECT s.reads, s.fresh, s.stale, s.misses, s.refetches, s.api_calls
              FROM billy.cache_stats s WHERE s.record_id = rid) x);
-- what a record's counts grew by since base() was taken
CREATE TEMP TABLE base (rid text PRIMARY KEY, c text);
CREATE FUNCTION pg_temp.base(rid text) RETURNS void LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO base VALUES (rid, pg_temp.counters(rid)::text) ON CONFLICT (rid) DO UPDATE SET c = EXCLUDED.c;
END;
CREATE FUNCTION pg_temp.grown(rid text) RETURNS text LANGUAGE sql
RETURN (SELECT '(' || string_agg((coalesce(n, 0) - coalesce(o, 0))::text, ',' ORDER BY k) || ')'
        FROM unnest(string_to_array(trim(both '()' FROM pg_temp.counters(rid)::text), ',')::bigint[],
                    string_to_array(trim(both '()' FROM (SELECT c FROM base WHERE base.rid = grown.rid)), ',')::bigint[])
             WITH ORDINALITY AS u(n, o, k));

SELECT id AS paid FROM billy.invoices WHERE organization_id = :'org' AND is_paid ORDER BY id LIMIT 1 \gset
SELECT id AS unpaid FROM billy.invoices WHERE organization_id = :'org' AND NOT is_paid AND state = 'approved' ORDER BY id LIMIT 1 \gset
SELECT id AS other FROM billy.invoices WHERE organization_id = :'org' AND is_paid ORDER BY id OFFSET 1 LIMIT 1 \gset
SELECT id AS contact FROM billy.contacts WHERE organization_id = :'org' ORDER BY id LIMIT 1 \gset

SELECT pg_temp.base(:'paid'), pg_temp.base(:'unpaid'), pg_temp.base(:'other');

-- fresh: from the mirror, with its freshness, no call
SELECT pg_temp.api_calls() AS calls0 \gset
SELECT billy.get_invoice(:'org', :'paid') AS a \gset
SELECT is((:'a'::jsonb) -> 'invoice', (SELECT raw FROM billy.invoices WHERE organization_id = :'org' AND id = :'paid'),
          'a fresh read answers the mirror''s record, lines and balance modifiers embedded');
SELECT is((:'a'::jsonb) -> 'freshness' ->> 'source', 'mirror', 'from the mirror');
SELECT is((:'a'::jsonb) -> 'freshness' ->> 'fresh', 'true', 'fresh');
SELECT is(((:'a'::jsonb) -> 'freshness' ->> 'confirmed_at')::timestamptz,
          (SELECT greatest(i.confirmed_at, s.last_complete_scan_at) FROM billy.invoices i, billy.sync_state s
           WHERE i.organization_id = :'org' AND i.id = :'paid' AND s.organization_id = :'org' AND s.resource = 'invoices'),
          'confirmed by the page that stored it (asked for after the scan started) or the complete scan, whichever came later');
SELECT is(((:'a'::jsonb) -> 'freshness' ->> 'max_age_seconds')::numeric, 21600::numeric,
          'a paid invoice never read before gets its class''s window: 6 hours');
SELECT cmp_ok(((:'a'::jsonb) -> 'freshness' ->> 'age_seconds')::numeric, '<', 60::numeric, 'its age is seconds');
SELECT ok(billy_test.wait_for(format($$SELECT pg_temp.grown(%L) = %L$$, :'paid', '(1,1,0,0,0,0)'), '10 s'), 'the read is counted in shared memory: one read, fresh');
SELECT count(*) FROM (SELECT billy.get_invoice(:'org', :'paid') FROM generate_series(1, 20)) x;
SELECT is(pg_temp.api_calls(), :calls0::bigint, '21 fresh reads call Billy 0 times');
SELECT ok(billy_test.wait_for(format($$SELECT pg_temp.grown(%L) = %L$$, :'paid', '(21,21,0,0,0,0)'), '10 s'), 'and are all counted');
SELECT is(billy.get_contact((SELECT name FROM billy.organizations WHERE id = :'org'), :'contact') -> 'contact' ->> 'id', :'contact',
          'contacts are read the same way, and org may be the organization''s name');

-- stale: answered from the mirror at once, a refresh asked for
UPDATE billy.invoices SET confirmed_at = now() - interval '2 days' WHERE organization_id = :'org' AND id = :'unpaid';
UPDATE billy.sync_state SET last_complete_scan_at = now() - interval '2 days', last_hot_scan_at = now() - interval '2 days'
WHERE organization_id = :'org' AND resource = 'invoices';
SELECT billy.get_invoice(:'org', :'unpaid') AS s \gset
SELECT is((:'s'::jsonb) -> 'freshness' ->> 'fresh', 'false', 'a row older than its TTL is stale');
SELECT is((:'s'::jsonb) -> 'freshness' ->> 'source', 'mirror', 'and still answered from the mirror');
SELECT is((:'s'::jsonb) -> 'freshness' ->> 'refresh', 'queued', 'with a refresh queued');
SELECT ok(((:'s'::jsonb) -> 'freshness' ->> 'age_seconds')::numeric BETWEEN 172800 AND 172900, 'its age says two days');
SELECT is(pg_temp.api_calls(), :calls0::bigint, 'a stale read does not wait on Billy: no call');
SELECT ok(billy_test.wait_for(format($$SELECT pg_temp.grown(%L) = %L$$, :'unpaid', '(1,0,1,0,0,0)'), '10 s'), 'counted stale');
SELECT is((SELECT raw FROM billy.invoices WHERE organization_id = :'org' AND id = :'paid'),
          (SELECT raw FROM billy.invoices WHERE organization_id = :'org' AND id = :'paid'), 'reading writes nothing (see also 60-cache-wal.t)');

-- max_age: a GET now, when the copy is older than the caller accepts
SELECT billy_test.sandbox('POST', '/mutate', format('{"org":"%s","n":1,"kinds":["send"],"seed":61}', :'org'))::jsonb AS m \gset
SELECT (:'m'::jsonb) -> 'changes' -> 0 ->> 'id' AS sent \gset
SELECT billy_test.sandbox('GET', '/dump?org=' || :'org' || '&resource=invoices')::jsonb AS d \gset
SELECT (SELECT e ->> 'sentState' FROM jsonb_array_elements((:'d'::jsonb) -> 'invoices') e WHERE e ->> 'id' = :'sent') AS truth \gset
SELECT isnt((SELECT raw ->> 'sentState' FROM billy.invoices WHERE organization_id = :'org' AND id = :'sent'), :'truth',
            'upstream, the invoice was sent since the sync');
SELECT pg_temp.api_calls() AS calls1 \gset
SELECT billy.get_invoice(:'org', :'sent', interval '0') AS f \gset
SELECT is((:'f'::jsonb) -> 'invoice' ->> 'sentState', :'truth', 'max_age 0 (younger than any copy): the answer is Billy''s record now');
SELECT is((:'f'::jsonb) -> 'freshness' ->> 'source', 'api', 'from the API');
SELECT is(pg_temp.api_calls(), :calls1::bigint + 1, 'with exactly one call');
SELECT is((SELECT raw ->> 'sentState' FROM billy.invoices WHERE organization_id = :'org' AND id = :'sent'), :'truth',
          'and the mirror now has it');
SELECT is((SELECT count(*) FROM billy.changes WHERE organization_id = :'org' AND record_id = :'sent' AND operation = 'update'),
          1::bigint, 'logged as a change, like a sync''s');
SELECT billy.get_invoice(:'org', :'paid', interval '1 day') AS y \gset
SELECT is((:'y'::jsonb) -> 'freshness' ->> 'source', 'mirror', 'a copy younger than max_age is answered from the mirror');

-- a miss: one GET, stored exactly as a sync stores it
DELETE FROM billy.invoices WHERE organization_id = :'org' AND id = :'other';
SELECT pg_temp.api_calls() AS calls2 \gset
SELECT billy.get_invoice(:'org', :'other') AS g \gset
SELECT is((:'g'::jsonb) -> 'freshness' ->> 'source', 'api', 'a row not in the mirror comes from the API');
SELECT is(pg_temp.api_calls(), :calls2::bigint + 1, 'with one call');
SELECT is((SELECT count(*) FROM billy.invoice_lines WHERE organization_id = :'org' AND invoice_id = :'other'),
          jsonb_array_length((:'g'::jsonb) -> 'invoice' -> 'lines')::bigint, 'stored with its lines');
SELECT ok(billy_test.wait_for(format($$SELECT pg_temp.grown(%L) = %L$$, :'other', '(1,0,0,1,0,1)'), '10 s'), 'counted as a miss with one API call');
CREATE TEMP TABLE resync AS SELECT * FROM billy.sync_now(:'org', ARRAY['invoices']);
SELECT is((SELECT rows_inserted + rows_updated + rows_deleted FROM resync), 0::bigint,
          'the next sync writes nothing: what the reads stored is what the sync would have');

SELECT throws_ok(format($$SELECT billy.get_invoice(%L, 'NoSuchInvoice00000000')$$, :'org'), 'P0002',
                 'invoice "NoSuchInvoice00000000" does not exist in Billy', 'an id Billy does not know: no_data_found');
UPDATE billy.invoices SET deleted_at = now() WHERE organization_id = :'org' AND id = :'other';
SELECT throws_like(format($$SELECT billy.get_invoice(%L, %L)$$, :'org', :'other'), '%was deleted in Billy',
                   'a row a sync found deleted: no_data_found, without asking Billy');
UPDATE billy.invoices SET deleted_at = NULL WHERE organization_id = :'org' AND id = :'other';

-- Billy failing: the copy, flagged with the reason; an error without a copy
SELECT billy_test.fault('{"kind":"status","status":503,"path":"/v2/invoices"}');
SELECT billy.get_invoice(:'org', :'paid', interval '0') AS e \gset
SELECT is((:'e'::jsonb) -> 'freshness' ->> 'source', 'mirror', 'Billy failing: the mirror''s copy is answered');
SELECT is((:'e'::jsonb) -> 'freshness' ->> 'fresh', 'false', 'flagged as not fresh');
SELECT is((:'e'::jsonb) -> 'freshness' ->> 'stale_reason', 'http_5xx', 'with the reason');
SELECT is((:'e'::jsonb) -> 'freshness' ->> 'error', 'Billy''s API failed with HTTP 503', 'and the error');
DELETE FROM billy.invoices WHERE organization_id = :'org' AND id = :'other';
SELECT throws_like(format($$SELECT billy.get_invoice(%L, %L)$$, :'org', :'other'),
                   '%is not in the mirror and Billy could not be asked: Billy''s API failed with HTTP 503',
                   'no copy and Billy failing: a clear error');

-- the breaker: after billy.breaker_failures failures it opens; reads then
-- answer the copy without calling Billy
SELECT count(*) FROM (SELECT billy.get_invoice(:'org', :'paid', interval '0') FROM generate_series(1, 3)) x;
SELECT is((SELECT state FROM billy.breaker_status() WHERE organization_id = :'org'), 'open',
          'five failed reads open the organization''s breaker');
SELECT billy_test.clear_faults();
SELECT pg_temp.api_calls() AS calls3 \gset
SELECT billy.get_invoice(:'org', :'paid', interval '0') AS b \gset
SELECT is((:'b'::jsonb) -> 'freshness' ->> 'stale_reason', 'breaker_open', 'breaker open: the copy, flagged breaker_open');
SELECT is(pg_temp.api_calls(), :calls3::bigint, 'and Billy is not called');
UPDATE billy.sync_state SET last_complete_scan_at = now() - interval '2 days', last_hot_scan_at = now() - interval '2 days'
WHERE organization_id = :'org' AND resource = 'invoices';
SELECT is((billy.get_invoice(:'org', :'unpaid')) -> 'freshness' ->> 'stale_reason', 'breaker_open',
          'a stale read says so too');
SET LOCAL billy.read_confirm = on;
SELECT billy.get_invoice(:'org', :'unpaid') AS c \gset
SELECT ok((:'c'::jsonb) -> 'freshness' ->> 'fresh' = 'false'
          AND ((:'c'::jsonb) -> 'freshness' ->> 'age_seconds')::numeric > ((:'c'::jsonb) -> 'freshness' ->> 'max_age_seconds')::numeric
          AND (:'c'::jsonb) -> 'freshness' ->> 'stale_reason' = 'breaker_open',
          'a read that wants it confirmed gets the copy too: fresh false, its age beyond its window, breaker_open');
UPDATE billy.invoices SET confirmed_at = now() - interval '2 days' WHERE organization_id = :'org' AND NOT is_paid;
SELECT billy.list_invoices(:'org', paid => false, "limit" => 5) -> 'freshness' AS l \gset
SELECT ok((:'l'::jsonb) ->> 'fresh' = 'false' AND (:'l'::jsonb) ->> 'stale_reason' = 'breaker_open',
          'and a list: fresh false, breaker_open');
SELECT is(pg_temp.api_calls(), :calls3::bigint, 'still without calling Billy');
SET LOCAL billy.read_confirm = off;
SELECT throws_ok(format($$SELECT billy.get_invoice(%L, %L)$$, :'org', :'other'), '08006',
                 format('invoice "%s" is not in the mirror and Billy is not being called', :'other'),
                 'no copy and the breaker open: a clear error');
SELECT count(*) FROM billy.sync_now(:'org', ARRAY['accounts']);
SELECT is((SELECT state FROM billy.breaker_status() WHERE organization_id = :'org'), 'closed', 'a successful sync closes it again');

-- a slow Billy: billy.read_through_timeout_ms bounds the wait
SET LOCAL billy.read_through_timeout_ms = 300;
SELECT billy_test.fault('{"kind":"latency","ms":3000,"path":"/v2/invoices"}');
SELECT clock_timestamp() AS t0 \gset
SELECT billy.get_invoice(:'org', :'paid', interval '0') AS t \gset
SELECT cmp_ok(clock_timestamp() - :'t0'::timestamptz, '<', interval '2 seconds', 'a read waits at most about billy.read_through_timeout_ms');
SELECT is((:'t'::jsonb) -> 'freshness' ->> 'stale_reason', 'timeout', 'and answers the copy, flagged timeout');
SELECT is((SELECT state FROM billy.breaker_status() WHERE organization_id = :'org'), 'closed',
          'a read''s short timeout is no evidence against Billy: the breaker stays closed');
SELECT billy_test.clear_faults();

-- privileges: row-level security decides, and a hidden organization is not fetched
CREATE ROLE cache_test_reader;
GRANT billy_reader TO cache_test_reader;
SET LOCAL ROLE cache_test_reader;
SELECT throws_ok(format($$SELECT billy.get_invoice(%L, %L)$$, :'org', :'paid'), '42704',
                 format('unknown Billy organization "%s"', :'org'),
                 'a reader without a grant for the organization does not see it: nothing, not even from the API');
RESET ROLE;
SELECT billy.grant_organization('cache_test_reader', :'org');
SET LOCAL ROLE cache_test_reader;
SELECT is(billy.get_invoice(:'org', :'paid') -> 'invoice' ->> 'id', :'paid', 'with the grant it reads');
RESET ROLE;

-- bad input
SELECT throws_ok(format($$SELECT billy.get_invoice(%L, NULL)$$, :'org'), '22004', 'id must not be null', 'a null id');
SELECT throws_ok(format($$SELECT billy.get_invoice(%L, %L, '-1 minute')$$, :'org', :'paid'), '22023',
                 'max_age must not be negative', 'a negative max_age');
SELECT throws_like(format($$SELECT billy.get_invoice(NULL, %L)$$, :'paid'), '2 Billy organizations are connected%',
                   'org NULL with two organizations connected');

-- a read-only transaction: a miss is answered, not stored
SET LOCAL transaction_read_only = on;
SELECT billy.get_invoice(:'org', :'other') AS r \gset
SELECT is((:'r'::jsonb) -> 'freshness' ->> 'stored', 'false', 'in a read-only transaction a miss is answered and says it was not stored');

SELECT * FROM finish();
ROLLBACK;
