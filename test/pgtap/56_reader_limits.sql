-- What a low-privilege role cannot do (issue 15): see another organization's
-- sync schedule, fill the shared read counters with made-up names and ids,
-- leave Billy's /v2 through billy.api_get; a contact person that turns up
-- under another contact follows it instead of failing every later sync; a
-- failed inline sync frees its memory.  One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(23);

SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1));
SELECT billy.connect(billy_test.token(2));
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(NULL, ARRAY['contacts', 'invoices']);
CREATE ROLE limits_reader NOLOGIN IN ROLE billy_reader;
SELECT billy.grant_organization('limits_reader', billy_test.org(1));

-- the sync schedule of organizations the caller does not see
SELECT billy.sync(billy_test.org(1), ARRAY['contacts']);
SELECT billy.sync(billy_test.org(2), ARRAY['contacts']);
INSERT INTO billy.sync_runs (organization_id, resource, mode) VALUES (billy_test.org(2), 'contacts', 'full'), (billy_test.org(1), 'contacts', 'full');
SELECT ok(billy._queued_sync_at(billy_test.org(2), 'contacts') IS NOT NULL AND billy._running_sync(billy_test.org(2), 'contacts'),
          'an administrator sees organization 2''s queued and running sync');
SET LOCAL ROLE limits_reader;
SELECT ok(billy._queued_sync_at(billy_test.org(2), 'contacts') IS NULL, 'a reader of organization 1 does not see when 2''s next sync is queued');
SELECT ok(NOT billy._running_sync(billy_test.org(2), 'contacts'), 'nor that it is running');
SELECT ok(billy._queued_sync_at(billy_test.org(1), 'contacts') IS NOT NULL AND billy._running_sync(billy_test.org(1), 'contacts'),
          'but sees its own organization''s');
RESET ROLE;

-- the shared read counters: only real list reads count
SET LOCAL ROLE limits_reader;
SELECT billy._cache_count_list(billy_test.org(1), 'made-up-resource-' || i, NULL) FROM generate_series(1, 50) i;
SELECT billy._cache_count_list(billy_test.org(1), 'invoices', ARRAY(SELECT 'made-up-id-' || i FROM generate_series(1, 500) i));
SELECT billy._cache_count_list(billy_test.org(2), 'invoices', ARRAY(SELECT id FROM billy.invoices LIMIT 3));
RESET ROLE;
SELECT is((SELECT count(*)::int FROM billy._cache_counters() WHERE resource LIKE 'made-up%'), 0,
          'a reader cannot add counters for resources that do not exist');
SELECT is((SELECT count(*)::int FROM billy._cache_counters() WHERE record_id LIKE 'made-up%'), 0,
          'nor for ids that are not rows of the mirror');
SELECT is((SELECT count(*)::int FROM billy._cache_counters() WHERE organization_id = billy_test.org(2)), 0,
          'nor for an organization it does not see');

-- billy.api_get stays below the organization's API URL (/v2)
SELECT throws_ok(format('SELECT billy.api_get(%L, %L)', billy_test.org(1), p), '22023', NULL, 'api_get refuses ' || p)
FROM unnest(ARRAY['/..', '/.', '/invoices/..', '/invoices/../..', '/%2e%2e', '/%2E./x', '/a/%2f/b', '/x/.?q=1']) p;
SELECT ok(billy.api_get(billy_test.org(1), '/invoices?pageSize=1&q=../..') ? 'invoices',
          'and still takes a plain path, dots in the query included');

-- a contact person whose id turns up under another contact follows it
SELECT (SELECT contact_id FROM billy.contact_persons p WHERE p.organization_id = billy_test.org(1) ORDER BY id LIMIT 1) AS from_contact,
       (SELECT id FROM billy.contact_persons p WHERE p.organization_id = billy_test.org(1) ORDER BY id LIMIT 1) AS person,
       (SELECT c.id FROM billy.contacts c WHERE c.organization_id = billy_test.org(1)
          AND c.id <> (SELECT contact_id FROM billy.contact_persons p WHERE p.organization_id = billy_test.org(1) ORDER BY id LIMIT 1)
        ORDER BY c.id LIMIT 1) AS to_contact
\gset
SELECT lives_ok(format($$SELECT billy._apply_contacts(%L, (SELECT max(id) FROM billy.sync_runs), %L::jsonb, ARRAY['\x00'::bytea], now())$$,
                       billy_test.org(1),
                       (SELECT jsonb_build_array(raw || jsonb_build_object('contactPersons', jsonb_build_array(
                                   jsonb_build_object('id', :'person', 'name', 'Moved', 'email', 'moved@example.dk'))))
                        FROM billy.contacts WHERE organization_id = billy_test.org(1) AND id = :'to_contact')),
                'a page with a person the mirror has under another contact applies');
SELECT is((SELECT contact_id || ' ' || name FROM billy.contact_persons WHERE organization_id = billy_test.org(1) AND id = :'person'),
          :'to_contact' || ' Moved', 'and the person now belongs to the contact that listed it last');
SELECT lives_ok(format($$SELECT billy._apply_contacts(%L, (SELECT max(id) FROM billy.sync_runs), %L::jsonb, ARRAY['\x01'::bytea, '\x02'::bytea], now())$$,
                       billy_test.org(1),
                       (SELECT jsonb_agg(raw || jsonb_build_object('contactPersons', jsonb_build_array(
                                   jsonb_build_object('id', :'person', 'name', 'Twice ' || id))) ORDER BY id)
                        FROM billy.contacts WHERE organization_id = billy_test.org(1) AND id IN (:'from_contact', :'to_contact'))),
                'a page listing one person under two contacts applies too');
SELECT is((SELECT count(*)::int FROM billy.contact_persons WHERE organization_id = billy_test.org(1) AND id = :'person'), 1,
          'the person is there once, under the last contact that listed it');
SELECT lives_ok(format('SELECT count(*) FROM billy.sync_now(%L, ARRAY[''contacts''])', billy_test.org(1)),
                'and the next sync of contacts runs');

-- a failed inline sync leaves no memory behind
SELECT billy_test.fault('{"kind":"status","status":500,"path":"/v2/contacts","count":100}');
SELECT ok(bool_and(billy_test.try(format('SELECT count(*) FROM billy.sync_now(%L, ARRAY[''contacts''])', billy_test.org(1))) <> 'ok'),
          'five syncs fail') FROM generate_series(1, 5);
SELECT billy_test.clear_faults();
SELECT is((SELECT count(*)::int FROM pg_backend_memory_contexts WHERE name = 'billy sync'), 0,
          'and none of them left its memory context');

SELECT * FROM finish();
ROLLBACK;
