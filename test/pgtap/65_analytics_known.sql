-- Known answers: a small set of books built through billy-sandbox's write
-- API in a new empty organization, synced, and every analytics function
-- checked against values worked out by hand (in the comments).
--
--   Q  Quist Møbler (DK, 30 days): Q1 2025-01-10, Q2 2025-02-10, Q3 2025-03-10,
--      each 100.00 + 25% VAT = 125.00, paid together 2025-03-20 (375.00)
--   C  Café Christianshavn (DK, 8 days): I4 2026-04-02 3000.00 + 750.00 VAT,
--      due 04-10, unpaid; V1 2026-06-12 700.00 approved, then voided
--   A  Aarhus Lamper (DK, 14 days): I1 2026-05-10 1000.00 + 250.00, due 05-24,
--      paid 05-20 (1250.00); I2 2026-06-05 2 x 1000.00 + 500.00, due 06-19;
--      C1 credit note for I2 2026-06-15 400.00 + 100.00 (settles 500.00 of
--      I2 that day); 1000.00 paid on I2 06-25, so I2 owes 1000.00; D1 a
--      draft 06-20 (5000.00)
--   B  Berlin Licht (DE company, EUR, 30 days): I3 2026-06-10 200.00 EUR at
--      7.5 = 1500.00 DKK, EU sale without VAT, due 07-10, unpaid
--   S  supplier: bills B2 2026-05-15 300.00 + 75.00, B1 2026-06-08 800.00 + 200.00
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(42);
SET LOCAL client_min_messages = warning;

\ir known_books.psql
CREATE FUNCTION pg_temp.bill(key text, entry date, amount numeric) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.post(key, '/bills', 'bill', jsonb_build_object('bill', jsonb_build_object(
        'contactId', pg_temp.k('S'), 'entryDate', entry, 'state', 'approved',
        'lines', jsonb_build_array(jsonb_build_object('accountId', pg_temp.k('purchases'), 'taxRateId', pg_temp.k('K25'),
                                                      'description', 'Kontorartikler', 'amount', amount)))))
$$;
CREATE FUNCTION pg_temp.build_books() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.new_org('Kendte Tal ApS');
    PERFORM pg_temp.post('A', '/contacts', 'contact', '{"contact":{"name":"Aarhus Lamper ApS","countryId":"DK","registrationNo":"35812428","paymentTermsDays":14}}');
    PERFORM pg_temp.post('B', '/contacts', 'contact', '{"contact":{"name":"Berlin Licht GmbH","countryId":"DE","registrationNo":"DE123456789","paymentTermsDays":30,"currencyId":"EUR"}}');
    PERFORM pg_temp.post('C', '/contacts', 'contact', '{"contact":{"name":"Café Christianshavn","countryId":"DK","type":"person","paymentTermsDays":8}}');
    PERFORM pg_temp.post('Q', '/contacts', 'contact', '{"contact":{"name":"Quist Møbler ApS","countryId":"DK","registrationNo":"29403473","paymentTermsDays":30}}');
    PERFORM pg_temp.post('S', '/contacts', 'contact', '{"contact":{"name":"Kontorland A/S","countryId":"DK","registrationNo":"10403782","isSupplier":true,"isCustomer":false}}');

    PERFORM pg_temp.invoice('Q1', 'Q', '2025-01-10', 'DKK', 100);
    PERFORM pg_temp.invoice('Q2', 'Q', '2025-02-10', 'DKK', 100);
    PERFORM pg_temp.invoice('Q3', 'Q', '2025-03-10', 'DKK', 100);
    PERFORM pg_temp.pay('payQ', '2025-03-20', 375, ARRAY['Q1', 'Q2', 'Q3']);
    PERFORM pg_temp.invoice('I4', 'C', '2026-04-02', 'DKK', 3000);
    PERFORM pg_temp.invoice('I1', 'A', '2026-05-10', 'DKK', 1000);
    PERFORM pg_temp.pay('payI1', '2026-05-20', 1250, ARRAY['I1']);
    PERFORM pg_temp.invoice('I2', 'A', '2026-06-05', 'DKK', 1000, 2);
    PERFORM pg_temp.invoice('I3', 'B', '2026-06-10', 'EUR', 200, 1, 'approved', '{"exchangeRate":7.5}');
    PERFORM pg_temp.invoice('C1', 'A', '2026-06-15', 'DKK', 400, 1, 'approved',
                            jsonb_build_object('type', 'creditNote', 'creditedInvoiceId', pg_temp.k('I2')));
    PERFORM pg_temp.pay('payI2', '2026-06-25', 1000, ARRAY['I2']);
    PERFORM pg_temp.invoice('D1', 'A', '2026-06-20', 'DKK', 5000, 1, 'draft');
    PERFORM pg_temp.invoice('V1', 'C', '2026-06-12', 'DKK', 700);
    PERFORM billy_test.api(pg_temp.k('token'), 'PUT', '/invoices/' || pg_temp.k('V1'), '{"invoice":{"state":"voided"}}');
    PERFORM pg_temp.bill('B2', '2026-05-15', 300);
    PERFORM pg_temp.bill('B1', '2026-06-08', 800);

    PERFORM billy.connect(pg_temp.k('token'), billy_test.setting('api_url'));
    PERFORM count(*) FROM billy.sync_now(pg_temp.k('org'));
    RETURN pg_temp.k('org');
END $$;
SELECT pg_temp.build_books() AS org \gset

SELECT is((SELECT count(*) FROM billy.invoices WHERE organization_id = :'org'), 10::bigint,
          'the books are mirrored: 10 invoices and credit notes');

-- summary, June to date (as_of 2026-06-30) against 1-30 May:
--   net 2000 + 1500 - 400 = 3100.00, VAT 500 + 0 - 100 = 400.00, gross 3500.00;
--   2 invoices, 1 credit note, customers A and B, average (2000 + 1500) / 2;
--   May: I1 1000.00 (gross 1250.00), change +2100.00 = +210.0%;
--   open now: I2 1000 + I3 1500 + I4 3750 = 6250.00 on 3 invoices; overdue
--   (due before 06-30): I2 and I4, 4750.00; paid in June: 1000.00 on I2 (the
--   credit note is not a payment); costs: B1 800.00; margin 2300.00 = 74.2%
SELECT is((SELECT (period_start, period_end, net_revenue, vat, gross_revenue, invoices, credit_notes, customers,
                   average_invoice)::text
           FROM billy.analytics_summary(:'org', 'month', '2026-06-30')),
          '(2026-06-01,2026-06-30,3100.00,400.00,3500.00,2,1,2,1750.00)',
          'summary, this month: revenue, counts, customers, average invoice');
SELECT is((SELECT (previous_start, previous_end, previous_net_revenue, previous_gross_revenue, net_change, net_change_pct)::text
           FROM billy.analytics_summary(:'org', 'month', '2026-06-30')),
          '(2026-05-01,2026-05-30,1000.00,1250.00,2100.00,210.0)',
          'summary, this month: against the same days of last month');
SELECT is((SELECT (outstanding, outstanding_invoices, overdue, overdue_invoices, paid, costs, margin, margin_pct)::text
           FROM billy.analytics_summary(:'org', 'month', '2026-06-30')),
          '(6250.00,3,4750.00,2,1000.00,800.00,2300.00,74.2)',
          'summary, this month: outstanding, overdue, paid, costs, margin');
-- the second quarter whole: net 3000 + 1000 + 2000 + 1500 - 400 = 7100.00,
-- VAT 750 + 250 + 500 - 100 = 1400.00, 4 invoices, customers A, B, C, average
-- 7500 / 4 = 1875.00; Q1 empty (no change in percent); paid 1250 + 1000;
-- costs 300 + 800; margin 6000.00 = 84.5%
SELECT is((SELECT (period_start, period_end, net_revenue, vat, invoices, customers, average_invoice, previous_net_revenue,
                   net_change_pct, paid, costs, margin, margin_pct)::text
           FROM billy.analytics_summary(:'org', '2026-Q2', '2026-06-30')),
          '(2026-04-01,2026-06-30,7100.00,1400.00,4,3,1875.00,0,,2250.00,1100.00,6000.00,84.5)',
          'summary of a quarter');
-- the year to date against January-June 2025: the three Q invoices, 300.00 and 375.00
SELECT is((SELECT (previous_start, previous_end, previous_net_revenue, previous_gross_revenue, net_change_pct)::text
           FROM billy.analytics_summary(:'org', 'year', '2026-06-30')),
          '(2025-01-01,2025-06-30,300.00,375.00,2266.7)', 'summary, the year to date against last year''s');
SELECT is((SELECT (net_revenue, invoices, customers, previous_start, previous_end, previous_net_revenue)::text
           FROM billy.analytics_summary(:'org', '2026-06-05..2026-06-12', '2026-06-30')),
          '(3500.00,2,2,2026-05-28,2026-06-04,0)', 'summary of a range, against the days just before');
SELECT is((SELECT (net_revenue, invoices, customers, paid)::text
           FROM billy.analytics_summary(:'org', 'week', '2026-06-10')),
          '(1500.00,1,1,0)', 'summary, this week (Monday 06-08 to Wednesday 06-10: I3 only)');

-- trends by month, April-June: moving average over 3 months, growth against
-- the month before; nothing a year earlier
SELECT results_eq(
    $$SELECT period_start, net, vat, gross, invoices, credit_notes, moving_average, growth_pct, yoy_pct
      FROM billy.revenue_trends(pg_temp.k('org'), '2026-04-01', '2026-06-30')$$,
    $$VALUES ('2026-04-01'::date, 3000.00, 750.00, 3750.00, 1, 0, 1000.00, NULL::numeric, NULL::numeric),
             ('2026-05-01', 1000.00, 250.00, 1250.00, 1, 0, 1333.33, -66.7, NULL),
             ('2026-06-01', 3100.00, 400.00, 3500.00, 2, 1, 2366.67, 210.0, NULL)$$,
    'revenue trends by month');
-- by quarter from 2025: moving average over 4 quarters, growth against the
-- same quarter a year before
SELECT results_eq(
    $$SELECT period_start, net, moving_average, growth_pct, yoy_pct
      FROM billy.revenue_trends(pg_temp.k('org'), '2025-01-01', '2026-06-30', 'quarter')$$,
    $$VALUES ('2025-01-01'::date, 300.00, 75.00, NULL::numeric, NULL::numeric),
             ('2025-04-01', 0, 75.00, -100.0, NULL),
             ('2025-07-01', 0, 75.00, NULL, NULL),
             ('2025-10-01', 0, 75.00, NULL, NULL),
             ('2026-01-01', 0, 0.00, NULL, -100.0),
             ('2026-04-01', 7100.00, 1775.00, NULL, NULL)$$,
    'revenue trends by quarter, with a year-on-year change');
SELECT results_eq(
    $$SELECT period_start, net, invoices, moving_average FROM billy.revenue_trends(pg_temp.k('org'), '2026-06-05', '2026-06-07', 'day')$$,
    $$VALUES ('2026-06-05'::date, 2000.00, 1, 285.71), ('2026-06-06', 0, 0, 285.71), ('2026-06-07', 0, 0, 285.71)$$,
    'revenue trends by day, empty days included, a 7-day average');

-- receivables at 2026-06-30: I3 1500 not due, I2 1000 11 days late, I4 3750
-- 81 days late; DSO = 6250 / gross sales of the 90 days to 06-30
-- (3750 + 1250 + 2500 + 1500 - 500 = 8500) * 90 = 66.2
SELECT is((SELECT (name, not_due, days_1_30, days_31_60, days_61_90, over_90, total, not_due_count, days_1_30_count,
                   days_61_90_count, documents, dso)::text
           FROM billy.receivables_aging(:'org', '2026-06-30') WHERE contact_id IS NULL),
          '("all customers",1500.00,1000.00,0.00,3750.00,0.00,6250.00,1,1,1,3,66.2)', 'aging at 06-30, every customer');
SELECT results_eq(
    $$SELECT name, total, days_1_30, days_61_90 FROM billy.receivables_aging(pg_temp.k('org'), '2026-06-30') WHERE contact_id IS NOT NULL$$,
    $$VALUES ('Café Christianshavn'::text, 3750.00, 0.00, 3750.00), ('Berlin Licht GmbH', 1500.00, 0.00, 0.00),
             ('Aarhus Lamper ApS', 1000.00, 1000.00, 0.00)$$,
    'aging at 06-30 per customer, largest first');
-- at 06-20 the 1000.00 paid on 06-25 was still owed (I2: 2000.00, 1 day
-- late; the credit note of 06-15 counts); DSO 7250 / 8500 * 90 = 76.8
SELECT is((SELECT (days_1_30, total, dso)::text FROM billy.receivables_aging(:'org', '2026-06-20') WHERE contact_id IS NULL),
          '(2000.00,7250.00,76.8)', 'aging at a past date rebuilds the balances of that day');
-- at 05-15: I1 (due 05-24, paid 05-20) not due, I4 35 days late; June's
-- invoices did not exist; DSO 5000 / (3750 + 1250) * 90
SELECT is((SELECT (not_due, days_31_60, total, documents, dso)::text FROM billy.receivables_aging(:'org', '2026-05-15') WHERE contact_id IS NULL),
          '(1250.00,3750.00,5000.00,2,90.0)', 'aging before later invoices existed');

-- customers, all history to 06-30: C 3000, A 1000 + 2000 - 400 = 2600,
-- B 1500, Q 300 of 7400.00; HHI = (3000^2 + 2600^2 + 1500^2 + 300^2) / 7400^2
-- * 10000 = 3305.3; A paid I1 in 10 days, Q in 69, 38 and 10 (mean 39.0,
-- median 38); Q went quiet: last invoice 477 days before 06-30, usually
-- every 29.5 days
SELECT billy.customer_insights(:'org', 10, NULL, '2026-06-30') AS ci \gset
SELECT is((:'ci'::jsonb) - 'top' - 'gone_quiet' - 'organization_id',
          '{"from": null, "to": "2026-06-30", "currency": "DKK", "net_revenue": 7400.00, "customers": 4,
            "new_customers": 4, "returning_customers": 0,
            "concentration": {"top5_share_pct": 100.0, "hhi": 3305.3}}'::jsonb,
          'customer insights: totals, new and returning, concentration');
SELECT is(ARRAY(SELECT (t ->> 'name') || ' ' || (t ->> 'net_revenue') || ' ' || (t ->> 'share_pct')
                FROM jsonb_array_elements((:'ci'::jsonb) -> 'top') t ORDER BY (t ->> 'rank')::int),
          ARRAY['Café Christianshavn 3000.00 40.5', 'Aarhus Lamper ApS 2600.00 35.1', 'Berlin Licht GmbH 1500.00 20.3',
                'Quist Møbler ApS 300.00 4.1'],
          'customer insights: the best customers and their shares');
SELECT is((SELECT t - 'contact_id' - 'rank' - 'name' FROM jsonb_array_elements((:'ci'::jsonb) -> 'top') t
           WHERE t ->> 'name' = 'Aarhus Lamper ApS'),
          '{"net_revenue": 2600.00, "share_pct": 35.1, "invoices": 2, "credit_notes": 1, "average_days_to_pay": 10.0,
            "median_days_to_pay": 10, "paid_invoices": 1, "outstanding": 1000.00, "overdue": 1000.00,
            "last_invoice": "2026-06-05"}'::jsonb,
          'customer insights: counts, days to pay, what is owed, last invoice');
SELECT is((SELECT (t ->> 'average_days_to_pay', t ->> 'median_days_to_pay', t ->> 'paid_invoices')::text
           FROM jsonb_array_elements((:'ci'::jsonb) -> 'top') t WHERE t ->> 'name' = 'Quist Møbler ApS'),
          '(39.0,38,3)', 'customer insights: days to pay of a customer who paid three invoices at once');
SELECT is((SELECT (q - 'contact_id')::jsonb FROM jsonb_array_elements((:'ci'::jsonb) -> 'gone_quiet') q),
          '{"name": "Quist Møbler ApS", "invoices": 3, "lifetime_net_revenue": 300.00, "first_invoice": "2025-01-10",
            "last_invoice": "2025-03-10", "usual_interval_days": 29.5, "days_since_last_invoice": 477}'::jsonb,
          'customer insights: the customer who went quiet');
-- a range of partial months (05-15 to 06-10): A 2000 (I2), B 1500 (I3); B is
-- new, A returning; HHI (2000^2 + 1500^2) / 3500^2 * 10000 = 5102.0
SELECT billy.customer_insights(:'org', 1, '2026-05-15', '2026-06-10') AS cr \gset
SELECT is(((:'cr'::jsonb) -> 'net_revenue', (:'cr'::jsonb) -> 'customers', (:'cr'::jsonb) -> 'new_customers',
           (:'cr'::jsonb) -> 'returning_customers', (:'cr'::jsonb) -> 'concentration' -> 'hhi',
           jsonb_array_length((:'cr'::jsonb) -> 'top'), (:'cr'::jsonb) -> 'top' -> 0 ->> 'name',
           (:'cr'::jsonb) -> 'top' -> 0 -> 'share_pct')::text,
          '(3500.00,2,1,1,5102.0,1,"Aarhus Lamper ApS",57.1)',
          'customer insights of a range of partial months, top 1');
-- whole months and a partial one (April and May from the monthly rollup, 1-20
-- June from the invoices): C 3000 (I4), A 1000 + 2000 - 400 = 2600, B 1500
SELECT billy.customer_insights(:'org', 10, '2026-04-01', '2026-06-20') AS cm \gset
SELECT is(((:'cm'::jsonb) -> 'net_revenue',
           ARRAY(SELECT (t ->> 'name') || ' ' || (t ->> 'net_revenue') FROM jsonb_array_elements((:'cm'::jsonb) -> 'top') t
                 ORDER BY (t ->> 'rank')::int))::text,
          '(7100.00,"{""Café Christianshavn 3000.00"",""Aarhus Lamper ApS 2600.00"",""Berlin Licht GmbH 1500.00""}")',
          'customer insights of whole months and a partial one');

-- the forecast: 17 whole months of history (2025-01 to 2026-05) is less than
-- two seasons, so Holt's linear trend; the backtest holds out
-- min(horizon 3, 17 / 4) = 3 months
SELECT results_eq(
    $$SELECT period_start, period_end, actual_to_date, method, backtest_periods, history_periods
      FROM billy.forecast_revenue(pg_temp.k('org'), 3, 'month', '2026-06-30')$$,
    $$VALUES ('2026-06-01'::date, '2026-06-30'::date, 3100.00, 'holt', 3, 17),
             ('2026-07-01', '2026-07-31', NULL, 'holt', 3, 17),
             ('2026-08-01', '2026-08-31', NULL, 'holt', 3, 17)$$,
    'forecast: periods, what June has so far, the model, the history');
SELECT ok((SELECT bool_and(lower_95 <= lower_80 AND lower_80 <= forecast AND forecast <= upper_80 AND upper_80 <= upper_95)
           FROM billy.forecast_revenue(:'org', 6, 'month', '2026-06-30')), 'forecast: the intervals nest around the forecast');
SELECT ok((SELECT bool_and(f.upper_95 - f.lower_95 <= g.upper_95 - g.lower_95)
           FROM billy.forecast_revenue(:'org', 6, 'month', '2026-06-30') f
           JOIN billy.forecast_revenue(:'org', 6, 'month', '2026-06-30') g ON g.period_start = f.period_start + interval '1 month'),
          'forecast: the intervals widen with the horizon');

-- the rollups hold exactly these books
SELECT results_eq(
    $$SELECT day, currency_id, kind, documents, net, tax, net_base, tax_base, payments, paid, paid_base
      FROM billy.analytics_daily WHERE organization_id = pg_temp.k('org') AND day >= '2026-06-01' ORDER BY day, kind$$,
    $$VALUES ('2026-06-05'::date, 'DKK', 'invoice', 1, 2000.00, 500.00, 2000.00, 500.00, 0, 0.00, 0.00),
             ('2026-06-08', 'DKK', 'bill', 1, 800.00, 200.00, 800.00, 200.00, 0, 0.00, 0.00),
             ('2026-06-10', 'EUR', 'invoice', 1, 200.00, 0.00, 1500.00, 0.00, 0, 0.00, 0.00),
             ('2026-06-15', 'DKK', 'creditNote', 1, 400.00, 100.00, 400.00, 100.00, 0, 0.00, 0.00),
             ('2026-06-25', 'DKK', 'invoice', 0, 0.00, 0.00, 0.00, 0.00, 1, 1000.00, 1000.00)$$,
    'the daily rollup of June: documents by entry date, payments by payment date, no draft, no voided invoice');
SELECT results_eq(
    $$SELECT due_date, currency_id, kind, documents, balance, balance_base FROM billy.analytics_open
      WHERE organization_id = pg_temp.k('org') ORDER BY due_date$$,
    $$VALUES ('2026-04-10'::date, 'DKK', 'invoice', 1, 3750.00, 3750.00), ('2026-05-23', 'DKK', 'bill', 1, 375.00, 375.00),
             ('2026-06-16', 'DKK', 'bill', 1, 1000.00, 1000.00), ('2026-06-19', 'DKK', 'invoice', 1, 1000.00, 1000.00),
             ('2026-07-10', 'EUR', 'invoice', 1, 200.00, 1500.00)$$,
    'the open balances by due date (the bills: the organization''s 8 days)');

-- the rollups follow changes upstream: B pays I3 (1500.00 DKK from the DKK
-- account at the invoice's rate: 200 EUR), I4 is
-- credited in full (3000 + 750), and the draft is approved
SELECT pg_temp.pay('payI3', '2026-06-30', 1500, ARRAY['I3']) IS NOT NULL AS paid_i3 \gset
SELECT pg_temp.invoice('C2', 'C', '2026-06-30', 'DKK', 3000, 1, 'approved',
                       jsonb_build_object('type', 'creditNote', 'creditedInvoiceId', pg_temp.k('I4'))) IS NOT NULL AS credited \gset
SELECT billy_test.api(pg_temp.k('token'), 'PUT', '/invoices/' || pg_temp.k('D1'), '{"invoice":{"state":"approved"}}') IS NOT NULL AS approved \gset
SELECT is((SELECT sum(rows_updated + rows_inserted) FROM billy.sync_now(:'org', ARRAY['invoices', 'bankPayments'])),
          5::numeric, 'a sync writes the four new or changed invoices and the payment');
-- June now: 3100 + 5000 (D1) - 3000 (C2) = 5100.00; VAT 400 + 1250 - 750 =
-- 900.00; 3 invoices, 2 credit notes; paid 1000 + 1500 (EUR at 7.5);
-- open: I2 1000 + D1 (due 07-04) 6250 = 7250.00, overdue only I2
SELECT is((SELECT (net_revenue, vat, invoices, credit_notes, customers, outstanding, outstanding_invoices, overdue, overdue_invoices, paid)::text
           FROM billy.analytics_summary(:'org', 'month', '2026-06-30')),
          '(5100.00,900.00,3,2,2,7250.00,2,1000.00,1,2500.00)', 'the summary after the changes');
SELECT is((SELECT (total, not_due, days_1_30, days_61_90)::text FROM billy.receivables_aging(:'org', '2026-06-30') WHERE contact_id IS NULL),
          '(7250.00,6250.00,1000.00,0.00)', 'the aging after the changes');

-- the dashboard views say the same
SELECT is((SELECT (net_revenue, vat, gross_revenue, invoices, credit_notes, received, costs, paid_out, margin)::text
           FROM billy.dashboard_monthly WHERE organization_id = :'org' AND month = '2026-06-01'),
          '(5100.00,900.00,6000.00,3,2,2500.00,800.00,0,4300.00)', 'dashboard_monthly: June');
SELECT is((SELECT (total, open_documents)::text FROM billy.dashboard_receivables WHERE organization_id = :'org' AND side = 'receivable'),
          '(7250.00,2)', 'dashboard_receivables: what is owed now');
SELECT is((SELECT (total, open_documents)::text FROM billy.dashboard_receivables WHERE organization_id = :'org' AND side = 'payable'),
          '(1375.00,2)', 'dashboard_receivables: what is owed to suppliers (375.00 + 1000.00)');
SELECT is((SELECT count(*) FROM billy.dashboard_summary WHERE organization_id = :'org'), 1::bigint,
          'dashboard_summary: one row per organization');

-- bad input says what is wrong
SELECT is(billy_test.try(format('SELECT * FROM billy.analytics_summary(%L, %L)', :'org', 'fortnight')),
          '22023: unknown period "fortnight"' || E'\nHINT: ' || 'Use today, week, month, quarter or year (to date, against the same span of the period before; quarter and year follow the fiscal year), a month (2026-05), a quarter (2026-Q2), a half-year (2026-H1), a year (2026), a fiscal year (fy2026: the one ending in 2026), or a range of dates (2026-01-01..2026-03-31).',
          'an unknown period is refused with the forms that work');
SELECT is(billy_test.try(format('SELECT * FROM billy.analytics_summary(%L, %L)', :'org', '2026-03-31..2026-01-01')),
          '22023: period "2026-03-31..2026-01-01" ends before it starts' || E'\nHINT: Write the earlier date first: 2026-01-01..2026-03-31.',
          'a range that ends before it starts is refused');
SELECT is(billy_test.try(format('SELECT * FROM billy.analytics_summary(%L, %L)', :'org', '2026-02-30..2026-03-01')),
          '22023: period "2026-02-30..2026-03-01" is not a valid date or range' || E'\nHINT: Dates are written YYYY-MM-DD, months YYYY-MM.',
          'an impossible date is refused');
SELECT is(billy_test.try(format('SELECT * FROM billy.revenue_trends(%L, %L, %L, %L)', :'org', '2026-01-01', '2026-06-30', 'fortnight')),
          '22023: unknown grain "fortnight"' || E'\nHINT: Use day, week, month, quarter or year.', 'an unknown grain is refused');
SELECT is(billy_test.try(format('SELECT * FROM billy.revenue_trends(%L, %L, %L)', :'org', '2026-06-30', '2026-01-01')),
          '22023: "to" (2026-01-01) is before "from" (2026-06-30)' || E'\nHINT: Pass the earlier date as "from".',
          'trends from a date after their end are refused');
SELECT is(billy_test.try(format('SELECT * FROM billy.forecast_revenue(%L, 0)', :'org')),
          '22023: horizon must be between 1 and 120 periods, not 0', 'a horizon of 0 is refused');
SELECT is(billy_test.try(format('SELECT * FROM billy.forecast_revenue(%L, 3, %L, %L)', :'org', 'month', '2025-01-15')),
          'P0002: no revenue before 2025-01-01 to forecast from' || E'\nHINT: Forecasts need approved invoices in earlier periods; sync the organization first (billy.sync).',
          'a forecast without history says so');
SELECT is(billy_test.try(format('SELECT billy.customer_insights(%L, 0)', :'org')),
          '22023: top must be between 1 and 1000, not 0', 'top 0 is refused');

SELECT * FROM finish();
ROLLBACK;
