------------------------------------------------------------------------------
-- Bank reconciliation: the bank lines not matched yet (synced per bank
-- account, 25-ledger.sql), and for each the open invoices or bills it most
-- likely pays, ranked, with the reason; matching and unmatching as gated
-- writes (at the end).
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
-- and counts only with at least one of amount, number or name.  A payment
-- of several documents of one counterparty: when two or three of a line's
-- ten best candidates with the same counterparty have balances that add up
-- to the line's amount, each of them takes the amount's 45 points and names
-- the others (together).  The score is the points over 115 (3 decimals);
-- ties go to the nearer due date.
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
               due_date date, balance numeric, score numeric, reason text, together text[])
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
        SELECT l.id AS line_id, l.entry_date AS line_date, l.description AS line_text, l.signed, l.amount, l.currency,
               d.kind, d.id AS doc_id, d.kind || ':' || d.id AS ref, d.no, d.name, d.due_date, d.balance, d.gross_amount AS gross, s.points, s.reason,
               row_number() OVER (PARTITION BY l.id ORDER BY s.points DESC, d.id) AS pre
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
    ), combos AS (
        -- a payment of several documents of one counterparty: two or three
        -- of a line's ten best candidates whose balances add up to its amount
        SELECT a.line_id, ARRAY[a.ref, b.ref] AS refs
        FROM scored a JOIN scored b ON b.line_id = a.line_id AND b.ref > a.ref AND b.name = a.name AND b.pre <= 10
        WHERE a.pre <= 10 AND a.balance + b.balance = a.amount
        UNION ALL
        SELECT a.line_id, ARRAY[a.ref, b.ref, c.ref]
        FROM scored a JOIN scored b ON b.line_id = a.line_id AND b.ref > a.ref AND b.name = a.name AND b.pre <= 10
        JOIN scored c ON c.line_id = a.line_id AND c.ref > b.ref AND c.name = a.name AND c.pre <= 10
        WHERE a.pre <= 10 AND a.balance + b.balance + c.balance = a.amount
    ), together AS (
        SELECT DISTINCT ON (c.line_id) c.line_id, c.refs FROM combos c ORDER BY c.line_id, cardinality(c.refs), c.refs
    ), rescored AS (
        -- the documents paid together take the amount's points
        SELECT x.*, g.refs AS together_refs,
               x.points + CASE WHEN g.refs IS NOT NULL AND x.amount NOT IN (x.balance, x.gross) THEN 45 ELSE 0 END AS total,
               CASE WHEN g.refs IS NOT NULL THEN format('amount = balances of %s documents together; ', cardinality(g.refs)) ELSE '' END
               || x.reason AS why
        FROM scored x LEFT JOIN together g ON g.line_id = x.line_id AND x.ref = ANY (g.refs)
    ), ranked AS (
        SELECT x.*, row_number() OVER (PARTITION BY x.line_id
                                       ORDER BY x.total DESC, abs(x.line_date - coalesce(x.due_date, x.line_date)), x.doc_id) AS r
        FROM rescored x
    )
    SELECT r.line_id, r.line_date, r.line_text, r.signed, r.currency, r.r::integer,
           r.ref, r.kind, r.doc_id, r.no, r.name, r.due_date, r.balance,
           round(r.total / 115.0, 3), r.why, array_remove(r.together_refs, r.ref)
    FROM ranked r
    WHERE r.r <= per_line
    ORDER BY r.line_date DESC, r.line_id, r.r;
END
$$;
COMMENT ON FUNCTION billy.bank_match_suggestions(text, text, text, integer, date, date) IS
'What the unmatched bank lines (billy.unmatched_bank_lines; account, from_date, to_date as there; line: one line by id) most likely pay: for each line up to per_line (1..20, default 3) open invoices or bills, best first (rank 1), with subject_reference (invoice:ID or bill:ID, as a bank line match takes it), number, counterparty, due date, balance, a score (0..1), the reason, and together: the other documents the line pays with this one (NULL: none). Candidates: open documents in the line''s currency, on its side (money in: invoices; money out: bills; credit notes the other way), dated on or before the line; points for the amount (= balance 45, = gross 20), the document''s number in the text (35), the counterparty''s name in the text (25, or 10 for its first word) and the date (up to 10 at the due date, 0 at 30 days); at least amount, number or name must agree; two or three of a line''s ten best candidates of one counterparty whose balances add up to the line''s amount are paid together: each takes the amount''s 45 points and names the others in together. Lines without a candidate are left out. From the mirror; matching itself is a write (billy.match_bank_line takes subject_reference).';

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
                   'balance', s.balance, 'score', s.score, 'why', s.reason, 'with', s.together)) ORDER BY s.rank) AS list
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
'The list_unmatched_bank_lines tool: the open invoices and bills confirmed first when the call wants it (billy._cache_confirm_hot, as list_invoices), then a page of billy.unmatched_bank_lines (20 unless limit says otherwise), each with up to 3 of billy.bank_match_suggestions (ref, number, counterparty, due date, balance, score, why, with: the documents it is paid together with), the number unmatched, where the next page starts, and when the open documents were confirmed and the bank lines synced. Internal.';
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

------------------------------------------------------------------------------
-- Matching and unmatching as gated writes (rows of billy.write_catalog, so
-- preview -> commit, the outbox, the audit trail, the look-up that keeps a
-- retry from matching twice, a one-call SQL function and an MCP tool each):
--   match_bank_line    POST /bankLineMatches: bank lines of one account with
--                      the open invoices or bills they pay (Billy registers
--                      the payment: the documents' balances drop)
--   unmatch_bank_line  DELETE /bankLineMatches/<the line's match>: the lines
--                      are unmatched again, a payment the match made is voided
------------------------------------------------------------------------------

CREATE FUNCTION billy._plan_match_bank_line(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p jsonb := '[]';
    t jsonb := '[]';
    x text;
    i integer;
    f text;
    l billy.bank_lines;
    d record;
    acc billy.accounts;
    acc_id text;
    acc_cur text;
    first_line billy.bank_lines;
    net numeric := 0;
    open_sum numeric := 0;
    cur text;
    kind text;
    rid text;
    pays text;
BEGIN
    FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements_text(args -> 'lineIds') WITH ORDINALITY y(e, n) LOOP
        f := format('lineIds[%s]', i);
        SELECT * INTO l FROM billy.bank_lines b WHERE b.organization_id = org AND b.id = x AND b.deleted_at IS NULL;
        IF NOT FOUND THEN
            p := p || billy._problem(f, billy._missing('bank line', org, x) || '; list_unmatched_bank_lines lists the lines to match');
            CONTINUE;
        END IF;
        t := t || jsonb_build_array(billy._touch('bank_lines', org, x));
        IF l.match_id IS NOT NULL THEN
            p := p || billy._problem(f, format('bank line %s is already matched (match %s): leave it out, or unmatch it first (unmatch_bank_line)', x, l.match_id));
        END IF;
        IF acc_id IS NOT NULL AND l.account_id IS DISTINCT FROM acc_id THEN
            p := p || billy._problem(f, format('bank line %s is on another bank account than %s: match the lines of one account together', x, first_line.id));
        END IF;
        IF acc_id IS NULL THEN
            acc_id := l.account_id;
            first_line := l;
        END IF;
        net := net + CASE l.side WHEN 'credit' THEN -l.amount ELSE l.amount END;
    END LOOP;
    SELECT * INTO acc FROM billy.accounts a WHERE a.organization_id = org AND a.id = acc_id;
    acc_cur := coalesce(acc.currency_id, (SELECT o.base_currency FROM billy.organizations o WHERE o.id = org), 'DKK');
    IF acc_id IS NOT NULL AND acc.is_payment_enabled IS NOT TRUE THEN
        p := p || billy._problem('lineIds', format('bank account %s %s is not enabled for payments in Billy, so its lines cannot pay invoices or bills',
                                                    coalesce(acc.account_no::text, ''), coalesce(acc.name, acc_id)));
    END IF;
    IF first_line.id IS NOT NULL AND net = 0 THEN
        p := p || billy._problem('lineIds', 'the lines add up to 0: there is nothing to pay');
    END IF;

    FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements_text(args -> 'documents') WITH ORDINALITY y(e, n) LOOP
        f := format('documents[%s]', i);
        kind := split_part(x, ':', 1);
        rid := split_part(x, ':', 2);
        EXECUTE format('SELECT state, balance, currency_id, type FROM billy.%I WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL', kind || 's')
            INTO d USING org, rid;
        IF d.state IS NULL THEN
            p := p || billy._problem(f, billy._missing(kind, org, rid) || '; pass a suggestion''s ref from list_unmatched_bank_lines');
            CONTINUE;
        END IF;
        t := t || jsonb_build_array(billy._touch(kind || 's', org, rid));
        IF d.state <> 'approved' THEN
            p := p || billy._problem(f, format('%s %s is %s: only approved invoices and bills with an open balance can be matched', kind, rid, d.state));
        ELSIF coalesce(d.balance, 0) <= 0 THEN
            p := p || billy._problem(f, format('%s %s has nothing open (paid already): match the lines with what they pay', kind, rid));
        END IF;
        IF net <> 0 AND (net > 0) <> ((kind = 'invoice') = (d.type IS DISTINCT FROM 'creditNote')) THEN
            p := p || billy._problem(f, format('%s %s is %s, but the lines are money %s: money in pays invoices (and supplier credit notes), money out bills (and customer credit notes)',
                                                kind, rid, CASE WHEN d.type = 'creditNote' THEN 'a credit note' ELSE 'an ' || kind END,
                                                CASE WHEN net > 0 THEN 'in' ELSE 'out' END));
        END IF;
        IF cur IS NOT NULL AND cur <> d.currency_id THEN
            p := p || billy._problem(f, format('%s %s is in %s, the documents before it in %s: the documents of one match share one currency', kind, rid, d.currency_id, cur));
        END IF;
        cur := coalesce(cur, d.currency_id);
        open_sum := open_sum + greatest(coalesce(d.balance, 0), 0);
    END LOOP;
    -- the amount: no more than the documents have open (less pays them in part)
    IF p = '[]' AND cur = acc_cur AND abs(net) > open_sum THEN
        p := p || billy._problem('lineIds', format('amount differs: the lines come to %s %s, the documents have %s %s open; add the other documents the lines pay, or match fewer lines',
                                                    abs(net), cur, open_sum, cur));
    END IF;
    SELECT string_agg(e, ', ') INTO pays FROM jsonb_array_elements_text(args -> 'documents') e;
    RETURN jsonb_build_object('problems', p, 'touches', t,
        'body', jsonb_build_object('bankLineMatch', jsonb_build_object('accountId', acc_id, 'lineIds', args -> 'lineIds',
            'subjectAssociations', (SELECT jsonb_agg(jsonb_build_object('subjectReference', e)) FROM jsonb_array_elements_text(args -> 'documents') e))),
        -- found again by the first line: matched, its matchId is the match
        'lookup', jsonb_build_object('kind', 'list', 'root', 'bankLines',
            'path', format('/bankLines?accountId=%s&minEntryDate=%s&maxEntryDate=%s', billy._urlencode(acc_id), first_line.entry_date, first_line.entry_date),
            'match', jsonb_build_object('id', first_line.id), 'match_prefix', jsonb_build_object('matchId', ''), 'id_key', 'matchId'),
        'summary', format('match %s bank line(s) of %s %s on account %s with %s%s', jsonb_array_length(args -> 'lineIds'), abs(net), acc_cur,
                          coalesce(acc.account_no::text, acc_id), pays,
                          CASE WHEN cur = acc_cur AND abs(net) < open_sum THEN format(' (pays %s of the %s open; the rest stays open)', abs(net), open_sum)
                               WHEN cur IS DISTINCT FROM acc_cur THEN format(' (documents in %s: Billy converts at their rate)', cur) ELSE '' END));
END
$$;
COMMENT ON FUNCTION billy._plan_match_bank_line(text, jsonb) IS
'Plans match_bank_line: every line in the mirror, unmatched, on one payment-enabled bank account, adding up to something; every document an approved invoice or bill with a balance open, on the lines'' side (money in: invoices and supplier credit notes; out: bills and customer credit notes), in one currency; the lines no more than the documents have open (in the account''s currency). Found again through the first line''s matchId. Internal.';

CREATE FUNCTION billy._plan_unmatch_bank_line(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    l billy.bank_lines;
    refs text;
    n bigint;
BEGIN
    SELECT * INTO l FROM billy.bank_lines b WHERE b.organization_id = org AND b.id = args ->> 'lineId' AND b.deleted_at IS NULL;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('problems', billy._problem('lineId', billy._missing('bank line', org, args ->> 'lineId')));
    END IF;
    IF l.match_id IS NULL THEN
        RETURN jsonb_build_object('problems', billy._problem('lineId',
            format('bank line %s is not matched: there is nothing to unmatch (list_unmatched_bank_lines lists it)', l.id)));
    END IF;
    SELECT string_agg(s.subject_reference, ', ' ORDER BY s.subject_reference) INTO refs
    FROM billy.bank_line_subject_associations s WHERE s.organization_id = org AND s.match_id = l.match_id;
    SELECT count(*) INTO n FROM billy.bank_lines b WHERE b.organization_id = org AND b.match_id = l.match_id AND b.deleted_at IS NULL;
    RETURN jsonb_build_object('params', jsonb_build_object('matchId', l.match_id), 'record_id', l.match_id,
        'touches', jsonb_build_array(billy._touch('bank_lines', org, l.id), billy._touch('bank_line_matches', org, l.match_id)),
        'summary', format('unmatch bank line %s (%s %s on %s)%s from match %s%s; a payment the match made is voided, its documents open again',
                          l.id, CASE l.side WHEN 'credit' THEN -l.amount ELSE l.amount END, coalesce(l.description, ''), l.entry_date,
                          CASE WHEN n > 1 THEN format(' and the %s other line(s) of its match', n - 1) ELSE '' END,
                          l.match_id, coalesce(' with ' || refs, '')));
END
$$;
COMMENT ON FUNCTION billy._plan_unmatch_bank_line(text, jsonb) IS
'Plans unmatch_bank_line: the line in the mirror and matched; deletes its match (every line of it becomes unmatched; Billy voids a payment the match made). Internal.';

INSERT INTO billy.write_catalog (operation, resource, method, path, lookup, input_schema, plan_function, description,
                                 wrapper, wrapper_args, wrapper_comment, mcp_tool, mcp_title, mcp_description, mcp_renames,
                                 mcp_sort, destructive, idempotent, subjects, builtin)
VALUES
    ('match_bank_line', 'bankLineMatches', 'POST', '/bankLineMatches', NULL,
     billy._args_schema(jsonb_build_object(
        'lineIds', '{"type": "array", "minItems": 1, "maxItems": 64, "uniqueItems": true, "items": {"type": "string", "minLength": 1, "maxLength": 64}, "description": "Bank lines of one account."}'::jsonb,
        'documents', '{"type": "array", "minItems": 1, "maxItems": 16, "uniqueItems": true, "items": {"type": "string", "pattern": "^(invoice|bill):[A-Za-z0-9_-]+$"}, "description": "What they pay: a suggestion''s ref."}'::jsonb),
        ARRAY['lineIds', 'documents']),
     'billy._plan_match_bank_line', 'match bank lines with the open invoices or bills they pay',
     'billy.match_bank_line', ARRAY['lineIds', 'documents'],
     'Matches bank lines (line_ids, of one bank account) with the open invoices or bills they pay (documents: invoice:ID or bill:ID, as billy.bank_match_suggestions names them) in Billy: Billy registers the payment, so the documents'' balances drop, and the mirror gets the match, the lines and the documents. Checked first: lines unmatched, documents approved and open, on the lines'' side and in one currency, the lines no more than the documents have open. Returns what billy.commit_write returns.',
     'match_bank_line', 'Match a bank line', 'Matches bank lines with the invoices or bills they pay (a suggestion''s ref); Billy registers the payment.',
     '{}'::jsonb, 531, false, false, ARRAY['bankLineMatch', 'subjectAssociations'], true),
    ('unmatch_bank_line', 'bankLineMatches', 'DELETE', '/bankLineMatches/{matchId}', '{"kind": "gone", "path": "/bankLineMatches/{matchId}"}'::jsonb,
     billy._args_schema(jsonb_build_object(
        'lineId', '{"type": "string", "minLength": 1, "maxLength": 64, "description": "A matched bank line."}'::jsonb),
        ARRAY['lineId']),
     'billy._plan_unmatch_bank_line', 'unmatch a bank line',
     'billy.unmatch_bank_line', ARRAY['lineId'],
     'Unmatches a bank line in Billy: deletes its match, so the match''s lines are unmatched again and a payment the match made is voided (its invoices or bills open again); the mirror follows. Returns what billy.commit_write returns.',
     'unmatch_bank_line', 'Unmatch a bank line', 'Undoes a bank line''s match; a payment the match made is voided.',
     '{}'::jsonb, 532, true, true, NULL, true);

DO $gen$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT w.operation, w.plan_function, w.roles FROM billy.write_catalog w
             WHERE w.operation IN ('match_bank_line', 'unmatch_bank_line') LOOP
        EXECUTE billy._write_wrapper_sql(c.operation);
        -- the plan functions run as the caller of billy.preview_write
        EXECUTE format('REVOKE ALL ON FUNCTION %s(text, jsonb) FROM PUBLIC', c.plan_function);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s(text, jsonb) TO %s', c.plan_function,
                       (SELECT string_agg(quote_ident(r), ', ') FROM unnest(c.roles) r));
    END LOOP;
END
$gen$;
