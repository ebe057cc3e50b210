------------------------------------------------------------------------------
-- Derived tables of a first sync, built in one pass at the end of its scan
--
-- The analytics rollups and the VAT lines follow every write of invoices,
-- bills, their lines and balance modifiers through statement triggers, the
-- ledger's rollup (billy.ledger_sums, 75-ledger.sql) every write of
-- transactions and their postings.  A
-- first sync of a resource (a full scan while the mirror holds none of the
-- organization's records of it) would run those triggers once per page,
-- each adding to rollup rows the page before also wrote; instead it marks
-- the organization and resource in billy.derived_pending before its first
-- page (committed with that page), the triggers skip the rows of marked
-- organizations, and at the end of the scan billy._derived_finish removes
-- the mark and rebuilds those tables from the mirror in a few set-based
-- statements.  Each page still commits whole; a scan cut short leaves the
-- mark, and the next scan of the resource that finishes rebuilds them.
--
-- Locking: a trigger that skips an organization holds FOR KEY SHARE on its
-- mark until its transaction ends, and billy._derived_finish deletes the
-- mark before it reads the mirror, so it waits for every writer that
-- skipped; a writer that comes later finds no mark (after waiting, if the
-- rebuild has not committed yet) and maintains the tables as usual.
------------------------------------------------------------------------------

-- (its callers run with enable_seqscan off; a seq scan of this small table
-- costed that way crossed jit_above_cost, and compiling it took 0.5 s a call)
CREATE FUNCTION billy._derived_skipped(res text, orgs text[]) RETURNS text[]
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = on
SET jit = off
AS $$
    SELECT COALESCE(array_agg(x.organization_id), '{}') FROM (
        SELECT p.organization_id FROM billy.derived_pending p
        WHERE p.resource = res AND p.organization_id = ANY (orgs)
        FOR KEY SHARE) x
$$;
COMMENT ON FUNCTION billy._derived_skipped(text, text[]) IS
'Of the given organizations, those whose tables derived from the resource (invoices, bills or transactions) a first sync builds at its end (billy.derived_pending), locked FOR KEY SHARE until the caller''s transaction ends: the triggers skip their rows. Internal.';

CREATE FUNCTION billy._derived_begin(org text, res text, run bigint) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    empty boolean;
BEGIN
    IF res NOT IN ('invoices', 'bills', 'daybookTransactions', 'transactions') THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM billy.%I WHERE organization_id = $1)', billy._resource_table(res))
        INTO empty USING org;
    IF NOT empty THEN
        RETURN false;
    END IF;
    INSERT INTO billy.derived_pending (organization_id, resource, sync_run_id) VALUES (org, res, run)
    ON CONFLICT (organization_id, resource) DO NOTHING;
    RETURN true;
END
$$;
COMMENT ON FUNCTION billy._derived_begin(text, text, bigint) IS
'Called by the sync engine before the first page of a full scan: when the mirror holds none of the organization''s records of the resource (invoices, bills, daybookTransactions or transactions), marks its derived tables to be built at the end of the scan (billy.derived_pending). Returns whether it did. Internal.';

-- _analytics_rebuild_family recomputes one family's part of an
-- organization's rollups (invoice: invoices and credit notes, the customer
-- rollups; bill: bills and bill credit notes) from the mirror: its rows
-- out, then every document's facts added in one statement per rollup, with
-- the payments of those documents.
CREATE FUNCTION billy._analytics_rebuild_family(org text, family text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    kinds text[] := CASE family WHEN 'bill' THEN ARRAY['bill', 'billCreditNote'] ELSE ARRAY['invoice', 'creditNote'] END;
    docs billy._analytics_document[];
BEGIN
    PERFORM billy._analytics_lock(ARRAY[org]);
    DELETE FROM billy.analytics_daily WHERE organization_id = org AND kind = ANY (kinds);
    DELETE FROM billy.analytics_open WHERE organization_id = org AND kind = ANY (kinds);
    DELETE FROM billy.analytics_open_documents WHERE organization_id = org AND subject = family;
    IF family = 'invoice' THEN
        DELETE FROM billy.analytics_customer_months WHERE organization_id = org;
        DELETE FROM billy.analytics_customers WHERE organization_id = org;
        DELETE FROM billy.analytics_customer_days WHERE organization_id = org;
        DELETE FROM billy.analytics_contacts WHERE organization_id = org;
    END IF;
    EXECUTE format($q$
        SELECT array_agg(x.d) FROM (
            SELECT billy._document_fact(r.organization_id, r.id, %L = 'bill', r.type, r.state, r.deleted_at,
                       r.entry_date, r.due_date, r.contact_id, r.currency_id, r.exchange_rate, r.amount,
                       r.tax, r.balance, 1) AS d
            FROM billy.%I r WHERE r.organization_id = $1) x
        WHERE (x.d).id IS NOT NULL$q$, family, family || 's')
        INTO docs USING org;
    -- the customers' numbers in the bitmaps, given at once (one probe of the
    -- highest number per new customer, over the entries just deleted, made
    -- this quadratic)
    IF family = 'invoice' THEN
        INSERT INTO billy.analytics_contacts (organization_id, contact_id, ordinal)
        SELECT org, c.contact_id, row_number() OVER (ORDER BY c.contact_id) - 1
        FROM (SELECT DISTINCT d.contact_id FROM unnest(docs) d
              WHERE d.kind = 'invoice' AND d.contact_id IS NOT NULL) c;
    END IF;
    PERFORM billy._analytics_documents('{}', COALESCE(docs, '{}'), family);
END
$$;
COMMENT ON FUNCTION billy._analytics_rebuild_family(text, text) IS
'Recomputes the rollups of an organization''s invoices (family invoice) or bills (family bill) from the mirror. Internal.';

-- _vat_rebuild_kind recomputes an organization's VAT lines of invoices or
-- bills from the mirror, in one statement (billy._vat_fact_rows: one probe
-- of the lines' index per document; a hash join of the documents and their
-- lines measured no faster, and would have been a second formulation)
CREATE FUNCTION billy._vat_rebuild_kind(org text, kind text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM billy._vat_facts f WHERE f.organization_id = org AND f.document_type = kind;
    EXECUTE format('INSERT INTO billy._vat_facts SELECT * FROM billy._vat_fact_rows($1, $2, '
                   'ARRAY(SELECT d.id FROM billy.%I d WHERE d.organization_id = $2), NULL)',
                   CASE kind WHEN 'daybookTransaction' THEN 'daybook_transactions' ELSE kind || 's' END)
        USING kind, org;
END
$$;
COMMENT ON FUNCTION billy._vat_rebuild_kind(text, text) IS
'Recomputes an organization''s rows of billy._vat_facts for its invoices, bills or journal entries (kind invoice, bill, daybookTransaction) from the mirror. Internal.';

CREATE FUNCTION billy._derived_finish(org text, res text) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    family text := CASE res WHEN 'invoices' THEN 'invoice' WHEN 'bills' THEN 'bill' WHEN 'daybookTransactions' THEN 'daybookTransaction' END;
BEGIN
    IF family IS NULL AND res IS DISTINCT FROM 'transactions' THEN
        RETURN false;
    END IF;
    -- waits for the writers that skipped the organization (see above)
    DELETE FROM billy.derived_pending WHERE organization_id = org AND resource = res;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF res = 'transactions' THEN
        -- the ledger's rollup (75-ledger.sql), from the postings
        PERFORM billy._ledger_rebuild_sums(org);
        RETURN true;
    END IF;
    IF family <> 'daybookTransaction' THEN
        -- journal entries have no analytics rollups, only VAT lines
        PERFORM billy._analytics_rebuild_family(org, family);
    END IF;
    PERFORM billy._vat_rebuild_kind(org, family);
    RETURN true;
END
$$;
COMMENT ON FUNCTION billy._derived_finish(text, text) IS
'Called by the sync engine at the end of a scan: when the organization''s derived tables of the resource are marked (billy.derived_pending), removes the mark and rebuilds them from the mirror (invoices, bills: their analytics rollups and VAT lines; journal entries: their VAT lines; transactions: the ledger rollup). Returns whether it did. Internal.';
