-- Parity of the two places the row-level-security rule is applied: the
-- read path in C (billy.get_<x>: cache.c's may_read, organizations.c's
-- name resolution, both through billy_org_visible) and PostgreSQL's own
-- policies on the mirror tables (a plain SELECT as the same role).  For
-- every role fixture, every organization (by id and by name) and every
-- resource with a get function, the C read returns the record exactly when
-- the SELECT sees it.  The resources come from the get functions
-- themselves (billy.get_<x>(org, id, max_age) reads billy.<x>s), so a new
-- read path is covered without touching this file.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(13);

SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1));
SELECT billy.connect(billy_test.token(2));
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now();

-- the role fixtures
CREATE ROLE parity_one NOLOGIN IN ROLE billy_reader;          -- granted organization 1
CREATE ROLE parity_member NOLOGIN IN ROLE parity_one;          -- a member of it
CREATE ROLE parity_all NOLOGIN IN ROLE billy_reader;          -- granted '*'
CREATE ROLE parity_none NOLOGIN IN ROLE billy_reader;         -- granted nothing
CREATE ROLE parity_writer NOLOGIN IN ROLE billy_writer;       -- organization 2 with writes
CREATE ROLE parity_mcp NOLOGIN IN ROLE billy_mcp;             -- an MCP client's role, organization 1
CREATE ROLE parity_bypass NOLOGIN BYPASSRLS IN ROLE billy_reader; -- BYPASSRLS, granted nothing
CREATE ROLE parity_admin NOLOGIN IN ROLE billy_admin;         -- a member of billy_admin
CREATE ROLE authenticated NOLOGIN IN ROLE billy_reader;       -- Supabase: its JWT claim decides
SELECT billy.grant_organization('parity_one', billy_test.org(1));
SELECT billy.grant_organization('parity_all');
SELECT billy.grant_organization('parity_writer', billy_test.org(2), writes => true);
SELECT billy.grant_organization('parity_mcp', billy_test.org(1));
SELECT set_config('request.jwt.claims',
                  json_build_object('billy_organizations', json_build_array(billy_test.org(2)))::text, true);

-- one record of every resource with a get function, in every organization
CREATE FUNCTION pg_temp.first_id(tbl text, org text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    found text;
BEGIN
    EXECUTE format('SELECT id FROM billy.%I WHERE organization_id = $1 AND deleted_at IS NULL ORDER BY id LIMIT 1', tbl)
        INTO found USING org;
    RETURN found;
END $$;
CREATE TEMP TABLE probe AS
SELECT g.resource, g.tbl, o.id AS org, o.name AS org_name, r.id AS record
FROM (SELECT substr(p.proname, 5) AS resource, substr(p.proname, 5) || 's' AS tbl
      FROM pg_proc p
      WHERE p.pronamespace = 'billy'::regnamespace AND p.proname LIKE 'get\_%'
        AND pg_get_function_identity_arguments(p.oid) = 'org text, id text, max_age interval') g
CROSS JOIN billy.organizations o
CROSS JOIN LATERAL pg_temp.first_id(g.tbl, o.id) r(id)
WHERE o.id IN (billy_test.org(1), billy_test.org(2));
GRANT SELECT ON probe TO PUBLIC;

-- verdicts: 'row' when the read returns the record, else what stopped it
CREATE FUNCTION pg_temp.c_read(resource text, org text, record text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result jsonb;
BEGIN
    EXECUTE format('SELECT billy.get_%s($1, $2)', resource) INTO result USING org, record;
    RETURN CASE WHEN result IS NULL THEN 'none' ELSE 'row' END;
EXCEPTION WHEN OTHERS THEN
    RETURN 'error ' || SQLSTATE;
END $$;

CREATE FUNCTION pg_temp.mismatches(r name) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    seen boolean;
    by_id text;
    by_name text;
    out text := '';
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    FOR p IN SELECT * FROM probe ORDER BY resource, org LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM billy.%I WHERE organization_id = $1 AND id = $2)', p.tbl)
            INTO seen USING p.org, p.record;
        by_id := pg_temp.c_read(p.resource, p.org, p.record);
        by_name := pg_temp.c_read(p.resource, p.org_name, p.record);
        IF (by_id = 'row') IS DISTINCT FROM seen OR (by_name = 'row') IS DISTINCT FROM seen THEN
            out := out || format('%s %s: SELECT %s, get by id %s, by name %s; ',
                                 p.resource, p.org, CASE WHEN seen THEN 'sees it' ELSE 'does not' END, by_id, by_name);
        END IF;
        INSERT INTO pg_temp.verdicts VALUES (r, seen);
    END LOOP;
    RESET ROLE;
    RETURN out;
END $$;
CREATE TEMP TABLE verdicts (role name, seen boolean);
GRANT INSERT ON verdicts TO PUBLIC;

SELECT ok((SELECT count(DISTINCT resource) FROM probe) >= 5
          AND (SELECT count(*) FROM probe) = 2 * (SELECT count(DISTINCT resource) FROM probe),
          'a record of every resource with a get function, in both organizations');

SELECT is(pg_temp.mismatches(r), '', format('%s: the C read path returns exactly what row-level security lets it SELECT', r))
FROM unnest(ARRAY['postgres', 'billy_admin', 'parity_admin', 'parity_one', 'parity_member', 'parity_all',
                  'parity_none', 'parity_writer', 'parity_mcp', 'parity_bypass', 'authenticated']::name[]) r;

SELECT ok((SELECT bool_or(seen) AND bool_or(NOT seen) FROM verdicts),
          'the fixtures cover records a role sees and records it does not');

SELECT * FROM finish();
ROLLBACK;
