------------------------------------------------------------------------------
-- MCP: the Model Context Protocol inside PostgreSQL
--
-- billy.mcp(request jsonb) answers one JSON-RPC message (src/mcp.c) in either
-- era of the protocol: 2026-07-28 requests (stateless, _meta on each:
-- server/discover, tools/list, tools/call) and the legacy lifecycle
-- (initialize, ping, tools/list, tools/call).  Tools are rows of
-- billy.mcp_tools: a name, a description written for a model, JSON Schemas
-- for the arguments and the result, honest annotations, and the SQL function
-- that does the work.  A tool is listed only when its function exists and
-- the calling role may execute it (and everything else it needs), so a tool
-- appears by itself when the function behind it is installed, and a role
-- without write rights never sees a write tool.  Tool functions run as the
-- calling role: row-level security decides which organizations it sees.
------------------------------------------------------------------------------

CREATE TABLE billy.mcp_tools (
    name          text PRIMARY KEY
                  CHECK (name OPERATOR(pg_catalog.~) '^[A-Za-z0-9_]{1,64}$'),
    title         text NOT NULL,
    description   text NOT NULL,
    input_schema  jsonb NOT NULL
                  CHECK (input_schema OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'object'),
    output_schema jsonb
                  CHECK (output_schema IS NULL OR output_schema OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'object'),
    annotations   jsonb NOT NULL DEFAULT '{}'::jsonb,
    function      text NOT NULL
                  CHECK (function OPERATOR(pg_catalog.~) '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*(\([a-z0-9_ ,."\[\]]*\))?$'),
    requires      text[] NOT NULL DEFAULT '{}'::text[],
    arguments     jsonb NOT NULL DEFAULT '{}'::jsonb,
    fixed_args    jsonb NOT NULL DEFAULT '{}'::jsonb,
    kind          text NOT NULL DEFAULT 'call'
                  CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['call', 'write'])),
    sort_order    integer NOT NULL DEFAULT 1000,
    builtin       boolean NOT NULL DEFAULT false,
    issue         text,
    meta          jsonb
                  CHECK (meta IS NULL OR jsonb_typeof(meta) OPERATOR(pg_catalog.=) 'object')
);
COMMENT ON TABLE billy.mcp_tools IS
'The MCP tools billy.mcp serves. name: letters, digits and underscores, at most 64 (what every client accepts). description: for the model (what it does, when to use it, what comes back). input_schema: JSON Schema of the arguments, checked before the call (types, required, enum, format, bounds). output_schema: JSON Schema of structuredContent; NULL derives it from the function (set-returning functions give {rows, row_count, truncated}). annotations: readOnlyHint, destructiveHint, idempotentHint, openWorldHint. function: the SQL function that runs (schema.name, or schema.name(argtypes) when the name is overloaded). requires: other functions the tool needs. arguments: maps an argument name to the function''s parameter name when they differ (null: not passed). fixed_args: parameters always passed. kind: call runs the function; write previews with billy.preview_write and commits with billy.commit_write. A tool is listed only when every function exists and the caller may execute it. issue: what the tool waits for while a function is missing. meta: the tool''s _meta in tools/list (e.g. the MCP App it shows: {"ui": {"resourceUri": ...}}).';
COMMENT ON COLUMN billy.mcp_tools.builtin IS 'Installed by billy; rows added by users have false and are kept by pg_dump.';

-- A changed registry tells stdio bridges to send notifications/tools/list_changed.
CREATE FUNCTION billy._mcp_notify_tools_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('billy_mcp_tools', '');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._mcp_notify_tools_changed() IS
'Trigger: NOTIFY billy_mcp_tools when the tool registry changes. Internal.';

CREATE TRIGGER tools_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billy.mcp_tools
    FOR EACH STATEMENT EXECUTE FUNCTION billy._mcp_notify_tools_changed();

-- A changed registry empties every backend's cached copy of it (mcp.c).
CREATE TRIGGER tools_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billy.mcp_tools
    FOR EACH STATEMENT EXECUTE FUNCTION billy._invalidate_cached();

-- Functions appearing, disappearing or changing grants change which tools
-- are listed: tell the bridges too.
CREATE FUNCTION billy._mcp_notify_ddl() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('billy_mcp_tools', '');
END
$$;
COMMENT ON FUNCTION billy._mcp_notify_ddl() IS
'Event trigger: NOTIFY billy_mcp_tools after DDL that can change which MCP tools are listed (functions, grants, extensions). Internal.';

CREATE EVENT TRIGGER billy_mcp_tools_changed ON ddl_command_end
    WHEN TAG IN ('CREATE FUNCTION', 'ALTER FUNCTION', 'DROP FUNCTION', 'GRANT', 'REVOKE',
                 'CREATE EXTENSION', 'ALTER EXTENSION', 'DROP EXTENSION')
    EXECUTE FUNCTION billy._mcp_notify_ddl();

------------------------------------------------------------------------------
-- Which tools a role may use
------------------------------------------------------------------------------

CREATE FUNCTION billy._mcp_function(spec text) RETURNS regprocedure
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN NOT EXISTS (SELECT 1 FROM pg_namespace n
                             WHERE n.nspname = split_part(spec, '.', 1) AND has_schema_privilege(n.oid, 'USAGE'))
                THEN NULL
            WHEN strpos(spec, '(') > 0 THEN to_regprocedure(spec)
            ELSE to_regproc(spec)::oid::regprocedure END;
COMMENT ON FUNCTION billy._mcp_function(text) IS
'The function a registry entry names (schema.name when unique, or schema.name(argtypes)), NULL when it is not installed or its schema is not usable by the caller. Internal.';

CREATE FUNCTION billy._mcp_in_params(f regprocedure) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(array_agg(a.name ORDER BY a.n), '{}')
        FROM pg_proc p,
             unnest(coalesce(p.proargnames, '{}'),
                    coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[coalesce(array_length(p.proargnames, 1), 0)])))
                 WITH ORDINALITY AS a(name, mode, n)
        WHERE p.oid = f AND a.mode IN ('i', 'b', 'v') AND a.name <> '');
COMMENT ON FUNCTION billy._mcp_in_params(regprocedure) IS 'The names of a function''s input parameters. Internal.';

CREATE FUNCTION billy._mcp_tool_problem(t billy.mcp_tools) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f regprocedure := billy._mcp_function(t.function);
    r text;
    g regprocedure;
    params text[];
    unknown text;
BEGIN
    IF f IS NULL THEN
        RETURN format('it waits for %s, which is not installed%s', t.function,
                      coalesce(' (' || t.issue || ')', ''));
    END IF;
    FOREACH r IN ARRAY t.requires LOOP
        g := billy._mcp_function(r);
        IF g IS NULL THEN
            RETURN format('it waits for %s, which is not installed%s', r, coalesce(' (' || t.issue || ')', ''));
        END IF;
        IF NOT has_function_privilege(g, 'EXECUTE') THEN
            RETURN format('role %s may not execute %s', current_user, g);
        END IF;
    END LOOP;
    IF NOT has_function_privilege(f, 'EXECUTE') THEN
        RETURN format('role %s may not execute %s', current_user, f);
    END IF;
    params := billy._mcp_in_params(f);
    SELECT min(p) INTO unknown
    FROM (SELECT coalesce(t.arguments ->> k, k) AS p
          FROM jsonb_object_keys(coalesce(t.input_schema -> 'properties', '{}')) k
          WHERE NOT (t.arguments ? k AND jsonb_typeof(t.arguments -> k) = 'null')
            AND NOT (t.kind = 'write' AND k = 'confirmation')
          UNION ALL
          SELECT k FROM jsonb_object_keys(t.fixed_args) k) x
    WHERE p <> ALL (params);
    IF unknown IS NOT NULL THEN
        RETURN format('%s has no parameter named %s (the registry and the function disagree)', f, unknown);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._mcp_tool_problem(billy.mcp_tools) IS
'Why the current role cannot use a tool (a function missing, no EXECUTE right, a parameter the function lacks), or NULL when it can. Internal.';

CREATE FUNCTION billy.mcp_tool_status()
RETURNS TABLE (name text, available boolean, problem text, function text, kind text, read_only boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT t.name, billy._mcp_tool_problem(t) IS NULL, billy._mcp_tool_problem(t), t.function, t.kind,
           coalesce((t.annotations ->> 'readOnlyHint')::boolean, false)
    FROM billy.mcp_tools t
    ORDER BY t.sort_order, t.name;
END;
COMMENT ON FUNCTION billy.mcp_tool_status() IS
'Every registered MCP tool and whether the current role can use it: available, or the problem (the function it waits for, a missing EXECUTE right, a registry entry that disagrees with its function). Use it to see why a tool is not listed.';

------------------------------------------------------------------------------
-- Schemas: the arguments' (written in the registry) and the result's
-- (written, or derived from the function)
------------------------------------------------------------------------------

CREATE FUNCTION billy._mcp_json_type(typ oid) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    elem oid;
BEGIN
    IF typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN
        RETURN '{"type": ["integer", "null"]}';
    ELSIF typ IN ('numeric'::regtype, 'float4'::regtype, 'float8'::regtype) THEN
        RETURN '{"type": ["number", "null"]}';
    ELSIF typ = 'bool'::regtype THEN
        RETURN '{"type": ["boolean", "null"]}';
    ELSIF typ = 'date'::regtype THEN
        RETURN '{"type": ["string", "null"], "format": "date"}';
    ELSIF typ = 'timestamptz'::regtype THEN
        RETURN '{"type": ["string", "null"], "format": "date-time"}';
    ELSIF typ IN ('jsonb'::regtype, 'json'::regtype) THEN
        RETURN '{}';
    END IF;
    SELECT t.typelem INTO elem FROM pg_type t WHERE t.oid = typ AND t.typcategory = 'A';
    IF elem IS NOT NULL AND elem <> 0 THEN
        RETURN jsonb_build_object('type', '["array", "null"]'::jsonb, 'items', billy._mcp_json_type(elem));
    END IF;
    RETURN '{"type": ["string", "null"]}';
END
$$;
COMMENT ON FUNCTION billy._mcp_json_type(oid) IS 'The JSON Schema of a PostgreSQL type as to_jsonb renders it (nullable). Internal.';

CREATE FUNCTION billy._mcp_derived_schema(f regprocedure) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p pg_proc;
    rt pg_type;
    cols jsonb;
BEGIN
    SELECT * INTO p FROM pg_proc WHERE oid = f;
    IF NOT FOUND THEN
        RETURN '{"type": "object"}';
    END IF;
    SELECT * INTO rt FROM pg_type WHERE oid = p.prorettype;
    IF p.proallargtypes IS NOT NULL AND 'o' = ANY (p.proargmodes) OR 't' = ANY (p.proargmodes) THEN
        SELECT jsonb_object_agg(a.name, billy._mcp_json_type(a.typ)) INTO cols
        FROM unnest(p.proargnames, p.proargmodes, p.proallargtypes) AS a(name, mode, typ)
        WHERE a.mode IN ('o', 'b', 't');
    ELSIF rt.typtype = 'c' THEN
        SELECT jsonb_object_agg(at.attname, billy._mcp_json_type(at.atttypid)) INTO cols
        FROM pg_attribute at
        WHERE at.attrelid = rt.typrelid AND at.attnum > 0 AND NOT at.attisdropped;
    END IF;
    IF cols IS NOT NULL AND p.proretset THEN
        RETURN jsonb_build_object(
            'type', 'object',
            'properties', jsonb_build_object(
                'rows', jsonb_build_object('type', 'array', 'items',
                                           jsonb_build_object('type', 'object', 'properties', cols)),
                'row_count', '{"type": "integer"}'::jsonb,
                'truncated', '{"type": "boolean"}'::jsonb,
                'next_offset', '{"type": "integer"}'::jsonb,
                'note', '{"type": "string"}'::jsonb),
            'required', '["rows", "row_count", "truncated"]'::jsonb);
    ELSIF cols IS NOT NULL THEN
        RETURN jsonb_build_object('type', 'object', 'properties', cols);
    ELSIF p.proretset THEN
        RETURN jsonb_build_object(
            'type', 'object',
            'properties', jsonb_build_object(
                'rows', jsonb_build_object('type', 'array', 'items', billy._mcp_json_type(p.prorettype)),
                'row_count', '{"type": "integer"}'::jsonb,
                'truncated', '{"type": "boolean"}'::jsonb),
            'required', '["rows", "row_count", "truncated"]'::jsonb);
    ELSIF p.prorettype IN ('jsonb'::regtype, 'json'::regtype) THEN
        RETURN '{"type": "object"}';
    END IF;
    RETURN jsonb_build_object('type', 'object',
                              'properties', jsonb_build_object('result', billy._mcp_json_type(p.prorettype)),
                              'required', '["result"]'::jsonb);
END
$$;
COMMENT ON FUNCTION billy._mcp_derived_schema(regprocedure) IS
'The output schema billy.mcp''s result shaping gives a function''s answer: {rows, row_count, truncated} for set-returning functions (rows typed from the result columns), the row for a composite, an object for json, {result} for a scalar. Internal.';

CREATE FUNCTION billy._mcp_write_schema() RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN '{
  "type": "object",
  "properties": {
    "stage": {"type": "string", "enum": ["preview", "committed"],
              "description": "preview: nothing was written yet; committed: the write was carried out."},
    "confirmation": {"type": "string", "description": "Pass this as confirmation to commit exactly what was previewed."},
    "preview": {"description": "What would be sent to Billy and what it would change."},
    "result": {"description": "What Billy answered, after the commit."},
    "next_step": {"type": "string"}
  },
  "required": ["stage"]
}'::jsonb;
COMMENT ON FUNCTION billy._mcp_write_schema() IS 'The output schema of every write tool: a preview with its confirmation, or the committed result. Internal.';

CREATE FUNCTION billy._mcp_output_schema(t billy.mcp_tools) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN t.output_schema IS NOT NULL THEN t.output_schema
            WHEN t.kind = 'write' THEN billy._mcp_write_schema()
            ELSE billy._mcp_derived_schema(billy._mcp_function(t.function)) END;
COMMENT ON FUNCTION billy._mcp_output_schema(billy.mcp_tools) IS 'A tool''s output schema, written or derived. Internal.';

CREATE FUNCTION billy._mcp_input(properties jsonb, required text[] DEFAULT '{}', with_org boolean DEFAULT true)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_strip_nulls(jsonb_build_object(
    'type', 'object',
    'properties', CASE WHEN with_org THEN
        jsonb_build_object('organization', jsonb_build_object(
            'type', 'string', 'minLength', 1, 'maxLength', 200,
            'description', 'The organization: its id or its name (case-insensitive). Leave it out when only one organization is connected; get_organization_settings lists them.'))
        ELSE '{}'::jsonb END || properties,
    'required', CASE WHEN cardinality(required) > 0 THEN to_jsonb(required) END,
    'additionalProperties', false));
COMMENT ON FUNCTION billy._mcp_input(jsonb, text[], boolean) IS
'Builds a tool''s input schema: an object of the given properties (plus the optional organization), no others allowed. Internal.';

------------------------------------------------------------------------------
-- What tools/list and initialize answer
------------------------------------------------------------------------------

CREATE FUNCTION billy._mcp_tools_list(cursor text, page_size integer) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    after_sort integer;
    after_name text;
    page jsonb;
    n integer;
    last_sort integer;
    last_name text;
    more boolean;
BEGIN
    IF cursor IS NOT NULL THEN
        IF cursor !~ '^[0-9]{1,9}:[A-Za-z0-9_]{1,64}$' THEN
            RETURN NULL;
        END IF;
        after_sort := split_part(cursor, ':', 1)::integer;
        after_name := split_part(cursor, ':', 2);
    END IF;
    WITH visible AS (
        SELECT t AS tool, t.sort_order, t.name
        FROM billy.mcp_tools t
        WHERE (cursor IS NULL OR (t.sort_order, t.name COLLATE "C") > (after_sort, after_name COLLATE "C"))
          AND billy._mcp_tool_problem(t) IS NULL
        ORDER BY t.sort_order, t.name COLLATE "C"
        LIMIT page_size + 1
    ), numbered AS (
        SELECT v.*, row_number() OVER (ORDER BY v.sort_order, v.name COLLATE "C") AS i FROM visible v
    )
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'name', (x.tool).name,
               'title', (x.tool).title,
               'description', (x.tool).description,
               'inputSchema', (x.tool).input_schema,
               'outputSchema', billy._mcp_output_schema(x.tool),
               'annotations', jsonb_build_object('title', (x.tool).title) || (x.tool).annotations,
               '_meta', (x.tool).meta))
               ORDER BY x.i) FILTER (WHERE x.i <= page_size), '[]'::jsonb),
           count(*),
           (array_agg(x.sort_order ORDER BY x.i) FILTER (WHERE x.i <= page_size))[page_size],
           (array_agg(x.name ORDER BY x.i) FILTER (WHERE x.i <= page_size))[page_size]
    INTO page, n, last_sort, last_name
    FROM numbered x;
    more := n > page_size;
    RETURN jsonb_build_object('tools', page)
        || CASE WHEN more THEN jsonb_build_object('nextCursor', last_sort || ':' || last_name) ELSE '{}'::jsonb END;
END
$$;
COMMENT ON FUNCTION billy._mcp_tools_list(text, integer) IS
'The tools/list result: the tools the current role may use, in order, page_size at a time after the cursor (NULL when the cursor is not one billy made). Internal.';

CREATE FUNCTION billy.mcp_instructions() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    orgs text;
    n integer;
BEGIN
    SELECT count(*), string_agg(format('%s (id %s, %s)', o.name, o.id, coalesce(o.base_currency, 'DKK')), '; ' ORDER BY o.name)
    INTO n, orgs
    FROM billy.organizations o WHERE o.disconnected_at IS NULL;
    RETURN 'billy serves the books of Danish businesses kept in Billy (billy.dk), mirrored into PostgreSQL. '
        || 'Reads and analytics answer from the mirror in milliseconds and say how fresh they are; '
        || 'call sync_billy_data (or read get_sync_status) when the user needs the latest state. '
        || 'Amounts are exact decimals in the document''s currency unless a tool says otherwise; Danish VAT (moms) is 25%. '
        || 'Writes to Billy take two calls: the first returns a preview and a confirmation and writes nothing; '
        || 'show the preview to the user and call the same tool again with that confirmation only when they agree. '
        || 'Lists are capped: when a result says truncated, narrow the filters or page with limit and offset. '
        || CASE WHEN n = 0 THEN 'No organization is visible to this connection yet.'
                WHEN n = 1 THEN 'One organization is connected: ' || orgs || '; the organization argument can be left out.'
                ELSE n || ' organizations are visible: ' || orgs || '. Pass organization (id or name) to every tool.' END;
END
$$;
COMMENT ON FUNCTION billy.mcp_instructions() IS
'The instructions billy.mcp gives AI clients in its initialize and server/discover answers: what billy is, how fresh reads are, how writes are confirmed, how results are capped, and which organizations the caller sees.';

------------------------------------------------------------------------------
-- The audit trail of MCP calls: recorded through billy.audit when installed
------------------------------------------------------------------------------


------------------------------------------------------------------------------
-- Writes through MCP: preview first, then commit with the confirmation
------------------------------------------------------------------------------

CREATE FUNCTION billy._mcp_write(tool text, operation text, args jsonb, confirmation text) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    answer jsonb;
    hash text;
BEGIN
    IF confirmation IS NOT NULL THEN
        EXECUTE 'SELECT to_jsonb(billy.commit_write($1))' INTO answer USING confirmation;
        -- an unknown outcome is no success: a model that retries makes a duplicate
        IF answer ->> 'state' = 'unknown' THEN
            RAISE EXCEPTION 'write % was sent to Billy but its outcome is unknown: do not retry; a person must decide', answer ->> 'write_op_id'
                USING ERRCODE = '55000',
                      DETAIL = format('Billy did not answer (%s), so "%s" may or may not have been done. Calling %s again could do it twice.',
                                      answer ->> 'error', answer ->> 'summary', tool),
                      HINT = format('Do not call %s again for this, and do not ask for a new confirmation. Tell the user that write %s needs a person to check in Billy whether it was done; billy is checking too.',
                                    tool, answer ->> 'write_op_id');
        END IF;
        RETURN jsonb_build_object('stage', 'committed', 'result', answer);
    END IF;
    EXECUTE 'SELECT to_jsonb(billy.preview_write($1, $2))' INTO answer USING operation, args;
    hash := coalesce(answer ->> 'hash', answer ->> 'operation_hash', answer ->> 'confirmation');
    RETURN jsonb_build_object(
        'stage', 'preview',
        'confirmation', hash,
        'preview', answer,
        'next_step', format('Nothing was written. Show the user this preview; if they agree, call %s again with confirmation set to "%s". The confirmation expires when what it touches changes.', tool, hash));
END
$$;
COMMENT ON FUNCTION billy._mcp_write(text, text, jsonb, text) IS
'Runs a write tool: without confirmation billy.preview_write(operation, args) (nothing is written) and the confirmation to commit it; with confirmation billy.commit_write(confirmation). An unknown outcome raises (the tool answers isError): do not retry; a person must decide. Internal.';

------------------------------------------------------------------------------
-- Tools backed by what the mirror and the sync engine already have
------------------------------------------------------------------------------

CREATE FUNCTION billy._mcp_sync(org text DEFAULT NULL, resources text[] DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
    n bigint;
BEGIN
    n := billy.sync(target, resources);
    RETURN jsonb_build_object(
        'jobs_queued', n,
        'organizations', (SELECT coalesce(jsonb_agg(o.id ORDER BY o.id), '[]') FROM billy.organizations o
                          WHERE o.disconnected_at IS NULL AND (target IS NULL OR o.id = target)),
        'resources', to_jsonb(billy._sync_resource_list(resources)),
        'note', CASE WHEN n = 0 THEN 'Every requested sync was already queued; the worker runs it.'
                     ELSE 'The worker syncs in the background, page by page; call get_sync_status to follow it.' END);
END
$$;
COMMENT ON FUNCTION billy._mcp_sync(text, text[]) IS
'The sync_billy_data tool: queues a full sync (billy.sync) and says what was queued. Internal.';

CREATE FUNCTION billy._mcp_sync_status(org text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
BEGIN
    RETURN jsonb_build_object(
        'resources', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'organization_id', s.organization_id, 'organization', s.organization,
                'resource', s.resource, 'state', s.state,
                'last_success_at', s.last_success_at,
                'age_seconds', round(extract(epoch FROM now() - s.last_success_at)),
                'last_complete_scan_at', s.last_complete_scan_at,
                'rows_seen', s.rows_seen, 'rows_inserted', s.rows_inserted,
                'rows_updated', s.rows_updated, 'rows_deleted', s.rows_deleted,
                'last_error', s.last_error, 'last_error_cause', s.last_error_cause,
                'consecutive_failures', s.consecutive_failures,
                'next_due', s.next_due, 'breaker', s.breaker)
                ORDER BY s.organization_id, s.resource), '[]')
            FROM billy.sync_status s WHERE target IS NULL OR s.organization_id = target),
        'running', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'organization_id', p.organization_id, 'resource', p.resource, 'mode', p.mode,
                'phase', p.phase, 'pages_done', p.pages_done, 'pages_total', p.pages_total,
                'rows_seen', p.rows_seen, 'elapsed_seconds', round(extract(epoch FROM p.elapsed)))
                ORDER BY p.organization_id, p.resource), '[]')
            FROM billy.sync_progress p WHERE target IS NULL OR p.organization_id = target),
        'checked_at', now());
END
$$;
COMMENT ON FUNCTION billy._mcp_sync_status(text) IS
'The get_sync_status tool: billy.sync_status and billy.sync_progress as JSON, for one organization or every visible one. Internal.';

CREATE FUNCTION billy._mcp_organization_settings(org text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
BEGIN
    RETURN jsonb_build_object('organizations', (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
            'id', o.id, 'name', o.name, 'base_currency', o.base_currency,
            'vat_period', o.vat_period, 'has_vat', o.has_vat,
            'fiscal_year_end_month', o.fiscal_year_end_month,
            'registration_no', o.registration_no, 'country_id', o.country_id,
            'locale_id', o.locale_id, 'default_tax_mode', o.default_tax_mode,
            'payment_terms_mode', o.payment_terms_mode, 'payment_terms_days', o.payment_terms_days,
            'is_locked', o.is_locked, 'read_only', o.read_only,
            'connected', o.disconnected_at IS NULL,
            'confirmed_at', o.confirmed_at) ORDER BY o.name, o.id), '[]')
        FROM billy.organizations o
        WHERE target IS NULL OR o.id = target));
END
$$;
COMMENT ON FUNCTION billy._mcp_organization_settings(text) IS
'The get_organization_settings tool: the settings of one organization, or of every visible one. Internal.';

CREATE FUNCTION billy._mcp_revenue(org text, from_date date, to_date date) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    IF from_date IS NULL OR to_date IS NULL OR from_date > to_date THEN
        RAISE EXCEPTION 'from and to must be dates with from <= to' USING ERRCODE = '22023';
    END IF;
    -- daily rows of billy.revenue_trends (issue 6) add up to the range exactly
    EXECUTE $q$
        SELECT jsonb_build_object(
            'from', $2, 'to', $3,
            'net', coalesce(sum(t.net), 0), 'vat', coalesce(sum(t.vat), 0),
            'gross', coalesce(sum(t.gross), 0),
            'invoices', coalesce(sum(t.invoices), 0), 'credit_notes', coalesce(sum(t.credit_notes), 0))
        FROM billy.revenue_trends($1, $2, $3, 'day') t$q$
        INTO result USING org, from_date, to_date;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._mcp_revenue(text, date, date) IS
'The get_revenue tool: net, VAT and gross revenue with invoice and credit note counts over a date range, from billy.revenue_trends. Internal.';

------------------------------------------------------------------------------
-- Metrics for Prometheus (the HTTP bridge serves them at /metrics)
------------------------------------------------------------------------------

CREATE FUNCTION billy.metrics() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    out text := '';
    w record;
    extra text;
    f regprocedure := to_regprocedure('billy.cache_performance(text,interval)');
    t regclass := to_regclass('billy.write_ops');
BEGIN
    out := out || E'# HELP billy_sync_lag_seconds Seconds since the last successful sync of a resource.\n# TYPE billy_sync_lag_seconds gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_sync_lag_seconds{organization="%s",resource="%s"} %s\n',
                                                      billy._prom_label(s.organization_id), billy._prom_label(s.resource),
                                                      coalesce(round(extract(epoch FROM now() - s.last_success_at), 3)::text, '+Inf')),
                                               '' ORDER BY s.organization_id, s.resource)
                            FROM billy.sync_state s), '');
    out := out || E'# HELP billy_sync_consecutive_failures Failed syncs in a row of a resource.\n# TYPE billy_sync_consecutive_failures gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_sync_consecutive_failures{organization="%s",resource="%s"} %s\n',
                                                      billy._prom_label(s.organization_id), billy._prom_label(s.resource),
                                                      s.consecutive_failures), '' ORDER BY s.organization_id, s.resource)
                            FROM billy.sync_state s), '');
    out := out || E'# HELP billy_sync_runs Sync runs kept in billy.sync_runs, by organization and state.\n# TYPE billy_sync_runs gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_sync_runs{organization="%s",state="%s"} %s\n',
                                                      billy._prom_label(r.organization_id), r.state, r.n), '' ORDER BY r.organization_id, r.state)
                            FROM (SELECT organization_id, state, count(*) AS n FROM billy.sync_runs GROUP BY 1, 2) r), '');
    out := out || E'# HELP billy_api_requests Requests to Billy''s API made by the sync runs kept in billy.sync_runs.\n# TYPE billy_api_requests gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_api_requests{organization="%s"} %s\n',
                                                      billy._prom_label(r.organization_id), r.n), '' ORDER BY r.organization_id)
                            FROM (SELECT organization_id, sum(requests) AS n FROM billy.sync_runs GROUP BY 1) r), '');
    out := out || E'# HELP billy_api_failed_runs Sync runs that failed on an API error, by organization and cause.\n# TYPE billy_api_failed_runs gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_api_failed_runs{organization="%s",cause="%s"} %s\n',
                                                      billy._prom_label(r.organization_id), billy._prom_label(r.cause), r.n), '' ORDER BY r.organization_id, r.cause)
                            FROM (SELECT organization_id, coalesce(error_cause, 'unknown') AS cause, count(*) AS n
                                  FROM billy.sync_runs WHERE state = 'failed' GROUP BY 1, 2) r), '');
    out := out || E'# HELP billy_breaker_open Whether the circuit breaker of an organization is open (1) or half open (0.5).\n# TYPE billy_breaker_open gauge\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_breaker_open{organization="%s"} %s\n',
                                                      billy._prom_label(b.organization_id),
                                                      CASE b.state WHEN 'open' THEN '1' WHEN 'half_open' THEN '0.5' ELSE '0' END),
                                               '' ORDER BY b.organization_id)
                            FROM billy.breaker_status() b
                            WHERE (SELECT billy._sees_all()) OR b.organization_id = ANY ((SELECT billy._visible_orgs())::text[])), '');
    out := out || E'# HELP billy_breaker_failures_total Failed scans counted by the circuit breaker since the server started.\n# TYPE billy_breaker_failures_total counter\n';
    out := out || coalesce((SELECT string_agg(format(E'billy_breaker_failures_total{organization="%s"} %s\n',
                                                      billy._prom_label(b.organization_id), b.failures_total), '' ORDER BY b.organization_id)
                            FROM billy.breaker_status() b
                            WHERE (SELECT billy._sees_all()) OR b.organization_id = ANY ((SELECT billy._visible_orgs())::text[])), '');
    SELECT * INTO w FROM billy.worker_status();
    out := out || E'# HELP billy_worker_up Whether the background worker runs.\n# TYPE billy_worker_up gauge\n'
        || format(E'billy_worker_up %s\n', CASE WHEN w.running THEN 1 ELSE 0 END)
        || E'# HELP billy_queue_depth Jobs queued for the background worker.\n# TYPE billy_queue_depth gauge\n'
        || format(E'billy_queue_depth %s\n', coalesce(w.queued, 0))
        || E'# HELP billy_worker_jobs_total Jobs the worker finished since it started, by outcome.\n# TYPE billy_worker_jobs_total counter\n'
        || format(E'billy_worker_jobs_total{outcome="done"} %s\nbilly_worker_jobs_total{outcome="failed"} %s\n',
                  coalesce(w.jobs_done, 0), coalesce(w.jobs_failed, 0));
    -- the cache (issue 5) and the writes (issue 8) add their figures when installed
    IF f IS NOT NULL AND has_function_privilege(f, 'EXECUTE') THEN
        BEGIN
            EXECUTE $q$
                SELECT string_agg(format(E'billy_cache_hit_ratio{organization="%s"} %s\n',
                                         billy._prom_label(o.id), coalesce((c ->> 'hit_rate')::numeric, 0)), '' ORDER BY o.id)
                FROM billy.organizations o, LATERAL (SELECT to_jsonb(x) AS c FROM billy.cache_performance(o.id, '1 hour') x LIMIT 1) p(c)
                WHERE o.disconnected_at IS NULL$q$ INTO extra;
            out := out || E'# HELP billy_cache_hit_ratio Share of reads answered from the mirror in the last hour.\n# TYPE billy_cache_hit_ratio gauge\n'
                || coalesce(extra, '');
        EXCEPTION WHEN OTHERS THEN
            out := out || format(E'# billy_cache_hit_ratio unavailable: %s\n', replace(SQLERRM, E'\n', ' '));
        END;
    END IF;
    IF t IS NOT NULL AND has_table_privilege(t, 'SELECT') THEN
        BEGIN
            EXECUTE $q$
                SELECT string_agg(format(E'billy_write_ops{organization="%s",state="%s"} %s\n',
                                         billy._prom_label(organization_id), billy._prom_label(state), n), '' ORDER BY 1, 2)
                FROM (SELECT organization_id, state, count(*) AS n FROM billy.write_ops GROUP BY 1, 2) w$q$ INTO extra;
            out := out || E'# HELP billy_write_ops Writes to Billy by organization and outcome.\n# TYPE billy_write_ops gauge\n'
                || coalesce(extra, '');
        EXCEPTION WHEN OTHERS THEN
            out := out || format(E'# billy_write_ops unavailable: %s\n', replace(SQLERRM, E'\n', ' '));
        END;
    END IF;
    RETURN out;
END
$$;
COMMENT ON FUNCTION billy.metrics() IS
'billy''s figures in the Prometheus text format (what billy-mcp-bridge serves at /metrics): sync lag and failures per organization and resource, sync runs and API requests, failed runs by cause, circuit breakers, the worker and its queue depth, and, once installed, the cache hit rate and write outcomes. Shows only the organizations the caller sees.';

CREATE FUNCTION billy._prom_label(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN replace(replace(replace(coalesce(value, ''), E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n');
COMMENT ON FUNCTION billy._prom_label(text) IS 'A Prometheus label value, escaped. Internal.';

------------------------------------------------------------------------------
-- billy.mcp itself (src/mcp.c)
------------------------------------------------------------------------------

CREATE FUNCTION billy.mcp(request jsonb) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_mcp';
COMMENT ON FUNCTION billy.mcp(jsonb) IS
'Answers one MCP message (JSON-RPC 2.0) over the tools of billy.mcp_tools the calling role may use, in both eras of the protocol. Modern (2026-07-28): a request whose params._meta carries io.modelcontextprotocol/protocolVersion and clientCapabilities is served statelessly, with no initialize: server/discover, tools/list (with ttlMs and cacheScope) and tools/call, every result with resultType complete; a malformed _meta gets -32602, another version -32022 with the supported ones, any other method -32601. Legacy: initialize (versions 2025-11-25, 2025-06-18, 2025-03-26 and 2024-11-05), ping, tools/list and tools/call, as those versions define them. Returns the response, or NULL for a notification. Tool errors (bad arguments, SQL errors) come back as results with isError; protocol errors as JSON-RPC errors. Any PostgreSQL client can serve MCP with it; billy-mcp-bridge does so over stdio and HTTP.';

CREATE FUNCTION billy._mcp_validate(schema jsonb, value jsonb) RETURNS text
LANGUAGE C IMMUTABLE
AS 'MODULE_PATHNAME', 'billy_mcp_validate';
COMMENT ON FUNCTION billy._mcp_validate(jsonb, jsonb) IS
'Checks a JSON value against a JSON Schema (the subset tools use: type, properties, required, additionalProperties, enum, const, format date/date-time/uuid/email, minimum, maximum, exclusive bounds, minLength, maxLength, pattern, items, minItems, maxItems, anyOf). Returns NULL when it conforms, else what is wrong and where. Internal.';

------------------------------------------------------------------------------
-- The tools.  Argument names are what a model reads; "arguments" maps them to
-- the function's parameter names where these differ.  Tools whose function
-- comes with another concern (issue) stay unlisted until it is installed.
------------------------------------------------------------------------------

INSERT INTO billy.mcp_tools (name, title, sort_order, function, requires, arguments, fixed_args, kind, issue,
                             annotations, input_schema, output_schema, description, builtin)
VALUES
-- organizations, connection and sync -----------------------------------------
('get_organization_settings', 'Organization settings', 10,
 'billy._mcp_organization_settings', '{}', '{"organization": "org"}', '{}', 'call', NULL,
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input('{}'),
 $j${"type": "object",
     "properties": {"organizations": {"type": "array", "items": {"type": "object",
        "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                       "base_currency": {"type": ["string", "null"]}, "vat_period": {"type": ["string", "null"]},
                       "has_vat": {"type": ["boolean", "null"]}, "fiscal_year_end_month": {"type": ["integer", "null"]},
                       "registration_no": {"type": ["string", "null"]}, "country_id": {"type": ["string", "null"]},
                       "locale_id": {"type": ["string", "null"]}, "default_tax_mode": {"type": ["string", "null"]},
                       "payment_terms_mode": {"type": ["string", "null"]}, "payment_terms_days": {"type": ["integer", "null"]},
                       "is_locked": {"type": ["boolean", "null"]}, "read_only": {"type": "boolean"},
                       "connected": {"type": "boolean"}, "confirmed_at": {"type": "string", "format": "date-time"}},
        "required": ["id", "name", "connected"]}}},
     "required": ["organizations"]}$j$,
 'The Billy organizations (companies) this connection can see, with their settings: id, name, base currency, VAT period (moms period), fiscal year end, CVR number (registration_no), country, default tax mode, payment terms, whether it is locked or read-only, and when Billy last confirmed them. Use it first to learn which organizations exist and their ids or names; pass organization to get only one. Answers from the mirror, no call to Billy.',
 true),
('check_connection', 'Check the connection to Billy', 20,
 'billy.check_connection(text)', '{}', '{"organization": "org"}', '{}', 'call', NULL,
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input('{}'),
 $j${"type": "object",
     "properties": {"ok": {"type": "boolean"}, "organization_id": {"type": "string"}, "api_url": {"type": "string"},
                    "http_status": {"type": "integer"}, "attempts": {"type": "integer"}, "latency_ms": {"type": "number"},
                    "cause": {"type": "string"}, "error": {"type": "string"}, "detail": {"type": "string"},
                    "billy_error_code": {"type": "string"}},
     "required": ["ok", "organization_id", "http_status", "attempts", "latency_ms"]}$j$,
 'Checks that billy can reach Billy''s API with the organization''s stored access token: one GET /organization. Returns ok, the HTTP status, attempts and latency, and when it fails the cause (connect, timeout, http_401, http_429, ...), the error and Billy''s error code. Use it when syncs fail or the user asks whether Billy is reachable. The token itself is never shown.',
 true),
('sync_billy_data', 'Sync from Billy', 30,
 'billy._mcp_sync', ARRAY['billy.sync(text,text[])'], '{"organization": "org"}', '{}', 'call', NULL,
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}',
 billy._mcp_input($j${"resources": {"type": "array", "uniqueItems": true, "maxItems": 12,
     "items": {"type": "string", "enum": ["organization", "accounts", "taxRates", "salesTaxRulesets", "contacts", "products",
                                          "invoices", "bills", "bankPayments", "salesTaxReturns"]},
     "description": "Which resources to sync; all of them when left out."}}$j$),
 $j${"type": "object",
     "properties": {"jobs_queued": {"type": "integer"}, "organizations": {"type": "array", "items": {"type": "string"}},
                    "resources": {"type": "array", "items": {"type": "string"}}, "note": {"type": "string"}},
     "required": ["jobs_queued", "organizations", "resources"]}$j$,
 'Queues a full sync from Billy into the mirror for one organization (or every connected one when organization is left out and several are connected) and returns at once: the background worker fetches every page, writes only what changed and marks what Billy deleted. Returns how many sync jobs were queued; a resource already queued is not queued twice. Use it when the user needs data newer than get_sync_status shows; then follow progress with get_sync_status. Needs write rights (billy_admin).',
 true),
('get_sync_status', 'Sync status', 40,
 'billy._mcp_sync_status', '{}', '{"organization": "org"}', '{}', 'call', NULL,
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input('{}'),
 $j${"type": "object",
     "properties": {
        "resources": {"type": "array", "items": {"type": "object",
            "properties": {"organization_id": {"type": "string"}, "organization": {"type": "string"},
                           "resource": {"type": "string"},
                           "state": {"type": "string", "enum": ["ok", "running", "failing", "backoff", "never"]},
                           "last_success_at": {"type": ["string", "null"], "format": "date-time"},
                           "age_seconds": {"type": ["number", "null"]},
                           "last_complete_scan_at": {"type": ["string", "null"], "format": "date-time"},
                           "rows_seen": {"type": ["integer", "null"]}, "rows_inserted": {"type": ["integer", "null"]},
                           "rows_updated": {"type": ["integer", "null"]}, "rows_deleted": {"type": ["integer", "null"]},
                           "last_error": {"type": ["string", "null"]}, "last_error_cause": {"type": ["string", "null"]},
                           "consecutive_failures": {"type": "integer"},
                           "next_due": {"type": ["string", "null"], "format": "date-time"},
                           "breaker": {"type": "string"}},
            "required": ["organization_id", "resource", "state"]}},
        "running": {"type": "array", "items": {"type": "object"}},
        "checked_at": {"type": "string", "format": "date-time"}},
     "required": ["resources", "running", "checked_at"]}$j$,
 'How fresh the mirror is: per organization and resource (invoices, contacts, bills, ...), the sync state (ok, running, failing, backoff, never), when it last succeeded and how many seconds ago, what the last run changed, the last error and its cause, when the next sync is due, and the circuit breaker; plus the scans running right now with their page progress. Use it before answering "is this up to date?" or after sync_billy_data. Leave organization out to see every visible organization.',
 true),
-- invoices -------------------------------------------------------------------
('list_invoices', 'List invoices', 100,
 'billy.list_invoices', '{}', '{"organization": "org", "contact_id": "contact"}', '{}', 'call', 'issue 5: reads with freshness',
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "state": {"type": "string", "enum": ["draft", "approved", "voided"], "description": "Only invoices in this state."},
    "paid": {"type": "boolean", "description": "true: only paid; false: only unpaid."},
    "overdue": {"type": "boolean", "description": "true: only unpaid invoices past their due date."},
    "contact_id": {"type": "string", "description": "Only invoices to this customer (a contact id from list_customers)."},
    "from_date": {"type": "string", "format": "date", "description": "Entry date on or after (YYYY-MM-DD)."},
    "to_date": {"type": "string", "format": "date", "description": "Entry date on or before (YYYY-MM-DD)."},
    "search": {"type": "string", "maxLength": 200, "description": "Free text: invoice number, customer name, line text."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "description": "At most this many (default 50)."},
    "offset": {"type": "integer", "minimum": 0, "description": "Skip this many, to page."}}$j$ || billy._mcp_max_age_arg()),
 NULL,
 'Lists invoices and credit notes, newest first, filtered by state, paid, overdue, customer, entry date range or free text, with number, customer, dates, currency, net amount, VAT, gross amount, unpaid balance and freshness. Use it to find invoices ("unpaid invoices to Hansen ApS", "invoices from March"); then get_invoice for lines and payments. Page with limit and offset.',
 true),
('get_invoice', 'Get an invoice', 110,
 'billy.get_invoice', '{}', '{"organization": "org", "invoice_id": "id"}', '{}', 'call', 'issue 5: reads with freshness',
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "invoice_id": {"type": "string", "minLength": 1, "maxLength": 100, "description": "The invoice's id (from list_invoices)."}}$j$ || billy._mcp_max_age_arg(),
    ARRAY['invoice_id']),
 NULL,
 'One invoice or credit note with its lines (product, description, quantity, unit price, net amount, VAT), payments and credit notes against it, customer, dates, currency, totals and unpaid balance, and how fresh the answer is (confirmed_at, age, fresh or stale, from the mirror or from Billy). Use it after list_invoices when the user asks about one invoice. fresh: true means Billy confirmed it within max_age_seconds; by default billy confirms an unpaid invoice older than 15 seconds with Billy first.',
 true),
('create_invoice', 'Create an invoice (draft)', 120,
 'billy.create_invoice', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true}',
 billy._mcp_input($j${
    "invoice": {"type": "object", "description": "The draft invoice as Billy takes it.",
        "properties": {
            "contactId": {"type": "string", "description": "The customer (contact id)."},
            "entryDate": {"type": "string", "format": "date"},
            "currencyId": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "Default: the organization's currency."},
            "paymentTermsDays": {"type": "integer", "minimum": 0, "maximum": 365},
            "invoiceNo": {"type": "string"},
            "lines": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "object",
                "properties": {"productId": {"type": "string"}, "description": {"type": "string"},
                               "quantity": {"type": "number", "exclusiveMinimum": 0},
                               "unitPrice": {"type": "number"}},
                "required": ["productId", "unitPrice"]}}},
        "required": ["contactId", "entryDate", "lines"]},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call; commits exactly that preview."}}$j$,
    ARRAY['invoice']),
 NULL,
 'Creates a draft invoice in Billy for a customer with product lines. Two steps: called without confirmation it writes nothing and returns a preview (what would be sent, totals with VAT) and a confirmation; show the preview to the user and call again with the same arguments and that confirmation to create it. The draft is not booked until approve_invoice.',
 true),
('approve_invoice', 'Approve an invoice', 130,
 'billy.approve_invoice', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org", "invoice_id": "invoice_id"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "invoice_id": {"type": "string", "minLength": 1, "maxLength": 100},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['invoice_id']),
 NULL,
 'Approves a draft invoice: Billy gives it its number and books it; this cannot be undone (only credited). Two steps: without confirmation a preview and a confirmation; with it, the approval.',
 true),
('send_invoice', 'Send an invoice by e-mail', 140,
 'billy.send_invoice', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org", "invoice_id": "invoice_id"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": true}',
 billy._mcp_input($j${
    "invoice_id": {"type": "string", "minLength": 1, "maxLength": 100},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['invoice_id']),
 NULL,
 'E-mails an approved invoice to the customer through Billy. An e-mail cannot be recalled and sending twice sends twice. Two steps: without confirmation a preview (recipient, subject) and a confirmation; with it, the e-mail goes out.',
 true),
-- customers ------------------------------------------------------------------
('list_customers', 'List customers', 200,
 'billy.list_contacts', '{}', '{"organization": "org"}', '{}', 'call', 'issue 5: reads with freshness',
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "search": {"type": "string", "maxLength": 200, "description": "Free text: name, CVR number, contact number, e-mail."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "description": "At most this many (default 50)."},
    "offset": {"type": "integer", "minimum": 0}}$j$ || billy._mcp_max_age_arg()),
 NULL,
 'Lists customers (Billy contacts) by name or free text, with id, name, CVR number, country, contact persons and freshness. Use it to find a customer''s id for get_customer, list_invoices or create_invoice. Page with limit and offset.',
 true),
('get_customer', 'Get a customer', 210,
 'billy.get_contact', '{}', '{"organization": "org", "customer_id": "id"}', '{}', 'call', 'issue 5: reads with freshness',
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "customer_id": {"type": "string", "minLength": 1, "maxLength": 100, "description": "The contact id (from list_customers)."}}$j$ || billy._mcp_max_age_arg(),
    ARRAY['customer_id']),
 NULL,
 'One customer (Billy contact): name, address, country, CVR and EAN numbers, payment terms, contact persons with e-mails, and how fresh the answer is.',
 true),
('create_customer', 'Create a customer', 220,
 'billy.create_contact', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org", "customer": "contact"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true}',
 billy._mcp_input($j${
    "customer": {"type": "object", "description": "The contact as Billy takes it.",
        "properties": {"name": {"type": "string", "minLength": 1}, "type": {"type": "string", "enum": ["company", "person"]},
                       "countryId": {"type": "string", "pattern": "^[A-Z]{2}$"}, "registrationNo": {"type": "string"},
                       "street": {"type": "string"}, "zipcodeText": {"type": "string"}, "cityText": {"type": "string"},
                       "phone": {"type": "string"}, "email": {"type": "string", "format": "email"}},
        "required": ["name", "countryId"]},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['customer']),
 NULL,
 'Creates a customer (contact) in Billy. Two steps: without confirmation a preview (and a warning when a customer with that name or CVR exists) and a confirmation; with it, the customer is created.',
 true),
('update_customer', 'Update a customer', 230,
 'billy.update_contact', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org", "customer_id": "contact_id", "changes": "contact"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "customer_id": {"type": "string", "minLength": 1, "maxLength": 100},
    "changes": {"type": "object", "minProperties": 1, "description": "The fields to change, as Billy names them (name, street, cityText, phone, paymentTermsDays, ...)."},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['customer_id', 'changes']),
 NULL,
 'Changes fields of a customer in Billy; the previous values are overwritten. Two steps: without confirmation a preview of old and new values and a confirmation; with it, the change.',
 true),
-- products -------------------------------------------------------------------
('list_products', 'List products', 300,
 'billy.list_products', '{}', '{"organization": "org"}', '{}', 'call', 'issue 5: reads with freshness',
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "search": {"type": "string", "maxLength": 200, "description": "Free text: name, product number, description."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "offset": {"type": "integer", "minimum": 0}}$j$ || billy._mcp_max_age_arg()),
 NULL,
 'Lists products with id, name, product number, prices per currency and freshness. Use it to find product ids for invoice lines.',
 true),
('get_product', 'Get a product', 310,
 'billy.get_product', '{}', '{"organization": "org", "product_id": "id"}', '{}', 'call', 'issue 5: reads with freshness',
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "product_id": {"type": "string", "minLength": 1, "maxLength": 100}}$j$ || billy._mcp_max_age_arg(),
    ARRAY['product_id']),
 NULL,
 'One product: name, description, product number, account, sales tax ruleset, prices per currency, and how fresh the answer is.',
 true),
('create_product', 'Create a product', 320,
 'billy.create_product', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true}',
 billy._mcp_input($j${
    "product": {"type": "object", "description": "The product as Billy takes it.",
        "properties": {"name": {"type": "string", "minLength": 1}, "productNo": {"type": "string"},
                       "description": {"type": "string"},
                       "prices": {"type": "array", "items": {"type": "object",
                           "properties": {"unitPrice": {"type": "number"}, "currencyId": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                           "required": ["unitPrice", "currencyId"]}}},
        "required": ["name"]},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['product']),
 NULL,
 'Creates a product in Billy with its prices. Two steps: without confirmation a preview and a confirmation; with it, the product is created.',
 true),
('update_product', 'Update a product', 330,
 'billy.update_product', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org", "product_id": "product_id", "changes": "product"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "product_id": {"type": "string", "minLength": 1, "maxLength": 100},
    "changes": {"type": "object", "minProperties": 1, "description": "The fields to change, as Billy names them (name, description, productNo, prices)."},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['product_id', 'changes']),
 NULL,
 'Changes fields of a product in Billy; the previous values are overwritten. Two steps: preview with old and new values and a confirmation, then the change.',
 true),
-- bills and bank payments ----------------------------------------------------
('list_bills', 'List bills', 400,
 'billy.list_bills', '{}', '{"organization": "org", "contact_id": "contact"}', '{}', 'call', 'issue 5: reads with freshness',
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "state": {"type": "string", "enum": ["draft", "approved", "voided"]},
    "paid": {"type": "boolean"},
    "overdue": {"type": "boolean", "description": "true: only unpaid bills past their due date."},
    "contact_id": {"type": "string", "description": "Only bills from this supplier."},
    "from_date": {"type": "string", "format": "date"},
    "to_date": {"type": "string", "format": "date"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "offset": {"type": "integer", "minimum": 0}}$j$ || billy._mcp_max_age_arg()),
 NULL,
 'Lists bills (purchases from suppliers) and their credit notes, filtered by state, paid, overdue, supplier and entry date, with supplier, dates, amounts, VAT, unpaid balance and freshness. Use it for costs and what the business owes.',
 true),
('create_bill', 'Create a bill', 410,
 'billy.create_bill', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true}',
 billy._mcp_input($j${
    "bill": {"type": "object", "description": "The bill as Billy takes it: contactId, entryDate, dueDate, suppliersInvoiceNo, lines with accountId, taxRateId, description and amount.",
        "properties": {"contactId": {"type": "string"}, "entryDate": {"type": "string", "format": "date"},
                       "dueDate": {"type": "string", "format": "date"}, "suppliersInvoiceNo": {"type": "string"},
                       "lines": {"type": "array", "minItems": 1, "items": {"type": "object"}}},
        "required": ["contactId", "entryDate", "lines"]},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['bill']),
 NULL,
 'Records a bill from a supplier in Billy. Two steps: without confirmation a preview and a confirmation; with it, the bill is created.',
 true),
('list_bank_payments', 'List bank payments', 500,
 'billy.list_bank_payments', '{}', '{"organization": "org", "contact_id": "contact"}', '{}', 'call', 'issue 5: reads with freshness',
 '{"readOnlyHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "contact_id": {"type": "string"},
    "from_date": {"type": "string", "format": "date"},
    "to_date": {"type": "string", "format": "date"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "offset": {"type": "integer", "minimum": 0}}$j$ || billy._mcp_max_age_arg()),
 NULL,
 'Lists bank payments (money received against invoices, paid against bills) with date, amount, side (debit is money in), contact, the invoices or bills they settle, and freshness.',
 true),
('create_bank_payment', 'Register a payment', 510,
 'billy.create_bank_payment', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true}',
 billy._mcp_input($j${
    "payment": {"type": "object", "description": "The payment as Billy takes it: entryDate, cashAmount, cashSide (debit: money in), cashAccountId, and associations to the invoices or bills it pays (subjectReference invoice:ID or bill:ID).",
        "properties": {"entryDate": {"type": "string", "format": "date"}, "cashAmount": {"type": "number", "exclusiveMinimum": 0},
                       "cashSide": {"type": "string", "enum": ["debit", "credit"]}, "cashAccountId": {"type": "string"},
                       "associations": {"type": "array", "minItems": 1, "items": {"type": "object"}}},
        "required": ["entryDate", "cashAmount", "cashSide", "associations"]},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['payment']),
 NULL,
 'Registers a payment against one or more invoices or bills in Billy, which lowers their unpaid balance. Two steps: without confirmation a preview and a confirmation; with it, the payment is registered.',
 true),
('update_organization_settings', 'Update organization settings', 520,
 'billy.update_organization', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org", "settings": "organization"}', '{}', 'write', 'issue 8: safe writes',
 '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "settings": {"type": "object", "minProperties": 1, "description": "The settings to change, as Billy names them (paymentTermsMode, paymentTermsDays, defaultTaxMode, ...)."},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['settings']),
 NULL,
 'Changes the organization''s settings in Billy (payment terms, default tax mode, ...); the previous values are overwritten. Two steps: a preview of old and new values with a confirmation, then the change.',
 true),
-- analytics ------------------------------------------------------------------
('get_revenue', 'Revenue for a date range', 600,
 'billy._mcp_revenue', ARRAY['billy.revenue_trends'], '{"organization": "org", "from": "from_date", "to": "to_date"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "from": {"type": "string", "format": "date", "description": "First entry date (YYYY-MM-DD)."},
    "to": {"type": "string", "format": "date", "description": "Last entry date (YYYY-MM-DD)."}}$j$,
    ARRAY['from', 'to']),
 $j${"type": "object",
     "properties": {"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
                    "net": {"type": "number"}, "vat": {"type": "number"}, "gross": {"type": "number"},
                    "invoices": {"type": "number"}, "credit_notes": {"type": "number"}},
     "required": ["from", "to", "net", "vat", "gross"]}$j$,
 'Revenue between two dates, exact to the øre in the base currency: net, VAT and gross, with the number of invoices and credit notes (credit notes subtract; drafts and voided excluded). Use it for "how much did we invoice in Q1?". For a period-by-period table use get_revenue_trends.',
 true),
('get_analytics_summary', 'Business summary', 610,
 'billy.analytics_summary', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "period": {"type": "string", "maxLength": 40, "description": "today, week, month (default), quarter, year, or a range YYYY-MM-DD..YYYY-MM-DD."}}$j$),
 NULL,
 'How the business is doing in a period compared with the previous one: net and gross revenue and the change, invoices, customers invoiced, average invoice, outstanding and overdue receivables, paid in the period, costs from bills and the margin. Use it for "how is the month going?".',
 true),
('get_revenue_trends', 'Revenue trends', 620,
 'billy.revenue_trends', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"},
    "grain": {"type": "string", "enum": ["day", "week", "month", "quarter", "year"], "description": "Default month."}}$j$,
    ARRAY['from', 'to']),
 NULL,
 'Revenue period by period (day, week, month, quarter or year) between two dates: net, VAT, gross, invoices and credit notes, a moving average, and growth against the previous period and the same period last year. Use it for trend questions and charts.',
 true),
('get_customer_insights', 'Customer insights', 630,
 'billy.customer_insights', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "top": {"type": "integer", "minimum": 1, "maximum": 100, "description": "How many top customers (default 10)."},
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"}}$j$),
 NULL,
 'The best customers by revenue with their share, invoice count, average days to pay, outstanding amount and last invoice; new against returning customers; concentration (top-5 share, HHI); customers gone quiet. Use it for "who are our best customers?" or "who pays late?".',
 true),
('get_receivables_aging', 'Receivables aging', 640,
 'billy.receivables_aging', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "as_of": {"type": "string", "format": "date", "description": "The day to age from (default today)."}}$j$),
 NULL,
 'Unpaid invoices by age: not yet due, 1-30, 31-60, 61-90 and over 90 days overdue, by count and amount, overall and per customer, and DSO (days sales outstanding). Use it for collections and cash-flow questions.',
 true),
('forecast_revenue', 'Revenue forecast', 650,
 'billy.forecast_revenue', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "horizon": {"type": "integer", "minimum": 1, "maximum": 36, "description": "How many periods ahead (default 6)."},
    "grain": {"type": "string", "enum": ["week", "month", "quarter"], "description": "Default month."}}$j$),
 NULL,
 'Forecasts revenue for the coming periods from the history (a seasonal model, or a simpler one for short histories) with a low-high interval per period and the backtest error (MAPE), so the user can judge how far to trust it.',
 true),
-- VAT ------------------------------------------------------------------------
('get_vat_return', 'VAT return (momsangivelse)', 700,
 'billy.vat_return', '{}', '{"organization": "org"}', '{}', 'call', 'issue 7: Danish VAT',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "period": {"type": "string", "pattern": "^[0-9]{4}(-(Q[1-4]|H[12]|(0[1-9]|1[0-2])))?$", "description": "2025-Q1, 2025-H2, 2025-03 or 2025."}}$j$,
    ARRAY['period']),
 NULL,
 'The Danish VAT return (momsangivelse) for a period, computed from the books: salgsmoms, moms af varekøb and ydelseskøb i udlandet, købsmoms, the energy duties, rubrik A, B and C, each exact and as reported (whole kroner), the amount to pay or reclaim (tilsvar), the period and its deadline, and any tax rate it could not classify. Use it for "what is our VAT for Q1?".',
 true),
('get_vat_deadlines', 'VAT periods and deadlines', 710,
 'billy.vat_periods', '{}', '{"organization": "org"}', '{}', 'call', 'issue 7: Danish VAT',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "year": {"type": "integer", "minimum": 2000, "maximum": 2100, "description": "The year (default this year)."}}$j$),
 NULL,
 'The organization''s VAT periods in a year with each filing deadline (moved past weekends and Danish public holidays). Use it for "when is the next moms deadline?".',
 true),
('check_vat', 'Check VAT', 720,
 'billy.vat_check', '{}', '{"organization": "org"}', '{}', 'call', 'issue 7: Danish VAT',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "period": {"type": "string", "pattern": "^[0-9]{4}(-(Q[1-4]|H[12]|(0[1-9]|1[0-2])))?$", "description": "2025-Q1, 2025-H2, 2025-03 or 2025."}}$j$,
    ARRAY['period']),
 NULL,
 'Checks a VAT period before filing: differences against Billy''s own VAT report, and documents likely to make the return wrong (an EU sale to a business without its VAT number, a 0% domestic sale, 25% on an export, a tax rate billy cannot classify), each with the document it concerns.',
 true),
-- bulk -----------------------------------------------------------------------
('import_customers_csv', 'Import customers from CSV', 800,
 'billy.import_csv(text,text,text,jsonb)', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org"}', '{"resource": "contacts"}', 'write', 'issue 8: bulk import',
 '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": true}',
 billy._mcp_input($j${
    "csv": {"type": "string", "minLength": 1, "maxLength": 10000000, "description": "The CSV file's text: a header line (Danish or English names: navn/name, cvr/registrationNo, ...), then one customer per line; , or ; separated."},
    "options": {"type": "object", "description": "dry_run, continue_on_error, on_duplicate (skip or update), delimiter, decimal.",
        "properties": {"dry_run": {"type": "boolean"}, "continue_on_error": {"type": "boolean"},
                       "on_duplicate": {"type": "string", "enum": ["skip", "update"]},
                       "delimiter": {"type": "string", "enum": [",", ";"]}, "decimal": {"type": "string", "enum": [".", ","]}}},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['csv']),
 NULL,
 'Imports customers from a CSV file into Billy as a background job. Two steps: without confirmation a preview (rows found, rows with errors and their line numbers) and a confirmation; with it, the job starts and its id comes back; follow it with get_bulk_job_status, stop it with cancel_bulk_job. Existing customers (same CVR or name) are skipped unless on_duplicate is update.',
 true),
('import_products_csv', 'Import products from CSV', 810,
 'billy.import_csv(text,text,text,jsonb)', ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'], '{"organization": "org"}', '{"resource": "products"}', 'write', 'issue 8: bulk import',
 '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": true}',
 billy._mcp_input($j${
    "csv": {"type": "string", "minLength": 1, "maxLength": 10000000, "description": "The CSV file's text: a header line (name, productNo/varenummer, unitPrice/pris, ...), then one product per line."},
    "options": {"type": "object", "description": "dry_run, continue_on_error, on_duplicate (skip or update), delimiter, decimal.",
        "properties": {"dry_run": {"type": "boolean"}, "continue_on_error": {"type": "boolean"},
                       "on_duplicate": {"type": "string", "enum": ["skip", "update"]},
                       "delimiter": {"type": "string", "enum": [",", ";"]}, "decimal": {"type": "string", "enum": [".", ","]}}},
    "confirmation": {"type": "string", "minLength": 8, "maxLength": 200, "description": "The confirmation from the preview call."}}$j$,
    ARRAY['csv']),
 NULL,
 'Imports products from a CSV file into Billy as a background job. Two steps: a preview with the rows found and their errors and a confirmation, then the job; follow it with get_bulk_job_status. Existing products (same product number or name) are skipped unless on_duplicate is update.',
 true),
('export_invoices_csv', 'Export invoices as CSV', 820,
 'billy.export_invoices_csv(text,jsonb,jsonb)', '{}', '{"organization": "org"}', '{}', 'call', 'issue 8: CSV export',
 '{"readOnlyHint": true, "openWorldHint": false}',
 -- the filters and options the function checks, from the same schemas (82-bulk.sql)
 billy._mcp_input(jsonb_build_object('filters', billy._export_invoices_filters(),
                                     'options', billy._csv_options_schema())),
 NULL,
 'Exports invoices as CSV text (one line per invoice: number, dates, customer, currency, net, VAT, gross, balance), optionally in the Danish format (options.format danish: ; separators, decimal commas, Danish column names) for a spreadsheet or an accountant. Text cells that a spreadsheet would run as a formula (beginning with =, +, -, @) start with an apostrophe. Large exports are truncated: narrow the filters.',
 true),
('get_bulk_job_status', 'Bulk job status', 830,
 'billy.bulk_job_status', '{}', '{"job_id": "job_id"}', '{}', 'call', 'issue 8: bulk import',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "job_id": {"type": "integer", "minimum": 1, "description": "The job id an import returned."}}$j$,
    ARRAY['job_id'], false),
 NULL,
 'The progress of a CSV import job: state, rows done, failed and total, rate and estimated time left, and the failed rows with their line numbers and reasons.',
 true),
('cancel_bulk_job', 'Cancel a bulk job', 840,
 'billy.cancel_bulk_job', '{}', '{"job_id": "job_id"}', '{}', 'call', 'issue 8: bulk import',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "job_id": {"type": "integer", "minimum": 1}}$j$,
    ARRAY['job_id'], false),
 NULL,
 'Stops a running CSV import job promptly; rows already created in Billy stay. Returns what was created before it stopped.',
 true),
-- cache ----------------------------------------------------------------------
('get_cache_performance', 'Cache performance', 900,
 'billy.cache_performance', '{}', '{"organization": "org"}', '{}', 'call', 'issue 5: cache',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "since": {"type": "string", "maxLength": 50, "description": "How far back, e.g. '24 hours' (default) or '7 days'."}}$j$),
 NULL,
 'How well billy''s mirror serves reads: hit rate, fresh hits, stale answers served, misses, and Billy API calls made and saved, per resource and overall.',
 true),
('warm_cache', 'Warm the cache', 910,
 'billy.warm_cache', '{}', '{"organization": "org"}', '{}', 'call', 'issue 5: cache',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "top_n": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "How many of the most read records to refresh (default 100)."}}$j$),
 NULL,
 'Refreshes the most read records from Billy now, so the next answers are fresh, and says what it refreshed. Changes nothing in Billy; spends API calls.',
 true);

SELECT pg_catalog.pg_extension_config_dump('billy.mcp_tools', 'WHERE NOT builtin');

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

REVOKE ALL ON billy.mcp_tools FROM PUBLIC;
GRANT SELECT ON billy.mcp_tools TO billy_reader;
REVOKE ALL ON FUNCTION billy.mcp(jsonb), billy.mcp_tool_status(), billy.mcp_instructions(), billy.metrics(),
    billy._mcp_notify_tools_changed(), billy._mcp_notify_ddl(), billy._mcp_function(text),
    billy._mcp_in_params(regprocedure), billy._mcp_tool_problem(billy.mcp_tools),
    billy._mcp_json_type(oid), billy._mcp_derived_schema(regprocedure), billy._mcp_write_schema(),
    billy._mcp_output_schema(billy.mcp_tools), billy._mcp_input(jsonb, text[], boolean),
    billy._mcp_tools_list(text, integer),
    billy._mcp_write(text, text, jsonb, text), billy._mcp_sync(text, text[]), billy._mcp_sync_status(text),
    billy._mcp_organization_settings(text), billy._mcp_revenue(text, date, date), billy._prom_label(text),
    billy._mcp_validate(jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy.mcp(jsonb), billy.mcp_tool_status(), billy.mcp_instructions(), billy.metrics(),
    billy._mcp_function(text), billy._mcp_in_params(regprocedure), billy._mcp_tool_problem(billy.mcp_tools),
    billy._mcp_json_type(oid), billy._mcp_derived_schema(regprocedure), billy._mcp_write_schema(),
    billy._mcp_output_schema(billy.mcp_tools), billy._mcp_tools_list(text, integer),
    billy._mcp_write(text, text, jsonb, text),
    billy._mcp_sync(text, text[]), billy._mcp_sync_status(text), billy._mcp_organization_settings(text),
    billy._mcp_revenue(text, date, date), billy._prom_label(text), billy._mcp_validate(jsonb, jsonb)
    TO billy_reader;
