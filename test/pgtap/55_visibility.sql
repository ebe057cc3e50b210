-- Row-level security: a role sees only the organizations granted to it (or
-- every one, granted '*'), Supabase API roles also those in their JWT claim,
-- admins everything; scheduling through pg_cron; realtime publication.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(24);

SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1));
SELECT billy.connect(billy_test.token(2));
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(NULL, ARRAY['contacts', 'invoices']);

CREATE ROLE visibility_client_a NOLOGIN IN ROLE billy_reader;
CREATE ROLE visibility_client_b NOLOGIN IN ROLE billy_reader;
CREATE ROLE visibility_bookkeeper NOLOGIN IN ROLE billy_reader;
CREATE ROLE authenticated NOLOGIN IN ROLE billy_reader;
SELECT billy.grant_organization('visibility_client_a', billy_test.org(1));
SELECT billy.grant_organization('visibility_client_b', (SELECT name FROM billy_test.orgs WHERE n = 2));
SELECT billy.grant_organization('visibility_bookkeeper');

CREATE FUNCTION pg_temp.seen(r name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE result text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    SELECT string_agg(DISTINCT o, ',' ORDER BY o) INTO result FROM (
        SELECT id AS o FROM billy.organizations
        UNION ALL SELECT organization_id FROM billy.invoices
        UNION ALL SELECT organization_id FROM billy.invoice_lines
        UNION ALL SELECT organization_id FROM billy.contacts
        UNION ALL SELECT organization_id FROM billy.changes
        UNION ALL SELECT organization_id FROM billy.sync_status) s;
    RESET ROLE;
    RETURN coalesce(result, '');
END $$;

SELECT is(pg_temp.seen('visibility_client_a'), billy_test.org(1), 'a role granted one organization sees only its rows, everywhere');
SELECT is(pg_temp.seen('visibility_client_b'), billy_test.org(2), 'an organization can be granted by name');
SELECT is(pg_temp.seen('visibility_bookkeeper'),
          (SELECT string_agg(id, ',' ORDER BY id) FROM billy_test.orgs WHERE n IN (1, 2)),
          'a role granted ''*'' sees every organization');
SELECT is(pg_temp.seen('billy_reader'), '', 'billy_reader itself sees nothing it was not granted');
SELECT is(pg_temp.seen('billy_admin'),
          (SELECT string_agg(id, ',' ORDER BY id) FROM billy_test.orgs WHERE n IN (1, 2)),
          'billy_admin sees every organization');

-- grants are per role; members inherit them
CREATE ROLE visibility_member NOLOGIN IN ROLE visibility_client_a;
SELECT is(pg_temp.seen('visibility_member'), billy_test.org(1), 'a member of a granted role sees what the role sees');

-- Supabase: the JWT claim counts only for the roles in billy.jwt_roles
SELECT set_config('request.jwt.claims', json_build_object('billy_organizations', json_build_array(billy_test.org(2)))::text, true);
SELECT is(pg_temp.seen('authenticated'), billy_test.org(2), 'the authenticated role sees the organizations of its JWT claim');
SELECT set_config('request.jwt.claims', json_build_object('app_metadata', json_build_object('billy_organizations', json_build_array(billy_test.org(1))))::text, true);
SELECT is(pg_temp.seen('authenticated'), billy_test.org(1), 'also when the claim sits in app_metadata');
SELECT is(pg_temp.seen('visibility_client_b'), billy_test.org(2), 'other roles ignore a JWT claim (anyone can SET a custom setting)');
SELECT set_config('request.jwt.claims', 'not json', true);
SELECT is(pg_temp.seen('authenticated'), '', 'a malformed claim shows nothing and raises nothing');

-- revoking
SELECT is(billy.revoke_organization('visibility_client_a', billy_test.org(1)), true, 'a grant can be revoked');
SELECT is(pg_temp.seen('visibility_client_a'), '', 'and the role sees nothing again');
SELECT throws_ok($$SELECT billy.grant_organization('no_such_role', NULL)$$, '42704', 'role "no_such_role" does not exist',
          'granting to a role that does not exist is refused');
SELECT throws_ok($$SELECT billy.grant_organization('visibility_client_a', 'no such organization')$$, '42704', NULL,
          'granting an unknown organization is refused');

-- pg_cron
SELECT throws_like($$SELECT billy.schedule_sync()$$, '%pg_cron is loaded but not created in this database%',
          'without CREATE EXTENSION pg_cron, scheduling says what to do');
CREATE EXTENSION pg_cron;
SELECT ok(billy.schedule_sync() > 0, 'billy.schedule_sync creates the pg_cron job');
SELECT is((SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'billy-sync'), '*/15 * * * * SELECT billy.sync()',
          'every 15 minutes it queues a sync');
SELECT ok(billy.schedule_sync('*/5 * * * *') > 0, 'scheduling again updates the job');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'billy-sync'), 1::bigint, 'there is still one job');
SELECT throws_ok($$SELECT billy.schedule_sync('every now and then')$$, NULL, NULL, 'an invalid schedule is refused');
SELECT is(billy.unschedule_sync(), true, 'billy.unschedule_sync removes it');

-- realtime: a publication of its own when Supabase's is missing
SELECT is(billy.enable_realtime(), 'billy_realtime', 'billy.enable_realtime creates the billy_realtime publication');
SELECT is((SELECT count(*) FROM pg_publication_tables WHERE pubname = 'billy_realtime' AND schemaname = 'billy'),
          (SELECT count(*) + 3 FROM billy._mirror_tables()), 'with the organizations, every mirror table of the catalog, sync_state and changes');
SELECT is(billy.enable_realtime(), 'billy_realtime', 'enabling again changes nothing');

SELECT * FROM finish();
ROLLBACK;
