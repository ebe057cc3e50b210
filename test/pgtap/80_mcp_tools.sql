-- MCP tools: the registry's rules, who sees which tool, argument checks,
-- SQL errors as isError results, result shaping, caps and truncation,
-- structuredContent that matches the output schema, writes through preview
-- and commit, and the audit of every call.  Test tools live in schema
-- mcp_t, created and dropped with the transaction.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(143);

SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
SET LOCAL client_min_messages = warning;
-- the output schemas are checked here: tools/list gives them when asked
SET LOCAL billy.mcp_output_schemas = on;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['invoices', 'contacts']);

SELECT min(id) AS draft_or_any FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL \gset
CREATE FUNCTION pg_temp.call(tool text, args jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql AS $$
    SELECT billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call',
                                        'params', jsonb_build_object('name', tool, 'arguments', args))) -> 'result'
$$;
CREATE FUNCTION pg_temp.error_text(tool text, args jsonb DEFAULT '{}') RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN (r ->> 'isError')::boolean THEN r -> 'content' -> 0 ->> 'text' ELSE 'not an error' END
    FROM pg_temp.call(tool, args) r
$$;
SELECT is((pg_temp.call('list_invoices', '{"min_amount": 1000, "max_amount": 5000}') -> 'structuredContent' ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL
             AND gross_amount BETWEEN 1000 AND 5000),
          'list_invoices: min_amount and max_amount filter the gross amount');
CREATE FUNCTION pg_temp.listed() RETURNS text[]
LANGUAGE sql AS $$
    SELECT ARRAY(SELECT t ->> 'name' FROM jsonb_array_elements(
        billy.mcp('{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}') -> 'result' -> 'tools') t)
$$;
CREATE FUNCTION pg_temp.output_schema(tool text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT t -> 'outputSchema' FROM jsonb_array_elements(
        billy.mcp('{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}') -> 'result' -> 'tools') t
    WHERE t ->> 'name' = tool
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pg_temp TO PUBLIC;

------------------------------------------------------------------------------
-- the registry
------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM billy.mcp_tools WHERE builtin), 67::bigint, 'the 67 tools are registered');
SELECT set_eq($$SELECT name FROM billy.mcp_tools WHERE builtin$$,
    ARRAY['list_invoices', 'get_invoice', 'create_invoice', 'approve_invoice', 'send_invoice', 'list_customers',
          'get_customer', 'create_customer', 'update_customer', 'list_products', 'get_product', 'create_product',
          'update_product', 'get_revenue', 'sync_billy_data', 'get_sync_status', 'list_bank_payments',
          'create_bank_payment', 'list_bills', 'create_bill', 'get_organization_settings',
          'update_organization_settings', 'get_analytics_summary', 'get_revenue_trends', 'get_customer_insights',
          'get_receivables_aging', 'forecast_revenue', 'get_vat_return', 'get_vat_deadlines', 'check_vat',
          'import_customers_csv', 'import_products_csv', 'export_invoices_csv', 'get_bulk_job_status',
          'cancel_bulk_job', 'get_cache_performance', 'warm_cache', 'check_connection', 'get_bill', 'list_accounts', 'list_tax_rates',
          'show_dashboard', 'search', 'list_unmatched_bank_lines', 'get_statement',
          'update_draft_invoice', 'delete_draft_invoice', 'credit_invoice', 'update_draft_bill',
          'delete_draft_bill', 'approve_bill', 'credit_bill', 'delete_customer', 'delete_product', 'add_contact_person',
          'update_contact_person', 'delete_contact_person', 'list_reference', 'list_transactions', 'list_journal_entries',
          'create_journal_entry', 'set_journal_entry_state', 'match_bank_line', 'unmatch_bank_line', 'upload_file', 'attach_file', 'list_attachments'],
    'every tool the issues name, and no other');
SELECT is_empty($$SELECT name FROM billy.mcp_tools WHERE name !~ '^[a-z0-9_]{1,64}$'$$,
    'tool names are letters, digits and underscores, at most 64 (what Claude Desktop, Codex and Copilot accept)');
SELECT is_empty($$SELECT name FROM billy.mcp_tools WHERE builtin AND (length(description) NOT BETWEEN 40 AND 160 OR description !~ '\.$')$$,
    'every description says in a sentence or two what the tool does and returns');
SELECT is_empty($$SELECT name FROM billy.mcp_tools WHERE builtin
                  AND (input_schema ->> 'additionalProperties' IS DISTINCT FROM 'false'
                       OR jsonb_typeof(input_schema -> 'properties') <> 'object')$$,
    'every input schema is an object that names its arguments and refuses others');
SELECT is_empty($$SELECT name FROM billy.mcp_tools WHERE builtin
                  AND NOT (annotations ? 'readOnlyHint' AND annotations ? 'openWorldHint'
                           AND ((annotations ->> 'readOnlyHint')::boolean
                                OR (annotations ? 'destructiveHint' AND annotations ? 'idempotentHint')))$$,
    'every tool states its hints: read-only and open world, and for the others destructive and idempotent');
SELECT is_empty($$SELECT name FROM billy.mcp_tools WHERE kind IN ('write', 'import')
                  AND ((annotations ->> 'readOnlyHint')::boolean OR NOT (input_schema -> 'properties' ? 'confirmation')
                       OR NOT (kind = 'import' OR 'billy.preview_write(text,jsonb)' = ANY (requires)))$$,
    'write tools are not read-only, take a confirmation and go through billy.preview_write');
SELECT is_empty($$SELECT name FROM billy.mcp_tools WHERE builtin AND name ~ '^(list|get|check|export)_' AND kind <> 'call'$$,
    'reading tools are calls, never writes');
SELECT is_empty($$SELECT s.name, s.problem FROM billy.mcp_tool_status() s JOIN billy.mcp_tools t USING (name)
                  WHERE t.builtin AND NOT s.available$$,
    'every built-in tool is usable by a superuser: its function is installed and agrees with the registry');
SELECT is_empty($$SELECT t.name FROM billy.mcp_tools t
                  WHERE t.output_schema IS NOT NULL AND billy._mcp_validate('{"type": "object", "required": ["type"]}', t.output_schema) IS NOT NULL$$,
    'written output schemas are objects');
SELECT throws_ok($$INSERT INTO billy.mcp_tools (name, title, description, input_schema, function)
                   VALUES ('billy.get', 't', 'd', '{"type": "object"}', 'billy.x')$$, '23514', NULL,
    'a tool name with a dot is refused (clients reject the whole list)');
SELECT throws_ok($$INSERT INTO billy.mcp_tools (name, title, description, input_schema, function)
                   VALUES ('t', 't', 'd', '{"type": "array"}', 'billy.x')$$, '23514', NULL,
    'an input schema must be an object schema');

------------------------------------------------------------------------------
-- test tools
------------------------------------------------------------------------------
CREATE SCHEMA mcp_t;
GRANT USAGE ON SCHEMA mcp_t TO PUBLIC;
CREATE TABLE mcp_t.calls (tool text, args jsonb, outcome text, detail text);
GRANT ALL ON mcp_t.calls TO PUBLIC;

-- registered before its function exists: a tool appears when its function does
INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, arguments, annotations, sort_order)
VALUES ('t_invoices', 'Invoices', 'Invoices of the mirror, for the tests.',
        billy._mcp_input('{"state": {"type": "string", "enum": ["draft", "approved", "voided"]},
                            "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                            "offset": {"type": "integer", "minimum": 0}}'),
        'mcp_t.invoices', '{"organization": "org"}', '{"readOnlyHint": true, "openWorldHint": false}', 5000);
SELECT ok(NOT 't_invoices' = ANY (pg_temp.listed()), 'a tool whose function is not installed is not listed');
SELECT alike(pg_temp.error_text('t_invoices'), 'the tool t_invoices is not available: it waits for mcp_t.invoices, which is not installed%',
    'calling it says what it waits for');

CREATE FUNCTION mcp_t.invoices(org text DEFAULT NULL, state text DEFAULT NULL, "limit" integer DEFAULT 100, "offset" integer DEFAULT 0)
RETURNS TABLE (id text, invoice_no text, entry_date date, amount numeric, is_paid boolean, created_time timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT i.id, i.invoice_no, i.entry_date, i.amount, i.is_paid, i.created_time FROM billy.invoices i
    WHERE i.organization_id = billy._resolve_org(org) AND (state IS NULL OR i.state = state)
    ORDER BY i.entry_date DESC, i.id LIMIT "limit" OFFSET "offset"
$$;
SELECT ok('t_invoices' = ANY (pg_temp.listed()), 'once its function is installed, the tool is listed');

CREATE FUNCTION mcp_t.check(v jsonb, n integer DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS $$ SELECT jsonb_build_object('v', v, 'n', n) $$;
INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, annotations, sort_order)
VALUES ('t_check', 'Check', 'Echoes its argument, for the tests.',
        billy._mcp_input('{
            "v": {"type": "object", "properties": {
                "day": {"type": "string", "format": "date"},
                "at": {"type": "string", "format": "date-time"},
                "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "name": {"type": "string", "minLength": 1, "maxLength": 5},
                "amount": {"type": "number", "exclusiveMinimum": 0},
                "lines": {"type": "array", "minItems": 1, "maxItems": 2,
                          "items": {"type": "object", "properties": {"q": {"type": "integer"}}, "required": ["q"]}},
                "kind": {"enum": ["a", "b"]},
                "note": {"type": "string"}},
              "additionalProperties": false},
            "n": {"type": "integer", "minimum": 1, "maximum": 10}}', ARRAY['v'], false),
        'mcp_t.check', '{"readOnlyHint": true, "openWorldHint": false}', 5001);

------------------------------------------------------------------------------
-- arguments: checked against the schema, the problem named for the model
------------------------------------------------------------------------------
SELECT is(pg_temp.error_text('t_check', '{}'), 'invalid arguments: the argument "v" is required', 'a missing required argument');
SELECT is(pg_temp.error_text('t_check', '{"v": {}, "x": 1}'), 'invalid arguments: unknown argument "x"; the arguments are: n, v', 'an unknown argument, with the known ones');
SELECT is(pg_temp.error_text('t_check', '{"v": {}, "n": "5"}'), 'invalid arguments: "n" must be an integer, not string', 'a string where an integer belongs');
SELECT is(pg_temp.error_text('t_check', '{"v": {}, "n": 2.5}'), 'invalid arguments: "n" must be an integer, not number', 'a fraction where an integer belongs');
SELECT is(pg_temp.error_text('t_check', '{"v": {}, "n": 11}'), 'invalid arguments: "n" must be at most 10', 'above the maximum');
SELECT is(pg_temp.error_text('t_check', '{"v": {}, "n": 0}'), 'invalid arguments: "n" must be at least 1', 'below the minimum');
SELECT is(pg_temp.error_text('t_check', '{"v": {"day": "2026-02-29"}}'), 'invalid arguments: "v.day" must be a date (YYYY-MM-DD), not "2026-02-29"', 'a day that does not exist');
SELECT is(pg_temp.error_text('t_check', '{"v": {"day": "2024-02-29", "at": "2026-06-30T10:00:00"}}'),
    'invalid arguments: "v.at" must be a date and time with a zone (YYYY-MM-DDTHH:MM:SSZ), not "2026-06-30T10:00:00"', 'a date-time without a zone');
SELECT is(pg_temp.error_text('t_check', '{"v": {"code": "dkk"}}'), 'invalid arguments: "v.code" must match the pattern ^[A-Z]{3}$, not "dkk"', 'a pattern');
SELECT is(pg_temp.error_text('t_check', '{"v": {"name": "Ærøskøbing"}}'), 'invalid arguments: "v.name" must be at most 5 characters long, not 10', 'lengths count characters, not bytes');
SELECT is(pg_temp.error_text('t_check', '{"v": {"name": ""}}'), 'invalid arguments: "v.name" must not be empty', 'an empty string');
SELECT is(pg_temp.error_text('t_check', '{"v": {"amount": 0}}'), 'invalid arguments: "v.amount" must be more than 0', 'an exclusive bound');
SELECT is(pg_temp.error_text('t_check', '{"v": {"lines": [{"q": 1}, {"q": "2"}]}}'), 'invalid arguments: "v.lines[1].q" must be an integer, not string', 'a path into arrays');
SELECT is(pg_temp.error_text('t_check', '{"v": {"lines": []}}'), 'invalid arguments: "v.lines" must have at least 1 item', 'too few items');
SELECT is(pg_temp.error_text('t_check', '{"v": {"lines": [{}]}}'), 'invalid arguments: "v.lines[0].q" is required', 'a required member deep down');
SELECT is(pg_temp.error_text('t_check', '{"v": {"kind": "c"}}'), 'invalid arguments: "v.kind" must be one of "a", "b", not "c"', 'an enum');
SELECT is(pg_temp.error_text('t_check', '{"v": {"colour": "red"}}'), 'invalid arguments: "v" has no member "colour"', 'an unknown member of a nested object');
SELECT is(pg_temp.call('t_check', '{"v": {"day": "2024-02-29", "at": "2026-06-30T10:00:00+02:00", "code": "DKK", "name": "Ærø", "amount": 0.01, "lines": [{"q": 2}], "kind": "b"}, "n": 10}') -> 'structuredContent',
    '{"v": {"day": "2024-02-29", "at": "2026-06-30T10:00:00+02:00", "code": "DKK", "name": "Ærø", "amount": 0.01, "lines": [{"q": 2}], "kind": "b"}, "n": 10}'::jsonb,
    'valid arguments reach the function unchanged');
SELECT is(pg_temp.call('t_check', '{"v": {"note": "x''); DROP TABLE billy.invoices; --"}}') -> 'structuredContent' -> 'v' ->> 'note',
    'x''); DROP TABLE billy.invoices; --', 'argument values are bound parameters, never SQL text');
SELECT has_table('billy', 'invoices', 'and the table is still there');

------------------------------------------------------------------------------
-- results: row sets wrapped, capped, flagged; content mirrors structuredContent
------------------------------------------------------------------------------
SELECT is((pg_temp.call('t_invoices', '{"limit": 7}') -> 'structuredContent' ->> 'row_count')::integer, 7, 'a set of rows comes as {rows, row_count, truncated}');
SELECT is(pg_temp.call('t_invoices', '{"limit": 7}') -> 'structuredContent' -> 'rows' -> 0 ->> 'id',
    (SELECT id FROM billy.invoices WHERE organization_id = billy_test.org(1) ORDER BY entry_date DESC, id LIMIT 1), 'in the function''s order');
SELECT is((pg_temp.call('t_invoices', '{"limit": 7}') -> 'content' -> 0 ->> 'text')::jsonb,
    pg_temp.call('t_invoices', '{"limit": 7}') -> 'structuredContent', 'the text content is the structured content as JSON');
SELECT ok(pg_temp.call('t_invoices', '{"limit": 7}') -> 'content' -> 0 ->> 'text' !~ '": |, "', 'compact JSON text: no spaces after colons and commas');
SELECT is(billy._mcp_validate(pg_temp.output_schema('t_invoices'), pg_temp.call('t_invoices', '{"limit": 7}') -> 'structuredContent'), NULL,
    'the derived output schema describes the rows (types from the result columns)');
SELECT is(pg_temp.output_schema('t_invoices') -> 'properties' -> 'rows' -> 'items' -> 'properties' -> 'entry_date',
    '{"type": ["string", "null"], "format": "date"}'::jsonb, 'a date column is a date string');
SET LOCAL billy.mcp_max_rows = 5;
SELECT is((pg_temp.call('t_invoices', '{"limit": 50, "offset": 10}') -> 'structuredContent') - 'rows',
    '{"row_count": 5, "truncated": true, "next_offset": 15, "note": "Only the first 5 rows are shown (billy.mcp_max_rows 5, billy.mcp_max_bytes 100000). Call again with offset 15 for the next page, or narrow the filters."}'::jsonb,
    'more rows than billy.mcp_max_rows: cut, flagged, and the next offset given');
SELECT is(pg_temp.call('t_invoices', '{"limit": 5}') -> 'structuredContent' ->> 'truncated', 'false', 'exactly the cap: not truncated');
RESET billy.mcp_max_rows;
SET LOCAL billy.mcp_max_bytes = 2000;
SELECT ok((pg_temp.call('t_invoices', '{"limit": 200}') -> 'structuredContent' ->> 'truncated')::boolean
          AND length(pg_temp.call('t_invoices', '{"limit": 200}') -> 'content' -> 0 ->> 'text') <= 2000,
    'more bytes than billy.mcp_max_bytes: cut to fit and flagged');
RESET billy.mcp_max_bytes;

CREATE FUNCTION mcp_t.scalar(n integer DEFAULT 3) RETURNS bigint LANGUAGE sql AS $$ SELECT n::bigint * 2 $$;
CREATE FUNCTION mcp_t.row_of(OUT a integer, OUT b text) LANGUAGE sql AS $$ SELECT 1, 'x' $$;
CREATE FUNCTION mcp_t.big_text() RETURNS text LANGUAGE sql AS $$ SELECT repeat('æblegrød;', 50000) $$;
CREATE FUNCTION mcp_t.big_object() RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('total', 123.45, 'items', (SELECT jsonb_agg(jsonb_build_object('i', g, 'pad', repeat('x', 100))) FROM generate_series(1, 3000) g))
$$;
CREATE FUNCTION mcp_t.fail(kind text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF kind = 'timeout' THEN
        PERFORM pg_sleep(5);
    END IF;
    RAISE EXCEPTION 'the thing % is broken', kind USING ERRCODE = '22023', DETAIL = 'Because tests.', HINT = 'Try another thing.';
END $$;
INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, annotations, sort_order) VALUES
('t_scalar', 'Scalar', 'A number.', billy._mcp_input('{"n": {"type": "integer"}}', '{}', false), 'mcp_t.scalar', '{"readOnlyHint": true, "openWorldHint": false}', 5002),
('t_row', 'Row', 'A row.', billy._mcp_input('{}', '{}', false), 'mcp_t.row_of', '{"readOnlyHint": true, "openWorldHint": false}', 5003),
('t_text', 'Text', 'Long text.', billy._mcp_input('{}', '{}', false), 'mcp_t.big_text', '{"readOnlyHint": true, "openWorldHint": false}', 5004),
('t_object', 'Object', 'Long list in an object.', billy._mcp_input('{}', '{}', false), 'mcp_t.big_object', '{"readOnlyHint": true, "openWorldHint": false}', 5005),
('t_fail', 'Fail', 'Fails.', billy._mcp_input('{"kind": {"type": "string"}}', ARRAY['kind'], false), 'mcp_t.fail', '{"readOnlyHint": true, "openWorldHint": false}', 5006);

SELECT is(pg_temp.call('t_scalar', '{"n": 21}') -> 'structuredContent', '{"result": 42}'::jsonb, 'a scalar comes as {result}');
SELECT is(pg_temp.call('t_scalar') -> 'structuredContent', '{"result": 6}'::jsonb, 'an argument left out takes the function''s default');
SELECT is(billy._mcp_validate(pg_temp.output_schema('t_scalar'), pg_temp.call('t_scalar') -> 'structuredContent'), NULL, 'and matches its derived schema');
SELECT is(pg_temp.call('t_row') -> 'structuredContent', '{"a": 1, "b": "x"}'::jsonb, 'a composite comes as the row itself');
SELECT ok((pg_temp.call('t_text') -> 'structuredContent' ->> 'truncated')::boolean
          AND length(pg_temp.call('t_text') -> 'structuredContent' ->> 'result') < 100000
          AND right(pg_temp.call('t_text') -> 'structuredContent' ->> 'result', 1) <> '\', 'a text too long is cut at a character and flagged');
SELECT ok((pg_temp.call('t_object') -> 'structuredContent' ->> 'truncated')::boolean
          AND (pg_temp.call('t_object') -> 'structuredContent' ->> 'total')::numeric = 123.45
          AND jsonb_array_length(pg_temp.call('t_object') -> 'structuredContent' -> 'items') BETWEEN 100 AND 999,
    'a list inside an object is cut to fit; the other members stay');
SELECT is(pg_temp.error_text('t_fail', '{"kind": "x"}'), E'error 22023: the thing x is broken\nDetail: Because tests.\nHint: Try another thing.',
    'a SQL error is an isError result with SQLSTATE, message, detail and hint');
SELECT is(pg_temp.call('t_fail', '{"kind": "x"}') -> 'structuredContent', NULL, 'an error result carries no structuredContent (clients would check it against the schema)');
SET LOCAL statement_timeout = 300;
SELECT is(pg_temp.error_text('t_fail', '{"kind": "timeout"}'), 'error 57014: canceling statement due to statement timeout',
    'a statement timeout is an isError result, not a lost request');
RESET statement_timeout;
SELECT is(pg_temp.call('t_scalar', '{"n": 1}') -> 'structuredContent', '{"result": 2}'::jsonb, 'and the session carries on');


------------------------------------------------------------------------------
-- the reading tools answer for reading: compact rows, every list answer with
-- total and next_offset, cut at a row boundary; following next_offset never
-- loses a row, whatever cuts the pages
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.walk(tool text, args jsonb, key text) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    ids text[] := '{}';
    r jsonb;
    off integer := 0;
    pages integer := 0;
BEGIN
    LOOP
        r := pg_temp.call(tool, args || jsonb_build_object('offset', off)) -> 'structuredContent';
        ids := ids || ARRAY(SELECT e ->> 'id' FROM jsonb_array_elements(r -> key) e);
        pages := pages + 1;
        EXIT WHEN NOT r ? 'next_offset' OR pages > 200;
        IF (r ->> 'next_offset')::integer <> off + jsonb_array_length(r -> key) THEN
            RAISE EXCEPTION 'next_offset % does not follow the % rows from %', r ->> 'next_offset', jsonb_array_length(r -> key), off;
        END IF;
        off := (r ->> 'next_offset')::integer;
    END LOOP;
    RETURN ids;
END
$$;
SELECT is((pg_temp.call('list_invoices') -> 'structuredContent') - 'invoices' - 'freshness' - 'note',
    jsonb_build_object('total', (SELECT count(*) FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL),
                       'offset', 0, 'returned', 25, 'next_offset', 25, 'truncated', false),
    'list_invoices answers a default page of 25 with the total and where the next page starts');
SELECT is((pg_temp.call('list_invoices', '{"limit": 1}') -> 'structuredContent' -> 'invoices' -> 0) - 'overdue',
    (SELECT jsonb_strip_nulls(jsonb_build_object('id', i.id, 'no', i.invoice_no, 'state', i.state, 'date', i.entry_date, 'due', i.due_date,
                'customer', c.name, 'currency', i.currency_id, 'net', i.amount, 'vat', i.tax, 'gross', i.gross_amount,
                'balance', i.balance, 'paid', i.is_paid))
     FROM billy.invoices i LEFT JOIN billy.contacts c ON c.organization_id = i.organization_id AND c.id = i.contact_id
     WHERE i.organization_id = billy_test.org(1) AND i.deleted_at IS NULL
     ORDER BY i.entry_date DESC, i.invoice_no DESC, i.id LIMIT 1),
    'a row says number, dates, the customer''s name, currency, net, vat, gross, balance, paid');
SELECT ok(pg_temp.call('list_invoices', '{"limit": 1, "detail": "raw"}') -> 'structuredContent' -> 'invoices' -> 0 ? 'lines',
    'detail raw gives Billy''s JSON');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(pg_temp.call('list_invoices', '{"limit": 1, "fields": ["sent", "customer"]}')
              -> 'structuredContent' -> 'invoices' -> 0) k), ARRAY['customer', 'id', 'sent'], 'fields picks members of the full rows');
SELECT is((SELECT array_agg(x ORDER BY x) FROM unnest(pg_temp.walk('list_invoices', '{"limit": 37}', 'invoices')) x),
    (SELECT array_agg(id ORDER BY id) FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL),
    'paging with next_offset gives every invoice once');
SET LOCAL billy.list_total_limit = 5;
SELECT is((pg_temp.call('list_invoices', '{"limit": 10}') -> 'structuredContent') - 'invoices' - 'freshness',
    jsonb_build_object('total_at_least', 15, 'offset', 0, 'returned', 10, 'next_offset', 10, 'truncated', false,
                       'note', '10 of at least 15 shown: call again with offset 10 for the next page.'),
    'more matches than billy.list_total_limit past the page: total_at_least, next_offset, a note that says "at least"');
SELECT is((SELECT array_agg(x ORDER BY x) FROM unnest(pg_temp.walk('list_invoices', '{"limit": 37}', 'invoices')) x),
    (SELECT array_agg(id ORDER BY id) FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL),
    'paging with next_offset still gives every invoice once when the count stops short');
SELECT ok((pg_temp.call('list_customers', '{"limit": 1}') -> 'structuredContent' ->> 'archived_hidden')::integer > 0,
    'list_customers still says it hid archived customers');
RESET billy.list_total_limit;
SET LOCAL billy.mcp_max_bytes = 5000;
SELECT ok((pg_temp.call('list_invoices', '{"limit": 100}') -> 'structuredContent' ->> 'truncated')::boolean
          AND (pg_temp.call('list_invoices', '{"limit": 100}') -> 'structuredContent' ->> 'returned')::integer < 100,
    'a page too big for billy.mcp_max_bytes is cut at a row and says so');
SELECT is((SELECT array_agg(x ORDER BY x) FROM unnest(pg_temp.walk('list_invoices', '{"limit": 100}', 'invoices')) x),
    (SELECT array_agg(id ORDER BY id) FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL),
    'following next_offset across pages cut by size still gives every invoice once');
SELECT is((SELECT array_agg(x ORDER BY x) FROM unnest(pg_temp.walk('list_customers', '{"limit": 500, "detail": "full", "include_archived": true}', 'contacts')) x),
    (SELECT array_agg(id ORDER BY id) FROM billy.contacts WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL AND is_customer),
    'and every customer, archived ones included');
RESET billy.mcp_max_bytes;
SELECT is((pg_temp.call('list_customers', '{"limit": 500}') -> 'structuredContent' ->> 'archived_hidden')::integer,
    (SELECT count(*)::integer FROM billy.contacts WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL AND is_customer AND is_archived),
    'list_customers says how many archived customers it hid');
SELECT is(pg_temp.call('list_customers', '{"suppliers": true, "limit": 500}') -> 'structuredContent' ->> 'total',
    (SELECT count(*)::text FROM billy.contacts WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL AND is_supplier AND NOT is_archived),
    'suppliers: true lists the suppliers');
SELECT is(jsonb_array_length(pg_temp.call('get_invoice', jsonb_build_object('invoice_id', :'draft_or_any')) -> 'structuredContent' -> 'invoice' -> 'lines'),
    (SELECT count(*)::integer FROM billy.invoice_lines WHERE organization_id = billy_test.org(1) AND invoice_id = :'draft_or_any'),
    'get_invoice gives the invoice''s lines');
SELECT ok(pg_temp.call('get_invoice', jsonb_build_object('invoice_id', :'draft_or_any')) -> 'structuredContent' -> 'freshness' ? 'confirmed_at',
    'and its freshness');
SELECT is(billy._mcp_validate(NULL, '{}'), NULL, 'the validator takes a missing schema (it crashed the backend)');

------------------------------------------------------------------------------
-- roles: a tool is listed when the caller may run it; organizations by RLS
------------------------------------------------------------------------------
CREATE ROLE mcp_t_reader LOGIN IN ROLE billy_mcp;
CREATE ROLE mcp_t_admin LOGIN IN ROLE billy_mcp, billy_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mcp_t TO billy_mcp;

CREATE SCHEMA mcp_t_private;
CREATE FUNCTION mcp_t_private.hidden() RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, sort_order)
VALUES ('t_hidden', 'Hidden', 'In a schema readers may not use.', '{"type": "object"}', 'mcp_t_private.hidden', 5010);

SET LOCAL ROLE mcp_t_reader;
SELECT ok(NOT 't_hidden' = ANY (pg_temp.listed()), 'a tool in a schema the role may not use is not listed, and the list still works');
SELECT ok(NOT 'sync_billy_data' = ANY (pg_temp.listed()), 'a role without write rights does not see sync_billy_data');
SELECT ok(pg_temp.listed() @> ARRAY['get_organization_settings', 'check_connection', 'get_sync_status'], 'but sees the reading tools');
SELECT alike(pg_temp.error_text('sync_billy_data'), 'the tool sync_billy_data is not available: role mcp_t_reader may not execute billy.sync(text,text[])',
    'calling it anyway is refused with an isError result');
SELECT is(pg_temp.call('get_organization_settings') -> 'structuredContent', '{"organizations": []}'::jsonb,
    'an organization not granted to the role is invisible');
RESET ROLE;
SELECT billy.grant_organization('mcp_t_reader', billy_test.org(1));
SET LOCAL ROLE mcp_t_reader;
SELECT is(pg_temp.call('get_organization_settings') -> 'structuredContent' -> 'organizations' -> 0 ->> 'id', billy_test.org(1),
    'once granted, it is visible');
SELECT is(billy._mcp_validate(pg_temp.output_schema('get_organization_settings'), pg_temp.call('get_organization_settings') -> 'structuredContent'), NULL,
    'get_organization_settings matches its output schema');
SELECT is(billy._mcp_validate(pg_temp.output_schema('get_sync_status'), pg_temp.call('get_sync_status') -> 'structuredContent'), NULL,
    'get_sync_status matches its output schema');
SELECT is(pg_temp.call('get_sync_status') -> 'structuredContent' -> 'resources' -> 0 ->> 'state', 'ok', 'and reports the synced resources');
SELECT is(billy._mcp_validate(pg_temp.output_schema('check_connection'), pg_temp.call('check_connection') -> 'structuredContent'), NULL,
    'check_connection matches its output schema');
SELECT is(pg_temp.call('check_connection') -> 'structuredContent' ->> 'ok', 'true', 'and reaches the sandbox');
SELECT alike(billy.mcp('{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}') -> 'result' ->> 'instructions',
    '%' || (SELECT name FROM billy.organizations WHERE id = billy_test.org(1)) || '%', 'the instructions name the organizations the role sees');
SELECT ok(billy.mcp_instructions() !~ 'sync_billy_data|Writes to Billy' AND billy.mcp_instructions() ~ 'get_sync_status',
    'a reader''s instructions name no tool it cannot use (sync_billy_data, the writes)');
SELECT alike(pg_temp.error_text('get_sync_status', '{"organization": "nope"}'), 'error 42704: unknown Billy organization "nope"%',
    'an error names what was wrong');
SELECT ok(pg_temp.error_text('get_sync_status', '{"organization": "nope"}') !~ 'SELECT|FROM billy'
          AND pg_temp.error_text('get_sync_status', '{"organization": "nope"}') ~ 'get_organization_settings',
    'and its hint names a tool, never SQL');
RESET ROLE;
SELECT ok(billy.mcp_instructions() ~ 'sync_billy_data' AND billy.mcp_instructions() ~ 'Writes to Billy take two calls',
    'a writer''s instructions tell how to sync and how writes are confirmed');

SET LOCAL ROLE mcp_t_admin;
SELECT ok('sync_billy_data' = ANY (pg_temp.listed()), 'a billy_admin member sees sync_billy_data');
SELECT is(billy._mcp_validate(pg_temp.output_schema('sync_billy_data'), pg_temp.call('sync_billy_data', jsonb_build_object('organization', billy_test.org(1), 'resources', '["contacts"]'::jsonb)) -> 'structuredContent'), NULL,
    'sync_billy_data queues and matches its output schema');
SELECT is((SELECT count(*) FROM billy.jobs WHERE kind = 'sync' AND state = 'queued' AND organization_id = billy_test.org(1) AND args ->> 'resource' = 'contacts'),
    1::bigint, 'the sync job is queued once');
SELECT is(pg_temp.call('sync_billy_data', jsonb_build_object('organization', billy_test.org(1), 'resources', '["transactions", "daybookTransactions"]'::jsonb))
          -> 'structuredContent' -> 'resources', '["transactions", "daybookTransactions"]'::jsonb,
    'sync_billy_data takes every resource of the catalog (its enum is derived from it): the ledger''s too');
RESET ROLE;

-- each backend caches the registry: it follows the registry, the catalog and grants
SELECT is(pg_temp.call('t_scalar') -> 'structuredContent', '{"result": 6}'::jsonb, 'a tool called once is cached');
UPDATE billy.mcp_tools SET fixed_args = '{"n": 50}' WHERE name = 't_scalar';
SELECT is(pg_temp.call('t_scalar') -> 'structuredContent', '{"result": 100}'::jsonb,
    'a changed registry row is used by the next call in the same session');
UPDATE billy.mcp_tools SET fixed_args = '{}' WHERE name = 't_scalar';
DROP FUNCTION mcp_t.scalar(integer);
SELECT alike(pg_temp.error_text('t_scalar'), 'the tool t_scalar is not available: it waits for mcp_t.scalar, which is not installed%',
    'a dropped function makes a cached tool unavailable');
CREATE FUNCTION mcp_t.scalar(n integer DEFAULT 3) RETURNS bigint LANGUAGE sql AS $$ SELECT n::bigint * 2 $$;
SELECT is(pg_temp.call('t_scalar', '{"n": 4}') -> 'structuredContent', '{"result": 8}'::jsonb, 'and created again, it is back');
SET LOCAL ROLE mcp_t_reader;
SELECT is(pg_temp.call('t_scalar', '{"n": 5}') -> 'structuredContent', '{"result": 10}'::jsonb, 'another role reads it too');
RESET ROLE;
REVOKE USAGE ON SCHEMA mcp_t FROM PUBLIC;
SET LOCAL ROLE mcp_t_reader;
SELECT alike(pg_temp.error_text('t_scalar', '{"n": 5}'), 'the tool t_scalar is not available: it waits for mcp_t.scalar%',
    'until the schema''s USAGE is taken from it');
RESET ROLE;
GRANT USAGE ON SCHEMA mcp_t TO PUBLIC;

------------------------------------------------------------------------------
-- writes: every write tool's arguments come from its write operation's
-- input_schema (a row of billy.write_catalog), the one check of their shape
-- (billy._check_args, in C); the plan functions accept every member of it.
-- A preview through MCP runs the real billy.preview_write (the commit,
-- against the sandbox, is tested end to end in 85-mcp-clients.t)
------------------------------------------------------------------------------
SELECT is_empty($$SELECT name, billy._mcp_write_problem(t) FROM billy.mcp_tools t WHERE kind = 'write' AND billy._mcp_write_problem(t) IS NOT NULL$$,
    'every write tool''s arguments fill members of its write operation''s args, and it requires what the operation requires');
SELECT is_empty($$SELECT w.operation FROM billy.write_operations() w
                  WHERE NOT EXISTS (SELECT 1 FROM billy.mcp_tools t WHERE t.operation = w.operation)$$,
    'every write operation has its MCP tool');
SELECT is(billy._plan_write('approve_invoice', jsonb_build_object('org', billy_test.org(1), 'invoiceId', :'draft_or_any')) -> 'lookup' -> 'expect',
    '{"state": "approved"}', 'a look-up keeps what its catalog row expects when the plan function adds nothing');
CREATE FUNCTION pg_temp.refused(op text, args jsonb) RETURNS text[]
LANGUAGE sql AS $$
    SELECT ARRAY(SELECT e ->> 'field' FROM jsonb_array_elements(billy._plan_write(op, args) -> 'problems') e
                 WHERE e ->> 'message' LIKE 'is not a%' ORDER BY 1)
$$;
SELECT is_empty(format($$
    SELECT w.operation, k FROM billy.write_operations() w, jsonb_object_keys(w.input_schema -> 'properties') k
    WHERE k <> 'org' AND cardinality(pg_temp.refused(w.operation, jsonb_build_object('org', %L, k, '"x"'::jsonb))) > 0$$, billy_test.org(1)),
    'billy._plan_write accepts every member of every operation''s input_schema');
SELECT is_empty(format($$
    SELECT w.operation, k, n FROM billy.write_operations() w, jsonb_each(w.input_schema -> 'properties') p(k, s),
           jsonb_object_keys(s -> 'properties') n
    WHERE cardinality(pg_temp.refused(w.operation, jsonb_build_object('org', %L, k, jsonb_build_object(n, 'x')))) > 0$$, billy_test.org(1)),
    'and every member of their object members');
SELECT is(pg_temp.refused('approve_invoice', jsonb_build_object('org', billy_test.org(1), 'invoice_id', 'x')), ARRAY['invoice_id'],
    'a member the schema does not name is refused by the planner (what the six broken tools sent)');
SELECT is_empty(format($$
    SELECT w.operation, r FROM billy.write_operations() w, jsonb_array_elements_text(w.input_schema -> 'required') r
    WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(billy._plan_write(w.operation, jsonb_build_object('org', %L)) -> 'problems') e
                      WHERE e ->> 'field' = r AND e ->> 'message' = 'is required')$$, billy_test.org(1)),
    'every member the schema requires is one the planner requires');
SELECT is(billy._plan_write('create_invoice', jsonb_build_object('org', billy_test.org(1), 'invoice',
        '{"contactId": "c", "entryDate": "2026-02-30", "lines": [{"productId": "p", "unitPrice": 1.234}]}'::jsonb)) -> 'problems',
    '[{"field": "invoice.lines[0].unitPrice", "message": "must have at most 2 decimals, not 1.234"},
      {"field": "invoice.entryDate", "message": "must be a date (YYYY-MM-DD), not \"2026-02-30\""}]'::jsonb,
    'the shape''s problems are all named, each with its field, by the validator the tools use (src/jsonschema.c)');
SELECT is_empty($$SELECT c.operation FROM billy.write_catalog c WHERE c.wrapper IS NOT NULL AND NOT EXISTS (
                      SELECT 1 FROM pg_proc p WHERE p.oid = to_regproc(c.wrapper)
                        AND pg_get_functiondef(p.oid) LIKE '%billy._write_now(' || quote_literal(c.operation) || '%'
                        AND (SELECT bool_and(has_function_privilege(r, p.oid, 'EXECUTE')) FROM unnest(c.roles) r)
                        AND NOT has_function_privilege('billy_reader', p.oid, 'EXECUTE'))$$,
    'every operation''s one-call SQL function is the one generated from its row, granted to its roles and no others');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = 'billy'::regnamespace AND p.prokind = 'f' AND p.proname NOT IN ('_write_now', '_write_wrapper_sql')
                    AND pg_get_functiondef(p.oid) ~ 'billy\._write_now\('
                    AND NOT EXISTS (SELECT 1 FROM billy.write_catalog c WHERE to_regproc(c.wrapper) = p.oid)$$,
    'and there is no other: no write function outside the catalog');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = 'billy'::regnamespace
                    AND p.proname IN ('_check_fields', '_mcp_check_args')$$,
    'and there is no second validator of write arguments in SQL');
SELECT is((SELECT arguments FROM billy.mcp_tools WHERE name = 'update_customer'),
    '{"organization": "org", "customer_id": "contactId", "changes": "contact"}'::jsonb, 'update_customer''s arguments, derived: customer_id fills contactId');
SELECT is((SELECT input_schema -> 'required' FROM billy.mcp_tools WHERE name = 'approve_invoice'), '["invoice_id"]'::jsonb,
    'approve_invoice requires invoice_id, which fills invoiceId');

-- a registry row that drifts from its operation is not listed, and says why
INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, requires, arguments, kind, operation, annotations, sort_order)
VALUES ('t_drifted', 'Drifted', 'Approves with the wrong argument name, for the tests.',
        billy._mcp_input('{"invoice_id": {"type": "string"}, "confirmation": {"type": "string"}}', ARRAY['invoice_id']),
        'billy.approve_invoice', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'],
        '{"organization": "org", "invoice_id": "invoice_id"}', 'write', 'approve_invoice',
        '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true}', 5007);
SELECT is((SELECT problem FROM billy.mcp_tool_status() WHERE name = 't_drifted'),
    'its argument invoice_id is no member of the args of write operation approve_invoice (the registry and billy.write_operations() disagree)',
    'a write tool whose argument fills no member of its operation is reported');
SELECT ok(NOT 't_drifted' = ANY (pg_temp.listed()), 'and not listed');
SELECT throws_ok($$INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, kind)
                   VALUES ('t_noop', 't', 'd', '{"type": "object"}', 'billy.approve_invoice', 'write')$$, '23514', NULL,
    'a write tool must name its write operation');

SET LOCAL billy.enable_writes = on;
SELECT id AS draft_id FROM billy.invoices WHERE organization_id = billy_test.org(1) AND state = 'draft' AND deleted_at IS NULL ORDER BY id LIMIT 1 \gset
SELECT id AS approved_id FROM billy.invoices WHERE organization_id = billy_test.org(1) AND state = 'approved' AND deleted_at IS NULL ORDER BY id LIMIT 1 \gset
SET LOCAL ROLE mcp_t_reader;
SELECT ok(NOT 'approve_invoice' = ANY (pg_temp.listed()), 'a write tool is hidden from a role that may not write');
SELECT alike(pg_temp.error_text('approve_invoice', jsonb_build_object('invoice_id', :'draft_id')), '%role mcp_t_reader may not execute%',
    'and a write it attempts is refused with isError');
RESET ROLE;
SET LOCAL ROLE mcp_t_admin;
SELECT is(pg_temp.call('approve_invoice', jsonb_build_object('organization', billy_test.org(1), 'invoice_id', :'draft_id')) -> 'structuredContent' ->> 'stage',
    'preview', 'approve_invoice without a confirmation previews through billy.preview_write');
SELECT ok(pg_temp.call('approve_invoice', jsonb_build_object('organization', billy_test.org(1), 'invoice_id', :'draft_id')) -> 'structuredContent' ->> 'confirmation' ~ '^[0-9a-f]{64}$',
    'and returns billy.preview_write''s operation hash as the confirmation');
SELECT is(pg_temp.call('approve_invoice', jsonb_build_object('organization', billy_test.org(1), 'invoice_id', :'draft_id')) -> 'structuredContent' -> 'preview' -> 'request' ->> 'path',
    '/invoices/' || :'draft_id', 'the preview shows the request that would be sent');
SELECT is(billy._mcp_validate(pg_temp.output_schema('approve_invoice'), pg_temp.call('approve_invoice', jsonb_build_object('organization', billy_test.org(1), 'invoice_id', :'draft_id')) -> 'structuredContent'), NULL,
    'a preview matches the write output schema');
SELECT is(pg_temp.error_text('approve_invoice', jsonb_build_object('organization', billy_test.org(1), 'invoice_id', :'approved_id')),
    format(E'error 22023: invalid arguments: invoice_id invoice %s is approved, not a draft\nHint: Correct it and call approve_invoice again; nothing was written.',
           (SELECT invoice_no FROM billy.invoices WHERE organization_id = billy_test.org(1) AND id = :'approved_id')),
    'a problem names the tool''s argument (invoice_id), not the operation''s member');
SELECT alike(pg_temp.error_text('update_customer', jsonb_build_object('organization', billy_test.org(1), 'customer_id', 'nope', 'changes', '{"name": "X"}'::jsonb)),
    '%invalid arguments: customer_id no contact "nope" in the mirror%', 'update_customer names customer_id too');
SELECT alike(pg_temp.error_text('approve_invoice', jsonb_build_object('organization', billy_test.org(1), 'invoice_id', :'approved_id',
        'confirmation', pg_temp.call('approve_invoice', jsonb_build_object('organization', billy_test.org(1), 'invoice_id', :'draft_id')) -> 'structuredContent' ->> 'confirmation')),
    '%this confirmation was given for other arguments%', 'a confirmation given for other arguments is refused');
SELECT is(pg_temp.call('import_customers_csv', jsonb_build_object('organization', billy_test.org(1), 'csv', E'navn;cvr\nMCP Preview ApS;12345674')) -> 'structuredContent' -> 'preview',
    '{"rows": 1, "invalid": 0, "skipped": 0, "problems": [], "would_create": 1, "would_update": 0}'::jsonb,
    'import_customers_csv without a confirmation is a dry run: what would be created');
SELECT alike(pg_temp.error_text('import_customers_csv', jsonb_build_object('organization', billy_test.org(1), 'csv', E'navn;cvr\nOther ApS;12345674',
        'confirmation', pg_temp.call('import_customers_csv', jsonb_build_object('organization', billy_test.org(1), 'csv', E'navn;cvr\nMCP Preview ApS;12345674')) -> 'structuredContent' ->> 'confirmation')),
    '%this confirmation was given for another file%', 'an import confirmation binds the file');
RESET ROLE;

------------------------------------------------------------------------------
-- the audit: every call is recorded in the audit trail (its chain is tested
-- in 75_audit), with its outcome and its arguments redacted
------------------------------------------------------------------------------
SELECT billy._audit_chain_pending();
SELECT coalesce(max(id), 0) AS audit_before FROM billy.audit_log \gset
SELECT pg_temp.call('t_scalar', '{"n": 1}'), pg_temp.call('t_scalar', '{"n": "x"}'), pg_temp.call('t_fail', '{"kind": "y"}'),
       pg_temp.call('t_text', jsonb_build_object('secret_token', 'abc', 'note', repeat('x', 600)));
SELECT is((SELECT count(*) FROM billy.audit_pending), 4::bigint,
    'each call is recorded at once, queued for the hash chain');
SELECT billy._audit_chain_pending();
SELECT results_eq(format($$SELECT target, outcome FROM billy.audit_log
                           WHERE action = 'mcp.tools/call' AND id > %s ORDER BY id$$, :audit_before),
    $$VALUES ('t_scalar', 'ok'), ('t_scalar', 'invalid_arguments'), ('t_fail', '22023'), ('t_text', 'invalid_arguments')$$,
    'every call is recorded in the audit trail with its outcome: ok, invalid arguments, the SQLSTATE of an error');
SELECT is((SELECT request -> 'arguments' ->> 'secret_token' FROM billy.audit_log
           WHERE target = 't_text' AND id > :audit_before), '[redacted]', 'secrets in arguments are redacted in the audit');
SELECT is((SELECT request -> 'arguments' -> 'note' ->> 'length' FROM billy.audit_log
           WHERE target = 't_text' AND id > :audit_before), '600', 'a long text is kept as its length and SHA-256');
SELECT is((billy.verify_audit_log() ->> 'ok')::boolean, true, 'and the chain still verifies');

-- the organization an entry records: what billy._resolve_org would answer
-- for the caller (NULL where it would raise), kept up to date as
-- organizations come, go and are renamed
-- (the queue read as the superuser: row-level security hides entries of
-- other organizations, and of none, from a reader)
CREATE FUNCTION pg_temp.pending_after(after bigint) RETURNS text
LANGUAGE sql SECURITY DEFINER AS $$
    SELECT coalesce(organization_id, '(none)') FROM billy.audit_pending WHERE id > after ORDER BY id LIMIT 1
$$;
CREATE FUNCTION pg_temp.last_pending() RETURNS bigint
LANGUAGE sql SECURITY DEFINER AS $$ SELECT coalesce(max(id), 0) FROM billy.audit_pending $$;
CREATE FUNCTION pg_temp.audited_org(org text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    before bigint := pg_temp.last_pending();
BEGIN
    PERFORM pg_temp.call('get_organization_settings',
                         CASE WHEN org IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('organization', org) END);
    RETURN pg_temp.pending_after(before);
END
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pg_temp TO PUBLIC;
SELECT is(pg_temp.audited_org(' ' || upper((SELECT name FROM billy.organizations WHERE id = billy_test.org(1))) || ' '),
    billy_test.org(1), 'an entry records the organization a call named by its name, in any case, with spaces around');
SELECT is(pg_temp.audited_org(NULL), billy_test.org(1), 'and the only connected one when the call names none');
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) IS NOT NULL AS connected_second \gset
SELECT is(pg_temp.audited_org(NULL), '(none)', 'with a second organization connected, a call that names none records none');
UPDATE billy.organizations SET name = (SELECT name FROM billy.organizations WHERE id = billy_test.org(1))
WHERE id = billy_test.org(2);
SELECT is(pg_temp.audited_org((SELECT name FROM billy.organizations WHERE id = billy_test.org(1))), '(none)',
    'a name two organizations share (after a rename) records none');
SELECT is(pg_temp.audited_org(billy_test.org(2)), billy_test.org(2), 'an id always resolves');
SET LOCAL ROLE mcp_t_reader;
SELECT is(pg_temp.audited_org(NULL), billy_test.org(1),
    'for a role that sees one of them, a call that names none records that one');
SELECT is(pg_temp.audited_org(billy_test.org(2)), '(none)', 'and an organization it may not see is not recorded');
RESET ROLE;

------------------------------------------------------------------------------
-- a write operation is one row and one plan function: added in this
-- transaction, it is planned and previewed, and listed as an MCP tool,
-- with nothing else changed
------------------------------------------------------------------------------
CREATE FUNCTION mcp_t.plan_set_order_no(org text, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'problems', CASE WHEN billy._live('invoices', org, args ->> 'invoiceId') THEN '[]'::jsonb
                         ELSE billy._problem('invoiceId', billy._missing('invoice', org, args ->> 'invoiceId')) END,
        'touches', jsonb_build_array(billy._touch('invoices', org, args ->> 'invoiceId')),
        'record_id', args ->> 'invoiceId',
        'body', jsonb_build_object('invoice', jsonb_build_object('orderNo', args ->> 'orderNo')),
        'summary', format('set the order number of invoice %s to %s', args ->> 'invoiceId', args ->> 'orderNo'))
$$;
GRANT USAGE ON SCHEMA mcp_t TO PUBLIC;
GRANT EXECUTE ON FUNCTION mcp_t.plan_set_order_no(text, jsonb) TO PUBLIC;
INSERT INTO billy.write_catalog (operation, resource, method, path, lookup, input_schema, plan_function, description,
                                 mcp_tool, mcp_title, mcp_description, mcp_renames, mcp_sort, destructive, idempotent)
VALUES ('set_order_no', 'invoices', 'PUT', '/invoices/{invoiceId}',
        '{"kind": "record", "path": "/invoices/{invoiceId}", "root": "invoice"}',
        '{"type": "object", "properties": {"invoiceId": {"type": "string"}, "orderNo": {"type": "string", "minLength": 1, "maxLength": 255}},
          "required": ["invoiceId", "orderNo"], "additionalProperties": false}',
        'mcp_t.plan_set_order_no', 'set an invoice''s order number', 't_set_order_no', 'Set an order number',
        'Sets an invoice''s order number, for the tests.', '{"orderNo": "order_number"}', 5100, true, true);
SELECT is(billy._plan_write('set_order_no', jsonb_build_object('org', billy_test.org(1), 'invoiceId', :'draft_id', 'orderNo', 'PO-7')) -> 'request',
    jsonb_build_object('method', 'PUT', 'path', '/invoices/' || :'draft_id', 'body', '{"invoice": {"orderNo": "PO-7"}}'::jsonb),
    'a dummy operation added as a row is planned: the catalog''s method and path, its plan function''s body');
SELECT is(billy._plan_write('set_order_no', jsonb_build_object('org', billy_test.org(1), 'invoiceId', :'draft_id', 'orderNo', '')) -> 'problems',
    '[{"field": "orderNo", "message": "must not be empty"}]', 'its arguments are checked against its row''s input_schema');
SELECT is(billy.preview_write('set_order_no', jsonb_build_object('org', billy_test.org(1), 'invoiceId', :'draft_id', 'orderNo', 'PO-7')) ->> 'summary',
    'set the order number of invoice ' || :'draft_id' || ' to PO-7', 'and previewed by billy.preview_write');
SET LOCAL ROLE mcp_t_admin;
SELECT ok('t_set_order_no' = ANY (pg_temp.listed()), 'its MCP tool is in tools/list through billy.mcp');
SELECT is((SELECT t -> 'inputSchema' -> 'required' FROM jsonb_array_elements(
        billy.mcp('{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}') -> 'result' -> 'tools') t WHERE t ->> 'name' = 't_set_order_no'),
    '["order_number", "invoice_id"]', 'with its arguments derived from the row: invoice_id, and orderNo renamed order_number');
SELECT is(pg_temp.call('t_set_order_no', jsonb_build_object('organization', billy_test.org(1), 'invoice_id', :'draft_id', 'order_number', 'PO-7'))
          -> 'structuredContent' -> 'preview' -> 'request' ->> 'path',
    '/invoices/' || :'draft_id', 'and calling it previews the write');
RESET ROLE;
DELETE FROM billy.write_catalog WHERE operation = 'set_order_no';
SET LOCAL ROLE mcp_t_admin;
SELECT ok(NOT 't_set_order_no' = ANY (pg_temp.listed()), 'its row deleted, the tool is gone');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
