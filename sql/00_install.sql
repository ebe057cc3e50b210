-- billy installs into schema billy with its roles, and grants PUBLIC nothing.
CREATE EXTENSION billy;

SELECT extversion, extrelocatable, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'billy';

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'billy\_%' ORDER BY 1;

-- the SQL API: every public function, its arguments, and which billy role may call it
SELECT p.proname,
       regexp_replace(pg_get_function_identity_arguments(p.oid), '(, )?OUT [^,]*', '', 'g') AS arguments,
       coalesce(array_to_string(ARRAY(
           SELECT r FROM unnest(ARRAY['billy_reader', 'billy_admin', 'billy_mcp']) r
           WHERE has_function_privilege(r, p.oid, 'EXECUTE')), ', '), '') AS callers
FROM pg_proc p
WHERE p.pronamespace = 'billy'::regnamespace AND p.proname NOT LIKE '\_%'
ORDER BY 1, 2;

-- internal functions (names starting with _) that a billy role may call: only
-- what row-level security and the public functions need
SELECT p.proname,
       array_to_string(ARRAY(
           SELECT r FROM unnest(ARRAY['billy_reader', 'billy_admin', 'billy_mcp']) r
           WHERE has_function_privilege(r, p.oid, 'EXECUTE')), ', ') AS callers
FROM pg_proc p
WHERE p.pronamespace = 'billy'::regnamespace AND p.proname LIKE '\_%'
  AND (has_function_privilege('billy_reader', p.oid, 'EXECUTE')
       OR has_function_privilege('billy_admin', p.oid, 'EXECUTE')
       OR has_function_privilege('billy_mcp', p.oid, 'EXECUTE'))
ORDER BY 1;

-- tables and views, with what each role may do
SELECT c.relname, c.relkind, c.relrowsecurity AS rls,
       has_table_privilege('billy_reader', c.oid, 'SELECT') AS reader_reads,
       has_table_privilege('billy_admin', c.oid, 'INSERT') AS admin_inserts
FROM pg_class c
WHERE c.relnamespace = 'billy'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
ORDER BY 1;

-- nothing is executable or readable by PUBLIC
SELECT p.oid::regprocedure AS executable_by_public
FROM pg_proc p
WHERE p.pronamespace = 'billy'::regnamespace
  AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT c.oid::regclass AS readable_by_public
FROM pg_class c
WHERE c.relnamespace = 'billy'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
  AND has_table_privilege('public', c.oid, 'SELECT');

-- every function and table says what it is for
SELECT p.oid::regprocedure AS function_without_comment
FROM pg_proc p
WHERE p.pronamespace = 'billy'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT c.oid::regclass AS table_without_comment
FROM pg_class c
WHERE c.relnamespace = 'billy'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
  AND obj_description(c.oid, 'pg_class') IS NULL;

-- every function that is not C pins its search_path (aggregates have no
-- code of their own: their support functions are checked)
SELECT p.oid::regprocedure AS function_without_search_path
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'billy'::regnamespace AND l.lanname <> 'c' AND p.prokind <> 'a'
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
