-- bench/analytics/load.sql: a generated organization loaded straight into
-- billy's mirror with generate_series (not through the sandbox and a sync),
-- the analytics triggers on, in batches.  psql variables: n (invoices),
-- org, today.  Deterministic (setseed).
--
-- Books: n invoices over the three years to :today (growing about 15% a
-- year, July at half a normal month), about 3% credit notes, 1.5% voided,
-- 0.5% drafts; n / 50 customers; DKK 85%, EUR 10% (7.40-7.50), SEK 3%
-- (0.65-0.72), USD 2% (6.5-7.2); 25% VAT on Danish sales; payments 0-40
-- days after the invoice (a payment modifier each), the last weeks' and
-- 4% of the rest unpaid, 3% paid in part; n / 10 bills, mostly paid.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT setseed(0.2026);
SELECT set_config('bench.org', :'org', false), set_config('bench.today', :'today', false) \gset

INSERT INTO billy.organizations (id, name, base_currency, raw)
VALUES (:'org', 'Benchmark ApS', 'DKK', '{}');

INSERT INTO billy.contacts (organization_id, id, type, name, country_id, is_customer, raw, content_hash)
SELECT :'org', 'c' || c, 'company', 'Kunde ' || c || ' ApS', 'DK', true, '{}', '\x00'
FROM generate_series(0, greatest(:n / 50, 10) - 1) c;

CREATE TEMP TABLE plan AS
SELECT i,
       -- skewed towards the end (growth); half of July moves to August
       (:'today'::date - (1095 * (1 - sqrt(random())))::int) AS entry,
       'c' || (floor(greatest(:n / 50, 10) * power(random(), 1.6)))::int AS contact,
       random() AS r_state, random() AS r_cur, random() AS r_pay, random() AS r_days, random() AS r_amount
FROM generate_series(1, :n) i;
UPDATE plan SET entry = entry + 31 WHERE extract(month FROM entry) = 7 AND r_days < 0.5 AND entry + 31 <= :'today'::date;
ANALYZE plan;

-- invoices in batches of 100,000: each batch is one statement for the triggers
DO $$
DECLARE
    lo bigint := 1;
    total bigint := (SELECT count(*) FROM plan);
BEGIN
    WHILE lo <= total LOOP
        INSERT INTO billy.invoices (organization_id, id, type, state, invoice_no, contact_id, entry_date, due_date,
                                    currency_id, exchange_rate, amount, tax, gross_amount, balance, is_paid,
                                    raw, content_hash)
        SELECT current_setting('bench.org'), 'i' || i, t.type, t.state, i::text, contact, entry, entry + 14,
               t.cur, t.rate, t.amount, t.tax, t.amount + t.tax,
               CASE WHEN t.state <> 'approved' THEN 0
                    WHEN t.unpaid THEN t.amount + t.tax
                    WHEN t.part THEN round((t.amount + t.tax) / 2, 2)
                    ELSE 0 END,
               t.state = 'approved' AND NOT t.unpaid AND NOT t.part,
               '{}', '\x00'
        FROM plan p
        CROSS JOIN LATERAL (
            SELECT CASE WHEN p.r_state < 0.03 THEN 'creditNote' ELSE 'invoice' END AS type,
                   CASE WHEN p.r_state BETWEEN 0.03 AND 0.045 THEN 'voided'
                        WHEN p.r_state BETWEEN 0.045 AND 0.05 OR (p.entry > current_setting('bench.today')::date - 7 AND p.r_pay < 0.2)
                            THEN 'draft' ELSE 'approved' END AS state,
                   CASE WHEN p.r_cur < 0.85 THEN 'DKK' WHEN p.r_cur < 0.95 THEN 'EUR' WHEN p.r_cur < 0.98 THEN 'SEK' ELSE 'USD' END AS cur,
                   CASE WHEN p.r_cur < 0.85 THEN 1
                        WHEN p.r_cur < 0.95 THEN round((7.40 + 0.1 * p.r_days)::numeric, 4)
                        WHEN p.r_cur < 0.98 THEN round((0.65 + 0.07 * p.r_days)::numeric, 4)
                        ELSE round((6.5 + 0.7 * p.r_days)::numeric, 4) END AS rate,
                   round((200 + 30000 * power(p.r_amount, 3))::numeric, 2) AS amount,
                   CASE WHEN p.r_cur < 0.85 THEN round(round((200 + 30000 * power(p.r_amount, 3))::numeric, 2) * 0.25, 2) ELSE 0 END AS tax,
                   p.entry + (p.r_days * 40)::int > current_setting('bench.today')::date OR p.r_pay < 0.04 AS unpaid,
                   p.r_pay BETWEEN 0.04 AND 0.07 AS part) t
        WHERE i BETWEEN lo AND lo + 99999;
        lo := lo + 100000;
    END LOOP;
END
$$;

-- a bank payment modifier for each invoice paid in whole or in part
ANALYZE billy.invoices;
DO $$
DECLARE
    lo bigint := 1;
    total bigint := (SELECT count(*) FROM plan);
BEGIN
    WHILE lo <= total LOOP
        INSERT INTO billy.balance_modifiers (organization_id, id, subject_type, subject_id, modifier_reference,
                                             modifier_type, modifier_id, amount, entry_date, is_voided, raw)
        SELECT v.organization_id, 'm' || p.i, 'invoice', v.id, 'bankPayment:p' || p.i, 'bankPayment', 'p' || p.i,
               -(v.gross_amount - v.balance), v.entry_date + (p.r_days * 40)::int, false, '{}'
        FROM plan p
        JOIN billy.invoices v ON v.organization_id = current_setting('bench.org') AND v.id = 'i' || p.i
        WHERE p.i BETWEEN lo AND lo + 99999 AND v.state = 'approved' AND v.gross_amount <> v.balance;
        lo := lo + 100000;
    END LOOP;
END
$$;

INSERT INTO billy.bills (organization_id, id, type, state, contact_id, entry_date, due_date, currency_id,
                         exchange_rate, amount, tax, gross_amount, balance, is_paid, raw, content_hash)
SELECT :'org', 'b' || b, CASE WHEN random() < 0.01 THEN 'creditNote' ELSE 'bill' END,
       CASE WHEN random() < 0.01 THEN 'voided' ELSE 'approved' END, 's' || (b % 19),
       d, d + 8, 'DKK', 1, a, round(a * 0.25, 2), a + round(a * 0.25, 2),
       CASE WHEN d > :'today'::date - 8 THEN a + round(a * 0.25, 2) ELSE 0 END,
       d <= :'today'::date - 8, '{}', '\x00'
FROM (SELECT b, (:'today'::date - (1095 * random())::int) AS d, round((100 + 5000 * random())::numeric, 2) AS a
      FROM generate_series(1, greatest(:n / 10, 10)) b) x;

DROP TABLE plan;
