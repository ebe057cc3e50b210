-- bench/vat/load.sql: one organization with a year of books written straight
-- into the mirror with SQL (not through a sync): :invoices invoices (about 3
-- lines each, 3% credit notes, 1.5% voided, 1% drafts) and :bills bills, dated
-- in :year, with Danish, EU and non-EU contacts, currencies and all eleven
-- predefined tax rates.  Deterministic (setseed).
\set ON_ERROR_STOP 1
SELECT setseed(0.42);

INSERT INTO billy.organizations (id, name, base_currency, vat_period, has_vat, country_id, raw, first_seen_at)
VALUES ('bench-org', 'Bench Lys & Design ApS', 'DKK', 'quarter', true, 'DK', '{}', now());

INSERT INTO billy.tax_rates (organization_id, id, name, abbreviation, rate, applies_to_sales,
                             applies_to_purchases, is_predefined, is_active, raw, content_hash)
SELECT 'bench-org', 'rate-' || a, n, a, r, s, p, true, true, '{}', '\x00'
FROM (VALUES ('S25', 'Salgsmoms 25%', 0.25, true, false), ('EUV', 'EU-salg af varer (0%)', 0, true, false),
             ('EUY', 'EU-salg af ydelser (0%)', 0, true, false), ('EKS', 'Eksport uden for EU (0%)', 0, true, false),
             ('FRI', 'Momsfritaget salg', 0, true, false), ('K25', 'Købsmoms 25%', 0.25, false, true),
             ('UV25', 'Udlandsmoms varer (EU) 25%', 0.25, false, true),
             ('UY25', 'Udlandsmoms ydelser (EU) 25%', 0.25, false, true),
             ('UYX25', 'Udlandsmoms ydelser (uden for EU) 25%', 0.25, false, true),
             ('REP25', 'Restaurant 25% (25% fradrag)', 0.25, false, true), ('INGEN', 'Ingen moms', 0, true, true)) v(a, n, r, s, p);

-- contacts: 70% DK, 18% EU (a few without VAT number), 12% outside the EU
INSERT INTO billy.contacts (organization_id, id, type, name, country_id, registration_no, currency_id,
                            is_customer, is_supplier, raw, content_hash)
SELECT 'bench-org', 'c' || g, 'company', 'Kunde ' || g, c.country,
       CASE WHEN random() < 0.95 THEN c.country || lpad((g * 7919 % 100000000)::text, 8, '0') END,
       c.currency, true, g <= 200, '{}', '\x00'
FROM generate_series(1, :contacts) g
CROSS JOIN LATERAL (SELECT random() + 0 * g AS x) r
CROSS JOIN LATERAL (SELECT CASE WHEN r.x < 0.70 THEN 'DK'
                                WHEN r.x < 0.88 THEN (ARRAY['DE', 'SE', 'NL', 'FR', 'PL', 'IE'])[1 + (g % 6)]
                                ELSE (ARRAY['NO', 'US', 'GB', 'CH'])[1 + (g % 4)] END AS country) c0
CROSS JOIN LATERAL (SELECT c0.country,
                           CASE c0.country WHEN 'DK' THEN 'DKK' WHEN 'SE' THEN 'SEK' WHEN 'US' THEN 'USD'
                                           WHEN 'GB' THEN 'GBP' WHEN 'NO' THEN 'NOK' WHEN 'CH' THEN 'EUR'
                                           ELSE 'EUR' END AS currency) c;

CREATE TEMP TABLE bench_rates (currency text PRIMARY KEY, rate numeric);
INSERT INTO bench_rates VALUES ('DKK', 1), ('EUR', 7.4604), ('SEK', 0.6912), ('USD', 6.8475), ('GBP', 8.7213), ('NOK', 0.6421);

INSERT INTO billy.invoices (organization_id, id, type, state, invoice_no, contact_id, entry_date, due_date,
                            tax_mode, currency_id, exchange_rate, raw, content_hash)
SELECT 'bench-org', 'i' || g,
       CASE WHEN random() < 0.03 THEN 'creditNote' ELSE 'invoice' END,
       CASE WHEN x < 0.015 THEN 'voided' WHEN x < 0.025 THEN 'draft' ELSE 'approved' END,
       g::text, c.id, d, d + 14, 'excl', c.currency_id,
       round(br.rate * (1 + (random()::numeric - 0.5) * 0.01), 4), '{}', '\x00'
FROM generate_series(1, :invoices) g
CROSS JOIN LATERAL (SELECT random() + 0 * g AS x,
                           make_date(:year, 1, 1) + (random() * (make_date(:year, 12, 31) - make_date(:year, 1, 1)) + 0 * g)::integer AS d,
                           1 + (random() * (:contacts - 1) + 0 * g)::integer AS cn) r
JOIN billy.contacts c ON c.organization_id = 'bench-org' AND c.id = 'c' || r.cn
JOIN bench_rates br ON br.currency = c.currency_id;

INSERT INTO billy.invoice_lines (organization_id, id, invoice_id, description, quantity, unit_price, amount, tax,
                                 tax_rate_id, raw)
SELECT 'bench-org', i.id || '-' || k, i.id, 'Vare ' || k, 1, a.amount, a.amount,
       CASE WHEN t.abbr = 'S25' THEN round(a.amount * 0.25, 2) ELSE 0 END, 'rate-' || t.abbr, '{}'
FROM billy.invoices i
JOIN billy.contacts c ON c.organization_id = i.organization_id AND c.id = i.contact_id
CROSS JOIN LATERAL generate_series(1, 1 + abs(hashtext(i.id)) % 5) k
CROSS JOIN LATERAL (SELECT round((20 + random() * 8000 + 0 * k)::numeric, 2) AS amount, random() + 0 * k AS y) a
CROSS JOIN LATERAL (SELECT CASE
        WHEN c.country_id = 'DK' THEN CASE WHEN a.y < 0.97 THEN 'S25' ELSE 'FRI' END
        WHEN c.country_id IN ('NO', 'US', 'GB', 'CH') THEN 'EKS'
        WHEN c.registration_no IS NULL THEN 'S25'
        WHEN a.y < 0.6 THEN 'EUV' ELSE 'EUY' END AS abbr) t
WHERE i.organization_id = 'bench-org';

-- bills: Danish suppliers mostly, some EU and non-EU reverse charge, restaurants
INSERT INTO billy.bills (organization_id, id, type, state, contact_id, entry_date, due_date, voucher_no,
                         tax_mode, currency_id, exchange_rate, raw, content_hash)
SELECT 'bench-org', 'b' || g, CASE WHEN random() < 0.02 THEN 'creditNote' ELSE 'bill' END,
       CASE WHEN random() < 0.01 THEN 'voided' ELSE 'approved' END, c.id, d, d + 30, g::text, 'excl',
       c.currency_id, br.rate, '{}', '\x00'
FROM generate_series(1, :bills) g
CROSS JOIN LATERAL (SELECT make_date(:year, 1, 1) + (random() * (make_date(:year, 12, 31) - make_date(:year, 1, 1)) + 0 * g)::integer AS d,
                           1 + (random() * 199 + 0 * g)::integer AS cn) r
JOIN billy.contacts c ON c.organization_id = 'bench-org' AND c.id = 'c' || r.cn
JOIN bench_rates br ON br.currency = c.currency_id;

INSERT INTO billy.bill_lines (organization_id, id, bill_id, description, amount, tax, tax_rate_id, raw)
SELECT 'bench-org', b.id || '-' || k, b.id, 'Udgift ' || k, a.amount,
       CASE WHEN t.abbr IN ('K25', 'REP25') THEN round(a.amount * 0.25, 2) ELSE 0 END, 'rate-' || t.abbr, '{}'
FROM billy.bills b
JOIN billy.contacts c ON c.organization_id = b.organization_id AND c.id = b.contact_id
CROSS JOIN LATERAL generate_series(1, 1 + (hashtext(b.id) & 1)) k
CROSS JOIN LATERAL (SELECT round((50 + random() * 20000 + 0 * k)::numeric, 2) AS amount, random() + 0 * k AS y) a
CROSS JOIN LATERAL (SELECT CASE
        WHEN c.country_id = 'DK' THEN CASE WHEN a.y < 0.8 THEN 'K25' WHEN a.y < 0.97 THEN 'REP25' ELSE 'INGEN' END
        WHEN c.country_id IN ('NO', 'US', 'GB', 'CH') THEN 'UYX25'
        WHEN a.y < 0.5 THEN 'UV25' ELSE 'UY25' END AS abbr) t
WHERE b.organization_id = 'bench-org';

VACUUM ANALYZE billy.organizations, billy.tax_rates, billy.contacts, billy.invoices, billy.invoice_lines, billy._vat_facts,
               billy.bills, billy.bill_lines;
