-- Filing: billy.vat_file stores the return with its drill-down and a hash,
-- immutably (Bogføringsloven); filing again after the books changed files a
-- correction (correction_no + 1) with the differences; filing unchanged books
-- files nothing; the hash chain verifies and detects tampering.  Energy-duty
-- adjustments enter the return and its drill-down.  Who may do what.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(45);
\ir vat_books.psql

SELECT pg_temp.new_books('Moms Arkiv ApS') AS org \gset
SELECT pg_temp.contact('Moms Arkiv ApS', 'Lampehuset ApS', 'DK', '29403473') AS customer \gset
SELECT pg_temp.product('Moms Arkiv ApS', 'Pendel Nord') AS lamp \gset
SELECT FROM pg_temp.invoice('Moms Arkiv ApS', :'customer', '2025-02-10', :'lamp', 10000);
SELECT FROM pg_temp.bill('Moms Arkiv ApS', :'customer', '2025-03-05', 'K25', 2000);
SELECT FROM pg_temp.sync('Moms Arkiv ApS');

-- the first filing: correction 0
CREATE TEMP TABLE f0 AS SELECT * FROM billy.vat_file(:'org', '2025-Q1');
SELECT is((SELECT (period, correction_no, entries, deadline)::text FROM f0), '(2025-Q1,0,2,2025-06-02)',
          'the first filing of 2025-Q1 is correction 0 with its two drill-down entries and its deadline');
SELECT is((SELECT (fields ->> 'tilsvar_reported')::numeric FROM f0), 2000::numeric, 'it stores the return: momstilsvar 2,000');
SELECT ok((SELECT hash ~ '^[0-9a-f]{64}$' AND previous_hash IS NULL AND differences IS NULL FROM f0),
          'a SHA-256 hash, no predecessor, no differences');
SELECT is((SELECT array_agg(field || ' ' || amount ORDER BY field) FROM billy.vat_filing_lines WHERE filing_id = (SELECT id FROM f0)),
          ARRAY['koebsmoms 500.00', 'salgsmoms 2500.00'], 'the drill-down is stored with it');
SELECT is((SELECT hash FROM f0), billy._vat_filing_hash((SELECT f FROM billy.vat_filings f WHERE id = (SELECT id FROM f0))),
          'the hash is the hash of the stored content');

-- unchanged books: nothing new is filed
SELECT is((SELECT id FROM billy.vat_file(:'org', '2025-Q1')), (SELECT id FROM f0), 'filing unchanged books returns the filing');
SELECT is((SELECT count(*) FROM billy.vat_filings WHERE organization_id = :'org'), 1::bigint, 'and files nothing new');

-- immutable, even for a superuser
SELECT throws_ok($$UPDATE billy.vat_filings SET fields = '{}'$$, '42501',
                 'filed VAT returns cannot be changed or deleted (UPDATE on vat_filings)', 'a filing cannot be updated');
SELECT throws_ok($$DELETE FROM billy.vat_filings$$, '42501', NULL, 'a filing cannot be deleted');
SELECT throws_ok($$TRUNCATE billy.vat_filings, billy.vat_filing_lines$$, '42501', NULL, 'the filings cannot be truncated');
SELECT throws_ok($$UPDATE billy.vat_filing_lines SET amount = 0$$, '42501', NULL, 'filed lines cannot be updated');
SELECT throws_ok($$DELETE FROM billy.vat_filing_lines$$, '42501', NULL, 'filed lines cannot be deleted');
SELECT throws_ok(format($$DELETE FROM billy.organizations WHERE id = %L$$, :'org'), '23503', NULL,
                 'an organization with filings cannot be deleted');

-- the books change: an invoice of 400.00 (VAT 100.00) dated in the filed period
SELECT pg_temp.invoice('Moms Arkiv ApS', :'customer', '2025-03-28', :'lamp', 400) AS late \gset
SELECT FROM pg_temp.sync('Moms Arkiv ApS');
SELECT is((SELECT message FROM billy.vat_check(:'org', '2025-Q1') WHERE code = 'changed_since_filed'),
          format('the return differs from the one filed %s (correction 0): salgsmoms 2500.00 -> 2600.00; file a correction with billy.vat_file',
                 (SELECT filed_at FROM f0)),
          'billy.vat_check says the filed return changed');
CREATE TEMP TABLE f1 AS SELECT * FROM billy.vat_file(:'org', '2025-Q1');
SELECT is((SELECT correction_no FROM f1), 1, 'filing again after the change files correction 1');
SELECT is((SELECT differences -> 'fields' -> 'salgsmoms' FROM f1),
          '{"now": 2600.00, "filed": 2500.00, "reported": 2600, "difference": 100.00, "filed_reported": 2500, "reported_difference": 100}'::jsonb,
          'its differences: salgsmoms filed 2,500, now 2,600');
SELECT is((SELECT (differences -> 'fields' -> 'tilsvar' ->> 'difference')::numeric FROM f1), 100.00, 'momstilsvar +100');
SELECT is((SELECT array_agg(k ORDER BY k) FROM f1, jsonb_object_keys(differences -> 'fields') k), ARRAY['salgsmoms', 'tilsvar'],
          'only the fields that changed are listed');
SELECT is((SELECT (differences ->> 'documents_changed')::integer FROM f1), 1, 'one document changed');
SELECT is((SELECT d ->> 'document_id' FROM f1, jsonb_array_elements(differences -> 'documents') d), :'late',
          'it is the late invoice');
SELECT is((SELECT previous_hash FROM f1), (SELECT hash FROM f0), 'the correction is chained to the first filing');
SELECT is((SELECT (differences ->> 'correction_of')::bigint FROM f1), (SELECT id FROM f0), 'and says which filing it corrects');
SELECT is((SELECT count(*) FROM billy.vat_check(:'org', '2025-Q1') WHERE code = 'changed_since_filed'), 0::bigint,
          'after the correction the check is quiet');

-- energy duties are entered per period and subtracted; the momstilsvar
-- reported is the arithmetic of the truncated fields
SELECT FROM billy.vat_set_adjustment(:'org', '2025-Q1', 'elafgift', 1234.56, 'elregning jan-mar, 8.230 kWh');
SELECT is(r.elafgift_exact, 1234.56, 'elafgift 1,234.56 entered') FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT is((r.tilsvar_exact, r.tilsvar_reported)::text, '(865.44,866)',
          'momstilsvar exact 2,600 - 500 - 1,234.56 = 865.44; reported 2,600 - 500 - 1,234 = 866')
FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT is((SELECT (document_type, amount, description)::text FROM billy.vat_return_lines(:'org', '2025-Q1') WHERE field = 'elafgift'),
          '(adjustment,1234.56,"elregning jan-mar, 8.230 kWh")', 'the drill-down shows the adjustment');
SELECT is((SELECT count(*) FROM billy.vat_set_adjustment(:'org', '2025-Q1', 'elafgift', 1300)), 1::bigint, 'an adjustment can be replaced');
SELECT is(r.elafgift_exact, 1300.00, 'by the new amount') FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT throws_ok(format($$SELECT billy.vat_set_adjustment(%L, '2025-Q1', 'strømafgift', 10)$$, :'org'), '22023',
                 'unknown VAT return field "strømafgift"', 'an unknown field is refused');
SELECT throws_ok(format($$SELECT billy.vat_set_adjustment(%L, '2025-Q1', 'elafgift', 1.234)$$, :'org'), '22023',
                 'amount 1.234 has more than two decimals', 'fractions of øre are refused');
CREATE TEMP TABLE f2 AS SELECT * FROM billy.vat_file(:'org', '2025-Q1');
SELECT is((SELECT (correction_no, differences -> 'fields' -> 'elafgift' ->> 'difference')::text FROM f2), '(2,1300.00)',
          'correction 2 records the duty');

-- other periods continue the organization's chain; only ended VAT periods can be filed
CREATE TEMP TABLE g0 AS SELECT * FROM billy.vat_file(:'org', '2025-Q2');
SELECT is((SELECT (correction_no, previous_hash)::text FROM g0), (SELECT (0, hash)::text FROM f2),
          'the first filing of Q2 is correction 0, chained to the organization''s last filing');
SELECT is((SELECT count(*) FROM billy.vat_verify_filings(:'org') WHERE ok), 4::bigint, 'billy.vat_verify_filings: all four filings verify');
SELECT throws_ok(format($$SELECT billy.vat_file(%L, '2025')$$, :'org'), '22023',
                 'only a VAT period can be filed, and "2025" is a year period', 'a year cannot be filed');
SELECT throws_ok(format($$SELECT billy.vat_file(%L, %L)$$, :'org', to_char(current_date, 'YYYY-MM')), '55000',
                 format('VAT period %s has not ended yet', to_char(current_date, 'YYYY-MM')), 'an open period cannot be filed');
SELECT is((SELECT array_agg(filed_correction_no ORDER BY period) FROM billy.vat_periods(:'org', 2025)), ARRAY[2, 0, NULL, NULL],
          'billy.vat_periods shows the latest correction of each filed period');

-- tampering (possible only by switching the guard off) is detected
ALTER TABLE billy.vat_filings DISABLE TRIGGER immutable;
UPDATE billy.vat_filings SET fields = jsonb_set(fields, '{tilsvar_reported}', '1') WHERE id = (SELECT id FROM f1);
ALTER TABLE billy.vat_filings ENABLE TRIGGER immutable;
SELECT is((SELECT problem FROM billy.vat_verify_filings(:'org') WHERE filing_id = (SELECT id FROM f1)),
          'the filing''s content does not match its hash', 'a changed filing no longer matches its hash');
ALTER TABLE billy.vat_filing_lines DISABLE TRIGGER immutable;
DELETE FROM billy.vat_filing_lines WHERE filing_id = (SELECT id FROM f2) AND field = 'koebsmoms';
ALTER TABLE billy.vat_filing_lines ENABLE TRIGGER immutable;
SELECT is((SELECT problem FROM billy.vat_verify_filings(:'org') WHERE filing_id = (SELECT id FROM f2)),
          'the stored lines do not match lines_digest', 'removed lines are detected');

-- who may do what
SELECT FROM billy.grant_organization('billy_reader', :'org');
SET LOCAL ROLE billy_reader;
SELECT is((SELECT salgsmoms_reported FROM billy.vat_return(:'org', '2025-Q1')), 2600::numeric, 'billy_reader computes the return of an organization it sees');
SELECT is((SELECT count(*) FROM billy.vat_filings), 4::bigint, 'and reads its filings');
SELECT throws_ok(format($$SELECT billy.vat_file(%L, '2025-Q3')$$, :'org'), '42501', NULL, 'billy_reader may not file');
SELECT throws_ok(format($$INSERT INTO billy.vat_adjustments (organization_id, start_date, end_date, field, amount) VALUES (%L, '2025-07-01', '2025-09-30', 'elafgift', 1)$$, :'org'),
                 '42501', NULL, 'billy_reader may not enter adjustments');
SELECT throws_ok(format($$SELECT billy.vat_map_rate(%L, 'K25', 'purchase_restaurant')$$, :'org'), '42501', NULL, 'billy_reader may not map rates');
RESET ROLE;
SELECT FROM billy.revoke_organization('billy_reader', :'org');
SET LOCAL ROLE billy_reader;
SELECT throws_ok(format($$SELECT billy.vat_return(%L, '2025-Q1')$$, :'org'), '42704', NULL,
                 'billy_reader cannot compute the return of an organization it does not see');
RESET ROLE;
SET LOCAL ROLE billy_admin;
SELECT is((SELECT correction_no FROM billy.vat_file(:'org', '2025-Q3')), 0, 'billy_admin may file');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
