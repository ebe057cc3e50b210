------------------------------------------------------------------------------
-- MCP: the Model Context Protocol inside PostgreSQL
--
-- billy.mcp(request jsonb) answers one JSON-RPC message (src/mcp/) in either
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
                  CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['call', 'write', 'import'])),
    operation     text CHECK ((kind OPERATOR(pg_catalog.=) 'write') OPERATOR(pg_catalog.=) (operation IS NOT NULL)),
    project       text REFERENCES billy.resources (name) ON UPDATE CASCADE,
    sort_order    integer NOT NULL DEFAULT 1000,
    builtin       boolean NOT NULL DEFAULT false,
    issue         text,
    meta          jsonb
                  CHECK (meta IS NULL OR jsonb_typeof(meta) OPERATOR(pg_catalog.=) 'object')
);
COMMENT ON TABLE billy.mcp_tools IS
'The MCP tools billy.mcp serves. name: letters, digits and underscores, at most 64 (what every client accepts). description: for the model (what it does, when to use it, what comes back). input_schema: JSON Schema of the arguments, checked before the call (types, required, enum, format, bounds). output_schema: JSON Schema of structuredContent; NULL derives it from the function (set-returning functions give {rows, row_count, truncated}). annotations: readOnlyHint, destructiveHint, idempotentHint, openWorldHint. function: the SQL function that runs (schema.name, or schema.name(argtypes) when the name is overloaded). requires: other functions the tool needs. arguments: maps an argument name to the function''s parameter name when they differ (null: not passed). fixed_args: parameters always passed. kind: call runs the function; write runs the write operation named by operation (a row of billy.write_operations(), whose input_schema the tool''s arguments are derived from by billy._mcp_write_input and checked against): a preview with billy.preview_write, then billy.commit_write with the confirmation; import previews a CSV import as a dry run of the function (billy.import_csv) and starts it with the confirmation. project: the resource (a row of billy.resources) whose JSON answers billy._mcp_project makes compact for reading (lists: rows projected, cut at a row boundary, paged; get: a curated record). A tool is listed only when every function exists and the caller may execute it. issue: what the tool waits for while a function is missing.';
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

-- A changed registry empties every backend's cached copy of it (src/mcp/tools.c).
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
    IF t.kind = 'write' THEN
        RETURN billy._mcp_write_problem(t);
    END IF;
    params := billy._mcp_in_params(f);
    SELECT min(p) INTO unknown
    FROM (SELECT coalesce(t.arguments ->> k, k) AS p
          FROM jsonb_object_keys(coalesce(t.input_schema -> 'properties', '{}')) k
          WHERE NOT (t.arguments ? k AND jsonb_typeof(t.arguments -> k) = 'null')
            AND NOT (t.kind = 'import' AND k = 'confirmation')
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

-- A write tool's arguments are the write operation's (billy.write_operations()),
-- renamed for the model: organization for org, snake_case for the rest
-- (invoiceId: invoice_id), unless the tool renames one (contact: customer).
CREATE FUNCTION billy._mcp_snake(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN name = 'org' THEN 'organization' ELSE lower(regexp_replace(name, '([a-z0-9])([A-Z])', '\1_\2', 'g')) END;
COMMENT ON FUNCTION billy._mcp_snake(text) IS 'The MCP argument name of a write operation''s member: organization for org, snake_case for the others. Internal.';

CREATE FUNCTION billy._mcp_write_arguments(operation text, renames jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT jsonb_object_agg(coalesce(renames ->> k, billy._mcp_snake(k)), k)
        FROM billy.write_operations() w, jsonb_object_keys(w.input_schema -> 'properties') k
        WHERE w.operation = _mcp_write_arguments.operation);
COMMENT ON FUNCTION billy._mcp_write_arguments(text, jsonb) IS
'A write tool''s arguments map: each MCP argument name to the member of the write operation''s args it fills (renames: member -> argument, where the default name does not suit). Internal.';

CREATE FUNCTION billy._mcp_write_input(operation text, renames jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    schema jsonb;
    props jsonb := '{}';
    req jsonb := '[]';
    k text;
BEGIN
    SELECT w.input_schema INTO schema FROM billy.write_operations() w WHERE w.operation = _mcp_write_input.operation;
    IF schema IS NULL THEN
        RAISE EXCEPTION 'unknown write operation "%"', operation USING ERRCODE = '22023';
    END IF;
    FOR k IN SELECT x FROM jsonb_object_keys(schema -> 'properties') x WHERE x <> 'org' LOOP
        props := props || jsonb_build_object(coalesce(renames ->> k, billy._mcp_snake(k)), schema -> 'properties' -> k);
        IF schema -> 'required' ? k THEN
            req := req || to_jsonb(coalesce(renames ->> k, billy._mcp_snake(k)));
        END IF;
    END LOOP;
    props := props || jsonb_build_object('confirmation', '{"type": "string", "minLength": 8, "maxLength": 200}'::jsonb);
    RETURN billy._mcp_input(props, ARRAY(SELECT jsonb_array_elements_text(req)));
END
$$;
COMMENT ON FUNCTION billy._mcp_write_input(text, jsonb) IS
'A write tool''s input schema, derived from the write operation''s input_schema in billy.write_operations(): its members renamed as billy._mcp_write_arguments says, the optional organization, and confirmation. Internal.';

CREATE FUNCTION billy._mcp_write_problem(t billy.mcp_tools) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w record;
    bad text;
BEGIN
    SELECT * INTO w FROM billy.write_operations() o WHERE o.operation = t.operation;
    IF NOT FOUND THEN
        RETURN format('%s is not a write operation (billy.write_operations() lists them)', t.operation);
    END IF;
    IF billy._mcp_function(coalesce(w.function_name, 'billy.preview_write(text,jsonb)')) IS DISTINCT FROM billy._mcp_function(t.function) THEN
        RETURN format('the write operation %s runs %s, not %s (the registry and billy.write_operations() disagree)',
                      t.operation, w.function_name, t.function);
    END IF;
    SELECT min(k) INTO bad FROM jsonb_object_keys(t.input_schema -> 'properties') k
    WHERE k <> 'confirmation' AND NOT coalesce(w.input_schema -> 'properties' ? (t.arguments ->> k), false);
    IF bad IS NOT NULL THEN
        RETURN format('its argument %s is no member of the args of write operation %s (the registry and billy.write_operations() disagree)',
                      bad, t.operation);
    END IF;
    SELECT min(r) INTO bad FROM jsonb_array_elements_text(w.input_schema -> 'required') r
    WHERE NOT EXISTS (SELECT 1 FROM jsonb_each_text(t.arguments) a
                      WHERE a.value = r AND coalesce(t.input_schema -> 'required', '[]') ? a.key);
    IF bad IS NOT NULL THEN
        RETURN format('write operation %s requires %s, which the tool does not require (the registry and billy.write_operations() disagree)',
                      t.operation, bad);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._mcp_write_problem(billy.mcp_tools) IS
'Why a write tool disagrees with its write operation (unknown operation, another function, an argument that fills no member of its args, a required member the tool does not require), or NULL. Internal.';

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
            WHEN t.kind IN ('write', 'import') THEN billy._mcp_write_schema()
            ELSE billy._mcp_derived_schema(billy._mcp_function(t.function)) END;
COMMENT ON FUNCTION billy._mcp_output_schema(billy.mcp_tools) IS 'A tool''s output schema, written or derived. Internal.';

CREATE FUNCTION billy._mcp_input(properties jsonb, required text[] DEFAULT '{}', with_org boolean DEFAULT true)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_strip_nulls(jsonb_build_object(
    'type', 'object',
    'properties', CASE WHEN with_org THEN
        jsonb_build_object('organization', '{"type": "string", "minLength": 1, "maxLength": 200}'::jsonb)
        ELSE '{}'::jsonb END || properties,
    'required', CASE WHEN cardinality(required) > 0 THEN to_jsonb(required) END,
    'additionalProperties', false));
COMMENT ON FUNCTION billy._mcp_input(jsonb, text[], boolean) IS
'Builds a tool''s input schema: an object of the given properties (plus the optional organization), no others allowed. Internal.';

------------------------------------------------------------------------------
-- What tools/list and initialize answer
------------------------------------------------------------------------------

-- _mcp_listed_schema: an input schema as tools/list shows it, without the
-- checks a model need not read (lengths, counts, patterns, bounds,
-- additionalProperties: unknown arguments are still refused by name),
-- descriptions only on the arguments themselves, and inside an argument's
-- object only the required members, the described optional ones named in
-- its description (the others are accepted too, and named in the errors
-- that list the known ones)
CREATE FUNCTION billy._mcp_listed_schema(schema jsonb, depth integer) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb := '{}';
    k text;
    v jsonb;
    props jsonb;
    optional text;
BEGIN
    IF jsonb_typeof(schema) <> 'object' THEN
        RETURN schema;
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(schema) LOOP
        CONTINUE WHEN k IN ('minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'uniqueItems', 'pattern',
                            'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'additionalProperties')
            OR (k = 'required' AND v = '[]') OR (k = 'type' AND schema ? 'enum')
            OR (k = 'description' AND depth > 1);
        IF k = 'properties' THEN
            -- an argument's object: its required members, the optional ones named
            SELECT coalesce(jsonb_object_agg(pk, billy._mcp_listed_schema(pv, depth + 1))
                                FILTER (WHERE depth = 0 OR coalesce(schema -> 'required', '[]') ? pk), '{}'),
                   string_agg(pk, ', ' ORDER BY pk) FILTER (WHERE depth > 0 AND NOT coalesce(schema -> 'required', '[]') ? pk
                                                           AND pv ? 'description')
            INTO props, optional
            FROM jsonb_each(v) p(pk, pv);
            IF props <> '{}' OR depth = 0 THEN
                result := result || jsonb_build_object('properties', props);
            END IF;
            -- (unless the description names them all already)
            IF optional IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(string_to_array(optional, ', ')) o
                                                WHERE strpos(coalesce(schema ->> 'description', ''), o) = 0) THEN
                result := result || jsonb_build_object('description',
                    concat_ws(' ', CASE WHEN depth <= 1 THEN schema ->> 'description' END, 'Optional: ' || optional || '.'));
            END IF;
        ELSIF k = 'items' THEN
            result := result || jsonb_build_object(k, billy._mcp_listed_schema(v, depth + 1));
        ELSIF NOT (k = 'description' AND result ? 'description') THEN
            result := result || jsonb_build_object(k, v);
        END IF;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._mcp_listed_schema(jsonb, integer) IS
'An input schema as tools/list gives it: without minLength, maxLength, minItems, maxItems, minProperties, uniqueItems, pattern, bounds and additionalProperties (billy.mcp still checks them, naming the argument), descriptions kept on the arguments only, and of an argument''s objects the required members, the described optional ones named in a description (Optional: ...). Internal.';

-- _mcp_listed_annotations: a tool's hints as tools/list gives them, those
-- equal to the protocol's defaults left out (readOnlyHint false,
-- destructiveHint true, idempotentHint false, openWorldHint true)
CREATE FUNCTION billy._mcp_listed_annotations(a jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT jsonb_object_agg(k, v) FROM jsonb_each(a) e(k, v)
        WHERE NOT (k, v) IN (('readOnlyHint', 'false'::jsonb), ('destructiveHint', 'true'::jsonb),
                             ('idempotentHint', 'false'::jsonb), ('openWorldHint', 'true'::jsonb))
          AND NOT (k IN ('destructiveHint', 'idempotentHint') AND a @> '{"readOnlyHint": true}'));
COMMENT ON FUNCTION billy._mcp_listed_annotations(jsonb) IS
'A tool''s annotations as tools/list gives them: the hints that differ from the protocol''s defaults (readOnlyHint false, destructiveHint true, idempotentHint false, openWorldHint true); NULL when none does. Internal.';

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
    -- with one organization in sight the organization argument is noise: it
    -- is still accepted, not listed
    one_org boolean := (SELECT count(*) <= 1 FROM billy.organizations o WHERE o.disconnected_at IS NULL);
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
               'inputSchema', billy._mcp_listed_schema(CASE WHEN one_org THEN (x.tool).input_schema #- '{properties,organization}'
                                                            ELSE (x.tool).input_schema END, 0),
               'outputSchema', CASE WHEN current_setting('billy.mcp_output_schemas', true) = 'on'
                                    THEN billy._mcp_output_schema(x.tool) END,
               'annotations', billy._mcp_listed_annotations((x.tool).annotations),
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
    -- the instructions name only tools the caller can use
    can_sync boolean := EXISTS (SELECT 1 FROM billy.mcp_tools t WHERE t.name = 'sync_billy_data' AND billy._mcp_tool_problem(t) IS NULL);
    can_status boolean := EXISTS (SELECT 1 FROM billy.mcp_tools t WHERE t.name = 'get_sync_status' AND billy._mcp_tool_problem(t) IS NULL);
    can_write boolean := EXISTS (SELECT 1 FROM billy.mcp_tools t WHERE t.kind IN ('write', 'import') AND billy._mcp_tool_problem(t) IS NULL);
    can_statement boolean := EXISTS (SELECT 1 FROM billy.mcp_tools t WHERE t.name = 'get_statement' AND billy._mcp_tool_problem(t) IS NULL);
BEGIN
    SELECT count(*), string_agg(format('%s (id %s, %s)', o.name, o.id, coalesce(o.base_currency, 'DKK')), '; ' ORDER BY o.name)
    INTO n, orgs
    FROM billy.organizations o WHERE o.disconnected_at IS NULL;
    RETURN 'billy serves the books of Danish businesses kept in Billy (billy.dk), mirrored into PostgreSQL. '
        || 'Reads and analytics answer from the mirror in milliseconds and say how fresh they are'
        || CASE WHEN can_sync THEN '; call sync_billy_data when the user needs the latest state'
                WHEN can_status THEN '; get_sync_status says when each kind of record was last synced' ELSE '' END || '. '
        || 'Read tools take max_age in seconds: billy asks Billy first when its copy is older (0: always); left out, unpaid and draft documents are confirmed within 15 s, paid ones within hours. '
        || 'Amounts are exact decimals in the document''s currency (net: before VAT, vat, gross: with VAT, balance: still unpaid); Danish VAT (moms) is 25%. '
        || CASE WHEN can_write THEN 'Writes to Billy take two calls: without confirmation a tool returns a preview and a confirmation and writes nothing; '
                                 || 'show the preview to the user and call the same tool again with the same arguments and that confirmation only when they agree. '
                ELSE '' END
        || CASE WHEN can_statement THEN 'The period of get_statement and list_transactions: fy (the fiscal year of today, the default), fy2025 (the fiscal year ending in 2025), 2025, 2025-Q1, 2025-03 or 2025-01-01..2025-03-31; accounts by number or name. ' ELSE '' END
        || 'Lists give a page (25 rows unless limit says otherwise) with total (total_at_least when very many match) and next_offset: call again with offset set to next_offset for more; detail "full" or fields give more per row, detail "raw" Billy''s own JSON. '
        || CASE WHEN n = 0 THEN 'No organization is visible to this connection yet.'
                WHEN n = 1 THEN 'One organization is connected: ' || orgs || '; the organization argument can be left out.'
                ELSE n || ' organizations are visible: ' || orgs || '. Pass organization (its id or name) to every tool.' END;
END
$$;
COMMENT ON FUNCTION billy.mcp_instructions() IS
'The instructions billy.mcp gives AI clients in its initialize and server/discover answers: what billy is, how fresh reads are, what the amounts mean, how writes are confirmed (when the caller can write), the periods get_statement and list_transactions take (when the caller can use them), how lists page, and which organizations the caller sees. Names only tools the caller can use.';

------------------------------------------------------------------------------
-- The audit trail of MCP calls: recorded through billy.audit when installed
------------------------------------------------------------------------------


------------------------------------------------------------------------------
-- Writes through MCP: preview first, then commit with the confirmation
------------------------------------------------------------------------------

-- _mcp_field renames a problem's field from the operation's names to the
-- tool's: "args.invoiceId" -> "invoice_id", "contact.lines[0].x" -> "customer.lines[0].x"
CREATE FUNCTION billy._mcp_field(field text, arguments jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce((SELECT a.key FROM jsonb_each_text(arguments) a WHERE a.value = m[1] LIMIT 1), m[1]) || m[2]
        FROM regexp_match(regexp_replace(field, '^args\.', ''), '^([^.\[]*)(.*)$') m);
COMMENT ON FUNCTION billy._mcp_field(text, jsonb) IS 'A write problem''s field named as the MCP tool names its arguments. Internal.';

CREATE FUNCTION billy._mcp_write(tool text, operation text, args jsonb, confirmation text) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    answer jsonb;
    plan jsonb;
    pv record;
    names jsonb := (SELECT t.arguments FROM billy.mcp_tools t WHERE t.name = tool);
    problems text;
    n integer;
BEGIN
    IF confirmation IS NOT NULL THEN
        SELECT p.operation, p.args INTO pv FROM billy.write_previews p WHERE p.hash = confirmation;
        IF FOUND AND (pv.operation <> operation OR (pv.args - 'org') <> (args - 'org')
                      OR billy._resolve_org(pv.args ->> 'org') <> billy._resolve_org(args ->> 'org')) THEN
            RAISE EXCEPTION 'this confirmation was given for other arguments'
                USING ERRCODE = '22023',
                      HINT = format('Call %s with exactly the arguments of its preview and that confirmation, or leave confirmation out to preview these arguments. Nothing was written.', tool);
        END IF;
        answer := billy.commit_write(confirmation);
        -- an unknown outcome is no success: a model that retries makes a duplicate
        IF answer ->> 'state' = 'unknown' THEN
            RAISE EXCEPTION 'write % was sent to Billy but its outcome is unknown: do not retry; a person must decide', answer ->> 'write_op_id'
                USING ERRCODE = '55000',
                      DETAIL = format('Billy did not answer (%s), so "%s" may or may not have been done. Calling %s again could do it twice.',
                                      answer ->> 'error', answer ->> 'summary', tool),
                      HINT = format('Do not call %s again for this, and do not ask for a new confirmation. Tell the user that write %s needs a person to check in Billy whether it was done; billy is checking too.',
                                    tool, answer ->> 'write_op_id');
        END IF;
        RETURN jsonb_build_object('stage', 'committed',
            'result', jsonb_strip_nulls(jsonb_build_object(
                'write_op_id', answer -> 'write_op_id', 'state', answer -> 'state', 'operation', answer -> 'operation',
                'record_id', answer -> 'record_id', 'changed', answer -> 'changed', 'warning', answer -> 'warning')));
    END IF;
    -- the problems first, named as the tool names its arguments
    plan := billy._plan_write(operation, args);
    n := jsonb_array_length(plan -> 'problems');
    IF n > 0 THEN
        SELECT string_agg(billy._mcp_field(e ->> 'field', names) || ' ' || (e ->> 'message'), '; ')
        INTO problems FROM jsonb_array_elements(plan -> 'problems') e;
        RAISE EXCEPTION 'invalid arguments: %', problems
            USING ERRCODE = '22023',
                  HINT = format('Correct %s and call %s again; nothing was written.', CASE WHEN n = 1 THEN 'it' ELSE 'them' END, tool);
    END IF;
    answer := billy.preview_write(operation, args);
    RETURN jsonb_build_object(
        'stage', 'preview',
        'confirmation', answer ->> 'operation_hash',
        'preview', jsonb_strip_nulls(jsonb_build_object(
            'summary', answer -> 'summary', 'organization', answer -> 'organization',
            'request', answer -> 'request', 'expires_at', answer -> 'expires_at')),
        'next_step', format('Nothing was written. Show the user this preview; if they agree, call %s again with the same arguments and confirmation "%s". It expires when what it touches changes.',
                            tool, answer ->> 'operation_hash'));
END
$$;
COMMENT ON FUNCTION billy._mcp_write(text, text, jsonb, text) IS
'Runs a write tool: without confirmation checks args (problems named as the tool names its arguments) and previews the write operation with billy.preview_write (nothing is written), returning the confirmation; with confirmation (given for the same operation and arguments) billy.commit_write. An unknown outcome raises (the tool answers isError): do not retry; a person must decide. Internal.';

-- Imports through MCP: the preview is a dry run of billy.import_csv; its
-- confirmation, kept here, binds the organization, the file and the options
CREATE TABLE billy.mcp_import_previews (
    confirmation    text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    resource        text NOT NULL,
    csv_sha256      bytea NOT NULL,
    options         jsonb NOT NULL,
    dry_run_job     bigint NOT NULL,
    created_by      name NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    used_at         timestamptz
);
COMMENT ON TABLE billy.mcp_import_previews IS
'Previews of CSV imports made by the MCP import tools: the dry run''s job and what the confirmation binds (organization, resource, the file''s SHA-256, options, the role). Used once, within an hour. Internal.';

CREATE FUNCTION billy._mcp_import_record(org text, res text, csv text, opts jsonb, job bigint) RETURNS text
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    DELETE FROM billy.mcp_import_previews WHERE created_at < now() - interval '1 day';
    INSERT INTO billy.mcp_import_previews (confirmation, organization_id, resource, csv_sha256, options, dry_run_job, created_by)
    VALUES (encode(sha256(convert_to(gen_random_uuid()::text || clock_timestamp()::text || job::text, 'UTF8')), 'hex'),
            org, res, sha256(convert_to(csv, 'UTF8')), opts, job, session_user)
    RETURNING confirmation;
END;
COMMENT ON FUNCTION billy._mcp_import_record(text, text, text, jsonb, bigint) IS 'Stores an import preview and returns its confirmation (as the extension owner). Internal.';

CREATE FUNCTION billy._mcp_import_take(c text, org text, res text, csv text, opts jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pv billy.mcp_import_previews;
BEGIN
    SELECT * INTO pv FROM billy.mcp_import_previews WHERE confirmation = c AND created_by = session_user FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown confirmation' USING ERRCODE = '22023',
            HINT = 'Leave confirmation out to preview the import, then call again with the confirmation it returns.';
    ELSIF pv.used_at IS NOT NULL THEN
        RAISE EXCEPTION 'this confirmation was used already (at %)', pv.used_at USING ERRCODE = '55000',
            HINT = 'A preview starts one import; preview again for another.';
    ELSIF pv.created_at < now() - interval '1 hour' THEN
        RAISE EXCEPTION 'this confirmation expired' USING ERRCODE = '55000', HINT = 'Preview the import again.';
    ELSIF pv.organization_id <> org OR pv.resource <> res OR pv.csv_sha256 <> sha256(convert_to(csv, 'UTF8')) OR pv.options <> opts THEN
        RAISE EXCEPTION 'this confirmation was given for another file, organization or options' USING ERRCODE = '22023',
            HINT = 'Call again with exactly the arguments of the preview, or leave confirmation out to preview these.';
    END IF;
    UPDATE billy.mcp_import_previews SET used_at = now() WHERE confirmation = c;
END
$$;
COMMENT ON FUNCTION billy._mcp_import_take(text, text, text, text, jsonb) IS 'Checks an import confirmation against the call''s arguments and uses it up (as the extension owner). Internal.';

CREATE FUNCTION billy._mcp_import(tool text, args jsonb, confirmation text) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org text := billy._resolve_org(args ->> 'org');
    res text := args ->> 'resource';
    csv text := args ->> 'csv';
    opts jsonb := coalesce(args -> 'options', '{}') - 'dry_run';
    job bigint;
    status jsonb;
BEGIN
    IF confirmation IS NOT NULL THEN
        PERFORM billy._mcp_import_take(confirmation, org, res, csv, opts);
        job := billy.import_csv(org, res, csv, opts);
        RETURN jsonb_build_object('stage', 'committed',
            'result', jsonb_build_object('job_id', job, 'state', 'queued'),
            'next_step', format('The import runs in the background: follow it with get_bulk_job_status (job_id %s); cancel_bulk_job stops it.', job));
    END IF;
    job := billy.import_csv(org, res, csv, opts || '{"dry_run": true}');
    status := billy.bulk_job_status(job);
    RETURN jsonb_build_object(
        'stage', 'preview',
        'confirmation', billy._mcp_import_record(org, res, csv, opts, job),
        'preview', jsonb_strip_nulls(jsonb_build_object(
            'rows', status -> 'total', 'would_create', status -> 'would_create', 'would_update', status -> 'would_update',
            'skipped', status -> 'skipped', 'invalid', status -> 'invalid', 'problems', status -> 'problems')),
        'next_step', format('Nothing was imported. Show the user this preview; if they agree, call %s again with the same arguments and the confirmation.', tool));
END
$$;
COMMENT ON FUNCTION billy._mcp_import(text, jsonb, text) IS
'Runs an import tool: without confirmation a dry run of billy.import_csv (what would be created, updated, skipped, and the invalid rows with their lines) and a confirmation bound to the organization, file and options; with it, the import starts as a background job. Internal.';

------------------------------------------------------------------------------
-- Answers made for reading: what the read tools return by default is a
-- projection of Billy's JSON (ids, numbers, dates, names, amounts named for
-- what they are, state), not the JSON itself; detail "full" adds fields,
-- "raw" gives Billy's JSON, fields picks members of the full projection.
-- Lists are cut at a row boundary to fit billy.mcp_max_bytes and always say
-- total, offset and where the next page starts.
------------------------------------------------------------------------------

-- _mcp_rows: the records of a list for reading, in one query (a function
-- call per row cost a query start per row: 20 invoices took 7 ms), in
-- PL/pgSQL with a generic plan so that the query is planned once a session
-- (a SQL function's plan is made again for every statement that calls it,
-- and PL/pgSQL's custom plans were too: the planning was most of the cost)
CREATE FUNCTION billy._mcp_rows(resource text, rs jsonb, full_detail boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
RETURN (SELECT coalesce(jsonb_agg(CASE resource
    -- an invoice or bill: number, state, dates, the customer's or
    -- supplier's name, currency, net, vat, gross and balance (unpaid), paid,
    -- overdue; in full its contact id, sent state, order and supplier's
    -- numbers, line text, tax mode, exchange rate, credited document
    WHEN 'invoices' THEN jsonb_strip_nulls(jsonb_build_object(
        'id', x.r ->> 'id', 'no', x.r ->> 'invoiceNo', 'type', nullif(x.r ->> 'type', 'invoice'), 'state', x.r ->> 'state',
        'date', x.r ->> 'entryDate', 'due', x.r ->> 'dueDate', 'customer', coalesce(c.name, x.r ->> 'contactName')) || d.doc)
    WHEN 'bills' THEN jsonb_strip_nulls(jsonb_build_object(
        'id', x.r ->> 'id', 'no', x.r ->> 'voucherNo', 'type', nullif(x.r ->> 'type', 'bill'), 'state', x.r ->> 'state',
        'date', x.r ->> 'entryDate', 'due', x.r ->> 'dueDate', 'supplier', x.r ->> 'contactName') || d.doc)
    WHEN 'contacts' THEN jsonb_strip_nulls(jsonb_build_object(
        'id', x.r ->> 'id', 'name', x.r ->> 'name', 'no', x.r ->> 'contactNo', 'cvr', x.r ->> 'registrationNo',
        'customer', x.r -> 'isCustomer', 'supplier', x.r -> 'isSupplier',
        'archived', CASE WHEN (x.r ->> 'isArchived')::boolean THEN true END,
        'country', x.r ->> 'countryId', 'city', x.r ->> 'cityText',
        'email', (SELECT p ->> 'email' FROM jsonb_array_elements(coalesce(x.r -> 'contactPersons', '[]')) p
                  WHERE coalesce(p ->> 'email', '') <> '' ORDER BY (p ->> 'isPrimary')::boolean DESC NULLS LAST LIMIT 1))
        || CASE WHEN full_detail THEN jsonb_strip_nulls(jsonb_build_object(
            'type', x.r ->> 'type', 'street', x.r ->> 'street', 'zipcode', x.r ->> 'zipcodeText', 'phone', x.r ->> 'phone',
            'ean', x.r ->> 'ean', 'currency', x.r ->> 'currencyId', 'payment_terms_days', x.r -> 'paymentTermsDays',
            'persons', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('id', p ->> 'id', 'name', p ->> 'name',
                                                                             'email', p ->> 'email', 'phone', p ->> 'phone')))
                        FROM jsonb_array_elements(coalesce(x.r -> 'contactPersons', '[]')) p))) ELSE '{}'::jsonb END)
    WHEN 'products' THEN jsonb_strip_nulls(jsonb_build_object(
        'id', x.r ->> 'id', 'name', x.r ->> 'name', 'no', x.r ->> 'productNo',
        'prices', (SELECT jsonb_object_agg(p ->> 'currencyId', p -> 'unitPrice') FROM jsonb_array_elements(coalesce(x.r -> 'prices', '[]')) p),
        'archived', CASE WHEN (x.r ->> 'isArchived')::boolean THEN true END)
        || CASE WHEN full_detail THEN jsonb_strip_nulls(jsonb_build_object(
            'description', x.r ->> 'description', 'account_id', x.r ->> 'accountId',
            'sales_tax_ruleset_id', x.r ->> 'salesTaxRulesetId', 'suppliers_no', x.r ->> 'suppliersProductNo')) ELSE '{}'::jsonb END)
    WHEN 'bankPayments' THEN jsonb_strip_nulls(jsonb_build_object(
        'id', x.r ->> 'id', 'date', x.r ->> 'entryDate',
        'direction', CASE x.r ->> 'cashSide' WHEN 'debit' THEN 'in' WHEN 'credit' THEN 'out' END,
        'amount', x.r -> 'cashAmount', 'currency', x.r ->> 'subjectCurrencyId',
        'contact', c.name,
        'settles', (SELECT jsonb_agg(a ->> 'subjectReference') FROM jsonb_array_elements(coalesce(x.r -> 'associations', '[]')) a),
        'voided', CASE WHEN (x.r ->> 'isVoided')::boolean THEN true END)
        || CASE WHEN full_detail THEN jsonb_strip_nulls(jsonb_build_object(
            'contact_id', x.r ->> 'contactId', 'fee', x.r -> 'feeAmount', 'cash_account_id', x.r ->> 'cashAccountId',
            'exchange_rate', x.r -> 'cashExchangeRate')) ELSE '{}'::jsonb END)
    END ORDER BY x.i), '[]')
    FROM jsonb_array_elements(rs) WITH ORDINALITY x(r, i)
    -- the contact's name, looked up by its key row by row (LIMIT keeps it
    -- from being planned as a join: that scanned every contact)
    LEFT JOIN LATERAL (SELECT k.name FROM billy.contacts k
                       WHERE resource IN ('invoices', 'bankPayments')
                         AND k.organization_id = x.r ->> 'organizationId' AND k.id = x.r ->> 'contactId'
                       LIMIT 1) c ON true
    -- what invoices and bills have in common
    LEFT JOIN LATERAL (SELECT jsonb_strip_nulls(jsonb_build_object(
        'currency', x.r ->> 'currencyId',
        'net', x.r -> 'amount', 'vat', x.r -> 'tax', 'gross', x.r -> 'grossAmount', 'balance', x.r -> 'balance',
        'paid', x.r -> 'isPaid',
        'overdue', CASE WHEN x.r ->> 'state' = 'approved' AND NOT coalesce((x.r ->> 'isPaid')::boolean, false)
                             AND (x.r ->> 'dueDate')::date < current_date THEN true END)
        || CASE WHEN full_detail THEN jsonb_strip_nulls(jsonb_build_object(
            'contact_id', x.r ->> 'contactId',
            'sent', x.r ->> 'sentState',
            'supplier_invoice_no', x.r ->> 'suppliersInvoiceNo',
            'order_no', x.r ->> 'orderNo',
            'text', x.r ->> 'lineDescription',
            'tax_mode', x.r ->> 'taxMode',
            'exchange_rate', x.r -> 'exchangeRate',
            'credited_id', coalesce(x.r ->> 'creditedInvoiceId', x.r ->> 'creditedBillId'),
            'approved_at', x.r ->> 'approvedTime')) ELSE '{}'::jsonb END) AS doc
        WHERE resource IN ('invoices', 'bills')) d ON true);
END
$$;
COMMENT ON FUNCTION billy._mcp_rows(text, jsonb, boolean) IS
'The records of a list tool''s answer (a JSON array of Billy''s records, kept in order), for reading: invoices and bills with number, state, dates, the customer''s or supplier''s name, currency, net, vat, gross and balance (unpaid), paid, overdue (in full also contact id, sent state, order and supplier''s numbers, line text, tax mode, exchange rate); contacts with name, number, CVR, customer/supplier, country, city, e-mail; products with number and prices per currency; bank payments with date, direction (in/out), amount, contact and what they settle. One query for the whole page. Internal.';

-- _mcp_row: one record for reading
CREATE FUNCTION billy._mcp_row(resource text, r jsonb, full_detail boolean) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN billy._mcp_rows(resource, jsonb_build_array(r), full_detail) -> 0;
COMMENT ON FUNCTION billy._mcp_row(text, jsonb, boolean) IS
'One record for reading: billy._mcp_rows of that record alone. Internal.';

-- _mcp_record: one record of a get tool, curated: the list row in full,
-- with lines and payments for invoices and bills (PL/pgSQL, as _mcp_rows:
-- as a SQL function it was planned again on every call, 1 ms of a get)
CREATE FUNCTION billy._mcp_record(resource text, r jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
RETURN ((billy._mcp_rows(resource, jsonb_build_array(r), true) -> 0) - 'text')
    || CASE WHEN resource IN ('invoices', 'bills') THEN jsonb_strip_nulls(jsonb_build_object(
        'lines', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                      'product_id', l ->> 'productId', 'account_id', l ->> 'accountId', 'text', l ->> 'description',
                      'quantity', l -> 'quantity', 'unit_price', l -> 'unitPrice',
                      'discount', nullif(concat_ws(' ', l ->> 'discountValue', CASE l ->> 'discountMode' WHEN 'percent' THEN '%' END), ''),
                      'net', l -> 'amount', 'vat', l -> 'tax')) ORDER BY (l ->> 'priority')::integer)
                  FROM jsonb_array_elements(coalesce(r -> 'lines', '[]')) l),
        'payments', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                         'date', m ->> 'entryDate', 'amount', m -> 'amount', 'by', m ->> 'modifierReference',
                         'voided', CASE WHEN (m ->> 'isVoided')::boolean THEN true END)) ORDER BY m ->> 'entryDate')
                     FROM jsonb_array_elements(coalesce(r -> 'balanceModifiers', '[]')) m)))
      ELSE '{}'::jsonb END;
END
$$;
COMMENT ON FUNCTION billy._mcp_record(text, jsonb) IS
'One record of a get tool, curated: its list row in full detail and, for invoices and bills, the lines (text, quantity, unit price, discount, net, vat) and the payments and credit notes against it (date, amount, by what). Internal.';

CREATE FUNCTION billy._mcp_project(project text, answer jsonb, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    detail text := coalesce(args ->> 'detail', 'summary');
    fields jsonb := args -> 'fields';
    singular text := (SELECT r.singular FROM billy.resources r WHERE r.name = project);
    -- the setting as bytes (SHOW gives "100000B" or "1MB"; pg_settings costs 2 ms a call)
    budget integer := coalesce(pg_size_bytes(regexp_replace(current_setting('billy.mcp_max_bytes', true), '^([0-9]+)B$', '\1 bytes'))::integer,
                               100000) - 2000;
    rows jsonb;
    n_all integer;
    n integer;
    total bigint := (answer ->> 'total')::bigint;
    at_least bigint := (answer ->> 'total_at_least')::bigint;   -- more matched than the list counted
    of_all text := coalesce(total::text, 'at least ' || at_least);
    off integer := coalesce((answer ->> 'offset')::integer, 0);
    next_off integer;
    note text;
    page integer := CASE WHEN args ? 'limit' THEN 2147483647 ELSE 25 END;   -- the default page of a tool
BEGIN
    IF answer IS NULL OR jsonb_typeof(answer) <> 'object' THEN
        RETURN answer;
    END IF;
    IF NOT answer ? project THEN
        -- a single record: {"invoice": {...}, "freshness": {...}}
        IF detail = 'raw' THEN
            RETURN answer;
        END IF;
        RETURN jsonb_build_object(singular, billy._mcp_record(project, answer -> singular)) || (answer - singular);
    END IF;
    SELECT count(*)::integer, coalesce(jsonb_agg(x.row ORDER BY x.i) FILTER (WHERE (x.running <= budget OR x.i = 1) AND x.i <= page), '[]'),
           count(*) FILTER (WHERE (x.running <= budget OR x.i = 1) AND x.i <= page)::integer
    INTO n_all, rows, n
    FROM (SELECT p.row, p.i, sum(length(p.row::text) + 2) OVER (ORDER BY p.i) AS running
          FROM (SELECT e.i,
                       CASE WHEN fields IS NOT NULL AND detail <> 'raw'
                            THEN (SELECT jsonb_object_agg(k, v) FROM jsonb_each(e.r) f(k, v) WHERE k = 'id' OR fields ? k)
                            ELSE e.r END AS row
                FROM jsonb_array_elements(CASE WHEN detail = 'raw' THEN answer -> project
                                               ELSE billy._mcp_rows(project, answer -> project, detail = 'full' OR fields IS NOT NULL) END)
                     WITH ORDINALITY e(r, i)) p) x;
    next_off := CASE WHEN off + n < coalesce(total, at_least, off + n) THEN off + n END;
    IF n < n_all AND n = page THEN
        note := format('%s of %s shown (the default page): call again with offset %s for the next, or pass limit (at most 500).',
                       off + n, of_all, next_off);
    ELSIF n < n_all THEN
        note := format('Cut to %s of the page''s %s rows to fit the answer size: call again with offset %s for the next rows (detail "summary" or fewer fields make rows smaller).',
                       n, n_all, next_off);
    ELSIF next_off IS NOT NULL THEN
        note := format('%s of %s shown: call again with offset %s for the next page.', off + n, of_all, next_off);
    END IF;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        project, rows, 'total', total, 'total_at_least', at_least, 'offset', off, 'returned', n,
        'next_offset', next_off, 'truncated', n < least(n_all, page), 'note', note))
        || (answer - project - 'total' - 'total_at_least' - 'offset' - 'limit');
END
$$;
COMMENT ON FUNCTION billy._mcp_project(text, jsonb, jsonb) IS
'What a read tool answers, made for reading (the registry''s project names the resource): a list''s rows projected by billy._mcp_rows (args.detail summary or full, or raw for Billy''s JSON; args.fields picks members of the full row), cut at a row boundary to fit billy.mcp_max_bytes, with total (or total_at_least, see billy.list_total_limit), offset, returned, next_offset when more rows follow, truncated and a note saying where to continue, and the freshness; a single record curated by billy._mcp_record (raw: as it was). Internal.';

-- list_customers and list_products: customers or suppliers, archived ones
-- on request, and how many the filter hides
CREATE FUNCTION billy._mcp_list_contacts(org text DEFAULT NULL, search text DEFAULT NULL, suppliers boolean DEFAULT false,
                                         include_archived boolean DEFAULT false, "limit" integer DEFAULT 50,
                                         "offset" integer DEFAULT 0, max_age interval DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cust boolean := CASE WHEN coalesce(suppliers, false) THEN NULL ELSE true END;
    supp boolean := CASE WHEN coalesce(suppliers, false) THEN true END;
    answer jsonb := billy.list_contacts(org, search, cust, supp, CASE WHEN include_archived THEN NULL ELSE false END,
                                        "limit", "offset", max_age);
    hidden bigint;
    hidden_text text;   -- "at least n" when the count stopped (billy.list_total_limit)
BEGIN
    IF NOT coalesce(include_archived, false) THEN
        SELECT coalesce(a ->> 'total', a ->> 'total_at_least')::bigint, coalesce('at least ' || (a ->> 'total_at_least'), a ->> 'total')
        INTO hidden, hidden_text FROM billy.list_contacts(org, search, cust, supp, true, 1, 0) a;
        IF hidden > 0 THEN
            answer := answer || jsonb_build_object('archived_hidden', hidden,
                'archived_note', format('%s archived %s match too; include_archived: true shows them.', hidden_text,
                                        CASE WHEN supp THEN 'suppliers' ELSE 'customers' END));
        END IF;
    END IF;
    RETURN answer;
END
$$;
COMMENT ON FUNCTION billy._mcp_list_contacts(text, text, boolean, boolean, integer, integer, interval) IS
'The list_customers tool: billy.list_contacts of customers (or suppliers), archived ones only when asked, and how many archived ones the filter hid. Internal.';

CREATE FUNCTION billy._mcp_list_products(org text DEFAULT NULL, search text DEFAULT NULL, include_archived boolean DEFAULT false,
                                         "limit" integer DEFAULT 50, "offset" integer DEFAULT 0,
                                         max_age interval DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    answer jsonb := billy.list_products(org, search, CASE WHEN include_archived THEN NULL ELSE false END,
                                        "limit", "offset", max_age);
    hidden bigint;
    hidden_text text;   -- "at least n" when the count stopped (billy.list_total_limit)
BEGIN
    IF NOT coalesce(include_archived, false) THEN
        SELECT coalesce(a ->> 'total', a ->> 'total_at_least')::bigint, coalesce('at least ' || (a ->> 'total_at_least'), a ->> 'total')
        INTO hidden, hidden_text FROM billy.list_products(org, search, true, 1, 0) a;
        IF hidden > 0 THEN
            answer := answer || jsonb_build_object('archived_hidden', hidden,
                'archived_note', format('%s archived products match too; include_archived: true shows them.', hidden_text));
        END IF;
    END IF;
    RETURN answer;
END
$$;
COMMENT ON FUNCTION billy._mcp_list_products(text, text, boolean, integer, integer, interval) IS
'The list_products tool: billy.list_products, archived ones only when asked, and how many archived ones the filter hid. Internal.';

-- list_accounts and list_tax_rates: what create_bill and create_product
-- need ids of, from the mirror's chart of accounts and tax rates
CREATE FUNCTION billy._mcp_accounts(org text DEFAULT NULL, nature text DEFAULT NULL, search text DEFAULT NULL,
                                    include_archived boolean DEFAULT false) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('accounts', coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', a.id, 'no', a.account_no, 'name', a.name, 'nature', a.nature_id,
               'bank', CASE WHEN a.is_bank_account OR a.is_payment_enabled THEN true END,
               'currency', a.currency_id, 'tax_rate_id', a.tax_rate_id,
               'archived', CASE WHEN a.is_archived THEN true END)) ORDER BY a.account_no, a.id), '[]'),
           'total', count(*))
    FROM billy.accounts a
    WHERE a.organization_id = billy._resolve_org(org) AND a.deleted_at IS NULL
      AND (nature IS NULL OR a.nature_id = nature)
      AND (coalesce(include_archived, false) OR NOT coalesce(a.is_archived, false))
      AND (search IS NULL OR a.name ILIKE billy._contains_pattern(search) OR a.account_no::text = search)
$$;
COMMENT ON FUNCTION billy._mcp_accounts(text, text, text, boolean) IS
'The list_accounts tool: the chart of accounts from the mirror, by number (id, number, name, nature, bank accounts marked, currency, default tax rate). Internal.';

CREATE FUNCTION billy._mcp_tax_rates(org text DEFAULT NULL, purchases boolean DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('tax_rates', coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', t.id, 'code', t.abbreviation, 'name', t.name, 'percent', trim_scale(t.rate * 100),
               'sales', t.applies_to_sales, 'purchases', t.applies_to_purchases)) ORDER BY t.abbreviation, t.id), '[]'),
           'total', count(*))
    FROM billy.tax_rates t
    WHERE t.organization_id = billy._resolve_org(org) AND t.deleted_at IS NULL AND coalesce(t.is_active, true)
      AND (purchases IS NULL OR CASE WHEN purchases THEN t.applies_to_purchases ELSE t.applies_to_sales END)
$$;
COMMENT ON FUNCTION billy._mcp_tax_rates(text, boolean) IS
'The list_tax_rates tool: the active tax rates from the mirror (id, code, name, percent, for sales and or purchases). Internal.';

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
-- billy.mcp itself (src/mcp/)
------------------------------------------------------------------------------

CREATE FUNCTION billy.mcp(request jsonb) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_mcp';
COMMENT ON FUNCTION billy.mcp(jsonb) IS
'Answers one MCP message (JSON-RPC 2.0) over the tools of billy.mcp_tools the calling role may use, in both eras of the protocol. Modern (2026-07-28): a request whose params._meta carries io.modelcontextprotocol/protocolVersion and clientCapabilities is served statelessly, with no initialize: server/discover, tools/list (with ttlMs and cacheScope) and tools/call, every result with resultType complete; a malformed _meta gets -32602, another version -32022 with the supported ones, any other method -32601. Legacy: initialize (versions 2025-11-25, 2025-06-18, 2025-03-26 and 2024-11-05), ping, tools/list and tools/call, as those versions define them. Returns the response, or NULL for a notification. Tool errors (bad arguments, SQL errors) come back as results with isError; protocol errors as JSON-RPC errors. Any PostgreSQL client can serve MCP with it; billy-mcp-bridge does so over stdio and HTTP.';

CREATE FUNCTION billy._mcp_validate(schema jsonb, value jsonb) RETURNS text
LANGUAGE C IMMUTABLE STRICT
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
 'The organizations in sight: id, name, currency, VAT period, fiscal year, CVR, payment terms.',
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
 'Checks that Billy answers with the stored token: ok, HTTP status, latency, or why it failed.',
 true),
('sync_billy_data', 'Sync from Billy', 30,
 'billy._mcp_sync', ARRAY['billy.sync(text,text[])'], '{"organization": "org"}', '{}', 'call', NULL,
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}',
 -- the resources a sync covers, from the resource catalog (billy._sync_resources)
 billy._mcp_input(jsonb_build_object('resources', jsonb_build_object('type', 'array', 'uniqueItems', true,
     'maxItems', cardinality(billy._sync_resources()),
     'items', jsonb_build_object('type', 'string', 'enum', to_jsonb(billy._sync_resources())),
     'description', 'Default: all.'))),
 $j${"type": "object",
     "properties": {"jobs_queued": {"type": "integer"}, "organizations": {"type": "array", "items": {"type": "string"}},
                    "resources": {"type": "array", "items": {"type": "string"}}, "note": {"type": "string"}},
     "required": ["jobs_queued", "organizations", "resources"]}$j$,
 'Queues a full sync from Billy into the mirror and returns at once; follow it with get_sync_status.',
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
 'How fresh the mirror is per resource: state, last success, last error, next sync; scans running.',
 true),
-- invoices -------------------------------------------------------------------
('list_accounts', 'List accounts', 420,
 'billy._mcp_accounts', '{}', '{"organization": "org"}', '{}', 'call', NULL,
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "nature": {"enum": ["asset", "liability", "equity", "revenue", "expense"]},
    "search": {"type": "string", "maxLength": 200, "description": "Name or number."},
    "include_archived": {"type": "boolean"}}$j$),
 NULL,
 'The chart of accounts: id, number, name, nature, bank accounts. Use it for bill lines (expense) and payments (bank).',
 true),
('list_tax_rates', 'List tax rates', 430,
 'billy._mcp_tax_rates', '{}', '{"organization": "org"}', '{}', 'call', NULL,
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "purchases": {"type": "boolean", "description": "true: purchase rates; false: sales rates."}}$j$),
 NULL,
 'Active VAT rates: id, code, name, percent, sales or purchases. Use a purchase rate for bill lines.',
 true),
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
 'Net, VAT and gross revenue between two dates in the base currency, with invoice and credit note counts.',
 true),
('get_analytics_summary', 'Business summary', 610,
 'billy.analytics_summary', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "period": {"type": "string", "maxLength": 40, "description": "today, week, month (default), quarter, year, or a range YYYY-MM-DD..YYYY-MM-DD."}}$j$),
 NULL,
 'A period against the previous one: revenue and change, invoices, receivables, overdue, costs, margin.',
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
 'Revenue per day, week, month, quarter or year between two dates, with moving average and growth.',
 true),
('get_customer_insights', 'Customer insights', 630,
 'billy.customer_insights', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "top": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Default 10."},
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"}}$j$),
 NULL,
 'Top customers by revenue with share, days to pay and outstanding; new and returning; gone quiet.',
 true),
('get_receivables_aging', 'Receivables aging', 640,
 'billy.receivables_aging', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "as_of": {"type": "string", "format": "date", "description": "The day to age from (default today)."}}$j$),
 NULL,
 'Unpaid invoices by age (not due, 1-30, 31-60, 61-90, over 90 days), overall and per customer, and DSO.',
 true),
('forecast_revenue', 'Revenue forecast', 650,
 'billy.forecast_revenue', '{}', '{"organization": "org"}', '{}', 'call', 'issue 6: analytics',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "horizon": {"type": "integer", "minimum": 1, "maximum": 36, "description": "How many periods ahead (default 6)."},
    "grain": {"type": "string", "enum": ["week", "month", "quarter"], "description": "Default month."}}$j$),
 NULL,
 'Revenue forecast for coming periods with a low-high interval and the backtest error (MAPE).',
 true),
-- VAT ------------------------------------------------------------------------
('get_vat_return', 'VAT return', 700,
 'billy.vat_return', '{}', '{"organization": "org"}', '{}', 'call', 'issue 7: Danish VAT',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "period": {"type": "string", "pattern": "^[0-9]{4}(-(Q[1-4]|H[12]|(0[1-9]|1[0-2])))?$", "description": "2025-Q1, 2025-H2, 2025-03 or 2025."}}$j$,
    ARRAY['period']),
 NULL,
 'The Danish VAT return (momsangivelse) of a period: salgsmoms, købsmoms, rubrik A-C, tilsvar, deadline.',
 true),
('get_vat_deadlines', 'VAT periods and deadlines', 710,
 'billy.vat_periods', '{}', '{"organization": "org"}', '{}', 'call', 'issue 7: Danish VAT',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "year": {"type": "integer", "minimum": 2000, "maximum": 2100, "description": "The year (default this year)."}}$j$),
 NULL,
 'The VAT periods of a year with their filing deadlines.',
 true),
('check_vat', 'Check VAT', 720,
 'billy.vat_check', '{}', '{"organization": "org"}', '{}', 'call', 'issue 7: Danish VAT',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "period": {"type": "string", "pattern": "^[0-9]{4}(-(Q[1-4]|H[12]|(0[1-9]|1[0-2])))?$", "description": "2025-Q1, 2025-H2, 2025-03 or 2025."}}$j$,
    ARRAY['period']),
 NULL,
 'Checks a VAT period before filing: differences against Billy''s report and documents likely to make the return wrong.',
 true),
-- bulk -----------------------------------------------------------------------
('export_invoices_csv', 'Export invoices as CSV', 820,
 'billy.export_invoices_csv(text,jsonb,jsonb)', '{}', '{"organization": "org"}', '{}', 'call', 'issue 8: CSV export',
 '{"readOnlyHint": true, "openWorldHint": false}',
 -- the filters and options the function checks, from the same schemas (82-bulk.sql)
 billy._mcp_input(jsonb_build_object('filters', billy._export_invoices_filters(),
                                     'options', billy._csv_options_schema() || jsonb_build_object('description',
                                         'format danish for Excel in Denmark; or delimiter, decimal, header, bom, newline, language.'))),
 NULL,
 'Invoices as CSV text (number, dates, customer, amounts), optionally in Danish format.',
 true),
('get_bulk_job_status', 'Bulk job status', 830,
 'billy.bulk_job_status', '{}', '{"job_id": "job_id"}', '{}', 'call', 'issue 8: bulk import',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "job_id": {"type": "integer", "minimum": 1}}$j$,
    ARRAY['job_id'], false),
 NULL,
 'Progress of a CSV import job: state, rows done, failed and left, rate, and failed rows with their lines.',
 true),
('cancel_bulk_job', 'Cancel a bulk job', 840,
 'billy.cancel_bulk_job', '{}', '{"job_id": "job_id"}', '{}', 'call', 'issue 8: bulk import',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "job_id": {"type": "integer", "minimum": 1}}$j$,
    ARRAY['job_id'], false),
 NULL,
 'Stops a CSV import job; rows already created stay.',
 true),
-- cache ----------------------------------------------------------------------
('get_cache_performance', 'Cache performance', 900,
 'billy.cache_performance', '{}', '{"organization": "org"}', '{}', 'call', 'issue 5: cache',
 '{"readOnlyHint": true, "openWorldHint": false}',
 billy._mcp_input($j${
    "since": {"type": "string", "maxLength": 50, "description": "How far back, e.g. '24 hours' (default) or '7 days'."}}$j$),
 NULL,
 'How well the mirror serves reads: hit rate, stale answers, misses, API calls made and saved.',
 true),
('warm_cache', 'Warm the cache', 910,
 'billy.warm_cache', '{}', '{"organization": "org"}', '{}', 'call', 'issue 5: cache',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true}',
 billy._mcp_input($j${
    "top_n": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "How many of the most read records to refresh (default 100)."}}$j$),
 NULL,
 'Refreshes the most read records from Billy now (spends API calls; changes nothing in Billy).',
 true);

-- The reading tools of the mirror's documents and contacts: compact answers
-- (billy._mcp_project), paged with limit and offset
INSERT INTO billy.mcp_tools (name, title, sort_order, function, arguments, kind, issue, project,
                             annotations, input_schema, description, builtin)
SELECT v.name, v.title, v.sort_order, v.function,
       '{"organization": "org", "detail": null, "fields": null}'::jsonb || v.arguments::jsonb, 'call', 'issue 5: reads with freshness', v.project,
       '{"readOnlyHint": true, "openWorldHint": true}',
       billy._mcp_input(v.properties::jsonb
           || CASE WHEN v.name LIKE 'list%' THEN jsonb_build_object(
                  'detail', '{"enum": ["summary", "full", "raw"]}'::jsonb,
                  'fields', '{"type": "array", "items": {"type": "string"}, "maxItems": 30}'::jsonb,
                  'limit', '{"type": "integer", "minimum": 1, "maximum": 500, "description": "Default 25."}'::jsonb,
                  'offset', '{"type": "integer", "minimum": 0}'::jsonb)
              ELSE jsonb_build_object(
                  'detail', '{"enum": ["summary", "raw"]}'::jsonb) END
           || billy._mcp_max_age_arg(),
           v.required),
       v.description, true
FROM (VALUES
    ('list_invoices', 'List invoices', 100, 'billy.list_invoices', 'invoices', '{"customer": "contact"}', $j${
        "state": {"enum": ["draft", "approved", "voided"]},
        "paid": {"type": "boolean"},
        "overdue": {"type": "boolean", "description": "Unpaid past due."},
        "customer": {"type": "string", "maxLength": 200, "description": "Id or exact name."},
        "from_date": {"type": "string", "format": "date", "description": "Entry date."},
        "to_date": {"type": "string", "format": "date"},
        "min_amount": {"type": "number", "description": "Gross."},
        "max_amount": {"type": "number"},
        "search": {"type": "string", "maxLength": 200, "description": "Number, text, customer."}}$j$, '{}'::text[],
     'Invoices and credit notes, newest first: number, dates, customer, currency, net, vat, gross, balance (unpaid), paid, overdue.'),
    ('get_invoice', 'Get an invoice', 110, 'billy.get_invoice', 'invoices', '{"invoice_id": "id"}', $j${
        "invoice_id": {"type": "string", "minLength": 1, "maxLength": 100}}$j$, ARRAY['invoice_id'],
     'One invoice or credit note: lines, payments and credit notes against it, totals, balance, freshness.'),
    ('list_customers', 'List customers and suppliers', 200, 'billy._mcp_list_contacts', 'contacts', '{}', $j${
        "search": {"type": "string", "maxLength": 200, "description": "Name, number, CVR, city, e-mail."},
        "suppliers": {"type": "boolean", "description": "Suppliers instead."},
        "include_archived": {"type": "boolean"}}$j$, '{}'::text[],
     'Customers (or suppliers) by name: number, CVR, country, city, e-mail.'),
    ('get_customer', 'Get a customer', 210, 'billy.get_contact', 'contacts', '{"customer_id": "id"}', $j${
        "customer_id": {"type": "string", "minLength": 1, "maxLength": 100}}$j$, ARRAY['customer_id'],
     'One customer or supplier: address, CVR, EAN, payment terms, contact persons, freshness.'),
    ('list_products', 'List products', 300, 'billy._mcp_list_products', 'products', '{}', $j${
        "search": {"type": "string", "maxLength": 200, "description": "Name, product number, description."},
        "include_archived": {"type": "boolean", "description": "true: archived ones too."}}$j$, '{}'::text[],
     'Products by name: number and prices per currency.'),
    ('get_product', 'Get a product', 310, 'billy.get_product', 'products', '{"product_id": "id"}', $j${
        "product_id": {"type": "string", "minLength": 1, "maxLength": 100}}$j$, ARRAY['product_id'],
     'One product: number, description, prices, revenue account, tax ruleset, freshness.'),
    ('list_bills', 'List bills', 400, 'billy.list_bills', 'bills', '{"supplier": "contact"}', $j${
        "state": {"enum": ["draft", "approved", "voided"]},
        "paid": {"type": "boolean"},
        "overdue": {"type": "boolean"},
        "supplier": {"type": "string", "maxLength": 200, "description": "Id or name."},
        "from_date": {"type": "string", "format": "date"},
        "to_date": {"type": "string", "format": "date"},
        "search": {"type": "string", "maxLength": 200, "description": "Numbers, text, supplier."}}$j$, '{}'::text[],
     'Bills (purchases), newest first: supplier, dates, currency, net, vat, gross, balance, paid, overdue.'),
    ('get_bill', 'Get a bill', 405, 'billy.get_bill', 'bills', '{"bill_id": "id"}', $j${
        "bill_id": {"type": "string", "minLength": 1, "maxLength": 100}}$j$, ARRAY['bill_id'],
     'One bill: lines (account, text, net, vat), payments, totals, balance, freshness.'),
    ('list_bank_payments', 'List bank payments', 500, 'billy.list_bank_payments', 'bankPayments', '{"contact_id": "contact"}', $j${
        "contact_id": {"type": "string", "maxLength": 200, "description": "Id or exact name."},
        "from_date": {"type": "string", "format": "date"},
        "to_date": {"type": "string", "format": "date"}}$j$, '{}'::text[],
     'Payments in and out: date, amount, contact, the invoices or bills they settle.')
) v(name, title, sort_order, function, project, arguments, properties, required, description);

-- The write tools: derived from the rows of billy.write_catalog that name a
-- tool (their arguments, schema, function and annotations), kept so by a
-- trigger: adding an operation's row adds its tool
CREATE FUNCTION billy._mcp_write_tools_derive(op text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM billy.mcp_tools t WHERE t.kind = 'write' AND (op IS NULL OR t.operation = op);
    INSERT INTO billy.mcp_tools (name, title, sort_order, operation, function, requires, arguments, kind, issue,
                                 annotations, input_schema, description, builtin)
    SELECT c.mcp_tool, c.mcp_title, c.mcp_sort, c.operation, coalesce(c.wrapper, 'billy.preview_write(text,jsonb)'),
           ARRAY['billy.preview_write(text,jsonb)', 'billy.commit_write(text)'],
           billy._mcp_write_arguments(c.operation, c.mcp_renames), 'write', 'issue 8: safe writes',
           jsonb_build_object('readOnlyHint', false, 'destructiveHint', c.destructive, 'idempotentHint', c.idempotent, 'openWorldHint', true),
           billy._mcp_write_input(c.operation, c.mcp_renames), c.mcp_description, true
    FROM billy.write_catalog c
    WHERE c.mcp_tool IS NOT NULL AND (op IS NULL OR c.operation = op);
END
$$;
COMMENT ON FUNCTION billy._mcp_write_tools_derive(text) IS
'Derives the MCP tool of a write operation (NULL: of all) from its row of billy.write_catalog: name, title, description, place and annotations from the row, arguments and input schema from its input_schema (billy._mcp_write_arguments, billy._mcp_write_input). Internal.';

CREATE FUNCTION billy._mcp_write_catalog_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM billy._mcp_write_tools_derive(OLD.operation);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM billy._mcp_write_tools_derive(NEW.operation);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._mcp_write_catalog_changed() IS 'Trigger: a changed row of billy.write_catalog changes its MCP tool. Internal.';

CREATE TRIGGER write_tools AFTER INSERT OR UPDATE OR DELETE ON billy.write_catalog
    FOR EACH ROW EXECUTE FUNCTION billy._mcp_write_catalog_changed();

SELECT billy._mcp_write_tools_derive(NULL);

-- The import tools: a dry run as the preview, the job with the confirmation
INSERT INTO billy.mcp_tools (name, title, sort_order, function, requires, arguments, fixed_args, kind, issue,
                             annotations, input_schema, description, builtin)
SELECT v.name, v.title, v.sort_order, 'billy.import_csv(text,text,text,jsonb)',
       ARRAY['billy._mcp_import(text,jsonb,text)', 'billy.bulk_job_status(bigint)'],
       '{"organization": "org"}', jsonb_build_object('resource', v.resource), 'import', 'issue 8: bulk import',
       '{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": true}',
       billy._mcp_input(jsonb_build_object(
           'csv', jsonb_build_object('type', 'string', 'minLength', 1, 'maxLength', 10000000, 'description', v.csv_text),
           'options', $j${"type": "object", "additionalProperties": false,
               "properties": {"continue_on_error": {"type": "boolean", "description": "Import the good rows, skip the bad."},
                              "on_duplicate": {"enum": ["skip", "update"]}, "delimiter": {"enum": [",", ";", "\t"]},
                              "decimal": {"enum": [".", ","]}, "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                              "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}, "ignore_unknown_columns": {"type": "boolean"}}}$j$::jsonb,
           'confirmation', '{"type": "string", "minLength": 8, "maxLength": 200}'::jsonb),
           ARRAY['csv']),
       v.description, true
FROM (VALUES
    ('import_customers_csv', 'Import customers from CSV', 800, 'contacts',
     'CSV text: a header (navn/name, cvr/registrationNo, email, ...), one customer per line.',
     'Imports customers from CSV in the background. Preview: a dry run (rows to create, update or skip by CVR or name; invalid lines).'),
    ('import_products_csv', 'Import products from CSV', 810, 'products',
     'CSV text: a header (name, varenr/productNo, pris/unitPrice, ...), one product per line.',
     'Imports products from CSV in the background. Preview: a dry run (rows to create, update or skip by number or name; invalid lines).')
) v(name, title, sort_order, resource, csv_text, description);

SELECT pg_catalog.pg_extension_config_dump('billy.mcp_tools', 'WHERE NOT builtin');

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

REVOKE ALL ON billy.mcp_tools FROM PUBLIC;
GRANT SELECT ON billy.mcp_tools TO billy_reader;
REVOKE ALL ON FUNCTION billy.mcp(jsonb), billy.mcp_tool_status(), billy.mcp_instructions(),
    billy._mcp_notify_tools_changed(), billy._mcp_notify_ddl(), billy._mcp_function(text),
    billy._mcp_in_params(regprocedure), billy._mcp_tool_problem(billy.mcp_tools),
    billy._mcp_json_type(oid), billy._mcp_derived_schema(regprocedure), billy._mcp_write_schema(),
    billy._mcp_output_schema(billy.mcp_tools), billy._mcp_input(jsonb, text[], boolean),
    billy._mcp_tools_list(text, integer), billy._mcp_listed_schema(jsonb, integer), billy._mcp_listed_annotations(jsonb),
    billy._mcp_write(text, text, jsonb, text), billy._mcp_sync(text, text[]), billy._mcp_sync_status(text),
    billy._mcp_organization_settings(text), billy._mcp_revenue(text, date, date),
    billy._mcp_validate(jsonb, jsonb), billy._mcp_snake(text), billy._mcp_write_arguments(text, jsonb),
    billy._mcp_write_input(text, jsonb), billy._mcp_write_problem(billy.mcp_tools), billy._mcp_field(text, jsonb),
    billy._mcp_import_record(text, text, text, jsonb, bigint), billy._mcp_import_take(text, text, text, text, jsonb),
    billy._mcp_import(text, jsonb, text), billy._mcp_rows(text, jsonb, boolean), billy._mcp_row(text, jsonb, boolean),
    billy._mcp_record(text, jsonb), billy._mcp_project(text, jsonb, jsonb),
    billy._mcp_list_contacts(text, text, boolean, boolean, integer, integer, interval),
    billy._mcp_list_products(text, text, boolean, integer, integer, interval), billy._mcp_accounts(text, text, text, boolean),
    billy._mcp_tax_rates(text, boolean), billy._mcp_write_tools_derive(text), billy._mcp_write_catalog_changed() FROM PUBLIC;
REVOKE ALL ON billy.mcp_import_previews FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billy.mcp(jsonb), billy.mcp_tool_status(), billy.mcp_instructions(),
    billy._mcp_function(text), billy._mcp_in_params(regprocedure), billy._mcp_tool_problem(billy.mcp_tools),
    billy._mcp_json_type(oid), billy._mcp_derived_schema(regprocedure), billy._mcp_write_schema(),
    billy._mcp_output_schema(billy.mcp_tools), billy._mcp_tools_list(text, integer), billy._mcp_listed_schema(jsonb, integer), billy._mcp_listed_annotations(jsonb),
    billy._mcp_write(text, text, jsonb, text),
    billy._mcp_sync(text, text[]), billy._mcp_sync_status(text), billy._mcp_organization_settings(text),
    billy._mcp_revenue(text, date, date), billy._mcp_validate(jsonb, jsonb),
    billy._mcp_snake(text), billy._mcp_write_arguments(text, jsonb), billy._mcp_write_input(text, jsonb),
    billy._mcp_write_problem(billy.mcp_tools), billy._mcp_field(text, jsonb),
    billy._mcp_rows(text, jsonb, boolean), billy._mcp_row(text, jsonb, boolean),
    billy._mcp_record(text, jsonb), billy._mcp_project(text, jsonb, jsonb),
    billy._mcp_list_contacts(text, text, boolean, boolean, integer, integer, interval),
    billy._mcp_list_products(text, text, boolean, integer, integer, interval), billy._mcp_accounts(text, text, text, boolean),
    billy._mcp_tax_rates(text, boolean)
    TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._mcp_import_record(text, text, text, jsonb, bigint),
    billy._mcp_import_take(text, text, text, text, jsonb), billy._mcp_import(text, jsonb, text) TO billy_admin, billy_writer;
