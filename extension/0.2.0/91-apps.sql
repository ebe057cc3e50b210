------------------------------------------------------------------------------
-- MCP resources and prompts: billy's dashboard as an MCP App and workflow
-- templates for Danish bookkeeping.
--
-- Resources are rows of billy.mcp_resources: the MCP App ui://billy/dashboard
-- (one self-contained HTML page, read from the share directory by
-- billy._app_file, src/apps.c) is listed by resources/list and returned whole
-- by resources/read; the show_dashboard tool points at it in its _meta.
-- billy-mcp-bridge --http serves the same text at / for browsers.
--
-- Prompts are rows of billy.mcp_prompts: a template with {{argument}}
-- placeholders and the tools it names.  A prompt is listed only when the
-- calling role may use every tool it names (as tools/list decides), so a
-- reader never gets a template that asks for a write.
------------------------------------------------------------------------------

CREATE FUNCTION billy._app_file(name text) RETURNS text
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'billy_app_file';
COMMENT ON FUNCTION billy._app_file(text) IS
'The text of an MCP App file installed in PostgreSQL''s share directory (<sharedir>/extension/<name>), or NULL when it is not installed (make dashboard, then make install). Internal.';

CREATE TABLE billy.mcp_resources (
    uri         text PRIMARY KEY CHECK (uri OPERATOR(pg_catalog.~) '^[a-z][a-z0-9+.-]*://[^\s]+$'),
    name        text NOT NULL,
    title       text NOT NULL,
    description text NOT NULL,
    mime_type   text NOT NULL,
    file        text NOT NULL,
    meta        jsonb CHECK (meta IS NULL OR jsonb_typeof(meta) OPERATOR(pg_catalog.=) 'object'),
    builtin     boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE billy.mcp_resources IS
'The MCP resources billy.mcp serves (resources/list, resources/read): uri, name, title, description, mime_type, the installed file whose text is the content (billy._app_file), and meta (the resource''s _meta, e.g. the MCP App''s ui settings). A resource whose file is not installed is not listed.';

CREATE TABLE billy.mcp_prompts (
    name        text PRIMARY KEY CHECK (name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,63}$'),
    title       text NOT NULL,
    description text NOT NULL,
    arguments   jsonb NOT NULL DEFAULT '[]'::jsonb
                CHECK (jsonb_typeof(arguments) OPERATOR(pg_catalog.=) 'array'),
    template    text NOT NULL,
    tools       text[] NOT NULL DEFAULT '{}'::text[],
    sort_order  integer NOT NULL DEFAULT 1000,
    builtin     boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE billy.mcp_prompts IS
'The MCP prompts billy.mcp serves (prompts/list, prompts/get). arguments: [{name, description, required, default}] (default: the text put in the template when the argument is left out; not shown to clients). template: the user message, with {{name}} for each argument. tools: every tool the template names; the prompt is listed only when the caller may use all of them.';

-- the organization, as every template says it
CREATE FUNCTION billy._mcp_prompt_arguments(extra jsonb DEFAULT '[]') RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_array(jsonb_build_object(
    'name', 'organization', 'required', false,
    'description', 'The organization: its id or name. Leave it out when only one is connected.',
    'default', 'the connected organization (if several are connected, ask me which one; get_organization_settings lists them)'))
    || extra;
COMMENT ON FUNCTION billy._mcp_prompt_arguments(jsonb) IS
'A prompt''s arguments: organization, then the given ones. Internal.';

CREATE FUNCTION billy._mcp_method_error(kind text, message text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_object('error', jsonb_build_object('kind', kind, 'message', message));
COMMENT ON FUNCTION billy._mcp_method_error(text, text) IS
'What a method function answers for a bad request: kind not_found (-32002, or -32602 in the modern era) or invalid (-32602), and the message. Internal.';

------------------------------------------------------------------------------
-- The methods (src/mcp/protocol.c calls them with the request's params; each answers
-- {"result": ...} or {"error": {"kind", "message"}})
------------------------------------------------------------------------------

CREATE FUNCTION billy._mcp_no_cursor(params jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN params ? 'cursor' AND params->'cursor' <> 'null'::jsonb THEN
    billy._mcp_method_error('invalid', 'invalid cursor: this list has one page; send no cursor') END;
COMMENT ON FUNCTION billy._mcp_no_cursor(jsonb) IS
'The error for a cursor on a one-page list, or NULL. Internal.';

CREATE FUNCTION billy._mcp_resources_list(params jsonb) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN coalesce(billy._mcp_no_cursor(params), jsonb_build_object('result', jsonb_build_object('resources', (
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'uri', r.uri, 'name', r.name, 'title', r.title, 'description', r.description,
               'mimeType', r.mime_type, '_meta', r.meta)) ORDER BY r.uri), '[]'::jsonb)
    FROM billy.mcp_resources r
    WHERE billy._app_file(r.file) IS NOT NULL))));
COMMENT ON FUNCTION billy._mcp_resources_list(jsonb) IS
'The resources/list result: every resource whose file is installed. Internal.';

CREATE FUNCTION billy._mcp_resource_templates_list(params jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN coalesce(billy._mcp_no_cursor(params),
                jsonb_build_object('result', jsonb_build_object('resourceTemplates', '[]'::jsonb)));
COMMENT ON FUNCTION billy._mcp_resource_templates_list(jsonb) IS
'The resources/templates/list result: billy has no resource templates. Internal.';

CREATE FUNCTION billy._mcp_resource_text(uri text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT billy._app_file(r.file) FROM billy.mcp_resources r WHERE r.uri = _mcp_resource_text.uri);
COMMENT ON FUNCTION billy._mcp_resource_text(text) IS
'A resource''s text (NULL when there is no such resource or its file is not installed): what resources/read answers and billy-mcp-bridge --http serves at / for ui://billy/dashboard. Internal.';

CREATE FUNCTION billy._mcp_resources_read(params jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r billy.mcp_resources;
    body text;
BEGIN
    IF jsonb_typeof(params->'uri') IS DISTINCT FROM 'string' THEN
        RETURN billy._mcp_method_error('invalid', 'invalid params: params.uri must be a string (resources/list names billy''s resources)');
    END IF;
    SELECT * INTO r FROM billy.mcp_resources WHERE uri = params->>'uri';
    IF NOT FOUND THEN
        RETURN billy._mcp_method_error('not_found', format('resource not found: %s (resources/list names billy''s resources)', params->>'uri'));
    END IF;
    body := billy._app_file(r.file);
    IF body IS NULL THEN
        RETURN billy._mcp_method_error('not_found', format('resource not installed: %s (its file %s is built by make dashboard and installed by make install)', r.uri, r.file));
    END IF;
    RETURN jsonb_build_object('result', jsonb_build_object('contents', jsonb_build_array(jsonb_strip_nulls(
        jsonb_build_object('uri', r.uri, 'mimeType', r.mime_type, 'text', body, '_meta', r.meta)))));
END
$$;
COMMENT ON FUNCTION billy._mcp_resources_read(jsonb) IS
'The resources/read result for params.uri. Internal.';

-- a prompt is usable when the caller may use every tool it names
CREATE FUNCTION billy._mcp_prompt_usable(p billy.mcp_prompts) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN NOT EXISTS (
    SELECT 1 FROM unnest(p.tools) AS n(name)
    LEFT JOIN billy.mcp_tools t ON t.name = n.name
    WHERE t.name IS NULL OR billy._mcp_tool_problem(t) IS NOT NULL);
COMMENT ON FUNCTION billy._mcp_prompt_usable(billy.mcp_prompts) IS
'Whether the calling role may use every tool a prompt names. Internal.';

CREATE FUNCTION billy._mcp_prompts_list(params jsonb) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN coalesce(billy._mcp_no_cursor(params), jsonb_build_object('result', jsonb_build_object('prompts', (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'name', p.name, 'title', p.title, 'description', p.description,
               'arguments', (SELECT coalesce(jsonb_agg(a - 'default' ORDER BY i), '[]'::jsonb)
                             FROM jsonb_array_elements(p.arguments) WITH ORDINALITY AS x(a, i)))
               ORDER BY p.sort_order, p.name), '[]'::jsonb)
    FROM billy.mcp_prompts p
    WHERE billy._mcp_prompt_usable(p)))));
COMMENT ON FUNCTION billy._mcp_prompts_list(jsonb) IS
'The prompts/list result: the prompts whose tools the calling role may use. Internal.';

CREATE FUNCTION billy._mcp_prompts_get(params jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p billy.mcp_prompts;
    args jsonb := coalesce(params->'arguments', '{}'::jsonb);
    a jsonb;
    given text;
    body text;
    unknown text;
BEGIN
    IF jsonb_typeof(params->'name') IS DISTINCT FROM 'string' THEN
        RETURN billy._mcp_method_error('invalid', 'invalid params: params.name must be a string (prompts/list names billy''s prompts)');
    END IF;
    SELECT * INTO p FROM billy.mcp_prompts WHERE name = params->>'name';
    IF NOT FOUND OR NOT billy._mcp_prompt_usable(p) THEN
        RETURN billy._mcp_method_error('invalid', format('unknown prompt: %s (prompts/list names the prompts this role may use)', params->>'name'));
    END IF;
    IF jsonb_typeof(args) <> 'object' THEN
        RETURN billy._mcp_method_error('invalid', 'invalid params: params.arguments must be an object of strings');
    END IF;
    SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(args) k
    WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p.arguments) x WHERE x->>'name' = k);
    IF unknown IS NOT NULL THEN
        RETURN billy._mcp_method_error('invalid', format('invalid params: prompt %s has no argument %s (it takes %s)', p.name, unknown,
                              (SELECT string_agg(x->>'name', ', ') FROM jsonb_array_elements(p.arguments) x)));
    END IF;
    body := p.template;
    FOR a IN SELECT x FROM jsonb_array_elements(p.arguments) x LOOP
        IF args ? (a->>'name') AND jsonb_typeof(args->(a->>'name')) <> 'string' THEN
            RETURN billy._mcp_method_error('invalid', format('invalid params: argument %s must be a string', a->>'name'));
        END IF;
        given := nullif(btrim(args->>(a->>'name')), '');
        IF given IS NULL AND coalesce((a->>'required')::boolean, false) THEN
            RETURN billy._mcp_method_error('invalid', format('invalid params: prompt %s needs the argument %s (%s)', p.name, a->>'name', a->>'description'));
        END IF;
        body := replace(body, '{{' || (a->>'name') || '}}', coalesce(given, a->>'default', ''));
    END LOOP;
    RETURN jsonb_build_object('result', jsonb_build_object(
        'description', p.description,
        'messages', jsonb_build_array(jsonb_build_object('role', 'user',
            'content', jsonb_build_object('type', 'text', 'text', body)))));
END
$$;
COMMENT ON FUNCTION billy._mcp_prompts_get(jsonb) IS
'The prompts/get result: the template with the arguments put in (the defaults for those left out). Internal.';

------------------------------------------------------------------------------
-- show_dashboard: the tool a model calls to show the dashboard
------------------------------------------------------------------------------

CREATE FUNCTION billy._mcp_show_dashboard(org text DEFAULT NULL, month text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := CASE WHEN org IS NOT NULL THEN billy._resolve_org(org) ELSE
                       (SELECT o.id FROM billy.organizations o WHERE o.disconnected_at IS NULL ORDER BY o.name, o.id LIMIT 1) END;
    m text := coalesce(month, to_char(current_date, 'YYYY-MM'));
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'no organization is connected'
            USING ERRCODE = 'no_data_found', HINT = 'Connect one first: SELECT billy.connect(''<Billy access token>'').';
    END IF;
    RETURN jsonb_build_object(
        'organization_id', target,
        'organization', (SELECT o.name FROM billy.organizations o WHERE o.id = target),
        'month', m,
        'resource_uri', 'ui://billy/dashboard',
        'note', 'The dashboard is shown to the user: this month against last, revenue and VAT by month with the forecast, receivables aging, top customers, costs and margin, the next VAT deadline and sync freshness. Its figures come from get_analytics_summary, get_revenue_trends, forecast_revenue, get_receivables_aging, get_customer_insights, get_vat_deadlines, get_vat_return and get_sync_status.');
END
$$;
COMMENT ON FUNCTION billy._mcp_show_dashboard(text, text) IS
'The show_dashboard tool: which organization and month the dashboard (the MCP App ui://billy/dashboard) opens on. Internal.';

INSERT INTO billy.mcp_resources (uri, name, title, description, mime_type, file, meta, builtin) VALUES
('ui://billy/dashboard', 'dashboard', 'billy dashboard',
 'An interactive dashboard of the books: this month against last, revenue and VAT by month with the forecast and its band, receivables aging, top customers, costs and margin, the next VAT deadline and the return''s status, sync freshness. An MCP App: it calls billy''s tools through the host.',
 'text/html;profile=mcp-app', 'billy-dashboard.html',
 '{"ui": {"prefersBorder": true, "csp": {"connectDomains": [], "resourceDomains": []}}}', true);

INSERT INTO billy.mcp_tools (name, title, sort_order, function, requires, arguments, fixed_args, kind, issue,
                             annotations, input_schema, output_schema, description, meta, builtin)
VALUES
('show_dashboard', 'Show the dashboard', 605,
 'billy._mcp_show_dashboard', '{}', '{"organization": "org"}', '{}', 'call', NULL,
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "month": {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "description": "The month to open on (YYYY-MM; default this month)."}}$j$),
 $j${"type": "object",
     "properties": {"organization_id": {"type": "string"}, "organization": {"type": ["string", "null"]},
                    "month": {"type": "string"}, "resource_uri": {"type": "string"}, "note": {"type": "string"}},
     "required": ["organization_id", "month", "resource_uri"]}$j$,
 'An interactive dashboard of the books for the user (an MCP App, where supported): revenue, VAT, receivables, top customers, costs.',
 '{"ui": {"resourceUri": "ui://billy/dashboard"}, "ui/resourceUri": "ui://billy/dashboard"}',
 true);

------------------------------------------------------------------------------
-- The prompts (Danish workflows; the model answers in the user's language)
------------------------------------------------------------------------------

INSERT INTO billy.mcp_prompts (name, title, sort_order, description, arguments, tools, template, builtin) VALUES
('vat_quarter', 'Review the VAT quarter (momsangivelse)', 10,
 'Check and review a VAT period before filing: is the mirror fresh, what the return says field by field, what may be wrong, and the deadline.',
 billy._mcp_prompt_arguments($j$[{"name": "period", "required": false,
    "description": "The VAT period: 2026-Q2, 2026-H1, 2026-05 or 2026.",
    "default": "the latest VAT period that has ended (find it with get_vat_deadlines)"}]$j$),
 ARRAY['get_sync_status', 'get_vat_deadlines', 'check_vat', 'get_vat_return'],
 $t$Help me with the VAT return (momsangivelse) for {{organization}}, period {{period}}.

1. Call `get_sync_status` and tell me if the books are older than a day or a sync is failing; the return is only as good as the mirror.
2. Call `get_vat_deadlines` for the year to confirm the period and its deadline (frist), and say how many days are left or whether it has passed.
3. Call `check_vat` for the period and list every finding with the document it concerns and what to do about it.
4. Call `get_vat_return` for the period and show the fields as SKAT's form has them (salgsmoms, købsmoms, moms af varekøb og ydelseskøb i udlandet, the energy duties, rubrik A, B and C), as reported in whole kroner, then the amount to pay or reclaim (tilsvar).
5. End with a short verdict: ready to file, or what must be fixed first. Do not file anything.$t$, true),
('overdue_invoices', 'Chase overdue invoices', 20,
 'Who owes money past the due date, how much and for how long, with a draft reminder (rykker) for each customer.',
 billy._mcp_prompt_arguments($j$[{"name": "as_of", "required": false,
    "description": "The day to age from (YYYY-MM-DD).", "default": "today"}]$j$),
 ARRAY['get_receivables_aging', 'list_invoices', 'get_customer'],
 $t$Find the overdue invoices of {{organization}} as of {{as_of}} and help me chase them.

1. Call `get_receivables_aging` and summarise what is overdue by age (1-30, 31-60, 61-90, over 90 days) and the customers who owe the most.
2. For the customers with overdue amounts, call `list_invoices` with overdue true (and the customer) to get each invoice: number, date, due date, amount due.
3. Call `get_customer` for their e-mail, phone and contact person.
4. Show a table: customer, invoices, amount overdue (DKK), oldest due date, days overdue.
5. Draft a polite reminder (rykker) for each customer in Danish, naming the invoices, amounts and due dates, asking for payment within 8 days. Do not send anything; I will review the drafts.$t$, true),
('month_close', 'Close the month', 30,
 'The month''s close: unpaid bills, unmatched bank payments, revenue against the same month last year, and anything that stops the books being final.',
 billy._mcp_prompt_arguments($j$[{"name": "period", "required": false,
    "description": "The month: YYYY-MM.", "default": "last month"}]$j$),
 ARRAY['get_sync_status', 'get_analytics_summary', 'get_revenue', 'list_bills', 'list_bank_payments', 'get_receivables_aging'],
 $t$Help me close {{period}} for {{organization}}.

1. Call `get_sync_status`: the books must be fresh before closing.
2. Call `get_analytics_summary` for the month: revenue, costs and margin against the month before.
3. Call `get_revenue` for the month and for the same month last year, and compare them (amount and percent).
4. Call `list_bills` for bills of the month that are still unpaid, and list them by due date.
5. Call `list_bank_payments` for the month and point out payments not matched to an invoice or a bill.
6. Call `get_receivables_aging` as of the month's last day for what customers still owe.
7. End with a checklist of what must be done before the month can be considered closed.$t$, true),
('first_invoice', 'A new customer''s first invoice', 40,
 'Create a new customer (unless it exists) and their first invoice as a draft, step by step, with confirmation before anything is written to Billy.',
 billy._mcp_prompt_arguments($j$[{"name": "customer", "required": true,
    "description": "The customer: a name, or a CVR number for a Danish company."},
   {"name": "period", "required": false, "description": "The invoice date (YYYY-MM-DD).", "default": "today"}]$j$),
 ARRAY['list_customers', 'create_customer', 'list_products', 'create_invoice', 'get_invoice'],
 $t$I want to invoice a new customer, {{customer}}, for {{organization}}, dated {{period}}.

1. Call `list_customers` with a search for the name or CVR number, so no duplicate customer is made.
2. If the customer does not exist, ask me for what is missing (address, e-mail, CVR, country) and call `create_customer`; show me the preview and wait for my confirmation before committing.
3. Call `list_products` and help me pick the products and quantities for the invoice (or a free-text line).
4. Call `create_invoice` as a draft: show me the preview (lines, VAT, total in DKK) and wait for my confirmation before committing.
5. Call `get_invoice` to show the draft as Billy has it. Do not approve or send it unless I ask.$t$, true);

SELECT pg_catalog.pg_extension_config_dump('billy.mcp_resources', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('billy.mcp_prompts', 'WHERE NOT builtin');

REVOKE ALL ON billy.mcp_resources, billy.mcp_prompts FROM PUBLIC;
GRANT SELECT ON billy.mcp_resources, billy.mcp_prompts TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._app_file(text), billy._mcp_method_error(text, text), billy._mcp_prompt_arguments(jsonb), billy._mcp_no_cursor(jsonb),
    billy._mcp_resources_list(jsonb), billy._mcp_resource_templates_list(jsonb), billy._mcp_resource_text(text),
    billy._mcp_resources_read(jsonb), billy._mcp_prompt_usable(billy.mcp_prompts), billy._mcp_prompts_list(jsonb),
    billy._mcp_prompts_get(jsonb), billy._mcp_show_dashboard(text, text)
    TO billy_reader;
