------------------------------------------------------------------------------
-- Bank reconciliation: the bank lines not matched yet, and for each the open
-- invoices or bills it most likely pays, ranked, with the reason.
--
-- A line is unmatched while its match_id is NULL.  Its candidates are the
-- open documents (approved, not paid, balance above 0, not deleted) in the
-- currency of its bank account (the organization's base currency when the
-- account names none), dated on or before the line, on the line's side:
-- money in (debit) pays invoices and supplier credit notes, money out
-- (credit) bills and customer credit notes.  Each candidate scores points
-- (billy._bank_match_score):
--   45  the line's amount is the document's balance (20: its gross amount,
--       when part of it was paid already);
--   35  the document's number is in the line's text as a word (an invoice's
--       number; a bill's supplier invoice number);
--   25  the counterparty's name is in the text (its first 15 characters,
--       case-insensitive: banks cut and capitalize names), 10 for its first
--       word alone (4 characters or more);
--   10  the line is dated at the document's due date, falling linearly to 0
--       at 30 days away;
-- and counts only with at least one of amount, number or name.  The score
-- is the points over 115 (3 decimals); ties go to the nearer due date.
------------------------------------------------------------------------------

-- _bank_account: a bank account of the organization by id, number or name
CREATE FUNCTION billy._bank_account(o text, account text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_id text;
    n integer;
BEGIN
    SELECT count(*), min(a.id) INTO n, found_id FROM billy.accounts a
    WHERE a.organization_id = o AND a.deleted_at IS NULL AND a.is_bank_account
      AND (a.id = account OR a.account_no::text = btrim(account) OR lower(a.name) = lower(btrim(account)));
    IF n = 1 THEN
        RETURN found_id;
    END IF;
    RAISE EXCEPTION '% bank account "%"', CASE WHEN n = 0 THEN 'unknown' ELSE 'ambiguous' END, account
        USING ERRCODE = '22023',
              HINT = 'Pass the id, number or name of a bank account (list_accounts marks them bank), or leave it out for every bank account.';
END
$$;
COMMENT ON FUNCTION billy._bank_account(text, text) IS
'A bank account (is_bank_account) of the organization by id, account number or name (case-insensitive); an error naming it when there is none or several. Internal.';

-- _bank_match_score: the points a document scores for a line, and why
CREATE FUNCTION billy._bank_match_score(line_text text, line_amount numeric, line_date date,
                                        doc_no text, doc_name text, doc_balance numeric, doc_gross numeric,
                                        doc_due date, OUT points integer, OUT reason text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text := lower(coalesce(line_text, ''));
    n text := lower(btrim(coalesce(doc_name, '')));
    first_word text := lower(substring(btrim(coalesce(doc_name, '')) FROM '^[[:alnum:]]+'));
    amount_pts integer := CASE WHEN line_amount = doc_balance THEN 45 WHEN line_amount = doc_gross THEN 20 ELSE 0 END;
    no_pts integer := 0;
    name_pts integer := 0;
    date_pts integer := 0;
    why text[] := '{}';
BEGIN
    IF length(doc_no) >= 1 AND position(lower(doc_no) IN t) > 0
       AND t ~ ('(^|[^[:alnum:]])' || regexp_replace(lower(doc_no), '([^[:alnum:]])', '\\\1', 'g') || '($|[^[:alnum:]])') THEN
        no_pts := 35;
    END IF;
    IF length(n) >= 3 AND position(left(n, 15) IN t) > 0 THEN
        name_pts := 25;
    ELSIF length(first_word) >= 4 AND t ~ ('(^|[^[:alnum:]])' || first_word || '($|[^[:alnum:]])') THEN
        name_pts := 10;
    END IF;
    IF amount_pts + no_pts + name_pts = 0 THEN
        points := 0;
        RETURN;
    END IF;
    IF doc_due IS NOT NULL THEN
        date_pts := greatest(0, round(10 * (1 - abs(line_date - doc_due) / 30.0)))::integer;
    END IF;
    IF amount_pts = 45 THEN why := why || 'amount = balance'::text;
    ELSIF amount_pts = 20 THEN why := why || 'amount = gross amount (part paid)'::text; END IF;
    IF no_pts > 0 THEN why := why || format('number %s in the text', doc_no); END IF;
    IF name_pts = 25 THEN why := why || 'name in the text'::text;
    ELSIF name_pts = 10 THEN why := why || format('"%s" in the text', first_word); END IF;
    IF doc_due IS NOT NULL THEN
        why := why || CASE WHEN line_date = doc_due THEN 'on the due date'
                           WHEN line_date > doc_due THEN format('%s days after due', line_date - doc_due)
                           ELSE format('%s days before due', doc_due - line_date) END;
    END IF;
    points := amount_pts + no_pts + name_pts + date_pts;
    reason := array_to_string(why, '; ');
END
$$;
COMMENT ON FUNCTION billy._bank_match_score(text, numeric, date, text, text, numeric, numeric, date) IS
'The points an open document scores as what a bank line pays (see the head of extension/0.2.0/94-reconcile.sql: amount 45 or 20, number 35, name 25 or 10, date up to 10; 0 without amount, number or name) and the reason in words. Internal.';

CREATE FUNCTION billy.unmatched_bank_lines(org text DEFAULT NULL, account text DEFAULT NULL,
                                           from_date date DEFAULT NULL, to_date date DEFAULT NULL)
RETURNS TABLE (account_id text, account_no integer, account_name text, id text, entry_date date,
               description text, amount numeric, currency text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    o text := billy._resolve_org(org);
    acc text := CASE WHEN account IS NOT NULL THEN billy._bank_account(o, account) END;
BEGIN
    PERFORM billy._check_dates(from_date, to_date);
    RETURN QUERY
    SELECT l.account_id, a.account_no, a.name, l.id, l.entry_date, l.description,
           CASE l.side WHEN 'credit' THEN -l.amount ELSE l.amount END,
           coalesce(a.currency_id, g.base_currency, 'DKK')
    FROM billy.bank_lines l
    JOIN billy.organizations g ON g.id = l.organization_id
    LEFT JOIN billy.accounts a ON a.organization_id = l.organization_id AND a.id = l.account_id
    WHERE l.organization_id = o AND l.match_id IS NULL AND l.deleted_at IS NULL
      AND (acc IS NULL OR l.account_id = acc)
      AND (from_date IS NULL OR l.entry_date >= from_date)
      AND (to_date IS NULL OR l.entry_date <= to_date)
    ORDER BY a.account_no, l.account_id, l.entry_date DESC, l.id;
END
$$;
COMMENT ON FUNCTION billy.unmatched_bank_lines(text, text, date, date) IS
'The bank lines of an organization not matched yet (match_id NULL), per bank account (account: id, number or name; NULL: every one), newest first: the account, the line''s date, text, amount (money in positive, money out negative) and currency. from_date/to_date bound the line''s date. From the mirror.';

CREATE FUNCTION billy.bank_match_suggestions(org text DEFAULT NULL, account text DEFAULT NULL, line text DEFAULT NULL,
                                             per_line integer DEFAULT 3, from_date date DEFAULT NULL, to_date date DEFAULT NULL)
RETURNS TABLE (line_id text, line_date date, line_text text, line_amount numeric, currency text, rank integer,
               subject_reference text, subject_type text, subject_id text, subject_no text, contact text,
               due_date date, balance numeric, score numeric, reason text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    o text := billy._resolve_org(org);
BEGIN
    IF per_line IS NULL OR per_line < 1 OR per_line > 20 THEN
        RAISE EXCEPTION 'per_line must be between 1 and 20, not %', coalesce(per_line::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    IF line IS NOT NULL AND NOT EXISTS (SELECT 1 FROM billy.bank_lines l WHERE l.organization_id = o AND l.id = line AND l.deleted_at IS NULL) THEN
        RAISE EXCEPTION 'unknown bank line "%"', line
            USING ERRCODE = '22023', HINT = 'Pass the id of a bank line of this organization (list_unmatched_bank_lines lists the unmatched ones).';
    END IF;
    RETURN QUERY
    WITH lines AS (
        SELECT u.id, u.entry_date, u.description, lower(u.description) AS t, u.amount AS signed, abs(u.amount) AS amount, u.currency
        FROM billy.unmatched_bank_lines(o, account, from_date, to_date) u
        WHERE line IS NULL OR u.id = line
    ), docs AS (
        -- open invoices and customer credit notes
        SELECT 'invoice'::text AS kind, i.id, i.invoice_no AS no, c.name, i.entry_date, i.due_date,
               i.balance, i.gross_amount, i.currency_id,
               CASE i.type WHEN 'creditNote' THEN 'credit' ELSE 'debit' END AS side
        FROM billy.invoices i
        LEFT JOIN billy.contacts c ON c.organization_id = i.organization_id AND c.id = i.contact_id
        WHERE i.organization_id = o AND i.deleted_at IS NULL AND i.state = 'approved'
          AND i.is_paid IS NOT TRUE AND i.balance > 0
        UNION ALL
        -- open bills and supplier credit notes
        SELECT 'bill', b.id, b.suppliers_invoice_no, b.contact_name, b.entry_date, b.due_date,
               b.balance, b.gross_amount, b.currency_id,
               CASE b.type WHEN 'creditNote' THEN 'debit' ELSE 'credit' END
        FROM billy.bills b
        WHERE b.organization_id = o AND b.deleted_at IS NULL AND b.state = 'approved'
          AND b.is_paid IS NOT TRUE AND b.balance > 0
    ), scored AS (
        SELECT l.id AS line_id, l.entry_date AS line_date, l.description AS line_text, l.signed, l.currency,
               d.kind, d.id AS doc_id, d.no, d.name, d.due_date, d.balance, s.points, s.reason
        FROM lines l
        JOIN docs d ON d.currency_id = l.currency AND d.side = CASE WHEN l.signed >= 0 THEN 'debit' ELSE 'credit' END
                   AND d.entry_date <= l.entry_date
        CROSS JOIN LATERAL billy._bank_match_score(l.description, l.amount, l.entry_date, d.no, d.name,
                                                   d.balance, d.gross_amount, d.due_date) s
        -- what every scoring pair has (amount, or number or name somewhere
        -- in the text), checked first so that only those are scored
        WHERE (l.amount IN (d.balance, d.gross_amount)
               OR position(lower(d.no) IN l.t) > 0
               OR position(lower(substring(btrim(d.name) FROM '^[[:alnum:]]+')) IN l.t) > 0)
          AND s.points > 0
    ), ranked AS (
        SELECT x.*, row_number() OVER (PARTITION BY x.line_id
                                       ORDER BY x.points DESC, abs(x.line_date - coalesce(x.due_date, x.line_date)), x.doc_id) AS r
        FROM scored x
    )
    SELECT r.line_id, r.line_date, r.line_text, r.signed, r.currency, r.r::integer,
           r.kind || ':' || r.doc_id, r.kind, r.doc_id, r.no, r.name, r.due_date, r.balance,
           round(r.points / 115.0, 3), r.reason
    FROM ranked r
    WHERE r.r <= per_line
    ORDER BY r.line_date DESC, r.line_id, r.r;
END
$$;
COMMENT ON FUNCTION billy.bank_match_suggestions(text, text, text, integer, date, date) IS
'What the unmatched bank lines (billy.unmatched_bank_lines; account, from_date, to_date as there; line: one line by id) most likely pay: for each line up to per_line (1..20, default 3) open invoices or bills, best first (rank 1), with subject_reference (invoice:ID or bill:ID, as a bank line match takes it), number, counterparty, due date, balance, a score (0..1) and the reason. Candidates: open documents in the line''s currency, on its side (money in: invoices; money out: bills; credit notes the other way), dated on or before the line; points for the amount (= balance 45, = gross 20), the document''s number in the text (35), the counterparty''s name in the text (25, or 10 for its first word) and the date (up to 10 at the due date, 0 at 30 days); at least amount, number or name must agree. Lines without a candidate are left out. From the mirror; matching itself is a write.';

GRANT EXECUTE ON FUNCTION billy.unmatched_bank_lines(text, text, date, date),
    billy.bank_match_suggestions(text, text, text, integer, date, date),
    billy._bank_account(text, text),
    billy._bank_match_score(text, numeric, date, text, text, numeric, numeric, date) TO billy_reader;

-- The MCP tool: unmatched lines, newest first, each with its suggestions.
-- An assistant acts on what it reads: the open invoices and bills are
-- confirmed first, as list_invoices does (one isPaid=false scan each when
-- they are older than their window, or max_age), so that a document paid
-- since is not suggested.
CREATE FUNCTION billy._mcp_bank_matches(org text DEFAULT NULL, account text DEFAULT NULL, line text DEFAULT NULL,
                                        "limit" integer DEFAULT 20, "offset" integer DEFAULT 0,
                                        max_age interval DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o text := billy._resolve_org(org);
    lim integer := coalesce("limit", 20);
    off integer := coalesce("offset", 0);
    total bigint;
    page jsonb;
    stale text := concat_ws('; ', billy._cache_confirm_hot(o, 'invoices', max_age), billy._cache_confirm_hot(o, 'bills', max_age));
BEGIN
    PERFORM billy._check_page(lim, off);
    SELECT count(*) INTO total FROM billy.unmatched_bank_lines(o, account) u WHERE line IS NULL OR u.id = line;
    WITH lines AS (
        SELECT u.*, row_number() OVER () AS n
        FROM billy.unmatched_bank_lines(o, account) u
        WHERE line IS NULL OR u.id = line
        LIMIT lim OFFSET off
    ), sugg AS (
        SELECT s.line_id, jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                   'ref', s.subject_reference, 'no', s.subject_no, 'contact', s.contact, 'due', s.due_date,
                   'balance', s.balance, 'score', s.score, 'why', s.reason)) ORDER BY s.rank) AS list
        FROM billy.bank_match_suggestions(o, account, line, 3) s
        WHERE s.line_id IN (SELECT l.id FROM lines l)
        GROUP BY s.line_id
    )
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', l.id, 'date', l.entry_date, 'amount', l.amount, 'currency', l.currency, 'text', l.description,
               'account', coalesce(l.account_no::text, l.account_id), 'suggestions', g.list)) ORDER BY l.n), '[]')
    INTO page
    FROM lines l LEFT JOIN sugg g ON g.line_id = l.id;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'lines', page, 'unmatched', total, 'offset', off, 'returned', jsonb_array_length(page),
        'next_offset', CASE WHEN off + jsonb_array_length(page) < total THEN off + jsonb_array_length(page) END,
        'freshness', jsonb_strip_nulls(jsonb_build_object(
            'open_documents_confirmed_at', (SELECT min(greatest(s.last_complete_scan_at, s.last_hot_scan_at)) FROM billy.sync_state s
                                            WHERE s.organization_id = o AND s.resource IN ('invoices', 'bills')),
            'bank_lines_synced_at', (SELECT s.last_complete_scan_at FROM billy.sync_state s
                                     WHERE s.organization_id = o AND s.resource = 'bankLines'),
            'stale_reason', nullif(stale, '')))));
END
$$;
COMMENT ON FUNCTION billy._mcp_bank_matches(text, text, text, integer, integer, interval) IS
'The list_unmatched_bank_lines tool: the open invoices and bills confirmed first when the call wants it (billy._cache_confirm_hot, as list_invoices), then a page of billy.unmatched_bank_lines (20 unless limit says otherwise), each with up to 3 of billy.bank_match_suggestions (ref, number, counterparty, due date, balance, score, why), the number unmatched, where the next page starts, and when the open documents were confirmed and the bank lines synced. Internal.';
GRANT EXECUTE ON FUNCTION billy._mcp_bank_matches(text, text, text, integer, integer, interval) TO billy_reader;

INSERT INTO billy.mcp_tools (name, title, sort_order, function, arguments, kind, annotations, input_schema, description, builtin)
VALUES ('list_unmatched_bank_lines', 'Unmatched bank lines', 530, 'billy._mcp_bank_matches', '{"organization": "org", "line_id": "line"}', 'call',
        '{"readOnlyHint": true, "openWorldHint": true}',
        billy._mcp_input(jsonb_build_object(
            'account', '{"type": "string", "maxLength": 200, "description": "Id, number or name."}'::jsonb,
            'line_id', '{"type": "string", "maxLength": 100}'::jsonb,
            'limit', '{"type": "integer", "minimum": 1, "maximum": 500}'::jsonb,
            'offset', '{"type": "integer", "minimum": 0}'::jsonb) || billy._mcp_max_age_arg()),
        'Unmatched bank lines, newest first, each with the open invoices or bills it likely pays and why.',
        true);
