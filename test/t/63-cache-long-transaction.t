#!/usr/bin/env bash
# A confirmation made inside a long transaction carries the time it was
# made, not the transaction's start: a sync 3 s into a transaction stamps
# the records it stores with when their page was asked for; a read 3 s into a transaction that
# wants an answer younger than 2 s confirms once, says fresh: true, and the
# next read in the same transaction needs no request.  Before, the GET's
# confirmation and the hot scan's were stamped with now() (the
# transaction's start) and looked 3 s old at once: never fresh, Billy
# asked again on every read.  Requests counted in the sandbox's statistics.
source "$(dirname "$0")/tap.sh"
plan 11

org=$(org1_synced products invoices contacts)
product=$(q "SELECT id FROM billy.products WHERE organization_id = '$org' AND deleted_at IS NULL ORDER BY id LIMIT 1")
# requests PATH-PATTERN: requests Billy answered on paths like it since the last reset
requests() {
    q "SELECT coalesce(sum((r ->> 'count')::int), 0) FROM jsonb_array_elements(billy_test.sandbox('GET', '/stats')::jsonb -> 'requests') r
       WHERE r ->> 'path' LIKE '$1'"
}

# a sync: the records a page changes are confirmed when the page was asked for
changed=$(q "SELECT string_agg(c ->> 'id', ',') FROM jsonb_array_elements(billy_test.sandbox('POST', '/mutate', '{\"org\":\"$org\",\"n\":3,\"kinds\":[\"editContact\"]}')::jsonb -> 'changes') c
             WHERE c ->> 'resource' = 'contacts'")
[ -n "$changed" ]; ok $? "the sandbox changed contacts upstream ($changed)"
out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 <<SQL
BEGIN;
DO \$\$ BEGIN PERFORM pg_sleep(3); END \$\$;
SELECT clock_timestamp() AS before \gset
SELECT count(*) FROM billy.sync_now('$org', ARRAY['contacts']) \g /dev/null
SELECT count(*), count(*) FILTER (WHERE confirmed_at >= :'before' AND confirmed_at <= clock_timestamp())
FROM billy.contacts WHERE organization_id = '$org' AND id = ANY (string_to_array('$changed', ','));
COMMIT;
SQL
)
n=$(echo "$changed" | tr ',' '\n' | wc -l)
is "$out" "$n|$n" "a sync 3 s into a transaction confirms the $n contacts it changed when their page was asked for, not at the transaction's start"
is "$(q "SELECT count(*) FROM pg_proc WHERE proname = '_apply_contacts' AND pronamespace = 'billy'::regnamespace")" 1 \
   "one apply function per resource (its confirmation time is an argument)"

# one record: a GET 3 s into the transaction
q "SELECT billy_test.sandbox('DELETE', '/stats')" >/dev/null
out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 <<SQL
BEGIN;
DO \$\$ BEGIN PERFORM pg_sleep(3); END \$\$;
SELECT f ->> 'source', f ->> 'fresh', (f ->> 'confirmed_at')::timestamptz - now() > interval '2.5 s'
FROM (SELECT billy.get_product('$org', '$product', max_age => '2 s') -> 'freshness' AS f) x;
SELECT confirmed_at - now() > interval '2.5 s' FROM billy.products WHERE organization_id = '$org' AND id = '$product';
SELECT f ->> 'source', f ->> 'fresh' FROM (SELECT billy.get_product('$org', '$product', max_age => '2 s') -> 'freshness' AS f) x;
COMMIT;
SQL
)
is "$(echo "$out" | sed -n 1p)" "api|true|t" "a GET 3 s into a transaction answers fresh, confirmed when Billy was asked (not at the transaction's start)"
is "$(echo "$out" | sed -n 2p)" "t" "the mirror row's confirmed_at is the time of the GET"
is "$(echo "$out" | sed -n 3p)" "mirror|true" "so the next read in the same transaction is fresh from the mirror"
is "$(requests '/v2/products/%')" 1 "one GET in all"

# the unpaid set: a hot scan 3 s into the transaction
q "SELECT billy_test.sandbox('DELETE', '/stats')" >/dev/null
before=$(q "SELECT count(*) FROM billy.sync_runs WHERE organization_id = '$org' AND resource = 'invoices' AND mode = 'hot'")
out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 <<SQL
BEGIN;
DO \$\$ BEGIN PERFORM pg_sleep(3); END \$\$;
SELECT f ->> 'fresh', f ->> 'stale_rows', f ->> 'age_seconds' FROM (SELECT billy.list_invoices('$org', paid => false, max_age => '2 s') -> 'freshness' AS f) x;
SELECT started_at - now() > interval '2.5 s' FROM billy.sync_runs WHERE organization_id = '$org' AND resource = 'invoices' AND mode = 'hot' ORDER BY id DESC LIMIT 1;
COMMIT;
SQL
)
set -- $(echo "$out" | sed -n 1p | tr '|' ' ')
is "$1 $2" "true 0" "list_invoices(paid => false, max_age => 2 s) 3 s into a transaction: fresh, no stale row (age $3 s)"
is "$(echo "$out" | sed -n 2p)" "t" "the hot scan is stamped with when it started, not the transaction's start"
is "$(q "SELECT count(*) - $before FROM billy.sync_runs WHERE organization_id = '$org' AND resource = 'invoices' AND mode = 'hot'")" 1 \
   "one hot scan confirmed every unpaid invoice"
is "$(requests '/v2/invoices/%')" 0 "and no invoice was looked up on its own"

q "ALTER SYSTEM RESET billy.hot_sync_interval" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
done_testing
