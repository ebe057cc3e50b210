-- Bank lines synced (issue 14): Billy lists them only per bank account
-- (accountId is required), so their catalog row declares a scope
-- (billy.resources.scope_param, scope_source) and the scan of the resource
-- runs once per bank account of the mirror.  The lines are the sandbox's,
-- a resync writes nothing, an upstream new line, change and deletion are
-- followed, and a deletion touches only the scanned account's lines.
-- One transaction, rolled back (the sandbox's changes are on an
-- organization of its own).
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(17);
SET LOCAL client_min_messages = warning;

-- the catalog
SELECT is((SELECT row(scope_param, billy._resource_scope_column(name))::text FROM billy.resources WHERE name = 'bankLines'),
          '(accountId,account_id)', 'bank lines are scanned per accountId, held in bank_lines.account_id');
SELECT throws_ok($$UPDATE billy.resources SET scope_param = 'parentId' WHERE name = 'bankLines'$$, '42703',
                 'resource bankLines is scanned per parentId, but no catalog column holds that key',
                 'a scope whose key no catalog column holds is refused');
SELECT throws_ok($$UPDATE billy.resources SET scope_source = NULL WHERE name = 'bankLines'$$, '23514', NULL,
                 'a scope needs both its parameter and the query of its values');

-- organization 2's generated books: every line of every bank account
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) AS org \gset
SELECT count(*) AS synced FROM billy.sync_now(:'org', ARRAY['accounts', 'bankLines']) \gset
CREATE TEMP TABLE dump AS
SELECT e AS l FROM jsonb_array_elements(billy_test.sandbox('GET', '/dump?org=' || :'org' || '&resource=bankLines')::jsonb -> 'bankLines') e;
SELECT ok((SELECT count(*) FROM dump) > 100 AND (SELECT count(DISTINCT l ->> 'accountId') FROM dump) >= 2,
          'the sandbox''s statement has lines on several bank accounts');
SELECT is((SELECT count(*) FROM dump d FULL JOIN (SELECT * FROM billy.bank_lines WHERE organization_id = :'org' AND deleted_at IS NULL) m
           ON m.id = d.l ->> 'id'
           WHERE m.raw IS DISTINCT FROM d.l OR m.account_id IS DISTINCT FROM d.l ->> 'accountId'
              OR m.match_id IS DISTINCT FROM d.l ->> 'matchId' OR m.amount IS DISTINCT FROM (d.l ->> 'amount')::numeric),
          0::bigint, 'the synced lines are the sandbox''s dump, record for record');
SELECT ok((SELECT pages >= 2 FROM billy.sync_runs WHERE organization_id = :'org' AND resource = 'bankLines' ORDER BY id DESC LIMIT 1),
          'one scan of the resource read a page per bank account');
SELECT max(id) AS last_run FROM billy.sync_runs \gset
SELECT count(*) AS resynced FROM billy.sync_now(:'org', ARRAY['bankLines']) \gset
SELECT is((SELECT rows_inserted + rows_updated + rows_deleted FROM billy.sync_runs WHERE id > :last_run AND resource = 'bankLines'),
          0::bigint, 'a resync that finds nothing changed writes no row');

-- an organization of its own (with generated books): lines made, changed
-- (matched) and deleted upstream
SELECT billy_test.sandbox('POST', '/organizations', '{"name":"Banklinjer ApS"}')::jsonb AS o \gset
SELECT :'o'::jsonb ->> 'token' AS tok \gset
SELECT billy.connect(:'tok', billy_test.setting('api_url')) AS org3 \gset
SELECT count(*) FROM billy.sync_now(:'org3', ARRAY['accounts']);
SELECT a.id AS dkk FROM billy.accounts a WHERE a.organization_id = :'org3' AND a.is_bank_account AND a.currency_id IS DISTINCT FROM 'EUR'
ORDER BY a.account_no LIMIT 1 \gset
SELECT a.id AS eur FROM billy.accounts a WHERE a.organization_id = :'org3' AND a.is_bank_account AND a.currency_id = 'EUR'
ORDER BY a.account_no LIMIT 1 \gset
SELECT a.id AS sales FROM billy.accounts a WHERE a.organization_id = :'org3' AND NOT a.is_bank_account ORDER BY a.account_no LIMIT 1 \gset
SELECT jsonb_agg(billy_test.api(:'tok', 'POST', '/bankLines', jsonb_build_object('bankLine', jsonb_build_object(
           'accountId', x.acc, 'entryDate', '2026-03-0' || x.n, 'amount', 100 * x.n, 'side', 'debit', 'description', 'Indbetaling ' || x.n)))
           -> 'bankLines' -> 0 ->> 'id' ORDER BY x.n) AS lines
FROM (VALUES (:'dkk', 1), (:'dkk', 2), (:'dkk', 3), (:'eur', 4)) x(acc, n) \gset
SELECT count(*) FROM billy.sync_now(:'org3', ARRAY['bankLines']);
SELECT is((SELECT count(DISTINCT account_id) || ' ' || count(*) FROM billy.bank_lines
           WHERE organization_id = :'org3' AND deleted_at IS NULL AND id IN (SELECT jsonb_array_elements_text(:'lines'::jsonb))),
          '2 4', 'new lines upstream are synced, on both bank accounts');

-- upstream: one DKK line deleted, one matched to a journal entry booked on the account
SELECT billy_test.api(:'tok', 'DELETE', '/bankLines/' || (:'lines'::jsonb ->> 0)) IS NOT NULL AS deleted \gset
SELECT billy_test.api(:'tok', 'POST', '/daybookTransactions', jsonb_build_object('daybookTransaction', jsonb_build_object(
           'entryDate', '2026-03-02', 'description', 'Indskud', 'state', 'approved', 'lines', jsonb_build_array(
               jsonb_build_object('accountId', :'dkk', 'side', 'debit', 'amount', 200),
               jsonb_build_object('accountId', :'sales', 'side', 'credit', 'amount', 200)))))
           -> 'daybookTransactions' -> 0 ->> 'id' AS dbt \gset
SELECT billy_test.api(:'tok', 'POST', '/bankLineMatches', jsonb_build_object('bankLineMatch', jsonb_build_object(
           'lineIds', jsonb_build_array(:'lines'::jsonb ->> 1),
           'subjectAssociations', jsonb_build_array(jsonb_build_object('subjectReference', 'daybookTransaction:' || :'dbt')))))
           -> 'bankLineMatches' -> 0 ->> 'id' AS match_id \gset
-- the mirror: a line of no bank account (a stand-in from elsewhere) and a
-- line of the EUR account the sandbox never had; only the EUR one is in a
-- scanned account, looked up, and gone
INSERT INTO billy.bank_lines (organization_id, id, account_id, amount, side, raw, content_hash)
VALUES (:'org3', 'not-a-bank-account-line', :'sales', 1, 'debit', '{}', '\x00'),
       (:'org3', 'vanished-eur-line', :'eur', 1, 'debit', '{}', '\x00');
SELECT max(id) AS last_run FROM billy.sync_runs \gset
SELECT count(*) FROM billy.sync_now(:'org3', ARRAY['bankLines']);
SELECT isnt((SELECT deleted_at FROM billy.bank_lines WHERE organization_id = :'org3' AND id = :'lines'::jsonb ->> 0), NULL,
            'a line deleted upstream is marked deleted');
SELECT is((SELECT match_id FROM billy.bank_lines WHERE organization_id = :'org3' AND id = :'lines'::jsonb ->> 1), :'match_id',
          'a line matched upstream has its match');
SELECT isnt((SELECT deleted_at FROM billy.bank_lines WHERE organization_id = :'org3' AND id = 'vanished-eur-line'), NULL,
            'a line missing from its own account''s complete scan is marked deleted');
SELECT is((SELECT deleted_at FROM billy.bank_lines WHERE organization_id = :'org3' AND id = 'not-a-bank-account-line'), NULL,
          'a line of an account that is not scanned is left alone');
SELECT is((SELECT row(rows_inserted, rows_updated, rows_deleted)::text FROM billy.sync_runs WHERE id > :last_run AND resource = 'bankLines'),
          '(0,1,2)', 'the scan wrote the matched line and the two deletions, nothing else');
SELECT is((SELECT count(*) FROM billy.bank_lines WHERE organization_id = :'org3' AND deleted_at IS NULL AND match_id IS NULL
           AND id IN (:'lines'::jsonb ->> 2, :'lines'::jsonb ->> 3)), 2::bigint, 'the other new lines are there, unmatched');

-- scope_source is only ever a query: a statement that writes is refused
SELECT count(*) AS accounts_before FROM billy.accounts WHERE organization_id = :'org3' \gset
SELECT scope_source AS saved_source FROM billy.resources WHERE name = 'bankLines' \gset
UPDATE billy.resources SET scope_source = 'DELETE FROM billy.accounts RETURNING id' WHERE name = 'bankLines';
SELECT throws_ok(format('SELECT * FROM billy.sync_now(%L, ARRAY[''bankLines''])', :'org3'), '42601', NULL,
                 'a scope_source that is not a query fails the scan');
SELECT is((SELECT count(*) FROM billy.accounts WHERE organization_id = :'org3'), :'accounts_before'::bigint,
          'and changes nothing');
UPDATE billy.resources SET scope_source = :'saved_source' WHERE name = 'bankLines';

-- the floor a sync is measured against reads the same pages: one scope each
SELECT is((SELECT pages FROM billy._sync_floor(:'org3', 'bankLines', false)),
          (SELECT count(*)::integer FROM billy.accounts WHERE organization_id = :'org3' AND is_bank_account AND deleted_at IS NULL),
          'billy._sync_floor reads a page per bank account too');

SELECT * FROM finish();
ROLLBACK;
