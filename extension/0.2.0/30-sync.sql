------------------------------------------------------------------------------
-- Sync bookkeeping: runs, state per organization and resource, the change log
------------------------------------------------------------------------------

CREATE TABLE billy.sync_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource        text NOT NULL,
    mode            text NOT NULL CHECK (mode OPERATOR(pg_catalog.=) ANY (ARRAY['full', 'hot'])),
    job_id          bigint,
    started_by      name NOT NULL DEFAULT CURRENT_USER,
    state           text NOT NULL DEFAULT 'running'
                    CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'succeeded', 'failed'])),
    started_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    finished_at     timestamptz,
    pages           integer NOT NULL DEFAULT 0,
    page_count      integer,
    requests        integer NOT NULL DEFAULT 0,
    bytes           bigint NOT NULL DEFAULT 0,
    rows_seen       bigint NOT NULL DEFAULT 0,
    rows_inserted   bigint NOT NULL DEFAULT 0,
    rows_updated    bigint NOT NULL DEFAULT 0,
    rows_deleted    bigint NOT NULL DEFAULT 0,
    rows_verified   bigint NOT NULL DEFAULT 0,
    rows_failed     bigint NOT NULL DEFAULT 0,
    failed_records  jsonb,
    complete        boolean NOT NULL DEFAULT false,
    error           text,
    error_cause     text,
    error_detail    text,
    error_sqlstate  text
);
CREATE INDEX sync_runs_org ON billy.sync_runs (organization_id, resource, id);
COMMENT ON TABLE billy.sync_runs IS
'One row per scan of one resource of one organization. Recorded as running before the scan starts (a crash leaves it running, and the next scan of that resource marks it failed). complete: every page was read, so deletions were decided. rows_verified: records missing from the scan that were looked up one by one before being marked deleted. rows_failed: records the mirror refused (a value it cannot store, a constraint): the rest of their page was stored, the next scan tries them again; failed_records lists the first 20 as {id, error, sqlstate}. On failure, error_cause is short and stable (connect, timeout, transfer, http_401, http_429, http_5xx, invalid_json, too_large, ...). Kept as long as billy.changes.';

CREATE TABLE billy.sync_state (
    organization_id         text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource                text NOT NULL,
    last_started_at         timestamptz,
    last_finished_at        timestamptz,
    last_success_at         timestamptz,
    last_complete_scan_at   timestamptz,
    last_hot_scan_at        timestamptz,
    consecutive_failures    integer NOT NULL DEFAULT 0,
    backoff_until           timestamptz,
    last_run_id             bigint,
    last_error              text,
    last_error_cause        text,
    last_error_at           timestamptz,
    PRIMARY KEY (organization_id, resource)
);
COMMENT ON TABLE billy.sync_state IS
'Per organization and resource: the last scans and the failure streak. last_complete_scan_at is when the last complete full scan started: every record of the resource not written since was confirmed upstream at that moment. backoff_until: after consecutive failures, queued syncs wait until then (exponential, up to an hour).';

CREATE TABLE billy.changes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text NOT NULL,
    resource        text NOT NULL,
    record_id       text NOT NULL,
    operation       text NOT NULL CHECK (operation OPERATOR(pg_catalog.=) ANY (ARRAY['insert', 'update', 'delete'])),
    changed_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sync_run_id     bigint
);
CREATE INDEX changes_record ON billy.changes (organization_id, resource, record_id, changed_at);
CREATE INDEX changes_time ON billy.changes (changed_at);
COMMENT ON TABLE billy.changes IS
'Every insert, update and deletion billy saw upstream: organization, resource, record id, operation, when, and the sync run. Kept billy.changes_retention_days days.';

-- A first sync of invoices or bills fills the tables derived from them
-- (analytics rollups, VAT lines) in one set-based pass at the end of its
-- scan instead of page by page: while an organization's row is here, the
-- triggers that keep those tables current skip its rows of that resource,
-- and the next scan of the resource that finishes rebuilds them from the
-- mirror (billy._derived_finish) and removes the row.  A crash in the
-- middle leaves the row, so the state is always either complete or marked.
CREATE TABLE billy.derived_pending (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource        text NOT NULL CHECK (resource OPERATOR(pg_catalog.=) ANY (ARRAY['invoices', 'bills'])),
    since           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sync_run_id     bigint,
    PRIMARY KEY (organization_id, resource)
);
COMMENT ON TABLE billy.derived_pending IS
'Organizations and resources (invoices, bills) whose derived tables (the analytics rollups and VAT lines of those documents) are being built in one pass at the end of a first sync, or were left to rebuild by a first sync cut short: until the row goes, they are incomplete for that organization. The next scan of the resource that finishes rebuilds them from the mirror and removes the row. sync_run_id: the run that started it.';

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sync_runs', 'sync_state', 'changes', 'derived_pending']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
        EXECUTE pg_catalog.format('GRANT SELECT ON billy.%I TO billy_reader', t);
    END LOOP;
END
$rls$;

------------------------------------------------------------------------------
-- Applying a page: one function per resource, called by the sync engine (C)
-- with the page's changed records (a jsonb array) and their content hashes.
-- Parents are upserted, their children replaced, each change logged.
-- Returns {inserted, updated}.
------------------------------------------------------------------------------

CREATE FUNCTION billy._log_changes(org text, res text, run bigint, ids text[], inserted boolean[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO billy.changes (organization_id, resource, record_id, operation, sync_run_id)
    SELECT org, res, u.id, CASE WHEN u.ins THEN 'insert' ELSE 'update' END, run
    FROM unnest(ids, inserted) AS u(id, ins);
END;
COMMENT ON FUNCTION billy._log_changes(text, text, bigint, text[], boolean[]) IS 'Records applied changes in billy.changes. Internal.';

CREATE FUNCTION billy._apply_contacts(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.contacts AS t (
            organization_id, id, type, name, country_id, street, city, zipcode, state, contact_no,
            phone, registration_no, ean, locale_id, currency_id, is_customer, is_supplier,
            is_archived, is_sales_tax_exempt, payment_terms_mode, payment_terms_days,
            created_time, raw, content_hash, sync_run_id)
        SELECT org, r ->> 'id', r ->> 'type', r ->> 'name', r ->> 'countryId', r ->> 'street',
            r ->> 'cityText', r ->> 'zipcodeText', r ->> 'stateText', r ->> 'contactNo',
            r ->> 'phone', r ->> 'registrationNo', r ->> 'ean', r ->> 'localeId', r ->> 'currencyId',
            (r ->> 'isCustomer')::boolean, (r ->> 'isSupplier')::boolean,
            (r ->> 'isArchived')::boolean, (r ->> 'isSalesTaxExempt')::boolean,
            r ->> 'paymentTermsMode', (r ->> 'paymentTermsDays')::integer,
            billy._ts(r ->> 'createdTime'), r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            type = EXCLUDED.type, name = EXCLUDED.name, country_id = EXCLUDED.country_id,
            street = EXCLUDED.street, city = EXCLUDED.city, zipcode = EXCLUDED.zipcode,
            state = EXCLUDED.state, contact_no = EXCLUDED.contact_no, phone = EXCLUDED.phone,
            registration_no = EXCLUDED.registration_no, ean = EXCLUDED.ean,
            locale_id = EXCLUDED.locale_id, currency_id = EXCLUDED.currency_id,
            is_customer = EXCLUDED.is_customer, is_supplier = EXCLUDED.is_supplier,
            is_archived = EXCLUDED.is_archived, is_sales_tax_exempt = EXCLUDED.is_sales_tax_exempt,
            payment_terms_mode = EXCLUDED.payment_terms_mode,
            payment_terms_days = EXCLUDED.payment_terms_days, created_time = EXCLUDED.created_time,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;

    DELETE FROM billy.contact_persons WHERE organization_id = org AND contact_id = ANY (ARRAY(
        SELECT r ->> 'id' FROM jsonb_array_elements(records) r WHERE r ? 'contactPersons'));
    -- A person follows its contact: one whose id the mirror has under another
    -- contact (books replaced upstream) moves, instead of failing on the key
    -- and failing every later sync of contacts the same way.  Listed twice in
    -- a page, the last listing wins.
    INSERT INTO billy.contact_persons AS p (organization_id, id, contact_id, name, email, is_primary, raw)
    SELECT DISTINCT ON (c ->> 'id') org, c ->> 'id', r ->> 'id', c ->> 'name', c ->> 'email', (c ->> 'isPrimary')::boolean, c
    FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, rn),
         jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'contactPersons') = 'array' THEN r -> 'contactPersons' ELSE '[]' END)
             WITH ORDINALITY AS x(c, cn)
    WHERE c ->> 'id' IS NOT NULL
    ORDER BY c ->> 'id', rn DESC, cn DESC
    ON CONFLICT (organization_id, id) DO UPDATE SET
        contact_id = EXCLUDED.contact_id, name = EXCLUDED.name, email = EXCLUDED.email,
        is_primary = EXCLUDED.is_primary, raw = EXCLUDED.raw;

    PERFORM billy._log_changes(org, 'contacts', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

CREATE FUNCTION billy._apply_products(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.products AS t (
            organization_id, id, name, description, product_no, suppliers_product_no, account_id,
            sales_tax_ruleset_id, is_archived, raw, content_hash, sync_run_id)
        SELECT org, r ->> 'id', r ->> 'name', r ->> 'description', r ->> 'productNo',
            r ->> 'suppliersProductNo', r ->> 'accountId', r ->> 'salesTaxRulesetId',
            (r ->> 'isArchived')::boolean, r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            name = EXCLUDED.name, description = EXCLUDED.description,
            product_no = EXCLUDED.product_no, suppliers_product_no = EXCLUDED.suppliers_product_no,
            account_id = EXCLUDED.account_id, sales_tax_ruleset_id = EXCLUDED.sales_tax_ruleset_id,
            is_archived = EXCLUDED.is_archived,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;

    DELETE FROM billy.product_prices WHERE organization_id = org AND product_id = ANY (ARRAY(
        SELECT r ->> 'id' FROM jsonb_array_elements(records) r WHERE r ? 'prices'));
    INSERT INTO billy.product_prices (organization_id, id, product_id, currency_id, unit_price, raw)
    SELECT org, p ->> 'id', r ->> 'id', p ->> 'currencyId', (p ->> 'unitPrice')::numeric, p
    FROM jsonb_array_elements(records) r,
         jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'prices') = 'array' THEN r -> 'prices' ELSE '[]' END) p;

    PERFORM billy._log_changes(org, 'products', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

-- _delete_children: before a page's children are inserted, the old children
-- of its updated parents go (those whose record carries the children's key:
-- key).  A parent just inserted has none (children reference their parent,
-- ON DELETE CASCADE), so a first sync deletes nothing.  Found one index
-- probe per parent (a lateral join, then by ctid): a plan that filtered the
-- organization's children instead, which empty statistics led to, would make
-- a sync quadratic.
CREATE FUNCTION billy._delete_children(tbl text, parent_col text, org text, records jsonb, key text,
                                       ids text[], ins boolean[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF true = ALL (ins) THEN
        RETURN;
    END IF;
    EXECUTE format($q$
        DELETE FROM %1$s
        WHERE ctid = ANY (ARRAY(
            SELECT x.ctid
            FROM (SELECT r ->> 'id' AS id FROM jsonb_array_elements($2) r WHERE r ? $3
                  INTERSECT SELECT u.id FROM unnest($4, $5) u(id, ins) WHERE NOT u.ins) k
            CROSS JOIN LATERAL (SELECT c.ctid FROM %1$s c
                                WHERE c.organization_id = $1 AND c.%2$I = k.id OFFSET 0) x))$q$, tbl, parent_col)
        USING org, records, key, ids, ins;
END
$$;
COMMENT ON FUNCTION billy._delete_children(text, text, text, jsonb, text, text[], boolean[]) IS 'Deletes the children (in table tbl, pointing at their parent through parent_col) of the records of a page that were updated and carry key. Internal.';

-- the balance modifiers embedded in invoices or bills.  The old ones are
-- found by subject, one probe of the (organization, subject type, subject)
-- index per document (a lateral join, then by ctid): a plan that filtered the
-- modifiers of the whole organization instead, which the planner picked while
-- the mirror's statistics were those of an empty table (during a first
-- sync), made the sync quadratic.  Modifiers have no foreign key to their
-- document, so a document just inserted may still have some (one deleted
-- outright earlier, then found again).
CREATE FUNCTION billy._apply_balance_modifiers(org text, kind text, records jsonb) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    DELETE FROM billy.balance_modifiers
    WHERE ctid = ANY (ARRAY(
        SELECT x.ctid
        FROM (SELECT r ->> 'id' AS id FROM jsonb_array_elements(records) r WHERE r ? 'balanceModifiers') k
        CROSS JOIN LATERAL (SELECT m.ctid FROM billy.balance_modifiers m
                            WHERE m.organization_id = org AND m.subject_type = kind AND m.subject_id = k.id
                            OFFSET 0) x));
    INSERT INTO billy.balance_modifiers (
        organization_id, id, subject_type, subject_id, modifier_reference, modifier_type, modifier_id,
        amount, entry_date, realized_currency_difference, is_voided, raw)
    SELECT org, m ->> 'id', kind, r ->> 'id', m ->> 'modifierReference',
        split_part(m ->> 'modifierReference', ':', 1), nullif(split_part(m ->> 'modifierReference', ':', 2), ''),
        (m ->> 'amount')::numeric, (m ->> 'entryDate')::date,
        (m ->> 'realizedCurrencyDifference')::numeric, (m ->> 'isVoided')::boolean, m
    FROM jsonb_array_elements(records) r,
         jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'balanceModifiers') = 'array' THEN r -> 'balanceModifiers' ELSE '[]' END) m;
END;
COMMENT ON FUNCTION billy._apply_balance_modifiers(text, text, jsonb) IS 'Replaces the balance modifiers of changed invoices or bills. Internal.';

CREATE FUNCTION billy._apply_invoices(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.invoices AS t (
            organization_id, id, type, state, sent_state, invoice_no, contact_id,
            att_contact_person_id, entry_date, due_date, payment_terms_mode, payment_terms_days,
            tax_mode, currency_id, exchange_rate, amount, tax, gross_amount, balance, is_paid,
            credited_invoice_id, external_id, order_no, line_description, created_time,
            approved_time, raw, content_hash, sync_run_id)
        SELECT org, r ->> 'id', r ->> 'type', r ->> 'state', r ->> 'sentState', r ->> 'invoiceNo',
            r ->> 'contactId', r ->> 'attContactPersonId', (r ->> 'entryDate')::date,
            (r ->> 'dueDate')::date, r ->> 'paymentTermsMode', (r ->> 'paymentTermsDays')::integer,
            r ->> 'taxMode', r ->> 'currencyId', (r ->> 'exchangeRate')::numeric,
            (r ->> 'amount')::numeric, (r ->> 'tax')::numeric,
            coalesce((r ->> 'grossAmount')::numeric, (r ->> 'amount')::numeric + (r ->> 'tax')::numeric),
            (r ->> 'balance')::numeric, (r ->> 'isPaid')::boolean, r ->> 'creditedInvoiceId',
            r ->> 'externalId', r ->> 'orderNo', r ->> 'lineDescription',
            billy._ts(r ->> 'createdTime'), billy._ts(r ->> 'approvedTime'), r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            type = EXCLUDED.type, state = EXCLUDED.state, sent_state = EXCLUDED.sent_state,
            invoice_no = EXCLUDED.invoice_no, contact_id = EXCLUDED.contact_id,
            att_contact_person_id = EXCLUDED.att_contact_person_id, entry_date = EXCLUDED.entry_date,
            due_date = EXCLUDED.due_date, payment_terms_mode = EXCLUDED.payment_terms_mode,
            payment_terms_days = EXCLUDED.payment_terms_days, tax_mode = EXCLUDED.tax_mode,
            currency_id = EXCLUDED.currency_id, exchange_rate = EXCLUDED.exchange_rate,
            amount = EXCLUDED.amount, tax = EXCLUDED.tax, gross_amount = EXCLUDED.gross_amount,
            balance = EXCLUDED.balance, is_paid = EXCLUDED.is_paid,
            credited_invoice_id = EXCLUDED.credited_invoice_id, external_id = EXCLUDED.external_id,
            order_no = EXCLUDED.order_no, line_description = EXCLUDED.line_description,
            created_time = EXCLUDED.created_time, approved_time = EXCLUDED.approved_time,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;

    PERFORM billy._delete_children('billy.invoice_lines', 'invoice_id', org, records, 'lines', ids, ins);
    INSERT INTO billy.invoice_lines (
        organization_id, id, invoice_id, product_id, description, quantity, unit_price, amount,
        tax, tax_rate_id, discount_mode, discount_value, priority, raw)
    SELECT org, l ->> 'id', r ->> 'id', l ->> 'productId', l ->> 'description',
        (l ->> 'quantity')::numeric, (l ->> 'unitPrice')::numeric, (l ->> 'amount')::numeric,
        (l ->> 'tax')::numeric, l ->> 'taxRateId', l ->> 'discountMode',
        (l ->> 'discountValue')::numeric, (l ->> 'priority')::integer, l
    FROM jsonb_array_elements(records) r,
         jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'lines') = 'array' THEN r -> 'lines' ELSE '[]' END) l;

    PERFORM billy._apply_balance_modifiers(org, 'invoice', records);
    PERFORM billy._log_changes(org, 'invoices', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

CREATE FUNCTION billy._apply_bills(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.bills AS t (
            organization_id, id, type, state, contact_id, contact_name, entry_date, due_date,
            payment_date, payment_account_id, suppliers_invoice_no, voucher_no, tax_mode,
            currency_id, exchange_rate, amount, tax, gross_amount, balance, is_paid, is_bare,
            credited_bill_id, line_description, created_time, approved_time, raw, content_hash,
            sync_run_id)
        SELECT org, r ->> 'id', r ->> 'type', r ->> 'state', r ->> 'contactId', r ->> 'contactName',
            (r ->> 'entryDate')::date, (r ->> 'dueDate')::date, (r ->> 'paymentDate')::date,
            r ->> 'paymentAccountId', r ->> 'suppliersInvoiceNo', r ->> 'voucherNo', r ->> 'taxMode',
            r ->> 'currencyId', (r ->> 'exchangeRate')::numeric, (r ->> 'amount')::numeric,
            (r ->> 'tax')::numeric,
            coalesce((r ->> 'grossAmount')::numeric, (r ->> 'amount')::numeric + (r ->> 'tax')::numeric),
            (r ->> 'balance')::numeric, (r ->> 'isPaid')::boolean, (r ->> 'isBare')::boolean,
            r ->> 'creditedBillId', r ->> 'lineDescription', billy._ts(r ->> 'createdTime'),
            billy._ts(r ->> 'approvedTime'), r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            type = EXCLUDED.type, state = EXCLUDED.state, contact_id = EXCLUDED.contact_id,
            contact_name = EXCLUDED.contact_name, entry_date = EXCLUDED.entry_date,
            due_date = EXCLUDED.due_date, payment_date = EXCLUDED.payment_date,
            payment_account_id = EXCLUDED.payment_account_id,
            suppliers_invoice_no = EXCLUDED.suppliers_invoice_no, voucher_no = EXCLUDED.voucher_no,
            tax_mode = EXCLUDED.tax_mode, currency_id = EXCLUDED.currency_id,
            exchange_rate = EXCLUDED.exchange_rate, amount = EXCLUDED.amount, tax = EXCLUDED.tax,
            gross_amount = EXCLUDED.gross_amount, balance = EXCLUDED.balance,
            is_paid = EXCLUDED.is_paid, is_bare = EXCLUDED.is_bare,
            credited_bill_id = EXCLUDED.credited_bill_id, line_description = EXCLUDED.line_description,
            created_time = EXCLUDED.created_time, approved_time = EXCLUDED.approved_time,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;

    PERFORM billy._delete_children('billy.bill_lines', 'bill_id', org, records, 'lines', ids, ins);
    INSERT INTO billy.bill_lines (
        organization_id, id, bill_id, account_id, tax_rate_id, description, amount, tax, priority, raw)
    SELECT org, l ->> 'id', r ->> 'id', l ->> 'accountId', l ->> 'taxRateId', l ->> 'description',
        (l ->> 'amount')::numeric, (l ->> 'tax')::numeric, (l ->> 'priority')::integer, l
    FROM jsonb_array_elements(records) r,
         jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'lines') = 'array' THEN r -> 'lines' ELSE '[]' END) l;

    PERFORM billy._apply_balance_modifiers(org, 'bill', records);
    PERFORM billy._log_changes(org, 'bills', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

CREATE FUNCTION billy._apply_bank_payments(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.bank_payments AS t (
            organization_id, id, contact_id, entry_date, cash_amount, cash_side, cash_account_id,
            cash_exchange_rate, subject_currency_id, fee_amount, fee_account_id, is_voided,
            created_time, raw, content_hash, sync_run_id)
        SELECT org, r ->> 'id', r ->> 'contactId', (r ->> 'entryDate')::date,
            (r ->> 'cashAmount')::numeric, r ->> 'cashSide', r ->> 'cashAccountId',
            (r ->> 'cashExchangeRate')::numeric, r ->> 'subjectCurrencyId',
            (r ->> 'feeAmount')::numeric, r ->> 'feeAccountId', (r ->> 'isVoided')::boolean,
            billy._ts(r ->> 'createdTime'), r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            contact_id = EXCLUDED.contact_id, entry_date = EXCLUDED.entry_date,
            cash_amount = EXCLUDED.cash_amount, cash_side = EXCLUDED.cash_side,
            cash_account_id = EXCLUDED.cash_account_id, cash_exchange_rate = EXCLUDED.cash_exchange_rate,
            subject_currency_id = EXCLUDED.subject_currency_id, fee_amount = EXCLUDED.fee_amount,
            fee_account_id = EXCLUDED.fee_account_id, is_voided = EXCLUDED.is_voided,
            created_time = EXCLUDED.created_time,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;
    PERFORM billy._log_changes(org, 'bankPayments', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

CREATE FUNCTION billy._apply_accounts(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.accounts AS t (
            organization_id, id, name, account_no, description, group_id, nature_id, system_role,
            currency_id, tax_rate_id, is_payment_enabled, is_bank_account, is_archived, raw,
            content_hash, sync_run_id)
        SELECT org, r ->> 'id', r ->> 'name', (r ->> 'accountNo')::integer, r ->> 'description',
            r ->> 'groupId', r ->> 'natureId', r ->> 'systemRole', r ->> 'currencyId',
            r ->> 'taxRateId', (r ->> 'isPaymentEnabled')::boolean, (r ->> 'isBankAccount')::boolean,
            (r ->> 'isArchived')::boolean, r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            name = EXCLUDED.name, account_no = EXCLUDED.account_no,
            description = EXCLUDED.description, group_id = EXCLUDED.group_id,
            nature_id = EXCLUDED.nature_id, system_role = EXCLUDED.system_role,
            currency_id = EXCLUDED.currency_id, tax_rate_id = EXCLUDED.tax_rate_id,
            is_payment_enabled = EXCLUDED.is_payment_enabled,
            is_bank_account = EXCLUDED.is_bank_account, is_archived = EXCLUDED.is_archived,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;
    PERFORM billy._log_changes(org, 'accounts', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

CREATE FUNCTION billy._apply_tax_rates(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.tax_rates AS t (
            organization_id, id, name, abbreviation, description, rate, applies_to_sales,
            applies_to_purchases, is_predefined, is_active, raw, content_hash, sync_run_id)
        SELECT org, r ->> 'id', r ->> 'name', r ->> 'abbreviation', r ->> 'description',
            (r ->> 'rate')::numeric, (r ->> 'appliesToSales')::boolean,
            (r ->> 'appliesToPurchases')::boolean, (r ->> 'isPredefined')::boolean,
            (r ->> 'isActive')::boolean, r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            name = EXCLUDED.name, abbreviation = EXCLUDED.abbreviation,
            description = EXCLUDED.description, rate = EXCLUDED.rate,
            applies_to_sales = EXCLUDED.applies_to_sales,
            applies_to_purchases = EXCLUDED.applies_to_purchases,
            is_predefined = EXCLUDED.is_predefined, is_active = EXCLUDED.is_active,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;
    PERFORM billy._log_changes(org, 'taxRates', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

CREATE FUNCTION billy._apply_sales_tax_rulesets(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.sales_tax_rulesets AS t (
            organization_id, id, name, abbreviation, description, fallback_tax_rate_id,
            is_predefined, raw, content_hash, sync_run_id)
        SELECT org, r ->> 'id', r ->> 'name', r ->> 'abbreviation', r ->> 'description',
            r ->> 'fallbackTaxRateId', (r ->> 'isPredefined')::boolean, r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            name = EXCLUDED.name, abbreviation = EXCLUDED.abbreviation,
            description = EXCLUDED.description, fallback_tax_rate_id = EXCLUDED.fallback_tax_rate_id,
            is_predefined = EXCLUDED.is_predefined,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;

    DELETE FROM billy.sales_tax_rules WHERE organization_id = org AND ruleset_id = ANY (ARRAY(
        SELECT r ->> 'id' FROM jsonb_array_elements(records) r WHERE r ? 'rules'));
    INSERT INTO billy.sales_tax_rules (
        organization_id, id, ruleset_id, country_id, state_id, country_group_id, contact_type,
        tax_rate_id, priority, raw)
    SELECT org, x ->> 'id', r ->> 'id', x ->> 'countryId', x ->> 'stateId', x ->> 'countryGroupId',
        x ->> 'contactType', x ->> 'taxRateId', (x ->> 'priority')::integer, x
    FROM jsonb_array_elements(records) r,
         jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'rules') = 'array' THEN r -> 'rules' ELSE '[]' END) x;

    PERFORM billy._log_changes(org, 'salesTaxRulesets', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

CREATE FUNCTION billy._apply_sales_tax_returns(org text, run bigint, records jsonb, hashes bytea[])
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.sales_tax_returns AS t (
            organization_id, id, period_type, period, period_text, correction_no, start_date,
            end_date, report_deadline, is_settled, is_paid, created_time, raw, content_hash,
            sync_run_id)
        SELECT org, r ->> 'id', r ->> 'periodType', r ->> 'period', r ->> 'periodText',
            (r ->> 'correctionNo')::integer, (r ->> 'startDate')::date, (r ->> 'endDate')::date,
            (r ->> 'reportDeadline')::date, (r ->> 'isSettled')::boolean, (r ->> 'isPaid')::boolean,
            billy._ts(r ->> 'createdTime'), r, h, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            period_type = EXCLUDED.period_type, period = EXCLUDED.period,
            period_text = EXCLUDED.period_text, correction_no = EXCLUDED.correction_no,
            start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
            report_deadline = EXCLUDED.report_deadline, is_settled = EXCLUDED.is_settled,
            is_paid = EXCLUDED.is_paid, created_time = EXCLUDED.created_time,
            raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = now(),
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;
    PERFORM billy._log_changes(org, 'salesTaxReturns', run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$$;

DO $c$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['contacts', 'products', 'invoices', 'bills', 'bank_payments', 'accounts',
                             'tax_rates', 'sales_tax_rulesets', 'sales_tax_returns']
    LOOP
        EXECUTE pg_catalog.format(
            'COMMENT ON FUNCTION billy.%I(text, bigint, jsonb, bytea[]) IS %L', '_apply_' || f,
            'Stores the changed records of one page of ' || f || ': upserts them, replaces their children, logs the changes; returns {inserted, updated}. Called by the sync engine. Internal.');
    END LOOP;
END
$c$;

-- the table of each resource, for the engine's generic statements
-- _sync_analyze: the planner's statistics of the tables a page of the
-- resource writes and its triggers read, refreshed while a sync writes many
-- rows.  Without them (a first sync: empty tables, autovacuum behind) the
-- triggers' lookups by primary key became scans of the organization's rows
-- through another index (bills_contact for every payment of a bill), and the
-- sync quadratic.  Only the columns lookups and joins go by, from a small
-- sample (3,000 rows; autovacuum's ANALYZE later makes finer ones).  The sync
-- engine calls it each time a scan has written as many rows as the resource
-- had when it last did (so O(log n) times in a first sync).  ANALYZE also
-- makes the cached plans of the trigger functions be planned again.
CREATE FUNCTION billy._sync_analyze(res text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET default_statistics_target = 10
SET client_min_messages = error
AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY CASE res
        WHEN 'invoices' THEN ARRAY[
            'billy.invoices (organization_id, id, contact_id, entry_date, due_date, state, type, deleted_at)',
            'billy.invoice_lines (organization_id, id, invoice_id)',
            'billy.balance_modifiers (organization_id, id, subject_type, subject_id, modifier_type, entry_date)',
            'billy._vat_facts (organization_id, document_type, document_id, line_id)',
            'billy.analytics_open_documents (organization_id, subject, id, contact_id)',
            'billy.analytics_contacts (organization_id, contact_id, ordinal)']
        WHEN 'bills' THEN ARRAY[
            'billy.bills (organization_id, id, contact_id, entry_date, due_date, state, type, deleted_at)',
            'billy.bill_lines (organization_id, id, bill_id)',
            'billy.balance_modifiers (organization_id, id, subject_type, subject_id, modifier_type, entry_date)',
            'billy._vat_facts (organization_id, document_type, document_id, line_id)',
            'billy.analytics_open_documents (organization_id, subject, id, contact_id)']
        WHEN 'contacts' THEN ARRAY['billy.contacts (organization_id, id)',
                                   'billy.contact_persons (organization_id, id, contact_id)']
        WHEN 'products' THEN ARRAY['billy.products (organization_id, id)',
                                   'billy.product_prices (organization_id, id, product_id)']
        WHEN 'bankPayments' THEN ARRAY['billy.bank_payments (organization_id, id, contact_id, entry_date)']
        ELSE ARRAY[]::text[] END
    LOOP
        -- SKIP_LOCKED: its lock lasts until the page commits (in billy.sync_now,
        -- until the caller's transaction does); another sync analyzing the
        -- same table, or a VACUUM, is not waited for (nor warned about: the
        -- next doubling analyzes it)
        EXECUTE 'ANALYZE (SKIP_LOCKED) ' || t;
    END LOOP;
END
$$;
COMMENT ON FUNCTION billy._sync_analyze(text) IS 'Refreshes the planner''s statistics of the tables a sync of the resource writes (the key columns only), so that plans made while a first sync fills them stay index lookups. Called by the sync engine as a scan doubles a resource. Internal.';

CREATE FUNCTION billy._resource_table(res text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE res
    WHEN 'contacts' THEN 'contacts' WHEN 'products' THEN 'products'
    WHEN 'invoices' THEN 'invoices' WHEN 'bills' THEN 'bills'
    WHEN 'bankPayments' THEN 'bank_payments' WHEN 'accounts' THEN 'accounts'
    WHEN 'taxRates' THEN 'tax_rates' WHEN 'salesTaxRulesets' THEN 'sales_tax_rulesets'
    WHEN 'salesTaxReturns' THEN 'sales_tax_returns' END;
COMMENT ON FUNCTION billy._resource_table(text) IS 'The mirror table of a Billy resource name. Internal.';

CREATE FUNCTION billy._mark_deleted(org text, res text, run bigint, ids text[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl text := billy._resource_table(res);
    gone text[];
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'unknown resource "%"', res USING ERRCODE = '22023';
    END IF;
    EXECUTE format('WITH d AS (UPDATE billy.%I SET deleted_at = now(), changed_at = now(), sync_run_id = $3 '
                   'WHERE organization_id = $1 AND id = ANY ($2) AND deleted_at IS NULL RETURNING id) '
                   'SELECT array_agg(id) FROM d', tbl)
        INTO gone USING org, ids, run;
    INSERT INTO billy.changes (organization_id, resource, record_id, operation, sync_run_id)
    SELECT org, res, g, 'delete', run FROM unnest(gone) g;
    RETURN coalesce(array_length(gone, 1), 0);
END
$$;
COMMENT ON FUNCTION billy._mark_deleted(text, text, bigint, text[]) IS
'Marks records deleted (deleted_at) that a complete scan no longer found and a look-up confirmed gone; logs the deletions. Never deletes rows. Internal.';

------------------------------------------------------------------------------
-- Run bookkeeping, called by the sync engine
------------------------------------------------------------------------------

CREATE FUNCTION billy._sync_lock_key(org text, res text) RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN hashtext(org || '/' || res);
COMMENT ON FUNCTION billy._sync_lock_key(text, text) IS 'The advisory lock key of one resource of one organization (class: hashtext(''billy sync'')). Internal.';

CREATE FUNCTION billy._begin_sync_run(org text, res text, scan_mode text, job bigint, session_lock boolean)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run bigint;
    got boolean;
BEGIN
    IF session_lock THEN
        got := pg_try_advisory_lock(hashtext('billy sync'), billy._sync_lock_key(org, res));
    ELSE
        got := pg_try_advisory_xact_lock(hashtext('billy sync'), billy._sync_lock_key(org, res));
    END IF;
    IF NOT got THEN
        RETURN NULL;
    END IF;
    -- with the lock held, a run still marked running was cut short
    UPDATE billy.sync_runs SET state = 'failed', finished_at = now(),
        error = 'interrupted: the process running this scan stopped (crash, restart or cancel)',
        error_cause = 'interrupted'
    WHERE organization_id = org AND resource = res AND state = 'running';
    INSERT INTO billy.sync_runs (organization_id, resource, mode, job_id)
    VALUES (org, res, scan_mode, job) RETURNING id INTO run;
    INSERT INTO billy.sync_state AS s (organization_id, resource, last_started_at, last_run_id)
    VALUES (org, res, now(), run)
    ON CONFLICT (organization_id, resource) DO UPDATE SET last_started_at = now(), last_run_id = run;
    RETURN run;
END
$$;
COMMENT ON FUNCTION billy._begin_sync_run(text, text, text, bigint, boolean) IS
'Takes the scan lock of a resource (NULL when another scan holds it), closes runs a crash left open, and records a new run. Internal.';

CREATE FUNCTION billy._release_sync_lock(org text, res text) RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN pg_advisory_unlock(hashtext('billy sync'), billy._sync_lock_key(org, res));
COMMENT ON FUNCTION billy._release_sync_lock(text, text) IS 'Releases the scan lock of a resource. Internal.';

CREATE FUNCTION billy._end_sync_run(run bigint, ok boolean, n_pages integer, n_page_count integer,
                                    n_requests integer, n_bytes bigint, seen bigint, ins bigint,
                                    upd bigint, del bigint, ver bigint, was_complete boolean,
                                    scan_mode text, note text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r billy.sync_runs;
BEGIN
    UPDATE billy.sync_runs SET
        state = CASE WHEN ok THEN 'succeeded' ELSE 'failed' END, finished_at = now(),
        pages = n_pages, page_count = n_page_count, requests = n_requests, bytes = n_bytes,
        rows_seen = seen, rows_inserted = ins, rows_updated = upd, rows_deleted = del,
        rows_verified = ver, complete = was_complete, error = note
    WHERE id = run
    RETURNING * INTO r;
    IF ok THEN
        UPDATE billy.sync_state SET
            last_finished_at = now(), last_success_at = now(), last_run_id = run,
            consecutive_failures = 0, backoff_until = NULL,
            last_complete_scan_at = CASE WHEN was_complete AND scan_mode = 'full'
                                         THEN r.started_at ELSE last_complete_scan_at END,
            last_hot_scan_at = CASE WHEN was_complete AND scan_mode = 'hot'
                                    THEN r.started_at ELSE last_hot_scan_at END
        WHERE organization_id = r.organization_id AND resource = r.resource;
    END IF;
END
$$;
COMMENT ON FUNCTION billy._end_sync_run(bigint, boolean, integer, integer, integer, bigint, bigint, bigint, bigint, bigint, bigint, boolean, text, text) IS
'Records a scan''s counts and outcome. Internal.';

CREATE FUNCTION billy._sync_record_failed(run bigint, record_id text, msg text, sqlstate text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.sync_runs SET
        rows_failed = rows_failed + 1,
        failed_records = CASE WHEN rows_failed < 20
            THEN COALESCE(failed_records, '[]'::jsonb)
                 || jsonb_build_array(jsonb_build_object('id', record_id, 'error', left(msg, 500), 'sqlstate', sqlstate))
            ELSE failed_records END
    WHERE id = run;
END;
COMMENT ON FUNCTION billy._sync_record_failed(bigint, text, text, text) IS
'Notes in a run a record the mirror refused (its id, the error and its SQLSTATE; the first 20 kept). Internal.';

CREATE FUNCTION billy._fail_sync_run(run bigint, msg text, cause text, detail text, sqlstate text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r billy.sync_runs;
BEGIN
    UPDATE billy.sync_runs SET state = 'failed', finished_at = now(), error = msg,
        error_cause = cause, error_detail = detail, error_sqlstate = sqlstate
    WHERE id = run
    RETURNING * INTO r;
    UPDATE billy.sync_state SET
        last_finished_at = now(), last_error = msg, last_error_cause = cause, last_error_at = now(),
        consecutive_failures = consecutive_failures + 1,
        backoff_until = now() + make_interval(secs => least(3600, 30 * power(2, consecutive_failures)))
    WHERE organization_id = r.organization_id AND resource = r.resource;
END
$$;
COMMENT ON FUNCTION billy._fail_sync_run(bigint, text, text, text, text) IS
'Records why a scan failed and lengthens the resource''s backoff (30 s doubling, at most an hour). Internal.';

CREATE FUNCTION billy._sync_targets(org text, resources text[]) RETURNS TABLE (organization_id text, resource text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wanted text[] := billy._sync_resource_list(resources);
    target text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
BEGIN
    RETURN QUERY
    SELECT o.id, r.res
    FROM billy.organizations o, unnest(wanted) WITH ORDINALITY AS r(res, n)
    WHERE o.disconnected_at IS NULL AND (target IS NULL OR o.id = target)
    ORDER BY o.id, r.n;
    IF NOT FOUND THEN
        IF target IS NOT NULL THEN
            RAISE EXCEPTION 'organization "%" is not connected', org
                USING ERRCODE = '55000', HINT = 'Call billy.connect() with an access token for it.';
        END IF;
        RAISE EXCEPTION 'no Billy organization is connected'
            USING ERRCODE = '55000', HINT = 'Call billy.connect(api_token) first.';
    END IF;
END
$$;
COMMENT ON FUNCTION billy._sync_targets(text, text[]) IS 'The organizations and resources billy.sync_now covers, in order. Internal.';
