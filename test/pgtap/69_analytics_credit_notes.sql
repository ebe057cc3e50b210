-- Open credit notes in receivables (issue 14, correction b): a customer's
-- open credit notes pay off that customer's open invoices, the earliest due
-- first, never below zero; they never lower another customer's receivable
-- and are not aged (a credit note has no due date). Books built through the
-- sandbox's write API in an empty organization, synced, figures by hand:
--
--   A  (8 days)  IA  2026-05-01 1000.00 + 250.00 = 1250.00, due 05-09, unpaid
--   B  (8 days)  IB0 2026-04-01 2000.00 + 500.00, paid 04-05; credit note CB
--                2026-06-01 for IB0, 400.00 + 100.00 = 500.00: open (owed to B)
--   C  (30 days) IC0 2026-03-02 1000.00 + 250.00, paid 03-05; credit note CC
--                2026-06-10 for IC0, 200.00 + 50.00 = 250.00: open;
--                IC2 2026-05-20 400.00 + 100.00 = 500.00, due 06-19;
--                IC1 2026-06-05 1000.00 + 250.00 = 1250.00, due 07-05
--
-- At 2026-06-30: A owes 1250.00, all overdue. B owes nothing (not -500.00).
-- C: CC's 250.00 pays off IC2 first (earliest due): IC2 250.00 left, overdue
-- 11 days; IC1 1250.00 not due; C owes 1500.00, 250.00 of it overdue.
-- Everyone: outstanding 2750.00 on 3 invoices, overdue 1500.00 on 2.
--
-- Payables net the same way, per supplier (bills at K25, net + 25%):
--   S1  BS1p 2026-04-01 2000.00 + 500.00, paid 04-05; bill credit note CS1
--       2026-06-01 for BS1p, 400.00 + 100.00 = 500.00: open (owed by S1);
--       BS1 2026-05-10 1000.00 + 250.00 = 1250.00, unpaid
--   S2  BS2p 2026-04-01 1000.00 + 250.00, paid 04-05; bill credit note CS2
--       2026-06-02 for BS2p, 800.00 + 200.00 = 1000.00: open; no open bill
-- S1: CS1's 500.00 pays off BS1: 750.00 owed to S1. S2 owes us 1000.00,
-- which is no payable (and does not lower S1's): payables 750.00 on 1 bill
-- (not 1250.00 - 500.00 - 1000.00 = -250.00, as bills minus bill credit
-- notes gave).
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(9);
SET LOCAL client_min_messages = warning;

\ir known_books.psql
-- an approved DKK bill of one K25 line on 1310 (amount net), and paying one in full from the bank
CREATE FUNCTION pg_temp.bill(key text, contact text, entry date, amount numeric, extra jsonb DEFAULT '{}') RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.post(key, '/bills', 'bill', jsonb_build_object('bill', jsonb_build_object(
        'contactId', pg_temp.k(contact), 'entryDate', entry, 'currencyId', 'DKK', 'state', 'approved',
        'lines', jsonb_build_array(jsonb_build_object('accountId', pg_temp.k('purchases'), 'taxRateId', pg_temp.k('K25'),
                                                      'description', key, 'amount', amount))) || extra))
$$;
CREATE FUNCTION pg_temp.pay_bill(key text, entry date, amount numeric, bill text) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.post(key, '/bankPayments', 'bankPayment', jsonb_build_object('bankPayment', jsonb_build_object(
        'entryDate', entry, 'cashAmount', amount, 'cashSide', 'credit', 'cashAccountId', pg_temp.k('bank'),
        'associations', jsonb_build_array(jsonb_build_object('subjectReference', 'bill:' || pg_temp.k(bill))))))
$$;
CREATE FUNCTION pg_temp.build_books() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.new_org('Kreditnota ApS');
    PERFORM pg_temp.post('A', '/contacts', 'contact', '{"contact":{"name":"Amager Lys ApS","countryId":"DK","registrationNo":"35812428","paymentTermsDays":8}}');
    PERFORM pg_temp.post('B', '/contacts', 'contact', '{"contact":{"name":"Bornholm Bolig ApS","countryId":"DK","registrationNo":"29403473","paymentTermsDays":8}}');
    PERFORM pg_temp.post('C', '/contacts', 'contact', '{"contact":{"name":"Christiansfeld Design","countryId":"DK","registrationNo":"10403782","paymentTermsDays":30}}');

    PERFORM pg_temp.invoice('IA', 'A', '2026-05-01', 'DKK', 1000);
    PERFORM pg_temp.invoice('IB0', 'B', '2026-04-01', 'DKK', 2000);
    PERFORM pg_temp.pay('payB', '2026-04-05', 2500, ARRAY['IB0']);
    PERFORM pg_temp.invoice('CB', 'B', '2026-06-01', 'DKK', 400, 1, 'approved',
                            jsonb_build_object('type', 'creditNote', 'creditedInvoiceId', pg_temp.k('IB0')));
    PERFORM pg_temp.invoice('IC0', 'C', '2026-03-02', 'DKK', 1000);
    PERFORM pg_temp.pay('payC', '2026-03-05', 1250, ARRAY['IC0']);
    PERFORM pg_temp.invoice('IC2', 'C', '2026-05-20', 'DKK', 400);
    PERFORM pg_temp.invoice('IC1', 'C', '2026-06-05', 'DKK', 1000);
    PERFORM pg_temp.invoice('CC', 'C', '2026-06-10', 'DKK', 200, 1, 'approved',
                            jsonb_build_object('type', 'creditNote', 'creditedInvoiceId', pg_temp.k('IC0')));

    PERFORM pg_temp.post('S1', '/contacts', 'contact', '{"contact":{"name":"Silkeborg Tryk ApS","countryId":"DK","registrationNo":"31520154","isSupplier":true}}');
    PERFORM pg_temp.post('S2', '/contacts', 'contact', '{"contact":{"name":"Skagen Papir ApS","countryId":"DK","registrationNo":"27654132","isSupplier":true}}');
    PERFORM pg_temp.bill('BS1p', 'S1', '2026-04-01', 2000);
    PERFORM pg_temp.pay_bill('payS1', '2026-04-05', 2500, 'BS1p');
    PERFORM pg_temp.bill('CS1', 'S1', '2026-06-01', 400, jsonb_build_object('type', 'creditNote', 'creditedBillId', pg_temp.k('BS1p')));
    PERFORM pg_temp.bill('BS1', 'S1', '2026-05-10', 1000);
    PERFORM pg_temp.bill('BS2p', 'S2', '2026-04-01', 1000);
    PERFORM pg_temp.pay_bill('payS2', '2026-04-05', 1250, 'BS2p');
    PERFORM pg_temp.bill('CS2', 'S2', '2026-06-02', 800, jsonb_build_object('type', 'creditNote', 'creditedBillId', pg_temp.k('BS2p')));

    PERFORM billy.connect(pg_temp.k('token'), billy_test.setting('api_url'));
    PERFORM count(*) FROM billy.sync_now(pg_temp.k('org'));
    RETURN pg_temp.k('org');
END $$;
SELECT pg_temp.build_books() AS org \gset

SELECT is((SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND type = 'creditNote' AND balance > 0),
          2::bigint, 'two open credit notes are mirrored (CB 500.00, CC 250.00)');

SELECT is((SELECT (outstanding, outstanding_invoices, overdue, overdue_invoices)::text
           FROM billy.analytics_summary(:'org', 'month', '2026-06-30')),
          '(2750.00,3,1500.00,2)',
          'summary: outstanding 1250 + 0 + 1500 on 3 invoices, overdue 1250 + 250 on 2 (credit notes netted per customer)');

SELECT is((SELECT (not_due, days_1_30, days_31_60, total, documents)::text
           FROM billy.receivables_aging(:'org', '2026-06-30') WHERE contact_id IS NULL),
          '(1250.00,250.00,1250.00,2750.00,3)',
          'aging, everyone: IC1 not due, IC2''s remaining 250.00 11 days late, IA 52 days late');
SELECT results_eq(
    $$SELECT name, total, not_due, days_1_30 FROM billy.receivables_aging(pg_temp.k('org'), '2026-06-30') WHERE contact_id IS NOT NULL$$,
    $$VALUES ('Christiansfeld Design'::text, 1500.00, 1250.00, 250.00), ('Amager Lys ApS', 1250.00, 0.00, 0.00)$$,
    'aging per customer: B, who is owed money, is no negative receivable; C''s credit note is not aged');

SELECT results_eq(
    $$SELECT t ->> 'name', (t ->> 'outstanding')::numeric, (t ->> 'overdue')::numeric
      FROM jsonb_array_elements(billy.customer_insights(pg_temp.k('org'), 10, NULL, '2026-06-30')::jsonb -> 'top') t
      ORDER BY t ->> 'name'$$,
    $$VALUES ('Amager Lys ApS'::text, 1250.00, 1250.00), ('Bornholm Bolig ApS', 0.00, 0.00),
             ('Christiansfeld Design', 1500.00, 250.00)$$,
    'customer insights: what each customer owes now, never below zero');

SELECT is((SELECT total FROM billy.dashboard_receivables WHERE organization_id = :'org' AND side = 'receivable'),
          2750.00, 'dashboard receivables: 2750.00 (not 3000.00 - 750.00 of credit notes = 2250.00)');
SELECT is((SELECT string_agg(b.type || ' ' || b.balance::numeric(14, 2), ', ' ORDER BY b.entry_date, b.type)
           FROM billy.bills b WHERE b.organization_id = :'org' AND b.balance <> 0),
          'bill 1250.00, creditNote 500.00, creditNote 1000.00', 'the open bills as built: BS1 1250.00, CS1 500.00, CS2 1000.00');
SELECT is((SELECT (total, open_documents)::text FROM billy.dashboard_receivables WHERE organization_id = :'org' AND side = 'payable'),
          '(750.00,1)',
          'dashboard payables: 750.00 on 1 bill, each supplier''s credit notes netted against its own bills (not 1250.00 - 1500.00 = -250.00)');
SELECT ok((SELECT bool_and(overdue >= 0 AND outstanding >= 0) FROM billy.dashboard_summary WHERE organization_id = :'org'),
          'the dashboard summary shows no negative outstanding or overdue');

SELECT * FROM finish();
ROLLBACK;
