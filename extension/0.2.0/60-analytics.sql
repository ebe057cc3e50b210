------------------------------------------------------------------------------
-- Analytics: rollups kept current by the sync, and what they answer
--
-- What counts: approved invoices, credit notes and bills that are not marked
-- deleted (drafts and voided documents never count).  Credit notes carry
-- positive amounts in the mirror and subtract here.  Amounts are converted
-- to the organization's base currency with each document's exchange rate,
-- rounded to øre per document: net_base = round(amount * exchange_rate, 2),
-- tax_base = round(tax * exchange_rate, 2), gross = net + tax.  Payments
-- are the bank-payment balance modifiers of those documents (not voided),
-- dated by the payment, converted at the document's rate.
--
-- The rollups below are maintained by statement-level triggers on
-- billy.invoices, billy.bills and billy.balance_modifiers with transition
-- tables: each statement that writes the mirror adds what its new row
-- versions contribute and subtracts what its old ones did, in one set-based
-- step per statement.  So they follow every writer of the mirror (the sync,
-- the read path's refreshes, writes back to Billy, an administrator's fix),
-- not only the sync's apply functions, and a resync that changes nothing
-- touches nothing.  billy.analytics_rebuild() recomputes them from the
-- mirror.
------------------------------------------------------------------------------

-- historical receivables look up the payments made after a date
CREATE INDEX balance_modifiers_entry_date ON billy.balance_modifiers (organization_id, entry_date);

CREATE TABLE billy.analytics_daily (
    organization_id text NOT NULL,
    day             date NOT NULL,
    currency_id     text NOT NULL,
    kind            text NOT NULL CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'creditNote', 'bill', 'billCreditNote'])),
    documents       integer NOT NULL DEFAULT 0,
    net             numeric NOT NULL DEFAULT 0,
    tax             numeric NOT NULL DEFAULT 0,
    net_base        numeric NOT NULL DEFAULT 0,
    tax_base        numeric NOT NULL DEFAULT 0,
    payments        integer NOT NULL DEFAULT 0,
    paid            numeric NOT NULL DEFAULT 0,
    paid_base       numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, day, currency_id, kind)
);
COMMENT ON TABLE billy.analytics_daily IS
'Rollup per organization, day, currency and kind (invoice, creditNote, bill, billCreditNote), kept current by the sync: documents dated that day (approved, not deleted), their net and tax in the document currency and in the base currency (net_base, tax_base: each document converted at its exchange rate and rounded to øre; credit notes are positive here, subtract them), and the payments made that day on documents of that kind (payments, paid, paid_base; a refund of a credit note is a payment on the credit note). Rows that add up to nothing are removed.';

CREATE TABLE billy.analytics_open (
    organization_id text NOT NULL,
    due_date        date NOT NULL,
    currency_id     text NOT NULL,
    kind            text NOT NULL CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'creditNote', 'bill', 'billCreditNote'])),
    documents       integer NOT NULL DEFAULT 0,
    balance         numeric NOT NULL DEFAULT 0,
    balance_base    numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, due_date, currency_id, kind)
);
COMMENT ON TABLE billy.analytics_open IS
'Rollup of open balances per organization, due date (the entry date when there is none), currency and kind, kept current by the sync: documents with a balance, the balance in the document currency and in the base currency (rounded to øre per document). Receivables are invoices minus credit notes, payables bills minus bill credit notes.';

CREATE TABLE billy.analytics_open_documents (
    organization_id text NOT NULL,
    subject         text NOT NULL CHECK (subject OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'bill'])),
    id              text NOT NULL,
    kind            text NOT NULL,
    contact_id      text,
    entry_date      date NOT NULL,
    due_date        date NOT NULL,
    currency_id     text NOT NULL,
    rate            numeric NOT NULL,
    balance         numeric NOT NULL,
    balance_base    numeric NOT NULL,
    PRIMARY KEY (organization_id, subject, id)
);
CREATE INDEX analytics_open_documents_contact ON billy.analytics_open_documents (organization_id, contact_id);
COMMENT ON TABLE billy.analytics_open_documents IS
'Every approved invoice, credit note, bill and bill credit note with a balance, kept current by the sync: a narrow copy of what receivables and payables aging read (subject: invoice or bill; balance_base: the balance in the base currency, rounded to øre).';

CREATE TABLE billy.analytics_customer_months (
    organization_id text NOT NULL,
    month           date NOT NULL,
    contact_id      text NOT NULL,
    invoices        integer NOT NULL DEFAULT 0,
    credit_notes    integer NOT NULL DEFAULT 0,
    net_base        numeric NOT NULL DEFAULT 0,
    tax_base        numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, month, contact_id)
);
COMMENT ON TABLE billy.analytics_customer_months IS
'Rollup of sales per organization, month (its first day) and customer, kept current by the sync: invoices and credit notes dated in the month, and their net and tax in the base currency, credit notes subtracted.';

CREATE TABLE billy.analytics_customers (
    organization_id text NOT NULL,
    contact_id      text NOT NULL,
    invoices        integer NOT NULL DEFAULT 0,
    credit_notes    integer NOT NULL DEFAULT 0,
    net_base        numeric NOT NULL DEFAULT 0,
    tax_base        numeric NOT NULL DEFAULT 0,
    first_invoice   date,
    last_invoice    date,
    PRIMARY KEY (organization_id, contact_id)
);
COMMENT ON TABLE billy.analytics_customers IS
'Rollup of all sales per organization and customer, kept current by the sync: invoices and credit notes, net and tax in the base currency (credit notes subtracted), and the dates of the first and the last invoice.';

CREATE TABLE billy.analytics_contacts (
    organization_id text NOT NULL,
    contact_id      text NOT NULL,
    ordinal         integer NOT NULL,
    PRIMARY KEY (organization_id, contact_id),
    UNIQUE (organization_id, ordinal)
);
COMMENT ON TABLE billy.analytics_contacts IS
'A small number per organization for every customer ever invoiced: its bit in the bitmaps of billy.analytics_customer_days.';

CREATE TABLE billy.analytics_customer_days (
    organization_id text NOT NULL,
    day             date NOT NULL,
    customers       bytea NOT NULL,
    PRIMARY KEY (organization_id, day)
);
COMMENT ON TABLE billy.analytics_customer_days IS
'Which customers were invoiced on each day (approved invoices, not credit notes), as a bitmap over billy.analytics_contacts.ordinal, kept current by the sync: the number of distinct customers of any range is the size of the union of its days.';

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['analytics_daily', 'analytics_open', 'analytics_open_documents', 'analytics_customer_months', 'analytics_customers',
                             'analytics_contacts', 'analytics_customer_days']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
        EXECUTE pg_catalog.format('REVOKE ALL ON billy.%I FROM PUBLIC', t);
        EXECUTE pg_catalog.format('GRANT SELECT ON billy.%I TO billy_reader', t);
    END LOOP;
END
$rls$;

-- The rollups have no foreign key to billy.organizations: a check per rollup
-- row written would cost the sync more than the rest of their upkeep.  This
-- trigger removes an organization's rollups with it instead.
CREATE FUNCTION billy._analytics_organizations_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM billy.analytics_daily t USING analytics_old o WHERE t.organization_id = o.id;
    DELETE FROM billy.analytics_open t USING analytics_old o WHERE t.organization_id = o.id;
    DELETE FROM billy.analytics_open_documents t USING analytics_old o WHERE t.organization_id = o.id;
    DELETE FROM billy.analytics_customer_months t USING analytics_old o WHERE t.organization_id = o.id;
    DELETE FROM billy.analytics_customers t USING analytics_old o WHERE t.organization_id = o.id;
    DELETE FROM billy.analytics_customer_days t USING analytics_old o WHERE t.organization_id = o.id;
    DELETE FROM billy.analytics_contacts t USING analytics_old o WHERE t.organization_id = o.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._analytics_organizations_deleted() IS
'Statement trigger on billy.organizations: deleting an organization deletes its analytics rollups. Internal.';
CREATE TRIGGER analytics_delete AFTER DELETE ON billy.organizations
    REFERENCING OLD TABLE AS analytics_old
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_organizations_deleted();

------------------------------------------------------------------------------
-- C: bitmaps of customers, aging buckets, forecasting
------------------------------------------------------------------------------

CREATE FUNCTION billy._bitmap_from(members integer[]) RETURNS bytea
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'billy_bitmap_from';
COMMENT ON FUNCTION billy._bitmap_from(integer[]) IS 'The bitmap of a set of small non-negative integers. Internal.';

CREATE FUNCTION billy._bitmap_apply(bitmap bytea, set_bits bytea, clear_bits bytea) RETURNS bytea
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'billy_bitmap_apply';
COMMENT ON FUNCTION billy._bitmap_apply(bytea, bytea, bytea) IS '(bitmap OR set_bits) AND NOT clear_bits; NULL is the empty set. Internal.';

CREATE FUNCTION billy._bitmap_count(bitmap bytea) RETURNS integer
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'billy_bitmap_count';
COMMENT ON FUNCTION billy._bitmap_count(bytea) IS 'How many members a bitmap has (NULL: 0). Internal.';

CREATE FUNCTION billy._bitmap_and(a bytea, b bytea) RETURNS bytea
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'billy_bitmap_and';
COMMENT ON FUNCTION billy._bitmap_and(bytea, bytea) IS 'The members of both bitmaps. Internal.';

CREATE FUNCTION billy._bitmap_andnot(a bytea, b bytea) RETURNS bytea
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'billy_bitmap_andnot';
COMMENT ON FUNCTION billy._bitmap_andnot(bytea, bytea) IS 'The members of a that are not in b. Internal.';

CREATE FUNCTION billy._bitmap_union_step(state bytea, bitmap bytea) RETURNS bytea
LANGUAGE C IMMUTABLE
AS 'MODULE_PATHNAME', 'billy_bitmap_union_step';
COMMENT ON FUNCTION billy._bitmap_union_step(bytea, bytea) IS 'Transition function of billy._bitmap_union. Internal.';

CREATE AGGREGATE billy._bitmap_union(bytea) (
    SFUNC = billy._bitmap_union_step,
    STYPE = bytea
);
COMMENT ON AGGREGATE billy._bitmap_union(bytea) IS 'The union of bitmaps (NULL when there is none). Internal.';

CREATE FUNCTION billy._aging_step(state internal, due_date date, amount numeric, as_of date) RETURNS internal
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_aging_step';
COMMENT ON FUNCTION billy._aging_step(internal, date, numeric, date) IS 'Transition function of billy._aging. Internal.';

CREATE FUNCTION billy._aging_final(state internal) RETURNS numeric[]
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_aging_final';
COMMENT ON FUNCTION billy._aging_final(internal) IS 'Final function of billy._aging. Internal.';

CREATE AGGREGATE billy._aging(due_date date, amount numeric, as_of date) (
    SFUNC = billy._aging_step,
    STYPE = internal,
    SSPACE = 96,
    FINALFUNC = billy._aging_final,
    FINALFUNC_EXTRA = false
);
COMMENT ON AGGREGATE billy._aging(date, numeric, date) IS
'Ages amounts at as_of by their due dates, in integer øre: returns {not due, 1-30, 31-60, 61-90, over 90 days past due, then the count of each}. Internal.';

CREATE FUNCTION billy._net_credit_notes(contacts text[], ids text[], due_dates date[], amounts numeric[])
RETURNS TABLE (contact_id text, id text, due_date date, amount numeric)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- a customer's open credit notes (negative amounts) pay off that
    -- customer's open invoices, the earliest due first; what they cannot
    -- absorb is owed to the customer, not a negative receivable
    WITH d AS (
        SELECT * FROM unnest(contacts, ids, due_dates, amounts) AS d(contact_id, id, due_date, amount)
    ), credit AS (
        SELECT d.contact_id, -sum(d.amount) AS credit FROM d WHERE d.amount < 0 GROUP BY d.contact_id
    ), inv AS (
        SELECT d.contact_id, d.id, d.due_date, d.amount, COALESCE(c.credit, 0) AS credit,
               sum(d.amount) OVER (PARTITION BY d.contact_id ORDER BY d.due_date, d.id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
        FROM d
        LEFT JOIN credit c ON c.contact_id IS NOT DISTINCT FROM d.contact_id
        WHERE d.amount > 0
    )
    SELECT i.contact_id, i.id, i.due_date, least(i.amount, i.running - i.credit)
    FROM inv i
    WHERE i.running - i.credit > 0
$$;
COMMENT ON FUNCTION billy._net_credit_notes(text[], text[], date[], numeric[]) IS
'Nets open credit notes per contact: given open invoices (positive amounts) and credit notes (negative), by contact, id and due date, returns each invoice with what is still owed on it after the customer''s credit notes paid off that customer''s invoices, earliest due first (never below zero; a credit note never lowers another customer''s receivable and has no due date of its own). Bills and bill credit notes net per supplier the same way. Internal.';

CREATE FUNCTION billy._forecast(history numeric[], season integer, horizon integer,
    OUT step integer, OUT forecast numeric, OUT lower_80 numeric, OUT upper_80 numeric,
    OUT lower_95 numeric, OUT upper_95 numeric, OUT method text, OUT alpha double precision,
    OUT beta double precision, OUT gamma double precision, OUT sigma numeric, OUT mape numeric,
    OUT backtest_periods integer)
RETURNS SETOF record
LANGUAGE C IMMUTABLE
AS 'MODULE_PATHNAME', 'billy_forecast';
COMMENT ON FUNCTION billy._forecast(numeric[], integer, integer) IS
'Forecasts a series horizon steps ahead: additive Holt-Winters fitted by least squares when the history holds two seasons, else Holt''s linear trend (3 or more values), else the mean; with 80% and 95% intervals, the fitted parameters, the residual standard deviation and the MAPE (percent) of a backtest on the last periods. Internal.';

------------------------------------------------------------------------------
-- Keeping the rollups current
------------------------------------------------------------------------------

-- The maintenance functions below run with enable_seqscan = off: they only
-- ever look mirror rows up by key, and during a first sync the mirror grows
-- from empty faster than its statistics follow, so a planner trusting them
-- could scan a whole table once per page (or per row).

-- what one document contributes, signed: +1 for a row version that counts,
-- -1 for one that no longer does
CREATE TYPE billy._analytics_document AS (
    organization_id text,
    id              text,
    kind            text,
    sign            integer,
    entry_date      date,
    due_date        date,
    contact_id      text,
    currency_id     text,
    rate            numeric,
    net             numeric,
    tax             numeric,
    balance         numeric
);
COMMENT ON TYPE billy._analytics_document IS 'What a document contributes to the rollups. Internal.';

CREATE TYPE billy._analytics_payment AS (
    organization_id text,
    day             date,
    currency_id     text,
    kind            text,
    sign            integer,
    amount          numeric,
    rate            numeric
);
COMMENT ON TYPE billy._analytics_payment IS 'What a payment contributes to the rollups (amount: positive when it lowers the balance). Internal.';

CREATE FUNCTION billy._document_fact(org text, doc_id text, is_bill boolean, doc_type text, doc_state text,
                                     deleted timestamptz, entry date, due date, contact text,
                                     currency text, rate numeric, amount numeric, tax numeric,
                                     balance numeric, sign integer)
RETURNS billy._analytics_document
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'billy_document_fact';
COMMENT ON FUNCTION billy._document_fact(text, text, boolean, text, text, timestamptz, date, date, text, text, numeric, numeric, numeric, numeric, integer) IS
'What an invoice or bill row contributes to the rollups (its kind, dates, contact, currency, rate, net, tax and balance, signed), or NULL when it does not count: not approved, deleted, or without an entry date. Internal.';

-- _analytics_lock serializes the maintenance of one organization's customer
-- rollups, which depends on other rows than a statement's own (was the
-- customer invoiced that day by another invoice? which is now the first?)
CREATE FUNCTION billy._analytics_lock(orgs text[]) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT pg_advisory_xact_lock(hashtext('billy analytics'), hashtext(o))
    FROM (SELECT DISTINCT o FROM unnest(orgs) o ORDER BY 1) x;
END;
COMMENT ON FUNCTION billy._analytics_lock(text[]) IS
'Takes the analytics lock of each organization (class hashtext(''billy analytics'')), in a fixed order. Internal.';

-- _analytics_payments adds signed payment contributions to the daily rollup
CREATE FUNCTION billy._analytics_payments(facts billy._analytics_payment[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
BEGIN
    IF cardinality(facts) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO billy.analytics_daily AS t (organization_id, day, currency_id, kind, payments, paid, paid_base)
    SELECT f.organization_id, f.day, f.currency_id, f.kind, sum(f.sign), sum(f.sign * f.amount),
           sum(f.sign * round(f.amount * f.rate, 2))
    FROM unnest(facts) f
    GROUP BY 1, 2, 3, 4
    HAVING sum(f.sign) <> 0 OR sum(f.sign * f.amount) <> 0 OR sum(f.sign * round(f.amount * f.rate, 2)) <> 0
    ON CONFLICT (organization_id, day, currency_id, kind) DO UPDATE SET
        payments = t.payments + EXCLUDED.payments,
        paid = t.paid + EXCLUDED.paid,
        paid_base = t.paid_base + EXCLUDED.paid_base;
    -- only subtractions can leave a row at zero
    IF NOT EXISTS (SELECT 1 FROM unnest(facts) f WHERE f.sign < 0) THEN
        RETURN;
    END IF;
    DELETE FROM billy.analytics_daily t
    USING (SELECT DISTINCT f.organization_id, f.day, f.currency_id, f.kind FROM unnest(facts) f) k
    WHERE t.organization_id = k.organization_id AND t.day = k.day AND t.currency_id = k.currency_id
      AND t.kind = k.kind AND t.documents = 0 AND t.net = 0 AND t.tax = 0 AND t.net_base = 0
      AND t.tax_base = 0 AND t.payments = 0 AND t.paid = 0 AND t.paid_base = 0;
END
$$;
COMMENT ON FUNCTION billy._analytics_payments(billy._analytics_payment[]) IS
'Adds signed payment contributions to billy.analytics_daily and removes rows left at zero. Internal.';

-- _analytics_customers maintains the customer rollups from invoice facts.
-- Part of them depends on other rows than the statement's (is another invoice
-- of the customer that day? which is now the first invoice?), so it runs
-- under the organization's analytics lock: each statement after the lock
-- sees what every earlier holder committed.
CREATE FUNCTION billy._analytics_customers(docs billy._analytics_document[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    sales billy._analytics_document[];
    t_orgs text[];
    t_days date[];
    t_contacts text[];
    t_signs bigint[];
    g_orgs text[];
    g_days date[];
    g_set bytea[];
    g_clear bytea[];
BEGIN
    sales := ARRAY(SELECT d FROM unnest(docs) d WHERE d.kind IN ('invoice', 'creditNote') AND d.contact_id IS NOT NULL);
    IF cardinality(sales) = 0 THEN
        RETURN;
    END IF;
    PERFORM billy._analytics_lock(ARRAY(SELECT DISTINCT d.organization_id FROM unnest(sales) d));

    INSERT INTO billy.analytics_customer_months AS t (organization_id, month, contact_id, invoices, credit_notes, net_base, tax_base)
    SELECT d.organization_id, date_trunc('month', d.entry_date)::date, d.contact_id,
           COALESCE(sum(d.sign) FILTER (WHERE d.kind = 'invoice'), 0),
           COALESCE(sum(d.sign) FILTER (WHERE d.kind = 'creditNote'), 0),
           sum(d.sign * CASE d.kind WHEN 'creditNote' THEN -1 ELSE 1 END * round(d.net * d.rate, 2)),
           sum(d.sign * CASE d.kind WHEN 'creditNote' THEN -1 ELSE 1 END * round(d.tax * d.rate, 2))
    FROM unnest(sales) d
    GROUP BY 1, 2, 3
    HAVING sum(d.sign) FILTER (WHERE d.kind = 'invoice') <> 0
        OR sum(d.sign) FILTER (WHERE d.kind = 'creditNote') <> 0
        OR sum(d.sign * round(d.net * d.rate, 2)) <> 0 OR sum(d.sign * round(d.tax * d.rate, 2)) <> 0
    ON CONFLICT (organization_id, month, contact_id) DO UPDATE SET
        invoices = t.invoices + EXCLUDED.invoices,
        credit_notes = t.credit_notes + EXCLUDED.credit_notes,
        net_base = t.net_base + EXCLUDED.net_base,
        tax_base = t.tax_base + EXCLUDED.tax_base;
    DELETE FROM billy.analytics_customer_months t
    USING (SELECT DISTINCT d.organization_id, date_trunc('month', d.entry_date)::date AS month, d.contact_id
           FROM unnest(sales) d WHERE d.sign < 0) k
    WHERE t.organization_id = k.organization_id AND t.month = k.month AND t.contact_id = k.contact_id
      AND t.invoices = 0 AND t.credit_notes = 0 AND t.net_base = 0 AND t.tax_base = 0;

    -- all sales per customer; an added invoice can only widen the first and
    -- last dates, a removed one that was first or last makes us look again
    INSERT INTO billy.analytics_customers AS t (organization_id, contact_id, invoices, credit_notes, net_base, tax_base,
                                                first_invoice, last_invoice)
    SELECT d.organization_id, d.contact_id,
           COALESCE(sum(d.sign) FILTER (WHERE d.kind = 'invoice'), 0),
           COALESCE(sum(d.sign) FILTER (WHERE d.kind = 'creditNote'), 0),
           sum(d.sign * CASE d.kind WHEN 'creditNote' THEN -1 ELSE 1 END * round(d.net * d.rate, 2)),
           sum(d.sign * CASE d.kind WHEN 'creditNote' THEN -1 ELSE 1 END * round(d.tax * d.rate, 2)),
           min(d.entry_date) FILTER (WHERE d.kind = 'invoice' AND d.sign > 0),
           max(d.entry_date) FILTER (WHERE d.kind = 'invoice' AND d.sign > 0)
    FROM unnest(sales) d
    GROUP BY 1, 2
    HAVING sum(d.sign) FILTER (WHERE d.kind = 'invoice') <> 0
        OR sum(d.sign) FILTER (WHERE d.kind = 'creditNote') <> 0
        OR sum(d.sign * round(d.net * d.rate, 2)) <> 0 OR sum(d.sign * round(d.tax * d.rate, 2)) <> 0
        OR array_agg(d.entry_date ORDER BY d.entry_date) FILTER (WHERE d.kind = 'invoice' AND d.sign > 0)
           IS DISTINCT FROM array_agg(d.entry_date ORDER BY d.entry_date) FILTER (WHERE d.kind = 'invoice' AND d.sign < 0)
    ON CONFLICT (organization_id, contact_id) DO UPDATE SET
        invoices = t.invoices + EXCLUDED.invoices,
        credit_notes = t.credit_notes + EXCLUDED.credit_notes,
        net_base = t.net_base + EXCLUDED.net_base,
        tax_base = t.tax_base + EXCLUDED.tax_base,
        first_invoice = least(t.first_invoice, EXCLUDED.first_invoice),
        last_invoice = greatest(t.last_invoice, EXCLUDED.last_invoice);
    IF EXISTS (SELECT 1 FROM unnest(sales) d WHERE d.sign < 0) THEN
        UPDATE billy.analytics_customers t
        SET first_invoice = (SELECT min(i.entry_date) FROM billy.invoices i
                             WHERE i.organization_id = t.organization_id AND i.contact_id = t.contact_id
                               AND i.state = 'approved' AND i.deleted_at IS NULL AND i.type IS DISTINCT FROM 'creditNote'),
            last_invoice = (SELECT max(i.entry_date) FROM billy.invoices i
                            WHERE i.organization_id = t.organization_id AND i.contact_id = t.contact_id
                              AND i.state = 'approved' AND i.deleted_at IS NULL AND i.type IS DISTINCT FROM 'creditNote')
        FROM (SELECT d.organization_id, d.contact_id, d.entry_date FROM unnest(sales) d
              WHERE d.sign < 0 AND d.kind = 'invoice'
              EXCEPT
              SELECT d.organization_id, d.contact_id, d.entry_date FROM unnest(sales) d
              WHERE d.sign > 0 AND d.kind = 'invoice') r
        WHERE t.organization_id = r.organization_id AND t.contact_id = r.contact_id
          AND (r.entry_date = t.first_invoice OR r.entry_date = t.last_invoice);
        DELETE FROM billy.analytics_customers t
        USING (SELECT DISTINCT d.organization_id, d.contact_id FROM unnest(sales) d WHERE d.sign < 0) k
        WHERE t.organization_id = k.organization_id AND t.contact_id = k.contact_id
          AND t.invoices = 0 AND t.credit_notes = 0 AND t.net_base = 0 AND t.tax_base = 0;
    END IF;

    -- customer bitmaps: the (organization, day, customer) whose number of
    -- counted invoices changed; more means invoiced, fewer means look again
    SELECT array_agg(x.organization_id), array_agg(x.entry_date), array_agg(x.contact_id), array_agg(x.s)
    INTO t_orgs, t_days, t_contacts, t_signs
    FROM (SELECT d.organization_id, d.entry_date, d.contact_id, sum(d.sign) AS s
          FROM unnest(sales) d
          WHERE d.kind = 'invoice'
          GROUP BY 1, 2, 3 HAVING sum(d.sign) <> 0) x;
    IF t_orgs IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO billy.analytics_contacts (organization_id, contact_id, ordinal)
    SELECT n.org, n.contact, COALESCE(top.ordinal, -1) + row_number() OVER (PARTITION BY n.org ORDER BY n.contact)
    FROM (SELECT DISTINCT t.org, t.contact
          FROM unnest(t_orgs, t_contacts, t_signs) AS t(org, contact, s)
          WHERE t.s > 0) n
    LEFT JOIN LATERAL (SELECT max(c.ordinal) AS ordinal FROM billy.analytics_contacts c
                       WHERE c.organization_id = n.org) top ON true
    WHERE NOT EXISTS (SELECT 1 FROM billy.analytics_contacts c
                      WHERE c.organization_id = n.org AND c.contact_id = n.contact);
    SELECT array_agg(g.org), array_agg(g.day), array_agg(g.set_bits), array_agg(g.clear_bits)
    INTO g_orgs, g_days, g_set, g_clear
    FROM (SELECT p.org, p.day,
                 billy._bitmap_from(array_agg(p.ordinal) FILTER (WHERE p.present)) AS set_bits,
                 billy._bitmap_from(array_agg(p.ordinal) FILTER (WHERE NOT p.present)) AS clear_bits
          FROM (SELECT t.org, t.day, c.ordinal,
                       t.s > 0 OR EXISTS (
                           SELECT 1 FROM billy.invoices i
                           WHERE i.organization_id = t.org AND i.contact_id = t.contact
                             AND i.entry_date = t.day AND i.state = 'approved' AND i.deleted_at IS NULL
                             AND i.type IS DISTINCT FROM 'creditNote') AS present
                FROM unnest(t_orgs, t_days, t_contacts, t_signs) AS t(org, day, contact, s)
                JOIN billy.analytics_contacts c ON c.organization_id = t.org AND c.contact_id = t.contact) p
          GROUP BY 1, 2) g;
    IF g_orgs IS NULL THEN
        RETURN;
    END IF;
    UPDATE billy.analytics_customer_days t
    SET customers = billy._bitmap_apply(t.customers, g.set_bits, g.clear_bits)
    FROM unnest(g_orgs, g_days, g_set, g_clear) AS g(org, day, set_bits, clear_bits)
    WHERE t.organization_id = g.org AND t.day = g.day;
    INSERT INTO billy.analytics_customer_days (organization_id, day, customers)
    SELECT g.org, g.day, billy._bitmap_apply(NULL, g.set_bits, g.clear_bits)
    FROM unnest(g_orgs, g_days, g_set, g_clear) AS g(org, day, set_bits, clear_bits)
    WHERE g.set_bits <> '\x'::bytea
      AND NOT EXISTS (SELECT 1 FROM billy.analytics_customer_days t WHERE t.organization_id = g.org AND t.day = g.day);
    DELETE FROM billy.analytics_customer_days t
    USING unnest(g_orgs, g_days) AS g(org, day)
    WHERE t.organization_id = g.org AND t.day = g.day AND t.customers = '\x'::bytea;
END
$$;
COMMENT ON FUNCTION billy._analytics_customers(billy._analytics_document[]) IS
'Applies signed invoice contributions to billy.analytics_customer_months, billy.analytics_customers and the customer bitmaps of billy.analytics_customer_days, under the organization''s analytics lock. Internal.';

-- _analytics_documents applies the facts of one statement on invoices or
-- bills: olds are the old row versions (sign -1), news the new ones (+1)
CREATE FUNCTION billy._analytics_documents(olds billy._analytics_document[], news billy._analytics_document[],
                                           family text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    docs billy._analytics_document[] := olds || news;
    moved billy._analytics_payment[];
BEGIN
    IF cardinality(docs) = 0 THEN
        RETURN;
    END IF;

    INSERT INTO billy.analytics_daily AS t (organization_id, day, currency_id, kind, documents, net, tax, net_base, tax_base)
    SELECT d.organization_id, d.entry_date, d.currency_id, d.kind, sum(d.sign), sum(d.sign * d.net),
           sum(d.sign * d.tax), sum(d.sign * round(d.net * d.rate, 2)), sum(d.sign * round(d.tax * d.rate, 2))
    FROM unnest(docs) d
    GROUP BY 1, 2, 3, 4
    HAVING sum(d.sign) <> 0 OR sum(d.sign * d.net) <> 0 OR sum(d.sign * d.tax) <> 0
        OR sum(d.sign * round(d.net * d.rate, 2)) <> 0 OR sum(d.sign * round(d.tax * d.rate, 2)) <> 0
    ON CONFLICT (organization_id, day, currency_id, kind) DO UPDATE SET
        documents = t.documents + EXCLUDED.documents,
        net = t.net + EXCLUDED.net,
        tax = t.tax + EXCLUDED.tax,
        net_base = t.net_base + EXCLUDED.net_base,
        tax_base = t.tax_base + EXCLUDED.tax_base;
    DELETE FROM billy.analytics_daily t
    USING (SELECT DISTINCT d.organization_id, d.entry_date, d.currency_id, d.kind FROM unnest(olds) d) k
    WHERE t.organization_id = k.organization_id AND t.day = k.entry_date AND t.currency_id = k.currency_id
      AND t.kind = k.kind AND t.documents = 0 AND t.net = 0 AND t.tax = 0 AND t.net_base = 0
      AND t.tax_base = 0 AND t.payments = 0 AND t.paid = 0 AND t.paid_base = 0;

    INSERT INTO billy.analytics_open AS t (organization_id, due_date, currency_id, kind, documents, balance, balance_base)
    SELECT d.organization_id, d.due_date, d.currency_id, d.kind, sum(d.sign), sum(d.sign * d.balance),
           sum(d.sign * round(d.balance * d.rate, 2))
    FROM unnest(docs) d
    WHERE d.balance <> 0
    GROUP BY 1, 2, 3, 4
    HAVING sum(d.sign) <> 0 OR sum(d.sign * d.balance) <> 0 OR sum(d.sign * round(d.balance * d.rate, 2)) <> 0
    ON CONFLICT (organization_id, due_date, currency_id, kind) DO UPDATE SET
        documents = t.documents + EXCLUDED.documents,
        balance = t.balance + EXCLUDED.balance,
        balance_base = t.balance_base + EXCLUDED.balance_base;
    DELETE FROM billy.analytics_open t
    USING (SELECT DISTINCT d.organization_id, d.due_date, d.currency_id, d.kind FROM unnest(olds) d WHERE d.balance <> 0) k
    WHERE t.organization_id = k.organization_id AND t.due_date = k.due_date AND t.currency_id = k.currency_id
      AND t.kind = k.kind AND t.documents = 0 AND t.balance = 0 AND t.balance_base = 0;

    -- the open documents themselves: old versions out, new ones in
    DELETE FROM billy.analytics_open_documents t
    USING unnest(olds) d
    WHERE d.balance <> 0 AND t.organization_id = d.organization_id AND t.subject = family
      AND t.id = d.id;
    INSERT INTO billy.analytics_open_documents AS t (organization_id, subject, id, kind, contact_id, entry_date, due_date,
                                                     currency_id, rate, balance, balance_base)
    SELECT d.organization_id, family, d.id, d.kind, d.contact_id, d.entry_date, d.due_date, d.currency_id, d.rate,
           d.balance, round(d.balance * d.rate, 2)
    FROM unnest(news) d
    WHERE d.balance <> 0
    ON CONFLICT (organization_id, subject, id) DO UPDATE SET
        kind = EXCLUDED.kind, contact_id = EXCLUDED.contact_id, entry_date = EXCLUDED.entry_date,
        due_date = EXCLUDED.due_date, currency_id = EXCLUDED.currency_id, rate = EXCLUDED.rate,
        balance = EXCLUDED.balance, balance_base = EXCLUDED.balance_base;

    IF family = 'invoice' THEN
        PERFORM billy._analytics_customers(docs);
    END IF;

    -- payments count at their document's kind, currency and rate: when those
    -- (or whether the document counts) changed, move the document's payments
    WITH o AS (SELECT * FROM unnest(olds)), n AS (SELECT * FROM unnest(news)),
    changed AS (
        SELECT COALESCE(o.organization_id, n.organization_id) AS org, COALESCE(o.id, n.id) AS id,
               o.kind AS old_kind, o.currency_id AS old_currency, o.rate AS old_rate,
               n.kind AS new_kind, n.currency_id AS new_currency, n.rate AS new_rate
        FROM o FULL JOIN n ON n.organization_id = o.organization_id AND n.id = o.id
        WHERE (o.kind, o.currency_id, o.rate) IS DISTINCT FROM (n.kind, n.currency_id, n.rate)
    )
    SELECT array_agg(f) INTO moved
    FROM changed c
    CROSS JOIN LATERAL (
        -- by subject (modifier_type IS NOT DISTINCT FROM keeps the planner off
        -- the index on modifier_type when statistics are stale)
        SELECT m.entry_date, m.amount
        FROM billy.balance_modifiers m
        WHERE m.organization_id = c.org AND m.subject_type = family AND m.subject_id = c.id
          AND m.modifier_type IS NOT DISTINCT FROM 'bankPayment' AND m.is_voided IS NOT TRUE) p
    CROSS JOIN LATERAL (
        SELECT ROW(c.org, p.entry_date, c.old_currency, c.old_kind, -1, -p.amount, c.old_rate)::billy._analytics_payment
        WHERE c.old_kind IS NOT NULL
        UNION ALL
        SELECT ROW(c.org, p.entry_date, c.new_currency, c.new_kind, 1, -p.amount, c.new_rate)::billy._analytics_payment
        WHERE c.new_kind IS NOT NULL) x(f)
    WHERE p.entry_date IS NOT NULL;
    IF moved IS NOT NULL THEN
        PERFORM billy._analytics_payments(moved);
    END IF;
END
$$;
COMMENT ON FUNCTION billy._analytics_documents(billy._analytics_document[], billy._analytics_document[], text) IS
'Applies what one statement changed on invoices or bills (family: invoice or bill) to the rollups: old row versions subtract, new ones add; payments of documents whose kind, currency or rate changed move with them. Internal.';

-- the trigger functions: one for invoices and bills, one for balance
-- modifiers, each for three statement triggers (transition tables need one
-- trigger per event) and TRUNCATE
CREATE FUNCTION billy._analytics_documents_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    family text := CASE TG_TABLE_NAME WHEN 'bills' THEN 'bill' ELSE 'invoice' END;
    olds billy._analytics_document[] := '{}';
    news billy._analytics_document[] := '{}';
    -- organizations whose rollups of this family a first sync builds at its end
    skip text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM billy.analytics_daily
        WHERE kind = ANY (CASE family WHEN 'bill' THEN ARRAY['bill', 'billCreditNote'] ELSE ARRAY['invoice', 'creditNote'] END);
        DELETE FROM billy.analytics_open
        WHERE kind = ANY (CASE family WHEN 'bill' THEN ARRAY['bill', 'billCreditNote'] ELSE ARRAY['invoice', 'creditNote'] END);
        DELETE FROM billy.analytics_open_documents WHERE subject = family;
        IF family = 'invoice' THEN
            DELETE FROM billy.analytics_customer_months;
            DELETE FROM billy.analytics_customers;
            DELETE FROM billy.analytics_customer_days;
            DELETE FROM billy.analytics_contacts;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        skip := billy._derived_skipped(TG_TABLE_NAME, ARRAY(SELECT DISTINCT r.organization_id FROM analytics_new r));
    ELSE
        skip := billy._derived_skipped(TG_TABLE_NAME, ARRAY(SELECT DISTINCT r.organization_id FROM analytics_old r));
    END IF;
    -- invoices and bills have the same columns for what counts
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        olds := ARRAY(SELECT x.d FROM (
            SELECT billy._document_fact(r.organization_id, r.id, family = 'bill', r.type, r.state, r.deleted_at,
                       r.entry_date, r.due_date, r.contact_id, r.currency_id, r.exchange_rate, r.amount,
                       r.tax, r.balance, -1) AS d
            FROM analytics_old r WHERE r.organization_id <> ALL (skip)) x
            WHERE (x.d).id IS NOT NULL
              -- rows deleted with their organization take its rollups along
              AND (TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM billy.organizations o WHERE o.id = (x.d).organization_id)));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        news := ARRAY(SELECT x.d FROM (
            SELECT billy._document_fact(r.organization_id, r.id, family = 'bill', r.type, r.state, r.deleted_at,
                       r.entry_date, r.due_date, r.contact_id, r.currency_id, r.exchange_rate, r.amount,
                       r.tax, r.balance, 1) AS d
            FROM analytics_new r WHERE r.organization_id <> ALL (skip)) x
            WHERE (x.d).id IS NOT NULL);
    END IF;
    PERFORM billy._analytics_documents(olds, news, family);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._analytics_documents_changed() IS
'Statement trigger on billy.invoices and billy.bills: keeps the analytics rollups current. Internal.';

CREATE FUNCTION billy._analytics_modifiers_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    facts billy._analytics_payment[] := '{}';
    -- organizations whose invoices' or bills' rollups a first sync builds at its end
    skip_invoices text[];
    skip_bills text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE billy.analytics_daily SET payments = 0, paid = 0, paid_base = 0 WHERE payments <> 0 OR paid <> 0 OR paid_base <> 0;
        DELETE FROM billy.analytics_daily WHERE documents = 0 AND net = 0 AND tax = 0 AND net_base = 0 AND tax_base = 0;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        skip_invoices := ARRAY(SELECT DISTINCT m.organization_id FROM analytics_new m);
    ELSE
        skip_invoices := ARRAY(SELECT DISTINCT m.organization_id FROM analytics_old m);
    END IF;
    skip_bills := billy._derived_skipped('bills', skip_invoices);
    skip_invoices := billy._derived_skipped('invoices', skip_invoices);
    -- a payment counts at its document's current kind, currency and rate
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        facts := ARRAY(
            SELECT ROW(m.organization_id, m.entry_date, (s.d).currency_id, (s.d).kind, -1, -m.amount, (s.d).rate)::billy._analytics_payment
            FROM analytics_old m
            -- one document per modifier, its fact computed once (a plan that
            -- filtered the organization's documents used to compute it for
            -- each; billy._sync_analyze keeps the sync off such plans)
            CROSS JOIN LATERAL (
                (SELECT billy._document_fact(i.organization_id, i.id, false, i.type, i.state, i.deleted_at,
                           i.entry_date, i.due_date, i.contact_id, i.currency_id, i.exchange_rate, i.amount,
                           i.tax, i.balance, -1) AS d
                FROM billy.invoices i
                WHERE m.subject_type = 'invoice' AND i.organization_id = m.organization_id AND i.id = m.subject_id
                 ORDER BY i.organization_id, i.id LIMIT 1)
                UNION ALL
                (SELECT billy._document_fact(b.organization_id, b.id, true, b.type, b.state, b.deleted_at,
                           b.entry_date, b.due_date, b.contact_id, b.currency_id, b.exchange_rate, b.amount,
                           b.tax, b.balance, -1)
                FROM billy.bills b
                WHERE m.subject_type = 'bill' AND b.organization_id = m.organization_id AND b.id = m.subject_id
                 ORDER BY b.organization_id, b.id LIMIT 1)) s
            WHERE m.modifier_type = 'bankPayment' AND m.is_voided IS NOT TRUE AND m.entry_date IS NOT NULL
              AND m.organization_id <> ALL (CASE m.subject_type WHEN 'bill' THEN skip_bills ELSE skip_invoices END)
              AND (s.d).id IS NOT NULL);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        facts := facts || ARRAY(
            SELECT ROW(m.organization_id, m.entry_date, (s.d).currency_id, (s.d).kind, 1, -m.amount, (s.d).rate)::billy._analytics_payment
            FROM analytics_new m
            -- one document per modifier, its fact computed once (a plan that
            -- filtered the organization's documents used to compute it for
            -- each; billy._sync_analyze keeps the sync off such plans)
            CROSS JOIN LATERAL (
                (SELECT billy._document_fact(i.organization_id, i.id, false, i.type, i.state, i.deleted_at,
                           i.entry_date, i.due_date, i.contact_id, i.currency_id, i.exchange_rate, i.amount,
                           i.tax, i.balance, 1) AS d
                FROM billy.invoices i
                WHERE m.subject_type = 'invoice' AND i.organization_id = m.organization_id AND i.id = m.subject_id
                 ORDER BY i.organization_id, i.id LIMIT 1)
                UNION ALL
                (SELECT billy._document_fact(b.organization_id, b.id, true, b.type, b.state, b.deleted_at,
                           b.entry_date, b.due_date, b.contact_id, b.currency_id, b.exchange_rate, b.amount,
                           b.tax, b.balance, 1)
                FROM billy.bills b
                WHERE m.subject_type = 'bill' AND b.organization_id = m.organization_id AND b.id = m.subject_id
                 ORDER BY b.organization_id, b.id LIMIT 1)) s
            WHERE m.modifier_type = 'bankPayment' AND m.is_voided IS NOT TRUE AND m.entry_date IS NOT NULL
              AND m.organization_id <> ALL (CASE m.subject_type WHEN 'bill' THEN skip_bills ELSE skip_invoices END)
              AND (s.d).id IS NOT NULL);
    END IF;
    PERFORM billy._analytics_payments(facts);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._analytics_modifiers_changed() IS
'Statement trigger on billy.balance_modifiers: keeps the payments in billy.analytics_daily current. Internal.';

CREATE TRIGGER analytics_insert AFTER INSERT ON billy.invoices
    REFERENCING NEW TABLE AS analytics_new
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_documents_changed();
CREATE TRIGGER analytics_update AFTER UPDATE ON billy.invoices
    REFERENCING OLD TABLE AS analytics_old NEW TABLE AS analytics_new
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_documents_changed();
CREATE TRIGGER analytics_delete AFTER DELETE ON billy.invoices
    REFERENCING OLD TABLE AS analytics_old
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_documents_changed();
CREATE TRIGGER analytics_truncate AFTER TRUNCATE ON billy.invoices
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_documents_changed();

CREATE TRIGGER analytics_insert AFTER INSERT ON billy.bills
    REFERENCING NEW TABLE AS analytics_new
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_documents_changed();
CREATE TRIGGER analytics_update AFTER UPDATE ON billy.bills
    REFERENCING OLD TABLE AS analytics_old NEW TABLE AS analytics_new
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_documents_changed();
CREATE TRIGGER analytics_delete AFTER DELETE ON billy.bills
    REFERENCING OLD TABLE AS analytics_old
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_documents_changed();
CREATE TRIGGER analytics_truncate AFTER TRUNCATE ON billy.bills
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_documents_changed();

CREATE TRIGGER analytics_insert AFTER INSERT ON billy.balance_modifiers
    REFERENCING NEW TABLE AS analytics_new
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_modifiers_changed();
CREATE TRIGGER analytics_update AFTER UPDATE ON billy.balance_modifiers
    REFERENCING OLD TABLE AS analytics_old NEW TABLE AS analytics_new
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_modifiers_changed();
CREATE TRIGGER analytics_delete AFTER DELETE ON billy.balance_modifiers
    REFERENCING OLD TABLE AS analytics_old
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_modifiers_changed();
CREATE TRIGGER analytics_truncate AFTER TRUNCATE ON billy.balance_modifiers
    FOR EACH STATEMENT EXECUTE FUNCTION billy._analytics_modifiers_changed();

CREATE FUNCTION billy.analytics_rebuild(org text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o text;
    n integer := 0;
    after_id text;
    family text;
    docs billy._analytics_document[];
    marked text;
BEGIN
    FOR o IN SELECT id FROM billy.organizations
             WHERE (org IS NULL OR id = billy._resolve_org(org)) ORDER BY id
    LOOP
        -- what a first sync cut short left to rebuild (billy.derived_pending)
        -- is rebuilt here, its VAT lines too: the mark goes first, waiting
        -- for the writers that skipped (75-derived.sql)
        FOR marked IN DELETE FROM billy.derived_pending
                      WHERE organization_id = o AND resource IN ('invoices', 'bills') RETURNING resource
        LOOP
            PERFORM billy._vat_rebuild_kind(o, rtrim(marked, 's'));
        END LOOP;
        PERFORM billy._analytics_lock(ARRAY[o]);
        DELETE FROM billy.analytics_daily WHERE organization_id = o;
        DELETE FROM billy.analytics_open WHERE organization_id = o;
        DELETE FROM billy.analytics_open_documents WHERE organization_id = o;
        DELETE FROM billy.analytics_customer_months WHERE organization_id = o;
        DELETE FROM billy.analytics_customers WHERE organization_id = o;
        DELETE FROM billy.analytics_customer_days WHERE organization_id = o;
        DELETE FROM billy.analytics_contacts WHERE organization_id = o;
        FOREACH family IN ARRAY ARRAY['invoice', 'bill'] LOOP
            after_id := '';
            LOOP
                EXECUTE format($q$
                    SELECT array_agg(x.d) FILTER (WHERE (x.d).id IS NOT NULL), max(x.id)
                    FROM (SELECT r.id, billy._document_fact(r.organization_id, r.id, %L = 'bill', r.type, r.state,
                                     r.deleted_at, r.entry_date, r.due_date, r.contact_id, r.currency_id,
                                     r.exchange_rate, r.amount, r.tax, r.balance, 1) AS d
                          FROM billy.%I r WHERE r.organization_id = $1 AND r.id > $2
                          ORDER BY r.id LIMIT 20000) x$q$, family, family || 's')
                    INTO docs, after_id USING o, after_id;
                EXIT WHEN after_id IS NULL;
                PERFORM billy._analytics_documents('{}', COALESCE(docs, '{}'), family);
            END LOOP;
        END LOOP;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy.analytics_rebuild(text) IS
'Recomputes the analytics rollups of one organization (id or name; NULL: every organization) from the mirror, and returns how many organizations were rebuilt. The sync keeps the rollups current by itself; use this after restoring the mirror tables without triggers (pg_restore --disable-triggers, session_replication_role = replica). It also finishes what a first sync cut short left to rebuild (billy.derived_pending: those VAT lines too).';

------------------------------------------------------------------------------
-- The questions: summary, trends, customers, receivables, forecast
------------------------------------------------------------------------------

CREATE FUNCTION billy._analytics_period(period text, as_of date, fiscal_year_end_month integer DEFAULT 12,
    OUT period_start date, OUT period_end date, OUT previous_start date, OUT previous_end date)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p text := lower(btrim(period));
    m text[];
    v record;
    back interval;
    -- months since the fiscal year began (0 for the fiscal year's first month)
    into_fy integer := (extract(month FROM as_of)::integer - coalesce(fiscal_year_end_month, 12) + 11) % 12;
BEGIN
    IF p IS NULL OR as_of IS NULL THEN
        RAISE EXCEPTION 'period and as_of must not be NULL'
            USING ERRCODE = '22004', HINT = 'Pass a period such as ''month'' and a date.';
    END IF;
    IF coalesce(fiscal_year_end_month, 12) NOT BETWEEN 1 AND 12 THEN
        into_fy := extract(month FROM as_of)::integer - 1;
    END IF;
    IF p IN ('quarter', 'year') THEN
        -- the fiscal quarter or fiscal year to date (calendar ones when the
        -- fiscal year ends in December), and the same span a year or a quarter before
        period_start := (date_trunc('month', as_of)
                         - make_interval(months => CASE p WHEN 'year' THEN into_fy ELSE into_fy % 3 END))::date;
        period_end := as_of;
        back := CASE p WHEN 'quarter' THEN interval '3 months' ELSE interval '1 year' END;
        previous_start := (period_start - back)::date;
        previous_end := least((as_of - back)::date, period_start - 1);
        RETURN;
    END IF;
    m := regexp_match(p, '^fy(\d{4})$');
    IF m IS NOT NULL THEN
        -- the fiscal year ending in that year
        period_end := (make_date(m[1]::integer, CASE WHEN coalesce(fiscal_year_end_month, 12) BETWEEN 1 AND 12
                                                     THEN coalesce(fiscal_year_end_month, 12) ELSE 12 END, 1)
                       + interval '1 month')::date - 1;
        period_start := (period_end + 1 - interval '1 year')::date;
        previous_start := (period_start - interval '1 year')::date;
        previous_end := period_start - 1;
        RETURN;
    END IF;
    IF p IN ('today', 'day', 'week', 'month') THEN
        -- the period to date, and the same span of the period before
        period_start := CASE p WHEN 'today' THEN as_of WHEN 'day' THEN as_of
                        ELSE date_trunc(p, as_of)::date END;
        period_end := as_of;
        back := CASE p WHEN 'today' THEN interval '1 day' WHEN 'day' THEN interval '1 day'
                       WHEN 'week' THEN interval '7 days' WHEN 'month' THEN interval '1 month'
                       WHEN 'quarter' THEN interval '3 months' ELSE interval '1 year' END;
        previous_start := (period_start - back)::date;
        previous_end := least((as_of - back)::date, period_start - 1);
        RETURN;
    END IF;
    -- a fixed period (billy._period): compared with the one before it, a
    -- range of dates with as many days just before it
    v := billy._period(p);
    IF v.period_type = 'reversed' THEN
        RAISE EXCEPTION 'period "%" ends before it starts', period
            USING ERRCODE = '22023', HINT = 'Write the earlier date first: 2026-01-01..2026-03-31.';
    ELSIF v.key IS NULL AND p ~ '^\d{4}-\d{2}(-\d{2}\s*(\.\.|/)\s*\d{4}-\d{2}-\d{2})?$' THEN
        RAISE EXCEPTION 'period "%" is not a valid date or range', period
            USING ERRCODE = '22023', HINT = 'Dates are written YYYY-MM-DD, months YYYY-MM.';
    ELSIF v.key IS NULL THEN
        RAISE EXCEPTION 'unknown period "%"', period
            USING ERRCODE = '22023',
                  HINT = 'Use today, week, month, quarter or year (to date, against the same span of the period before; quarter and year follow the fiscal year), a month (2026-05), a quarter (2026-Q2), a half-year (2026-H1), a year (2026), a fiscal year (fy2026: the one ending in 2026), or a range of dates (2026-01-01..2026-03-31).';
    END IF;
    period_start := v.start_date;
    period_end := v.end_date;
    IF v.ranged THEN
        previous_end := period_start - 1;
        previous_start := previous_end - (period_end - period_start);
        RETURN;
    END IF;
    back := CASE v.period_type WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
                               WHEN 'half-year' THEN interval '6 months' ELSE interval '1 year' END;
    previous_start := (period_start - back)::date;
    previous_end := period_start - 1;
EXCEPTION
    WHEN datetime_field_overflow OR invalid_datetime_format OR invalid_text_representation THEN
        RAISE EXCEPTION 'period "%" is not a valid date or range', period
            USING ERRCODE = '22023', HINT = 'Dates are written YYYY-MM-DD, months YYYY-MM.';
END
$$;
COMMENT ON FUNCTION billy._analytics_period(text, date, integer) IS
'The dates of a period relative to as_of, and of the period it is compared with; quarter, year and fyYYYY follow the fiscal year that ends in fiscal_year_end_month. Internal.';

-- _analytics_org resolves an organization the caller may see, with its base currency
CREATE FUNCTION billy._analytics_org(org text, OUT id text, OUT base_currency text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    id := billy._resolve_org(org);
    SELECT COALESCE(o.base_currency, 'DKK') INTO base_currency FROM billy.organizations o WHERE o.id = _analytics_org.id;
END
$$;
COMMENT ON FUNCTION billy._analytics_org(text) IS 'An organization id (from an id or a name) and its base currency. Internal.';

CREATE FUNCTION billy.analytics_summary(org text, period text DEFAULT 'month', as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (organization_id text, currency text, period_start date, period_end date,
               net_revenue numeric, vat numeric, gross_revenue numeric, invoices integer,
               credit_notes integer, customers integer, average_invoice numeric,
               previous_start date, previous_end date, previous_net_revenue numeric,
               previous_gross_revenue numeric, net_change numeric, net_change_pct numeric,
               outstanding numeric, outstanding_invoices integer, overdue numeric,
               overdue_invoices integer, paid numeric, costs numeric, margin numeric,
               margin_pct numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    o record := billy._analytics_org(org);
    p record := billy._analytics_period(period, as_of,
                    (SELECT x.fiscal_year_end_month FROM billy.organizations x WHERE x.id = o.id));
    invoice_net numeric;
BEGIN
    organization_id := o.id;
    currency := o.base_currency;
    period_start := p.period_start;
    period_end := p.period_end;
    previous_start := p.previous_start;
    previous_end := p.previous_end;

    SELECT COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base WHEN 'creditNote' THEN -d.net_base END)
                        FILTER (WHERE d.day BETWEEN p.period_start AND p.period_end), 0),
           COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.tax_base WHEN 'creditNote' THEN -d.tax_base END)
                        FILTER (WHERE d.day BETWEEN p.period_start AND p.period_end), 0),
           COALESCE(sum(d.net_base) FILTER (WHERE d.kind = 'invoice' AND d.day BETWEEN p.period_start AND p.period_end), 0),
           COALESCE(sum(d.documents) FILTER (WHERE d.kind = 'invoice' AND d.day BETWEEN p.period_start AND p.period_end), 0),
           COALESCE(sum(d.documents) FILTER (WHERE d.kind = 'creditNote' AND d.day BETWEEN p.period_start AND p.period_end), 0),
           COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base WHEN 'creditNote' THEN -d.net_base END)
                        FILTER (WHERE d.day BETWEEN p.previous_start AND p.previous_end), 0),
           COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base + d.tax_base WHEN 'creditNote' THEN -d.net_base - d.tax_base END)
                        FILTER (WHERE d.day BETWEEN p.previous_start AND p.previous_end), 0),
           COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.paid_base WHEN 'creditNote' THEN -d.paid_base END)
                        FILTER (WHERE d.day BETWEEN p.period_start AND p.period_end), 0),
           COALESCE(sum(CASE d.kind WHEN 'bill' THEN d.net_base WHEN 'billCreditNote' THEN -d.net_base END)
                        FILTER (WHERE d.day BETWEEN p.period_start AND p.period_end), 0)
    INTO net_revenue, vat, invoice_net, invoices, credit_notes, previous_net_revenue,
         previous_gross_revenue, paid, costs
    FROM billy.analytics_daily d
    WHERE d.organization_id = o.id
      AND d.day BETWEEN least(p.period_start, p.previous_start) AND greatest(p.period_end, p.previous_end);

    gross_revenue := net_revenue + vat;
    average_invoice := CASE WHEN invoices > 0 THEN round(invoice_net / invoices, 2) END;
    net_change := net_revenue - previous_net_revenue;
    net_change_pct := CASE WHEN previous_net_revenue <> 0
                           THEN round(100 * net_change / abs(previous_net_revenue), 1) END;
    margin := net_revenue - costs;
    margin_pct := CASE WHEN net_revenue <> 0 THEN round(100 * margin / abs(net_revenue), 1) END;

    SELECT billy._bitmap_count(billy._bitmap_union(c.customers)) INTO customers
    FROM billy.analytics_customer_days c
    WHERE c.organization_id = o.id AND c.day BETWEEN p.period_start AND p.period_end;

    IF NOT EXISTS (SELECT 1 FROM billy.analytics_open x WHERE x.organization_id = o.id AND x.kind = 'creditNote') THEN
        -- no open credit notes: the rollup says it in a few rows
        SELECT COALESCE(sum(x.balance_base), 0), COALESCE(sum(x.documents), 0),
               COALESCE(sum(x.balance_base) FILTER (WHERE x.due_date < as_of), 0),
               COALESCE(sum(x.documents) FILTER (WHERE x.due_date < as_of), 0)
        INTO outstanding, outstanding_invoices, overdue, overdue_invoices
        FROM billy.analytics_open x
        WHERE x.organization_id = o.id AND x.kind = 'invoice';
    ELSE
        -- credit notes netted per customer (billy._net_credit_notes)
        SELECT COALESCE(sum(n.amount), 0), count(n.id),
               COALESCE(sum(n.amount) FILTER (WHERE n.due_date < as_of), 0),
               count(n.id) FILTER (WHERE n.due_date < as_of)
        INTO outstanding, outstanding_invoices, overdue, overdue_invoices
        FROM (SELECT array_agg(d.contact_id) AS c, array_agg(d.id) AS i, array_agg(d.due_date) AS du,
                     array_agg(CASE WHEN d.kind = 'creditNote' THEN -d.balance_base ELSE d.balance_base END) AS a
              FROM billy.analytics_open_documents d
              WHERE d.organization_id = o.id AND d.subject = 'invoice') x,
             billy._net_credit_notes(x.c, x.i, x.du, x.a) n;
    END IF;

    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION billy.analytics_summary(text, text, date) IS
'How a period is going, in one row, from the rollups (milliseconds, whatever the number of invoices). period: today, week, month, quarter or year to date at as_of (default today), compared with the same span of the period before (e.g. 1-15 June against 1-15 May), quarter and year being the organization''s fiscal quarter and fiscal year (they follow its fiscal_year_end_month; calendar ones when it is 12); or a month (2026-05), a quarter (2026-Q2), a half-year (2026-H1), a year (2026), a fiscal year (fy2026: the one ending in 2026) or a range (2026-01-01..2026-03-31), compared with the period before it. Returns, in the base currency (each document converted at its exchange rate), net revenue (invoices minus credit notes; approved, not deleted), VAT, gross revenue, invoice and credit note counts, customers invoiced, average invoice (net), the previous period''s net and gross revenue and the change, what is outstanding and overdue now (amounts and invoice counts; overdue: due before as_of; a customer''s open credit notes pay off that customer''s invoices, earliest due first, never below zero), paid in the period (payments received minus refunds), costs (bills, net) and the margin.';

CREATE FUNCTION billy.revenue_trends(org text, "from" date, "to" date, grain text DEFAULT 'month')
RETURNS TABLE (period_start date, period_end date, net numeric, vat numeric, gross numeric,
               invoices integer, credit_notes integer, moving_average numeric,
               growth_pct numeric, yoy_pct numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    o record := billy._analytics_org(org);
    g text := lower(btrim(grain));
    period_step interval;
    year_back interval;
    win integer;
    first_period date;
    last_period date;
    lead_start date;
    periods integer;
    range_from date := revenue_trends."from";
    range_to date := COALESCE(revenue_trends."to", CURRENT_DATE);
BEGIN
    IF g IS NULL OR g NOT IN ('day', 'week', 'month', 'quarter', 'year') THEN
        RAISE EXCEPTION 'unknown grain "%"', grain
            USING ERRCODE = '22023', HINT = 'Use day, week, month, quarter or year.';
    END IF;
    IF range_from IS NULL THEN
        SELECT min(d.day) INTO range_from FROM billy.analytics_daily d
        WHERE d.organization_id = o.id AND d.kind IN ('invoice', 'creditNote') AND d.documents <> 0;
        range_from := COALESCE(range_from, range_to);
    END IF;
    IF range_to < range_from THEN
        RAISE EXCEPTION '"to" (%) is before "from" (%)', range_to, range_from
            USING ERRCODE = '22023', HINT = 'Pass the earlier date as "from".';
    END IF;
    period_step := CASE g WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days'
                   WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
                   ELSE interval '1 year' END;
    year_back := CASE g WHEN 'week' THEN interval '364 days' ELSE interval '1 year' END;
    win := CASE g WHEN 'day' THEN 7 WHEN 'week' THEN 4 WHEN 'month' THEN 3 WHEN 'quarter' THEN 4 ELSE 3 END;
    first_period := date_trunc(g, range_from)::date;
    last_period := date_trunc(g, range_to)::date;
    periods := (last_period - first_period) / (CASE g WHEN 'day' THEN 1 WHEN 'week' THEN 7 ELSE 28 END);
    IF periods > 100000 THEN
        RAISE EXCEPTION 'too many periods from % to % by %', range_from, range_to, g
            USING ERRCODE = '54000', HINT = 'Use a coarser grain or a shorter range.';
    END IF;
    -- earlier periods feed the first rows' moving average and growth
    lead_start := least((first_period - (win * period_step))::date, (first_period - year_back)::date);

    RETURN QUERY
    WITH sums AS (
        SELECT date_trunc(g, d.day)::date AS ps,
               sum(CASE d.kind WHEN 'invoice' THEN d.net_base ELSE -d.net_base END) AS net,
               sum(CASE d.kind WHEN 'invoice' THEN d.tax_base ELSE -d.tax_base END) AS vat,
               sum(d.documents) FILTER (WHERE d.kind = 'invoice') AS invoices,
               sum(d.documents) FILTER (WHERE d.kind = 'creditNote') AS credit_notes
        FROM billy.analytics_daily d
        WHERE d.organization_id = o.id AND d.kind IN ('invoice', 'creditNote')
          AND d.day >= lead_start AND d.day < (last_period + period_step)::date
        GROUP BY 1
    ), series AS (
        SELECT s.p::date AS ps, (s.p + period_step - interval '1 day')::date AS pe,
               COALESCE(x.net, 0) AS net, COALESCE(x.vat, 0) AS vat,
               COALESCE(x.invoices, 0)::integer AS invoices, COALESCE(x.credit_notes, 0)::integer AS credit_notes
        FROM generate_series(lead_start::timestamp, last_period::timestamp, period_step) s(p)
        LEFT JOIN sums x ON x.ps = s.p::date
    ), w AS (
        SELECT s.*,
               avg(s.net) OVER (ORDER BY s.ps ROWS BETWEEN win - 1 PRECEDING AND CURRENT ROW) AS ma,
               lag(s.net) OVER (ORDER BY s.ps) AS prev
        FROM series s
    )
    SELECT w.ps, w.pe, w.net, w.vat, w.net + w.vat, w.invoices, w.credit_notes, round(w.ma, 2),
           CASE WHEN w.prev <> 0 THEN round(100 * (w.net - w.prev) / abs(w.prev), 1) END,
           CASE WHEN y.net <> 0 THEN round(100 * (w.net - y.net) / abs(y.net), 1) END
    FROM w
    LEFT JOIN series y ON y.ps = (w.ps - year_back)::date
    WHERE w.ps >= first_period
    ORDER BY w.ps;
END
$$;
COMMENT ON FUNCTION billy.revenue_trends(text, date, date, text) IS
'Revenue per period, from the rollups: one row per whole day, week (ISO, from Monday), month, quarter or year (grain) from the one holding "from" (NULL: the first invoice) to the one holding "to" (NULL: today), empty periods included. In the base currency: net (invoices minus credit notes), vat, gross, invoice and credit note counts, moving_average (of net over this and the previous periods: 7 days, 4 weeks, 3 months, 4 quarters or 3 years), growth_pct (net against the previous period, percent) and yoy_pct (against the same period a year before; weeks: 52 weeks before).';

-- _customer_sales: net sales per customer between two dates (NULL: open),
-- whole months from the rollup, the days of partial months from the mirror
CREATE TYPE billy._customer_sale AS (contact_id text, invoices bigint, credit_notes bigint, net_base numeric);
COMMENT ON TYPE billy._customer_sale IS 'A customer''s sales in a range. Internal.';

CREATE FUNCTION billy._customer_sales(org_id text, from_date date, to_date date)
RETURNS SETOF billy._customer_sale
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- whole months: from whole_from (NULL: the first) up to whole_to, exclusive (NULL: the last)
    whole_from date := CASE WHEN from_date IS NULL THEN NULL
                            WHEN from_date = date_trunc('month', from_date)::date THEN from_date
                            ELSE (date_trunc('month', from_date) + interval '1 month')::date END;
    whole_to date := CASE WHEN to_date IS NULL THEN NULL
                          WHEN to_date = (date_trunc('month', to_date) + interval '1 month - 1 day')::date
                              THEN (date_trunc('month', to_date) + interval '1 month')::date
                          ELSE date_trunc('month', to_date)::date END;
    edges daterange[] := '{}';
    whole boolean := true;
BEGIN
    IF whole_from IS NOT NULL AND whole_to IS NOT NULL AND whole_from >= whole_to THEN
        -- within one month, or across two partial ones: no whole month
        edges := ARRAY[daterange(from_date, to_date, '[]')];
        whole := false;
    ELSE
        IF from_date IS NOT NULL AND from_date < whole_from THEN
            edges := edges || daterange(from_date, whole_from, '[)');
        END IF;
        IF to_date IS NOT NULL AND whole_to <= to_date THEN
            edges := edges || daterange(whole_to, to_date, '[]');
        END IF;
    END IF;
    RETURN QUERY
    SELECT p.contact_id, sum(p.invoices)::bigint, sum(p.credit_notes)::bigint, sum(p.net_base)
    FROM (SELECT m.contact_id, m.invoices, m.credit_notes, m.net_base
          FROM billy.analytics_customer_months m
          WHERE whole AND m.organization_id = org_id
            AND (whole_from IS NULL OR m.month >= whole_from) AND (whole_to IS NULL OR m.month < whole_to)
          UNION ALL
          SELECT i.contact_id, (i.type IS DISTINCT FROM 'creditNote')::integer, (i.type = 'creditNote')::integer,
                 CASE WHEN i.type = 'creditNote' THEN -1 ELSE 1 END
                 * round(COALESCE(i.amount, 0) * COALESCE(i.exchange_rate, 1), 2)
          FROM unnest(edges) e
          JOIN billy.invoices i ON i.organization_id = org_id AND i.deleted_at IS NULL
                               AND i.entry_date >= lower(e) AND i.entry_date < upper(e)
          WHERE i.state = 'approved' AND i.contact_id IS NOT NULL) p
    GROUP BY p.contact_id;
END
$$;
COMMENT ON FUNCTION billy._customer_sales(text, date, date) IS
'Net sales per customer (base currency, credit notes subtracted) between two dates, NULL meaning open: whole months from billy.analytics_customer_months, partial months from billy.invoices. Internal.';

CREATE FUNCTION billy.customer_insights(org text, top integer DEFAULT 10, "from" date DEFAULT NULL,
                                        "to" date DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record := billy._analytics_org(org);
    range_from date := customer_insights."from";
    range_to date := customer_insights."to";
    ref date := COALESCE(customer_insights."to", CURRENT_DATE);
    total numeric;
    positive numeric;
    n_customers integer;
    n_new integer;
    n_returning integer;
    top5 numeric;
    hhi numeric;
    top_list jsonb;
    quiet_list jsonb;
    during bytea;
    before bytea;
    sales billy._customer_sale[];
    last_day date;
BEGIN
    IF top IS NULL OR top < 1 OR top > 1000 THEN
        RAISE EXCEPTION 'top must be between 1 and 1000, not %', top USING ERRCODE = '22023';
    END IF;
    IF range_from > range_to THEN
        RAISE EXCEPTION '"to" (%) is before "from" (%)', range_to, range_from
            USING ERRCODE = '22023', HINT = 'Pass the earlier date as "from".';
    END IF;

    -- all history: the lifetime rollup; a range: the monthly one
    SELECT max(d.day) INTO last_day FROM billy.analytics_daily d
    WHERE d.organization_id = o.id AND d.kind IN ('invoice', 'creditNote') AND d.documents <> 0;
    IF range_from IS NULL AND (range_to IS NULL OR last_day IS NULL OR range_to >= last_day) THEN
        sales := ARRAY(SELECT ROW(c.contact_id, c.invoices, c.credit_notes, c.net_base)::billy._customer_sale
                       FROM billy.analytics_customers c WHERE c.organization_id = o.id);
    ELSE
        sales := ARRAY(SELECT s FROM billy._customer_sales(o.id, range_from, range_to) s);
    END IF;

    SELECT COALESCE(sum(s.net_base), 0), COALESCE(sum(s.net_base) FILTER (WHERE s.net_base > 0), 0)
    INTO total, positive FROM unnest(sales) s;
    SELECT COALESCE(sum(x.net_base), 0) INTO top5
    FROM (SELECT s.net_base FROM unnest(sales) s WHERE s.net_base > 0
          ORDER BY s.net_base DESC LIMIT 5) x;
    SELECT CASE WHEN positive > 0 THEN round(sum((100 * s.net_base / positive) ^ 2), 1) END INTO hhi
    FROM unnest(sales) s WHERE s.net_base > 0;

    -- distinct customers, new and returning, from the daily bitmaps
    SELECT billy._bitmap_union(c.customers) INTO during
    FROM billy.analytics_customer_days c
    WHERE c.organization_id = o.id AND (range_from IS NULL OR c.day >= range_from)
      AND (range_to IS NULL OR c.day <= range_to);
    IF range_from IS NOT NULL THEN
        SELECT billy._bitmap_union(c.customers) INTO before
        FROM billy.analytics_customer_days c
        WHERE c.organization_id = o.id AND c.day < range_from;
    END IF;
    n_customers := billy._bitmap_count(during);
    n_new := billy._bitmap_count(billy._bitmap_andnot(during, before));
    n_returning := billy._bitmap_count(billy._bitmap_and(during, before));

    SELECT COALESCE(jsonb_agg(t ORDER BY t.rank), '[]') INTO top_list
    FROM (
        SELECT row_number() OVER (ORDER BY s.net_base DESC, s.contact_id) AS rank,
               s.contact_id, c.name, s.net_base AS net_revenue,
               CASE WHEN total <> 0 THEN round(100 * s.net_base / total, 1) END AS share_pct,
               s.invoices, s.credit_notes,
               pay.average_days_to_pay, pay.median_days_to_pay, pay.paid_invoices,
               open.outstanding, open.overdue, life.last_invoice
        FROM (SELECT * FROM unnest(sales) s ORDER BY s.net_base DESC, s.contact_id LIMIT top) s
        LEFT JOIN billy.contacts c ON c.organization_id = o.id AND c.id = s.contact_id
        LEFT JOIN billy.analytics_customers life ON life.organization_id = o.id AND life.contact_id = s.contact_id
        LEFT JOIN LATERAL (
            SELECT round(avg(p.days), 1) AS average_days_to_pay,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY p.days)::numeric AS median_days_to_pay,
                   count(*) AS paid_invoices
            FROM (SELECT (SELECT max(m.entry_date) FROM billy.balance_modifiers m
                          WHERE m.organization_id = o.id AND m.subject_type = 'invoice' AND m.subject_id = i.id
                            AND m.is_voided IS NOT TRUE) - i.entry_date AS days
                  FROM billy.invoices i
                  WHERE i.organization_id = o.id AND i.contact_id = s.contact_id AND i.state = 'approved'
                    AND i.deleted_at IS NULL AND i.type IS DISTINCT FROM 'creditNote' AND i.is_paid
                    AND (range_from IS NULL OR i.entry_date >= range_from)
                    AND (range_to IS NULL OR i.entry_date <= range_to)) p
            WHERE p.days IS NOT NULL) pay ON true
        LEFT JOIN LATERAL (
            SELECT COALESCE(sum(n.amount), 0) AS outstanding,
                   COALESCE(sum(n.amount) FILTER (WHERE n.due_date < ref), 0) AS overdue
            FROM (SELECT array_agg(d.contact_id) AS c, array_agg(d.id) AS i, array_agg(d.due_date) AS du,
                         array_agg(CASE WHEN d.kind = 'creditNote' THEN -d.balance_base ELSE d.balance_base END) AS a
                  FROM billy.analytics_open_documents d
                  WHERE d.organization_id = o.id AND d.contact_id = s.contact_id AND d.subject = 'invoice') x,
                 billy._net_credit_notes(x.c, x.i, x.du, x.a) n) open ON true
    ) t;

    -- gone quiet: regular customers (3 invoices or more) whose last invoice is
    -- before "to" by twice their usual interval, and at least 60 days
    SELECT COALESCE(jsonb_agg(q ORDER BY q.lifetime_net_revenue DESC, q.contact_id), '[]') INTO quiet_list
    FROM (
        SELECT x.contact_id, c.name, x.invoices, x.net_base AS lifetime_net_revenue, x.first_invoice, x.last_invoice,
               round((x.last_invoice - x.first_invoice)::numeric / (x.invoices - 1), 1) AS usual_interval_days,
               ref - x.last_invoice AS days_since_last_invoice
        FROM billy.analytics_customers x
        LEFT JOIN billy.contacts c ON c.organization_id = o.id AND c.id = x.contact_id
        WHERE x.organization_id = o.id AND x.invoices >= 3 AND x.last_invoice <= ref - 60
          AND ref - x.last_invoice >= 2 * (x.last_invoice - x.first_invoice)::numeric / (x.invoices - 1)
        ORDER BY x.net_base DESC, x.contact_id
        LIMIT top
    ) q;

    RETURN jsonb_build_object(
        'organization_id', o.id,
        'currency', o.base_currency,
        'from', range_from,
        'to', range_to,
        'net_revenue', total,
        'customers', n_customers,
        'new_customers', n_new,
        'returning_customers', n_returning,
        'concentration', jsonb_build_object(
            'top5_share_pct', CASE WHEN positive > 0 THEN round(100 * top5 / positive, 1) END,
            'hhi', hhi),
        'top', top_list,
        'gone_quiet', quiet_list);
END
$$;
COMMENT ON FUNCTION billy.customer_insights(text, integer, date, date) IS
'Who the customers are, as one JSON object, between "from" and "to" (NULL: all history; amounts in the base currency, credit notes subtracted). top: the best customers by net revenue (up to top of them) with their share (percent of net revenue), invoices, credit notes, average and median days to pay (entry date to the last payment, paid invoices of the range), what they owe now (outstanding, overdue; their open credit notes netted, never below zero) and their last invoice; customers invoiced, new (first invoice ever in the range) and returning; concentration: the top 5 customers'' share of positive net revenue and the Herfindahl-Hirschman index (0-10000); gone_quiet: customers with 3 invoices or more whose last invoice is older than twice their usual interval and at least 60 days at "to" (default today), with their lifetime net revenue. All history is read from a rollup per customer; a range from a rollup per customer and month (and the invoices of partial months at its ends).';

CREATE FUNCTION billy.receivables_aging(org text, as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (contact_id text, name text, not_due numeric, days_1_30 numeric, days_31_60 numeric,
               days_61_90 numeric, over_90 numeric, total numeric, not_due_count integer,
               days_1_30_count integer, days_31_60_count integer, days_61_90_count integer,
               over_90_count integer, documents integer, dso numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    o record := billy._analytics_org(org);
    sales numeric;
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- gross sales of the 90 days up to as_of, for days sales outstanding
    SELECT sum(CASE d.kind WHEN 'invoice' THEN d.net_base + d.tax_base ELSE -(d.net_base + d.tax_base) END)
    INTO sales
    FROM billy.analytics_daily d
    WHERE d.organization_id = o.id AND d.kind IN ('invoice', 'creditNote')
      AND d.day > as_of - 90 AND d.day <= as_of;

    RETURN QUERY
    WITH later AS (
        -- what was settled after as_of was still open then
        SELECT m.subject_id, sum(m.amount) AS amount
        FROM billy.balance_modifiers m
        WHERE m.organization_id = o.id AND m.subject_type = 'invoice' AND m.entry_date > as_of
          AND m.is_voided IS NOT TRUE
        GROUP BY m.subject_id
    ), open_docs AS (
        -- open now (the rollup), less what was settled after as_of
        SELECT d.contact_id, d.id, d.due_date AS due,
               CASE WHEN d.kind = 'creditNote' THEN -1 ELSE 1 END
               * CASE WHEN l.amount IS NULL THEN d.balance_base ELSE round((d.balance - l.amount) * d.rate, 2) END AS amount
        FROM billy.analytics_open_documents d
        LEFT JOIN later l ON l.subject_id = d.id
        WHERE d.organization_id = o.id AND d.subject = 'invoice' AND d.entry_date <= as_of
          AND d.balance - COALESCE(l.amount, 0) <> 0
        UNION ALL
        -- settled now, open at as_of
        SELECT i.contact_id, i.id, COALESCE(i.due_date, i.entry_date),
               CASE WHEN i.type = 'creditNote' THEN -1 ELSE 1 END
               * round((COALESCE(i.balance, 0) - l.amount) * COALESCE(i.exchange_rate, 1), 2)
        FROM later l
        JOIN billy.invoices i ON i.organization_id = o.id AND i.id = l.subject_id
        WHERE i.state = 'approved' AND i.deleted_at IS NULL AND i.entry_date <= as_of
          AND COALESCE(i.balance, 0) = 0 AND l.amount <> 0
    ), netted AS (
        -- credit notes pay off their customer's invoices (billy._net_credit_notes)
        SELECT n.contact_id, n.due_date AS due, n.amount
        FROM (SELECT array_agg(d.contact_id) AS c, array_agg(d.id) AS i, array_agg(d.due) AS du,
                     array_agg(d.amount) AS a
              FROM open_docs d) x,
             billy._net_credit_notes(x.c, x.i, x.du, x.a) n
    ), per_customer AS (
        SELECT d.contact_id, billy._aging(d.due, d.amount, as_of) AS b, count(*)::integer AS n
        FROM netted d
        GROUP BY d.contact_id
    ), buckets AS (
        -- the buckets add up: every customer together is their sum
        SELECT true AS is_total, NULL::text AS contact_id,
               ARRAY[sum(x.b[1]), sum(x.b[2]), sum(x.b[3]), sum(x.b[4]), sum(x.b[5]),
                     sum(x.b[6]), sum(x.b[7]), sum(x.b[8]), sum(x.b[9]), sum(x.b[10])] AS b,
               COALESCE(sum(x.n), 0)::integer AS n
        FROM per_customer x
        UNION ALL
        SELECT false, x.contact_id, x.b, x.n FROM per_customer x
    )
    SELECT x.contact_id,
           CASE WHEN x.is_total THEN 'all customers' ELSE COALESCE(c.name, x.contact_id) END,
           COALESCE(x.b[1], 0), COALESCE(x.b[2], 0), COALESCE(x.b[3], 0), COALESCE(x.b[4], 0), COALESCE(x.b[5], 0),
           COALESCE(x.b[1] + x.b[2] + x.b[3] + x.b[4] + x.b[5], 0),
           COALESCE(x.b[6], 0)::integer, COALESCE(x.b[7], 0)::integer, COALESCE(x.b[8], 0)::integer,
           COALESCE(x.b[9], 0)::integer, COALESCE(x.b[10], 0)::integer, x.n,
           CASE WHEN x.is_total AND sales > 0
                THEN round(COALESCE(x.b[1] + x.b[2] + x.b[3] + x.b[4] + x.b[5], 0) / sales * 90, 1) END
    FROM buckets x
    LEFT JOIN billy.contacts c ON NOT x.is_total AND c.organization_id = o.id AND c.id = x.contact_id
    ORDER BY x.is_total DESC, x.b[1] + x.b[2] + x.b[3] + x.b[4] + x.b[5] DESC, x.contact_id;
END
$$;
COMMENT ON FUNCTION billy.receivables_aging(text, date) IS
'What customers owed at as_of (default today), by how long it was past due: not due, 1-30, 31-60, 61-90 and over 90 days, amounts (base currency) and invoice counts. A customer''s open credit notes pay off that customer''s invoices, earliest due first (never below zero; a credit note is not aged: it has no due date). The first row (contact_id NULL) is every customer together, with DSO (days sales outstanding: receivables over the gross sales of the 90 days up to as_of, times 90); then one row per customer, largest first. Balances at a past as_of are rebuilt from the mirror: today''s balance plus what was paid or credited after as_of (voided documents and payments are left out).';

CREATE FUNCTION billy.forecast_revenue(org text, horizon integer DEFAULT 6, grain text DEFAULT 'month',
                                       as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (period_start date, period_end date, actual_to_date numeric, forecast numeric,
               lower_80 numeric, upper_80 numeric, lower_95 numeric, upper_95 numeric,
               method text, mape numeric, backtest_periods integer, history_periods integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    o record := billy._analytics_org(org);
    g text := lower(btrim(grain));
    period_step interval;
    season integer;
    current_period date;
    first_day date;
    history numeric[];
    so_far numeric;
BEGIN
    IF g IS NULL OR g NOT IN ('day', 'week', 'month', 'quarter', 'year') THEN
        RAISE EXCEPTION 'unknown grain "%"', grain
            USING ERRCODE = '22023', HINT = 'Use day, week, month, quarter or year.';
    END IF;
    IF horizon IS NULL OR horizon < 1 OR horizon > 120 THEN
        RAISE EXCEPTION 'horizon must be between 1 and 120 periods, not %', horizon USING ERRCODE = '22023';
    END IF;
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = '22004';
    END IF;
    period_step := CASE g WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days'
                   WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
                   ELSE interval '1 year' END;
    season := CASE g WHEN 'day' THEN 7 WHEN 'week' THEN 52 WHEN 'month' THEN 12 WHEN 'quarter' THEN 4 ELSE 1 END;
    current_period := date_trunc(g, as_of)::date;

    SELECT min(d.day) INTO first_day FROM billy.analytics_daily d
    WHERE d.organization_id = o.id AND d.kind IN ('invoice', 'creditNote') AND d.documents <> 0;
    IF first_day IS NULL OR date_trunc(g, first_day)::date >= current_period THEN
        RAISE EXCEPTION 'no revenue before % to forecast from', current_period
            USING ERRCODE = 'P0002',
                  HINT = 'Forecasts need approved invoices in earlier periods; sync the organization first (billy.sync).';
    END IF;

    -- net revenue of each whole period before the current one, empty ones as 0
    WITH sums AS (
        SELECT date_trunc(g, d.day)::date AS ps,
               sum(CASE d.kind WHEN 'invoice' THEN d.net_base ELSE -d.net_base END) AS net
        FROM billy.analytics_daily d
        WHERE d.organization_id = o.id AND d.kind IN ('invoice', 'creditNote')
          AND d.day >= first_day AND d.day < current_period
        GROUP BY 1
    )
    SELECT array_agg(COALESCE(x.net, 0) ORDER BY s.p) INTO history
    FROM generate_series(date_trunc(g, first_day), (current_period - period_step)::timestamp, period_step) s(p)
    LEFT JOIN sums x ON x.ps = s.p::date;

    SELECT COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base ELSE -d.net_base END), 0) INTO so_far
    FROM billy.analytics_daily d
    WHERE d.organization_id = o.id AND d.kind IN ('invoice', 'creditNote')
      AND d.day >= current_period AND d.day <= as_of;

    RETURN QUERY
    SELECT (current_period + (f.step - 1) * period_step)::date,
           (current_period + f.step * period_step - interval '1 day')::date,
           CASE WHEN f.step = 1 THEN so_far END,
           f.forecast, f.lower_80, f.upper_80, f.lower_95, f.upper_95, f.method, f.mape,
           f.backtest_periods, cardinality(history)
    FROM billy._forecast(history, season, horizon) f
    ORDER BY f.step;
END
$$;
COMMENT ON FUNCTION billy.forecast_revenue(text, integer, text, date) IS
'Forecasts net revenue (base currency) for the horizon periods (day, week, month, quarter or year) starting with the one holding as_of (default today), from the whole periods before it. The model is chosen by the history''s length: additive Holt-Winters (season of 7 days, 52 weeks, 12 months or 4 quarters) fitted by least squares when two seasons are known, else Holt''s linear trend, else the mean. Each row: the period, what the first one has so far (actual_to_date), the forecast with 80% and 95% intervals, the method, and its backtest error: mape, the mean absolute percentage error of forecasting the last backtest_periods periods of the history from the ones before, so a user can judge it.';

------------------------------------------------------------------------------
-- Dashboards: views over the rollups (RLS applies: security_invoker)
------------------------------------------------------------------------------

CREATE VIEW billy.dashboard_summary WITH (security_invoker = true) AS
SELECT s.*
FROM billy.organizations o
CROSS JOIN LATERAL billy.analytics_summary(o.id, 'month', CURRENT_DATE) s;
COMMENT ON VIEW billy.dashboard_summary IS
'Per organization: this month to date against the same days of last month (billy.analytics_summary(org, ''month'')): revenue, VAT, counts, customers, outstanding and overdue, paid, costs, margin.';

CREATE VIEW billy.dashboard_monthly WITH (security_invoker = true) AS
SELECT d.organization_id,
       date_trunc('month', d.day)::date AS month,
       COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base WHEN 'creditNote' THEN -d.net_base END), 0) AS net_revenue,
       COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.tax_base WHEN 'creditNote' THEN -d.tax_base END), 0) AS vat,
       COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base + d.tax_base WHEN 'creditNote' THEN -(d.net_base + d.tax_base) END), 0) AS gross_revenue,
       COALESCE(sum(d.documents) FILTER (WHERE d.kind OPERATOR(pg_catalog.=) 'invoice'), 0)::integer AS invoices,
       COALESCE(sum(d.documents) FILTER (WHERE d.kind OPERATOR(pg_catalog.=) 'creditNote'), 0)::integer AS credit_notes,
       COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.paid_base WHEN 'creditNote' THEN -d.paid_base END), 0) AS received,
       COALESCE(sum(CASE d.kind WHEN 'bill' THEN d.net_base WHEN 'billCreditNote' THEN -d.net_base END), 0) AS costs,
       COALESCE(sum(CASE d.kind WHEN 'bill' THEN d.paid_base WHEN 'billCreditNote' THEN -d.paid_base END), 0) AS paid_out,
       COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base WHEN 'creditNote' THEN -d.net_base
                                WHEN 'bill' THEN -d.net_base WHEN 'billCreditNote' THEN d.net_base END), 0) AS margin
FROM billy.analytics_daily d
GROUP BY 1, 2;
COMMENT ON VIEW billy.dashboard_monthly IS
'Per organization and month, in the base currency: net revenue, VAT and gross revenue (invoices minus credit notes), invoice and credit note counts, received (payments minus refunds), costs (bills, net), paid out, and the margin (net revenue minus costs).';

CREATE VIEW billy.dashboard_daily WITH (security_invoker = true) AS
SELECT d.organization_id, d.day,
       COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base WHEN 'creditNote' THEN -d.net_base END), 0) AS net_revenue,
       COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.net_base + d.tax_base WHEN 'creditNote' THEN -(d.net_base + d.tax_base) END), 0) AS gross_revenue,
       COALESCE(sum(d.documents) FILTER (WHERE d.kind OPERATOR(pg_catalog.=) 'invoice'), 0)::integer AS invoices,
       COALESCE(sum(CASE d.kind WHEN 'invoice' THEN d.paid_base WHEN 'creditNote' THEN -d.paid_base END), 0) AS received,
       COALESCE(sum(CASE d.kind WHEN 'bill' THEN d.net_base WHEN 'billCreditNote' THEN -d.net_base END), 0) AS costs
FROM billy.analytics_daily d
WHERE d.day OPERATOR(pg_catalog.>) (CURRENT_DATE OPERATOR(pg_catalog.-) 90)
GROUP BY 1, 2;
COMMENT ON VIEW billy.dashboard_daily IS
'Per organization and day of the last 90 days (days with activity), in the base currency: net and gross revenue, invoices, received and costs.';

CREATE VIEW billy.dashboard_receivables WITH (security_invoker = true) AS
SELECT x.organization_id,
       CASE WHEN x.kind OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'creditNote']) THEN 'receivable' ELSE 'payable' END AS side,
       COALESCE(sum(x.amount), 0) AS total,
       COALESCE(sum(x.amount) FILTER (WHERE x.days OPERATOR(pg_catalog.<=) 0), 0) AS not_due,
       COALESCE(sum(x.amount) FILTER (WHERE x.days OPERATOR(pg_catalog.>=) 1 AND x.days OPERATOR(pg_catalog.<=) 30), 0) AS days_1_30,
       COALESCE(sum(x.amount) FILTER (WHERE x.days OPERATOR(pg_catalog.>=) 31 AND x.days OPERATOR(pg_catalog.<=) 60), 0) AS days_31_60,
       COALESCE(sum(x.amount) FILTER (WHERE x.days OPERATOR(pg_catalog.>=) 61 AND x.days OPERATOR(pg_catalog.<=) 90), 0) AS days_61_90,
       COALESCE(sum(x.amount) FILTER (WHERE x.days OPERATOR(pg_catalog.>) 90), 0) AS over_90,
       COALESCE(sum(x.documents) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'bill'])), 0)::integer AS open_documents,
       COALESCE(sum(x.documents) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'bill'])
                                         AND x.days OPERATOR(pg_catalog.>) 0), 0)::integer AS overdue_documents
-- receivables and payables alike: a contact's open credit notes netted
-- against that contact's open invoices or bills (billy._net_credit_notes)
FROM (SELECT r.organization_id, r.subject AS kind, 1 AS documents,
             CURRENT_DATE OPERATOR(pg_catalog.-) n.due_date AS days, n.amount
      FROM (SELECT d.organization_id, d.subject, array_agg(d.contact_id) AS c, array_agg(d.id) AS i,
                   array_agg(d.due_date) AS du,
                   array_agg(CASE WHEN d.kind OPERATOR(pg_catalog.=) ANY (ARRAY['creditNote', 'billCreditNote'])
                                  THEN OPERATOR(pg_catalog.-) d.balance_base ELSE d.balance_base END) AS a
            FROM billy.analytics_open_documents d
            GROUP BY d.organization_id, d.subject) r,
           LATERAL billy._net_credit_notes(r.c, r.i, r.du, r.a) n) x
GROUP BY 1, 2;
COMMENT ON VIEW billy.dashboard_receivables IS
'Per organization, receivables (invoices, each customer''s open credit notes netted against that customer''s invoices) and payables (bills, each supplier''s open bill credit notes netted against that supplier''s bills), never below zero, open now, in the base currency, by days past due today: not due, 1-30, 31-60, 61-90, over 90; with the open and overdue document counts (invoices or bills still open after the netting). billy.receivables_aging has the receivables per customer and at any date.';

CREATE VIEW billy.dashboard_top_customers WITH (security_invoker = true) AS
SELECT r.organization_id, r.rank, r.contact_id, c.name, r.net_revenue, r.invoices, r.share_pct
FROM (SELECT m.organization_id, m.contact_id, sum(m.net_base) AS net_revenue, sum(m.invoices)::integer AS invoices,
             round(100 OPERATOR(pg_catalog.*) sum(m.net_base) OPERATOR(pg_catalog./)
                   NULLIF(sum(sum(m.net_base)) OVER (PARTITION BY m.organization_id), 0), 1) AS share_pct,
             row_number() OVER (PARTITION BY m.organization_id ORDER BY sum(m.net_base) DESC, m.contact_id) AS rank
      FROM billy.analytics_customer_months m
      WHERE m.month OPERATOR(pg_catalog.>=) (date_trunc('month', CURRENT_DATE) OPERATOR(pg_catalog.-) interval '11 months')::date
      GROUP BY m.organization_id, m.contact_id) r
LEFT JOIN billy.contacts c ON c.organization_id OPERATOR(pg_catalog.=) r.organization_id AND c.id OPERATOR(pg_catalog.=) r.contact_id
WHERE r.rank OPERATOR(pg_catalog.<=) 10;
COMMENT ON VIEW billy.dashboard_top_customers IS
'Per organization, the 10 best customers of the last 12 months (this month and the 11 before) by net revenue in the base currency, with their invoices and share of net revenue (percent).';

CREATE FUNCTION billy.enable_dashboard_realtime() RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pub text := billy.enable_realtime();
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['analytics_daily', 'analytics_open', 'analytics_customer_months'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_publication_tables
                       WHERE pubname = pub AND schemaname = 'billy' AND tablename = t) THEN
            EXECUTE format('ALTER PUBLICATION %I ADD TABLE billy.%I', pub, t);
        END IF;
    END LOOP;
    RETURN pub;
END
$$;
COMMENT ON FUNCTION billy.enable_dashboard_realtime() IS
'billy.enable_realtime(), plus the analytics rollups (analytics_daily, analytics_open, analytics_customer_months) in the same publication; returns its name. A Supabase dashboard subscribes to changes of those small tables (filtered by organization_id; row-level security applies) and re-reads the billy.dashboard_* views when one arrives: a sync that changes nothing sends nothing.';

GRANT SELECT ON billy.dashboard_summary, billy.dashboard_monthly, billy.dashboard_daily,
    billy.dashboard_receivables, billy.dashboard_top_customers TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.analytics_summary(text, text, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.revenue_trends(text, date, date, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.customer_insights(text, integer, date, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.receivables_aging(text, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.forecast_revenue(text, integer, text, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.analytics_rebuild(text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.enable_dashboard_realtime() TO billy_admin;
GRANT EXECUTE ON FUNCTION billy._analytics_period(text, date, integer) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._analytics_org(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._customer_sales(text, date, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._bitmap_count(bytea) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._bitmap_and(bytea, bytea) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._bitmap_andnot(bytea, bytea) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._bitmap_union(bytea) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._aging(date, numeric, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._net_credit_notes(text[], text[], date[], numeric[]) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._forecast(numeric[], integer, integer) TO billy_reader;
