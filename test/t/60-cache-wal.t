#!/usr/bin/env bash
# A read writes no WAL: 1,000 billy.get_invoice calls on fresh rows move
# pg_current_wal_lsn() by nothing (the worker's flush is held off while
# they run), EXPLAIN (WAL) counts no WAL record for them, and they are all
# counted in shared memory; the worker's flush then writes them, in one go,
# to billy.cache_stats.
source "$(dirname "$0")/tap.sh"
plan 8

q "SELECT billy_test.clear_faults()" >/dev/null
org=$(q "SELECT billy_test.org(1)")
q "SELECT billy.connect(billy_test.token(1))" >/dev/null
q "ALTER SYSTEM SET billy.hot_sync_interval = 0" >/dev/null
q "ALTER SYSTEM SET billy.cache_flush_interval_ms = 3600000" >/dev/null
q "ALTER SYSTEM SET autovacuum = off" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
quiet_queue
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org', ARRAY['invoices'])" >/dev/null
# the worker's pending flush (if any) happens now, not during the reads
q "SELECT billy._cache_flush_now()" >/dev/null
sleep 1
q "CHECKPOINT" >/dev/null

# 100 paid invoices (fresh for 6 hours), each read 10 times; none that an
# earlier test changed upstream (a change shortens its TTL below 6 hours)
reads="SELECT count(billy.get_invoice('$org', i.id)) FROM billy.invoices i, generate_series(1, 10)
       WHERE i.id IN (SELECT v.id FROM billy.invoices v WHERE v.organization_id = '$org' AND v.is_paid
                                         AND NOT EXISTS (SELECT 1 FROM billy.changes c WHERE c.organization_id = '$org'
                                                         AND c.resource = 'invoices' AND c.record_id = v.id AND c.operation <> 'insert')
                                         ORDER BY id LIMIT 100)"
before=$(q "SELECT coalesce(sum(reads), 0) FROM billy._cache_counters() WHERE organization_id = '$org' AND resource = 'invoices'")
moved=-1
for attempt in 1 2 3; do
    lsn0=$(q "SELECT pg_current_wal_insert_lsn()")
    n=$(q "$reads")
    lsn1=$(q "SELECT pg_current_wal_insert_lsn()")
    moved=$(q "SELECT '$lsn1'::pg_lsn - '$lsn0'::pg_lsn")
    [ "$moved" = 0 ] && break
    diag "attempt $attempt: WAL moved by $moved bytes (another process?); again"
    sleep 1
done
is "$n" 1000 "1,000 reads of fresh invoices"
is "$moved" 0 "move pg_current_wal_lsn() by nothing"
is "$(q "SELECT sum(reads) - $before FROM billy._cache_counters() WHERE organization_id = '$org' AND resource = 'invoices'")" \
   $((1000 * attempt)) "and are all counted, in shared memory"
is "$(q "SELECT count(*) FROM billy._cache_counters() WHERE organization_id = '$org' AND resource = 'invoices' AND reads > 0")" 100 \
   "one counter per row read"

explain=$(q "EXPLAIN (ANALYZE, WAL, FORMAT JSON) $reads")
is "$(echo "$explain" | python3 -c "import json,sys; p=json.load(sys.stdin)[0]['Plan']; print(p['WAL Records'], p['WAL Bytes'])")" "0 0" \
   "EXPLAIN (ANALYZE, WAL): no WAL record attributable to the reads"

# the flush writes them, in one transaction
flushed0=$(q "SELECT coalesce(sum(reads), 0) FROM billy.cache_stats WHERE organization_id = '$org' AND resource = 'invoices' AND record_id <> ''")
q "SELECT billy._cache_flush_now()" >/dev/null
wait_until 20 q_is "SELECT sum(reads) - $flushed0 FROM billy.cache_stats WHERE organization_id = '$org' AND resource = 'invoices' AND record_id <> ''" \
    $((1000 * attempt + 1000))
is "$(q "SELECT count(*) FROM billy._cache_counters() WHERE organization_id = '$org' AND reads > 0")" 0 "the worker flushes the counters"
is "$(q "SELECT sum(reads) - $flushed0 FROM billy.cache_stats WHERE organization_id = '$org' AND resource = 'invoices' AND record_id <> ''")" \
   $((1000 * attempt + 1000)) "into billy.cache_stats, every read"
is "$(q "SELECT count(*) FROM billy.cache_policy WHERE organization_id = '$org' AND resource = 'invoices' AND state = 'paid' AND ttl = '6 hours'
          AND record_id IN (SELECT v.id FROM billy.invoices v WHERE v.organization_id = '$org' AND v.is_paid
                                         AND NOT EXISTS (SELECT 1 FROM billy.changes c WHERE c.organization_id = '$org'
                                                         AND c.resource = 'invoices' AND c.record_id = v.id AND c.operation <> 'insert')
                                         ORDER BY id LIMIT 100)")" 100 \
   "and each row read gets its policy (paid: 6 hours)"
done_testing
