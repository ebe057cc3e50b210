#!/usr/bin/env bash
# Upgrades: every released version installs, keeps its data through ALTER
# EXTENSION billy UPDATE, and ends with the same objects as a fresh install.
source "$(dirname "$0")/tap.sh"

default=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$BILLY_ROOT/billy.control")
versions=$(q "SELECT version FROM pg_available_extension_versions WHERE name = 'billy' ORDER BY string_to_array(version, '.')::int[]")
n=$(echo "$versions" | wc -w)
plan $((2 + 5 * n))

# signature: every object of schema billy as one sortable line
signature() {
    psql -X -A -t -d "$1" <<'SQL'
SELECT 'function ' || p.oid::regprocedure || ' -> ' || pg_get_function_result(p.oid)
       || ' ' || p.provolatile::text || p.prosecdef::text || coalesce(array_to_string(p.proconfig, ','), '')
       || ' acl=' || coalesce(p.proacl::text, '') || ' comment=' || coalesce(md5(obj_description(p.oid, 'pg_proc')), '')
FROM pg_proc p WHERE p.pronamespace = 'billy'::regnamespace
UNION ALL
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
       || ' comment=' || coalesce(md5(col_description(c.oid, a.attnum)), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'billy'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '')
       || ' rls=' || c.relrowsecurity || ' comment=' || coalesce(md5(obj_description(c.oid, 'pg_class')), '')
FROM pg_class c WHERE c.relnamespace = 'billy'::regnamespace AND c.relkind <> 'S'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'billy'::regnamespace
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'billy'::regnamespace
UNION ALL
SELECT 'policy ' || polrelid::regclass || ' ' || polname || ' ' || coalesce(pg_get_expr(polqual, polrelid), '')
FROM pg_policy WHERE polrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'billy'::regnamespace)
UNION ALL
SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname || ' ' || pg_get_triggerdef(oid)
FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'billy'::regnamespace)
ORDER BY 1;
SQL
}

createdb billy_fresh
psql -X -q -d billy_fresh -c "CREATE EXTENSION billy" >/dev/null
is "$(psql -X -A -t -d billy_fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'billy'")" "$default" \
    "a fresh install is at the default version $default"
signature billy_fresh >"$BILLY_WORK/signature.fresh"
ok $([ -s "$BILLY_WORK/signature.fresh" ]; echo $?) "a fresh install has $(wc -l <"$BILLY_WORK/signature.fresh") objects"

for v in $versions; do
    db=billy_from_$(echo "$v" | tr . _)
    createdb "$db"
    psql -X -q -d "$db" -c "CREATE EXTENSION billy VERSION '$v'" >/dev/null
    ok $? "version $v installs"
    # data written with the old version must survive the upgrade
    psql -X -q -d "$db" -c "SELECT billy._upsert_organization('{\"organization\":{\"id\":\"upgradeOrg\",\"name\":\"Opgradering ApS\",\"baseCurrencyId\":\"DKK\"}}')" >/dev/null
    ok $? "version $v stores an organization"
    psql -X -q -d "$db" -c "ALTER EXTENSION billy UPDATE" >/dev/null 2>&1
    is "$(psql -X -A -t -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'billy'")" "$default" \
        "ALTER EXTENSION billy UPDATE takes $v to $default"
    is "$(psql -X -A -t -d "$db" -c "SELECT name FROM billy.organizations WHERE id = 'upgradeOrg'")" "Opgradering ApS" \
        "data from $v survives the upgrade"
    signature "$db" >"$BILLY_WORK/signature.$v"
    if diff -u "$BILLY_WORK/signature.fresh" "$BILLY_WORK/signature.$v" >"$BILLY_WORK/signature.$v.diff"; then
        ok 0 "after upgrading from $v, every object equals a fresh install's"
    else
        ok 1 "after upgrading from $v, every object equals a fresh install's"
        sed 's/^/# /' "$BILLY_WORK/signature.$v.diff" | head -n 30
    fi
    dropdb "$db"
done
dropdb billy_fresh
done_testing
