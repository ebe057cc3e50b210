------------------------------------------------------------------------------
-- The mirror: one table per Billy resource, one per embedded child
--
-- Parent tables have the typed columns queries need, Billy's JSON in raw,
-- and the sync's bookkeeping:
--   content_hash   of the JSON as Billy sent it, without downloadUrl's value
--   first_seen_at  when billy first saw the record
--   confirmed_at   when the record was last written or individually confirmed;
--                  a scan confirms unchanged records without writing them (see
--                  billy.sync_status.last_complete_scan_at)
--   changed_at     when billy last saw it change
--   deleted_at     when a complete scan no longer found it (never hard-deleted)
--   sync_run_id    the billy.sync_runs row that last wrote it
-- Child tables (lines, prices, persons, rules, balance modifiers) follow their
-- parent: stored with it, by id (see billy._apply_source).
------------------------------------------------------------------------------

ALTER TABLE billy.organizations RENAME COLUMN refreshed_at TO confirmed_at;
ALTER TABLE billy.organizations
    ADD COLUMN content_hash  bytea,
    ADD COLUMN first_seen_at timestamptz,
    ADD COLUMN deleted_at    timestamptz;
UPDATE billy.organizations SET first_seen_at = connected_at;
ALTER TABLE billy.organizations ALTER COLUMN first_seen_at SET DEFAULT pg_catalog.now();
ALTER TABLE billy.organizations ALTER COLUMN first_seen_at SET NOT NULL;
COMMENT ON COLUMN billy.organizations.confirmed_at IS 'When Billy last confirmed these settings.';
COMMENT ON COLUMN billy.organizations.content_hash IS 'Hash of the JSON Billy sent (see billy.invoices.content_hash).';

CREATE OR REPLACE FUNCTION billy._upsert_organization(response jsonb) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o jsonb := response -> 'organization';
    result text;
BEGIN
    IF o IS NULL OR jsonb_typeof(o) <> 'object' OR coalesce(o ->> 'id', '') = '' THEN
        RAISE EXCEPTION 'Billy''s answer to GET /organization holds no organization'
            USING ERRCODE = '38000',
                  DETAIL = 'Expected an object whose "organization" member has an id.';
    END IF;
    INSERT INTO billy.organizations AS t (
        id, name, base_currency, vat_period, has_vat, fiscal_year_end_month,
        first_fiscal_year_start, first_fiscal_year_end, registration_no, country_id,
        locale_id, default_tax_mode, payment_terms_mode, payment_terms_days,
        is_locked, is_terminated, created_time, raw, token_updated_at)
    VALUES (
        o ->> 'id', coalesce(o ->> 'name', o ->> 'id'), o ->> 'baseCurrencyId', o ->> 'vatPeriod',
        (o ->> 'hasVat')::boolean, (o ->> 'fiscalYearEndMonth')::integer,
        (o ->> 'firstFiscalYearStart')::date, (o ->> 'firstFiscalYearEnd')::date,
        o ->> 'registrationNo', o ->> 'countryId', o ->> 'localeId', o ->> 'defaultTaxMode',
        o ->> 'paymentTermsMode', (o ->> 'paymentTermsDays')::integer,
        (o ->> 'isLocked')::boolean, (o ->> 'isTerminated')::boolean,
        billy._ts(o ->> 'createdTime'), o, now())
    ON CONFLICT (id) DO UPDATE SET
        name = EXCLUDED.name, base_currency = EXCLUDED.base_currency,
        vat_period = EXCLUDED.vat_period, has_vat = EXCLUDED.has_vat,
        fiscal_year_end_month = EXCLUDED.fiscal_year_end_month,
        first_fiscal_year_start = EXCLUDED.first_fiscal_year_start,
        first_fiscal_year_end = EXCLUDED.first_fiscal_year_end,
        registration_no = EXCLUDED.registration_no, country_id = EXCLUDED.country_id,
        locale_id = EXCLUDED.locale_id, default_tax_mode = EXCLUDED.default_tax_mode,
        payment_terms_mode = EXCLUDED.payment_terms_mode,
        payment_terms_days = EXCLUDED.payment_terms_days,
        is_locked = EXCLUDED.is_locked, is_terminated = EXCLUDED.is_terminated,
        created_time = EXCLUDED.created_time,
        changed_at = CASE WHEN t.raw IS DISTINCT FROM EXCLUDED.raw THEN now() ELSE t.changed_at END,
        raw = EXCLUDED.raw,
        confirmed_at = now()
    RETURNING t.id INTO result;
    RETURN result;
END
$$;

CREATE TABLE billy.contacts (
    organization_id     text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                  text NOT NULL,
    type                text,
    name                text,
    country_id          text,
    street              text,
    city                text,
    zipcode             text,
    state               text,
    contact_no          text,
    phone               text,
    registration_no     text,
    ean                 text,
    locale_id           text,
    currency_id         text,
    is_customer         boolean,
    is_supplier         boolean,
    is_archived         boolean,
    is_sales_tax_exempt boolean,
    payment_terms_mode  text,
    payment_terms_days  integer,
    created_time        timestamptz,
    raw                 jsonb NOT NULL,
    content_hash        bytea NOT NULL,
    first_seen_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at          timestamptz,
    sync_run_id         bigint,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX contacts_name ON billy.contacts (organization_id, pg_catalog.lower(name));
CREATE INDEX contacts_registration_no ON billy.contacts (organization_id, registration_no);
COMMENT ON TABLE billy.contacts IS 'Billy contacts (customers and suppliers), mirrored. city, zipcode and state are Billy''s cityText, zipcodeText and stateText.';

CREATE TABLE billy.contact_persons (
    organization_id text NOT NULL,
    id              text NOT NULL,
    contact_id      text NOT NULL,
    name            text,
    email           text,
    is_primary      boolean,
    raw             jsonb NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, contact_id) REFERENCES billy.contacts (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_persons_contact ON billy.contact_persons (organization_id, contact_id);
COMMENT ON TABLE billy.contact_persons IS 'Billy contact persons, stored with their contact whenever it changes (by id: one Billy lists under another contact moves to it; those no longer listed are deleted).';

CREATE TABLE billy.products (
    organization_id      text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                   text NOT NULL,
    name                 text,
    description          text,
    product_no           text,
    suppliers_product_no text,
    account_id           text,
    sales_tax_ruleset_id text,
    is_archived          boolean,
    raw                  jsonb NOT NULL,
    content_hash         bytea NOT NULL,
    first_seen_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at           timestamptz,
    sync_run_id          bigint,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX products_product_no ON billy.products (organization_id, product_no);
COMMENT ON TABLE billy.products IS 'Billy products, mirrored.';

CREATE TABLE billy.product_prices (
    organization_id text NOT NULL,
    id              text NOT NULL,
    product_id      text NOT NULL,
    currency_id     text,
    unit_price      numeric,
    raw             jsonb NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, product_id) REFERENCES billy.products (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX product_prices_product ON billy.product_prices (organization_id, product_id);
COMMENT ON TABLE billy.product_prices IS 'Billy product prices, one per currency, stored with their product whenever it changes (by id: one Billy lists under another product moves to it; those no longer listed are deleted).';

CREATE TABLE billy.invoices (
    organization_id     text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                  text NOT NULL,
    type                text CHECK (type OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'creditNote'])),
    state               text CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'approved', 'voided'])),
    sent_state          text,
    invoice_no          text,
    contact_id          text,
    att_contact_person_id text,
    entry_date          date,
    due_date            date,
    payment_terms_mode  text,
    payment_terms_days  integer,
    tax_mode            text,
    currency_id         text,
    exchange_rate       numeric,
    amount              numeric,
    tax                 numeric,
    gross_amount        numeric,
    balance             numeric,
    is_paid             boolean,
    credited_invoice_id text,
    external_id         text,
    order_no            text,
    line_description    text,
    created_time        timestamptz,
    approved_time       timestamptz,
    raw                 jsonb NOT NULL,
    content_hash        bytea NOT NULL,
    first_seen_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at          timestamptz,
    sync_run_id         bigint,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX invoices_entry_date ON billy.invoices (organization_id, entry_date) WHERE deleted_at IS NULL;
CREATE INDEX invoices_contact ON billy.invoices (organization_id, contact_id, entry_date);
CREATE INDEX invoices_unpaid ON billy.invoices (organization_id, due_date)
    WHERE deleted_at IS NULL AND is_paid IS NOT TRUE;
CREATE INDEX invoices_invoice_no ON billy.invoices (organization_id, invoice_no);
COMMENT ON TABLE billy.invoices IS
'Billy invoices and credit notes, mirrored. Amounts are in the invoice''s currency (currency_id; exchange_rate converts to the base currency): amount is net, tax the VAT, gross_amount amount + tax, balance what is unpaid. Credit notes (type creditNote) carry positive amounts.';
COMMENT ON COLUMN billy.invoices.content_hash IS
'Hash of the record''s JSON as Billy sent it (embedded lines and balance modifiers included), without the value of downloadUrl, which changes on every read. A sync writes the row only when it differs.';

CREATE TABLE billy.invoice_lines (
    organization_id text NOT NULL,
    id              text NOT NULL,
    invoice_id      text NOT NULL,
    product_id      text,
    description     text,
    quantity        numeric,
    unit_price      numeric,
    amount          numeric,
    tax             numeric,
    tax_rate_id     text,
    discount_mode   text,
    discount_value  numeric,
    priority        integer,
    raw             jsonb NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, invoice_id) REFERENCES billy.invoices (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX invoice_lines_invoice ON billy.invoice_lines (organization_id, invoice_id);
CREATE INDEX invoice_lines_product ON billy.invoice_lines (organization_id, product_id);
COMMENT ON TABLE billy.invoice_lines IS 'Billy invoice lines (amount net, tax the line''s VAT), stored with their invoice whenever it changes (by id: one Billy lists under another invoice moves to it; those no longer listed are deleted).';

CREATE TABLE billy.bills (
    organization_id     text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                  text NOT NULL,
    type                text CHECK (type OPERATOR(pg_catalog.=) ANY (ARRAY['bill', 'creditNote'])),
    state               text CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'approved', 'voided'])),
    contact_id          text,
    contact_name        text,
    entry_date          date,
    due_date            date,
    payment_date        date,
    payment_account_id  text,
    suppliers_invoice_no text,
    voucher_no          text,
    tax_mode            text,
    currency_id         text,
    exchange_rate       numeric,
    amount              numeric,
    tax                 numeric,
    gross_amount        numeric,
    balance             numeric,
    is_paid             boolean,
    is_bare             boolean,
    credited_bill_id    text,
    line_description    text,
    created_time        timestamptz,
    approved_time       timestamptz,
    raw                 jsonb NOT NULL,
    content_hash        bytea NOT NULL,
    first_seen_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at          timestamptz,
    sync_run_id         bigint,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX bills_entry_date ON billy.bills (organization_id, entry_date) WHERE deleted_at IS NULL;
CREATE INDEX bills_contact ON billy.bills (organization_id, contact_id, entry_date);
CREATE INDEX bills_unpaid ON billy.bills (organization_id, due_date)
    WHERE deleted_at IS NULL AND is_paid IS NOT TRUE;
COMMENT ON TABLE billy.bills IS 'Billy bills (purchases) and their credit notes, mirrored; amounts as on invoices.';

CREATE TABLE billy.bill_lines (
    organization_id text NOT NULL,
    id              text NOT NULL,
    bill_id         text NOT NULL,
    account_id      text,
    tax_rate_id     text,
    description     text,
    amount          numeric,
    tax             numeric,
    priority        integer,
    raw             jsonb NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, bill_id) REFERENCES billy.bills (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX bill_lines_bill ON billy.bill_lines (organization_id, bill_id);
COMMENT ON TABLE billy.bill_lines IS 'Billy bill lines (amount net, tax the line''s VAT), stored with their bill whenever it changes (by id: one Billy lists under another bill moves to it; those no longer listed are deleted).';

CREATE TABLE billy.bank_payments (
    organization_id     text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                  text NOT NULL,
    contact_id          text,
    entry_date          date,
    cash_amount         numeric,
    cash_side           text CHECK (cash_side OPERATOR(pg_catalog.=) ANY (ARRAY['debit', 'credit'])),
    cash_account_id     text,
    cash_exchange_rate  numeric,
    subject_currency_id text,
    fee_amount          numeric,
    fee_account_id      text,
    is_voided           boolean,
    created_time        timestamptz,
    raw                 jsonb NOT NULL,
    content_hash        bytea NOT NULL,
    first_seen_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at          timestamptz,
    sync_run_id         bigint,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX bank_payments_entry_date ON billy.bank_payments (organization_id, entry_date);
COMMENT ON TABLE billy.bank_payments IS 'Billy bank payments, mirrored; raw holds their associations (balance modifiers). cash_side debit is money in (invoices), credit money out (bills).';

CREATE TABLE billy.balance_modifiers (
    organization_id    text NOT NULL,
    id                 text NOT NULL,
    subject_type       text NOT NULL CHECK (subject_type OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'bill'])),
    subject_id         text NOT NULL,
    modifier_reference text,
    modifier_type      text,
    modifier_id        text,
    amount             numeric,
    entry_date         date,
    realized_currency_difference numeric,
    is_voided          boolean,
    raw                jsonb NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX balance_modifiers_subject ON billy.balance_modifiers (organization_id, subject_type, subject_id);
CREATE INDEX balance_modifiers_modifier ON billy.balance_modifiers (organization_id, modifier_type, modifier_id);
COMMENT ON TABLE billy.balance_modifiers IS
'What changed an invoice''s or a bill''s balance (payments, credit notes), from the invoice''s or bill''s embedded balanceModifiers, stored with it whenever it changes (by id: one Billy lists under another document moves to it; those no longer listed are deleted). amount is negative when it lowers the balance. modifier_type and modifier_id split Billy''s modifierReference (e.g. bankPayment:ID).';

-- Balance modifiers point at an invoice or a bill (subject_type), so no
-- foreign key can take them along when their document goes: these triggers
-- do, for a DELETE (an organization's deletion included) and a TRUNCATE.
-- Without them a document deleted outright, or an organization deleted and
-- connected again, left modifiers behind, and the next sync failed on a
-- duplicate key.  Named to run after the analytics triggers (analytics_*),
-- which move a deleted document's payments out of the rollups by reading
-- its modifiers.
CREATE FUNCTION billy._modifiers_follow_documents() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM billy.balance_modifiers m WHERE m.subject_type = kind;
        RETURN NULL;
    END IF;
    -- one probe of the subject index per document (as the apply functions do)
    DELETE FROM billy.balance_modifiers
    WHERE ctid = ANY (ARRAY(
        SELECT x.ctid FROM gone d
        CROSS JOIN LATERAL (SELECT m.ctid FROM billy.balance_modifiers m
                            WHERE m.organization_id = d.organization_id AND m.subject_type = kind
                              AND m.subject_id = d.id OFFSET 0) x));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._modifiers_follow_documents() IS 'Trigger function on billy.invoices and billy.bills (DELETE, TRUNCATE): deletes the balance modifiers of the documents deleted. Internal.';
CREATE TRIGGER modifiers_follow_delete AFTER DELETE ON billy.invoices
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION billy._modifiers_follow_documents('invoice');
CREATE TRIGGER modifiers_follow_truncate AFTER TRUNCATE ON billy.invoices
    FOR EACH STATEMENT EXECUTE FUNCTION billy._modifiers_follow_documents('invoice');
CREATE TRIGGER modifiers_follow_delete AFTER DELETE ON billy.bills
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION billy._modifiers_follow_documents('bill');
CREATE TRIGGER modifiers_follow_truncate AFTER TRUNCATE ON billy.bills
    FOR EACH STATEMENT EXECUTE FUNCTION billy._modifiers_follow_documents('bill');

CREATE TABLE billy.accounts (
    organization_id    text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                 text NOT NULL,
    name               text,
    account_no         integer,
    description        text,
    group_id           text,
    nature_id          text,
    system_role        text,
    currency_id        text,
    tax_rate_id        text,
    is_payment_enabled boolean,
    is_bank_account    boolean,
    is_archived        boolean,
    raw                jsonb NOT NULL,
    content_hash       bytea NOT NULL,
    first_seen_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at         timestamptz,
    sync_run_id        bigint,
    PRIMARY KEY (organization_id, id)
);
COMMENT ON TABLE billy.accounts IS 'The organization''s chart of accounts, mirrored.';

CREATE TABLE billy.tax_rates (
    organization_id      text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                   text NOT NULL,
    name                 text,
    abbreviation         text,
    description          text,
    rate                 numeric,
    applies_to_sales     boolean,
    applies_to_purchases boolean,
    is_predefined        boolean,
    is_active            boolean,
    raw                  jsonb NOT NULL,
    content_hash         bytea NOT NULL,
    first_seen_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at           timestamptz,
    sync_run_id          bigint,
    PRIMARY KEY (organization_id, id)
);
COMMENT ON TABLE billy.tax_rates IS 'Billy tax rates (rate is a fraction: 0.25 is 25%), mirrored; raw holds deductionComponents.';

CREATE TABLE billy.sales_tax_rulesets (
    organization_id      text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                   text NOT NULL,
    name                 text,
    abbreviation         text,
    description          text,
    fallback_tax_rate_id text,
    is_predefined        boolean,
    raw                  jsonb NOT NULL,
    content_hash         bytea NOT NULL,
    first_seen_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at           timestamptz,
    sync_run_id          bigint,
    PRIMARY KEY (organization_id, id)
);
COMMENT ON TABLE billy.sales_tax_rulesets IS 'Billy sales tax rulesets (which tax rate a product gets for which buyer), mirrored.';

CREATE TABLE billy.sales_tax_rules (
    organization_id  text NOT NULL,
    id               text NOT NULL,
    ruleset_id       text NOT NULL,
    country_id       text,
    state_id         text,
    country_group_id text,
    contact_type     text,
    tax_rate_id      text,
    priority         integer,
    raw              jsonb NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, ruleset_id) REFERENCES billy.sales_tax_rulesets (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX sales_tax_rules_ruleset ON billy.sales_tax_rules (organization_id, ruleset_id);
COMMENT ON TABLE billy.sales_tax_rules IS 'The rules of Billy sales tax rulesets, stored with their ruleset whenever it changes (by id: one Billy lists under another ruleset moves to it; those no longer listed are deleted).';

CREATE TABLE billy.sales_tax_returns (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    period_type     text,
    period          text,
    period_text     text,
    correction_no   integer,
    start_date      date,
    end_date        date,
    report_deadline date,
    is_settled      boolean,
    is_paid         boolean,
    created_time    timestamptz,
    raw             jsonb NOT NULL,
    content_hash    bytea NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at      timestamptz,
    sync_run_id     bigint,
    PRIMARY KEY (organization_id, id)
);
COMMENT ON TABLE billy.sales_tax_returns IS 'Billy''s own sales tax returns (VAT periods), mirrored.';

-- Row-level security: a role sees the rows of the organizations it may see
-- (every table of the resource catalog, 15-resources.sql).
DO $rls$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT billy._mirror_tables()
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
        EXECUTE pg_catalog.format('GRANT SELECT ON billy.%I TO billy_reader', t);
        EXECUTE pg_catalog.format('SELECT pg_catalog.pg_extension_config_dump(%L, %L)', 'billy.' || t, '');
    END LOOP;
END
$rls$;

COMMENT ON FUNCTION billy.connect(text, text) IS
'Connects a Billy organization: asks Billy (GET /organization) which organization api_token opens, stores the organization and the token (sealed with the key in billy.key_file, or in Supabase Vault), and returns the organization id. The organization stays bound to the API URL it was connected with (api_url, superusers only, else billy.api_url): the worker and every session use it. Connecting again replaces the token and the URL. The token never appears in a log, an error or a readable column.';
