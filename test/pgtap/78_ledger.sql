-- The books in the mirror and the statements computed from them, on
-- billy-sandbox's generated books (seed 42, today 2026-06-30, three years):
-- organizations 1 and 2 (calendar fiscal years) and a third made like the
-- sandbox's organization 3, whose fiscal year runs July-June.  Every
-- transaction balances; the rollup equals the postings; every trial balance
-- closes at opening + movements and adds up to 0; the P&L's result is the
-- balance sheet's change in equity; the cross-checks find nothing on the
-- sandbox's books and find a deliberately broken posting; the fiscal year
-- that is not the calendar year; the rollup follows changes to postings and
-- transactions; bad input.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(55);
SET LOCAL client_min_messages = warning;

SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url')) AS org1 \gset
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) AS org2 \gset
SELECT billy_test.sandbox('POST', '/organizations', '{"name":"Kystlys Studio I/S","fiscalYearEndMonth":6,"vatPeriod":"quarter"}')::jsonb AS o3 \gset
SELECT billy.connect(:'o3'::jsonb ->> 'token', billy_test.setting('api_url')) AS org3 \gset
SELECT count(*) AS synced FROM billy.sync_now() \gset
CREATE TEMP TABLE orgs AS SELECT unnest(ARRAY[:'org1', :'org2', :'org3']) AS id;

-- the books are there, and every transaction balances
SELECT ok((SELECT count(*) FROM billy.transactions WHERE organization_id = :'org1') > 500
          AND (SELECT count(*) FROM billy.postings WHERE organization_id = :'org3') > 1000
          AND (SELECT count(*) FROM billy.bank_lines WHERE organization_id = :'org2') > 100
          AND (SELECT count(*) FROM billy.account_groups WHERE organization_id = :'org1') = 14,
          'the books of three organizations are in the mirror');
SELECT is((SELECT count(*) FROM billy.transactions t
           WHERE (SELECT coalesce(sum(p.signed_amount), 1) FROM billy.postings p
                  WHERE p.organization_id = t.organization_id AND p.transaction_id = t.id) <> 0), 0::bigint,
          'every transaction in the mirror has postings that add up to 0');
SELECT is((SELECT count(*) FROM billy.postings WHERE signed_amount <> CASE side WHEN 'debit' THEN amount ELSE -amount END),
          0::bigint, 'signed_amount is debit + and credit -');
SELECT is((SELECT count(*) FROM billy.files WHERE raw ? 'downloadUrl'), 0::bigint, 'no file keeps its downloadUrl');
SELECT is((SELECT count(*) FROM billy.postings WHERE organization_id = :'org1'),
          (SELECT jsonb_array_length(billy_test.sandbox('GET', '/dump?org=' || :'org1' || '&resource=postings')::jsonb -> 'postings'))::bigint,
          'the sync brought every posting of the sandbox''s books');
SELECT max(id) AS last_run FROM billy.sync_runs \gset
SELECT count(*) AS resynced FROM billy.sync_now() \gset
SELECT is((SELECT sum(rows_inserted + rows_updated + rows_deleted) FROM billy.sync_runs
           WHERE id > :last_run AND resource IN ('currencies', 'accountGroups', 'daybooks', 'transactions',
                                                 'daybookTransactions', 'bankLineMatches', 'bankLines', 'files', 'attachments')),
          0::numeric, 'a sync that finds nothing changed writes no row of the books');

-- the rollup equals a GROUP BY over the postings, at both grains
CREATE FUNCTION pg_temp.rollup_diff() RETURNS bigint LANGUAGE sql AS $$
    WITH want AS (
        SELECT p.organization_id, g.grain, g.day, p.account_id,
               sum(CASE WHEN p.signed_amount > 0 THEN p.signed_amount ELSE 0 END) AS debit,
               sum(CASE WHEN p.signed_amount < 0 THEN -p.signed_amount ELSE 0 END) AS credit, count(*)::integer AS n
        FROM billy.postings p
        JOIN billy.transactions t ON t.organization_id = p.organization_id AND t.id = p.transaction_id
        CROSS JOIN LATERAL (VALUES ('day', p.entry_date), ('month', date_trunc('month', p.entry_date)::date)) g(grain, day)
        WHERE t.deleted_at IS NULL
        GROUP BY 1, 2, 3, 4
    )
    SELECT count(*) FROM want w FULL JOIN billy.ledger_sums s
        ON (s.organization_id, s.grain, s.day, s.account_id) = (w.organization_id, w.grain, w.day, w.account_id)
    WHERE (s.debit, s.credit, s.postings) IS DISTINCT FROM (w.debit, w.credit, w.n)
$$;
SELECT is(pg_temp.rollup_diff(), 0::bigint, 'billy.ledger_sums equals a GROUP BY over the postings (days and months)');
SELECT is((SELECT count(*) FROM billy.derived_pending), 0::bigint,
          'the first sync built it at its end: nothing is left marked');

-- trial balances: closing = opening + movements for every account, and the
-- openings, movements and closings each add up to 0, for fiscal years,
-- quarters, months and odd ranges of every organization
CREATE TEMP TABLE periods (period text);
INSERT INTO periods VALUES ('fy2024'), ('fy2025'), ('fy2026'), ('2024'), ('2025-Q1'), ('2025-Q3'), ('2024-02'),
                           ('2025-H2'), ('2024-03-17..2025-08-09'), ('2025-06-30..2025-07-01');
CREATE TEMP TABLE tb AS
SELECT o.id AS org, p.period, t.* FROM orgs o, periods p, billy.trial_balance(o.id, p.period) t;
SELECT is((SELECT count(*) FROM tb WHERE closing <> opening + debit - credit OR movement <> debit - credit), 0::bigint,
          'every trial balance row closes at opening + debits - credits');
SELECT is((SELECT count(*) FROM (SELECT org, period FROM tb GROUP BY 1, 2
                                 HAVING sum(opening) <> 0 OR sum(closing) <> 0 OR sum(movement) <> 0) x), 0::bigint,
          'every trial balance''s openings, movements and closings add up to 0');
SELECT is((SELECT count(DISTINCT (org, period)) FROM tb), 30::bigint, 'trial balances of three organizations and ten periods');
-- a trial balance's figures are the postings' own sums
SELECT is((SELECT count(*) FROM tb t
           JOIN billy.accounts a ON a.organization_id = t.org AND a.id = t.account_id
           CROSS JOIN LATERAL billy._ledger_period(t.org, t.period, CURRENT_DATE) d
           CROSS JOIN LATERAL (
                 SELECT coalesce(sum(p.amount) FILTER (WHERE p.side = 'debit'), 0) AS debit,
                        coalesce(sum(p.amount) FILTER (WHERE p.side = 'credit'), 0) AS credit
                 FROM billy.postings p WHERE p.organization_id = t.org AND p.account_id = t.account_id
                   AND p.entry_date BETWEEN d.start_date AND d.end_date) s
           WHERE (t.debit, t.credit) IS DISTINCT FROM (s.debit, s.credit)), 0::bigint,
          'every trial balance''s debits and credits are the sums of the account''s postings in the period');
-- balance sheet accounts carry their closing into the next period
SELECT is((SELECT count(*) FROM tb a JOIN tb b ON b.org = a.org AND b.account_id = a.account_id
           WHERE a.period = 'fy2024' AND b.period = 'fy2025' AND a.nature NOT IN ('revenue', 'expense')
             AND a.closing <> b.opening), 0::bigint,
          'each balance sheet account opens fy2025 with its closing of fy2024');

-- the P&L's result is the balance sheet's change in equity, less what was
-- booked straight on equity accounts in the period; assets = liabilities + equity
CREATE TEMP TABLE pl AS SELECT o.id AS org, p.period, l.* FROM orgs o, periods p, billy.profit_and_loss(o.id, p.period) l;
CREATE TEMP TABLE bs AS SELECT o.id AS org, p.period, l.* FROM orgs o, periods p, billy.balance_sheet(o.id, p.period) l;
SELECT is((SELECT count(*) FROM (
    SELECT x.org, x.period FROM bs x
    WHERE x.line = 'total' GROUP BY 1, 2
    HAVING sum(x.amount) FILTER (WHERE x.nature = 'asset') <> sum(x.amount) FILTER (WHERE x.account_name = 'Passiver i alt')
        OR sum(x.previous) FILTER (WHERE x.nature = 'asset') <> sum(x.previous) FILTER (WHERE x.account_name = 'Passiver i alt')) y),
    0::bigint, 'every balance sheet balances (Aktiver i alt = Passiver i alt), this year and the year before');
SELECT is((SELECT count(*) FROM orgs o CROSS JOIN (VALUES ('fy2025'), ('fy2026')) p(period)
           WHERE (SELECT amount FROM pl WHERE pl.org = o.id AND pl.period = p.period AND line = 'result')
              <> (SELECT amount - previous FROM bs WHERE bs.org = o.id AND bs.period = p.period AND line = 'total' AND nature = 'equity')
                 + (SELECT coalesce(sum(t.movement), 0) FROM tb t WHERE t.org = o.id AND t.period = p.period AND t.nature = 'equity')),
          0::bigint, 'the P&L''s result of a fiscal year is the balance sheet''s change in equity less the postings on equity accounts');
SELECT is((SELECT count(*) FROM orgs o
           WHERE (SELECT amount FROM pl WHERE pl.org = o.id AND pl.period = 'fy2025' AND line = 'result')
              <> (SELECT amount FROM bs WHERE bs.org = o.id AND bs.period = 'fy2025' AND account_name = 'Årets resultat')),
          0::bigint, 'the P&L''s result is the balance sheet''s Årets resultat');
SELECT is((SELECT count(*) FROM pl a JOIN pl b ON b.org = a.org AND b.account_no = a.account_no
           WHERE a.period = 'fy2025' AND b.period = 'fy2024' AND a.line = 'account' AND a.previous <> b.amount), 0::bigint,
          'the P&L''s previous year is the year before''s amount, account by account');
SELECT is((SELECT count(*) FROM (SELECT org, period, group_name FROM pl WHERE line IN ('account', 'group')
                                 GROUP BY 1, 2, 3
                                 HAVING sum(amount) FILTER (WHERE line = 'account') IS DISTINCT FROM sum(amount) FILTER (WHERE line = 'group')
                                    AND sum(amount) FILTER (WHERE line = 'group') <> 0) x), 0::bigint,
          'every P&L group''s total is the sum of its accounts');
SELECT results_eq($$SELECT DISTINCT group_name FROM pl WHERE org = '$$ || :'org1' || $$' AND period = 'fy2025' AND line = 'group'
                    ORDER BY 1$$,
                  $$SELECT name FROM billy.account_groups g WHERE organization_id = '$$ || :'org1' || $$'
                    AND nature_id IN ('revenue', 'expense')
                    AND EXISTS (SELECT 1 FROM pl WHERE pl.org = g.organization_id AND pl.period = 'fy2025' AND pl.group_name = g.name)
                    ORDER BY 1$$,
                  'the P&L groups accounts by Billy''s account groups');

-- the account statement runs to the trial balance's closing
CREATE TEMP TABLE ks AS SELECT * FROM billy.account_statement('5810', :'org1', 'fy2025');
SELECT is((SELECT balance FROM ks ORDER BY entry_date DESC, transaction_no DESC NULLS LAST LIMIT 1),
          (SELECT closing FROM tb WHERE org = :'org1' AND period = 'fy2025' AND account_no = 5810),
          'the account statement''s last balance is the trial balance''s closing');
SELECT is((SELECT count(*) FROM ks WHERE text <> 'Primo'),
          (SELECT count(*) FROM billy.postings p JOIN billy.accounts a ON a.organization_id = p.organization_id AND a.id = p.account_id
           WHERE p.organization_id = :'org1' AND a.account_no = 5810 AND p.entry_date BETWEEN '2025-01-01' AND '2025-12-31'),
          'the account statement lists every posting of the period');
SELECT is((SELECT count(*) FROM (SELECT balance - lag(balance) OVER (ORDER BY n) AS step, coalesce(debit, 0) - coalesce(credit, 0) AS amt, n
                                 FROM (SELECT ks.*, row_number() OVER () AS n FROM ks) k) x
           WHERE n > 1 AND step <> amt), 0::bigint, 'each line''s running balance moves by its debit or credit');

-- the fiscal year that is not the calendar year (July-June)
SELECT is((SELECT row(f.*)::text FROM billy.fiscal_year(:'org3', '2025-03-01') f), '(2025,2024-07-01,2025-06-30)',
          'organization 3''s fiscal year 2025 runs from July 2024 to June 2025');
SELECT is((SELECT row(f.*)::text FROM billy.fiscal_year(:'org1', '2025-03-01') f), '(2025,2025-01-01,2025-12-31)',
          'organization 1''s fiscal year is the calendar year');
SELECT is((SELECT row(o.first_fiscal_year_start, o.first_fiscal_year_end)::text FROM billy.organizations o WHERE o.id = :'org3'),
          (SELECT row(f.start_date, f.end_date)::text FROM billy.fiscal_year(:'org3', (SELECT first_fiscal_year_start FROM billy.organizations WHERE id = :'org3')) f),
          'the first fiscal year is the organization''s firstFiscalYearStart..firstFiscalYearEnd');
SELECT is((SELECT count(*) FROM tb t WHERE t.org = :'org3' AND t.period = 'fy2025' AND t.nature IN ('revenue', 'expense')
           AND t.opening <> 0), 0::bigint, 'revenue and expense accounts open organization 3''s fiscal year at 0');
SELECT is((SELECT amount FROM pl WHERE org = :'org3' AND period = 'fy2025' AND line = 'result'),
          (SELECT -sum(p.signed_amount) FROM billy.postings p JOIN billy.accounts a ON a.organization_id = p.organization_id AND a.id = p.account_id
           WHERE p.organization_id = :'org3' AND a.nature_id IN ('revenue', 'expense') AND p.entry_date BETWEEN '2024-07-01' AND '2025-06-30'),
          'organization 3''s result for fy2025 is its revenue and expense postings of July 2024-June 2025');
SELECT is((SELECT opening FROM tb WHERE org = :'org3' AND period = 'fy2025' AND account_name = 'Overført resultat'),
          (SELECT sum(p.signed_amount) FROM billy.postings p JOIN billy.accounts a ON a.organization_id = p.organization_id AND a.id = p.account_id
           WHERE p.organization_id = :'org3' AND a.nature_id IN ('revenue', 'expense') AND p.entry_date < '2024-07-01'),
          'Overført resultat opens with the results of the fiscal years before');
SELECT is((SELECT previous FROM pl WHERE org = :'org3' AND period = 'fy2025' AND line = 'result'),
          (SELECT amount FROM pl WHERE org = :'org3' AND period = 'fy2024' AND line = 'result'),
          'the P&L of organization 3''s fy2025 compares with its fy2024');

-- analytics' year and quarter follow the fiscal year
SELECT is((SELECT row(period_start, period_end, previous_start, previous_end)::text FROM billy.analytics_summary(:'org3', 'year', '2025-03-15')),
          '(2024-07-01,2025-03-15,2023-07-01,2024-03-15)', 'analytics'' year to date is organization 3''s fiscal year to date');
SELECT is((SELECT row(period_start, period_end)::text FROM billy.analytics_summary(:'org3', 'quarter', '2025-03-15')),
          '(2025-01-01,2025-03-15)', 'analytics'' quarter is the fiscal quarter (the third of July-June: January-March)');
SELECT is((SELECT row(period_start, period_end, previous_start, previous_end)::text FROM billy.analytics_summary(:'org3', 'fy2025', '2026-06-30')),
          '(2024-07-01,2025-06-30,2023-07-01,2024-06-30)', 'analytics'' fy2025 is the fiscal year ending in 2025');
SELECT is((SELECT row(period_start, period_end)::text FROM billy.analytics_summary(:'org1', 'year', '2025-03-15')),
          '(2025-01-01,2025-03-15)', 'a calendar fiscal year keeps the calendar year to date');

-- the cross-checks find nothing on the sandbox's books
CREATE TEMP TABLE checks AS
SELECT o.id AS org, p.period, c.* FROM orgs o, (VALUES ('fy2024'), ('fy2025'), ('fy2026'), ('2025-Q2')) p(period),
     billy.ledger_check(o.id, p.period) c;
SELECT is((SELECT count(*) FROM checks WHERE severity <> 'info'), 0::bigint,
          'the cross-checks find no error or warning on the sandbox''s books (VAT, receivables, payables, bank)');
SELECT ok((SELECT count(*) FROM checks WHERE check_name = 'bank') >= 12
          AND (SELECT bool_and(difference = 0) FROM checks WHERE check_name = 'bank' AND difference IS NOT NULL),
          'each bank account is explained by its unmatched statement lines and postings');
SELECT is((SELECT count(*) FROM billy.bank_lines l WHERE l.organization_id = :'org1' AND l.deleted_at IS NULL),
          (SELECT jsonb_array_length(billy_test.sandbox('GET', '/dump?org=' || :'org1' || '&resource=bankLines')::jsonb -> 'bankLines'))::bigint,
          'the statement lines checked are the synced ones, every line of the sandbox''s');

-- a deliberately broken statement line: a matched line on the DKK bank
-- account 1.00 higher than what it was matched with
SELECT l.id AS broken_line, l.account_id AS broken_account
FROM billy.bank_lines l JOIN billy.accounts a ON a.organization_id = l.organization_id AND a.id = l.account_id AND a.account_no = 5810
WHERE l.organization_id = :'org1' AND l.match_id IS NOT NULL AND l.side = 'debit' AND l.deleted_at IS NULL
ORDER BY l.entry_date DESC, l.id LIMIT 1 \gset
UPDATE billy.bank_lines SET amount = amount + 1 WHERE organization_id = :'org1' AND id = :'broken_line';
SELECT results_eq($$SELECT check_name, severity, subject, difference FROM billy.ledger_check('$$ || :'org1' || $$', 'fy2025')
                    WHERE severity <> 'info'$$,
                  $$VALUES ('bank', 'error', 'account:$$ || :'broken_account' || $$', -1.00::numeric)$$,
                  'the bank cross-check finds the broken statement line: its account, off by 1.00');
UPDATE billy.bank_lines SET amount = amount - 1 WHERE organization_id = :'org1' AND id = :'broken_line';

-- a deliberately broken posting: one invoice's VAT posting 1.00 too high
-- (its receivables posting too, so the transaction still balances)
SELECT t.id AS broken_txn, t.originator_reference AS broken_ref
FROM billy.transactions t JOIN billy.postings p ON p.organization_id = t.organization_id AND p.transaction_id = t.id
JOIN billy.accounts a ON a.organization_id = p.organization_id AND a.id = p.account_id AND a.account_no = 6900
WHERE t.organization_id = :'org1' AND t.originator_type = 'invoice' AND t.entry_date BETWEEN '2025-04-01' AND '2025-06-30'
  AND NOT t.is_voided AND NOT t.is_void
ORDER BY t.transaction_no LIMIT 1 \gset
UPDATE billy.postings p SET amount = p.amount + 1
FROM billy.accounts a
WHERE p.organization_id = :'org1' AND p.transaction_id = :'broken_txn' AND a.organization_id = p.organization_id
  AND a.id = p.account_id AND a.account_no IN (6900, 5710);
CREATE TEMP TABLE broken AS SELECT * FROM billy.ledger_check(:'org1', '2025-Q2');
SELECT results_eq($$SELECT check_name, severity, subject, CASE WHEN subject <> 'field:salgsmoms' THEN difference END
                    FROM broken WHERE severity <> 'info' ORDER BY subject$$,
                  $$VALUES ('receivables', 'error', 'account:accountsReceivable', 1.00::numeric),
                           ('vat', 'error', 'field:salgsmoms', NULL), ('vat', 'error', '$$ || :'broken_ref' || $$', 1.00)$$,
                  'the cross-checks find the broken VAT posting: the field, the invoice and the receivables');
SELECT is((SELECT difference FROM broken WHERE subject = 'field:salgsmoms')
          - (SELECT coalesce(sum(difference), 0) FROM broken WHERE severity = 'info' AND subject LIKE 'invoice:%'),
          1.00, 'the field''s difference is the broken posting''s beside the rounding of other invoices');
SELECT is(pg_temp.rollup_diff(), 0::bigint, 'the rollup follows postings updated in place');
UPDATE billy.postings p SET amount = p.amount + 0.5
FROM billy.accounts a
WHERE p.organization_id = :'org1' AND p.transaction_id = :'broken_txn' AND a.organization_id = p.organization_id
  AND a.id = p.account_id AND a.account_no = 6900;
SELECT results_eq($$SELECT subject, booked FROM billy.ledger_check('$$ || :'org1' || $$', '2025-Q2')
                    WHERE check_name = 'transaction_balance'$$,
                  $$VALUES ('transaction:$$ || :'broken_txn' || $$', -0.50::numeric)$$,
                  'a transaction whose postings do not add up to 0 is found');

-- the rollup follows the mirror: a transaction marked deleted leaves the
-- statements, found again it is back; postings replaced; deleted outright
SELECT closing AS bank_before FROM billy.trial_balance(:'org1', 'fy2025') WHERE account_no = 5810 \gset
SELECT t.id AS pay_txn, -p.signed_amount AS pay_amount FROM billy.transactions t
JOIN billy.postings p ON p.organization_id = t.organization_id AND p.transaction_id = t.id
JOIN billy.accounts a ON a.organization_id = p.organization_id AND a.id = p.account_id AND a.account_no = 5810
WHERE t.organization_id = :'org1' AND t.originator_type = 'bankPayment' AND t.entry_date BETWEEN '2025-01-01' AND '2025-12-31'
ORDER BY t.transaction_no LIMIT 1 \gset
UPDATE billy.transactions SET deleted_at = now() WHERE organization_id = :'org1' AND id = :'pay_txn';
SELECT is((SELECT closing FROM billy.trial_balance(:'org1', 'fy2025') WHERE account_no = 5810), :'bank_before'::numeric + :'pay_amount',
          'a transaction marked deleted leaves the statements');
SELECT is(pg_temp.rollup_diff(), 0::bigint, 'the rollup follows a transaction marked deleted');
UPDATE billy.transactions SET deleted_at = NULL WHERE organization_id = :'org1' AND id = :'pay_txn';
SELECT is((SELECT closing FROM billy.trial_balance(:'org1', 'fy2025') WHERE account_no = 5810), :'bank_before'::numeric,
          'found again, it is back');
CREATE TEMP TABLE moved AS SELECT * FROM billy.postings WHERE organization_id = :'org1' AND transaction_id = :'pay_txn';
DELETE FROM billy.postings WHERE organization_id = :'org1' AND transaction_id = :'pay_txn';
INSERT INTO billy.postings (organization_id, id, transaction_id, entry_date, text, account_id, amount, side, currency_id, raw)
SELECT organization_id, id, transaction_id, entry_date + 400, text, account_id, amount, side, currency_id, raw FROM moved;
SELECT is(pg_temp.rollup_diff(), 0::bigint, 'the rollup follows postings replaced');
UPDATE billy.transactions SET deleted_at = now() WHERE organization_id = :'org1' AND id = :'pay_txn';
DELETE FROM billy.transactions WHERE organization_id = :'org1' AND id = :'pay_txn';
DELETE FROM billy.transactions WHERE organization_id = :'org1'
    AND id = (SELECT id FROM billy.transactions WHERE organization_id = :'org1' ORDER BY transaction_no DESC LIMIT 1);
SELECT is(pg_temp.rollup_diff(), 0::bigint, 'the rollup follows transactions deleted outright, marked deleted before or not');
SELECT is(billy.ledger_rebuild(:'org1') > 0 AND pg_temp.rollup_diff() = 0, true, 'billy.ledger_rebuild recomputes the same rollup');

-- a first sync of transactions cut short leaves its mark: the triggers skip
-- the organization's postings, and billy.ledger_rebuild finishes the job
INSERT INTO billy.derived_pending (organization_id, resource) VALUES (:'org1', 'transactions');
DELETE FROM billy.transactions WHERE organization_id = :'org1'
    AND id = (SELECT id FROM billy.transactions WHERE organization_id = :'org1' ORDER BY transaction_no DESC LIMIT 1);
SELECT ok(pg_temp.rollup_diff() > 0, 'while marked, the triggers skip the organization: the rollup lags the postings');
SELECT is(billy._derived_finish(:'org1', 'transactions'), true, 'the end of a scan of transactions finds the mark');
SELECT is(pg_temp.rollup_diff(), 0::bigint, 'and rebuilds the rollup from the postings');
INSERT INTO billy.derived_pending (organization_id, resource) VALUES (:'org1', 'transactions');
SELECT billy.ledger_rebuild(:'org1') AS rebuilt \gset
SELECT is((SELECT count(*) FROM billy.derived_pending WHERE resource = 'transactions'), 0::bigint,
          'billy.ledger_rebuild removes the mark of what it rebuilds');

-- bad input says what to write
SELECT throws_ok($$SELECT * FROM billy.trial_balance('$$ || :'org1' || $$', 'last year')$$, '22023',
                 'invalid period "last year"', 'an unknown period is refused, naming it');
SELECT throws_ok($$SELECT * FROM billy.account_statement('9999', '$$ || :'org1' || $$')$$, '22023',
                 'unknown account "9999"', 'an unknown account is refused, naming it');

-- a reader sees the statements of the organizations granted to it only
CREATE ROLE ledger_reader_test IN ROLE billy_reader;
SELECT billy.grant_organization('ledger_reader_test', :'org2');
SET LOCAL ROLE ledger_reader_test;
SELECT throws_like($$SELECT * FROM billy.trial_balance('$$ || :'org1' || $$', 'fy2025')$$,
                   '%unknown Billy organization%', 'a reader gets no statement of an organization not granted to it');
SELECT ok((SELECT count(*) FROM billy.trial_balance(:'org2', 'fy2025')) > 10, 'and the trial balance of the one granted');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
