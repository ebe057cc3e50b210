-- Known answers: a small set of books built through billy-sandbox's write
-- API in a new empty organization (calendar fiscal year), brought into the
-- mirror, and every figure of its statements worked out by hand here.
--
--   J1 2025-01-02 journal entry: bank 5810 debit 50,000.00, equity 7010 credit 50,000.00
--   I1 2025-02-10 invoice to A (DK company): 1 x 1,000.00 + 25% VAT = 1,250.00
--                 -> receivables 5710 D 1,250.00, sales 1110 C 1,000.00, Salgsmoms 6900 C 250.00
--   P1 2025-02-20 A pays I1: bank 5810 D 1,250.00, receivables 5710 C 1,250.00
--   B1 2025-03-05 bill from S: goods 400.00 + 25% VAT (K25) = 500.00
--                 -> purchases 1310 D 400.00, Købsmoms 6910 D 100.00, payables 6810 C 500.00 (unpaid)
--   J2 2025-03-31 journal entry: salaries 2210 debit 10,000.00, bank 5810 credit 10,000.00
--   I2 2026-01-15 invoice to A: 2 x 1,000.00 + 25% = 2,500.00 (unpaid)
--                 -> 5710 D 2,500.00, 1110 C 2,000.00, 6900 C 500.00
--
-- Fiscal year 2025, by account (opening, debits, credits, movement, closing; debit +):
--   1110  0      0          1,000.00   -1,000.00    -1,000.00
--   1310  0      400.00     0             400.00       400.00
--   2210  0      10,000.00  0          10,000.00    10,000.00
--   5710  0      1,250.00   1,250.00        0            0
--   5810  0      51,250.00  10,000.00  41,250.00    41,250.00   (50,000 + 1,250 - 10,000)
--   6810  0      0          500.00       -500.00      -500.00
--   6900  0      0          250.00       -250.00      -250.00
--   6910  0      100.00     0             100.00       100.00
--   7010  0      0          50,000.00  -50,000.00   -50,000.00
--   (closings add up to 0: -1,000 + 400 + 10,000 + 41,250 - 500 - 250 + 100 - 50,000)
-- P&L 2025: Omsætning 1,000.00; Vareforbrug -400.00; Personaleomkostninger
--   -10,000.00; result 1,000 - 400 - 10,000 = -9,400.00 (2024: nothing)
-- P&L 2026: Omsætning 2,000.00 (2025: 1,000.00); Vareforbrug 0 (-400.00);
--   Personaleomkostninger 0 (-10,000.00); result 2,000.00 (-9,400.00)
-- Balance 31 Dec 2025: assets bank 41,250.00 = Aktiver i alt; payables 500.00;
--   Moms 250.00 - 100.00 = 150.00; equity 50,000.00 + Årets resultat
--   -9,400.00 = 40,600.00; Passiver i alt 500 + 150 + 40,600 = 41,250.00
-- Balance 31 Dec 2026 (2025 beside it): receivables 2,500.00 (0); bank
--   41,250.00 (41,250.00); Aktiver 43,750.00 (41,250.00); payables 500.00
--   (500.00); Salgsmoms 750.00 (250.00), Købsmoms -100.00 (-100.00), Moms
--   650.00 (150.00); equity 50,000.00; Årets resultat 2,000.00 (-9,400.00);
--   Overført resultat -9,400.00 (0); Egenkapital 42,600.00 (40,600.00);
--   Passiver 500 + 650 + 42,600 = 43,750.00 (41,250.00)
-- Trial balance 2026: 1110 opens at 0 (a new fiscal year) and closes at
--   -2,000.00; the bank opens and closes at 41,250.00; "Overført resultat"
--   opens and closes at 9,400.00 (2025's loss, debit +)
-- Account statement 5810, 2025: Primo 0; J1 +50,000.00 -> 50,000.00; P1
--   +1,250.00 -> 51,250.00; J2 -10,000.00 -> 41,250.00
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(12);
SET LOCAL client_min_messages = warning;

\ir known_books.psql

CREATE FUNCTION pg_temp.journal(key text, entry date, text text, debit_no integer, credit_no integer, amount numeric)
RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.post(key, '/daybookTransactions', 'daybookTransaction', jsonb_build_object('daybookTransaction',
        jsonb_build_object('entryDate', entry, 'description', text, 'state', 'approved', 'lines', jsonb_build_array(
            jsonb_build_object('accountNo', debit_no, 'side', 'debit', 'amount', amount, 'text', text),
            jsonb_build_object('accountNo', credit_no, 'side', 'credit', 'amount', amount, 'text', text)))))
$$;
CREATE FUNCTION pg_temp.bill(key text, entry date, amount numeric) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.post(key, '/bills', 'bill', jsonb_build_object('bill', jsonb_build_object(
        'contactId', pg_temp.k('S'), 'entryDate', entry, 'state', 'approved',
        'lines', jsonb_build_array(jsonb_build_object('accountId', pg_temp.k('purchases'), 'taxRateId', pg_temp.k('K25'),
                                                      'description', 'Lamper til lager', 'amount', amount)))))
$$;

SELECT pg_temp.new_org('Kendte Konti ApS');
SELECT pg_temp.post('A', '/contacts', 'contact', '{"contact":{"name":"Aarhus Lamper ApS","countryId":"DK","registrationNo":"35812428"}}');
SELECT pg_temp.post('S', '/contacts', 'contact', '{"contact":{"name":"Kontorland A/S","countryId":"DK","registrationNo":"10403782","isSupplier":true,"isCustomer":false}}');
SELECT pg_temp.journal('J1', '2025-01-02', 'Indskud', 5810, 7010, 50000);
SELECT pg_temp.invoice('I1', 'A', '2025-02-10', 'DKK', 1000);
SELECT pg_temp.pay('P1', '2025-02-20', 1250, ARRAY['I1']);
SELECT pg_temp.bill('B1', '2025-03-05', 400);
SELECT pg_temp.journal('J2', '2025-03-31', 'Løn', 2210, 5810, 10000);
SELECT pg_temp.invoice('I2', 'A', '2026-01-15', 'DKK', 1000, 2);
SELECT billy.connect(pg_temp.k('token'), billy_test.setting('api_url')) AS org \gset
SELECT count(*) AS synced FROM billy.sync_now(:'org') \gset

SELECT results_eq($$SELECT account_no, opening, debit, credit, movement, closing FROM billy.trial_balance('$$ || :'org' || $$', 'fy2025')$$,
    $$VALUES (1110, 0.00, 0.00, 1000.00, -1000.00, -1000.00), (1310, 0.00, 400.00, 0.00, 400.00, 400.00),
             (2210, 0.00, 10000.00, 0.00, 10000.00, 10000.00), (5710, 0.00, 1250.00, 1250.00, 0.00, 0.00),
             (5810, 0.00, 51250.00, 10000.00, 41250.00, 41250.00), (6810, 0.00, 0.00, 500.00, -500.00, -500.00),
             (6900, 0.00, 0.00, 250.00, -250.00, -250.00), (6910, 0.00, 100.00, 0.00, 100.00, 100.00),
             (7010, 0.00, 0.00, 50000.00, -50000.00, -50000.00)$$,
    'trial balance 2025, every account by hand');
SELECT results_eq($$SELECT account_no, account_name, opening, closing FROM billy.trial_balance('$$ || :'org' || $$', 'fy2026')$$,
    $$VALUES (1110, 'Salg af varer, Danmark', 0.00, -2000.00), (5710, 'Debitorer', 0.00, 2500.00),
             (5810, 'Bankkonto', 41250.00, 41250.00), (6810, 'Kreditorer', -500.00, -500.00),
             (6900, 'Salgsmoms', -250.00, -750.00), (6910, 'Købsmoms', 100.00, 100.00),
             (7010, 'Egenkapital primo', -50000.00, -50000.00), (NULL::integer, 'Overført resultat', 9400.00, 9400.00)$$,
    'trial balance 2026: revenue opens at 0, 2025''s loss is Overført resultat');
SELECT results_eq($$SELECT line, group_name, account_no, amount, previous FROM billy.profit_and_loss('$$ || :'org' || $$', 'fy2025')$$,
    $$VALUES ('account', 'Omsætning', 1110, 1000.00, 0.00), ('group', 'Omsætning', NULL::integer, 1000.00, 0.00),
             ('account', 'Vareforbrug', 1310, -400.00, 0.00), ('group', 'Vareforbrug', NULL, -400.00, 0.00),
             ('account', 'Personaleomkostninger', 2210, -10000.00, 0.00), ('group', 'Personaleomkostninger', NULL, -10000.00, 0.00),
             ('result', NULL, NULL, -9400.00, 0.00)$$,
    'profit and loss 2025 by account group, result -9,400.00');
SELECT results_eq($$SELECT line, group_name, account_no, amount, previous FROM billy.profit_and_loss('$$ || :'org' || $$', 'fy2026')$$,
    $$VALUES ('account', 'Omsætning', 1110, 2000.00, 1000.00), ('group', 'Omsætning', NULL::integer, 2000.00, 1000.00),
             ('account', 'Vareforbrug', 1310, 0.00, -400.00), ('group', 'Vareforbrug', NULL, 0.00, -400.00),
             ('account', 'Personaleomkostninger', 2210, 0.00, -10000.00), ('group', 'Personaleomkostninger', NULL, 0.00, -10000.00),
             ('result', NULL, NULL, 2000.00, -9400.00)$$,
    'profit and loss 2026 beside 2025');
SELECT results_eq($$SELECT line, account_name, amount FROM billy.balance_sheet('$$ || :'org' || $$', 'fy2025')$$,
    $$VALUES ('account', 'Bankkonto', 41250.00), ('group', 'Likvide beholdninger i alt', 41250.00),
             ('total', 'Aktiver i alt', 41250.00),
             ('account', 'Kreditorer', 500.00), ('group', 'Kortfristet gæld i alt', 500.00),
             ('account', 'Salgsmoms', 250.00), ('account', 'Købsmoms', -100.00), ('group', 'Moms i alt', 150.00),
             ('account', 'Egenkapital primo', 50000.00), ('account', 'Årets resultat', -9400.00),
             ('group', 'Egenkapital i alt', 40600.00),
             ('total', 'Egenkapital i alt', 40600.00), ('total', 'Passiver i alt', 41250.00)$$,
    'balance sheet 31 December 2025');
SELECT results_eq($$SELECT line, account_name, amount, previous FROM billy.balance_sheet('$$ || :'org' || $$', 'fy2026')$$,
    $$VALUES ('account', 'Debitorer', 2500.00, 0.00), ('group', 'Tilgodehavender i alt', 2500.00, 0.00),
             ('account', 'Bankkonto', 41250.00, 41250.00), ('group', 'Likvide beholdninger i alt', 41250.00, 41250.00),
             ('total', 'Aktiver i alt', 43750.00, 41250.00),
             ('account', 'Kreditorer', 500.00, 500.00), ('group', 'Kortfristet gæld i alt', 500.00, 500.00),
             ('account', 'Salgsmoms', 750.00, 250.00), ('account', 'Købsmoms', -100.00, -100.00),
             ('group', 'Moms i alt', 650.00, 150.00),
             ('account', 'Egenkapital primo', 50000.00, 50000.00), ('account', 'Overført resultat', -9400.00, 0.00),
             ('account', 'Årets resultat', 2000.00, -9400.00),
             ('group', 'Egenkapital i alt', 42600.00, 40600.00),
             ('total', 'Egenkapital i alt', 42600.00, 40600.00), ('total', 'Passiver i alt', 43750.00, 41250.00)$$,
    'balance sheet 31 December 2026 beside 2025');
SELECT results_eq($$SELECT entry_date, text, debit, credit, balance FROM billy.account_statement('5810', '$$ || :'org' || $$', 'fy2025')$$,
    $$VALUES ('2025-01-01'::date, 'Primo', NULL::numeric, NULL::numeric, 0.00), ('2025-01-02', 'Indskud', 50000.00, NULL, 50000.00),
             ('2025-02-20', 'Bank payment from Aarhus Lamper ApS', 1250.00, NULL, 51250.00),
             ('2025-03-31', 'Løn', NULL, 10000.00, 41250.00)$$,
    'account statement of the bank for 2025 with its running balance');
SELECT results_eq($$SELECT entry_date, balance FROM billy.account_statement('Bankkonto', '$$ || :'org' || $$', '2025-03-01..2025-12-31')$$,
    $$VALUES ('2025-03-01'::date, 51250.00), ('2025-03-31', 41250.00)$$,
    'the account statement of a range opens with the balance before it (the account by name)');
SELECT is((SELECT count(*) FROM billy.ledger_check(:'org', 'fy2025') WHERE severity <> 'info'), 0::bigint,
          'the cross-checks agree: VAT 250.00 and 100.00, receivables 2,500.00, payables 500.00');
SELECT results_eq($$SELECT subject, expected, booked, difference FROM billy.ledger_check('$$ || :'org' || $$', 'fy2025') WHERE check_name = 'bank'$$,
    $$VALUES ('account:$$ || pg_temp.k('bank') || $$', 0.00, 0.00, 0.00)$$,
    'the bank: no statement lines, and all 41,250.00 of postings not on the statement');
SELECT is((SELECT row(f.*)::text FROM billy.fiscal_year(:'org', '2026-01-15') f), '(2026,2026-01-01,2026-12-31)',
          'fiscal year 2026 is the calendar year');
SELECT results_eq($$SELECT period, account_no, amount FROM (
        SELECT '2025-Q1' AS period, * FROM billy.profit_and_loss('$$ || :'org' || $$', '2025-Q1')
        UNION ALL SELECT '2025-Q2', * FROM billy.profit_and_loss('$$ || :'org' || $$', '2025-Q2')) x WHERE line = 'result'$$,
    $$VALUES ('2025-Q1', NULL::integer, -9400.00), ('2025-Q2', NULL, 0.00)$$,
    'any period: the first quarter holds the whole result, the second nothing');

SELECT * FROM finish();
ROLLBACK;
