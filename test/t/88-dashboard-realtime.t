#!/usr/bin/env bash
# Supabase Realtime's side of the dashboard, proven with logical decoding:
# after billy.enable_dashboard_realtime() a sync that changes invoices emits
# changes of the rollups on the publication (what a supabase-js channel on
# billy.analytics_daily receives), and a sync that changes nothing emits none.
# The publication is read the way Supabase Realtime reads it: a logical
# replication slot with pgoutput (PostgreSQL's own plugin; wal_level =
# logical in the test cluster, scripts/lib.sh).
source "$(dirname "$0")/tap.sh"

SLOT=dash_realtime_test
cleanup() {
    q "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null 2>&1
    # the publication billy made for this test goes with it (other tests update tables without it)
    [ "${MADE_PUB:-}" = 1 ] && q "DROP PUBLICATION IF EXISTS billy_realtime" >/dev/null 2>&1
}
trap cleanup EXIT

plan 7

is "$(q "SHOW wal_level")" "logical" "the cluster decodes logically (wal_level = logical)"
ORG_ID=$(q "SELECT billy.connect(billy_test.token(2))")
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$ORG_ID')" >/dev/null

had_pub=$(q "SELECT count(*) FROM pg_publication WHERE pubname IN ('billy_realtime', 'supabase_realtime')")
PUB=$(q "SELECT billy.enable_dashboard_realtime()")
[ "$had_pub" = 0 ] && MADE_PUB=1
is "$(q "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables
         WHERE pubname = '$PUB' AND tablename LIKE 'analytics%'")" \
   "analytics_customer_months,analytics_daily,analytics_open" "enable_dashboard_realtime() puts the rollups in $PUB"

q "SELECT 1 FROM pg_create_logical_replication_slot('$SLOT', 'pgoutput')" >/dev/null

# decoded: the changes (pgoutput messages I, U, D) since the last call, per
# rollup table; every other message (B, C, R, changes of mirror tables) aside
decoded() {
    q "WITH m AS (
           SELECT chr(get_byte(data, 0)) AS kind,
                  (get_byte(data, 1)::bigint << 24) | (get_byte(data, 2) << 16) | (get_byte(data, 3) << 8) | get_byte(data, 4) AS relid
           FROM pg_logical_slot_get_binary_changes('$SLOT', NULL, NULL,
                'proto_version', '1', 'publication_names', '$PUB'))
       SELECT coalesce(string_agg(t || '=' || n, ',' ORDER BY t), 'none') FROM (
           SELECT c.relname AS t, count(*) AS n FROM m JOIN pg_class c ON c.oid = m.relid
           WHERE m.kind IN ('I', 'U', 'D') AND c.relname LIKE 'analytics%' GROUP BY c.relname) x"
}
sync_now() { psql -X -q -A -t -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$ORG_ID')" >/dev/null; }

decoded >/dev/null   # whatever came before the slot's first read
sync_now
is "$(decoded)" "none" "a sync that changes nothing emits no rollup change"

mutate() {  # mutate N KINDS-JSON SEED: N upstream changes of those kinds (seeded: the same whatever ran before)
    curl -s -X POST -H 'Content-Type: application/json' \
        -d "{\"org\": \"$ORG_ID\", \"n\": $1, \"kinds\": $2, \"seed\": $3}" "$SANDBOX_CONTROL/mutate"
}
mutated=$(mutate 3 '["newInvoice", "creditNote"]' 17)
case "$mutated" in *'"applied":3'*|*'"applied": 3'*) ok 0 "the sandbox added 3 documents upstream" ;; *) ok 1 "the sandbox added 3 documents upstream"; diag "$mutated" ;; esac
sync_now
got=$(decoded)
case "$got" in *analytics_daily=*) ok 0 "a sync that changes invoices emits analytics_daily changes ($got)" ;; *) ok 1 "a sync that changes invoices emits analytics_daily changes"; diag "$got" ;; esac
mutate 2 '["pay"]' 18 >/dev/null
sync_now
got=$(decoded)
case "$got" in *analytics_open=*) ok 0 "a sync that sees payments emits analytics_open changes ($got)" ;; *) ok 1 "a sync that sees payments emits analytics_open changes"; diag "$got" ;; esac

sync_now
is "$(decoded)" "none" "the next sync, with nothing new upstream, emits none again"

done_testing
