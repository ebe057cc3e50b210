-- bench/search/load.sql: one organization's books for bench/search, written
-- straight into the mirror with SQL (not through a sync; the search reads
-- the mirror only).  psql variables: invoices, postings.  Deterministic
-- (setseed).
--
-- Contacts: invoices / 50 customers and 200 suppliers with names built
-- from Danish words and surnames; invoices with their number, an order
-- number for one in five and a line text of two to four words from a
-- vocabulary of 60; a tenth as many bills with the supplier's name, number
-- and text; transactions of 2-4 postings (about :postings postings) with a
-- voucher number and a text like the documents' texts.  A few words are
-- rare (1 in 1,000 texts), the rest common: a search sees both kinds.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- the search reads the mirror's tables only: the triggers that keep rollups,
-- VAT lines and the change log are not wanted here (and would make loading
-- a million postings page by page take many minutes)
SET session_replication_role = replica;
SELECT setseed(0.31);

INSERT INTO billy.organizations (id, name, base_currency, raw)
VALUES ('bench-org', 'Søgning ApS', 'DKK', '{}');

-- the vocabulary of the texts (60 words), and 5 rare words
CREATE FUNCTION pg_temp.word(r float8) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN (ARRAY['konsulent', 'timer', 'rådgivning', 'lampe', 'lampeskærm', 'bordlampe', 'stol', 'bord',
               'reol', 'montering', 'levering', 'fragt', 'installation', 'service', 'abonnement', 'licens',
               'software', 'hosting', 'domæne', 'support', 'kursus', 'workshop', 'design', 'logo',
               'tryksager', 'papir', 'toner', 'printer', 'skærm', 'tastatur', 'mus', 'kabel',
               'reparation', 'maling', 'tømrer', 'murer', 'vvs', 'el', 'rengøring', 'vinduespudsning',
               'husleje', 'forsikring', 'telefon', 'internet', 'kontorartikler', 'kaffe', 'frugt', 'kantine',
               'annoncering', 'markedsføring', 'revision', 'bogføring', 'løn', 'pension', 'feriepenge',
               'diæter', 'kørsel', 'parkering', 'brændstof', 'værktøj'])[1 + (r * 59.999)::integer];
CREATE FUNCTION pg_temp.rare(r float8) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN (ARRAY['lysekrone', 'gulvtæppe', 'solcelle', 'varmepumpe', 'ventilation'])[1 + (r * 4.999)::integer];
-- a text of two or three words; about one in a thousand gets a rare word too
CREATE FUNCTION pg_temp.phrase(r1 float8, r2 float8, r3 float8, r4 float8) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN initcap(pg_temp.word(r1)) || ' ' || pg_temp.word(r2)
       || CASE WHEN r3 < 0.6 THEN ' ' || pg_temp.word(r3 / 0.6) ELSE '' END
       || CASE WHEN r4 < 0.001 THEN ' ' || pg_temp.rare(r4 * 1000) ELSE '' END;

CREATE TEMP TABLE surnames (n integer, s text);
INSERT INTO surnames SELECT row_number() OVER () - 1, s
FROM unnest(ARRAY['Jensen', 'Nielsen', 'Hansen', 'Pedersen', 'Andersen', 'Christensen', 'Larsen', 'Sørensen',
                  'Rasmussen', 'Jørgensen', 'Petersen', 'Madsen', 'Kristensen', 'Olsen', 'Thomsen', 'Christiansen',
                  'Poulsen', 'Johansen', 'Møller', 'Mortensen']) s;

INSERT INTO billy.contacts (organization_id, id, type, name, country_id, is_customer, is_supplier, raw, content_hash)
SELECT 'bench-org', 'c' || c, 'company',
       s.s || CASE c % 4 WHEN 0 THEN ' Byg' WHEN 1 THEN ' Design' WHEN 2 THEN ' Handel' ELSE ' & Co' END
         || ' ' || c || ' ApS',
       'DK', c >= 200, c < 200, '{}', '\x00'
FROM generate_series(0, greatest(:invoices / 50, 10) + 199) c
JOIN surnames s ON s.n = c % 20;

INSERT INTO billy.invoices (organization_id, id, type, state, invoice_no, order_no, contact_id, entry_date, due_date,
                            currency_id, exchange_rate, amount, tax, gross_amount, balance, is_paid,
                            line_description, raw, content_hash)
SELECT 'bench-org', 'i' || i, 'invoice', 'approved', i::text,
       CASE WHEN random() < 0.2 THEN 'PO-' || (100000 + i) END,
       'c' || (200 + (random() * greatest(:invoices / 50, 10) * 0.999)::integer),
       d, d + 14, 'DKK', 1, a, round(a * 0.25, 2), a + round(a * 0.25, 2), 0, true,
       pg_temp.phrase(random(), random(), random(), random()), '{}', '\x00'
FROM (SELECT i, date '2026-06-30' - (1095 * random())::integer AS d,
             round((200 + 30000 * power(random(), 3))::numeric, 2) AS a
      FROM generate_series(1, :invoices) i) x;

INSERT INTO billy.bills (organization_id, id, type, state, contact_id, contact_name, suppliers_invoice_no, voucher_no,
                         entry_date, due_date, currency_id, exchange_rate, amount, tax, gross_amount, balance, is_paid,
                         line_description, raw, content_hash)
SELECT 'bench-org', 'b' || b, 'bill', 'approved', 'c' || (b % 200), c.name, 'F' || (500000 + b), b::text,
       d, d + 8, 'DKK', 1, a, round(a * 0.25, 2), a + round(a * 0.25, 2), 0, true,
       pg_temp.phrase(random(), random(), random(), random()), '{}', '\x00'
FROM (SELECT b, date '2026-06-30' - (1095 * random())::integer AS d, round((100 + 5000 * random())::numeric, 2) AS a
      FROM generate_series(1, greatest(:invoices / 10, 10)) b) x
JOIN billy.contacts c ON c.organization_id = 'bench-org' AND c.id = 'c' || (x.b % 200);

-- the general ledger: transactions of 2-4 postings
CREATE TEMP TABLE txn AS
SELECT n, date '2026-06-30' - (1095 * random())::integer AS d, 2 + (random() * 2.999)::integer AS k,
       pg_temp.phrase(random(), random(), random(), random()) AS t, round((50 + 20000 * random())::numeric, 2) AS a
FROM generate_series(1, (:postings / 3)::integer) n;
INSERT INTO billy.transactions (organization_id, id, transaction_no, voucher_no, entry_date, is_voided, is_void, raw,
                                content_hash)
SELECT 'bench-org', 't' || n, n, 'V' || n, d, false, false, '{}', '\x00' FROM txn;
INSERT INTO billy.postings (organization_id, id, transaction_id, entry_date, text, account_id, amount, side,
                            currency_id, is_voided, is_bank_matched, priority, raw)
SELECT 'bench-org', 'p' || n || '-' || j, 't' || n, d, t, 'a' || (1000 + j), a,
       CASE WHEN j = 1 THEN 'debit' ELSE 'credit' END, 'DKK', false, false, j, '{}'
FROM txn CROSS JOIN generate_series(1, k) j;
VACUUM ANALYZE billy.contacts, billy.invoices, billy.bills, billy.transactions, billy.postings;
