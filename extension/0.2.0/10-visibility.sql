------------------------------------------------------------------------------
-- Who sees which organization: row-level security on every mirror table
------------------------------------------------------------------------------

-- billy_writer: may write to Billy, but only to the organizations granted to
-- it (or a role it is a member of) with writes => true; sees only those it
-- was granted, like billy_reader.  (billy_admin writes to every one.)
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'billy_writer') THEN
        CREATE ROLE billy_writer NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('billy_writer', 'billy_reader', 'MEMBER') THEN
        GRANT billy_reader TO billy_writer;
    END IF;
END
$roles$;
GRANT USAGE ON SCHEMA billy TO billy_writer;

CREATE TABLE billy.organization_grants (
    role            name NOT NULL,
    organization_id text NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by      name NOT NULL DEFAULT CURRENT_USER,
    writes          boolean NOT NULL DEFAULT false,
    PRIMARY KEY (role, organization_id)
);
COMMENT ON TABLE billy.organization_grants IS
'Which roles see which organizations'' data, and may write to them (writes: for members of billy_writer). organization_id ''*'' means every organization. Members of billy_admin see every organization; other roles see the organizations granted to a role they are a member of, or listed in their Supabase JWT (see billy._visible_orgs).';
ALTER TABLE billy.organization_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_grants ON billy.organization_grants FOR SELECT
    USING (pg_catalog.pg_has_role(CURRENT_USER, role, 'MEMBER'));
CREATE POLICY admins_manage ON billy.organization_grants FOR ALL TO billy_admin
    USING (true) WITH CHECK (true);
SELECT pg_catalog.pg_extension_config_dump('billy.organization_grants', '');

CREATE FUNCTION billy._sees_all() RETURNS boolean
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_sees_all';
COMMENT ON FUNCTION billy._sees_all() IS
'Whether the current role sees every organization: billy_admin members, superusers, roles with BYPASSRLS, and roles granted ''*''. Cached per backend until roles or grants change. Used by row-level security. Internal.';

CREATE FUNCTION billy._visible_orgs() RETURNS text[]
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_visible_orgs';
COMMENT ON FUNCTION billy._visible_orgs() IS
'The organizations the current role may see: granted to it or a role it is a member of (billy.grant_organization) and, for the roles in billy.jwt_roles, listed in the Supabase JWT claim billy_organizations (top level or in app_metadata). Cached per backend until roles, grants, the claim or billy.jwt_roles change. Used by row-level security. Internal.';

CREATE FUNCTION billy._grants_changed() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_grants_changed';
COMMENT ON FUNCTION billy._grants_changed() IS
'Statement trigger of billy.organization_grants: every backend recomputes what its role may see once the change commits. Internal.';

CREATE TRIGGER grants_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billy.organization_grants
    FOR EACH STATEMENT EXECUTE FUNCTION billy._grants_changed();

CREATE FUNCTION billy.grant_organization(role name, org text DEFAULT NULL, writes boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text;
BEGIN
    IF role IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = '42704';
    END IF;
    target := CASE WHEN org IS NULL OR org = '*' THEN '*' ELSE billy._resolve_org(org) END;
    INSERT INTO billy.organization_grants AS g (role, organization_id, writes)
    VALUES (role, target, coalesce(grant_organization.writes, false))
    ON CONFLICT ON CONSTRAINT organization_grants_pkey DO UPDATE SET writes = EXCLUDED.writes
    WHERE g.writes IS DISTINCT FROM EXCLUDED.writes;
END
$$;
COMMENT ON FUNCTION billy.grant_organization(name, text, boolean) IS
'Lets role (and its members) see one organization''s data (org: id or name), or every organization when org is NULL or ''*''. Row-level security does the rest. The role also needs billy_reader (or billy_mcp) to use billy at all. writes => true also lets a member of billy_writer write to that organization (previews, commits, imports), and to no other; granting again sets writes as given.';

CREATE FUNCTION billy._may_write(org text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_has_role(CURRENT_USER, 'billy_admin', 'MEMBER')
    OR (pg_has_role(CURRENT_USER, 'billy_writer', 'MEMBER')
        AND EXISTS (SELECT 1 FROM billy.organization_grants g
                    WHERE g.writes AND g.organization_id IN (org, '*') AND pg_has_role(CURRENT_USER, g.role, 'MEMBER')));
COMMENT ON FUNCTION billy._may_write(text) IS
'Whether the current role may write to the organization: a member of billy_admin, or of billy_writer with the organization granted with writes => true (billy.grant_organization). Internal.';
GRANT EXECUTE ON FUNCTION billy._may_write(text) TO billy_reader;

CREATE FUNCTION billy.revoke_organization(role name, org text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    DELETE FROM billy.organization_grants g
    WHERE g.role = revoke_organization.role
      AND g.organization_id = CASE WHEN org IS NULL OR org = '*' THEN '*' ELSE billy._resolve_org(org) END;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$$;
COMMENT ON FUNCTION billy.revoke_organization(name, text) IS
'Undoes billy.grant_organization. Returns whether a grant existed.';

ALTER TABLE billy.organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON billy.organizations FOR SELECT
    USING ((SELECT billy._sees_all()) OR id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]));

-- A table whose rows a backend keeps in C (the MCP registry, the
-- organizations the audit resolves) tells every backend when it changes.
CREATE FUNCTION billy._invalidate_cached() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_invalidate_cached';
COMMENT ON FUNCTION billy._invalidate_cached() IS
'Statement trigger: tells every backend that the table changed (a relcache invalidation, sent at commit), so copies kept in C are read again. Internal.';
REVOKE ALL ON FUNCTION billy._invalidate_cached() FROM PUBLIC;

CREATE TRIGGER organizations_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billy.organizations
    FOR EACH STATEMENT EXECUTE FUNCTION billy._invalidate_cached();
