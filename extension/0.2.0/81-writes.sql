------------------------------------------------------------------------------
-- Safe writes to Billy: local validation, gating, preview and commit with an
-- operation hash, and an outbox that reconciles unknown outcomes.
--
--   billy.preview_write(operation, args)   validate, say what would be sent,
--                                          return a one-time operation hash
--   billy.commit_write(hash)               send it, if the mirror state it was
--                                          planned on is unchanged and the
--                                          hash unused (C: src/writes/)
--   billy.create_invoice(...) and friends  preview + commit in one call
--
-- An operation's plan (billy._plan_write) is a JSON object: the request
-- (method, path, body), the records it touches with their content hashes
-- (the fingerprint the hash binds), how to find its result upstream when the
-- outcome is unknown (lookup), and a summary.  billy.write_ops is the
-- outbox: pending -> sent -> done | failed | unknown.
------------------------------------------------------------------------------

CREATE TABLE billy.write_previews (
    hash            text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    operation       text NOT NULL,
    args            jsonb NOT NULL,
    plan            jsonb NOT NULL,
    fingerprint     text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by      name NOT NULL DEFAULT CURRENT_USER,
    expires_at      timestamptz NOT NULL DEFAULT pg_catalog.now() OPERATOR(pg_catalog.+) '1 hour'::pg_catalog.interval
);
COMMENT ON TABLE billy.write_previews IS
'Previews made by billy.preview_write: the operation, its arguments, the plan (what would be sent) and the fingerprint of the mirror state it was planned on. The hash is the one-time key billy.commit_write takes; it expires after an hour. Expired previews are forgotten by the worker.';

CREATE TABLE billy.write_ops (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    operation       text NOT NULL,
    preview_hash    text UNIQUE,
    bulk_job_id     bigint,
    bulk_line       integer,
    args            jsonb NOT NULL,
    request         jsonb NOT NULL,
    lookup          jsonb,
    summary         text,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'sent', 'done', 'failed', 'unknown'])),
    attempts        integer NOT NULL DEFAULT 0,
    requested_by    name NOT NULL,
    session_role    name NOT NULL,
    client          text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sent_at         timestamptz,
    finished_at     timestamptz,
    http_status     integer,
    billy_error_code text,
    error           text,
    error_detail    text,
    reconciliation  text,
    needs_decision  boolean NOT NULL DEFAULT false,
    record_id       text,
    result          jsonb
);
CREATE INDEX write_ops_open ON billy.write_ops (state) WHERE state OPERATOR(pg_catalog.<>) ALL (ARRAY['done', 'failed']);
CREATE INDEX write_ops_org ON billy.write_ops (organization_id, created_at);
CREATE INDEX write_ops_bulk ON billy.write_ops (bulk_job_id, bulk_line) WHERE bulk_job_id IS NOT NULL;
COMMENT ON TABLE billy.write_ops IS
'The outbox: one row per write sent to Billy (billy.commit_write, imports). state: pending (recorded, not sent), sent (on its way; committed before the request leaves), done (Billy answered with success; its records are in the mirror), failed (Billy refused, e.g. 422, or nothing was sent), unknown (a timeout, a broken connection or a sender that died after sending: Billy may or may not have done it; the worker looks the record up no sooner than billy.reconcile_delay_ms after sent_at, resends only when Billy does not have it, and looks again after a resend). needs_decision: billy gave up finding out (the result cannot be looked up, or several records in Billy match it, e.g. two invoices with its externalId): a person checks in Billy and records the outcome with billy.resolve_write. While a write is unknown, a new preview of the same write is refused. reconciliation says what the look-ups found. record_id is the record written; result holds it as Billy returned it.';

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['write_previews', 'write_ops']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
    END LOOP;
END
$rls$;

------------------------------------------------------------------------------
-- Gating
------------------------------------------------------------------------------

CREATE FUNCTION billy._require_writable(org text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o billy.organizations;
BEGIN
    IF coalesce(current_setting('billy.enable_writes', true), 'off') NOT IN ('on', 'true', '1', 'yes') THEN
        RAISE EXCEPTION 'writes to Billy are disabled'
            USING ERRCODE = '55000',
                  DETAIL = 'billy.enable_writes is off.',
                  HINT = 'A superuser turns writes on with ALTER SYSTEM SET billy.enable_writes = on and SELECT pg_reload_conf(), or SET billy.enable_writes = on in one session.';
    END IF;
    IF NOT billy._may_write(org) THEN
        RAISE EXCEPTION 'role "%" may not write to organization %', CURRENT_USER, org
            USING ERRCODE = '42501',
                  HINT = 'Writes need the billy_admin role, or billy_writer with the organization granted with writes => true (billy.grant_organization).';
    END IF;
    SELECT * INTO o FROM billy.organizations WHERE id = org;
    IF NOT FOUND OR o.disconnected_at IS NOT NULL THEN
        RAISE EXCEPTION 'organization "%" is not connected', org
            USING ERRCODE = '55000', HINT = 'Call billy.connect() with an access token for it.';
    END IF;
    IF o.read_only THEN
        RAISE EXCEPTION 'organization "%" (%) is read-only in billy', o.name, org
            USING ERRCODE = '25006', HINT = 'billy_admin can allow writes with SELECT billy.set_read_only(org, false).';
    END IF;
    IF o.is_locked OR o.is_terminated THEN
        RAISE EXCEPTION 'Billy has % organization "%"', CASE WHEN o.is_locked THEN 'locked' ELSE 'terminated' END, o.name
            USING ERRCODE = '55000', HINT = 'Billy refuses writes to it; see the organization in Billy.';
    END IF;
END
$$;
COMMENT ON FUNCTION billy._require_writable(text) IS
'Raises unless a write to the organization is allowed: billy.enable_writes on, the role a member of billy_admin or of billy_writer with the organization granted for writes (billy._may_write), the organization connected, not read-only, not locked or terminated in Billy. Internal.';

CREATE FUNCTION billy.set_read_only(org text, read_only boolean DEFAULT true) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := billy._resolve_org(org);
    before boolean;
BEGIN
    IF read_only IS NULL THEN
        RAISE EXCEPTION 'read_only must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT o.read_only INTO before FROM billy.organizations o WHERE o.id = target;
    PERFORM billy._set_read_only(target, read_only);
    PERFORM billy.audit(CASE WHEN read_only THEN 'set_read_only' ELSE 'set_writable' END, target,
                        'organizations/' || target, jsonb_build_object('read_only', read_only), 'ok');
    RETURN before;
END
$$;
COMMENT ON FUNCTION billy.set_read_only(text, boolean) IS
'Marks an organization (id or name) read-only in billy (default) or writable again: billy refuses every write to a read-only organization, imports included. Recorded in the audit trail. Returns the previous setting.';

CREATE FUNCTION billy._set_read_only(org text, flag boolean) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.organizations SET read_only = flag WHERE id = org;
END;
COMMENT ON FUNCTION billy._set_read_only(text, boolean) IS 'Sets organizations.read_only (as the extension owner). Internal.';

------------------------------------------------------------------------------
-- Local validation: each operation's arguments are checked against field
-- rules and the mirror before anything is sent; every problem names its
-- field (invoice.lines[1].productId).
------------------------------------------------------------------------------

CREATE FUNCTION billy._is_date(t text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN t::date BETWEEN '1900-01-01' AND '2199-12-31';
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END
$$;
COMMENT ON FUNCTION billy._is_date(text) IS 'Whether text is a real date between 1900 and 2199. Internal.';

CREATE FUNCTION billy._cvr_valid(cvr text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN cvr ~ '^[1-9]\d{7}$' AND (
    SELECT sum(substr(cvr, i, 1)::int * (ARRAY[2, 7, 6, 5, 4, 3, 2, 1])[i]) % 11 = 0
    FROM generate_series(1, 8) i);
COMMENT ON FUNCTION billy._cvr_valid(text) IS 'Whether text is a Danish CVR number: 8 digits passing the modulus 11 check. Internal.';

-- _problem is one problem object
CREATE FUNCTION billy._problem(field text, message text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_array(jsonb_build_object('field', field, 'message', message));
COMMENT ON FUNCTION billy._problem(text, text) IS 'One validation problem, as a one-element array. Internal.';

-- _touch is one record a plan depends on, with its mirror content hash
CREATE FUNCTION billy._touch(tbl text, org text, rid text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    h text;
BEGIN
    IF tbl = 'organizations' THEN
        SELECT md5(raw::text) || CASE WHEN read_only THEN ':ro' ELSE '' END INTO h FROM billy.organizations WHERE id = org;
    ELSE
        EXECUTE format('SELECT encode(content_hash, ''hex'') || CASE WHEN deleted_at IS NULL THEN '''' ELSE '':deleted'' END '
                       'FROM billy.%I WHERE organization_id = $1 AND id = $2', tbl)
            INTO h USING org, rid;
    END IF;
    RETURN jsonb_build_array(tbl, rid, h);
END
$$;
COMMENT ON FUNCTION billy._touch(text, text, text) IS 'A record a write depends on: [table, id, content hash in the mirror]. Internal.';

-- the records of a table that match a where clause (a JSON array of ids)
CREATE FUNCTION billy._ids(tbl text, org text, cond text, val text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    EXECUTE format('SELECT coalesce(jsonb_agg(id ORDER BY id), ''[]'') FROM billy.%I WHERE organization_id = $1 AND %s', tbl, cond)
        INTO result USING org, val;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._ids(text, text, text, text) IS 'Ids of mirror records matching a condition on $2. Internal.';

CREATE FUNCTION billy._live(tbl text, org text, rid text) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ok boolean;
BEGIN
    IF rid IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM billy.%I WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL)', tbl)
        INTO ok USING org, rid;
    RETURN ok;
END
$$;
COMMENT ON FUNCTION billy._live(text, text, text) IS 'Whether the mirror has a live record with this id. Internal.';

CREATE FUNCTION billy._missing(what text, org text, rid text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN format('no %s "%s" in the mirror of organization %s (sync it, or check the id)', what, rid, org);
COMMENT ON FUNCTION billy._missing(text, text, text) IS 'The message for a referenced record the mirror does not have. Internal.';

------------------------------------------------------------------------------
-- The catalog of write operations: each is one row (83-write-ops.sql holds
-- billy's) plus one plan function.  Everything else is derived from the row:
-- the check of the arguments (billy._check_args, src/jsonschema.c, against
-- input_schema), the request's method and path, the look-up that finds its
-- result after an unknown outcome, the one-call SQL function and its grants
-- (billy._write_wrapper_sql), the MCP tool (90-mcp.sql), and what C needs
-- (src/write_catalog.c reads it, cached per backend).
------------------------------------------------------------------------------

CREATE TABLE billy.write_catalog (
    operation       text PRIMARY KEY
                    CHECK (operation OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    resource        text,
    method          text NOT NULL
                    CHECK (method OPERATOR(pg_catalog.=) ANY (ARRAY['POST', 'PUT', 'DELETE'])),
    path            text NOT NULL
                    CHECK (path OPERATOR(pg_catalog.~) '^/[A-Za-z0-9_/{}.-]*$'),
    lookup          jsonb
                    CHECK (lookup IS NULL OR lookup OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) ANY (ARRAY['record', 'list', 'gone'])),
    input_schema    jsonb NOT NULL
                    CHECK (input_schema OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'object'),
    plan_function   regproc NOT NULL,
    description     text NOT NULL,
    wrapper         text
                    CHECK (wrapper OPERATOR(pg_catalog.~) '^billy\.[a-z][a-z0-9_]*$'),
    wrapper_args    text[] NOT NULL DEFAULT '{}',
    wrapper_comment text,
    roles           name[] NOT NULL DEFAULT '{billy_admin,billy_writer}',
    subjects        text[],
    mcp_tool        text UNIQUE
                    CHECK (mcp_tool OPERATOR(pg_catalog.~) '^[A-Za-z0-9_]{1,64}$'),
    mcp_title       text,
    mcp_description text,
    mcp_renames     jsonb NOT NULL DEFAULT '{}',
    mcp_sort        integer NOT NULL DEFAULT 1000,
    destructive     boolean NOT NULL DEFAULT false,
    idempotent      boolean NOT NULL DEFAULT false,
    builtin         boolean NOT NULL DEFAULT false,
    CHECK ((mcp_tool IS NULL) OPERATOR(pg_catalog.=) (mcp_description IS NULL))
);
COMMENT ON TABLE billy.write_catalog IS
'The write operations billy.preview_write accepts, one row each. resource: Billy''s plural of the record written (NULL: the organization). method and path: the request; {member} in path (and in lookup''s path) is filled from the args or the plan function''s params ({org}: the organization''s id). lookup: how to find the result in Billy when the outcome is unknown ({"kind": "record", "path", "root", "expect"?} the record as expected, "list" a search, "gone" a 404 after a delete); a plan function may give its own. input_schema: JSON Schema of the args without org, the one check of their shape (billy._check_args, in C). plan_function: billy._plan_x(org text, args jsonb) returns {"problems"?, "body"?, "params"?, "touches"?, "lookup"?, "expect"?, "record_id"?, "file"?, "then"?, "summary"}: the checks against the mirror and the body; file: a raw upload instead of a JSON body (its name, type, size and SHA-256; the bytes are args.contentBase64, 97-receipts.sql); then: the write to send once this one is done ({"operation", "args"}, filled with its record as fileId). wrapper: the one-call SQL function generated from the row (wrapper_args: its parameters in order, members of the args; *name: a jsonb merged into them), granted to roles. subjects: where in the request body the documents it pays or matches are (their balances are refreshed). mcp_*: the MCP tool derived from the row (name, title, description, argument renames, place in tools/list); destructive, idempotent: its annotations.';

CREATE TRIGGER write_catalog_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billy.write_catalog
    FOR EACH STATEMENT EXECUTE FUNCTION billy._invalidate_cached();

CREATE FUNCTION billy._check_args(schema jsonb, args jsonb) RETURNS jsonb
LANGUAGE C IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'billy_check_args';
COMMENT ON FUNCTION billy._check_args(jsonb, jsonb) IS
'Every way args fails a JSON Schema, each {"field", "message"} (empty: none), from the validator MCP tools use too (src/jsonschema.c). Internal.';

-- _fill_path fills {member} in a path template (URL-encoded)
CREATE FUNCTION billy._fill_path(template text, vars jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    out text := template;
    m text;
BEGIN
    FOR m IN SELECT x[1] FROM regexp_matches(template, '\{([A-Za-z0-9_]+)\}', 'g') x LOOP
        out := replace(out, '{' || m || '}', billy._urlencode(vars ->> m));
    END LOOP;
    RETURN out;
END
$$;
COMMENT ON FUNCTION billy._fill_path(text, jsonb) IS 'A catalog path with each {member} replaced by its value, URL-encoded. Internal.';

-- _plan_write checks an operation's arguments against its input_schema and
-- hands well-formed ones to the operation's plan function
CREATE FUNCTION billy._plan_write(operation text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c billy.write_catalog;
    org text;
    a jsonb;
    problems jsonb;
    part jsonb := '{}';
    vars jsonb;
    lookup jsonb;
    touches jsonb;
BEGIN
    SELECT * INTO c FROM billy.write_catalog w WHERE w.operation = _plan_write.operation;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown write operation "%"', operation
            USING ERRCODE = '22023',
                  HINT = 'Known operations: ' || (SELECT string_agg(w.operation, ', ' ORDER BY w.operation) FROM billy.write_catalog w) || '.';
    END IF;
    IF args IS NULL OR jsonb_typeof(args) <> 'object' THEN
        RAISE EXCEPTION 'args must be a JSON object' USING ERRCODE = '22023',
            HINT = 'For example {"org": "<organization>", "invoice": {...}}; billy.write_operations() lists each operation''s arguments.';
    END IF;
    org := billy._resolve_org(args ->> 'org');
    a := args - 'org';
    -- the shape first (the one validator, in C), then the mirror
    problems := billy._check_args(c.input_schema, a);
    IF problems = '[]' THEN
        EXECUTE format('SELECT %s($1, $2)', c.plan_function) INTO part USING org, a;
        problems := coalesce(part -> 'problems', '[]');
    END IF;
    vars := a || coalesce(part -> 'params', '{}') || jsonb_build_object('org', org);
    lookup := CASE WHEN part ? 'lookup' THEN part -> 'lookup' ELSE c.lookup END;
    IF jsonb_typeof(lookup) = 'object' THEN
        lookup := lookup || jsonb_build_object('path', billy._fill_path(lookup ->> 'path', vars))
                         || CASE WHEN part ? 'expect' THEN jsonb_build_object('expect', part -> 'expect') ELSE '{}' END;
    ELSE
        lookup := NULL;
    END IF;
    touches := jsonb_build_array(billy._touch('organizations', org, org)) || coalesce(part -> 'touches', '[]');
    RETURN jsonb_build_object(
        'operation', operation, 'organization_id', org,
        'organization', (SELECT o.name FROM billy.organizations o WHERE o.id = org),
        'problems', problems, 'resource', c.resource, 'record_id', part ->> 'record_id',
        'request', jsonb_strip_nulls(jsonb_build_object('method', c.method, 'path', billy._fill_path(c.path, vars),
                                                        'body', part -> 'body', 'file', part -> 'file', 'then', part -> 'then')),
        'lookup', lookup, 'touches', touches, 'summary', part ->> 'summary',
        'fingerprint', encode(sha256(convert_to(operation || a::text || touches::text, 'UTF8')), 'hex'));
END
$$;
COMMENT ON FUNCTION billy._plan_write(text, jsonb) IS
'Plans a write operation of billy.write_catalog: checks its args against the row''s input_schema (billy._check_args), then, when they are well formed, runs the row''s plan function (the checks against the mirror, the body); returns the request (the row''s method and path), the records it touches with their content hashes, the fingerprint binding both, how to look its result up, a summary, and the problems found (each naming its field). Internal.';

-- write_operations: the catalog as billy.preview_write's callers read it
CREATE FUNCTION billy.write_operations()
RETURNS TABLE (operation text, function_name text, args text, description text, input_schema jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.operation, c.wrapper, billy._schema_outline(s.schema), c.description, s.schema
FROM billy.write_catalog c,
LATERAL (SELECT c.input_schema || jsonb_build_object('properties',
            jsonb_build_object('org', '{"type": "string", "description": "The organization: id or name; may be left out when only one is connected."}'::jsonb)
            || coalesce(c.input_schema -> 'properties', '{}')) AS schema) s
ORDER BY c.operation
$$;
COMMENT ON FUNCTION billy.write_operations() IS
'The write operations billy.preview_write accepts (rows of billy.write_catalog): the function that runs each in one call, an outline of its args, what it does, and input_schema, the JSON Schema of its args with org (what billy._plan_write checks; the MCP write tools derive their arguments from it). The names are stable.';

-- _schema_outline: an object schema's members in one line, {"a", "b"?}
CREATE FUNCTION billy._schema_outline(schema jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN '{' || (SELECT string_agg(format('"%s"%s', k, CASE WHEN coalesce(schema -> 'required', '[]') ? k THEN '' ELSE '?' END), ', ' ORDER BY n)
               FROM jsonb_object_keys(schema -> 'properties') WITH ORDINALITY AS x(k, n)) || '}';
COMMENT ON FUNCTION billy._schema_outline(jsonb) IS 'The members of an object schema in one line, optional ones marked with ?. Internal.';

-- _write_wrapper_sql: the one-call function of a catalog row, its comment
-- and its grants, as SQL (run for billy's rows at install)
CREATE FUNCTION billy._write_wrapper_sql(op text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c billy.write_catalog;
    params text[] := ARRAY['org text'];
    types text[] := ARRAY['text'];
    build text := '''org'', org';
    merged text := '';
    m text;
    pname text;
    ptype text;
    s jsonb;
    optional boolean;
BEGIN
    SELECT * INTO c FROM billy.write_catalog w WHERE w.operation = op;
    IF NOT FOUND OR c.wrapper IS NULL THEN
        RETURN NULL;
    END IF;
    FOREACH m IN ARRAY c.wrapper_args LOOP
        IF left(m, 1) = '*' THEN
            pname := substr(m, 2);
            params := params || format('%I jsonb DEFAULT ''{}''', pname);
            types := types || 'jsonb'::text;
            merged := merged || format(' || coalesce(%I, ''{}'')', pname);
            CONTINUE;
        END IF;
        s := c.input_schema -> 'properties' -> m;
        IF s IS NULL THEN
            RAISE EXCEPTION 'wrapper argument % of write operation % is no member of its input_schema', m, op USING ERRCODE = '22023';
        END IF;
        pname := lower(regexp_replace(m, '([a-z0-9])([A-Z])', '\1_\2', 'g'));
        ptype := CASE s ->> 'type' WHEN 'string' THEN 'text' WHEN 'integer' THEN 'integer' WHEN 'number' THEN 'numeric'
                                   WHEN 'boolean' THEN 'boolean' ELSE 'jsonb' END;
        optional := NOT coalesce(c.input_schema -> 'required', '[]') ? m;
        params := params || format('%I %s%s', pname, ptype, CASE WHEN optional THEN ' DEFAULT NULL' ELSE '' END);
        types := types || ptype;
        build := build || format(', %L, %I', m, pname);
    END LOOP;
    RETURN format(E'CREATE FUNCTION %s(%s) RETURNS jsonb\nLANGUAGE sql\nSET search_path = pg_catalog, pg_temp\n'
                  'RETURN billy._write_now(%L, jsonb_strip_nulls(jsonb_build_object(%s))%s);\n'
                  'COMMENT ON FUNCTION %s(%s) IS %L;\n'
                  'REVOKE ALL ON FUNCTION %s(%s) FROM PUBLIC;\n'
                  'GRANT EXECUTE ON FUNCTION %s(%s) TO %s;',
                  c.wrapper, array_to_string(params, ', '), op, build, merged,
                  c.wrapper, array_to_string(types, ', '),
                  coalesce(c.wrapper_comment, initcap(left(c.description, 1)) || substr(c.description, 2) || '. Returns what billy.commit_write returns.'),
                  c.wrapper, array_to_string(types, ', '),
                  c.wrapper, array_to_string(types, ', '),
                  (SELECT string_agg(quote_ident(r), ', ') FROM unnest(c.roles) r));
END
$$;
COMMENT ON FUNCTION billy._write_wrapper_sql(text) IS
'The SQL that creates a write operation''s one-call function (billy.create_invoice(org, invoice) and the like: its parameters are the org and the members named by wrapper_args, typed from input_schema), its comment and its grants to the row''s roles. Internal.';

CREATE FUNCTION billy._urlencode(t text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(string_agg(CASE WHEN b ~ '^[A-Za-z0-9._~-]$' THEN b
                                        ELSE (SELECT string_agg('%' || upper(lpad(to_hex(get_byte(convert_to(b, 'UTF8'), k)), 2, '0')), '')
                                              FROM generate_series(0, octet_length(convert_to(b, 'UTF8')) - 1) k) END, '' ORDER BY n), '')
        FROM regexp_split_to_table(coalesce(t, ''), '') WITH ORDINALITY AS s(b, n));
COMMENT ON FUNCTION billy._urlencode(text) IS 'Percent-encodes text for a URL query (UTF-8). Internal.';

-- _raise_problems turns a plan's problems into one error naming every field
CREATE FUNCTION billy._raise_problems(plan jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := jsonb_array_length(plan -> 'problems');
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    RAISE EXCEPTION '%: % %', replace(plan ->> 'operation', '_', ' '), plan -> 'problems' -> 0 ->> 'field', plan -> 'problems' -> 0 ->> 'message'
        USING ERRCODE = '22023',
              DETAIL = CASE WHEN n > 1 THEN format('%s problems: %s.', n,
                  (SELECT string_agg(e ->> 'field' || ' ' || (e ->> 'message'), '; ') FROM jsonb_array_elements(plan -> 'problems') e))
                  ELSE 'Nothing was sent to Billy.' END,
              HINT = 'Correct the named fields; nothing was sent to Billy. billy.write_operations() describes each operation''s arguments.';
END
$$;
COMMENT ON FUNCTION billy._raise_problems(jsonb) IS 'Raises the validation problems of a plan as one error (the first in the message, all in the detail). Internal.';

CREATE FUNCTION billy.preview_write(operation text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    plan jsonb := billy._plan_write(operation, args);
    stored billy.write_previews;
BEGIN
    PERFORM billy._require_writable(plan ->> 'organization_id');
    -- before the problems: an unsettled identical write matters more
    PERFORM billy._refuse_if_unsettled(plan ->> 'organization_id', operation, args);
    PERFORM billy._raise_problems(plan);
    stored := billy._store_preview(operation, args);
    RETURN jsonb_build_object(
        'operation_hash', stored.hash, 'operation', operation, 'organization_id', stored.organization_id,
        'organization', stored.plan ->> 'organization', 'summary', stored.plan ->> 'summary',
        'request', stored.plan -> 'request', 'touches', stored.plan -> 'touches', 'expires_at', stored.expires_at);
END
$$;
COMMENT ON FUNCTION billy.preview_write(text, jsonb) IS
'Previews a write to Billy without sending anything: validates args locally (every problem names its field), checks that writes are allowed, refuses while an identical write (same organization, operation and args) is pending, sent or unknown (sending it again could make a duplicate), and returns {"operation_hash", "operation", "organization_id", "summary", "request": {"method", "path", "body"} exactly as it would be sent, "touches": the mirror records it depends on with their content hashes, "expires_at"}. billy.commit_write(operation_hash) then sends it, once, if those records are unchanged. Operations: the rows of billy.write_catalog (billy.write_operations() lists them with their args).';

-- _refuse_if_unsettled: a write identical to one whose outcome is not known
-- yet (same organization, operation and arguments) could make a duplicate
CREATE FUNCTION billy._refuse_if_unsettled(org text, op text, a jsonb) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    SELECT * INTO w FROM billy.write_ops x
    WHERE x.organization_id = org AND x.operation = op AND x.state IN ('pending', 'sent', 'unknown')
      AND (x.args - 'org') = (coalesce(a, '{}') - 'org')
    ORDER BY x.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF w.state <> 'unknown' THEN
        RAISE EXCEPTION 'an identical write (write %) is being sent to Billy now', w.id
            USING ERRCODE = '55000',
                  DETAIL = format('Write %s (%s) was committed at %s and has no outcome yet.', w.id, w.summary, w.created_at),
                  HINT = format('Do not send it again: wait for write %s to end (billy.write_ops shows it).', w.id);
    END IF;
    RAISE EXCEPTION 'an identical write (write %) has an unknown outcome: it may already be in Billy', w.id
        USING ERRCODE = '55000',
              DETAIL = format('Write %s (%s) was sent at %s; %s. %s', w.id, w.summary, w.sent_at, coalesce(w.error, 'Billy did not answer'),
                  CASE WHEN w.needs_decision THEN 'billy could not find out whether Billy did it: a person must decide.'
                       ELSE 'billy looks it up in Billy by itself and resends it only if Billy does not have it.' END),
              HINT = CASE WHEN w.needs_decision
                  THEN format('Do not retry; a person must decide: sending it again could make a duplicate. The person checks in Billy whether write %s was done and records it with billy.resolve_write(%s, ''done'' or ''failed''); preview again only if it was not done.', w.id, w.id)
                  ELSE format('Do not retry: sending it again could make a duplicate. Wait until write %s is done or failed (billy.write_ops); preview again only if it failed.', w.id) END;
END
$$;
COMMENT ON FUNCTION billy._refuse_if_unsettled(text, text, jsonb) IS
'Raises when a write identical to the one being previewed (same organization, operation and arguments) is still pending, sent or unknown: sending it again could make a duplicate. Internal.';

-- _store_preview plans the write itself (as the extension owner): what is
-- stored, and later sent, is billy's plan, never one a caller made up
CREATE FUNCTION billy._store_preview(op text, a jsonb) RETURNS billy.write_previews
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    plan jsonb := billy._plan_write(op, a);
    result billy.write_previews;
BEGIN
    PERFORM billy._raise_problems(plan);
    INSERT INTO billy.write_previews (hash, organization_id, operation, args, plan, fingerprint, created_by)
    VALUES (encode(sha256(convert_to(plan ->> 'fingerprint' || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex'),
            plan ->> 'organization_id', op, a, plan - 'problems', plan ->> 'fingerprint', session_user)
    RETURNING * INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._store_preview(text, jsonb) IS 'Plans a write and stores it as a preview with a fresh random hash (as the extension owner). Internal.';

-- _commit_plan is commit_write's SQL half: the checks, in the caller's session
CREATE FUNCTION billy._commit_plan(h text) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pv billy.write_previews;
    plan jsonb;
    used bigint;
    changed text;
BEGIN
    IF h IS NULL OR h !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'operation hash must be the 64 hexadecimal characters billy.preview_write returned'
            USING ERRCODE = '22023';
    END IF;
    SELECT * INTO pv FROM billy.write_previews WHERE hash = h;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown operation hash %', left(h, 12) || '…'
            USING ERRCODE = '22023', HINT = 'Preview the write with billy.preview_write() and commit the hash it returns.';
    END IF;
    PERFORM billy._require_writable(pv.organization_id);
    SELECT id INTO used FROM billy.write_ops WHERE preview_hash = h;
    IF FOUND THEN
        RAISE EXCEPTION 'operation hash % was used already (write %)', left(h, 12) || '…', used
            USING ERRCODE = '55000', HINT = 'A preview can be committed once. billy.write_ops shows that write; preview again for another.';
    END IF;
    IF pv.expires_at < now() THEN
        RAISE EXCEPTION 'operation hash % expired at %', left(h, 12) || '…', pv.expires_at
            USING ERRCODE = '55000', HINT = 'Preview the write again.';
    END IF;
    plan := billy._plan_write(pv.operation, pv.args);
    PERFORM billy._raise_problems(plan);
    IF plan ->> 'fingerprint' <> pv.fingerprint THEN
        SELECT string_agg(format('%s %s', n ->> 0, n ->> 1), ', ') INTO changed
        FROM jsonb_array_elements(plan -> 'touches') n
        WHERE NOT (pv.plan -> 'touches') @> jsonb_build_array(n);
        RAISE EXCEPTION 'the preview is stale: what the write depends on changed since it was previewed'
            USING ERRCODE = '40001',
                  DETAIL = coalesce('Changed in the mirror: ' || changed || '.', 'The records the write depends on changed.'),
                  HINT = 'Preview the write again and check it before committing.';
    END IF;
    RETURN pv.plan || jsonb_build_object('hash', h, 'args', pv.args);
END
$$;
COMMENT ON FUNCTION billy._commit_plan(text) IS
'Checks an operation hash for billy.commit_write: known, writes allowed, unused, not expired, still valid, and the mirror records it touches unchanged; returns the stored plan. Internal.';

CREATE FUNCTION billy.commit_write(operation_hash text) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_commit_write';
COMMENT ON FUNCTION billy.commit_write(text) IS
'Sends a previewed write to Billy, once: only if writes are allowed, the hash (from billy.preview_write) is unused and unexpired, and the mirror records the write depends on are unchanged since the preview (else it refuses: preview again). The write is recorded in billy.write_ops and the audit trail whatever happens, committed on its own (a rollback of the caller''s transaction does not hide it). Returns {"write_op_id", "state": "done", "operation", "record_id", "record": the record as now in the mirror, "changed": ids per resource}; Billy''s refusals (422) raise an error naming the fields Billy named. When the outcome is unknown (timeout, connection lost or Billy''s gateway failing after sending) it returns "state": "unknown" with a warning: do not run the write again. The worker looks the record up in Billy no sooner than billy.reconcile_delay_ms after it was sent, resends only when Billy does not have it, and looks again after a resend; when it cannot tell, the write stays unknown with needs_decision for a person (billy.write_checks, billy.resolve_write).';

-- the one-call functions: preview and commit in one go
CREATE FUNCTION billy._write_now(operation text, args jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy.commit_write(billy.preview_write(operation, args) ->> 'operation_hash');
COMMENT ON FUNCTION billy._write_now(text, jsonb) IS 'Previews and commits a write in one call. Internal.';

CREATE FUNCTION billy._forget_previews() RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH d AS (DELETE FROM billy.write_previews WHERE expires_at < now() - interval '1 day' RETURNING 1)
    SELECT count(*)::integer FROM d;
END;
COMMENT ON FUNCTION billy._forget_previews() IS 'Deletes previews expired more than a day ago (the worker calls it). Internal.';

-- the worker: sent ops no process holds are unknown (their sender died)
CREATE FUNCTION billy._orphaned_writes() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w record;
    n integer := 0;
BEGIN
    FOR w IN SELECT id, organization_id, state FROM billy.write_ops
             WHERE state IN ('pending', 'sent') AND created_at < now() - interval '2 seconds'
             ORDER BY id FOR UPDATE SKIP LOCKED
    LOOP
        IF NOT pg_try_advisory_xact_lock(hashtext('billy write'), w.id::integer) THEN
            CONTINUE;
        END IF;
        IF w.state = 'pending' THEN
            UPDATE billy.write_ops SET state = 'failed', finished_at = now(),
                error = 'the process sending this write stopped before it was sent; nothing was sent'
            WHERE id = w.id;
        ELSE
            UPDATE billy.write_ops SET state = 'unknown',
                error = 'the process sending this write stopped before Billy answered'
            WHERE id = w.id;
            PERFORM billy._enqueue('reconcile_write', w.organization_id, jsonb_build_object('write_op_id', w.id), NULL, 20);
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy._orphaned_writes() IS
'Finds writes left pending or sent by a process that stopped (no one holds their lock): pending ones failed (never sent), sent ones unknown and queued for reconciliation (which looks them up no sooner than billy.reconcile_delay_ms after they were sent: Billy may still be working on them). The worker calls it. Internal.';


------------------------------------------------------------------------------
-- The outbox's state changes, called by the C code that sends writes (as the
-- extension owner); each records its audit entry.
------------------------------------------------------------------------------

CREATE FUNCTION billy._write_begin(plan jsonb, actor name, sess name, client_info text,
                                   job bigint DEFAULT NULL, line integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op bigint;
BEGIN
    INSERT INTO billy.write_ops (organization_id, operation, preview_hash, bulk_job_id, bulk_line, args,
                                 request, lookup, summary, requested_by, session_role, client, record_id)
    VALUES (plan ->> 'organization_id', plan ->> 'operation', plan ->> 'hash', job, line,
            coalesce(plan -> 'args', '{}'), plan -> 'request', plan -> 'lookup', plan ->> 'summary',
            actor, sess, client_info, plan ->> 'record_id')
    RETURNING id INTO op;
    -- held by the sending process until it is done: see billy._orphaned_writes
    PERFORM pg_advisory_lock(hashtext('billy write'), op::integer);
    RETURN op;
END
$$;
COMMENT ON FUNCTION billy._write_begin(jsonb, name, name, text, bigint, integer) IS
'Records a write as pending in the outbox (the preview hash, unique, makes a second use fail) and takes its lock for the sending process. Internal.';

CREATE FUNCTION billy._write_sent(op bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.write_ops SET state = 'sent', sent_at = now(), attempts = attempts + 1 WHERE id = op;
END;
COMMENT ON FUNCTION billy._write_sent(bigint) IS 'Marks a write sent, before its request leaves. Internal.';

CREATE FUNCTION billy._write_audit(w billy.write_ops, what text, result text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT billy._audit_append(w.requested_by, w.session_role, w.client, what || ':' || w.operation,
        w.organization_id, coalesce(split_part(w.request ->> 'path', '?', 1), w.operation)
            || CASE WHEN w.record_id IS NOT NULL AND position(w.record_id IN coalesce(w.request ->> 'path', '')) = 0
                    THEN ' -> ' || w.record_id ELSE '' END,
        jsonb_strip_nulls(jsonb_build_object('write_op_id', w.id, 'method', w.request ->> 'method', 'body', w.request -> 'body',
                                             'file', w.request -> 'file'))
            || CASE WHEN w.bulk_job_id IS NOT NULL THEN jsonb_build_object('bulk_job_id', w.bulk_job_id, 'line', w.bulk_line) ELSE '{}' END,
        result);
END;
COMMENT ON FUNCTION billy._write_audit(billy.write_ops, text, text) IS 'Records a write''s outcome in the audit trail. Internal.';

CREATE FUNCTION billy._write_done(op bigint, status integer, rid text, changed jsonb, note text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
    tbl text;
    is_org boolean;
    rec jsonb;
BEGIN
    SELECT * INTO w FROM billy.write_ops WHERE id = op;
    SELECT billy._resource_table(c.resource), c.resource IS NULL INTO tbl, is_org
    FROM billy.write_catalog c WHERE c.operation = w.operation;
    IF tbl IS NOT NULL AND rid IS NOT NULL THEN
        EXECUTE format('SELECT raw FROM billy.%I WHERE organization_id = $1 AND id = $2', tbl)
            INTO rec USING w.organization_id, rid;
    ELSIF is_org THEN
        SELECT raw INTO rec FROM billy.organizations WHERE id = w.organization_id;
    END IF;
    UPDATE billy.write_ops SET state = 'done', finished_at = now(), http_status = status, needs_decision = false,
        record_id = coalesce(rid, record_id), reconciliation = note, error = NULL, error_detail = NULL,
        result = jsonb_build_object('changed', coalesce(changed, '{}'), 'record', rec)
    WHERE id = op RETURNING * INTO w;
    PERFORM billy._write_audit(w, CASE WHEN note IS NULL THEN 'write' ELSE 'reconcile' END,
                               'done' || coalesce(': ' || note, ''));
    IF w.bulk_job_id IS NOT NULL AND EXISTS (SELECT 1 FROM billy.bulk_jobs b WHERE b.id = w.bulk_job_id
                                              AND b.state NOT IN ('queued', 'running')) THEN
        -- an import's row reconciled after its import ended (a running import counts its own)
        PERFORM billy._bulk_progress(w.bulk_job_id);
    END IF;
    PERFORM pg_advisory_unlock(hashtext('billy write'), op::integer);
END
$$;
COMMENT ON FUNCTION billy._write_done(bigint, integer, text, jsonb, text) IS 'Marks a write done with the record it wrote (as now in the mirror), audits it, releases its lock. Internal.';

CREATE FUNCTION billy._write_failed(op bigint, status integer, code text, msg text, detail text, note text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    UPDATE billy.write_ops SET state = 'failed', finished_at = now(), http_status = status, needs_decision = false,
        billy_error_code = code, error = msg, error_detail = detail, reconciliation = coalesce(note, reconciliation)
    WHERE id = op RETURNING * INTO w;
    PERFORM billy._write_audit(w, CASE WHEN note IS NULL THEN 'write' ELSE 'reconcile' END,
                               'failed: ' || msg || coalesce(' (' || code || ')', ''));
    IF w.bulk_job_id IS NOT NULL AND EXISTS (SELECT 1 FROM billy.bulk_jobs b WHERE b.id = w.bulk_job_id
                                              AND b.state NOT IN ('queued', 'running')) THEN
        PERFORM billy._bulk_progress(w.bulk_job_id);
    END IF;
    PERFORM pg_advisory_unlock(hashtext('billy write'), op::integer);
END
$$;
COMMENT ON FUNCTION billy._write_failed(bigint, integer, text, text, text, text) IS 'Marks a write failed (Billy refused it, or nothing was sent), audits it, releases its lock. Internal.';

CREATE FUNCTION billy._write_unknown(op bigint, msg text, delay_ms integer, note text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    UPDATE billy.write_ops SET state = 'unknown', error = msg, reconciliation = coalesce(note, reconciliation),
        needs_decision = delay_ms IS NULL, finished_at = NULL
    WHERE id = op RETURNING * INTO w;
    PERFORM billy._write_audit(w, CASE WHEN note IS NULL THEN 'write' ELSE 'reconcile' END, 'unknown: ' || msg);
    IF delay_ms IS NOT NULL THEN
        PERFORM billy._enqueue('reconcile_write', w.organization_id, jsonb_build_object('write_op_id', op),
                               clock_timestamp() + make_interval(secs => delay_ms / 1000.0), 20);
    END IF;
    PERFORM pg_advisory_unlock(hashtext('billy write'), op::integer);
END
$$;
COMMENT ON FUNCTION billy._write_unknown(bigint, text, integer, text) IS 'Marks a write''s outcome unknown, audits it and queues its reconciliation (after delay_ms); without delay_ms billy gives up and the write needs a person''s decision. Internal.';

-- _write_affected: the records a write's answer says changed, as the
-- mirror's parents (children point to their parent), and deletions.  Which
-- roots name what comes from the catalogs: roots that are resources of
-- billy.resources; the children of billy.resource_children as Billy
-- sideloads them (<singular><Key>, e.g. invoiceLines, each with its
-- <singular>Id); children of several kinds (balanceModifiers) by their
-- <x>Reference ("invoice:<id>"), <x> from the kind column <x>_type.
CREATE FUNCTION billy._write_affected(response jsonb) RETURNS TABLE (resource text, record_id text, deleted boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH sideload AS (
    SELECT ch.resource, ch.kind,
           CASE WHEN ch.kind IS NOT NULL OR ch.key LIKE r.singular || '%' THEN ch.key
                ELSE r.singular || upper(left(ch.key, 1)) || substr(ch.key, 2) END AS root,
           CASE WHEN ch.kind IS NULL THEN r.singular || 'Id'
                ELSE lower(left(x.camel, 1)) || substr(x.camel, 2) || 'Reference' END AS id_key
    FROM billy.resource_children ch JOIN billy.resources r ON r.name = ch.resource,
         LATERAL (SELECT replace(initcap(replace(regexp_replace(ch.kind_column, '_type$', ''), '_', ' ')), ' ', '')) x(camel)
)
SELECT DISTINCT ON (r, i) r, i, d FROM (
    SELECT k AS r, e ->> 'id' AS i, false AS d
    FROM jsonb_each(response) AS t(k, v), jsonb_array_elements(CASE WHEN jsonb_typeof(v) = 'array' THEN v ELSE '[]' END) e
    WHERE k IN (SELECT r.name FROM billy.resources r)
    UNION ALL
    SELECT s.resource, CASE WHEN s.kind IS NULL THEN e ->> s.id_key
                            WHEN split_part(e ->> s.id_key, ':', 1) = s.kind THEN split_part(e ->> s.id_key, ':', 2) END,
           false
    FROM sideload s,
         jsonb_array_elements(CASE WHEN jsonb_typeof(response -> s.root) = 'array' THEN response -> s.root ELSE '[]' END) e
    UNION ALL
    SELECT k, x, true
    FROM jsonb_each(coalesce(response -> 'meta' -> 'deletedRecords', '{}')) AS t(k, v),
         jsonb_array_elements_text(CASE WHEN jsonb_typeof(v) = 'array' THEN v ELSE '[]' END) x
    WHERE k IN (SELECT r.name FROM billy.resources r)
) a(r, i, d)
WHERE i IS NOT NULL AND i <> ''
ORDER BY r, i, d DESC
$$;
COMMENT ON FUNCTION billy._write_affected(jsonb) IS
'The mirrored records a write''s answer changed (plural roots that are resources of billy.resources, such as the transactions an approval booked; the children of billy.resource_children that Billy sideloads, mapped to their parents) or deleted (meta.deletedRecords). Internal.';

-- _write_matches: the records in a look-up's answer that are the write's
CREATE FUNCTION billy._write_matches(lookup jsonb, response jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    rec jsonb;
BEGIN
    IF lookup ->> 'kind' = 'record' THEN
        rec := response -> (lookup ->> 'root');
        IF rec IS NULL THEN
            RETURN '{}';
        END IF;
        IF lookup ? 'expect' AND NOT (SELECT bool_and(rec -> k = v OR (rec ->> k) = (v #>> '{}'))
                                      FROM jsonb_each(lookup -> 'expect') e(k, v)) THEN
            RETURN '{}';
        END IF;
        IF lookup ? 'expect_in' AND NOT (SELECT bool_and(v ? (rec ->> k)) FROM jsonb_each(lookup -> 'expect_in') e(k, v)) THEN
            RETURN '{}';
        END IF;
        RETURN ARRAY[coalesce(rec ->> 'id', '')];
    END IF;
    SELECT array_agg(CASE WHEN lookup ? 'id_from' THEN split_part(e ->> (lookup ->> 'id_from'), ':', 2)
                          WHEN lookup ? 'id_key' THEN e ->> (lookup ->> 'id_key') ELSE e ->> 'id' END ORDER BY n)
    INTO ids
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(response -> (lookup ->> 'root')) = 'array' THEN response -> (lookup ->> 'root') ELSE '[]' END)
         WITH ORDINALITY AS t(e, n)
    WHERE NOT coalesce(lookup -> 'exclude', '[]') ? (e ->> 'id')
      AND (NOT lookup ? 'match' OR (SELECT bool_and((e ->> k) IS NOT DISTINCT FROM (v #>> '{}')) FROM jsonb_each(lookup -> 'match') m(k, v)))
      AND (NOT lookup ? 'match_prefix' OR (SELECT bool_and(starts_with(e ->> k, v #>> '{}')) FROM jsonb_each(lookup -> 'match_prefix') m(k, v)));
    RETURN coalesce(ids, '{}');
END
$$;
COMMENT ON FUNCTION billy._write_matches(jsonb, jsonb) IS
'The ids of the records in Billy''s answer to a reconciliation look-up that match the write (none, one, or several: a duplicate or an ambiguity): a record (kind record) as expected; of a list (root), those not excluded whose members equal match and start with match_prefix, by their id, the id in the reference id_from names, or the value of id_key (a bank line''s matchId). Internal.';

------------------------------------------------------------------------------
-- What a person does about writes billy could not settle
------------------------------------------------------------------------------

CREATE FUNCTION billy.resolve_write(write_op_id bigint, outcome text, record_id text DEFAULT NULL, note text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    IF outcome IS NULL OR outcome NOT IN ('done', 'failed') THEN
        RAISE EXCEPTION 'outcome must be ''done'' or ''failed''' USING ERRCODE = '22023',
            HINT = 'done: the write is in Billy (pass record_id when it created a record); failed: Billy does not have it.';
    END IF;
    IF NOT pg_has_role(CURRENT_USER, 'billy_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" may not decide the outcome of a write', CURRENT_USER
            USING ERRCODE = '42501', HINT = 'It needs the billy_admin role.';
    END IF;
    -- as the caller: row-level security says which writes it sees
    SELECT * INTO w FROM billy.write_ops x WHERE x.id = write_op_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no write %', write_op_id USING ERRCODE = '22023', HINT = 'billy.write_ops lists the writes.';
    END IF;
    IF w.state <> 'unknown' THEN
        RAISE EXCEPTION 'write % is %, not unknown', write_op_id, w.state USING ERRCODE = '55000',
            HINT = 'Only a write whose outcome is unknown can be decided.';
    END IF;
    RETURN billy._write_resolve(write_op_id, outcome, record_id, note, CURRENT_USER);
END
$$;
COMMENT ON FUNCTION billy.resolve_write(bigint, text, text, text) IS
'Records what a person found in Billy about a write whose outcome is unknown (billy.write_ops state unknown, typically needs_decision): outcome ''done'' (it is in Billy; record_id names the record it made, when it made one) or ''failed'' (Billy does not have it; a new preview of the same write is then allowed). Nothing is sent to Billy; the decision is audited. For billy_admin. Returns the write''s row as JSON.';

CREATE FUNCTION billy._write_resolve(op bigint, outcome text, rid text, note text, actor name) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    UPDATE billy.write_ops SET state = outcome, needs_decision = false, finished_at = now(),
        record_id = coalesce(rid, record_id),
        reconciliation = format('decided by %s: %s%s', actor, outcome, coalesce(' (' || note || ')', ''))
    WHERE id = op AND state = 'unknown'
    RETURNING * INTO w;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'write % is no longer unknown', op USING ERRCODE = '55000';
    END IF;
    PERFORM billy._audit_append(actor, session_user, NULL, 'resolve:' || w.operation, w.organization_id,
        coalesce(split_part(w.request ->> 'path', '?', 1), w.operation),
        jsonb_build_object('write_op_id', w.id, 'outcome', outcome, 'record_id', rid, 'note', note), outcome);
    RETURN to_jsonb(w) - 'request' - 'args';
END
$$;
COMMENT ON FUNCTION billy._write_resolve(bigint, text, text, text, name) IS 'Sets an unknown write''s outcome as a person decided it, and audits that (as the extension owner). Internal.';

CREATE FUNCTION billy.write_checks(org text DEFAULT NULL)
RETURNS TABLE (check_name text, organization_id text, write_op_id bigint, record_ids text[], detail text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    o text := CASE WHEN org IS NOT NULL THEN billy._resolve_org(org) END;
BEGIN
    RETURN QUERY
    SELECT 'write_needs_decision', w.organization_id, w.id, CASE WHEN w.record_id IS NOT NULL THEN ARRAY[w.record_id] END,
           format('write %s (%s) has an unknown outcome billy could not settle: %s; %s. A person checks in Billy and calls billy.resolve_write.',
                  w.id, w.summary, coalesce(w.error, 'no answer'), coalesce(w.reconciliation, 'not reconciled'))
    FROM billy.write_ops w
    WHERE w.state = 'unknown' AND w.needs_decision AND (o IS NULL OR w.organization_id = o)
    UNION ALL
    SELECT 'write_unknown_long', w.organization_id, w.id, NULL,
           format('write %s (%s) has been unknown since %s; the worker should have settled it (is it running?).', w.id, w.summary, w.sent_at)
    FROM billy.write_ops w
    WHERE w.state = 'unknown' AND NOT w.needs_decision AND w.sent_at < now() - interval '1 hour'
      AND (o IS NULL OR w.organization_id = o)
    UNION ALL
    SELECT 'duplicate_external_id', d.organization_id,
           (SELECT max(x.id) FROM billy.write_ops x WHERE x.organization_id = d.organization_id AND x.operation = 'create_invoice'
              AND x.request -> 'body' -> 'invoice' ->> 'externalId' = d.external_id),
           d.ids,
           format('%s invoices in Billy share the externalId %s (%s): a write made one of them twice, or they were made so in Billy; delete the extra one in Billy.',
                  cardinality(d.ids), d.external_id, array_to_string(d.ids, ', '))
    FROM (SELECT i.organization_id, i.external_id, array_agg(i.id ORDER BY i.id) AS ids
          FROM billy.invoices i
          WHERE i.deleted_at IS NULL AND coalesce(i.external_id, '') <> '' AND (o IS NULL OR i.organization_id = o)
          GROUP BY i.organization_id, i.external_id HAVING count(*) > 1) d
    UNION ALL
    -- the write a done write named in "then" (an upload's attachment,
    -- billy.write_follow_ups): not sent, failed, or never taken up
    SELECT CASE WHEN f.write_op_id IS NULL THEN 'follow_up_unsent_long'
                WHEN f.follow_up_id IS NULL THEN 'follow_up_not_sent' ELSE 'follow_up_failed' END,
           w.organization_id, coalesce(fw.id, w.id), ARRAY[w.record_id],
           format('write %s (%s) was to be followed by %s of %s: %s; send it by hand (%s with fileId %s).',
                  w.id, w.summary, w.request #>> '{then,operation}', w.request #>> '{then,args}',
                  CASE WHEN f.write_op_id IS NULL THEN format('not sent since %s (is the worker running?)', w.finished_at)
                       WHEN f.follow_up_id IS NULL THEN coalesce(f.note, 'not sent')
                       ELSE format('write %s failed: %s', fw.id, coalesce(fw.error, 'no reason given')) END,
                  w.request #>> '{then,operation}', w.record_id)
    FROM billy.write_ops w
    LEFT JOIN billy.write_follow_ups f ON f.write_op_id = w.id
    LEFT JOIN billy.write_ops fw ON fw.id = f.follow_up_id
    WHERE w.request ? 'then' AND w.state = 'done' AND (o IS NULL OR w.organization_id = o)
      AND CASE WHEN f.write_op_id IS NULL THEN w.finished_at < now() - interval '1 hour'
               WHEN f.follow_up_id IS NULL THEN true
               ELSE fw.state = 'failed' END
    ORDER BY 1, 2, 3;
END
$$;
COMMENT ON FUNCTION billy.write_checks(text) IS
'What needs a person about writes, for one organization (id or name) or all the caller sees: write_needs_decision (an unknown outcome billy could not settle by looking in Billy, e.g. two records with the write''s externalId), write_unknown_long (unknown for over an hour: is the worker running?), duplicate_external_id (invoices in the mirror sharing an externalId, with the write that made them when billy did), and the writes a done write named to follow it (an upload''s attachment): follow_up_not_sent (billy did not send it, and why), follow_up_failed (sent, refused; write_op_id is the follow-up''s), follow_up_unsent_long (not taken up an hour after the first write: is the worker running?). Each says what to send by hand. No rows: nothing to do.';

GRANT SELECT ON billy.write_ops, billy.write_previews TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.write_checks(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.resolve_write(bigint, text, text, text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.preview_write(text, jsonb) TO billy_admin, billy_writer;
GRANT EXECUTE ON FUNCTION billy.commit_write(text) TO billy_admin, billy_writer;
GRANT EXECUTE ON FUNCTION billy.set_read_only(text, boolean) TO billy_admin;
GRANT SELECT ON billy.write_catalog TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.write_operations(), billy._schema_outline(jsonb) TO billy_reader;
-- what the public functions above call as their invoker (the plan
-- functions: 83-write-ops.sql)
GRANT EXECUTE ON FUNCTION billy._plan_write(text, jsonb), billy._require_writable(text),
    billy._raise_problems(jsonb), billy._commit_plan(text), billy._write_now(text, jsonb),
    billy._store_preview(text, jsonb), billy._write_resolve(bigint, text, text, text, name),
    billy._refuse_if_unsettled(text, text, jsonb), billy._check_args(jsonb, jsonb), billy._fill_path(text, jsonb),
    billy._is_date(text), billy._cvr_valid(text), billy._problem(text, text), billy._touch(text, text, text),
    billy._ids(text, text, text, text), billy._live(text, text, text), billy._missing(text, text, text),
    billy._urlencode(text) TO billy_admin, billy_writer;
GRANT EXECUTE ON FUNCTION billy._set_read_only(text, boolean) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy._is_date(text) TO billy_reader;

SELECT pg_catalog.pg_extension_config_dump('billy.write_catalog', 'WHERE NOT builtin');

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;
