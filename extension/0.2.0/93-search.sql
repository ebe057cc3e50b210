------------------------------------------------------------------------------
-- Search: one question across the mirror (invoices, bills, contacts,
-- products, postings, bank lines) by number, name, text and amount, ranked,
-- with the reason each hit matched.
--
-- A query is read three ways at once:
--   a number   equal to a document's number (invoice_no, a bill's voucher or
--              supplier's invoice number, a contact's number or CVR, a
--              product number, a transaction's voucher);
--   an amount  when it reads as one ("1.250,00", "1250", "1,250.00", "1250 kr"):
--              equal to a document's gross amount or balance, a posting's or a
--              bank line's amount;
--   words      full-text (PostgreSQL's 'simple' configuration: no stemming,
--              lower case, so names and numbers stay as written; the last
--              word matches as a prefix) over names and texts, and, for names,
--              a case-insensitive substring as the last resort.
-- Full-text goes through GIN indexes on every text it reads (invoice, bill,
-- posting and bank line texts, contact and product names): computing the
-- words of a few thousand names on every search cost more than all the
-- rest of a search that finds nothing (bench/search).  The substring
-- fallback over names is a plain ILIKE over the organization's contacts and
-- products (no words computed).  pg_trgm is not
-- used: it would make a contrib extension a requirement of CREATE EXTENSION
-- billy and of every upgrade (docs/search.md has bench/search's figures).
------------------------------------------------------------------------------

-- _search_vector: the words of a text as search sees them (src/search.c);
-- the indexes below and the queries of billy.search use the same expression.
CREATE FUNCTION billy._search_vector(t text) RETURNS tsvector
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100
AS 'MODULE_PATHNAME', 'billy_search_vector';
-- COST 100: to_tsvector is dear; at the default cost of 1 the planner
-- would rather compute it for every row than use the GIN indexes below.
COMMENT ON FUNCTION billy._search_vector(text) IS
'The words of a text for billy.search: to_tsvector with the simple configuration (lower case, no stemming); NULL for NULL. Internal.';

-- _search_query: every word of the query, the last one as a prefix
CREATE FUNCTION billy._search_query(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT CASE WHEN count(*) > 0 THEN
               to_tsquery('simple', string_agg(quote_literal(w.lexeme) || CASE WHEN w.last AND w.lexeme !~ '^[0-9]+$' THEN ':*' ELSE '' END, ' & '))
               END
        FROM (SELECT l.lexeme, l.n = max(l.n) OVER () AS last
              FROM (SELECT t.token AS lexeme, row_number() OVER () AS n
                    FROM ts_parse('default', q) t
                    WHERE t.tokid NOT IN (12, 13)   -- blanks and spaces
                      AND length(to_tsvector('simple', t.token)) > 0) l) w);
COMMENT ON FUNCTION billy._search_query(text) IS
'The full-text query of a search: every word of q must match, the last as a prefix (type-ahead) unless it is a number. NULL when q has no words. Internal.';

-- _search_amount: the amount a query reads as, if any
CREATE FUNCTION billy._search_amount(q text) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s text := regexp_replace(lower(btrim(q)), '\s*(kr\.?|dkk|eur|usd|sek|nok|gbp)$', '');
BEGIN
    s := regexp_replace(s, '^-', '');
    IF s ~ '^\d{1,3}(\.\d{3})+(,\d{1,2})?$' THEN          -- 1.250,00  1.250
        RETURN replace(replace(s, '.', ''), ',', '.')::numeric;
    ELSIF s ~ '^\d{1,3}(,\d{3})+(\.\d{1,2})?$' THEN       -- 1,250.00
        RETURN replace(s, ',', '')::numeric;
    ELSIF s ~ '^\d{1,12}(,\d{1,2})?$' THEN                -- 1250  1250,5
        RETURN replace(s, ',', '.')::numeric;
    ELSIF s ~ '^\d{1,12}\.\d{1,2}$' THEN                  -- 1250.00
        RETURN s::numeric;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._search_amount(text) IS
'The amount a search query reads as: Danish (1.250,00; 1.250 is one thousand two hundred and fifty), English (1,250.00), plain (1250, 1250,50, 1250.50), a currency or kr after it allowed, a minus sign ignored; NULL when it is no amount. Internal.';

-- Indexes where they pay: the texts and amounts that grow with the books.
CREATE INDEX invoices_search ON billy.invoices USING gin (billy._search_vector(
    COALESCE(invoice_no, '') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) COALESCE(order_no, '')
    OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) COALESCE(line_description, '')))
    WHERE deleted_at IS NULL;
CREATE INDEX invoices_gross_amount ON billy.invoices (organization_id, gross_amount) WHERE deleted_at IS NULL;
CREATE INDEX bills_search ON billy.bills USING gin (billy._search_vector(
    COALESCE(contact_name, '') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) COALESCE(suppliers_invoice_no, '')
    OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) COALESCE(line_description, '')))
    WHERE deleted_at IS NULL;
CREATE INDEX bills_gross_amount ON billy.bills (organization_id, gross_amount) WHERE deleted_at IS NULL;
CREATE INDEX invoices_balance ON billy.invoices (organization_id, balance) WHERE deleted_at IS NULL;
CREATE INDEX bills_balance ON billy.bills (organization_id, balance) WHERE deleted_at IS NULL;
CREATE INDEX bills_voucher_no ON billy.bills (organization_id, voucher_no);
CREATE INDEX bills_suppliers_invoice_no ON billy.bills (organization_id, suppliers_invoice_no);
CREATE INDEX postings_search ON billy.postings USING gin (billy._search_vector(text));
CREATE INDEX postings_amount ON billy.postings (organization_id, amount);
CREATE INDEX transactions_voucher_no ON billy.transactions (organization_id, voucher_no);
CREATE INDEX bank_lines_search ON billy.bank_lines USING gin (billy._search_vector(description)) WHERE deleted_at IS NULL;
CREATE INDEX bank_lines_amount ON billy.bank_lines (organization_id, amount) WHERE deleted_at IS NULL;
CREATE INDEX contacts_search ON billy.contacts USING gin (billy._search_vector(name)) WHERE deleted_at IS NULL;
CREATE INDEX products_search ON billy.products USING gin (billy._search_vector(name)) WHERE deleted_at IS NULL;
CREATE INDEX products_search_description ON billy.products USING gin (billy._search_vector(description))
    WHERE deleted_at IS NULL;

CREATE FUNCTION billy._search_kinds() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN ARRAY['invoice', 'bill', 'contact', 'product', 'posting', 'bank_line']::text[];
COMMENT ON FUNCTION billy._search_kinds() IS 'What billy.search finds: the values of its kinds argument. Internal.';

-- _search_hits: the best hits of each kind wanted (at most lim each, so that
-- the best lim of all are among them).  One statement per kind; within it
-- each way of matching (a number, an amount, a name, the words) finds its
-- candidates through an index and keeps only its best lim (its score is
-- one value, or two for names, so its best are its newest): a record in
-- the final lim is among the best lim of the way that scored it highest.
-- Only those few rows are then read whole and labelled, so a common word
-- costs the index scan of its matches, not a join over all of them.  Each
-- way's candidates come from a subquery fenced with OFFSET 0: without it
-- the planner may walk a date index backwards hoping to meet lim matches
-- soon, which reads every row when a query matches nothing.
-- plpgsql keeps each statement's plan for the session.
CREATE FUNCTION billy._search_hits(o text, q text, amt numeric, tsq tsquery, want text[], lim integer)
RETURNS TABLE (kind text, id text, score numeric, reason text, label text, contact text,
               date date, amount numeric, currency text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    pat text := billy._contains_pattern(q);
    pre text := substr(billy._contains_pattern(q), 2);
BEGIN
    IF 'invoice' = ANY (want) THEN
        -- invoices: number, amounts, their customer, words of their texts
        RETURN QUERY
        WITH who AS MATERIALIZED (
            SELECT c.id, lower(c.name) = lower(q) AS exact FROM billy.contacts c
            WHERE c.organization_id = o AND c.deleted_at IS NULL AND billy._search_vector(c.name) @@ tsq
            UNION
            SELECT c.id, true FROM billy.contacts c
            WHERE c.organization_id = o AND c.deleted_at IS NULL AND lower(c.name) = lower(q)
        ), found AS (
            (SELECT * FROM (SELECT i.id, 1.0 AS s, 'invoice number' AS why, i.entry_date AS d FROM billy.invoices i
             WHERE i.organization_id = o AND i.deleted_at IS NULL AND i.invoice_no = q
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT i.id, 0.9, 'gross amount', i.entry_date FROM billy.invoices i
             WHERE i.organization_id = o AND i.deleted_at IS NULL AND i.gross_amount = amt
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT i.id, 0.85, 'balance (unpaid)', i.entry_date FROM billy.invoices i
             WHERE i.organization_id = o AND i.deleted_at IS NULL AND i.balance = amt
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT i.id, CASE WHEN w.exact THEN 0.8 ELSE 0.7 END,
                    CASE WHEN w.exact THEN 'customer name' ELSE 'words of the customer''s name' END, i.entry_date
             FROM who w JOIN billy.invoices i ON i.organization_id = o AND i.contact_id = w.id
             WHERE i.deleted_at IS NULL
             OFFSET 0) f
             ORDER BY 2 DESC, 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT i.id, 0.5, 'words of the number, order number or text', i.entry_date FROM billy.invoices i
             WHERE i.organization_id = o AND i.deleted_at IS NULL
               AND billy._search_vector(coalesce(i.invoice_no, '') || ' ' || coalesce(i.order_no, '') || ' ' || coalesce(i.line_description, '')) @@ tsq
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
        ), best AS (
            SELECT DISTINCT ON (f.id) f.id, f.s, f.why FROM found f ORDER BY f.id, f.s DESC
        )
        SELECT 'invoice'::text, i.id, b.s::numeric, b.why,
               CASE i.type WHEN 'creditNote' THEN 'credit note ' ELSE 'invoice ' END || coalesce(i.invoice_no, '(draft)'),
               c.name, i.entry_date, i.gross_amount, i.currency_id
        FROM best b
        JOIN billy.invoices i ON i.organization_id = o AND i.id = b.id
        LEFT JOIN billy.contacts c ON c.organization_id = o AND c.id = i.contact_id
        ORDER BY 3 DESC, 7 DESC, 2
        LIMIT lim;
    END IF;

    IF 'bill' = ANY (want) THEN
        -- bills: voucher and supplier's numbers, amounts, words of supplier and text
        RETURN QUERY
        WITH found AS (
            (SELECT * FROM (SELECT b.id, 1.0 AS s,
                    CASE WHEN b.voucher_no = q THEN 'voucher number' ELSE 'supplier''s invoice number' END AS why,
                    b.entry_date AS d
             FROM billy.bills b
             WHERE b.organization_id = o AND b.deleted_at IS NULL AND (b.voucher_no = q OR b.suppliers_invoice_no = q)
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT b.id, 0.9, 'gross amount', b.entry_date FROM billy.bills b
             WHERE b.organization_id = o AND b.deleted_at IS NULL AND b.gross_amount = amt
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT b.id, 0.85, 'balance (unpaid)', b.entry_date FROM billy.bills b
             WHERE b.organization_id = o AND b.deleted_at IS NULL AND b.balance = amt
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT b.id, CASE WHEN lower(b.contact_name) = lower(q) THEN 0.8 ELSE 0.5 END,
                    CASE WHEN lower(b.contact_name) = lower(q) THEN 'supplier name'
                         ELSE 'words of the supplier, supplier''s number or text' END, b.entry_date
             FROM billy.bills b
             WHERE b.organization_id = o AND b.deleted_at IS NULL
               AND billy._search_vector(coalesce(b.contact_name, '') || ' ' || coalesce(b.suppliers_invoice_no, '') || ' ' || coalesce(b.line_description, '')) @@ tsq
             OFFSET 0) f
             ORDER BY 2 DESC, 4 DESC, 1 LIMIT lim)
        ), best AS (
            SELECT DISTINCT ON (f.id) f.id, f.s, f.why FROM found f ORDER BY f.id, f.s DESC
        )
        SELECT 'bill'::text, b.id, f.s::numeric, f.why,
               CASE b.type WHEN 'creditNote' THEN 'bill credit note ' ELSE 'bill ' END || coalesce(b.voucher_no, '(draft)'),
               b.contact_name, b.entry_date, b.gross_amount, b.currency_id
        FROM best f
        JOIN billy.bills b ON b.organization_id = o AND b.id = f.id
        ORDER BY 3 DESC, 7 DESC, 2
        LIMIT lim;
    END IF;

    IF 'contact' = ANY (want) THEN
        -- contacts (few per organization: read directly): number, CVR, name
        -- (exact, its start, its words, then any part of it)
        RETURN QUERY
        SELECT 'contact'::text, c.id,
               CASE WHEN c.contact_no = q OR c.registration_no = q THEN 1.0
                    WHEN lower(c.name) = lower(q) THEN 0.95
                    WHEN c.name ILIKE pre THEN 0.85
                    WHEN billy._search_vector(c.name) @@ tsq THEN 0.6 + 0.2 * ts_rank_cd(billy._search_vector(c.name), tsq, 32)
                    ELSE 0.4 END::numeric,
               CASE WHEN c.contact_no = q THEN 'contact number'
                    WHEN c.registration_no = q THEN 'CVR number'
                    WHEN lower(c.name) = lower(q) THEN 'name'
                    WHEN c.name ILIKE pre THEN 'name starts so'
                    WHEN billy._search_vector(c.name) @@ tsq THEN 'words of the name'
                    ELSE 'part of the name' END,
               CASE WHEN c.is_customer AND c.is_supplier THEN 'customer and supplier '
                    WHEN c.is_supplier THEN 'supplier ' ELSE 'customer ' END || coalesce(c.name, c.id),
               c.name, NULL::date, NULL::numeric, c.currency_id
        FROM billy.contacts c
        WHERE c.organization_id = o AND c.deleted_at IS NULL
          AND c.id IN (SELECT x.id FROM billy.contacts x
                       WHERE x.organization_id = o AND x.deleted_at IS NULL
                         AND (x.contact_no = q OR x.registration_no = q OR x.name ILIKE pat)
                       UNION ALL
                       SELECT x.id FROM billy.contacts x
                       WHERE x.organization_id = o AND x.deleted_at IS NULL AND billy._search_vector(x.name) @@ tsq)
        ORDER BY 3 DESC, 2
        LIMIT lim;
    END IF;

    IF 'product' = ANY (want) THEN
        -- products (few): number, name, description
        RETURN QUERY
        SELECT 'product'::text, p.id,
               CASE WHEN p.product_no = q THEN 1.0
                    WHEN lower(p.name) = lower(q) THEN 0.95
                    WHEN billy._search_vector(p.name) @@ tsq THEN 0.6 + 0.2 * ts_rank_cd(billy._search_vector(p.name), tsq, 32)
                    WHEN billy._search_vector(p.description) @@ tsq THEN 0.5
                    ELSE 0.4 END::numeric,
               CASE WHEN p.product_no = q THEN 'product number'
                    WHEN lower(p.name) = lower(q) THEN 'name'
                    WHEN billy._search_vector(p.name) @@ tsq THEN 'words of the name'
                    WHEN billy._search_vector(p.description) @@ tsq THEN 'words of the description'
                    ELSE 'part of the name' END,
               'product ' || coalesce(p.name, p.id), NULL::text, NULL::date, NULL::numeric, NULL::text
        FROM billy.products p
        WHERE p.organization_id = o AND p.deleted_at IS NULL
          AND p.id IN (SELECT x.id FROM billy.products x
                       WHERE x.organization_id = o AND x.deleted_at IS NULL AND (x.product_no = q OR x.name ILIKE pat)
                       UNION ALL
                       SELECT x.id FROM billy.products x
                       WHERE x.organization_id = o AND x.deleted_at IS NULL AND billy._search_vector(x.name) @@ tsq
                       UNION ALL
                       SELECT x.id FROM billy.products x
                       WHERE x.organization_id = o AND x.deleted_at IS NULL AND billy._search_vector(x.description) @@ tsq)
        ORDER BY 3 DESC, 2
        LIMIT lim;
    END IF;

    IF 'posting' = ANY (want) THEN
        -- postings: their transaction's voucher number, amount, words of the text
        RETURN QUERY
        WITH found AS (
            (SELECT * FROM (SELECT p.id, 0.95 AS s, 'voucher number of its transaction' AS why, p.entry_date AS d
             FROM billy.transactions t
             JOIN billy.postings p ON p.organization_id = o AND p.transaction_id = t.id
             WHERE t.organization_id = o AND t.deleted_at IS NULL AND t.voucher_no = q
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT p.id, 0.8, 'amount', p.entry_date FROM billy.postings p
             WHERE p.organization_id = o AND p.amount = amt
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT p.id, 0.45, 'words of the text', p.entry_date FROM billy.postings p
             WHERE p.organization_id = o AND billy._search_vector(p.text) @@ tsq
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
        ), best AS (
            SELECT DISTINCT ON (f.id) f.id, f.s, f.why FROM found f ORDER BY f.id, f.s DESC
        )
        SELECT 'posting'::text, p.id, f.s::numeric, f.why,
               concat_ws(' ', 'posting', coalesce(t.voucher_no, '#' || t.transaction_no::text), p.text),
               t.originator_name, p.entry_date, p.signed_amount, p.currency_id
        FROM best f
        JOIN billy.postings p ON p.organization_id = o AND p.id = f.id
        JOIN billy.transactions t ON t.organization_id = o AND t.id = p.transaction_id
        WHERE t.deleted_at IS NULL
        ORDER BY 3 DESC, 7 DESC, 2
        LIMIT lim;
    END IF;

    IF 'bank_line' = ANY (want) THEN
        -- bank lines: amount, words of the text
        RETURN QUERY
        WITH found AS (
            (SELECT * FROM (SELECT l.id, 0.8 AS s, 'amount' AS why, l.entry_date AS d FROM billy.bank_lines l
             WHERE l.organization_id = o AND l.deleted_at IS NULL AND l.amount = amt
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
            UNION ALL
            (SELECT * FROM (SELECT l.id, 0.45, 'words of the text', l.entry_date FROM billy.bank_lines l
             WHERE l.organization_id = o AND l.deleted_at IS NULL AND billy._search_vector(l.description) @@ tsq
             OFFSET 0) f
             ORDER BY 4 DESC, 1 LIMIT lim)
        ), best AS (
            SELECT DISTINCT ON (f.id) f.id, f.s, f.why FROM found f ORDER BY f.id, f.s DESC
        )
        SELECT 'bank_line'::text, l.id, f.s::numeric, f.why,
               concat_ws(' ', 'bank line', l.description, CASE WHEN l.match_id IS NULL THEN '(unmatched)' END),
               NULL::text, l.entry_date,
               CASE l.side WHEN 'credit' THEN -l.amount ELSE l.amount END,
               coalesce(a.currency_id, g.base_currency)
        FROM best f
        JOIN billy.bank_lines l ON l.organization_id = o AND l.id = f.id
        JOIN billy.organizations g ON g.id = o
        LEFT JOIN billy.accounts a ON a.organization_id = o AND a.id = l.account_id
        ORDER BY 3 DESC, 7 DESC, 2
        LIMIT lim;
    END IF;
END
$$;
COMMENT ON FUNCTION billy._search_hits(text, text, numeric, tsquery, text[], integer) IS
'The hits of billy.search, at most lim of each kind wanted, each kind found through its indexes (numbers, amounts, full-text) and scored. amt and tsq may be NULL (the query is no amount, has no words). Internal.';

CREATE FUNCTION billy.search(org text, query text, kinds text[] DEFAULT NULL, "limit" integer DEFAULT 20)
RETURNS TABLE (kind text, id text, score numeric, reason text, label text, contact text,
               date date, amount numeric, currency text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    o text := billy._resolve_org(org);
    q text := btrim(query);
    bad text;
BEGIN
    IF q IS NULL OR q = '' THEN
        RAISE EXCEPTION 'query must not be empty'
            USING ERRCODE = '22023', HINT = 'Pass a number, a name, words of a text or an amount such as 1.250,00.';
    END IF;
    IF length(q) > 200 THEN
        RAISE EXCEPTION 'query is % characters long; at most 200', length(q) USING ERRCODE = '22023';
    END IF;
    SELECT k INTO bad FROM unnest(kinds) k WHERE k IS NULL OR NOT k = ANY (billy._search_kinds()) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown kind "%"', coalesce(bad, 'NULL')
            USING ERRCODE = '22023', HINT = 'kinds are ' || array_to_string(billy._search_kinds(), ', ') || '.';
    END IF;
    IF "limit" IS NULL OR "limit" < 1 OR "limit" > 200 THEN
        RAISE EXCEPTION 'limit must be between 1 and 200, not %', coalesce("limit"::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT h.kind, h.id, round(h.score, 3), h.reason, h.label, h.contact, h.date, h.amount, h.currency
    FROM billy._search_hits(o, q, billy._search_amount(q), billy._search_query(q),
                            coalesce(kinds, billy._search_kinds()), "limit") h
    ORDER BY h.score DESC, h.date DESC NULLS LAST, h.kind, h.id
    LIMIT "limit";
END
$$;
COMMENT ON FUNCTION billy.search(text, text, text[], integer) IS
'Searches an organization''s mirror for query, best hits first: invoices (number, gross amount or balance, the customer''s name, order number and text), bills (voucher or supplier''s invoice number, amounts, supplier, text), contacts (number, CVR, name: exact, starting so, its words, any part), products (number, name, description), postings (their transaction''s voucher, amount, text) and bank lines (amount, text). An amount query reads Danish (1.250,00) and English (1,250.00) forms and plain numbers (1250), which are also tried as numbers. Words match with full-text search (simple configuration, the last word as a prefix). kinds limits the search to some of invoice, bill, contact, product, posting, bank_line; limit is 1..200. Each hit has a score (1 for an exact number, then amounts, names, words, parts of names) and the reason it matched, a label, its counterparty, date, amount (postings and bank lines signed: money out negative) and currency. Reads the mirror only; row-level security applies as to every read.';

GRANT EXECUTE ON FUNCTION billy.search(text, text, text[], integer), billy._search_hits(text, text, numeric, tsquery, text[], integer),
    billy._search_vector(text), billy._search_query(text), billy._search_amount(text), billy._search_kinds() TO billy_reader;

-- The MCP tool: the hits, compact
CREATE FUNCTION billy._mcp_search(org text, query text, kinds text[] DEFAULT NULL, "limit" integer DEFAULT 10) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'hits', coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                    'kind', s.kind, 'id', s.id, 'label', s.label,
                    'contact', CASE WHEN s.kind NOT IN ('contact', 'product') THEN s.contact END,
                    'date', s.date, 'amount', s.amount, 'currency', CASE WHEN s.amount IS NOT NULL THEN s.currency END,
                    'score', s.score, 'why', s.reason))), '[]'::jsonb),
        'returned', count(*))
    FROM billy.search(org, query, kinds, coalesce("limit", 10)) s
$$;
COMMENT ON FUNCTION billy._mcp_search(text, text, text[], integer) IS
'The search tool: billy.search''s hits (10 unless limit says otherwise), each with kind, id, label, counterparty, date, amount, currency, score and why it matched. Internal.';
GRANT EXECUTE ON FUNCTION billy._mcp_search(text, text, text[], integer) TO billy_reader;

INSERT INTO billy.mcp_tools (name, title, sort_order, function, arguments, kind, annotations, input_schema, description, builtin)
VALUES ('search', 'Search', 45, 'billy._mcp_search', '{"organization": "org"}', 'call',
        '{"readOnlyHint": true, "openWorldHint": false}',
        billy._mcp_input(jsonb_build_object(
            'query', '{"type": "string", "minLength": 1, "maxLength": 200, "description": "E.g. 1042, Jensen, 1.250,00."}'::jsonb,
            'kinds', jsonb_build_object('type', 'array', 'uniqueItems', true, 'items', jsonb_build_object('enum', to_jsonb(billy._search_kinds()))),
            'limit', '{"type": "integer", "minimum": 1, "maximum": 50}'::jsonb), ARRAY['query']),
        'Finds any record by number, name, words or amount, best first, with why it matched.',
        true);
