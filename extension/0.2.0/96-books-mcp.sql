------------------------------------------------------------------------------
-- The rest of the books as MCP read tools, from the mirror: the general
-- ledger's transactions with their postings (list_transactions), journal
-- entries with their lines (list_journal_entries), and the reference records
-- a model needs to read the others (list_reference: account groups,
-- currencies, daybooks, sales tax rulesets with their rules, Billy's own VAT
-- returns).  Answers are compact: short keys, no nulls, an account shown as
-- "number name", pages of 25 with total and next_offset.
-- (docs/coverage.md: what the other Billy MCP servers offer and which tool
-- covers it)
------------------------------------------------------------------------------

-- _mcp_account_label: an account as the tools show it, "5810 Husleje"
CREATE FUNCTION billy._mcp_account_label(org_id text, account_id text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(concat_ws(' ', a.account_no, a.name), account_id)
        FROM (SELECT account_id) x
        LEFT JOIN billy.accounts a ON a.organization_id = org_id AND a.id = x.account_id
        WHERE account_id IS NOT NULL);
COMMENT ON FUNCTION billy._mcp_account_label(text, text) IS
'An account as MCP answers show it: its number and name ("5810 Husleje"), or its id when the mirror does not have it; NULL for NULL. Internal.';

CREATE FUNCTION billy._mcp_transactions(org text DEFAULT NULL, period text DEFAULT NULL, account text DEFAULT NULL,
                                        transaction text DEFAULT NULL, "limit" integer DEFAULT 25, "offset" integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    -- one transaction is found in any period; a list is of a period (the fiscal year by default)
    p record := billy._ledger_period(org_id, coalesce(period, 'fy'), CURRENT_DATE);
    acc text := CASE WHEN account IS NOT NULL THEN billy._ledger_account(org_id, account) END;
    lim integer := coalesce("limit", 25);
    off integer := coalesce("offset", 0);
    dated boolean := transaction IS NULL OR period IS NOT NULL;
    total bigint;
    page jsonb;
BEGIN
    WITH m AS (
        SELECT t.* FROM billy.transactions t
        WHERE t.organization_id = org_id AND t.deleted_at IS NULL
          AND (NOT dated OR t.entry_date BETWEEN p.start_date AND p.end_date)
          AND (transaction IS NULL OR t.id = transaction OR t.transaction_no::text = transaction OR t.voucher_no = transaction
               OR t.originator_reference = transaction OR t.originator_id = transaction)
          AND (acc IS NULL OR EXISTS (SELECT 1 FROM billy.postings x WHERE x.organization_id = org_id
                                      AND x.transaction_id = t.id AND x.account_id = acc))
    ), s AS (
        SELECT * FROM m ORDER BY m.entry_date DESC, m.transaction_no DESC NULLS LAST, m.id DESC LIMIT lim OFFSET off
    )
    SELECT (SELECT count(*) FROM (SELECT FROM m LIMIT billy._list_count_cap(lim, off)) capped), coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', t.id, 'no', t.transaction_no, 'date', t.entry_date, 'voucher', t.voucher_no,
               'ref', t.originator_reference, 'text', t.originator_name,
               'voided', CASE WHEN t.is_voided THEN true END, 'reverses', CASE WHEN t.is_void THEN true END,
               'postings', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                'account', billy._mcp_account_label(org_id, x.account_id), 'amount', x.signed_amount,
                                'text', nullif(x.text, t.originator_name),
                                'currency', nullif(x.currency_id, o.base_currency)))
                                ORDER BY x.priority, x.side DESC, x.id)
                            FROM billy.postings x WHERE x.organization_id = org_id AND x.transaction_id = t.id)))
               ORDER BY t.entry_date DESC, t.transaction_no DESC NULLS LAST, t.id DESC), '[]')
    INTO total, page
    FROM s t LEFT JOIN billy.organizations o ON o.id = org_id;
    IF total = 0 AND transaction IS NOT NULL AND NOT dated THEN
        RAISE EXCEPTION 'no transaction "%"', transaction
            USING ERRCODE = '22023', DETAIL = 'No transaction of the organization has that id, number, voucher number or originator (invoice:ID, bill:ID, ...).',
                  HINT = 'Leave transaction out to list a period''s transactions, or pass account to see those of one account.';
    END IF;
    RETURN billy._list_total(total, lim, off) || jsonb_strip_nulls(jsonb_build_object(
        'period', CASE WHEN dated THEN p.label END,
        'account', CASE WHEN acc IS NOT NULL THEN billy._mcp_account_label(org_id, acc) END,
        'transactions', page, 'offset', off,
        'next_offset', CASE WHEN off + jsonb_array_length(page) < total THEN off + jsonb_array_length(page) END,
        'note', 'amount: debit +, credit -, in the base currency; each transaction''s postings add up to 0.'));
END
$$;
COMMENT ON FUNCTION billy._mcp_transactions(text, text, text, text, integer, integer) IS
'The list_transactions tool: the general ledger''s transactions (bilag) from the mirror, newest first, each with its postings (account as number and name, signed amount: debit +); those of a period (default the fiscal year, as billy._ledger_period reads it), of one account (id, number or name), or one transaction by id, number, voucher number or originator (invoice:ID, ...); a page of 25 unless limit says otherwise, with total and next_offset. Internal.';

CREATE FUNCTION billy._mcp_journal_entries(org text DEFAULT NULL, journal_entry text DEFAULT NULL, state text DEFAULT NULL,
                                           period text DEFAULT NULL, "limit" integer DEFAULT 25, "offset" integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    lo date := '-infinity';
    hi date := 'infinity';
    label text;
    lim integer := coalesce("limit", 25);
    off integer := coalesce("offset", 0);
    total bigint;
    page jsonb;
BEGIN
    IF period IS NOT NULL THEN
        SELECT l.label, l.start_date, l.end_date INTO label, lo, hi FROM billy._ledger_period(org_id, period, CURRENT_DATE) l;
    END IF;
    WITH m AS (
        SELECT d.* FROM billy.daybook_transactions d
        WHERE d.organization_id = org_id AND d.deleted_at IS NULL
          AND (journal_entry IS NULL OR d.id = journal_entry OR d.voucher_no = journal_entry)
          AND (_mcp_journal_entries.state IS NULL OR d.state = _mcp_journal_entries.state)
          AND d.entry_date BETWEEN lo AND hi
    ), s AS (
        SELECT * FROM m ORDER BY m.entry_date DESC, m.id DESC LIMIT lim OFFSET off
    )
    SELECT (SELECT count(*) FROM (SELECT FROM m LIMIT billy._list_count_cap(lim, off)) capped), coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', d.id, 'date', d.entry_date, 'voucher', d.voucher_no, 'text', d.description, 'state', d.state,
               'daybook', (SELECT b.name FROM billy.daybooks b WHERE b.organization_id = org_id AND b.id = d.daybook_id),
               'transaction_no', (SELECT min(t.transaction_no) FROM billy.transactions t WHERE t.organization_id = org_id
                                  AND t.originator_type = 'daybookTransaction' AND t.originator_id = d.id AND NOT coalesce(t.is_void, false)
                                  AND t.deleted_at IS NULL),
               'lines', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                             'account', billy._mcp_account_label(org_id, l.account_id), 'side', l.side, 'amount', l.amount,
                             'text', nullif(l.text, d.description),
                             'tax', (SELECT r.abbreviation FROM billy.tax_rates r WHERE r.organization_id = org_id AND r.id = l.tax_rate_id),
                             'contra', billy._mcp_account_label(org_id, l.contra_account_id),
                             'currency', nullif(l.currency_id, o.base_currency)))
                             ORDER BY l.priority, l.id)
                         FROM billy.daybook_transaction_lines l WHERE l.organization_id = org_id AND l.daybook_transaction_id = d.id)))
               ORDER BY d.entry_date DESC, d.id DESC), '[]')
    INTO total, page
    FROM s d LEFT JOIN billy.organizations o ON o.id = org_id;
    IF total = 0 AND journal_entry IS NOT NULL THEN
        RAISE EXCEPTION 'no journal entry "%"', journal_entry
            USING ERRCODE = '22023', DETAIL = 'No journal entry of the organization has that id or voucher number (with the state and period given).',
                  HINT = 'Leave journal_entry out to list them; a new one reaches the mirror with its write.';
    END IF;
    RETURN billy._list_total(total, lim, off) || jsonb_strip_nulls(jsonb_build_object(
        'period', label, 'journal_entries', page, 'offset', off,
        'next_offset', CASE WHEN off + jsonb_array_length(page) < total THEN off + jsonb_array_length(page) END));
END
$$;
COMMENT ON FUNCTION billy._mcp_journal_entries(text, text, text, text, integer, integer) IS
'The list_journal_entries tool: Billy''s journal entries (daybook transactions) from the mirror, newest first, each with its daybook, state, the number of the transaction it booked and its lines (account and contra account as number and name, side, amount, tax rate code); one by id or voucher number, or those of a state and period; a page of 25 unless limit says otherwise, with total and next_offset. Internal.';

-- list_reference: the kinds are resources of the catalog (billy.resources)
-- whose records are few and read as they are; each row is the mirror's
-- columns without its bookkeeping, its children (a ruleset's rules) nested
CREATE FUNCTION billy._mcp_reference_kinds() RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT array_agg(r.name ORDER BY r.sync_order, r.name) FROM billy.resources r
        WHERE r.name IN ('accountGroups', 'currencies', 'daybooks', 'salesTaxRulesets', 'salesTaxReturns'));
COMMENT ON FUNCTION billy._mcp_reference_kinds() IS
'The kinds list_reference reads: the resources of billy.resources whose records are few and read whole (account groups, currencies, daybooks, sales tax rulesets, Billy''s VAT returns). Internal.';

CREATE FUNCTION billy._mcp_reference(org text DEFAULT NULL, kind text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    r billy.resources;
    drop_keys text[] := ARRAY['organization_id', 'raw', 'content_hash', 'first_seen_at', 'confirmed_at', 'changed_at',
                              'deleted_at', 'sync_run_id'];
    nested text := '';
    c record;
    rows jsonb;
BEGIN
    SELECT * INTO r FROM billy.resources x WHERE x.name = kind AND x.name = ANY (billy._mcp_reference_kinds());
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown kind "%"', kind
            USING ERRCODE = '22023', HINT = 'Pass kind: ' || array_to_string(billy._mcp_reference_kinds(), ', ') || '.';
    END IF;
    FOR c IN SELECT ch.key, ch.table_name, ch.parent_column FROM billy.resource_children ch
             WHERE ch.resource = r.name AND ch.table_name IS NOT NULL ORDER BY ch.position LOOP
        nested := nested || format(
            ' || jsonb_build_object(%L, (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(to_jsonb(c) - $2 - %L) ORDER BY c.id), ''[]'')'
            ' FROM billy.%I c WHERE c.organization_id = t.organization_id AND c.%I = t.id))',
            c.key, c.parent_column, c.table_name, c.parent_column);
    END LOOP;
    EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_strip_nulls(to_jsonb(t) - $2)%s'
                   ' ORDER BY to_jsonb(t) ->> ''start_date'' DESC NULLS LAST, t.id), ''[]'')'
                   ' FROM billy.%I t WHERE t.organization_id = $1 AND t.deleted_at IS NULL', nested, r.table_name)
        INTO rows USING org_id, drop_keys;
    RETURN jsonb_build_object('kind', r.name, 'rows', rows, 'total', jsonb_array_length(rows));
END
$$;
COMMENT ON FUNCTION billy._mcp_reference(text, text) IS
'The list_reference tool: every record of one kind (billy._mcp_reference_kinds) from the mirror, its columns without the mirror''s bookkeeping and nulls, with its children nested (a ruleset''s rules); Billy''s VAT returns newest first. Internal.';

REVOKE ALL ON FUNCTION billy._mcp_account_label(text, text), billy._mcp_transactions(text, text, text, text, integer, integer),
    billy._mcp_journal_entries(text, text, text, text, integer, integer), billy._mcp_reference_kinds(),
    billy._mcp_reference(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy._mcp_account_label(text, text), billy._mcp_transactions(text, text, text, text, integer, integer),
    billy._mcp_journal_entries(text, text, text, text, integer, integer), billy._mcp_reference_kinds(),
    billy._mcp_reference(text, text) TO billy_reader;

INSERT INTO billy.mcp_tools (name, title, sort_order, function, requires, arguments, kind, issue,
                             annotations, input_schema, description, builtin)
VALUES
('list_reference', 'Reference data', 440,
 'billy._mcp_reference', '{}', '{"organization": "org"}', 'call', 'issue 14: the books',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input(jsonb_build_object('kind', jsonb_build_object('enum', to_jsonb(billy._mcp_reference_kinds()))), ARRAY['kind']),
 'Account groups, currencies, daybooks, sales tax rulesets with rules, or Billy''s own VAT returns.',
 true),
('list_transactions', 'Ledger transactions', 735,
 'billy._mcp_transactions', '{}', '{"organization": "org"}', 'call', 'issue 14: the books',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "period": {"type": "string", "maxLength": 40},
    "account": {"type": "string", "maxLength": 200},
    "transaction": {"type": "string", "maxLength": 100, "description": "Id, number, voucher or invoice:ID."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "offset": {"type": "integer", "minimum": 0}}$j$),
 'Ledger transactions (bilag), newest first, with their postings: of a period, an account, or one.',
 true),
('list_journal_entries', 'Journal entries', 736,
 'billy._mcp_journal_entries', '{}', '{"organization": "org"}', 'call', 'issue 14: the books',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "journal_entry": {"type": "string", "maxLength": 100, "description": "Id or voucher."},
    "state": {"enum": ["draft", "approved", "voided"]},
    "period": {"type": "string", "maxLength": 40},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "offset": {"type": "integer", "minimum": 0}}$j$),
 'Journal entries (kassekladde), newest first, with their lines, state and the transaction they booked.',
 true);
