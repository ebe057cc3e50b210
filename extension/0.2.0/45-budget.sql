------------------------------------------------------------------------------
-- One API budget per organization for the calls to Billy that roles can
-- trigger (src/budget.c): reads with max_age and misses, check_connection,
-- api_get, the worker's refreshes.  The sync and writes are not charged.
------------------------------------------------------------------------------

CREATE FUNCTION billy._api_budget(OUT organization_id text, OUT share text, OUT per_minute integer,
                                  OUT available integer, OUT spent bigint, OUT refused bigint)
RETURNS SETOF record
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_api_budget';
COMMENT ON FUNCTION billy._api_budget() IS
'Every organization''s API budget shares in shared memory, unfiltered. Internal: billy.api_budget shows what the caller may see.';

CREATE FUNCTION billy.api_budget(OUT organization_id text, OUT share text, OUT per_minute integer,
                                 OUT available integer, OUT spent bigint, OUT refused bigint)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT b.* FROM billy._api_budget() b
WHERE (SELECT billy._sees_all()) OR b.organization_id = ANY ((SELECT billy._visible_orgs())::text[])
ORDER BY b.organization_id, b.share
$$;
COMMENT ON FUNCTION billy.api_budget() IS
'The API budget of each organization the caller sees that has been used since the server started, per share: reader (roles outside billy_admin, and the worker''s refreshes of stale reads; billy.api_budget_per_minute) and admin (billy_admin members; billy.admin_api_budget_per_minute). per_minute, calls available now (at most a minute''s), spent and refused since start. A call beyond the budget fails with SQLSTATE 53400 before anything is sent. The sync and writes are not charged.';

GRANT EXECUTE ON FUNCTION billy.api_budget() TO billy_reader;
