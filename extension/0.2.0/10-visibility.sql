------------------------------------------------------------------------------
-- Who sees which organization: row-level security on every mirror table
------------------------------------------------------------------------------

CREATE TABLE billy.organization_grants (
    role            name NOT NULL,
    organization_id text NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by      name NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (role, organization_id)
);
COMMENT ON TABLE billy.organization_grants IS
'Which roles see which organizations'' data. organization_id ''*'' means every organization. Members of billy_admin see every organization; other roles see the organizations granted to a role they are a member of, or listed in their Supabase JWT (see billy._visible_orgs).';
ALTER TABLE billy.organization_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_grants ON billy.organization_grants FOR SELECT
    USING (pg_catalog.pg_has_role(CURRENT_USER, role, 'MEMBER'));
CREATE POLICY admins_manage ON billy.organization_grants FOR ALL TO billy_admin
    USING (true) WITH CHECK (true);
SELECT pg_catalog.pg_extension_config_dump('billy.organization_grants', '');

CREATE FUNCTION billy._sees_all() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_has_role(CURRENT_USER, 'billy_admin', 'MEMBER')
    OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = CURRENT_USER AND (rolsuper OR rolbypassrls))
    OR EXISTS (SELECT 1 FROM billy.organization_grants g
               WHERE g.organization_id = '*' AND pg_has_role(CURRENT_USER, g.role, 'MEMBER'));
COMMENT ON FUNCTION billy._sees_all() IS
'Whether the current role sees every organization: billy_admin members, superusers, and roles granted ''*''. Used by row-level security. Internal.';

CREATE FUNCTION billy._visible_orgs() RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text[];
    claims jsonb;
BEGIN
    SELECT coalesce(array_agg(DISTINCT g.organization_id), '{}')
    INTO result
    FROM billy.organization_grants g
    WHERE pg_has_role(CURRENT_USER, g.role, 'MEMBER');
    -- Supabase: PostgREST sets request.jwt.claims for its API roles; only
    -- those roles may use the claim (anyone can SET a custom setting).
    IF CURRENT_USER::text = ANY (string_to_array(current_setting('billy.jwt_roles', true), ',')) THEN
        BEGIN
            claims := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
        EXCEPTION WHEN invalid_text_representation THEN
            claims := NULL;
        END;
        IF claims IS NOT NULL THEN
            result := result || ARRAY(
                SELECT jsonb_array_elements_text(c)
                FROM (VALUES (claims -> 'billy_organizations'),
                             (claims -> 'app_metadata' -> 'billy_organizations')) v(c)
                WHERE jsonb_typeof(c) = 'array');
        END IF;
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._visible_orgs() IS
'The organizations the current role may see: granted to it (billy.grant_organization) or, for the roles in billy.jwt_roles, listed in the Supabase JWT claim billy_organizations (top level or in app_metadata). Used by row-level security. Internal.';

CREATE FUNCTION billy.grant_organization(role name, org text DEFAULT NULL) RETURNS void
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
    INSERT INTO billy.organization_grants (role, organization_id) VALUES (role, target)
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION billy.grant_organization(name, text) IS
'Lets role (and its members) see one organization''s data (org: id or name), or every organization when org is NULL or ''*''. Row-level security does the rest. The role also needs billy_reader (or billy_mcp) to use billy at all.';

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
