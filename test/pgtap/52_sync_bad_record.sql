-- One record the mirror refuses no longer fails its page and every later
-- sync of the resource (issue 15, item 7): the sync stores the rest of the
-- page, notes the record (id, error, SQLSTATE) in its run and in
-- billy.sync_status, and the next sync tries it again.  Billy-sandbox
-- validates what it accepts, so the refusal comes from a constraint added
-- to the mirror table here, on one of the sandbox's contacts: it stands for
-- a value the mirror cannot store (the sandbox's books are left as they
-- are: later files' mutations depend on them).  Inline (billy.sync_now),
-- rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(12);
SET LOCAL client_min_messages = error;

SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url')) AS org \gset

-- a first sync in pages of 50; the mirror refuses the eighth contact
SET LOCAL billy.sync_page_size = 50;
SELECT d -> 7 ->> 'id' AS bad, jsonb_array_length(d) AS upstream
FROM (SELECT billy_test.sandbox('GET', '/dump?org=' || :'org' || '&resource=contacts')::jsonb -> 'contacts' AS d) x \gset
SELECT format('ALTER TABLE billy.contacts ADD CONSTRAINT test_refused CHECK (id IS DISTINCT FROM %L)', :'bad') AS refuse \gset
:refuse;
SELECT lives_ok($$SELECT billy.sync_now(billy_test.org(1), ARRAY['contacts'])$$,
                'a sync of contacts with a record the mirror refuses succeeds');
SELECT is((SELECT count(*) FROM billy.contacts WHERE organization_id = :'org'), :upstream - 1::bigint,
          'every other contact is stored, its page mates included');
SELECT ok(NOT EXISTS (SELECT 1 FROM billy.contacts WHERE organization_id = :'org' AND id = :'bad'), 'the refused one is not');
SELECT is((SELECT (state, rows_failed)::text FROM billy.sync_status WHERE organization_id = :'org' AND resource = 'contacts'),
          '(ok,1)', 'billy.sync_status: the run succeeded, with one record refused');
SELECT is((SELECT failed_records -> 0 ->> 'id' FROM billy.sync_status WHERE organization_id = :'org' AND resource = 'contacts'),
          :'bad', 'it names the record');
SELECT is((SELECT failed_records -> 0 ->> 'sqlstate' FROM billy.sync_status WHERE organization_id = :'org' AND resource = 'contacts'),
          '23514', 'with the SQLSTATE');
SELECT ok((SELECT failed_records -> 0 ->> 'error' FROM billy.sync_status WHERE organization_id = :'org' AND resource = 'contacts')
          LIKE '%test_refused%', 'and the error');
SELECT is((SELECT complete FROM billy.sync_runs WHERE organization_id = :'org' AND resource = 'contacts' ORDER BY id DESC LIMIT 1),
          true, 'the scan was complete: deletions were decided');

-- the same again: the next sync tries it again (and nothing else)
SELECT is((SELECT rows_inserted + rows_updated FROM billy.sync_now(billy_test.org(1), ARRAY['contacts'])), 0::bigint,
          'a resync still refuses it and writes nothing else');
SELECT is((SELECT rows_failed FROM billy.sync_status WHERE organization_id = :'org' AND resource = 'contacts'), 1::bigint,
          'and notes it again');

-- once the mirror accepts it, the next sync stores it
ALTER TABLE billy.contacts DROP CONSTRAINT test_refused;
SELECT is((SELECT rows_inserted FROM billy.sync_now(billy_test.org(1), ARRAY['contacts'])), 1::bigint,
          'when the mirror takes it, the next sync stores it');
SELECT is((SELECT (rows_failed, failed_records IS NULL)::text FROM billy.sync_status
           WHERE organization_id = :'org' AND resource = 'contacts'), '(0,t)', 'and notes no refusal');

SELECT * FROM finish();
ROLLBACK;
