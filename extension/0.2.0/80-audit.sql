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
'Append-only audit trail of every write to Billy and every MCP tool call (each in full, except successful calls of read-only tools: one entry per minute, role, tool, organization and outcome, whose request is {"calls", "clients", "first_at", "last_at"}): when (at), who (actor_role: the role that acted; session_role; client: application and address, or what the MCP client said it is), action (e.g. write:create_invoice, reconcile:create_invoice, import:contacts, mcp:tools/call), organization, target (e.g. invoices/<id>), a summary of the request with secrets redacted, and the outcome. Each organization has its own hash chain (chain = the organization id, or ''*'' for entries of no organization): hash = SHA-256(prev_hash || the entry), seq counts 1, 2, 3... A trigger refuses UPDATE, DELETE and TRUNCATE, even for superusers; billy.verify_audit_log detects a change made with the trigger disabled. Kept at least five years (Bogføringsloven); billy deletes nothing.';
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
LANGUAGE C IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'billy_redact';
COMMENT ON FUNCTION billy._redact(jsonb) IS
'A copy of a JSON value as the audit trail keeps it: the values of keys that name secrets (token, password, secret, api_key, authorization, credential, cookie, private_key) replaced by "[redacted]", and texts longer than 500 characters (a CSV file) or under a key naming base64 (a file''s bytes, content_base64) by {"length", "sha256"}, at any depth. Internal.';

CREATE TABLE billy.audit_heads (
    chain text PRIMARY KEY,
    seq   bigint NOT NULL,
    hash  bytea NOT NULL
);
COMMENT ON TABLE billy.audit_heads IS
'The last entry of each audit chain (its seq and hash), kept apart from billy.audit_log: appending is O(1) whatever the size of the log, appenders to one chain queue on its row, and billy.verify_audit_log compares the log''s last entry with it, so removing the newest entries shows.';
ALTER TABLE billy.audit_heads ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON billy.audit_heads FOR SELECT
    USING ((SELECT billy._sees_all()) OR chain OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]));

-- _audit_append links and stores one entry; called as the extension owner
CREATE FUNCTION billy._audit_append(actor name, sess name, client_info text, act text, org text,
                                    tgt text, req jsonb, result text, happened timestamptz DEFAULT NULL)
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
    -- one appender per chain at a time, queued on the chain's head row
    INSERT INTO billy.audit_heads (chain, seq, hash) VALUES (ch, 0, '\x') ON CONFLICT (chain) DO NOTHING;
    SELECT h.seq, h.hash INTO last.seq, last.hash FROM billy.audit_heads h WHERE h.chain = ch FOR UPDATE;
    e.chain := ch;
    e.seq := last.seq + 1;
    e.at := coalesce(happened, clock_timestamp());
    e.actor_role := actor;
    e.session_role := sess;
    e.client := client_info;
    e.action := act;
    e.organization_id := org;
    e.target := tgt;
    e.request := billy._redact(req);
    e.outcome := result;
    e.prev_hash := last.hash;
    e.hash := sha256(e.prev_hash || billy._audit_payload(e));
    INSERT INTO billy.audit_log (chain, seq, at, actor_role, session_role, client, action,
                                 organization_id, target, request, outcome, prev_hash, hash)
    VALUES (e.chain, e.seq, e.at, e.actor_role, e.session_role, e.client, e.action,
            e.organization_id, e.target, e.request, e.outcome, e.prev_hash, e.hash)
    RETURNING id INTO e.id;
    UPDATE billy.audit_heads SET seq = e.seq, hash = e.hash WHERE chain = ch;
    RETURN e.id;
END
$$;
COMMENT ON FUNCTION billy._audit_append(name, name, text, text, text, text, jsonb, text, timestamptz) IS
'Appends one entry to an organization''s audit chain (redacting the request) and returns its id. Runs as the extension owner; callers use billy.audit. Internal.';

-- Entries recorded on hot paths (every MCP tool call) are queued here at once,
-- without taking the chain's lock, and the worker chains them in order within
-- seconds (billy._audit_chain_pending).
CREATE TABLE billy.audit_pending (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    actor_role      name NOT NULL,
    session_role    name NOT NULL,
    client          text,
    action          text NOT NULL,
    organization_id text,
    target          text,
    request         jsonb,
    outcome         text NOT NULL,
    aggregate       boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE billy.audit_pending IS
'Audit entries recorded but not chained yet: every MCP tool call lands here at once (no lock, no hash), and the worker moves them, in order and with their own times, into billy.audit_log''s hash chains within a few seconds. aggregate: a successful call of a read-only tool; the worker chains those as one entry per minute, role, action, organization, target and outcome whose request counts the calls ({"calls", "clients", "first_at", "last_at"}). billy.audit_trail shows both.';
ALTER TABLE billy.audit_pending ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON billy.audit_pending FOR SELECT
    USING ((SELECT billy._sees_all()) OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]));

CREATE FUNCTION billy._audit_chain_pending(batch integer DEFAULT 5000) RETURNS integer
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_audit_chain_pending';
COMMENT ON FUNCTION billy._audit_chain_pending(integer) IS
'Moves queued audit entries, oldest first, into their organizations'' hash chains; returns how many. The worker calls it every few seconds. Internal.';

CREATE VIEW billy.audit_trail WITH (security_invoker = true) AS
SELECT a.id, a.chain, a.seq, a.at, a.actor_role, a.session_role, a.client, a.action,
       a.organization_id, a.target, a.request, a.outcome, true AS chained
FROM billy.audit_log a
UNION ALL
SELECT NULL, COALESCE(p.organization_id, '*'), NULL, p.at, p.actor_role, p.session_role, p.client,
       p.action, p.organization_id, p.target, p.request, p.outcome, false
FROM billy.audit_pending p;
COMMENT ON VIEW billy.audit_trail IS
'The whole audit trail: entries in their hash chains (chained), and those recorded in the last seconds that the worker has not chained yet.';

CREATE FUNCTION billy.audit(action text, org text, target text, request jsonb, outcome text,
                            client text DEFAULT NULL)
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_audit';
COMMENT ON FUNCTION billy.audit(text, text, text, jsonb, text, text) IS
'Records one entry in the append-only audit trail and returns its id: action (e.g. mcp:tools/call or a tool name), org (an organization id or name, or NULL), target (what was acted on, e.g. invoices/<id>), request (a JSON summary; values of keys naming secrets such as token or password are replaced by "[redacted]"), outcome (e.g. ok, error: <message>), client (who called, e.g. the MCP client''s name; default: application_name and the client address). The acting role is taken from the session, never from the arguments. The entry is chained by SHA-256 to the organization''s previous one. Lengths are capped (22001 beyond them): action 100 characters, target 500, outcome 2000, client 200, the request 16384 bytes of JSON after redaction. For administrators (billy_admin) recording what they did outside billy; billy''s writes and MCP tool calls record themselves.';

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
        IF EXISTS (SELECT 1 FROM billy.audit_heads h
                   LEFT JOIN LATERAL (SELECT a.seq, a.hash FROM billy.audit_log a
                                      WHERE a.chain = ch ORDER BY a.seq DESC LIMIT 1) l ON true
                   WHERE h.chain = ch AND (l.seq IS DISTINCT FROM h.seq OR l.hash IS DISTINCT FROM h.hash))
        THEN
            RETURN jsonb_build_object('ok', false, 'chain', ch, 'broken_at_seq',
                                      (SELECT seq FROM billy.audit_heads WHERE chain = ch),
                                      'problem', 'the chain ends before its recorded head: the newest entries were removed');
        END IF;
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

GRANT SELECT ON billy.audit_log, billy.audit_heads, billy.audit_pending, billy.audit_trail TO billy_reader;
-- Not billy_mcp, not readers: the MCP layer records its own calls as the
-- owner (src/mcp/tools.c), and a role AI clients connect as must not write entries of
-- its choosing into a log nobody can delete from.
GRANT EXECUTE ON FUNCTION billy.audit(text, text, text, jsonb, text, text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.verify_audit_log(text) TO billy_reader;

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;
