------------------------------------------------------------------------------
-- The statements: trial balance (saldobalance), profit and loss
-- (resultatopgørelse), balance sheet (balance), account statement
-- (kontokort), for any period and for the organization's fiscal year, and
-- the cross-checks of the books against the VAT return, the open documents
-- and the bank statement
--
-- Every figure is a sum of postings (billy.postings.signed_amount: debit +,
-- credit -) of the transactions that are not marked deleted, exact to the
-- øre.  Voided transactions stay in: their mirror image (is_void) undoes
-- them in the books, as Billy books it.
--
-- The fiscal year: organizations.first_fiscal_year_start ..
-- first_fiscal_year_end is the first (it may be longer or shorter than a
-- year); every later one ends on the last day of fiscal_year_end_month.  A
-- fiscal year is named by the calendar year it ends in (Billy's
-- fiscalYear:YYYY).  Revenue and expense accounts start every fiscal year at
-- 0: what they held before goes to a line "Overført resultat" (result of
-- earlier years) in equity, so a trial balance's opening balances still add
-- up to 0 and the balance sheet balances without closing entries.
--
-- The rollup billy.ledger_sums (per organization, account and month, and
-- per day: debits, credits, postings) is kept current by statement triggers
-- on billy.postings and billy.transactions, so a statement reads the months
-- its dates cover whole and the days of the months they cut (a few thousand
-- rows at most) instead of scanning the postings.
------------------------------------------------------------------------------

CREATE TABLE billy.ledger_sums (
    organization_id text NOT NULL,
    grain           text NOT NULL CHECK (grain OPERATOR(pg_catalog.=) ANY (ARRAY['day', 'month'])),
    day             date NOT NULL,
    account_id      text NOT NULL,
    debit           numeric NOT NULL,
    credit          numeric NOT NULL,
    postings        integer NOT NULL,
    PRIMARY KEY (organization_id, grain, day, account_id)
);
COMMENT ON TABLE billy.ledger_sums IS
'Rollup of the general ledger per organization, account and day (grain day) and month (grain month, day its first day): the sum of the debits, the sum of the credits (both positive) and the number of postings of the transactions not marked deleted. Each grain alone holds every posting. Kept current by triggers on billy.postings and billy.transactions; billy.ledger_rebuild recomputes it.';

ALTER TABLE billy.ledger_sums ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON billy.ledger_sums FOR SELECT USING ((SELECT billy._sees_all())
    OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]));
REVOKE ALL ON billy.ledger_sums FROM PUBLIC;
GRANT SELECT ON billy.ledger_sums TO billy_reader;

-- a posting's change to the rollup: its organization, account, day and
-- signed amount, and +1 to add it or -1 to take it away
CREATE TYPE billy._ledger_delta AS (o text, a text, d date, x numeric, s integer);
COMMENT ON TYPE billy._ledger_delta IS 'A posting added to (s = 1) or taken from (s = -1) billy.ledger_sums. Internal.';

-- _ledger_add applies postings to the rollup, one upsert per statement;
-- days that hold nothing any more are removed
CREATE FUNCTION billy._ledger_add(deltas billy._ledger_delta[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone billy._ledger_delta[];
    gone_grains text[];
BEGIN
    IF coalesce(cardinality(deltas), 0) = 0 THEN
        RETURN;
    END IF;
    WITH d AS (
        SELECT u.o, g.grain, g.day, u.a,
               sum(CASE WHEN u.x > 0 THEN u.x ELSE 0 END * u.s) AS debit,
               sum(CASE WHEN u.x < 0 THEN -u.x ELSE 0 END * u.s) AS credit,
               sum(u.s)::integer AS n
        FROM unnest(deltas) AS u
        CROSS JOIN LATERAL (VALUES ('day', u.d), ('month', date_trunc('month', u.d)::date)) g(grain, day)
        WHERE u.o IS NOT NULL AND u.a IS NOT NULL AND u.d IS NOT NULL
        GROUP BY u.o, g.grain, g.day, u.a
        ORDER BY u.o, g.grain, g.day, u.a
    ), up AS (
        INSERT INTO billy.ledger_sums AS t (organization_id, grain, day, account_id, debit, credit, postings)
        SELECT d.o, d.grain, d.day, d.a, d.debit, d.credit, d.n FROM d
        ON CONFLICT (organization_id, grain, day, account_id) DO UPDATE SET
            debit = t.debit + EXCLUDED.debit, credit = t.credit + EXCLUDED.credit,
            postings = t.postings + EXCLUDED.postings
        RETURNING t.organization_id, t.grain, t.day, t.account_id, t.postings
    )
    SELECT array_agg(ROW(up.organization_id, up.account_id, up.day, 0, 0)::billy._ledger_delta ORDER BY up.grain)
           FILTER (WHERE up.postings = 0),
           array_agg(up.grain ORDER BY up.grain) FILTER (WHERE up.postings = 0)
    INTO gone, gone_grains FROM up;
    -- (a separate statement: the upsert's new row versions are not visible
    -- to another part of the same statement)
    IF gone IS NOT NULL THEN
        DELETE FROM billy.ledger_sums t
        USING unnest(gone, gone_grains) AS g(o, a, d, x, s, grain)
        WHERE t.organization_id = g.o AND t.grain = g.grain AND t.day = g.d AND t.account_id = g.a AND t.postings = 0;
    END IF;
END
$$;
COMMENT ON FUNCTION billy._ledger_add(billy._ledger_delta[]) IS
'Adds (sign +1) or takes away (-1) signed posting amounts in billy.ledger_sums. Internal.';

-- the postings of a statement count when their transaction is not marked
-- deleted; a posting whose transaction is gone went with it (a foreign-key
-- cascade, which no longer sees the transaction), and counted until then
-- unless its organization went too (billy._ledger_transaction_deleted puts
-- back first the postings of a transaction that was marked deleted)
CREATE FUNCTION billy._ledger_postings_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- look the transactions up by key even while a first sync fills the tables
-- (empty tables' statistics would make every page scan them whole)
SET enable_seqscan = off
AS $$
DECLARE
    -- organizations whose rollup a first sync of their transactions builds
    -- at its end (billy.derived_pending, 75-derived.sql)
    skip text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM billy.ledger_sums;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        skip := billy._derived_skipped('transactions', ARRAY(SELECT DISTINCT p.organization_id FROM ledger_old p));
        PERFORM billy._ledger_add(ARRAY(
            SELECT ROW(p.organization_id, p.account_id, p.entry_date, p.signed_amount, -1)::billy._ledger_delta
            FROM ledger_old p
            LEFT JOIN billy.transactions t ON t.organization_id = p.organization_id AND t.id = p.transaction_id
            WHERE p.organization_id <> ALL (skip)
              AND CASE WHEN t.id IS NOT NULL THEN t.deleted_at IS NULL
                       ELSE EXISTS (SELECT 1 FROM billy.organizations g WHERE g.id = p.organization_id) END));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        skip := billy._derived_skipped('transactions', ARRAY(SELECT DISTINCT p.organization_id FROM ledger_new p));
        PERFORM billy._ledger_add(ARRAY(
            SELECT ROW(p.organization_id, p.account_id, p.entry_date, p.signed_amount, 1)::billy._ledger_delta
            FROM ledger_new p
            JOIN billy.transactions t ON t.organization_id = p.organization_id AND t.id = p.transaction_id
            WHERE t.deleted_at IS NULL AND p.organization_id <> ALL (skip)));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._ledger_postings_changed() IS
'Statement trigger on billy.postings: keeps billy.ledger_sums current. Internal.';
CREATE TRIGGER ledger_insert AFTER INSERT ON billy.postings
    REFERENCING NEW TABLE AS ledger_new FOR EACH STATEMENT EXECUTE FUNCTION billy._ledger_postings_changed();
CREATE TRIGGER ledger_update AFTER UPDATE ON billy.postings
    REFERENCING OLD TABLE AS ledger_old NEW TABLE AS ledger_new
    FOR EACH STATEMENT EXECUTE FUNCTION billy._ledger_postings_changed();
CREATE TRIGGER ledger_delete AFTER DELETE ON billy.postings
    REFERENCING OLD TABLE AS ledger_old FOR EACH STATEMENT EXECUTE FUNCTION billy._ledger_postings_changed();
CREATE TRIGGER ledger_truncate AFTER TRUNCATE ON billy.postings
    FOR EACH STATEMENT EXECUTE FUNCTION billy._ledger_postings_changed();

-- a transaction marked deleted takes its postings out of the rollup, one
-- found again puts them back
CREATE FUNCTION billy._ledger_transactions_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- look the transactions up by key even while a first sync fills the tables
-- (empty tables' statistics would make every page scan them whole)
SET enable_seqscan = off
AS $$
DECLARE
    skip text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM billy.ledger_sums;
        RETURN NULL;
    END IF;
    skip := billy._derived_skipped('transactions', ARRAY(SELECT DISTINCT n.organization_id FROM ledger_new n));
    PERFORM billy._ledger_add(ARRAY(
        SELECT ROW(p.organization_id, p.account_id, p.entry_date, p.signed_amount,
                   CASE WHEN n.deleted_at IS NULL THEN 1 ELSE -1 END)::billy._ledger_delta
        FROM ledger_new n
        JOIN ledger_old f ON f.organization_id = n.organization_id AND f.id = n.id
        JOIN billy.postings p ON p.organization_id = n.organization_id AND p.transaction_id = n.id
        WHERE (n.deleted_at IS NULL) <> (f.deleted_at IS NULL) AND n.organization_id <> ALL (skip)));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._ledger_transactions_changed() IS
'Statement trigger on billy.transactions: a transaction marked deleted (or found again) takes its postings out of (puts them back into) billy.ledger_sums. Internal.';
CREATE TRIGGER ledger_update AFTER UPDATE ON billy.transactions
    REFERENCING OLD TABLE AS ledger_old NEW TABLE AS ledger_new
    FOR EACH STATEMENT EXECUTE FUNCTION billy._ledger_transactions_changed();
CREATE TRIGGER ledger_truncate AFTER TRUNCATE ON billy.transactions
    FOR EACH STATEMENT EXECUTE FUNCTION billy._ledger_transactions_changed();

-- a transaction marked deleted and then deleted outright: its postings go
-- by cascade and are taken away as if they counted, so they are put back first
CREATE FUNCTION billy._ledger_transaction_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (a first sync that builds the rollup at its end: the cascade skips too)
    IF cardinality(billy._derived_skipped('transactions', ARRAY[OLD.organization_id])) > 0 THEN
        RETURN OLD;
    END IF;
    PERFORM billy._ledger_add(ARRAY(
        SELECT ROW(p.organization_id, p.account_id, p.entry_date, p.signed_amount, 1)::billy._ledger_delta
        FROM billy.postings p WHERE p.organization_id = OLD.organization_id AND p.transaction_id = OLD.id));
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION billy._ledger_transaction_deleted() IS
'Row trigger before a deletion from billy.transactions of a transaction marked deleted: puts its postings back into billy.ledger_sums, which the cascade to its postings then takes away. Internal.';
CREATE TRIGGER ledger_delete BEFORE DELETE ON billy.transactions
    FOR EACH ROW WHEN (OLD.deleted_at IS NOT NULL) EXECUTE FUNCTION billy._ledger_transaction_deleted();

CREATE FUNCTION billy._ledger_organizations_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM billy.ledger_sums t USING ledger_old o WHERE t.organization_id = o.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._ledger_organizations_deleted() IS
'Statement trigger on billy.organizations: deleting an organization deletes its ledger rollup. Internal.';
CREATE TRIGGER ledger_delete AFTER DELETE ON billy.organizations
    REFERENCING OLD TABLE AS ledger_old
    FOR EACH STATEMENT EXECUTE FUNCTION billy._ledger_organizations_deleted();

-- _ledger_rebuild_sums recomputes the rollup of one organization (NULL:
-- every one) from the mirror in one statement
CREATE FUNCTION billy._ledger_rebuild_sums(target text) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM billy.ledger_sums WHERE target IS NULL OR organization_id = target;
    INSERT INTO billy.ledger_sums (organization_id, grain, day, account_id, debit, credit, postings)
    SELECT p.organization_id, g.grain, g.day, p.account_id,
           sum(CASE WHEN p.signed_amount > 0 THEN p.signed_amount ELSE 0 END),
           sum(CASE WHEN p.signed_amount < 0 THEN -p.signed_amount ELSE 0 END), count(*)
    FROM billy.postings p
    JOIN billy.transactions t ON t.organization_id = p.organization_id AND t.id = p.transaction_id
    CROSS JOIN LATERAL (VALUES ('day', p.entry_date), ('month', date_trunc('month', p.entry_date)::date)) g(grain, day)
    WHERE t.deleted_at IS NULL AND (target IS NULL OR p.organization_id = target)
      AND p.account_id IS NOT NULL AND p.entry_date IS NOT NULL
    GROUP BY p.organization_id, g.grain, g.day, p.account_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy._ledger_rebuild_sums(text) IS
'Recomputes billy.ledger_sums of one organization (by id; NULL: every organization) from the mirror''s postings; returns the rows written. Internal: billy.ledger_rebuild and the end of a first sync of transactions (billy._derived_finish) call it.';

CREATE FUNCTION billy.ledger_rebuild(org text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
BEGIN
    -- what a first sync cut short left to rebuild is rebuilt here: its mark
    -- goes first (waiting for the writers that skipped, 75-derived.sql)
    DELETE FROM billy.derived_pending WHERE resource = 'transactions' AND (target IS NULL OR organization_id = target);
    RETURN billy._ledger_rebuild_sums(target);
END
$$;
COMMENT ON FUNCTION billy.ledger_rebuild(text) IS
'Recomputes the ledger rollup (billy.ledger_sums) of one organization (id or name; NULL: every organization) from the mirror''s postings and returns the rows written. The triggers keep it current by themselves, and a first sync of transactions builds it at its end; use this after loading the mirror with triggers off (pg_restore --disable-triggers, session_replication_role = replica). It also finishes what a first sync cut short left to rebuild (billy.derived_pending).';

------------------------------------------------------------------------------
-- Fiscal years and periods
------------------------------------------------------------------------------

-- _fiscal_year: the fiscal year of an organization that holds a date
CREATE FUNCTION billy._fiscal_year(org_id text, d date, OUT fiscal_year integer, OUT start_date date, OUT end_date date)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record;
    end_month integer;
BEGIN
    SELECT x.fiscal_year_end_month, x.first_fiscal_year_start, x.first_fiscal_year_end INTO o
    FROM billy.organizations x WHERE x.id = org_id;
    end_month := coalesce(o.fiscal_year_end_month, 12);
    IF end_month NOT BETWEEN 1 AND 12 THEN
        end_month := 12;
    END IF;
    IF d BETWEEN o.first_fiscal_year_start AND o.first_fiscal_year_end THEN
        start_date := o.first_fiscal_year_start;
        end_date := o.first_fiscal_year_end;
    ELSE
        end_date := (make_date(extract(year FROM d)::integer, end_month, 1) + interval '1 month')::date - 1;
        IF end_date < d THEN
            end_date := (make_date(extract(year FROM d)::integer + 1, end_month, 1) + interval '1 month')::date - 1;
        END IF;
        start_date := (end_date + 1 - interval '12 months')::date;
        -- the year after an odd-length first one starts the day after it
        IF o.first_fiscal_year_end IS NOT NULL AND start_date <= o.first_fiscal_year_end
           AND d > o.first_fiscal_year_end THEN
            start_date := o.first_fiscal_year_end + 1;
        END IF;
    END IF;
    fiscal_year := extract(year FROM end_date)::integer;
END
$$;
COMMENT ON FUNCTION billy._fiscal_year(text, date) IS 'The fiscal year of an organization (by id) that holds a date. Internal.';

CREATE FUNCTION billy.fiscal_year(org text DEFAULT NULL, on_date date DEFAULT CURRENT_DATE,
                                  OUT fiscal_year integer, OUT start_date date, OUT end_date date)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT f.fiscal_year, f.start_date, f.end_date FROM billy._fiscal_year(billy._resolve_org(org), on_date) f $$;
COMMENT ON FUNCTION billy.fiscal_year(text, date) IS
'The fiscal year (regnskabsår) of an organization (id or name; NULL when one is connected) that holds a date: its name (the calendar year it ends in, as Billy''s fiscalYear:YYYY), first and last day. The first fiscal year is Billy''s firstFiscalYearStart..firstFiscalYearEnd; later ones end on the last day of fiscalYearEndMonth.';

-- _ledger_period: the dates of a statement's period and of the same period
-- a year before (the fiscal year before, for a fiscal year)
CREATE FUNCTION billy._ledger_period(org_id text, period text, as_of date,
    OUT label text, OUT start_date date, OUT end_date date, OUT previous_start date, OUT previous_end date)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p text := lower(btrim(coalesce(period, 'fy')));
    m text[];
    fy record;
    prev record;
    v record;
BEGIN
    p := regexp_replace(p, '^fiscalyear:', 'fy');
    m := regexp_match(p, '^fy\s*(\d{4})?$');
    IF m IS NOT NULL THEN
        IF m[1] IS NULL THEN
            fy := billy._fiscal_year(org_id, coalesce(as_of, CURRENT_DATE));
        ELSE
            -- the fiscal year that ends in that calendar year
            fy := billy._fiscal_year(org_id, make_date(m[1]::integer, 12, 31));
            IF fy.fiscal_year > m[1]::integer THEN
                fy := billy._fiscal_year(org_id, fy.start_date - 1);
            END IF;
        END IF;
        prev := billy._fiscal_year(org_id, fy.start_date - 1);
        label := 'FY' || fy.fiscal_year || ' (' || fy.start_date || '..' || fy.end_date || ')';
        start_date := fy.start_date; end_date := fy.end_date;
        previous_start := prev.start_date; previous_end := prev.end_date;
        RETURN;
    END IF;
    v := billy._period(period);
    IF v.key IS NULL OR v.start_date < '1700-01-01' THEN
        RAISE EXCEPTION 'invalid period "%"', period
            USING ERRCODE = '22023',
                  DETAIL = 'A period is a fiscal year, a calendar year, a half-year, a quarter, a month or a range of dates.',
                  HINT = 'Write fy (the fiscal year of as_of), fy2025 (the fiscal year ending in 2025), 2025, 2025-H1, 2025-Q1, 2025-03 or 2025-01-01..2025-03-31.';
    END IF;
    label := v.key;
    start_date := v.start_date; end_date := v.end_date;
    previous_start := (start_date - interval '1 year')::date;
    previous_end := (end_date + 1 - interval '1 year')::date - 1;
END
$$;
COMMENT ON FUNCTION billy._ledger_period(text, text, date) IS
'The dates of a statement period (fy, fy2025, fiscalYear:2025, 2025, 2025-H1, 2025-Q1, 2025-03, A..B) and of the same period a year before; raises 22023 naming a bad period. Internal.';

------------------------------------------------------------------------------
-- Balances per account
------------------------------------------------------------------------------

-- _ledger_balances: per account of the organization, the opening balance at
-- from_date (revenue and expense accounts: since the start of that fiscal
-- year), the debits and credits of from_date..to_date and the closing
-- balance; a last row (account_id NULL, nature equity) carries the result of
-- the fiscal years before from_date's ("Overført resultat").  Signed: debit +.
CREATE FUNCTION billy._ledger_balances(org_id text, from_date date, to_date date)
RETURNS TABLE (account_id text, account_no integer, account_name text, nature text, group_id text,
               group_name text, group_priority integer, opening numeric, debit numeric, credit numeric,
               closing numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- a range [lo, hi] reads the month rows of the months it holds whole
    -- (ml <= day < mh) and the day rows of the others: the edges fy, from
    -- and to + 1 cut at most three months
    WITH fy AS (
        SELECT f.start_date FROM billy._fiscal_year(org_id, from_date) f
    ), e AS (
        SELECT fy.start_date AS fy, from_date AS lo, to_date + 1 AS hi,
               (date_trunc('month', fy.start_date - 1) + interval '1 month')::date AS fy_ml,
               date_trunc('month', from_date)::date AS lo_mf,
               (date_trunc('month', from_date - 1) + interval '1 month')::date AS lo_ml,
               date_trunc('month', to_date + 1)::date AS hi_mf
        FROM fy
    ), r AS (
        SELECT d.account_id, d.debit - d.credit AS net, d.debit, d.credit,
               CASE WHEN d.grain = 'month' THEN d.day < e.lo_mf ELSE d.day < e.lo AND d.day >= e.lo_mf END AS before_all,
               CASE WHEN d.grain = 'month' THEN d.day >= e.fy_ml AND d.day < e.lo_mf
                    ELSE d.day >= e.fy AND d.day < e.lo AND (d.day < e.fy_ml OR d.day >= e.lo_mf) END AS before_fy,
               CASE WHEN d.grain = 'month' THEN d.day >= e.lo_ml AND d.day < e.hi_mf
                    ELSE d.day >= e.lo AND d.day < e.hi AND (d.day < e.lo_ml OR d.day >= e.hi_mf) END AS inside
        FROM billy.ledger_sums d, e
        WHERE d.organization_id = org_id
          AND ((d.grain = 'month' AND d.day < e.hi_mf)
               OR (d.grain = 'day' AND ((d.day >= date_trunc('month', e.fy) AND d.day < e.fy_ml)
                                        OR (d.day >= e.lo_mf AND d.day < e.lo_ml)
                                        OR (d.day >= e.hi_mf AND d.day < e.hi))))
    ), s AS (
        SELECT r.account_id,
               coalesce(sum(r.net) FILTER (WHERE r.before_all), 0) AS before_all,
               coalesce(sum(r.net) FILTER (WHERE r.before_fy), 0) AS before_fy,
               coalesce(sum(r.debit) FILTER (WHERE r.inside), 0) AS debit,
               coalesce(sum(r.credit) FILTER (WHERE r.inside), 0) AS credit
        FROM r
        GROUP BY r.account_id
    ), a AS (
        SELECT s.*, ac.account_no, ac.name, ac.group_id, g.name AS group_name, g.priority,
               coalesce(ac.nature_id, g.nature_id) AS nature,
               coalesce(ac.nature_id, g.nature_id) IN ('revenue', 'expense') AS result_account
        FROM s
        LEFT JOIN billy.accounts ac ON ac.organization_id = org_id AND ac.id = s.account_id
        LEFT JOIN billy.account_groups g ON g.organization_id = org_id AND g.id = ac.group_id
    )
    SELECT a.account_id, a.account_no, a.name, a.nature, a.group_id, a.group_name, a.priority,
           round(CASE WHEN a.result_account THEN a.before_fy ELSE a.before_all END, 2),
           round(a.debit, 2), round(a.credit, 2),
           round(CASE WHEN a.result_account THEN a.before_fy ELSE a.before_all END + a.debit - a.credit, 2)
    FROM a
    WHERE CASE WHEN a.result_account THEN a.before_fy ELSE a.before_all END <> 0 OR a.debit <> 0 OR a.credit <> 0
    UNION ALL
    SELECT NULL, NULL, 'Overført resultat', 'equity', NULL, NULL, NULL, round(r.x, 2), 0, 0, round(r.x, 2)
    FROM (SELECT sum(a.before_all - a.before_fy) AS x FROM a WHERE a.result_account) r
    WHERE r.x <> 0
$$;
COMMENT ON FUNCTION billy._ledger_balances(text, date, date) IS
'Per account: opening balance, debits, credits and closing balance of a period (debit +), revenue and expense accounts from the start of the fiscal year; the earlier years'' result as an equity line without an account. Internal.';

-- _ledger_movements: per account, the movement (debits - credits) of two
-- periods, for the profit and loss, in one read of the rollup (the months
-- the periods hold whole, the days of the months they cut)
CREATE FUNCTION billy._ledger_movements(org_id text, a1 date, b1 date, a2 date, b2 date)
RETURNS TABLE (account_id text, movement numeric, previous numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH e AS (
        SELECT a1 AS lo1, b1 + 1 AS hi1, (date_trunc('month', a1 - 1) + interval '1 month')::date AS ml1,
               date_trunc('month', b1 + 1)::date AS mh1,
               a2 AS lo2, b2 + 1 AS hi2, (date_trunc('month', a2 - 1) + interval '1 month')::date AS ml2,
               date_trunc('month', b2 + 1)::date AS mh2
    ), r AS (
        SELECT d.account_id, d.debit - d.credit AS net,
               CASE WHEN d.grain = 'month' THEN d.day >= e.ml1 AND d.day < e.mh1
                    ELSE d.day >= e.lo1 AND d.day < e.hi1 AND (d.day < e.ml1 OR d.day >= e.mh1) END AS in1,
               CASE WHEN d.grain = 'month' THEN d.day >= e.ml2 AND d.day < e.mh2
                    ELSE d.day >= e.lo2 AND d.day < e.hi2 AND (d.day < e.ml2 OR d.day >= e.mh2) END AS in2
        FROM billy.ledger_sums d, e
        WHERE d.organization_id = org_id
          AND ((d.grain = 'month' AND ((d.day >= e.ml1 AND d.day < e.mh1) OR (d.day >= e.ml2 AND d.day < e.mh2)))
               OR (d.grain = 'day' AND ((d.day >= date_trunc('month', e.lo1) AND d.day < e.ml1)
                                        OR (d.day >= e.mh1 AND d.day < e.hi1)
                                        OR (d.day >= date_trunc('month', e.lo2) AND d.day < e.ml2)
                                        OR (d.day >= e.mh2 AND d.day < e.hi2))))
    )
    SELECT r.account_id, coalesce(sum(r.net) FILTER (WHERE r.in1), 0), coalesce(sum(r.net) FILTER (WHERE r.in2), 0)
    FROM r
    GROUP BY r.account_id
$$;
COMMENT ON FUNCTION billy._ledger_movements(text, date, date, date, date) IS
'Per account: the movement (debits - credits) of a1..b1 and of a2..b2, from the rollup. Internal.';

CREATE FUNCTION billy.trial_balance(org text DEFAULT NULL, period text DEFAULT 'fy', as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (account_no integer, account_id text, account_name text, nature text, group_name text,
               opening numeric, debit numeric, credit numeric, movement numeric, closing numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    p record := billy._ledger_period(org_id, period, as_of);
BEGIN
    RETURN QUERY
    SELECT b.account_no, b.account_id, b.account_name, b.nature, b.group_name, b.opening, b.debit, b.credit,
           b.debit - b.credit, b.closing
    FROM billy._ledger_balances(org_id, p.start_date, p.end_date) b
    ORDER BY b.account_no NULLS LAST, b.account_id;
END
$$;
COMMENT ON FUNCTION billy.trial_balance(text, text, date) IS
'The trial balance (saldobalance) of an organization (id or name; NULL when one is connected) for a period: fy (the fiscal year holding as_of, the default), fy2025 (the fiscal year ending in 2025), 2025, 2025-H1, 2025-Q1, 2025-03 or 2025-01-01..2025-03-31. One row per account with postings: number, id, name, nature, group, opening balance, debits, credits, movement (debits - credits) and closing balance (opening + movement), signed debit +, exact to the øre. Revenue and expense accounts open each fiscal year at 0; what they held before is the row "Overført resultat" (no account), so the opening and closing balances each add up to 0.';

CREATE FUNCTION billy.profit_and_loss(org text DEFAULT NULL, period text DEFAULT 'fy', as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (line text, nature text, group_name text, account_no integer, account_name text,
               amount numeric, previous numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    p record := billy._ledger_period(org_id, period, as_of);
BEGIN
    RETURN QUERY
    WITH acc AS (
        -- income +, costs -: the movement of the period, credit positive
        SELECT m.account_id, ac.account_no, ac.name AS account_name, coalesce(ac.nature_id, g.nature_id) AS nature,
               coalesce(g.name, CASE coalesce(ac.nature_id, g.nature_id) WHEN 'revenue' THEN 'Indtægter' ELSE 'Omkostninger' END) AS group_name,
               coalesce(g.priority, CASE coalesce(ac.nature_id, g.nature_id) WHEN 'revenue' THEN 1000 ELSE 2000 END) AS prio,
               round(-m.movement, 2) AS amount, round(-m.previous, 2) AS previous
        FROM billy._ledger_movements(org_id, p.start_date, p.end_date, p.previous_start, p.previous_end) m
        LEFT JOIN billy.accounts ac ON ac.organization_id = org_id AND ac.id = m.account_id
        LEFT JOIN billy.account_groups g ON g.organization_id = org_id AND g.id = ac.group_id
        WHERE coalesce(ac.nature_id, g.nature_id) IN ('revenue', 'expense')
    ), grp AS (
        SELECT a.group_name, a.prio, min(a.nature) AS nature, sum(a.amount) AS amount, sum(a.previous) AS previous
        FROM acc a GROUP BY a.group_name, a.prio
    ), rows AS (
        SELECT 'account'::text AS line, a.nature, a.group_name, a.account_no, a.account_name, a.amount, a.previous,
               a.prio, 1 AS k
        FROM acc a WHERE a.amount <> 0 OR a.previous <> 0
        UNION ALL
        SELECT 'group', g.nature, g.group_name, NULL, g.group_name || ' i alt', g.amount, g.previous, g.prio, 2
        FROM grp g WHERE g.amount <> 0 OR g.previous <> 0
        UNION ALL
        SELECT 'result', NULL, NULL, NULL, 'Resultat', coalesce(sum(a.amount), 0), coalesce(sum(a.previous), 0),
               2147483647, 3
        FROM acc a
    )
    SELECT r.line, r.nature, r.group_name, r.account_no, r.account_name, r.amount, r.previous
    FROM rows r
    ORDER BY r.prio, r.group_name, r.k, r.account_no NULLS LAST;
END
$$;
COMMENT ON FUNCTION billy.profit_and_loss(text, text, date) IS
'The profit and loss statement (resultatopgørelse) of an organization for a period (as billy.trial_balance: fy by default) beside the same period a year before (previous; for a fiscal year, the fiscal year before): the movement of every revenue and expense account, income positive and costs negative, grouped by account group in Billy''s order (line account, then line group with the group''s total), and last line result (resultat: the sum). Exact to the øre.';

CREATE FUNCTION billy.balance_sheet(org text DEFAULT NULL, period text DEFAULT 'fy', as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (line text, nature text, group_name text, account_no integer, account_name text,
               amount numeric, previous numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    p record := billy._ledger_period(org_id, period, as_of);
    fy date := (billy._fiscal_year(org_id, p.end_date)).start_date;
    fy_prev date := (billy._fiscal_year(org_id, p.previous_end)).start_date;
BEGIN
    RETURN QUERY
    WITH cur AS (
        SELECT * FROM billy._ledger_balances(org_id, fy, p.end_date)
    ), prev AS (
        SELECT * FROM billy._ledger_balances(org_id, fy_prev, p.previous_end)
    ), bal AS (
        -- assets debit +, liabilities and equity credit +; the fiscal year's
        -- result so far is a line of equity
        SELECT b.account_id, b.account_no, b.account_name,
               CASE WHEN b.nature IN ('revenue', 'expense') THEN 'equity' ELSE coalesce(b.nature, 'asset') END AS nature,
               CASE WHEN b.nature IN ('revenue', 'expense') THEN NULL ELSE b.group_name END AS group_name,
               CASE WHEN b.nature IN ('revenue', 'expense') THEN NULL ELSE b.group_priority END AS group_priority,
               CASE WHEN b.nature IN ('revenue', 'expense') THEN 'Årets resultat' ELSE b.account_name END AS label,
               CASE WHEN coalesce(b.nature, 'asset') = 'asset' THEN b.closing ELSE -b.closing END AS amount,
               cur
        FROM (SELECT c.*, true AS cur FROM cur c UNION ALL SELECT q.*, false FROM prev q) b
    ), eq AS (
        -- the results go to the chart's (first) equity group
        SELECT g.name, g.priority FROM billy.account_groups g
        WHERE g.organization_id = org_id AND g.nature_id = 'equity' AND g.deleted_at IS NULL
        ORDER BY g.priority, g.id LIMIT 1
    ), acc AS (
        SELECT x.account_id, min(x.account_no) AS account_no, x.label AS account_name, x.nature,
               coalesce(x.group_name, CASE WHEN x.account_id IS NULL THEN (SELECT eq.name FROM eq) END,
                        CASE x.nature WHEN 'asset' THEN 'Aktiver' WHEN 'liability' THEN 'Gæld' ELSE 'Egenkapital' END) AS group_name,
               coalesce(x.group_priority, CASE WHEN x.account_id IS NULL THEN (SELECT eq.priority FROM eq) END,
                        CASE x.nature WHEN 'asset' THEN 1000 WHEN 'liability' THEN 2000 ELSE 3000 END) AS prio,
               coalesce(sum(x.amount) FILTER (WHERE x.cur), 0) AS amount,
               coalesce(sum(x.amount) FILTER (WHERE NOT x.cur), 0) AS previous
        FROM (SELECT CASE WHEN b.label IN ('Årets resultat', 'Overført resultat') THEN NULL ELSE b.account_id END AS account_id,
                     CASE WHEN b.label IN ('Årets resultat', 'Overført resultat') THEN NULL ELSE b.account_no END AS account_no,
                     b.label, b.nature, b.group_name, b.group_priority, b.amount, b.cur
              FROM bal b) x
        GROUP BY x.account_id, x.label, x.nature, x.group_name, x.group_priority
    ), grp AS (
        SELECT a.group_name, a.prio, min(a.nature) AS nature, sum(a.amount) AS amount, sum(a.previous) AS previous
        FROM acc a GROUP BY a.group_name, a.prio
    ), rows AS (
        SELECT 'account'::text AS line, a.nature, a.group_name, a.account_no, a.account_name, a.amount, a.previous,
               CASE a.nature WHEN 'asset' THEN 1 ELSE 2 END AS side, a.prio, 1 AS k
        FROM acc a WHERE a.amount <> 0 OR a.previous <> 0
        UNION ALL
        SELECT 'group', g.nature, g.group_name, NULL, g.group_name || ' i alt', g.amount, g.previous,
               CASE g.nature WHEN 'asset' THEN 1 ELSE 2 END, g.prio, 2
        FROM grp g WHERE g.amount <> 0 OR g.previous <> 0
        UNION ALL
        SELECT 'total', 'asset', NULL, NULL, 'Aktiver i alt',
               coalesce(sum(a.amount) FILTER (WHERE a.nature = 'asset'), 0),
               coalesce(sum(a.previous) FILTER (WHERE a.nature = 'asset'), 0), 1, 2147483647, 3
        FROM acc a
        UNION ALL
        SELECT 'total', 'equity', NULL, NULL, 'Egenkapital i alt',
               coalesce(sum(a.amount) FILTER (WHERE a.nature = 'equity'), 0),
               coalesce(sum(a.previous) FILTER (WHERE a.nature = 'equity'), 0), 2, 2147483646, 3
        FROM acc a
        UNION ALL
        SELECT 'total', 'liability', NULL, NULL, 'Passiver i alt',
               coalesce(sum(a.amount) FILTER (WHERE a.nature <> 'asset'), 0),
               coalesce(sum(a.previous) FILTER (WHERE a.nature <> 'asset'), 0), 2, 2147483647, 3
        FROM acc a
    )
    SELECT r.line, r.nature, r.group_name, r.account_no, r.account_name, r.amount, r.previous
    FROM rows r
    ORDER BY r.side, r.prio, r.group_name, r.k, r.account_no NULLS LAST, r.account_name = 'Årets resultat', r.account_name;
END
$$;
COMMENT ON FUNCTION billy.balance_sheet(text, text, date) IS
'The balance sheet (balance) of an organization at the end of a period (as billy.trial_balance: fy by default) beside the end of the same period a year before (previous): assets (debit positive), then liabilities and equity (credit positive), grouped by account group in Billy''s order (line account, then line group with the group''s total). Equity holds "Årets resultat" (revenue and expense accounts since the start of the fiscal year) and "Overført resultat" (earlier years). Lines total: Aktiver i alt, Egenkapital i alt and Passiver i alt (liabilities and equity), which equals Aktiver i alt. Exact to the øre.';

-- _ledger_find_account: an account by id, number or name (NULL: none)
CREATE FUNCTION billy._ledger_find_account(org_id text, account text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.id FROM billy.accounts a
    WHERE a.organization_id = org_id AND a.deleted_at IS NULL
      AND (a.id = btrim(account) OR a.account_no::text = btrim(account) OR lower(a.name) = lower(btrim(account)))
    ORDER BY a.id = btrim(account) DESC, a.account_no::text = btrim(account) DESC
    LIMIT 1
$$;
COMMENT ON FUNCTION billy._ledger_find_account(text, text) IS 'An account of an organization by id, number or name, or NULL. Internal.';

-- _ledger_account: the same, raising when there is none
CREATE FUNCTION billy._ledger_account(org_id text, account text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_id text := billy._ledger_find_account(org_id, account);
BEGIN
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'unknown account "%"', account
            USING ERRCODE = '22023', DETAIL = 'No account of the organization has that id, number or name.',
                  HINT = 'Give an account number (5810), id or name from the chart of accounts (list_accounts).';
    END IF;
    RETURN found_id;
END
$$;
COMMENT ON FUNCTION billy._ledger_account(text, text) IS 'An account of an organization by id, number or name; raises 22023 when there is none. Internal.';

CREATE FUNCTION billy.account_statement(account text, org text DEFAULT NULL, period text DEFAULT 'fy',
                                        as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (entry_date date, transaction_no integer, voucher_no text, text text, originator_reference text,
               debit numeric, credit numeric, balance numeric, transaction_id text, posting_id text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    acc text := billy._ledger_account(org_id, account);
    p record := billy._ledger_period(org_id, period, as_of);
    opening numeric;
BEGIN
    SELECT b.opening INTO opening FROM billy._ledger_balances(org_id, p.start_date, p.start_date) b
    WHERE b.account_id = acc;
    opening := coalesce(opening, 0);
    RETURN QUERY
    SELECT p.start_date, NULL::integer, NULL::text, 'Primo'::text, NULL::text, NULL::numeric, NULL::numeric,
           opening, NULL::text, NULL::text
    UNION ALL
    (SELECT x.entry_date, t.transaction_no, t.voucher_no, coalesce(x.text, t.originator_name), t.originator_reference,
           CASE WHEN x.signed_amount > 0 THEN x.signed_amount END,
           CASE WHEN x.signed_amount < 0 THEN -x.signed_amount END,
           opening + sum(x.signed_amount) OVER (ORDER BY x.entry_date, t.transaction_no, x.priority, x.id),
           x.transaction_id, x.id
    FROM billy.postings x
    JOIN billy.transactions t ON t.organization_id = x.organization_id AND t.id = x.transaction_id
    WHERE x.organization_id = org_id AND x.account_id = acc
      AND x.entry_date BETWEEN p.start_date AND p.end_date AND t.deleted_at IS NULL
    ORDER BY x.entry_date, t.transaction_no, x.priority, x.id);
END
$$;
COMMENT ON FUNCTION billy.account_statement(text, text, text, date) IS
'The account statement (kontokort) of one account (number, id or name) of an organization for a period (as billy.trial_balance: fy by default): a first row Primo with the opening balance, then every posting in date order with its transaction number, voucher, text, originator (invoice:ID, bill:ID, bankPayment:ID, daybookTransaction:ID), debit or credit and the running balance (debit +). The last balance is the account''s closing balance in billy.trial_balance.';

------------------------------------------------------------------------------
-- Cross-checks
------------------------------------------------------------------------------

-- which account holds each VAT field of the return: an organization's own
-- row, else the default ('*') by account name, number or id
CREATE TABLE billy.vat_accounts (
    organization_id text NOT NULL,
    field           text NOT NULL REFERENCES billy.vat_fields (field),
    account         text NOT NULL,
    PRIMARY KEY (organization_id, field)
);
COMMENT ON TABLE billy.vat_accounts IS
'The account that holds each VAT field of the return in the books, for billy.ledger_check: account is an account''s id, number or name. organization_id ''*'' is the default for every organization (the names of Billy''s standard Danish chart); an organization''s own row overrides it.';
INSERT INTO billy.vat_accounts (organization_id, field, account) VALUES
    ('*', 'salgsmoms', 'Salgsmoms'),
    ('*', 'moms_varekoeb_udland', 'Moms af varekøb i udlandet'),
    ('*', 'moms_ydelseskoeb_udland', 'Moms af ydelseskøb i udlandet'),
    ('*', 'koebsmoms', 'Købsmoms');
ALTER TABLE billy.vat_accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON billy.vat_accounts FOR SELECT USING (organization_id OPERATOR(pg_catalog.=) '*'
    OR (SELECT billy._sees_all()) OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]));
CREATE POLICY admins_manage ON billy.vat_accounts FOR ALL TO billy_admin USING (true) WITH CHECK (true);
GRANT SELECT ON billy.vat_accounts TO billy_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON billy.vat_accounts TO billy_admin;
SELECT pg_catalog.pg_extension_config_dump('billy.vat_accounts', '');

-- _ledger_vat_accounts: the VAT fields with their account and the sign of
-- the field in the books (output VAT is a credit, input VAT a debit)
CREATE FUNCTION billy._ledger_vat_accounts(org_id text)
RETURNS TABLE (field text, account_id text, sign integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT f.field, billy._ledger_find_account(org_id, f.account), CASE f.field WHEN 'koebsmoms' THEN 1 ELSE -1 END
    FROM (SELECT DISTINCT ON (v.field) v.field, v.account FROM billy.vat_accounts v
          WHERE v.organization_id IN (org_id, '*') ORDER BY v.field, v.organization_id = '*') f
$$;
COMMENT ON FUNCTION billy._ledger_vat_accounts(text) IS 'The account of each VAT field (billy.vat_accounts) and its sign in the books. Internal.';

CREATE FUNCTION billy.ledger_check(org text DEFAULT NULL, period text DEFAULT 'fy', as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (check_name text, severity text, subject text, expected numeric, booked numeric, difference numeric,
               message text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    p record := billy._ledger_period(org_id, period, as_of);
    r billy.vat_return_result;
BEGIN
    -- every transaction balances
    RETURN QUERY
    SELECT 'transaction_balance', 'error', 'transaction:' || t.id, 0::numeric, s.total, s.total,
           format('transaction %s (%s, %s) does not balance: its postings add up to %s', t.transaction_no,
                  t.originator_reference, t.entry_date, s.total)
    FROM billy.transactions t
    CROSS JOIN LATERAL (SELECT coalesce(sum(x.signed_amount), 0) AS total FROM billy.postings x
                        WHERE x.organization_id = t.organization_id AND x.transaction_id = t.id) s
    WHERE t.organization_id = org_id AND t.deleted_at IS NULL AND t.entry_date BETWEEN p.start_date AND p.end_date
      AND s.total <> 0;

    -- the VAT return against the VAT accounts, per document (and other
    -- originator) and per field.  The return sums each line's VAT, rounded
    -- to øre one by one (and converted one by one); the books hold the
    -- document's VAT, converted once: a difference of at most an øre per
    -- line in the document's currency and an øre per line for converting
    -- (lines x 0.01 x (rate + 1)) is rounding, reported as info, and so is a
    -- field whose difference is all such rounding.
    r := billy._vat_return(org_id, p.label, 'custom', p.start_date, p.end_date);
    RETURN QUERY
    WITH va AS (SELECT * FROM billy._ledger_vat_accounts(org_id)),
    doc AS (
        SELECT l.document_type || ':' || l.document_id AS ref, min(l.document_no) AS no, f.field, count(*) AS lines,
               greatest(max(l.exchange_rate), 1) AS rate,
               sum(CASE f.field WHEN 'salgsmoms' THEN l.salgsmoms WHEN 'moms_varekoeb_udland' THEN l.moms_varekoeb_udland
                                WHEN 'moms_ydelseskoeb_udland' THEN l.moms_ydelseskoeb_udland ELSE l.koebsmoms END) AS amount
        FROM billy.vat_lines l CROSS JOIN va f
        WHERE l.organization_id = org_id AND l.entry_date BETWEEN p.start_date AND p.end_date AND f.account_id IS NOT NULL
        GROUP BY 1, f.field
    ), bk AS (
        SELECT t.originator_reference AS ref, va.field, sum(x.signed_amount) * va.sign AS amount
        FROM billy.postings x
        JOIN va ON va.account_id = x.account_id
        JOIN billy.transactions t ON t.organization_id = x.organization_id AND t.id = x.transaction_id
        WHERE x.organization_id = org_id AND x.entry_date BETWEEN p.start_date AND p.end_date
          AND t.deleted_at IS NULL AND t.originator_type IS DISTINCT FROM 'salesTaxReturn'
        GROUP BY t.originator_reference, va.field, va.sign
    ), diff AS (
        SELECT coalesce(d.ref, b.ref) AS ref, d.no, coalesce(d.field, b.field) AS field, d.ref IS NULL AS not_on_return,
               coalesce(d.amount, 0) AS expected, coalesce(b.amount, 0) AS booked,
               coalesce(b.amount, 0) - coalesce(d.amount, 0) AS difference,
               d.ref IS NOT NULL AND abs(coalesce(b.amount, 0) - coalesce(d.amount, 0)) <= 0.01 * d.lines * (d.rate + 1) AS rounding
        FROM doc d FULL JOIN bk b ON b.ref = d.ref AND b.field = d.field
        WHERE coalesce(b.amount, 0) <> coalesce(d.amount, 0)
    ), ret AS (
        SELECT j.key AS field, j.value::numeric AS amount
        FROM jsonb_each_text(jsonb_build_object(
            'salgsmoms', r.salgsmoms_exact, 'moms_varekoeb_udland', r.moms_varekoeb_udland_exact,
            'moms_ydelseskoeb_udland', r.moms_ydelseskoeb_udland_exact, 'koebsmoms', r.koebsmoms_exact)) j
    ), fld AS (
        SELECT t.field, va.account_id, t.amount AS expected,
               coalesce((SELECT sum(x.signed_amount) * va.sign FROM billy.postings x
                         WHERE x.organization_id = org_id AND x.account_id = va.account_id
                           AND x.entry_date BETWEEN p.start_date AND p.end_date
                           AND EXISTS (SELECT 1 FROM billy.transactions t2
                                       WHERE t2.organization_id = org_id AND t2.id = x.transaction_id
                                         AND t2.deleted_at IS NULL AND t2.originator_type IS DISTINCT FROM 'salesTaxReturn')), 0) AS booked,
               coalesce((SELECT sum(d.difference) FROM diff d WHERE d.field = t.field AND d.rounding), 0) AS rounding
        FROM ret t JOIN va ON va.field = t.field
    )
    SELECT 'vat', CASE WHEN f.account_id IS NULL THEN 'warning' WHEN f.booked - f.expected = f.rounding THEN 'info' ELSE 'error' END,
           'field:' || f.field, f.expected, f.booked, f.booked - f.expected,
           CASE WHEN f.account_id IS NULL
                THEN format('no account holds VAT field %s: name it in billy.vat_accounts', f.field)
                ELSE format('VAT field %s: the return says %s, the account''s postings %s (difference %s%s)',
                            f.field, f.expected, f.booked, f.booked - f.expected,
                            CASE WHEN f.rounding = 0 THEN ''
                                 WHEN f.booked - f.expected = f.rounding THEN ', all of it rounding of documents'' lines'
                                 ELSE format(', of which %s rounding of documents'' lines', f.rounding) END) END
    FROM fld f
    WHERE f.account_id IS NULL OR f.booked <> f.expected
    UNION ALL
    SELECT 'vat', CASE WHEN d.not_on_return THEN 'warning' WHEN d.rounding THEN 'info' ELSE 'error' END, d.ref,
           d.expected, d.booked, d.difference,
           CASE WHEN d.not_on_return
                THEN format('%s booked %s on VAT field %s''s account, but is not on the VAT return', d.ref, d.booked, d.field)
                WHEN d.rounding
                THEN format('%s %s: VAT field %s is %s on the return (its lines'' VAT rounded one by one) and %s in its postings (the document''s VAT): rounding',
                            d.ref, coalesce(d.no, ''), d.field, d.expected, d.booked)
                ELSE format('%s %s: VAT field %s is %s on the return but %s in its postings', d.ref, coalesce(d.no, ''),
                            d.field, d.expected, d.booked) END
    FROM diff d;

    -- receivables and payables against the open documents (as the mirror
    -- holds them now): each document's share is sign x round(balance x rate)
    RETURN QUERY
    WITH ctl AS (
        SELECT a.system_role, coalesce(sum(d.debit - d.credit), 0) AS booked
        FROM billy.accounts a
        LEFT JOIN billy.ledger_sums d ON d.organization_id = a.organization_id AND d.grain = 'month' AND d.account_id = a.id
        WHERE a.organization_id = org_id AND a.system_role IN ('accountsReceivable', 'accountsPayable') AND a.deleted_at IS NULL
        GROUP BY a.system_role
    ), docs AS (
        SELECT 'accountsReceivable' AS system_role, count(*) FILTER (WHERE i.balance <> 0) AS n,
               coalesce(sum(CASE WHEN i.type = 'creditNote' THEN -1 ELSE 1 END * round(i.balance * coalesce(i.exchange_rate, 1), 2)), 0) AS expected
        FROM billy.invoices i WHERE i.organization_id = org_id AND i.state = 'approved' AND i.deleted_at IS NULL
        UNION ALL
        SELECT 'accountsPayable', count(*) FILTER (WHERE b.balance <> 0),
               coalesce(sum(CASE WHEN b.type = 'creditNote' THEN 1 ELSE -1 END * round(b.balance * coalesce(b.exchange_rate, 1), 2)), 0)
        FROM billy.bills b WHERE b.organization_id = org_id AND b.state = 'approved' AND b.deleted_at IS NULL
    )
    SELECT CASE c.system_role WHEN 'accountsReceivable' THEN 'receivables' ELSE 'payables' END, 'error',
           'account:' || c.system_role, d.expected, c.booked, c.booked - d.expected,
           format('the %s account holds %s, but the %s open %s add up to %s (difference %s)',
                  CASE c.system_role WHEN 'accountsReceivable' THEN 'receivables' ELSE 'payables' END,
                  c.booked, d.n, CASE c.system_role WHEN 'accountsReceivable' THEN 'invoices and credit notes' ELSE 'bills and credit notes' END,
                  d.expected, c.booked - d.expected)
    FROM ctl c JOIN docs d ON d.system_role = c.system_role
    WHERE c.booked <> d.expected;

    -- each bank account against its statement: the books' balance less the
    -- postings not matched to a line must equal the statement less the lines
    -- not matched yet (accounts in the base currency; others by their lines)
    RETURN QUERY
    WITH acc AS (
        SELECT a.id, a.account_no, a.name, coalesce(a.currency_id, o.base_currency, 'DKK') AS currency,
               coalesce(o.base_currency, 'DKK') AS base
        FROM billy.accounts a JOIN billy.organizations o ON o.id = a.organization_id
        WHERE a.organization_id = org_id AND a.is_bank_account AND a.deleted_at IS NULL
    ), x AS (
        SELECT acc.*,
               (SELECT coalesce(sum(d.debit - d.credit), 0) FROM billy.ledger_sums d
                WHERE d.organization_id = org_id AND d.grain = 'month' AND d.account_id = acc.id) AS book,
               (SELECT coalesce(sum(q.signed_amount), 0) FROM billy.postings q
                JOIN billy.transactions t ON t.organization_id = q.organization_id AND t.id = q.transaction_id
                WHERE q.organization_id = org_id AND q.account_id = acc.id AND t.deleted_at IS NULL
                  AND q.is_bank_matched IS NOT TRUE) AS unmatched_postings,
               (SELECT coalesce(sum(CASE l.side WHEN 'credit' THEN -l.amount ELSE l.amount END), 0) FROM billy.bank_lines l
                WHERE l.organization_id = org_id AND l.account_id = acc.id AND l.deleted_at IS NULL) AS statement,
               (SELECT coalesce(sum(CASE l.side WHEN 'credit' THEN -l.amount ELSE l.amount END), 0) FROM billy.bank_lines l
                WHERE l.organization_id = org_id AND l.account_id = acc.id AND l.deleted_at IS NULL
                  AND l.match_id IS NULL) AS unmatched_lines,
               (SELECT count(*) FROM billy.bank_lines l
                WHERE l.organization_id = org_id AND l.account_id = acc.id AND l.deleted_at IS NULL
                  AND l.match_id IS NULL) AS n_lines,
               EXISTS (SELECT 1 FROM billy.bank_lines l
                       WHERE l.organization_id = org_id AND l.account_id = acc.id AND l.deleted_at IS NULL) AS has_lines
        FROM acc
    )
    SELECT 'bank', CASE WHEN x.has_lines AND x.currency = x.base
                             AND (x.book - x.unmatched_postings) <> (x.statement - x.unmatched_lines)
                        THEN 'error' ELSE 'info' END,
           'account:' || x.id,
           CASE WHEN x.currency = x.base THEN x.statement - x.unmatched_lines END,
           CASE WHEN x.currency = x.base THEN x.book - x.unmatched_postings END,
           CASE WHEN x.currency = x.base THEN (x.book - x.unmatched_postings) - (x.statement - x.unmatched_lines) END,
           format('%s %s: books %s %s, statement %s %s; %s statement lines (%s) not matched yet, postings of %s not on the statement%s',
                  x.account_no, x.name, x.book, x.base, x.statement, x.currency, x.n_lines, x.unmatched_lines,
                  x.unmatched_postings,
                  CASE WHEN NOT x.has_lines THEN ' (no statement lines in the mirror: nothing to compare)'
                       WHEN x.currency <> x.base THEN ' (foreign currency: compared by matching only)'
                       WHEN (x.book - x.unmatched_postings) <> (x.statement - x.unmatched_lines)
                       THEN format('; %s is not explained by them', (x.book - x.unmatched_postings) - (x.statement - x.unmatched_lines))
                       ELSE '' END)
    FROM x
    WHERE x.n_lines > 0 OR x.unmatched_postings <> 0 OR x.book <> 0;
END
$$;
COMMENT ON FUNCTION billy.ledger_check(text, text, date) IS
'Cross-checks of an organization''s books, each row saying where they disagree (check_name, severity, subject, expected, booked, difference, message): transaction_balance, a transaction of the period whose postings do not add up to 0; vat, the VAT return of the period (billy.vat_return) against the postings on the VAT accounts (billy.vat_accounts) per field, per document (invoice:ID, bill:ID, daybookTransaction:ID: a journal entry''s lines with a tax rate are on the return) and per other originator (a posting on a VAT account the return does not see, such as a journal entry line booked straight to a VAT account without a tax rate): the return sums each line''s VAT rounded to øre, the books hold the document''s, so a difference of at most an øre per line in the document''s currency plus an øre per line for converting is info (rounding), and a field whose whole difference is such rounding too; receivables and payables, the control accounts (systemRole accountsReceivable, accountsPayable) against the open approved documents as the mirror holds them now (sign x round(balance x exchange rate)); bank, each bank account (info: its balance, its statement lines not matched yet, its postings not on the statement; error when those do not explain the difference; accounts in the base currency with statement lines in the mirror). No rows of severity error or warning: the books agree.';

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

GRANT EXECUTE ON FUNCTION billy.fiscal_year(text, date), billy.trial_balance(text, text, date),
    billy.profit_and_loss(text, text, date), billy.balance_sheet(text, text, date),
    billy.account_statement(text, text, text, date), billy.ledger_check(text, text, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._fiscal_year(text, date), billy._ledger_period(text, text, date),
    billy._ledger_balances(text, date, date), billy._ledger_account(text, text), billy._ledger_find_account(text, text),
    billy._ledger_vat_accounts(text), billy._ledger_movements(text, date, date, date, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.ledger_rebuild(text) TO billy_admin;
