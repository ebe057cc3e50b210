-- The worked examples of spec/moms.md §7 (T1-T8, T10) as known-answer tests.
-- Each example gets an empty organization of its own in billy-sandbox; its
-- documents are created through the sandbox's /v2 write API, mirrored with
-- billy.sync_now, and the return computed by billy.vat_return must say what
-- the spec worked out by hand.  Quarterly filer, Q1 2025 unless noted.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(56);
\ir vat_books.psql

------------------------------------------------------------------ T1
-- Invoice net 10,000.00, VAT 2,500.00; bill net 4,000.00, VAT 1,000.00
-- -> salgsmoms 2,500, købsmoms 1,000, momstilsvar 1,500.  A draft, a voided
-- invoice, a draft bill and a Q2 invoice are in the books but not on the return.
SELECT FROM pg_temp.new_books('Moms T1 ApS');
SELECT pg_temp.contact('Moms T1 ApS', 'Lysgården ApS', 'DK', '29403473') AS t1_customer \gset
SELECT pg_temp.contact('Moms T1 ApS', 'Papirhuset A/S', 'DK', '12345674') AS t1_supplier \gset
SELECT pg_temp.product('Moms T1 ApS', 'Pendel Nord') AS t1_lamp \gset
SELECT FROM pg_temp.invoice('Moms T1 ApS', :'t1_customer', '2025-02-10', :'t1_lamp', 10000);
SELECT FROM pg_temp.bill('Moms T1 ApS', :'t1_supplier', '2025-03-05', 'K25', 4000);
SELECT FROM pg_temp.invoice('Moms T1 ApS', :'t1_customer', '2025-02-11', :'t1_lamp', 5000, '{"state": "draft"}');
SELECT pg_temp.invoice('Moms T1 ApS', :'t1_customer', '2025-02-12', :'t1_lamp', 3000) AS t1_void \gset
SELECT FROM pg_temp.call('Moms T1 ApS', 'PUT', '/invoices/' || :'t1_void', '{"invoice": {"state": "voided"}}');
SELECT FROM pg_temp.bill('Moms T1 ApS', :'t1_supplier', '2025-03-06', 'K25', 800, '{"state": "draft"}');
SELECT FROM pg_temp.invoice('Moms T1 ApS', :'t1_customer', '2025-04-01', :'t1_lamp', 700);
SELECT FROM pg_temp.sync('Moms T1 ApS');

SELECT is((SELECT count(*) FROM billy.invoices WHERE organization_id = pg_temp.org_of('Moms T1 ApS')), 4::bigint,
          'T1: the sandbox''s four invoices are mirrored (draft, voided and Q2 included)');
SELECT is(r.salgsmoms_exact, 2500.00, 'T1: salgsmoms exact 2,500.00') FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT is(r.salgsmoms_reported, 2500::numeric, 'T1: salgsmoms reported 2,500') FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT is(r.koebsmoms_reported, 1000::numeric, 'T1: købsmoms 1,000') FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_reported, 1500::numeric, 'T1: momstilsvar 1,500 (pay)') FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_exact, 1500.00, 'T1: momstilsvar exact 1,500.00') FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT is(r.moms_varekoeb_udland_exact + r.moms_ydelseskoeb_udland_exact + r.rubrik_a_varer_exact + r.rubrik_a_ydelser_exact
          + r.rubrik_b_varer_eu_salg_exact + r.rubrik_b_varer_ikke_eu_salg_exact + r.rubrik_b_ydelser_exact + r.rubrik_c_exact
          + r.elafgift_exact, 0::numeric, 'T1: every other field is 0') FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT is(r.lines, 2::bigint, 'T1: two lines counted: the draft, the voided invoice, the draft bill and the Q2 invoice are not')
FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT is((r.start_date, r.end_date, r.deadline, r.period, r.period_type)::text,
          '(2025-01-01,2025-03-31,2025-06-02,2025-Q1,quarter)', 'T1: Q1 2025 runs to 31 March and is due 2 June 2025')
FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT ok(r.complete AND r.unmapped_lines = 0, 'T1: every line''s tax rate is mapped') FROM pg_temp.ret('Moms T1 ApS', '2025-Q1') r;
SELECT is(r.salgsmoms_exact, 175.00, 'T1: the invoice of 1 April is in Q2') FROM pg_temp.ret('Moms T1 ApS', '2025-Q2') r;
SELECT is((SELECT array_agg(field || ' ' || amount ORDER BY field) FROM billy.vat_return_lines(pg_temp.org_of('Moms T1 ApS'), '2025-Q1')),
          ARRAY['koebsmoms 1000.00', 'salgsmoms 2500.00'], 'T1: the drill-down shows the invoice''s VAT and the bill''s deduction');
SELECT is((SELECT count(*) FROM billy.vat_return_lines(pg_temp.org_of('Moms T1 ApS'), '2025-Q1') l
           JOIN billy.invoices i ON i.id = l.document_id AND i.state = 'approved'
           WHERE l.document_type = 'invoice' AND l.contact_name = 'Lysgården ApS' AND l.tax_rate = 'S25'), 1::bigint,
          'T1: the invoice line in the drill-down names its approved invoice, customer and rate');

------------------------------------------------------------------ T2
-- Bill 1,234.56 incl. VAT: VAT 246.91 on the line (1,234.56 × 0.2 = 246.912),
-- net 987.65 -> købsmoms 246 (truncated), momstilsvar -246 (refund)
SELECT FROM pg_temp.new_books('Moms T2 ApS');
SELECT pg_temp.contact('Moms T2 ApS', 'Kontorland ApS', 'DK', '87654328') AS t2_supplier \gset
SELECT FROM pg_temp.bill('Moms T2 ApS', :'t2_supplier', '2025-01-20', 'K25', 1234.56, '{"taxMode": "incl"}');
SELECT FROM pg_temp.sync('Moms T2 ApS');
SELECT is((SELECT (amount, tax)::text FROM billy.bill_lines WHERE organization_id = pg_temp.org_of('Moms T2 ApS')),
          '(987.65,246.91)', 'T2: Billy stores the line as net 987.65 and VAT 246.91');
SELECT is(r.koebsmoms_exact, 246.91, 'T2: købsmoms exact 246.91') FROM pg_temp.ret('Moms T2 ApS', '2025-Q1') r;
SELECT is(r.koebsmoms_reported, 246::numeric, 'T2: købsmoms reported 246 (øre truncated)') FROM pg_temp.ret('Moms T2 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_reported, -246::numeric, 'T2: momstilsvar -246 (refund)') FROM pg_temp.ret('Moms T2 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_exact, -246.91, 'T2: momstilsvar exact -246.91') FROM pg_temp.ret('Moms T2 ApS', '2025-Q1') r;
SELECT is(billy.vat_from_gross(1234.56), 246.91, 'T2: billy.vat_from_gross agrees with Billy''s line');

------------------------------------------------------------------ T3
-- EU sale of goods to a DE business with a VAT number, 20,000.00 at 0%
-- -> rubrik B varer (EU-salg) 20,000, salgsmoms 0, momstilsvar 0; EU-sales
-- list total for the DE customer 20,000
SELECT FROM pg_temp.new_books('Moms T3 ApS');
SELECT pg_temp.contact('Moms T3 ApS', 'Leuchten Müller GmbH', 'DE', 'DE123456789') AS t3_customer \gset
SELECT pg_temp.product('Moms T3 ApS', 'Bordlampe Aura') AS t3_lamp \gset
SELECT FROM pg_temp.invoice('Moms T3 ApS', :'t3_customer', '2025-03-03', :'t3_lamp', 20000);
SELECT FROM pg_temp.sync('Moms T3 ApS');
SELECT is((SELECT t.abbreviation FROM billy.invoice_lines l JOIN billy.tax_rates t ON t.organization_id = l.organization_id AND t.id = l.tax_rate_id
           WHERE l.organization_id = pg_temp.org_of('Moms T3 ApS')), 'EUV', 'T3: the Varer ruleset gave the line the EU goods rate');
SELECT is(r.rubrik_b_varer_eu_salg_reported, 20000::numeric, 'T3: rubrik B varer (EU-salg) 20,000') FROM pg_temp.ret('Moms T3 ApS', '2025-Q1') r;
SELECT is(r.salgsmoms_exact, 0.00, 'T3: salgsmoms 0') FROM pg_temp.ret('Moms T3 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_reported, 0::numeric, 'T3: momstilsvar 0') FROM pg_temp.ret('Moms T3 ApS', '2025-Q1') r;
SELECT is((SELECT (country_id, vat_number, goods, services, total)::text FROM billy.vat_eu_sales(pg_temp.org_of('Moms T3 ApS'), '2025-Q1')),
          '(DE,DE123456789,20000.00,0,20000.00)', 'T3: EU-salg uden moms: the DE customer, goods 20,000');

------------------------------------------------------------------ T4
-- EU service purchase under reverse charge (IE ad platform): 8,000.00 after
-- FX (EUR 1,000.00 at 8.00), no VAT on the bill -> moms af ydelseskøb 2,000,
-- købsmoms 2,000, rubrik A ydelser 8,000, momstilsvar 0
SELECT FROM pg_temp.new_books('Moms T4 ApS');
SELECT pg_temp.contact('Moms T4 ApS', 'Adverto Platforms Ireland Ltd', 'IE', 'IE9692928F') AS t4_supplier \gset
SELECT pg_temp.bill('Moms T4 ApS', :'t4_supplier', '2025-02-28', 'UY25', 1000, '{"currencyId": "EUR", "exchangeRate": 8}', 2810) AS t4_bill \gset
SELECT FROM pg_temp.sync('Moms T4 ApS');
SELECT is((SELECT (b.currency_id, b.exchange_rate, l.amount, l.tax)::text FROM billy.bills b JOIN billy.bill_lines l ON l.bill_id = b.id
           WHERE b.organization_id = pg_temp.org_of('Moms T4 ApS')), '(EUR,8,1000,0)',
          'T4: the bill is EUR 1,000 at 8 with no VAT stored (the buyer self-assesses)');
SELECT is(r.moms_ydelseskoeb_udland_exact, 2000.00, 'T4: moms af ydelseskøb i udlandet 2,000') FROM pg_temp.ret('Moms T4 ApS', '2025-Q1') r;
SELECT is(r.koebsmoms_exact, 2000.00, 'T4: købsmoms 2,000') FROM pg_temp.ret('Moms T4 ApS', '2025-Q1') r;
SELECT is(r.rubrik_a_ydelser_reported, 8000::numeric, 'T4: rubrik A ydelser 8,000') FROM pg_temp.ret('Moms T4 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_reported, 0::numeric, 'T4: momstilsvar 0') FROM pg_temp.ret('Moms T4 ApS', '2025-Q1') r;
SELECT is((SELECT array_agg(field || ' ' || amount ORDER BY field) FROM billy.vat_return_lines(pg_temp.org_of('Moms T4 ApS'), '2025-Q1')
           WHERE document_id = :'t4_bill'),
          ARRAY['koebsmoms 2000.00', 'moms_ydelseskoeb_udland 2000.00', 'rubrik_a_ydelser 8000.00'],
          'T4: the drill-down shows the one bill line in three fields');

------------------------------------------------------------------ T5
-- Non-EU service purchase (US SaaS) 1,000.00 -> moms af ydelseskøb 250,
-- købsmoms 250, rubrik A ydelser 0 (non-EU), momstilsvar 0
SELECT FROM pg_temp.new_books('Moms T5 ApS');
SELECT pg_temp.contact('Moms T5 ApS', 'Cloudly Inc.', 'US') AS t5_supplier \gset
SELECT FROM pg_temp.bill('Moms T5 ApS', :'t5_supplier', '2025-01-31', 'UYX25', 1000, '{}', 3820);
SELECT FROM pg_temp.sync('Moms T5 ApS');
SELECT is(r.moms_ydelseskoeb_udland_exact, 250.00, 'T5: moms af ydelseskøb i udlandet 250') FROM pg_temp.ret('Moms T5 ApS', '2025-Q1') r;
SELECT is(r.koebsmoms_exact, 250.00, 'T5: købsmoms 250') FROM pg_temp.ret('Moms T5 ApS', '2025-Q1') r;
SELECT is(r.rubrik_a_ydelser_exact, 0::numeric, 'T5: rubrik A ydelser 0 (the supplier is outside the EU)') FROM pg_temp.ret('Moms T5 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_reported, 0::numeric, 'T5: momstilsvar 0') FROM pg_temp.ret('Moms T5 ApS', '2025-Q1') r;

------------------------------------------------------------------ T6
-- EU goods purchase (SE supplier) 12,000.00 -> moms af varekøb 3,000,
-- købsmoms 3,000, rubrik A varer 12,000, momstilsvar 0
SELECT FROM pg_temp.new_books('Moms T6 ApS');
SELECT pg_temp.contact('Moms T6 ApS', 'Svensk Belysning AB', 'SE', 'SE556677889901') AS t6_supplier \gset
SELECT FROM pg_temp.bill('Moms T6 ApS', :'t6_supplier', '2025-03-14', 'UV25', 12000, '{}', 1320);
SELECT FROM pg_temp.sync('Moms T6 ApS');
SELECT is(r.moms_varekoeb_udland_exact, 3000.00, 'T6: moms af varekøb i udlandet 3,000') FROM pg_temp.ret('Moms T6 ApS', '2025-Q1') r;
SELECT is(r.koebsmoms_exact, 3000.00, 'T6: købsmoms 3,000') FROM pg_temp.ret('Moms T6 ApS', '2025-Q1') r;
SELECT is(r.rubrik_a_varer_reported, 12000::numeric, 'T6: rubrik A varer 12,000') FROM pg_temp.ret('Moms T6 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_reported, 0::numeric, 'T6: momstilsvar 0') FROM pg_temp.ret('Moms T6 ApS', '2025-Q1') r;

------------------------------------------------------------------ T7
-- Q2 2025 (due 2025-09-01): invoice net 6,000.00 (VAT 1,500.00) and a credit
-- note for a Q1 invoice, net 2,000.00 (VAT 500.00) -> salgsmoms 1,000,
-- momstilsvar 1,000; Q1 unchanged (the credit note counts in its own period)
SELECT FROM pg_temp.new_books('Moms T7 ApS');
SELECT pg_temp.contact('Moms T7 ApS', 'Stue & Sofa ApS', 'DK', '33445566') AS t7_customer \gset
SELECT pg_temp.product('Moms T7 ApS', 'Gulvlampe Nova') AS t7_lamp \gset
SELECT pg_temp.invoice('Moms T7 ApS', :'t7_customer', '2025-02-14', :'t7_lamp', 8000) AS t7_q1 \gset
SELECT FROM pg_temp.sync('Moms T7 ApS');
SELECT r.salgsmoms_exact AS t7_q1_before FROM pg_temp.ret('Moms T7 ApS', '2025-Q1') r \gset
SELECT FROM pg_temp.invoice('Moms T7 ApS', :'t7_customer', '2025-05-05', :'t7_lamp', 6000);
SELECT FROM pg_temp.invoice('Moms T7 ApS', :'t7_customer', '2025-05-20', :'t7_lamp', 2000,
                       jsonb_build_object('type', 'creditNote', 'creditedInvoiceId', :'t7_q1'));
SELECT FROM pg_temp.sync('Moms T7 ApS');
SELECT is((SELECT (type, amount, tax)::text FROM billy.invoices WHERE organization_id = pg_temp.org_of('Moms T7 ApS') AND credited_invoice_id = :'t7_q1'),
          '(creditNote,2000,500)', 'T7: Billy stores the credit note with positive amounts');
SELECT is(r.salgsmoms_reported, 1000::numeric, 'T7: Q2 salgsmoms 1,000') FROM pg_temp.ret('Moms T7 ApS', '2025-Q2') r;
SELECT is(r.tilsvar_reported, 1000::numeric, 'T7: Q2 momstilsvar 1,000') FROM pg_temp.ret('Moms T7 ApS', '2025-Q2') r;
SELECT is(r.deadline, '2025-09-01'::date, 'T7: Q2 2025 is due 1 September 2025') FROM pg_temp.ret('Moms T7 ApS', '2025-Q2') r;
SELECT is(r.salgsmoms_exact, :'t7_q1_before'::numeric, 'T7: Q1 is unchanged by the Q2 credit note') FROM pg_temp.ret('Moms T7 ApS', '2025-Q1') r;
SELECT is(r.salgsmoms_exact, 2000.00, 'T7: Q1 still has the invoice''s 2,000 VAT') FROM pg_temp.ret('Moms T7 ApS', '2025-Q1') r;
SELECT is((SELECT sum(amount) FROM billy.vat_return_lines(pg_temp.org_of('Moms T7 ApS'), '2025-Q2')
           WHERE field = 'salgsmoms' AND document_kind = 'creditNote'), -500.00,
          'T7: the drill-down shows the credit note subtracting 500');

------------------------------------------------------------------ T8
-- Q2: EU goods invoice 5,000.00 and credit note 1,500.00 to the same DE
-- customer -> rubrik B varer (EU-salg) 3,500
SELECT FROM pg_temp.new_books('Moms T8 ApS');
SELECT pg_temp.contact('Moms T8 ApS', 'Wohnlicht KG', 'DE', 'DE987654321') AS t8_customer \gset
SELECT pg_temp.product('Moms T8 ApS', 'Væglampe Fjord') AS t8_lamp \gset
SELECT pg_temp.invoice('Moms T8 ApS', :'t8_customer', '2025-04-10', :'t8_lamp', 5000) AS t8_inv \gset
SELECT FROM pg_temp.invoice('Moms T8 ApS', :'t8_customer', '2025-06-12', :'t8_lamp', 1500,
                       jsonb_build_object('type', 'creditNote', 'creditedInvoiceId', :'t8_inv'));
SELECT FROM pg_temp.sync('Moms T8 ApS');
SELECT is(r.rubrik_b_varer_eu_salg_reported, 3500::numeric, 'T8: rubrik B varer (EU-salg) 3,500') FROM pg_temp.ret('Moms T8 ApS', '2025-Q2') r;
SELECT is(r.tilsvar_reported, 0::numeric, 'T8: momstilsvar 0') FROM pg_temp.ret('Moms T8 ApS', '2025-Q2') r;
SELECT is((SELECT total FROM billy.vat_eu_sales(pg_temp.org_of('Moms T8 ApS'), '2025-Q2')), 3500.00,
          'T8: EU-salg uden moms nets the credit note: 3,500');

------------------------------------------------------------------ T10
-- Export outside the EU (NO customer) 5,000.00 at 0% -> rubrik C 5,000
SELECT FROM pg_temp.new_books('Moms T10 ApS');
SELECT pg_temp.contact('Moms T10 ApS', 'Nordfjord Interiør AS', 'NO', 'NO912345678') AS t10_customer \gset
SELECT pg_temp.product('Moms T10 ApS', 'Loftlampe Polar') AS t10_lamp \gset
SELECT FROM pg_temp.invoice('Moms T10 ApS', :'t10_customer', '2025-03-20', :'t10_lamp', 5000);
SELECT FROM pg_temp.sync('Moms T10 ApS');
SELECT is(r.rubrik_c_reported, 5000::numeric, 'T10: rubrik C 5,000') FROM pg_temp.ret('Moms T10 ApS', '2025-Q1') r;
SELECT is(r.tilsvar_reported, 0::numeric, 'T10: momstilsvar 0') FROM pg_temp.ret('Moms T10 ApS', '2025-Q1') r;
SELECT is(r.rubrik_b_varer_eu_salg_exact + r.salgsmoms_exact, 0::numeric, 'T10: no EU sale, no salgsmoms') FROM pg_temp.ret('Moms T10 ApS', '2025-Q1') r;

------------------------------------------------------------------ more by hand
-- Restaurant (25% of the VAT deductible): bill net 1,000.00, VAT 250.00 ->
-- købsmoms 62.50, reported 62; plus a services sale to an EU business
-- (rubrik B ydelser) and an exempt course (no field), in EUR at 7.4604:
-- 1,234.57 EUR -> 9,210.39 DKK (9,210.3860...), 99.99 EUR -> 745.97 DKK
SELECT FROM pg_temp.new_books('Moms Mix ApS');
SELECT pg_temp.contact('Moms Mix ApS', 'Restaurant Havnen', 'DK', '11223344') AS mx_rest \gset
SELECT pg_temp.contact('Moms Mix ApS', 'Studio Nederland BV', 'NL', 'NL123456789B01') AS mx_nl \gset
SELECT pg_temp.product('Moms Mix ApS', 'Konsulenttime', 'Ydelser') AS mx_hour \gset
SELECT pg_temp.product('Moms Mix ApS', 'Kursus i lysdesign', 'Momsfri') AS mx_course \gset
SELECT FROM pg_temp.bill('Moms Mix ApS', :'mx_rest', '2025-05-02', 'REP25', 1000, '{}', 2750);
SELECT FROM pg_temp.invoice('Moms Mix ApS', :'mx_nl', '2025-05-15', :'mx_hour', 1234.57, '{"currencyId": "EUR", "exchangeRate": 7.4604}');
SELECT FROM pg_temp.invoice('Moms Mix ApS', :'mx_nl', '2025-05-16', :'mx_course', 99.99, '{"currencyId": "EUR", "exchangeRate": 7.4604}');
SELECT FROM pg_temp.sync('Moms Mix ApS');
SELECT is(r.koebsmoms_exact, 62.50, 'restaurant: 25% of 250.00 VAT is deductible: 62.50') FROM pg_temp.ret('Moms Mix ApS', '2025-Q2') r;
SELECT is(r.koebsmoms_reported, 62::numeric, 'restaurant: reported 62') FROM pg_temp.ret('Moms Mix ApS', '2025-Q2') r;
SELECT is(r.rubrik_b_ydelser_exact, 9210.39, 'EU services sale in EUR: rubrik B ydelser 9,210.39 DKK') FROM pg_temp.ret('Moms Mix ApS', '2025-Q2') r;
SELECT is(r.tilsvar_exact, -62.50, 'momstilsvar -62.50: the exempt course is on no field') FROM pg_temp.ret('Moms Mix ApS', '2025-Q2') r;
SELECT is((SELECT amount FROM billy.vat_return_lines(pg_temp.org_of('Moms Mix ApS'), '2025-Q2') WHERE field = 'none'), 745.97,
          'the exempt course is in the drill-down as field none, 745.97 DKK');

SELECT * FROM finish();
ROLLBACK;
