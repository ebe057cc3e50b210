-- billy.vat_check finds the documents that would make a return wrong, and
-- the classification map behaves: unmapped rates are flagged (never silently
-- dropped) and block filing, overrides win over the predefined mapping, the
-- contact's country decides EU against non-EU.  The books are built through
-- billy-sandbox's write API; where Billy's books cannot be made wrong through
-- the API (a contact's country changed after invoicing is the usual way),
-- the contact is edited through the API too.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(37);
\ir vat_books.psql

SELECT pg_temp.new_books('Moms Kontrol ApS') AS org \gset
SELECT pg_temp.product('Moms Kontrol ApS', 'Pendel Nord') AS lamp \gset
SELECT pg_temp.product('Moms Kontrol ApS', 'Kursus', 'Momsfri') AS course \gset
-- an EU business that later loses its VAT number
SELECT pg_temp.contact('Moms Kontrol ApS', 'Lichtwerk GmbH', 'DE', 'DE111111111') AS de_lost_vat \gset
SELECT pg_temp.invoice('Moms Kontrol ApS', :'de_lost_vat', '2025-02-03', :'lamp', 1000) AS inv_lost_vat \gset
SELECT FROM pg_temp.call('Moms Kontrol ApS', 'PUT', '/contacts/' || :'de_lost_vat', '{"contact": {"registrationNo": ""}}');
-- an EU business that turns out to be Danish
SELECT pg_temp.contact('Moms Kontrol ApS', 'Dansk Lys ApS', 'DE', 'DE222222222') AS now_dk \gset
SELECT pg_temp.invoice('Moms Kontrol ApS', :'now_dk', '2025-02-04', :'lamp', 2000) AS inv_now_dk \gset
SELECT FROM pg_temp.call('Moms Kontrol ApS', 'PUT', '/contacts/' || :'now_dk', '{"contact": {"countryId": "DK"}}');
-- a Danish customer that turns out to be Norwegian: 25% VAT on an export
SELECT pg_temp.contact('Moms Kontrol ApS', 'Fjell Design AS', 'DK', '33334444') AS now_no \gset
SELECT pg_temp.invoice('Moms Kontrol ApS', :'now_no', '2025-02-05', :'lamp', 3000) AS inv_now_no \gset
SELECT FROM pg_temp.call('Moms Kontrol ApS', 'PUT', '/contacts/' || :'now_no', '{"contact": {"countryId": "NO"}}');
-- an EU business charged Danish VAT (its VAT number was added later)
SELECT pg_temp.contact('Moms Kontrol ApS', 'Studio Lys BV', 'NL') AS nl_late_vat \gset
SELECT pg_temp.invoice('Moms Kontrol ApS', :'nl_late_vat', '2025-02-06', :'lamp', 400) AS inv_nl \gset
SELECT FROM pg_temp.call('Moms Kontrol ApS', 'PUT', '/contacts/' || :'nl_late_vat', '{"contact": {"registrationNo": "NL123456789B01"}}');
-- an EU service rate on a bill from the US: field 3, but no rubrik A
SELECT pg_temp.contact('Moms Kontrol ApS', 'AdCloud Inc.', 'US') AS us \gset
SELECT pg_temp.bill('Moms Kontrol ApS', :'us', '2025-02-07', 'UY25', 800, '{}', 2810) AS bill_us \gset
-- a Danish purchase, a course (exempt sale), a draft
SELECT pg_temp.contact('Moms Kontrol ApS', 'Kontorland ApS', 'DK', '44445555') AS dk \gset
SELECT pg_temp.bill('Moms Kontrol ApS', :'dk', '2025-02-08', 'K25', 1000) AS bill_dk \gset
SELECT pg_temp.contact('Moms Kontrol ApS', 'Kursist Hansen', 'DK', NULL, 'person') AS person \gset
SELECT FROM pg_temp.invoice('Moms Kontrol ApS', :'person', '2025-02-09', :'course', 500);
SELECT pg_temp.invoice('Moms Kontrol ApS', :'dk', '2025-02-10', :'lamp', 100, '{"state": "draft"}') AS draft \gset
SELECT FROM pg_temp.sync('Moms Kontrol ApS');

CREATE TEMP TABLE findings AS SELECT * FROM billy.vat_check(:'org', '2025-Q1');
SELECT is((SELECT severity || ' ' || document_id FROM findings WHERE code = 'eu_sale_without_vat_number'), 'warning ' || :'inv_lost_vat',
          'an EU goods sale to a buyer without a VAT number is flagged');
SELECT is((SELECT severity || ' ' || document_id FROM findings WHERE code = 'zero_rate_domestic_sale'), 'error ' || :'inv_now_dk',
          'a 0% sale to a Danish customer is an error');
SELECT is((SELECT severity || ' ' || document_id FROM findings WHERE code = 'vat_on_export'), 'warning ' || :'inv_now_no',
          '25% VAT on a sale to Norway is flagged');
SELECT is((SELECT severity || ' ' || document_id FROM findings WHERE code = 'vat_on_eu_business_sale'), 'warning ' || :'inv_nl',
          'Danish VAT on a sale to an EU business with a VAT number is flagged');
SELECT is((SELECT severity || ' ' || document_id FROM findings WHERE code = 'reverse_charge_region'), 'warning ' || :'bill_us',
          'an EU reverse-charge rate on a US supplier''s bill is flagged');
SELECT is((SELECT severity || ' ' || document_id FROM findings WHERE code = 'draft_in_period'), 'info ' || :'draft',
          'a draft dated in the period is mentioned');
SELECT is((SELECT count(*) FROM findings), 6::bigint, 'nothing else is flagged (the exempt course and the Danish bill are fine)');
SELECT is((SELECT message FROM findings WHERE code = 'vat_on_export'),
          'Danish VAT (750.00) on a sale to NO, outside the EU: exports are VAT-free (rubrik C)', 'findings explain themselves');

-- the contact's country decides where the amounts go
SELECT is((r.rubrik_b_varer_eu_salg_exact, r.rubrik_a_ydelser_exact, r.moms_ydelseskoeb_udland_exact, r.rubrik_c_exact)::text,
          '(3000.00,0,200.00,0)',
          'rubrik B holds both EU goods sales (1,000 + 2,000); the US bill is in field 3 (200) but not rubrik A')
FROM billy.vat_return(:'org', '2025-Q1') r;

-- unmapped rates: flagged on the return and by the check, and block filing
DELETE FROM billy.vat_rate_seeds WHERE abbreviation = 'FRI';
SELECT is((SELECT treatment FROM billy.vat_rate_map WHERE organization_id = :'org' AND abbreviation = 'FRI'), NULL,
          'without a seed, FRI has no treatment');
SELECT is((r.unmapped_lines, r.complete)::text, '(1,f)', 'the return counts the unmapped line and is not complete')
FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT is((SELECT (field, amount)::text FROM billy.vat_return_lines(:'org', '2025-Q1') WHERE field = 'unmapped'), '(unmapped,500.00)',
          'the drill-down lists it as unmapped');
SELECT is((SELECT count(*) FROM billy.vat_check(:'org', '2025-Q1') WHERE code = 'unmapped_rate' AND severity = 'error'), 1::bigint,
          'billy.vat_check reports it as an error');
SELECT throws_ok(format($$SELECT billy.vat_file(%L, '2025-Q1')$$, :'org'), '55000',
                 'VAT period 2025-Q1 has 1 line(s) on no field', 'an incomplete return is not filed');
SELECT is((SELECT (fields ->> 'unmapped_lines')::integer FROM billy.vat_file(:'org', '2025-Q1', allow_incomplete => true)), 1,
          'unless allow_incomplete: then the filing records it');
-- the organization maps the rate itself
SELECT is((SELECT (treatment, mapped_by)::text FROM billy.vat_map_rate(:'org', 'FRI', 'sale_exempt', NULL, 'kurser')),
          '(sale_exempt,organization)', 'billy.vat_map_rate maps it for the organization');
SELECT is((r.unmapped_lines, r.complete)::text, '(0,t)', 'and the return is complete again') FROM billy.vat_return(:'org', '2025-Q1') r;

-- overrides: a deductible share, a treatment for the other side, reverse charge on a rate that stores VAT
SELECT is((r.koebsmoms_exact)::text, '450.00', 'before: købsmoms is the K25 bill''s 250 + the US bill''s 200')
FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT FROM billy.vat_map_rate(:'org', 'K25', 'purchase_domestic', 0.5, 'blandet brug');
SELECT is((r.koebsmoms_exact)::text, '325.00', 'K25 at 50% deduction: 125 + 200') FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT FROM billy.vat_map_rate(:'org', 'K25', 'purchase_eu_goods');
SELECT is((r.moms_varekoeb_udland_exact, r.koebsmoms_exact)::text, '(250.00,450.00)',
          'K25 treated as an EU goods purchase: 25% of the net in field 2 and deducted')
FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT is((SELECT document_id FROM billy.vat_check(:'org', '2025-Q1') WHERE code = 'foreign_vat_on_reverse_charge'), :'bill_dk',
          'and the VAT stored on that bill is flagged as foreign VAT');
SELECT FROM billy.vat_map_rate(:'org', 'S25', 'purchase_domestic');
SELECT is((SELECT count(*) FROM billy.vat_check(:'org', '2025-Q1') WHERE code = 'wrong_side'), 2::bigint,
          'a purchase treatment on the sales rate S25: each invoice with it is flagged');
SELECT is((r.salgsmoms_exact)::text, '850.00', 'the VAT stored on the invoices stays salgsmoms all the same (3,000 + 400 at 25%)')
FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT is((SELECT count(*) FROM billy.vat_map_rate(:'org', 'K25', NULL) WHERE mapped_by = 'seed (abbreviation)'), 1::bigint,
          'treatment NULL removes the override: back to the seed');
SELECT FROM billy.vat_map_rate(:'org', 'S25', NULL);
SELECT is((r.koebsmoms_exact, r.unmapped_lines)::text, '(450.00,0)', 'and the return is as before')
FROM billy.vat_return(:'org', '2025-Q1') r;
SELECT throws_ok(format($$SELECT billy.vat_map_rate(%L, 'K25', 'purchase_luxury')$$, :'org'), '22023', 'unknown VAT treatment "purchase_luxury"',
                 'an unknown treatment is refused');
SELECT throws_ok(format($$SELECT billy.vat_map_rate(%L, 'K99', 'purchase_domestic')$$, :'org'), '42704', NULL,
                 'an unknown rate is refused');
SELECT throws_ok(format($$SELECT billy.vat_map_rate(%L, 'K25', 'purchase_domestic', 1.5)$$, :'org'), '22023', NULL,
                 'a deduction above 100% is refused');

-- the period and the mirror
SELECT is((SELECT count(*) FROM billy.vat_check(:'org', '2025-02') WHERE code = 'period_type'), 1::bigint,
          'a month of a quarterly filer is mentioned');
SELECT is((SELECT count(*) FROM billy.vat_check(:'org', to_char(current_date, 'YYYY-MM')) WHERE code = 'period_open'), 1::bigint,
          'an open period is mentioned');
SELECT pg_temp.new_books('Moms Usynkroniseret ApS') AS unsynced \gset
SELECT is((SELECT array_agg(message ORDER BY message) FROM billy.vat_check(:'unsynced', '2025-Q1') WHERE code = 'not_synced'),
          ARRAY['bills have never been synced completely: the return may miss documents (billy.sync)',
                'contacts have never been synced completely: the return may miss documents (billy.sync)',
                'invoices have never been synced completely: the return may miss documents (billy.sync)',
                'taxRates have never been synced completely: the return may miss documents (billy.sync)'],
          'an organization never synced is flagged');

-- Billy's own sales tax return disagreeing on the deadline (simulated in the
-- mirror: billy-sandbox's deadlines always agree, see 71_vat_periods)
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url')) AS org1 \gset
SELECT FROM billy.sync_now(:'org1', ARRAY['salesTaxReturns']);
UPDATE billy.sales_tax_returns SET report_deadline = '2025-06-03' WHERE organization_id = :'org1' AND period = 'quarter:2025-1';
SELECT is((SELECT message FROM billy.vat_check(:'org1', '2025-Q1') WHERE code = 'billy_deadline_differs'),
          'Billy''s sales tax return quarter:2025-1 is due 2025-06-03, billy computes 2025-06-02',
          'a deadline that differs from Billy''s is flagged');

-- documents Billy deleted (the sync marks them deleted) leave the return
SELECT r.salgsmoms_exact AS before_delete FROM billy.vat_return(:'org', '2025-Q1') r \gset
UPDATE billy.invoices SET deleted_at = now() WHERE organization_id = :'org' AND id = :'inv_nl';
SELECT is((SELECT salgsmoms_exact FROM billy.vat_return(:'org', '2025-Q1')), :'before_delete'::numeric - 100,
          'an invoice marked deleted is not on the return');
-- a contact without a country (Billy requires one; simulated): no guess about EU
UPDATE billy.contacts SET country_id = NULL WHERE organization_id = :'org' AND id = :'us';
SELECT is((SELECT count(*) FROM billy.vat_check(:'org', '2025-Q1') WHERE code = 'contact_without_country'), 1::bigint,
          'a reverse-charge bill from a contact without a country is mentioned');
SELECT is((r.rubrik_a_ydelser_exact)::text, '800.00', 'and the EU rate decides: rubrik A ydelser') FROM billy.vat_return(:'org', '2025-Q1') r;

-- the tables of the classification
SELECT is((SELECT count(*) FROM billy.vat_rate_map WHERE organization_id = :'org' AND treatment IS NOT NULL), 11::bigint,
          'all eleven predefined rates are mapped (FRI by the organization now)');
SELECT is((SELECT count(*) FROM billy.eu_countries WHERE country_id <> 'EL'), 27::bigint, 'the EU has 27 members');

SELECT * FROM finish();
ROLLBACK;
