-- A past VAT period follows what its documents were booked with (issue 14,
-- correction a).  A German business customer is invoiced in 2025-Q1 (EU sale
-- of goods: rubrik B varer, EU-salg) and the books are synced; then the
-- customer moves to Switzerland upstream (PUT /contacts) and is invoiced
-- again in Q2 (export: rubrik C).  After the resync, Q1 still says rubrik B
-- 10,000 and rubrik C 0 (before the fix the move rewrote Q1: B 0, C 10,000);
-- Q2 classifies the new invoice by the customer's new country.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(9);
\ir vat_books.psql

SELECT FROM pg_temp.new_books('Flytning ApS');
SELECT pg_temp.contact('Flytning ApS', 'Berliner Leuchten GmbH', 'DE', 'DE123456789') AS customer \gset
SELECT pg_temp.contact('Flytning ApS', 'Lysgården ApS', 'DK', '29403473') AS dk_customer \gset
SELECT pg_temp.product('Flytning ApS', 'Pendel Nord') AS lamp \gset
SELECT pg_temp.invoice('Flytning ApS', :'customer', '2025-02-10', :'lamp', 10000) AS q1_invoice \gset
SELECT FROM pg_temp.invoice('Flytning ApS', :'dk_customer', '2025-02-11', :'lamp', 1000);
SELECT FROM pg_temp.sync('Flytning ApS');

SELECT is((r.rubrik_b_varer_eu_salg_exact, r.rubrik_c_exact, r.salgsmoms_exact)::text, '(10000.00,0,250.00)',
          'Q1 before the move: rubrik B varer (EU-salg) 10,000, rubrik C 0, salgsmoms 250')
FROM pg_temp.ret('Flytning ApS', '2025-Q1') r;

-- the customer moves to Switzerland upstream, and buys again in Q2
SELECT FROM pg_temp.call('Flytning ApS', 'PUT', '/contacts/' || :'customer', '{"contact": {"countryId": "CH"}}');
SELECT FROM pg_temp.invoice('Flytning ApS', :'customer', '2025-05-12', :'lamp', 4000);
SELECT FROM pg_temp.sync('Flytning ApS');

SELECT is((SELECT country_id FROM billy.contacts WHERE organization_id = pg_temp.org_of('Flytning ApS') AND id = :'customer'),
          'CH', 'the mirror has the customer in Switzerland now');
SELECT is((r.rubrik_b_varer_eu_salg_exact, r.rubrik_c_exact, r.salgsmoms_exact)::text, '(10000.00,0,250.00)',
          'Q1 after the move: unchanged, rubrik B 10,000 and rubrik C 0')
FROM pg_temp.ret('Flytning ApS', '2025-Q1') r;
SELECT is((r.rubrik_b_varer_eu_salg_reported, r.rubrik_c_reported)::text, '(10000,0)',
          'Q1 after the move, as reported: the same')
FROM pg_temp.ret('Flytning ApS', '2025-Q1') r;
SELECT is((SELECT (contact_country, contact_region, net_field)::text FROM billy.vat_lines
           WHERE organization_id = pg_temp.org_of('Flytning ApS') AND document_id = :'q1_invoice'),
          '(DE,EU,rubrik_b_varer_eu_salg)', 'the Q1 line is classified by the country it was booked with');
SELECT is((SELECT (country_id, total)::text FROM billy.vat_eu_sales(pg_temp.org_of('Flytning ApS'), '2025-Q1')),
          '(DE,10000.00)', 'the EU-sales list of Q1 still names the German buyer');
SELECT is((r.rubrik_b_varer_eu_salg_exact, r.rubrik_c_exact)::text, '(0,4000.00)',
          'Q2: the invoice after the move is an export to Switzerland (rubrik C 4,000)')
FROM pg_temp.ret('Flytning ApS', '2025-Q2') r;
SELECT is((SELECT count(*) FROM billy.vat_booked_countries
           WHERE organization_id = pg_temp.org_of('Flytning ApS') AND country_id = 'DE'),
          1::bigint, 'one document was recorded with the old country (the Q2 invoice follows the contact)');
-- a move back records nothing new for Q1 and leaves it as it was
SELECT FROM pg_temp.call('Flytning ApS', 'PUT', '/contacts/' || :'customer', '{"contact": {"countryId": "NO"}}');
SELECT FROM pg_temp.sync('Flytning ApS');
SELECT is((SELECT string_agg(r1.rubrik_c_exact::text || '/' || r2.rubrik_c_exact::text, '')
           FROM pg_temp.ret('Flytning ApS', '2025-Q1') r1, pg_temp.ret('Flytning ApS', '2025-Q2') r2),
          '0/4000.00', 'a second move (to Norway) changes neither quarter');

SELECT * FROM finish();
ROLLBACK;
