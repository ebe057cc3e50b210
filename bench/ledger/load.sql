-- bench/ledger/load.sql: one organization's general ledger written straight
-- into the mirror with SQL (not through a sync): a chart of 24 accounts in 8
-- account groups, :postings postings in :year and a quarter as many in the
-- year before (so opening balances have a history), in transactions of 2-4
-- postings that balance (sales with VAT, purchases with VAT, payments,
-- salaries), inserted page by page (1,000 transactions a statement, as a
-- sync writes them) so that billy's triggers keep the ledger rollup as they
-- do during a sync.  Deterministic (setseed).
\set ON_ERROR_STOP 1
SELECT setseed(0.14);

INSERT INTO billy.organizations (id, name, base_currency, vat_period, has_vat, country_id, fiscal_year_end_month,
                                 raw, first_seen_at)
VALUES ('bench-org', 'Bench Bogholderi ApS', 'DKK', 'quarter', true, 'DK', 12, '{}', now());

INSERT INTO billy.account_groups (organization_id, id, nature_id, name, priority, raw, content_hash)
VALUES ('bench-org', 'g1', 'revenue', 'Omsætning', 1, '{}', '\x00'),
       ('bench-org', 'g2', 'expense', 'Vareforbrug', 2, '{}', '\x00'),
       ('bench-org', 'g3', 'expense', 'Personaleomkostninger', 3, '{}', '\x00'),
       ('bench-org', 'g4', 'expense', 'Andre omkostninger', 4, '{}', '\x00'),
       ('bench-org', 'g5', 'asset', 'Tilgodehavender', 5, '{}', '\x00'),
       ('bench-org', 'g6', 'asset', 'Likvide beholdninger', 6, '{}', '\x00'),
       ('bench-org', 'g7', 'liability', 'Gæld', 7, '{}', '\x00'),
       ('bench-org', 'g8', 'equity', 'Egenkapital', 8, '{}', '\x00');
INSERT INTO billy.accounts (organization_id, id, account_no, name, nature_id, group_id, system_role, is_bank_account,
                            raw, content_hash)
SELECT 'bench-org', 'a' || no, no, name, nature, grp, role, no IN (5810, 5820), '{}', '\x00'
FROM (VALUES (1110, 'Salg af varer', 'revenue', 'g1', NULL), (1120, 'Salg af varer, EU', 'revenue', 'g1', NULL),
             (1140, 'Salg af ydelser', 'revenue', 'g1', NULL), (1150, 'Salg af ydelser, EU', 'revenue', 'g1', NULL),
             (1310, 'Varekøb', 'expense', 'g2', NULL), (1320, 'Varekøb, EU', 'expense', 'g2', NULL),
             (2210, 'Lønninger', 'expense', 'g3', NULL), (2750, 'Restaurationsbesøg', 'expense', 'g4', NULL),
             (3610, 'Husleje', 'expense', 'g4', NULL), (3810, 'Telefon og internet', 'expense', 'g4', NULL),
             (3820, 'Software', 'expense', 'g4', NULL), (3830, 'Kontorartikler', 'expense', 'g4', NULL),
             (4310, 'Bankgebyrer', 'expense', 'g4', NULL), (4350, 'Kursdifferencer', 'expense', 'g4', 'realizedCurrencyDifference'),
             (5710, 'Debitorer', 'asset', 'g5', 'accountsReceivable'), (5810, 'Bankkonto', 'asset', 'g6', NULL),
             (5820, 'Valutakonto', 'asset', 'g6', NULL), (6810, 'Kreditorer', 'liability', 'g7', 'accountsPayable'),
             (6900, 'Salgsmoms', 'liability', 'g7', NULL), (6910, 'Købsmoms', 'liability', 'g7', NULL),
             (6920, 'Moms af varekøb i udlandet', 'liability', 'g7', NULL), (6940, 'Momsafregning', 'liability', 'g7', NULL),
             (7010, 'Egenkapital primo', 'equity', 'g8', NULL), (7020, 'Overført resultat', 'equity', 'g8', NULL)) v(no, name, nature, grp, role);

-- the transactions: kind 0 sale (receivables / sales / VAT), 1 purchase
-- (costs / VAT / payables), 2 customer payment, 3 supplier payment,
-- 4 salary; amounts in øre, then kroner
CREATE TEMP TABLE bench_txn AS
SELECT n, d, k, amt, sales, cost
FROM (SELECT n, (make_date(:year - 1, 1, 1) + (random() * 364)::integer
                 + CASE WHEN n % 5 = 0 THEN 0 ELSE 365 END) AS d,
             (ARRAY[0, 0, 0, 1, 1, 2, 2, 3, 3, 4])[1 + (random() * 9.999)::integer] AS k,
             (1000 + (random() * 2000000)::bigint) AS amt,
             (ARRAY[1110, 1120, 1140, 1150])[1 + (random() * 3.999)::integer] AS sales,
             (ARRAY[1310, 1320, 2750, 3610, 3810, 3820, 3830, 4310])[1 + (random() * 7.999)::integer] AS cost
      FROM generate_series(1, (:postings * 5 / 4 / 2.9)::integer) n) x;

CREATE TEMP TABLE bench_posting AS
SELECT t.n, p.i, t.d, p.account, p.amt
FROM bench_txn t
CROSS JOIN LATERAL (
    SELECT * FROM (VALUES
        -- sale: receivables gross, sales net, VAT 25% of the net
        (0, 5710, t.amt * 5 / 4), (1, t.sales, -t.amt), (2, 6900, -(t.amt * 5 / 4 - t.amt)),
        -- purchase: cost net, VAT, payables gross
        (10, t.cost, t.amt), (11, 6910, t.amt / 4), (12, 6810, -(t.amt + t.amt / 4)),
        -- payments
        (20, 5810, t.amt), (21, 5710, -t.amt),
        (30, 6810, t.amt), (31, 5810, -t.amt), (32, 4310, 1500), (33, 5810, -1500),
        (40, 2210, t.amt * 10), (41, 5810, -t.amt * 10)) v(i, account, amt)
    WHERE v.i / 10 = t.k) p;

CREATE INDEX ON bench_txn (n);
CREATE INDEX ON bench_posting (n);
ANALYZE bench_txn, bench_posting;

DO $$
DECLARE
    lo integer := 0;
    hi integer;
    batch constant integer := 1000;
BEGIN
    SELECT max(n) INTO hi FROM bench_txn;
    WHILE lo < hi LOOP
        INSERT INTO billy.transactions (organization_id, id, transaction_no, entry_date, originator_reference,
                                        originator_type, originator_id, is_voided, is_void, raw, content_hash)
        SELECT 'bench-org', 't' || n, n, d, 'daybookTransaction:j' || n, 'daybookTransaction', 'j' || n, false, false,
               '{}', '\x00'
        FROM bench_txn WHERE n > lo AND n <= lo + batch;
        INSERT INTO billy.postings (organization_id, id, transaction_id, entry_date, account_id, amount, side,
                                    currency_id, is_voided, is_bank_matched, priority, raw)
        SELECT 'bench-org', 'p' || n || '-' || i, 't' || n, d, 'a' || account, abs(amt) / 100.0,
               CASE WHEN amt >= 0 THEN 'debit' ELSE 'credit' END, 'DKK', false, false, i % 10, '{}'
        FROM bench_posting WHERE n > lo AND n <= lo + batch;
        lo := lo + batch;
    END LOOP;
END $$;
-- what autovacuum does after a sync: the rollup's month rows were updated
-- once per page and left dead versions behind
VACUUM ANALYZE billy.postings, billy.transactions, billy.ledger_sums, billy.accounts;
