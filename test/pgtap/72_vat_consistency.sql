-- On billy-sandbox's generated books (seed 42, today 2026-06-30: three years,
-- Danish, EU and non-EU customers and suppliers, five currencies, credit
-- notes, voided and draft documents, all eleven tax rates), the return
-- billy.vat_return computes for every quarter of the quarterly organization
-- and every half-year of the half-yearly one equals an independent SQL
-- formulation written here from the mirror's tables and the rates'
-- abbreviations, to the øre; the drill-down adds up to every field.  So
-- does a fresh organization's with approved, voided and draft journal
-- entries carrying every kind of VAT code, where billy.ledger_check's VAT
-- cross-check finds nothing either.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(43);

SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url')) AS org1 \gset
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) AS org2 \gset
SET LOCAL client_min_messages = warning;
SELECT count(*) AS synced FROM billy.sync_now() \gset
SELECT ok(billy_test.mirror_equal(:'org1') AND billy_test.mirror_equal(:'org2'), 'the mirror equals the sandbox''s books');

-- The independent formulation: the rules of spec/moms.md applied straight to
-- the tables, by tax rate abbreviation and the customer's or supplier's
-- country (its own list of the other EU countries).  Per line: amounts
-- times the document's exchange rate, rounded to øre; credit notes negative;
-- reverse charge 25% of the net; restaurant 25% of the VAT deductible.
-- Journal entries: approved ones' lines with a tax rate; the amount is
-- gross (a fifth of it is the VAT at 25%), sales count credit positive,
-- purchases debit positive; no contact, so reverse-charge EU purchases
-- count in rubrik A, non-EU ones do not.  A line in another currency than
-- DKK counts in kroner as the ledger has it: the entry's booking
-- transaction (originatorReference daybookTransaction:ID, not the void)
-- holds per line, under the line's priority, postings that add up to the
-- line's gross in kroner on the line's side, and the opposite on its contra
-- account.
CREATE FUNCTION pg_temp.indep(org text, d0 date, d1 date,
    OUT salgsmoms numeric, OUT varekoeb numeric, OUT ydelseskoeb numeric, OUT koebsmoms numeric,
    OUT a_varer numeric, OUT a_ydelser numeric, OUT b_varer numeric, OUT b_ydelser numeric, OUT c numeric,
    OUT tilsvar numeric, OUT tilsvar_kr numeric)
LANGUAGE sql AS $$
WITH other_eu(cc) AS (
    VALUES ('AT'), ('BE'), ('BG'), ('CY'), ('CZ'), ('DE'), ('EE'), ('ES'), ('FI'), ('FR'), ('GR'), ('HR'), ('HU'),
           ('IE'), ('IT'), ('LT'), ('LU'), ('LV'), ('MT'), ('NL'), ('PL'), ('PT'), ('RO'), ('SE'), ('SI'), ('SK')
), sales AS (
    SELECT CASE i.type WHEN 'creditNote' THEN -1 ELSE 1 END AS s, t.abbreviation AS abbr,
           round(l.amount * i.exchange_rate, 2) AS net, round(l.tax * i.exchange_rate, 2) AS vat,
           c.country_id = 'DK' OR c.country_id IN (SELECT cc FROM other_eu) AS in_eu
    FROM billy.invoices i
    JOIN billy.invoice_lines l ON l.organization_id = i.organization_id AND l.invoice_id = i.id
    JOIN billy.tax_rates t ON t.organization_id = l.organization_id AND t.id = l.tax_rate_id
    JOIN billy.contacts c ON c.organization_id = i.organization_id AND c.id = i.contact_id
    WHERE i.organization_id = org AND i.state = 'approved' AND i.deleted_at IS NULL
      AND i.entry_date >= d0 AND i.entry_date <= d1
), purchases AS (
    SELECT CASE b.type WHEN 'creditNote' THEN -1 ELSE 1 END AS s, t.abbreviation AS abbr,
           round(l.amount * b.exchange_rate, 2) AS net, round(l.tax * b.exchange_rate, 2) AS vat,
           round(round(l.amount * b.exchange_rate, 2) * 0.25, 2) AS rc,
           c.country_id IN (SELECT cc FROM other_eu) AS other_eu
    FROM billy.bills b
    JOIN billy.bill_lines l ON l.organization_id = b.organization_id AND l.bill_id = b.id
    JOIN billy.tax_rates t ON t.organization_id = l.organization_id AND t.id = l.tax_rate_id
    JOIN billy.contacts c ON c.organization_id = b.organization_id AND c.id = b.contact_id
    WHERE b.organization_id = org AND b.state = 'approved' AND b.deleted_at IS NULL
      AND b.entry_date >= d0 AND b.entry_date <= d1
), journal AS (
    SELECT t.abbreviation AS abbr,
           CASE WHEN coalesce(l.currency_id, 'DKK') = 'DKK' THEN CASE l.side WHEN 'credit' THEN -l.amount ELSE l.amount END
                ELSE (SELECT sum(CASE p.side WHEN 'debit' THEN p.amount ELSE -p.amount END)
                      FROM billy.transactions x
                      JOIN billy.postings p ON p.organization_id = x.organization_id AND p.transaction_id = x.id
                      WHERE x.organization_id = d.organization_id AND x.originator_reference = 'daybookTransaction:' || d.id
                        AND NOT coalesce(x.is_void, false) AND p.priority = l.priority
                        AND p.account_id IS DISTINCT FROM l.contra_account_id) END AS debit
    FROM billy.daybook_transactions d
    JOIN billy.daybook_transaction_lines l ON l.organization_id = d.organization_id AND l.daybook_transaction_id = d.id
    JOIN billy.tax_rates t ON t.organization_id = l.organization_id AND t.id = l.tax_rate_id
    WHERE d.organization_id = org AND d.state = 'approved' AND d.deleted_at IS NULL
      AND d.entry_date >= d0 AND d.entry_date <= d1
), j AS (
    SELECT
        coalesce(sum(round(-debit / 5, 2)) FILTER (WHERE abbr = 'S25'), 0) AS salgsmoms,
        coalesce(sum(round(debit * 0.25, 2)) FILTER (WHERE abbr = 'UV25'), 0) AS varekoeb,
        coalesce(sum(round(debit * 0.25, 2)) FILTER (WHERE abbr IN ('UY25', 'UYX25')), 0) AS ydelseskoeb,
        coalesce(sum(CASE abbr WHEN 'K25' THEN round(debit / 5, 2) WHEN 'REP25' THEN round(round(debit / 5, 2) * 0.25, 2)
                               WHEN 'UV25' THEN round(debit * 0.25, 2) WHEN 'UY25' THEN round(debit * 0.25, 2)
                               WHEN 'UYX25' THEN round(debit * 0.25, 2) ELSE 0 END), 0) AS koebsmoms,
        coalesce(sum(debit) FILTER (WHERE abbr = 'UV25'), 0) AS a_varer,
        coalesce(sum(debit) FILTER (WHERE abbr = 'UY25'), 0) AS a_ydelser,
        coalesce(sum(-debit) FILTER (WHERE abbr = 'EUV'), 0) AS b_varer,
        coalesce(sum(-debit) FILTER (WHERE abbr = 'EUY'), 0) AS b_ydelser,
        coalesce(sum(-debit) FILTER (WHERE abbr = 'EKS'), 0) AS c
    FROM journal
), f AS (
    SELECT
        (SELECT coalesce(sum(s * vat), 0) FROM sales) + j.salgsmoms AS salgsmoms,
        (SELECT coalesce(sum(s * rc), 0) FROM purchases WHERE abbr = 'UV25') + j.varekoeb AS varekoeb,
        (SELECT coalesce(sum(s * rc), 0) FROM purchases WHERE abbr IN ('UY25', 'UYX25')) + j.ydelseskoeb AS ydelseskoeb,
        (SELECT coalesce(sum(s * CASE abbr WHEN 'K25' THEN vat WHEN 'REP25' THEN round(vat * 0.25, 2)
                                           WHEN 'UV25' THEN rc WHEN 'UY25' THEN rc WHEN 'UYX25' THEN rc ELSE 0 END), 0)
         FROM purchases) + j.koebsmoms AS koebsmoms,
        (SELECT coalesce(sum(s * net), 0) FROM purchases WHERE abbr = 'UV25' AND other_eu) + j.a_varer AS a_varer,
        (SELECT coalesce(sum(s * net), 0) FROM purchases WHERE abbr IN ('UY25', 'UYX25') AND other_eu) + j.a_ydelser AS a_ydelser,
        (SELECT coalesce(sum(s * net), 0) FROM sales WHERE abbr = 'EUV' AND in_eu) + j.b_varer AS b_varer,
        (SELECT coalesce(sum(s * net), 0) FROM sales WHERE abbr = 'EUY' AND in_eu) + j.b_ydelser AS b_ydelser,
        (SELECT coalesce(sum(s * net), 0) FROM sales WHERE abbr = 'EKS' OR (abbr IN ('EUV', 'EUY') AND NOT in_eu)) + j.c AS c
    FROM j
)
SELECT salgsmoms, varekoeb, ydelseskoeb, koebsmoms, a_varer, a_ydelser, b_varer, b_ydelser, c,
       salgsmoms + varekoeb + ydelseskoeb - koebsmoms,
       trunc(salgsmoms) + trunc(varekoeb) + trunc(ydelseskoeb) - trunc(koebsmoms)
FROM f
$$;

-- the periods: every quarter of organization 1 and half-year of organization 2
-- with data, up to the one that ends on the sandbox's today
CREATE TEMP TABLE periods AS
SELECT o.org, p.period, p.start_date, p.end_date
FROM (VALUES (:'org1'), (:'org2')) o(org),
     generate_series(2023, 2026) y,
     billy.vat_periods(o.org, y) p
WHERE p.end_date >= (SELECT min(entry_date) FROM billy.invoices WHERE organization_id = o.org)
  AND p.start_date <= '2026-06-30';
SELECT is((SELECT count(*) FROM periods), 20::bigint, '13 quarters (2023-Q2 to 2026-Q2) and 7 half-years (2023-H1 to 2026-H1)');

CREATE TEMP TABLE computed AS
SELECT p.org, r.* FROM periods p, billy.vat_return(p.org, p.period) r;
CREATE TEMP TABLE expected AS
SELECT p.org, p.period, i.* FROM periods p, pg_temp.indep(p.org, p.start_date, p.end_date) i;

SELECT results_eq($$SELECT org, period, salgsmoms_exact FROM computed ORDER BY 1, 2$$,
                  $$SELECT org, period, salgsmoms FROM expected ORDER BY 1, 2$$, 'salgsmoms of every period, to the øre');
SELECT results_eq($$SELECT org, period, moms_varekoeb_udland_exact FROM computed ORDER BY 1, 2$$,
                  $$SELECT org, period, varekoeb FROM expected ORDER BY 1, 2$$, 'moms af varekøb i udlandet');
SELECT results_eq($$SELECT org, period, moms_ydelseskoeb_udland_exact FROM computed ORDER BY 1, 2$$,
                  $$SELECT org, period, ydelseskoeb FROM expected ORDER BY 1, 2$$, 'moms af ydelseskøb i udlandet');
SELECT results_eq($$SELECT org, period, koebsmoms_exact FROM computed ORDER BY 1, 2$$,
                  $$SELECT org, period, koebsmoms FROM expected ORDER BY 1, 2$$, 'købsmoms');
SELECT results_eq($$SELECT org, period, rubrik_a_varer_exact, rubrik_a_ydelser_exact FROM computed ORDER BY 1, 2$$,
                  $$SELECT org, period, a_varer, a_ydelser FROM expected ORDER BY 1, 2$$, 'rubrik A varer and ydelser');
SELECT results_eq($$SELECT org, period, rubrik_b_varer_eu_salg_exact, rubrik_b_ydelser_exact FROM computed ORDER BY 1, 2$$,
                  $$SELECT org, period, b_varer, b_ydelser FROM expected ORDER BY 1, 2$$, 'rubrik B varer and ydelser');
SELECT results_eq($$SELECT org, period, rubrik_c_exact FROM computed ORDER BY 1, 2$$,
                  $$SELECT org, period, c FROM expected ORDER BY 1, 2$$, 'rubrik C');
SELECT results_eq($$SELECT org, period, tilsvar_exact, tilsvar_reported FROM computed ORDER BY 1, 2$$,
                  $$SELECT org, period, tilsvar, tilsvar_kr FROM expected ORDER BY 1, 2$$, 'momstilsvar, exact and reported');
-- the comparison means something: the books exercise every field
SELECT ok((SELECT bool_and(s <> 0) FROM (SELECT sum(salgsmoms) AS s FROM expected UNION ALL SELECT sum(varekoeb) FROM expected
           UNION ALL SELECT sum(ydelseskoeb) FROM expected UNION ALL SELECT sum(koebsmoms) FROM expected
           UNION ALL SELECT sum(a_varer) FROM expected UNION ALL SELECT sum(a_ydelser) FROM expected
           UNION ALL SELECT sum(b_varer) FROM expected UNION ALL SELECT sum(b_ydelser) FROM expected
           UNION ALL SELECT sum(c) FROM expected) x), 'every field is non-zero in some period');
SELECT ok((SELECT count(DISTINCT currency_id) FROM billy.invoices WHERE organization_id = :'org1') >= 3
          AND EXISTS (SELECT 1 FROM billy.invoices WHERE organization_id = :'org1' AND type = 'creditNote' AND state = 'approved')
          AND EXISTS (SELECT 1 FROM billy.invoices WHERE organization_id = :'org1' AND state = 'voided')
          AND EXISTS (SELECT 1 FROM billy.bills WHERE organization_id = :'org1' AND currency_id <> 'DKK'),
          'the books have foreign currencies, credit notes and voided invoices');
SELECT ok((SELECT bool_and(salgsmoms_reported = trunc(salgsmoms_exact) AND koebsmoms_reported = trunc(koebsmoms_exact)
                           AND rubrik_c_reported = trunc(rubrik_c_exact) AND complete) FROM computed),
          'reported fields are the exact ones truncated; every period is complete (all rates mapped)');

-- the drill-down adds up to every field of every period
CREATE TEMP TABLE drill AS
SELECT p.org, p.period, l.* FROM periods p, billy.vat_return_lines(p.org, p.period) l;
SELECT is((SELECT count(*) FROM computed c, billy.vat_fields f
           WHERE (to_jsonb(c) ->> (f.field || '_exact'))::numeric
                 IS DISTINCT FROM coalesce((SELECT sum(d.amount) FROM drill d
                                            WHERE d.org = c.org AND d.period = c.period AND d.field = f.field), 0)),
          0::bigint, 'for every period and field, the drill-down''s amounts add up to the field');
SELECT is((SELECT count(*) FROM computed c
           WHERE c.lines <> (SELECT count(DISTINCT (d.document_type, d.line_id)) FROM drill d
                             WHERE d.org = c.org AND d.period = c.period AND d.document_type <> 'adjustment')),
          0::bigint, 'every line counted on the return appears in the drill-down');
SELECT is((SELECT count(*) FROM drill d JOIN billy.invoices i ON i.organization_id = d.org AND i.id = d.document_id
           WHERE d.document_type = 'invoice' AND (i.state <> 'approved' OR i.entry_date NOT BETWEEN
                 (SELECT start_date FROM periods p WHERE p.org = d.org AND p.period = d.period) AND
                 (SELECT end_date FROM periods p WHERE p.org = d.org AND p.period = d.period))),
          0::bigint, 'the drill-down holds approved invoices of the period only');
SELECT is((SELECT count(*) FROM drill WHERE field IN ('none', 'unmapped')), (SELECT count(*) FROM drill WHERE field = 'none'),
          'no line is unmapped on the generated books');

-- a year at once equals the sum of its quarters; a custom range works too
SELECT is((SELECT (salgsmoms_exact, koebsmoms_exact, rubrik_b_varer_eu_salg_exact)::text FROM billy.vat_return(:'org1', '2025')),
          (SELECT (sum(salgsmoms_exact), sum(koebsmoms_exact), sum(rubrik_b_varer_eu_salg_exact))::text FROM computed
           WHERE org = :'org1' AND period LIKE '2025-Q%'), 'the year 2025 is the sum of its quarters');
SELECT is((SELECT (salgsmoms_exact, koebsmoms_exact, rubrik_c_exact)::text FROM billy.vat_return(:'org1', '2025-02-10..2025-05-20')),
          (SELECT (i.salgsmoms, i.koebsmoms, i.c)::text FROM pg_temp.indep(:'org1', '2025-02-10', '2025-05-20') i),
          'a custom range equals the independent formulation too');
SELECT is((SELECT (sum(goods), sum(services))::text FROM billy.vat_eu_sales(:'org1', '2025-Q3')),
          (SELECT (rubrik_b_varer_eu_salg_exact, rubrik_b_ydelser_exact)::text FROM computed WHERE org = :'org1' AND period = '2025-Q3'),
          'the EU-sales list adds up to rubrik B');

-- clean generated books: billy.vat_check finds no error
SELECT is((SELECT count(*) FROM periods p, billy.vat_check(p.org, p.period) c WHERE c.severity = 'error'), 0::bigint,
          'billy.vat_check finds no error in the generated books');
SELECT is((SELECT count(*) FROM periods p, billy.vat_check(p.org, p.period) c WHERE c.code = 'billy_deadline_differs'), 0::bigint,
          'and no period whose deadline differs from Billy''s');

-- journal entries with VAT codes, on a fresh organization's generated books
-- (written through the sandbox's API: billy's write path has its own test,
-- t/76-vat-journal-entries.t): every code on both sides, odd øre, one
-- entry in euro and Swedish kronor (converted by Billy, at rates the return
-- is not told), one voided and one draft entry (neither counts)
SELECT billy_test.sandbox('POST', '/organizations', '{"name":"Kladde og Moms ApS"}')::jsonb ->> 'token' AS jtoken \gset
SELECT billy.connect(:'jtoken', billy_test.setting('api_url')) AS orgj \gset
SELECT count(*) AS synced FROM billy.sync_now(:'orgj') \gset
CREATE FUNCTION pg_temp.jline(org text, account_no integer, side text, amount numeric, abbr text, cur text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('accountId', (SELECT a.id FROM billy.accounts a WHERE a.organization_id = org AND a.account_no = jline.account_no),
        'side', side, 'amount', amount, 'currencyId', cur,
        'taxRateId', (SELECT t.id FROM billy.tax_rates t WHERE t.organization_id = org AND t.abbreviation = abbr)))
$$;
CREATE FUNCTION pg_temp.jentry(org text, token text, entry date, state text, lines jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    id text := billy_test.api(token, 'POST', '/daybookTransactions', jsonb_build_object('daybookTransaction',
        jsonb_build_object('entryDate', entry, 'description', 'moms ' || entry,
                           'state', CASE state WHEN 'voided' THEN 'approved' ELSE state END, 'lines', lines)))
        -> 'daybookTransactions' -> 0 ->> 'id';
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'journal entry of % not made', entry;
    END IF;
    IF state = 'voided' THEN
        PERFORM billy_test.api(token, 'PUT', '/daybookTransactions/' || id,
                               jsonb_build_object('daybookTransaction', jsonb_build_object('state', 'voided')));
    END IF;
    RETURN id;
END
$$;
SELECT pg_temp.jentry(:'orgj', :'jtoken', e.d::date, e.st, (SELECT jsonb_agg(pg_temp.jline(:'orgj', x.no, x.side, x.amount, x.abbr, x.cur))
                                                  FROM jsonb_to_recordset(e.lines::jsonb) x(no integer, side text, amount numeric, abbr text, cur text)))
FROM (VALUES
    ('2026-01-20', 'approved', '[{"no":2750,"side":"debit","amount":1234.56,"abbr":"K25"},{"no":2750,"side":"debit","amount":99.99,"abbr":"REP25"},{"no":5810,"side":"credit","amount":1334.55}]'),
    ('2026-02-03', 'approved', '[{"no":1110,"side":"credit","amount":3333.33,"abbr":"S25"},{"no":1110,"side":"debit","amount":0.03,"abbr":"S25"},{"no":5810,"side":"debit","amount":3333.30}]'),
    ('2026-02-17', 'approved', '[{"no":1110,"side":"credit","amount":5000,"abbr":"EUV"},{"no":1110,"side":"credit","amount":700,"abbr":"EUY"},{"no":1110,"side":"credit","amount":450.5,"abbr":"EKS"},{"no":1110,"side":"credit","amount":120,"abbr":"FRI"},{"no":5810,"side":"debit","amount":6270.5}]'),
    ('2026-03-10', 'approved', '[{"no":2750,"side":"debit","amount":1234.57,"abbr":"K25","cur":"EUR"},{"no":2750,"side":"debit","amount":333.33,"abbr":"UY25","cur":"EUR"},{"no":1110,"side":"credit","amount":777.77,"abbr":"S25","cur":"EUR"},{"no":5810,"side":"credit","amount":790.13,"cur":"EUR"},{"no":1110,"side":"credit","amount":4999.99,"abbr":"EUV","cur":"SEK"},{"no":5810,"side":"debit","amount":4999.99,"cur":"SEK"}]'),
    ('2026-04-08', 'approved', '[{"no":2750,"side":"debit","amount":8000.01,"abbr":"UV25"},{"no":2750,"side":"debit","amount":1999.99,"abbr":"UY25"},{"no":2750,"side":"debit","amount":333.33,"abbr":"UYX25"},{"no":2750,"side":"debit","amount":10,"abbr":"INGEN"},{"no":5810,"side":"credit","amount":10343.33}]'),
    ('2026-05-12', 'approved', '[{"no":2750,"side":"credit","amount":250.05,"abbr":"K25"},{"no":5810,"side":"debit","amount":250.05}]'),
    ('2026-05-20', 'voided', '[{"no":1110,"side":"credit","amount":10000,"abbr":"S25"},{"no":5810,"side":"debit","amount":10000}]'),
    ('2026-05-21', 'draft', '[{"no":2750,"side":"debit","amount":4000,"abbr":"K25"},{"no":5810,"side":"credit","amount":4000}]')
) e(d, st, lines);
SELECT count(*) AS synced FROM billy.sync_now(:'orgj') \gset
SELECT is((SELECT string_agg(state, ' ' ORDER BY entry_date) FROM billy.daybook_transactions
           WHERE organization_id = :'orgj' AND description LIKE 'moms %'),
          'approved approved approved approved approved approved voided draft', 'eight journal entries with VAT codes in the mirror');
SELECT results_eq(
    format($$SELECT q, r.salgsmoms_exact, r.moms_varekoeb_udland_exact, r.moms_ydelseskoeb_udland_exact, r.koebsmoms_exact,
                    r.rubrik_a_varer_exact, r.rubrik_a_ydelser_exact, r.rubrik_b_varer_eu_salg_exact, r.rubrik_b_ydelser_exact,
                    r.rubrik_c_exact, r.tilsvar_exact, r.tilsvar_reported
             FROM unnest(ARRAY['2026-Q1', '2026-Q2']) q, billy.vat_return(%L, q) r ORDER BY 1$$, :'orgj'),
    format($$SELECT q, i.salgsmoms, i.varekoeb, i.ydelseskoeb, i.koebsmoms, i.a_varer, i.a_ydelser, i.b_varer, i.b_ydelser,
                    i.c, i.tilsvar, i.tilsvar_kr
             FROM unnest(ARRAY['2026-Q1', '2026-Q2']) q, billy._vat_period(q) p, pg_temp.indep(%L, p.start_date, p.end_date) i
             ORDER BY 1$$, :'orgj'),
    'with journal entries: every field of 2026-Q1 and Q2 equals the independent formulation');
SELECT is((SELECT count(*) FROM billy.vat_return_lines(:'orgj', '2026-H1') WHERE document_type = 'daybookTransaction'
                                                                          AND field NOT IN ('none', 'unmapped')),
          22::bigint, 'the drill-down has the journal entry lines'' 22 contributions (15 of the 17 taxed lines reach a field, reverse charge on two or three)');
SELECT is((SELECT count(*) FROM unnest(ARRAY['2026-Q1', '2026-Q2']) q, billy.ledger_check(:'orgj', q) c
           WHERE c.check_name = 'vat' AND c.severity IN ('error', 'warning')),
          0::bigint, 'billy.ledger_check: the VAT accounts'' postings agree with the return, journal entries included');

-- upstream changes (payments, voids, credit notes, new and approved invoices,
-- new bills), then a sync: the VAT line table the triggers keep equals a
-- rebuild from the mirror, and every return still equals the independent
-- formulation
SELECT billy_test.sandbox('POST', '/mutate', format('{"org":"%s","n":60,"seed":11,"kinds":["pay","partlyPay","void","creditNote","newInvoice","approveDraft","deleteDraft","newBill","payBill","voidPayment"]}', :'org1'))::jsonb AS m \gset
SELECT ok((SELECT count(DISTINCT c ->> 'id') FROM jsonb_array_elements((:'m'::jsonb) -> 'changes') c WHERE c ->> 'resource' IN ('invoices', 'bills')) >= 30,
          'the sandbox changed at least 30 invoices and bills upstream');
SELECT count(*) AS resynced FROM billy.sync_now(:'org1') \gset
CREATE TEMP TABLE facts_kept AS SELECT * FROM billy._vat_facts WHERE organization_id = :'org1';
SELECT billy.vat_rebuild_lines(:'org1') AS rebuilt \gset
SELECT is((SELECT count(*) FROM (SELECT * FROM facts_kept EXCEPT SELECT * FROM billy._vat_facts WHERE organization_id = :'org1') x)
          + (SELECT count(*) FROM (SELECT * FROM billy._vat_facts WHERE organization_id = :'org1' EXCEPT SELECT * FROM facts_kept) y),
          0::bigint, 'after the changes and a sync, the VAT lines the triggers kept equal a rebuild from the mirror');
SELECT ok(billy_test.mirror_equal(:'org1'), 'and the mirror equals the sandbox''s books again');
SELECT results_eq(
    format($$SELECT p.period, r.salgsmoms_exact, r.moms_varekoeb_udland_exact, r.moms_ydelseskoeb_udland_exact, r.koebsmoms_exact,
                    r.rubrik_a_varer_exact, r.rubrik_a_ydelser_exact, r.rubrik_b_varer_eu_salg_exact, r.rubrik_b_ydelser_exact,
                    r.rubrik_c_exact, r.tilsvar_reported
             FROM periods p, billy.vat_return(p.org, p.period) r WHERE p.org = %L ORDER BY 1$$, :'org1'),
    format($$SELECT p.period, i.salgsmoms, i.varekoeb, i.ydelseskoeb, i.koebsmoms, i.a_varer, i.a_ydelser, i.b_varer, i.b_ydelser,
                    i.c, i.tilsvar_kr
             FROM periods p, pg_temp.indep(p.org, p.start_date, p.end_date) i WHERE p.org = %L ORDER BY 1$$, :'org1'),
    'every field of every quarter still equals the independent formulation');
SELECT ok((SELECT count(*) FROM billy.vat_return(:'org1', '2023-01-01..2026-06-30') r, pg_temp.indep(:'org1', '2023-01-01', '2026-06-30') i
           WHERE (r.salgsmoms_exact, r.koebsmoms_exact, r.tilsvar_exact) = (i.salgsmoms, i.koebsmoms, i.tilsvar)) = 1,
          'and the three years at once');

-- a TRUNCATE of the mirror takes the VAT lines and the rollups along, and the
-- next sync fills them again (it failed on a duplicate VAT line before)
TRUNCATE billy.invoices, billy.invoice_lines, billy.bills, billy.bill_lines, billy.balance_modifiers;
SELECT is((SELECT count(*) FROM billy._vat_facts WHERE document_type IN ('invoice', 'bill')), 0::bigint,
          'a TRUNCATE of the documents leaves no VAT line of a document (journal entries keep theirs)');
SELECT is((SELECT sum(rows) FROM billy_test.analytics_differences()), 0::numeric, 'and the rollups follow it');
SELECT count(*) AS resynced FROM billy.sync_now(:'org1', ARRAY['invoices', 'bills']) \gset
SELECT ok(billy_test.mirror_equal(:'org1'), 'a sync after the TRUNCATE brings back every invoice and bill');
DROP TABLE facts_kept;
CREATE TEMP TABLE facts_kept AS SELECT * FROM billy._vat_facts;
SELECT billy.vat_rebuild_lines() AS rebuilt \gset
SELECT is((SELECT count(*) FROM (SELECT * FROM facts_kept EXCEPT SELECT * FROM billy._vat_facts) x)
          + (SELECT count(*) FROM (SELECT * FROM billy._vat_facts EXCEPT SELECT * FROM facts_kept) y),
          0::bigint, 'and its VAT lines equal a rebuild from the mirror');
SELECT is((SELECT sum(rows) FROM billy_test.analytics_differences()), 0::numeric, 'and its rollups a recomputation');
TRUNCATE billy.daybook_transaction_lines, billy.daybook_transactions;
SELECT is((SELECT count(*) FROM billy._vat_facts WHERE document_type = 'daybookTransaction'), 0::bigint,
          'a TRUNCATE of the journal entries leaves none of their VAT lines');

-- a first sync cut short leaves its mark (billy.derived_pending): the
-- triggers skip the organization's rows, and a rebuild by hand finishes the
-- job, the mark and the other table the mark stands for included
INSERT INTO billy.derived_pending (organization_id, resource) VALUES (:'org1', 'invoices'), (:'org1', 'bills');
DELETE FROM billy.invoices WHERE organization_id = :'org1'
    AND id = (SELECT id FROM billy.invoices WHERE organization_id = :'org1' AND state = 'approved' ORDER BY id LIMIT 1);
DELETE FROM billy.bills WHERE organization_id = :'org1'
    AND id = (SELECT id FROM billy.bills WHERE organization_id = :'org1' AND state = 'approved' ORDER BY id LIMIT 1);
SELECT ok(billy_test.vat_fact_differences() > 0 AND (SELECT sum(rows) FROM billy_test.analytics_differences()) > 0,
          'while marked, the triggers skip the organization: VAT lines and rollups lag the mirror');
SELECT billy.analytics_rebuild(:'org1') AS rebuilt \gset
SELECT is((SELECT count(*) FROM billy.derived_pending WHERE organization_id = :'org1'), 0::bigint,
          'billy.analytics_rebuild removes the marks of what it rebuilds');
SELECT is((SELECT sum(rows) FROM billy_test.analytics_differences()), 0::numeric, 'and the rollups equal a recomputation');
SELECT is(billy_test.vat_fact_differences(), 0::bigint, 'and so do the VAT lines the marks stood for too');
INSERT INTO billy.derived_pending (organization_id, resource) VALUES (:'org1', 'invoices');
DELETE FROM billy.invoices WHERE organization_id = :'org1'
    AND id = (SELECT id FROM billy.invoices WHERE organization_id = :'org1' AND state = 'approved' ORDER BY id LIMIT 1);
SELECT billy.vat_rebuild_lines(:'org1') AS rebuilt \gset
SELECT is((SELECT count(*) FROM billy.derived_pending WHERE organization_id = :'org1'), 0::bigint,
          'billy.vat_rebuild_lines removes them too');
SELECT is(billy_test.vat_fact_differences() + (SELECT sum(rows) FROM billy_test.analytics_differences()), 0::numeric,
          'and the VAT lines and the rollups equal a recomputation');

SELECT * FROM finish();
ROLLBACK;
