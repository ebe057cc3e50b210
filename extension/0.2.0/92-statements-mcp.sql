------------------------------------------------------------------------------
-- The statements as one MCP read tool: get_statement (trial balance, profit
-- and loss, balance sheet, an account's statement, the cross-checks), its
-- answer compact (short keys, no nulls, an account statement capped)
------------------------------------------------------------------------------

CREATE FUNCTION billy._mcp_statement(org text DEFAULT NULL, statement text DEFAULT NULL, period text DEFAULT 'fy',
                                     account text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    p record := billy._ledger_period(org_id, coalesce(period, 'fy'), CURRENT_DATE);
    head jsonb;
    cap constant integer := 300;
    acc text;
    n bigint;
BEGIN
    head := jsonb_build_object('statement', statement, 'period', p.label, 'from', p.start_date, 'to', p.end_date,
                               'currency', (SELECT coalesce(o.base_currency, 'DKK') FROM billy.organizations o WHERE o.id = org_id));
    IF statement IN ('profit_and_loss', 'balance_sheet') THEN
        head := head || jsonb_build_object('previous', p.previous_start || '..' || p.previous_end);
    END IF;
    CASE statement
    WHEN 'trial_balance' THEN
        RETURN head || jsonb_build_object('rows', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('no', t.account_no, 'account', t.account_name,
                       'opening', t.opening, 'debit', t.debit, 'credit', t.credit, 'closing', t.closing)))
            FROM billy.trial_balance(org_id, period) t), '[]'),
            'note', 'Signed debit +; revenue and expense accounts open the fiscal year at 0 (earlier years: Overført resultat).');
    WHEN 'profit_and_loss' THEN
        RETURN head || jsonb_build_object('rows', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('line', l.line, 'no', l.account_no,
                       'name', l.account_name, 'amount', l.amount, 'previous', l.previous)))
            FROM billy.profit_and_loss(org_id, period) l), '[]'),
            'note', 'Income +, costs -; line group is the group''s total, result the sum.');
    WHEN 'balance_sheet' THEN
        RETURN head || jsonb_build_object('rows', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('line', b.line, 'side', b.nature, 'no', b.account_no,
                       'name', b.account_name, 'amount', b.amount, 'previous', b.previous)))
            FROM billy.balance_sheet(org_id, period) b), '[]'),
            'note', 'At the period''s end: assets debit +, liabilities and equity credit +.');
    WHEN 'account' THEN
        IF account IS NULL THEN
            RAISE EXCEPTION 'statement account needs an account'
                USING ERRCODE = '22023', HINT = 'Pass account: its number (5810) or name (list_accounts).';
        END IF;
        acc := billy._ledger_account(org_id, account);
        SELECT count(*) INTO n FROM billy.account_statement(acc, org_id, period);
        RETURN head || jsonb_build_object(
            'account', (SELECT a.account_no || ' ' || a.name FROM billy.accounts a WHERE a.organization_id = org_id AND a.id = acc),
            'rows', coalesce((
                SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('date', s.entry_date, 'no', s.transaction_no,
                           'voucher', s.voucher_no, 'text', s.text, 'ref', s.originator_reference,
                           'amount', coalesce(s.debit, 0) - coalesce(s.credit, 0), 'balance', s.balance)))
                FROM (SELECT * FROM billy.account_statement(acc, org_id, period) LIMIT cap + 1) s), '[]'),
            'closing', (SELECT s.balance FROM billy.account_statement(acc, org_id, period) s
                        ORDER BY s.entry_date DESC, s.transaction_no DESC NULLS LAST, s.posting_id DESC NULLS LAST LIMIT 1))
            || CASE WHEN n > cap + 1 THEN jsonb_build_object('truncated', true,
                   'hint', format('Showing the first %s of %s postings; ask for a shorter period for the rest.', cap, n - 1))
                    ELSE '{}' END;
    WHEN 'check' THEN
        RETURN head || jsonb_build_object(
            'ok', NOT EXISTS (SELECT 1 FROM billy.ledger_check(org_id, period) c WHERE c.severity <> 'info'),
            'rows', coalesce((
                SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('check', c.check_name, 'severity', c.severity,
                           'subject', c.subject, 'difference', c.difference, 'message', c.message))
                           ORDER BY c.severity = 'info', c.check_name, c.subject)
                FROM billy.ledger_check(org_id, period) c), '[]'));
    ELSE
        RAISE EXCEPTION 'unknown statement "%"', statement
            USING ERRCODE = '22023', HINT = 'Pass statement: trial_balance, profit_and_loss, balance_sheet, account or check.';
    END CASE;
END
$$;
COMMENT ON FUNCTION billy._mcp_statement(text, text, text, text) IS
'The get_statement tool: billy.trial_balance, profit_and_loss, balance_sheet, account_statement (at most 300 postings, then truncated with a hint) or ledger_check of a period, as compact JSON with the period''s dates and currency. Internal.';
REVOKE ALL ON FUNCTION billy._mcp_statement(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy._mcp_statement(text, text, text, text) TO billy_reader;

INSERT INTO billy.mcp_tools (name, title, sort_order, function, requires, arguments, fixed_args, kind, issue,
                             annotations, input_schema, output_schema, description, builtin)
VALUES
('get_statement', 'Statements', 730,
 'billy._mcp_statement', ARRAY['billy.trial_balance', 'billy.ledger_check'], '{"organization": "org"}', '{}', 'call',
 'issue 14: the books',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "statement": {"enum": ["trial_balance", "profit_and_loss", "balance_sheet", "account", "check"]},
    "period": {"type": "string", "maxLength": 40},
    "account": {"type": "string", "maxLength": 200, "description": "Number or name."}}$j$,
    ARRAY['statement']),
 NULL,
 'Trial balance, P&L, balance sheet (with last year), account postings, or cross-checks.',
 true);
