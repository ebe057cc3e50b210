------------------------------------------------------------------------------
-- The audit trail: append-only, one SHA-256 hash chain per organization
--
-- Every write to Billy (billy.commit_write, imports, reconciliation) and
-- every MCP tool call lands here.  An entry's hash covers the previous
-- entry's hash and everything the entry says, so an entry changed or
-- removed behind the trigger's back (a superuser with the trigger disabled)
-- breaks the chain at that point: billy.verify_audit_log finds it.
-- Entries are kept: billy never deletes them (Bogføringsloven: five years).
------------------------------------------------------------------------------

CREATE TABLE billy.audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chain           text NOT NULL,
    seq             bigint NOT NULL,
    at              timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    actor_role      name NOT NULL,
    session_role    name NOT NULL,
    client          text,
    action          text NOT NULL,
    organization_id text,
    target          text,
    request         jsonb,
    outcome         text NOT NULL,
    prev_hash       bytea NOT NULL,
    hash            bytea NOT NULL,
    UNIQUE (chain, seq)
);
COMMENT ON TABLE billy.audit_log IS
'Append-only audit trail of every write to Billy and every MCP tool call: when (at), who (actor_role: the role that acted; session_role; client: application and address, or what the MCP client said it is), action (e.g. write:create_invoice, reconcile:create_invoice, import:contacts, mcp:tools/call), organization, target (e.g. invoices/<id>), a summary of the request with secrets redacted, and the outcome. Each organization has its own hash chain (chain = the organization id, or ''*'' for entries of no organization): hash = SHA-256(prev_hash || the entry), seq counts 1, 2, 3... A trigger refuses UPDATE, DELETE and TRUNCATE, even for superusers; billy.verify_audit_log detects a change made with the trigger disabled. Kept at least five years (Bogføringsloven); billy deletes nothing.';
CREATE INDEX audit_log_org ON billy.audit_log (organization_id, at);

CREATE FUNCTION billy._audit_refuse() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'billy.audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = '42501',
              HINT = 'Audit entries are kept as written (Bogføringsloven: at least five years). billy.verify_audit_log checks the hash chain.';
END
$$;
COMMENT ON FUNCTION billy._audit_refuse() IS 'Trigger function that refuses UPDATE, DELETE and TRUNCATE on billy.audit_log. Internal.';

CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON billy.audit_log
    FOR EACH ROW EXECUTE FUNCTION billy._audit_refuse();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON billy.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION billy._audit_refuse();

ALTER TABLE billy.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON billy.audit_log FOR SELECT
    USING ((SELECT billy._sees_all()) OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]));

-- the text an entry's hash covers: every field, unambiguously (a JSON array)
CREATE FUNCTION billy._audit_payload(e billy.audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN convert_to(jsonb_build_array(
    e.chain, e.seq, to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    e.actor_role, e.session_role, e.client, e.action, e.organization_id, e.target,
    e.request, e.outcome)::text, 'UTF8');
COMMENT ON FUNCTION billy._audit_payload(billy.audit_log) IS
'The bytes an audit entry''s hash covers after the previous hash: its fields as a JSON array (time in UTC with microseconds). Internal.';

-- _redact: values under keys that name secrets become "[redacted]", at any depth
CREATE FUNCTION billy._redact(j jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    IF j IS NULL THEN
        RETURN NULL;
    ELSIF jsonb_typeof(j) = 'object' THEN
        SELECT coalesce(jsonb_object_agg(k, CASE
                   WHEN k ~* '(token|password|passwd|secret|api_?key|authorization|credential|cookie|private_?key)'
                   THEN '"[redacted]"'::jsonb ELSE billy._redact(v) END), '{}'::jsonb)
        INTO result FROM jsonb_each(j) AS t(k, v);
        RETURN result;
    ELSIF jsonb_typeof(j) = 'array' THEN
        SELECT coalesce(jsonb_agg(billy._redact(v) ORDER BY n), '[]'::jsonb)
        INTO result FROM jsonb_array_elements(j) WITH ORDINALITY AS t(v, n);
        RETURN result;
    END IF;
    RETURN j;
END
$$;
COMMENT ON FUNCTION billy._redact(jsonb) IS
'A copy of a JSON value with the values of keys that name secrets (token, password, secret, api_key, authorization, credential, cookie, private_key) replaced by "[redacted]", at any depth. Internal.';

-- _audit_append links and stores one entry; called as the extension owner
CREATE FUNCTION billy._audit_append(actor name, sess name, client_info text, act text, org text,
                                    tgt text, req jsonb, result text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ch text := coalesce(org, '*');
    last billy.audit_log;
    e billy.audit_log;
BEGIN
    IF act IS NULL OR btrim(act) = '' THEN
        RAISE EXCEPTION 'an audit entry needs an action' USING ERRCODE = '22023';
    END IF;
    IF result IS NULL OR btrim(result) = '' THEN
        RAISE EXCEPTION 'an audit entry needs an outcome' USING ERRCODE = '22023';
    END IF;
    -- one appender per chain at a time: the chain is a sequence, not a tree
    PERFORM pg_advisory_xact_lock(hashtext('billy audit'), hashtext(ch));
    SELECT * INTO last FROM billy.audit_log WHERE chain = ch ORDER BY seq DESC LIMIT 1;
    e.chain := ch;
    e.seq := coalesce(last.seq, 0) + 1;
    e.at := clock_timestamp();
    e.actor_role := actor;
    e.session_role := sess;
    e.client := client_info;
    e.action := act;
    e.organization_id := org;
    e.target := tgt;
    e.request := billy._redact(req);
    e.outcome := result;
    e.prev_hash := coalesce(last.hash, '\x'::bytea);
    e.hash := sha256(e.prev_hash || billy._audit_payload(e));
    INSERT INTO billy.audit_log (chain, seq, at, actor_role, session_role, client, action,
                                 organization_id, target, request, outcome, prev_hash, hash)
    VALUES (e.chain, e.seq, e.at, e.actor_role, e.session_role, e.client, e.action,
            e.organization_id, e.target, e.request, e.outcome, e.prev_hash, e.hash)
    RETURNING id INTO e.id;
    RETURN e.id;
END
$$;
COMMENT ON FUNCTION billy._audit_append(name, name, text, text, text, text, jsonb, text) IS
'Appends one entry to an organization''s audit chain (redacting the request) and returns its id. Runs as the extension owner; callers use billy.audit. Internal.';

CREATE FUNCTION billy.audit(action text, org text, target text, request jsonb, outcome text,
                            client text DEFAULT NULL)
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_audit';
COMMENT ON FUNCTION billy.audit(text, text, text, jsonb, text, text) IS
'Records one entry in the append-only audit trail and returns its id: action (e.g. mcp:tools/call or a tool name), org (an organization id or name, or NULL), target (what was acted on, e.g. invoices/<id>), request (a JSON summary; values of keys naming secrets such as token or password are replaced by "[redacted]"), outcome (e.g. ok, error: <message>), client (who called, e.g. the MCP client''s name; default: application_name and the client address). The acting role is taken from the session, never from the arguments. The entry is chained by SHA-256 to the organization''s previous one. Use it to record every MCP tool call; billy''s own writes record themselves.';

CREATE FUNCTION billy.verify_audit_log(org text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    chains text[];
    ch text;
    n bigint;
    total bigint := 0;
    heads jsonb := '{}';
    bad record;
BEGIN
    IF org IS NULL THEN
        chains := ARRAY(SELECT DISTINCT chain FROM billy.audit_log ORDER BY 1);
    ELSIF org = '*' THEN
        chains := ARRAY['*'];
    ELSE
        chains := ARRAY[billy._resolve_org(org)];
    END IF;
    FOREACH ch IN ARRAY chains LOOP
        SELECT x.* INTO bad FROM (
            SELECT a.id, a.seq, a.at,
                   CASE
                       WHEN a.seq <> coalesce(lag(a.seq) OVER w, 0) + 1
                           THEN format('entry %s follows entry %s: entries between them were removed',
                                       a.seq, coalesce(lag(a.seq) OVER w, 0))
                       WHEN a.prev_hash <> coalesce(lag(a.hash) OVER w, '\x'::bytea)
                           THEN 'its prev_hash is not the hash of the entry before it: an entry was removed, inserted or re-hashed'
                       WHEN a.hash <> sha256(a.prev_hash || billy._audit_payload(a))
                           THEN 'its hash does not match its content: the entry was changed after it was written'
                   END AS problem
            FROM billy.audit_log a
            WHERE a.chain = ch
            WINDOW w AS (ORDER BY a.seq)
        ) x WHERE x.problem IS NOT NULL ORDER BY x.seq LIMIT 1;
        IF FOUND THEN
            RETURN jsonb_build_object('ok', false, 'chain', ch, 'broken_at_id', bad.id,
                                      'broken_at_seq', bad.seq, 'at', bad.at, 'problem', bad.problem);
        END IF;
        SELECT count(*) INTO n FROM billy.audit_log WHERE chain = ch;
        total := total + n;
        heads := heads || jsonb_build_object(ch, jsonb_build_object(
            'entries', n,
            'head', (SELECT encode(hash, 'hex') FROM billy.audit_log WHERE chain = ch ORDER BY seq DESC LIMIT 1)));
    END LOOP;
    RETURN jsonb_build_object('ok', true, 'entries', total, 'chains', heads);
END
$$;
COMMENT ON FUNCTION billy.verify_audit_log(text) IS
'Checks the audit trail''s hash chain of one organization (id or name; ''*'' for entries of no organization; NULL: every chain). Returns {"ok": true, "entries": N, "chains": {chain: {"entries", "head"}}} or, at the first broken link, {"ok": false, "chain", "broken_at_id", "broken_at_seq", "at", "problem"} saying whether the entry was changed or entries were removed. Keep the head hashes somewhere else too: removing the newest entries is only detectable against a head recorded earlier.';

GRANT SELECT ON billy.audit_log TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.audit(text, text, text, jsonb, text, text) TO billy_admin, billy_mcp;
GRANT EXECUTE ON FUNCTION billy.verify_audit_log(text) TO billy_reader;

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;
