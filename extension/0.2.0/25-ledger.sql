------------------------------------------------------------------------------
-- The books in the mirror: account groups, transactions and their postings,
-- daybooks and journal entries, the bank statement and its matches, files
-- and attachments, currencies
--
-- Named by the ledger's rule (one table per resource, the plural in
-- snake_case; columns organization_id, id, then each field of Billy's JSON
-- in snake_case; references "type:id" split into <x>_type and <x>_id beside
-- the reference).  Top-level resources carry the mirror's bookkeeping
-- columns (see billy.invoices); children (postings, journal entry lines,
-- bank line match subject associations) carry raw and are replaced whenever
-- their parent changes.
--
-- Amounts: postings are in the organization's base currency; amount is
-- positive and side says debit or credit; signed_amount is debit + and
-- credit - (computed here, so no writer can disagree with side).  A bank
-- line's amount is in its account's currency.
------------------------------------------------------------------------------

CREATE TABLE billy.account_groups (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    nature_id       text,
    name            text,
    description     text,
    priority        integer,
    PRIMARY KEY (organization_id, id)
);
COMMENT ON TABLE billy.account_groups IS
'Billy''s account groups (the headings of the chart of accounts and of the statements: Omsætning, Vareforbrug, Likvide beholdninger, ...), mirrored. nature_id is the nature of the accounts it holds (asset, liability, equity, revenue, expense); priority orders the groups within a statement. billy.accounts.group_id points here.';

CREATE INDEX accounts_group ON billy.accounts (organization_id, group_id);

CREATE TABLE billy.transactions (
    organization_id      text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                   text NOT NULL,
    transaction_no       integer,
    voucher_no           text,
    created_time         timestamptz,
    entry_date           date,
    originator_reference text,
    originator_type      text,
    originator_id        text,
    originator_name      text,
    is_voided            boolean,
    is_void              boolean,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX transactions_entry_date ON billy.transactions (organization_id, entry_date);
CREATE INDEX transactions_originator ON billy.transactions (organization_id, originator_type, originator_id);
COMMENT ON TABLE billy.transactions IS
'Billy''s transactions (bilag in the general ledger): what one approved invoice, bill, bank payment, credit note settlement or journal entry booked, mirrored with their postings. originator_type and originator_id split originatorReference (invoice:ID, bill:ID, bankPayment:ID, daybookTransaction:ID, ...). A voided transaction (is_voided) is undone by its mirror image (is_void), booked on its own date: both stay in the books.';

CREATE TABLE billy.postings (
    organization_id     text NOT NULL,
    id                  text NOT NULL,
    transaction_id      text NOT NULL,
    entry_date          date,
    text                text,
    account_id          text,
    amount              numeric,
    side                text CHECK (side OPERATOR(pg_catalog.=) ANY (ARRAY['debit', 'credit'])),
    signed_amount       numeric GENERATED ALWAYS AS (
                            CASE side WHEN 'debit' THEN amount WHEN 'credit' THEN OPERATOR(pg_catalog.-) amount END) STORED,
    currency_id         text,
    sales_tax_return_id text,
    is_voided           boolean,
    is_bank_matched     boolean,
    priority            integer,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, transaction_id) REFERENCES billy.transactions (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX postings_transaction ON billy.postings (organization_id, transaction_id);
-- the account statement (kontokort) and the statements' part-days read by this
CREATE INDEX postings_account_date ON billy.postings (organization_id, account_id, entry_date) INCLUDE (signed_amount);
CREATE INDEX postings_entry_date ON billy.postings (organization_id, entry_date);
COMMENT ON TABLE billy.postings IS
'Billy''s postings: the lines of the general ledger, children of billy.transactions (replaced whenever their transaction changes). amount is positive in the base currency; side is debit or credit; signed_amount is amount for a debit and -amount for a credit, so every live transaction''s signed amounts add up to 0.';
COMMENT ON COLUMN billy.postings.signed_amount IS 'amount with the sign of its side: debit +, credit -. Computed from amount and side.';

CREATE TABLE billy.daybooks (
    organization_id                 text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                              text NOT NULL,
    name                            text,
    default_contra_account_id       text,
    is_transaction_summary_enabled  boolean,
    PRIMARY KEY (organization_id, id)
);
COMMENT ON TABLE billy.daybooks IS 'Billy''s daybooks (kassekladder: where journal entries are written), mirrored.';

CREATE TABLE billy.daybook_transactions (
    organization_id      text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id                   text NOT NULL,
    daybook_id           text,
    created_time         timestamptz,
    entry_date           date,
    voucher_no           text,
    description          text,
    extended_description text,
    api_type             text,
    state                text,
    priority             integer,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX daybook_transactions_entry_date ON billy.daybook_transactions (organization_id, entry_date);
COMMENT ON TABLE billy.daybook_transactions IS
'Billy''s daybook transactions (journal entries, posteringer i kassekladden), mirrored with their lines. state: draft (not booked), approved (booked: a billy.transactions row with originator_type daybookTransaction) or voided.';

CREATE TABLE billy.daybook_transaction_lines (
    organization_id        text NOT NULL,
    id                     text NOT NULL,
    daybook_transaction_id text NOT NULL,
    text                   text,
    account_id             text,
    tax_rate_id            text,
    contra_account_id      text,
    amount                 numeric,
    side                   text,
    currency_id            text,
    priority               integer,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, daybook_transaction_id)
        REFERENCES billy.daybook_transactions (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX daybook_transaction_lines_parent ON billy.daybook_transaction_lines (organization_id, daybook_transaction_id);
COMMENT ON TABLE billy.daybook_transaction_lines IS
'The lines of Billy''s journal entries, replaced whenever their entry changes: amount on account_id (side), the opposite on contra_account_id when given; with a tax_rate_id the amount is gross and its VAT is split off (on a reverse-charge rate it is the net, the VAT booked on top). amount is in currency_id; a line in another currency than the base currency has no exchange rate in Billy''s API: Billy converts it when it books the entry, and the entry''s postings (billy.postings, base currency) hold what it became.';

CREATE TABLE billy.bank_lines (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    account_id      text,
    match_id        text,
    entry_date      date,
    description     text,
    amount          numeric,
    side            text,
    is_reconciled   boolean,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX bank_lines_account_date ON billy.bank_lines (organization_id, account_id, entry_date);
CREATE INDEX bank_lines_match ON billy.bank_lines (organization_id, match_id);
COMMENT ON TABLE billy.bank_lines IS
'Billy''s bank lines: the bank statement of each bank account (account_id), mirrored (the sync scans them per bank account: billy.resources.scope_param). amount is positive in the account''s currency; side debit is money in, credit money out. match_id is the bank line match that reconciled it (NULL: not matched yet).';

CREATE TABLE billy.bank_line_matches (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    account_id      text,
    created_time    timestamptz,
    entry_date      date,
    amount          numeric,
    side            text,
    is_approved     boolean,
    approved_time   timestamptz,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX bank_line_matches_account ON billy.bank_line_matches (organization_id, account_id, entry_date);
COMMENT ON TABLE billy.bank_line_matches IS
'Billy''s bank line matches: bank lines (billy.bank_lines.match_id) reconciled with what they paid (billy.bank_line_subject_associations), mirrored.';

CREATE TABLE billy.bank_line_subject_associations (
    organization_id   text NOT NULL,
    id                text NOT NULL,
    match_id          text NOT NULL,
    subject_reference text,
    subject_type      text,
    subject_id        text,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, match_id) REFERENCES billy.bank_line_matches (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX bank_line_subject_associations_match ON billy.bank_line_subject_associations (organization_id, match_id);
CREATE INDEX bank_line_subject_associations_subject ON billy.bank_line_subject_associations (organization_id, subject_type, subject_id);
COMMENT ON TABLE billy.bank_line_subject_associations IS
'What a bank line match reconciled its lines with (subject_reference: bankPayment:ID, daybookTransaction:ID, invoice:ID, bill:ID, split into subject_type and subject_id), children of billy.bank_line_matches, replaced whenever their match changes.';

CREATE TABLE billy.files (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    created_time    timestamptz,
    file_name       text,
    file_size       bigint,
    file_type       text,
    is_image        boolean,
    is_pdf          boolean,
    PRIMARY KEY (organization_id, id)
);
COMMENT ON TABLE billy.files IS
'Billy''s files (receipts and other uploads): metadata only, mirrored. The bytes are fetched on demand. raw never holds downloadUrl (it opens the file with the access token); a check says so.';

CREATE TABLE billy.attachments (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    created_time    timestamptz,
    owner_reference text,
    owner_type      text,
    owner_id        text,
    file_id         text,
    priority        integer,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX attachments_owner ON billy.attachments (organization_id, owner_type, owner_id);
CREATE INDEX attachments_file ON billy.attachments (organization_id, file_id);
COMMENT ON TABLE billy.attachments IS
'Billy''s attachments: a file (file_id) attached to a bill, an invoice or a journal entry (owner_reference, split into owner_type and owner_id), mirrored.';

CREATE TABLE billy.currencies (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    name            text,
    exchange_rate   numeric,
    PRIMARY KEY (organization_id, id)
);
COMMENT ON TABLE billy.currencies IS
'Billy''s currencies as an organization sees them (id is the ISO code; exchange_rate is base currency per unit), mirrored.';

-- The columns every table above shares, written once: top-level resources
-- get Billy's JSON and the sync's bookkeeping (as billy.invoices), children
-- their JSON only; then row-level security (a role sees the rows of the
-- organizations it may see), reading for billy_reader, and pg_dump.
DO $mirror$
DECLARE
    t text;
    children text[] := ARRAY['postings', 'daybook_transaction_lines', 'bank_line_subject_associations'];
BEGIN
    FOREACH t IN ARRAY ARRAY['account_groups', 'transactions', 'postings', 'daybooks', 'daybook_transactions',
                             'daybook_transaction_lines', 'bank_lines', 'bank_line_matches',
                             'bank_line_subject_associations', 'files', 'attachments', 'currencies']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ADD COLUMN raw jsonb NOT NULL', t);
        IF t OPERATOR(pg_catalog.<>) ALL (children) THEN
            EXECUTE pg_catalog.format(
                'ALTER TABLE billy.%I ADD COLUMN content_hash bytea NOT NULL, '
                'ADD COLUMN first_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(), '
                'ADD COLUMN confirmed_at timestamptz NOT NULL DEFAULT pg_catalog.now(), '
                'ADD COLUMN changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(), '
                'ADD COLUMN deleted_at timestamptz, ADD COLUMN sync_run_id bigint', t);
        END IF;
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
        EXECUTE pg_catalog.format('GRANT SELECT ON billy.%I TO billy_reader', t);
        EXECUTE pg_catalog.format('SELECT pg_catalog.pg_extension_config_dump(%L, %L)', 'billy.' || t, '');
    END LOOP;
END
$mirror$;
ALTER TABLE billy.files ADD CONSTRAINT files_no_download_url CHECK (NOT raw OPERATOR(pg_catalog.?) 'downloadUrl');
-- reconciliation reads the lines not matched yet
CREATE INDEX bank_lines_unmatched ON billy.bank_lines (organization_id, account_id, entry_date)
    WHERE match_id IS NULL AND deleted_at IS NULL;

------------------------------------------------------------------------------
-- The books in the resource catalog: the sync scans them and the generated
-- billy._apply_* store them (15-resources.sql).  Billy lists bank lines only
-- per bank account (accountId is required): their row's scope (at the end)
-- scans them once per bank account of the mirror.
------------------------------------------------------------------------------

INSERT INTO billy.resources (name, singular, table_name, noun, sync_order, sort, hot_filter, hot_where,
                             read_function, raw_drop, statistics, builtin) VALUES
    ('currencies', 'currency', 'currencies', 'currency', 95, NULL, NULL, NULL, NULL, '{}', NULL, true),
    ('accountGroups', 'accountGroup', 'account_groups', 'account group', 100, NULL, NULL, NULL, NULL, '{}', NULL, true),
    ('daybooks', 'daybook', 'daybooks', 'daybook', 110, NULL, NULL, NULL, NULL, '{}', NULL, true),
    ('transactions', 'transaction', 'transactions', 'transaction', 120, NULL, NULL, NULL, NULL, '{}', NULL, true),
    ('daybookTransactions', 'daybookTransaction', 'daybook_transactions', 'journal entry', 130, NULL, NULL, NULL,
     NULL, '{}', NULL, true),
    ('bankLineMatches', 'bankLineMatch', 'bank_line_matches', 'bank line match', 140, NULL, NULL, NULL, NULL, '{}',
     NULL, true),
    ('files', 'file', 'files', 'file', 150, NULL, NULL, NULL, NULL, ARRAY['downloadUrl'], NULL, true),
    ('attachments', 'attachment', 'attachments', 'attachment', 160, NULL, NULL, NULL, NULL, '{}', NULL, true),
    ('bankLines', 'bankLine', 'bank_lines', 'bank line', 145, NULL, NULL, NULL, NULL, '{}', NULL, true);

INSERT INTO billy.resource_children (resource, key, position, table_name, parent_column, kind_column, kind, builtin) VALUES
    ('transactions', 'postings', 1, 'postings', 'transaction_id', NULL, NULL, true),
    ('daybookTransactions', 'lines', 1, 'daybook_transaction_lines', 'daybook_transaction_id', NULL, NULL, true),
    ('bankLineMatches', 'lines', 1, NULL, NULL, NULL, NULL, true),
    ('bankLineMatches', 'subjectAssociations', 2, 'bank_line_subject_associations', 'match_id', NULL, NULL, true);

-- the columns: (resource, child, column, JSON key or expression, type)
INSERT INTO billy.resource_columns (resource, child, position, column_name, json_key, type, expression, builtin)
SELECT c.resource, c.child, c.position, c.column_name, c.json_key, c.type::pg_catalog.regtype, c.expression, true
FROM (VALUES
    ('currencies', '', 1, 'name', 'name', 'text', NULL),
    ('currencies', '', 2, 'exchange_rate', 'exchangeRate', 'numeric', NULL),

    ('accountGroups', '', 1, 'nature_id', 'natureId', 'text', NULL),
    ('accountGroups', '', 2, 'name', 'name', 'text', NULL),
    ('accountGroups', '', 3, 'description', 'description', 'text', NULL),
    ('accountGroups', '', 4, 'priority', 'priority', 'integer', NULL),

    ('daybooks', '', 1, 'name', 'name', 'text', NULL),
    ('daybooks', '', 2, 'default_contra_account_id', 'defaultContraAccountId', 'text', NULL),
    ('daybooks', '', 3, 'is_transaction_summary_enabled', 'isTransactionSummaryEnabled', 'boolean', NULL),

    ('transactions', '', 1, 'transaction_no', 'transactionNo', 'integer', NULL),
    ('transactions', '', 2, 'voucher_no', 'voucherNo', 'text', NULL),
    ('transactions', '', 3, 'created_time', 'createdTime', 'timestamptz', NULL),
    ('transactions', '', 4, 'entry_date', 'entryDate', 'date', NULL),
    ('transactions', '', 5, 'originator_reference', 'originatorReference', 'text', NULL),
    ('transactions', '', 6, 'originator_type', NULL, 'text', $e$nullif(split_part(r ->> 'originatorReference', ':', 1), '')$e$),
    ('transactions', '', 7, 'originator_id', NULL, 'text', $e$nullif(split_part(r ->> 'originatorReference', ':', 2), '')$e$),
    ('transactions', '', 8, 'originator_name', 'originatorName', 'text', NULL),
    ('transactions', '', 9, 'is_voided', 'isVoided', 'boolean', NULL),
    ('transactions', '', 10, 'is_void', 'isVoid', 'boolean', NULL),
    ('transactions', 'postings', 1, 'entry_date', 'entryDate', 'date', NULL),
    ('transactions', 'postings', 2, 'text', 'text', 'text', NULL),
    ('transactions', 'postings', 3, 'account_id', 'accountId', 'text', NULL),
    ('transactions', 'postings', 4, 'amount', 'amount', 'numeric', NULL),
    ('transactions', 'postings', 5, 'side', 'side', 'text', NULL),
    ('transactions', 'postings', 6, 'currency_id', 'currencyId', 'text', NULL),
    ('transactions', 'postings', 7, 'sales_tax_return_id', 'salesTaxReturnId', 'text', NULL),
    ('transactions', 'postings', 8, 'is_voided', 'isVoided', 'boolean', NULL),
    ('transactions', 'postings', 9, 'is_bank_matched', 'isBankMatched', 'boolean', NULL),
    ('transactions', 'postings', 10, 'priority', 'priority', 'integer', NULL),

    ('daybookTransactions', '', 1, 'daybook_id', 'daybookId', 'text', NULL),
    ('daybookTransactions', '', 2, 'created_time', 'createdTime', 'timestamptz', NULL),
    ('daybookTransactions', '', 3, 'entry_date', 'entryDate', 'date', NULL),
    ('daybookTransactions', '', 4, 'voucher_no', 'voucherNo', 'text', NULL),
    ('daybookTransactions', '', 5, 'description', 'description', 'text', NULL),
    ('daybookTransactions', '', 6, 'extended_description', 'extendedDescription', 'text', NULL),
    ('daybookTransactions', '', 7, 'api_type', 'apiType', 'text', NULL),
    ('daybookTransactions', '', 8, 'state', 'state', 'text', NULL),
    ('daybookTransactions', '', 9, 'priority', 'priority', 'integer', NULL),
    ('daybookTransactions', 'lines', 1, 'text', 'text', 'text', NULL),
    ('daybookTransactions', 'lines', 2, 'account_id', 'accountId', 'text', NULL),
    ('daybookTransactions', 'lines', 3, 'tax_rate_id', 'taxRateId', 'text', NULL),
    ('daybookTransactions', 'lines', 4, 'contra_account_id', 'contraAccountId', 'text', NULL),
    ('daybookTransactions', 'lines', 5, 'amount', 'amount', 'numeric', NULL),
    ('daybookTransactions', 'lines', 6, 'side', 'side', 'text', NULL),
    ('daybookTransactions', 'lines', 7, 'currency_id', 'currencyId', 'text', NULL),
    ('daybookTransactions', 'lines', 8, 'priority', 'priority', 'integer', NULL),

    ('bankLines', '', 1, 'account_id', 'accountId', 'text', NULL),
    ('bankLines', '', 2, 'match_id', 'matchId', 'text', NULL),
    ('bankLines', '', 3, 'entry_date', 'entryDate', 'date', NULL),
    ('bankLines', '', 4, 'description', 'description', 'text', NULL),
    ('bankLines', '', 5, 'amount', 'amount', 'numeric', NULL),
    ('bankLines', '', 6, 'side', 'side', 'text', NULL),
    ('bankLines', '', 7, 'is_reconciled', 'isReconciled', 'boolean', NULL),

    ('bankLineMatches', '', 1, 'account_id', 'accountId', 'text', NULL),
    ('bankLineMatches', '', 2, 'created_time', 'createdTime', 'timestamptz', NULL),
    ('bankLineMatches', '', 3, 'entry_date', 'entryDate', 'date', NULL),
    ('bankLineMatches', '', 4, 'amount', 'amount', 'numeric', NULL),
    ('bankLineMatches', '', 5, 'side', 'side', 'text', NULL),
    ('bankLineMatches', '', 6, 'is_approved', 'isApproved', 'boolean', NULL),
    ('bankLineMatches', '', 7, 'approved_time', 'approvedTime', 'timestamptz', NULL),
    ('bankLineMatches', 'subjectAssociations', 1, 'subject_reference', 'subjectReference', 'text', NULL),
    ('bankLineMatches', 'subjectAssociations', 2, 'subject_type', NULL, 'text', $e$nullif(split_part(r ->> 'subjectReference', ':', 1), '')$e$),
    ('bankLineMatches', 'subjectAssociations', 3, 'subject_id', NULL, 'text', $e$nullif(split_part(r ->> 'subjectReference', ':', 2), '')$e$),

    ('files', '', 1, 'created_time', 'createdTime', 'timestamptz', NULL),
    ('files', '', 2, 'file_name', 'fileName', 'text', NULL),
    ('files', '', 3, 'file_size', 'fileSize', 'bigint', NULL),
    ('files', '', 4, 'file_type', 'fileType', 'text', NULL),
    ('files', '', 5, 'is_image', 'isImage', 'boolean', NULL),
    ('files', '', 6, 'is_pdf', 'isPdf', 'boolean', NULL),

    ('attachments', '', 1, 'created_time', 'createdTime', 'timestamptz', NULL),
    ('attachments', '', 2, 'owner_reference', 'ownerReference', 'text', NULL),
    ('attachments', '', 3, 'owner_type', NULL, 'text', $e$nullif(split_part(r ->> 'ownerReference', ':', 1), '')$e$),
    ('attachments', '', 4, 'owner_id', NULL, 'text', $e$nullif(split_part(r ->> 'ownerReference', ':', 2), '')$e$),
    ('attachments', '', 5, 'file_id', 'fileId', 'text', NULL),
    ('attachments', '', 6, 'priority', 'priority', 'integer', NULL)
) AS c(resource, child, position, column_name, json_key, type, expression);

-- bank lines: one scan per bank account of the mirror (its accounts are
-- synced first, sync_order 10), accountId=<id>; each scan decides the
-- deletions of its own account's lines
UPDATE billy.resources SET scope_param = 'accountId',
    scope_source = 'SELECT a.id FROM billy.accounts a WHERE a.organization_id OPERATOR(pg_catalog.=) $1 AND a.is_bank_account AND a.deleted_at IS NULL ORDER BY a.account_no, a.id'
WHERE name = 'bankLines';
