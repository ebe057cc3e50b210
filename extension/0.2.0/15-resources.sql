------------------------------------------------------------------------------
-- The resource catalog: Billy's resources, declared once
--
-- billy.resources          one row per resource billy mirrors: Billy's plural
--                          (the list's root and path), singular, mirror table,
--                          message noun, sort, hot scan, read function, order
-- billy.resource_children  the arrays a record embeds (include=...:embed), and
--                          the child table each is stored in (or none: kept in
--                          raw only)
-- billy.resource_columns   the typed columns of a mirror table or child table:
--                          JSON key and type, or an SQL expression
--
-- Everything else is derived from these rows: the sync engine's and the read
-- path's resource tables (src/resources.c reads them, cached per backend),
-- the per-resource apply functions billy._apply_<table> (generated here, at
-- install time and again whenever the catalog changes), billy._resource_table,
-- the sync's resource list and order, the hot scans, the MCP tools' project.
--
-- Adding a resource is: its mirror table (DDL, like every table of billy:
-- indexes, comments, row-level security belong with it), its rows here, and,
-- when the read path serves it, its billy.get_<singular> function.
------------------------------------------------------------------------------

CREATE TABLE billy.resources (
    name          text PRIMARY KEY CHECK (name OPERATOR(pg_catalog.~) '^[a-z][A-Za-z]{1,30}$'),
    singular      text NOT NULL UNIQUE CHECK (singular OPERATOR(pg_catalog.~) '^[a-z][A-Za-z]{1,30}$'),
    table_name    text NOT NULL UNIQUE CHECK (table_name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{1,40}$'),
    noun          text NOT NULL,
    sync_order    integer NOT NULL UNIQUE,
    sort          text CHECK (sort OPERATOR(pg_catalog.~) '^[A-Za-z.]+$'),
    hot_filter    text,
    hot_where     text,
    read_function text UNIQUE CHECK (read_function OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$'),
    raw_drop      text[] NOT NULL DEFAULT '{}'::text[],
    statistics    text[],
    scope_param   text CHECK (scope_param OPERATOR(pg_catalog.~) '^[a-z][A-Za-z]{1,40}$'),
    scope_source  text,
    contact_filter boolean NOT NULL DEFAULT false,
    builtin       boolean NOT NULL DEFAULT false,
    CHECK ((hot_filter IS NULL) OPERATOR(pg_catalog.=) (hot_where IS NULL)),
    CHECK ((scope_param IS NULL) OPERATOR(pg_catalog.=) (scope_source IS NULL))
);
COMMENT ON TABLE billy.resources IS
'Billy''s resources that billy mirrors, one row each; the sync engine, the read path and the generated apply functions follow these rows. name: Billy''s plural (the list''s path and root, e.g. bankPayments); singular: the root of a single record''s answer; table_name: the mirror table in schema billy (columns organization_id, id, those of billy.resource_columns, raw, content_hash, first_seen_at, confirmed_at, changed_at, deleted_at, sync_run_id); noun: the resource in messages; sync_order: the order of a full sync; sort: sortProperty of a scan (NULL: Billy''s order); hot_filter: the query of a hot scan and hot_where the mirror rows it covers (NULL: no hot scans; the read path''s C form of hot_where is "not known to be paid"); read_function: billy.<read_function>(org, id, max_age) reads one record through the read path (NULL: none); raw_drop: keys never stored in raw; statistics: "table (columns)" whose statistics a long sync refreshes (NULL: the table and its children by their keys); scope_param and scope_source: a resource Billy lists only per parent (bankLines: accountId is required) is scanned once per value of scope_source (a query over the mirror, $1 the organization, e.g. its bank accounts), passed as the query parameter scope_param; the mirror column of the catalog column whose JSON key is scope_param says which rows each value''s scan covers: a row missing from its own value''s complete scan is looked up and marked deleted, rows of other values are left alone (NULL: one scan of the whole list); contact_filter: Billy''s list of the resource takes contactId (documented for invoices and bills), so the cache confirms several rows of one contact with one list request. Changing a row regenerates billy._apply_<table_name>.';
COMMENT ON COLUMN billy.resources.builtin IS 'Installed by billy; rows added by users have false and are kept by pg_dump.';

CREATE TABLE billy.resource_children (
    resource      text NOT NULL REFERENCES billy.resources (name) ON UPDATE CASCADE ON DELETE CASCADE,
    key           text NOT NULL CHECK (key OPERATOR(pg_catalog.~) '^[a-z][A-Za-z]*$'),
    position      integer NOT NULL,
    table_name    text CHECK (table_name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{1,40}$'),
    parent_column text CHECK (parent_column OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$'),
    kind_column   text CHECK (kind_column OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$'),
    kind          text,
    builtin       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (resource, key),
    UNIQUE (resource, position),
    CHECK ((table_name IS NULL) OPERATOR(pg_catalog.=) (parent_column IS NULL)),
    CHECK ((kind_column IS NULL) OPERATOR(pg_catalog.=) (kind IS NULL))
);
COMMENT ON TABLE billy.resource_children IS
'The arrays a resource''s records embed (asked for with include=<singular>.<key>:embed, in position order). table_name: the child table they are stored in (columns organization_id, id, parent_column, kind_column, those of billy.resource_columns, raw), or NULL: kept in the parent''s raw only. A child follows its parent: children are upserted by id (one that turns up under another parent moves to it), and those of an updated parent no longer listed are deleted. kind_column and kind: a child table shared by several resources (balance_modifiers) tells its parents apart by this column, and has no foreign key to them.';
COMMENT ON COLUMN billy.resource_children.builtin IS 'Installed by billy; rows added by users have false and are kept by pg_dump.';

CREATE TABLE billy.resource_columns (
    resource    text NOT NULL REFERENCES billy.resources (name) ON UPDATE CASCADE ON DELETE CASCADE,
    child       text NOT NULL DEFAULT '',
    position    integer NOT NULL,
    column_name text NOT NULL CHECK (column_name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$'
                                     AND column_name OPERATOR(pg_catalog.<>) ALL (ARRAY['organization_id', 'id', 'raw', 'content_hash',
                                         'first_seen_at', 'confirmed_at', 'changed_at', 'deleted_at', 'sync_run_id'])),
    json_key    text,
    type        regtype NOT NULL DEFAULT 'pg_catalog.text'::pg_catalog.regtype,
    expression  text,
    builtin     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (resource, child, column_name),
    UNIQUE (resource, child, position),
    CHECK ((json_key IS NULL) OPERATOR(pg_catalog.<>) (expression IS NULL))
);
COMMENT ON TABLE billy.resource_columns IS
'The typed columns of a mirror table (child '''') or of a child table (child: the key of billy.resource_children), in position order. json_key: the value of that key, cast to type (timestamps through billy._ts, which reads Billy''s formats); or expression: an SQL expression over r, the record''s jsonb (for a child, r is the child and p its parent), e.g. a fallback or a reference split into its type and id. The standard columns (organization_id, id, raw, the sync''s bookkeeping; a child''s parent and kind columns) are not listed.';

-- pg_dump keeps the rows users added (billy's own come with the extension)
SELECT pg_catalog.pg_extension_config_dump('billy.resources', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('billy.resource_children', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('billy.resource_columns', 'WHERE NOT builtin');

-- a changed catalog empties every backend's cached copy of it (resources.c)
CREATE TRIGGER resources_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billy.resources
    FOR EACH STATEMENT EXECUTE FUNCTION billy._invalidate_cached();
CREATE TRIGGER resource_children_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billy.resource_children
    FOR EACH STATEMENT EXECUTE FUNCTION billy._invalidate_cached();

GRANT SELECT ON billy.resources, billy.resource_children, billy.resource_columns TO billy_reader;

------------------------------------------------------------------------------
-- Billy's resources
------------------------------------------------------------------------------

INSERT INTO billy.resources (name, singular, table_name, noun, sync_order, sort, hot_filter, hot_where,
                             read_function, statistics, builtin) VALUES
    ('accounts', 'account', 'accounts', 'account', 10, NULL, NULL, NULL, NULL, ARRAY[]::text[], true),
    ('taxRates', 'taxRate', 'tax_rates', 'tax rate', 20, NULL, NULL, NULL, NULL, ARRAY[]::text[], true),
    ('salesTaxRulesets', 'salesTaxRuleset', 'sales_tax_rulesets', 'sales tax ruleset', 30, NULL, NULL, NULL,
     NULL, ARRAY[]::text[], true),
    ('salesTaxReturns', 'salesTaxReturn', 'sales_tax_returns', 'sales tax return', 40, NULL, NULL, NULL,
     NULL, ARRAY[]::text[], true),
    ('contacts', 'contact', 'contacts', 'contact', 50, NULL, NULL, NULL, 'get_contact', NULL, true),
    ('products', 'product', 'products', 'product', 60, NULL, NULL, NULL, 'get_product', NULL, true),
    ('invoices', 'invoice', 'invoices', 'invoice', 70, 'createdTime', 'isPaid=false', 'is_paid IS NOT TRUE',
     'get_invoice', ARRAY[
        'billy.invoices (organization_id, id, contact_id, entry_date, due_date, state, type, deleted_at)',
        'billy.invoice_lines (organization_id, id, invoice_id)',
        'billy.balance_modifiers (organization_id, id, subject_type, subject_id, modifier_type, entry_date)',
        'billy._vat_facts (organization_id, document_type, document_id, line_id)',
        'billy.analytics_open_documents (organization_id, subject, id, contact_id)',
        'billy.analytics_contacts (organization_id, contact_id, ordinal)'], true),
    ('bills', 'bill', 'bills', 'bill', 80, 'createdTime', 'isPaid=false', 'is_paid IS NOT TRUE',
     'get_bill', ARRAY[
        'billy.bills (organization_id, id, contact_id, entry_date, due_date, state, type, deleted_at)',
        'billy.bill_lines (organization_id, id, bill_id)',
        'billy.balance_modifiers (organization_id, id, subject_type, subject_id, modifier_type, entry_date)',
        'billy._vat_facts (organization_id, document_type, document_id, line_id)',
        'billy.analytics_open_documents (organization_id, subject, id, contact_id)'], true),
    ('bankPayments', 'bankPayment', 'bank_payments', 'bank payment', 90, NULL, NULL, NULL,
     'get_bank_payment', ARRAY['billy.bank_payments (organization_id, id, contact_id, entry_date)'], true);

-- the lists Billy filters by contact (billy-api.md: invoices and bills take contactId)
UPDATE billy.resources SET contact_filter = true WHERE name IN ('invoices', 'bills');

INSERT INTO billy.resource_children (resource, key, position, table_name, parent_column, kind_column, kind, builtin) VALUES
    ('salesTaxRulesets', 'rules', 1, 'sales_tax_rules', 'ruleset_id', NULL, NULL, true),
    ('contacts', 'contactPersons', 1, 'contact_persons', 'contact_id', NULL, NULL, true),
    ('products', 'prices', 1, 'product_prices', 'product_id', NULL, NULL, true),
    ('invoices', 'lines', 1, 'invoice_lines', 'invoice_id', NULL, NULL, true),
    ('invoices', 'balanceModifiers', 2, 'balance_modifiers', 'subject_id', 'subject_type', 'invoice', true),
    ('bills', 'lines', 1, 'bill_lines', 'bill_id', NULL, NULL, true),
    ('bills', 'balanceModifiers', 2, 'balance_modifiers', 'subject_id', 'subject_type', 'bill', true),
    ('bankPayments', 'associations', 1, NULL, NULL, NULL, NULL, true);

-- the columns: (resource, child, column, JSON key, type); expressions below
INSERT INTO billy.resource_columns (resource, child, position, column_name, json_key, type, builtin)
SELECT c.resource, c.child, c.position, c.column_name, c.json_key, c.type::pg_catalog.regtype, true
FROM (VALUES
    ('accounts', '', 1, 'name', 'name', 'text'),
    ('accounts', '', 2, 'account_no', 'accountNo', 'integer'),
    ('accounts', '', 3, 'description', 'description', 'text'),
    ('accounts', '', 4, 'group_id', 'groupId', 'text'),
    ('accounts', '', 5, 'nature_id', 'natureId', 'text'),
    ('accounts', '', 6, 'system_role', 'systemRole', 'text'),
    ('accounts', '', 7, 'currency_id', 'currencyId', 'text'),
    ('accounts', '', 8, 'tax_rate_id', 'taxRateId', 'text'),
    ('accounts', '', 9, 'is_payment_enabled', 'isPaymentEnabled', 'boolean'),
    ('accounts', '', 10, 'is_bank_account', 'isBankAccount', 'boolean'),
    ('accounts', '', 11, 'is_archived', 'isArchived', 'boolean'),

    ('taxRates', '', 1, 'name', 'name', 'text'),
    ('taxRates', '', 2, 'abbreviation', 'abbreviation', 'text'),
    ('taxRates', '', 3, 'description', 'description', 'text'),
    ('taxRates', '', 4, 'rate', 'rate', 'numeric'),
    ('taxRates', '', 5, 'applies_to_sales', 'appliesToSales', 'boolean'),
    ('taxRates', '', 6, 'applies_to_purchases', 'appliesToPurchases', 'boolean'),
    ('taxRates', '', 7, 'is_predefined', 'isPredefined', 'boolean'),
    ('taxRates', '', 8, 'is_active', 'isActive', 'boolean'),

    ('salesTaxRulesets', '', 1, 'name', 'name', 'text'),
    ('salesTaxRulesets', '', 2, 'abbreviation', 'abbreviation', 'text'),
    ('salesTaxRulesets', '', 3, 'description', 'description', 'text'),
    ('salesTaxRulesets', '', 4, 'fallback_tax_rate_id', 'fallbackTaxRateId', 'text'),
    ('salesTaxRulesets', '', 5, 'is_predefined', 'isPredefined', 'boolean'),
    ('salesTaxRulesets', 'rules', 1, 'country_id', 'countryId', 'text'),
    ('salesTaxRulesets', 'rules', 2, 'state_id', 'stateId', 'text'),
    ('salesTaxRulesets', 'rules', 3, 'country_group_id', 'countryGroupId', 'text'),
    ('salesTaxRulesets', 'rules', 4, 'contact_type', 'contactType', 'text'),
    ('salesTaxRulesets', 'rules', 5, 'tax_rate_id', 'taxRateId', 'text'),
    ('salesTaxRulesets', 'rules', 6, 'priority', 'priority', 'integer'),

    ('salesTaxReturns', '', 1, 'period_type', 'periodType', 'text'),
    ('salesTaxReturns', '', 2, 'period', 'period', 'text'),
    ('salesTaxReturns', '', 3, 'period_text', 'periodText', 'text'),
    ('salesTaxReturns', '', 4, 'correction_no', 'correctionNo', 'integer'),
    ('salesTaxReturns', '', 5, 'start_date', 'startDate', 'date'),
    ('salesTaxReturns', '', 6, 'end_date', 'endDate', 'date'),
    ('salesTaxReturns', '', 7, 'report_deadline', 'reportDeadline', 'date'),
    ('salesTaxReturns', '', 8, 'is_settled', 'isSettled', 'boolean'),
    ('salesTaxReturns', '', 9, 'is_paid', 'isPaid', 'boolean'),
    ('salesTaxReturns', '', 10, 'created_time', 'createdTime', 'timestamptz'),

    ('contacts', '', 1, 'type', 'type', 'text'),
    ('contacts', '', 2, 'name', 'name', 'text'),
    ('contacts', '', 3, 'country_id', 'countryId', 'text'),
    ('contacts', '', 4, 'street', 'street', 'text'),
    ('contacts', '', 5, 'city', 'cityText', 'text'),
    ('contacts', '', 6, 'zipcode', 'zipcodeText', 'text'),
    ('contacts', '', 7, 'state', 'stateText', 'text'),
    ('contacts', '', 8, 'contact_no', 'contactNo', 'text'),
    ('contacts', '', 9, 'phone', 'phone', 'text'),
    ('contacts', '', 10, 'registration_no', 'registrationNo', 'text'),
    ('contacts', '', 11, 'ean', 'ean', 'text'),
    ('contacts', '', 12, 'locale_id', 'localeId', 'text'),
    ('contacts', '', 13, 'currency_id', 'currencyId', 'text'),
    ('contacts', '', 14, 'is_customer', 'isCustomer', 'boolean'),
    ('contacts', '', 15, 'is_supplier', 'isSupplier', 'boolean'),
    ('contacts', '', 16, 'is_archived', 'isArchived', 'boolean'),
    ('contacts', '', 17, 'is_sales_tax_exempt', 'isSalesTaxExempt', 'boolean'),
    ('contacts', '', 18, 'payment_terms_mode', 'paymentTermsMode', 'text'),
    ('contacts', '', 19, 'payment_terms_days', 'paymentTermsDays', 'integer'),
    ('contacts', '', 20, 'created_time', 'createdTime', 'timestamptz'),
    ('contacts', 'contactPersons', 1, 'name', 'name', 'text'),
    ('contacts', 'contactPersons', 2, 'email', 'email', 'text'),
    ('contacts', 'contactPersons', 3, 'is_primary', 'isPrimary', 'boolean'),

    ('products', '', 1, 'name', 'name', 'text'),
    ('products', '', 2, 'description', 'description', 'text'),
    ('products', '', 3, 'product_no', 'productNo', 'text'),
    ('products', '', 4, 'suppliers_product_no', 'suppliersProductNo', 'text'),
    ('products', '', 5, 'account_id', 'accountId', 'text'),
    ('products', '', 6, 'sales_tax_ruleset_id', 'salesTaxRulesetId', 'text'),
    ('products', '', 7, 'is_archived', 'isArchived', 'boolean'),
    ('products', 'prices', 1, 'currency_id', 'currencyId', 'text'),
    ('products', 'prices', 2, 'unit_price', 'unitPrice', 'numeric'),

    ('invoices', '', 1, 'type', 'type', 'text'),
    ('invoices', '', 2, 'state', 'state', 'text'),
    ('invoices', '', 3, 'sent_state', 'sentState', 'text'),
    ('invoices', '', 4, 'invoice_no', 'invoiceNo', 'text'),
    ('invoices', '', 5, 'contact_id', 'contactId', 'text'),
    ('invoices', '', 6, 'att_contact_person_id', 'attContactPersonId', 'text'),
    ('invoices', '', 7, 'entry_date', 'entryDate', 'date'),
    ('invoices', '', 8, 'due_date', 'dueDate', 'date'),
    ('invoices', '', 9, 'payment_terms_mode', 'paymentTermsMode', 'text'),
    ('invoices', '', 10, 'payment_terms_days', 'paymentTermsDays', 'integer'),
    ('invoices', '', 11, 'tax_mode', 'taxMode', 'text'),
    ('invoices', '', 12, 'currency_id', 'currencyId', 'text'),
    ('invoices', '', 13, 'exchange_rate', 'exchangeRate', 'numeric'),
    ('invoices', '', 14, 'amount', 'amount', 'numeric'),
    ('invoices', '', 15, 'tax', 'tax', 'numeric'),
    -- 16: gross_amount, an expression (below)
    ('invoices', '', 17, 'balance', 'balance', 'numeric'),
    ('invoices', '', 18, 'is_paid', 'isPaid', 'boolean'),
    ('invoices', '', 19, 'credited_invoice_id', 'creditedInvoiceId', 'text'),
    ('invoices', '', 20, 'external_id', 'externalId', 'text'),
    ('invoices', '', 21, 'order_no', 'orderNo', 'text'),
    ('invoices', '', 22, 'line_description', 'lineDescription', 'text'),
    ('invoices', '', 23, 'created_time', 'createdTime', 'timestamptz'),
    ('invoices', '', 24, 'approved_time', 'approvedTime', 'timestamptz'),
    ('invoices', 'lines', 1, 'product_id', 'productId', 'text'),
    ('invoices', 'lines', 2, 'description', 'description', 'text'),
    ('invoices', 'lines', 3, 'quantity', 'quantity', 'numeric'),
    ('invoices', 'lines', 4, 'unit_price', 'unitPrice', 'numeric'),
    ('invoices', 'lines', 5, 'amount', 'amount', 'numeric'),
    ('invoices', 'lines', 6, 'tax', 'tax', 'numeric'),
    ('invoices', 'lines', 7, 'tax_rate_id', 'taxRateId', 'text'),
    ('invoices', 'lines', 8, 'discount_mode', 'discountMode', 'text'),
    ('invoices', 'lines', 9, 'discount_value', 'discountValue', 'numeric'),
    ('invoices', 'lines', 10, 'priority', 'priority', 'integer'),

    ('bills', '', 1, 'type', 'type', 'text'),
    ('bills', '', 2, 'state', 'state', 'text'),
    ('bills', '', 3, 'contact_id', 'contactId', 'text'),
    ('bills', '', 4, 'contact_name', 'contactName', 'text'),
    ('bills', '', 5, 'entry_date', 'entryDate', 'date'),
    ('bills', '', 6, 'due_date', 'dueDate', 'date'),
    ('bills', '', 7, 'payment_date', 'paymentDate', 'date'),
    ('bills', '', 8, 'payment_account_id', 'paymentAccountId', 'text'),
    ('bills', '', 9, 'suppliers_invoice_no', 'suppliersInvoiceNo', 'text'),
    ('bills', '', 10, 'voucher_no', 'voucherNo', 'text'),
    ('bills', '', 11, 'tax_mode', 'taxMode', 'text'),
    ('bills', '', 12, 'currency_id', 'currencyId', 'text'),
    ('bills', '', 13, 'exchange_rate', 'exchangeRate', 'numeric'),
    ('bills', '', 14, 'amount', 'amount', 'numeric'),
    ('bills', '', 15, 'tax', 'tax', 'numeric'),
    -- 16: gross_amount, an expression (below)
    ('bills', '', 17, 'balance', 'balance', 'numeric'),
    ('bills', '', 18, 'is_paid', 'isPaid', 'boolean'),
    ('bills', '', 19, 'is_bare', 'isBare', 'boolean'),
    ('bills', '', 20, 'credited_bill_id', 'creditedBillId', 'text'),
    ('bills', '', 21, 'line_description', 'lineDescription', 'text'),
    ('bills', '', 22, 'created_time', 'createdTime', 'timestamptz'),
    ('bills', '', 23, 'approved_time', 'approvedTime', 'timestamptz'),
    ('bills', 'lines', 1, 'account_id', 'accountId', 'text'),
    ('bills', 'lines', 2, 'tax_rate_id', 'taxRateId', 'text'),
    ('bills', 'lines', 3, 'description', 'description', 'text'),
    ('bills', 'lines', 4, 'amount', 'amount', 'numeric'),
    ('bills', 'lines', 5, 'tax', 'tax', 'numeric'),
    ('bills', 'lines', 6, 'priority', 'priority', 'integer'),

    ('bankPayments', '', 1, 'contact_id', 'contactId', 'text'),
    ('bankPayments', '', 2, 'entry_date', 'entryDate', 'date'),
    ('bankPayments', '', 3, 'cash_amount', 'cashAmount', 'numeric'),
    ('bankPayments', '', 4, 'cash_side', 'cashSide', 'text'),
    ('bankPayments', '', 5, 'cash_account_id', 'cashAccountId', 'text'),
    ('bankPayments', '', 6, 'cash_exchange_rate', 'cashExchangeRate', 'numeric'),
    ('bankPayments', '', 7, 'subject_currency_id', 'subjectCurrencyId', 'text'),
    ('bankPayments', '', 8, 'fee_amount', 'feeAmount', 'numeric'),
    ('bankPayments', '', 9, 'fee_account_id', 'feeAccountId', 'text'),
    ('bankPayments', '', 10, 'is_voided', 'isVoided', 'boolean'),
    ('bankPayments', '', 11, 'created_time', 'createdTime', 'timestamptz')
) AS c(resource, child, position, column_name, json_key, type);

-- balance modifiers, embedded in invoices and bills alike; computed columns
INSERT INTO billy.resource_columns (resource, child, position, column_name, json_key, type, expression, builtin)
SELECT d.resource, c.child, c.position, c.column_name, c.json_key, c.type::pg_catalog.regtype, c.expression, true
FROM (VALUES ('invoices'), ('bills')) AS d(resource),
     (VALUES
        -- Billy leaves grossAmount out of some answers: amount + tax
        ('', 16, 'gross_amount', NULL, 'numeric',
         $e$coalesce((r ->> 'grossAmount')::numeric, (r ->> 'amount')::numeric + (r ->> 'tax')::numeric)$e$),
        ('balanceModifiers', 1, 'modifier_reference', 'modifierReference', 'text', NULL),
        -- the reference split: bankPayment:ID -> bankPayment, ID
        ('balanceModifiers', 2, 'modifier_type', NULL, 'text', $e$split_part(r ->> 'modifierReference', ':', 1)$e$),
        ('balanceModifiers', 3, 'modifier_id', NULL, 'text', $e$nullif(split_part(r ->> 'modifierReference', ':', 2), '')$e$),
        ('balanceModifiers', 4, 'amount', 'amount', 'numeric', NULL),
        ('balanceModifiers', 5, 'entry_date', 'entryDate', 'date', NULL),
        ('balanceModifiers', 6, 'realized_currency_difference', 'realizedCurrencyDifference', 'numeric', NULL),
        ('balanceModifiers', 7, 'is_voided', 'isVoided', 'boolean', NULL)
     ) AS c(child, position, column_name, json_key, type, expression);

------------------------------------------------------------------------------
-- What is derived from the catalog in SQL
------------------------------------------------------------------------------

CREATE FUNCTION billy._resource_table(res text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT r.table_name FROM billy.resources r WHERE r.name = res);
COMMENT ON FUNCTION billy._resource_table(text) IS 'The mirror table of a Billy resource name (billy.resources), or NULL. Internal.';

CREATE FUNCTION billy._resource_include(res text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT string_agg(r.singular || '.' || c.key || ':embed', ',' ORDER BY c.position)
        FROM billy.resources r JOIN billy.resource_children c ON c.resource = r.name
        WHERE r.name = res);
COMMENT ON FUNCTION billy._resource_include(text) IS 'The include parameter that embeds a resource''s children (billy.resource_children), or NULL. Internal.';

CREATE FUNCTION billy._resource_has_column(res text, col text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT 1 FROM billy.resource_columns c WHERE c.resource = res AND c.child = '' AND c.column_name = col);
COMMENT ON FUNCTION billy._resource_has_column(text, text) IS 'Whether a resource''s mirror table has the catalog column col. Internal.';
CREATE FUNCTION billy._resource_scope_column(res text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT c.column_name FROM billy.resources r
        JOIN billy.resource_columns c ON c.resource = r.name AND c.child = '' AND c.json_key = r.scope_param
        WHERE r.name = res ORDER BY c.position LIMIT 1);
COMMENT ON FUNCTION billy._resource_scope_column(text) IS 'The mirror column of a resource scanned per parent (billy.resources.scope_param) that holds the parent: the rows one scan covers. NULL for other resources. Internal.';
-- the read path (list functions run as the caller) and src/resources.c (as
-- whoever first needs the catalog in a backend) read the catalog
GRANT EXECUTE ON FUNCTION billy._resource_table(text), billy._resource_include(text),
    billy._resource_has_column(text, text), billy._resource_scope_column(text) TO billy_reader;

CREATE FUNCTION billy._mirror_tables() RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t FROM (SELECT r.table_name, r.sync_order, 0 FROM billy.resources r
                   UNION
                   SELECT c.table_name, r.sync_order, c.position FROM billy.resource_children c
                   JOIN billy.resources r ON r.name = c.resource WHERE c.table_name IS NOT NULL) x(t, o, p)
    GROUP BY t ORDER BY min(o), min(p), t
$$;
COMMENT ON FUNCTION billy._mirror_tables() IS 'The mirror tables of the catalog''s resources and their children, in sync order. Internal.';

-- _resource_column_sql: the SQL of one catalog column's value over r
CREATE FUNCTION billy._resource_column_sql(col billy.resource_columns) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE
    WHEN col.expression IS NOT NULL THEN '(' || col.expression || ')'
    WHEN col.type = 'pg_catalog.text'::regtype THEN format('r ->> %L', col.json_key)
    WHEN col.type = 'pg_catalog.timestamptz'::regtype THEN format('billy._ts(r ->> %L)', col.json_key)
    ELSE format('(r ->> %L)::%s', col.json_key, col.type::text) END;
COMMENT ON FUNCTION billy._resource_column_sql(billy.resource_columns) IS 'The SQL expression of a catalog column''s value over the record r. Internal.';

-- _apply_source: the text of billy._apply_<table>(org, run, records, hashes,
-- asked), which stores the changed records of one page, confirmed as of
-- asked (when the page was asked for: src/mirror): one INSERT ... ON CONFLICT
-- for the page's records, then per child table the children of updated
-- parents that are no longer listed deleted (found one index probe per
-- parent: a lateral join, then by ctid; a plan that filtered the
-- organization's children instead, which the statistics of a near-empty
-- table led to, made a first sync quadratic) and the children upserted by
-- id, so that one listed under another parent than the mirror has it moves
-- (books replaced upstream) instead of failing on the key, every later sync
-- too.  A parent just inserted has no children (they reference it, ON DELETE
-- CASCADE): a first sync deletes nothing.  A shared child table (kind) has
-- no such key, so its rows are looked at for every parent.  Listed twice in
-- a page, a child's last listing wins.  The C side decides which records
-- changed (content hashes); what comes here is written.
CREATE FUNCTION billy._apply_source(res text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $gen$
DECLARE
    r billy.resources;
    ch billy.resource_children;
    cols text;
    vals text;
    sets text;
    body text := '';
BEGIN
    SELECT * INTO r FROM billy.resources WHERE name = res;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown resource "%"', res USING ERRCODE = '22023';
    END IF;
    SELECT coalesce(string_agg(format('%I, ', c.column_name), '' ORDER BY c.position), ''),
           coalesce(string_agg(billy._resource_column_sql(c) || ', ', '' ORDER BY c.position), ''),
           coalesce(string_agg(format('%1$I = EXCLUDED.%1$I, ', c.column_name), '' ORDER BY c.position), '')
    INTO cols, vals, sets
    FROM billy.resource_columns c WHERE c.resource = res AND c.child = '';

    FOR ch IN SELECT * FROM billy.resource_children c
              WHERE c.resource = res AND c.table_name IS NOT NULL ORDER BY c.position LOOP
        body := body || billy._apply_child_source(ch);
    END LOOP;

    RETURN format($f$CREATE OR REPLACE FUNCTION billy.%1$I(org text, run bigint, records jsonb, hashes bytea[], asked timestamptz)
RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $apply$
DECLARE
    ids text[];
    ins boolean[];
BEGIN
    WITH incoming AS (
        SELECT r, hashes[i::integer] AS h FROM jsonb_array_elements(records) WITH ORDINALITY AS e(r, i)
    ), up AS (
        INSERT INTO billy.%2$I AS t (organization_id, id, %3$sraw, content_hash, confirmed_at, sync_run_id)
        SELECT org, r ->> 'id', %4$s%5$s, h, asked, run
        FROM incoming
        ON CONFLICT (organization_id, id) DO UPDATE SET
            %6$sraw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, confirmed_at = EXCLUDED.confirmed_at,
            changed_at = now(), deleted_at = NULL, sync_run_id = EXCLUDED.sync_run_id
        RETURNING t.id, t.xmax = 0 AS inserted
    )
    SELECT array_agg(id), array_agg(inserted) INTO ids, ins FROM up;
%7$s
    PERFORM billy._log_changes(org, %8$L, run, ids, ins);
    RETURN ARRAY[(SELECT count(*) FROM unnest(ins) x WHERE x), (SELECT count(*) FROM unnest(ins) x WHERE NOT x)];
END
$apply$$f$,
        '_apply_' || r.table_name, r.table_name, cols, vals,
        CASE WHEN r.raw_drop = '{}' THEN 'r' ELSE format('r - %L::text[]', r.raw_drop) END,
        sets, body, r.name);
END
$gen$;
COMMENT ON FUNCTION billy._apply_source(text) IS 'The CREATE FUNCTION statement of a resource''s apply function, from the catalog. Internal.';

CREATE FUNCTION billy._apply_child_source(ch billy.resource_children) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $gen$
DECLARE
    cols text;
    vals text;
    sets text;
    kids text := format($k$CASE WHEN jsonb_typeof(p -> %1$L) = 'array' THEN p -> %1$L ELSE '[]' END$k$, ch.key);
BEGIN
    SELECT coalesce(string_agg(format(', %I', c.column_name), '' ORDER BY c.position), ''),
           coalesce(string_agg(', ' || billy._resource_column_sql(c), '' ORDER BY c.position), ''),
           coalesce(string_agg(format(', %1$I = EXCLUDED.%1$I', c.column_name), '' ORDER BY c.position), '')
    INTO cols, vals, sets
    FROM billy.resource_columns c WHERE c.resource = ch.resource AND c.child = ch.key;

    RETURN format($f$
    -- %1$s: the children listed under key %2$L follow their parent
    %3$sDELETE FROM billy.%1$I
    WHERE ctid = ANY (ARRAY(
        SELECT x.ctid
        FROM (SELECT p ->> 'id' AS id, %4$s AS kids
              FROM jsonb_array_elements(records) p WHERE p ? %2$L) k
        %5$sCROSS JOIN LATERAL (SELECT c.ctid, c.id FROM billy.%1$I c
                            WHERE c.organization_id = org AND c.%6$I = k.id%7$s OFFSET 0) x
        WHERE NOT k.kids @> jsonb_build_array(jsonb_build_object('id', x.id))));%8$s
    INSERT INTO billy.%1$I AS c (organization_id, id, %6$I%9$s%10$s, raw)
    SELECT DISTINCT ON (r ->> 'id') org, r ->> 'id', p ->> 'id'%11$s%12$s, r
    FROM jsonb_array_elements(records) WITH ORDINALITY AS e(p, pn),
         jsonb_array_elements(%4$s) WITH ORDINALITY AS x(r, cn)
    WHERE r ->> 'id' IS NOT NULL
    ORDER BY r ->> 'id', pn DESC, cn DESC
    ON CONFLICT (organization_id, id) DO UPDATE SET
        %6$I = EXCLUDED.%6$I%13$s%14$s, raw = EXCLUDED.raw;
$f$,
        ch.table_name, ch.key,
        -- a child table with a key to its parent: only updated parents have children
        CASE WHEN ch.kind IS NULL THEN E'IF false = ANY (ins) THEN\n    ' ELSE '' END,
        kids,
        CASE WHEN ch.kind IS NULL THEN 'JOIN unnest(ids, ins) AS u(id, is_new) ON u.id = k.id AND NOT u.is_new' || E'\n        ' ELSE '' END,
        ch.parent_column,
        CASE WHEN ch.kind IS NULL THEN '' ELSE format(' AND c.%I = %L', ch.kind_column, ch.kind) END,
        CASE WHEN ch.kind IS NULL THEN E'\n    END IF;' ELSE '' END,
        CASE WHEN ch.kind IS NULL THEN '' ELSE format(', %I', ch.kind_column) END,
        cols,
        CASE WHEN ch.kind IS NULL THEN '' ELSE format(', %L', ch.kind) END,
        vals,
        CASE WHEN ch.kind IS NULL THEN '' ELSE format(', %1$I = EXCLUDED.%1$I', ch.kind_column) END,
        sets);
END
$gen$;
COMMENT ON FUNCTION billy._apply_child_source(billy.resource_children) IS 'The statements of an apply function that store one kind of child (see billy._apply_source). Internal.';

-- _generate_apply: (re)creates the apply function of each resource (all:
-- NULL), from the catalog
CREATE FUNCTION billy._generate_apply(res text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r billy.resources;
    bad record;
    n integer := 0;
BEGIN
    FOR r IN SELECT * FROM billy.resources WHERE res IS NULL OR name = res ORDER BY sync_order LOOP
        -- a column the catalog names that its table lacks (the tables are
        -- created after the catalog at install, so only those that exist)
        SELECT t.tbl, t.col INTO bad
        FROM (SELECT r.table_name AS tbl, c.column_name AS col FROM billy.resource_columns c
              WHERE c.resource = r.name AND c.child = ''
              UNION ALL
              SELECT ch.table_name, c.column_name FROM billy.resource_columns c
              JOIN billy.resource_children ch ON ch.resource = c.resource AND ch.key = c.child
              WHERE c.resource = r.name AND ch.table_name IS NOT NULL
              UNION ALL
              SELECT ch.table_name, x.col FROM billy.resource_children ch, unnest(ARRAY[ch.parent_column, ch.kind_column]) x(col)
              WHERE ch.resource = r.name AND ch.table_name IS NOT NULL AND x.col IS NOT NULL) t
        WHERE to_regclass(format('billy.%I', t.tbl)) IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                          WHERE a.attrelid = to_regclass(format('billy.%I', t.tbl)) AND a.attname = t.col
                            AND a.attnum > 0 AND NOT a.attisdropped)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'column "%" of billy.% does not exist', bad.col, bad.tbl
                USING ERRCODE = '42703',
                      DETAIL = format('Resource %s names it in the catalog (billy.resource_columns or billy.resource_children).', r.name),
                      HINT = 'Add the column to the table, or correct the catalog row.';
        END IF;
        IF r.scope_param IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM billy.resource_columns c WHERE c.resource = r.name AND c.child = '' AND c.json_key = r.scope_param) THEN
            RAISE EXCEPTION 'resource % is scanned per %, but no catalog column holds that key', r.name, r.scope_param
                USING ERRCODE = '42703',
                      DETAIL = 'The scan of one value marks deleted only the rows whose column of that key holds the value.',
                      HINT = format('Add a billy.resource_columns row of %s with json_key %L.', r.name, r.scope_param);
        END IF;
        EXECUTE billy._apply_source(r.name);
        EXECUTE format('COMMENT ON FUNCTION billy.%I(text, bigint, jsonb, bytea[], timestamptz) IS %L',
                       '_apply_' || r.table_name,
                       'Stores the changed records of one page of ' || r.name
                       || ' as confirmed at asked (when the page was asked for): upserts them and their children (a child follows its parent), logs the changes; returns {inserted, updated}. Generated from billy.resources by billy._generate_apply; called by the sync engine. Internal.');
        EXECUTE format('REVOKE ALL ON FUNCTION billy.%I(text, bigint, jsonb, bytea[], timestamptz) FROM PUBLIC',
                       '_apply_' || r.table_name);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy._generate_apply(text) IS 'Creates or replaces billy._apply_<table> of a resource (NULL: of every resource) from the catalog. Run at install and by the catalog''s triggers. Internal.';

CREATE FUNCTION billy._resources_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM billy._generate_apply();
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._resources_changed() IS 'Trigger on the resource catalog: regenerates the apply functions. Internal.';

CREATE TRIGGER resources_generate AFTER INSERT OR UPDATE OR DELETE ON billy.resources
    FOR EACH STATEMENT EXECUTE FUNCTION billy._resources_changed();
CREATE TRIGGER resource_children_generate AFTER INSERT OR UPDATE OR DELETE ON billy.resource_children
    FOR EACH STATEMENT EXECUTE FUNCTION billy._resources_changed();
CREATE TRIGGER resource_columns_generate AFTER INSERT OR UPDATE OR DELETE ON billy.resource_columns
    FOR EACH STATEMENT EXECUTE FUNCTION billy._resources_changed();

SELECT billy._generate_apply();
