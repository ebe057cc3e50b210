-- The rollups equal a recomputation from the raw mirror (plain GROUP BYs,
-- billy_test.analytics_differences in test/fixtures.sql), to the øre, on the
-- sandbox's generated books: after a first sync of two organizations, after
-- syncs of upstream changes (payments, part payments, voids, voided
-- payments, credit notes, new and deleted drafts, approvals, bills), after
-- records are marked deleted and found again, after edits of every field
-- that matters, hard deletes and a rebuild.  A resync that changes nothing
-- writes no rollup row.  Runs inline (billy.sync_now), rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(35);
SET LOCAL client_min_messages = warning;

SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url')) IS NOT NULL AS connected \gset
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) IS NOT NULL AS connected \gset

CREATE FUNCTION pg_temp.consistent() RETURNS text LANGUAGE sql AS $$
    SELECT COALESCE(string_agg(rollup || ': ' || rows, ', ') FILTER (WHERE rows <> 0), 'consistent')
    FROM billy_test.analytics_differences()
$$;

-- first sync
SELECT count(*) AS n FROM billy.sync_now() \gset
SELECT cmp_ok((SELECT count(*) FROM billy.analytics_daily), '>', 1000::bigint, 'the first sync fills the daily rollup');
SELECT ok((SELECT count(DISTINCT organization_id) = 2 FROM billy.analytics_customer_months), 'for both organizations');
SELECT ok((SELECT count(DISTINCT currency_id) >= 3 FROM billy.analytics_daily), 'in several currencies');
SELECT ok((SELECT count(*) > 0 FROM billy.analytics_daily WHERE kind = 'creditNote'), 'credit notes included');
SELECT is(pg_temp.consistent(), 'consistent', 'after a first sync, the rollups equal a recomputation from the mirror');

-- a resync of unchanged books writes no rollup row
SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) AS before FROM pg_stat_xact_user_tables
WHERE schemaname = 'billy' AND relname LIKE 'analytics\_%' \gset
SELECT sum(rows_inserted + rows_updated + rows_deleted) AS changed FROM billy.sync_now(billy_test.org(1), ARRAY['invoices', 'bills']) \gset
SELECT is(:changed::numeric, 0::numeric, 'a resync of unchanged books changes no record');
SELECT is((SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_xact_user_tables
           WHERE schemaname = 'billy' AND relname LIKE 'analytics\_%'), :before::numeric,
          'and writes no rollup row');

-- upstream changes of every kind, in three rounds, each followed by a sync
CREATE TEMP TABLE rounds (n int, changes jsonb);
INSERT INTO rounds
SELECT r, billy_test.sandbox('POST', '/mutate', format(
    '{"org":"%s","n":40,"seed":%s,"kinds":["pay","partlyPay","payBill","void","voidPayment","creditNote","newInvoice","approveDraft","deleteDraft","newBill","send"]}',
    billy_test.org(1 + r % 2), 600 + r))::jsonb
FROM generate_series(1, 3) r;
SELECT ok((SELECT count(*) >= 100 FROM rounds, jsonb_array_elements(changes -> 'changes')), 'the sandbox made 120 changes upstream');
SELECT ok((SELECT count(DISTINCT c ->> 'kind') >= 9 FROM rounds, jsonb_array_elements(changes -> 'changes') c),
          'of many kinds');
SELECT is((SELECT count(*) FROM billy.sync_now() WHERE rows_inserted + rows_updated > 0) > 0, true, 'a sync writes them');
SELECT is(pg_temp.consistent(), 'consistent', 'after syncs of upstream changes, the rollups equal a recomputation');
SELECT ok((SELECT count(*) > 0 FROM billy.invoices WHERE state = 'voided'), 'voided invoices are in the mirror');
SELECT ok((SELECT count(*) > 0 FROM billy.balance_modifiers WHERE is_voided), 'and voided payments');

-- a draft created and deleted upstream is marked deleted
SELECT billy_test.api(billy_test.token(1), 'POST', '/invoices', jsonb_build_object('invoice', jsonb_build_object(
           'contactId', (SELECT contact_id FROM billy.invoices WHERE organization_id = billy_test.org(1) ORDER BY id LIMIT 1),
           'entryDate', '2026-06-29', 'currencyId', 'DKK',
           'lines', jsonb_build_array(jsonb_build_object(
               'productId', (SELECT id FROM billy.products WHERE organization_id = billy_test.org(1) ORDER BY id LIMIT 1),
               'unitPrice', 100))))) -> 'invoices' -> 0 ->> 'id' AS draft \gset
SELECT count(*) AS n FROM billy.sync_now(billy_test.org(1), ARRAY['invoices']) \gset
SELECT billy_test.api(billy_test.token(1), 'DELETE', '/invoices/' || :'draft') IS NOT NULL AS deleted \gset
SELECT is((SELECT sum(rows_deleted) FROM billy.sync_now(billy_test.org(1), ARRAY['invoices'])), 1::numeric,
          'a draft deleted upstream is marked deleted');

-- a second round on top
SELECT billy_test.sandbox('POST', '/mutate', format('{"org":"%s","n":60,"seed":700}', billy_test.org(1))) IS NOT NULL AS mutated \gset
SELECT count(*) AS n FROM billy.sync_now(billy_test.org(1)) \gset
SELECT is(pg_temp.consistent(), 'consistent', 'and after another round of 60 changes');

-- records marked deleted (as a scan would if they went missing) count no
-- more; when a later sync finds them again they count again
UPDATE billy.invoices SET deleted_at = now()
WHERE organization_id = billy_test.org(1) AND id IN (SELECT id FROM billy.invoices WHERE organization_id = billy_test.org(1)
                                                       AND state = 'approved' ORDER BY id LIMIT 25);
UPDATE billy.bills SET deleted_at = now()
WHERE organization_id = billy_test.org(1) AND id IN (SELECT id FROM billy.bills WHERE organization_id = billy_test.org(1)
                                                       AND state = 'approved' ORDER BY id LIMIT 10);
SELECT is(pg_temp.consistent(), 'consistent', 'records marked deleted leave the rollups');
SELECT sum(rows_inserted + rows_updated) AS found FROM billy.sync_now(billy_test.org(1), ARRAY['invoices', 'bills']) \gset
SELECT is(:found::numeric, 35::numeric, 'a sync finds the 35 records again');
SELECT is((SELECT count(*) FROM billy.invoices WHERE deleted_at IS NOT NULL AND state = 'approved'), 0::bigint,
          'and undeletes them');
SELECT is(pg_temp.consistent(), 'consistent', 'undeleted records are back in the rollups');

-- edits of everything the rollups depend on, as any writer of the mirror
-- might make them (the read path, writes back to Billy, an administrator)
SELECT setseed(0.66);
UPDATE billy.invoices SET exchange_rate = exchange_rate * 1.0123, currency_id = 'SEK'
WHERE id IN (SELECT id FROM billy.invoices WHERE state = 'approved' ORDER BY random() LIMIT 30);
SELECT is(pg_temp.consistent(), 'consistent', 'a change of currency and rate moves documents and their payments');
UPDATE billy.invoices i SET contact_id = (SELECT c.id FROM billy.contacts c WHERE c.organization_id = i.organization_id
                                          ORDER BY c.id LIMIT 1),
                            entry_date = entry_date + 17, due_date = due_date + 3
WHERE id IN (SELECT id FROM billy.invoices ORDER BY random() LIMIT 40);
SELECT is(pg_temp.consistent(), 'consistent', 'a change of customer and dates moves them');
UPDATE billy.invoices SET state = CASE state WHEN 'approved' THEN 'voided' ELSE 'approved' END
WHERE id IN (SELECT id FROM billy.invoices ORDER BY random() LIMIT 30);
UPDATE billy.invoices SET type = CASE type WHEN 'invoice' THEN 'creditNote' ELSE 'invoice' END, balance = balance + 10
WHERE id IN (SELECT id FROM billy.invoices ORDER BY random() LIMIT 20);
SELECT is(pg_temp.consistent(), 'consistent', 'changes of state, type and balance');
UPDATE billy.bills SET state = 'draft', balance = 0 WHERE id IN (SELECT id FROM billy.bills ORDER BY random() LIMIT 15);
UPDATE billy.bills SET type = 'creditNote' WHERE id IN (SELECT id FROM billy.bills ORDER BY random() LIMIT 5);
SELECT is(pg_temp.consistent(), 'consistent', 'changes of bills');
UPDATE billy.balance_modifiers SET is_voided = NOT is_voided WHERE id IN (SELECT id FROM billy.balance_modifiers ORDER BY random() LIMIT 40);
UPDATE billy.balance_modifiers SET entry_date = entry_date - 40, amount = amount * 2
WHERE id IN (SELECT id FROM billy.balance_modifiers ORDER BY random() LIMIT 40);
SELECT is(pg_temp.consistent(), 'consistent', 'changes of payments');
DELETE FROM billy.balance_modifiers WHERE id IN (SELECT id FROM billy.balance_modifiers ORDER BY random() LIMIT 30);
DELETE FROM billy.invoices WHERE id IN (SELECT id FROM billy.invoices ORDER BY random() LIMIT 30);
DELETE FROM billy.bills WHERE id IN (SELECT id FROM billy.bills ORDER BY random() LIMIT 10);
SELECT is(pg_temp.consistent(), 'consistent', 'rows deleted outright');
SELECT is((SELECT count(*) FROM billy.balance_modifiers m
           WHERE NOT EXISTS (SELECT 1 FROM billy.invoices i WHERE m.subject_type = 'invoice' AND i.organization_id = m.organization_id AND i.id = m.subject_id)
             AND NOT EXISTS (SELECT 1 FROM billy.bills b WHERE m.subject_type = 'bill' AND b.organization_id = m.organization_id AND b.id = m.subject_id)),
          0::bigint, 'the balance modifiers of documents deleted outright go with them');
-- one statement that touches the same document twice over (old and new
-- versions cancel) and many documents of one customer and day
UPDATE billy.invoices SET amount = amount, sent_state = 'viewed' WHERE organization_id = billy_test.org(2);
SELECT is(pg_temp.consistent(), 'consistent', 'an update that changes nothing that counts');

-- the whole organization resynced after all that: the mirror is Billy's
-- again, and so are the rollups
UPDATE billy.invoices SET content_hash = '\x00' WHERE organization_id = billy_test.org(2);
SELECT count(*) AS n FROM billy.sync_now(billy_test.org(2), ARRAY['invoices', 'bills']) \gset
SELECT is(pg_temp.consistent(), 'consistent', 'after a resync that rewrites every invoice');

-- a rebuild from the mirror gives the same rollups
CREATE TEMP TABLE before_rebuild AS SELECT * FROM billy.analytics_daily;
SELECT is(billy.analytics_rebuild(), 2, 'analytics_rebuild rebuilds both organizations');
SELECT is(pg_temp.consistent(), 'consistent', 'and agrees with the recomputation');
SELECT is((SELECT count(*) FROM (SELECT * FROM before_rebuild EXCEPT SELECT * FROM billy.analytics_daily) x), 0::bigint,
          'and with the rollups the triggers kept');

-- truncating the mirror empties the rollups; deleting an organization takes its rollups along
TRUNCATE billy.balance_modifiers;
SELECT is(pg_temp.consistent(), 'consistent', 'after TRUNCATE of the balance modifiers');
UPDATE billy.invoices SET content_hash = '\x00' WHERE organization_id = billy_test.org(2);
SELECT count(*) AS n FROM billy.sync_now(billy_test.org(2), ARRAY['invoices']) \gset
SELECT ok((SELECT count(*) FROM billy.balance_modifiers WHERE organization_id = billy_test.org(2)) > 0
          AND pg_temp.consistent() = 'consistent', 'a resync brings the payments back, and the rollups follow');
DELETE FROM billy.organizations WHERE id = billy_test.org(2);
SELECT is((SELECT count(*) FROM billy.analytics_daily WHERE organization_id = billy_test.org(2))
          + (SELECT count(*) FROM billy.analytics_customer_days WHERE organization_id = billy_test.org(2))
          + (SELECT count(*) FROM billy.analytics_contacts WHERE organization_id = billy_test.org(2)), 0::bigint,
          'deleting an organization deletes its rollups');
SELECT is((SELECT count(*) FROM billy.balance_modifiers WHERE organization_id = billy_test.org(2)), 0::bigint,
          'and its balance modifiers (connecting it again would fail on them)');

SELECT * FROM finish();
ROLLBACK;
