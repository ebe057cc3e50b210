-- billy.get_* without an organization id (NULL or a name): resolved from the
-- backend's copy of billy.organizations, not by billy._resolve_org on every
-- call (counted with track_functions), and the copy follows the table:
-- another organization connected, a rename, row-level security.  One
-- transaction, rolled back.
\set ON_ERROR_STOP 1
SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(8);
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['invoices']);
SELECT billy_test.org(1) AS org \gset
SELECT name AS org_name FROM billy.organizations WHERE id = :'org' \gset
SELECT id AS inv FROM billy.invoices WHERE organization_id = :'org' ORDER BY id LIMIT 1 \gset
-- org 1 the only one connected, here
UPDATE billy.organizations SET disconnected_at = now() WHERE id <> :'org' AND disconnected_at IS NULL;

SET LOCAL track_functions = 'pl';
CREATE FUNCTION pg_temp.resolve_calls() RETURNS bigint LANGUAGE sql
RETURN (SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE schemaname = 'billy' AND funcname = '_resolve_org');
SELECT pg_temp.resolve_calls() AS before \gset
SELECT is((SELECT count(*) FROM generate_series(1, 20) g WHERE billy.get_invoice(NULL, :'inv') -> 'invoice' ->> 'id' = :'inv'),
          20::bigint, 'get_invoice without org, 20 times: the only organization''s invoice');
SELECT is((SELECT count(*) FROM generate_series(1, 20) g WHERE billy.get_invoice(upper(:'org_name'), :'inv') -> 'invoice' ->> 'id' = :'inv'),
          20::bigint, 'by name, in any case, 20 times');
SELECT is(pg_temp.resolve_calls() - :before, 0::bigint, 'no SQL resolved the organization for those 40 reads');

-- the copy follows the table
UPDATE billy.organizations SET name = 'Omdøbt ApS' WHERE id = :'org';
SELECT is(billy.get_invoice('omdøbt aps', :'inv') -> 'invoice' ->> 'id', :'inv', 'renamed: the new name resolves');
SELECT throws_ok(format('SELECT billy.get_invoice(%L, %L)', :'org_name', :'inv'), '42704', NULL,
                 'the old name no longer does');
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) IS NOT NULL AS connected2 \gset
SELECT throws_ok(format('SELECT billy.get_invoice(NULL, %L)', :'inv'), '22023', '2 Billy organizations are connected; name one',
                 'another connected: without org, the caller is told to name one');

-- row-level security: a reader without a grant resolves nothing
CREATE ROLE billy_resolve_nobody IN ROLE billy_reader;
SET LOCAL ROLE billy_resolve_nobody;
SELECT throws_ok(format('SELECT billy.get_invoice(%L, %L)', 'omdøbt aps', :'inv'), '42704', NULL,
                 'a role that may not see the organization: unknown, by name');
RESET ROLE;
SELECT is(billy.get_invoice('omdøbt aps', :'inv') -> 'invoice' ->> 'id', :'inv', 'and back as the superuser: found');

SELECT * FROM finish();
ROLLBACK;
