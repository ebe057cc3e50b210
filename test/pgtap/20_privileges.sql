-- Who may do what: readers read, admins connect and queue work, nobody but
-- the extension owner reads a credential, PUBLIC may do nothing at all.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(25);

SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));

-- the credential table
SELECT ok(NOT has_table_privilege('billy_reader', 'billy._credentials', 'SELECT'), 'billy_reader may not read credentials');
SELECT ok(NOT has_table_privilege('billy_admin', 'billy._credentials', 'SELECT'), 'billy_admin may not read credentials');
SELECT ok(NOT has_table_privilege('billy_mcp', 'billy._credentials', 'SELECT'), 'billy_mcp may not read credentials');
SELECT ok(NOT has_table_privilege('public', 'billy._credentials', 'SELECT'), 'PUBLIC may not read credentials');

SET LOCAL ROLE billy_reader;
SELECT throws_ok('SELECT * FROM billy._credentials', '42501', NULL, 'reading credentials as billy_reader fails');
SELECT is((SELECT count(*) FROM billy.organizations), 0::bigint, 'billy_reader sees no organization it was not granted');
RESET ROLE;
SELECT billy.grant_organization('billy_reader', billy_test.org(1));
SET LOCAL ROLE billy_reader;
SELECT is((SELECT count(*) FROM billy.organizations), 1::bigint, 'billy_reader sees an organization granted to it');
SELECT ok((billy.check_connection() ->> 'ok')::boolean, 'billy_reader may check the connection (the token stays hidden)');
SELECT ok((SELECT running FROM billy.worker_status()), 'billy_reader may see the worker''s status');
SELECT throws_ok(format('SELECT billy.connect(%L)', billy_test.token(1)), '42501', NULL, 'billy_reader may not connect organizations');
SELECT throws_ok(format('SELECT billy.disconnect(%L)', billy_test.org(1)), '42501', NULL, 'billy_reader may not disconnect organizations');
SELECT throws_ok('SELECT billy.refresh_organization()', '42501', NULL, 'billy_reader may not queue jobs');
SELECT throws_ok('SELECT billy.api_get(NULL, ''/organization'')', '42501', NULL, 'billy_reader may not call the API directly');
SELECT throws_ok('SELECT billy.rotate_key()', '42501', NULL, 'billy_reader may not rotate the key');
SELECT throws_ok('SELECT * FROM billy.jobs', '42501', NULL, 'billy_reader may not read the job queue');
RESET ROLE;

SET LOCAL ROLE billy_admin;
SELECT is(billy.connect(billy_test.token(1)), billy_test.org(1), 'billy_admin may connect an organization');
SELECT throws_ok(format('SELECT billy.connect(%L, %L)', billy_test.token(1), billy_test.setting('api_url')),
          '42501', 'only a superuser may give an organization its own api_url',
          'billy_admin may not point an organization at another server');
SELECT cmp_ok(billy.refresh_organization(), '>=', 1::bigint, 'billy_admin may queue jobs');
SELECT ok((billy.api_get(NULL, '/organization') -> 'organization' ->> 'id') = billy_test.org(1), 'billy_admin may call the API directly');
SELECT throws_ok('SELECT * FROM billy._credentials', '42501', NULL, 'reading credentials as billy_admin fails');
SELECT throws_ok('SELECT billy.rotate_key()', '42501', NULL, 'billy_admin may not rotate the key');
SELECT throws_ok('SELECT billy._upsert_organization(''{}'')', '42501', NULL, 'internal functions are not callable by billy_admin');
RESET ROLE;

-- PUBLIC: nothing
SELECT is_empty($$SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'billy'::regnamespace
                  AND has_function_privilege('public', p.oid, 'EXECUTE')$$,
          'PUBLIC may execute no function of billy');
SELECT is_empty($$SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'billy'::regnamespace
                  AND (has_table_privilege('public', c.oid, 'SELECT') OR has_table_privilege('public', c.oid, 'INSERT')
                       OR has_table_privilege('public', c.oid, 'UPDATE') OR has_table_privilege('public', c.oid, 'DELETE'))$$,
          'PUBLIC may touch no table of billy');
SELECT ok(NOT has_schema_privilege('public', 'billy', 'USAGE'), 'PUBLIC may not even use the schema');

SELECT * FROM finish();
ROLLBACK;
